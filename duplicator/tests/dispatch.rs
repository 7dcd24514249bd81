//! The duplicator's dispatch, observed on ring ports: where each copy goes and what it
//! carries, for every scheme.

use std::collections::HashMap;

use dataplane::flow::{Toeplitz, frame_hash};
use dataplane::meta::{CopyKind, JobFrame, Priority};
use dataplane::port::Port;
use dataplane::ring::{Overflow, RingPort, RingQueueConfig};
use dataplane::{Batch, BufPool, Doorbell, Idler, RxOutcome, RxQueue};
use duplicator::{Duplicator, DuplicatorConfig, DuplicatorError, NodeOutput, NodeTable, Scheme};

/// A minimal IPv4/UDP frame between two hosts; `reverse` swaps the endpoints.
fn udp_frame(flow: u32, reverse: bool) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[12] = 0x08;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    let a = [10, 0, (flow >> 8) as u8, flow as u8];
    let b = [192, 0, 2, 1];
    // Ports unrelated to the address: the symmetric key folds fields by XOR, so a
    // port that moved in step with the address would cancel it out.
    let client_port = 40_000 + (flow.wrapping_mul(7_919) % 20_000) as u16;
    let (src, dst, sp, dp) = if reverse {
        (b, a, 53u16, client_port)
    } else {
        (a, b, client_port, 53)
    };
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&dst);
    f[34..36].copy_from_slice(&sp.to_be_bytes());
    f[36..38].copy_from_slice(&dp.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f
}

struct Rig {
    nodes: Vec<RingPort>,
    duplicator: Duplicator,
    pool: BufPool,
}

fn rig(nodes: usize, scheme: Scheme) -> Rig {
    rig_with_health(nodes, scheme, dataplane::health::NodeHealth::new(nodes))
}

fn rig_with_health(nodes: usize, scheme: Scheme, health: dataplane::health::NodeHealth) -> Rig {
    let mut ports: Vec<RingPort> = (0..nodes)
        .map(|i| {
            RingPort::new(
                &format!("node{i}"),
                &[
                    RingQueueConfig::new(4096, Overflow::Backpressure),
                    RingQueueConfig::new(4096, Overflow::DropOldest),
                ],
            )
            .unwrap()
        })
        .collect();
    let duplicator = Duplicator::new(DuplicatorConfig::new(7, nodes, scheme), outputs(&mut ports))
        .unwrap()
        .with_health(health);
    Rig {
        nodes: ports,
        duplicator,
        pool: BufPool::default(),
    }
}

/// The duplicator's side of each node's queues: 0, 1 and, where the port has a third,
/// the rescue queue.
fn outputs(ports: &mut [RingPort]) -> Vec<NodeOutput> {
    ports
        .iter_mut()
        .map(|p| NodeOutput {
            primary: p.take_tx_queue(0).unwrap(),
            duplicate: p.take_tx_queue(1).unwrap(),
            rescue: (p.tx_queue_count() > duplicator::RESCUE_QUEUE)
                .then(|| p.take_tx_queue(duplicator::RESCUE_QUEUE).unwrap()),
        })
        .collect()
}

/// Every copy the nodes received: (node, queue, frame bytes).
fn drain(nodes: &mut [RingPort], pool: &BufPool) -> Vec<(usize, usize, Vec<u8>)> {
    let mut bufs = pool.cache();
    let mut out = Vec::new();
    for (i, port) in nodes.iter_mut().enumerate() {
        for q in 0..2 {
            let mut rx: Box<dyn RxQueue> = port.take_rx_queue(q).unwrap();
            let mut batch = Batch::with_capacity(256).unwrap();
            while let RxOutcome::Received(_) = rx.rx_burst(&mut batch, &mut bufs).unwrap() {
                out.extend(batch.drain().map(|p| (i, q, p.data().to_vec())));
            }
        }
    }
    out
}

