//! [`AfXdpPort`]: a das port on AF_XDP sockets, one per logical queue, fed by the
//! `das_steer` XDP program.

use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};

use aya::maps::{Array, XskMap};
use aya::programs::Xdp;
use aya::{Ebpf, EbpfError};

use dataplane::batch::Batch;
use dataplane::buf::BufCache;
use dataplane::counters::DropReason;
use dataplane::port::{Port, PortError, PortQueues, QueueCounters, RxOutcome, RxQueue, TxQueue};

use crate::error::AfXdpError;
use crate::xsk::{ConsRing, Desc, ProdRing, Umem, XskSocket, XskStats, if_index};

/// The XDP program, compiled from `bpf/steer.bpf.c` by the build script.
static PROGRAM: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/steer.bpf.o"));

/// Keys of the program's socket map (`das_xsks`): device queue id × logical queues +
/// logical queue must stay below this.
pub const MAX_SOCKETS: u32 = 1024;

/// How often (in bursts) a busy queue reads its socket's kernel counters; an idle queue
/// reads them at most once per [`STATS_IDLE_NS`].
const STATS_EVERY: u32 = 256;
/// Least time between two reads of the kernel counters by an idle queue.
const STATS_IDLE_NS: u64 = 1_000_000;

/// Where the XDP program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XdpMode {
    /// Generic XDP, after the kernel has built a socket buffer: works on every interface,
    /// one device queue on veth.
    Skb,
    /// Native XDP in the driver: faster, and on veth the only mode with several queues.
    #[default]
    Driver,
}

impl XdpMode {
    fn aya(self) -> aya::programs::XdpMode {
        match self {
            XdpMode::Skb => aya::programs::XdpMode::Skb,
            XdpMode::Driver => aya::programs::XdpMode::Driver,
        }
    }
}

impl std::fmt::Display for XdpMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            XdpMode::Skb => "skb",
            XdpMode::Driver => "driver",
        })
    }
}

/// Settings of an [`AfXdpPort`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfXdpConfig {
    /// Interface to open, in the caller's network namespace.
    pub interface: String,
    /// Device queues to serve (each gets its own UMEM and sockets).
    pub device_queues: Vec<u32>,
    /// Logical rx queues per device queue. With steering, a das frame whose outer
    /// destination MAC ends in `q` goes to logical queue `q`; without, this must be 1.
    pub logical_queues: u32,
    /// Steer das frames by the last byte of their outer destination MAC and pass every
    /// other frame to the kernel; off: every frame of the device queue to logical queue 0.
    pub steering: bool,
    /// Where the XDP program runs.
    pub mode: XdpMode,
    /// Bind in zero-copy mode (NICs whose driver supports it; veth does not).
    pub zero_copy: bool,
    /// Entries of each rx and tx ring (a power of two).
    pub ring_size: u32,
    /// Bytes of each UMEM frame: 2048 or 4096 (frames longer than this minus the
    /// kernel's headroom are dropped).
    pub frame_size: u32,
}

impl AfXdpConfig {
    /// Defaults for `interface`: device queue 0, two logical queues (primaries and
    /// duplicates) with steering, driver mode, copy mode, 2048-entry rings, 2048-byte frames.
    pub fn new(interface: &str) -> Self {
        AfXdpConfig {
            interface: interface.to_string(),
            device_queues: vec![0],
            logical_queues: 2,
            steering: true,
            mode: XdpMode::Driver,
            zero_copy: false,
            ring_size: 2048,
            frame_size: 2048,
        }
    }

    fn validate(&self) -> Result<(), AfXdpError> {
        let bad = |reason: String| AfXdpError::Config {
            interface: self.interface.clone(),
            reason,
        };
        if self.device_queues.is_empty() {
            return Err(bad("no device queue".into()));
        }
        let mut queues = self.device_queues.clone();
        queues.sort_unstable();
        queues.dedup();
        if queues.len() != self.device_queues.len() {
            return Err(bad("a device queue is listed twice".into()));
        }
        if self.logical_queues == 0 || self.logical_queues > 256 {
            return Err(bad(format!(
                "{} logical queues (1 to 256)",
                self.logical_queues
            )));
        }
        if !self.steering && self.logical_queues != 1 {
            return Err(bad("without steering there is one logical queue".into()));
        }
        let top = u64::from(queues[queues.len() - 1]);
        if (top + 1) * u64::from(self.logical_queues) > u64::from(MAX_SOCKETS) {
            return Err(bad(format!(
                "device queue {top} × {} logical queues exceeds the program's {MAX_SOCKETS} sockets",
                self.logical_queues
            )));
        }
        if !self.ring_size.is_power_of_two() || !(64..=16384).contains(&self.ring_size) {
            return Err(bad(format!(
                "ring size {} (a power of two, 64 to 16384)",
                self.ring_size
            )));
        }
        if self.frame_size != 2048 && self.frame_size != 4096 {
            return Err(bad(format!(
                "frame size {} (2048 or 4096)",
                self.frame_size
            )));
        }
        Ok(())
    }
}

