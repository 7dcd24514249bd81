//! Giving each loop of a replayed capture its own addresses, so that looped traffic
//! holds distinct flows (like tcpreplay's unique-IP option).
//!
//! The recipe is the shared corpus's (`../shared/tools/build_big.py`, "v1"), so a loop
//! replayed here equals the same copy of a file built with that tool: in the outer IPv4
//! or IPv6 header (after any VLAN tags), byte 1 of the source and destination addresses
//! is XORed with the loop number `k` (modulo 256), and so is an IP-in-IP inner header;
//! the IPv4 header checksum and, in unfragmented packets and first fragments, the TCP,
//! UDP and ICMPv6 checksums are updated incrementally (RFC 1624), so a checksum that was
//! right stays right and one that was wrong stays wrong. A UDP/IPv4 checksum of 0 (none)
//! stays 0. Nothing else is touched. Short or malformed frames are rewritten as far as
//! they go, never read out of bounds.

/// Rewrites `frame` in place for loop `k` (`k == 0` leaves it as it is).
pub fn distinct_loop(frame: &mut [u8], k: u8) {
    if k == 0 {
        return;
    }
    let mut at = 12;
    loop {
        match frame.get(at..at + 2) {
            Some([0x81, 0x00]) | Some([0x88, 0xa8]) => at += 4,
            Some([0x08, 0x00]) | Some([0x86, 0xdd]) => {
                rewrite_ip(frame, at + 2, k, 0);
                return;
            }
            _ => return,
        }
    }
}

fn read16(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

/// RFC 1624 eqn. 3: the checksum `hc` after 16-bit words `old` became `new`.
fn csum_update(hc: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut s = u32::from(!hc);
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        s += u32::from(!u16::from_be_bytes([o[0], o[1]]))
            + u32::from(u16::from_be_bytes([n[0], n[1]]));
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn rewrite_ip(p: &mut [u8], o: usize, k: u8, depth: u8) {
    let Some(&first) = p.get(o) else { return };
    match first >> 4 {
        4 => {
            if o + 20 > p.len() {
                return;
            }
            let ihl = usize::from(first & 0x0f) * 4;
            let old: [u8; 8] = p[o + 12..o + 20].try_into().expect("8 bytes");
            let mut new = old;
            new[1] ^= k;
            new[5] ^= k;
            p[o + 12..o + 20].copy_from_slice(&new);
            if o + ihl <= p.len() && ihl >= 20 {
                let hc = read16(p, o + 10).expect("inside the header");
                p[o + 10..o + 12].copy_from_slice(&csum_update(hc, &old, &new).to_be_bytes());
            }
            let proto = p[o + 9];
            let frag_off = read16(p, o + 6).expect("inside the header") & 0x1fff;
            if frag_off == 0 {
                let l4 = o + ihl;
                fix_l4(p, l4, proto, &old, &new, true);
                if matches!(proto, 4 | 41) && depth < 4 {
                    rewrite_ip(p, l4, k, depth + 1);
                }
            }
        }
        6 => {
            if o + 40 > p.len() {
                return;
            }
            let old: [u8; 32] = p[o + 8..o + 40].try_into().expect("32 bytes");
            let mut new = old;
            new[1] ^= k;
            new[17] ^= k;
            p[o + 8..o + 40].copy_from_slice(&new);
            let mut nh = p[o + 6];
            let mut q = o + 40;
            let mut first_fragment = true;
            while matches!(nh, 0 | 43 | 60 | 44) && q + 8 <= p.len() {
                if nh == 44 {
                    let offset = read16(p, q + 2).expect("inside the header") >> 3;
                    first_fragment = offset == 0;
                    nh = p[q];
                    q += 8;
                    if !first_fragment {
                        break;
                    }
                    continue;
                }
                let next = p[q];
                q += (usize::from(p[q + 1]) + 1) * 8;
                nh = next;
            }
            if first_fragment {
                fix_l4(p, q, nh, &old, &new, false);
                if matches!(nh, 4 | 41) && depth < 4 {
                    rewrite_ip(p, q, k, depth + 1);
                }
            }
        }
        _ => {}
    }
}

fn fix_l4(p: &mut [u8], l4: usize, proto: u8, old: &[u8], new: &[u8], v4: bool) {
    let at = match proto {
        6 => l4 + 16,
        17 => l4 + 6,
        58 if !v4 => l4 + 2,
        _ => return,
    };
    let Some(c) = read16(p, at) else { return };
    if proto == 17 && c == 0 && v4 {
        return;
    }
    let mut c2 = csum_update(c, old, new);
    if proto == 17 && c2 == 0 {
        c2 = 0xffff;
    }
    p[at..at + 2].copy_from_slice(&c2.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ipv4Packet, TcpSegment, parse};
    use proptest::prelude::*;

    /// An IPv4/TCP frame with correct checksums.
    fn tcp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20 + 4];
        f[12] = 0x08;
        let ip = &mut f[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&44u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[10, 1, 2, 3]);
        ip[16..20].copy_from_slice(&[192, 0, 2, 9]);
        let tcp = &mut ip[20..];
        tcp[0..2].copy_from_slice(&1234u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[12] = 0x50;
        tcp[20..24].copy_from_slice(b"data");
        let sum = |bytes: &[u8], init: u32| {
            let mut s = init;
            for c in bytes.chunks(2) {
                s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            while s >> 16 != 0 {
                s = (s & 0xffff) + (s >> 16);
            }
            !(s as u16)
        };
        let hc = sum(&f[14..34], 0);
        f[24..26].copy_from_slice(&hc.to_be_bytes());
        let mut pseudo = 0u32;
        for c in f[26..34].chunks(2) {
            pseudo += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        pseudo += 6 + 24;
        let tc = sum(&f[34..], pseudo);
        f[50..52].copy_from_slice(&tc.to_be_bytes());
        f
    }

    #[test]
    fn addresses_change_and_checksums_stay_right() {
        let mut f = tcp_frame();
        {
            let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
            assert!(ip.verify_checksum());
            let tcp = TcpSegment::new_checked(ip.payload()).unwrap();
            assert!(tcp.verify_checksum_v4(ip.src_addr(), ip.dst_addr()));
        }
        distinct_loop(&mut f, 5);
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        assert_eq!(ip.src_addr(), [10, 1 ^ 5, 2, 3]);
        assert_eq!(ip.dst_addr(), [192, 5, 2, 9]);
        assert!(ip.verify_checksum());
        let tcp = TcpSegment::new_checked(ip.payload()).unwrap();
        assert!(tcp.verify_checksum_v4(ip.src_addr(), ip.dst_addr()));
        distinct_loop(&mut f, 5);
        assert_eq!(f, tcp_frame(), "XOR twice gives the frame back");
    }

    proptest! {
        #[test]
        fn never_panics_and_leaves_non_ip_alone(bytes in proptest::collection::vec(any::<u8>(), 0..120), k in any::<u8>()) {
            let mut f = bytes.clone();
            distinct_loop(&mut f, k);
            prop_assert_eq!(f.len(), bytes.len());
            if parse(&bytes).is_err() && bytes.get(12..14) != Some(&[0x08, 0x00]) && bytes.get(12..14) != Some(&[0x86, 0xdd]) {
                let tagged = matches!(bytes.get(12..14), Some([0x81, 0x00]) | Some([0x88, 0xa8]));
                if !tagged {
                    prop_assert_eq!(f, bytes);
                }
            }
        }
    }
}
