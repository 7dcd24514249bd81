//! The engine as a node's network function: every packet forwarded, alerts tagged
//! with the job and copy kind, a bounded alert buffer that counts what it drops, and
//! two instances sharing the compiled rules but nothing mutable.

use std::sync::Arc;

use dataplane::meta::{CopyKind, JobId, JobMeta, Priority};
use ids_worker::engine::{
    Detector, DetectorConfig, EngineConfig, IdsFunction, LoadOptions, RuleLoader,
};
use ids_worker::{NetworkFunction, Verdict};
use traffic_gen::{AttackKind, GenConfig, generate};

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/das.rules");

fn detector() -> Arc<Detector> {
    let mut l = RuleLoader::new(LoadOptions::default());
    l.load_file(RULES).unwrap();
    Arc::new(Detector::new(&l.finish(), DetectorConfig::default()).unwrap())
}

fn job(n: u64, kind: CopyKind, ts: u64) -> JobMeta {
    JobMeta {
        job: JobId(n),
        kind,
        priority: if kind == CopyKind::Primary {
            Priority::High
        } else {
            Priority::Low
        },
        ingress_ns: ts,
        duplicator: 3,
        peer: None,
    }
}

fn traffic() -> Vec<traffic_gen::GeneratedPacket> {
    generate(GenConfig {
        seed: 11,
        flows: 120,
        attack_fraction: 0.5,
        attacks: vec![AttackKind::Log4Shell, AttackKind::BadDomain],
        ..GenConfig::default()
    })
    .unwrap()
    .0
}

#[test]
fn alerts_carry_job_and_copy_kind() {
    let d = detector();
    let packets = traffic();
    let mut primary = IdsFunction::new(d.clone(), EngineConfig::default(), 1024);
    let mut secondary = IdsFunction::new(d, EngineConfig::default(), 1024);
    assert_eq!(primary.name(), "ids");
    for (i, p) in packets.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(
            primary.process(&p.frame, &job(n, CopyKind::Primary, p.timestamp_ns)),
            Verdict::Forward
        );
        secondary.process(&p.frame, &job(n, CopyKind::Duplicate, p.timestamp_ns));
    }
    let a = primary.drain_alerts();
    let b = secondary.drain_alerts();
    assert!(!a.is_empty());
    assert!(primary.drain_alerts().is_empty(), "drained once");
    assert!(
        a.iter()
            .all(|t| t.kind == Some(CopyKind::Primary) && t.duplicator == 3)
    );
    assert!(b.iter().all(|t| t.kind == Some(CopyKind::Duplicate)));
    // Both instances saw the same packets: the same alerts on the same jobs, which is
    // what lets dedup report each once.
    let key = |t: &ids_worker::engine::TaggedAlert| (t.job, t.alert.sig.sid);
    let mut ka: Vec<_> = a.iter().map(key).collect();
    let mut kb: Vec<_> = b.iter().map(key).collect();
    ka.sort();
    kb.sort();
    assert_eq!(ka, kb);
    assert_eq!(primary.alerts_dropped(), 0);
    assert_eq!(primary.stats().packets, packets.len() as u64);
}

#[test]
fn a_full_buffer_counts_what_it_drops() {
    let packets = traffic();
    let mut f = IdsFunction::new(detector(), EngineConfig::default(), 2);
    for (i, p) in packets.iter().enumerate() {
        f.process(&p.frame, &job(i as u64, CopyKind::Primary, p.timestamp_ns));
    }
    f.finish();
    let raised = f.stats().alerts;
    assert!(raised > 2);
    assert_eq!(f.pending_alerts(), 2);
    assert_eq!(f.alerts_dropped(), raised - 2);
    assert_eq!(f.drain_alerts().len(), 2);
}
