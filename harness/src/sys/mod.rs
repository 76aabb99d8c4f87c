//! The machine: locks, processes, signals, tools on PATH, archives, and the one async runtime
//! the blocking fixtures share.

pub mod archive;
pub mod blocking;
pub mod interrupt;
pub mod lock;
pub mod process;
pub mod tools;
