//! DPDK ports of the stage processes (`dpdk:NAME`), with the `dpdk` feature.
//!
//! A stage process starts DPDK once, from its `--dpdk-config` folder (the `eal.toml`,
//! `ports.toml` and `flow-rules.toml` that `das dpdk-config` checks), and opens the
//! ports it names from that folder's `ports.toml`. What the stage reads from a port
//! decides its steering:
//!
//! - copies by queue (a worker's input, dedup's inputs): receive queue `q` takes the
//!   das frames whose outer destination MAC names queue `q` (primaries on 0,
//!   duplicates on 1). The rules are `flow-rules.toml`'s when it names the port, else
//!   the same rules built in; the port installs them with rte_flow, or runs them in
//!   software on devices without it (every virtual device);
//! - everything else (a duplicator's input, the nodes' status frames on a
//!   duplicator's node port, a worker's completion notices): one receive queue, filled
//!   by the device.
//!
//! Between two processes on one machine the ports are `net_memif` pairs: a process is
//! the server of the links it receives on and the client of those it sends on, so
//! stages start downstream first. A memif client's port waits at open until its link
//! is up; a sender waits at the end until its peer closed the link
//! ([`DpdkNetPort::wait_until_read`]), because memif's rings live in shared memory
//! that either side's leaving frees.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use das_dpdk::{DeviceStats, DpdkPort, Eal, Steering};
use dataplane::afpacket::RxLayout;
use dataplane::dpdk_config::{
    Device, DpdkConfig, EalConfig, FlowRule, FlowRules, MacAddr, MacMatch, PORTS_FILE, PortConfig,
};
use dataplane::input_end::{EndingRxQueue, InputEnd};
use dataplane::meta::{DAS_MAC_PREFIX, ETHERTYPE_NSH};
use dataplane::port::{Port, PortStats, RxQueue, TxQueue};

use super::ports::{DeviceReport, PortSpec};

/// How long a port waits for its link when it opens (a `net_memif` client: for the
/// handshake with its server).
const LINK_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a sender waits at the end for its `net_memif` peer to close the link.
const LINGER: Duration = Duration::from_secs(10);

/// Pause between two looks at a link.
const POLL: Duration = Duration::from_millis(5);

/// How long a `net_memif` device is left alone after its link went down. The driver
/// marks the link down first and then, in the EAL's interrupt thread, frees the
/// connection's memory; closing the device before it is done frees it a second time
/// ("EAL: Error: Invalid memory").
const DISCONNECT_GRACE: Duration = Duration::from_millis(100);

/// The DPDK of one stage process: its configuration and the running EAL.
pub struct DpdkStage {
    dir: PathBuf,
    config: DpdkConfig,
    eal: &'static Eal,
}

impl DpdkStage {
    /// Loads the configuration in `dir`, checks that its `ports.toml` has each of
    /// `ports`, and starts the EAL with its `eal.toml`.
    pub fn start(dir: &Path, ports: &[&str]) -> Result<Self> {
        let config = crate::dpdk_cmd::load(dir)?;
        if let Some(missing) = ports.iter().find(|p| config.ports.get(p).is_none()) {
            let names: Vec<&str> = config.ports.ports.iter().map(|p| p.name.as_str()).collect();
            bail!(
                "dpdk:{missing}: no port `{missing}` in {} (its ports: {})",
                dir.join(PORTS_FILE).display(),
                names.join(", ")
            );
        }
        let eal = Eal::init(&config.eal).context("starting DPDK")?;
        // With --no-shconf and --no-telemetry the EAL keeps no runtime file: then its
        // empty folder goes at once, so nothing stays behind even if the process is
        // killed.
        let run_dir = eal.runtime_dir();
        if std::fs::read_dir(&run_dir).is_ok_and(|mut d| d.next().is_none()) {
            let _ = std::fs::remove_dir(&run_dir);
        }
        Ok(DpdkStage {
            dir: dir.to_path_buf(),
            config,
            eal,
        })
    }

