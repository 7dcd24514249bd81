//! `das experiment --topology netns`: every run of the cluster as one process per host,
//! each host a network namespace, linked by veth pairs, as `scripts/topology.sh` and
//! `scripts/cluster.sh` build them. The namespaces live as long as the experiment and
//! are removed when it ends, also on failure or on SIGINT/SIGTERM.
//!
//! Each run starts `das dedup`, the `das worker`s and `das duplicator` in their
//! namespaces, waits until each says it is ready, replays the experiment's traffic
//! from the source namespace with `das replay`, and reads the JSON reports the stages
//! write when their input has gone quiet. Its accounting checks every link (what one
//! side sent = what the other received + what the kernel dropped, with the reason)
//! and every stage (received = forwarded + dropped).
//!
//! Over DPDK (`--ports dpdk`) each stage starts its own EAL from a configuration folder
//! the experiment writes for its host (`OUT/netns/dpdk/HOST/`), and each of its ports
//! is a `net_af_packet` virtual device on the host's own veth end: the frames cross the
//! same links as over AF_PACKET and AF_XDP. The stages need no start-up order beyond
//! the others' (nothing connects, unlike `net_memif`), and leave nothing behind: no
//! socket file, and with `--no-shconf --no-telemetry` no DPDK runtime folder (those of
//! stages killed while their EAL started are removed with the namespaces).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use dataplane::memory::TimedFrame;
use dataplane::pcap::PcapWriter;
use dataplane::port::PortStats;
use duplicator::Scheme;
use serde::de::DeserializeOwned;

use super::measure::{RunFigures, node_warnings};
use super::spec::{NetPorts, Plan};
use crate::alerts::{self, RaisedAlert, RuleSource};
use crate::report::Check;
use crate::stage::ports::PortReport;
use crate::stage::{DedupStageReport, DuplicatorStageReport, ReplayReport, WorkerReport};

/// How long a stage may take to open its ports.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long after the traffic a stage's input counts as ended.
const IDLE_EXIT: &str = "1s";

/// Where DPDK keeps the runtime folder of each file prefix.
const DPDK_RUNTIME: &str = "/var/run/dpdk";

/// The five hosts (source, duplicator, N nodes, dedup) as network namespaces. Removed
/// when dropped.
pub struct Topology {
    prefix: String,
    nodes: usize,
}

impl Topology {
    /// Fails with what is missing unless this process may build namespaces.
    pub fn preflight() -> Result<()> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        if !root {
            bail!("--topology netns needs root (network namespaces, veth pairs, raw sockets)");
        }
        if Command::new("ip").arg("-V").output().is_err() {
            bail!("--topology netns needs ip (iproute2): apt-get install iproute2");
        }
        if Command::new("nsenter").arg("-V").output().is_err() {
            bail!("--topology netns needs nsenter (util-linux): apt-get install util-linux");
        }
        Ok(())
    }

    /// Builds the hosts and their links.
    fn up(nodes: usize) -> Result<Self> {
        let topology = Topology {
            prefix: format!("dasx{}-", std::process::id()),
            nodes,
        };
        topology.down();
        for host in topology.hosts() {
            let ns = topology.ns(&host);
            ip(&["netns", "add", &ns])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            run(Command::new("ip").args([
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ]))?;
        }
        topology.link("src", "out", "dup", "in", 1500)?;
        for i in 0..nodes {
            let node = format!("ids{i}");
            topology.link("dup", &node, &node, "dup", 1600)?;
            topology.link(&node, "dedup", "dedup", &node, 1600)?;
        }
        Ok(topology)
    }

    fn hosts(&self) -> Vec<String> {
        let mut hosts = vec!["src".to_string(), "dup".into(), "dedup".into()];
        hosts.extend((0..self.nodes).map(|i| format!("ids{i}")));
        hosts
    }

    /// The namespace of `host`.
    fn ns(&self, host: &str) -> String {
        format!("{}{host}", self.prefix)
    }

    fn link(&self, a: &str, a_if: &str, b: &str, b_if: &str, mtu: u32) -> Result<()> {
        let (a, b, mtu) = (self.ns(a), self.ns(b), mtu.to_string());
        ip(&[
            "link", "add", a_if, "netns", &a, "mtu", &mtu, "type", "veth", "peer", "name", b_if,
            "netns", &b, "mtu", &mtu,
        ])?;
        ip(&["-n", &a, "link", "set", a_if, "up"])?;
        ip(&["-n", &b, "link", "set", b_if, "up"])
    }

    /// The DPDK runtime folder of the stage on `host` (its EAL's file prefix is the
    /// namespace's name).
    fn dpdk_runtime_dir(&self, host: &str) -> PathBuf {
        Path::new(DPDK_RUNTIME).join(self.ns(host))
    }

    /// Stops whatever still runs in the namespaces and removes them (their veths go
    /// with them), and the DPDK runtime folders of their stages if any is left.
    fn down(&self) {
        for host in self.hosts() {
            let ns = self.ns(&host);
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).output();
                }
            }
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stderr(Stdio::null())
                .output();
            let _ = std::fs::remove_dir_all(self.dpdk_runtime_dir(&host));
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.down();
    }
}

