//! The DPDK port on virtual devices: `net_ring` (what a queue sends comes back on the
//! receive queue of the same index), `net_null` (a sink that also makes frames),
//! `net_memif` and `net_af_packet` (on the loopback interface of a network namespace
//! of the test's own, where a port receives what it sends).
//!
//! DPDK starts once per process, so one test runs every scenario on one EAL. Without
//! root the test prints `skipped: ...` and passes, unless `DAS_REQUIRE_PRIVILEGES=1`
//! (CI), where it fails.
#![cfg(feature = "dpdk")]
#![allow(unsafe_code)]

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use das_dpdk::{DeviceDrop, DpdkError, DpdkPort, Eal, Steering};
use dataplane::dpdk_config::{Device, EalConfig, FlowRules, PortConfig, RssKey};
use dataplane::meta::{self, CopyKind, JobId, JobMeta, Priority};
use dataplane::port::{Port, RxOutcome, RxQueue, TxQueue};
use dataplane::{Batch, BufCache, BufPool};

/// Set in the child process of `bad_eal_arguments_are_an_error`.
const CHILD: &str = "DAS_DPDK_TEST_BAD_EAL";

fn required() -> bool {
    std::env::var("DAS_REQUIRE_PRIVILEGES").is_ok_and(|v| v == "1")
}

/// Passes with a `skipped:` line, or fails where CI requires the test to run.
fn skip(why: &str) {
    assert!(!required(), "DAS_REQUIRE_PRIVILEGES=1 but {why}");
    eprintln!("skipped: {why}");
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn eal_config() -> EalConfig {
    EalConfig {
        program: "das-dpdk-test".into(),
        lcores: Some("0".into()),
        memory_mb: Some(256),
        no_huge: true,
        no_pci: true,
        file_prefix: Some(format!("das-test-{}", std::process::id())),
        vdevs: vec![
            "net_ring0".into(),
            "net_ring1".into(),
            "net_null0".into(),
            // A memif pair within this process, over an abstract socket (no file).
            format!("net_memif0,role=server,socket={}", memif_socket(0)),
            format!("net_memif1,role=client,socket={}", memif_socket(0)),
            format!("net_memif2,role=server,socket={}", memif_socket(2)),
            // Two queue pairs, and rings of 64 frames that overflow soon.
            "net_af_packet0,iface=lo,qpairs=2,framecnt=64".into(),
        ],
        log_level: Some("warning".into()),
        // No runtime file under /var/run/dpdk: the test removes the empty folder.
        // (Without the shared configuration memif warns it cannot serve secondary
        // processes: there are none.)
        extra_args: vec![
            "--no-shconf".into(),
            "--no-telemetry".into(),
            "--log-level=pmd.net.memif:error".into(),
        ],
        ..EalConfig::default()
    }
}

/// The name of this test's memif socket `n`.
fn memif_socket(n: u32) -> String {
    format!("das-test-{}-{n}.sock", std::process::id())
}

fn port_config(name: &str, device: &str, rx_queues: u16, tx_queues: u16) -> PortConfig {
    PortConfig {
        name: name.into(),
        device: Device::Vdev(device.into()),
        rx_queues,
        tx_queues,
        rx_descriptors: 1024,
        tx_descriptors: 1024,
        mbufs: 4095,
        rss_key: RssKey::Symmetric,
        mtu: 1546,
    }
}

/// An Ethernet/IPv4 frame of `len` bytes whose payload depends on `seed`.
fn frame(seed: usize, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    for (k, b) in f[14..].iter_mut().enumerate() {
        *b = (seed * 7 + k) as u8;
    }
    f
}

/// Sends every frame on `tx` in bursts, draining `rx` between bursts (a ring holds
/// 1023 frames); returns what `rx` received, in order.
fn send_and_receive(
    frames: &[Vec<u8>],
    tx: &mut dyn TxQueue,
    rx: &mut dyn RxQueue,
    bufs: &mut BufCache,
) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut out = Batch::with_capacity(32).unwrap();
    let mut inb = Batch::with_capacity(32).unwrap();
    for chunk in frames.chunks(32) {
        for f in chunk {
            out.push(bufs.alloc_from(f).unwrap()).unwrap();
        }
        while !out.is_empty() {
            tx.tx_burst(&mut out, bufs).unwrap();
            drain(rx, &mut inb, bufs, &mut got);
        }
    }
    drain(rx, &mut inb, bufs, &mut got);
    got
}

