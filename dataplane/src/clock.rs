//! Wall-clock time in nanoseconds, the unit of every das timestamp.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the UNIX epoch (CLOCK_REALTIME, as PTP-synchronised hosts share).
#[inline]
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Nanoseconds on a monotonic clock shared by every thread of the process (its origin
/// is the first call): for intervals that must not jump with the wall clock.
#[inline]
pub fn monotonic_ns() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}
