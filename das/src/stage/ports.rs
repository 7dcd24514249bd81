//! The network ports stage processes open, named on the command line.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use afxdp::{AfXdpConfig, AfXdpPort};
use anyhow::{Context, Result, bail};
use dataplane::afpacket::{AfPacketConfig, AfPacketPort, RxLayout};
use dataplane::input_end::{EndingRxQueue, InputEnd};
use dataplane::port::{Port, PortStats, RxQueue, TxQueue};

#[cfg(feature = "dpdk")]
use super::dpdk_ports::{DpdkNetPort, DpdkStage};

/// A network port as the command line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// `afpacket:IFACE`: AF_PACKET sockets on a Linux interface.
    AfPacket(String),
    /// `afxdp:IFACE`: AF_XDP sockets on a Linux interface, steered by an XDP program.
    AfXdp(String),
    /// `netmap:IFACE`: the NIC rings of an interface in netmap mode (the `netmap` feature).
    Netmap(String),
    /// `dpdk:NAME`: the port NAME of the stage's DPDK configuration (`ports.toml`).
    Dpdk(String),
}

impl PortSpec {
    /// The Linux interface the port is on (none for a DPDK port).
    pub fn interface(&self) -> Option<&str> {
        match self {
            PortSpec::AfPacket(iface) | PortSpec::AfXdp(iface) | PortSpec::Netmap(iface) => {
                Some(iface)
            }
            PortSpec::Dpdk(_) => None,
        }
    }
}

impl FromStr for PortSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let Some((kind, name)) = text.split_once(':') else {
            return Err(expected(text));
        };
        match kind {
            "afpacket" | "afxdp" | "netmap" => {
                if !valid_interface(name) {
                    return Err(format!(
                        "{name:?} is not an interface name (1 to 15 characters, no '/', ':' or \
                         spaces)"
                    ));
                }
                let name = name.to_string();
                Ok(match kind {
                    "afpacket" => PortSpec::AfPacket(name),
                    "afxdp" => PortSpec::AfXdp(name),
                    _ => PortSpec::Netmap(name),
                })
            }
            "dpdk" => {
                if !valid_dpdk_port(name) {
                    return Err(format!(
                        "{name:?} is not a DPDK port name (a [[port]] name of ports.toml: \
                         letters, digits, '_' and '-')"
                    ));
                }
                Ok(PortSpec::Dpdk(name.to_string()))
            }
            _ => Err(expected(text)),
        }
    }
}

fn expected(text: &str) -> String {
    format!(
        "{text:?}: expected afpacket:IFACE, afxdp:IFACE, netmap:IFACE or dpdk:NAME (e.g. \
         afpacket:veth0)"
    )
}

impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortSpec::AfPacket(iface) => write!(f, "afpacket:{iface}"),
            PortSpec::AfXdp(iface) => write!(f, "afxdp:{iface}"),
            PortSpec::Netmap(iface) => write!(f, "netmap:{iface}"),
            PortSpec::Dpdk(name) => write!(f, "dpdk:{name}"),
        }
    }
}

fn valid_interface(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && !name.contains(['/', ':'])
        && !name.chars().any(char::is_whitespace)
}

