//! DPDK ethdev ports behind das's [`Port`] traits.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crossbeam_queue::ArrayQueue;
use dataplane::batch::{Batch, MAX_BATCH};
use dataplane::buf::{BufCache, PacketBuf};
use dataplane::clock::now_ns;
use dataplane::counters::DropReason;
use dataplane::doorbell::Doorbell;
use dataplane::dpdk_config::{FlowRules, PortConfig};
use dataplane::port::{Port, PortError, PortQueues, QueueCounters, RxOutcome, RxQueue, TxQueue};

use crate::af_packet::KernelRings;
use crate::eal::Eal;
use crate::error::DpdkError;
use crate::{ffi, flow};

/// Ethernet header, one VLAN tag and the frame check sequence: what a frame adds to
/// the MTU.
const FRAME_OVERHEAD: u32 = 14 + 4 + 4;

/// The Ethernet header and CRC, which ethdev adds to the MTU of a device that does not
/// say otherwise.
const ETHER_HEADER_AND_CRC: u32 = 14 + 4;

/// Port ids open in this process.
static OPEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// How a port's receive queues are chosen for each frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Steering {
    /// No steering rules: receive queue `q` is the device's queue `q`, filled by the
    /// device (RSS on NICs, the sender's queue on `net_ring`).
    Device,
    /// The port's rules run in the device as rte_flow rules.
    RteFlow {
        /// Rules installed.
        rules: usize,
    },
    /// The device has no usable rte_flow, or receives on more queues than the port
    /// has: each receive call polls the device's queues and hands every frame to the
    /// receive queue the rules choose ([`FlowRules::queue_for`]; frames no rule
    /// matches stay on the queue they arrived on, or on the port's last queue when the
    /// device has more).
    Software {
        /// Why the device could not steer, in DPDK's words or ours.
        reason: String,
    },
}

impl Steering {
    /// Whether the rules run in software.
    pub fn is_software(&self) -> bool {
        matches!(self, Steering::Software { .. })
    }
}

/// Device-level drop counters that no queue accounts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceDrop {
    /// Frames the device dropped because a receive ring was full (`imissed`; on
    /// `net_af_packet`, the kernel's drops at its sockets' rings, which DPDK does not
    /// count).
    RxMissed,
    /// Frames the device dropped for want of an mbuf to receive into (`rx_nombuf`).
    RxNoMbuf,
    /// Erroneous frames received (`ierrors`: bad CRC, runts, ...).
    RxErrors,
    /// Frames the device failed to send (`oerrors`).
    TxErrors,
}

impl DeviceDrop {
    /// Every reason, in a fixed order.
    pub const ALL: [DeviceDrop; 4] = [
        DeviceDrop::RxMissed,
        DeviceDrop::RxNoMbuf,
        DeviceDrop::RxErrors,
        DeviceDrop::TxErrors,
    ];

    /// The reason's name in reports (snake case).
    pub fn name(self) -> &'static str {
        match self {
            DeviceDrop::RxMissed => "rx_missed",
            DeviceDrop::RxNoMbuf => "rx_no_mbuf",
            DeviceDrop::RxErrors => "rx_errors",
            DeviceDrop::TxErrors => "tx_errors",
        }
    }
}

/// The device's own counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames dropped because a receive ring was full (on `net_af_packet`, the
    /// kernel's drops at its sockets' rings).
    pub rx_missed: u64,
    /// Frames dropped for want of an mbuf.
    pub rx_no_mbuf: u64,
    /// Erroneous frames received.
    pub rx_errors: u64,
    /// Frames the device failed to send.
    pub tx_errors: u64,
}

impl DeviceStats {
    /// The device's drops, by reason.
    pub fn drops(&self) -> [(DeviceDrop, u64); 4] {
        DeviceDrop::ALL.map(|r| (r, self.dropped(r)))
    }

    /// Drops for one reason.
    pub fn dropped(&self, reason: DeviceDrop) -> u64 {
        match reason {
            DeviceDrop::RxMissed => self.rx_missed,
            DeviceDrop::RxNoMbuf => self.rx_no_mbuf,
            DeviceDrop::RxErrors => self.rx_errors,
            DeviceDrop::TxErrors => self.tx_errors,
        }
    }
}

