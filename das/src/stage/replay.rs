//! `das replay`: the traffic source as a process, sending a capture or generated
//! traffic out of a network port.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use dataplane::BufPool;
use dataplane::afpacket::RxLayout;
use dataplane::forward::{ForwardReport, forward};
use dataplane::memory::{FramesPort, FramesReplay, TimedFrame};
use dataplane::pcap::{Pace, PcapPort};
use dataplane::port::{Port, PortStats};

use super::StageArgs;
use super::ports::{NetPort, PortReport, PortSpec};
use crate::gen_cmd::{CaptureArgs, TrafficArgs};
use crate::report::count;

/// Options of `das replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Where the traffic goes: afpacket:IFACE.
    #[arg(long, value_name = "PORT")]
    to: PortSpec,

    #[command(flatten)]
    capture: CaptureArgs,

    /// Pace: max, <N>pps, <N>mbps, capture or capture*<SPEED>. A veth link takes about
    /// half a million packets per second; faster, and its receiver drops (counted).
    #[arg(long, default_value = "max", value_name = "PACE")]
    pace: Pace,

    #[command(flatten)]
    traffic: TrafficArgs,

    #[command(flatten)]
    stage: StageArgs,
}

/// What `das replay` did.
#[derive(Debug, serde::Serialize)]
struct ReplayReport {
    /// The traffic, in words.
    source: String,
    /// Packets and bytes sent.
    sent: ForwardReport,
    /// Seconds from the first packet read to the last sent.
    elapsed_secs: f64,
    /// The source's counters.
    source_port: PortStats,
    /// The output port.
    output: PortReport,
}

/// Runs `das replay`.
pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let capture = args.capture.replay(args.pace)?;
    let end = args.stage.input_end()?;
    let (mut source, description): (Box<dyn Port>, String) = match capture {
        Some((path, replay)) => {
            let port = PcapPort::open("source", &path, replay)
                .with_context(|| format!("cannot replay {}", path.display()))?;
            (Box::new(port), path.display().to_string())
        }
        None => {
            let (description, frames) = args.traffic.frames()?;
            let frames: Arc<[TimedFrame]> = frames.collect();
            let replay = FramesReplay {
                pace: args.pace,
                packets: frames.len() as u64,
                distinct_loops: false,
            };
            (
                Box::new(FramesPort::new("source", frames, replay)?),
                description,
            )
        }
    };
    let mut out = NetPort::open("output", &args.to, RxLayout::None, 1, &end)?;
    let mut rx = source.take_rx_queue(0)?;
    let mut tx = out.tx(0)?;
    let pool = BufPool::default();
    let started = std::time::Instant::now();
    let sent = forward(rx.as_mut(), tx.as_mut(), &pool, args.stage.batch)
        .with_context(|| format!("sending to {}", args.to))?;
    let elapsed_secs = started.elapsed().as_secs_f64();
    drop(tx);
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
