//! `das ids`: the IDS engine over capture files, like `snort -r`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use dataplane::pcap::{CaptureReader, LINKTYPE_ETHERNET};
use ids_worker::engine::output::{fast_line, json_line};
use ids_worker::engine::rules::{Dialect, SkipPolicy, Variables};
use ids_worker::engine::{
    Alert, Backend, Detector, DetectorConfig, Engine, EngineConfig, EngineStats, LoadOptions,
    RuleLoader, rule_text,
};

use crate::report::count;

/// Rules that need a keyword the engine does not honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PolicyArg {
    /// Drop them (every loaded rule is honoured in full).
    Drop,
    /// Load them without the keyword (they may alert on more than they should).
    Relax,
}

/// The rule syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DialectArg {
    /// Tell Snort 2.9 and Snort 3 rules apart by their content.
    Auto,
    /// Snort 2.9.
    Snort2,
    /// Snort 3.
    Snort3,
}

/// The prefilter's pattern matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatcherArg {
    /// Two-byte anchors (pure Rust, always available; the fastest without Hyperscan).
    Anchor,
    /// Aho-Corasick (pure Rust, always available).
    Ac,
    /// Hyperscan (builds with `--features hyperscan`).
    Hyperscan,
}

impl MatcherArg {
    /// The engine's matcher.
    pub fn backend(self) -> Backend {
        match self {
            MatcherArg::Ac => Backend::AhoCorasick,
            MatcherArg::Anchor => Backend::Anchor,
            MatcherArg::Hyperscan => Backend::Hyperscan,
        }
    }
}

/// Options of `das ids`.
#[derive(Debug, Args)]
#[command(after_help = "\
Reads every rule file (Snort 3 or Snort 2.9 syntax; a file ending in .lua is read for \
its event_filter table), then inspects every capture (pcap or pcapng) in turn, one \
thread, flows reset between captures. Prints what loading did (rules loaded, dropped by \
the skip policy and why, per keyword), the packets and bytes inspected, the packet time \
with packets/s and Mbit/s, the rule-load time, the alerts by rule and the peak memory \
(VmHWM). --alert-json and --alert-fast write the alerts in Snort's alert_json and \
alert_fast formats. A malformed rule is an error naming its file and line unless \
--lenient is given. Exit status 0 on success, 2 on errors.")]
pub struct IdsArgs {
    /// Rule files (repeatable; `.lua` files give event filters).
    #[arg(long = "rules", value_name = "FILE", required = true, num_args = 1..)]
    rules: Vec<PathBuf>,

    /// Capture files to inspect (repeatable).
    #[arg(long = "pcap", value_name = "FILE", required = true, num_args = 1..)]
    pcaps: Vec<PathBuf>,

    /// Write alerts in Snort's alert_json format.
    #[arg(long, value_name = "FILE")]
    alert_json: Option<PathBuf>,

    /// Write alerts in Snort's alert_fast format.
    #[arg(long, value_name = "FILE")]
    alert_fast: Option<PathBuf>,

    /// Load the rules that can be read and report the malformed ones.
    #[arg(long)]
    lenient: bool,

    /// What to do with rules that need a keyword the engine does not honour.
    #[arg(long, value_enum, default_value_t = PolicyArg::Drop)]
    policy: PolicyArg,

    /// Rule syntax.
    #[arg(long, value_enum, default_value_t = DialectArg::Auto)]
    dialect: DialectArg,

    /// Set a rule variable, e.g. --var HOME_NET=10.0.0.0/8 (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,

    /// The prefilter's pattern matcher.
    #[arg(long, value_enum, default_value_t = MatcherArg::Anchor)]
    matcher: MatcherArg,

    /// How many rules to list in the alerts-by-rule summary.
    #[arg(long, default_value_t = 25, value_name = "N")]
    top: usize,
}

