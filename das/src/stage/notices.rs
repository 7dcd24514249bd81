//! Completion notices between processes (active purge): dedup's process sends each
//! node the jobs whose first copy it delivered, as notice frames on the node's link
//! (`dataplane::completion::encode_notices`), and the node's process hands them to the
//! node, which removes those jobs' duplicates before inspecting them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use dataplane::completion::{
    Completion, CompletionReceiver, CompletionSender, NOTICES_PER_FRAME, decode_notices,
    encode_notices,
};
use dataplane::port::{PortError, RxOutcome, RxQueue, TxQueue, send_all};
use dataplane::{Batch, BufPool, Doorbell, Idler};

/// Notices a channel holds before new ones are dropped (counted).
pub const CHANNEL_CAPACITY: usize = 1 << 16;

/// Pause between two looks at empty channels.
const POLL: Duration = Duration::from_micros(200);

/// What dedup's side sent to one node.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct NoticesSent {
    /// Notices sent.
    pub notices: u64,
    /// Frames they filled.
    pub frames: u64,
}

/// What a node's side received.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct NoticesReceived {
    /// Notice frames received.
    pub frames: u64,
    /// Notices they carried, handed to the node.
    pub notices: u64,
    /// Frames that were not valid notice frames (dropped as malformed).
    pub malformed: u64,
    /// Notices dropped because the node's channel was full.
    pub channel_dropped: u64,
    /// Notices read and discarded because the node takes none (`--no-purge`, on a
    /// link that must be read anyway).
    pub ignored: u64,
}

/// Sends what dedup puts in `channels[i]` to node `i` on `links[i]`, until `done` is set
/// and the channels are empty.
pub fn spawn_sender(
    channels: Vec<CompletionReceiver>,
    links: Vec<Box<dyn TxQueue>>,
    done: Arc<AtomicBool>,
    pool: BufPool,
) -> std::io::Result<JoinHandle<Result<Vec<NoticesSent>, PortError>>> {
    std::thread::Builder::new()
        .name("notices-out".into())
        .spawn(move || {
            let mut bufs = pool.cache();
            let mut batch = Batch::with_capacity(16).expect("16 is a valid batch size");
            let mut idler = Idler::new(Doorbell::for_current_thread());
            let mut sent = vec![NoticesSent::default(); channels.len()];
            let mut pending: Vec<Completion> = Vec::new();
            let mut frame = Vec::new();
            let (mut channels, mut links) = (channels, links);
            loop {
                // Read the flag first: notices put in before it was set are then drained.
                let finished = done.load(Ordering::Acquire);
                let mut any = false;
                for (node, (channel, link)) in channels.iter_mut().zip(&mut links).enumerate() {
                    pending.clear();
                    channel.drain(|c| pending.push(c));
                    for chunk in pending.chunks(NOTICES_PER_FRAME) {
                        encode_notices(node as u8, chunk, &mut frame);
                        let buf = bufs.alloc_from(&frame).map_err(|e| PortError::Config {
                            port: format!("notices to node {node}"),
                            reason: e.to_string(),
                        })?;
                        // Cannot fail: the batch is sent before it fills.
                        let _ = batch.push(buf);
                        if batch.is_full() {
                            send_all(link.as_mut(), &mut batch, &mut bufs, &mut idler)?;
                        }
                        sent[node].frames += 1;
                        sent[node].notices += chunk.len() as u64;
                        any = true;
                    }
                    send_all(link.as_mut(), &mut batch, &mut bufs, &mut idler)?;
                }
                if finished && !any {
                    return Ok(sent);
                }
                if !any {
                    std::thread::sleep(POLL);
                }
            }
        })
}

/// Hands the notices of the frames `link` receives to `channel`, until `link` ends;
/// without a channel, reads and discards them (counted as ignored).
pub fn spawn_receiver(
    mut link: Box<dyn RxQueue>,
    mut channel: Option<CompletionSender>,
    pool: BufPool,
) -> std::io::Result<JoinHandle<Result<NoticesReceived, PortError>>> {
    std::thread::Builder::new()
        .name("notices-in".into())
        .spawn(move || {
            let mut bufs = pool.cache();
            let mut batch = Batch::with_capacity(16).expect("16 is a valid batch size");
            let mut got = NoticesReceived::default();
            let mut notices = Vec::new();
            let counters = channel.as_ref().map(CompletionSender::counters);
            loop {
                match link.rx_burst(&mut batch, &mut bufs)? {
                    RxOutcome::Received(_) => {
                        for pkt in batch.iter() {
                            got.frames += 1;
                            match decode_notices(pkt.data()) {
                                Ok(found) => notices.extend(found),
                                Err(_) => {
                                    got.malformed += 1;
                                    link.counters()
                                        .count_drop(dataplane::DropReason::Malformed, 1);
                                }
                            }
                        }
                        batch.free_into(&mut bufs);
                        got.notices += notices.len() as u64;
                        match &mut channel {
                            Some(channel) => channel.send(&notices),
                            None => got.ignored += notices.len() as u64,
                        }
                        notices.clear();
                    }
                    RxOutcome::Idle => std::thread::sleep(POLL),
                    RxOutcome::Ended => break,
                }
            }
            got.channel_dropped = counters.map_or(0, |c| c.dropped.get());
            Ok(got)
        })
}
