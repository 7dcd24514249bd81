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
use super::notices::{self, NoticesSent};
use super::ports::{NetPort, PortReport, PortSpec};
use crate::report::count;
use dataplane::completion::completion_channel;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Options of `das dedup`.
#[derive(Debug, Args)]
pub struct DedupArgs {
    /// The port from node i, once per node in node order: afpacket:IFACE, afxdp:IFACE
    /// or dpdk:NAME.
    #[arg(long = "node", value_name = "PORT", required = true)]
    nodes: Vec<PortSpec>,

    /// Write the unique packets (the original frames) to this pcap file.
    #[arg(long, value_name = "FILE", conflicts_with = "to")]
    out: Option<PathBuf>,

    /// Send the unique packets (the original frames) out of this port:
    /// afpacket:IFACE, afxdp:IFACE or dpdk:NAME.
    #[arg(long, value_name = "PORT")]
    to: Option<PortSpec>,

    /// Send the nodes no completion notices (by default a node learns which of its
    /// duplicates were already delivered by their primary, and purges them).
    #[arg(long)]
    no_notices: bool,

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
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DedupStageReport {
    /// Dedup's counters, UPP/sec and latency.
    pub dedup: DedupReport,
    /// Completion notices sent to each node (none with --no-notices).
    pub notices: Option<Vec<NoticesSent>>,
    /// The port from each node.
    pub nodes: Vec<PortReport>,
    /// The output's counters.
    pub output: PortStats,
    /// The output port's interface, when the output is a port.
    pub output_port: Option<PortReport>,
}

/// Runs `das dedup`.
pub fn run(args: DedupArgs) -> Result<ExitCode> {
    let dedup = Dedup::new(DedupConfig {
        window: args.window,
        upp_interval: Duration::from_millis(args.upp_interval_ms.max(1)),
        notify: !args.no_notices,
        content: None,
    })?;
    let specs: Vec<&PortSpec> = args.nodes.iter().chain(&args.to).collect();
    let ports = args.stage.ports(&specs)?;
    let mut node_ports = args
        .nodes
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let tx = usize::from(!args.no_notices);
            ports.open(&format!("node{i}"), spec, RxLayout::DasQueues(2), tx)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out_net = match &args.to {
        Some(spec) => Some(ports.open("output", spec, RxLayout::None, 1)?),
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
        Some(net) => net.tx(0)?,
        None => out_file.take_tx_queue(0)?,
    };
    let mut inputs = Vec::new();
    for p in &mut node_ports {
        inputs.push(p.rx(0)?);
        inputs.push(p.rx(1)?);
    }
    let pool = BufPool::default();
    let mut senders = Vec::new();
    let mut notice_thread = None;
    let done = Arc::new(AtomicBool::new(false));
    if args.no_notices {
        senders.resize_with(args.nodes.len(), || None);
    } else {
        let mut channels = Vec::new();
        let mut links = Vec::new();
        for p in &mut node_ports {
            let (tx, rx) = completion_channel(notices::CHANNEL_CAPACITY);
            senders.push(Some(tx));
            channels.push(rx);
            links.push(p.tx(0)?);
        }
        notice_thread = Some(notices::spawn_sender(
            channels,
            links,
            done.clone(),
            pool.clone(),
        )?);
    }
    let handle = dedup::spawn(
        dedup,
        DedupIo {
            inputs,
            output,
            notices: senders,
        },
        pool,
        args.stage.batch,
    )?;
    args.stage.ready("dedup");
    let report = handle.join().context("dedup")?;
    NetPort::wait_until_read("dedup", &out_net);
    done.store(true, Ordering::Release);
    let notices = notice_thread
        .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        .transpose()
        .context("completion notices")?;
    eprintln!(
        "das dedup: {} copies in, {} unique packets out ({} delivered first by a duplicate)",
        count(report.counters.received),
        count(report.counters.forwarded),
        count(report.first_from_duplicate)
    );
    let output = match &out_net {
        Some(net) => net.stats(),
        None => out_file.stats(),
    };
    let report = DedupStageReport {
        dedup: report,
        notices,
        nodes: node_ports.iter().map(NetPort::report).collect(),
        output,
        output_port: out_net.as_ref().map(NetPort::report),
    };
    args.stage.write_report("dedup", &report)?;
    Ok(ExitCode::SUCCESS)
}