fn dispatch_flows(rig: &mut Rig, flows: u32) -> Vec<Vec<u8>> {
    let mut bufs = rig.pool.cache();
    let mut idler = Idler::new(Doorbell::for_current_thread());
    let mut sent = Vec::new();
    let mut batch = Batch::with_capacity(32).unwrap();
    for flow in 0..flows {
        for reverse in [false, true] {
            let frame = udp_frame(flow, reverse);
            batch.push(bufs.alloc_from(&frame).unwrap()).unwrap();
            sent.push(frame);
            if batch.is_full() {
                rig.duplicator
                    .dispatch(&mut batch, &mut bufs, &mut idler, 42)
                    .unwrap();
            }
        }
    }
    rig.duplicator
        .dispatch(&mut batch, &mut bufs, &mut idler, 42)
        .unwrap();
    sent
}

#[test]
fn das_sends_primary_to_queue_0_and_duplicate_to_another_nodes_queue_1() {
    let mut rig = rig(3, Scheme::Das);
    let sent = dispatch_flows(&mut rig, 200);
    let copies = drain(&mut rig.nodes, &rig.pool);
    assert_eq!(copies.len(), 2 * sent.len());
    let hasher = Toeplitz::symmetric();
    let table = NodeTable::new(3).unwrap();
    let mut by_job: HashMap<u64, Vec<(usize, usize, CopyKind)>> = HashMap::new();
    for (node, queue, bytes) in &copies {
        let f = JobFrame::new_checked(&bytes[..]).unwrap();
        let meta = f.meta();
        assert_eq!(meta.duplicator, 7);
        assert_eq!(meta.ingress_ns, 42);
        assert_eq!(f.steering().unwrap().node as usize, *node);
        assert_eq!(f.steering().unwrap().queue as usize, *queue);
        assert_eq!(
            f.inner(),
            &sent[meta.job.0 as usize][..],
            "job ids follow arrival order"
        );
        let expected_priority = if meta.kind == CopyKind::Primary {
            Priority::High
        } else {
            Priority::Low
        };
        assert_eq!(meta.priority, expected_priority);
        if meta.kind == CopyKind::Primary {
            assert_eq!(*node, table.primary(frame_hash(&hasher, f.inner())));
        }
        by_job
            .entry(meta.job.0)
            .or_default()
            .push((*node, *queue, meta.kind));
    }
    assert_eq!(by_job.len(), sent.len());
    for (job, copies) in &by_job {
        let primary = copies
            .iter()
            .find(|c| c.2 == CopyKind::Primary)
            .expect("a primary");
        let dup = copies
            .iter()
            .find(|c| c.2 == CopyKind::Duplicate)
            .expect("a duplicate");
        assert_eq!((primary.1, dup.1), (0, 1), "job {job}");
        assert_ne!(
            primary.0, dup.0,
            "job {job}: duplicate on the primary's node"
        );
    }
    // Both directions of a flow share their primary node.
    for flow in 0..200usize {
        let fwd = by_job[&(2 * flow as u64)]
            .iter()
            .find(|c| c.2 == CopyKind::Primary)
            .unwrap()
            .0;
        let rev = by_job[&(2 * flow as u64 + 1)]
            .iter()
            .find(|c| c.2 == CopyKind::Primary)
            .unwrap()
            .0;
        assert_eq!(fwd, rev, "flow {flow}");
    }
    let report = rig.duplicator.report();
    assert_eq!(report.duplicates, sent.len() as u64);
    let per_queue = |q: usize| {
        report
            .copies_per_node
            .iter()
            .map(|c| c[q])
            .collect::<Vec<_>>()
    };
    assert_eq!(per_queue(0).iter().sum::<u64>(), sent.len() as u64);
    assert_eq!(per_queue(1).iter().sum::<u64>(), sent.len() as u64);
    assert!(per_queue(0).iter().all(|&n| n > 50), "{:?}", per_queue(0));
    assert!(report.dead_nodes.is_empty() && report.failovers == 0);
}