    /// Opens the port `name` of `ports.toml` for receive queues laid out as `rx` and
    /// `tx` transmit queues; its receive queues end as `end` decides.
    pub fn open(&self, name: &str, rx: RxLayout, tx: usize, end: &InputEnd) -> Result<DpdkNetPort> {
        let spec = PortSpec::Dpdk(name.to_string());
        let ports_file = self.dir.join(PORTS_FILE);
        let config = self
            .config
            .ports
            .get(name)
            .with_context(|| format!("{spec}: no port `{name}` in {}", ports_file.display()))?;
        check_queues(&spec, config, rx, tx, &ports_file)?;
        let rules = match rx {
            RxLayout::DasQueues(n) => Some(self.queue_rules(name, n)),
            _ => None,
        };
        let port = DpdkPort::open(self.eal, config, rules.as_ref())
            .with_context(|| format!("cannot open {spec}"))?;
        let role = self.memif_role(config);
        if role != Some("server") {
            wait_for_link(&port, end).with_context(|| {
                let hint = if role.is_some() {
                    " (a net_memif client: is the process with the server end running, on \
                     the same socket?)"
                } else {
                    ""
                };
                format!("{spec} ({}): the link is down{hint}", port.device_name())
            })?;
        }
        let at_open = port.device_stats().unwrap_or_default();
        Ok(DpdkNetPort {
            steering: describe(port.steering()),
            at_open,
            last: Mutex::new(at_open),
            memif: role.is_some(),
            end: end.clone(),
            port,
        })
    }

    /// The rules that put das copies on their queue: those of `flow-rules.toml` when
    /// it names the port and has rules, else [`das_queue_rules`].
    fn queue_rules(&self, port: &str, queues: usize) -> FlowRules {
        let file = &self.config.flow_rules;
        if file.port == port && !file.rules.is_empty() {
            return file.clone();
        }
        das_queue_rules(port, queues)
    }

    /// `role=` of the port's device when it is a `net_memif` device.
    fn memif_role(&self, config: &PortConfig) -> Option<&str> {
        memif_role(&self.config.eal, &config.device)
    }
}

/// Rules that put the das frames whose outer destination MAC is `02:44:41:53:NN:QQ`
/// (EtherType 0x894F, whatever the node `NN`) on receive queue `QQ`, for each of
/// `queues` queues: what the shipped `flow-rules.toml` says for two.
fn das_queue_rules(port: &str, queues: usize) -> FlowRules {
    let [a, b, c, d] = DAS_MAC_PREFIX;
    FlowRules {
        port: port.to_string(),
        rules: (0..queues.min(usize::from(u8::MAX)) as u8)
            .map(|q| FlowRule {
                name: format!("das-queue-{q}"),
                dst: Some(MacMatch {
                    spec: MacAddr([a, b, c, d, 0, q]),
                    mask: MacAddr([0xff, 0xff, 0xff, 0xff, 0, 0xff]),
                }),
                ether_type: Some(ETHERTYPE_NSH),
                queue: u16::from(q),
            })
            .collect(),
    }
}

/// `role=` of `device` in `eal`'s `--vdev` arguments when it is a `net_memif` device
/// (`client`, memif's default, when the argument does not say).
fn memif_role<'a>(eal: &'a EalConfig, device: &Device) -> Option<&'a str> {
    let Device::Vdev(device) = device else {
        return None;
    };
    if !device.starts_with("net_memif") {
        return None;
    }
    let vdev = eal
        .vdevs
        .iter()
        .find(|v| v.split(',').next() == Some(device.as_str()))?;
    Some(
        vdev.split(',')
            .find_map(|arg| arg.strip_prefix("role="))
            .unwrap_or("client"),
    )
}

/// Checks that the port `config` describes has the receive queues the stage reads as
/// `rx` and at least the `tx` transmit queues it sends on; says which key of
/// `ports_file` to set otherwise.
fn check_queues(
    spec: &PortSpec,
    config: &PortConfig,
    rx: RxLayout,
    tx: usize,
    ports_file: &Path,
) -> Result<()> {
    let plural = |n: u16| if n == 1 { "" } else { "s" };
    let (wanted, what) = match rx {
        RxLayout::None => (None, ""),
        RxLayout::Fanout(n) => (Some(n), "its input"),
        RxLayout::DasQueues(n) => (Some(n), "primaries on queue 0, duplicates on 1"),
        RxLayout::Das => (Some(1), "every das copy"),
        RxLayout::Notices => (Some(1), "completion notices"),
        RxLayout::Status => (Some(1), "the nodes' status frames"),
    };
    if let Some(n) = wanted.filter(|&n| n != usize::from(config.rx_queues)) {
        bail!(
            "{spec}: the port has {} receive queue{}, and this stage reads {n} ({what}): set \
             rx_queues = {n} for it in {}",
            config.rx_queues,
            plural(config.rx_queues),
            ports_file.display()
        );
    }
    if tx > usize::from(config.tx_queues) {
        bail!(
            "{spec}: the port has {} transmit queue{}, and this stage sends on {tx}: set \
             tx_queues = {tx} for it in {}",
            config.tx_queues,
            plural(config.tx_queues),
            ports_file.display()
        );
    }
    Ok(())
}

