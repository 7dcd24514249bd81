//! A node end to end on ring ports, in both scheduling modes: every packet accounted
//! for, the secondary held back while primaries wait, duplicates drained when primaries
//! are idle, active purge, verdicts and foreign frames counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dataplane::completion::{Completion, CompletionReceiver, completion_channels};
use dataplane::health::NodeHealth;
use dataplane::meta::{self, CopyKind, JobMeta, Priority, Steering};
use dataplane::port::{Port, send_all};
use dataplane::ring::{Overflow, RingPort, RingQueueConfig};
use dataplane::{Batch, BufPool, DropReason, RxOutcome};
use ids_worker::{
    Forwarder, NetworkFunction, NodeConfig, NodeIo, NodeReport, SchedClass, SchedMode, Spin,
    Verdict, spawn_node,
};

/// Spins a fixed cost per packet and records, for primaries, how many duplicates the
/// node had inspected so far: the interleaving of the two instances, in counts.
#[derive(Clone)]
struct Probe {
    spin: Spin,
    duplicates_done: Arc<AtomicU64>,
    seen_by_last_primary: Arc<AtomicU64>,
}

impl Probe {
    fn new(cost: Duration) -> Self {
        Probe {
            spin: Spin::new(cost, 0.0),
            duplicates_done: Arc::default(),
            seen_by_last_primary: Arc::default(),
        }
    }
}

impl NetworkFunction for Probe {
    fn name(&self) -> &str {
        "probe"
    }

    fn process(&mut self, frame: &[u8], job: &JobMeta) -> Verdict {
        self.spin.process(frame, job);
        match job.kind {
            CopyKind::Primary => self.seen_by_last_primary.store(
                self.duplicates_done.load(Ordering::SeqCst),
                Ordering::SeqCst,
            ),
            CopyKind::Duplicate => {
                self.duplicates_done.fetch_add(1, Ordering::SeqCst);
            }
        }
        Verdict::Forward
    }
}

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

