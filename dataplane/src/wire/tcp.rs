//! TCP (RFC 9293).
//!
//! ```text
//!  0                              16                             31
//! +-------------------------------+-------------------------------+
//! |          source port          |        destination port       |
//! +-------------------------------+-------------------------------+
//! |                        sequence number                        |
//! |                     acknowledgment number                     |
//! +-------+-------+---------------+-------------------------------+
//! | d.off | rsvd  |     flags     |            window             |
//! +-------+-------+---------------+-------------------------------+
//! |           checksum            |        urgent pointer         |
//! +-------------------------------+-------------------------------+
//! |                    options (data offset > 5)                  |
//! +---------------------------------------------------------------+
//! ```

use std::fmt;
use std::ops::BitOr;

use super::checksum;
use super::error::{Layer, WireError};
use super::ip::IpProtocol;

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;

/// TCP control flags: the eight flag bits plus the AE (formerly NS) bit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// No more data from the sender.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// Push.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// The acknowledgment number is significant.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECN echo.
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// Congestion window reduced.
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// Accurate ECN (the former ECN nonce sum, NS).
    pub const AE: TcpFlags = TcpFlags(0x100);

    /// The flag bits.
    #[inline]
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether every flag of `other` is set.
    #[inline]
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    #[inline]
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;

    #[inline]
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl fmt::Debug for TcpFlags {
    /// Lists the set flags, e.g. `TcpFlags(SYN|ACK)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 9] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "AE"];
        f.write_str("TcpFlags(")?;
        let mut first = true;
        for (bit, name) in NAMES.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        f.write_str(")")
    }
}

/// A read-only view of a TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpSegment<T> {
    /// Wraps `buffer` without checking it.
    ///
    /// The accessors panic if the buffer is shorter than [`HEADER_LEN`]; `options` and
    /// `payload` also if the data offset is below 5 or past the buffer. Use
    /// [`new_checked`](Self::new_checked) on bytes from the wire.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpSegment { buffer }
    }

    /// Wraps `buffer` after checking that the data offset is at least 5 and the whole
    /// header (options included) is inside the buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let d = buffer.as_ref();
        let Some(fixed) = d.first_chunk::<HEADER_LEN>() else {
            return Err(WireError::truncated(Layer::Tcp, HEADER_LEN, d.len()));
        };
        let header_len = TcpSegment::new_unchecked(fixed).check_data_offset()?;
        if d.len() < header_len {
            return Err(WireError::truncated(Layer::Tcp, header_len, d.len()));
        }
        Ok(TcpSegment { buffer })
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

    /// The sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        let d = self.buffer.as_ref();
        u32::from_be_bytes([d[4], d[5], d[6], d[7]])
    }

    /// The acknowledgment number (meaningful when ACK is set).
    #[inline]
    pub fn ack_number(&self) -> u32 {
        let d = self.buffer.as_ref();
        u32::from_be_bytes([d[8], d[9], d[10], d[11]])
    }

    /// The header length in bytes (data offset × 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[12] >> 4) * 4
    }

    /// The control flags.
    #[inline]
    pub fn flags(&self) -> TcpFlags {
        let d = self.buffer.as_ref();
        TcpFlags(u16::from_be_bytes([d[12] & 0x01, d[13]]))
    }

    /// The three reserved bits between the data offset and the flags; should be 0.
    #[inline]
    pub fn reserved(&self) -> u8 {
        (self.buffer.as_ref()[12] >> 1) & 0x07
    }

    /// The receive window (not scaled).
    #[inline]
    pub fn window_len(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[14], d[15]])
    }

    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[16], d[17]])
    }

    /// The urgent pointer (meaningful when URG is set).
    #[inline]
    pub fn urgent_ptr(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[18], d[19]])
    }

    /// The options: the header bytes after the first 20.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The data after the header, to the end of the buffer.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Whether the checksum is correct for a segment carried in IPv4 from `src` to
    /// `dst`. The buffer must be exactly the segment (the IP payload); a segment cut
    /// short by a capture does not verify.
    #[inline]
    pub fn verify_checksum_v4(&self, src: [u8; 4], dst: [u8; 4]) -> bool {
        let d = self.buffer.as_ref();
        checksum::verify_with(checksum::pseudo_v4(src, dst, IpProtocol::TCP, d.len()), d)
    }

    /// Whether the checksum is correct for a segment carried in IPv6 from `src` to
    /// `dst` (the final destination when there is a routing header). The buffer must
    /// be exactly the segment.
    #[inline]
    pub fn verify_checksum_v6(&self, src: [u8; 16], dst: [u8; 16]) -> bool {
        let d = self.buffer.as_ref();
        checksum::verify_with(checksum::pseudo_v6(src, dst, IpProtocol::TCP, d.len()), d)
    }
}

