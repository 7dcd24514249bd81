//! Network namespaces with a veth pair for the AF_XDP tests and the benchmark: made
//! with `ip`, removed on drop (the namespace takes its veths with it).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use dataplane::buf::BufCache;
use dataplane::port::{QueueCounters, RxOutcome, RxQueue, TxQueue};
use dataplane::{Batch, BufPool};

/// Whether privileged tests can run here; when they cannot, prints why and returns
/// false, unless `DAS_REQUIRE_PRIVILEGES=1` (CI), where it panics.
pub fn privileged_or_skip() -> bool {
    let why = if !nix::unistd::geteuid().is_root() {
        Some("not root".to_string())
    } else {
        let probe = Netns::new(1);
        match probe {
            Ok(_) => None,
            Err(e) => Some(format!(
                "cannot make a network namespace with a veth pair: {e}"
            )),
        }
    };
    match why {
        None => true,
        Some(why) => {
            assert!(
                std::env::var("DAS_REQUIRE_PRIVILEGES").as_deref() != Ok("1"),
                "AF_XDP tests need root and network namespaces, which CI requires: {why}"
            );
            eprintln!("skipped: {why}");
            false
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace holding a veth pair `a` <-> `b`, both up, IPv6 off.
pub struct Netns {
    /// Namespace name.
    pub name: String,
    /// One end of the pair.
    pub a: String,
    /// The other end.
    pub b: String,
}

impl Netns {
    /// A new namespace and veth pair with `queues` rx and tx queues per end.
    pub fn new(queues: u32) -> Result<Netns, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}{}",
            std::process::id() % 100_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let name = format!("dxt{id}");
        ip(&["netns", "add", &name])?;
        // From here on, dropping the guard removes the namespace.
        let ns = Netns {
            a: format!("dxt{id}a"),
            b: format!("dxt{id}b"),
            name,
        };
        let q = queues.to_string();
        for key in ["all", "default"] {
            ip(&[
                "netns",
                "exec",
                &ns.name,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{key}.disable_ipv6=1"),
            ])?;
        }
        ip(&[
            "-n",
            &ns.name,
            "link",
            "add",
            &ns.a,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
            "type",
            "veth",
            "peer",
            "name",
            &ns.b,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
        ])?;
        for dev in [&ns.a, &ns.b] {
            ip(&["-n", &ns.name, "link", "set", dev, "up"])?;
        }
        Ok(ns)
    }

    /// Runs `f` on a thread that has entered the namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                let file = std::fs::File::open(&path).expect("open the namespace");
                nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .expect("enter the namespace");
                f()
            });
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// What `ip -d link show dev` says about `dev` (to look for an attached program).
    pub fn link_details(&self, dev: &str) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-d", "link", "show", "dev", dev])
            .output()
            .expect("ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Netns {
    /// Packets the kernel counted as received on `dev` (`ip -s link`).
    pub fn kernel_rx_packets(&self, dev: &str) -> u64 {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-j", "-s", "link", "show", "dev", dev])
            .output()
            .expect("ip");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j output");
        v[0]["stats64"]["rx"]["packets"]
            .as_u64()
            .expect("rx packets in ip -j -s output")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// A das frame for node 0 and logical queue `queue`, carrying `seq`, `len` bytes long.
pub fn das_frame(queue: u8, seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0x44, 0x41, 0x53, 0x00, queue];
    f.extend_from_slice(&[0x02, 0x44, 0x41, 0x53, 0xff, 0x00, 0x89, 0x4f]);
    f.extend_from_slice(&seq.to_be_bytes());
    f.resize(len.max(f.len()), 0);
    for (i, b) in f.iter_mut().enumerate().skip(18) {
        *b = (i as u32).wrapping_mul(31).wrapping_add(seq) as u8;
    }
    f
}

/// A broadcast ARP-typed frame carrying `seq`: not a das frame.
pub fn other_frame(seq: u32) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06]);
    f.extend_from_slice(&seq.to_be_bytes());
    f.resize(60, 0xa5);
    f
}

/// Sends every frame on `txq` and flushes it; with `paced`, keeps at most `window`
/// frames ahead of what the receivers counted (received or dropped), so that a receiver
/// on a busy machine is not overrun.
pub fn send(
    txq: &mut dyn TxQueue,
    frames: &[Vec<u8>],
    bufs: &mut BufCache,
    paced: Option<(&[std::sync::Arc<QueueCounters>], u64)>,
) {
    let mut batch = Batch::with_capacity(64).unwrap();
    for (i, chunk) in frames.chunks(64).enumerate() {
        if let Some((counters, window)) = paced {
            let sent = (i * 64) as u64;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while counters
                .iter()
                .map(|c| c.rx_packets.get() + c.dropped.total())
                .sum::<u64>()
                + window
                < sent
                && std::time::Instant::now() < deadline
            {
                txq.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
        for f in chunk {
            batch.push(bufs.alloc_from(f).unwrap()).unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !batch.is_empty() {
            txq.tx_burst(&mut batch, bufs).unwrap();
            assert!(std::time::Instant::now() < deadline, "tx stuck");
        }
    }
    txq.flush().unwrap();
}

/// Asserts that `got` equals `want`, naming the first difference (not the frames).
pub fn assert_frames(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) {
    if let Some(i) = got.iter().zip(want).position(|(g, w)| g != w) {
        panic!(
            "{what}: frame {i} differs ({} bytes, expected {})",
            got[i].len(),
            want[i].len()
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: frame count");
}

/// Receives from `rxq` until `done(received, dropped)` holds or `secs` pass; returns the
/// frames.
pub fn receive(rxq: &mut dyn RxQueue, secs: u64, done: impl Fn(u64, u64) -> bool) -> Vec<Vec<u8>> {
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut batch = Batch::with_capacity(64).unwrap();
    let mut got = Vec::new();
    let c = rxq.counters();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        match rxq.rx_burst(&mut batch, &mut bufs).unwrap() {
            RxOutcome::Received(_) => {
                got.extend(batch.iter().map(|p| p.data().to_vec()));
                batch.free_into(&mut bufs);
            }
            RxOutcome::Idle => {
                if done(c.rx_packets.get(), c.dropped.total()) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            RxOutcome::Ended => break,
        }
    }
    got
}
