//! IPv6 (RFC 8200) and its extension headers.
//!
//! ```text
//!  0       4               12                              31
//! +-------+---------------+--------------------------------+
//! |version| traffic class |           flow label           |
//! +-------+---------------+-------+------------------------+
//! |        payload length         |  next header | hop limit|
//! +-------------------------------+--------------+---------+
//! |              source address (16 bytes)                 |
//! |           destination address (16 bytes)               |
//! +--------------------------------------------------------+
//! ```
//!
//! Like [`Ipv4Packet`](super::Ipv4Packet), a checked view accepts a payload length that
//! runs past the end of the buffer (a snapshot-truncated capture): see
//! [`Ipv6Packet::is_truncated`].
//!
//! [`walk_ext_headers`] steps over the extension headers between the fixed header and
//! the upper-layer header: hop-by-hop options (0), routing (43), fragment (44),
//! destination options (60), AH (51), mobility (135), HIP (139) and Shim6 (140). ESP
//! (50) ends the walk like an upper-layer protocol, since what follows it is encrypted;
//! so does "no next header" (59). Jumbograms (RFC 2675, payload length 0 with a jumbo
//! option) are not supported: their payload reads as empty.

use super::error::{Layer, WireError, need};
use super::ip::{Fragment, IpProtocol};

/// Length of the IPv6 fixed header.
pub const HEADER_LEN: usize = 40;

/// Length of the IPv6 fragment header.
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// The most extension headers [`walk_ext_headers`] steps over; a longer chain is
/// reported as malformed.
pub const MAX_EXT_HEADERS: u8 = 16;

/// A read-only view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buffer` without checking it.
    ///
    /// The accessors panic if the buffer is shorter than [`HEADER_LEN`]; use
    /// [`new_checked`](Self::new_checked) on bytes from the wire.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps `buffer` after checking that it holds the fixed header and that the
    /// version is 6. The payload length may exceed the buffer (see
    /// [`is_truncated`](Self::is_truncated)).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let d = buffer.as_ref();
        need(Layer::Ipv6, d, HEADER_LEN)?;
        if d[0] >> 4 != 6 {
            return Err(WireError::malformed(Layer::Ipv6, "version field is not 6"));
        }
        Ok(Ipv6Packet { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (6 on a checked view).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The traffic class (DSCP and ECN).
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        let d = self.buffer.as_ref();
        (d[0] << 4) | (d[1] >> 4)
    }

    /// The 20-bit flow label.
    #[inline]
    pub fn flow_label(&self) -> u32 {
        let d = self.buffer.as_ref();
        u32::from_be_bytes([0, d[1] & 0x0f, d[2], d[3]])
    }

    /// The payload length field: bytes after the fixed header, extension headers
    /// included.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[4], d[5]])
    }

    /// The next header field: the first extension header or the upper-layer protocol.
    #[inline]
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[6])
    }

    /// The hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[7]
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[8..24]);
        a
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[24..40]);
        a
    }

    /// Length of the fixed header: always [`HEADER_LEN`].
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Whether the payload length runs past the end of the buffer (a capture cut short
    /// by its snapshot length).
    #[inline]
    pub fn is_truncated(&self) -> bool {
        HEADER_LEN + usize::from(self.payload_len()) > self.buffer.as_ref().len()
    }

    /// The payload (extension headers included): up to the payload length, or to the
    /// end of the buffer if that comes first.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let d = self.buffer.as_ref();
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(d.len());
        &d[HEADER_LEN..end]
    }

    /// Walks the extension headers of this packet; see [`walk_ext_headers`].
    #[inline]
    pub fn ext_headers(&self) -> Ipv6Walk {
        walk_ext_headers(
            self.next_header(),
            self.payload(),
            usize::from(self.payload_len()),
        )
    }
}