/// Receives from `rx` until it has nothing more.
fn drain(rx: &mut dyn RxQueue, batch: &mut Batch, bufs: &mut BufCache, got: &mut Vec<Vec<u8>>) {
    while let RxOutcome::Received(_) = rx.rx_burst(batch, bufs).unwrap() {
        got.extend(batch.iter().map(|p| p.data().to_vec()));
        batch.free_into(bufs);
    }
}

#[test]
fn dpdk_port_on_virtual_devices() {
    if !is_root() {
        return skip("not root");
    }
    // The loopback of a network namespace of this thread's own carries nothing but
    // what the net_af_packet port sends (the EAL opens the device's sockets here).
    // SAFETY: unshare(2) with CLONE_NEWNET moves only the calling thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return skip(&format!(
            "no network namespace: {}",
            std::io::Error::last_os_error()
        ));
    }
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    assert!(
        up.as_ref().is_ok_and(|s| s.success()),
        "ip link set lo up: {up:?}"
    );
    let config = eal_config();
    // A runtime folder an earlier process with this pid left (before `--no-shconf`,
    // this test left files there) would fail the check below: it is not ours to keep.
    if let Some(prefix) = &config.file_prefix {
        let _ = std::fs::remove_dir_all(std::path::Path::new("/var/run/dpdk").join(prefix));
    }
    let eal = match Eal::init(&config) {
        Ok(eal) => eal,
        Err(e) => return skip(&format!("the EAL does not start here: {e}")),
    };
    std::fs::remove_dir(eal.runtime_dir()).expect("the EAL's runtime folder is empty");
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    ring_loop_is_byte_for_byte(eal, &mut bufs);
    das_frames_are_steered_in_software(eal, &mut bufs);
    null_device_sinks_and_sources(eal, &mut bufs);
    memif_links_come_up_and_lose_their_peer(eal, &mut bufs);
    af_packet_sockets_are_all_read_and_their_drops_counted(eal, &mut bufs);
    one_eal_per_process(eal, &config);
}

/// Frames of every size go out on two queues and come back on the same queues, byte
/// for byte, and the port's and the device's counters agree.
fn ring_loop_is_byte_for_byte(eal: &Eal, bufs: &mut BufCache) {
    let mut port = DpdkPort::open(eal, &port_config("loop", "net_ring0", 2, 2), None).unwrap();
    assert_eq!(port.steering(), &Steering::Device);
    assert_eq!(port.device_name(), "net_ring0");
    let mut total = 0;
    for q in 0..2 {
        let frames: Vec<Vec<u8>> = (0..2000)
            .map(|i| frame(i + q, 60 + (i * 37 + q) % 1455))
            .collect();
        let mut tx = port.take_tx_queue(q).unwrap();
        let mut rx = port.take_rx_queue(q).unwrap();
        let got = send_and_receive(&frames, tx.as_mut(), rx.as_mut(), bufs);
        assert_eq!(got.len(), frames.len(), "queue {q}");
        assert!(got == frames, "queue {q}: frames differ");
        let stats = port.stats().queues[q].clone();
        let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
        assert_eq!(
            (stats.tx_packets, stats.rx_packets),
            (2000, 2000),
            "queue {q}"
        );
        assert_eq!(
            (stats.tx_bytes, stats.rx_bytes),
            (bytes, bytes),
            "queue {q}"
        );
        assert!(stats.dropped.is_empty(), "queue {q}: {:?}", stats.dropped);
        total += frames.len() as u64;
    }
    let dev = port.device_stats().unwrap();
    assert_eq!((dev.tx_packets, dev.rx_packets), (total, total));
    assert!(dev.drops().iter().all(|&(_, n)| n == 0), "{dev:?}");
    assert_eq!(dev.dropped(DeviceDrop::RxMissed), 0);
}