#[test]
fn a_node_marked_down_gets_nothing_and_its_flows_fail_over() {
    use dataplane::health::NodeHealth;
    let mut r = rig(3, Scheme::Das);
    let health = NodeHealth::new(3);
    health.mark_down(1);
    r.duplicator =
        std::mem::replace(&mut r.duplicator, rig(1, Scheme::Single).duplicator).with_health(health);
    let sent = dispatch_flows(&mut r, 300);
    let copies = drain(&mut r.nodes, &r.pool);
    assert!(
        copies.iter().all(|(node, _, _)| *node != 1),
        "node 1 is down"
    );
    let report = r.duplicator.report();
    assert_eq!(report.dead_nodes, vec![1]);
    assert!(report.failovers > 0);
    // Every job still has a copy; those of node 1's flows went at high priority to
    // their secondary, as the only copy (no peer to notify).
    let mut jobs =
        std::collections::HashMap::<u64, Vec<(usize, usize, CopyKind, Option<u8>)>>::new();
    for (node, queue, bytes) in &copies {
        let m = JobFrame::new_checked(&bytes[..]).unwrap().meta();
        jobs.entry(m.job.0)
            .or_default()
            .push((*node, *queue, m.kind, m.peer));
    }
    assert_eq!(jobs.len(), sent.len());
    let failed_over: Vec<_> = jobs
        .values()
        .filter(|c| c.len() == 1 && c[0].2 == CopyKind::Duplicate)
        .collect();
    assert_eq!(failed_over.len() as u64, report.failovers);
    assert!(failed_over.iter().all(|c| c[0].1 == 0 && c[0].3.is_none()));
    assert_eq!(report.counters.forwarded, sent.len() as u64);
    assert!(report.counters.balanced());
}

#[test]
fn a_node_whose_queues_are_gone_is_found_dead_and_its_copies_counted_lost() {
    let mut r = rig(2, Scheme::Single);
    drop(r.nodes[1].take_rx_queue(0).unwrap());
    let sent = dispatch_flows(&mut r, 200);
    let report = r.duplicator.report();
    assert_eq!(report.dead_nodes, vec![1]);
    let lost = report.copies_lost_per_node[1];
    assert!(lost > 0);
    // Copies taken by node 0 plus copies lost plus jobs dropped once node 1 was known
    // dead cover every job.
    let taken: u64 = report.copies_per_node.iter().flatten().sum();
    assert_eq!(taken + lost, report.counters.forwarded);
    assert_eq!(
        report.counters.forwarded + report.counters.dropped_for(dataplane::DropReason::NodeDown),
        sent.len() as u64
    );
}

#[test]
fn clone_sends_the_duplicate_at_equal_priority_and_single_sends_none() {
    let mut rig_clone = rig(2, Scheme::Clone);
    let sent = dispatch_flows(&mut rig_clone, 50);
    let copies = drain(&mut rig_clone.nodes, &rig_clone.pool);
    assert_eq!(copies.len(), 2 * sent.len());
    assert!(copies.iter().all(|(_, q, _)| *q == 0));
    let dups = copies
        .iter()
        .filter(|(_, _, b)| JobFrame::new_checked(&b[..]).unwrap().kind() == CopyKind::Duplicate)
        .count();
    assert_eq!(dups, sent.len());

    let mut rig_single = rig(2, Scheme::Single);
    let sent = dispatch_flows(&mut rig_single, 50);
    let copies = drain(&mut rig_single.nodes, &rig_single.pool);
    assert_eq!(copies.len(), sent.len());
    assert_eq!(rig_single.duplicator.report().duplicates, 0);
}

