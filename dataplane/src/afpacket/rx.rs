//! A receive queue on a TPACKET_V3 ring: the kernel fills blocks of frames in a shared
//! mapping and hands each block over by flipping its status word; the queue copies the
//! frames into packet buffers and hands the block back.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::RingConfig;
use super::socket::{self, Filter};
use crate::batch::Batch;
use crate::buf::BufCache;
use crate::counters::DropReason;
use crate::input_end::InputEnd;
use crate::port::{PortError, QueueCounters, RxOutcome, RxQueue};

/// Receive bursts between two reads of the kernel's drop count.
const STATS_EVERY: u32 = 256;

/// The shared mapping of a TPACKET_V3 ring.
struct Ring {
    base: *mut u8,
    len: usize,
    block_size: usize,
    blocks: usize,
}

// SAFETY: the mapping is owned by one receive queue and only touched by the thread that
// owns that queue; the kernel synchronises through the block status words.
unsafe impl Send for Ring {}

impl Ring {
    /// Sets up and maps the ring of socket `fd`.
    fn map(fd: &OwnedFd, ring: &RingConfig) -> std::io::Result<Ring> {
        let req = libc::tpacket_req3 {
            tp_block_size: ring.block_size as u32,
            tp_block_nr: ring.blocks as u32,
            tp_frame_size: ring.frame_size as u32,
            tp_frame_nr: (ring.block_size / ring.frame_size * ring.blocks) as u32,
            tp_retire_blk_tov: ring.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        socket::set_option(fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;
        let len = ring.block_size * ring.blocks;
        // SAFETY: maps the ring the kernel just allocated for this socket; the length
        // is exactly its size and the result is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_LOCKED,
                fd.as_raw_fd(),
                0,
            )
        };
        let base = if base == libc::MAP_FAILED {
            // MAP_LOCKED fails where locked memory is limited: map without it.
            // SAFETY: as above.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd.as_raw_fd(),
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            base
        } else {
            base
        };
        Ok(Ring {
            base: base.cast(),
            len,
            block_size: ring.block_size,
            blocks: ring.blocks,
        })
    }

    /// The start of block `i`.
    fn block(&self, i: usize) -> *mut u8 {
        debug_assert!(i < self.blocks);
        // SAFETY: i < blocks, so the offset stays inside the mapping.
        unsafe { self.base.add(i * self.block_size) }
    }