/// Runs `ip ARGS`, failing with what it said.
fn ip(args: &[&str]) -> Result<()> {
    run(Command::new("ip").args(args))
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// What one run of the cluster offers.
pub struct NetRun {
    /// The scheme.
    pub scheme: Scheme,
    /// Packets per second the source offers.
    pub pps: f64,
    /// Packets in all.
    pub packets: u64,
    /// How long the source sends at most.
    pub duration: Duration,
    /// The straggler: (node, start, duration, intensity), counted from the node's
    /// first packet.
    pub straggler: Option<(usize, Duration, Duration, f64)>,
    /// A name for the run's folder of reports and logs.
    pub label: String,
}

/// What one run of the cluster across namespaces gave.
pub struct NetOutcome {
    /// The figures the experiment takes.
    pub figures: RunFigures,
    /// Every alert the nodes' instances raised, with job and copy.
    pub raised: Vec<RaisedAlert>,
    /// Alerts the nodes lost to full buffers.
    pub alerts_dropped: u64,
}

/// The cluster in network namespaces, for the whole experiment.
pub struct NetCluster {
    topology: Topology,
    das: PathBuf,
    ports: NetPorts,
    dir: PathBuf,
    /// Over DPDK: the folder of the stages' DPDK configurations, one per host.
    dpdk: Option<PathBuf>,
    traffic: PathBuf,
    distinct_loops: bool,
    worker_args: Vec<String>,
    cores: Vec<usize>,
    node_capacity: Option<f64>,
    timeline_ms: u64,
    purge_primaries: bool,
    interrupted: Arc<AtomicBool>,
}

impl NetCluster {
    /// Builds the topology and writes the experiment's traffic to `out/netns/` for
    /// `das replay`. SIGINT and SIGTERM stop the run in progress and remove
    /// everything.
    pub fn new(plan: &Plan, ports: NetPorts, frames: &[TimedFrame], out: &Path) -> Result<Self> {
        let das = std::env::current_exe().context("cannot find the das binary")?;
        let dir = out.join("netns");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let traffic = dir.join("traffic.pcap");
        write_traffic(frames, &traffic)?;
        let t = &plan.spec.topology;
        let mut worker_args = vec!["--sched".to_string(), plan.sched.name().to_string()];
        if let RuleSource::Files(files) = &plan.rules {
            worker_args.push("--rules".into());
            for f in files {
                let abs = f
                    .canonicalize()
                    .with_context(|| format!("cannot resolve {}", f.display()))?;
                worker_args.push(abs.display().to_string());
            }
        }
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::Release))
            .context("installing the signal handler")?;
        let topology = Topology::up(t.nodes).context("building the network namespaces")?;
        let dpdk = match ports {
            NetPorts::Dpdk => {
                let folder = dir.join("dpdk");
                write_dpdk_configs(&topology, &folder)?;
                Some(folder)
            }
            NetPorts::AfPacket | NetPorts::AfXdp => None,
        };
        Ok(NetCluster {
            topology,
            das,
            ports,
            dir,
            dpdk,
            traffic,
            distinct_loops: plan.spec.traffic.distinct_loops,
            worker_args,
            cores: t.cores.clone(),
            node_capacity: t.node_capacity,
            timeline_ms: plan.spec.run.timeline_ms,
            purge_primaries: plan.spec.run.purge_primaries,
            interrupted,
        })
    }

    /// A one-line description for the console.
    pub fn describe(&self) -> String {
        let devices = match self.ports {
            NetPorts::Dpdk => " (net_af_packet devices on the veths, one EAL per stage)",
            NetPorts::AfPacket | NetPorts::AfXdp => "",
        };
        format!(
            "stages as processes in network namespaces {}* over {} ports{devices}; reports \
             under {}",
            self.topology.prefix,
            self.ports.prefix(),
            self.dir.display()
        )
    }

    fn port(&self, iface: &str) -> String {
        format!("{}:{iface}", self.ports.prefix())
    }

    /// Runs the cluster once and reads what every stage reported.
    pub fn run(&self, r: &NetRun) -> Result<NetOutcome> {
        let dir = self.dir.join(&r.label);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let nodes = self.topology.nodes;
        let purge = r.scheme == Scheme::Das;
        let mut stages = Stages::new(&dir, &self.interrupted);
        let mut dedup = vec![
            "dedup".to_string(),
            "--upp-interval-ms".into(),
            self.timeline_ms.to_string(),
        ];
        for i in 0..nodes {
            dedup.extend(["--node".into(), self.port(&format!("ids{i}"))]);
        }
        if !purge {
            dedup.push("--no-notices".into());
        }
        stages.start(self, "dedup", "dedup", dedup)?;
        for i in 0..nodes {
            let name = format!("worker{i}");
            let mut args = vec![
                "worker".to_string(),
                "--index".into(),
                i.to_string(),
                "--in".into(),
                self.port("dup"),
                "--out".into(),
                self.port("dedup"),
                "--raised-alerts".into(),
                dir.join(format!("alerts{i}.jsonl")).display().to_string(),
            ];
            args.extend(self.worker_args.iter().cloned());
            if !purge {
                args.push("--no-purge".into());
            } else if self.purge_primaries {
                args.push("--purge-primaries".into());
            }
            if let Some(f) = self.node_capacity {
                args.extend(["--node-capacity".into(), f.to_string()]);
            }
            if !self.cores.is_empty() {
                let core = self.cores[i % self.cores.len()];
                args.extend(["--core".into(), core.to_string()]);
            }
            if let Some((node, start, length, intensity)) = r.straggler {
                if node == i {
                    args.extend([
                        "--straggler".into(),
                        format!(
                            "{}ms:{}ms:{intensity}",
                            start.as_millis(),
                            length.as_millis()
                        ),
                    ]);
                }
            }
            stages.start(self, &name, &format!("ids{i}"), args)?;
        }
        let mut dup = vec![
            "duplicator".to_string(),
            "--in".into(),
            self.port("in"),
            "--scheme".into(),
            r.scheme.to_string(),
        ];
        for i in 0..nodes {
            dup.extend(["--node".into(), self.port(&format!("ids{i}"))]);
        }
        stages.start(self, "duplicator", "dup", dup)?;
        stages.wait_ready()?;
        let mut replay = vec![
            "replay".to_string(),
            "--to".into(),
            self.port("out"),
            "--pcap".into(),
            self.traffic.display().to_string(),
            "--packets".into(),
            r.packets.to_string(),
            "--pace".into(),
            format!("{:.0}pps", r.pps.max(1.0)),
            "--for".into(),
            format!("{}ms", r.duration.as_millis()),
        ];
        if self.distinct_loops {
            replay.push("--distinct-loops".into());
        }
        stages.start(self, "replay", "src", replay)?;
        stages.wait_all(r.duration * 2 + Duration::from_secs(60))?;

        let replay: ReplayReport = read_report(&dir, "replay")?;
        let duplicator: DuplicatorStageReport = read_report(&dir, "duplicator")?;
        let workers = (0..nodes)
            .map(|i| read_report::<WorkerReport>(&dir, &format!("worker{i}")))
            .collect::<Result<Vec<_>>>()?;
        let dedup: DedupStageReport = read_report(&dir, "dedup")?;
        let mut raised = Vec::new();
        let mut alerts_dropped = 0;
        for (i, w) in workers.iter().enumerate() {
            raised.extend(alerts::read_raised(&dir.join(format!("alerts{i}.jsonl")))?);
            alerts_dropped += w.alerts.as_ref().map_or(0, |a| a.dropped);
        }
        Ok(NetOutcome {
            figures: figures(&replay, &duplicator, &workers, &dedup),
            raised,
            alerts_dropped,
        })
    }
}

