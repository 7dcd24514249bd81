//! AF_XDP ports on a veth pair in a network namespace of their own: frames sent by one
//! end's port arrive byte for byte at the other's, das frames are steered to their
//! logical queue, other frames stay with the kernel, and every frame sent is counted as
//! received or dropped with a reason. Skipped (`skipped: ...`) without root, unless
//! `DAS_REQUIRE_PRIVILEGES=1`.

mod common;

use afxdp::{AfXdpConfig, AfXdpError, AfXdpPort, XdpMode};
use dataplane::BufPool;
use dataplane::port::Port;

use common::{Netns, assert_frames, das_frame, other_frame, privileged_or_skip, receive, send};

fn sender(iface: &str, mode: XdpMode) -> AfXdpPort {
    let mut cfg = AfXdpConfig::new(iface);
    cfg.steering = false;
    cfg.logical_queues = 1;
    cfg.mode = mode;
    AfXdpPort::open(cfg).expect("open the sending port")
}

/// Whether `got` is `sent` with some frames left out, in order.
fn is_subsequence(got: &[Vec<u8>], sent: &[Vec<u8>]) -> bool {
    let mut it = sent.iter();
    got.iter().all(|g| it.any(|s| s == g))
}

fn tx_to_rx(mode: XdpMode) {
    if !privileged_or_skip() {
        return;
    }
    let ns = Netns::new(1).unwrap();
    ns.run(|| {
        let mut cfg = AfXdpConfig::new(&ns.a);
        cfg.steering = false;
        cfg.logical_queues = 1;
        cfg.mode = mode;
        let mut rx_port = AfXdpPort::open(cfg).unwrap();
        let mut tx_port = sender(&ns.b, mode);
        let mut rxq = rx_port.take_rx_queue(0).unwrap();
        let mut txq = tx_port.take_tx_queue(0).unwrap();
        let frames: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| {
                if i % 10 == 9 {
                    other_frame(i)
                } else {
                    das_frame((i % 2) as u8, i, 60 + (i as usize * 7) % 1400)
                }
            })
            .collect();
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let n = frames.len() as u64;
        // The receiver reads while the sender sends.
        let rx_counters = [rxq.counters()];
        let got = std::thread::scope(|s| {
            let rx = s.spawn(|| receive(&mut *rxq, 10, |r, d| r + d >= n));
            send(&mut *txq, &frames, &mut bufs, Some((&rx_counters, 512)));
            rx.join().unwrap()
        });
        let stats = rx_port.stats().queues[0].clone();
        let dropped: u64 = stats.dropped.values().sum();
        assert_eq!(stats.rx_packets, got.len() as u64);
        assert_eq!(
            stats.rx_packets + dropped,
            n,
            "received + dropped = sent: {stats:?}"
        );
        assert!(is_subsequence(&got, &frames), "frames changed on the way");
        // Paced below the rx ring's size, nothing is lost.
        assert_frames(&got, &frames, "received");
        let tx = tx_port.stats().queues[0].clone();
        assert_eq!(tx.tx_packets, n);
        assert_eq!(
            tx.tx_bytes,
            frames.iter().map(|f| f.len() as u64).sum::<u64>()
        );
        assert_eq!(stats.rx_bytes, tx.tx_bytes);
    });
}

#[test]
fn tx_on_one_end_arrives_byte_for_byte_on_the_other_driver_mode() {
    tx_to_rx(XdpMode::Driver);
}

#[test]
fn tx_on_one_end_arrives_byte_for_byte_on_the_other_skb_mode() {
    tx_to_rx(XdpMode::Skb);
}

#[test]
fn steering_puts_duplicates_on_their_own_queue_and_leaves_other_frames_to_the_kernel() {
    if !privileged_or_skip() {
        return;
    }
    let ns = Netns::new(1).unwrap();
    ns.run(|| {
        let mut port = AfXdpPort::open(AfXdpConfig::new(&ns.a)).unwrap();
        assert_eq!(port.rx_queue_count(), 2);
        let mut tx_port = sender(&ns.b, XdpMode::Driver);
        let mut q0 = port.take_rx_queue(0).unwrap();
        let mut q1 = port.take_rx_queue(1).unwrap();
        let mut txq = tx_port.take_tx_queue(0).unwrap();
        let mut frames = Vec::new();
        for i in 0..2000u32 {
            frames.push(match i % 8 {
                // A das frame for a queue the port does not serve: the kernel's.
                5 => das_frame(7, i, 100),
                6 | 7 => other_frame(i),
                k => das_frame((k % 2) as u8, i, 64 + i as usize % 900),
            });
        }
        let want = |q: u8| -> Vec<Vec<u8>> {
            frames
                .iter()
                .filter(|f| f[..4] == [0x02, 0x44, 0x41, 0x53] && f[5] == q)
                .cloned()
                .collect()
        };
        let (want0, want1) = (want(0), want(1));
        let before = ns.kernel_rx_packets(&ns.a);
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let (n0, n1) = (want0.len() as u64, want1.len() as u64);
        let rx_counters = [q0.counters(), q1.counters()];
        let (got0, got1) = std::thread::scope(|s| {
            let r0 = s.spawn(|| receive(&mut *q0, 10, |r, d| r + d >= n0));
            let r1 = s.spawn(|| receive(&mut *q1, 10, |r, d| r + d >= n1));
            // Pace on what the sockets counted: a frame for the kernel counts nowhere, so
            // the window allows for the quarter of frames that go there.
            send(&mut *txq, &frames, &mut bufs, Some((&rx_counters, 1024)));
            (r0.join().unwrap(), r1.join().unwrap())
        });
        // Frames that were not steered may still be in flight: give them a moment.
        let late0 = receive(&mut *q0, 1, |_, _| false);
        let late1 = receive(&mut *q1, 1, |_, _| false);
        assert!(
            late0.is_empty() && late1.is_empty(),
            "frames beyond the expected ones"
        );
        assert_frames(&got0, &want0, "queue 0: primaries, in order, byte for byte");
        assert_frames(
            &got1,
            &want1,
            "queue 1: duplicates, in order, byte for byte",
        );
        let stats = port.stats();
        assert_eq!(stats.queues[0].rx_packets, n0);
        assert_eq!(stats.queues[1].rx_packets, n1);
        assert!(
            stats.queues.iter().all(|q| q.dropped.is_empty()),
            "{stats:?}"
        );
        // The kernel saw the frames the program passed.
        let after = ns.kernel_rx_packets(&ns.a);
        let passed = frames.len() as u64 - n0 - n1;
        assert!(
            after - before >= passed,
            "kernel rx {before} -> {after}, passed {passed}"
        );
    });
}

