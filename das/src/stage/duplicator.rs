//! `das duplicator`: the duplicator D-Stage as a process, between an ingress port and
//! one port per IDS node.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use dataplane::BufPool;
use dataplane::afpacket::RxLayout;
use duplicator::{Duplicator, DuplicatorConfig, DuplicatorReport, GuardConfig, NodeOutput, Scheme};

use super::StageArgs;
use super::ports::{NetPort, PortReport, PortSpec};
use crate::report::count;

/// Options of `das duplicator`.
#[derive(Debug, Args)]
#[command(after_help = "\
Each node port carries both copies of the node's jobs: the outer destination MAC \
02:44:41:53:NN:QQ names node NN and queue QQ (0 primaries, 1 duplicates), and the \
node's port steers each copy to its queue by it. The overload guard and the hedged \
scheme read the nodes' queues, which a separate process cannot see: here the guard \
never trips and hedged is refused.")]
pub struct DuplicatorArgs {
    /// Where the traffic comes in: afpacket:IFACE, afxdp:IFACE or dpdk:NAME.
    #[arg(long = "in", value_name = "PORT")]
    input: PortSpec,

    /// The port towards node i, once per node in node order: afpacket:IFACE,
    /// afxdp:IFACE or dpdk:NAME.
    #[arg(long = "node", value_name = "PORT", required = true)]
    nodes: Vec<PortSpec>,

    /// Duplication scheme: single, clone, clone-prio or das.
    #[arg(long, default_value = "das", value_name = "SCHEME")]
    scheme: Scheme,

    /// This duplicator's id (0 to 254), stamped in every copy: job ids are unique per
    /// duplicator.
    #[arg(long, default_value_t = 0, value_name = "N")]
    id: u8,

    #[command(flatten)]
    stage: StageArgs,
}

/// What `das duplicator` did.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DuplicatorStageReport {
    /// The duplicator's counters.
    pub duplicator: DuplicatorReport,
    /// The ingress port.
    pub input: PortReport,
    /// The port towards each node.
    pub nodes: Vec<PortReport>,
}

/// Runs `das duplicator`.
pub fn run(args: DuplicatorArgs) -> Result<ExitCode> {
    if args.scheme == Scheme::Hedged {
        bail!("--scheme hedged needs the nodes' queue depths, which only `das run` sees");
    }
    if args.id == 255 {
        bail!("--id 255 is reserved (it marks frames without a duplicator)");
    }
    let specs: Vec<&PortSpec> = std::iter::once(&args.input).chain(&args.nodes).collect();
    let ports = args.stage.ports(&specs)?;
    let mut input = ports.open("input", &args.input, RxLayout::Fanout(1), 0)?;
    let mut node_ports = args
        .nodes
        .iter()
        .enumerate()
        .map(|(i, spec)| ports.open(&format!("node{i}"), spec, RxLayout::None, 2))
        .collect::<Result<Vec<_>>>()?;
    let outputs = node_ports
        .iter_mut()
        .map(|p| {
            Ok(NodeOutput {
                primary: p.tx(0)?,
                duplicate: p.tx(1)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let duplicator = Duplicator::new(
        DuplicatorConfig {
            batch: args.stage.batch,
            guard: (args.scheme == Scheme::Das).then(GuardConfig::default),
            ..DuplicatorConfig::new(args.id, args.nodes.len(), args.scheme)
        },
        outputs,
    )?;
    let pool = BufPool::default();
    let handle = duplicator::spawn(duplicator, input.rx(0)?, pool, args.stage.batch)?;
    args.stage.ready("duplicator");
    let report = handle.join().context("duplicator")?;
    NetPort::wait_until_read("duplicator", &node_ports);
    eprintln!(
        "das duplicator: {} packets in, {} primaries and {} duplicates out to {} nodes",
        count(report.counters.received),
        count(report.counters.forwarded),
        count(report.duplicates),
        args.nodes.len()
    );
    let report = DuplicatorStageReport {
        duplicator: report,
        input: input.report(),
        nodes: node_ports.iter().map(NetPort::report).collect(),
    };
    args.stage.write_report("duplicator", &report)?;
    Ok(ExitCode::SUCCESS)
}
