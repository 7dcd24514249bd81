//! The experiment file: TOML, every key checked, with command-line overrides.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use duplicator::Scheme;
use ids_worker::SchedMode;
use serde::{Deserialize, Serialize};

use crate::alerts::RuleSource;

/// The built-in experiment `das experiment` runs without a file: a short Fig. 9b on
/// generated traffic with the project's own rules.
pub const DEFAULT_EXPERIMENT: &str = include_str!("../../../experiments/quick.toml");

/// An experiment as written in its file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Its name (names the output files).
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Nodes and their CPU.
    pub topology: Topology,
    /// The traffic.
    pub traffic: Traffic,
    /// The rules the nodes run.
    #[serde(default)]
    pub rules: Rules,
    /// The offered loads.
    pub load: Load,
    /// Schemes, durations, queues.
    pub run: RunSpec,
    /// A straggler on one node (none: no straggler).
    pub straggler: Option<StragglerSpec>,
}

/// Nodes and their CPU.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Number of IDS nodes.
    pub nodes: usize,
    /// Fraction of a core each node gets from its own cgroup (root; none: whole cores).
    pub node_capacity: Option<f64>,
    /// CPUs the nodes are pinned to, round robin (empty: every CPU of the process).
    #[serde(default)]
    pub cores: Vec<usize>,
    /// How a node shares its core between its instances: "inline" or "os".
    #[serde(default = "default_sched")]
    pub sched: String,
    /// Where the stages run: "process" (threads of one process linked by in-memory
    /// rings) or "netns" (one process per host, each host a network namespace, linked
    /// by veth pairs; root).
    #[serde(default = "default_kind")]
    pub kind: String,
    /// With kind "netns": the stages' ports, "afpacket", "afxdp" or "dpdk" (DPDK's
    /// net_af_packet devices on the same veths; a das built with the dpdk feature).
    #[serde(default = "default_ports")]
    pub ports: String,
}

fn default_kind() -> String {
    "process".into()
}

fn default_ports() -> String {
    "afpacket".into()
}

fn default_sched() -> String {
    "inline".into()
}

/// The traffic.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Captures to replay (pcap or pcapng), in turn; empty: generated traffic.
    #[serde(default)]
    pub pcaps: Vec<PathBuf>,
    /// Generated flows.
    #[serde(default = "default_flows")]
    pub flows: u64,
    /// Fraction of generated flows carrying an attack.
    #[serde(default)]
    pub attacks: f64,
    /// Seed of the generator.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Give each loop over the traffic its own addresses, so flows stay distinct.
    #[serde(default = "default_true")]
    pub distinct_loops: bool,
}

fn default_flows() -> u64 {
    2000
}
fn default_seed() -> u64 {
    1
}
fn default_true() -> bool {
    true
}

/// The rules the nodes run.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// A named set: "own" (the project's rules, built in), "community" or
    /// "community+et" (found under `rules/public/` after `scripts/fetch-rules.sh`, or
    /// in the team corpus `../shared/corpus/rules/`).
    pub set: Option<String>,
    /// Rule files instead of a named set.
    #[serde(default)]
    pub files: Vec<PathBuf>,
}

/// The offered loads.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// What the points mean: "capacity" (fractions of the cluster's calibrated
    /// capacity), "pps" or "mbps".
    #[serde(default = "default_unit")]
    pub unit: String,
    /// The loads to offer.
    pub points: Vec<f64>,
}

fn default_unit() -> String {
    "capacity".into()
}