/// An ethdev port opened from a [`PortConfig`]: the device configured with the
/// port's queues, its own mbuf pool, started, in promiscuous mode (das addresses its
/// frames to the `02:44:41:53:...` MACs of docs/METADATA.md), with its steering rules
/// installed in the device or run in software.
///
/// Receive copies every frame into a buffer of the caller's [`BufCache`] and frees its
/// mbuf at once, so mbufs never leave the port; transmit copies each frame into a fresh
/// mbuf. Frames longer than an mbuf holds (the port's MTU plus headers) are dropped
/// and counted as `malformed`. The device is stopped and closed when the port and
/// every queue taken from it are gone; a closed virtual device cannot be opened again
/// in the same process.
pub struct DpdkPort {
    queues: PortQueues,
    device: Arc<Device>,
    steering: Steering,
}

impl std::fmt::Debug for DpdkPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpdkPort")
            .field("name", &self.device.name)
            .field("device", &self.device.device)
            .field("port_id", &self.device.port_id)
            .field("steering", &self.steering)
            .finish()
    }
}

impl DpdkPort {
    /// Opens the port `config` describes. `rules`, when given, are the steering rules
    /// of this port (`flow-rules.toml` when its `port` is this port's name).
    pub fn open(
        eal: &Eal,
        config: &PortConfig,
        rules: Option<&FlowRules>,
    ) -> Result<DpdkPort, DpdkError> {
        let name = config.name.clone();
        let device_name = config.device.to_string();
        let config_err = |reason: String| DpdkError::Config {
            port: name.clone(),
            reason,
        };
        if let Some(rules) = rules {
            if rules.port != config.name {
                return Err(config_err(format!(
                    "the steering rules given are those of port `{}`",
                    rules.port
                )));
            }
            if let Some(rule) = rules.rules.iter().find(|r| r.queue >= config.rx_queues) {
                return Err(config_err(format!(
                    "rule `{}` steers to receive queue {}, but the port has {}",
                    rule.name, rule.queue, config.rx_queues
                )));
            }
        }
        if config.rx_queues == 0 || config.tx_queues == 0 {
            return Err(config_err(
                "a port needs at least one receive and one transmit queue".into(),
            ));
        }

        let c_name = CString::new(device_name.as_str())
            .map_err(|_| config_err(format!("device name `{device_name}` holds a NUL byte")))?;
        let mut port_id = 0u16;
        // SAFETY: c_name is NUL-terminated; port_id is a valid out-parameter.
        let rc = unsafe { ffi::rte_eth_dev_get_port_by_name(c_name.as_ptr(), &mut port_id) };
        let listed = |arg: &String| {
            arg.strip_prefix("--vdev=")
                .is_some_and(|v| v.split(',').next() == Some(device_name.as_str()))
        };
        if rc != 0 && eal.args().iter().any(listed) {
            return Err(DpdkError::DeviceNotCreated {
                port: name,
                device: device_name,
            });
        }
        if rc != 0 {
            return Err(DpdkError::UnknownDevice {
                port: name,
                device: device_name,
                available: eal.devices().into_iter().map(|d| d.name).collect(),
            });
        }
        {
            let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
            if open.contains(&port_id) {
                return Err(DpdkError::DeviceInUse {
                    port: name,
                    device: device_name,
                });
            }
            open.push(port_id);
        }
        // From here on, dropping `device` stops and closes the port on any error.
        let mut device = Device {
            name: name.clone(),
            device: device_name,
            port_id,
            pool: std::ptr::null_mut(),
            mbuf_room: 0,
            rss_key: Box::new(config.rss_key.bytes()),
            flows: false,
            device_rx_queues: config.rx_queues,
            kernel_rings: None,
        };
        let steering = device.configure(config, rules)?;
        let device = Arc::new(device);

        let n_queues = usize::from(config.rx_queues.max(config.tx_queues));
        let counters: Vec<Arc<QueueCounters>> = (0..n_queues)
            .map(|_| Arc::new(QueueCounters::default()))
            .collect();
        let rx: Vec<Box<dyn RxQueue>> = match &steering {
            Steering::Software { .. } => {
                let demux = Arc::new(Demux {
                    device: device.clone(),
                    rules: rules.cloned().unwrap_or_else(|| FlowRules {
                        port: name.clone(),
                        rules: Vec::new(),
                    }),
                    inboxes: (0..config.rx_queues)
                        .map(|_| ArrayQueue::new(usize::from(config.rx_descriptors.max(1))))
                        .collect(),
                    polling: (0..device.device_rx_queues)
                        .map(|_| AtomicBool::new(false))
                        .collect(),
                    bells: (0..config.rx_queues).map(|_| OnceLock::new()).collect(),
                    counters: counters.clone(),
                });
                (0..usize::from(config.rx_queues))
                    .map(|q| {
                        Box::new(SoftwareRx {
                            demux: demux.clone(),
                            queue: q,
                            mbufs: MbufArray::new(),
                        }) as Box<dyn RxQueue>
                    })
                    .collect()
            }
            Steering::Device | Steering::RteFlow { .. } => (0..config.rx_queues)
                .map(|q| {
                    Box::new(DeviceRx {
                        device: device.clone(),
                        queue: q,
                        counters: counters[usize::from(q)].clone(),
                        mbufs: MbufArray::new(),
                    }) as Box<dyn RxQueue>
                })
                .collect(),
        };
        let tx: Vec<Box<dyn TxQueue>> = (0..config.tx_queues)
            .map(|q| {
                Box::new(DeviceTx {
                    device: device.clone(),
                    queue: q,
                    counters: counters[usize::from(q)].clone(),
                    mbufs: MbufArray::new(),
                    link_was_up: false,
                }) as Box<dyn TxQueue>
            })
            .collect();
        Ok(DpdkPort {
            queues: PortQueues::new(&name, rx, tx, counters),
            device,
            steering,
        })
    }