/// Writes the experiment's frames as a capture for `das replay`.
fn write_traffic(frames: &[TimedFrame], path: &Path) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = PcapWriter::new(std::io::BufWriter::new(file))
        .with_context(|| format!("cannot write {}", path.display()))?;
    for (ts, frame) in frames {
        w.write_frame(*ts, frame)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Frames in each kernel ring of a `net_af_packet` device (a receive and a transmit
/// ring per queue pair, a frame taking 2 KiB): 4 MiB a ring, as das's own AF_PACKET
/// ports have.
const AF_PACKET_FRAMES: u32 = 2048;

/// The DPDK ports of the stage on `host`, named after the veth ends they sit on, with
/// the receive and transmit queues the stage uses on each (`docs/PORTS.md`).
fn dpdk_ports(host: &str, nodes: usize) -> Vec<(String, u16, u16)> {
    let node_links = (0..nodes).map(|i| format!("ids{i}"));
    match host {
        "src" => vec![("out".into(), 1, 1)],
        // Its input; per node, the node's status frames in, primaries and duplicates
        // out.
        "dup" => std::iter::once(("in".to_string(), 1, 1))
            .chain(node_links.map(|link| (link, 1, 2)))
            .collect(),
        // Per node, primaries and duplicates in, completion notices out.
        "dedup" => node_links.map(|link| (link, 2, 1)).collect(),
        // A node: primaries and duplicates in, its status frames out; what its two
        // instances forward out, the notices in.
        _ => vec![("dup".into(), 2, 1), ("dedup".into(), 1, 2)],
    }
}

/// The CPUs this process may run on, as a list (`0-1`).
fn allowed_cpus() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|l| {
                l.strip_prefix("Cpus_allowed_list:")
                    .map(|list| list.trim().to_string())
            })
        })
        .unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            format!("0-{}", n - 1)
        })
}

