//! [`NetmapPort`]: a das port on the NIC rings of an interface in netmap mode, one ring
//! (and one descriptor) per queue.

use std::path::PathBuf;
use std::sync::Arc;

use dataplane::afpacket::{Filter, RxLayout};
use dataplane::batch::Batch;
use dataplane::buf::BufCache;
use dataplane::counters::DropReason;
use dataplane::port::{Port, PortError, PortQueues, QueueCounters, RxOutcome, RxQueue, TxQueue};

use crate::error::NetmapError;
use crate::ring::{Binding, Dir};
use crate::sys::{NETMAP_REQ_IFNAMSIZ, NS_MOREFRAG, ring_distance, ring_next};

/// The netmap control device.
pub const DEFAULT_DEVICE: &str = "/dev/netmap";

/// Most rings one port may ask for in a direction (`NETMAP_RING_MASK` + 1).
const MAX_RINGS: usize = 4096;

/// Settings of a [`NetmapPort`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetmapConfig {
    /// The interface whose rings the port binds (it goes into netmap mode).
    pub interface: String,
    /// The receive queues: queue `q` is NIC receive ring `q`, and takes the frames
    /// `rx.filter(q)` accepts (the NIC's steering puts them there; any other frame found
    /// on the ring is dropped as [`DropReason::Filtered`]).
    pub rx: RxLayout,
    /// Transmit queues: queue `q` is NIC transmit ring `q`.
    pub tx_queues: usize,
    /// The netmap control device.
    pub device: PathBuf,
}

impl NetmapConfig {
    /// A port on `interface` with receive queues laid out as `rx` and `tx_queues`
    /// transmit queues, through [`DEFAULT_DEVICE`].
    pub fn new(interface: &str, rx: RxLayout, tx_queues: usize) -> Self {
        NetmapConfig {
            interface: interface.to_string(),
            rx,
            tx_queues,
            device: PathBuf::from(DEFAULT_DEVICE),
        }
    }

    fn check(&self) -> Result<(), NetmapError> {
        let bad = |reason: String| {
            Err(NetmapError::Config {
                interface: self.interface.clone(),
                reason,
            })
        };
        let name = &self.interface;
        if name.is_empty() || name.len() >= NETMAP_REQ_IFNAMSIZ || name.contains('\0') {
            return bad(format!(
                "not an interface name (1 to {} bytes, no NUL)",
                NETMAP_REQ_IFNAMSIZ - 1
            ));
        }
        if matches!(self.rx, RxLayout::Notices | RxLayout::Status) {
            return bad(format!(
                "{:?} frames are not received on netmap rings: they arrive on an AF_PACKET socket of their own",
                self.rx
            ));
        }
        let rx = self.rx.queues();
        if rx == 0 && self.tx_queues == 0 {
            return bad("a port needs at least one queue".into());
        }
        if rx > MAX_RINGS || self.tx_queues > MAX_RINGS {
            return bad(format!("at most {MAX_RINGS} rings per direction"));
        }
        Ok(())
    }
}

/// A port on an interface's NIC rings through netmap (the netmap kernel module and a
/// driver for the NIC).
///
/// Receive queue `q` reads NIC ring `q` and copies each frame into a packet buffer;
/// transmit queue `q` copies frames into the buffers of NIC ring `q`. Each queue binds
/// its ring on a descriptor of its own (receive or transmit ring only), so the queues
/// move to threads independently. Which frames reach which receive ring is the NIC's
/// decision (RSS, and Flow Director rules installed with `ethtool -N`): a frame the
/// queue's filter refuses is dropped and counted as [`DropReason::Filtered`]. Frames
/// split over several slots (larger than a buffer) are dropped as
/// [`DropReason::Oversize`], and so are frames too large for a transmit buffer. The
/// NIC's own drops (a full ring) are not visible per ring: they are in the interface's
/// counters. A network link never closes: receive queues never end by themselves.
pub struct NetmapPort {
    queues: PortQueues,
}