    /// How frames are steered to the receive queues.
    pub fn steering(&self) -> &Steering {
        &self.steering
    }

    /// DPDK's port id.
    pub fn port_id(&self) -> u16 {
        self.device.port_id
    }

    /// The device's name (`net_ring0`, `0000:03:00.0`).
    pub fn device_name(&self) -> &str {
        &self.device.device
    }

    /// Whether the device's link is up: on a NIC, a cable and a peer that answers; on
    /// `net_memif`, a peer process connected over the socket.
    pub fn link_up(&self) -> bool {
        self.device.link_up()
    }

    /// The device's own counters, drops by reason included.
    pub fn device_stats(&self) -> Result<DeviceStats, DpdkError> {
        let mut stats = ffi::rte_eth_stats::default();
        // SAFETY: the port is configured and `stats` is a valid out-parameter.
        let rc = unsafe { ffi::rte_eth_stats_get(self.device.port_id, &mut stats) };
        if rc != 0 {
            return Err(self.device.call_error("rte_eth_stats_get", rc));
        }
        let kernel_drops = self
            .device
            .kernel_rings
            .as_ref()
            .map_or(0, KernelRings::dropped);
        Ok(DeviceStats {
            rx_packets: stats.ipackets,
            rx_bytes: stats.ibytes,
            tx_packets: stats.opackets,
            tx_bytes: stats.obytes,
            rx_missed: stats.imissed + kernel_drops,
            rx_no_mbuf: stats.rx_nombuf,
            rx_errors: stats.ierrors,
            tx_errors: stats.oerrors,
        })
    }
}