/// A read-only view of an IPv6 fragment header.
///
/// ```text
///  0             8             16                      29   31
/// +-------------+-------------+------------------------+--+-+
/// | next header |  reserved   |    fragment offset     |res|M|
/// +-------------+-------------+------------------------+--+-+
/// |                    identification                       |
/// +---------------------------------------------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6FragmentHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6FragmentHeader<T> {
    /// Wraps `buffer` without checking it.
    ///
    /// The accessors panic if the buffer is shorter than [`FRAGMENT_HEADER_LEN`]; use
    /// [`new_checked`](Self::new_checked) on bytes from the wire.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6FragmentHeader { buffer }
    }

    /// Wraps `buffer` after checking that it holds the whole header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        need(Layer::Ipv6Ext, buffer.as_ref(), FRAGMENT_HEADER_LEN)?;
        Ok(Ipv6FragmentHeader { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The protocol of the fragmented payload.
    #[inline]
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[0])
    }

    /// The fragment offset in bytes (the 13-bit field × 8).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[2], d[3]]) & 0xfff8
    }

    /// The more-fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.buffer.as_ref()[3] & 1 != 0
    }

    /// The 32-bit identification.
    #[inline]
    pub fn ident(&self) -> u32 {
        let d = self.buffer.as_ref();
        u32::from_be_bytes([d[4], d[5], d[6], d[7]])
    }

    /// The fragment fields.
    #[inline]
    pub fn fragment(&self) -> Fragment {
        Fragment {
            id: self.ident(),
            offset: self.frag_offset(),
            more: self.more_frags(),
        }
    }

    /// Length of the header: always [`FRAGMENT_HEADER_LEN`].
    #[inline]
    pub const fn header_len(&self) -> usize {
        FRAGMENT_HEADER_LEN
    }

    /// The fragment data after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[FRAGMENT_HEADER_LEN..]
    }
}

/// Where a walk over an IPv6 extension-header chain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Walk {
    /// The header the walk stopped at: the upper-layer protocol (TCP, UDP, ICMPv6,
    /// ESP, no next header, ...), the protocol of the fragment data for a non-first
    /// fragment, or the extension header that could not be stepped over.
    pub protocol: IpProtocol,
    /// Offset of that header (or of the fragment data) from the start of the IPv6
    /// payload; never more than the captured payload's length.
    pub offset: usize,
    /// The fragment header's fields, if the walk stepped over one.
    pub fragment: Option<Fragment>,
    /// How many extension headers the walk stepped over.
    pub ext_headers: u8,
    /// Why the walk stopped.
    pub end: WalkEnd,
}

/// Why a walk over IPv6 extension headers stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkEnd {
    /// The walk reached a header that is not an extension header: the upper-layer
    /// header (or ESP, or nothing for "no next header") starts at the offset.
    Upper,
    /// The walk passed a fragment header with a nonzero offset: what follows is
    /// fragment data without an upper-layer header.
    NonFirstFragment,
    /// The capture ends inside the extension header at the offset, though the payload
    /// length says it is all there.
    Truncated,
    /// The chain is malformed: an extension header runs past the payload length, there
    /// are more than [`MAX_EXT_HEADERS`] of them, or more than one fragment header.
    Invalid(WireError),
}

/// Length of the extension header `kind` whose second byte is `len_field`.
#[inline]
fn ext_header_len(kind: IpProtocol, len_field: u8) -> usize {
    match kind {
        IpProtocol::IPV6_FRAGMENT => FRAGMENT_HEADER_LEN,
        IpProtocol::AH => (usize::from(len_field) + 2) * 4,
        _ => (usize::from(len_field) + 1) * 8,
    }
}

