//! Moving packets from one queue to another unchanged, like `dpdk-testpmd`'s io-forward
//! mode: the traffic source of a one-process pipeline (capture or generator to the
//! duplicator's input link), and a baseline in benchmarks.

use std::thread::JoinHandle;

use crate::batch::Batch;
use crate::buf::BufPool;
use crate::doorbell::{Doorbell, Idler};
use crate::port::{PortError, RxOutcome, RxQueue, TxQueue, send_all};

/// What a forwarder moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
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