impl Port for DpdkPort {
    fn queues(&self) -> &PortQueues {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut PortQueues {
        &mut self.queues
    }
}

/// An opened device, shared by the port and its queues; the last of them to go stops
/// and closes it.
struct Device {
    name: String,
    device: String,
    port_id: u16,
    pool: *mut ffi::rte_mempool,
    /// Bytes of frame an mbuf of the pool holds.
    mbuf_room: usize,
    /// The RSS key, which drivers read when the port starts.
    rss_key: Box<[u8; 40]>,
    /// Whether rte_flow rules were installed.
    flows: bool,
    /// Receive queues set up on the device: the port's, or more when every queue of
    /// the device takes frames whatever the port uses (`net_af_packet`).
    device_rx_queues: u16,
    /// A `net_af_packet` device's sockets, whose ring drops DPDK does not count.
    kernel_rings: Option<KernelRings>,
}

// SAFETY: the mempool pointer is valid from configure() until drop; mempool get and
// put are thread-safe (multi-producer, multi-consumer), and each device queue is
// polled by one thread at a time (queues are taken once; software steering takes a
// queue's flag before polling it).
unsafe impl Send for Device {}
// SAFETY: as above; shared references only read the fields.
unsafe impl Sync for Device {}

impl Device {
    /// Whether the link is up, as the driver last saw it (no waiting).
    fn link_up(&self) -> bool {
        let mut link = ffi::rte_eth_link::default();
        // SAFETY: the port is configured and `link` is a valid out-parameter.
        let rc = unsafe { ffi::rte_eth_link_get_nowait(self.port_id, &mut link) };
        rc == 0 && link.link_status() != 0
    }

    fn call_error(&self, call: &'static str, rc: i32) -> DpdkError {
        DpdkError::Call {
            port: self.name.clone(),
            call,
            message: ffi::error_message(rc),
        }
    }