/// Writes the DPDK configuration folder of every host's stage, `folder/HOST/`, and
/// checks each as the stage will.
///
/// Each port is a `net_af_packet` device on the veth end it is named after, with as
/// many queue pairs (sockets) as the stage uses queues in either direction. The
/// driver's sockets form one fanout group, so a node's primaries and duplicates share
/// their kernel rings and are put on their queues in software after (no virtual device
/// has rte_flow): unlike das's own AF_PACKET ports, whose socket filters give the
/// duplicates a ring of their own, a duplicate takes ring room a primary could have
/// had. Each EAL runs `--no-huge --no-pci` with a little memory, few mbufs, lcore 0
/// on every CPU of this process (the stage's threads inherit them; a worker pins its
/// node with `--core`), the namespace's name as its file prefix, and
/// `--no-shconf --no-telemetry`: it keeps no runtime file, and the stage removes its
/// empty runtime folder as soon as the EAL has started.
fn write_dpdk_configs(topology: &Topology, folder: &Path) -> Result<()> {
    use std::fmt::Write as _;
    let cpus = allowed_cpus();
    for host in topology.hosts() {
        let dir = folder.join(&host);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let ports = dpdk_ports(&host, topology.nodes);
        let (mut vdevs, mut tables) = (String::new(), String::new());
        for (k, (name, rx, tx)) in ports.iter().enumerate() {
            let _ = writeln!(
                vdevs,
                "    \"net_af_packet{k},iface={name},qpairs={},framecnt={AF_PACKET_FRAMES}\",",
                rx.max(tx)
            );
            let _ = write!(
                tables,
                "\n[[port]]\nname = \"{name}\"\ndevice = \"net_af_packet{k}\"\n\
                 rx_queues = {rx}\ntx_queues = {tx}\nrx_descriptors = 512\n\
                 tx_descriptors = 512\nmbufs = 2047\nmtu = 1500\n"
            );
        }
        let header = format!("# Written by das experiment for the stage on {host}.\n");
        // net_af_packet takes an MTU of at most 1500 but carries the longer das frames
        // (up to 1,560 bytes) the veths pass: its ring frames and mbufs hold 2 KiB.
        let eal = format!(
            "{header}program = \"das-{host}\"\nlcores = \"0@({cpus})\"\nmemory_mb = {}\n\
             no_huge = true\nno_pci = true\nfile_prefix = \"{}\"\nvdevs = [\n{vdevs}]\n\
             log_level = \"notice\"\nextra_args = [\"--no-shconf\", \"--no-telemetry\"]\n",
            128 + 8 * ports.len(),
            topology.ns(&host),
        );
        let rules = if host.starts_with("ids") {
            // A node's input: primaries on queue 0, duplicates on queue 1.
            "port = \"dup\"\n\n[[rule]]\nname = \"duplicates\"\ndst = \"02:44:41:53:00:01\"\n\
             dst_mask = \"ff:ff:ff:ff:00:ff\"\nether_type = 0x894F\nqueue = 1\n\n[[rule]]\n\
             name = \"primaries\"\ndst = \"02:44:41:53:00:00\"\ndst_mask = \"ff:ff:ff:ff:00:ff\"\n\
             ether_type = 0x894F\nqueue = 0\n"
                .to_string()
        } else {
            // Dedup's ports take the same rules, built in.
            format!("port = \"{}\"\n", ports[0].0)
        };
        for (file, text) in [
            ("eal.toml", eal),
            ("ports.toml", format!("{header}{tables}")),
            ("flow-rules.toml", format!("{header}{rules}")),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        crate::dpdk_cmd::load(&dir)
            .with_context(|| format!("the DPDK configuration written to {}", dir.display()))?;
    }
    Ok(())
}

fn read_report<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<T> {
    #[derive(serde::Deserialize)]
    struct Doc<T> {
        report: T,
    }
    let path = dir.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let doc: Doc<T> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a {name} report", path.display()))?;
    Ok(doc.report)
}

/// The processes of one run, killed if the run fails.
struct Stages<'a> {
    dir: &'a Path,
    interrupted: &'a AtomicBool,
    running: Vec<(String, Child)>,
}