/// The rings of a UMEM shared by the sockets of one device queue, and its free tx frames.
struct Shared {
    fill: ProdRing<u64>,
    comp: ConsRing<u64>,
    free_tx: Vec<u64>,
}

/// What the queues of one device queue share.
struct Group {
    umem: Umem,
    shared: Mutex<Shared>,
    /// The group's sockets, by logical queue: the first registered the UMEM.
    sockets: Vec<Arc<XskSocket>>,
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A poisoned lock means a queue thread panicked mid-burst; the rings themselves
        // are consistent (indices move only after entries are written), so carry on.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A das port on AF_XDP.
///
/// Rx queue `g × logical_queues + q` receives the frames the XDP program steers to
/// logical queue `q` of the `g`-th device queue of [`AfXdpConfig::device_queues`]; tx
/// queue `i` sends on the same socket. Dropping the port detaches and unloads the XDP
/// program; each socket closes when the last of the port and its queues is dropped.
pub struct AfXdpPort {
    // Held for its drop, which detaches and unloads the program. Declared first so
    // that it is dropped first: the program stops steering before any socket closes.
    _program: Ebpf,
    queues: PortQueues,
    config: AfXdpConfig,
}

impl std::fmt::Debug for AfXdpPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfXdpPort")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn privileged(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES))
}

impl AfXdpPort {
    /// Opens the port: loads the XDP program, makes the UMEMs and sockets, binds them and
    /// attaches the program to the interface. Everything made so far is undone on error.
    pub fn open(config: AfXdpConfig) -> Result<AfXdpPort, AfXdpError> {
        config.validate()?;
        let iface = config.interface.clone();
        let ifindex = if_index(&iface).ok_or_else(|| AfXdpError::NoSuchInterface(iface.clone()))?;
        let io = |context: &'static str| {
            let iface = iface.clone();
            move |source: std::io::Error| {
                if privileged(&source) {
                    AfXdpError::NoPrivileges {
                        interface: iface.clone(),
                        context,
                        source,
                    }
                } else {
                    AfXdpError::Io {
                        interface: iface.clone(),
                        context,
                        source,
                    }
                }
            }
        };
        let load_err = |reason: String| AfXdpError::ProgramLoad {
            interface: iface.clone(),
            reason,
        };

        let mut ebpf = Ebpf::load(PROGRAM).map_err(|e| match &e {
            EbpfError::MapError(aya::maps::MapError::CreateError { io_error, .. })
                if privileged(io_error) =>
            {
                AfXdpError::NoPrivileges {
                    interface: iface.clone(),
                    context: "creating the XDP program's maps",
                    source: std::io::Error::from_raw_os_error(
                        io_error.raw_os_error().unwrap_or(libc::EPERM),
                    ),
                }
            }
            _ => load_err(format!("{e}")),
        })?;
        {
            let prog: &mut Xdp = ebpf
                .program_mut("das_steer")
                .ok_or_else(|| load_err("no das_steer program in the object".into()))?
                .try_into()
                .map_err(|e| load_err(format!("{e}")))?;
            prog.load().map_err(|e| load_err(format!("{e}")))?;
        }
        {
            let mut cfg: Array<_, u32> = ebpf
                .map_mut("das_cfg")
                .ok_or_else(|| load_err("no das_cfg map".into()))?
                .try_into()
                .map_err(|e| load_err(format!("{e}")))?;
            cfg.set(0, config.logical_queues, 0)
                .and_then(|()| cfg.set(1, u32::from(config.steering), 0))
                .map_err(|e| load_err(format!("das_cfg: {e}")))?;
        }

