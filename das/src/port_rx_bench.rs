//! `das bench port-rx`: the receive rate of one network port.
//!
//! Opens one receive queue of the port as a stage's input would (`afpacket:IFACE` and
//! `afxdp:IFACE` take every frame on the interface; `dpdk:NAME` needs one receive queue
//! in `ports.toml`), waits for the first frame, then busy-polls the queue for `--secs`
//! seconds, freeing every frame at once, and prints per second the frames received and
//! those the port counted as dropped (`ring_full` and the like). The rate is that of the
//! seconds after the first, a warm-up, as a dpdk-testpmd `rxonly` run's readings after
//! its first are (`scripts/bench-ports.sh rx`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use dataplane::afpacket::RxLayout;
use dataplane::input_end::InputEnd;
use dataplane::port::{PortStats, RxOutcome};
use dataplane::{Batch, BufPool};

use crate::report::count;
use crate::spec;
use crate::stage::ports::{PortSpec, StagePorts};

/// Options of `das bench port-rx`.
#[derive(Debug, Args)]
pub struct PortRxArgs {
    /// The port to receive on: afpacket:IFACE, afxdp:IFACE, netmap:IFACE or dpdk:NAME.
    #[arg(long, value_name = "PORT")]
    port: PortSpec,

    /// Seconds to count from the first frame; the first is warm-up, left out of the rate.
    #[arg(long, default_value_t = 10, value_name = "N",
          value_parser = clap::value_parser!(u64).range(2..=86_400))]
    secs: u64,

    /// Give up when no frame came within this long.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = spec::duration)]
    wait: Duration,

    /// Frames per receive call (1 to 256).
    #[arg(long, default_value_t = dataplane::DEFAULT_BATCH, value_name = "N")]
    batch: usize,

    /// The DPDK configuration folder that a dpdk:NAME port comes from.
    #[arg(long, default_value = "dpdk-config", value_name = "DIR")]
    dpdk_config: PathBuf,
}

/// Frames received and dropped by the port's queues so far.
fn totals(stats: &PortStats) -> (u64, u64) {
    stats.queues.iter().fold((0, 0), |(rx, drops), q| {
        (rx + q.rx_packets, drops + q.dropped.values().sum::<u64>())
    })
}

/// Runs `das bench port-rx`; SIGINT or SIGTERM ends the count early.
pub fn run(args: PortRxArgs) -> Result<ExitCode> {
    let mut batch = Batch::with_capacity(args.batch).context("--batch")?;
    let end = InputEnd::on_stop();
    let ports = StagePorts::new(end.clone(), &args.dpdk_config, &[&args.port])?;
    let mut port = ports.open("rx", &args.port, RxLayout::Fanout(1), 0)?;
    let mut rxq = port.rx(0)?;
    let stop = end.clone();
    ctrlc::set_handler(move || stop.stop()).context("installing the signal handler")?;
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    eprintln!("das bench port-rx: ready");

    let deadline = Instant::now() + args.wait;
    let start = loop {
        match rxq.rx_burst(&mut batch, &mut bufs)? {
            RxOutcome::Received(_) => {
                batch.free_into(&mut bufs);
                break Instant::now();
            }
            RxOutcome::Idle if Instant::now() < deadline => std::hint::spin_loop(),
            RxOutcome::Idle => bail!(
                "no frame came on {} within {:?}: is a sender running on its link?",
                args.port,
                args.wait
            ),
            RxOutcome::Ended => bail!("stopped before a frame came on {}", args.port),
        }
    };

    println!("second  rx_Mpps  dropped_Mpps");
    let mut last = totals(&port.stats());
    let (mut warm, mut seconds) = (last, 0);
    let mut next = start + Duration::from_secs(1);
    let mut ended = false;
    while seconds < args.secs && !ended {
        match rxq.rx_burst(&mut batch, &mut bufs)? {
            RxOutcome::Received(_) => batch.free_into(&mut bufs),
            RxOutcome::Idle => std::hint::spin_loop(),
            RxOutcome::Ended => ended = true,
        }
        if Instant::now() >= next && !ended {
            let now = totals(&port.stats());
            seconds += 1;
            println!(
                "{seconds:>6}  {:>7.3}  {:>12.3}",
                (now.0 - last.0) as f64 / 1e6,
                (now.1 - last.1) as f64 / 1e6
            );
            if seconds == 1 {
                warm = now;
            }
            last = now;
            next += Duration::from_secs(1);
        }
    }
    // Dropping the queue reads the kernel's last drop counts into the port's counters.
    drop(rxq);
    let report = port.report();
    let measured = seconds.saturating_sub(1);
    if measured == 0 {
        bail!("stopped after {seconds} s: nothing measured after the first, warm-up second");
    }
    let received = last.0 - warm.0;
    let mut drops = report.port.queues[0].dropped.clone();
    drops.retain(|_, n| *n > 0);
    let drops = if drops.is_empty() {
        "none".to_string()
    } else {
        let by_reason: Vec<String> = drops
            .iter()
            .map(|(reason, n)| format!("{reason} {}", count(*n)))
            .collect();
        by_reason.join(", ")
    };
    let interface = match (&report.interface, &report.device) {
        (Some(i), _) => format!("; the interface dropped {}", count(i.rx_dropped)),
        (None, Some(d)) => format!("; the device dropped {}", count(d.rx_dropped())),
        (None, None) => String::new(),
    };
    println!(
        "{}: received {} frames in {measured} s after a 1 s warm-up: {:.3} Mpps (drops over \
         the whole run: {drops}{interface})",
        args.port,
        count(received),
        received as f64 / measured as f64 / 1e6,
    );
    Ok(ExitCode::SUCCESS)
}