    /// Makes the pool, configures the queues, starts the device and installs `rules`.
    fn configure(
        &mut self,
        config: &PortConfig,
        rules: Option<&FlowRules>,
    ) -> Result<Steering, DpdkError> {
        let port_id = self.port_id;
        let mut info = ffi::rte_eth_dev_info::default();
        // SAFETY: `info` is a valid out-parameter.
        let rc = unsafe { ffi::rte_eth_dev_info_get(port_id, &mut info) };
        if rc != 0 {
            return Err(self.call_error("rte_eth_dev_info_get", rc));
        }
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: a driver name is a NUL-terminated string that lives as long as
            // the driver.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let af_packet = driver == "net_af_packet";
        if af_packet {
            // The driver opens one socket per queue pair, all in one fanout group: the
            // kernel spreads received frames over all of them, whatever the port sets
            // up. Every one is set up, and the port's receive queues poll them all.
            self.device_rx_queues = info.max_rx_queues.max(config.rx_queues);
        }
        if config.rx_queues > info.max_rx_queues || config.tx_queues > info.max_tx_queues {
            return Err(DpdkError::Config {
                port: self.name.clone(),
                reason: format!(
                    "{} rx and {} tx queues asked, device `{}` has at most {} rx and {} tx",
                    config.rx_queues,
                    config.tx_queues,
                    self.device,
                    info.max_rx_queues,
                    info.max_tx_queues
                ),
            });
        }
        // What ethdev adds to the MTU to check it against the longest frame.
        let overhead = if info.max_mtu != u16::MAX && info.max_rx_pktlen > u32::from(info.max_mtu) {
            info.max_rx_pktlen - u32::from(info.max_mtu)
        } else {
            ETHER_HEADER_AND_CRC
        };
        let max_mtu = u32::from(info.max_mtu).min(info.max_rx_pktlen.saturating_sub(overhead));
        if u32::from(config.mtu) > max_mtu {
            return Err(DpdkError::Config {
                port: self.name.clone(),
                reason: format!(
                    "MTU {} asked, device `{}` takes at most {max_mtu} (frames of {} bytes)",
                    config.mtu, self.device, info.max_rx_pktlen
                ),
            });
        }

        // SAFETY: plain query of a probed port.
        let socket = unsafe { ffi::rte_eth_dev_socket_id(port_id) };
        let frame_room = (u32::from(config.mtu) + FRAME_OVERHEAD).max(2048);
        let data_room = u16::try_from(ffi::RTE_PKTMBUF_HEADROOM + frame_room).map_err(|_| {
            DpdkError::Config {
                port: self.name.clone(),
                reason: format!("MTU {} does not fit in one mbuf", config.mtu),
            }
        })?;
        let pool_name = CString::new(format!("das_port{port_id}")).expect("no NUL byte");
        let cache = (config.mbufs / 16).min(256);
        // SAFETY: pool_name is NUL-terminated; the EAL runs.
        self.pool = unsafe {
            ffi::rte_pktmbuf_pool_create(
                pool_name.as_ptr(),
                config.mbufs,
                cache,
                0,
                data_room,
                socket,
            )
        };
        if self.pool.is_null() {
            return Err(DpdkError::Call {
                port: self.name.clone(),
                call: "rte_pktmbuf_pool_create",
                message: format!(
                    "{} mbufs of {data_room} bytes: {}: raise memory_mb in eal.toml or lower \
                     the port's mbufs",
                    config.mbufs,
                    ffi::error_message(ffi::last_errno())
                ),
            });
        }
        self.mbuf_room = frame_room as usize;

        let mut conf = ffi::rte_eth_conf::default();
        conf.rxmode.mtu = u32::from(config.mtu);
        if self.device_rx_queues > 1 && info.flow_type_rss_offloads != 0 {
            conf.rxmode.mq_mode = ffi::RTE_ETH_MQ_RX_RSS;
            let rss = &mut conf.rx_adv_conf.rss_conf;
            rss.rss_hf = info.flow_type_rss_offloads;
            // A device whose key has another length keeps its own key.
            if usize::from(info.hash_key_size) == self.rss_key.len() {
                rss.rss_key = self.rss_key.as_mut_ptr();
                rss.rss_key_len = self.rss_key.len() as u8;
            }
        }
        // SAFETY: `conf` is valid for the call, and the RSS key it points to lives as
        // long as the device.
        let rc = unsafe {
            ffi::rte_eth_dev_configure(port_id, self.device_rx_queues, config.tx_queues, &conf)
        };
        if rc != 0 {
            return Err(self.call_error("rte_eth_dev_configure", rc));
        }
        let (mut rx_desc, mut tx_desc) = (config.rx_descriptors, config.tx_descriptors);
        // SAFETY: valid out-parameters; the port is configured.
        let rc =
            unsafe { ffi::rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &mut rx_desc, &mut tx_desc) };
        if rc != 0 {
            return Err(self.call_error("rte_eth_dev_adjust_nb_rx_tx_desc", rc));
        }
        let socket = socket as u32; // SOCKET_ID_ANY (-1) becomes what the call expects
        for q in 0..self.device_rx_queues {
            // SAFETY: the port is configured with this queue; a null rxconf takes the
            // driver's defaults; the pool lives as long as the device.
            let rc = unsafe {
                ffi::rte_eth_rx_queue_setup(
                    port_id,
                    q,
                    rx_desc,
                    socket,
                    std::ptr::null(),
                    self.pool,
                )
            };
            if rc != 0 {
                return Err(self.call_error("rte_eth_rx_queue_setup", rc));
            }
        }
        for q in 0..config.tx_queues {
            // SAFETY: as above, without a pool.
            let rc = unsafe {
                ffi::rte_eth_tx_queue_setup(port_id, q, tx_desc, socket, std::ptr::null())
            };
            if rc != 0 {
                return Err(self.call_error("rte_eth_tx_queue_setup", rc));
            }
        }
        // SAFETY: every queue is set up.
        let rc = unsafe { ffi::rte_eth_dev_start(port_id) };
        if rc != 0 {
            let mut message = ffi::error_message(rc);
            if self.device.starts_with("net_memif") {
                message.push_str(
                    ": a net_memif client connects when it starts, so the process with the \
                     server end (role=server) must be running first, and both must name the \
                     same socket",
                );
            }
            return Err(DpdkError::Call {
                port: self.name.clone(),
                call: "rte_eth_dev_start",
                message,
            });
        }
        // Devices that cannot (virtual ones) receive everything anyway.
        // SAFETY: the port is started.
        unsafe { ffi::rte_eth_promiscuous_enable(port_id) };
        if af_packet {
            let rings = KernelRings::find(info.if_index);
            if rings.sockets() == 0 {
                eprintln!(
                    "das-dpdk: port {} ({}): its AF_PACKET sockets were not found: frames the \
                     kernel drops at their rings are not counted",
                    self.name, self.device
                );
            }
            self.kernel_rings = Some(rings);
        }