        let lq = config.logical_queues;
        let ring = config.ring_size;
        let bind_flags = libc::XDP_USE_NEED_WAKEUP
            | if config.zero_copy {
                libc::XDP_ZEROCOPY
            } else {
                libc::XDP_COPY
            };
        let mut rx: Vec<Box<dyn RxQueue>> = Vec::new();
        let mut tx: Vec<Box<dyn TxQueue>> = Vec::new();
        let mut counters = Vec::new();
        for &queue_id in &config.device_queues {
            // Rx frames: twice what the rx rings hold, so that a slow reader fills its
            // ring before the fill ring runs dry; tx frames: one tx ring's worth per socket.
            let rx_frames = (2 * ring * lq).next_power_of_two();
            let tx_frames = ring * lq;
            let umem = Umem::new(rx_frames + tx_frames, config.frame_size)
                .map_err(io("allocating the UMEM"))?;
            let mut sockets = Vec::new();
            let mut rings = Vec::new();
            let mut umem_rings = None;
            for q in 0..lq {
                let sock = XskSocket::new().map_err(io("creating an AF_XDP socket"))?;
                if q == 0 {
                    sock.register_umem(&umem)
                        .map_err(io("registering the UMEM"))?;
                    umem_rings = Some(
                        sock.umem_rings(rx_frames, tx_frames.next_power_of_two())
                            .map_err(io("mapping the fill and completion rings"))?,
                    );
                }
                rings.push(
                    sock.rings(ring, ring)
                        .map_err(io("mapping the rx and tx rings"))?,
                );
                let (flags, shared) = match sockets.first() {
                    None => (bind_flags, None),
                    Some(first) => (libc::XDP_SHARED_UMEM, Some(first)),
                };
                sock.bind(
                    ifindex,
                    queue_id,
                    flags,
                    shared.map(|s: &Arc<XskSocket>| &**s),
                )
                .map_err(|source| AfXdpError::BindRefused {
                    interface: iface.clone(),
                    queue: queue_id,
                    source,
                })?;
                sockets.push(Arc::new(sock));
            }
            let Some((mut fill, comp)) = umem_rings else {
                return Err(load_err("no socket made for a device queue".into()));
            };
            // Every rx frame goes to the kernel up front.
            let n = fill.free(rx_frames);
            for i in 0..n {
                fill.write(i, u64::from(i) * u64::from(config.frame_size));
            }
            fill.submit(n);
            let free_tx = (rx_frames..rx_frames + tx_frames)
                .map(|f| u64::from(f) * u64::from(config.frame_size))
                .collect();
            let group = Arc::new(Group {
                umem,
                shared: Mutex::new(Shared {
                    fill,
                    comp,
                    free_tx,
                }),
                sockets: sockets.clone(),
            });
            {
                let mut xsks: XskMap<_> = ebpf
                    .map_mut("das_xsks")
                    .ok_or_else(|| load_err("no das_xsks map".into()))?
                    .try_into()
                    .map_err(|e| load_err(format!("{e}")))?;
                for (q, sock) in sockets.iter().enumerate() {
                    xsks.set(queue_id * lq + q as u32, sock.as_raw_fd(), 0)
                        .map_err(|e| load_err(format!("das_xsks: {e}")))?;
                }
            }
            for (q, (sock, (rx_ring, tx_ring))) in sockets.into_iter().zip(rings).enumerate() {
                let c = Arc::new(QueueCounters::default());
                counters.push(c.clone());
                rx.push(Box::new(AfXdpRxQueue {
                    group: group.clone(),
                    sock: sock.clone(),
                    rx: rx_ring,
                    reads_group_stats: q == 0,
                    addrs: Vec::with_capacity(ring as usize),
                    seen: XskStats::default(),
                    bursts: 0,
                    last_stats_ns: 0,
                    counters: c.clone(),
                }));
                tx.push(Box::new(AfXdpTxQueue {
                    group: group.clone(),
                    sock,
                    tx: tx_ring,
                    frames: Vec::with_capacity(ring as usize),
                    frame_size: config.frame_size,
                    seen_invalid: 0,
                    bursts: 0,
                    counters: c,
                }));
            }
        }

