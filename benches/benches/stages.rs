//! Per-stage throughput on in-memory rings: packets per second on one core, by batch
//! size and packet size. Every stage is driven on the bench thread with its outputs on
//! null ports (or rings drained on the same thread), so a figure is the cost of the
//! stage alone. Each timed call processes one batch freshly filled by an untimed setup
//! (its frames are in cache, as a packet just received from a neighbouring core's ring
//! mostly is). Run: `cargo bench -p das-benches --bench stages`.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use das_benches::{IMIX, SIZES, frames, imix_frames};
use dataplane::flow::{Toeplitz, frame_hash};
use dataplane::meta::{self, CopyKind, JobId, JobMeta, Priority, Steering};
use dataplane::null::NullPort;
use dataplane::port::Port;
use dataplane::ring::{Overflow, RingPort, RingQueueConfig};
use dataplane::{Batch, BufCache, BufPool, Doorbell, Idler, PacketBuf};
use dedup::{Dedup, DedupConfig};
use duplicator::{Duplicator, DuplicatorConfig, NodeOutput, Scheme};
use ids_worker::{BatchContext, Forwarder, InstanceCounters, process_batch};

const BATCHES: [usize; 3] = [32, 64, 256];
const FLOWS: u32 = 4096;

/// The size sweep: the fixed sizes, then IMIX.
fn size_cases() -> Vec<(String, Vec<Vec<u8>>)> {
    let mut cases: Vec<_> = SIZES
        .iter()
        .map(|&len| (format!("{len}B"), frames(4096, len, FLOWS)))
        .collect();
    let label = IMIX
        .iter()
        .map(|(l, w)| format!("{l}x{w}"))
        .collect::<Vec<_>>()
        .join("+");
    cases.push((format!("imix({label})"), imix_frames(4096, FLOWS)));
    cases
}

/// Fills `batch` with copies of the next frames of `pool_frames` (not timed).
fn fill(batch: &mut Batch, bufs: &mut BufCache, frames: &[Vec<u8>], next: &mut usize) {
    while !batch.is_full() {
        let buf = bufs
            .alloc_from(&frames[*next % frames.len()])
            .expect("frame fits");
        *next += 1;
        let _ = batch.push(buf);
    }
}

fn bench_ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_port");
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    for batch_size in BATCHES {
        g.throughput(Throughput::Elements(batch_size as u64));
        let mut port =
            RingPort::new("r", &[RingQueueConfig::new(1024, Overflow::Backpressure)]).unwrap();
        let mut tx = port.take_tx_queue(0).unwrap();
        let mut rx = port.take_rx_queue(0).unwrap();
        let mut batch = Batch::with_capacity(batch_size).unwrap();
        for _ in 0..batch_size {
            let _ = batch.push(PacketBuf::from_frame(&[0u8; 60]).unwrap());
        }
        g.bench_function(BenchmarkId::new("tx+rx burst", batch_size), |b| {
            b.iter(|| {
                tx.tx_burst(&mut batch, &mut bufs).unwrap();
                rx.rx_burst(&mut batch, &mut bufs).unwrap();
            })
        });
    }
    g.finish();
}

fn bench_flow_hash(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse+flow_hash");
    let hasher = Toeplitz::symmetric();
    for (label, frames) in size_cases() {
        g.throughput(Throughput::Elements(frames.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                frames
                    .iter()
                    .fold(0u32, |acc, f| acc ^ frame_hash(&hasher, f))
            })
        });
    }
    g.finish();
}

/// The symmetric key takes the folded tables, any other key the per-byte ones; both
/// hash the same IPv4 4-tuples.
fn bench_toeplitz(c: &mut Criterion) {
    let mut g = c.benchmark_group("toeplitz_v4");
    type V4Tuple = ([u8; 4], [u8; 4], (u16, u16));
    let tuples: Vec<V4Tuple> = (0..4096u32)
        .map(|i| (i.to_be_bytes(), (!i).to_be_bytes(), (i as u16, 53)))
        .collect();
    let mut other_key = dataplane::flow::SYMMETRIC_RSS_KEY;
    other_key[39] ^= 1;
    for (label, hasher) in [
        ("folded (symmetric key)", Toeplitz::symmetric()),
        ("per-byte (other key)", Toeplitz::new(&other_key)),
    ] {
        g.throughput(Throughput::Elements(tuples.len() as u64));
        g.bench_function(label, |b| {
            b.iter(|| {
                tuples
                    .iter()
                    .fold(0u32, |acc, &(s, d, p)| acc ^ hasher.hash_v4(s, d, Some(p)))
            })
        });
    }
    g.finish();
}

fn duplicator_for(scheme: Scheme, nodes: usize, batch: usize) -> (Duplicator, Vec<NullPort>) {
    let mut ports: Vec<NullPort> = (0..nodes)
        .map(|i| NullPort::new(&format!("n{i}"), 2))
        .collect();
    let outputs = ports
        .iter_mut()
        .map(|p| NodeOutput {
            primary: p.take_tx_queue(0).unwrap(),
            duplicate: p.take_tx_queue(1).unwrap(),
            rescue: None,
        })
        .collect();
    let d = Duplicator::new(
        DuplicatorConfig {
            batch,
            ..DuplicatorConfig::new(0, nodes, scheme)
        },
        outputs,
    )
    .unwrap();
    (d, ports)
}

