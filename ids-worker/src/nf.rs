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
