//! What each instance of a node measures: processing time, sojourn latency, queue depth
//! over time, CPU time.

use dataplane::latency::{LatencyReport, MAX_LATENCY_NS, latency_histogram};
use hdrhistogram::Histogram;

/// One sample of a queue's depth.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DepthSample {
    /// Seconds since the run started.
    pub t_secs: f64,
    /// Packets waiting in the queue.
    pub depth: usize,
}

/// Most depth samples an instance keeps (at the default 10 ms interval: 1,000 s).
pub const MAX_DEPTH_SAMPLES: usize = 100_000;

/// The running measurements of one instance.
#[derive(Debug)]
pub struct InstanceMetrics {
    latency: Histogram<u64>,
    busy_ns: u64,
    depth: Vec<DepthSample>,
    depth_interval_ns: u64,
    next_depth_ns: u64,
}

/// What an instance measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InstanceMetricsReport {
    /// Seconds spent running the network function (and its bookkeeping) on batches.
    pub busy_secs: f64,
    /// Mean processing time per packet handed to the function, in ns.
    pub service_ns_mean: f64,
    /// Per-packet latency from the duplicator's ingress stamp until the instance had
    /// processed the packet (queueing plus processing), in microseconds.
    pub latency: LatencyReport,
    /// The instance's queue depth over time.
    pub depth: Vec<DepthSample>,
    /// The deepest sample.
    pub max_depth: usize,
}

impl InstanceMetrics {
    /// Measurements sampling the queue depth every `depth_interval_ns` (0: never).
    pub fn new(depth_interval_ns: u64) -> Self {
        InstanceMetrics {
            latency: latency_histogram(),
            busy_ns: 0,
            depth: Vec::new(),
            depth_interval_ns,
            next_depth_ns: 0,
        }
    }

    /// Adds `ns` of processing time.
    #[inline]
    pub fn add_busy(&mut self, ns: u64) {
        self.busy_ns += ns;
    }

    /// Records one packet's sojourn latency.
    #[inline]
    pub fn record_latency(&mut self, ns: u64) {
        self.latency.saturating_record(ns.clamp(1, MAX_LATENCY_NS));
    }

    /// Samples the depth if a sample is due at `since_start_ns`; `depth` is asked only
    /// then.
    #[inline]
    pub fn sample_depth(&mut self, since_start_ns: u64, depth: impl FnOnce() -> Option<usize>) {
        if self.depth_interval_ns == 0 || since_start_ns < self.next_depth_ns {
            return;
        }
        self.next_depth_ns = since_start_ns + self.depth_interval_ns;
        if self.depth.len() < MAX_DEPTH_SAMPLES {
            if let Some(depth) = depth() {
                self.depth.push(DepthSample {
                    t_secs: since_start_ns as f64 / 1e9,
                    depth,
                });
            }
        }
    }

    /// The report, given how many packets the function processed.
    pub fn report(&self, processed: u64) -> InstanceMetricsReport {
        InstanceMetricsReport {
            busy_secs: self.busy_ns as f64 / 1e9,
            service_ns_mean: if processed > 0 {
                self.busy_ns as f64 / processed as f64
            } else {
                0.0
            },
            latency: LatencyReport::from_histogram(&self.latency),
            max_depth: self.depth.iter().map(|s| s.depth).max().unwrap_or(0),
            depth: self.depth.clone(),
        }
    }
}

/// CPU time the calling thread has used, in seconds (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_secs() -> Option<f64> {
    thread_cpu_ns().map(|ns| ns as f64 / 1e9)
}

/// CPU time the calling thread has used, in ns (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> Option<u64> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    Some(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_sampled_at_the_interval_only() {
        let mut m = InstanceMetrics::new(10);
        let mut asked = 0;
        for t in 0..35 {
            m.sample_depth(t, || {
                asked += 1;
                Some(t as usize)
            });
        }
        assert_eq!(asked, 4);
        let r = m.report(0);
        assert_eq!(
            r.depth.iter().map(|s| s.depth).collect::<Vec<_>>(),
            vec![0, 10, 20, 30]
        );
        assert_eq!(r.max_depth, 30);
    }

    #[test]
    fn service_time_is_busy_time_per_packet() {
        let mut m = InstanceMetrics::new(0);
        m.add_busy(1_000);
        m.record_latency(5_000);
        let r = m.report(4);
        assert_eq!(r.service_ns_mean, 250.0);
        assert_eq!(r.latency.count, 1);
        assert!(thread_cpu_secs().is_some_and(|s| s > 0.0));
    }
}
