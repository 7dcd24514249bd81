//! Dedup delivers each job exactly once, whatever the interleaving, losses and
//! reordering of its copies, as long as the reordering stays within its window.

use std::collections::HashMap;

use dataplane::meta::{self, CopyKind, JobId, JobMeta, Priority, Steering};
use dataplane::{Batch, BufCache, BufPool};
use dedup::{Dedup, DedupConfig};
use proptest::prelude::*;

/// Jobs with a primary and a duplicate each, some copies lost, the rest shuffled with a
/// bounded displacement.
fn copies() -> impl Strategy<Value = Vec<(u64, CopyKind)>> {
    (1usize..400, 0usize..64, any::<u64>()).prop_flat_map(|(jobs, displacement, seed)| {
        proptest::collection::vec((any::<bool>(), any::<bool>()), jobs).prop_map(move |keep| {
            let mut list = Vec::new();
            for (job, (keep_primary, keep_duplicate)) in keep.iter().enumerate() {
                if *keep_primary {
                    list.push((job as u64, CopyKind::Primary));
                }
                if *keep_duplicate {
                    list.push((job as u64, CopyKind::Duplicate));
                }
            }
            // Shuffle within blocks of `displacement + 1` (xorshift on the seed): copies
            // move at most that far.
            let mut state = seed | 1;
            for block in list.chunks_mut(displacement + 1) {
                for i in (1..block.len()).rev() {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    block.swap(i, (state % (i as u64 + 1)) as usize);
                }
            }
            list
        })
    })
}

fn feed(
    input: &mut Batch,
    unique: &mut Batch,
    dedup: &mut Dedup,
    bufs: &mut BufCache,
    delivered: &mut HashMap<u64, usize>,
) {
    while !input.is_empty() {
        dedup.dispatch(input, unique, bufs, 1);
        for p in unique.drain() {
            let job = u64::from_be_bytes(p.data()[..8].try_into().unwrap());
            *delivered.entry(job).or_default() += 1;
        }
    }
}

proptest! {
    #[test]
    fn every_surviving_job_once_and_no_job_twice(list in copies(), batch in 1usize..64) {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut dedup = Dedup::new(DedupConfig { window: 128, ..DedupConfig::default() }).unwrap();
        let mut input = Batch::with_capacity(batch).unwrap();
        let mut unique = Batch::with_capacity(batch).unwrap();
        let mut delivered: HashMap<u64, usize> = HashMap::new();
        for &(job, kind) in &list {
            let mut pkt = bufs.alloc_from(&job.to_be_bytes()).unwrap();
            let priority = if kind == CopyKind::Primary { Priority::High } else { Priority::Low };
            let m = JobMeta { job: JobId(job), kind, priority, ingress_ns: 0, duplicator: 0, peer: None };
            meta::encap(&mut pkt, &m, Steering { node: (job % 3) as u8, queue: priority.queue() });
            input.push(pkt).unwrap();
            if input.is_full() {
                feed(&mut input, &mut unique, &mut dedup, &mut bufs, &mut delivered);
            }
        }
        feed(&mut input, &mut unique, &mut dedup, &mut bufs, &mut delivered);
        let mut surviving: Vec<u64> = list.iter().map(|&(j, _)| j).collect();
        surviving.sort_unstable();
        surviving.dedup();
        prop_assert!(delivered.values().all(|&n| n == 1), "a job was delivered twice");
        let mut got: Vec<u64> = delivered.keys().copied().collect();
        got.sort_unstable();
        // The displacement stays below the 128-job window: no copy is late.
        prop_assert_eq!(got, surviving);
        let r = dedup.report();
        prop_assert!(r.counters.balanced());
        prop_assert_eq!(r.counters.received, list.len() as u64);
        prop_assert_eq!(r.first_by_node.iter().sum::<u64>(), r.counters.forwarded);
    }
}