        let merged = (self.device_rx_queues > config.rx_queues).then(|| {
            format!(
                "{driver} receives on {} queues, one socket each in one fanout group, and the \
                 port has {}",
                self.device_rx_queues, config.rx_queues
            )
        });
        let Some(rules) = rules.filter(|r| !r.rules.is_empty()) else {
            return Ok(match merged {
                Some(reason) => Steering::Software { reason },
                None => Steering::Device,
            });
        };
        if let Some(reason) = merged {
            return Ok(Steering::Software { reason });
        }
        match flow::install(port_id, rules) {
            Ok(n) => {
                self.flows = true;
                Ok(Steering::RteFlow { rules: n })
            }
            Err(reason) => {
                eprintln!(
                    "das-dpdk: port {} ({}): no rte_flow ({reason}); steering its {} rules in \
                     software",
                    self.name,
                    self.device,
                    rules.rules.len()
                );
                Ok(Steering::Software { reason })
            }
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: no queue of the port exists any more (they hold this device), so
        // nothing polls it while it is stopped and closed; the pool is freed after the
        // device released every mbuf it held.
        unsafe {
            if self.flows {
                flow::flush(self.port_id);
            }
            ffi::rte_eth_dev_stop(self.port_id);
            ffi::rte_eth_dev_close(self.port_id);
            if !self.pool.is_null() {
                ffi::rte_mempool_free(self.pool);
            }
        }
        OPEN.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&id| id != self.port_id);
    }
}

/// Room for the mbuf pointers of one burst.
struct MbufArray(Box<[*mut ffi::rte_mbuf; MAX_BATCH]>);

// SAFETY: the array is scratch space: it holds no mbuf between two calls of the queue
// that owns it, so moving it to another thread moves nothing else.
unsafe impl Send for MbufArray {}

impl MbufArray {
    fn new() -> Self {
        MbufArray(Box::new([std::ptr::null_mut(); MAX_BATCH]))
    }
}

/// Copies the frame of the received mbuf `m` (all its segments) into a buffer from
/// `bufs`; `None` if the frame is too long for a buffer.
///
/// # Safety
/// `m` must be a valid mbuf chain owned by the caller.
unsafe fn copy_out(m: *const ffi::rte_mbuf, bufs: &mut BufCache) -> Option<PacketBuf> {
    // SAFETY: the caller guarantees `m` is a valid mbuf; its first data_len bytes from
    // buf_addr + data_off are the segment's data.
    unsafe {
        let seg = &*m;
        let first = std::slice::from_raw_parts(
            seg.buf_addr.cast::<u8>().add(usize::from(seg.data_off)),
            usize::from(seg.data_len),
        );
        if seg.next.is_null() {
            return bufs.alloc_from(first).ok();
        }
        let mut frame = Vec::with_capacity(seg.pkt_len as usize);
        let mut cur = m;
        while !cur.is_null() {
            let s = &*cur;
            frame.extend_from_slice(std::slice::from_raw_parts(
                s.buf_addr.cast::<u8>().add(usize::from(s.data_off)),
                usize::from(s.data_len),
            ));
            cur = s.next;
        }
        bufs.alloc_from(&frame).ok()
    }
}

/// Receives up to `room` mbufs from device queue `queue` into `mbufs`.
fn device_rx(port_id: u16, queue: u16, mbufs: &mut MbufArray, room: usize) -> usize {
    let room = room.min(MAX_BATCH) as u16;
    // SAFETY: `mbufs` has room for MAX_BATCH pointers; the queue is set up and polled
    // by this thread only.
    usize::from(unsafe { ffi::das_eth_rx_burst(port_id, queue, mbufs.0.as_mut_ptr(), room) })
}

/// Frees the first `n` mbufs of `mbufs`.
fn free_mbufs(mbufs: &mut MbufArray, n: usize) {
    if n > 0 {
        // SAFETY: the first n entries are mbufs this thread owns and no longer uses.
        unsafe { ffi::rte_pktmbuf_free_bulk(mbufs.0.as_mut_ptr(), n as u32) };
    }
}

/// A receive queue that is the device's queue of the same index.
struct DeviceRx {
    device: Arc<Device>,
    queue: u16,
    counters: Arc<QueueCounters>,
    mbufs: MbufArray,
}