        {
            let prog: &mut Xdp = ebpf
                .program_mut("das_steer")
                .ok_or_else(|| load_err("no das_steer program in the object".into()))?
                .try_into()
                .map_err(|e| load_err(format!("{e}")))?;
            prog.attach_to_if_index(ifindex, config.mode.aya())
                .map_err(|e| AfXdpError::AttachRefused {
                    interface: iface.clone(),
                    mode: config.mode,
                    reason: error_chain(&e),
                })?;
        }
        let name = format!("afxdp:{iface}");
        Ok(AfXdpPort {
            _program: ebpf,
            queues: PortQueues::new(&name, rx, tx, counters),
            config,
        })
    }

    /// The settings the port was opened with.
    pub fn config(&self) -> &AfXdpConfig {
        &self.config
    }
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

impl Port for AfXdpPort {
    fn queues(&self) -> &PortQueues {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut PortQueues {
        &mut self.queues
    }
}

fn stats_err(source: std::io::Error) -> PortError {
    PortError::Io {
        port: "afxdp".into(),
        context: "reading XDP_STATISTICS".into(),
        source,
    }
}

/// Adds to `counters` what a kernel counter grew by since `seen`, under `reason`.
fn count_growth(counters: &QueueCounters, reason: DropReason, seen: &mut u64, now: u64) {
    if now > *seen {
        counters.count_drop(reason, now - *seen);
    }
    *seen = now;
}

/// The receive side of one logical queue.
struct AfXdpRxQueue {
    group: Arc<Group>,
    sock: Arc<XskSocket>,
    rx: ConsRing<Desc>,
    /// Whether this queue reports the counters the kernel keeps per UMEM (the first
    /// queue of its group).
    reads_group_stats: bool,
    addrs: Vec<u64>,
    seen: XskStats,
    bursts: u32,
    last_stats_ns: u64,
    counters: Arc<QueueCounters>,
}

impl AfXdpRxQueue {
    /// Counts what the kernel dropped since the last call, by reason.
    fn read_stats(&mut self) -> Result<(), PortError> {
        let now = self.sock.stats().map_err(stats_err)?;
        let c = &self.counters;
        count_growth(
            c,
            DropReason::RingFull,
            &mut self.seen.rx_ring_full,
            now.rx_ring_full,
        );
        if self.reads_group_stats {
            // The kernel counts per UMEM and device queue how often the fill ring was
            // empty (every socket of the group reports the same count), and counts each
            // frame so lost in the rx_dropped of the socket it was meant for as well. The
            // group's first queue reports both for the group: fill-ring drops, and the
            // rest of rx_dropped (frames too long for a frame) over all its sockets.
            let mut fill = 0;
            let mut dropped = 0;
            for (i, sock) in self.group.sockets.iter().enumerate() {
                let s = if i == 0 {
                    now
                } else {
                    sock.stats().map_err(stats_err)?
                };
                fill = s.rx_fill_ring_empty_descs;
                dropped += s.rx_dropped;
            }
            count_growth(
                c,
                DropReason::XskFillRingEmpty,
                &mut self.seen.rx_fill_ring_empty_descs,
                fill,
            );
            count_growth(
                c,
                DropReason::XskRxDropped,
                &mut self.seen.rx_dropped,
                dropped.saturating_sub(fill),
            );
        }
        self.last_stats_ns = dataplane::clock::monotonic_ns();
        Ok(())
    }
}

impl RxQueue for AfXdpRxQueue {
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError> {
        let n = self.rx.available(batch.room() as u32);
        if n == 0 {
            if dataplane::clock::monotonic_ns().saturating_sub(self.last_stats_ns) >= STATS_IDLE_NS
            {
                self.read_stats()?;
            }
            return Ok(RxOutcome::Idle);
        }
        let now = dataplane::clock::now_ns();
        let mask = !(u64::from(self.group.umem.frame_size()) - 1);
        let mut bytes = 0u64;
        let mut received = 0usize;
        self.addrs.clear();
        for i in 0..n {
            let desc = self.rx.read(i);
            let frame = self.group.umem.frame(desc.addr, desc.len);
            match bufs.alloc_from(frame) {
                Ok(mut buf) => {
                    buf.set_timestamp_ns(now);
                    bytes += frame.len() as u64;
                    received += 1;
                    // room() bounded n, so the batch has space.
                    if let Err(buf) = batch.push(buf) {
                        bufs.free(buf);
                    }
                }
                Err(_) => self.counters.count_drop(DropReason::Oversize, 1),
            }
            self.addrs.push(desc.addr & mask);
        }
        self.rx.release(n);
        let wake = {
            let mut shared = self.group.lock();
            // The fill ring holds every rx frame, so it has room for these.
            let room = shared.fill.free(n).min(n);
            for (i, &addr) in self.addrs.iter().take(room as usize).enumerate() {
                shared.fill.write(i as u32, addr);
            }
            shared.fill.submit(room);
            shared.fill.needs_wakeup()
        };
        if wake {
            // Transient errors (EAGAIN, EBUSY) only mean the kernel is busy.
            let _ = self.sock.kick_rx();
        }
        self.counters.count_rx(received, bytes);
        self.bursts = self.bursts.wrapping_add(1);
        if self.bursts.is_multiple_of(STATS_EVERY) {
            self.read_stats()?;
        }
        Ok(RxOutcome::Received(received))
    }

