//! What a session tells its observer while it measures.

use crate::run::record::CellRecord;
use crate::spec::Cell;

/// A cell's progress through a session.
#[derive(Debug, Clone, Copy)]
pub enum CellEvent<'a> {
    /// The cell starts its first repetition (or is about to be skipped or failed without one).
    Started(&'a Cell),
    /// The cell is finished and on disk: measured, failed or skipped.
    Finished(&'a CellRecord),
}