/// Schemes, durations, queues.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// The schemes to compare: single, clone, clone-prio, das, hedged.
    pub schemes: Vec<String>,
    /// How long each point offers traffic, e.g. "4s".
    pub duration: String,
    /// Repetitions of every point.
    #[serde(default = "default_one")]
    pub repetitions: usize,
    /// How long the calibration offers traffic.
    #[serde(default = "default_calibration")]
    pub calibration: String,
    /// Capacity of each node's primary queue (drop-tail, as a NIC ring), in packets.
    #[serde(default = "default_queue")]
    pub queue_size: usize,
    /// Capacity of each node's duplicate queue, in packets.
    #[serde(default = "default_queue")]
    pub dup_queue_size: usize,
    /// Interval of the UPP/sec timeline, in milliseconds.
    #[serde(default = "default_interval")]
    pub timeline_ms: u64,
    /// Schemes with active purge (das, hedged): nodes also purge late primaries,
    /// whose duplicate was delivered first, while their primary queue is backlogged.
    #[serde(default)]
    pub purge_primaries: bool,
    /// Schemes with low-priority duplicates (das, hedged), stages in one process: a
    /// duplicate whose primary finds its node's queue full goes to the secondary's
    /// rescue queue, served before other duplicates (default true; stages in other
    /// processes have no rescue queues).
    #[serde(default = "default_true")]
    pub rescue: bool,
}

fn default_one() -> usize {
    1
}
fn default_calibration() -> String {
    "2s".into()
}
fn default_queue() -> usize {
    1024
}
fn default_interval() -> u64 {
    100
}

/// A straggler on one node: from `start` for `length` (fractions of the duration), it
/// takes `intensity` of the node's CPU.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StragglerSpec {
    /// The node.
    pub node: usize,
    /// When it starts, as a fraction of the duration.
    pub start: f64,
    /// How long it lasts, as a fraction of the duration.
    pub length: f64,
    /// The fraction of the node's CPU it takes.
    pub intensity: f64,
}

/// The unit of the load points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LoadUnit {
    /// Fractions of the calibrated cluster capacity.
    Capacity,
    /// Packets per second.
    Pps,
    /// Megabits of frame bytes per second.
    Mbps,
}

/// Where an experiment's stages run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Deployment {
    /// Threads of this process, linked by in-memory rings.
    Process,
    /// One process per host in network namespaces, with ports of this kind.
    Netns(NetPorts),
}

/// The ports of the stages in network namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NetPorts {
    /// AF_PACKET sockets.
    AfPacket,
    /// AF_XDP sockets behind an XDP program.
    AfXdp,
    /// DPDK ports (`dpdk:NAME`): a `net_af_packet` virtual device on each veth end,
    /// one EAL per stage process (a das built with the `dpdk` feature; without it the
    /// experiment file is refused and this is never made).
    #[cfg_attr(not(feature = "dpdk"), allow(dead_code))]
    Dpdk,
}

impl NetPorts {
    /// The prefix of a port on the stages' command lines (`afpacket:IFACE`).
    pub fn prefix(self) -> &'static str {
        match self {
            NetPorts::AfPacket => "afpacket",
            NetPorts::AfXdp => "afxdp",
            NetPorts::Dpdk => "dpdk",
        }
    }
}

/// DPDK ports, when this das was built with them.
#[cfg(feature = "dpdk")]
fn dpdk_ports() -> Result<NetPorts, &'static str> {
    Ok(NetPorts::Dpdk)
}

/// DPDK ports, when this das was built with them: it was not.
#[cfg(not(feature = "dpdk"))]
fn dpdk_ports() -> Result<NetPorts, &'static str> {
    Err(crate::dpdk_cmd::WITHOUT_DPDK)
}

/// An experiment checked and resolved, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// As written (with overrides applied), for the JSON output.
    pub spec: Experiment,
    /// Where it came from.
    pub origin: String,
    /// The schemes.
    pub schemes: Vec<Scheme>,
    /// The scheduling mode.
    pub sched: SchedMode,
    /// The load unit.
    pub unit: LoadUnit,
    /// How long each point offers traffic.
    pub duration: Duration,
    /// How long the calibration offers traffic.
    pub calibration: Duration,
    /// The rules.
    pub rules: RuleSource,
    /// Where the stages run.
    pub deployment: Deployment,
}

/// Command-line overrides of the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--duration`.
    pub duration: Option<String>,
    /// `--loads`.
    pub loads: Option<Vec<f64>>,
    /// `--schemes`.
    pub schemes: Option<Vec<String>>,
    /// `--repetitions`.
    pub repetitions: Option<usize>,
    /// `--no-straggler`.
    pub no_straggler: bool,
    /// `--no-rescue`.
    pub no_rescue: bool,
    /// `--node-capacity`.
    pub node_capacity: Option<f64>,
    /// `--topology`.
    pub kind: Option<String>,
    /// `--ports`.
    pub ports: Option<String>,
}