fn bench_duplicator(c: &mut Criterion) {
    let mut g = c.benchmark_group("duplicator");
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    // Setup allocates from `bufs`, the timed routine frees into `run_bufs`: buffers
    // cycle through the shared pool and nothing is allocated in steady state.
    let mut run_bufs = pool.cache();
    let mut idler = Idler::new(Doorbell::for_current_thread());
    for scheme in [Scheme::Single, Scheme::Das] {
        for batch_size in BATCHES {
            for (label, frames) in size_cases() {
                if batch_size != 32 && !label.starts_with("60B") {
                    continue;
                }
                let (mut dup, _ports) = duplicator_for(scheme, 2, batch_size);
                let mut next = 0;
                g.throughput(Throughput::Elements(batch_size as u64));
                let id = BenchmarkId::new(format!("{scheme}/batch{batch_size}"), &label);
                g.bench_function(id, |b| {
                    b.iter_batched_ref(
                        || {
                            let mut batch = Batch::with_capacity(batch_size).unwrap();
                            fill(&mut batch, &mut bufs, &frames, &mut next);
                            batch
                        },
                        |batch| dup.dispatch(batch, &mut run_bufs, &mut idler, 1).unwrap(),
                        BatchSize::PerIteration,
                    )
                });
            }
        }
    }
    g.finish();
}

/// Encapsulated copies as a node or dedup receives them: job ids in order, each job
/// twice (primary, then duplicate) when `with_duplicates`.
fn copies(frames: &[Vec<u8>], with_duplicates: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let kinds: &[CopyKind] = if with_duplicates {
            &[CopyKind::Primary, CopyKind::Duplicate]
        } else {
            &[CopyKind::Primary]
        };
        for &kind in kinds {
            let mut buf = PacketBuf::from_frame(f).unwrap();
            let m = JobMeta {
                job: JobId(i as u64),
                kind,
                priority: Priority::High,
                ingress_ns: 1,
                duplicator: 0,
                peer: None,
            };
            meta::encap(&mut buf, &m, Steering { node: 0, queue: 0 });
            out.push(buf.data().to_vec());
        }
    }
    out
}

fn bench_worker(c: &mut Criterion) {
    let mut g = c.benchmark_group("ids_worker/forward");
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    // Setup allocates from `bufs`, the timed routine frees into `run_bufs`: buffers
    // cycle through the shared pool and nothing is allocated in steady state.
    let mut run_bufs = pool.cache();
    let counters = InstanceCounters::default();
    for batch_size in BATCHES {
        for (label, frames) in size_cases() {
            if batch_size != 32 && !label.starts_with("60B") {
                continue;
            }
            let input_frames = copies(&frames, false);
            let mut nf = Forwarder::default();
            let mut output = Batch::with_capacity(batch_size).unwrap();
            let mut next = 0;
            g.throughput(Throughput::Elements(batch_size as u64));
            g.bench_function(
                BenchmarkId::new(format!("batch{batch_size}"), &label),
                |b| {
                    b.iter_batched_ref(
                        || {
                            let mut batch = Batch::with_capacity(batch_size).unwrap();
                            fill(&mut batch, &mut bufs, &input_frames, &mut next);
                            batch
                        },
                        |batch| {
                            let ctx = BatchContext {
                                counters: &counters,
                                purge: None,
                            };
                            process_batch(&mut nf, batch, &mut output, &ctx, &mut run_bufs);
                            output.free_into(&mut run_bufs);
                        },
                        BatchSize::PerIteration,
                    )
                },
            );
        }
    }
    g.finish();
}

fn bench_dedup(c: &mut Criterion) {
    let mut g = c.benchmark_group("dedup");
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    // Setup allocates from `bufs`, the timed routine frees into `run_bufs`: buffers
    // cycle through the shared pool and nothing is allocated in steady state.
    let mut run_bufs = pool.cache();
    for batch_size in BATCHES {
        for (label, frames) in size_cases() {
            if batch_size != 32 && !label.starts_with("60B") {
                continue;
            }
            // Job ids must keep growing across iterations, or every copy after the first
            // pass would be a repeat: re-stamp ids in the setup.
            let input_frames = copies(&frames, true);
            let mut dedup = Dedup::new(DedupConfig::default()).unwrap();
            let mut unique = Batch::with_capacity(batch_size).unwrap();
            let mut next = 0usize;
            let jobs_per_pass = frames.len() as u64;
            g.throughput(Throughput::Elements(batch_size as u64));
            g.bench_function(
                BenchmarkId::new(format!("batch{batch_size}"), &label),
                |b| {
                    b.iter_batched_ref(
                        || {
                            let mut batch = Batch::with_capacity(batch_size).unwrap();
                            while !batch.is_full() {
                                let pass = (next / input_frames.len()) as u64;
                                let mut buf = bufs
                                    .alloc_from(&input_frames[next % input_frames.len()])
                                    .unwrap();
                                let job =
                                    u64::from_be_bytes(buf.data()[26..34].try_into().unwrap());
                                buf.data_mut()[26..34]
                                    .copy_from_slice(&(job + pass * jobs_per_pass).to_be_bytes());
                                next += 1;
                                let _ = batch.push(buf);
                            }
                            batch
                        },
                        |batch| {
                            dedup.dispatch(batch, &mut unique, &mut run_bufs, 2);
                            unique.free_into(&mut run_bufs);
                        },
                        BatchSize::PerIteration,
                    )
                },
            );
        }
    }
    g.finish();
}

// The macro generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(
        benches,
        bench_ring,
        bench_toeplitz,
        bench_flow_hash,
        bench_duplicator,
        bench_worker,
        bench_dedup
    );
}
criterion_main!(group::benches);
