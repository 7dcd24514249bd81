//! ICMPv6 (RFC 4443) and the neighbour discovery messages it carries (RFC 4861).
//!
//! The layout is ICMP's: type, code, checksum, 4 message-specific bytes, body. Every
//! ICMPv6 message defined so far has at least those 8 bytes, so the view requires
//! them; its payload is what follows. The checksum covers an IPv6 pseudo-header.

use super::checksum;
use super::error::{Layer, WireError, need};
use super::ip::IpProtocol;

/// Length of the ICMPv6 header: type, code, checksum and 4 message-specific bytes.
pub const HEADER_LEN: usize = 8;

/// Destination unreachable.
pub const TYPE_DEST_UNREACHABLE: u8 = 1;
/// Packet too big.
pub const TYPE_PACKET_TOO_BIG: u8 = 2;
/// Time exceeded.
pub const TYPE_TIME_EXCEEDED: u8 = 3;
/// Parameter problem.
pub const TYPE_PARAM_PROBLEM: u8 = 4;
/// Echo request.
pub const TYPE_ECHO_REQUEST: u8 = 128;
/// Echo reply.
pub const TYPE_ECHO_REPLY: u8 = 129;
/// Router solicitation.
pub const TYPE_ROUTER_SOLICIT: u8 = 133;
/// Router advertisement.
pub const TYPE_ROUTER_ADVERT: u8 = 134;
/// Neighbour solicitation.
pub const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
/// Neighbour advertisement.
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;

/// A read-only view of an ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps `buffer` without checking it.
    ///
    /// The accessors panic if the buffer is shorter than [`HEADER_LEN`]; use
    /// [`new_checked`](Self::new_checked) on bytes from the wire.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    /// Wraps `buffer` after checking that it holds the 8-byte header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        need(Layer::Icmpv6, buffer.as_ref(), HEADER_LEN)?;
        Ok(Icmpv6Packet { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The message type (below 128: errors; from 128: informational).
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The message code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[2], d[3]])
    }

    /// The 4 message-specific bytes after the checksum (the MTU of a packet too big,
    /// the pointer of a parameter problem, identifier and sequence of an echo, ...).
    #[inline]
    pub fn message_header(&self) -> [u8; 4] {
        let d = self.buffer.as_ref();
        [d[4], d[5], d[6], d[7]]
    }

    /// The identifier of an echo request or reply.
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[4], d[5]])
    }

    /// The sequence number of an echo request or reply.
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[6], d[7]])
    }

    /// Length of the header: always [`HEADER_LEN`].
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The body after the 8-byte header (for neighbour discovery: the target address
    /// and options).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Whether the checksum is correct for a message from `src` to `dst`. The buffer
    /// must be exactly the message (the upper-layer payload of the IPv6 packet).
    #[inline]
    pub fn verify_checksum(&self, src: [u8; 16], dst: [u8; 16]) -> bool {
        let d = self.buffer.as_ref();
        checksum::verify_with(
            checksum::pseudo_v6(src, dst, IpProtocol::ICMPV6, d.len()),
            d,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: [u8; 16] = [
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x1b, 0x21, 0xff, 0xfe, 0, 0, 1,
    ];
    const DST: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2];

    /// A neighbour solicitation for fe80::2 with a source link-layer address option.
    fn neighbor_solicit() -> Vec<u8> {
        let mut m = vec![135, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        m.extend_from_slice(&[1, 1, 0x00, 0x1b, 0x21, 0x00, 0x00, 0x01]);
        let pseudo = checksum::pseudo_v6(SRC, DST, IpProtocol::ICMPV6, m.len());
        let c = !checksum::fold(checksum::sum(pseudo, &m));
        m[2..4].copy_from_slice(&c.to_be_bytes());
        m
    }

    #[test]
    fn reads_a_neighbor_solicitation() {
        let m = neighbor_solicit();
        let icmp = Icmpv6Packet::new_checked(&m[..]).unwrap();
        assert_eq!(icmp.msg_type(), TYPE_NEIGHBOR_SOLICIT);
        assert_eq!(icmp.code(), 0);
        assert_eq!(icmp.message_header(), [0; 4]);
        assert_eq!(icmp.header_len(), 8);
        assert_eq!(icmp.payload().len(), 24);
        assert_eq!(icmp.payload()[15], 2);
        assert!(icmp.verify_checksum(SRC, DST));
        assert!(!icmp.verify_checksum(SRC, SRC));
        assert_ne!(icmp.checksum(), 0);
    }

    #[test]
    fn echo_fields_and_truncation() {
        let m = [TYPE_ECHO_REPLY, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, 0xaa];
        let icmp = Icmpv6Packet::new_checked(&m[..]).unwrap();
        assert_eq!((icmp.echo_ident(), icmp.echo_seq_no()), (0x1234, 7));
        assert_eq!(icmp.payload(), &[0xaa]);
        assert_eq!(
            Icmpv6Packet::new_checked(&m[..7]),
            Err(WireError::Truncated {
                layer: Layer::Icmpv6,
                needed: 8,
                available: 7
            })
        );
    }
}
