//! `das duplicator`: the duplicator D-Stage as a process, between an ingress port and
//! one port per IDS node.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use dataplane::BufPool;
use dataplane::afpacket::RxLayout;
use dataplane::health::NodeHealth;
use dataplane::input_end::InputEnd;
use dataplane::status::RemoteQueueView;
use duplicator::{Duplicator, DuplicatorConfig, DuplicatorReport, GuardConfig, NodeOutput, Scheme};

use super::StageArgs;
use super::ports::{NetPort, PortReport, PortSpec};
use super::status::{self, StatusReceived};
use crate::report::count;

/// Options of `das duplicator`.
#[derive(Debug, Args)]
#[command(after_help = "\
Each node port carries both copies of the node's jobs: the outer destination MAC \
02:44:41:53:NN:QQ names node NN and queue QQ (0 primaries, 1 duplicates), and the \
node's port steers each copy to its queue by it. Each worker sends a status frame \
back every 10 ms (its heartbeat); a node heard from and then silent for \
--node-timeout is marked down, and the duplicator sends its flows' primaries to their \
secondary node instead (failover). The status frames also say how many duplicates the \
node took: with DAS, the overload guard stops sending duplicates to a node that took \
fewer than half of those sent in the last 50 ms, for a back-off that doubles while \
it lasts (50 ms to 1 s), then tries again. The hedged scheme reads the nodes' queue \
depths, which a separate process cannot see: it is refused.")]
pub struct DuplicatorArgs {
    /// Where the traffic comes in: afpacket:IFACE, afxdp:IFACE, netmap:IFACE or
    /// dpdk:NAME.
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

    /// A node whose status frames stop for this long is taken for dead and its flows
    /// fail over to their duplicates; 0 turns the watch off (and with it the overload
    /// guard, which reads the same frames).
    #[arg(long, default_value = "500ms", value_name = "DURATION", value_parser = crate::spec::duration)]
    node_timeout: Duration,

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
    /// What each node said of itself (status frames; none with --node-timeout 0).
    pub node_status: Vec<StatusReceived>,
    /// The ports status frames came in on.
    pub status_ports: Vec<PortReport>,
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
    // The nodes' status frames end when the duplicator does (they would otherwise keep
    // its input alive). A DPDK node port takes them on its receive queue.
    let status_end = InputEnd::on_stop();
    let mut node_ports = args
        .nodes
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let rx = match spec.interface() {
                None => RxLayout::Status,
                Some(_) => RxLayout::None,
            };
            ports.open_until(&format!("node{i}"), spec, rx, 2, &status_end)
        })
        .collect::<Result<Vec<_>>>()?;
    let outputs = node_ports
        .iter_mut()
        .map(|p| {
            Ok(NodeOutput {
                primary: p.tx(0)?,
                duplicate: p.tx(1)?,
                // A node in another process does not tell its free room.
                rescue: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // The guard judges nodes by their status frames, which come every 10 ms: it looks
    // every 50 ms.
    let guard = GuardConfig {
        interval: Duration::from_millis(50),
        ..GuardConfig::default()
    };
    let duplicator = Duplicator::new(
        DuplicatorConfig {
            batch: args.stage.batch,
            guard: (args.scheme == Scheme::Das && !args.node_timeout.is_zero()).then_some(guard),
            ..DuplicatorConfig::new(args.id, args.nodes.len(), args.scheme)
        },
        outputs,
    )?;
    let pool = BufPool::default();
    // Each node's status frames: on its DPDK node port, read even with the watch off
    // (a memif peer waits for room), or on an AF_PACKET socket of their own beside a
    // kernel node port.
    let watch = !args.node_timeout.is_zero();
    let health = NodeHealth::new(args.nodes.len());
    let done = Arc::new(AtomicBool::new(false));
    let mut status_ports = Vec::new();
    let mut links = Vec::new();
    for (i, (spec, port)) in args.nodes.iter().zip(&mut node_ports).enumerate() {
        links.push(match spec.interface() {
            None => Some(port.rx(0)?),
            Some(iface) if watch => {
                let spec = PortSpec::AfPacket(iface.to_string());
                let name = format!("status{i}");
                let mut port = ports.open_until(&name, &spec, RxLayout::Status, 0, &status_end)?;
                let link = port.rx(0)?;
                status_ports.push(port);
                Some(link)
            }
            Some(_) => None,
        });
    }
    let views: Vec<Arc<RemoteQueueView>> = links.iter().map(|_| Arc::default()).collect();
    let watcher = links
        .iter()
        .any(Option::is_some)
        .then(|| {
            status::spawn_watcher(
                links,
                views.clone(),
                health.clone(),
                watch.then_some(args.node_timeout),
                done.clone(),
                pool.clone(),
            )
        })
        .transpose()
        .context("starting the status watcher")?;
    let duplicator = if watch {
        duplicator.with_health(health).with_remote_queues(views)
    } else {
        duplicator
    };
    let handle = duplicator::spawn(duplicator, input.rx(0)?, pool, args.stage.batch)?;
    args.stage.ready("duplicator");
    let report = handle.join().context("duplicator")?;
    done.store(true, Ordering::Release);
    status_end.stop();
    let node_status = match watcher {
        Some(w) => w
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
            .context("status frames")?,
        None => Vec::new(),
    };
    NetPort::wait_until_read("duplicator", &node_ports);
    for (node, s) in node_status.iter().enumerate() {
        if let Some(ms) = s.down_after_ms {
            eprintln!(
                "das duplicator: node {node} sent no status for {:?}: marked down {ms:.0} ms after its first; its flows failed over to their duplicates",
                args.node_timeout
            );
        }
    }
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
        node_status,
        status_ports: status_ports.iter().map(NetPort::report).collect(),
    };
    args.stage.write_report("duplicator", &report)?;
    Ok(ExitCode::SUCCESS)
}
