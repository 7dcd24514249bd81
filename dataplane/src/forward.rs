//! Moving packets from one queue to another unchanged, like `dpdk-testpmd`'s io-forward
//! mode: the traffic source of a one-process pipeline (capture or generator to the
//! duplicator's input link), and a baseline in benchmarks.

use std::thread::JoinHandle;

use crate::batch::Batch;
use crate::buf::BufPool;
use crate::doorbell::{Doorbell, Idler};
use crate::port::{PortError, RxOutcome, RxQueue, TxQueue, send_all};

/// What a forwarder moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForwardReport {
    /// Packets moved.
    pub packets: u64,
    /// Frame bytes moved.
    pub bytes: u64,
}

/// Moves every packet from `rx` to `tx` (waiting while `tx` is full) until `rx` ends,
/// then flushes `tx`. Runs on the calling thread.
pub fn forward(
    rx: &mut dyn RxQueue,
    tx: &mut dyn TxQueue,
    pool: &BufPool,
    batch_size: usize,
) -> Result<ForwardReport, PortError> {
    let mut batch = Batch::with_capacity(batch_size).map_err(|e| PortError::Config {
        port: "forward".into(),
        reason: e.to_string(),
    })?;
    let mut bufs = pool.cache();
    let bell = Doorbell::for_current_thread();
    rx.set_doorbell(bell.clone());
    tx.set_doorbell(bell.clone());
    let mut idler = Idler::new(bell);
    let mut report = ForwardReport::default();
    loop {
        match rx.rx_burst(&mut batch, &mut bufs)? {
            RxOutcome::Received(n) => {
                idler.busy();
                report.packets += n as u64;
                report.bytes += batch.bytes();
                send_all(tx, &mut batch, &mut bufs, &mut idler)?;
            }
            RxOutcome::Idle => idler.idle(),
            RxOutcome::Ended => break,
        }
    }
    tx.flush()?;
    Ok(report)
}

/// Runs [`forward`] on a new thread named `name`; `rx` and `tx` are dropped when it ends,
/// which ends the stream for whoever receives from `tx`.
pub fn spawn_forward(
    name: &str,
    mut rx: Box<dyn RxQueue>,
    mut tx: Box<dyn TxQueue>,
    pool: BufPool,
    batch_size: usize,
) -> std::io::Result<JoinHandle<Result<ForwardReport, PortError>>> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || forward(rx.as_mut(), tx.as_mut(), &pool, batch_size))
}

/// Moves every packet from `rx` to one of `txs`, chosen by the packet's symmetric flow
/// hash (software RSS: both directions of a flow go to the same queue), waiting while a
/// queue is full, until `rx` ends. Runs on the calling thread; returns what went to
/// each queue.
pub fn spread(
    rx: &mut dyn RxQueue,
    txs: &mut [Box<dyn TxQueue>],
    pool: &BufPool,
    batch_size: usize,
) -> Result<Vec<ForwardReport>, PortError> {
    let bad = |e: crate::batch::BatchError| PortError::Config {
        port: "spread".into(),
        reason: e.to_string(),
    };
    let mut batch = Batch::with_capacity(batch_size).map_err(bad)?;
    let mut staged = (0..txs.len())
        .map(|_| Batch::with_capacity(batch_size).map_err(bad))
        .collect::<Result<Vec<_>, _>>()?;
    let mut reports = vec![ForwardReport::default(); txs.len()];
    if txs.is_empty() {
        return Err(PortError::Config {
            port: "spread".into(),
            reason: "no queue to spread over".into(),
        });
    }
    let hasher = crate::flow::Toeplitz::symmetric();
    let mut bufs = pool.cache();
    let bell = Doorbell::for_current_thread();
    rx.set_doorbell(bell.clone());
    for tx in txs.iter_mut() {
        tx.set_doorbell(bell.clone());
    }
    let mut idler = Idler::new(bell);
    loop {
        match rx.rx_burst(&mut batch, &mut bufs)? {
            RxOutcome::Received(_) => {
                idler.busy();
                for pkt in batch.drain() {
                    let q = crate::flow::frame_hash(&hasher, pkt.data()) as usize % txs.len();
                    reports[q].packets += 1;
                    reports[q].bytes += pkt.len() as u64;
                    // Cannot fail: a full staging batch is sent right below.
                    let _ = staged[q].push(pkt);
                    if staged[q].is_full() {
                        send_all(txs[q].as_mut(), &mut staged[q], &mut bufs, &mut idler)?;
                    }
                }
                for (tx, s) in txs.iter_mut().zip(staged.iter_mut()) {
                    send_all(tx.as_mut(), s, &mut bufs, &mut idler)?;
                }
            }
            RxOutcome::Idle => idler.idle(),
            RxOutcome::Ended => break,
        }
    }
    for tx in txs.iter_mut() {
        tx.flush()?;
    }
    Ok(reports)
}

