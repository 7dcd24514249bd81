//! `das worker`: one IDS node as a process: a port from the duplicator (primaries on
//! queue 0, duplicates on queue 1, steered by the kernel) and a port to dedup.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use dataplane::BufPool;
use dataplane::afpacket::RxLayout;
use dataplane::health::NodeHealth;
use dataplane::input_end::InputEnd;
use ids_worker::capacity::NodeCgroup;
use ids_worker::{NodeConfig, NodeIo, NodeReport, SchedMode, StragglerReport};

use super::StageArgs;
use super::notices::{self, NoticesReceived};
use super::ports::{NetPort, PortReport, PortSpec};
use super::status;
use crate::alerts::{self, AlertSummary, ClusterAlerts};
use crate::pipeline::FunctionArgs;
use crate::report::count;
use crate::spec::{self, FunctionSpec};
use dataplane::completion::completion_channels;

/// Options of `das worker`.
#[derive(Debug, Args)]
#[command(after_help = "\
The input port steers each copy by its outer destination MAC: queue 0 (primaries) and \
queue 1 (duplicates) are two sockets with their own kernel rings, each a bounded queue \
that drops new frames when full (counted as ring_full). Inspected packets leave on the \
output port with their das header, for dedup.")]
pub struct WorkerArgs {
    /// This node's index in the cluster (the NN of the MACs its copies carry).
    #[arg(long, value_name = "N")]
    index: usize,

    /// Where copies come from the duplicator: afpacket:IFACE, afxdp:IFACE or
    /// dpdk:NAME.
    #[arg(long = "in", value_name = "PORT")]
    input: PortSpec,

    /// Where inspected packets go to dedup (and completion notices come back from
    /// it): afpacket:IFACE, afxdp:IFACE or dpdk:NAME.
    #[arg(long = "out", value_name = "PORT")]
    output: PortSpec,

    /// How the node shares its core between its instances: inline or os.
    #[arg(long, default_value = "inline", value_name = "MODE")]
    sched: SchedMode,

    /// Duplicates an inline node inspects per turn.
    #[arg(long, default_value_t = ids_worker::node::DEFAULT_DUPLICATE_BATCH, value_name = "N")]
    dup_batch: usize,

    /// Pin the node's threads to this CPU (default: not pinned).
    #[arg(long, value_name = "CPU")]
    core: Option<usize>,

    /// Give the node this fraction of a core with its own cgroup (cgroup v1, root).
    #[arg(long, value_name = "F", value_parser = spec::fraction)]
    node_capacity: Option<f64>,

    /// A CPU-hungry background task on the node's core: START:DURATION:INTENSITY,
    /// e.g. 1s:3s:0.5, counted from the first packet the node receives.
    #[arg(long, value_name = "SPEC")]
    straggler: Option<String>,

    #[command(flatten)]
    function: FunctionArgs,

    /// Take no completion notices from dedup: duplicates whose primary was already
    /// delivered are inspected anyway (by default they are purged before inspection).
    #[arg(long)]
    no_purge: bool,

    /// Purge late primaries too: while the primary queue is backlogged (a receive
    /// burst fills a whole batch), a primary whose duplicate was delivered first is
    /// removed before inspection, so a straggling node spends its cycles on jobs
    /// nobody delivered yet (its primary instance then misses those packets of its
    /// flows).
    #[arg(long, conflicts_with = "no_purge")]
    purge_primaries: bool,

    /// Write this node's alerts (one per job and rule) in Snort's alert_json format.
    #[arg(long, value_name = "FILE")]
    alert_json: Option<PathBuf>,

    /// Write every alert both instances raised, with its job and copy, as JSON lines:
    /// what `das experiment` merges across nodes into the cluster's alerts (an alert
    /// raised by both copies of a job, on two nodes, counts once).
    #[arg(long, value_name = "FILE")]
    raised_alerts: Option<PathBuf>,

    #[command(flatten)]
    stage: StageArgs,
}

/// What `das worker` did.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct WorkerReport {
    /// The node's counters.
    pub node: NodeReport,
    /// Completion notices from dedup (none with --no-purge, unless they come on a
    /// DPDK output, which reads and discards them).
    pub notices: Option<NoticesReceived>,
    /// The straggler, if one ran.
    pub straggler: Option<StragglerReport>,
    /// Alerts, with --nf ids.
    pub alerts: Option<AlertSummary>,
    /// The port from the duplicator.
    pub input: PortReport,
    /// The port to dedup.
    pub output: PortReport,
    /// The socket completion notices came in on, beside a kernel output (none with
    /// --no-purge; a DPDK output takes them on its own receive queue and counts them
    /// in `output`).
    pub notice_port: Option<PortReport>,
    /// Status frames sent to the duplicator (the node's heartbeat).
    pub status_sent: u64,
    /// The socket status frames left from, beside a kernel input (a DPDK input sends
    /// them itself and counts them in `input`).
    pub status_port: Option<PortReport>,
}

