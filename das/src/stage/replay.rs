//! `das replay`: the traffic source as a process, sending a capture or generated
//! traffic out of a network port.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use dataplane::BufPool;
use dataplane::afpacket::RxLayout;
use dataplane::forward::{ForwardReport, forward};
use dataplane::memory::{FramesPort, FramesReplay, TimedFrame};
use dataplane::pcap::{LINKTYPE_ETHERNET, Pace, PcapPort, read_frames};
use dataplane::port::{Port, PortError, PortStats, QueueCounters, RxOutcome, RxQueue};
use dataplane::{Batch, BufCache};

use super::StageArgs;
use super::ports::{NetPort, PortReport, PortSpec};
use crate::gen_cmd::{CaptureArgs, TrafficArgs};
use crate::report::count;

/// Options of `das replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Where the traffic goes: afpacket:IFACE, afxdp:IFACE or dpdk:NAME.
    #[arg(long, value_name = "PORT")]
    to: PortSpec,

    #[command(flatten)]
    capture: CaptureArgs,

    /// Pace: max, <N>pps, <N>mbps, capture or capture*<SPEED>. A veth link takes about
    /// half a million packets per second; faster, and its receiver drops (counted).
    #[arg(long, default_value = "max", value_name = "PACE")]
    pace: Pace,

    /// Send this many packets in all, looping the traffic as often as needed (it is
    /// then held in memory; with --pcap, --distinct-loops gives each loop its own
    /// addresses). Default: the traffic once (or --loops times).
    #[arg(long, value_name = "N", conflicts_with = "loops", value_parser = clap::value_parser!(u64).range(1..))]
    packets: Option<u64>,

    /// Stop sending after this long (e.g. 4s), even if packets remain: a pace the
    /// port cannot keep up with then shortens the run rather than lengthening it.
    #[arg(long = "for", value_name = "DURATION", value_parser = crate::spec::duration)]
    limit: Option<Duration>,

    #[command(flatten)]
    traffic: TrafficArgs,

    #[command(flatten)]
    stage: StageArgs,
}

/// What `das replay` did.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ReplayReport {
    /// The traffic, in words.
    pub source: String,
    /// Packets and bytes sent.
    pub sent: ForwardReport,
    /// Seconds from the first packet read to the last sent.
    pub elapsed_secs: f64,
    /// The source's counters.
    pub source_port: PortStats,
    /// The output port.
    pub output: PortReport,
}

/// Runs `das replay`.
pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let capture = args.capture.replay(args.pace)?;
    let ports = args.stage.ports(&[&args.to])?;
    let (mut source, description): (Box<dyn Port>, String) = match (capture, args.packets) {
        (Some((path, replay)), None) => {
            let port = PcapPort::open("source", &path, replay)
                .with_context(|| format!("cannot replay {}", path.display()))?;
            (Box::new(port), path.display().to_string())
        }
        (Some((path, replay)), Some(packets)) => {
            let frames: Arc<[TimedFrame]> = read_frames(&path)
                .with_context(|| format!("cannot replay {}", path.display()))?
                .into_iter()
                .filter(|f| f.link_type == LINKTYPE_ETHERNET)
                .map(|f| (f.timestamp_ns, f.data))
                .collect();
            let replay = FramesReplay {
                pace: args.pace,
                packets,
                distinct_loops: replay.distinct_loops,
            };
            let port = FramesPort::new("source", frames, replay)
                .with_context(|| format!("cannot replay {}", path.display()))?;
            (Box::new(port), path.display().to_string())
        }
        (None, packets) => {
            let (description, frames) = args.traffic.frames()?;
            let frames: Arc<[TimedFrame]> = frames.collect();
            let replay = FramesReplay {
                pace: args.pace,
                packets: packets.unwrap_or(frames.len() as u64),
                distinct_loops: false,
            };
            (
                Box::new(FramesPort::new("source", frames, replay)?),
                description,
            )
        }
    };
    let mut out = ports.open("output", &args.to, RxLayout::None, 1)?;
    let mut rx = source.take_rx_queue(0)?;
    if let Some(limit) = args.limit {
        rx = Box::new(TimeLimited {
            inner: rx,
            limit,
            until: None,
        });
    }
    let mut tx = out.tx(0)?;
    let pool = BufPool::default();
    let started = std::time::Instant::now();
    let sent = forward(rx.as_mut(), tx.as_mut(), &pool, args.stage.batch)
        .with_context(|| format!("sending to {}", args.to))?;
    let elapsed_secs = started.elapsed().as_secs_f64();
    drop(tx);
    NetPort::wait_until_read("replay", [&out]);
    eprintln!(
        "das replay: sent {} packets ({} bytes) to {} in {elapsed_secs:.2} s ({} packets/s)",
        count(sent.packets),
        count(sent.bytes),
        args.to,
        count((sent.packets as f64 / elapsed_secs.max(1e-9)) as u64)
    );
    let report = ReplayReport {
        source: description,
        sent,
        elapsed_secs,
        source_port: source.stats(),
        output: out.report(),
    };
    args.stage.write_report("replay", &report)?;
    Ok(ExitCode::SUCCESS)
}

/// A receive queue that ends `limit` after its first packet.
struct TimeLimited {
    inner: Box<dyn RxQueue>,
    limit: Duration,
    until: Option<Instant>,
}

impl RxQueue for TimeLimited {
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError> {
        let until = *self
            .until
            .get_or_insert_with(|| Instant::now() + self.limit);
        if Instant::now() >= until {
            return Ok(RxOutcome::Ended);
        }
        self.inner.rx_burst(batch, bufs)
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.inner.counters()
    }
}