/// Runs `das ids`.
pub fn run(args: IdsArgs) -> Result<ExitCode> {
    let backend = args.matcher.backend();
    if !backend.available() {
        bail!(
            "this build has no Hyperscan matcher: rebuild with `--features ids-worker/hyperscan`"
        );
    }
    let mut vars = Variables::default();
    for v in &args.vars {
        let (name, value) = v
            .split_once('=')
            .with_context(|| format!("--var {v:?}: expected NAME=VALUE"))?;
        vars.set(name, value);
    }
    let options = LoadOptions {
        policy: match args.policy {
            PolicyArg::Drop => SkipPolicy::Drop,
            PolicyArg::Relax => SkipPolicy::Relax,
        },
        lenient: args.lenient,
        dialect: match args.dialect {
            DialectArg::Auto => None,
            DialectArg::Snort2 => Some(Dialect::Snort2),
            DialectArg::Snort3 => Some(Dialect::Snort3),
        },
        vars,
    };

    let load_start = Instant::now();
    let mut loader = RuleLoader::new(options);
    for f in &args.rules {
        loader
            .load_file(f)
            .with_context(|| format!("loading rules from {}", f.display()))?;
    }
    let mut set = loader.finish();
    let parse_time = load_start.elapsed();
    let report = std::mem::take(&mut set.report);
    let detector = Arc::new(
        Detector::build(
            set,
            DetectorConfig {
                backend,
                ..DetectorConfig::default()
            },
        )
        .context("compiling rules")?,
    );
    let load_time = load_start.elapsed();

    let mut json = open(&args.alert_json)?;
    let mut fast = open(&args.alert_fast)?;
    let mut totals = EngineStats::default();
    let mut by_rule = vec![0u64; detector.rules().len()];
    let mut alerts: Vec<Alert> = Vec::new();
    let mut busy = std::time::Duration::ZERO;
    for pcap in &args.pcaps {
        let mut engine = Engine::new(detector.clone(), EngineConfig::default());
        let mut reader = CaptureReader::open(pcap)
            .with_context(|| format!("cannot open capture {}", pcap.display()))?;
        let mut last_ns = 0;
        let started = Instant::now();
        while let Some(rec) = reader
            .next_record()
            .with_context(|| format!("reading {}", pcap.display()))?
        {
            if rec.link_type != LINKTYPE_ETHERNET {
                // Counted like any other packet that is not IP.
                engine.process(&[], rec.timestamp_ns, &mut alerts);
                continue;
            }
            last_ns = rec.timestamp_ns;
            engine.process(rec.data, rec.timestamp_ns, &mut alerts);
            if alerts.len() >= 4096 {
                write_alerts(&detector, &alerts, &mut json, &mut fast)?;
                alerts.clear();
            }
        }
        engine.finish(last_ns, &mut alerts);
        busy += started.elapsed();
        write_alerts(&detector, &alerts, &mut json, &mut fast)?;
        alerts.clear();
        add_stats(&mut totals, &engine.stats());
        for (t, n) in by_rule.iter_mut().zip(engine.rule_alerts()) {
            *t += n;
        }
    }
    for w in [&mut json, &mut fast].into_iter().flatten() {
        w.flush().context("writing alerts")?;
    }

    print_summary(
        &args, &report, &detector, &totals, &by_rule, parse_time, load_time, busy,
    );
    Ok(ExitCode::SUCCESS)
}

fn open(path: &Option<PathBuf>) -> Result<Option<BufWriter<File>>> {
    path.as_ref()
        .map(|p| {
            File::create(p)
                .map(BufWriter::new)
                .with_context(|| format!("cannot create {}", p.display()))
        })
        .transpose()
}

fn write_alerts(
    detector: &Detector,
    alerts: &[Alert],
    json: &mut Option<BufWriter<File>>,
    fast: &mut Option<BufWriter<File>>,
) -> Result<()> {
    for a in alerts {
        let text = rule_text(detector, a);
        if let Some(w) = json.as_mut() {
            writeln!(w, "{}", json_line(a, &text)).context("writing alert_json")?;
        }
        if let Some(w) = fast.as_mut() {
            writeln!(w, "{}", fast_line(a, &text)).context("writing alert_fast")?;
        }
    }
    Ok(())
}

fn add_stats(t: &mut EngineStats, s: &EngineStats) {
    t.packets += s.packets;
    t.bytes += s.bytes;
    t.not_ip += s.not_ip;
    t.decode_errors += s.decode_errors;
    t.units += s.units;
    t.flows += s.flows;
    t.flows_timed_out += s.flows_timed_out;
    t.flows_evicted += s.flows_evicted;
    t.segments_dropped += s.segments_dropped;
    t.alerts += s.alerts;
    t.filtered += s.filtered;
    t.queue_limited += s.queue_limited;
    t.already_alerted += s.already_alerted;
    t.exhausted += s.exhausted;
    t.passed += s.passed;
}

