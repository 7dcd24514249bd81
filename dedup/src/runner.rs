//! The dedup thread: polls every node's output queues, keeps first copies, transmits
//! them on the output port.

use std::sync::Arc;
use std::thread::JoinHandle;

use dataplane::completion::CompletionSender;
use dataplane::port::send_all;
use dataplane::rxset::RxSet;
use dataplane::{Batch, BufPool, Doorbell, Idler, PortError, RxOutcome, RxQueue, TxQueue};

use crate::stage::{Dedup, DedupCounters, DedupReport};

/// The queues a dedup thread serves.
pub struct DedupIo {
    /// Copies arriving from the nodes.
    pub inputs: Vec<Box<dyn RxQueue>>,
    /// Where unique packets go.
    pub output: Box<dyn TxQueue>,
    /// Completion-notice channels to the nodes, by node index (`None`: that node takes
    /// none).
    pub notices: Vec<Option<CompletionSender>>,
}

/// A running dedup thread.
pub struct DedupHandle {
    counters: Arc<DedupCounters>,
    thread: JoinHandle<Result<DedupReport, PortError>>,
}

impl DedupHandle {
    /// Live counters.
    pub fn counters(&self) -> &Arc<DedupCounters> {
        &self.counters
    }

    /// Whether the thread has stopped.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits until every input has ended and the output is flushed.
    pub fn join(self) -> Result<DedupReport, PortError> {
        self.thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Starts the dedup thread. It ends when every input queue has ended.
pub fn spawn(
    mut dedup: Dedup,
    mut io: DedupIo,
    pool: BufPool,
    batch_size: usize,
) -> std::io::Result<DedupHandle> {
    let counters = dedup.counters();
    let thread = std::thread::Builder::new()
        .name("dedup".into())
        .spawn(move || {
            let mut bufs = pool.cache();
            let bell = Doorbell::for_current_thread();
            let mut inputs = RxSet::new(std::mem::take(&mut io.inputs));
            inputs.set_doorbell(&bell);
            io.output.set_doorbell(bell.clone());
            let mut idler = Idler::new(bell);
            let batch = |n| Batch::with_capacity(n).expect("batch size checked by caller");
            let (mut input, mut unique) = (batch(batch_size), batch(batch_size));
            loop {
                match inputs.rx_burst(&mut input, &mut bufs)? {
                    RxOutcome::Received(_) => {
                        idler.busy();
                        let now = dataplane::clock::now_ns();
                        dedup.dispatch(&mut input, &mut unique, &mut bufs, now);
                        let senders = &mut io.notices;
                        dedup.take_notices(|node, notices| {
                            if let Some(Some(tx)) = senders.get_mut(node) {
                                tx.send(notices);
                            }
                        });
                        send_all(io.output.as_mut(), &mut unique, &mut bufs, &mut idler)?;
                    }
                    RxOutcome::Idle => idler.idle(),
                    RxOutcome::Ended => break,
                }
            }
            io.output.flush()?;
            Ok(dedup.report())
        })?;
    Ok(DedupHandle { counters, thread })
}
