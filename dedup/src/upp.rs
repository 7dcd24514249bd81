//! Unique packets processed per second (UPP/sec): the cluster's goodput.

use std::time::Duration;

/// Counts unique packets over fixed intervals of wall-clock time.
#[derive(Debug, Clone)]
pub struct UppMeter {
    interval_ns: u64,
    origin_ns: Option<u64>,
    counts: Vec<u64>,
    total: u64,
    first_ns: u64,
    last_ns: u64,
}

/// A UPP/sec report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UppReport {
    /// Unique packets counted.
    pub unique: u64,
    /// Length of one timeline interval, in milliseconds.
    pub interval_ms: f64,
    /// Unique packets per second in each interval, from the first unique packet on.
    pub timeline: Vec<f64>,
    /// Seconds from the first to the last unique packet.
    pub active_secs: f64,
    /// Mean UPP/sec over the active time (`None` when all arrived at one instant).
    pub mean_upp_per_sec: Option<f64>,
}

impl UppMeter {
    /// A meter with timeline intervals of `interval` (at least 1 ms).
    pub fn new(interval: Duration) -> Self {
        UppMeter {
            interval_ns: (interval.as_nanos() as u64).max(1_000_000),
            origin_ns: None,
            counts: Vec::new(),
            total: 0,
            first_ns: 0,
            last_ns: 0,
        }
    }

    /// Records `n` unique packets delivered at `now_ns`.
    #[inline]
    pub fn record(&mut self, now_ns: u64, n: u64) {
        if n == 0 {
            return;
        }
        let origin = *self.origin_ns.get_or_insert(now_ns);
        if self.total == 0 {
            self.first_ns = now_ns;
        }
        let slot = (now_ns.saturating_sub(origin) / self.interval_ns) as usize;
        if slot >= self.counts.len() {
            self.counts.resize(slot + 1, 0);
        }
        self.counts[slot] += n;
        self.total += n;
        self.last_ns = self.last_ns.max(now_ns);
    }

    /// The report so far.
    pub fn report(&self) -> UppReport {
        let secs_per_interval = self.interval_ns as f64 / 1e9;
        let active_secs = self.last_ns.saturating_sub(self.first_ns) as f64 / 1e9;
        UppReport {
            unique: self.total,
            interval_ms: self.interval_ns as f64 / 1e6,
            timeline: self
                .counts
                .iter()
                .map(|&c| c as f64 / secs_per_interval)
                .collect(),
            active_secs,
            mean_upp_per_sec: (active_secs > 0.0).then(|| self.total as f64 / active_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_buckets_by_interval() {
        let mut m = UppMeter::new(Duration::from_millis(100));
        let t0 = 1_000_000_000_000;
        m.record(t0, 10);
        m.record(t0 + 50_000_000, 5);
        m.record(t0 + 250_000_000, 20);
        m.record(t0 + 250_000_000, 0);
        let r = m.report();
        assert_eq!(r.unique, 35);
        assert_eq!(r.timeline, vec![150.0, 0.0, 200.0]);
        assert!((r.active_secs - 0.25).abs() < 1e-9);
        assert!((r.mean_upp_per_sec.unwrap() - 140.0).abs() < 1e-6);
    }

    #[test]
    fn a_single_instant_has_no_mean() {
        let mut m = UppMeter::new(Duration::from_secs(1));
        m.record(5, 3);
        assert_eq!(m.report().mean_upp_per_sec, None);
        assert_eq!(UppMeter::new(Duration::from_secs(1)).report().unique, 0);
    }
}