/// Peak resident memory (VmHWM) in KiB, where /proc is readable.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[allow(clippy::too_many_arguments)]
fn print_summary(
    args: &IdsArgs,
    report: &ids_worker::engine::LoadReport,
    detector: &Detector,
    s: &EngineStats,
    by_rule: &[u64],
    parse_time: std::time::Duration,
    load_time: std::time::Duration,
    busy: std::time::Duration,
) {
    let d = detector.stats();
    println!(
        "das ids: {} rule file(s), {} capture(s), matcher {}",
        args.rules.len(),
        args.pcaps.len(),
        match args.matcher {
            MatcherArg::Ac => Backend::AhoCorasick.name(),
            MatcherArg::Anchor => Backend::Anchor.name(),
            MatcherArg::Hyperscan => Backend::Hyperscan.name(),
        }
    );
    println!(
        "  rules          {} loaded ({} read, {} dropped by policy, {} loaded relaxed, {} malformed, {} duplicates replaced), {} event filters",
        count(report.loaded as u64),
        count(report.rules_read as u64),
        count(report.dropped as u64),
        count(report.relaxed as u64),
        count(report.malformed.len() as u64),
        count(report.duplicates as u64),
        count(report.event_filters as u64),
    );
    println!(
        "  rule load      {:.3} s (read {:.3} s, compile {:.3} s): {} groups, {} patterns, {} rules with a fast pattern, prefilter {:.1} MiB",
        load_time.as_secs_f64(),
        parse_time.as_secs_f64(),
        detector.compile_time().as_secs_f64(),
        count(d.groups as u64),
        count(d.patterns as u64),
        count(d.with_fast_pattern as u64),
        d.prefilter_bytes as f64 / (1024.0 * 1024.0)
    );
    let secs = busy.as_secs_f64().max(1e-9);
    println!(
        "  packets        {} ({} bytes), {} not IP, {} undecodable; {} flows, {} reassembled units",
        count(s.packets),
        count(s.bytes),
        count(s.not_ip),
        count(s.decode_errors),
        count(s.flows),
        count(s.units)
    );
    println!(
        "  packet time    {:.3} s: {:.1} k packets/s, {:.1} Mbit/s",
        busy.as_secs_f64(),
        s.packets as f64 / secs / 1e3,
        s.bytes as f64 * 8.0 / secs / 1e6
    );
    println!(
        "  alerts         {} ({} held back by event filters, {} over the per-packet limit, {} already raised on a packet)",
        count(s.alerts),
        count(s.filtered),
        count(s.queue_limited),
        count(s.already_alerted)
    );
    let mut sids: BTreeMap<(u64, u32, u32), &str> = BTreeMap::new();
    for (i, n) in by_rule.iter().enumerate().filter(|(_, n)| **n > 0) {
        if let Some(r) = detector.rule(i as u32) {
            sids.insert((u64::MAX - n, r.rule.sig.gid, r.rule.sig.sid), &r.rule.msg);
        }
    }
    let total = sids.len();
    for ((n, gid, sid), msg) in sids.into_iter().take(args.top) {
        println!("    {:>9}  {gid}:{sid}  {msg}", count(u64::MAX - n));
    }
    if total > args.top {
        println!("    ... {} more rules alerted", total - args.top);
    }
    if s.exhausted > 0 {
        println!(
            "  warning        {} rule evaluations ran out of steps (counted as no match)",
            count(s.exhausted)
        );
    }
    match peak_kib() {
        Some(k) => println!("  peak memory    {:.1} MiB (VmHWM)", k as f64 / 1024.0),
        None => println!("  peak memory    unknown (/proc/self/status unreadable)"),
    }
    let text = report.to_string();
    let mut lines = text.lines();
    lines.next();
    let rest: Vec<&str> = lines.collect();
    if !rest.is_empty() {
        println!("  load report");
        for l in rest {
            println!("    {l}");
        }
    }
}