impl RxQueue for DeviceRx {
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError> {
        let n = device_rx(
            self.device.port_id,
            self.queue,
            &mut self.mbufs,
            batch.room(),
        );
        if n == 0 {
            return Ok(RxOutcome::Idle);
        }
        let now = now_ns();
        let (mut got, mut bytes, mut too_long) = (0usize, 0u64, 0u64);
        for &m in &self.mbufs.0[..n] {
            // SAFETY: the device just handed over these n mbufs.
            match unsafe { copy_out(m, bufs) } {
                Some(mut pkt) => {
                    pkt.set_timestamp_ns(now);
                    bytes += pkt.len() as u64;
                    got += 1;
                    // Cannot fail: n <= room.
                    let _ = batch.push(pkt);
                }
                None => too_long += 1,
            }
        }
        free_mbufs(&mut self.mbufs, n);
        self.counters.count_rx(got, bytes);
        if too_long > 0 {
            self.counters.count_drop(DropReason::Malformed, too_long);
        }
        Ok(if got == 0 {
            RxOutcome::Idle
        } else {
            RxOutcome::Received(got)
        })
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}

/// Software steering shared by a port's receive queues.
struct Demux {
    device: Arc<Device>,
    rules: FlowRules,
    /// Frames steered to each receive queue by another queue's poll.
    inboxes: Vec<ArrayQueue<PacketBuf>>,
    /// Whether a thread is polling each device queue.
    polling: Vec<AtomicBool>,
    /// Each receive queue's doorbell, rung when frames land in its inbox.
    bells: Vec<OnceLock<Arc<Doorbell>>>,
    counters: Vec<Arc<QueueCounters>>,
}

/// A receive queue fed by software steering: frames another queue's poll steered here,
/// then the device's queues, this queue's own first.
struct SoftwareRx {
    demux: Arc<Demux>,
    queue: usize,
    mbufs: MbufArray,
}

impl RxQueue for SoftwareRx {
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError> {
        let d = &*self.demux;
        let (mut got, mut bytes) = (0usize, 0u64);
        while !batch.is_full() {
            let Some(pkt) = d.inboxes[self.queue].pop() else {
                break;
            };
            bytes += pkt.len() as u64;
            got += 1;
            let _ = batch.push(pkt);
        }
        let n_dev = d.polling.len();
        let last = d.inboxes.len() - 1;
        for i in 0..n_dev {
            if batch.is_full() {
                break;
            }
            let dq = (self.queue + i) % n_dev;
            if d.polling[dq].swap(true, Ordering::Acquire) {
                continue;
            }
            let n = device_rx(d.device.port_id, dq as u16, &mut self.mbufs, batch.room());
            let now = now_ns();
            let mut too_long = 0u64;
            for &m in &self.mbufs.0[..n] {
                // SAFETY: the device just handed over these n mbufs.
                let Some(mut pkt) = (unsafe { copy_out(m, bufs) }) else {
                    too_long += 1;
                    continue;
                };
                pkt.set_timestamp_ns(now);
                let to = d
                    .rules
                    .queue_for(pkt.data())
                    .map_or(dq, usize::from)
                    .min(last);
                if to == self.queue {
                    bytes += pkt.len() as u64;
                    got += 1;
                    // Cannot fail: at most n <= room frames are added.
                    let _ = batch.push(pkt);
                } else if let Err(pkt) = d.inboxes[to].push(pkt) {
                    bufs.free(pkt);
                    d.counters[to].count_drop(DropReason::QueueFull, 1);
                } else if let Some(bell) = d.bells[to].get() {
                    bell.ring();
                }
            }
            free_mbufs(&mut self.mbufs, n);
            d.polling[dq].store(false, Ordering::Release);
            if too_long > 0 {
                d.counters[dq.min(last)].count_drop(DropReason::Malformed, too_long);
            }
        }
        d.counters[self.queue].count_rx(got, bytes);
        Ok(if got == 0 {
            RxOutcome::Idle
        } else {
            RxOutcome::Received(got)
        })
    }

    fn set_doorbell(&mut self, bell: Arc<Doorbell>) {
        let _ = self.demux.bells[self.queue].set(bell);
    }

