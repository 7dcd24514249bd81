//! Ring ports under concurrent use: a producer and a consumer thread, random burst
//! sizes, sleeping on doorbells. Lossless queues deliver every packet once and in order;
//! drop-oldest queues deliver an increasing subsequence and count every eviction.

use std::thread;

use dataplane::port::{Port, RxQueue, TxQueue, send_all};
use dataplane::ring::{Overflow, RingPort, RingQueueConfig};
use dataplane::{Batch, BufPool, Doorbell, Idler, RxOutcome};
use proptest::prelude::*;

/// Sends `count` packets numbered 0.. in bursts of the given sizes (cycled).
fn produce(mut tx: Box<dyn TxQueue>, pool: BufPool, count: u64, bursts: Vec<usize>) {
    let mut bufs = pool.cache();
    let bell = Doorbell::for_current_thread();
    tx.set_doorbell(bell.clone());
    let mut idler = Idler::new(bell);
    let mut batch = Batch::with_capacity(256).unwrap();
    let mut next = 0u64;
    for &burst in bursts.iter().cycle() {
        if next == count {
            break;
        }
        while !batch.is_full() && batch.len() < burst && next < count {
            batch
                .push(bufs.alloc_from(&next.to_be_bytes()).unwrap())
                .unwrap();
            next += 1;
        }
        send_all(tx.as_mut(), &mut batch, &mut bufs, &mut idler).unwrap();
    }
}

/// Receives until the queue ends, in bursts of at most `burst`; returns the numbers.
fn consume(mut rx: Box<dyn RxQueue>, pool: BufPool, burst: usize, slow: bool) -> Vec<u64> {
    let mut bufs = pool.cache();
    let bell = Doorbell::for_current_thread();
    rx.set_doorbell(bell.clone());
    let mut idler = Idler::new(bell);
    let mut batch = Batch::with_capacity(burst).unwrap();
    let mut got = Vec::new();
    loop {
        match rx.rx_burst(&mut batch, &mut bufs).unwrap() {
            RxOutcome::Received(n) => {
                assert_eq!(n, batch.len());
                idler.busy();
                got.extend(
                    batch
                        .iter()
                        .map(|p| u64::from_be_bytes(p.data().try_into().unwrap())),
                );
                batch.free_into(&mut bufs);
                if slow {
                    thread::yield_now();
                }
            }
            RxOutcome::Idle => idler.idle(),
            RxOutcome::Ended => return got,
        }
    }
}

fn run(
    overflow: Overflow,
    capacity: usize,
    count: u64,
    bursts: Vec<usize>,
    rx_burst: usize,
    slow: bool,
) -> (Vec<u64>, RingPort) {
    let pool = BufPool::default();
    let mut port = RingPort::new("link", &[RingQueueConfig::new(capacity, overflow)]).unwrap();
    let tx = port.take_tx_queue(0).unwrap();
    let rx = port.take_rx_queue(0).unwrap();
    let p = pool.clone();
    let consumer = thread::spawn(move || consume(rx, p, rx_burst, slow));
    produce(tx, pool, count, bursts);
    (consumer.join().unwrap(), port)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn backpressure_delivers_everything_in_order(
        capacity in 1usize..300,
        bursts in proptest::collection::vec(1usize..=256, 1..8),
        rx_burst in 1usize..=256,
        slow in any::<bool>(),
    ) {
        let count = 20_000;
        let (got, port) = run(Overflow::Backpressure, capacity, count, bursts, rx_burst, slow);
        prop_assert_eq!(got.len() as u64, count);
        prop_assert!(got.iter().enumerate().all(|(i, &v)| v == i as u64));
        let q = &port.stats().queues[0];
        prop_assert_eq!((q.tx_packets, q.rx_packets), (count, count));
        prop_assert!(q.dropped.is_empty());
    }

    #[test]
    fn lossy_queues_deliver_an_ordered_subset_and_count_the_rest(
        capacity in 1usize..300,
        bursts in proptest::collection::vec(1usize..=256, 1..8),
        rx_burst in 1usize..=256,
        oldest in any::<bool>(),
    ) {
        let count = 20_000;
        let overflow = if oldest { Overflow::DropOldest } else { Overflow::DropTail };
        let (got, port) = run(overflow, capacity, count, bursts, rx_burst, true);
        prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "delivered out of order or twice");
        prop_assert!(got.iter().all(|&v| v < count));
        let q = &port.stats().queues[0];
        let dropped: u64 = q.dropped.values().sum();
        let reason = if oldest { "queue_overflow" } else { "queue_full" };
        prop_assert_eq!(q.dropped.get(reason).copied().unwrap_or(0), dropped);
        prop_assert_eq!(q.tx_packets, count);
        prop_assert_eq!(q.rx_packets, got.len() as u64);
        prop_assert_eq!(got.len() as u64 + dropped, count);
        if oldest {
            // The newest packet always survives a drop-oldest queue.
            prop_assert_eq!(got.last().copied(), Some(count - 1));
        }
    }
}