/// Runs [`spread`] on a new thread named `name`; the queues are dropped when it ends.
pub fn spawn_spread(
    name: &str,
    mut rx: Box<dyn RxQueue>,
    mut txs: Vec<Box<dyn TxQueue>>,
    pool: BufPool,
    batch_size: usize,
) -> std::io::Result<JoinHandle<Result<Vec<ForwardReport>, PortError>>> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || spread(rx.as_mut(), &mut txs, &pool, batch_size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::IterPort;
    use crate::port::Port;
    use crate::ring::{Overflow, RingPort, RingQueueConfig};

    /// A UDP frame between 10.0.0.a:1000+a and 10.0.0.b:53 (or reversed).
    fn frame(a: u8, reverse: bool) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[12] = 0x08;
        f[14] = 0x45;
        f[16..18].copy_from_slice(&46u16.to_be_bytes());
        f[23] = 17;
        let (src, dst, sp, dp) = if reverse {
            ([192, 0, 2, 1], [10, 0, 0, a], 53u16, 1000 + a as u16 * 7)
        } else {
            ([10, 0, 0, a], [192, 0, 2, 1], 1000 + a as u16 * 7, 53u16)
        };
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sp.to_be_bytes());
        f[36..38].copy_from_slice(&dp.to_be_bytes());
        f
    }

    #[test]
    fn spread_keeps_flows_together_and_loses_nothing() {
        let frames: Vec<(u64, Vec<u8>)> = (0..200u8)
            .flat_map(|a| [(0, frame(a, false)), (0, frame(a, true))])
            .collect();
        let mut src = IterPort::new("src", frames.into_iter());
        let cfg = RingQueueConfig::new(1024, Overflow::Backpressure);
        let mut outs: Vec<RingPort> = (0..3)
            .map(|i| RingPort::new(&format!("o{i}"), &[cfg]).unwrap())
            .collect();
        let mut txs: Vec<Box<dyn TxQueue>> = outs
            .iter_mut()
            .map(|p| p.take_tx_queue(0).unwrap())
            .collect();
        let pool = BufPool::default();
        let reports = spread(src.take_rx_queue(0).unwrap().as_mut(), &mut txs, &pool, 32).unwrap();
        drop(txs);
        assert_eq!(reports.iter().map(|r| r.packets).sum::<u64>(), 400);
        let mut bufs = pool.cache();
        let mut seen = std::collections::HashMap::new();
        for (q, port) in outs.iter_mut().enumerate() {
            let mut rx = port.take_rx_queue(0).unwrap();
            let mut batch = Batch::with_capacity(256).unwrap();
            while let RxOutcome::Received(_) = rx.rx_burst(&mut batch, &mut bufs).unwrap() {
                for p in batch.drain() {
                    // The client's last address byte names the flow in both directions.
                    let d = p.data();
                    let client = if d[26] == 10 { d[29] } else { d[33] };
                    assert_eq!(*seen.entry(client).or_insert(q), q, "flow {client} split");
                }
            }
            assert!(reports[q].packets > 0, "queue {q} got nothing");
        }
        assert_eq!(seen.len(), 200);
    }
}
