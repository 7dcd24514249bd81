//! The Internet checksum (RFC 1071) and the TCP/UDP/ICMPv6 pseudo-headers.
//!
//! Sums are kept in a `u64` over big-endian 32-bit words and folded at the end: since
//! 2^16 = 1 (mod 2^16 - 1), that gives the same one's-complement sum as 16-bit words,
//! with half the additions.

use super::ip::IpProtocol;

/// Adds `data` to a running one's-complement sum (not yet folded).
///
/// `data` must start at an even offset of the checksummed message; an odd final byte
/// is padded with a zero byte, as RFC 1071 says.
#[inline]
pub(crate) fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut last = [0u8; 4];
    for (dst, src) in last.iter_mut().zip(rest) {
        *dst = *src;
    }
    acc + u64::from(u32::from_be_bytes(last))
}

/// Folds a running sum to 16 bits (not complemented).
#[inline]
pub(crate) fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The Internet checksum of `data`: the one's complement of the one's-complement sum
/// of its 16-bit big-endian words.
///
/// Over a message that carries a correct checksum field the sum folds to `0xffff`, so
/// this returns 0.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(0, data))
}

/// The sum of an IPv4 pseudo-header (RFC 793, RFC 768).
#[inline]
pub(crate) fn pseudo_v4(src: [u8; 4], dst: [u8; 4], protocol: IpProtocol, len: usize) -> u64 {
    u64::from(u32::from_be_bytes(src))
        + u64::from(u32::from_be_bytes(dst))
        + u64::from(protocol.0)
        + len as u64
}

/// The sum of an IPv6 pseudo-header (RFC 8200, section 8.1).
#[inline]
pub(crate) fn pseudo_v6(src: [u8; 16], dst: [u8; 16], protocol: IpProtocol, len: usize) -> u64 {
    let acc = sum(sum(0, &src), &dst);
    acc + u64::from(protocol.0) + len as u64
}

/// Whether a message whose pseudo-header sums to `pseudo` checksums correctly.
#[inline]
pub(crate) fn verify_with(pseudo: u64, message: &[u8]) -> bool {
    fold(sum(pseudo, message)) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071, section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(sum(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
        assert_eq!(fold(sum(0, &[0xab])), 0xab00);
        assert_eq!(fold(sum(0, &[])), 0);
    }

    #[test]
    fn matches_a_16_bit_reference() {
        let data: Vec<u8> = (0..1001u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut reference: u32 = 0;
        for pair in data.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            reference += u32::from(word);
            reference = (reference & 0xffff) + (reference >> 16);
        }
        assert_eq!(fold(sum(0, &data)), reference as u16);
    }

    #[test]
    fn a_message_with_its_checksum_verifies() {
        let mut data = vec![0x45, 0x00, 0x00, 0x1c, 0xab, 0xcd, 0x00, 0x00, 0x40, 0x11];
        data.extend_from_slice(&[0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        let c = checksum(&data);
        data[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&data), 0);
        assert!(verify_with(0, &data));
        data[3] ^= 1;
        assert!(!verify_with(0, &data));
    }
}
