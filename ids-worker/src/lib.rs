//! The IDS node (processing D-Stage).
//!
//! A node receives primaries on queue 0 and duplicates on queue 1 and runs two instances
//! of a [`NetworkFunction`] with separate state, pinned to one core: the primary
//! instance at normal priority, the secondary at SCHED_IDLE, so duplicates are served
//! only with the cycles primaries leave idle ([`node`]). The function is a trait; the
//! [`Forwarder`] ships now and the IDS engine plugs in the same way.

pub mod nf;
pub mod node;
pub mod placement;

pub use nf::{Forwarder, NetworkFunction, Verdict};
pub use node::{
    InstanceReport, NodeConfig, NodeHandle, NodeQueues, NodeReport, PriorityMode, Role,
    process_batch, spawn_node,
};
pub use placement::{Placement, SchedClass};
