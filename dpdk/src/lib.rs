//! The DPDK port backend of das.
//!
//! Built only with the `dpdk` feature (it needs DPDK 22.11's `libdpdk-dev` and libclang);
//! without it this crate is empty, so the workspace builds anywhere.
//!
//! - `Eal`: the process's DPDK Environment Abstraction Layer, started once from a
//!   `dataplane::dpdk_config::EalConfig`;
//! - `DpdkPort`: an ethdev port (a NIC, or a virtual device such as `net_ring` or
//!   `net_null`) opened from a `dataplane::dpdk_config::PortConfig`, with one mbuf pool
//!   and several receive and transmit queues, implementing `dataplane::port::Port`.
//!   Receive copies each frame into a `dataplane::PacketBuf` and frees the mbuf;
//!   transmit copies each frame into an mbuf;
//! - `Steering`: how a port's receive queues are chosen. With a port's
//!   `dataplane::dpdk_config::FlowRules` the port installs them as rte_flow rules;
//!   devices without rte_flow (every virtual device) fall back to evaluating the same
//!   rules in software, and say so.
//!
//! The bindings are generated at build time from the installed headers; DPDK's
//! `static inline` functions (burst receive and transmit, mbuf allocation, `rte_errno`)
//! come from a small C shim compiled beside them.

#[cfg(feature = "dpdk")]
mod af_packet;
#[cfg(feature = "dpdk")]
mod eal;
#[cfg(feature = "dpdk")]
mod error;
#[cfg(feature = "dpdk")]
mod ffi;
#[cfg(feature = "dpdk")]
mod flow;
#[cfg(feature = "dpdk")]
mod port;
#[cfg(feature = "dpdk")]
mod preflight;

#[cfg(feature = "dpdk")]
pub use eal::{Eal, EthDev};
#[cfg(feature = "dpdk")]
pub use error::DpdkError;
#[cfg(feature = "dpdk")]
pub use port::{DeviceDrop, DeviceStats, DpdkPort, Steering};