/// Walks the extension headers of an IPv6 packet.
///
/// `first` is the fixed header's next header field, `payload` the captured payload
/// (what follows the fixed header, at most `payload_len` bytes are looked at) and
/// `payload_len` the payload length field. The walk stops at the first header that is
/// not an extension header, after a non-first fragment's fragment header, where the
/// capture ends, or at the first inconsistency; it never reads past `payload`.
pub fn walk_ext_headers(first: IpProtocol, payload: &[u8], payload_len: usize) -> Ipv6Walk {
    let payload = payload.get(..payload_len).unwrap_or(payload);
    let mut walk = Ipv6Walk {
        protocol: first,
        offset: 0,
        fragment: None,
        ext_headers: 0,
        end: WalkEnd::Upper,
    };
    loop {
        let kind = walk.protocol;
        if !kind.is_ipv6_extension() {
            return walk;
        }
        if walk.ext_headers == MAX_EXT_HEADERS {
            walk.end = WalkEnd::Invalid(WireError::malformed(
                Layer::Ipv6Ext,
                "more than 16 extension headers",
            ));
            return walk;
        }
        let declared = payload_len.saturating_sub(walk.offset);
        let rest = payload.get(walk.offset..).unwrap_or_default();
        // Every extension header is at least 8 bytes long.
        let Some(head) = rest.first_chunk::<8>() else {
            walk.end = if declared < 8 {
                WalkEnd::Invalid(WireError::truncated(Layer::Ipv6Ext, 8, declared))
            } else {
                WalkEnd::Truncated
            };
            return walk;
        };
        let len = ext_header_len(kind, head[1]);
        if declared < len {
            walk.end = WalkEnd::Invalid(WireError::truncated(Layer::Ipv6Ext, len, declared));
            return walk;
        }
        if rest.len() < len {
            walk.end = WalkEnd::Truncated;
            return walk;
        }
        walk.ext_headers += 1;
        walk.offset += len;
        walk.protocol = IpProtocol(head[0]);
        if kind == IpProtocol::IPV6_FRAGMENT {
            if walk.fragment.is_some() {
                walk.end = WalkEnd::Invalid(WireError::malformed(
                    Layer::Ipv6Ext,
                    "more than one fragment header",
                ));
                return walk;
            }
            let fragment = Ipv6FragmentHeader::new_unchecked(head).fragment();
            walk.fragment = Some(fragment);
            if !fragment.is_first() {
                walk.end = WalkEnd::NonFirstFragment;
                return walk;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(next: u8, payload_len: u16) -> Vec<u8> {
        let mut p = vec![0x6a, 0xb1, 0x23, 0x45];
        p.extend_from_slice(&payload_len.to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p
    }

    #[test]
    fn reads_fixed_header() {
        let mut buf = header(17, 4);
        buf.extend_from_slice(&[1, 2, 3, 4, 0xee]);
        let ip = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(ip.version(), 6);
        assert_eq!(ip.traffic_class(), 0xab);
        assert_eq!(ip.flow_label(), 0x12345);
        assert_eq!(ip.payload_len(), 4);
        assert_eq!(ip.next_header(), IpProtocol::UDP);
        assert_eq!(ip.hop_limit(), 64);
        assert_eq!(ip.src_addr()[..4], [0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(ip.src_addr()[15], 1);
        assert_eq!(ip.dst_addr()[..2], [0xfe, 0x80]);
        assert_eq!(ip.dst_addr()[15], 2);
        assert_eq!(ip.header_len(), 40);
        assert_eq!(ip.payload(), &[1, 2, 3, 4]);
        assert!(!ip.is_truncated());
        let ip = Ipv6Packet::new_checked(&buf[..42]).unwrap();
        assert!(ip.is_truncated());
        assert_eq!(ip.payload(), &[1, 2]);
    }

    #[test]
    fn rejects_short_or_wrong_version() {
        let buf = header(17, 0);
        assert_eq!(
            Ipv6Packet::new_checked(&buf[..39]),
            Err(WireError::Truncated {
                layer: Layer::Ipv6,
                needed: 40,
                available: 39
            })
        );
        let mut v4 = buf.clone();
        v4[0] = 0x45;
        assert_eq!(
            Ipv6Packet::new_checked(&v4[..]).unwrap_err().to_string(),
            "malformed IPv6 header: version field is not 6"
        );
    }

    #[test]
    fn walks_hop_by_hop_routing_and_fragment() {
        let mut payload = vec![43, 0, 5, 2, 0, 0, 0, 0]; // hop-by-hop: router alert, to routing
        payload.extend_from_slice(&[44, 2, 0, 1]); // routing: 24 bytes, type 0, 1 segment left
        payload.extend_from_slice(&[0; 20]);
        payload.extend_from_slice(&[6, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]); // first fragment, M
        payload.extend_from_slice(&[0xaa; 20]); // TCP would start here
        let walk = walk_ext_headers(IpProtocol::HOP_BY_HOP, &payload, payload.len());
        assert_eq!(
            walk,
            Ipv6Walk {
                protocol: IpProtocol::TCP,
                offset: 40,
                fragment: Some(Fragment {
                    id: 0xdead_beef,
                    offset: 0,
                    more: true
                }),
                ext_headers: 3,
                end: WalkEnd::Upper,
            }
        );
    }

    #[test]
    fn non_first_fragment_stops_the_walk() {
        // Offset 1448 bytes (181 × 8), last fragment, UDP data.
        let payload = [17, 0, 0x05, 0xa8, 0, 0, 0, 7, 1, 2, 3];
        let frag = Ipv6FragmentHeader::new_checked(&payload[..]).unwrap();
        assert_eq!(frag.frag_offset(), 1448);
        assert!(!frag.more_frags());
        assert_eq!(frag.ident(), 7);
        assert_eq!(frag.next_header(), IpProtocol::UDP);
        assert_eq!(frag.header_len(), 8);
        assert_eq!(frag.payload(), &[1, 2, 3]);
        let walk = walk_ext_headers(IpProtocol::IPV6_FRAGMENT, &payload, payload.len());
        assert_eq!(walk.end, WalkEnd::NonFirstFragment);
        assert_eq!(walk.protocol, IpProtocol::UDP);
        assert_eq!(walk.offset, 8);
        assert!(!walk.fragment.unwrap().is_first());
    }

    #[test]
    fn ah_length_counts_in_4_byte_units() {
        // AH with length field 4: (4 + 2) × 4 = 24 bytes, then ESP.
        let mut payload = vec![50, 4, 0, 0];
        payload.extend_from_slice(&[0; 20]);
        payload.extend_from_slice(&[0xff; 8]);
        let walk = walk_ext_headers(IpProtocol::AH, &payload, payload.len());
        assert_eq!(walk.protocol, IpProtocol::ESP);
        assert_eq!(walk.offset, 24);
        assert_eq!(walk.end, WalkEnd::Upper);
    }

    #[test]
    fn mobility_hip_shim6_are_walked() {
        for kind in [135u8, 139, 140, 60] {
            let mut payload = vec![59, 1];
            payload.extend_from_slice(&[0; 14]);
            let walk = walk_ext_headers(IpProtocol(kind), &payload, payload.len());
            assert_eq!(walk.protocol, IpProtocol::IPV6_NO_NEXT, "kind {kind}");
            assert_eq!(walk.offset, 16);
            assert_eq!(walk.end, WalkEnd::Upper);
        }
    }

    #[test]
    fn capture_cut_is_truncated_declared_cut_is_invalid() {
        let mut payload = vec![6, 1];
        payload.extend_from_slice(&[0; 14]);
        // Captured 12 of 16 bytes, payload length says 36.
        let walk = walk_ext_headers(IpProtocol::HOP_BY_HOP, &payload[..12], 36);
        assert_eq!(walk.end, WalkEnd::Truncated);
        assert_eq!((walk.protocol, walk.offset), (IpProtocol::HOP_BY_HOP, 0));
        // Captured 4 bytes: not even the first 8.
        let walk = walk_ext_headers(IpProtocol::HOP_BY_HOP, &payload[..4], 36);
        assert_eq!(walk.end, WalkEnd::Truncated);
        // Payload length says 12: the header does not fit in the packet.
        let walk = walk_ext_headers(IpProtocol::HOP_BY_HOP, &payload, 12);
        assert_eq!(
            walk.end,
            WalkEnd::Invalid(WireError::Truncated {
                layer: Layer::Ipv6Ext,
                needed: 16,
                available: 12
            })
        );
        let walk = walk_ext_headers(IpProtocol::HOP_BY_HOP, &payload, 6);
        assert!(matches!(
            walk.end,
            WalkEnd::Invalid(WireError::Truncated { needed: 8, .. })
        ));
    }

    #[test]
    fn long_chains_and_double_fragments_are_invalid() {
        let payload: Vec<u8> = (0..17).flat_map(|_| [60, 0, 0, 0, 0, 0, 0, 0]).collect();
        let walk = walk_ext_headers(IpProtocol::IPV6_DEST_OPTS, &payload, payload.len());
        assert_eq!(walk.ext_headers, 16);
        assert_eq!(walk.offset, 128);
        assert_eq!(
            walk.end,
            WalkEnd::Invalid(WireError::Malformed {
                layer: Layer::Ipv6Ext,
                what: "more than 16 extension headers"
            })
        );
        let payload = [44, 0, 0, 1, 0, 0, 0, 1, 6, 0, 0, 1, 0, 0, 0, 1];
        let walk = walk_ext_headers(IpProtocol::IPV6_FRAGMENT, &payload, 16);
        assert!(matches!(
            walk.end,
            WalkEnd::Invalid(WireError::Malformed { .. })
        ));
    }

    #[test]
    fn no_extension_headers() {
        let walk = walk_ext_headers(IpProtocol::TCP, &[], 0);
        assert_eq!(walk.offset, 0);
        assert_eq!(walk.end, WalkEnd::Upper);
        assert_eq!(walk.ext_headers, 0);
        let buf = header(58, 0);
        let ip = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(ip.ext_headers().protocol, IpProtocol::ICMPV6);
    }
}
