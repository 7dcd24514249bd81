//! AF_PACKET ports over a veth pair in a network namespace the test makes (root only).
//!
//! Each test moves its thread into a new network namespace (`unshare(CLONE_NEWNET)`),
//! so its veth pair is invisible to the rest of the machine and vanishes with the
//! thread, also when the test fails. Without root the tests print why and pass, unless
//! `DAS_REQUIRE_PRIVILEGES=1` (CI) makes them fail.

use std::process::Command;
use std::time::{Duration, Instant};

use dataplane::afpacket::{AfPacketConfig, AfPacketPort, RingConfig, RxLayout};
use dataplane::input_end::InputEnd;
use dataplane::port::{Port, PortError, RxOutcome, RxQueue};
use dataplane::{Batch, BufPool, DropReason, PacketBuf};

/// Moves the calling thread into a new network namespace holding a veth pair
/// `dxa` <-> `dxb`, both up, IPv6 off (no stray neighbour discovery). `None` (after saying
/// why) where that is not allowed.
fn veth_namespace() -> Option<()> {
    let required = std::env::var("DAS_REQUIRE_PRIVILEGES").as_deref() == Ok("1");
    let skip = |why: String| {
        assert!(!required, "DAS_REQUIRE_PRIVILEGES=1 but {why}");
        eprintln!("skipped: {why}");
        None
    };
    if !nix::unistd::geteuid().is_root() {
        return skip("AF_PACKET sockets and network namespaces need root".into());
    }
    if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
        return skip(format!("cannot make a network namespace: {e}"));
    }
    let script = "ip link add name dxa type veth peer name dxb \
        && sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        && ip link set dxa up && ip link set dxb up";
    let out = Command::new("sh")
        .args(["-c", script])
        .output()
        .expect("running sh");
    if !out.status.success() {
        return skip(format!(
            "cannot make a veth pair: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Some(())
}

/// A das-looking frame for node 0, queue `queue`, carrying `seq`.
fn das_frame(queue: u8, seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![
        0x02, 0x44, 0x41, 0x53, 0x00, queue, 0x02, 0x44, 0x41, 0x53, 0xff, 0x00, 0x89, 0x4f,
    ];
    f.extend_from_slice(&seq.to_be_bytes());
    f.resize(len.max(f.len()), (seq % 251) as u8);
    f
}

/// A plain IPv4/UDP-looking frame of flow `flow`.
fn plain_frame(flow: u8, seq: u32) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    // IPv4 header: version/IHL, tos, length, id, frag, ttl 64, proto UDP.
    f.extend_from_slice(&[0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, flow, 10, 0, 1, 1]);
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 26, 0, 0]);
    f.extend_from_slice(&seq.to_be_bytes());
    f.resize(60, 0);
    f
}

