//! The netmap port backend of das.
//!
//! Built only with the `netmap` feature; without it this crate is empty, so the
//! workspace builds anywhere. With it, it builds anywhere too: the part of the netmap
//! API the port uses (version 14, `NIOCCTRL` requests) is defined in [`sys`], checked
//! against the layout netmap.h documents and, where netmap's headers are installed,
//! against what the C compiler makes of them. At run time it needs the netmap kernel
//! module (`/dev/netmap`); without it, opening a port fails with
//! [`NetmapError::NoDevice`], which says so.
//!
//! [`NetmapPort`] implements [`dataplane::port::Port`] on the NIC rings of an
//! interface in netmap mode: one ring, bound on a descriptor of its own, per queue.
//! Received frames are copied into [`dataplane::PacketBuf`]s and sent frames into the
//! ring's buffers. See `docs/NETMAP.md`.

#[cfg(feature = "netmap")]
mod error;
#[cfg(feature = "netmap")]
mod port;
#[cfg(feature = "netmap")]
mod ring;
#[cfg(feature = "netmap")]
pub mod sys;

#[cfg(feature = "netmap")]
pub use error::NetmapError;
#[cfg(feature = "netmap")]
pub use port::{DEFAULT_DEVICE, NetmapConfig, NetmapPort};
