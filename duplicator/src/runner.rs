//! The duplicator thread: receives from the traffic source, dispatches to the nodes.

use std::sync::Arc;
use std::thread::JoinHandle;

use dataplane::{Batch, BufPool, Doorbell, Idler, PortError, RxOutcome, RxQueue};

use crate::stage::{Duplicator, DuplicatorCounters, DuplicatorReport};

/// A running duplicator thread.
pub struct DuplicatorHandle {
    counters: Arc<DuplicatorCounters>,
    thread: JoinHandle<Result<DuplicatorReport, PortError>>,
}

impl DuplicatorHandle {
    /// Live counters.
    pub fn counters(&self) -> &Arc<DuplicatorCounters> {
        &self.counters
    }

    /// Waits until the input has ended and every copy was sent. The node queues close
    /// when the thread ends.
    pub fn join(self) -> Result<DuplicatorReport, PortError> {
        self.thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Starts the duplicator thread on `input`, with batches of `batch_size` packets.
pub fn spawn(
    mut duplicator: Duplicator,
    mut input: Box<dyn RxQueue>,
    pool: BufPool,
    batch_size: usize,
) -> std::io::Result<DuplicatorHandle> {
    let mut batch = Batch::with_capacity(batch_size)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let counters = duplicator.counters();
    let thread = std::thread::Builder::new()
        .name("duplicator".into())
        .spawn(move || {
            let mut bufs = pool.cache();
            let bell = Doorbell::for_current_thread();
            input.set_doorbell(bell.clone());
            for q in duplicator.outputs_mut() {
                q.set_doorbell(bell.clone());
            }
            let mut idler = Idler::new(bell);
            loop {
                match input.rx_burst(&mut batch, &mut bufs)? {
                    RxOutcome::Received(_) => {
                        idler.busy();
                        let now = dataplane::clock::now_ns();
                        duplicator.dispatch(&mut batch, &mut bufs, &mut idler, now)?;
                    }
                    RxOutcome::Idle => idler.idle(),
                    RxOutcome::Ended => break,
                }
            }
            duplicator.flush(&mut bufs, &mut idler)?;
            Ok(duplicator.report())
        })?;
    Ok(DuplicatorHandle { counters, thread })
}