impl NetmapPort {
    /// Binds the rings of `config` on its interface, named `name` in reports.
    pub fn open(name: &str, config: &NetmapConfig) -> Result<Self, NetmapError> {
        config.check()?;
        let rx_count = config.rx.queues();
        let bind = |ring, dir| Binding::open(&config.device, &config.interface, ring, dir);
        let counters: Vec<Arc<QueueCounters>> = (0..rx_count.max(config.tx_queues))
            .map(|_| Arc::default())
            .collect();
        let rx = counters[..rx_count]
            .iter()
            .enumerate()
            .map(|(q, c)| {
                let queue = NetmapRx::new(name, q, bind(q, Dir::Rx)?, config.rx.filter(q), c);
                Ok(Box::new(queue) as Box<dyn RxQueue>)
            })
            .collect::<Result<Vec<_>, NetmapError>>()?;
        let tx = counters[..config.tx_queues]
            .iter()
            .enumerate()
            .map(|(q, c)| {
                let queue = NetmapTx::new(name, q, bind(q, Dir::Tx)?, c);
                Ok(Box::new(queue) as Box<dyn TxQueue>)
            })
            .collect::<Result<Vec<_>, NetmapError>>()?;
        Ok(NetmapPort {
            queues: PortQueues::new(name, rx, tx, counters),
        })
    }
}

impl Port for NetmapPort {
    fn queues(&self) -> &PortQueues {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut PortQueues {
        &mut self.queues
    }
}

/// What a failed sync means for a queue.
fn sync_error(port: &str, dir: &str, queue: usize, source: std::io::Error) -> PortError {
    PortError::Io {
        port: port.to_string(),
        context: format!("{dir} queue {queue}: netmap ring sync"),
        source,
    }
}

/// A receive queue: one NIC receive ring.
struct NetmapRx {
    port: String,
    queue: usize,
    ring: Binding,
    filter: Filter,
    counters: Arc<QueueCounters>,
}

impl NetmapRx {
    fn new(
        port: &str,
        queue: usize,
        ring: Binding,
        filter: Filter,
        counters: &Arc<QueueCounters>,
    ) -> Self {
        NetmapRx {
            port: port.to_string(),
            queue,
            ring,
            filter,
            counters: counters.clone(),
        }
    }

    /// The slot after the last fragment of the frame starting at `head`, if the whole
    /// frame has arrived (it lies before `tail`), and whether it took several slots.
    fn frame_end(&self, head: u32, tail: u32) -> Option<(u32, bool)> {
        let n = self.ring.num_slots();
        let mut i = head;
        let mut fragments = false;
        while i != tail {
            let more = self.ring.slot(i).flags & NS_MOREFRAG != 0;
            i = ring_next(i, n);
            if !more {
                return Some((i, fragments));
            }
            fragments = true;
        }
        None
    }

    fn corrupt(&self, what: String) -> PortError {
        PortError::Config {
            port: self.port.clone(),
            reason: format!("rx queue {}: netmap ring: {what}", self.queue),
        }
    }
}

impl RxQueue for NetmapRx {
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError> {
        let mut head = self.ring.head();
        if head == self.ring.tail() {
            // Nothing left: hand the slots read so far back and ask for more.
            self.ring
                .sync()
                .map_err(|e| sync_error(&self.port, "rx", self.queue, e))?;
        }
        let tail = self.ring.tail();
        let now = dataplane::clock::now_ns();
        let (mut received, mut bytes, mut filtered, mut oversize) = (0, 0u64, 0, 0);
        let mut incomplete = false;
        while head != tail && !batch.is_full() {
            let Some((next, fragments)) = self.frame_end(head, tail) else {
                // The rest of a multi-slot frame has not arrived yet.
                incomplete = true;
                break;
            };
            if fragments {
                oversize += 1;
            } else {
                let slot = self.ring.slot(head);
                let len = usize::from(slot.len);
                let Some(frame) = self.ring.buffer(slot.buf_idx, len) else {
                    return Err(self.corrupt(format!(
                        "slot {head}: buffer {} of {len} bytes outside the region",
                        slot.buf_idx
                    )));
                };
                if self.filter.accepts(frame) {
                    let mut pkt = bufs.alloc_from(frame).map_err(|e| PortError::Config {
                        port: self.port.clone(),
                        reason: format!("rx queue {}: {e}", self.queue),
                    })?;
                    pkt.set_timestamp_ns(now);
                    bytes += len as u64;
                    received += 1;
                    // Cannot fail: the loop runs while the batch has room.
                    let _ = batch.push(pkt);
                } else {
                    filtered += 1;
                }
            }
            head = next;
        }
        self.ring.advance(head);
        if incomplete {
            self.ring
                .sync()
                .map_err(|e| sync_error(&self.port, "rx", self.queue, e))?;
        }
        if filtered > 0 {
            self.counters.count_drop(DropReason::Filtered, filtered);
        }
        if oversize > 0 {
            self.counters.count_drop(DropReason::Oversize, oversize);
        }
        if received == 0 {
            return Ok(RxOutcome::Idle);
        }
        self.counters.count_rx(received, bytes);
        Ok(RxOutcome::Received(received))
    }

