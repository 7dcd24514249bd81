//! Attack markers appear in exactly the flows the generator says carry them.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Decoded, contains, flows, streams};
use traffic_gen::{ATTACKS, AttackKind, Direction, FlowRecord, GenConfig, SizeMix, generate};

/// Attacks whose marker appears in the flow's data in the marker's direction.
fn found(pkts: &[Decoded]) -> BTreeSet<AttackKind> {
    let (up, down) = streams(pkts);
    ATTACKS
        .iter()
        .filter(|a| match a.direction {
            Direction::ToServer => contains(&up, a.marker),
            Direction::ToClient => contains(&down, a.marker),
        })
        .map(|a| a.kind)
        .collect()
}

fn check(
    cfg: GenConfig,
) -> (
    BTreeMap<AttackKind, usize>,
    Vec<FlowRecord>,
    Vec<Vec<Decoded>>,
) {
    let (packets, records) = generate(cfg).unwrap();
    let by_key = flows(&packets);
    let mut counts = BTreeMap::new();
    let mut per_flow = Vec::new();
    for pkts in by_key.values() {
        let id = pkts[0].flow_id;
        let record = &records[id as usize];
        assert_eq!(record.id, id);
        let want: BTreeSet<AttackKind> = record.attack.into_iter().collect();
        let got = found(pkts);
        assert_eq!(
            got, want,
            "flow {id} ({:?} {}:{})",
            record.protocol, record.server, record.server_port
        );
        if let Some(a) = record.attack {
            *counts.entry(a).or_insert(0) += 1;
            assert_eq!(record.server_port, a.info().port);
            assert_eq!(record.protocol, a.info().protocol);
        }
        per_flow.push(pkts.clone());
    }
    (counts, records, per_flow)
}

#[test]
fn markers_appear_exactly_in_the_reported_flows() {
    let cfg = GenConfig {
        seed: 21,
        flows: 600,
        attack_fraction: 0.4,
        ipv6_share: 0.3,
        ..GenConfig::default()
    };
    let (counts, records, per_flow) = check(cfg);
    for kind in AttackKind::ALL {
        assert!(
            counts.get(&kind).copied().unwrap_or(0) >= 5,
            "{kind} rare: {counts:?}"
        );
    }
    let attacked = records.iter().filter(|r| r.attack.is_some()).count() as f64 / 600.0;
    assert!((attacked - 0.4).abs() < 0.06, "{attacked}");
    // With natural sizes every marker lies within a single packet.
    for pkts in &per_flow {
        let id = pkts[0].flow_id as usize;
        if let Some(a) = records[id].attack {
            assert!(
                pkts.iter().any(|p| contains(&p.payload, a.info().marker)),
                "{a} marker split across packets in flow {id}"
            );
        }
    }
}

#[test]
fn markers_survive_a_size_mix() {
    let cfg = GenConfig {
        seed: 22,
        flows: 300,
        attack_fraction: 0.5,
        size_mix: SizeMix::imix(),
        ..GenConfig::default()
    };
    let (counts, _, _) = check(cfg);
    assert!(counts.values().sum::<usize>() > 100);
}

#[test]
fn only_enabled_attacks_are_planted() {
    let cfg = GenConfig {
        seed: 23,
        flows: 200,
        attack_fraction: 0.3,
        attacks: vec![AttackKind::Xss, AttackKind::BadDomain],
        ..GenConfig::default()
    };
    let (counts, _, _) = check(cfg);
    let kinds: BTreeSet<AttackKind> = counts.keys().copied().collect();
    assert_eq!(
        kinds,
        BTreeSet::from([AttackKind::Xss, AttackKind::BadDomain])
    );
}

#[test]
fn no_attacks_by_default() {
    let (counts, records, _) = check(GenConfig {
        seed: 24,
        flows: 300,
        ..GenConfig::default()
    });
    assert!(counts.is_empty());
    assert!(records.iter().all(|r| r.attack.is_none()));
}
