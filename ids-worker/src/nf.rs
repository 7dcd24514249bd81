//! The network function a node runs: the trait, and the forwarding function.

use dataplane::meta::JobMeta;

/// What a network function decided for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Pass the packet on (an IDS passes everything it inspected).
    Forward,
    /// Drop the packet (an inline function blocking it); counted as `nf_verdict`.
    Drop,
}

/// A packet-processing function. A node runs two instances with separate state: one for
/// primaries, one for duplicates. Each instance is driven by one thread.
pub trait NetworkFunction: Send + 'static {
    /// The function's name in reports.
    fn name(&self) -> &str;

    /// Processes one packet: `frame` is the original frame (metadata header removed) and
    /// `job` the metadata it travelled with.
    fn process(&mut self, frame: &[u8], job: &JobMeta) -> Verdict;

    /// Called once when the instance's input has ended, before its report: a function
    /// that holds state across packets (flows, reassembly) finishes it here.
    fn finish(&mut self) {}
}

/// Forwards every packet unchanged: the node's function until an IDS engine is plugged
/// in, and the zero-cost baseline in benchmarks.
#[derive(Debug, Default, Clone)]
pub struct Forwarder {
    bytes: u64,
}

impl Forwarder {
    /// Frame bytes seen so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl NetworkFunction for Forwarder {
    fn name(&self) -> &str {
        "forward"
    }

    #[inline]
    fn process(&mut self, frame: &[u8], _job: &JobMeta) -> Verdict {
        self.bytes += frame.len() as u64;
        Verdict::Forward
    }
}

/// A function of fixed CPU cost: spins for `cost` per packet (plus `per_byte` per frame
/// byte), then forwards. It stands in for a real inspection engine where a known,
/// tunable per-packet cost is wanted (capacity calibration, scheduling benchmarks).
#[derive(Debug, Clone)]
pub struct Spin {
    cost_ns: u64,
    per_byte_ns: f64,
}

impl Spin {
    /// A function costing `cost` per packet and `per_byte_ns` per frame byte.
    pub fn new(cost: std::time::Duration, per_byte_ns: f64) -> Self {
        Spin {
            cost_ns: cost.as_nanos() as u64,
            per_byte_ns: per_byte_ns.max(0.0),
        }
    }
}

impl NetworkFunction for Spin {
    fn name(&self) -> &str {
        "spin"
    }

    #[inline]
    fn process(&mut self, frame: &[u8], _job: &JobMeta) -> Verdict {
        let cost = self.cost_ns + (frame.len() as f64 * self.per_byte_ns) as u64;
        let deadline = dataplane::clock::monotonic_ns() + cost;
        while dataplane::clock::monotonic_ns() < deadline {
            std::hint::spin_loop();
        }
        Verdict::Forward
    }
}

impl NetworkFunction for Box<dyn NetworkFunction> {
    fn name(&self) -> &str {
        (**self).name()
    }

    #[inline]
    fn process(&mut self, frame: &[u8], job: &JobMeta) -> Verdict {
        (**self).process(frame, job)
    }

    fn finish(&mut self) {
        (**self).finish()
    }
}
