//! 802.1Q / 802.1ad VLAN tags.
//!
//! A tag sits where the EtherType would be: the tag protocol identifier (TPID: 0x8100,
//! 0x88a8 or 0x9100) takes the EtherType's place, and the view below starts right after
//! it, at the tag control information.
//!
//! ```text
//!  0                   2                 4
//! +-----+---+----------+-----------------+---------
//! | PCP |DEI|   VID    | inner EtherType | payload
//! +-----+---+----------+-----------------+---------
//! ```

use super::error::{Layer, WireError, need};
use super::ethernet::EtherType;

/// Length of a VLAN tag after its TPID: the TCI and the inner EtherType.
pub const HEADER_LEN: usize = 4;

/// A read-only view of a VLAN tag, starting after the TPID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    /// Wraps `buffer` without checking it.
    ///
    /// The accessors panic if the buffer is shorter than [`HEADER_LEN`]; use
    /// [`new_checked`](Self::new_checked) on bytes from the wire.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        VlanTag { buffer }
    }

    /// Wraps `buffer` after checking that it holds a whole tag.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        need(Layer::Vlan, buffer.as_ref(), HEADER_LEN)?;
        Ok(VlanTag { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The tag control information: PCP, DEI and VID together.
    #[inline]
    pub fn tci(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[0], d[1]])
    }

    /// The priority code point (0..=7).
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// The drop eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// The VLAN identifier (0..=4095).
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// The EtherType of what follows the tag (another TPID for stacked tags).
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        let d = self.buffer.as_ref();
        EtherType(u16::from_be_bytes([d[2], d[3]]))
    }

    /// Length of the tag after its TPID: always [`HEADER_LEN`].
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Everything after the tag.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tci_fields() {
        // PCP 5, DEI 1, VID 0x123, then IPv4.
        let tag = VlanTag::new_checked(&[0xb1, 0x23, 0x08, 0x00, 0x45][..]).unwrap();
        assert_eq!(tag.tci(), 0xb123);
        assert_eq!(tag.pcp(), 5);
        assert!(tag.dei());
        assert_eq!(tag.vid(), 0x123);
        assert_eq!(tag.ethertype(), EtherType::IPV4);
        assert_eq!(tag.header_len(), 4);
        assert_eq!(tag.payload(), &[0x45]);
        let tag = VlanTag::new_checked([0x0f, 0xff, 0x86, 0xdd]).unwrap();
        assert_eq!((tag.pcp(), tag.dei(), tag.vid()), (0, false, 4095));
        assert_eq!(tag.into_inner(), [0x0f, 0xff, 0x86, 0xdd]);
    }

    #[test]
    fn short_tag_is_truncated() {
        assert_eq!(
            VlanTag::new_checked(&[0x00, 0x01, 0x08][..]),
            Err(WireError::Truncated {
                layer: Layer::Vlan,
                needed: 4,
                available: 3
            })
        );
    }
}