    fn depth(&self) -> Option<usize> {
        Some(self.rx.depth() as usize)
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}

/// The transmit side of one logical queue.
struct AfXdpTxQueue {
    group: Arc<Group>,
    sock: Arc<XskSocket>,
    tx: ProdRing<Desc>,
    /// Free tx frames held by this queue.
    frames: Vec<u64>,
    frame_size: u32,
    seen_invalid: u64,
    bursts: u32,
    counters: Arc<QueueCounters>,
}

impl AfXdpTxQueue {
    /// Refills the local frame cache from the completion ring and the group's free list.
    fn take_frames(&mut self, want: usize) {
        let mut shared = self.group.lock();
        let n = shared.comp.available(u32::MAX);
        for i in 0..n {
            let addr = shared.comp.read(i);
            shared.free_tx.push(addr);
        }
        shared.comp.release(n);
        let take = want
            .saturating_sub(self.frames.len())
            .min(shared.free_tx.len());
        let from = shared.free_tx.len() - take;
        self.frames.extend(shared.free_tx.drain(from..));
    }

    /// Kicks the kernel until the tx ring is empty or it reports it is busy, at most
    /// `max` times.
    fn kick(&mut self, max: u32) -> Result<(), PortError> {
        for _ in 0..max {
            if self.tx.pending() == 0 {
                return Ok(());
            }
            match self.sock.kick_tx() {
                Ok(()) => {}
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN | libc::EINTR) => {}
                    Some(libc::EBUSY | libc::ENOBUFS) => return Ok(()),
                    _ => {
                        return Err(PortError::Io {
                            port: "afxdp".into(),
                            context: "sendto (tx kick)".into(),
                            source: e,
                        });
                    }
                },
            }
        }
        Ok(())
    }

    fn read_stats(&mut self) -> Result<(), PortError> {
        let now = self.sock.stats().map_err(stats_err)?;
        count_growth(
            &self.counters,
            DropReason::XskTxInvalid,
            &mut self.seen_invalid,
            now.tx_invalid_descs,
        );
        Ok(())
    }
}

impl TxQueue for AfXdpTxQueue {
    fn tx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<usize, PortError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let want = batch.len();
        if self.frames.len() < want {
            self.take_frames(want);
        }
        let slots = self.tx.free(want as u32) as usize;
        let take = want.min(slots).min(self.frames.len());
        let mut written = 0u32;
        let mut bytes = 0u64;
        for pkt in batch.drain_front(take) {
            let len = pkt.len();
            if len > self.frame_size as usize {
                self.counters.count_drop(DropReason::Oversize, 1);
            } else if let Some(addr) = self.frames.pop() {
                self.group
                    .umem
                    .frame_mut(addr, len as u32)
                    .copy_from_slice(pkt.data());
                self.tx.write(
                    written,
                    Desc {
                        addr,
                        len: len as u32,
                        options: 0,
                    },
                );
                written += 1;
                bytes += len as u64;
            }
            bufs.free(pkt);
        }
        self.tx.submit(written);
        self.counters.count_tx(take, bytes);
        // Copy mode sends a bounded number of frames per system call.
        self.kick(written / 16 + 2)?;
        self.bursts = self.bursts.wrapping_add(1);
        if self.bursts.is_multiple_of(STATS_EVERY) {
            self.read_stats()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> Result<(), PortError> {
        let deadline = dataplane::clock::monotonic_ns() + 100_000_000;
        while self.tx.pending() > 0 && dataplane::clock::monotonic_ns() < deadline {
            self.kick(64)?;
            if self.tx.pending() > 0 {
                std::thread::yield_now();
            }
        }
        self.read_stats()
    }

    fn depth(&self) -> Option<usize> {
        Some(self.tx.pending() as usize)
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}
