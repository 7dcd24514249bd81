//! `das bench`: measurements of one node's scheduling (the paper's Fig. 9a), of
//! node independence under a straggler, and of one network port's receive rate
//! (`port-rx`, in `port_rx_bench`).
//!
//! Both drive nodes directly: feeder threads write job copies into the nodes' queues
//! (paced, or as fast as the queues take them) and the nodes run the fixed-cost `Spin`
//! function; goodput is read from the nodes' live counters over a measurement window.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use dataplane::clock::{monotonic_ns, now_ns};
use dataplane::health::NodeHealth;
use dataplane::meta::{self, CopyKind, JobId, JobMeta, Priority, Steering};
use dataplane::null::NullPort;
use dataplane::port::{Port, send_all};
use dataplane::ring::{Overflow, RingPort, RingQueueConfig};
use dataplane::{Batch, BufPool, Doorbell, Idler, TxQueue};
use ids_worker::capacity::NodeCgroup;
use ids_worker::{
    NodeConfig, NodeHandle, NodeIo, NodeReport, RunWindow, SchedClass, SchedMode, Spin, Straggler,
    StragglerReport,
};

use crate::spec;

/// Options of `das bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// One node at loads from 10 % to 100 % of its capacity, primaries alone and with
    /// an equal stream of duplicates: how much the duplicate instance costs the primary
    /// (the paper's Fig. 9a), in both scheduling modes, and the wake-up latency.
    Node(NodeBenchArgs),
    /// Several nodes saturated with primaries, a straggler on node 0 for 60 % of the
    /// run: node 0 should lose the straggler's share, the others nothing.
    Straggler(StragglerBenchArgs),
    /// The receive rate of one network port: frames and drops per second on one
    /// receive queue, busy-polled (for side-by-side runs with dpdk-testpmd rxonly).
    PortRx(crate::port_rx_bench::PortRxArgs),
}

/// Options of `das bench node`.
#[derive(Debug, Args)]
struct NodeBenchArgs {
    /// CPU cost of the network function per packet.
    #[arg(long, default_value = "5us", value_parser = spec::duration)]
    cost: Duration,

    /// Loads as fractions of the calibrated capacity.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0"
    )]
    loads: Vec<f64>,

    /// Scheduling modes to measure.
    #[arg(long, value_delimiter = ',', default_value = "os,inline")]
    modes: Vec<SchedMode>,

    /// Seconds each point runs (the first fifth is warm-up, not measured).
    #[arg(long, default_value_t = 1.0)]
    secs: f64,

    /// Runs per point, alternating without and with duplicates; medians are reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,

    /// CPU the node is pinned to (default: the last one; feeders stay off it).
    #[arg(long)]
    core: Option<usize>,

    /// In os mode, how long the primary spins after its queue empties before sleeping.
    #[arg(long, default_value = "50us", value_parser = spec::duration)]
    primary_spin: Duration,

    /// Write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
}

/// Options of `das bench straggler`.
#[derive(Debug, Args)]
struct StragglerBenchArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 2)]
    nodes: usize,

    /// CPU cost of the network function per packet.
    #[arg(long, default_value = "5us", value_parser = spec::duration)]
    cost: Duration,

    /// Share of node 0's CPU the straggler takes.
    #[arg(long, default_value_t = 0.5)]
    intensity: f64,

    /// Seconds the run lasts; the straggler runs from 20 % to 80 % of it.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,

    /// Give each node this fraction of a core with its own cgroup (nodes may then
    /// share a core); without it each node needs a core of its own.
    #[arg(long, value_parser = spec::fraction)]
    capacity: Option<f64>,

    /// CPUs the nodes are pinned to, round robin (default: the last CPU with
    /// --capacity, else one CPU per node from the last).
    #[arg(long, value_delimiter = ',')]
    cores: Vec<usize>,

    /// Scheduling mode of the nodes.
    #[arg(long, default_value = "inline")]
    mode: SchedMode,

    /// Write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
}