/// With the shipped flow rules on a device without rte_flow, the port says it steers
/// in software; duplicates (outer MAC queue byte 1) reach receive queue 1 and
/// primaries and other frames queue 0, whichever queue polls the device.
fn das_frames_are_steered_in_software(eal: &Eal, bufs: &mut BufCache) {
    let rules = FlowRules::parse(
        include_str!("../../dpdk-config/flow-rules.toml"),
        "dpdk-config/flow-rules.toml",
    )
    .unwrap();
    let config = port_config(&rules.port, "net_ring1", 2, 1);
    let mut port = DpdkPort::open(eal, &config, Some(&rules)).unwrap();
    match port.steering() {
        Steering::Software { reason } => assert!(!reason.is_empty()),
        other => panic!("net_ring has no rte_flow, yet steering is {other:?}"),
    }
    assert!(port.steering().is_software());

    let (mut primaries, mut duplicates, mut all) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..300usize {
        let mut buf = bufs.alloc_from(&frame(i, 60 + i % 200)).unwrap();
        if i % 10 == 9 {
            // Not das traffic: no rule matches, it stays where it arrived (queue 0).
            primaries.push(buf.data().to_vec());
        } else {
            let duplicate = i % 3 == 0;
            let job = JobMeta {
                job: JobId(i as u64),
                kind: if duplicate {
                    CopyKind::Duplicate
                } else {
                    CopyKind::Primary
                },
                priority: if duplicate {
                    Priority::Low
                } else {
                    Priority::High
                },
                ingress_ns: 1,
                duplicator: 0,
                peer: Some(1),
            };
            let to = meta::Steering {
                node: (i % 4) as u8,
                queue: job.priority.queue(),
            };
            meta::encap(&mut buf, &job, to);
            if duplicate {
                duplicates.push(buf.data().to_vec());
            } else {
                primaries.push(buf.data().to_vec());
            }
        }
        all.push(buf.data().to_vec());
        bufs.free(buf);
    }

    let mut tx = port.take_tx_queue(0).unwrap();
    let mut rx0 = port.take_rx_queue(0).unwrap();
    let mut rx1 = port.take_rx_queue(1).unwrap();
    let mut out = Batch::with_capacity(32).unwrap();
    for f in &all {
        out.push(bufs.alloc_from(f).unwrap()).unwrap();
        if out.is_full() {
            while !out.is_empty() {
                tx.tx_burst(&mut out, bufs).unwrap();
            }
        }
    }
    while !out.is_empty() {
        tx.tx_burst(&mut out, bufs).unwrap();
    }
    // Everything arrived on device queue 0; the duplicates' queue polls first, so it
    // does the demultiplexing and hands the primaries to queue 0.
    let mut batch = Batch::with_capacity(32).unwrap();
    let (mut got0, mut got1) = (Vec::new(), Vec::new());
    drain(rx1.as_mut(), &mut batch, bufs, &mut got1);
    assert_eq!(rx0.depth(), Some(primaries.len()));
    drain(rx0.as_mut(), &mut batch, bufs, &mut got0);
    assert_eq!(got1.len(), duplicates.len());
    assert!(
        got1 == duplicates,
        "queue 1 holds other frames than the duplicates"
    );
    assert_eq!(got0.len(), primaries.len());
    assert!(
        got0 == primaries,
        "queue 0 holds other frames than the primaries"
    );
    let stats = port.stats();
    assert_eq!(stats.queues[0].tx_packets, all.len() as u64);
    assert_eq!(stats.queues[0].rx_packets, primaries.len() as u64);
    assert_eq!(stats.queues[1].rx_packets, duplicates.len() as u64);
    assert!(
        stats.queues.iter().all(|q| q.dropped.is_empty()),
        "{stats:?}"
    );
}

/// net_null takes everything sent and makes 64-byte frames on receive; a device
/// cannot be opened twice, nor an unknown one at all, nor with another port's rules.
fn null_device_sinks_and_sources(eal: &Eal, bufs: &mut BufCache) {
    let config = port_config("null", "net_null0", 1, 1);
    let mut port = DpdkPort::open(eal, &config, None).unwrap();
    let mut tx = port.take_tx_queue(0).unwrap();
    let mut rx = port.take_rx_queue(0).unwrap();
    let mut batch = Batch::with_capacity(32).unwrap();
    for i in 0..32 {
        batch.push(bufs.alloc_from(&frame(i, 64)).unwrap()).unwrap();
    }
    assert_eq!(tx.tx_burst(&mut batch, bufs).unwrap(), 32);
    assert!(batch.is_empty());
    assert_eq!(
        rx.rx_burst(&mut batch, bufs).unwrap(),
        RxOutcome::Received(32)
    );
    assert!(batch.iter().all(|p| p.len() == 64 && p.timestamp_ns() > 0));
    let q = &port.stats().queues[0];
    assert_eq!((q.tx_packets, q.tx_bytes), (32, 32 * 64));
    assert_eq!((q.rx_packets, q.rx_bytes), (32, 32 * 64));
    batch.free_into(bufs);

    assert!(matches!(
        DpdkPort::open(eal, &config, None),
        Err(DpdkError::DeviceInUse { .. })
    ));
    let missing = port_config("gone", "net_ring_missing", 1, 1);
    match DpdkPort::open(eal, &missing, None) {
        Err(DpdkError::UnknownDevice { available, .. }) => {
            assert!(available.iter().any(|d| d == "net_null0"), "{available:?}");
        }
        other => panic!("expected an unknown device, got {other:?}"),
    }
    // Rules written for port node0 given to a port of another name.
    let other_port = port_config("other", "net_ring_missing", 1, 1);
    let rules = FlowRules::parse(
        include_str!("../../dpdk-config/flow-rules.toml"),
        "flow-rules.toml",
    )
    .unwrap();
    assert!(matches!(
        DpdkPort::open(eal, &other_port, Some(&rules)),
        Err(DpdkError::Config { .. })
    ));
}