/// Runs `das worker`.
pub fn run(args: WorkerArgs) -> Result<ExitCode> {
    if args.index > 254 {
        bail!("--index must be at most 254");
    }
    if args.function.nf != FunctionSpec::Ids
        && (!args.function.rules.is_empty()
            || args.alert_json.is_some()
            || args.raised_alerts.is_some())
    {
        bail!("--rules, --alert-json and --raised-alerts need --nf ids");
    }
    let straggler = args
        .straggler
        .as_deref()
        .map(|s| spec::straggler(&format!("{}:{s}", args.index)))
        .transpose()
        .map_err(anyhow::Error::msg)
        .context("--straggler")?;
    let (function, ids) = args.function.load()?;
    let cgroup = args
        .node_capacity
        .map(|f| NodeCgroup::create(args.index, f, args.sched == SchedMode::Os).map(Arc::new))
        .transpose()
        .context("--node-capacity")?;
    let ports = args.stage.ports(&[&args.input, &args.output])?;
    // A DPDK input also sends the node's status frames.
    let status_tx = usize::from(args.input.interface().is_none());
    let mut input = ports.open("input", &args.input, RxLayout::DasQueues(2), status_tx)?;
    let pool = BufPool::default();
    // Notices come back on the output's link. A DPDK output takes them on its own
    // receive queue, which is read even with --no-purge (a memif peer waits for room
    // there); beside a kernel output they come on an AF_PACKET socket of their own on
    // its interface (whatever the backend: an XDP program passes them to the kernel).
    let output_rx = match args.output.interface() {
        None => RxLayout::Notices,
        Some(_) => RxLayout::None,
    };
    let mut output = ports.open("output", &args.output, output_rx, 2)?;
    let instances = if args.purge_primaries { 2 } else { 1 };
    let (notice_tx, notice_rx) = (!args.no_purge)
        .then(|| completion_channels(notices::CHANNEL_CAPACITY, instances))
        .unzip();
    let mut notice_rx = notice_rx.into_iter().flatten();
    let (notice_port, notice_link) = match args.output.interface() {
        None => (None, Some(output.rx(0)?)),
        Some(_) if args.no_purge => (None, None),
        Some(iface) => {
            let spec = PortSpec::AfPacket(iface.to_string());
            let mut port = ports.open("notices", &spec, RxLayout::Notices, 0)?;
            let link = port.rx(0)?;
            (Some(port), Some(link))
        }
    };
    let notice_thread = notice_link
        .map(|link| notices::spawn_receiver(link, notice_tx, pool.clone()))
        .transpose()?;
    // The node's heartbeat goes back to the duplicator on the input's link: on a DPDK
    // input from its transmit queue, beside a kernel input from an AF_PACKET socket of
    // its own on its interface (whatever the input's backend).
    let (status_port, status_link) = match args.input.interface() {
        None => (None, input.tx(0)?),
        Some(iface) => {
            let spec = PortSpec::AfPacket(iface.to_string());
            let mut port = ports.open("status", &spec, RxLayout::None, 1)?;
            let link = port.tx(0)?;
            (Some(port), link)
        }
    };
    let duplicate_rx = input.rx(1)?;
    let status_thread = status::spawn_reporter(
        status_link,
        args.index as u8,
        duplicate_rx.counters(),
        ports.end().clone(),
        pool.clone(),
    )
    .context("starting the status sender")?;
    let origin_ns = dataplane::clock::monotonic_ns();
    let io = NodeIo {
        primary_rx: vec![input.rx(0)?],
        duplicate_rx: vec![duplicate_rx],
        rescue_rx: Vec::new(),
        primary_tx: output.tx(0)?,
        duplicate_tx: output.tx(1)?,
        notices: notice_rx.next(),
        primary_notices: notice_rx.next(),
        health: NodeHealth::new(args.index + 1),
        origin_ns,
        cgroup: cgroup.clone(),
    };
    let config = NodeConfig {
        batch: args.stage.batch,
        duplicate_batch: args.dup_batch.min(args.stage.batch),
        mode: args.sched,
        ..NodeConfig::new(args.index, args.core)
    };
    let node = ids_worker::spawn_node(
        config,
        function.make(args.index, true),
        function.make(args.index, false),
        io,
        &pool,
    )?;
    args.stage.ready("worker");
    // The straggler's window counts from the first packet: the node starts before the
    // traffic does, by however long the launcher takes.
    let straggler = match straggler {
        Some(s) if first_packet(ports.end(), &node) => {
            let class = args.sched.straggler_class();
            let origin = dataplane::clock::monotonic_ns();
            Some(
                ids_worker::spawn_straggler(s, args.core, class, cgroup.clone(), origin)
                    .context("starting the straggler")?,
            )
        }
        _ => None,
    };
    let node = node.join().context("node")?;
    NetPort::wait_until_read("worker", [&output]);
    let notices = notice_thread
        .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        .transpose()
        .context("completion notices")?;
    let straggler = straggler.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
    let status_sent = status_thread
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
        .context("status frames")?;
    for w in node.threads.iter().flat_map(|t| &t.warnings) {
        eprintln!("das: warning: node {}: {w}", node.id);
    }
    let alerts = match &ids {
        Some((rules, sink)) => {
            let (raised, dropped) = sink.take();
            if let Some(path) = &args.raised_alerts {
                alerts::write_raised(&raised, path)?;
            }
            let found = ClusterAlerts::build(raised, dropped, &rules.detector);
            if let Some(path) = &args.alert_json {
                found.write(&rules.detector, path, true)?;
            }
            Some(found.summary)
        }
        None => None,
    };
    eprintln!(
        "das worker {}: inspected {} primaries and {} duplicates",
        args.index,
        count(node.primary.inspected),
        count(node.secondary.inspected)
    );
    let report = WorkerReport {
        node,
        notices,
        straggler,
        alerts,
        input: input.report(),
        output: output.report(),
        notice_port: notice_port.as_ref().map(NetPort::report),
        status_sent,
        status_port: status_port.as_ref().map(NetPort::report),
    };
    args.stage.write_report("worker", &report)?;
    Ok(ExitCode::SUCCESS)
}

/// Waits until the node's input saw its first packet: true; or the process was told to
/// stop, or the node stopped (a port failed), before any came: false.
fn first_packet(end: &InputEnd, node: &ids_worker::NodeHandle) -> bool {
    while !end.saw_traffic() {
        if end.is_stopped() || node.is_finished() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    true
}