#[test]
fn bad_settings_are_refused_with_a_reason() {
    let err = Duplicator::new(DuplicatorConfig::new(0, 1, Scheme::Das), Vec::new())
        .err()
        .unwrap();
    assert_eq!(err, DuplicatorError::NeedsTwoNodes(Scheme::Das));
    assert!(err.to_string().contains("at least 2 nodes"));
    let err = Duplicator::new(DuplicatorConfig::new(0, 2, Scheme::Single), Vec::new())
        .err()
        .unwrap();
    assert_eq!(err, DuplicatorError::OutputCount { given: 0, nodes: 2 });
    assert!(Duplicator::new(DuplicatorConfig::new(0, 0, Scheme::Single), Vec::new()).is_err());
}

/// Dispatches 32 flows' packets at `now_ns`.
fn dispatch_at(rig: &mut Rig, now_ns: u64) {
    let mut bufs = rig.pool.cache();
    let mut idler = Idler::new(Doorbell::for_current_thread());
    let mut batch = Batch::with_capacity(32).unwrap();
    for flow in 0..32 {
        batch
            .push(bufs.alloc_from(&udp_frame(flow, false)).unwrap())
            .unwrap();
    }
    rig.duplicator
        .dispatch(&mut batch, &mut bufs, &mut idler, now_ns)
        .unwrap();
}

/// Node 0's status: it took every duplicate it was sent.
fn node_0_took_all(rig: &Rig, view: &dataplane::status::RemoteQueueView) {
    let sent = rig.duplicator.report().copies_per_node;
    view.update(&dataplane::status::NodeStatus {
        node: 0,
        duplicates_taken: sent[0][1],
        ..Default::default()
    });
}

#[test]
fn the_guard_pauses_duplicates_to_a_remote_node_that_does_not_take_them() {
    use dataplane::status::RemoteQueueView;
    use std::sync::Arc;
    // Node 0 takes every duplicate it is sent (its status frames say so); node 1 takes
    // none: its duplicates pile up or drop in its queue.
    let mut r = rig(2, Scheme::Das);
    let views: Vec<Arc<RemoteQueueView>> = (0..2).map(|_| Arc::default()).collect();
    r.duplicator = std::mem::replace(&mut r.duplicator, rig(1, Scheme::Single).duplicator)
        .with_remote_queues(views.clone());
    let step = 20_000_000; // twice the guard's interval
    for round in 0..20u64 {
        node_0_took_all(&r, &views[0]);
        dispatch_at(&mut r, round * step);
    }
    let report = r.duplicator.report();
    assert!(report.guard_pauses > 0, "{report:?}");
    assert!(report.guarded > 0, "{report:?}");
    // Only node 1 was paused: node 0 kept getting duplicates to the end.
    let late = report.copies_per_node[0][1];
    for round in 20..25u64 {
        node_0_took_all(&r, &views[0]);
        dispatch_at(&mut r, round * step);
    }
    assert!(r.duplicator.report().copies_per_node[0][1] > late);
    let report = r.duplicator.report();
    assert_eq!(
        report.duplicates + report.guarded + report.not_hedged,
        report.counters.received,
        "every job duplicated or guarded"
    );
}

/// Two nodes whose primary queues are drop-tail with room for `primary_room`, with
/// duplicate queues of `dup_room` and rescue queues.
fn rescue_rig(primary_room: usize, dup_room: usize) -> Rig {
    let mut ports: Vec<RingPort> = (0..2)
        .map(|i| {
            RingPort::new(
                &format!("node{i}"),
                &[
                    RingQueueConfig::new(primary_room, Overflow::DropTail),
                    RingQueueConfig::new(dup_room, Overflow::DropOldest),
                    RingQueueConfig::new(4096, Overflow::DropOldest),
                ],
            )
            .unwrap()
        })
        .collect();
    let outputs = outputs(&mut ports);
    Rig {
        nodes: ports,
        duplicator: Duplicator::new(DuplicatorConfig::new(7, 2, Scheme::Das), outputs).unwrap(),
        pool: BufPool::default(),
    }
}