/// Runs `das bench`.
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    match args.which {
        Which::Node(a) => node_bench(a),
        Which::Straggler(a) => straggler_bench(a),
        Which::PortRx(a) => crate::port_rx_bench::run(a),
    }
}

/// One node under test with its feeders.
struct Rig {
    node: NodeHandle,
    feeders: Vec<JoinHandle<u64>>,
    stop: Arc<AtomicBool>,
}

/// What feeds one queue of a node.
#[derive(Clone, Copy)]
struct Feed {
    kind: CopyKind,
    /// Packets per second, or as fast as the queue takes them.
    pps: Option<f64>,
}

fn start_node(
    id: usize,
    config: NodeConfig,
    cost: Duration,
    feeds: [Option<Feed>; 2],
    cgroup: Option<Arc<NodeCgroup>>,
    origin_ns: u64,
    feeder_core: Option<usize>,
) -> Result<Rig> {
    let pool = BufPool::default();
    let mut input = RingPort::new(
        &format!("bench->node{id}"),
        &[
            RingQueueConfig::new(1024, Overflow::Backpressure),
            RingQueueConfig::new(1024, Overflow::DropOldest),
        ],
    )?;
    let mut output = NullPort::new(&format!("node{id}->null"), 2);
    let io = NodeIo {
        primary_rx: vec![input.take_rx_queue(0)?],
        duplicate_rx: vec![input.take_rx_queue(1)?],
        rescue_rx: Vec::new(),
        primary_tx: output.take_tx_queue(0)?,
        duplicate_tx: output.take_tx_queue(1)?,
        notices: None,
        primary_notices: None,
        health: NodeHealth::new(id + 1),
        origin_ns,
        cgroup,
    };
    let node = ids_worker::spawn_node(
        config,
        Spin::new(cost, 0.0),
        Spin::new(cost, 0.0),
        io,
        &pool,
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut feeders = Vec::new();
    for (q, feed) in feeds.into_iter().enumerate() {
        let Some(feed) = feed else { continue };
        let tx = input.take_tx_queue(q)?;
        let (pool, stop) = (pool.clone(), stop.clone());
        feeders.push(
            std::thread::Builder::new()
                .name(format!("feed{id}-{q}"))
                .spawn(move || feeder(tx, feed, pool, stop, feeder_core))?,
        );
    }
    Ok(Rig {
        node,
        feeders,
        stop,
    })
}

/// Writes job copies into `tx` at the feed's pace until `stop`; returns packets sent.
fn feeder(
    mut tx: Box<dyn TxQueue>,
    feed: Feed,
    pool: BufPool,
    stop: Arc<AtomicBool>,
    core: Option<usize>,
) -> u64 {
    if let Some(core) = core {
        ids_worker::placement::apply(ids_worker::Placement {
            core: Some(core),
            class: SchedClass::Normal,
        });
    }
    let frame = das_frame();
    let priority = match feed.kind {
        CopyKind::Primary => Priority::High,
        CopyKind::Duplicate => Priority::Low,
    };
    let mut bufs = pool.cache();
    let bell = Doorbell::for_current_thread();
    tx.set_doorbell(bell.clone());
    let mut idler = Idler::new(bell);
    let mut batch = Batch::with_capacity(32).expect("32 is a valid batch");
    let start = monotonic_ns();
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if let Some(pps) = feed.pps {
            let due = start + ((sent + 32) as f64 / pps * 1e9) as u64;
            let now = monotonic_ns();
            if now < due {
                std::thread::sleep(Duration::from_nanos((due - now).min(1_000_000)));
                continue;
            }
        }
        let ingress = now_ns();
        while !batch.is_full() {
            let Ok(mut pkt) = bufs.alloc_from(&frame) else {
                break;
            };
            let m = JobMeta {
                job: JobId(sent),
                kind: feed.kind,
                priority,
                ingress_ns: ingress,
                duplicator: 0,
                peer: None,
            };
            meta::encap(
                &mut pkt,
                &m,
                Steering {
                    node: 0,
                    queue: priority.queue(),
                },
            );
            let _ = batch.push(pkt);
            sent += 1;
        }
        if send_all(tx.as_mut(), &mut batch, &mut bufs, &mut idler).is_err() {
            break;
        }
    }
    sent
}

