//! The one error type of the wire parsers.

use std::fmt;

/// The protocol layer a [`WireError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The Ethernet II header.
    Ethernet,
    /// An 802.1Q or 802.1ad VLAN tag.
    Vlan,
    /// The IPv4 header.
    Ipv4,
    /// The IPv6 fixed header.
    Ipv6,
    /// An IPv6 extension header.
    Ipv6Ext,
    /// The TCP header.
    Tcp,
    /// The UDP header.
    Udp,
    /// The ICMP (v4) header.
    Icmp,
    /// The ICMPv6 header.
    Icmpv6,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Ethernet => "Ethernet header",
            Layer::Vlan => "802.1Q/802.1ad VLAN tag",
            Layer::Ipv4 => "IPv4 header",
            Layer::Ipv6 => "IPv6 header",
            Layer::Ipv6Ext => "IPv6 extension header",
            Layer::Tcp => "TCP header",
            Layer::Udp => "UDP header",
            Layer::Icmp => "ICMP header",
            Layer::Icmpv6 => "ICMPv6 header",
        })
    }
}

/// Why bytes could not be read as a protocol header.
///
/// Lengths are counted from the start of the layer named in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes are there than the header needs: the buffer (or the enclosing IP
    /// datagram, for a header inside one) ends too early.
    #[error("truncated {layer}: needs {needed} bytes, only {available} available")]
    Truncated {
        /// The header that does not fit.
        layer: Layer,
        /// Bytes the header needs, counted from its first byte.
        needed: usize,
        /// Bytes there are, counted from the header's first byte.
        available: usize,
    },
    /// The bytes are there but a field has a value the protocol forbids.
    #[error("malformed {layer}: {what}")]
    Malformed {
        /// The header with the bad field.
        layer: Layer,
        /// What is wrong, in a network engineer's words.
        what: &'static str,
    },
}

impl WireError {
    /// The layer the error is about.
    #[inline]
    pub fn layer(&self) -> Layer {
        match *self {
            WireError::Truncated { layer, .. } | WireError::Malformed { layer, .. } => layer,
        }
    }

    #[inline]
    pub(crate) const fn truncated(layer: Layer, needed: usize, available: usize) -> Self {
        WireError::Truncated {
            layer,
            needed,
            available,
        }
    }

    #[inline]
    pub(crate) const fn malformed(layer: Layer, what: &'static str) -> Self {
        WireError::Malformed { layer, what }
    }
}

/// Fails with [`WireError::Truncated`] unless `buffer` holds at least `needed` bytes.
#[inline]
pub(crate) fn need(layer: Layer, buffer: &[u8], needed: usize) -> Result<(), WireError> {
    if buffer.len() < needed {
        Err(WireError::truncated(layer, needed, buffer.len()))
    } else {
        Ok(())
    }
}