/// Waits up to 5 s for `what`.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed().as_secs() < 5,
            "timed out waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A memif pair (the server started first, as between two processes): its link is
/// down until the client starts, then frames cross byte for byte; once the server's
/// port is gone the client's link goes down and its transmit queue drops what it is
/// given as `node_down` instead of waiting for a peer that will not come back. An MTU
/// beyond memif's is refused by name.
fn memif_links_come_up_and_lose_their_peer(eal: &Eal, bufs: &mut BufCache) {
    match DpdkPort::open(eal, &port_config("big", "net_memif2", 1, 1), None) {
        Err(DpdkError::Config { reason, .. }) => {
            assert!(reason.contains("takes at most 1500"), "{reason}");
        }
        other => panic!("memif takes an MTU of 1500 at most, yet opening gave {other:?}"),
    }
    let memif = |name: &str, device: &str| PortConfig {
        mtu: 1500,
        ..port_config(name, device, 1, 1)
    };
    let mut server = DpdkPort::open(eal, &memif("server", "net_memif0"), None).unwrap();
    assert!(!server.link_up(), "no client yet");
    let mut client = DpdkPort::open(eal, &memif("client", "net_memif1"), None).unwrap();
    wait_until("the link is up", || client.link_up() && server.link_up());

    let frames: Vec<Vec<u8>> = (0..500).map(|i| frame(i, 60 + (i * 3) % 1400)).collect();
    let mut tx = client.take_tx_queue(0).unwrap();
    let mut rx = server.take_rx_queue(0).unwrap();
    let got = send_and_receive(&frames, tx.as_mut(), rx.as_mut(), bufs);
    assert_eq!(got.len(), frames.len());
    assert!(got == frames, "frames differ across memif");

    drop(rx);
    drop(server);
    wait_until("the client sees the server gone", || !client.link_up());
    let mut batch = Batch::with_capacity(32).unwrap();
    for i in 0..10 {
        batch
            .push(bufs.alloc_from(&frame(i, 100)).unwrap())
            .unwrap();
    }
    assert_eq!(tx.tx_burst(&mut batch, bufs).unwrap(), 10);
    assert!(batch.is_empty());
    let q = &client.stats().queues[0];
    assert_eq!(q.tx_packets, 510);
    assert_eq!(q.dropped.get("node_down"), Some(&10), "{q:?}");
    // The driver frees the connection in the EAL's interrupt thread after it marks the
    // link down: let it finish before the client's port closes.
    std::thread::sleep(std::time::Duration::from_millis(100));
}

/// Receives from `rx` until `n` frames came or nothing more came for 200 ms.
fn receive_n(rx: &mut dyn RxQueue, n: usize, bufs: &mut BufCache) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut batch = Batch::with_capacity(32).unwrap();
    let mut quiet = std::time::Instant::now();
    while got.len() < n && quiet.elapsed() < std::time::Duration::from_millis(200) {
        let before = got.len();
        drain(rx, &mut batch, bufs, &mut got);
        if got.len() > before {
            quiet = std::time::Instant::now();
        }
    }
    got
}

