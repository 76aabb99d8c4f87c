//! Processes: which process owns what iogate left on the machine (containers, VMs, namespaces),
//! and whether that owner still runs. A pid alone cannot say so (pids are reused); a pid with its
//! start time can.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux port).
const TICKS_PER_SECOND: u64 = 100;

/// When a process started, in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Counted after the parenthesised command name, which may contain spaces.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// `<pid>.<start ticks>`: names this process on this host, even after pid reuse.
pub fn owner() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| {
        let pid = std::process::id();
        format!("{pid}.{}", start_ticks(pid).unwrap_or(0))
    })
}

/// Is the process that `pid` and `start` (ticks since boot) name still running?
pub fn running(pid: u32, start: u64) -> bool {
    start_ticks(pid) == Some(start)
}

/// Is the process an [`owner`] string (`<pid>.<start ticks>`) names still running?
pub fn owner_alive(owner: &str) -> bool {
    let Some((pid, start)) = owner.split_once('.') else {
        return false;
    };
    match (pid.parse(), start.parse()) {
        (Ok(pid), Ok(start)) => running(pid, start),
        _ => false,
    }
}

/// Does process `pid` run, and did it start no later than `moment`? A process that owns
/// something made at `moment` does; a later process that got the same pid does not.
pub fn running_since(pid: u32, moment: SystemTime) -> bool {
    let (Some(ticks), Some(boot)) = (start_ticks(pid), boot_time()) else {
        return false;
    };
    // The boot time is whole seconds, rounded down: allow the second it loses.
    let started = boot + Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND);
    started <= moment + Duration::from_secs(1)
}

/// When the machine booted (`btime` of `/proc/stat`).
fn boot_time() -> Option<SystemTime> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let seconds = stat.lines().find_map(|l| l.strip_prefix("btime "))?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds.trim().parse().ok()?))
}

/// 1, 2, 3, … : a number no earlier call in this process returned.
pub fn next_sequence() -> u32 {
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    SEQUENCE.fetch_add(1, Ordering::Relaxed) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive() {
        assert!(owner_alive(owner()));
        assert!(!owner_alive("1.0"));
        assert!(!owner_alive("garbage"));
        assert!(running_since(std::process::id(), SystemTime::now()));
        assert!(!running_since(
            std::process::id(),
            SystemTime::now() - Duration::from_secs(86_400 * 365 * 30)
        ));
    }
}