/// Every copy in the nodes' queues 0 to 2: (node, queue, job, kind).
fn drain_all(rig: &mut Rig) -> Vec<(usize, usize, u64, CopyKind)> {
    let mut bufs = rig.pool.cache();
    let mut out = Vec::new();
    for (i, port) in rig.nodes.iter_mut().enumerate() {
        for q in 0..=duplicator::RESCUE_QUEUE {
            let mut rx: Box<dyn RxQueue> = port.take_rx_queue(q).unwrap();
            let mut batch = Batch::with_capacity(256).unwrap();
            while let RxOutcome::Received(_) = rx.rx_burst(&mut batch, &mut bufs).unwrap() {
                for p in batch.drain() {
                    let meta = JobFrame::new_checked(p.data()).unwrap().meta();
                    out.push((i, q, meta.job.0, meta.kind));
                }
            }
        }
    }
    out
}

#[test]
fn a_duplicate_whose_primary_finds_its_queue_full_goes_to_the_rescue_queue() {
    // Room for 8 primaries per node and nothing drains: of 256 jobs, 16 primaries get
    // in and every other job's only chance is its duplicate.
    let mut r = rescue_rig(8, 4096);
    let sent = dispatch_flows(&mut r, 128);
    let copies = drain_all(&mut r);
    let report = r.duplicator.report();
    let accepted: std::collections::HashSet<u64> = copies
        .iter()
        .filter(|c| c.3 == CopyKind::Primary)
        .map(|c| c.2)
        .collect();
    assert_eq!(accepted.len(), 16);
    let dups: Vec<_> = copies
        .iter()
        .filter(|c| c.3 == CopyKind::Duplicate)
        .collect();
    assert_eq!(dups.len(), sent.len(), "one duplicate per job");
    for &&(node, queue, job, _) in &dups {
        // The primary that got in kept its duplicate in queue 1; the refused one's
        // duplicate went to the rescue queue (its steering still names queue 1, the
        // low-priority queue of a NIC).
        let expected = if accepted.contains(&job) {
            1
        } else {
            duplicator::RESCUE_QUEUE
        };
        assert_eq!(queue, expected, "job {job} on node {node}");
    }
    assert_eq!(report.rescued, sent.len() as u64 - 16);
    assert_eq!(report.duplicates, sent.len() as u64);
    for (i, per_queue) in report.copies_per_node.iter().enumerate() {
        let in_rescue = dups
            .iter()
            .filter(|d| d.0 == i && d.1 == duplicator::RESCUE_QUEUE)
            .count() as u64;
        assert_eq!(per_queue[duplicator::RESCUE_QUEUE], in_rescue);
    }
}

#[test]
fn rescues_pass_the_guard_that_pauses_other_duplicates() {
    // Duplicate queues of 2: the first round's duplicates overflow them, so the guard
    // pauses both nodes; primary queues of 8 are full from the first round on.
    let mut r = rescue_rig(8, 2);
    dispatch_at(&mut r, 0);
    let first = r.duplicator.report();
    assert!(first.rescued > 0 && first.rescued < 32, "{first:?}");
    dispatch_at(&mut r, 20_000_000);
    let report = r.duplicator.report();
    assert_eq!(report.guard_pauses, 2, "{report:?}");
    // Every primary of the second round was refused, and every one of its duplicates
    // was rescued despite the pause.
    assert_eq!(report.rescued - first.rescued, 32, "{report:?}");
    assert_eq!(report.guarded, 0);
    // With room in the primary queues nothing is rescued and the pause holds.
    let mut open = rescue_rig(4096, 2);
    dispatch_at(&mut open, 0);
    dispatch_at(&mut open, 20_000_000);
    let report = open.duplicator.report();
    assert_eq!(report.rescued, 0);
    assert_eq!(report.guarded, 32, "{report:?}");
}
