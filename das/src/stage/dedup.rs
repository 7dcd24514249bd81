//! `das dedup`: the dedup D-Stage as a process: one port per IDS node in, the unique
//! packets (original frames) out to a capture file or a port.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use dataplane::BufPool;
use dataplane::afpacket::RxLayout;
use dataplane::null::NullPort;
use dataplane::pcap::PcapWriterPort;
use dataplane::port::{Port, PortStats};
use dedup::{Dedup, DedupConfig, DedupIo, DedupReport};

use super::StageArgs;
use super::ports::{NetPort, PortReport, PortSpec};
use crate::report::count;

/// Options of `das dedup`.
#[derive(Debug, Args)]
pub struct DedupArgs {
    /// The port from node i, once per node in node order: afpacket:IFACE.
    #[arg(long = "node", value_name = "PORT", required = true)]
    nodes: Vec<PortSpec>,

    /// Write the unique packets (the original frames) to this pcap file.
    #[arg(long, value_name = "FILE", conflicts_with = "to")]
    out: Option<PathBuf>,

    /// Send the unique packets (the original frames) out of this port: afpacket:IFACE.
    #[arg(long, value_name = "PORT")]
    to: Option<PortSpec>,

    /// Dedup window in job ids (a power of two); must exceed the job ids in flight.
    #[arg(long, default_value_t = 1 << 20, value_name = "N")]
    window: usize,

    /// Interval of the UPP/sec timeline in the report, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    upp_interval_ms: u64,

    #[command(flatten)]
    stage: StageArgs,
}

/// What `das dedup` did.
#[derive(Debug, serde::Serialize)]
struct DedupStageReport {
    /// Dedup's counters, UPP/sec and latency.
    dedup: DedupReport,
    /// The port from each node.
    nodes: Vec<PortReport>,
    /// The output's counters.
    output: PortStats,
    /// The output port's interface, when the output is a port.
    output_port: Option<PortReport>,
}

/// Runs `das dedup`.
pub fn run(args: DedupArgs) -> Result<ExitCode> {
    let dedup = Dedup::new(DedupConfig {
        window: args.window,
        upp_interval: Duration::from_millis(args.upp_interval_ms.max(1)),
        notify: false,
        content: None,
    })?;
    let end = args.stage.input_end()?;
    let mut node_ports = args
        .nodes
        .iter()
        .enumerate()
        .map(|(i, spec)| NetPort::open(&format!("node{i}"), spec, RxLayout::DasQueues(2), 0, &end))
        .collect::<Result<Vec<_>>>()?;
    let mut out_net = match &args.to {
        Some(spec) => Some(NetPort::open("output", spec, RxLayout::None, 1, &end)?),
        None => None,
    };
    let mut out_file: Box<dyn Port> = match &args.out {
        Some(path) => Box::new(
            PcapWriterPort::create("output", path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        ),
        None => Box::new(NullPort::new("output", 1)),
    };
    let output = match &mut out_net {
        Some(net) => net.port.take_tx_queue(0)?,
        None => out_file.take_tx_queue(0)?,
    };
    let mut inputs = Vec::new();
    for p in &mut node_ports {
        inputs.push(p.port.take_rx_queue(0)?);
        inputs.push(p.port.take_rx_queue(1)?);
    }
    let handle = dedup::spawn(
        dedup,
        DedupIo {
            inputs,
            output,
            notices: (0..args.nodes.len()).map(|_| None).collect(),
        },
        BufPool::default(),
        args.stage.batch,
    )?;
    let report = handle.join().context("dedup")?;
    eprintln!(
        "das dedup: {} copies in, {} unique packets out ({} delivered first by a duplicate)",
        count(report.counters.received),
        count(report.counters.forwarded),
        count(report.first_from_duplicate)
    );
    let output = match &out_net {
        Some(net) => net.port.stats(),
        None => out_file.stats(),
    };
    let report = DedupStageReport {
        dedup: report,
        nodes: node_ports.iter().map(NetPort::report).collect(),
        output,
        output_port: out_net.as_ref().map(NetPort::report),
    };
    args.stage.write_report("dedup", &report)?;
    Ok(ExitCode::SUCCESS)
}
