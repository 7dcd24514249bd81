//! The dedup D-Stage.
//!
//! Dedup receives the inspected copies from every IDS node, forwards the first copy of
//! each job and drops the later ones (`dataplane::window`: a sliding window over job
//! ids, with bounded memory; late arrivals are counted and never forwarded twice), strips the job
//! metadata so the output is the original traffic byte for byte, counts unique packets
//! per second ([`upp`]) and measures latency from the duplicator's ingress stamp. For
//! traffic that lost its metadata, a content-hash mode recognises copies by the hash of
//! their invariant fields and payload within a time window ([`content`]).

pub mod content;
pub mod runner;
pub mod stage;
pub mod upp;

pub use content::{ContentConfig, ContentWindow, Fingerprint, fingerprint, fingerprint_with};
pub use runner::{DedupHandle, DedupIo, spawn};
pub use stage::{Dedup, DedupConfig, DedupCounters, DedupError, DedupReport};
pub use upp::{UppMeter, UppReport};