#[test]
fn a_full_rx_ring_drops_are_counted_with_their_reason() {
    if !privileged_or_skip() {
        return;
    }
    let ns = Netns::new(1).unwrap();
    ns.run(|| {
        let mut cfg = AfXdpConfig::new(&ns.a);
        cfg.steering = false;
        cfg.logical_queues = 1;
        cfg.ring_size = 64;
        let mut port = AfXdpPort::open(cfg).unwrap();
        let mut tx_port = sender(&ns.b, XdpMode::Driver);
        let mut rxq = port.take_rx_queue(0).unwrap();
        let mut txq = tx_port.take_tx_queue(0).unwrap();
        // Nobody reads while 1000 frames arrive: the 64-entry ring overflows.
        let frames: Vec<Vec<u8>> = (0..1000).map(|i| das_frame(0, i, 100)).collect();
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        send(&mut *txq, &frames, &mut bufs, None);
        let n = frames.len() as u64;
        let got = receive(&mut *rxq, 10, |r, d| r + d >= n);
        let stats = port.stats().queues[0].clone();
        let dropped: u64 = stats.dropped.values().sum();
        assert!(dropped > 0, "{stats:?}");
        assert_eq!(stats.rx_packets + dropped, n, "{stats:?}");
        assert!(is_subsequence(&got, &frames));
        // The ring fills before the fill ring (which holds twice as many frames) runs dry.
        assert!(stats.dropped.contains_key("ring_full"), "{stats:?}");
        assert!(
            stats
                .dropped
                .keys()
                .all(|k| k == "ring_full" || k.starts_with("xsk_")),
            "{stats:?}"
        );
    });
}

#[test]
fn ports_detach_on_drop_and_refuse_a_taken_queue_or_interface() {
    if !privileged_or_skip() {
        return;
    }
    let ns = Netns::new(2).unwrap();
    ns.run(|| {
        let port = AfXdpPort::open(AfXdpConfig::new(&ns.a)).unwrap();
        assert!(
            ns.link_details(&ns.a).contains("xdp"),
            "{}",
            ns.link_details(&ns.a)
        );
        // Same device queue: its sockets cannot bind.
        match AfXdpPort::open(AfXdpConfig::new(&ns.a)) {
            Err(AfXdpError::BindRefused { queue: 0, .. }) => {}
            other => panic!("expected BindRefused, got {other:?}"),
        }
        // Another device queue binds, but the interface already has a program.
        let mut cfg = AfXdpConfig::new(&ns.a);
        cfg.device_queues = vec![1];
        match AfXdpPort::open(cfg) {
            Err(e @ AfXdpError::AttachRefused { .. }) => {
                assert!(e.to_string().contains("driver mode"), "{e}");
            }
            other => panic!("expected AttachRefused, got {other:?}"),
        }
        drop(port);
        assert!(
            !ns.link_details(&ns.a).contains("xdp"),
            "{}",
            ns.link_details(&ns.a)
        );
        // Both device queues in one port, once the first port is gone.
        let mut cfg = AfXdpConfig::new(&ns.a);
        cfg.device_queues = vec![0, 1];
        let port = AfXdpPort::open(cfg).unwrap();
        assert_eq!(port.rx_queue_count(), 4);
        assert_eq!(port.tx_queue_count(), 4);
        drop(port);
        assert!(!ns.link_details(&ns.a).contains("xdp"));
    });
}

#[test]
fn opening_a_missing_interface_is_a_clear_error() {
    // Needs no privileges: the interface is looked up first.
    match AfXdpPort::open(AfXdpConfig::new("dxt-missing0")) {
        Err(e @ AfXdpError::NoSuchInterface(_)) => {
            assert_eq!(e.to_string(), "no such network interface: dxt-missing0");
        }
        other => panic!("expected NoSuchInterface, got {other:?}"),
    }
}

#[test]
fn inconsistent_settings_are_refused() {
    let mut cfg = AfXdpConfig::new("lo");
    cfg.steering = false;
    assert!(matches!(
        AfXdpPort::open(cfg),
        Err(AfXdpError::Config { .. })
    ));
    let mut cfg = AfXdpConfig::new("lo");
    cfg.ring_size = 1000;
    assert!(matches!(
        AfXdpPort::open(cfg),
        Err(AfXdpError::Config { .. })
    ));
    let mut cfg = AfXdpConfig::new("lo");
    cfg.device_queues = vec![600];
    assert!(matches!(
        AfXdpPort::open(cfg),
        Err(AfXdpError::Config { .. })
    ));
}
