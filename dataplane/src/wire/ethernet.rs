//! Ethernet II frames (IEEE 802.3 with an EtherType).
//!
//! ```text
//!  0      6      12   14
//! +------+------+----+---------
//! | dst  | src  | ET | payload
//! +------+------+----+---------
//! ```
//!
//! The frame check sequence is not part of what captures and NICs hand over, so the
//! view does not expect one.

use std::fmt;

use super::error::{Layer, WireError, need};

/// Length of an Ethernet II header: two MAC addresses and the EtherType.
pub const HEADER_LEN: usize = 14;

/// An EtherType (or, below 0x0600, an 802.3 length field).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EtherType(pub u16);

impl EtherType {
    /// IPv4.
    pub const IPV4: EtherType = EtherType(0x0800);
    /// ARP.
    pub const ARP: EtherType = EtherType(0x0806);
    /// 802.1Q VLAN tag (customer tag).
    pub const VLAN: EtherType = EtherType(0x8100);
    /// IPv6.
    pub const IPV6: EtherType = EtherType(0x86dd);
    /// MPLS unicast.
    pub const MPLS: EtherType = EtherType(0x8847);
    /// 802.1ad service tag (QinQ outer tag).
    pub const QINQ: EtherType = EtherType(0x88a8);
    /// LLDP.
    pub const LLDP: EtherType = EtherType(0x88cc);
    /// NSH (RFC 8300), which carries the das job metadata.
    pub const NSH: EtherType = EtherType(0x894f);
    /// The pre-standard QinQ tag some switches still send.
    pub const QINQ_LEGACY: EtherType = EtherType(0x9100);

    /// Whether this is a VLAN tag protocol identifier the parsers step over (0x8100,
    /// 0x88a8 or 0x9100).
    #[inline]
    pub const fn is_vlan_tag(self) -> bool {
        matches!(self.0, 0x8100 | 0x88a8 | 0x9100)
    }
}

impl fmt::Debug for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EtherType({:#06x})", self.0)
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            EtherType::IPV4 => "IPv4",
            EtherType::ARP => "ARP",
            EtherType::VLAN => "802.1Q",
            EtherType::IPV6 => "IPv6",
            EtherType::MPLS => "MPLS",
            EtherType::QINQ => "802.1ad",
            EtherType::LLDP => "LLDP",
            EtherType::NSH => "NSH",
            EtherType::QINQ_LEGACY => "QinQ (0x9100)",
            EtherType(_) => return write!(f, "{:#06x}", self.0),
        };
        write!(f, "{:#06x} ({name})", self.0)
    }
}

/// A read-only view of an Ethernet II frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` without checking it.
    ///
    /// The accessors panic if the buffer is shorter than [`HEADER_LEN`]; use
    /// [`new_checked`](Self::new_checked) on bytes from the wire.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer` after checking that it holds a whole Ethernet header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        need(Layer::Ethernet, buffer.as_ref(), HEADER_LEN)?;
        Ok(EthernetFrame { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 6] {
        let d = self.buffer.as_ref();
        [d[0], d[1], d[2], d[3], d[4], d[5]]
    }

    /// The source MAC address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 6] {
        let d = self.buffer.as_ref();
        [d[6], d[7], d[8], d[9], d[10], d[11]]
    }

    /// The EtherType field (a VLAN TPID when the frame is tagged).
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        let d = self.buffer.as_ref();
        EtherType(u16::from_be_bytes([d[12], d[13]]))
    }

    /// Length of the header: always [`HEADER_LEN`].
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Everything after the header (including any Ethernet padding).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d, 0x08, 0x06, 0xaa,
        0xbb,
    ];

    #[test]
    fn reads_fields() {
        let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr(), [0xff; 6]);
        assert_eq!(f.src_addr(), [0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d]);
        assert_eq!(f.ethertype(), EtherType::ARP);
        assert_eq!(f.header_len(), 14);
        assert_eq!(f.payload(), &[0xaa, 0xbb]);
        assert_eq!(f.into_inner(), &FRAME[..]);
    }

    #[test]
    fn short_buffers_are_truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                EthernetFrame::new_checked(&FRAME[..len]),
                Err(WireError::Truncated {
                    layer: Layer::Ethernet,
                    needed: 14,
                    available: len
                })
            );
        }
        assert!(
            EthernetFrame::new_checked(&FRAME[..14])
                .unwrap()
                .payload()
                .is_empty()
        );
    }

    #[test]
    fn ethertype_names() {
        assert_eq!(EtherType::IPV6.to_string(), "0x86dd (IPv6)");
        assert_eq!(EtherType(0x1234).to_string(), "0x1234");
        assert_eq!(format!("{:?}", EtherType::IPV4), "EtherType(0x0800)");
        assert!(EtherType::QINQ.is_vlan_tag());
        assert!(EtherType::QINQ_LEGACY.is_vlan_tag());
        assert!(EtherType::VLAN.is_vlan_tag());
        assert!(!EtherType::IPV4.is_vlan_tag());
    }
}
