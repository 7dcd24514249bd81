//! The project's own rules (`rules/das.rules`) on generated traffic: every attack flow
//! the generator plants raises its rule exactly once, and nothing else alerts, with the
//! natural size mix (each marker in one packet) and with small segments (markers split
//! across segments, found only by reassembly), over IPv4 and IPv6.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ids_worker::engine::flow::Addr;
use ids_worker::engine::{
    Detector, DetectorConfig, Engine, EngineConfig, LoadOptions, RuleLoader, SkipPolicy,
};
use traffic_gen::{AttackKind, GenConfig, SizeMix, generate};

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/das.rules");

/// The sid the project's rules give each attack.
fn sid_of(kind: AttackKind) -> u32 {
    match kind {
        AttackKind::PathTraversal => 1_000_001,
        AttackKind::SqlInjection => 1_000_002,
        AttackKind::CommandInjection => 1_000_003,
        AttackKind::Log4Shell => 1_000_004,
        AttackKind::Xss => 1_000_005,
        AttackKind::Eicar => 1_000_006,
        AttackKind::BadDomain => 1_000_007,
        AttackKind::BadSni => 1_000_008,
    }
}

fn addr(ip: IpAddr) -> Addr {
    match ip {
        IpAddr::V4(a) => Addr::V4(a.octets()),
        IpAddr::V6(a) => Addr::V6(a.octets()),
    }
}

fn detector() -> Arc<Detector> {
    let mut l = RuleLoader::new(LoadOptions {
        policy: SkipPolicy::Drop,
        ..LoadOptions::default()
    });
    l.load_file(RULES).unwrap();
    let set = l.finish();
    assert_eq!(set.report.loaded, AttackKind::ALL.len(), "{}", set.report);
    assert!(set.report.keywords.is_empty(), "{}", set.report);
    assert!(set.rules.iter().all(|r| r.sig.sid >= 1_000_000));
    Arc::new(Detector::new(&set, DetectorConfig::default()).unwrap())
}

fn check(size_mix: SizeMix, seed: u64) {
    let config = GenConfig {
        seed,
        flows: 400,
        attack_fraction: 0.4,
        ipv6_share: 0.3,
        size_mix,
        ..GenConfig::default()
    };
    let (packets, records) = generate(config).unwrap();
    // (client, client port, server, server port) -> the attack the flow carries.
    let flows: HashMap<(Addr, u16, Addr, u16), Option<AttackKind>> = records
        .iter()
        .map(|r| {
            (
                (addr(r.client), r.client_port, addr(r.server), r.server_port),
                r.attack,
            )
        })
        .collect();
    let mut engine = Engine::new(detector(), EngineConfig::default());
    let mut alerts = Vec::new();
    let mut last = 0;
    for p in &packets {
        last = p.timestamp_ns;
        engine.process(&p.frame, p.timestamp_ns, &mut alerts);
    }
    engine.finish(last, &mut alerts);
    assert_eq!(engine.stats().decode_errors, 0);

    let mut per_flow: HashMap<(Addr, u16, Addr, u16), Vec<u32>> = HashMap::new();
    for a in &alerts {
        // Alerts are oriented by the data's direction: look the flow up both ways.
        let fwd = (a.src, a.sport, a.dst, a.dport);
        let rev = (a.dst, a.dport, a.src, a.sport);
        let key = if flows.contains_key(&fwd) { fwd } else { rev };
        assert!(flows.contains_key(&key), "alert on an unknown flow: {a:?}");
        per_flow.entry(key).or_default().push(a.sig.sid);
    }
    let mut planted = 0;
    for (key, attack) in &flows {
        let got = per_flow.get(key).cloned().unwrap_or_default();
        match attack {
            Some(kind) => {
                planted += 1;
                assert_eq!(got, vec![sid_of(*kind)], "{kind:?} flow {key:?}");
            }
            None => assert!(got.is_empty(), "benign flow {key:?} alerted: {got:?}"),
        }
    }
    assert!(planted >= 100, "only {planted} attack flows");
    for kind in AttackKind::ALL {
        assert!(
            alerts.iter().any(|a| a.sig.sid == sid_of(kind)),
            "{kind:?} never fired"
        );
    }
}

#[test]
fn every_attack_once_with_natural_sizes() {
    check(SizeMix::default(), 7);
}

#[test]
fn every_attack_once_with_small_segments() {
    check("small".parse().unwrap(), 8);
}
