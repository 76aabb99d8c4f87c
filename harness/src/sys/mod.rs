//! The machine: locks, processes, tools on PATH, archives, and the one async runtime the
//! blocking fixtures share.

pub mod lock;
