//! Wall-clock time in nanoseconds, the unit of every das timestamp.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the UNIX epoch (CLOCK_REALTIME, as PTP-synchronised hosts share).
#[inline]
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
