//! Symmetric flow hashing: Toeplitz, the hash NICs compute for RSS, with a key that
//! makes both directions of a flow hash alike.
//!
//! The key `0x6d5a` repeated (Woo and Park, "Scalable TCP Session Monitoring with
//! Symmetric Receive-side Scaling") repeats every 16 bits, so swapping source and
//! destination addresses (each a multiple of 32 bits) and source and destination ports
//! (16 bits each) leaves the hash unchanged. Programming the same key into a NIC makes
//! hardware RSS and software steering pick the same queue for a packet.
//!
//! The input follows Microsoft's RSS specification: source address, destination
//! address, then (for TCP and UDP) source port and destination port, all in network
//! byte order. The hash is computed with one table lookup per input byte.

use crate::wire::{L3, L4};

/// Bytes in an RSS key (40, as NICs use).
pub const RSS_KEY_LEN: usize = 40;

/// The symmetric RSS key: `0x6d5a` repeated.
pub const SYMMETRIC_RSS_KEY: [u8; RSS_KEY_LEN] = {
    let mut key = [0u8; RSS_KEY_LEN];
    let mut i = 0;
    while i < RSS_KEY_LEN {
        key[i] = if i % 2 == 0 { 0x6d } else { 0x5a };
        i += 1;
    }
    key
};

/// Longest input hashed: two IPv6 addresses and two ports.
pub const MAX_INPUT_LEN: usize = 36;

/// A Toeplitz hasher for one key.
#[derive(Clone)]
pub struct Toeplitz {
    tables: Tables,
}

/// How a key's hash is computed.
#[derive(Clone)]
enum Tables {
    /// Any key: one 256-entry table per input byte position.
    PerByte(Box<[[u32; 256]; MAX_INPUT_LEN]>),
    /// A key that repeats every 16 bits (the symmetric key): input bit `i` contributes
    /// the same key window as bit `i + 16`, so the hash is a function of the XOR of the
    /// input's even bytes and of its odd bytes. Two 256-entry tables (2 KiB) stay in L1
    /// cache where the per-byte tables (36 KiB) do not.
    Folded(Box<[[u32; 256]; 2]>),
}

impl std::fmt::Debug for Toeplitz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Toeplitz")
    }
}

impl Default for Toeplitz {
    fn default() -> Self {
        Toeplitz::symmetric()
    }
}

impl Toeplitz {
    /// A hasher for `key`.
    pub fn new(key: &[u8; RSS_KEY_LEN]) -> Self {
        // Bit i of the input contributes the 32 key bits starting at key bit i.
        let key_bits = |i: usize| -> u32 {
            let byte = i / 8;
            let shift = i % 8;
            let window = u64::from_be_bytes([
                key[byte],
                key[byte + 1],
                key[byte + 2],
                key[byte + 3],
                *key.get(byte + 4).unwrap_or(&0),
                0,
                0,
                0,
            ]);
            ((window << shift) >> 32) as u32
        };
        let mut table = Box::new([[0u32; 256]; MAX_INPUT_LEN]);
        for (pos, row) in table.iter_mut().enumerate() {
            for (value, slot) in row.iter_mut().enumerate() {
                let mut h = 0u32;
                for bit in 0..8 {
                    if value & (0x80 >> bit) != 0 {
                        h ^= key_bits(pos * 8 + bit);
                    }
                }
                *slot = h;
            }
        }
        let period_16 = key.iter().enumerate().all(|(i, &b)| b == key[i % 2]);
        let tables = if period_16 {
            Tables::Folded(Box::new([table[0], table[1]]))
        } else {
            Tables::PerByte(table)
        };
        Toeplitz { tables }
    }

    /// A hasher for [`SYMMETRIC_RSS_KEY`].
    pub fn symmetric() -> Self {
        Toeplitz::new(&SYMMETRIC_RSS_KEY)
    }

