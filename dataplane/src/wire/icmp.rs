//! ICMP for IPv4 (RFC 792).
//!
//! ```text
//!  0             8             16                            31
//! +-------------+-------------+-------------------------------+
//! |    type     |    code     |           checksum            |
//! +-------------+-------------+-------------------------------+
//! |       rest of header (echo: identifier, sequence)         |
//! +-----------------------------------------------------------+
//! |                       body ...                            |
//! ```
//!
//! Every ICMP message has these 8 bytes; the view's payload is the body after them
//! (for an echo, the data; for an error, the offending datagram's header).

use super::checksum;
use super::error::{Layer, WireError, need};

/// Length of the ICMP header: type, code, checksum and the 4-byte rest of header.
pub const HEADER_LEN: usize = 8;

/// Echo reply.
pub const TYPE_ECHO_REPLY: u8 = 0;
/// Destination unreachable.
pub const TYPE_DEST_UNREACHABLE: u8 = 3;
/// Redirect.
pub const TYPE_REDIRECT: u8 = 5;
/// Echo request.
pub const TYPE_ECHO_REQUEST: u8 = 8;
/// Time exceeded.
pub const TYPE_TIME_EXCEEDED: u8 = 11;

/// A read-only view of an ICMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wraps `buffer` without checking it.
    ///
    /// The accessors panic if the buffer is shorter than [`HEADER_LEN`]; use
    /// [`new_checked`](Self::new_checked) on bytes from the wire.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        IcmpPacket { buffer }
    }

    /// Wraps `buffer` after checking that it holds the 8-byte header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        need(Layer::Icmp, buffer.as_ref(), HEADER_LEN)?;
        Ok(IcmpPacket { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The message type.
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

    /// The 4 message-specific bytes after the checksum.
    #[inline]
    pub fn rest_of_header(&self) -> [u8; 4] {
        let d = self.buffer.as_ref();
        [d[4], d[5], d[6], d[7]]
    }

    /// The identifier of an echo request or reply (first 2 bytes of the rest of
    /// header).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[4], d[5]])
    }

    /// The sequence number of an echo request or reply (last 2 bytes of the rest of
    /// header).
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

    /// The body after the 8-byte header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Whether the checksum over the whole buffer is correct (the buffer must be
    /// exactly the message, i.e. the IP payload).
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::verify_with(0, self.buffer.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo request as `ping` sends it: identifier 0x1a2b, sequence 1, 8 data bytes.
    fn echo_request() -> Vec<u8> {
        let mut m = vec![8, 0, 0, 0, 0x1a, 0x2b, 0x00, 0x01];
        m.extend_from_slice(b"abcdefgh");
        let c = checksum::checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        m
    }

    #[test]
    fn reads_an_echo_request() {
        let m = echo_request();
        let icmp = IcmpPacket::new_checked(&m[..]).unwrap();
        assert_eq!(icmp.msg_type(), TYPE_ECHO_REQUEST);
        assert_eq!(icmp.code(), 0);
        assert_eq!(icmp.echo_ident(), 0x1a2b);
        assert_eq!(icmp.echo_seq_no(), 1);
        assert_eq!(icmp.rest_of_header(), [0x1a, 0x2b, 0, 1]);
        assert_eq!(icmp.header_len(), 8);
        assert_eq!(icmp.payload(), b"abcdefgh");
        assert!(icmp.verify_checksum());
        assert_ne!(icmp.checksum(), 0);
        let mut bad = m.clone();
        bad[9] ^= 0x20;
        assert!(!IcmpPacket::new_checked(&bad[..]).unwrap().verify_checksum());
    }

    #[test]
    fn short_message_is_truncated() {
        let m = echo_request();
        assert_eq!(
            IcmpPacket::new_checked(&m[..4]),
            Err(WireError::Truncated {
                layer: Layer::Icmp,
                needed: 8,
                available: 4
            })
        );
    }
}