impl TcpSegment<&[u8; HEADER_LEN]> {
    /// Checks the data offset of a fixed header; returns the header length.
    #[inline]
    pub(crate) fn check_data_offset(&self) -> Result<usize, WireError> {
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(WireError::malformed(
                Layer::Tcp,
                "data offset is below 5 (header shorter than 20 bytes)",
            ));
        }
        Ok(header_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN from a Linux client: MSS 1460, SACK permitted, timestamps, NOP, window
    /// scale 7.
    const SYN: [u8; 40] = [
        0xc3, 0x5a, 0x00, 0x50, 0x8f, 0x1e, 0x3c, 0x01, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x2b,
        0x6e, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    #[test]
    fn reads_a_syn_with_options() {
        let tcp = TcpSegment::new_checked(&SYN[..]).unwrap();
        assert_eq!(tcp.src_port(), 50010);
        assert_eq!(tcp.dst_port(), 80);
        assert_eq!(tcp.seq_number(), 0x8f1e_3c01);
        assert_eq!(tcp.ack_number(), 0);
        assert_eq!(tcp.header_len(), 40);
        assert_eq!(tcp.flags(), TcpFlags::SYN);
        assert_eq!(tcp.reserved(), 0);
        assert_eq!(tcp.window_len(), 64240);
        assert_eq!(tcp.urgent_ptr(), 0);
        assert_eq!(tcp.options().len(), 20);
        assert_eq!(tcp.options()[..4], [0x02, 0x04, 0x05, 0xb4]);
        assert!(tcp.payload().is_empty());
    }

    #[test]
    fn flags() {
        let mut seg = SYN;
        seg[12] |= 0x01;
        seg[13] = 0xff;
        let tcp = TcpSegment::new_checked(&seg[..]).unwrap();
        assert_eq!(tcp.flags().bits(), 0x1ff);
        let sa = TcpFlags::SYN | TcpFlags::ACK;
        assert!(sa.contains(TcpFlags::SYN));
        assert!(!sa.contains(TcpFlags::SYN | TcpFlags::FIN));
        assert!(sa.intersects(TcpFlags::ACK | TcpFlags::RST));
        assert!(!sa.intersects(TcpFlags::RST | TcpFlags::AE));
        assert_eq!(format!("{sa:?}"), "TcpFlags(SYN|ACK)");
        assert_eq!(format!("{:?}", TcpFlags::default()), "TcpFlags()");
    }

    #[test]
    fn checksums() {
        let src = [192, 168, 1, 10];
        let dst = [93, 184, 216, 34];
        let mut seg = SYN.to_vec();
        seg.extend_from_slice(b"hello");
        let pseudo = checksum::pseudo_v4(src, dst, IpProtocol::TCP, seg.len());
        let c = !checksum::fold(checksum::sum(pseudo, &seg));
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        let tcp = TcpSegment::new_checked(&seg[..]).unwrap();
        assert_eq!(tcp.checksum(), c);
        assert!(tcp.verify_checksum_v4(src, dst));
        assert!(!tcp.verify_checksum_v4(dst, [93, 184, 216, 35]));
        assert_eq!(tcp.payload(), b"hello");

        let src6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        seg[16..18].copy_from_slice(&[0, 0]);
        let pseudo = checksum::pseudo_v6(src6, dst6, IpProtocol::TCP, seg.len());
        let c = !checksum::fold(checksum::sum(pseudo, &seg));
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        let tcp = TcpSegment::new_checked(&seg[..]).unwrap();
        assert!(tcp.verify_checksum_v6(src6, dst6));
        assert!(!tcp.verify_checksum_v6(dst6, dst6));
        assert!(
            !TcpSegment::new_checked(&seg[..44])
                .unwrap()
                .verify_checksum_v6(src6, dst6)
        );
    }

    #[test]
    fn rejects_bad_lengths() {
        assert_eq!(
            TcpSegment::new_checked(&SYN[..19]),
            Err(WireError::Truncated {
                layer: Layer::Tcp,
                needed: 20,
                available: 19
            })
        );
        assert_eq!(
            TcpSegment::new_checked(&SYN[..39]),
            Err(WireError::Truncated {
                layer: Layer::Tcp,
                needed: 40,
                available: 39
            })
        );
        let mut seg = SYN;
        seg[12] = 0x40;
        assert_eq!(
            TcpSegment::new_checked(&seg[..]).unwrap_err().to_string(),
            "malformed TCP header: data offset is below 5 (header shorter than 20 bytes)"
        );
    }
}