impl<'a> Stages<'a> {
    fn new(dir: &'a Path, interrupted: &'a AtomicBool) -> Self {
        Stages {
            dir,
            interrupted,
            running: Vec::new(),
        }
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// Starts `das ARGS` in `host`'s namespace, its stderr to NAME.log.
    fn start(&mut self, c: &NetCluster, name: &str, host: &str, args: Vec<String>) -> Result<()> {
        let log = self.log(name);
        let stderr =
            File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let report = self.dir.join(format!("{name}.json"));
        // nsenter rather than `ip netns exec`: the latter mounts a sysfs of the
        // namespace over /sys, which hides the cgroup file system a worker with
        // --node-capacity needs.
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", c.topology.ns(host)))
            .arg("--")
            .arg(&c.das)
            .args(&args)
            .args(["--idle-exit", IDLE_EXIT, "--report"])
            .arg(&report);
        if let Some(dpdk) = &c.dpdk {
            cmd.arg("--dpdk-config").arg(dpdk.join(host));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start the {name} stage"))?;
        self.running.push((name.to_string(), child));
        Ok(())
    }

    fn check_interrupt(&self) -> Result<()> {
        if self.interrupted.load(Ordering::Acquire) {
            bail!("interrupted");
        }
        Ok(())
    }

    /// The error of a stage that stopped: its status and the end of its log.
    fn failed(&self, name: &str, status: std::process::ExitStatus) -> anyhow::Error {
        let log = std::fs::read_to_string(self.log(name)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        anyhow!(
            "the {name} stage failed ({status}); {}:\n{}",
            self.log(name).display(),
            tail.join("\n")
        )
    }

    /// Waits until every stage started so far said it is ready.
    fn wait_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        loop {
            self.check_interrupt()?;
            let mut all = true;
            for (name, child) in &mut self.running {
                let log = std::fs::read_to_string(self.dir.join(format!("{name}.log")))
                    .unwrap_or_default();
                if log.lines().any(|l| l.ends_with(": ready")) {
                    continue;
                }
                all = false;
                if let Some(status) = child.try_wait()? {
                    let name = name.clone();
                    return Err(self.failed(&name, status));
                }
            }
            if all {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!(
                    "a stage did not open its ports within {READY_TIMEOUT:?} (logs in {})",
                    self.dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every stage has exited, successfully, within `limit`.
    fn wait_all(&mut self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while !self.running.is_empty() {
            self.check_interrupt()?;
            let mut k = 0;
            while k < self.running.len() {
                if let Some(status) = self.running[k].1.try_wait()? {
                    let (name, _) = self.running.remove(k);
                    if !status.success() {
                        return Err(self.failed(&name, status));
                    }
                } else {
                    k += 1;
                }
            }
            if started.elapsed() > limit {
                let names: Vec<&str> = self.running.iter().map(|(n, _)| n.as_str()).collect();
                bail!(
                    "{} still running after {limit:?} (logs in {})",
                    names.join(", "),
                    self.dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Stages<'_> {
    fn drop(&mut self) {
        for (_, child) in &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port's totals: received, sent, dropped by the port (ring full, ...), and the
/// interface's own drops on receive (those the port did not count itself) and on
/// transmit.
struct Totals {
    rx: u64,
    tx: u64,
    dropped: u64,
    if_rx_dropped: u64,
    if_tx_dropped: u64,
}

fn totals(p: &PortReport) -> Totals {
    let q = &p.port.queues;
    let dropped = q.iter().flat_map(|q| q.dropped.values()).sum();
    Totals {
        rx: q.iter().map(|q| q.rx_packets).sum(),
        tx: q.iter().map(|q| q.tx_packets).sum(),
        dropped,
        if_rx_dropped: interface_rx_drops(p, dropped),
        if_tx_dropped: match (&p.interface, &p.device) {
            (Some(interface), _) => interface.tx_dropped,
            (None, Some(device)) => device.tx_dropped(),
            (None, None) => 0,
        },
    }
}

/// Frames the interface (or a DPDK port's device) dropped on receive that the port
/// did not count. An XDP program's redirect to a full AF_XDP ring is a receive drop of
/// the interface too, so on an AF_XDP port the interface's count includes the port's;
/// an AF_PACKET socket's drops are the socket's alone.
fn interface_rx_drops(p: &PortReport, port_dropped: u64) -> u64 {
    match (&p.interface, &p.device) {
        (Some(interface), _) if p.spec.starts_with("afxdp:") => {
            interface.rx_dropped.saturating_sub(port_dropped)
        }
        (Some(interface), _) => interface.rx_dropped,
        (None, Some(device)) => device.rx_dropped(),
        (None, None) => 0,
    }
}

/// The drops below port `p` in one direction (`rx_` or `tx_`), by reason: the
/// interface's as `interface_dropped`, or a DPDK device's by its reason
/// (`device_rx_missed`: a full receive ring; on `net_af_packet` the kernel's).
/// They add up to what [`totals`] counts for that direction.
fn below_port_drops(p: &PortReport, direction: &str) -> Vec<(String, u64)> {
    let t = totals(p);
    let interface = if direction == "rx_" {
        t.if_rx_dropped
    } else {
        t.if_tx_dropped
    };
    match (&p.interface, &p.device) {
        (None, Some(device)) => device
            .dropped
            .iter()
            .filter(|(reason, _)| reason.starts_with(direction))
            .map(|(reason, n)| (format!("device_{reason}"), *n))
            .collect(),
        _ => vec![("interface_dropped".to_string(), interface)],
    }
}

fn check(checks: &mut Vec<Check>, name: String, left: u64, right: u64, what: &str) {
    checks.push(Check {
        name,
        ok: left == right,
        detail: format!("{what}: {left} vs {right}"),
    });
}

/// Checks one link, `from` the sender's port `to` the receiver's.
fn link(checks: &mut Vec<Check>, name: &str, from: &PortReport, to: &PortReport) {
    let (f, t) = (totals(from), totals(to));
    check(
        checks,
        format!("link {name}: sent = received + dropped"),
        f.tx,
        t.rx + t.dropped + t.if_rx_dropped + f.if_tx_dropped,
        "sent vs received + ring drops + interface drops",
    );
}

/// Adds `stats`' drops, per reason, to `drops`.
fn add_drops(drops: &mut BTreeMap<String, u64>, stats: &PortStats) {
    for q in &stats.queues {
        for (reason, n) in &q.dropped {
            *drops.entry(reason.clone()).or_default() += n;
        }
    }
}

/// The figures and the accounting of a run from its stages' reports.
fn figures(
    replay: &ReplayReport,
    dup: &DuplicatorStageReport,
    workers: &[WorkerReport],
    dedup: &DedupStageReport,
) -> RunFigures {
    let mut c = Vec::new();
    let mut drops: BTreeMap<String, u64> = BTreeMap::new();
    let mut ports: Vec<&PortReport> = vec![&replay.output, &dup.input];
    ports.extend(&dup.nodes);
    ports.extend(&dedup.nodes);
    for w in workers {
        ports.extend([&w.input, &w.output]);
        ports.extend(&w.notice_port);
    }
    for p in &ports {
        add_drops(&mut drops, &p.port);
    }
    // Below the ports, what the links lost: each link's sending interface or device on
    // transmit and its receiving one on receive, as the link checks count them. (The
    // same interface in the other direction carries status frames or notices, and a
    // worker's notice socket sits on its output's interface: counting every port's
    // interface would count those, and that interface twice.)
    let mut links: Vec<(&PortReport, &PortReport)> = vec![(&replay.output, &dup.input)];
    for (i, w) in workers.iter().enumerate() {
        links.extend([(&dup.nodes[i], &w.input), (&w.output, &dedup.nodes[i])]);
    }
    for (from, to) in links {
        for (reason, n) in below_port_drops(from, "tx_")
            .into_iter()
            .chain(below_port_drops(to, "rx_"))
        {
            if n > 0 {
                *drops.entry(reason).or_default() += n;
            }
        }
    }
    for counters in [&dup.duplicator.counters, &dedup.dedup.counters]
        .into_iter()
        .chain(
            workers
                .iter()
                .flat_map(|w| [&w.node.primary.counters, &w.node.secondary.counters]),
        )
    {
        for (reason, n) in &counters.dropped {
            *drops.entry(reason.clone()).or_default() += n;
        }
    }

    link(&mut c, "source -> duplicator", &replay.output, &dup.input);
    check(
        &mut c,
        "source: sent what it read".into(),
        replay.sent.packets,
        totals(&replay.output).tx + totals(&replay.output).dropped,
        "read vs port tx + dropped",
    );
    let jobs = &dup.duplicator.counters;
    check(
        &mut c,
        "duplicator: took what its port received".into(),
        jobs.received,
        totals(&dup.input).rx,
        "received vs port rx",
    );
    check(
        &mut c,
        "duplicator: received = forwarded + dropped".into(),
        jobs.received,
        jobs.forwarded + jobs.dropped_total(),
        "received vs forwarded + dropped",
    );
    let copies: u64 = dup.nodes.iter().map(|p| totals(p).tx).sum();
    check(
        &mut c,
        "duplicator: every copy left on a node port".into(),
        copies,
        jobs.forwarded + dup.duplicator.duplicates,
        "port tx vs jobs + duplicates",
    );
    for (i, w) in workers.iter().enumerate() {
        link(
            &mut c,
            &format!("duplicator -> node {i}"),
            &dup.nodes[i],
            &w.input,
        );
        let queues = &w.input.port.queues;
        let out = &w.output.port.queues;
        for (q, (role, inst)) in [
            ("primary", &w.node.primary),
            ("secondary", &w.node.secondary),
        ]
        .into_iter()
        .enumerate()
        {
            let k = &inst.counters;
            check(
                &mut c,
                format!("node {i} {role}: took what its queue received"),
                k.received,
                queues.get(q).map_or(0, |q| q.rx_packets),
                "received vs port rx",
            );
            check(
                &mut c,
                format!("node {i} {role}: received = forwarded + dropped"),
                k.received,
                k.forwarded + k.dropped_total(),
                "received vs forwarded + dropped",
            );
            check(
                &mut c,
                format!("node {i} {role}: its port sent what it forwarded"),
                k.forwarded,
                out.get(q)
                    .map_or(0, |q| q.tx_packets + q.dropped.values().sum::<u64>()),
                "forwarded vs port tx + dropped",
            );
        }
        link(
            &mut c,
            &format!("node {i} -> dedup"),
            &w.output,
            &dedup.nodes[i],
        );
    }
    let d = &dedup.dedup.counters;
    check(
        &mut c,
        "dedup: took what its ports received".into(),
        d.received,
        dedup.nodes.iter().map(|p| totals(p).rx).sum(),
        "received vs port rx",
    );
    check(
        &mut c,
        "dedup: received = forwarded + dropped".into(),
        d.received,
        d.forwarded + d.dropped_total(),
        "received vs unique + dropped",
    );
    c.push(Check {
        name: "no packet left dedup twice".into(),
        ok: d.forwarded <= jobs.forwarded,
        detail: format!(
            "unique out {} vs jobs dispatched {}",
            d.forwarded, jobs.forwarded
        ),
    });

    let warnings = node_warnings(
        workers.iter().map(|w| &w.node),
        workers.iter().filter_map(|w| w.straggler.as_ref()),
    );
    RunFigures {
        packets_in: replay.sent.packets,
        elapsed_secs: replay.elapsed_secs,
        primaries_sent: dup
            .duplicator
            .copies_per_node
            .iter()
            .map(|c| c[0])
            .collect(),
        duplicates_sent: dup.duplicator.duplicates,
        duplicates_rescued: dup.duplicator.rescued,
        nodes: workers.iter().map(|w| w.node.clone()).collect(),
        straggler_intensity: workers
            .iter()
            .find_map(|w| w.straggler.as_ref().map(|s| s.achieved_intensity)),
        dedup: dedup.dedup.clone(),
        drops,
        warnings,
        checks: c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port's report: one queue with `rx` received, `tx` sent and `dropped` by the
    /// port, and a DPDK device with `device_drops`.
    fn dpdk_port(rx: u64, tx: u64, dropped: &str, device_drops: &str) -> PortReport {
        let text = format!(
            r#"{{"spec": "dpdk:x", "port": {{"name": "x", "queues": [{{"rx_packets": {rx},
            "rx_bytes": 0, "tx_packets": {tx}, "tx_bytes": 0, "dropped": {{{dropped}}}}}]}},
            "device": {{"device": "net_af_packet0", "steering": "device", "rx_packets": 0,
            "rx_bytes": 0, "tx_packets": 0, "tx_bytes": 0, "dropped": {{"rx_errors": 0,
            "rx_missed": 0, "rx_no_mbuf": 0, "tx_errors": 0, {device_drops}}}}}}}"#
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn a_dpdk_link_counts_each_device_drop_once() {
        // 100 sent: 2 the sender's device failed to send, 5 the receiver's kernel ring
        // dropped (rx_missed), 3 its software steering dropped, 90 received.
        let from = dpdk_port(0, 100, "", r#""tx_errors": 2"#);
        let to = dpdk_port(90, 0, r#""queue_full": 3"#, r#""rx_missed": 5"#);
        let mut checks = Vec::new();
        link(&mut checks, "a -> b", &from, &to);
        assert!(checks[0].ok, "{}", checks[0].detail);
        let below: Vec<_> = below_port_drops(&from, "tx_")
            .into_iter()
            .chain(below_port_drops(&to, "rx_"))
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(
            below,
            [
                ("device_tx_errors".to_string(), 2),
                ("device_rx_missed".to_string(), 5)
            ]
        );
        // One frame more or less does not reconcile.
        let to = dpdk_port(91, 0, r#""queue_full": 3"#, r#""rx_missed": 5"#);
        let mut checks = Vec::new();
        link(&mut checks, "a -> b", &from, &to);
        assert!(!checks[0].ok);
    }

    #[test]
    fn dpdk_folders_are_written_for_every_stage_and_check() {
        let dir = tempfile::tempdir().unwrap();
        // Never built, so never taken down.
        let topology = std::mem::ManuallyDrop::new(Topology {
            prefix: "dasxtest-".into(),
            nodes: 2,
        });
        write_dpdk_configs(&topology, dir.path()).unwrap();
        for host in ["src", "dup", "ids0", "ids1", "dedup"] {
            let config = crate::dpdk_cmd::load(&dir.path().join(host)).unwrap();
            let args = config.eal.args();
            assert!(
                args.contains(&format!("--file-prefix=dasxtest-{host}")),
                "{args:?}"
            );
            assert!(args.iter().any(|a| a == "--no-huge") && args.iter().any(|a| a == "--no-pci"));
            for (k, port) in config.ports.ports.iter().enumerate() {
                let vdev = format!(
                    "--vdev=net_af_packet{k},iface={},qpairs={},framecnt={AF_PACKET_FRAMES}",
                    port.name,
                    port.rx_queues.max(port.tx_queues)
                );
                assert!(args.contains(&vdev), "{host}: {vdev} not in {args:?}");
            }
        }
        let node = crate::dpdk_cmd::load(&dir.path().join("ids0")).unwrap();
        assert_eq!(node.flow_rules.port, "dup");
        assert_eq!(node.flow_rules.rules.len(), 2);
    }

    #[test]
    fn dpdk_folders_give_each_stage_the_queues_it_uses() {
        assert_eq!(dpdk_ports("src", 2), [("out".to_string(), 1, 1)]);
        assert_eq!(
            dpdk_ports("dup", 2),
            [
                ("in".to_string(), 1, 1),
                ("ids0".to_string(), 1, 2),
                ("ids1".to_string(), 1, 2)
            ]
        );
        assert_eq!(
            dpdk_ports("ids1", 2),
            [("dup".to_string(), 2, 1), ("dedup".to_string(), 1, 2)]
        );
        assert_eq!(
            dpdk_ports("dedup", 3)
                .iter()
                .map(|p| p.1)
                .collect::<Vec<_>>(),
            [2, 2, 2]
        );
    }
}
