//! The das dataplane: everything stages share and nothing stage-specific.
//!
//! - [`buf`] and [`batch`]: pooled packet buffers and batches, never allocated on the
//!   hot path once the pipeline is warm;
//! - [`port`]: the port abstraction (batched rx/tx per queue, per-queue counters) and
//!   its in-memory ([`ring`]), [`null`], iterator ([`memory`]) and [`pcap`] backends,
//!   and a queue-to-queue [`forward`]er;
//! - [`wire`]: zero-copy, length-checked parsers for Ethernet, 802.1Q, IPv4, IPv6, TCP,
//!   UDP, ICMP and ICMPv6;
//! - [`flow`]: the symmetric Toeplitz flow hash;
//! - [`meta`]: the job metadata (job id, copy kind, ingress time) and its NSH encoding;
//! - [`counters`]: per-stage counters where received = forwarded + dropped by reason;
//! - [`doorbell`]: how idle stage threads sleep and get woken;
//! - [`completion`]: completion notices from dedup to the nodes (active purge), and
//!   [`health`]: which nodes are up;
//! - [`afpacket`]: AF_PACKET ports on Linux interfaces, and [`input_end`]: when a
//!   process's network inputs have ended;
//! - [`window`]: a sliding window over job ids (dedup's first-copy test, a node's
//!   record of completed jobs).

pub mod afpacket;
pub mod batch;
pub mod buf;
pub mod clock;
pub mod completion;
pub mod counters;
pub mod doorbell;
pub mod dpdk_config;
pub mod flow;
pub mod forward;
pub mod health;
pub mod input_end;
pub mod latency;
pub mod memory;
pub mod meta;
pub mod null;
pub mod pcap;
pub mod port;
pub mod rewrite;
pub mod ring;
pub mod rxset;
pub mod status;
pub mod window;
pub mod wire;

pub use batch::{Batch, DEFAULT_BATCH, MAX_BATCH};
pub use buf::{BufCache, BufPool, PacketBuf, PoolConfig};
pub use counters::{DropReason, StageCounters, StageSnapshot};
pub use doorbell::{Doorbell, Idler};
pub use port::{Port, PortError, RxOutcome, RxQueue, TxQueue};
