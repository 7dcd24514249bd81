//! AF_PACKET ports on Linux interfaces (veth pairs in network namespaces, or NICs):
//! TPACKET_V3 receive rings, sendmmsg transmit that bypasses the qdisc, fanout groups
//! for several receive queues, and a classic BPF filter per receive socket that steers
//! das copies to the queue their outer destination MAC names (primaries on queue 0,
//! duplicates on queue 1): the duplicator's Flow Director rules, applied by the kernel.
//!
//! Every socket needs `CAP_NET_RAW` (root). A receive socket's ring is its queue: when it
//! is full the kernel drops the frame and the port counts it as
//! [`DropReason::RingFull`](crate::counters::DropReason::RingFull) from the socket's
//! statistics, so `frames on the wire for this socket = received + dropped`. A network
//! link never closes: the receive queues report the end of their input as an
//! [`InputEnd`] decides (after an idle time, or on a stop).

#![allow(unsafe_code)]

mod rx;
mod socket;
mod tx;

use std::sync::Arc;

use crate::input_end::InputEnd;
use crate::port::{Port, PortError, PortQueues, QueueCounters, RxQueue, TxQueue};

pub use socket::Filter;

/// What a failed socket(2) call most likely means, for its error.
const OPEN_CONTEXT: &str = "opening an AF_PACKET socket (needs CAP_NET_RAW: run as root)";

/// The TPACKET_V3 receive ring of each receive queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    /// Bytes per block, a multiple of the page size (the kernel hands blocks over whole).
    pub block_size: usize,
    /// Blocks in the ring: the queue holds `block_size * blocks` bytes of frames.
    pub blocks: usize,
    /// Largest frame slot, in bytes, a multiple of 16 (headers included).
    pub frame_size: usize,
    /// A block that is not full is handed over after this many milliseconds, which
    /// bounds the latency a quiet link adds.
    pub block_timeout_ms: u32,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            block_size: 1 << 18,
            blocks: 16,
            frame_size: 2048,
            block_timeout_ms: 1,
        }
    }
}

impl RingConfig {
    fn check(&self, port: &str) -> Result<(), PortError> {
        let page = 4096;
        let bad = |reason: String| {
            Err(PortError::Config {
                port: port.to_string(),
                reason,
            })
        };
        if self.block_size == 0 || self.block_size % page != 0 {
            return bad(format!(
                "ring block size {} is not a multiple of {page}",
                self.block_size
            ));
        }
        if self.blocks == 0 {
            return bad("the ring needs at least one block".into());
        }
        if self.frame_size < 128 || self.frame_size % 16 != 0 || self.frame_size > self.block_size {
            return bad(format!(
                "ring frame size {} must be a multiple of 16 between 128 and the block size",
                self.frame_size
            ));
        }
        Ok(())
    }
}

/// How the receive sockets of a port divide the frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxLayout {
    /// No receive queue (a port that only transmits).
    None,
    /// Queues `0..n` each take frames that [`Filter::All`] accepts, spread over the
    /// queues by flow hash (a PACKET_FANOUT_HASH group) when `n > 1`.
    Fanout(usize),
    /// Queue `q` (of `0..n`) takes the das frames whose outer destination MAC names
    /// queue `q`: on a node's link, primaries on 0 and duplicates on 1.
    DasQueues(usize),
    /// One queue taking every das frame, whatever its queue.
    Das,
    /// One queue taking completion-notice frames (a node's link from dedup).
    Notices,
    /// One queue taking node status frames (the duplicator's link to a node).
    Status,
}

impl RxLayout {
    /// The receive queues of this layout.
    pub fn queues(self) -> usize {
        match self {
            RxLayout::None => 0,
            RxLayout::Fanout(n) | RxLayout::DasQueues(n) => n,
            RxLayout::Das | RxLayout::Notices | RxLayout::Status => 1,
        }
    }

    /// The frames receive queue `queue` of this layout takes.
    pub fn filter(self, queue: usize) -> Filter {
        match self {
            RxLayout::None | RxLayout::Fanout(_) => Filter::All,
            RxLayout::DasQueues(_) => Filter::DasQueue(queue as u8),
            RxLayout::Das => Filter::Das,
            RxLayout::Notices => Filter::Notices,
            RxLayout::Status => Filter::Status,
        }
    }
}

/// Settings of an [`AfPacketPort`].
#[derive(Debug, Clone)]
pub struct AfPacketConfig {
    /// The interface, in the calling thread's network namespace.
    pub interface: String,
    /// The receive queues.
    pub rx: RxLayout,
    /// Transmit queues (one socket each).
    pub tx_queues: usize,
    /// Each receive queue's ring.
    pub ring: RingConfig,
    /// When the receive queues report the end of their input.
    pub end: InputEnd,
}

impl AfPacketConfig {
    /// A port on `interface` with `rx` receive queues and `tx_queues` transmit queues,
    /// the default rings, ending on a stop only.
    pub fn new(interface: &str, rx: RxLayout, tx_queues: usize) -> Self {
        AfPacketConfig {
            interface: interface.to_string(),
            rx,
            tx_queues,
            ring: RingConfig::default(),
            end: InputEnd::on_stop(),
        }
    }
}

/// A port on a Linux interface through AF_PACKET sockets.
pub struct AfPacketPort {
    queues: PortQueues,
}

impl AfPacketPort {
    /// Opens the sockets of `config` on its interface, named `name` in reports.
    pub fn open(name: &str, config: &AfPacketConfig) -> Result<Self, PortError> {
        let rx_count = config.rx.queues();
        if rx_count > 256 {
            return Err(PortError::Config {
                port: name.to_string(),
                reason: format!("{rx_count} receive queues: at most 256"),
            });
        }
        if rx_count == 0 && config.tx_queues == 0 {
            return Err(PortError::Config {
                port: name.to_string(),
                reason: "a port needs at least one queue".into(),
            });
        }
        config.ring.check(name)?;
        let ifindex =
            socket::interface_index(&config.interface).ok_or_else(|| PortError::Config {
                port: name.to_string(),
                reason: format!(
                    "no interface named {:?} in this network namespace (see `ip link`)",
                    config.interface
                ),
            })?;
        let counters: Vec<Arc<QueueCounters>> = (0..rx_count.max(config.tx_queues))
            .map(|_| Arc::default())
            .collect();
        // A fanout group id unique to this port within the process.
        let fanout = match config.rx {
            RxLayout::Fanout(n) if n > 1 => {
                Some((std::process::id() as u16) ^ (ifindex as u16).rotate_left(8))
            }
            _ => None,
        };
        let setup = rx::RxSetup {
            ifindex,
            fanout,
            ring: config.ring,
            end: config.end.clone(),
        };
        let rx = counters[..rx_count]
            .iter()
            .enumerate()
            .map(|(q, c)| {
                let queue = rx::AfPacketRx::open(name, q, config.rx.filter(q), &setup, c.clone())?;
                Ok(Box::new(queue) as Box<dyn RxQueue>)
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        let tx = counters[..config.tx_queues]
            .iter()
            .enumerate()
            .map(|(q, c)| {
                let queue = tx::AfPacketTx::open(name, q, ifindex, c.clone())?;
                Ok(Box::new(queue) as Box<dyn TxQueue>)
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        Ok(AfPacketPort {
            queues: PortQueues::new(name, rx, tx, counters),
        })
    }
}

impl Port for AfPacketPort {
    fn queues(&self) -> &PortQueues {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut PortQueues {
        &mut self.queues
    }
}