    /// The hash of `input` (at most [`MAX_INPUT_LEN`] bytes; longer input is cut).
    #[inline]
    pub fn hash(&self, input: &[u8]) -> u32 {
        let input = &input[..input.len().min(MAX_INPUT_LEN)];
        match &self.tables {
            Tables::PerByte(table) => input
                .iter()
                .zip(table.iter())
                .fold(0, |h, (&b, row)| h ^ row[b as usize]),
            Tables::Folded(table) => {
                let (mut even, mut odd) = (0u8, 0u8);
                for pair in input.chunks(2) {
                    even ^= pair[0];
                    odd ^= pair.get(1).copied().unwrap_or(0);
                }
                table[0][even as usize] ^ table[1][odd as usize]
            }
        }
    }

    /// The hash of an IPv4 flow; pass `None` for protocols without ports.
    #[inline]
    pub fn hash_v4(&self, src: [u8; 4], dst: [u8; 4], ports: Option<(u16, u16)>) -> u32 {
        let mut input = [0u8; 12];
        input[..4].copy_from_slice(&src);
        input[4..8].copy_from_slice(&dst);
        match ports {
            Some((sp, dp)) => {
                input[8..10].copy_from_slice(&sp.to_be_bytes());
                input[10..12].copy_from_slice(&dp.to_be_bytes());
                self.hash(&input)
            }
            None => self.hash(&input[..8]),
        }
    }

    /// The hash of an IPv6 flow; pass `None` for protocols without ports.
    #[inline]
    pub fn hash_v6(&self, src: [u8; 16], dst: [u8; 16], ports: Option<(u16, u16)>) -> u32 {
        let mut input = [0u8; 36];
        input[..16].copy_from_slice(&src);
        input[16..32].copy_from_slice(&dst);
        match ports {
            Some((sp, dp)) => {
                input[32..34].copy_from_slice(&sp.to_be_bytes());
                input[34..36].copy_from_slice(&dp.to_be_bytes());
                self.hash(&input)
            }
            None => self.hash(&input[..32]),
        }
    }
}

/// The flow hash of an Ethernet frame, as the duplicator steers on it.
///
/// - TCP and UDP over IPv4 or IPv6: addresses and ports (also when the capture cut the
///   header after its ports, or the header is invalid but its ports are there);
/// - fragments (IPv4 or IPv6) and other IP protocols (ICMP, ESP, ...): addresses only,
///   so every fragment of a datagram lands with the others, as NIC RSS does;
/// - frames that are not IP, or whose IP header is unusable: the two MAC addresses,
///   ordered so both directions agree; a frame shorter than its MAC addresses is
///   hashed on the bytes it has.
///
/// Every frame gets a hash: a malformed packet is still inspected by some node.
pub fn frame_hash(hasher: &Toeplitz, frame: &[u8]) -> u32 {
    match fast_hash(hasher, frame) {
        Some(h) => h,
        None => parsed_hash(hasher, frame),
    }
}

/// The common cases of [`frame_hash`] (untagged IPv4 and IPv6 whose datagram was fully
/// captured, carrying TCP, UDP or ICMP) read at fixed offsets; `None` sends every other
/// frame through the full parse. Both give the same hash for every frame they take.
#[inline]
fn fast_hash(hasher: &Toeplitz, frame: &[u8]) -> Option<u32> {
    const TCP: u8 = 6;
    const UDP: u8 = 17;
    let ethertype = frame.get(12..14)?;
    let ip = frame.get(14..)?;
    match ethertype {
        [0x08, 0x00] => {
            let ihl = (*ip.first()? & 0x0f) as usize * 4;
            let total = u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]) as usize;
            if ip[0] >> 4 != 4 || ihl < 20 || total < ihl || ip.len() < total {
                return None;
            }
            let fragmented = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
            let proto = ip[9];
            let ports = match proto {
                TCP | UDP if !fragmented => {
                    let l4 = ip.get(ihl..total).filter(|l4| l4.len() >= 4)?;
                    Some((
                        u16::from_be_bytes([l4[0], l4[1]]),
                        u16::from_be_bytes([l4[2], l4[3]]),
                    ))
                }
                TCP | UDP | 1 => None,
                _ => return None,
            };
            let addr = |at: usize| -> [u8; 4] { ip[at..at + 4].try_into().expect("4 bytes") };
            Some(hasher.hash_v4(addr(12), addr(16), ports))
        }
        [0x86, 0xdd] => {
            let payload = u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]) as usize;
            if ip[0] >> 4 != 6 || ip.len() < 40 + payload {
                return None;
            }
            let ports = match ip[6] {
                TCP | UDP => {
                    let l4 = ip.get(40..40 + payload).filter(|l4| l4.len() >= 4)?;
                    Some((
                        u16::from_be_bytes([l4[0], l4[1]]),
                        u16::from_be_bytes([l4[2], l4[3]]),
                    ))
                }
                58 => None,
                _ => return None,
            };
            let addr = |at: usize| -> [u8; 16] { ip[at..at + 16].try_into().expect("16 bytes") };
            Some(hasher.hash_v6(addr(8), addr(24), ports))
        }
        _ => None,
    }
}

