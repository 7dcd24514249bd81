//! UDP (RFC 768).
//!
//! ```text
//!  0                              16                             31
//! +-------------------------------+-------------------------------+
//! |          source port          |        destination port       |
//! +-------------------------------+-------------------------------+
//! |            length             |           checksum            |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! The length field counts the header and the data. A checked view only requires it
//! to be at least 8; a length past the end of the buffer is accepted (a capture cut
//! short) and [`UdpDatagram::payload`] stops at the end of the buffer, while a length
//! short of the buffer ends the payload there (the bytes after it are not UDP data).

use super::checksum;
use super::error::{Layer, WireError};
use super::ip::IpProtocol;

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// A read-only view of a UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpDatagram<T> {
    /// Wraps `buffer` without checking it.
    ///
    /// The accessors panic if the buffer is shorter than [`HEADER_LEN`]; `payload` also
    /// if the length field is below 8. Use [`new_checked`](Self::new_checked) on bytes
    /// from the wire.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpDatagram { buffer }
    }

    /// Wraps `buffer` after checking that it holds the header and that the length
    /// field is at least 8.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let d = buffer.as_ref();
        let Some(fixed) = d.first_chunk::<HEADER_LEN>() else {
            return Err(WireError::truncated(Layer::Udp, HEADER_LEN, d.len()));
        };
        UdpDatagram::new_unchecked(fixed).check_len_field()?;
        Ok(UdpDatagram { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[0], d[1]])
    }

    /// The destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[2], d[3]])
    }

    /// The length field: header plus data, in bytes.
    #[inline]
    pub fn len(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[4], d[5]])
    }

    /// Whether the length field says there is no data (8).
    #[inline]
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// The checksum field (0 in IPv4: not computed).
    #[inline]
    pub fn checksum(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[6], d[7]])
    }

    /// Length of the header: always [`HEADER_LEN`].
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The data: from the end of the header to the length field, or to the end of the
    /// buffer if that comes first.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let d = self.buffer.as_ref();
        let end = usize::from(self.len()).min(d.len());
        &d[HEADER_LEN..end]
    }

    /// The whole datagram as the length field delimits it, if the buffer holds it.
    #[inline]
    fn datagram(&self) -> Option<&[u8]> {
        self.buffer.as_ref().get(..usize::from(self.len()))
    }

    /// Whether the checksum is correct for a datagram carried in IPv4 from `src` to
    /// `dst`. A checksum field of 0 means the sender did not compute one and verifies;
    /// a datagram the buffer does not hold whole does not.
    #[inline]
    pub fn verify_checksum_v4(&self, src: [u8; 4], dst: [u8; 4]) -> bool {
        if self.checksum() == 0 {
            return self.datagram().is_some();
        }
        self.datagram().is_some_and(|d| {
            checksum::verify_with(checksum::pseudo_v4(src, dst, IpProtocol::UDP, d.len()), d)
        })
    }

    /// Whether the checksum is correct for a datagram carried in IPv6 from `src` to
    /// `dst`. IPv6 makes the checksum mandatory, so a field of 0 does not verify.
    #[inline]
    pub fn verify_checksum_v6(&self, src: [u8; 16], dst: [u8; 16]) -> bool {
        self.checksum() != 0
            && self.datagram().is_some_and(|d| {
                checksum::verify_with(checksum::pseudo_v6(src, dst, IpProtocol::UDP, d.len()), d)
            })
    }
}

