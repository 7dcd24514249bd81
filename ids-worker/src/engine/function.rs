//! The engine as a node's network function.
//!
//! [`IdsFunction`] wraps one [`Engine`] (one IDS instance: a node runs two, one for
//! primaries and one for duplicates, sharing only the immutable [`Detector`]). Every
//! alert it raises is tagged with the job id and copy kind of the packet being
//! processed, so that dedup can report an alert raised by both copies of a packet
//! once. Alerts wait in a bounded buffer that the owner drains; when it is full, new
//! alerts are counted in [`IdsFunction::alerts_dropped`] instead of stored.

use std::collections::VecDeque;
use std::sync::Arc;

use dataplane::meta::{CopyKind, JobId, JobMeta};

use crate::engine::{Alert, Detector, Engine, EngineConfig, EngineStats};
use crate::nf::{NetworkFunction, Verdict};

/// Alerts an [`IdsFunction`] holds before its owner drains them, by default.
pub const DEFAULT_ALERT_CAPACITY: usize = 65_536;

/// An alert with the job it was raised on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaggedAlert {
    /// The alert.
    pub alert: Alert,
    /// The job (packet) whose processing raised it; `None` for alerts raised when
    /// flows were flushed at the end ([`IdsFunction::finish`]).
    pub job: Option<JobId>,
    /// Which copy of the job this instance processed.
    pub kind: Option<CopyKind>,
    /// The duplicator that numbered the job.
    pub duplicator: u8,
}

/// One IDS instance as a network function: inspects every packet and forwards it.
pub struct IdsFunction {
    engine: Engine,
    alerts: VecDeque<TaggedAlert>,
    capacity: usize,
    dropped: u64,
    scratch: Vec<Alert>,
    last_ns: u64,
}

impl std::fmt::Debug for IdsFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdsFunction")
            .field("engine", &self.engine)
            .field("queued", &self.alerts.len())
            .field("dropped", &self.dropped)
            .finish()
    }
}

impl IdsFunction {
    /// An instance running `detector`'s rules, holding up to `capacity` alerts.
    pub fn new(detector: Arc<Detector>, config: EngineConfig, capacity: usize) -> Self {
        IdsFunction {
            engine: Engine::new(detector, config),
            alerts: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
            scratch: Vec::new(),
            last_ns: 0,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// What the engine did.
    pub fn stats(&self) -> EngineStats {
        self.engine.stats()
    }

    /// Takes every alert raised since the last call.
    pub fn drain_alerts(&mut self) -> Vec<TaggedAlert> {
        self.alerts.drain(..).collect()
    }

    /// Alerts waiting to be drained.
    pub fn pending_alerts(&self) -> usize {
        self.alerts.len()
    }

    /// Alerts lost because the buffer was full.
    pub fn alerts_dropped(&self) -> u64 {
        self.dropped
    }

    /// Ends every flow (inspecting data still queued), e.g. when the input ends.
    pub fn finish(&mut self) {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        self.engine.finish(self.last_ns, &mut out);
        for alert in out.drain(..) {
            self.push(TaggedAlert {
                alert,
                job: None,
                kind: None,
                duplicator: 0,
            });
        }
        self.scratch = out;
    }

    fn push(&mut self, alert: TaggedAlert) {
        if self.alerts.len() >= self.capacity {
            self.dropped += 1;
        } else {
            self.alerts.push_back(alert);
        }
    }
}

impl NetworkFunction for IdsFunction {
    fn name(&self) -> &str {
        "ids"
    }

    fn process(&mut self, frame: &[u8], job: &JobMeta) -> Verdict {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        self.last_ns = self.last_ns.max(job.ingress_ns);
        self.engine.process(frame, job.ingress_ns, &mut out);
        for alert in out.drain(..) {
            self.push(TaggedAlert {
                alert,
                job: Some(job.job),
                kind: Some(job.kind),
                duplicator: job.duplicator,
            });
        }
        self.scratch = out;
        Verdict::Forward
    }

    fn finish(&mut self) {
        IdsFunction::finish(self);
    }
}
