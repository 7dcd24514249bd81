//! The IDS engine as the pipeline's network function, and the cluster's alerts.
//!
//! Every node instance runs its own [`IdsFunction`] over one shared, immutable
//! [`Detector`]. The instances hand the alerts they raise (tagged with job id, copy
//! kind and duplicator) to one [`AlertSink`]; after the run, [`ClusterAlerts`] keeps one
//! alert per (duplicator, job, rule), as dedup keeps one packet per job, and tells which
//! copies raised it. An alert only a duplicate raised, of a rule the primary copies
//! raised on the same flow on another packet, is the same detection from a secondary
//! instance that saw part of the flow; it is counted, not reported.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use dataplane::meta::{CopyKind, JobMeta};
use ids_worker::engine::flow::Addr;
use ids_worker::engine::function::{DEFAULT_ALERT_CAPACITY, IdsFunction, TaggedAlert};
use ids_worker::engine::output::{fast_line, json_line};
use ids_worker::engine::rules::{LoadReport, SigId};
use ids_worker::engine::{
    Alert, Backend, Detector, DetectorConfig, EngineConfig, LoadOptions, RuleLoader, rule_text,
};
use ids_worker::{NetworkFunction, Verdict};
use serde::{Deserialize, Serialize};

/// The project's own rules (`rules/das.rules`), the nodes' default rule set.
pub const OWN_RULES: &str = include_str!("../../rules/das.rules");

/// Where the rules come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    /// The project's own rules, built into the binary.
    Embedded,
    /// Rule files (`.lua` files give event filters).
    Files(Vec<PathBuf>),
}

/// Loaded, compiled rules and what loading them did.
#[derive(Debug)]
pub struct LoadedRules {
    /// The compiled rules every instance shares.
    pub detector: Arc<Detector>,
    /// What loading did (rules loaded, dropped, per keyword).
    pub report: LoadReport,
    /// Where they came from, for the report.
    pub description: String,
}

/// Loads and compiles rules with the default options (skip policy drop, variables as
/// Snort's defaults) and the `backend` matcher.
pub fn load_rules(source: &RuleSource, backend: Backend) -> Result<LoadedRules> {
    if !backend.available() {
        anyhow::bail!(
            "this build has no Hyperscan matcher: rebuild with `--features ids-worker/hyperscan`"
        );
    }
    let mut loader = RuleLoader::new(LoadOptions::default());
    let description = match source {
        RuleSource::Embedded => {
            loader
                .load_str("das.rules (built in)", OWN_RULES)
                .context("loading the built-in rules")?;
            "das.rules (built in)".to_string()
        }
        RuleSource::Files(files) => {
            for f in files {
                loader
                    .load_file(f)
                    .with_context(|| format!("loading rules from {}", f.display()))?;
            }
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut set = loader.finish();
    let report = std::mem::take(&mut set.report);
    let detector = Detector::build(
        set,
        DetectorConfig {
            backend,
            ..DetectorConfig::default()
        },
    )
    .context("compiling rules")?;
    Ok(LoadedRules {
        detector: Arc::new(detector),
        report,
        description,
    })
}

/// Which instance raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceId {
    /// The node.
    pub node: usize,
    /// Whether it is the node's primary instance (else its secondary).
    pub primary: bool,
}

/// An alert as an instance raised it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RaisedAlert {
    /// The instance.
    pub by: InstanceId,
    /// The alert and its job.
    pub tagged: TaggedAlert,
}

/// Collects the alerts of every instance of a run.
#[derive(Debug, Clone, Default)]
pub struct AlertSink {
    alerts: Arc<Mutex<Vec<RaisedAlert>>>,
    dropped: Arc<AtomicU64>,
}

impl AlertSink {
    /// Every alert handed in so far, and the alerts instances had to drop (full buffer).
    pub fn take(&self) -> (Vec<RaisedAlert>, u64) {
        let alerts = std::mem::take(&mut *self.alerts.lock().unwrap_or_else(|p| p.into_inner()));
        let dropped = self.dropped.load(Ordering::Relaxed);
        (alerts, dropped)
    }