/// A minimal IPv4/UDP frame.
fn das_frame() -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[12] = 0x08;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f
}

impl Rig {
    /// Primaries and duplicates inspected so far.
    fn inspected(&self) -> (u64, u64) {
        let c = self.node.counters();
        (c.primary.inspected.get(), c.secondary.inspected.get())
    }

    fn finish(self) -> Result<NodeReport> {
        self.stop.store(true, Ordering::Relaxed);
        for f in self.feeders {
            let _ = f.join();
        }
        Ok(self.node.join()?)
    }
}

/// One point of the node benchmark.
#[derive(Debug, Clone, serde::Serialize)]
struct NodePoint {
    mode: SchedMode,
    load: f64,
    offered_pps: f64,
    primary_alone_pps: f64,
    primary_with_duplicates_pps: f64,
    ratio: f64,
    duplicates_inspected_pps: f64,
    primary_wake_latency_p50_us: f64,
    primary_wake_latency_p99_us: f64,
}

/// Runs one node for `secs` with `feeds`; returns inspected rates (primary, secondary)
/// over the last four fifths, and the report.
fn measure(
    mode: SchedMode,
    core: Option<usize>,
    cost: Duration,
    feeds: [Option<Feed>; 2],
    secs: f64,
    feeder_core: Option<usize>,
    primary_spin: Duration,
) -> Result<((f64, f64), NodeReport)> {
    let config = NodeConfig {
        mode,
        depth_interval: Duration::ZERO,
        primary_spin,
        ..NodeConfig::new(0, core)
    };
    let rig = start_node(0, config, cost, feeds, None, monotonic_ns(), feeder_core)?;
    std::thread::sleep(Duration::from_secs_f64(secs / 5.0));
    let (p0, s0, t0) = {
        let (p, s) = rig.inspected();
        (p, s, monotonic_ns())
    };
    std::thread::sleep(Duration::from_secs_f64(secs * 4.0 / 5.0));
    let (p1, s1, t1) = {
        let (p, s) = rig.inspected();
        (p, s, monotonic_ns())
    };
    let report = rig.finish()?;
    let dt = (t1 - t0) as f64 / 1e9;
    Ok((((p1 - p0) as f64 / dt, (s1 - s0) as f64 / dt), report))
}

