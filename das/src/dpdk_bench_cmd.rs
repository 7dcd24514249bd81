//! `das dpdk-bench`: io-forwarding through the DPDK port backend on `net_null`
//! devices, the figure to set beside `dpdk-testpmd --forward-mode=io` on the same
//! devices (docs/PERF.md, scripts/bench-dpdk.sh).
//!
//! Two `net_null` ports, one receive and one transmit queue each, forwarded both ways
//! (0 to 1 and 1 to 0, as testpmd's io mode does with two ports) by one thread on the
//! EAL's main lcore. Every frame is copied out of its mbuf into a das buffer on
//! receive and into a fresh mbuf on transmit: the backend's whole cost.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

/// Options of `das dpdk-bench`.
#[derive(Debug, Args)]
#[cfg_attr(not(feature = "dpdk"), allow(dead_code))]
pub struct DpdkBenchArgs {
    /// Seconds to forward; one line per second, then the median.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Frames per receive and transmit burst (1 to 256).
    #[arg(long, default_value_t = 32)]
    burst: usize,
    /// Size of the frames net_null makes, in bytes.
    #[arg(long, default_value_t = 64)]
    size: u16,
    /// CPU the forwarding lcore runs on. Default: the last CPU of the process.
    #[arg(long)]
    cpu: Option<usize>,
    /// Mbufs in each port's pool.
    #[arg(long, default_value_t = 8191)]
    mbufs: u32,
    /// Memory the EAL reserves, in MB (anonymous memory: --no-huge).
    #[arg(long, default_value_t = 1024)]
    memory_mb: u32,
}

/// Runs `das dpdk-bench`.
#[cfg(not(feature = "dpdk"))]
pub fn run(_args: DpdkBenchArgs) -> Result<ExitCode> {
    anyhow::bail!("{}", crate::dpdk_cmd::WITHOUT_DPDK)
}

/// Runs `das dpdk-bench`.
#[cfg(feature = "dpdk")]
pub fn run(args: DpdkBenchArgs) -> Result<ExitCode> {
    bench::run(args)
}

#[cfg(feature = "dpdk")]
mod bench {
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    use anyhow::{Context, Result, bail};
    use das_dpdk::{DpdkPort, Eal};
    use dataplane::dpdk_config::{Device, EalConfig, PortConfig, RssKey};
    use dataplane::port::{Port, RxOutcome, RxQueue, TxQueue};
    use dataplane::{Batch, BufCache, BufPool};

    use super::DpdkBenchArgs;
    use crate::spec;

    /// One direction of forwarding.
    struct Stream {
        rx: Box<dyn RxQueue>,
        tx: Box<dyn TxQueue>,
        batch: Batch,
        packets: u64,
    }

    impl Stream {
        fn forward(&mut self, bufs: &mut BufCache) -> Result<()> {
            if let RxOutcome::Received(n) = self.rx.rx_burst(&mut self.batch, bufs)? {
                self.packets += n as u64;
                while !self.batch.is_empty() {
                    self.tx.tx_burst(&mut self.batch, bufs)?;
                }
            }
            Ok(())
        }
    }

    pub fn run(args: DpdkBenchArgs) -> Result<ExitCode> {
        if args.secs == 0 {
            bail!("--secs must be at least 1");
        }
        let cpu = match args.cpu {
            Some(cpu) => cpu,
            None => *spec::all_cpus()
                .last()
                .context("cannot read the CPUs this process may run on; pass --cpu")?,
        };
        let vdev = |i: usize| format!("net_null{i},size={}", args.size);
        let eal_config = EalConfig {
            lcores: Some(format!("0@{cpu}")),
            memory_mb: Some(args.memory_mb),
            no_huge: true,
            no_pci: true,
            file_prefix: Some(format!("das-bench-{}", std::process::id())),
            vdevs: vec![vdev(0), vdev(1)],
            log_level: Some("notice".into()),
            ..EalConfig::default()
        };
        let eal = Eal::init(&eal_config).context("starting DPDK")?;
        let mut ports = Vec::new();
        for i in 0..2 {
            let config = PortConfig {
                name: format!("null{i}"),
                device: Device::Vdev(format!("net_null{i}")),
                rx_queues: 1,
                tx_queues: 1,
                rx_descriptors: 1024,
                tx_descriptors: 1024,
                mbufs: args.mbufs,
                rss_key: RssKey::Symmetric,
                mtu: 1500,
            };
            ports.push(DpdkPort::open(eal, &config, None).context("opening a net_null port")?);
        }
        let mut streams = Vec::new();
        for (from, to) in [(0, 1), (1, 0)] {
            streams.push(Stream {
                rx: ports[from].take_rx_queue(0)?,
                tx: ports[to].take_tx_queue(0)?,
                batch: Batch::with_capacity(args.burst).context("--burst")?,
                packets: 0,
            });
        }
        let pool = BufPool::default();
        let mut bufs = pool.cache();

        println!(
            "das dpdk-bench: io-forward net_null0 <-> net_null1, {}-byte frames, burst {}, \
             one lcore on CPU {cpu}, {} s",
            args.size, args.burst, args.secs
        );
        let mut per_port = Vec::new();
        let start = Instant::now();
        let mut mark = start;
        let mut last = [0u64; 2];
        for second in 1..=args.secs {
            let until = start + Duration::from_secs(second);
            while Instant::now() < until {
                for _ in 0..64 {
                    for s in &mut streams {
                        s.forward(&mut bufs)?;
                    }
                }
            }
            let now = Instant::now();
            let secs = (now - mark).as_secs_f64();
            let rates: Vec<f64> = streams
                .iter()
                .zip(&last)
                .map(|(s, l)| (s.packets - l) as f64 / secs / 1e6)
                .collect();
            println!(
                "  {second:>3} s  port 0 rx {:6.2} Mpps  port 1 rx {:6.2} Mpps  forwarded \
                 {:6.2} Mpps",
                rates[0],
                rates[1],
                rates[0] + rates[1]
            );
            per_port.push((rates[0] + rates[1]) / 2.0);
            last = [streams[0].packets, streams[1].packets];
            mark = now;
        }
        // The first second includes warming up.
        let measured = if per_port.len() > 1 {
            &mut per_port[1..]
        } else {
            &mut per_port[..]
        };
        measured.sort_by(f64::total_cmp);
        let median = measured[measured.len() / 2];
        println!(
            "median: {median:.2} Mpps per port, {:.2} Mpps forwarded per core",
            2.0 * median
        );
        for port in &ports {
            let dev = port.device_stats()?;
            let drops: Vec<String> = dev
                .drops()
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(r, n)| format!("{} {n}", r.name()))
                .collect();
            println!(
                "{} ({}): rx {} tx {}, drops: {}",
                port.name(),
                port.device_name(),
                dev.rx_packets,
                dev.tx_packets,
                if drops.is_empty() {
                    "none".to_string()
                } else {
                    drops.join(", ")
                }
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
