//! The shipped flow rules, evaluated in software, send every das copy to the queue its
//! header names, and leave every other frame alone.

use std::path::Path;

use dataplane::PacketBuf;
use dataplane::dpdk_config::{FLOW_RULES_FILE, FlowRules};
use dataplane::meta::{CopyKind, DAS_MAC_PREFIX, JobId, JobMeta, Priority, Steering, encap};
use proptest::prelude::*;

fn shipped_rules() -> FlowRules {
    FlowRules::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../dpdk-config")
            .join(FLOW_RULES_FILE),
    )
    .expect("shipped flow rules are valid")
}

/// A plain Ethernet + IPv4 + UDP frame with a few payload bytes.
fn ipv4_udp_frame() -> Vec<u8> {
    let mut f = vec![
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // dst
        0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, // src
        0x08, 0x00, // IPv4
        0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, // IPv4 header
        10, 0, 0, 1, 10, 0, 0, 2, // addresses
        0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, // UDP header
    ];
    f.extend_from_slice(b"dpdk");
    f
}

fn encapsulated(node: u8, queue: u8) -> Vec<u8> {
    let meta = JobMeta {
        job: JobId(u64::from(node) << 8 | u64::from(queue)),
        kind: if queue == 0 {
            CopyKind::Primary
        } else {
            CopyKind::Duplicate
        },
        priority: if queue == 0 {
            Priority::High
        } else {
            Priority::Low
        },
        ingress_ns: 1_700_000_000_000_000_000,
        duplicator: 3,
        peer: None,
    };
    let mut buf = PacketBuf::from_frame(&ipv4_udp_frame()).unwrap();
    encap(&mut buf, &meta, Steering { node, queue });
    buf.data().to_vec()
}

#[test]
fn every_node_and_queue_lands_on_the_queue_its_header_names() {
    let rules = shipped_rules();
    for node in 0..=255u8 {
        for queue in 0..=1u8 {
            let frame = encapsulated(node, queue);
            assert_eq!(
                rules.queue_for(&frame),
                Some(u16::from(queue)),
                "node {node} queue {queue}"
            );
        }
    }
}

#[test]
fn other_frames_match_no_rule() {
    let rules = shipped_rules();
    let plain = ipv4_udp_frame();
    assert_eq!(rules.queue_for(&plain), None, "plain IPv4");

    // Too short for an Ethernet header, including cut-off das frames.
    let das = encapsulated(4, 1);
    for len in 0..14 {
        assert_eq!(rules.queue_for(&das[..len]), None, "{len} bytes");
    }
    assert_eq!(
        rules.queue_for(&das[..14]),
        Some(1),
        "an outer header is enough"
    );

    // A das address with another EtherType.
    let mut wrong_type = das.clone();
    wrong_type[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    assert_eq!(rules.queue_for(&wrong_type), None);

    // NSH to an address outside the das prefix.
    let mut foreign = das.clone();
    foreign[3] ^= 0x01;
    assert_eq!(rules.queue_for(&foreign), None);

    // A queue byte no rule names.
    let mut queue2 = das.clone();
    queue2[5] = 2;
    assert_eq!(rules.queue_for(&queue2), None);

    // Broadcast NSH.
    let mut broadcast = das;
    broadcast[..6].copy_from_slice(&[0xff; 6]);
    assert_eq!(rules.queue_for(&broadcast), None);
}

proptest! {
    #[test]
    fn queue_for_never_panics_and_agrees_with_the_header(
        frame in proptest::collection::vec(any::<u8>(), 0..96),
        das_prefix in any::<bool>(),
        nsh in any::<bool>(),
        queue in 0u8..3,
    ) {
        let rules = shipped_rules();
        let mut frame = frame;
        if das_prefix && frame.len() >= 6 {
            frame[..4].copy_from_slice(&DAS_MAC_PREFIX);
            frame[5] = queue;
        }
        if nsh && frame.len() >= 14 {
            frame[12..14].copy_from_slice(&[0x89, 0x4f]);
        }
        let expected = (frame.len() >= 14
            && frame[..4] == DAS_MAC_PREFIX
            && frame[12..14] == [0x89, 0x4f]
            && frame[5] <= 1)
            .then(|| u16::from(frame[5]));
        prop_assert_eq!(rules.queue_for(&frame), expected);
    }
}
