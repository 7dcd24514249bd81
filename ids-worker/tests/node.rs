//! A node end to end on ring ports: both queues served by their instance, every packet
//! accounted for, verdicts and foreign frames counted, the secondary at SCHED_IDLE.

use dataplane::meta::{self, CopyKind, JobMeta, Priority, Steering};
use dataplane::port::Port;
use dataplane::ring::{Overflow, RingPort, RingQueueConfig};
use dataplane::{Batch, BufPool, DropReason, RxOutcome};
use ids_worker::{
    Forwarder, NetworkFunction, NodeConfig, NodeQueues, PriorityMode, SchedClass, Verdict,
    spawn_node,
};

/// Drops every job whose id is a multiple of three.
#[derive(Default)]
struct DropEveryThird;

impl NetworkFunction for DropEveryThird {
    fn name(&self) -> &str {
        "drop-every-third"
    }

    fn process(&mut self, _frame: &[u8], job: &JobMeta) -> Verdict {
        if job.job.0 % 3 == 0 {
            Verdict::Drop
        } else {
            Verdict::Forward
        }
    }
}

fn copy(job: u64, kind: CopyKind, pool: &BufPool) -> dataplane::PacketBuf {
    let mut bufs = pool.cache();
    let mut pkt = bufs.alloc_from(&[job as u8; 64]).unwrap();
    let priority = if kind == CopyKind::Primary {
        Priority::High
    } else {
        Priority::Low
    };
    let m = JobMeta {
        job: meta::JobId(job),
        kind,
        priority,
        ingress_ns: 1,
        duplicator: 0,
    };
    meta::encap(
        &mut pkt,
        &m,
        Steering {
            node: 0,
            queue: priority.queue(),
        },
    );
    pkt
}

/// Runs one node over `jobs` primaries and `jobs` duplicates plus `foreign` frames
/// without metadata on queue 0, and returns its report and the frames it output.
fn run_node<F: NetworkFunction + Default>(
    jobs: u64,
    foreign: usize,
) -> (ids_worker::NodeReport, Vec<Vec<u8>>) {
    let pool = BufPool::default();
    let mut input = RingPort::new(
        "in",
        &[
            RingQueueConfig::new(64, Overflow::Backpressure),
            RingQueueConfig::new(1 << 16, Overflow::DropOldest),
        ],
    )
    .unwrap();
    let mut output = RingPort::new(
        "out",
        &[
            RingQueueConfig::new(1 << 16, Overflow::Backpressure),
            RingQueueConfig::new(1 << 16, Overflow::Backpressure),
        ],
    )
    .unwrap();
    let queues = NodeQueues {
        primary_rx: input.take_rx_queue(0).unwrap(),
        duplicate_rx: input.take_rx_queue(1).unwrap(),
        primary_tx: output.take_tx_queue(0).unwrap(),
        duplicate_tx: output.take_tx_queue(1).unwrap(),
    };
    let config = NodeConfig {
        id: 0,
        core: Some(0),
        batch: 32,
        priorities: PriorityMode::Split,
    };
    let node = spawn_node(config, F::default(), F::default(), queues, &pool).unwrap();
    let mut bufs = pool.cache();
    let mut idler = dataplane::Idler::new(dataplane::Doorbell::for_current_thread());
    let mut tx0 = input.take_tx_queue(0).unwrap();
    let mut tx1 = input.take_tx_queue(1).unwrap();
    let mut batch = Batch::with_capacity(32).unwrap();
    for _ in 0..foreign {
        batch.push(bufs.alloc_from(&[0u8; 60]).unwrap()).unwrap();
    }
    dataplane::port::send_all(tx0.as_mut(), &mut batch, &mut bufs, &mut idler).unwrap();
    for job in 0..jobs {
        batch.push(copy(job, CopyKind::Duplicate, &pool)).unwrap();
        dataplane::port::send_all(tx1.as_mut(), &mut batch, &mut bufs, &mut idler).unwrap();
        batch.push(copy(job, CopyKind::Primary, &pool)).unwrap();
        dataplane::port::send_all(tx0.as_mut(), &mut batch, &mut bufs, &mut idler).unwrap();
    }
    drop((tx0, tx1));
    let report = node.join().unwrap();
    let mut frames = Vec::new();
    for q in 0..2 {
        let mut rx = output.take_rx_queue(q).unwrap();
        while let RxOutcome::Received(_) = rx.rx_burst(&mut batch, &mut bufs).unwrap() {
            frames.extend(batch.drain().map(|p| p.data().to_vec()));
        }
    }
    (report, frames)
}

#[test]
fn forwarder_passes_every_copy_from_both_queues_unchanged() {
    let (report, frames) = run_node::<Forwarder>(2000, 0);
    assert_eq!(frames.len(), 4000);
    for inst in [&report.primary, &report.secondary] {
        assert_eq!(inst.counters.received, 2000);
        assert_eq!(inst.counters.forwarded, 2000);
        assert!(inst.counters.balanced());
        assert_eq!(inst.function, "forward");
        assert_eq!(inst.queue.rx_packets, 2000);
    }
    let mut jobs: Vec<(u64, CopyKind)> = frames
        .iter()
        .map(|f| {
            let m = meta::peek(f).unwrap();
            assert_eq!(&f[meta::ENCAP_LEN..], &[m.job.0 as u8; 64][..]);
            (m.job.0, m.kind)
        })
        .collect();
    jobs.sort_by_key(|&(j, k)| (j, k == CopyKind::Duplicate));
    jobs.dedup();
    assert_eq!(jobs.len(), 4000);
}

#[test]
fn verdicts_and_foreign_frames_are_counted_drops() {
    let (report, frames) = run_node::<DropEveryThird>(300, 5);
    let p = &report.primary.counters;
    assert_eq!(p.received, 305);
    assert_eq!(p.dropped_for(DropReason::NfVerdict), 100);
    assert_eq!(p.dropped_for(DropReason::MissingMetadata), 5);
    assert_eq!(p.forwarded, 200);
    assert!(p.balanced());
    assert_eq!(
        report.secondary.counters.dropped_for(DropReason::NfVerdict),
        100
    );
    assert_eq!(frames.len(), 400);
}

#[test]
fn secondary_runs_at_sched_idle_and_primary_at_normal_priority() {
    let (report, _) = run_node::<Forwarder>(10, 0);
    assert_eq!(report.primary.class, Some(SchedClass::Normal));
    assert_eq!(report.secondary.class, Some(SchedClass::Idle));
    assert!(
        report.primary.warnings.is_empty(),
        "{:?}",
        report.primary.warnings
    );
    assert!(
        report.secondary.warnings.is_empty(),
        "{:?}",
        report.secondary.warnings
    );
}
