//! IPv4 (RFC 791).
//!
//! ```text
//!  0       4       8              16    19             31
//! +-------+-------+--------------+-----+---------------+
//! |version|  IHL  |  DSCP / ECN  |     total length    |
//! +-------+-------+--------------+-----+---------------+
//! |        identification        |flags|fragment offset|
//! +---------------+--------------+-----+---------------+
//! |      TTL      |   protocol   |   header checksum   |
//! +---------------+--------------+---------------------+
//! |                   source address                   |
//! |                 destination address                |
//! |                options (IHL > 5)                   |
//! +----------------------------------------------------+
//! ```
//!
//! A checked view accepts a datagram whose total length runs past the end of the buffer:
//! that is how a capture with a small snapshot length looks.
//! [`Ipv4Packet::is_truncated`] tells, and [`Ipv4Packet::payload`] stops at whichever
//! comes first, the total length or the buffer (so Ethernet padding after the datagram
//! is never payload).

use super::checksum;
use super::error::{Layer, WireError};
use super::ip::{Fragment, IpProtocol};

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

/// A read-only view of an IPv4 datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without checking it.
    ///
    /// The accessors panic if the buffer is shorter than [`HEADER_LEN`]; `options` and
    /// `payload` also if the header length or total length are inconsistent. Use
    /// [`new_checked`](Self::new_checked) on bytes from the wire.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after checking that the version is 4, the IHL at least 5, the
    /// whole header (options included) inside the buffer, and the total length at
    /// least the header length. The total length may exceed the buffer (see
    /// [`is_truncated`](Self::is_truncated)).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let d = buffer.as_ref();
        let Some(fixed) = d.first_chunk::<HEADER_LEN>() else {
            return Err(WireError::truncated(Layer::Ipv4, HEADER_LEN, d.len()));
        };
        Ipv4Packet::new_unchecked(fixed).check(d.len())?;
        Ok(Ipv4Packet { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (4 on a checked view).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The header length in bytes (IHL × 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[0] & 0x0f) * 4
    }

    /// The differentiated services code point.
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[1] >> 2
    }

    /// The explicit congestion notification bits.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[1] & 0x03
    }

    /// The total length field: header plus payload, in bytes.
    #[inline]
    pub fn total_len(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[2], d[3]])
    }

    /// The identification field.
    #[inline]
    pub fn ident(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[4], d[5]])
    }

    /// The reserved flag (bit 0 of the flags, the "evil bit"); should be clear.
    #[inline]
    pub fn reserved_flag(&self) -> bool {
        self.buffer.as_ref()[6] & 0x80 != 0
    }

    /// The don't-fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.buffer.as_ref()[6] & 0x40 != 0
    }

    /// The more-fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.buffer.as_ref()[6] & 0x20 != 0
    }

    /// The fragment offset in bytes (the field × 8).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[6] & 0x1f, d[7]]) << 3
    }

    /// The fragment fields when this datagram is a fragment (more-fragments set or a
    /// nonzero offset), `None` for a whole datagram.
    #[inline]
    pub fn fragment(&self) -> Option<Fragment> {
        let offset = self.frag_offset();
        let more = self.more_frags();
        (more || offset != 0).then(|| Fragment {
            id: u32::from(self.ident()),
            offset,
            more,
        })
    }

    /// The time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[8]
    }

    /// The protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[9])
    }

    /// The header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[10], d[11]])
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 4] {
        let d = self.buffer.as_ref();
        [d[12], d[13], d[14], d[15]]
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 4] {
        let d = self.buffer.as_ref();
        [d[16], d[17], d[18], d[19]]
    }

    /// The options: the header bytes after the first 20 (empty when IHL is 5).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Whether the total length runs past the end of the buffer (a capture cut short
    /// by its snapshot length).
    #[inline]
    pub fn is_truncated(&self) -> bool {
        usize::from(self.total_len()) > self.buffer.as_ref().len()
    }

    /// The payload: from the end of the header to the total length, or to the end of
    /// the buffer if that comes first.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let d = self.buffer.as_ref();
        let end = usize::from(self.total_len()).min(d.len());
        &d[self.header_len()..end]
    }

    /// Whether the header checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::verify_with(0, &self.buffer.as_ref()[..self.header_len()])
    }
}