    fn depth(&self) -> Option<usize> {
        let (head, tail) = (self.ring.head(), self.ring.tail());
        Some(ring_distance(head, tail, self.ring.num_slots()) as usize)
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}

/// A transmit queue: one NIC transmit ring.
struct NetmapTx {
    port: String,
    queue: usize,
    ring: Binding,
    counters: Arc<QueueCounters>,
}

impl NetmapTx {
    fn new(port: &str, queue: usize, ring: Binding, counters: &Arc<QueueCounters>) -> Self {
        NetmapTx {
            port: port.to_string(),
            queue,
            ring,
            counters: counters.clone(),
        }
    }

    fn sync(&mut self) -> Result<(), PortError> {
        self.ring
            .sync()
            .map_err(|e| sync_error(&self.port, "tx", self.queue, e))
    }
}

impl TxQueue for NetmapTx {
    fn tx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<usize, PortError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let n = self.ring.num_slots();
        let mut head = self.ring.head();
        if head == self.ring.tail() {
            // Every slot is in flight: let the kernel reclaim what the NIC sent.
            self.sync()?;
        }
        let mut free = ring_distance(head, self.ring.tail(), n);
        let limit = self.ring.buf_size().min(usize::from(u16::MAX));
        let (mut taken, mut bytes, mut oversize) = (0, 0u64, 0);
        for pkt in batch.iter() {
            let data = pkt.data();
            if data.len() > limit {
                // No buffer can hold it: it would block the queue forever.
                oversize += 1;
            } else if free == 0 {
                break;
            } else {
                let idx = self.ring.slot(head).buf_idx;
                let Some(buf) = self.ring.buffer_mut(idx) else {
                    return Err(PortError::Config {
                        port: self.port.clone(),
                        reason: format!(
                            "tx queue {}: netmap ring: slot {head}: buffer {idx} outside the region",
                            self.queue
                        ),
                    });
                };
                buf[..data.len()].copy_from_slice(data);
                self.ring.set_slot(head, data.len() as u16, 0);
                head = ring_next(head, n);
                free -= 1;
            }
            taken += 1;
            bytes += data.len() as u64;
        }
        if taken == 0 {
            return Ok(0);
        }
        self.ring.advance(head);
        self.sync()?;
        self.counters.count_tx(taken, bytes);
        if oversize > 0 {
            self.counters.count_drop(DropReason::Oversize, oversize);
        }
        bufs.free_all(batch.drain_front(taken));
        Ok(taken)
    }

