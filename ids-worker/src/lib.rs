//! The IDS node (processing D-Stage).
//!
//! A node receives primaries on queue 0 and duplicates on queue 1 and runs two instances
//! of a [`NetworkFunction`] with separate state on one core ([`node`]), in one of two
//! scheduling modes: `os` (the primary thread at SCHED_FIFO, the secondary at
//! SCHED_IDLE) or `inline` (one thread, primaries first, a small duplicate batch when
//! they are idle). Duplicates whose job was already delivered are purged before
//! inspection ([`purge`]). Stragglers, pauses and kills are injected per node
//! ([`fault`]); on machines with fewer cores than nodes, each node gets a fixed CPU
//! capacity from a cgroup ([`capacity`]). Each instance reports what it inspected, its
//! processing time, latency and queue depth over time ([`metrics`]).

pub mod capacity;
pub mod engine;
pub mod fault;
pub mod metrics;
pub mod nf;
pub mod node;
pub mod placement;
pub mod purge;

pub use fault::{NodeFaults, RunWindow, Straggler, StragglerReport, spawn_straggler};
pub use nf::{Forwarder, NetworkFunction, Spin, Verdict};
pub use node::{
    BatchContext, InstanceCounters, InstanceReport, NodeConfig, NodeCounters, NodeError,
    NodeHandle, NodeIo, NodeReport, Role, SchedMode, ThreadReport, process_batch, spawn_node,
};
pub use placement::{Placement, SchedClass};
pub use purge::{DuplicatePolicy, PurgeSet};
