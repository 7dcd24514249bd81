//! Zero-copy, length-checked parsers for the protocols das looks at: Ethernet, 802.1Q
//! and 802.1ad VLAN tags, IPv4, IPv6 with its extension headers, TCP, UDP, ICMP and
//! ICMPv6.
//!
//! Two ways in:
//!
//! - [`parse`] walks a whole frame once and returns a [`ParsedPacket`]: addresses,
//!   ports, flags, fragment information and the offsets of every layer, without
//!   allocating. This is what the stages call on the hot path. Its
//!   [module documentation](packet) says which frames are errors and how truncated
//!   captures and malformed transport headers are reported.
//! - One read-only view per protocol ([`EthernetFrame`], [`VlanTag`], [`Ipv4Packet`],
//!   [`Ipv6Packet`], [`Ipv6FragmentHeader`], [`TcpSegment`], [`UdpDatagram`],
//!   [`IcmpPacket`], [`Icmpv6Packet`]) over any `T: AsRef<[u8]>`, for code that needs
//!   more than `parse` returns (options, checksums, ICMP identifiers, ...). Each has
//!   `new_checked`, which validates every length its accessors rely on, so that the
//!   accessors of a checked view never panic; `new_unchecked` for bytes already
//!   validated; big-endian field accessors; `header_len` and `payload`.
//!
//! Nothing here panics on any input through `parse` or a checked view, and nothing is
//! copied: payloads are subslices of the caller's buffer. Errors are [`WireError`]s
//! naming the [`Layer`].
//!
//! ```
//! use dataplane::wire::{self, L3, L4, TcpSegment};
//!
//! # let frame: &[u8] = &[
//! #     0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, // Ethernet
//! #     0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
//! #     0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0, // TCP
//! # ];
//! let p = wire::parse(frame)?;
//! if let (L3::Ipv4(ip), L4::Tcp(tcp)) = (&p.l3, &p.l4) {
//!     assert_eq!(ip.src, [10, 0, 0, 1]);
//!     assert_eq!(tcp.dst_port, 80);
//!     // The full view, for what `parse` does not return:
//!     let seg = TcpSegment::new_checked(&frame[p.l4_offset..p.l3_end])?;
//!     assert_eq!(seg.urgent_ptr(), 0);
//! }
//! assert_eq!(p.ports(), Some((12345, 80)));
//! # Ok::<(), wire::WireError>(())
//! ```

pub mod checksum;
mod error;
pub mod ethernet;
pub mod icmp;
pub mod icmpv6;
mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod packet;
pub mod tcp;
pub mod udp;
pub mod vlan;

#[cfg(test)]
mod builder;
#[cfg(test)]
mod tests;

pub use error::{Layer, WireError};
pub use ethernet::{EtherType, EthernetFrame};
pub use icmp::IcmpPacket;
pub use icmpv6::Icmpv6Packet;
pub use ip::{Fragment, IpProtocol};
pub use ipv4::Ipv4Packet;
pub use ipv6::{Ipv6FragmentHeader, Ipv6Packet, Ipv6Walk, WalkEnd, walk_ext_headers};
pub use packet::{IcmpInfo, Ipv4Info, Ipv6Info, L3, L4, ParsedPacket, TcpInfo, UdpInfo, parse};
pub use tcp::{TcpFlags, TcpSegment};
pub use udp::UdpDatagram;
pub use vlan::VlanTag;