    fn hand_in(&self, by: InstanceId, ids: &mut IdsFunction) {
        let drained = ids.drain_alerts();
        if drained.is_empty() {
            return;
        }
        let mut all = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
        all.extend(drained.into_iter().map(|tagged| RaisedAlert { by, tagged }));
    }
}

/// One instance of the IDS as a node's network function, handing its alerts to a sink.
pub struct SinkingIds {
    ids: IdsFunction,
    by: InstanceId,
    sink: AlertSink,
}

impl SinkingIds {
    /// An instance of `detector`'s rules for node `node` (primary or secondary).
    pub fn new(detector: Arc<Detector>, by: InstanceId, sink: AlertSink) -> Self {
        SinkingIds {
            ids: IdsFunction::new(detector, EngineConfig::default(), DEFAULT_ALERT_CAPACITY),
            by,
            sink,
        }
    }
}

impl NetworkFunction for SinkingIds {
    fn name(&self) -> &str {
        "ids"
    }

    fn process(&mut self, frame: &[u8], job: &JobMeta) -> Verdict {
        let verdict = self.ids.process(frame, job);
        if self.ids.pending_alerts() > 0 {
            self.sink.hand_in(self.by, &mut self.ids);
        }
        verdict
    }

    fn finish(&mut self) {
        self.ids.finish();
        self.sink.hand_in(self.by, &mut self.ids);
        self.sink
            .dropped
            .fetch_add(self.ids.alerts_dropped(), Ordering::Relaxed);
    }
}

/// Which copies of a job raised one (deduplicated) alert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RaisedBy {
    /// By the instance inspecting the primary copy.
    pub primary: bool,
    /// By the instance inspecting the duplicate.
    pub duplicate: bool,
}

/// The cluster's alerts after deduplication.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlertSummary {
    /// Alerts the instances raised, both copies counted.
    pub raised: u64,
    /// Alerts after keeping one per (duplicator, job, rule).
    pub unique: u64,
    /// Unique alerts raised on the primary copy only.
    pub primary_only: u64,
    /// Unique alerts raised on the duplicate only (the primary copy's instance missed
    /// it, e.g. the primary was dropped or its node was slow or down).
    pub duplicate_only: u64,
    /// Unique alerts raised on both copies.
    pub both: u64,
    /// Unique alerts raised when flows were ended at the end of the input (no job).
    pub at_end: u64,
    /// Alerts raised on the duplicate only, on a packet other than the one the primary
    /// copy's instance raised the same rule on for the same flow: a secondary instance
    /// that saw only part of a flow (duplicates dropped or purged) can inspect it
    /// differently, e.g. per packet instead of reassembled. Not reported (counted here).
    pub duplicate_elsewhere: u64,
    /// Alerts lost because an instance's buffer was full.
    pub dropped: u64,
    /// Alerts raised per node: by its primary instance, by its secondary instance.
    pub raised_by_node: Vec<[u64; 2]>,
    /// Unique alerts per rule, "gid:sid" -> (count, message), most frequent first.
    pub by_rule: Vec<(String, u64, String)>,
}

/// The alerts of a run, deduplicated.
pub struct ClusterAlerts {
    /// One alert per (duplicator, job, rule) in the order they were raised, with the
    /// copies that raised it (less [`AlertSummary::duplicate_elsewhere`]).
    pub unique: Vec<(Alert, RaisedBy)>,
    /// The counts.
    pub summary: AlertSummary,
}

/// A rule on a flow (both endpoints).
type FlowRule = (SigId, Addr, u16, Addr, u16);

/// The key that makes two alerts the same: the job (or, for end-of-input alerts, the
/// flow and the data) and the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AlertKey {
    Job(u8, u64, SigId),
    End(SigId, Addr, u16, Addr, u16, u32),
}