/// The names `ports.toml` accepts.
fn valid_dpdk_port(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The ports of one stage process: when their inputs end, and the process's DPDK
/// (started once, from the stage's `--dpdk-config` folder, when a port is `dpdk:`).
pub struct StagePorts {
    end: InputEnd,
    #[cfg(feature = "dpdk")]
    dpdk: Option<DpdkStage>,
}

impl StagePorts {
    /// The ports of a process whose receive queues end as `end` decides. When one of
    /// `specs` is a DPDK port, this loads the DPDK configuration in `dpdk_dir` and
    /// starts the EAL; a das built without DPDK refuses such a port here.
    pub fn new(end: InputEnd, dpdk_dir: &Path, specs: &[&PortSpec]) -> Result<Self> {
        let dpdk_ports: Vec<&str> = specs
            .iter()
            .filter_map(|s| match s {
                PortSpec::Dpdk(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        #[cfg(feature = "dpdk")]
        let dpdk = (!dpdk_ports.is_empty())
            .then(|| DpdkStage::start(dpdk_dir, &dpdk_ports))
            .transpose()?;
        #[cfg(not(feature = "dpdk"))]
        if !dpdk_ports.is_empty() {
            let _ = dpdk_dir;
            bail!("{}", crate::dpdk_cmd::WITHOUT_DPDK);
        }
        Ok(StagePorts {
            end,
            #[cfg(feature = "dpdk")]
            dpdk,
        })
    }

    /// When the process's inputs end.
    pub fn end(&self) -> &InputEnd {
        &self.end
    }

    /// Opens `spec` named `name`, with receive queues laid out as `rx` and `tx`
    /// transmit queues; receive queues end as the process's end-of-input decides.
    pub fn open(&self, name: &str, spec: &PortSpec, rx: RxLayout, tx: usize) -> Result<NetPort> {
        self.open_until(name, spec, rx, tx, &self.end)
    }

    /// As [`open`](Self::open), for receive queues that end as `end` decides instead:
    /// traffic on them neither keeps the process's input alive nor ends with it.
    pub fn open_until(
        &self,
        name: &str,
        spec: &PortSpec,
        rx: RxLayout,
        tx: usize,
        end: &InputEnd,
    ) -> Result<NetPort> {
        let port: Box<dyn Port> = match spec {
            PortSpec::AfPacket(iface) => {
                let config = AfPacketConfig {
                    end: end.clone(),
                    ..AfPacketConfig::new(iface, rx, tx)
                };
                Box::new(
                    AfPacketPort::open(name, &config)
                        .with_context(|| format!("cannot open {spec}"))?,
                )
            }
            PortSpec::AfXdp(iface) => {
                // One socket per logical queue, each receiving and sending.
                let (queues, steering) = match rx {
                    RxLayout::None => (tx.max(1), tx > 1),
                    RxLayout::Fanout(1) | RxLayout::Das => (1, false),
                    RxLayout::DasQueues(n) => (n.max(tx), true),
                    RxLayout::Fanout(_) | RxLayout::Notices | RxLayout::Status => {
                        bail!("{spec}: {rx:?} receive queues are not available on AF_XDP")
                    }
                };
                let config = AfXdpConfig {
                    logical_queues: queues as u32,
                    steering,
                    ..AfXdpConfig::new(iface)
                };
                Box::new(AfXdpPort::open(config).with_context(|| format!("cannot open {spec}"))?)
            }
            PortSpec::Netmap(iface) => super::netmap::open(name, iface, rx, tx)
                .with_context(|| format!("cannot open {spec}"))?,
            PortSpec::Dpdk(port) => {
                #[cfg(feature = "dpdk")]
                {
                    let dpdk = self
                        .dpdk
                        .as_ref()
                        .with_context(|| format!("{spec}: DPDK was not started for it"))?;
                    return Ok(NetPort {
                        spec: spec.clone(),
                        inner: Inner::Dpdk(Box::new(dpdk.open(port, rx, tx, end)?)),
                    });
                }
                #[cfg(not(feature = "dpdk"))]
                bail!("cannot open dpdk:{port}: {}", crate::dpdk_cmd::WITHOUT_DPDK);
            }
        };
        let iface = spec.interface().unwrap_or_default();
        Ok(NetPort {
            spec: spec.clone(),
            inner: Inner::Kernel {
                port,
                // AF_PACKET queues carry the end-of-input decision themselves.
                ending: matches!(spec, PortSpec::AfXdp(_) | PortSpec::Netmap(_))
                    .then(|| end.clone()),
                interface_at_open: InterfaceStats::read(iface),
            },
        })
    }
}

/// An open network port.
pub struct NetPort {
    spec: PortSpec,
    inner: Inner,
}

enum Inner {
    /// A port on a Linux interface, and the kernel's counters of the interface when
    /// it opened.
    Kernel {
        port: Box<dyn Port>,
        /// The end-of-input decision its receive queues are wrapped in, for backends
        /// whose queues do not carry it.
        ending: Option<InputEnd>,
        interface_at_open: InterfaceStats,
    },
    /// A DPDK port.
    #[cfg(feature = "dpdk")]
    Dpdk(Box<DpdkNetPort>),
}

impl NetPort {
    /// Takes receive queue `q`, ending as the process's end-of-input decides.
    pub fn rx(&mut self, q: usize) -> Result<Box<dyn RxQueue>> {
        Ok(match &mut self.inner {
            Inner::Kernel { port, ending, .. } => {
                let queue = port.take_rx_queue(q)?;
                match ending {
                    Some(end) => Box::new(EndingRxQueue::new(queue, end.clone())),
                    None => queue,
                }
            }
            #[cfg(feature = "dpdk")]
            Inner::Dpdk(port) => port.rx(q)?,
        })
    }

    /// Takes transmit queue `q`.
    pub fn tx(&mut self, q: usize) -> Result<Box<dyn TxQueue>> {
        Ok(match &mut self.inner {
            Inner::Kernel { port, .. } => port.take_tx_queue(q)?,
            #[cfg(feature = "dpdk")]
            Inner::Dpdk(port) => port.tx(q)?,
        })
    }

    /// The port's counters, and what the interface (or the DPDK device) counted since
    /// the port opened.
    pub fn report(&self) -> PortReport {
        match &self.inner {
            Inner::Kernel {
                port,
                interface_at_open,
                ..
            } => PortReport {
                spec: self.spec.to_string(),
                port: port.stats(),
                interface: Some(
                    InterfaceStats::read(self.spec.interface().unwrap_or_default())
                        .since(interface_at_open),
                ),
                device: None,
            },
            #[cfg(feature = "dpdk")]
            Inner::Dpdk(port) => PortReport {
                spec: self.spec.to_string(),
                port: port.stats(),
                interface: None,
                device: Some(port.device_report()),
            },
        }
    }

    /// The port's counters.
    pub fn stats(&self) -> PortStats {
        match &self.inner {
            Inner::Kernel { port, .. } => port.stats(),
            #[cfg(feature = "dpdk")]
            Inner::Dpdk(port) => port.stats(),
        }
    }

    /// Called once the stage sent its last frame on `ports`: returns when each peer
    /// has had the chance to take every frame. Kernel ports hand their frames to the
    /// kernel, which keeps them; a DPDK port on `net_memif` waits until its peer
    /// process closed the link, because the rings live in memory that either side's
    /// leaving frees. The device counters of every port are read first, while the
    /// links are up.
    pub fn wait_until_read<'a>(stage: &str, ports: impl IntoIterator<Item = &'a NetPort>) {
        #[cfg(feature = "dpdk")]
        {
            let dpdk: Vec<(&DpdkNetPort, &PortSpec)> = ports
                .into_iter()
                .filter_map(|p| match &p.inner {
                    Inner::Dpdk(port) => Some((port.as_ref(), &p.spec)),
                    Inner::Kernel { .. } => None,
                })
                .collect();
            for (port, _) in &dpdk {
                port.read_device();
            }
            for (port, spec) in dpdk {
                port.wait_until_read(stage, spec);
            }
        }
        #[cfg(not(feature = "dpdk"))]
        let _ = (stage, ports.into_iter());
    }
}

/// A port's counters in a stage's report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PortReport {
    /// The port as named on the command line.
    pub spec: String,
    /// Counters per queue.
    pub port: PortStats,
    /// A kernel port's interface: its own counters over the run (frames the link
    /// itself dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<InterfaceStats>,
    /// A DPDK port's device: its own counters over the run, drops by reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceReport>,
}

/// A DPDK device's counters over a run (`rte_eth_stats`), and how its receive queues
/// were steered.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DeviceReport {
    /// The device (`net_memif0`, a PCI address).
    pub device: String,
    /// How frames reach the receive queues: `device`, `rte_flow` or `software`, with
    /// the reason when software.
    pub steering: String,
    /// Frames the device received.
    pub rx_packets: u64,
    /// Bytes the device received.
    pub rx_bytes: u64,
    /// Frames the device sent.
    pub tx_packets: u64,
    /// Bytes the device sent.
    pub tx_bytes: u64,
    /// Frames the device dropped, by reason (`rx_missed`: a receive ring was full,
    /// `rx_no_mbuf`, `rx_errors`, `tx_errors`); these are counted by no queue.
    pub dropped: BTreeMap<String, u64>,
}

impl DeviceReport {
    /// Frames the device dropped on receive.
    pub fn rx_dropped(&self) -> u64 {
        self.dropped_by("rx_")
    }

    /// Frames the device failed to send.
    pub fn tx_dropped(&self) -> u64 {
        self.dropped_by("tx_")
    }

    fn dropped_by(&self, direction: &str) -> u64 {
        self.dropped
            .iter()
            .filter(|(reason, _)| reason.starts_with(direction))
            .map(|(_, n)| n)
            .sum()
    }
}

/// The kernel's counters of an interface, as `/proc/net/dev` gives them for the
/// process's own network namespace (so they are right whether the process entered the
/// namespace with `ip netns exec`, which mounts a sysfs of the namespace, or with
/// `nsenter`, which keeps the host's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InterfaceStats {
    /// Frames received.
    pub rx_packets: u64,
    /// Frames the interface dropped on receive.
    pub rx_dropped: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Frames the interface dropped on transmit (a veth whose peer's backlog was full).
    pub tx_dropped: u64,
}

impl InterfaceStats {
    /// The counters now (zeros where they cannot be read).
    fn read(iface: &str) -> Self {
        std::fs::read_to_string("/proc/net/dev")
            .ok()
            .and_then(|text| Self::parse(&text, iface))
            .unwrap_or_default()
    }

    /// `iface`'s line of a `/proc/net/dev` table.
    fn parse(table: &str, iface: &str) -> Option<Self> {
        table.lines().skip(2).find_map(|line| {
            let (name, fields) = line.split_once(':')?;
            if name.trim() != iface {
                return None;
            }
            let f: Vec<u64> = fields
                .split_whitespace()
                .map(|v| v.parse().ok())
                .collect::<Option<_>>()?;
            // Receive: bytes packets errs drop fifo frame compressed multicast;
            // transmit: bytes packets errs drop ...
            (f.len() >= 12).then(|| InterfaceStats {
                rx_packets: f[1],
                rx_dropped: f[3],
                tx_packets: f[9],
                tx_dropped: f[11],
            })
        })
    }

    fn since(self, start: &Self) -> Self {
        InterfaceStats {
            rx_packets: self.rx_packets.saturating_sub(start.rx_packets),
            rx_dropped: self.rx_dropped.saturating_sub(start.rx_dropped),
            tx_packets: self.tx_packets.saturating_sub(start.tx_packets),
            tx_dropped: self.tx_dropped.saturating_sub(start.tx_dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_explain_mistakes() {
        assert_eq!(
            "afpacket:veth0".parse::<PortSpec>(),
            Ok(PortSpec::AfPacket("veth0".into()))
        );
        assert!(
            "afpacket:"
                .parse::<PortSpec>()
                .unwrap_err()
                .contains("not an interface name")
        );
        assert!("afpacket:a/b".parse::<PortSpec>().is_err());
        assert!("afpacket:sixteen-chars-xx".parse::<PortSpec>().is_err());
        assert!(
            "veth0"
                .parse::<PortSpec>()
                .unwrap_err()
                .contains("expected afpacket:IFACE, afxdp:IFACE, netmap:IFACE or dpdk:NAME")
        );
        assert!("pcap:x".parse::<PortSpec>().is_err());
        assert_eq!(
            "dpdk:node0".parse::<PortSpec>(),
            Ok(PortSpec::Dpdk("node0".into()))
        );
        assert!(
            "dpdk:"
                .parse::<PortSpec>()
                .unwrap_err()
                .contains("not a DPDK port name")
        );
        assert!("dpdk:a b".parse::<PortSpec>().is_err());
        assert_eq!(
            PortSpec::Dpdk("dup-node1".into()).to_string(),
            "dpdk:dup-node1"
        );
        assert_eq!(PortSpec::Dpdk("x".into()).interface(), None);
        assert_eq!(
            "netmap:eth1".parse::<PortSpec>(),
            Ok(PortSpec::Netmap("eth1".into()))
        );
        assert_eq!(PortSpec::Netmap("eth1".into()).to_string(), "netmap:eth1");
        assert!("netmap:".parse::<PortSpec>().is_err());
        assert_eq!(
            "afxdp:ids0".parse::<PortSpec>(),
            Ok(PortSpec::AfXdp("ids0".into()))
        );
        assert_eq!(PortSpec::AfPacket("in".into()).to_string(), "afpacket:in");
    }

    #[test]
    fn interface_counters_come_from_proc_net_dev() {
        let table = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
   dup: 9000000    7001    0   12    0     0          0         0  8000000    6001    0    3    0     0       0          0
";
        assert_eq!(
            InterfaceStats::parse(table, "dup"),
            Some(InterfaceStats {
                rx_packets: 7001,
                rx_dropped: 12,
                tx_packets: 6001,
                tx_dropped: 3,
            })
        );
        assert_eq!(InterfaceStats::parse(table, "du"), None);
        assert_eq!(InterfaceStats::parse("x\ny\n  a: 1 2\n", "a"), None);
        // This process's loopback is always there.
        assert!(
            InterfaceStats::parse(&std::fs::read_to_string("/proc/net/dev").unwrap(), "lo")
                .is_some()
        );
    }
}