fn copy(job: u64, kind: CopyKind, bufs: &mut dataplane::BufCache) -> dataplane::PacketBuf {
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
        peer: Some(1),
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

/// The node's side of `input` (queue 0 primaries, 1 duplicates, and 2 rescues where
/// it has a third queue) and `output`, with the secondary's and the primary's notices.
fn node_io(
    input: &mut RingPort,
    output: &mut RingPort,
    (notices, primary_notices): (Option<CompletionReceiver>, Option<CompletionReceiver>),
) -> NodeIo {
    NodeIo {
        primary_rx: vec![input.take_rx_queue(0).unwrap()],
        duplicate_rx: vec![input.take_rx_queue(1).unwrap()],
        rescue_rx: (2..input.rx_queue_count())
            .map(|q| input.take_rx_queue(q).unwrap())
            .collect(),
        primary_tx: output.take_tx_queue(0).unwrap(),
        duplicate_tx: output.take_tx_queue(1).unwrap(),
        notices,
        primary_notices,
        health: NodeHealth::new(1),
        origin_ns: dataplane::clock::monotonic_ns(),
        cgroup: None,
    }
}

struct Run {
    report: NodeReport,
    frames: Vec<Vec<u8>>,
}

/// Fills the node's queues (`foreign` frames without metadata first on queue 0), sends
/// `notices` (job ids delivered elsewhere), then starts the node and waits for it.
fn run_node<F: NetworkFunction + Clone>(
    mode: SchedMode,
    nf: F,
    primaries: u64,
    duplicates: u64,
    foreign: usize,
    notices: &[u64],
) -> Run {
    run_node_with(
        mode,
        nf,
        (0..primaries, 0..duplicates),
        foreign,
        notices,
        false,
    )
}

/// [`run_node`] with the job ids of the primaries and of the duplicates, and whether
/// the primary instance takes notices too (purging late primaries).
fn run_node_with<F: NetworkFunction + Clone>(
    mode: SchedMode,
    nf: F,
    (primaries, duplicates): (std::ops::Range<u64>, std::ops::Range<u64>),
    foreign: usize,
    notices: &[u64],
    purge_primaries: bool,
) -> Run {
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let cap = 1 << 14;
    let mut input = RingPort::new(
        "in",
        &[
            RingQueueConfig::new(cap, Overflow::Backpressure),
            RingQueueConfig::new(cap, Overflow::DropOldest),
        ],
    )
    .unwrap();
    let mut output = RingPort::new(
        "out",
        &[
            RingQueueConfig::new(cap, Overflow::Backpressure),
            RingQueueConfig::new(cap, Overflow::Backpressure),
        ],
    )
    .unwrap();
    let mut idler = dataplane::Idler::new(dataplane::Doorbell::for_current_thread());
    let mut tx0 = input.take_tx_queue(0).unwrap();
    let mut tx1 = input.take_tx_queue(1).unwrap();
    let mut batch = Batch::with_capacity(32).unwrap();
    let mut push = |q: &mut Box<dyn dataplane::TxQueue>,
                    pkt,
                    batch: &mut Batch,
                    bufs: &mut dataplane::BufCache| {
        batch.push(pkt).unwrap();
        send_all(q.as_mut(), batch, bufs, &mut idler).unwrap();
    };
    for _ in 0..foreign {
        let pkt = bufs.alloc_from(&[0u8; 60]).unwrap();
        push(&mut tx0, pkt, &mut batch, &mut bufs);
    }
    for job in primaries {
        let pkt = copy(job, CopyKind::Primary, &mut bufs);
        push(&mut tx0, pkt, &mut batch, &mut bufs);
    }
    for job in duplicates {
        let pkt = copy(job, CopyKind::Duplicate, &mut bufs);
        push(&mut tx1, pkt, &mut batch, &mut bufs);
    }
    drop((tx0, tx1));
    let (mut notice_tx, notice_rx) = completion_channels(1 << 16, 1 + usize::from(purge_primaries));
    let mut notice_rx = notice_rx.into_iter();
    let list: Vec<Completion> = notices
        .iter()
        .map(|&job| Completion { duplicator: 0, job })
        .collect();
    notice_tx.send(&list);
    let io = node_io(
        &mut input,
        &mut output,
        (notice_rx.next(), notice_rx.next()),
    );
    let config = NodeConfig {
        mode,
        ..NodeConfig::new(0, Some(0))
    };
    let node = spawn_node(config, nf.clone(), nf, io, &pool).unwrap();
    let report = node.join().unwrap();
    let mut frames = Vec::new();
    for q in 0..2 {
        let mut rx = output.take_rx_queue(q).unwrap();
        while let RxOutcome::Received(_) = rx.rx_burst(&mut batch, &mut bufs).unwrap() {
            frames.extend(batch.drain().map(|p| p.data().to_vec()));
        }
    }
    for inst in [&report.primary, &report.secondary] {
        assert!(inst.counters.balanced(), "{:?}", inst.counters);
    }
    Run { report, frames }
}

const MODES: [SchedMode; 2] = [SchedMode::Inline, SchedMode::Os];

#[test]
fn forwarder_passes_every_copy_from_both_queues_unchanged() {
    for mode in MODES {
        let Run { report, frames } = run_node(mode, ForwarderClone::default(), 2000, 2000, 0, &[]);
        assert_eq!(frames.len(), 4000, "{mode:?}");
        for inst in [&report.primary, &report.secondary] {
            assert_eq!(inst.counters.received, 2000);
            assert_eq!(inst.counters.forwarded, 2000);
            assert_eq!(inst.inspected, 2000);
            assert_eq!(inst.queue.rx_packets, 2000);
        }
        let mut jobs: Vec<(u64, bool)> = frames
            .iter()
            .map(|f| {
                let m = meta::peek(f).unwrap();
                assert_eq!(&f[meta::ENCAP_LEN..], &[m.job.0 as u8; 64][..]);
                (m.job.0, m.kind == CopyKind::Duplicate)
            })
            .collect();
        jobs.sort();
        jobs.dedup();
        assert_eq!(jobs.len(), 4000);
    }
}

/// `Forwarder` with `Clone`, for the helper that hands each instance its own copy.
#[derive(Default, Clone)]
struct ForwarderClone(Forwarder);

impl NetworkFunction for ForwarderClone {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn process(&mut self, frame: &[u8], job: &JobMeta) -> Verdict {
        self.0.process(frame, job)
    }
}

#[test]
fn while_primaries_wait_the_secondary_inspects_almost_nothing() {
    for mode in MODES {
        // 3,000 primaries of 20 us each keep the primary busy for 60 ms with its queue
        // never empty; 3,000 duplicates wait beside them.
        let probe = Probe::new(Duration::from_micros(20));
        let Run { report, .. } = run_node(mode, probe.clone(), 3000, 3000, 0, &[]);
        let before_last_primary = probe.seen_by_last_primary.load(Ordering::SeqCst);
        // Inline mode never serves a duplicate while a primary waits; in os mode the
        // SCHED_IDLE secondary runs only when the SCHED_FIFO primary sleeps, which it
        // should not do with work queued (measured: 0); 2 % is allowed for the OS.
        let allowed = match mode {
            SchedMode::Inline => 0,
            SchedMode::Os => 60,
        };
        assert!(
            before_last_primary <= allowed,
            "{mode:?}: {before_last_primary} duplicates inspected before the last primary"
        );
        // Afterwards the secondary drains its whole queue.
        assert_eq!(report.secondary.inspected, 3000, "{mode:?}");
        assert_eq!(report.primary.inspected, 3000, "{mode:?}");
    }
}

#[test]
fn with_the_primary_idle_the_secondary_drains_its_queue() {
    for mode in MODES {
        let Run { report, frames } = run_node(mode, ForwarderClone::default(), 0, 5000, 0, &[]);
        assert_eq!(report.secondary.inspected, 5000, "{mode:?}");
        assert_eq!(report.secondary.queue.rx_packets, 5000);
        assert_eq!(frames.len(), 5000);
        assert_eq!(report.primary.inspected, 0);
    }
}

#[test]
fn without_primary_notices_purge_removes_delivered_duplicates_only() {
    for mode in MODES {
        let delivered: Vec<u64> = (0..1000).filter(|j| j % 2 == 0).collect();
        let Run { report, frames } =
            run_node(mode, ForwarderClone::default(), 1000, 1000, 0, &delivered);
        let s = &report.secondary;
        assert_eq!(s.counters.dropped_for(DropReason::Purged), 500, "{mode:?}");
        assert_eq!(s.inspected, 500);
        assert_eq!(report.primary.inspected, 1000);
        assert_eq!(report.primary.counters.dropped_total(), 0);
        assert_eq!(report.notices, 500);
        // The duplicates that got through are exactly those of undelivered jobs.
        let mut dup_jobs: Vec<u64> = frames
            .iter()
            .map(|f| meta::peek(f).unwrap())
            .filter(|m| m.kind == CopyKind::Duplicate)
            .map(|m| m.job.0)
            .collect();
        dup_jobs.sort();
        assert_eq!(
            dup_jobs,
            (0..1000).filter(|j| j % 2 == 1).collect::<Vec<_>>()
        );
    }
}

#[test]
fn with_primary_notices_late_primaries_of_a_backlog_are_purged_too() {
    for mode in MODES {
        // Primaries of jobs 0..1024 (32 full batches waiting: a backlog), duplicates of
        // jobs 1024..2048 (a node holds one copy of a job); every even job was
        // delivered by its other copy.
        let delivered: Vec<u64> = (0..2048).filter(|j| j % 2 == 0).collect();
        let Run { report, frames } = run_node_with(
            mode,
            ForwarderClone::default(),
            (0..1024, 1024..2048),
            0,
            &delivered,
            true,
        );
        for inst in [&report.primary, &report.secondary] {
            assert_eq!(
                inst.counters.dropped_for(DropReason::Purged),
                512,
                "{mode:?}"
            );
            assert_eq!(inst.inspected, 512, "{mode:?}");
        }
        assert_eq!(report.notices, 1024, "{mode:?}");
        let mut jobs: Vec<u64> = frames
            .iter()
            .map(|f| meta::peek(f).unwrap().job.0)
            .collect();
        jobs.sort();
        assert_eq!(jobs, (0..2048).filter(|j| j % 2 == 1).collect::<Vec<_>>());
    }
}

#[test]
fn without_a_backlog_every_primary_is_inspected() {
    for mode in MODES {
        // 20 primaries, less than a batch: the primary instance is not backlogged.
        let delivered: Vec<u64> = (0..40).filter(|j| j % 2 == 0).collect();
        let Run { report, .. } = run_node_with(
            mode,
            ForwarderClone::default(),
            (0..20, 20..40),
            0,
            &delivered,
            true,
        );
        assert_eq!(report.primary.inspected, 20, "{mode:?}");
        assert_eq!(report.primary.counters.dropped_total(), 0, "{mode:?}");
        assert_eq!(
            report.secondary.counters.dropped_for(DropReason::Purged),
            10,
            "{mode:?}"
        );
    }
}

#[test]
fn verdicts_and_foreign_frames_are_counted_drops() {
    #[derive(Default, Clone)]
    struct Third;
    impl NetworkFunction for Third {
        fn name(&self) -> &str {
            "third"
        }
        fn process(&mut self, f: &[u8], j: &JobMeta) -> Verdict {
            DropEveryThird.process(f, j)
        }
    }
    let Run { report, frames } = run_node(SchedMode::Inline, Third, 300, 300, 5, &[]);
    let p = &report.primary.counters;
    assert_eq!(p.received, 305);
    assert_eq!(p.dropped_for(DropReason::NfVerdict), 100);
    assert_eq!(p.dropped_for(DropReason::MissingMetadata), 5);
    assert_eq!(p.forwarded, 200);
    assert_eq!(report.primary.inspected, 300);
    assert_eq!(
        report.secondary.counters.dropped_for(DropReason::NfVerdict),
        100
    );
    assert_eq!(frames.len(), 400);
}

#[test]
fn each_mode_runs_its_threads_in_the_documented_classes() {
    let Run { report, .. } = run_node(SchedMode::Inline, ForwarderClone::default(), 10, 10, 0, &[]);
    assert_eq!(report.threads.len(), 1);
    assert_eq!(report.threads[0].class, SchedClass::Normal);
    let Run { report, .. } = run_node(SchedMode::Os, ForwarderClone::default(), 10, 10, 0, &[]);
    assert_eq!(report.threads.len(), 2);
    let classes: Vec<SchedClass> = report.threads.iter().map(|t| t.class).collect();
    assert!(classes.contains(&SchedClass::Idle), "{classes:?}");
    let privileged = std::env::var("DAS_REQUIRE_PRIVILEGES").as_deref() == Ok("1");
    if privileged || classes.contains(&SchedClass::Fifo(ids_worker::node::PRIMARY_FIFO_PRIORITY)) {
        assert!(
            classes.contains(&SchedClass::Fifo(ids_worker::node::PRIMARY_FIFO_PRIORITY)),
            "{:?}",
            report.threads
        );
    } else {
        eprintln!("SCHED_FIFO refused (not root): the primary fell back to SCHED_OTHER");
        assert!(report.threads.iter().any(|t| !t.warnings.is_empty()));
    }
}

/// Records the job ids it sees, in order.
#[derive(Clone, Default)]
struct Recorder(Arc<std::sync::Mutex<Vec<u64>>>);

impl NetworkFunction for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    fn process(&mut self, _frame: &[u8], job: &JobMeta) -> Verdict {
        self.0.lock().unwrap().push(job.job.0);
        Verdict::Forward
    }
}

