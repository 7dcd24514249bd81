//! Node health between processes: each worker sends a status frame
//! (`dataplane::status`) back to the duplicator every [`STATUS_INTERVAL`]; the
//! duplicator's process marks a node down once its frames have stopped for the node
//! timeout, and the duplicator then fails the node's flows over to their duplicates.
//! The frames also say how many duplicates the node took, which the duplicator's
//! overload guard compares with those it sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use dataplane::clock::monotonic_ns;
use dataplane::health::NodeHealth;
use dataplane::input_end::InputEnd;
use dataplane::port::{PortError, QueueCounters, RxOutcome, RxQueue, TxQueue, send_all};
use dataplane::status::{NodeStatus, RemoteQueueView, decode_status, encode_status};
use dataplane::{Batch, BufPool, Doorbell, DropReason, Idler};

/// How often a worker says it is alive.
pub const STATUS_INTERVAL: Duration = Duration::from_millis(10);

/// What the duplicator's side heard from one node.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct StatusReceived {
    /// Status frames received.
    pub frames: u64,
    /// Frames that were not valid status frames, or named another node.
    pub malformed: u64,
    /// What the node said last: frames it had sent before.
    pub last_seq: u64,
    /// What the node said last: duplicates its duplicate queue took.
    pub duplicates_taken: u64,
    /// What the node said last: duplicates its duplicate queue dropped.
    pub duplicates_dropped: u64,
    /// Milliseconds after its first status frame that the node was marked down (its
    /// frames had stopped for the node timeout); none while it was up.
    pub down_after_ms: Option<f64>,
}

/// Sends node `node`'s status on `link` every [`STATUS_INTERVAL`] until `end` says the
/// worker's input has ended. `duplicates` are the counters of the node's duplicate
/// queue. Returns the frames sent.
pub fn spawn_reporter(
    mut link: Box<dyn TxQueue>,
    node: u8,
    duplicates: Arc<QueueCounters>,
    end: InputEnd,
    pool: BufPool,
) -> std::io::Result<JoinHandle<Result<u64, PortError>>> {
    std::thread::Builder::new()
        .name("status-out".into())
        .spawn(move || {
            let mut bufs = pool.cache();
            let mut batch = Batch::with_capacity(1).expect("1 is a valid batch size");
            let mut idler = Idler::new(Doorbell::for_current_thread());
            let mut frame = Vec::new();
            let mut seq = 0;
            while !end.ended() {
                let status = NodeStatus {
                    node,
                    seq,
                    duplicates_taken: duplicates.rx_packets.get(),
                    duplicates_dropped: duplicates.dropped.total(),
                };
                encode_status(&status, &mut frame);
                let buf = bufs.alloc_from(&frame).map_err(|e| PortError::Config {
                    port: "status".into(),
                    reason: e.to_string(),
                })?;
                // Cannot fail: the batch is empty.
                let _ = batch.push(buf);
                send_all(link.as_mut(), &mut batch, &mut bufs, &mut idler)?;
                seq += 1;
                std::thread::sleep(STATUS_INTERVAL);
            }
            Ok(seq)
        })
}

/// Reads the status frames of node `i` from `links[i]` (if any) into `views[i]` (for
/// the overload guard) and, with a `timeout`, marks a node down in `health` once it was
/// heard and then not for that long, until `done` is set.
pub fn spawn_watcher(
    links: Vec<Option<Box<dyn RxQueue>>>,
    views: Vec<Arc<RemoteQueueView>>,
    health: NodeHealth,
    timeout: Option<Duration>,
    done: Arc<AtomicBool>,
    pool: BufPool,
) -> std::io::Result<JoinHandle<Result<Vec<StatusReceived>, PortError>>> {
    std::thread::Builder::new()
        .name("status-in".into())
        .spawn(move || {
            let mut links = links;
            let mut bufs = pool.cache();
            let mut batch = Batch::with_capacity(16).expect("16 is a valid batch size");
            let mut heard = vec![StatusReceived::default(); links.len()];
            // Per node: when its first and its last frame came (0: never).
            let mut first_ns = vec![0u64; links.len()];
            let mut last_ns = vec![0u64; links.len()];
            let timeout_ns = timeout.map(|t| t.as_nanos() as u64);
            while !done.load(Ordering::Acquire) {
                for (node, link) in links.iter_mut().enumerate() {
                    let Some(link) = link else { continue };
                    if let RxOutcome::Received(_) = link.rx_burst(&mut batch, &mut bufs)? {
                        let now = monotonic_ns();
                        let h = &mut heard[node];
                        for pkt in batch.iter() {
                            h.frames += 1;
                            match decode_status(pkt.data()) {
                                Ok(s) if usize::from(s.node) == node => {
                                    views[node].update(&s);
                                    h.last_seq = s.seq;
                                    h.duplicates_taken = s.duplicates_taken;
                                    h.duplicates_dropped = s.duplicates_dropped;
                                    last_ns[node] = now;
                                    if first_ns[node] == 0 {
                                        first_ns[node] = now;
                                    }
                                }
                                _ => {
                                    h.malformed += 1;
                                    link.counters().count_drop(DropReason::Malformed, 1);
                                }
                            }
                        }
                        batch.free_into(&mut bufs);
                    }
                }
                let now = monotonic_ns();
                for node in 0..links.len() {
                    let silent =
                        last_ns[node] != 0 && timeout_ns.is_some_and(|t| now - last_ns[node] > t);
                    if silent && heard[node].down_after_ms.is_none() {
                        health.mark_down(node);
                        heard[node].down_after_ms = Some((now - first_ns[node]) as f64 / 1e6);
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(heard)
        })
}