/// Waits until the port's link is up, at most [`LINK_TIMEOUT`] (or until a stop).
fn wait_for_link(port: &DpdkPort, end: &InputEnd) -> Result<()> {
    let start = Instant::now();
    while !port.link_up() {
        if end.is_stopped() {
            bail!("stopped while waiting for the link");
        }
        if start.elapsed() >= LINK_TIMEOUT {
            bail!("it did not come up within {} s", LINK_TIMEOUT.as_secs());
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// A steering decision in a report's words.
fn describe(steering: &Steering) -> String {
    match steering {
        Steering::Device => "device".to_string(),
        Steering::RteFlow { rules } => format!("rte_flow ({rules} rules)"),
        Steering::Software { reason } => format!("software ({reason})"),
    }
}

/// An open DPDK port of a stage process.
pub struct DpdkNetPort {
    port: DpdkPort,
    end: InputEnd,
    /// Whether the device is a `net_memif` device.
    memif: bool,
    steering: String,
    /// The device's counters when the port opened.
    at_open: DeviceStats,
    /// The device's counters when last read with the link up.
    last: Mutex<DeviceStats>,
}

impl DpdkNetPort {
    /// Takes receive queue `q`, ending as the process's end-of-input decides.
    pub fn rx(&mut self, q: usize) -> Result<Box<dyn RxQueue>> {
        let queue = self.port.take_rx_queue(q)?;
        Ok(Box::new(EndingRxQueue::new(queue, self.end.clone())))
    }

    /// Takes transmit queue `q`.
    pub fn tx(&mut self, q: usize) -> Result<Box<dyn TxQueue>> {
        Ok(self.port.take_tx_queue(q)?)
    }

    /// The queues' counters.
    pub fn stats(&self) -> PortStats {
        self.port.stats()
    }

    /// The device's counters since the port opened. A `net_memif` device clears its
    /// counters when its peer leaves: then these are the last read with the link up.
    pub fn device_report(&self) -> DeviceReport {
        let now = self.read_device();
        let s = since(&now, &self.at_open);
        DeviceReport {
            device: self.port.device_name().to_string(),
            steering: self.steering.clone(),
            rx_packets: s.rx_packets,
            rx_bytes: s.rx_bytes,
            tx_packets: s.tx_packets,
            tx_bytes: s.tx_bytes,
            dropped: s
                .drops()
                .iter()
                .map(|(reason, n)| (reason.name().to_string(), *n))
                .collect(),
        }
    }

    /// The device's counters now, or on a `net_memif` device whose peer left, the
    /// last read while it was there.
    pub fn read_device(&self) -> DeviceStats {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if !self.memif || self.port.link_up() {
            if let Ok(now) = self.port.device_stats() {
                *last = now;
            }
        }
        *last
    }

    /// Called once the stage sent its last frame on the port. On `net_memif`, frames
    /// the peer has not read yet sit in rings of shared memory that is freed when
    /// either side leaves: waits until the peer closed the link (it has read
    /// everything and ended), at most [`LINGER`] or until a stop. Other devices
    /// return at once: a NIC sends what its ring holds by itself.
    pub fn wait_until_read(&self, stage: &str, spec: &PortSpec) {
        if !self.memif {
            return;
        }
        let start = Instant::now();
        while self.port.link_up() && !self.end.is_stopped() {
            if start.elapsed() >= LINGER {
                eprintln!(
                    "das {stage}: warning: {spec}: the peer still holds the link after {} s; \
                     closing it (frames it has not read yet are lost, uncounted)",
                    LINGER.as_secs()
                );
                return;
            }
            std::thread::sleep(POLL);
            self.read_device();
        }
        if !self.port.link_up() {
            std::thread::sleep(DISCONNECT_GRACE);
        }
    }
}

/// `now` less `start`, counter by counter (a device reset counts from zero).
fn since(now: &DeviceStats, start: &DeviceStats) -> DeviceStats {
    let d = |a: u64, b: u64| if a >= b { a - b } else { a };
    DeviceStats {
        rx_packets: d(now.rx_packets, start.rx_packets),
        rx_bytes: d(now.rx_bytes, start.rx_bytes),
        tx_packets: d(now.tx_packets, start.tx_packets),
        tx_bytes: d(now.tx_bytes, start.tx_bytes),
        rx_missed: d(now.rx_missed, start.rx_missed),
        rx_no_mbuf: d(now.rx_no_mbuf, start.rx_no_mbuf),
        rx_errors: d(now.rx_errors, start.rx_errors),
        tx_errors: d(now.tx_errors, start.tx_errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_rules_put_each_copy_on_its_queue() {
        let rules = das_queue_rules("in", 2);
        assert_eq!(rules.port, "in");
        for node in [0u8, 7] {
            for queue in [0u8, 1] {
                let mut frame = vec![0u8; 60];
                frame[..6].copy_from_slice(&[0x02, 0x44, 0x41, 0x53, node, queue]);
                frame[12..14].copy_from_slice(&ETHERTYPE_NSH.to_be_bytes());
                assert_eq!(rules.queue_for(&frame), Some(u16::from(queue)));
                frame[12] = 0x08;
                assert_eq!(rules.queue_for(&frame), None, "not a das frame");
            }
        }
        // A notice frame (queue byte 2, its own EtherType) matches no rule.
        let mut notice = vec![0u8; 60];
        notice[..6].copy_from_slice(&[0x02, 0x44, 0x41, 0x53, 0, 2]);
        notice[12..14].copy_from_slice(&0x88B5u16.to_be_bytes());
        assert_eq!(rules.queue_for(&notice), None);
    }

    #[test]
    fn queue_counts_the_stage_needs_are_explained() {
        let port = |rx_queues, tx_queues| PortConfig {
            name: "dup".into(),
            device: Device::Vdev("net_memif0".into()),
            rx_queues,
            tx_queues,
            rx_descriptors: 512,
            tx_descriptors: 512,
            mbufs: 2047,
            rss_key: dataplane::dpdk_config::RssKey::Symmetric,
            mtu: 1500,
        };
        let spec = PortSpec::Dpdk("dup".into());
        let file = Path::new("ids0/ports.toml");
        let check = |config: &PortConfig, rx, tx| {
            check_queues(&spec, config, rx, tx, file).map_err(|e| e.to_string())
        };
        assert!(check(&port(2, 1), RxLayout::DasQueues(2), 0).is_ok());
        assert!(check(&port(1, 2), RxLayout::Notices, 2).is_ok());
        assert!(check(&port(1, 4), RxLayout::None, 2).is_ok());
        assert_eq!(
            check(&port(1, 1), RxLayout::DasQueues(2), 0).unwrap_err(),
            "dpdk:dup: the port has 1 receive queue, and this stage reads 2 (primaries on \
             queue 0, duplicates on 1): set rx_queues = 2 for it in ids0/ports.toml"
        );
        assert!(
            check(&port(2, 2), RxLayout::Notices, 2)
                .unwrap_err()
                .contains("reads 1 (completion notices): set rx_queues = 1")
        );
        assert!(check(&port(1, 1), RxLayout::None, 2).unwrap_err().contains(
            "the port has 1 transmit queue, and this stage sends on 2: set tx_queues = 2"
        ));
    }

    #[test]
    fn memif_roles_come_from_the_vdev_arguments() {
        let eal = EalConfig {
            vdevs: vec![
                "net_memif0,role=server,socket=/tmp/a.sock".into(),
                "net_memif1,socket=/tmp/b.sock".into(),
                "net_ring0".into(),
            ],
            ..EalConfig::default()
        };
        let vdev = |name: &str| Device::Vdev(name.into());
        assert_eq!(memif_role(&eal, &vdev("net_memif0")), Some("server"));
        assert_eq!(memif_role(&eal, &vdev("net_memif1")), Some("client"));
        assert_eq!(memif_role(&eal, &vdev("net_ring0")), None);
        assert_eq!(memif_role(&eal, &vdev("net_memif9")), None);
    }
}