/// [`frame_hash`] by way of the full parse.
fn parsed_hash(hasher: &Toeplitz, frame: &[u8]) -> u32 {
    let Ok(pkt) = crate::wire::parse(frame) else {
        return mac_pair_hash(hasher, frame);
    };
    let ports = if pkt.fragment.is_some() {
        None
    } else {
        match &pkt.l4 {
            L4::Tcp(t) => Some((t.src_port, t.dst_port)),
            L4::Udp(u) => Some((u.src_port, u.dst_port)),
            L4::Truncated { ports, .. } | L4::Invalid { ports, .. } => *ports,
            _ => None,
        }
    };
    match pkt.l3 {
        L3::Ipv4(ip) => hasher.hash_v4(ip.src, ip.dst, ports),
        L3::Ipv6(ip) => hasher.hash_v6(ip.src, ip.dst, ports),
        L3::Other(_) => mac_pair_hash(hasher, frame),
    }
}

fn mac_pair_hash(hasher: &Toeplitz, frame: &[u8]) -> u32 {
    if frame.len() < 12 {
        return hasher.hash(frame);
    }
    let (a, b) = (&frame[0..6], &frame[6..12]);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut input = [0u8; 12];
    input[..6].copy_from_slice(lo);
    input[6..].copy_from_slice(hi);
    hasher.hash(&input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Microsoft's default RSS key, used by its published verification vectors.
    const MICROSOFT_KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    #[test]
    fn microsoft_ipv4_vectors() {
        let t = Toeplitz::new(&MICROSOFT_KEY);
        // (destination, dport, source, sport, hash without ports, hash with ports)
        let vectors = [
            (
                "161.142.100.80",
                1766,
                "66.9.149.187",
                2794,
                0x323e8fc2,
                0x51ccc178,
            ),
            (
                "65.69.140.83",
                4739,
                "199.92.111.2",
                14230,
                0xd718262a,
                0xc626b0ea,
            ),
            (
                "12.22.207.184",
                38024,
                "24.19.198.95",
                12898,
                0xd2d0a5de,
                0x5c2b394a,
            ),
            (
                "209.142.163.6",
                2217,
                "38.27.205.30",
                48228,
                0x82989176,
                0xafc7327f,
            ),
            (
                "202.188.127.2",
                1303,
                "153.39.163.191",
                44251,
                0x5d1809c5,
                0x10e828a2,
            ),
        ];
        for (dst, dp, src, sp, ip_only, with_ports) in vectors {
            let d = dst.parse::<Ipv4Addr>().unwrap().octets();
            let s = src.parse::<Ipv4Addr>().unwrap().octets();
            assert_eq!(t.hash_v4(s, d, None), ip_only, "{src} -> {dst}");
            assert_eq!(
                t.hash_v4(s, d, Some((sp, dp))),
                with_ports,
                "{src} -> {dst}"
            );
        }
    }

    #[test]
    fn microsoft_ipv6_vectors() {
        let t = Toeplitz::new(&MICROSOFT_KEY);
        let vectors = [
            (
                "3ffe:2501:200:3::1",
                1766,
                "3ffe:2501:200:1fff::7",
                2794,
                0x2cc18cd5,
                0x40207d3d,
            ),
            (
                "ff02::1",
                4739,
                "3ffe:501:8::260:97ff:fe40:efab",
                14230,
                0x0f0c461c,
                0xdde51bbf,
            ),
            (
                "fe80::200:f8ff:fe21:67cf",
                38024,
                "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
                44251,
                0x4b61e985,
                0x02d1feef,
            ),
        ];
        for (dst, dp, src, sp, ip_only, with_ports) in vectors {
            let d = dst.parse::<Ipv6Addr>().unwrap().octets();
            let s = src.parse::<Ipv6Addr>().unwrap().octets();
            assert_eq!(t.hash_v6(s, d, None), ip_only, "{src} -> {dst}");
            assert_eq!(
                t.hash_v6(s, d, Some((sp, dp))),
                with_ports,
                "{src} -> {dst}"
            );
        }
    }

    /// Toeplitz straight from its definition, bit by bit.
    fn reference(key: &[u8; 40], input: &[u8]) -> u32 {
        let key_bit = |i: usize| (key[i / 8] >> (7 - i % 8)) & 1;
        let mut h = 0u32;
        for (byte_index, &byte) in input.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    let start = byte_index * 8 + bit;
                    let window = (0..32).fold(0u32, |w, j| (w << 1) | key_bit(start + j) as u32);
                    h ^= window;
                }
            }
        }
        h
    }

    proptest! {
        #[test]
        fn the_fast_path_agrees_with_the_full_parse(
            ihl in 5u8..8, proto in prop_oneof![Just(6u8), Just(17), Just(1), Just(47), any::<u8>()],
            flags in any::<u16>(), total in 0u16..120, len in 0usize..120,
            v6 in any::<bool>(), next in prop_oneof![Just(6u8), Just(17), Just(58), Just(0), Just(44), any::<u8>()],
            bytes in proptest::collection::vec(any::<u8>(), 120),
        ) {
            // Well-formed-looking headers with every length and flag variation.
            let mut f = bytes;
            f.truncate(len.max(14));
            if v6 {
                f[12] = 0x86; f[13] = 0xdd;
                if f.len() > 14 { f[14] = 0x60; }
                if f.len() > 19 { f[18..20].copy_from_slice(&total.to_be_bytes()); }
                if f.len() > 20 { f[20] = next; }
            } else {
                f[12] = 0x08; f[13] = 0x00;
                if f.len() > 14 { f[14] = 0x40 | ihl; }
                if f.len() > 17 { f[16..18].copy_from_slice(&total.to_be_bytes()); }
                if f.len() > 21 { f[20..22].copy_from_slice(&flags.to_be_bytes()); }
                if f.len() > 23 { f[23] = proto; }
            }
            let t = Toeplitz::symmetric();
            if let Some(fast) = fast_hash(&t, &f) {
                prop_assert_eq!(fast, parsed_hash(&t, &f));
            }
        }

        #[test]
        fn tables_agree_with_the_definition(
            key in any::<[u8; 40]>(),
            pair in any::<[u8; 2]>(),
            input in proptest::collection::vec(any::<u8>(), 0..=MAX_INPUT_LEN),
        ) {
            // A random key takes the per-byte tables, a key repeating every 16 bits the
            // folded ones: both must compute the same function as the definition.
            prop_assert_eq!(Toeplitz::new(&key).hash(&input), reference(&key, &input));
            let periodic: [u8; 40] = std::array::from_fn(|i| pair[i % 2]);
            prop_assert!(matches!(Toeplitz::new(&periodic).tables, Tables::Folded(_)));
            prop_assert_eq!(Toeplitz::new(&periodic).hash(&input), reference(&periodic, &input));
        }

        #[test]
        fn symmetric_key_hashes_both_directions_alike(
            a in any::<[u8; 16]>(), b in any::<[u8; 16]>(), pa in any::<u16>(), pb in any::<u16>(),
        ) {
            let t = Toeplitz::symmetric();
            let (a4, b4): ([u8; 4], [u8; 4]) = (a[..4].try_into().unwrap(), b[..4].try_into().unwrap());
            prop_assert_eq!(t.hash_v4(a4, b4, Some((pa, pb))), t.hash_v4(b4, a4, Some((pb, pa))));
            prop_assert_eq!(t.hash_v4(a4, b4, None), t.hash_v4(b4, a4, None));
            prop_assert_eq!(t.hash_v6(a, b, Some((pa, pb))), t.hash_v6(b, a, Some((pb, pa))));
            prop_assert_eq!(t.hash_v6(a, b, None), t.hash_v6(b, a, None));
        }
    }
}