#[test]
fn the_secondary_serves_its_rescue_queue_before_its_duplicate_queue() {
    for mode in MODES {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let cfg = RingQueueConfig::new(1024, Overflow::Backpressure);
        let mut input = RingPort::new("in", &[cfg, cfg, cfg]).unwrap();
        let mut output = RingPort::new("out", &[cfg, cfg]).unwrap();
        let mut batch = Batch::with_capacity(32).unwrap();
        let mut idler = dataplane::Idler::new(dataplane::Doorbell::for_current_thread());
        // Duplicates 0..200 are queued before rescues 1000..1200.
        for (queue, jobs) in [(1, 0..200u64), (2, 1000..1200)] {
            let mut tx = input.take_tx_queue(queue).unwrap();
            for job in jobs {
                batch
                    .push(copy(job, CopyKind::Duplicate, &mut bufs))
                    .unwrap();
                send_all(tx.as_mut(), &mut batch, &mut bufs, &mut idler).unwrap();
            }
        }
        drop(input.take_tx_queue(0).unwrap());
        let seen = Recorder::default();
        let io = node_io(&mut input, &mut output, (None, None));
        let config = NodeConfig {
            mode,
            ..NodeConfig::new(0, Some(0))
        };
        let node = spawn_node(config, Recorder::default(), seen.clone(), io, &pool).unwrap();
        let report = node.join().unwrap();
        let order = seen.0.lock().unwrap().clone();
        let expected: Vec<u64> = (1000..1200).chain(0..200).collect();
        assert_eq!(order, expected, "{mode:?}");
        // The secondary's queue counters cover both of its queues.
        assert_eq!(report.secondary.queue.rx_packets, 400, "{mode:?}");
        assert_eq!(report.secondary.counters.forwarded, 400, "{mode:?}");
    }
}