    /// The status word of block `i`, shared with the kernel.
    fn status(&self, i: usize) -> &AtomicU32 {
        let desc = self.block(i).cast::<libc::tpacket_block_desc>();
        // SAFETY: every block starts with a tpacket_block_desc whose block_status is an
        // aligned u32 the kernel and this queue hand back and forth; it lives as long
        // as the mapping, which outlives `&self`.
        unsafe { AtomicU32::from_ptr(std::ptr::addr_of_mut!((*desc).hdr.bh1.block_status)) }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`; nothing refers to it after.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

/// Where the queue is in the ring.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    block: usize,
    /// Frames of the current block still to read (0: no block is held).
    left: u32,
    /// Offset of the next frame's header in the current block.
    offset: usize,
}

/// What every receive socket of a port shares.
pub(super) struct RxSetup {
    /// The interface.
    pub ifindex: i32,
    /// The port's fanout group, if its queues share the frames by flow hash.
    pub fanout: Option<u16>,
    /// Each socket's ring.
    pub ring: RingConfig,
    /// When the queues report the end of their input.
    pub end: InputEnd,
}

/// One AF_PACKET receive socket with its TPACKET_V3 ring.
pub(super) struct AfPacketRx {
    port: String,
    queue: usize,
    fd: OwnedFd,
    ring: Ring,
    cursor: Cursor,
    end: InputEnd,
    counters: Arc<QueueCounters>,
    bursts: u32,
}

impl AfPacketRx {
    /// Opens receive queue `queue` of port `port`: a socket that takes the frames
    /// `filter` accepts, set up as `setup` says.
    pub(super) fn open(
        port: &str,
        queue: usize,
        filter: Filter,
        setup: &RxSetup,
        counters: Arc<QueueCounters>,
    ) -> Result<Self, PortError> {
        let RxSetup {
            ifindex,
            fanout,
            ring,
            end,
        } = setup;
        let (ifindex, fanout, end) = (*ifindex, *fanout, end.clone());
        let io = |context: &str, source| PortError::Io {
            port: port.to_string(),
            context: format!("rx queue {queue}: {context}"),
            source,
        };
        let fd = socket::open_raw().map_err(|e| io(super::OPEN_CONTEXT, e))?;
        socket::set_packet_option(
            &fd,
            libc::PACKET_VERSION,
            libc::tpacket_versions::TPACKET_V3 as libc::c_int,
        )
        .map_err(|e| io("selecting TPACKET_V3", e))?;
        // The socket receives nothing before bind, so the filter is in place before the
        // first frame.
        socket::attach_filter(&fd, filter).map_err(|e| io("attaching the BPF filter", e))?;
        // Frames this host sends are not input (older kernels lack the option).
        let _ = socket::set_packet_option(&fd, libc::PACKET_IGNORE_OUTGOING, 1);
        let mapped = Ring::map(&fd, ring).map_err(|e| io("mapping the TPACKET_V3 ring", e))?;
        socket::bind(&fd, ifindex, true).map_err(|e| io("binding to the interface", e))?;
        if let Some(group) = fanout {
            let arg = libc::c_int::from(group) | ((libc::PACKET_FANOUT_HASH as libc::c_int) << 16);
            socket::set_packet_option(&fd, libc::PACKET_FANOUT, arg)
                .map_err(|e| io("joining the fanout group", e))?;
        }
        Ok(AfPacketRx {
            port: port.to_string(),
            queue,
            fd,
            ring: mapped,
            cursor: Cursor::default(),
            end,
            counters,
            bursts: 0,
        })
    }

    /// Adds the kernel's drops since the last read to the counters.
    fn collect_drops(&self) -> Result<(), PortError> {
        let drops = socket::take_drops(&self.fd).map_err(|source| PortError::Io {
            port: self.port.clone(),
            context: format!("rx queue {}: reading PACKET_STATISTICS", self.queue),
            source,
        })?;
        if drops > 0 {
            self.counters.count_drop(DropReason::RingFull, drops);
        }
        Ok(())
    }

    /// Hands the current block back to the kernel and moves to the next.
    fn release_block(&mut self) {
        self.ring
            .status(self.cursor.block)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.cursor.block = (self.cursor.block + 1) % self.ring.blocks;
        self.cursor.left = 0;
    }
}

impl RxQueue for AfPacketRx {
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError> {
        self.bursts = self.bursts.wrapping_add(1);
        if self.bursts % STATS_EVERY == 0 {
            self.collect_drops()?;
        }
        let mut received = 0;
        let mut bytes = 0u64;
        while !batch.is_full() {
            if self.cursor.left == 0 {
                let status = self.ring.status(self.cursor.block).load(Ordering::Acquire);
                if status & libc::TP_STATUS_USER == 0 {
                    break;
                }
                let desc = self
                    .ring
                    .block(self.cursor.block)
                    .cast::<libc::tpacket_block_desc>();
                // SAFETY: the block belongs to this queue until handed back (status
                // USER, read with Acquire above); its descriptor is at its start.
                let (count, first) = unsafe {
                    let h = &(*desc).hdr.bh1;
                    (h.num_pkts, h.offset_to_first_pkt as usize)
                };
                if count == 0 {
                    self.release_block();
                    continue;
                }
                self.cursor.left = count;
                self.cursor.offset = first;
            }
            let block = self.ring.block(self.cursor.block);
            let block_size = self.ring.block_size;
            let header_size = std::mem::size_of::<libc::tpacket3_hdr>();
            if self.cursor.offset + header_size > block_size {
                return Err(self.corrupt("frame header beyond its block"));
            }
            // SAFETY: the header lies inside the block (checked above), which this
            // queue holds; tpacket3_hdr is plain data and 4-byte aligned by the kernel.
            let hdr = unsafe {
                std::ptr::read(block.add(self.cursor.offset).cast::<libc::tpacket3_hdr>())
            };
            let start = self.cursor.offset + usize::from(hdr.tp_mac);
            let len = hdr.tp_snaplen as usize;
            if start + len > block_size {
                return Err(self.corrupt("frame beyond its block"));
            }
            // SAFETY: the frame's bytes lie inside the held block (checked above).
            let frame = unsafe { std::slice::from_raw_parts(block.add(start), len) };
            if hdr.tp_snaplen < hdr.tp_len {
                // Larger than the ring's frames: cut by the kernel, never forwarded cut.
                self.counters.count_drop(DropReason::Oversize, 1);
            } else {
                let mut pkt = bufs.alloc_from(frame).map_err(|e| PortError::Config {
                    port: self.port.clone(),
                    reason: format!("rx queue {}: {e}", self.queue),
                })?;
                pkt.set_timestamp_ns(
                    u64::from(hdr.tp_sec) * 1_000_000_000 + u64::from(hdr.tp_nsec),
                );
                bytes += len as u64;
                received += 1;
                // Cannot fail: the loop runs while the batch has room.
                let _ = batch.push(pkt);
            }
            self.cursor.left -= 1;
            self.cursor.offset += hdr.tp_next_offset as usize;
            if self.cursor.left == 0 {
                self.release_block();
            }
        }
        if received > 0 {
            self.counters.count_rx(received, bytes);
            self.end.received();
            return Ok(RxOutcome::Received(received));
        }
        if self.end.ended() {
            self.collect_drops()?;
            return Ok(RxOutcome::Ended);
        }
        Ok(RxOutcome::Idle)
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}

impl AfPacketRx {
    fn corrupt(&self, what: &str) -> PortError {
        PortError::Config {
            port: self.port.clone(),
            reason: format!("rx queue {}: TPACKET_V3 ring: {what}", self.queue),
        }
    }
}

impl Drop for AfPacketRx {
    fn drop(&mut self) {
        // Drops counted after the last burst still belong in the report.
        let _ = self.collect_drops();
    }
}