/// Reads and checks an experiment file (or the built-in one).
pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Plan> {
    let (text, origin) = match path {
        Some(p) => (
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read experiment {}", p.display()))?,
            p.display().to_string(),
        ),
        None => (
            DEFAULT_EXPERIMENT.to_string(),
            "experiments/quick.toml (built in)".to_string(),
        ),
    };
    let mut spec: Experiment =
        toml::from_str(&text).with_context(|| format!("{origin}: not a valid experiment"))?;
    if let Some(d) = &overrides.duration {
        spec.run.duration = d.clone();
    }
    if let Some(l) = &overrides.loads {
        spec.load.points = l.clone();
    }
    if let Some(s) = &overrides.schemes {
        spec.run.schemes = s.clone();
    }
    if let Some(r) = overrides.repetitions {
        spec.run.repetitions = r;
    }
    if overrides.no_straggler {
        spec.straggler = None;
    }
    if overrides.no_rescue {
        spec.run.rescue = false;
    }
    if let Some(c) = overrides.node_capacity {
        spec.topology.node_capacity = Some(c);
    }
    if let Some(k) = &overrides.kind {
        spec.topology.kind = k.clone();
    }
    if let Some(p) = &overrides.ports {
        spec.topology.ports = p.clone();
    }
    check(spec, origin)
}