impl UdpDatagram<&[u8; HEADER_LEN]> {
    /// Checks the length field of a header: at least the header's 8 bytes.
    #[inline]
    pub(crate) fn check_len_field(&self) -> Result<(), WireError> {
        if usize::from(self.len()) < HEADER_LEN {
            return Err(WireError::malformed(
                Layer::Udp,
                "length field is below 8 (shorter than the header)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: [u8; 4] = [192, 168, 0, 104];
    const DST: [u8; 4] = [192, 168, 0, 1];

    /// A DNS query for example.com (A), with its checksum filled in.
    fn dns_query() -> Vec<u8> {
        let mut d = vec![0xd4, 0x31, 0x00, 0x35, 0x00, 0x00, 0x00, 0x00];
        d.extend_from_slice(&[0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        d.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
        let len = d.len() as u16;
        d[4..6].copy_from_slice(&len.to_be_bytes());
        let pseudo = checksum::pseudo_v4(SRC, DST, IpProtocol::UDP, d.len());
        let c = !checksum::fold(checksum::sum(pseudo, &d));
        d[6..8].copy_from_slice(&c.to_be_bytes());
        d
    }

    #[test]
    fn reads_a_dns_query() {
        let d = dns_query();
        let udp = UdpDatagram::new_checked(&d[..]).unwrap();
        assert_eq!(udp.src_port(), 54321);
        assert_eq!(udp.dst_port(), 53);
        assert_eq!(udp.len(), 37);
        assert!(!udp.is_empty());
        assert_eq!(udp.header_len(), 8);
        assert_eq!(udp.payload().len(), 29);
        assert_eq!(udp.payload()[..2], [0x12, 0x34]);
        assert!(udp.verify_checksum_v4(SRC, DST));
        assert!(!udp.verify_checksum_v4(DST, DST));
    }

    #[test]
    fn length_field_bounds_the_payload() {
        let mut d = dns_query();
        d.extend_from_slice(&[0, 0, 0]); // trailing bytes (padding)
        let udp = UdpDatagram::new_checked(&d[..]).unwrap();
        assert_eq!(udp.payload().len(), 29);
        assert!(
            udp.verify_checksum_v4(SRC, DST),
            "trailing bytes are not summed"
        );
        // Cut short: the payload ends with the buffer, the checksum cannot verify.
        let udp = UdpDatagram::new_checked(&d[..20]).unwrap();
        assert_eq!(udp.payload().len(), 12);
        assert!(!udp.verify_checksum_v4(SRC, DST));
    }

    #[test]
    fn zero_checksum() {
        let mut d = dns_query();
        d[6..8].copy_from_slice(&[0, 0]);
        let udp = UdpDatagram::new_checked(&d[..]).unwrap();
        assert!(
            udp.verify_checksum_v4(SRC, DST),
            "0 means not computed in IPv4"
        );
        assert!(
            !udp.verify_checksum_v6([1; 16], [2; 16]),
            "but is invalid in IPv6"
        );
    }

    #[test]
    fn v6_checksum() {
        let mut d = dns_query();
        d[6..8].copy_from_slice(&[0, 0]);
        let (s, t) = ([0xfe; 16], [0x20; 16]);
        let pseudo = checksum::pseudo_v6(s, t, IpProtocol::UDP, d.len());
        let c = !checksum::fold(checksum::sum(pseudo, &d));
        d[6..8].copy_from_slice(&c.to_be_bytes());
        let udp = UdpDatagram::new_checked(&d[..]).unwrap();
        assert!(udp.verify_checksum_v6(s, t));
        assert!(!udp.verify_checksum_v6(s, [0x21; 16]));
    }

    #[test]
    fn rejects_bad_lengths() {
        let d = dns_query();
        assert_eq!(
            UdpDatagram::new_checked(&d[..7]),
            Err(WireError::Truncated {
                layer: Layer::Udp,
                needed: 8,
                available: 7
            })
        );
        let mut short = d.clone();
        short[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert!(matches!(
            UdpDatagram::new_checked(&short[..]),
            Err(WireError::Malformed {
                layer: Layer::Udp,
                ..
            })
        ));
        let mut empty = d[..8].to_vec();
        empty[4..6].copy_from_slice(&8u16.to_be_bytes());
        let udp = UdpDatagram::new_checked(&empty[..]).unwrap();
        assert!(udp.is_empty());
        assert!(udp.payload().is_empty());
    }
}