/// Sends `frames` on `tx`, all of them, in bursts of 32.
fn send_all(frames: &[Vec<u8>], tx: &mut dyn TxQueue, bufs: &mut BufCache) {
    let mut out = Batch::with_capacity(32).unwrap();
    for chunk in frames.chunks(32) {
        for f in chunk {
            out.push(bufs.alloc_from(f).unwrap()).unwrap();
        }
        while !out.is_empty() {
            tx.tx_burst(&mut out, bufs).unwrap();
        }
    }
}

/// net_af_packet on the loopback: the port receives what it sends. Its two sockets
/// form one fanout group, so frames arrive on either whatever the port reads: a port
/// with one receive queue and two transmit queues polls both sockets, and loses
/// nothing. Frames the kernel drops because the sockets' rings are full count as the
/// device's `rx_missed` (DPDK itself does not count them): sent = received +
/// `rx_missed`.
fn af_packet_sockets_are_all_read_and_their_drops_counted(eal: &Eal, bufs: &mut BufCache) {
    let config = PortConfig {
        mtu: 1500,
        ..port_config("lo", "net_af_packet0", 1, 2)
    };
    let mut port = DpdkPort::open(eal, &config, None).unwrap();
    match port.steering() {
        Steering::Software { reason } => assert!(reason.contains("fanout"), "{reason}"),
        other => panic!("one receive queue over two sockets, yet steering is {other:?}"),
    }
    let mut rx = port.take_rx_queue(0).unwrap();
    let mut txs = [
        port.take_tx_queue(0).unwrap(),
        port.take_tx_queue(1).unwrap(),
    ];
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut got = Vec::new();
    for (q, tx) in txs.iter_mut().enumerate() {
        // Frames of many flows (their bytes make IPv4 addresses), so the fanout hash
        // spreads them over both sockets.
        for chunk in 0..10 {
            let frames: Vec<Vec<u8>> = (0..32)
                .map(|i| frame(q * 1000 + chunk * 32 + i, 60 + (i * 41) % 1400))
                .collect();
            send_all(&frames, tx.as_mut(), bufs);
            got.extend(receive_n(rx.as_mut(), frames.len(), bufs));
            sent.extend(frames);
        }
    }
    assert_eq!(got.len(), sent.len(), "frames lost between the sockets");
    got.sort();
    sent.sort();
    assert!(got == sent, "frames differ over net_af_packet");
    assert_eq!(port.device_stats().unwrap().rx_missed, 0);

    // Nothing reads while 1,000 frames come: the two rings of 64 frames overflow.
    let frames: Vec<Vec<u8>> = (0..1000).map(|i| frame(i, 200)).collect();
    send_all(&frames, txs[0].as_mut(), bufs);
    let got = receive_n(rx.as_mut(), frames.len(), bufs);
    let missed = port.device_stats().unwrap().rx_missed;
    assert!(
        got.len() <= 128 && missed > 0,
        "{} received, {missed} missed",
        got.len()
    );
    assert_eq!(
        got.len() as u64 + missed,
        1000,
        "sent = received + rx_missed"
    );
}

/// Starting the EAL again with the same arguments gives the running EAL; with other
/// arguments, an error.
fn one_eal_per_process(eal: &Eal, config: &EalConfig) {
    assert!(std::ptr::eq(Eal::init(config).unwrap(), eal));
    let other = EalConfig {
        memory_mb: Some(128),
        ..config.clone()
    };
    match Eal::init(&other) {
        Err(DpdkError::EalAlreadyRunning { running, requested }) => {
            assert_eq!(running, config.args());
            assert_eq!(requested, other.args());
        }
        other => panic!("expected EalAlreadyRunning, got {other:?}"),
    }
    assert!(std::ptr::eq(Eal::get().unwrap(), eal));
}

/// An EAL argument DPDK does not know is an error, not a crash (in a child process:
/// this one's EAL is started by the test above).
#[test]
fn bad_eal_arguments_are_an_error() {
    if std::env::var_os(CHILD).is_some() {
        let config = EalConfig {
            extra_args: vec!["--no-such-option".into()],
            ..eal_config()
        };
        let err = Eal::init(&config).unwrap_err();
        assert!(matches!(err, DpdkError::EalInit { .. }), "{err:?}");
        assert!(err.to_string().contains("--no-such-option"), "{err}");
        assert_eq!(Eal::init(&config).unwrap_err(), err, "the failure is kept");
        assert!(Eal::get().is_none());
        println!("child: {err}");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "bad_eal_arguments_are_an_error", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("child: DPDK EAL initialisation failed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
