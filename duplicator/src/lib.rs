//! The duplicator D-Stage.
//!
//! For every packet the duplicator computes the symmetric flow hash (both directions of
//! a connection hash alike, which stateful inspection needs), picks the flow's primary
//! node and a different secondary node ([`select`]), stamps the job metadata (job id,
//! copy kind, priority, ingress time) and sends the primary copy to the primary node's
//! queue 0 and, by [`Scheme`], a duplicate to the secondary node: at equal priority
//! (queue 0, cloning) or at low priority (queue 1, DAS).

pub mod runner;
pub mod scheme;
pub mod select;
pub mod stage;

pub use runner::{DuplicatorHandle, spawn};
pub use scheme::{Scheme, UnknownScheme};
pub use select::{NodeTable, SelectError};
pub use stage::{
    Duplicator, DuplicatorConfig, DuplicatorCounters, DuplicatorError, DuplicatorReport,
    GuardConfig, NodeOutput, RESCUE_QUEUE,
};