    fn depth(&self) -> Option<usize> {
        Some(self.demux.inboxes[self.queue].len())
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.demux.counters[self.queue].clone()
    }
}

impl Drop for SoftwareRx {
    fn drop(&mut self) {
        // Frames steered to this queue and never received are lost with it.
        let d = &*self.demux;
        let mut lost = 0;
        while d.inboxes[self.queue].pop().is_some() {
            lost += 1;
        }
        if lost > 0 {
            d.counters[self.queue].count_drop(DropReason::NodeDown, lost);
        }
    }
}

/// A transmit queue: the device's queue of the same index.
///
/// A device that takes nothing while its link is down has lost its peer (a
/// `net_memif` peer process that exited, an unplugged cable) if the link was up
/// before: the frames are dropped and counted as `node_down`, so a sender never waits
/// for a peer that is gone. Before the link first came up, the queue takes nothing
/// and the caller waits, as for a full ring.
struct DeviceTx {
    device: Arc<Device>,
    queue: u16,
    counters: Arc<QueueCounters>,
    mbufs: MbufArray,
    /// Whether this queue saw the link up (or a frame leave).
    link_was_up: bool,
}

impl TxQueue for DeviceTx {
    fn tx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<usize, PortError> {
        let room = self.device.mbuf_room;
        let mut taken = 0;
        // Frames no mbuf can hold would block the queue: drop them.
        while batch.as_slice().first().is_some_and(|p| p.len() > room) {
            for pkt in batch.drain_front(1) {
                self.counters.count_tx(1, pkt.len() as u64);
                self.counters.count_drop(DropReason::Malformed, 1);
                bufs.free(pkt);
            }
            taken += 1;
        }
        let n = batch
            .iter()
            .take(MAX_BATCH)
            .take_while(|p| p.len() <= room)
            .count();
        if n == 0 {
            return Ok(taken);
        }
        let mbufs = self.mbufs.0.as_mut_ptr();
        // SAFETY: `mbufs` has room for n <= MAX_BATCH pointers; the pool lives as long
        // as the device.
        if unsafe { ffi::das_pktmbuf_alloc_bulk(self.device.pool, mbufs, n as u32) } != 0 {
            // The pool is empty for now: the caller retries.
            return Ok(taken);
        }
        let mut bytes = 0u64;
        for (i, pkt) in batch.as_slice()[..n].iter().enumerate() {
            let data = pkt.data();
            // SAFETY: mbufs[i] is a fresh mbuf whose data room holds at least `room`
            // bytes after data_off, and data.len() <= room.
            unsafe {
                let m = &mut *self.mbufs.0[i];
                let dst = m.buf_addr.cast::<u8>().add(usize::from(m.data_off));
                std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
                m.data_len = data.len() as u16;
                m.pkt_len = data.len() as u32;
            }
            bytes += data.len() as u64;
        }
        // SAFETY: the first n entries are filled mbufs; the queue is set up and used by
        // this thread only. The device takes ownership of the first `sent`.
        let sent = usize::from(unsafe {
            ffi::das_eth_tx_burst(self.device.port_id, self.queue, mbufs, n as u16)
        });
        // A frame leaving proves the link up; the link is looked at only when none
        // left (a full ring, or no peer).
        if sent > 0 || self.device.link_up() {
            self.link_was_up = true;
        } else if self.link_was_up {
            // The peer is gone: nothing will ever take these frames.
            // SAFETY: the device took none of the n mbufs; they are ours.
            unsafe { ffi::rte_pktmbuf_free_bulk(mbufs, n as u32) };
            bufs.free_all(batch.drain_front(n));
            self.counters.count_tx(n, bytes);
            self.counters.count_drop(DropReason::NodeDown, n as u64);
            return Ok(taken + n);
        }
        if sent < n {
            // SAFETY: entries sent..n were not taken by the device and are ours.
            unsafe { ffi::rte_pktmbuf_free_bulk(mbufs.add(sent), (n - sent) as u32) };
            bytes = batch.as_slice()[..sent]
                .iter()
                .map(|p| p.len() as u64)
                .sum();
        }
        bufs.free_all(batch.drain_front(sent));
        self.counters.count_tx(sent, bytes);
        Ok(taken + sent)
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}
