//! A transmit queue: an AF_PACKET socket that bypasses the qdisc and sends whole
//! batches with one sendmmsg(2) call.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use super::socket;
use crate::batch::{Batch, MAX_BATCH};
use crate::buf::BufCache;
use crate::counters::DropReason;
use crate::port::{PortError, QueueCounters, TxQueue};

/// The scatter lists of one sendmmsg call.
struct Messages {
    iov: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

// SAFETY: the pointers in `iov` and `msgs` are written at the start of each send and
// only used during it, by the thread that owns the queue; between calls they are stale
// and never dereferenced.
unsafe impl Send for Messages {}

/// One AF_PACKET transmit socket.
pub(super) struct AfPacketTx {
    port: String,
    queue: usize,
    fd: OwnedFd,
    messages: Messages,
    counters: Arc<QueueCounters>,
}

impl AfPacketTx {
    /// Opens a transmit socket on `ifindex` (it receives nothing).
    pub(super) fn open(
        port: &str,
        queue: usize,
        ifindex: i32,
        counters: Arc<QueueCounters>,
    ) -> Result<Self, PortError> {
        let io = |context: &str, source| PortError::Io {
            port: port.to_string(),
            context: format!("tx queue {queue}: {context}"),
            source,
        };
        let fd = socket::open_raw().map_err(|e| io(super::OPEN_CONTEXT, e))?;
        // Straight to the driver: no queueing discipline between das and the link.
        socket::set_packet_option(&fd, libc::PACKET_QDISC_BYPASS, 1)
            .map_err(|e| io("setting PACKET_QDISC_BYPASS", e))?;
        socket::bind(&fd, ifindex, false).map_err(|e| io("binding to the interface", e))?;
        // SAFETY: iovec and mmsghdr are plain data; zeroes are valid (null pointers,
        // zero lengths) and are overwritten before each use.
        let messages = unsafe {
            Messages {
                iov: vec![std::mem::zeroed(); MAX_BATCH],
                msgs: vec![std::mem::zeroed(); MAX_BATCH],
            }
        };
        Ok(AfPacketTx {
            port: port.to_string(),
            queue,
            fd,
            messages,
            counters,
        })
    }
}

impl TxQueue for AfPacketTx {
    fn tx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<usize, PortError> {
        let n = batch.len().min(MAX_BATCH);
        if n == 0 {
            return Ok(0);
        }
        for (i, pkt) in batch.as_slice()[..n].iter().enumerate() {
            let data = pkt.data();
            self.messages.iov[i] = libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            };
            let hdr = &mut self.messages.msgs[i].msg_hdr;
            hdr.msg_iov = &mut self.messages.iov[i];
            hdr.msg_iovlen = 1;
            self.messages.msgs[i].msg_len = 0;
        }
        // SAFETY: the first `n` messages point at iovecs that point into the frames of
        // `batch`, all alive and unmoved until the call returns; the socket only reads.
        let sent = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                self.messages.msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if sent < 0 {
            let err = std::io::Error::last_os_error();
            return match err.raw_os_error() {
                // The device queue is full: nothing taken, the caller retries.
                Some(libc::EAGAIN) | Some(libc::ENOBUFS) => Ok(0),
                // The first frame is larger than the link takes: it can never be sent.
                Some(libc::EMSGSIZE) => {
                    self.counters.count_tx(1, batch.as_slice()[0].len() as u64);
                    self.counters.count_drop(DropReason::Oversize, 1);
                    bufs.free_all(batch.drain_front(1));
                    Ok(1)
                }
                _ => Err(PortError::Io {
                    port: self.port.clone(),
                    context: format!("tx queue {}: sendmmsg", self.queue),
                    source: err,
                }),
            };
        }
        let sent = sent as usize;
        let bytes = batch.as_slice()[..sent]
            .iter()
            .map(|p| p.len() as u64)
            .sum();
        self.counters.count_tx(sent, bytes);
        bufs.free_all(batch.drain_front(sent));
        Ok(sent)
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}
