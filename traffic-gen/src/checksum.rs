//! The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers that TCP, UDP and
//! ICMPv6 checksums cover.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Adds `data`, taken as big-endian 16-bit words (an odd last byte padded with zero), to
/// the running one's-complement sum `acc`. The sum is kept unfolded in 64 bits; finish it
/// with [`fold`].
pub fn add(acc: u64, data: &[u8]) -> u64 {
    let mut acc = acc;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc + u64::from(u32::from_be_bytes(tail))
}

/// Folds a running sum from [`add`] to 16 bits and complements it: the value to store in
/// a checksum field.
pub fn fold(acc: u64) -> u16 {
    let mut s = acc;
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// The checksum of `data` alone (IPv4 header, ICMP).
pub fn checksum(data: &[u8]) -> u16 {
    fold(add(0, data))
}

/// The running sum of the IPv4 pseudo-header for an upper-layer segment of `len` bytes.
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> u64 {
    let mut acc = add(0, &src.octets());
    acc = add(acc, &dst.octets());
    acc + u64::from(protocol) + u64::from(len)
}

/// The running sum of the IPv6 pseudo-header (RFC 8200 section 8.1).
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u64 {
    let mut acc = add(0, &src.octets());
    acc = add(acc, &dst.octets());
    acc + u64::from(len) + u64::from(next_header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // The worked example of RFC 1071 section 3: the sum is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn known_ipv4_header() {
        // A classic example header whose checksum is 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        assert_eq!(checksum(&[0xab]), checksum(&[0xab, 0x00]));
        assert_eq!(checksum(&[1, 2, 3, 4, 5]), checksum(&[1, 2, 3, 4, 5, 0]));
    }

    #[test]
    fn chunking_does_not_matter_for_even_splits() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1001).collect();
        let whole = fold(add(0, &data));
        let split = fold(add(add(0, &data[..100]), &data[100..]));
        assert_eq!(whole, split);
    }
}
