//! Both directions of every flow in the shared corpus hash alike: each frame is turned
//! around (MAC addresses, IP addresses and ports swapped in place) and hashed again.

use dataplane::flow::{Toeplitz, frame_hash};
use dataplane::pcap::read_frames;
use dataplane::wire::{L3, L4, parse};

fn corpus() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/pcaps")
}

/// The frame as the other endpoint would have sent it.
fn reverse(frame: &[u8]) -> Vec<u8> {
    let mut f = frame.to_vec();
    if f.len() >= 12 {
        let (a, b) = f.split_at_mut(6);
        a.swap_with_slice(&mut b[..6]);
    }
    let Ok(pkt) = parse(frame) else { return f };
    let swap = |f: &mut Vec<u8>, a: usize, b: usize, n: usize| {
        let tmp: Vec<u8> = f[a..a + n].to_vec();
        f.copy_within(b..b + n, a);
        f[b..b + n].copy_from_slice(&tmp);
    };
    let l3 = pkt.l3_offset;
    match pkt.l3 {
        L3::Ipv4(_) => swap(&mut f, l3 + 12, l3 + 16, 4),
        L3::Ipv6(_) => swap(&mut f, l3 + 8, l3 + 24, 16),
        L3::Other(_) => {}
    }
    let has_ports = matches!(
        pkt.l4,
        L4::Tcp(_)
            | L4::Udp(_)
            | L4::Truncated { ports: Some(_), .. }
            | L4::Invalid { ports: Some(_), .. }
    );
    if has_ports {
        swap(&mut f, pkt.l4_offset, pkt.l4_offset + 2, 2);
    }
    f
}

#[test]
fn every_corpus_frame_hashes_like_its_reverse() {
    let dir = corpus();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("shared corpus not found at {}: {e}", dir.display()));
    let hasher = Toeplitz::symmetric();
    let mut frames = 0usize;
    let mut distinct_hashes = std::collections::HashSet::new();
    for entry in entries {
        let path = entry.unwrap().path();
        for captured in read_frames(&path).unwrap() {
            let frame = &captured.data;
            let h = frame_hash(&hasher, frame);
            assert_eq!(
                h,
                frame_hash(&hasher, &reverse(frame)),
                "{}: frame {frames}",
                path.display()
            );
            distinct_hashes.insert(h);
            frames += 1;
        }
    }
    assert_eq!(frames, 67_698);
    // The corpus holds thousands of flows: the hash must not collapse them.
    assert!(
        distinct_hashes.len() > 1000,
        "{} distinct hashes",
        distinct_hashes.len()
    );
}

#[test]
fn short_and_non_ip_frames_still_hash_symmetrically() {
    let hasher = Toeplitz::symmetric();
    let mut arp = vec![0u8; 42];
    arp[0..6].copy_from_slice(&[0xff; 6]);
    arp[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(
        frame_hash(&hasher, &arp),
        frame_hash(&hasher, &reverse(&arp))
    );
    for len in 0..14 {
        let _ = frame_hash(&hasher, &arp[..len]);
    }
}

#[test]
fn the_flow_hash_of_every_corpus_frame_is_that_of_its_full_parse() {
    use dataplane::wire::{L3, L4};
    let hasher = Toeplitz::symmetric();
    let mut frames = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        for captured in read_frames(entry.unwrap().path()).unwrap() {
            let f = &captured.data;
            // The definition, spelled out on the full parse.
            let expected = match parse(f) {
                Ok(p) => {
                    let ports = if p.fragment.is_some() {
                        None
                    } else {
                        match &p.l4 {
                            L4::Tcp(t) => Some((t.src_port, t.dst_port)),
                            L4::Udp(u) => Some((u.src_port, u.dst_port)),
                            L4::Truncated { ports, .. } | L4::Invalid { ports, .. } => *ports,
                            _ => None,
                        }
                    };
                    match p.l3 {
                        L3::Ipv4(ip) => Some(hasher.hash_v4(ip.src, ip.dst, ports)),
                        L3::Ipv6(ip) => Some(hasher.hash_v6(ip.src, ip.dst, ports)),
                        L3::Other(_) => None,
                    }
                }
                Err(_) => None,
            };
            if let Some(expected) = expected {
                assert_eq!(frame_hash(&hasher, f), expected, "frame {frames}");
            }
            frames += 1;
        }
    }
    assert_eq!(frames, 67_698);
}