impl ClusterAlerts {
    /// Deduplicates the alerts the instances raised.
    pub fn build(raised: Vec<RaisedAlert>, dropped: u64, detector: &Detector) -> Self {
        let mut index: HashMap<AlertKey, usize> = HashMap::new();
        let mut unique: Vec<(Alert, RaisedBy)> = Vec::new();
        let mut summary = AlertSummary {
            raised: raised.len() as u64,
            dropped,
            ..AlertSummary::default()
        };
        for r in raised {
            let node = r.by.node;
            if summary.raised_by_node.len() <= node {
                summary.raised_by_node.resize(node + 1, [0; 2]);
            }
            summary.raised_by_node[node][usize::from(!r.by.primary)] += 1;
            let a = r.tagged.alert;
            let key = match r.tagged.job {
                Some(job) => AlertKey::Job(r.tagged.duplicator, job.0, a.sig),
                None => AlertKey::End(a.sig, a.src, a.sport, a.dst, a.dport, a.pkt_len),
            };
            let i = *index.entry(key).or_insert_with(|| {
                unique.push((a.clone(), RaisedBy::default()));
                unique.len() - 1
            });
            match r.tagged.kind {
                Some(CopyKind::Primary) => unique[i].1.primary = true,
                Some(CopyKind::Duplicate) => unique[i].1.duplicate = true,
                None => {}
            }
        }
        // Rules the primary copies raised, per flow: a duplicate-only alert of the same
        // rule on the same flow is the same detection seen from a partial flow.
        let flow_rule = |a: &Alert| -> FlowRule { (a.sig, a.src, a.sport, a.dst, a.dport) };
        let by_primaries: std::collections::HashSet<FlowRule> = unique
            .iter()
            .filter(|(_, by)| by.primary)
            .map(|(a, _)| flow_rule(a))
            .collect();
        let before = unique.len();
        unique
            .retain(|(a, by)| by.primary || !by.duplicate || !by_primaries.contains(&flow_rule(a)));
        summary.duplicate_elsewhere = (before - unique.len()) as u64;
        let mut by_rule: BTreeMap<SigId, u64> = BTreeMap::new();
        for (a, by) in &unique {
            *by_rule.entry(a.sig).or_default() += 1;
            match (by.primary, by.duplicate) {
                (true, true) => summary.both += 1,
                (true, false) => summary.primary_only += 1,
                (false, true) => summary.duplicate_only += 1,
                (false, false) => summary.at_end += 1,
            }
        }
        summary.unique = unique.len() as u64;
        let mut rules: Vec<(String, u64, String)> = by_rule
            .into_iter()
            .map(|(sig, n)| {
                let msg = unique
                    .iter()
                    .find(|(a, _)| a.sig == sig)
                    .map(|(a, _)| rule_text(detector, a).msg.to_string())
                    .unwrap_or_default();
                (format!("{}:{}", sig.gid, sig.sid), n, msg)
            })
            .collect();
        rules.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        summary.by_rule = rules;
        ClusterAlerts { unique, summary }
    }

    /// Writes the unique alerts in Snort's alert_fast or alert_json format.
    pub fn write(&self, detector: &Detector, path: &Path, json: bool) -> Result<()> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = BufWriter::new(file);
        for (a, _) in &self.unique {
            let text = rule_text(detector, a);
            let line = if json {
                json_line(a, &text)
            } else {
                fast_line(a, &text)
            };
            writeln!(w, "{line}").with_context(|| format!("writing {}", path.display()))?;
        }
        w.flush()
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Writes raised alerts (before deduplication) as JSON lines, one alert a line.
pub fn write_raised(raised: &[RaisedAlert], path: &Path) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = BufWriter::new(file);
    for r in raised {
        serde_json::to_writer(&mut w, r).with_context(|| format!("writing {}", path.display()))?;
        writeln!(w).with_context(|| format!("writing {}", path.display()))?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads alerts [`write_raised`] wrote.
pub fn read_raised(path: &Path) -> Result<Vec<RaisedAlert>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{} line {}: not a raised alert", path.display(), i + 1))
        })
        .collect()
}