fn check(spec: Experiment, origin: String) -> Result<Plan> {
    let bad = |what: String| anyhow::anyhow!("{origin}: {what}");
    let t = &spec.topology;
    if !(2..=16).contains(&t.nodes) {
        return Err(bad(format!("topology.nodes = {}: need 2 to 16", t.nodes)));
    }
    if let Some(c) = t.node_capacity {
        if !(c > 0.0 && c <= 1.0) {
            return Err(bad(format!(
                "topology.node_capacity = {c}: a fraction of a core in (0, 1]"
            )));
        }
    }
    let sched = match t.sched.as_str() {
        "inline" => SchedMode::Inline,
        "os" => SchedMode::Os,
        other => return Err(bad(format!("topology.sched = {other:?}: inline or os"))),
    };
    let ports = match t.ports.as_str() {
        "afpacket" => NetPorts::AfPacket,
        "afxdp" => NetPorts::AfXdp,
        "dpdk" => dpdk_ports().map_err(|e| bad(format!("topology.ports = \"dpdk\": {e}")))?,
        other => {
            return Err(bad(format!(
                "topology.ports = {other:?}: afpacket, afxdp or dpdk"
            )));
        }
    };
    let deployment = match t.kind.as_str() {
        "process" => Deployment::Process,
        "netns" => Deployment::Netns(ports),
        other => {
            return Err(bad(format!("topology.kind = {other:?}: process or netns")));
        }
    };
    let tr = &spec.traffic;
    if tr.pcaps.is_empty() && tr.flows == 0 {
        return Err(bad(
            "traffic.flows = 0 and no traffic.pcaps: no traffic".into()
        ));
    }
    if !(0.0..=1.0).contains(&tr.attacks) {
        return Err(bad(format!(
            "traffic.attacks = {}: a fraction in [0, 1]",
            tr.attacks
        )));
    }
    let unit = match spec.load.unit.as_str() {
        "capacity" => LoadUnit::Capacity,
        "pps" => LoadUnit::Pps,
        "mbps" => LoadUnit::Mbps,
        other => {
            return Err(bad(format!("load.unit = {other:?}: capacity, pps or mbps")));
        }
    };
    if spec.load.points.is_empty() {
        return Err(bad("load.points is empty".into()));
    }
    for &p in &spec.load.points {
        let limit = if unit == LoadUnit::Capacity {
            10.0
        } else {
            1e9
        };
        if !(p > 0.0 && p <= limit) {
            return Err(bad(format!(
                "load.points: {p} is not a load in (0, {limit}]"
            )));
        }
    }
    if spec.run.schemes.is_empty() {
        return Err(bad("run.schemes is empty".into()));
    }
    let schemes = spec
        .run
        .schemes
        .iter()
        .map(|s| {
            s.parse::<Scheme>()
                .map_err(|e| bad(format!("run.schemes: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    if deployment != Deployment::Process && schemes.contains(&Scheme::Hedged) {
        return Err(bad(
            "run.schemes: hedged reads the nodes' queue depths, which a duplicator in \
             another network namespace cannot see: use topology.kind = \"process\""
                .into(),
        ));
    }
    let duration =
        crate::spec::duration(&spec.run.duration).map_err(|e| bad(format!("run.duration: {e}")))?;
    let calibration = crate::spec::duration(&spec.run.calibration)
        .map_err(|e| bad(format!("run.calibration: {e}")))?;
    for (name, d) in [("run.duration", duration), ("run.calibration", calibration)] {
        if d < Duration::from_millis(200) || d > Duration::from_secs(3600) {
            return Err(bad(format!("{name} = {d:?}: between 200ms and 1h")));
        }
    }
    if spec.run.repetitions == 0 || spec.run.repetitions > 100 {
        return Err(bad(format!(
            "run.repetitions = {}: 1 to 100",
            spec.run.repetitions
        )));
    }
    for (name, q) in [
        ("run.queue_size", spec.run.queue_size),
        ("run.dup_queue_size", spec.run.dup_queue_size),
    ] {
        if !(32..=1 << 20).contains(&q) {
            return Err(bad(format!("{name} = {q}: 32 to 1048576 packets")));
        }
    }
    if !(10..=10_000).contains(&spec.run.timeline_ms) {
        return Err(bad(format!(
            "run.timeline_ms = {}: 10 to 10000",
            spec.run.timeline_ms
        )));
    }
    if let Some(s) = &spec.straggler {
        if s.node >= t.nodes {
            return Err(bad(format!(
                "straggler.node = {}: there are {} nodes",
                s.node, t.nodes
            )));
        }
        let frac = |name: &str, v: f64| -> Result<()> {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(bad(format!("straggler.{name} = {v}: a fraction in [0, 1]")))
            }
        };
        frac("start", s.start)?;
        frac("length", s.length)?;
        frac("intensity", s.intensity)?;
        if s.start + s.length > 1.0 + 1e-9 {
            return Err(bad(format!(
                "straggler: start {} + length {} runs past the end of the run",
                s.start, s.length
            )));
        }
    }
    let rules = resolve_rules(&spec.rules).map_err(|e| bad(e.to_string()))?;
    Ok(Plan {
        spec,
        origin,
        schemes,
        sched,
        unit,
        duration,
        calibration,
        rules,
        deployment,
    })
}

/// Where the named public rule sets are looked for, in order.
const RULE_HOMES: [(&str, &str); 2] = [
    (
        "rules/public",
        "snort3-community-rules/snort3-community.rules",
    ),
    (
        "../shared/corpus/rules",
        "snort3-community/snort3-community.rules",
    ),
];

fn resolve_rules(r: &Rules) -> Result<RuleSource> {
    match (&r.set, r.files.is_empty()) {
        (Some(_), false) => bail!("rules: give set or files, not both"),
        (None, false) => {
            for f in &r.files {
                if !f.is_file() {
                    bail!("rules.files: {} does not exist", f.display());
                }
            }
            Ok(RuleSource::Files(r.files.clone()))
        }
        (None, true) => Ok(RuleSource::Embedded),
        (Some(set), true) => match set.as_str() {
            "own" => Ok(RuleSource::Embedded),
            "community" | "community+et" => {
                for (home, community) in RULE_HOMES {
                    let c = Path::new(home).join(community);
                    if !c.is_file() {
                        continue;
                    }
                    let mut files = vec![c];
                    if set == "community+et" {
                        let et = Path::new(home).join("et-open-snort3-converted");
                        let rules = et.join("et-open-snort3.rules");
                        if !rules.is_file() {
                            bail!(
                                "rules.set = \"community+et\": {} is missing",
                                rules.display()
                            );
                        }
                        files.push(rules);
                        let filters = et.join("et_event_filter.lua");
                        if filters.is_file() {
                            files.push(filters);
                        }
                    }
                    return Ok(RuleSource::Files(files));
                }
                bail!(
                    "rules.set = {set:?}: the community rules are in neither rules/public/ \
                     (run scripts/fetch-rules.sh) nor ../shared/corpus/rules/; \
                     or use set = \"own\""
                )
            }
            other => bail!("rules.set = {other:?}: own, community or community+et"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<Plan> {
        let spec: Experiment = toml::from_str(text)?;
        check(spec, "t.toml".into())
    }

    const GOOD: &str = r#"
name = "t"
[topology]
nodes = 2
[traffic]
flows = 100
[load]
points = [0.5, 1.0]
[run]
schemes = ["single", "das"]
duration = "1s"
[straggler]
node = 0
start = 0.2
length = 0.6
intensity = 0.5
"#;

    #[test]
    fn the_built_in_experiment_is_valid() {
        let p = load(None, &Overrides::default()).unwrap();
        assert_eq!(p.rules, RuleSource::Embedded);
        assert!(p.schemes.contains(&Scheme::Das));
    }

    #[test]
    fn a_good_file_and_its_defaults() {
        let p = plan(GOOD).unwrap();
        assert_eq!(p.schemes, vec![Scheme::Single, Scheme::Das]);
        assert_eq!(p.duration, Duration::from_secs(1));
        assert_eq!(p.unit, LoadUnit::Capacity);
        assert_eq!(p.spec.run.queue_size, 1024);
        assert!(p.spec.traffic.distinct_loops);
    }

    #[test]
    fn dpdk_ports_need_a_das_built_with_dpdk() {
        let text = GOOD.replace("nodes = 2", "nodes = 2\nkind = \"netns\"\nports = \"dpdk\"");
        let plan = plan(&text);
        if cfg!(feature = "dpdk") {
            assert_eq!(plan.unwrap().deployment, Deployment::Netns(NetPorts::Dpdk));
        } else {
            let e = format!("{:#}", plan.unwrap_err());
            assert!(
                e.contains(
                    "topology.ports = \"dpdk\": this das was built without DPDK: rebuild \
                            with --features dpdk"
                ),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_files_name_the_key() {
        let cases = [
            (GOOD.replace("nodes = 2", "nodes = 1"), "topology.nodes"),
            (GOOD.replace("\"das\"", "\"dass\""), "run.schemes"),
            (GOOD.replace("\"1s\"", "\"fast\""), "run.duration"),
            (GOOD.replace("[0.5, 1.0]", "[0.5, -1.0]"), "load.points"),
            (GOOD.replace("[0.5, 1.0]", "[]"), "load.points is empty"),
            (GOOD.replace("node = 0", "node = 2"), "straggler.node"),
            (
                GOOD.replace("start = 0.2", "start = 0.6"),
                "runs past the end",
            ),
            (
                GOOD.replace("intensity = 0.5", "intensity = 1.5"),
                "straggler.intensity",
            ),
            (
                GOOD.replace("[run]", "[rules]\nset = \"bogus\"\n[run]"),
                "rules.set",
            ),
            (
                GOOD.replace("nodes = 2", "nodes = 2\nkind = \"vm\""),
                "topology.kind = \"vm\": process or netns",
            ),
            (
                GOOD.replace("nodes = 2", "nodes = 2\nkind = \"netns\"\nports = \"tap\""),
                "topology.ports = \"tap\": afpacket, afxdp or dpdk",
            ),
            (
                GOOD.replace("nodes = 2", "nodes = 2\nkind = \"netns\"")
                    .replace("\"das\"]", "\"hedged\"]"),
                "hedged reads the nodes' queue depths",
            ),
        ];
        for (text, want) in cases {
            let e = format!("{:#}", plan(&text).unwrap_err());
            assert!(e.contains(want), "{want}: {e}");
        }
        let e = format!(
            "{:#}",
            toml::from_str::<Experiment>(&GOOD.replace("flows = 100", "flow = 100")).unwrap_err()
        );
        assert!(e.contains("flow"), "{e}");
    }
}
