//! Latency summaries of HdrHistograms, the form every report uses.

use hdrhistogram::Histogram;

/// Longest latency a das histogram tracks, in ns (an hour); longer values are clamped.
pub const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// A histogram of latencies in ns, 3 significant digits, 1 ns to an hour.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("static histogram bounds are valid")
}

/// Percentiles of a latency histogram, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencyReport {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
    /// The distribution: (latency in µs, fraction of packets at or below it) at the
    /// quantiles of [`CDF_QUANTILES`].
    pub cdf: Vec<(f64, f64)>,
}

/// The quantiles at which [`LatencyReport::cdf`] samples the distribution: every 2 %,
/// then the tail.
pub const CDF_QUANTILES: [f64; 57] = {
    let mut q = [0.0; 57];
    let mut i = 0;
    while i <= 49 {
        q[i] = i as f64 / 50.0;
        i += 1;
    }
    let tail = [0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999, 1.0];
    let mut j = 0;
    while j < tail.len() {
        q[50 + j] = tail[j];
        j += 1;
    }
    q
};

impl LatencyReport {
    /// The summary of `h` (values in ns); all zero when it is empty.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencyReport::default();
        }
        let us = |ns: u64| ns as f64 / 1e3;
        LatencyReport {
            count: h.len(),
            p50_us: us(h.value_at_quantile(0.5)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
            cdf: CDF_QUANTILES
                .iter()
                .map(|&q| (us(h.value_at_quantile(q)), q))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_in_microseconds() {
        let mut h = latency_histogram();
        for ns in 1..=1000u64 {
            h.record(ns * 1000).unwrap();
        }
        let r = LatencyReport::from_histogram(&h);
        assert_eq!(r.count, 1000);
        assert!((r.p50_us - 500.0).abs() < 1.0, "{r:?}");
        assert!((r.max_us - 1000.0).abs() < 1.0, "{r:?}");
        assert_eq!(r.cdf.len(), CDF_QUANTILES.len());
        assert!(
            r.cdf
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1)
        );
        assert!((r.cdf[25].0 - 500.0).abs() < 2.0, "{:?}", r.cdf[25]);
        assert_eq!(LatencyReport::from_histogram(&latency_histogram()).count, 0);
    }
}
