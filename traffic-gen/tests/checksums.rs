//! An independent verifier recomputes every IPv4, TCP, UDP, ICMP and ICMPv6 checksum.

mod common;

use std::collections::BTreeMap;

use common::{Proto, decode};
use traffic_gen::{GenConfig, SizeMix, generate};

#[test]
fn every_checksum_of_mixed_streams_verifies() {
    let mut seen: BTreeMap<(bool, Proto), usize> = BTreeMap::new();
    for (seed, mix) in [
        (1, SizeMix::natural()),
        (2, SizeMix::imix()),
        (3, SizeMix::small()),
        (4, SizeMix::large()),
    ] {
        let cfg = GenConfig {
            seed,
            flows: 250,
            ipv6_share: 0.5,
            attack_fraction: 0.2,
            size_mix: mix,
            ..GenConfig::default()
        };
        let (packets, _) = generate(cfg).unwrap();
        for p in &packets {
            let d = decode(p);
            *seen.entry((d.v6, d.proto)).or_default() += 1;
        }
    }
    // Every kind of checksum was exercised.
    for kind in [
        (false, Proto::Tcp),
        (false, Proto::Udp),
        (false, Proto::Icmp),
        (true, Proto::Tcp),
        (true, Proto::Udp),
        (true, Proto::Icmp6),
    ] {
        assert!(
            seen.get(&kind).copied().unwrap_or(0) > 10,
            "too few {kind:?}: {seen:?}"
        );
    }
}

#[test]
fn the_verifier_catches_a_flipped_bit() {
    let (packets, _) = generate(GenConfig {
        flows: 20,
        ..GenConfig::default()
    })
    .unwrap();
    for i in [0usize, 7, 33, 100] {
        let f = &packets[i].frame;
        // The last byte of the IP packet (not Ethernet padding).
        let ip_end = if f[12..14] == [0x08, 0x00] {
            14 + usize::from(u16::from_be_bytes([f[16], f[17]]))
        } else {
            54 + usize::from(u16::from_be_bytes([f[18], f[19]]))
        };
        for at in [14 + 8, ip_end - 1] {
            let mut p = packets[i].clone();
            p.frame[at] ^= 0x40;
            // Byte 8 of the IP header: the IPv4 TTL (header checksum) or the first byte
            // of the IPv6 source address (pseudo-header).
            let caught = std::panic::catch_unwind(|| decode(&p)).is_err();
            assert!(caught, "corruption of packet {i} at {at} went unnoticed");
        }
    }
}