fn send(port: &mut AfPacketPort, frames: &[Vec<u8>]) {
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut txq = port.take_tx_queue(0).unwrap();
    let mut batch = Batch::with_capacity(32).unwrap();
    for chunk in frames.chunks(32) {
        for f in chunk {
            batch.push(PacketBuf::from_frame(f).unwrap()).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !batch.is_empty() {
            txq.tx_burst(&mut batch, &mut bufs).unwrap();
            assert!(Instant::now() < deadline, "the link took nothing for 5 s");
        }
        // Keep under the peer's receive backlog: veth drops beyond it.
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Every frame `rxq` receives until its input ends.
fn drain(rxq: &mut dyn RxQueue) -> Vec<Vec<u8>> {
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut batch = Batch::with_capacity(64).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match rxq.rx_burst(&mut batch, &mut bufs).unwrap() {
            RxOutcome::Received(_) => {
                got.extend(batch.iter().map(|p| p.data().to_vec()));
                batch.free_into(&mut bufs);
            }
            RxOutcome::Idle => std::thread::sleep(Duration::from_micros(100)),
            RxOutcome::Ended => return got,
        }
        assert!(Instant::now() < deadline, "the queue never ended");
    }
}

/// A receiving port on dxb laid out as `rx` (its input ends 300 ms after the traffic),
/// and a sending port on dxa.
fn port_pair(rx: RxLayout) -> (AfPacketPort, AfPacketPort) {
    let config = AfPacketConfig {
        end: InputEnd::after_idle(Duration::from_millis(300)),
        ..AfPacketConfig::new("dxb", rx, 0)
    };
    let receiver = AfPacketPort::open("b", &config).unwrap();
    let sender = AfPacketPort::open("a", &AfPacketConfig::new("dxa", RxLayout::None, 1)).unwrap();
    (receiver, sender)
}

#[test]
fn steering_puts_each_copy_on_its_queue_byte_for_byte() {
    if veth_namespace().is_none() {
        return;
    }
    let (mut rx, mut tx) = port_pair(RxLayout::DasQueues(2));
    let mut frames = Vec::new();
    for seq in 0..2000u32 {
        frames.push(das_frame(
            (seq % 2) as u8,
            seq,
            60 + (seq as usize * 7) % 1400,
        ));
        if seq % 10 == 0 {
            frames.push(plain_frame(1, seq));
        }
    }
    // Receive while sending, as a stage does: a ring holds a few milliseconds.
    let (q0, q1) = std::thread::scope(|s| {
        let mut q0 = rx.take_rx_queue(0).unwrap();
        let mut q1 = rx.take_rx_queue(1).unwrap();
        let h0 = s.spawn(move || drain(&mut *q0));
        let h1 = s.spawn(move || drain(&mut *q1));
        send(&mut tx, &frames);
        (h0.join().unwrap(), h1.join().unwrap())
    });
    let want = |q: u8| -> Vec<Vec<u8>> {
        frames
            .iter()
            .filter(|f| f[12] == 0x89 && f[5] == q)
            .cloned()
            .collect()
    };
    assert_eq!(q0.len(), 1000, "queue 0");
    assert_eq!(q1.len(), 1000, "queue 1");
    assert!(
        q0 == want(0),
        "queue 0 holds the primaries, byte for byte, in order"
    );
    assert!(
        q1 == want(1),
        "queue 1 holds the duplicates, byte for byte, in order"
    );
    let stats = rx.stats();
    for (q, s) in stats.queues.iter().enumerate() {
        assert_eq!(s.rx_packets, 1000, "queue {q} counted");
        assert!(s.dropped.is_empty(), "queue {q} dropped {:?}", s.dropped);
    }
    let sent = tx.stats().queues[0].clone();
    assert_eq!(sent.tx_packets, frames.len() as u64);
    assert_eq!(
        sent.tx_bytes,
        frames.iter().map(|f| f.len() as u64).sum::<u64>()
    );
}

#[test]
fn fanout_spreads_flows_and_loses_none() {
    if veth_namespace().is_none() {
        return;
    }
    let (mut rx, mut tx) = port_pair(RxLayout::Fanout(2));
    let frames: Vec<Vec<u8>> = (0..1200u32)
        .map(|seq| plain_frame((seq % 24) as u8, seq))
        .collect();
    let (q0, q1) = std::thread::scope(|s| {
        let mut q0 = rx.take_rx_queue(0).unwrap();
        let mut q1 = rx.take_rx_queue(1).unwrap();
        let h0 = s.spawn(move || drain(&mut *q0).len());
        let h1 = s.spawn(move || drain(&mut *q1).len());
        send(&mut tx, &frames);
        (h0.join().unwrap(), h1.join().unwrap())
    });
    let (n0, n1) = (q0, q1);
    assert_eq!(n0 + n1, frames.len(), "every frame on exactly one queue");
    assert!(
        n0 > 0 && n1 > 0,
        "24 flows spread over both queues ({n0} / {n1})"
    );
}

#[test]
fn a_full_ring_counts_its_drops() {
    if veth_namespace().is_none() {
        return;
    }
    let end = InputEnd::after_idle(Duration::from_millis(300));
    let ring = RingConfig {
        block_size: 4096,
        blocks: 2,
        frame_size: 2048,
        block_timeout_ms: 1,
    };
    let mut rx = AfPacketPort::open(
        "b",
        &AfPacketConfig {
            ring,
            end: end.clone(),
            ..AfPacketConfig::new("dxb", RxLayout::Fanout(1), 0)
        },
    )
    .unwrap();
    let mut tx = AfPacketPort::open("a", &AfPacketConfig::new("dxa", RxLayout::None, 1)).unwrap();
    let frames: Vec<Vec<u8>> = (0..300u32).map(|seq| plain_frame(1, seq)).collect();
    // Nothing reads while the frames arrive: the two small blocks fill up.
    send(&mut tx, &frames);
    let got = drain(&mut *rx.take_rx_queue(0).unwrap());
    let stats = rx.stats().queues[0].clone();
    let ring_full = stats
        .dropped
        .get(DropReason::RingFull.name())
        .copied()
        .unwrap_or(0);
    assert!(ring_full > 0, "the ring overflowed: {stats:?}");
    assert_eq!(got.len() as u64, stats.rx_packets);
    assert_eq!(
        stats.rx_packets + ring_full,
        frames.len() as u64,
        "received + dropped = sent"
    );
}

#[test]
fn a_missing_interface_is_a_clear_error() {
    if veth_namespace().is_none() {
        return;
    }
    let err = AfPacketPort::open("x", &AfPacketConfig::new("nosuch0", RxLayout::Das, 1))
        .err()
        .expect("no such interface");
    assert!(matches!(err, PortError::Config { .. }), "{err}");
    assert!(
        err.to_string().contains("no interface named \"nosuch0\""),
        "{err}"
    );
    let err = AfPacketPort::open(
        "x",
        &AfPacketConfig {
            ring: RingConfig {
                block_size: 1000,
                ..RingConfig::default()
            },
            ..AfPacketConfig::new("dxa", RxLayout::Das, 0)
        },
    )
    .err()
    .expect("bad ring");
    assert!(err.to_string().contains("not a multiple of 4096"), "{err}");
}
