//! Receive rate of an AF_XDP port on one veth pair, in driver and SKB mode, against an
//! AF_PACKET raw socket on the same pair, all three fed by the same AF_XDP sender.
//! Needs root. Run: `cargo run --release -p afxdp --example afxdp_bench -- [SECONDS]`.

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use afxdp::{AfXdpConfig, AfXdpPort, XdpMode};
use dataplane::port::{Port, RxOutcome};
use dataplane::{Batch, BufPool};
use nix::sys::socket::{
    AddressFamily, LinkAddr, SockFlag, SockProtocol, SockType, recvfrom, socket,
};

use common::{Netns, das_frame};

/// Sends 64-byte das frames on `iface` until `stop`; returns frames sent.
fn sender(iface: &str, stop: &AtomicBool) -> u64 {
    let mut cfg = AfXdpConfig::new(iface);
    cfg.steering = false;
    cfg.logical_queues = 1;
    let mut port = AfXdpPort::open(cfg).expect("open the sender");
    let mut txq = port.take_tx_queue(0).unwrap();
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut batch = Batch::with_capacity(64).unwrap();
    let frame = das_frame(0, 0, 64);
    while !stop.load(Ordering::Relaxed) {
        while !batch.is_full() {
            batch.push(bufs.alloc_from(&frame).unwrap()).unwrap();
        }
        if txq.tx_burst(&mut batch, &mut bufs).unwrap() == 0 {
            std::thread::yield_now();
        }
    }
    batch.free_into(&mut bufs);
    port.stats().queues[0].tx_packets
}

enum Receiver {
    AfXdp(XdpMode),
    AfPacket,
}

/// Runs one receiver against the sender for `secs`; returns (sent, received, dropped).
fn run(rx: &Receiver, secs: u64) -> (u64, u64, u64) {
    let ns = Netns::new(1).expect("make a namespace (root needed)");
    ns.run(|| {
        let stop = AtomicBool::new(false);
        let received = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        std::thread::scope(|s| {
            let rx_thread = s.spawn(|| match rx {
                Receiver::AfXdp(mode) => {
                    let mut cfg = AfXdpConfig::new(&ns.a);
                    cfg.steering = false;
                    cfg.logical_queues = 1;
                    cfg.mode = *mode;
                    let mut port = AfXdpPort::open(cfg).expect("open the receiver");
                    let mut rxq = port.take_rx_queue(0).unwrap();
                    let pool = BufPool::default();
                    let mut bufs = pool.cache();
                    let mut batch = Batch::with_capacity(64).unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        if let RxOutcome::Received(_) = rxq.rx_burst(&mut batch, &mut bufs).unwrap()
                        {
                            batch.free_into(&mut bufs);
                        }
                    }
                    let q = port.stats().queues[0].clone();
                    received.store(q.rx_packets, Ordering::Relaxed);
                    dropped.store(q.dropped.values().sum(), Ordering::Relaxed);
                }
                Receiver::AfPacket => {
                    let ifindex = nix::net::if_::if_nametoindex(ns.a.as_str()).unwrap() as usize;
                    let fd = socket(
                        AddressFamily::Packet,
                        SockType::Raw,
                        SockFlag::SOCK_NONBLOCK,
                        SockProtocol::EthAll,
                    )
                    .expect("AF_PACKET socket");
                    let mut buf = [0u8; 2048];
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        match recvfrom::<LinkAddr>(std::os::fd::AsRawFd::as_raw_fd(&fd), &mut buf) {
                            Ok((_, Some(addr))) if addr.ifindex() == ifindex => n += 1,
                            Ok(_) => {}
                            Err(_) => std::thread::yield_now(),
                        }
                    }
                    received.store(n, Ordering::Relaxed);
                }
            });
            // Let the receiver attach before the clock starts.
            std::thread::sleep(Duration::from_millis(200));
            let tx_thread = s.spawn(|| sender(&ns.b, &stop));
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
            let sent = tx_thread.join().unwrap();
            rx_thread.join().unwrap();
            (
                sent,
                received.load(Ordering::Relaxed),
                dropped.load(Ordering::Relaxed),
            )
        })
    })
}

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    println!("receiver            sent Mpps  rx Mpps  rx/sent  xsk drops");
    let mut base = None;
    for (name, rx) in [
        ("af_xdp driver", Receiver::AfXdp(XdpMode::Driver)),
        ("af_xdp skb", Receiver::AfXdp(XdpMode::Skb)),
        ("af_packet recvfrom", Receiver::AfPacket),
    ] {
        let (sent, received, dropped) = run(&rx, secs);
        let mpps = |n: u64| n as f64 / secs as f64 / 1e6;
        let rx_mpps = mpps(received);
        let base = *base.get_or_insert(rx_mpps);
        println!(
            "{name:<19} {:>9.3}  {rx_mpps:>7.3}  {:>7.2}  {dropped:>9}   ({:.2}x af_xdp driver)",
            mpps(sent),
            received as f64 / sent.max(1) as f64,
            rx_mpps / base.max(1e-9),
        );
    }
}
