//! The network ports stage processes open, named on the command line.

use std::str::FromStr;

use afxdp::{AfXdpConfig, AfXdpPort};
use anyhow::{Context, Result, bail};
use dataplane::afpacket::{AfPacketConfig, AfPacketPort, RxLayout};
use dataplane::input_end::{EndingRxQueue, InputEnd};
use dataplane::port::{Port, PortStats, RxQueue, TxQueue};

/// A network port as the command line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// `afpacket:IFACE`: AF_PACKET sockets on a Linux interface.
    AfPacket(String),
    /// `afxdp:IFACE`: AF_XDP sockets on a Linux interface, steered by an XDP program.
    AfXdp(String),
    /// `netmap:IFACE`: the NIC rings of an interface in netmap mode (the `netmap` feature).
    Netmap(String),
}

impl PortSpec {
    /// The interface the port is on.
    pub fn interface(&self) -> &str {
        match self {
            PortSpec::AfPacket(iface) | PortSpec::AfXdp(iface) | PortSpec::Netmap(iface) => iface,
        }
    }
}

impl FromStr for PortSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let make = match text.split_once(':') {
            Some(("afpacket", _)) => PortSpec::AfPacket,
            Some(("afxdp", _)) => PortSpec::AfXdp,
            Some(("netmap", _)) => PortSpec::Netmap,
            _ => {
                return Err(format!(
                    "{text:?}: expected afpacket:IFACE, afxdp:IFACE or netmap:IFACE (e.g. afpacket:veth0)"
                ));
            }
        };
        let iface = text.split_once(':').map_or("", |(_, i)| i);
        if !valid_interface(iface) {
            return Err(format!(
                "{iface:?} is not an interface name (1 to 15 characters, no '/', ':' or spaces)"
            ));
        }
        Ok(make(iface.to_string()))
    }
}

impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortSpec::AfPacket(iface) => write!(f, "afpacket:{iface}"),
            PortSpec::AfXdp(iface) => write!(f, "afxdp:{iface}"),
            PortSpec::Netmap(iface) => write!(f, "netmap:{iface}"),
        }
    }
}

fn valid_interface(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && !name.contains(['/', ':'])
        && !name.chars().any(char::is_whitespace)
}

/// An open network port and the kernel's counters of its interface when it opened.
pub struct NetPort {
    port: Box<dyn Port>,
    spec: PortSpec,
    end: InputEnd,
    interface_at_open: InterfaceStats,
}

impl NetPort {
    /// Opens `spec` named `name`, with receive queues laid out as `rx` and `tx`
    /// transmit queues; receive queues end as `end` decides.
    pub fn open(
        name: &str,
        spec: &PortSpec,
        rx: RxLayout,
        tx: usize,
        end: &InputEnd,
    ) -> Result<Self> {
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
        };
        Ok(NetPort {
            port,
            spec: spec.clone(),
            end: end.clone(),
            interface_at_open: InterfaceStats::read(spec.interface()),
        })
    }

    /// Takes receive queue `q`, ending as the process's end-of-input decides.
    pub fn rx(&mut self, q: usize) -> Result<Box<dyn RxQueue>> {
        let queue = self.port.take_rx_queue(q)?;
        Ok(match self.spec {
            // AF_PACKET queues carry the decision themselves.
            PortSpec::AfPacket(_) => queue,
            PortSpec::AfXdp(_) | PortSpec::Netmap(_) => {
                Box::new(EndingRxQueue::new(queue, self.end.clone()))
            }
        })
    }

    /// Takes transmit queue `q`.
    pub fn tx(&mut self, q: usize) -> Result<Box<dyn TxQueue>> {
        Ok(self.port.take_tx_queue(q)?)
    }

    /// The port's counters and what the interface counted since the port opened.
    pub fn report(&self) -> PortReport {
        PortReport {
            spec: self.spec.to_string(),
            port: self.port.stats(),
            interface: InterfaceStats::read(self.spec.interface()).since(&self.interface_at_open),
        }
    }

    /// The port's counters.
    pub fn stats(&self) -> PortStats {
        self.port.stats()
    }
}

/// A port's counters in a stage's report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PortReport {
    /// The port as named on the command line.
    pub spec: String,
    /// Counters per queue.
    pub port: PortStats,
    /// The interface's own counters over the run (frames the link itself dropped).
    pub interface: InterfaceStats,
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
                .contains("expected afpacket:IFACE, afxdp:IFACE or netmap:IFACE")
        );
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
