//! The AF_XDP port backend of das.
//!
//! [`AfXdpPort`] implements [`dataplane::port::Port`] on AF_XDP sockets. Its XDP program
//! (`bpf/steer.bpf.c`, compiled by clang at build time and loaded with aya) is a software
//! Flow Director: it puts each das frame into the socket of the logical queue named by
//! the last byte of its outer destination MAC (0 primaries, 1 duplicates), all sockets
//! of a device queue sharing one UMEM, and passes every other frame to the kernel.
//! Received frames are copied into [`dataplane::PacketBuf`]s; sent frames are copied
//! into UMEM frames. See `docs/AFXDP.md`.

mod error;
mod port;
mod xsk;

pub use error::AfXdpError;
pub use port::{AfXdpConfig, AfXdpPort, MAX_SOCKETS, XdpMode};