impl Ipv4Packet<&[u8; HEADER_LEN]> {
    /// The checks of [`new_checked`](Ipv4Packet::new_checked) on the fixed header of a
    /// datagram of which `available` bytes are there. Returns the header length.
    #[inline]
    pub(crate) fn check(&self, available: usize) -> Result<usize, WireError> {
        if self.version() != 4 {
            return Err(WireError::malformed(Layer::Ipv4, "version field is not 4"));
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(WireError::malformed(
                Layer::Ipv4,
                "IHL is below 5 (header shorter than 20 bytes)",
            ));
        }
        if available < header_len {
            return Err(WireError::truncated(Layer::Ipv4, header_len, available));
        }
        if usize::from(self.total_len()) < header_len {
            return Err(WireError::malformed(
                Layer::Ipv4,
                "total length is smaller than the header length",
            ));
        }
        Ok(header_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DNS query's IPv4 header (from a capture), then 4 payload bytes and 2 bytes of
    /// Ethernet padding.
    fn sample() -> Vec<u8> {
        let mut p = vec![
            0x45, 0x00, 0x00, 0x18, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x68, 0xc0, 0xa8, 0x00, 0x01,
        ];
        let c = checksum::checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&[1, 2, 3, 4, 0, 0]);
        p
    }

    #[test]
    fn reads_fields() {
        let buf = sample();
        let ip = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(ip.version(), 4);
        assert_eq!(ip.header_len(), 20);
        assert_eq!((ip.dscp(), ip.ecn()), (0, 0));
        assert_eq!(ip.total_len(), 24);
        assert_eq!(ip.ident(), 0x1c46);
        assert!(ip.dont_frag() && !ip.more_frags() && !ip.reserved_flag());
        assert_eq!(ip.frag_offset(), 0);
        assert_eq!(ip.fragment(), None);
        assert_eq!(ip.ttl(), 64);
        assert_eq!(ip.protocol(), IpProtocol::UDP);
        assert_eq!(ip.src_addr(), [192, 168, 0, 104]);
        assert_eq!(ip.dst_addr(), [192, 168, 0, 1]);
        assert!(ip.options().is_empty());
        assert_eq!(ip.payload(), &[1, 2, 3, 4], "padding is not payload");
        assert!(!ip.is_truncated());
        assert!(ip.verify_checksum());
        assert_ne!(ip.checksum(), 0);
    }

    #[test]
    fn bad_checksum_is_detected() {
        let mut buf = sample();
        buf[8] = 63;
        assert!(!Ipv4Packet::new_checked(&buf[..]).unwrap().verify_checksum());
    }

    #[test]
    fn options_and_fragments() {
        let mut buf = sample();
        buf[0] = 0x46;
        buf[2..4].copy_from_slice(&28u16.to_be_bytes());
        // More fragments, offset 185 × 8 = 1480 bytes, DSCP 46 (EF), ECN 1.
        buf[1] = 46 << 2 | 1;
        buf[6] = 0x20;
        buf[7] = 185;
        buf.splice(20..20, [0x94, 0x04, 0x00, 0x00]); // router alert
        let ip = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(ip.header_len(), 24);
        assert_eq!((ip.dscp(), ip.ecn()), (46, 1));
        assert_eq!(ip.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(ip.payload(), &[1, 2, 3, 4]);
        assert_eq!(
            ip.fragment(),
            Some(Fragment {
                id: 0x1c46,
                offset: 1480,
                more: true
            })
        );
        assert!(!ip.fragment().unwrap().is_first());
    }

    #[test]
    fn snapshot_truncated_datagram_is_accepted() {
        let buf = sample();
        let ip = Ipv4Packet::new_checked(&buf[..22]).unwrap();
        assert!(ip.is_truncated());
        assert_eq!(ip.payload(), &[1, 2]);
    }

    #[test]
    fn rejects_what_it_must() {
        let buf = sample();
        let err = |b: &[u8]| Ipv4Packet::new_checked(b).unwrap_err();
        assert_eq!(
            err(&buf[..19]),
            WireError::Truncated {
                layer: Layer::Ipv4,
                needed: 20,
                available: 19
            }
        );
        let mut v6 = buf.clone();
        v6[0] = 0x65;
        assert!(matches!(
            err(&v6),
            WireError::Malformed {
                layer: Layer::Ipv4,
                ..
            }
        ));
        let mut ihl4 = buf.clone();
        ihl4[0] = 0x44;
        assert!(matches!(err(&ihl4), WireError::Malformed { .. }));
        let mut ihl15 = buf.clone();
        ihl15[0] = 0x4f;
        assert_eq!(
            err(&ihl15),
            WireError::Truncated {
                layer: Layer::Ipv4,
                needed: 60,
                available: 26
            }
        );
        let mut short_total = buf.clone();
        short_total[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert!(matches!(err(&short_total), WireError::Malformed { .. }));
        assert_eq!(
            err(&short_total).to_string(),
            "malformed IPv4 header: total length is smaller than the header length"
        );
    }
}