    fn flush(&mut self) -> Result<(), PortError> {
        self.sync()
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}

impl Drop for NetmapTx {
    fn drop(&mut self) {
        // Frames placed on the ring but not yet pushed go out before the ring is closed.
        let _ = self.ring.sync();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::fake::{BUF_SIZE, Kernel, SLOTS};
    use dataplane::buf::{BufPool, PoolConfig};

    fn das_frame(queue: u8, payload: u8) -> Vec<u8> {
        let mut f = vec![
            0x02, 0x44, 0x41, 0x53, 0x00, queue, 0x02, 0x44, 0x41, 0x53, 0xff, 0x00, 0x89, 0x4f,
        ];
        f.extend_from_slice(&[payload; 50]);
        f
    }

    fn pool() -> BufCache {
        BufPool::new(PoolConfig::default()).cache()
    }

    fn rx(kernel: &Kernel, ring: usize, filter: Filter) -> NetmapRx {
        let counters = Arc::default();
        NetmapRx::new(
            "p",
            ring,
            kernel.bind(ring, Dir::Rx).unwrap(),
            filter,
            &counters,
        )
    }

    #[test]
    fn a_missing_control_device_is_reported_as_such() {
        let config = NetmapConfig {
            device: "/nonexistent/netmap".into(),
            ..NetmapConfig::new("eth1", RxLayout::DasQueues(2), 0)
        };
        let err = NetmapPort::open("node0", &config).err().unwrap();
        assert_eq!(
            err.to_string(),
            "netmap: /nonexistent/netmap does not exist: this machine has no netmap kernel \
             module (load netmap.ko; see docs/NETMAP.md)"
        );
    }

    /// On these machines (no netmap module) the default device gives the same error.
    #[test]
    fn this_machine_says_whether_it_has_netmap() {
        let config = NetmapConfig::new("eth1", RxLayout::None, 1);
        match NetmapPort::open("out", &config) {
            Err(NetmapError::NoDevice { .. }) => {
                assert!(!std::path::Path::new(DEFAULT_DEVICE).exists());
                eprintln!("no {DEFAULT_DEVICE} here: the error says so");
            }
            Err(other) => eprintln!("{DEFAULT_DEVICE} exists; opening eth1: {other}"),
            Ok(_) => eprintln!("{DEFAULT_DEVICE} exists and eth1 opened"),
        }
    }

    #[test]
    fn bad_settings_are_refused_before_the_device_is_opened() {
        let cases = [
            (
                NetmapConfig::new("", RxLayout::Fanout(1), 0),
                "not an interface name",
            ),
            (
                NetmapConfig::new("eth1", RxLayout::None, 0),
                "at least one queue",
            ),
            (NetmapConfig::new("eth1", RxLayout::Notices, 0), "AF_PACKET"),
            (NetmapConfig::new("eth1", RxLayout::Status, 0), "AF_PACKET"),
            (
                NetmapConfig::new("eth1", RxLayout::Fanout(5000), 0),
                "at most 4096",
            ),
        ];
        for (config, expected) in cases {
            let err = NetmapPort::open("p", &config).err().unwrap();
            assert!(matches!(err, NetmapError::Config { .. }), "{err:?}");
            assert!(err.to_string().contains(expected), "{err}");
        }
    }

    #[test]
    fn receive_copies_frames_in_order_and_hands_the_slots_back() {
        let mut kernel = Kernel::new();
        let mut q = rx(&kernel, 1, Filter::DasQueue(1));
        let mut bufs = pool();
        let mut batch = Batch::with_capacity(4).unwrap();
        assert_eq!(q.rx_burst(&mut batch, &mut bufs).unwrap(), RxOutcome::Idle);

        let frames: Vec<Vec<u8>> = (0..6).map(|i| das_frame(1, i)).collect();
        kernel.deliver(1, &frames.iter().map(|f| vec![&f[..]]).collect::<Vec<_>>());
        assert_eq!(q.depth(), Some(6));
        assert_eq!(
            q.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Received(4)
        );
        assert_eq!(q.ring.head(), 4, "the slots read are handed back");
        let got: Vec<Vec<u8>> = batch.drain().map(|p| p.data().to_vec()).collect();
        assert_eq!(got, frames[..4]);
        assert_eq!(
            q.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Received(2)
        );
        assert_eq!(batch.as_slice()[1].data(), &frames[5][..]);
        batch.free_into(&mut bufs);

        // Around the end of the ring.
        let more: Vec<Vec<u8>> = (6..10).map(|i| das_frame(1, i)).collect();
        kernel.deliver(1, &more.iter().map(|f| vec![&f[..]]).collect::<Vec<_>>());
        assert_eq!(
            q.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Received(4)
        );
        assert_eq!(q.ring.head(), (6 + 4) % SLOTS);
        let stats = q.counters().snapshot();
        assert_eq!(stats.rx_packets, 10);
        assert_eq!(stats.rx_bytes, 10 * 64);
        assert!(stats.dropped.is_empty());
    }

    #[test]
    fn frames_the_queue_filter_refuses_are_counted_not_received() {
        let mut kernel = Kernel::new();
        let mut q = rx(&kernel, 0, Filter::DasQueue(0));
        let primary = das_frame(0, 1);
        let duplicate = das_frame(1, 2);
        let plain = [0xffu8; 60];
        kernel.deliver(
            0,
            &[vec![&primary[..]], vec![&duplicate[..]], vec![&plain[..]]],
        );
        let mut bufs = pool();
        let mut batch = Batch::with_capacity(8).unwrap();
        assert_eq!(
            q.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Received(1)
        );
        assert_eq!(batch.as_slice()[0].data(), &primary[..]);
        let stats = q.counters().snapshot();
        assert_eq!(stats.dropped.get("filtered"), Some(&2));
        assert_eq!(q.ring.head(), 3);
    }

    #[test]
    fn multi_slot_frames_are_dropped_whole_once_complete() {
        let mut kernel = Kernel::new();
        let mut q = rx(&kernel, 0, Filter::All);
        let a = das_frame(0, 1);
        let (x, y) = ([7u8; 100], [8u8; 100]);
        // A frame in two slots, then the first part of another.
        kernel.deliver(
            0,
            &[vec![&x[..], &y[..]], vec![&a[..]], vec![&x[..], &y[..]]],
        );
        // Pretend the last part has not arrived: the tail stops before it.
        kernel.poke_ring(0, Dir::Rx, |r| r.tail -= 1);
        let mut bufs = pool();
        let mut batch = Batch::with_capacity(8).unwrap();
        assert_eq!(
            q.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Received(1)
        );
        assert_eq!(q.ring.head(), 3, "the incomplete frame waits");
        kernel.poke_ring(0, Dir::Rx, |r| r.tail += 1);
        assert_eq!(q.rx_burst(&mut batch, &mut bufs).unwrap(), RxOutcome::Idle);
        assert_eq!(q.ring.head(), 5);
        assert_eq!(q.counters().snapshot().dropped.get("oversize"), Some(&2));
    }

    #[test]
    fn transmit_fills_free_slots_and_waits_when_the_ring_is_full() {
        let mut kernel = Kernel::new();
        let counters = Arc::default();
        let mut q = NetmapTx::new("p", 1, kernel.bind(1, Dir::Tx).unwrap(), &counters);
        let mut bufs = pool();
        let mut batch = Batch::with_capacity(32).unwrap();
        let frames: Vec<Vec<u8>> = (0..10).map(|i| das_frame(0, i)).collect();
        for f in &frames {
            batch.push(bufs.alloc_from(f).unwrap()).unwrap();
        }
        // A ring of 8 slots holds 7 frames in flight.
        assert_eq!(
            q.tx_burst(&mut batch, &mut bufs).unwrap(),
            SLOTS as usize - 1
        );
        assert_eq!(
            q.tx_burst(&mut batch, &mut bufs).unwrap(),
            0,
            "full: backpressure"
        );
        assert_eq!(batch.len(), 3);
        assert_eq!(kernel.sent(1), frames[..7]);
        assert_eq!(q.tx_burst(&mut batch, &mut bufs).unwrap(), 3);
        assert_eq!(kernel.sent(1), frames[7..]);
        let stats = counters.snapshot();
        assert_eq!(stats.tx_packets, 10);
        assert_eq!(stats.tx_bytes, 640);
    }

    #[test]
    fn frames_larger_than_a_buffer_are_dropped_on_transmit() {
        let mut kernel = Kernel::new();
        let counters = Arc::default();
        let mut q = NetmapTx::new("p", 0, kernel.bind(0, Dir::Tx).unwrap(), &counters);
        let mut bufs = pool();
        let mut batch = Batch::with_capacity(4).unwrap();
        let big = vec![1u8; BUF_SIZE as usize + 1];
        let small = das_frame(0, 3);
        batch.push(bufs.alloc_from(&big).unwrap()).unwrap();
        batch.push(bufs.alloc_from(&small).unwrap()).unwrap();
        assert_eq!(q.tx_burst(&mut batch, &mut bufs).unwrap(), 2);
        assert_eq!(kernel.sent(0), vec![small]);
        let stats = counters.snapshot();
        assert_eq!(stats.tx_packets, 2);
        assert_eq!(stats.dropped.get("oversize"), Some(&1));
    }
}
