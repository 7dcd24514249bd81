//! The DPDK configuration folder (`dpdk-config/` at the top of the repository): EAL
//! arguments, ports and the flow rules that steer duplicates, read, validated and
//! turned into what DPDK and its tools take.
//!
//! - [`EalConfig`] (`eal.toml`): the EAL's options; [`EalConfig::args`] is the exact
//!   `argv` for `rte_eal_init`.
//! - [`PortsConfig`] (`ports.toml`): one [`PortConfig`] per ethdev port (device,
//!   queues, descriptor rings, mbuf pool, [`RssKey`], MTU).
//! - [`FlowRules`] (`flow-rules.toml`): matches on the outer destination MAC
//!   `02:44:41:53:NN:QQ` (see `docs/METADATA.md`) and the EtherType that send each
//!   copy to the queue its header names. [`FlowRules::testpmd_commands`] renders them
//!   for `dpdk-testpmd`; [`FlowRules::queue_for`] evaluates them in software, for
//!   ports whose driver has no rte_flow support (every virtual device).
//!
//! [`DpdkConfig::load`] reads the three files of a folder and checks them against each
//! other. Every error names the file and the line ([`ConfigError`]).

mod device;
mod eal;
mod error;
mod flow_rules;
mod mac;
mod ports;

use std::path::Path;

pub use device::{Device, PciAddress};
pub use eal::{DEFAULT_PROGRAM, EalConfig};
pub use error::ConfigError;
pub use flow_rules::{FlowRule, FlowRules, MacMatch};
pub use mac::{BadMac, MacAddr};
pub use ports::{
    DEFAULT_DESCRIPTORS, DEFAULT_MBUFS, DEFAULT_MTU, MAX_QUEUES, MIN_MTU, PortConfig, PortsConfig,
    RssKey,
};

use error::read;

/// File name of the EAL settings in a configuration folder.
pub const EAL_FILE: &str = "eal.toml";
/// File name of the port list in a configuration folder.
pub const PORTS_FILE: &str = "ports.toml";
/// File name of the steering rules in a configuration folder.
pub const FLOW_RULES_FILE: &str = "flow-rules.toml";

/// A configuration folder's three files, each valid and consistent with the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkConfig {
    /// `eal.toml`.
    pub eal: EalConfig,
    /// `ports.toml`.
    pub ports: PortsConfig,
    /// `flow-rules.toml`.
    pub flow_rules: FlowRules,
}

impl DpdkConfig {
    /// Reads [`EAL_FILE`], [`PORTS_FILE`] and [`FLOW_RULES_FILE`] from `dir`, validates
    /// each, and checks them against each other: every virtual device a port uses is
    /// created by `eal.toml`, no PCI port runs under `no_pci`, the rules' port exists
    /// and every rule's queue is one of its receive queues.
    pub fn load(dir: impl AsRef<Path>) -> Result<DpdkConfig, ConfigError> {
        let dir = dir.as_ref();
        let eal_file = dir.join(EAL_FILE);
        let eal = EalConfig::parse(&read(&eal_file)?, &eal_file)?;
        let ports_file = dir.join(PORTS_FILE);
        let (ports, port_lines) = ports::parse_located(&read(&ports_file)?, &ports_file)?;
        let rules_file = dir.join(FLOW_RULES_FILE);
        let (flow_rules, rule_lines) = flow_rules::parse_located(&read(&rules_file)?, &rules_file)?;

        let invalid =
            |file: &Path, line: usize, field: String, message: String| ConfigError::Invalid {
                file: file.to_path_buf(),
                line,
                field,
                message,
            };
        for (i, port) in ports.ports.iter().enumerate() {
            let line = port_lines.device[i];
            match &port.device {
                Device::Vdev(name) if !eal.vdev_names().any(|v| v == name) => {
                    return Err(invalid(
                        &ports_file,
                        line,
                        format!("port[{i}].device"),
                        format!(
                            "virtual device `{name}` is not created by {EAL_FILE}: add it to \
                             its vdevs"
                        ),
                    ));
                }
                Device::Pci(addr) if eal.no_pci => {
                    return Err(invalid(
                        &ports_file,
                        line,
                        format!("port[{i}].device"),
                        format!(
                            "PCI device {addr} cannot be used while {EAL_FILE} sets no_pci = \
                             true"
                        ),
                    ));
                }
                _ => {}
            }
        }
        let Some(port) = ports.get(&flow_rules.port) else {
            return Err(invalid(
                &rules_file,
                rule_lines.port,
                "port".to_string(),
                format!(
                    "no port `{}` in {PORTS_FILE} (its ports: {})",
                    flow_rules.port,
                    ports
                        .ports
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        for (i, rule) in flow_rules.rules.iter().enumerate() {
            if rule.queue >= port.rx_queues {
                return Err(invalid(
                    &rules_file,
                    rule_lines.queue[i],
                    format!("rule[{i}].queue"),
                    format!(
                        "queue {} does not exist: port `{}` has {} receive queue{} (0 to {})",
                        rule.queue,
                        port.name,
                        port.rx_queues,
                        if port.rx_queues == 1 { "" } else { "s" },
                        port.rx_queues - 1
                    ),
                ));
            }
        }
        Ok(DpdkConfig {
            eal,
            ports,
            flow_rules,
        })
    }

    /// The DPDK port id the port called `name` will get, assuming the EAL probes only
    /// the devices these files name: PCI ports first, in address order, then virtual
    /// devices in the order of `eal.toml`'s vdevs. Confirm with testpmd's
    /// `show port summary all` when other devices are bound to DPDK.
    pub fn port_id(&self, name: &str) -> Option<u16> {
        let ports = &self.ports.ports;
        let mut pci: Vec<(PciAddress, &str)> = Vec::new();
        let mut vdev: Vec<(usize, &str)> = Vec::new();
        for p in ports {
            match &p.device {
                Device::Pci(addr) => pci.push((*addr, &p.name)),
                Device::Vdev(v) => {
                    let pos = self.eal.vdev_names().position(|n| n == v);
                    vdev.push((pos.unwrap_or(usize::MAX), &p.name));
                }
            }
        }
        pci.sort();
        vdev.sort();
        pci.iter()
            .map(|(_, n)| *n)
            .chain(vdev.iter().map(|(_, n)| *n))
            .position(|n| n == name)
            .and_then(|i| u16::try_from(i).ok())
    }
}
