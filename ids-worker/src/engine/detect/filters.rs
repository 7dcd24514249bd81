//! Rate counting for `detection_filter` (a rule matches only after N matches in a
//! window) and event filters (`threshold` / `event_filter`: which events are logged).
//! Both count per rule and per tracked address, with Snort's whole-second windows.

use std::collections::HashMap;

use crate::engine::flow::{Addr, FxBuild};
use crate::engine::rules::{DetectionFilter, EventFilter, EventFilterKind, Track};

/// The most (rule, address) counters kept; beyond it the table is cleared (every
/// counter starts again), which keeps memory bounded on hostile traffic.
pub const MAX_COUNTERS: usize = 1 << 17;

#[derive(Debug, Clone, Copy)]
struct Window {
    start_s: u64,
    count: u32,
}

/// Counters of one kind (detection filters, or event filters).
#[derive(Debug, Default)]
pub struct RateTable {
    windows: HashMap<(u32, Option<Addr>), Window, FxBuild>,
}

/// The address a filter tracks for a packet from `src` to `dst`.
fn tracked(track: Track, src: Addr, dst: Addr) -> Option<Addr> {
    match track {
        Track::BySrc => Some(src),
        Track::ByDst => Some(dst),
        Track::ByRule => None,
    }
}

impl RateTable {
    /// Counts one event of counter `id`; returns the count within the current window
    /// (starting a new window when the last one is over).
    fn count(&mut self, id: u32, addr: Option<Addr>, now_s: u64, seconds: u32) -> u32 {
        if self.windows.len() >= MAX_COUNTERS && !self.windows.contains_key(&(id, addr)) {
            self.windows.clear();
        }
        let w = self.windows.entry((id, addr)).or_insert(Window {
            start_s: now_s,
            count: 0,
        });
        if now_s.saturating_sub(w.start_s) > u64::from(seconds) {
            w.start_s = now_s;
            w.count = 1;
        } else {
            w.count = w.count.saturating_add(1);
        }
        w.count
    }

    /// A `detection_filter` match of rule `id`: whether the rule may fire (more than
    /// `count` matches in the window).
    pub fn detection_filter(
        &mut self,
        id: u32,
        f: &DetectionFilter,
        src: Addr,
        dst: Addr,
        now_s: u64,
    ) -> bool {
        let n = self.count(id, tracked(f.track, src, dst), now_s, f.seconds);
        n > f.count
    }

    /// An event of filter `id`: whether it is logged.
    pub fn event_filter(
        &mut self,
        id: u32,
        f: &EventFilter,
        src: Addr,
        dst: Addr,
        now_s: u64,
    ) -> bool {
        let key = tracked(f.track, src, dst);
        let n = self.count(id, key, now_s, f.seconds);
        match f.kind {
            EventFilterKind::Limit => n <= f.count,
            EventFilterKind::Threshold => {
                if n >= f.count {
                    if let Some(w) = self.windows.get_mut(&(id, key)) {
                        w.count = 0;
                    }
                    true
                } else {
                    false
                }
            }
            EventFilterKind::Both => n == f.count,
        }
    }

    /// Counters held.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Addr = Addr::V4([1, 1, 1, 1]);
    const B: Addr = Addr::V4([2, 2, 2, 2]);

    fn f(kind: EventFilterKind, count: u32, seconds: u32) -> EventFilter {
        EventFilter {
            kind,
            track: Track::BySrc,
            count,
            seconds,
        }
    }

    #[test]
    fn limit_threshold_both() {
        let mut t = RateTable::default();
        let lim = f(EventFilterKind::Limit, 2, 60);
        let logged: Vec<bool> = (0..4).map(|_| t.event_filter(1, &lim, A, B, 100)).collect();
        assert_eq!(logged, vec![true, true, false, false]);
        assert!(t.event_filter(1, &lim, B, A, 100), "tracked per source");
        assert!(t.event_filter(1, &lim, A, B, 161), "new window");
        let thr = f(EventFilterKind::Threshold, 3, 60);
        let logged: Vec<bool> = (0..7).map(|_| t.event_filter(2, &thr, A, B, 0)).collect();
        assert_eq!(logged, vec![false, false, true, false, false, true, false]);
        let both = f(EventFilterKind::Both, 2, 60);
        let logged: Vec<bool> = (0..4).map(|_| t.event_filter(3, &both, A, B, 0)).collect();
        assert_eq!(logged, vec![false, true, false, false]);
    }

    #[test]
    fn detection_filter_fires_after_count() {
        let mut t = RateTable::default();
        let df = DetectionFilter {
            track: Track::ByDst,
            count: 10,
            seconds: 1,
        };
        let fired: Vec<bool> = (0..12)
            .map(|_| t.detection_filter(9, &df, A, B, 5))
            .collect();
        assert_eq!(fired.iter().filter(|&&x| x).count(), 2);
        assert!(!fired[9] && fired[10]);
        assert!(!t.detection_filter(9, &df, A, B, 7));
    }
}
