//! The IDS engine's throughput on one core: every shared capture (12 pcaps, 67,698
//! packets) through one engine instance per capture, as `das ids` runs them, with the
//! community rules and with community + ET Open, for each pure-Rust prefilter matcher;
//! and the rule-load (parse + compile) time. Without the shared corpus (`../shared`)
//! the project's own rules run on generated attack traffic instead.
//! Run: `cargo bench -p das-benches --bench ids`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dataplane::pcap::{LINKTYPE_ETHERNET, read_frames};
use ids_worker::engine::{
    Backend, Detector, DetectorConfig, Engine, EngineConfig, LoadOptions, RuleLoader, RuleSet,
};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");
const OWN_RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/das.rules");

/// Frames with their capture times, one list per capture.
type Captures = Vec<Vec<(u64, Vec<u8>)>>;

fn load(files: &[PathBuf]) -> RuleSet {
    let mut l = RuleLoader::new(LoadOptions::default());
    for f in files {
        l.load_file(f).expect("rules load");
    }
    l.finish()
}

/// The rule sets and captures to run: the shared corpus if present, else the
/// project's rules on generated traffic.
fn workload() -> (Vec<(&'static str, Vec<PathBuf>)>, Captures) {
    let root = Path::new(SHARED);
    if root.join("pcaps").is_dir() {
        let rules = root.join("rules");
        let community = vec![rules.join("snort3-community/snort3-community.rules")];
        let mut et = community.clone();
        et.push(rules.join("et-open-snort3-converted/et-open-snort3.rules"));
        et.push(rules.join("et-open-snort3-converted/et_event_filter.lua"));
        let mut names: Vec<PathBuf> = std::fs::read_dir(root.join("pcaps"))
            .expect("pcaps")
            .map(|e| e.expect("entry").path())
            .collect();
        names.sort();
        let captures = names
            .iter()
            .map(|p| {
                read_frames(p)
                    .expect("capture")
                    .into_iter()
                    .filter(|f| f.link_type == LINKTYPE_ETHERNET)
                    .map(|f| (f.timestamp_ns, f.data))
                    .collect()
            })
            .collect();
        (
            vec![("community", community), ("community+et", et)],
            captures,
        )
    } else {
        let packets = traffic_gen::generate(traffic_gen::GenConfig {
            flows: 500,
            attack_fraction: 0.3,
            ..traffic_gen::GenConfig::default()
        })
        .expect("generated traffic")
        .0;
        let frames = packets
            .into_iter()
            .map(|p| (p.timestamp_ns, p.frame))
            .collect();
        (vec![("das", vec![PathBuf::from(OWN_RULES)])], vec![frames])
    }
}

fn run(detector: &Arc<Detector>, captures: &Captures) -> u64 {
    let mut alerts = Vec::new();
    for frames in captures {
        let mut engine = Engine::new(detector.clone(), EngineConfig::default());
        let mut last = 0;
        for (ts, f) in frames {
            last = *ts;
            engine.process(f, *ts, &mut alerts);
        }
        engine.finish(last, &mut alerts);
    }
    alerts.len() as u64
}

fn bench_engine(c: &mut Criterion) {
    let (sets, captures) = workload();
    let packets: usize = captures.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("ids");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    for (name, files) in &sets {
        let set = load(files);
        for backend in [Backend::AhoCorasick, Backend::Anchor] {
            let detector = Arc::new(
                Detector::new(
                    &set,
                    DetectorConfig {
                        backend,
                        ..DetectorConfig::default()
                    },
                )
                .expect("rules compile"),
            );
            g.throughput(Throughput::Elements(packets as u64));
            g.bench_function(
                BenchmarkId::new(format!("packets/{name}"), backend.name()),
                |b| b.iter(|| run(&detector, &captures)),
            );
        }
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("rule_load", name), |b| {
            b.iter(|| Detector::new(&load(files), DetectorConfig::default()).expect("compile"))
        });
    }
    g.finish();
}

// The macro generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, bench_engine);
}
criterion_main!(group::benches);