fn node_bench(a: NodeBenchArgs) -> Result<ExitCode> {
    let cpus = crate::spec::all_cpus();
    let core = a.core.or(cpus.last().copied());
    let feeder_core = cpus.iter().copied().find(|&c| Some(c) != core);
    if a.loads.iter().any(|&l| !(l > 0.0 && l <= 1.5)) {
        bail!("--loads must be fractions in (0, 1.5]");
    }
    // Calibration: primaries as fast as the node takes them.
    let saturate = [
        Some(Feed {
            kind: CopyKind::Primary,
            pps: None,
        }),
        None,
    ];
    let ((capacity, _), _) = measure(
        SchedMode::Inline,
        core,
        a.cost,
        saturate,
        a.secs,
        feeder_core,
        a.primary_spin,
    )?;
    println!(
        "das bench node: function cost {:?}, node on CPU {}, measured capacity {:.0} packets/s ({:.2} us per packet)",
        a.cost,
        core.map_or("any".into(), |c| c.to_string()),
        capacity,
        1e6 / capacity
    );
    println!(
        "{:<7} {:>5} {:>12} {:>14} {:>16} {:>7} {:>13} {:>16}",
        "mode",
        "load",
        "offered",
        "primary alone",
        "with duplicates",
        "ratio",
        "dups served",
        "wake p50/p99 us"
    );
    let mut points = Vec::new();
    for &mode in &a.modes {
        for &load in &a.loads {
            let pps = load * capacity;
            let primaries = Some(Feed {
                kind: CopyKind::Primary,
                pps: Some(pps),
            });
            let duplicates = Some(Feed {
                kind: CopyKind::Duplicate,
                pps: Some(pps),
            });
            let (mut alone, mut with, mut dups, mut wake_p50, mut wake_p99) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..a.repeat.max(1) {
                let ((p, _), _) = measure(
                    mode,
                    core,
                    a.cost,
                    [primaries, None],
                    a.secs,
                    feeder_core,
                    a.primary_spin,
                )?;
                alone.push(p);
                let ((p, d), report) = measure(
                    mode,
                    core,
                    a.cost,
                    [primaries, duplicates],
                    a.secs,
                    feeder_core,
                    a.primary_spin,
                )?;
                with.push(p);
                dups.push(d);
                let wake = report
                    .threads
                    .iter()
                    .find(|t| t.serves.contains(&ids_worker::Role::Primary))
                    .map(|t| t.wake_latency.clone())
                    .unwrap_or_default();
                wake_p50.push(wake.p50_us);
                wake_p99.push(wake.p99_us);
            }
            let (alone, with, dups) = (median(&mut alone), median(&mut with), median(&mut dups));
            let wake = dataplane::latency::LatencyReport {
                p50_us: median(&mut wake_p50),
                p99_us: median(&mut wake_p99),
                ..Default::default()
            };
            let point = NodePoint {
                mode,
                load,
                offered_pps: pps,
                primary_alone_pps: alone,
                primary_with_duplicates_pps: with,
                ratio: with / alone,
                duplicates_inspected_pps: dups,
                primary_wake_latency_p50_us: wake.p50_us,
                primary_wake_latency_p99_us: wake.p99_us,
            };
            println!(
                "{:<7} {:>5.2} {:>12.0} {:>14.0} {:>16.0} {:>6.1}% {:>13.0} {:>8.1}/{:<7.1}",
                mode.name(),
                load,
                pps,
                alone,
                with,
                point.ratio * 100.0,
                dups,
                wake.p50_us,
                wake.p99_us
            );
            points.push(point);
        }
    }
    let worst = points.iter().map(|p| p.ratio).fold(f64::INFINITY, f64::min);
    println!(
        "worst ratio of primary goodput with duplicates to without: {:.1} %",
        worst * 100.0
    );
    if let Some(path) = &a.json {
        let doc = serde_json::json!({ "capacity_pps": capacity, "cost_ns": a.cost.as_nanos() as u64, "points": points });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The median of `v` (0 when empty).
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Per-node rates of the straggler benchmark.
#[derive(Debug, Clone, serde::Serialize)]
struct NodeRates {
    node: usize,
    outside_pps: f64,
    inside_pps: f64,
    change: f64,
    timeline_pps: Vec<f64>,
}

fn straggler_bench(a: StragglerBenchArgs) -> Result<ExitCode> {
    if a.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    if !(a.intensity > 0.0 && a.intensity <= 1.0) {
        bail!("--intensity must be in (0, 1]");
    }
    let cpus = crate::spec::all_cpus();
    let cores: Vec<usize> = if !a.cores.is_empty() {
        a.cores.clone()
    } else if a.capacity.is_some() {
        vec![*cpus.last().context("no CPU")?]
    } else {
        cpus.iter().rev().take(a.nodes).copied().collect()
    };
    let node_core = |i: usize| cores[i % cores.len()];
    let feeder_core = cpus.iter().copied().find(|c| !cores.contains(c));
    let origin = monotonic_ns();
    let window = RunWindow {
        start: Duration::from_secs_f64(a.secs * 0.2),
        duration: Duration::from_secs_f64(a.secs * 0.6),
    };
    let mut rigs = Vec::new();
    let mut cgroups = Vec::new();
    for i in 0..a.nodes {
        let cgroup = match a.capacity {
            Some(f) => Some(Arc::new(
                NodeCgroup::create(i, f, a.mode == SchedMode::Os).context("--capacity")?,
            )),
            None => None,
        };
        cgroups.push(cgroup.clone());
        let config = NodeConfig {
            mode: a.mode,
            depth_interval: Duration::ZERO,
            ..NodeConfig::new(i, Some(node_core(i)))
        };
        let feeds = [
            Some(Feed {
                kind: CopyKind::Primary,
                pps: None,
            }),
            None,
        ];
        rigs.push(start_node(
            i,
            config,
            a.cost,
            feeds,
            cgroup,
            origin,
            feeder_core,
        )?);
    }
    let class = a.mode.straggler_class();
    let straggler = Straggler {
        node: 0,
        window,
        intensity: a.intensity,
    };
    let hog = ids_worker::spawn_straggler(
        straggler,
        Some(node_core(0)),
        class,
        cgroups[0].clone(),
        origin,
    )?;
    // Sample every node's primary count every 100 ms.
    let step_ns = 100_000_000u64;
    let steps = (a.secs * 10.0).round() as usize;
    let mut samples = vec![Vec::with_capacity(steps + 1); a.nodes];
    for step in 0..=steps {
        ids_worker::fault::sleep_until(origin + step as u64 * step_ns);
        for (series, rig) in samples.iter_mut().zip(&rigs) {
            series.push(rig.inspected().0);
        }
    }
    let hog: StragglerReport = hog.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
    for rig in rigs {
        rig.finish()?;
    }
    drop(cgroups);
    // A step counts as inside (outside) when it lies wholly inside (outside) the window;
    // the first second is warm-up.
    let (w0, w1) = (window.start.as_nanos() as u64, window.end_ns());
    let warmup = 10.min(steps / 5);
    let mut rates = Vec::new();
    println!(
        "das bench straggler: {} nodes ({} scheduling{}), cost {:?}, straggler on node 0 taking {:.0} % from {:.1} s to {:.1} s (it took {:.0} %)",
        a.nodes,
        a.mode.name(),
        a.capacity.map_or(String::new(), |f| format!(
            ", {:.0} % of a core each",
            f * 100.0
        )),
        a.cost,
        a.intensity * 100.0,
        w0 as f64 / 1e9,
        w1 as f64 / 1e9,
        hog.achieved_intensity * 100.0
    );
    println!(
        "{:<5} {:>16} {:>16} {:>8}",
        "node", "outside (pps)", "inside (pps)", "change"
    );
    for (node, s) in samples.iter().enumerate() {
        let (mut inside, mut outside) = (Vec::new(), Vec::new());
        let timeline: Vec<f64> = s
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 * 1e9 / step_ns as f64)
            .collect();
        for (k, &rate) in timeline.iter().enumerate().skip(warmup) {
            let (t0, t1) = (k as u64 * step_ns, (k as u64 + 1) * step_ns);
            if t0 >= w0 && t1 <= w1 {
                inside.push(rate);
            } else if t1 <= w0 || t0 >= w1 {
                outside.push(rate);
            }
        }
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let (o, i) = (mean(&outside), mean(&inside));
        let change = if o > 0.0 { i / o - 1.0 } else { 0.0 };
        println!("{node:<5} {o:>16.0} {i:>16.0} {:>7.1}%", change * 100.0);
        rates.push(NodeRates {
            node,
            outside_pps: o,
            inside_pps: i,
            change,
            timeline_pps: timeline,
        });
    }
    if let Some(path) = &a.json {
        let doc = serde_json::json!({ "straggler": hog, "nodes": rates });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
