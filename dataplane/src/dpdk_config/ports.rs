//! `ports.toml`: the ethdev ports, their queues, descriptor rings and mbuf pools.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::device::Device;
use super::error::{ConfigError, Source, read};
use crate::flow::{RSS_KEY_LEN, SYMMETRIC_RSS_KEY};

/// Descriptors per ring when the file names none.
pub const DEFAULT_DESCRIPTORS: u16 = 1024;
/// Mbufs per port pool when the file names none (2^n - 1, the size mempools like).
pub const DEFAULT_MBUFS: u32 = 8191;
/// MTU when the file names none.
pub const DEFAULT_MTU: u16 = 1500;
/// Most queues DPDK gives one port (`RTE_MAX_QUEUES_PER_PORT`).
pub const MAX_QUEUES: u16 = 1024;
/// Smallest MTU accepted (the IPv4 minimum).
pub const MIN_MTU: u16 = 68;

/// `ports.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortsFile {
    #[serde(default)]
    port: Vec<PortEntry>,
}

/// One `[[port]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortEntry {
    name: Spanned<String>,
    device: Spanned<String>,
    rx_queues: Spanned<u16>,
    tx_queues: Spanned<u16>,
    rx_descriptors: Option<Spanned<u16>>,
    tx_descriptors: Option<Spanned<u16>>,
    mbufs: Option<Spanned<u32>>,
    rss_key: Option<Spanned<String>>,
    mtu: Option<Spanned<u16>>,
}

/// The ports of one DPDK process, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortsConfig {
    /// Every port, in the order the file lists them.
    pub ports: Vec<PortConfig>,
}

/// One ethdev port: what `rte_eth_dev_configure`, the queue setup calls and the mbuf
/// pool need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// The name stages and flow rules use for the port (unique).
    pub name: String,
    /// The virtual device or PCI function behind it.
    pub device: Device,
    /// Receive queues (for an IDS node: 0 primaries, 1 duplicates).
    pub rx_queues: u16,
    /// Transmit queues.
    pub tx_queues: u16,
    /// Descriptors per receive ring (a power of two).
    pub rx_descriptors: u16,
    /// Descriptors per transmit ring (a power of two).
    pub tx_descriptors: u16,
    /// Mbufs in the port's pool.
    pub mbufs: u32,
    /// The RSS hash key.
    pub rss_key: RssKey,
    /// MTU in bytes (the frame without its Ethernet header).
    pub mtu: u16,
}

/// An RSS (Toeplitz) hash key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RssKey {
    /// `0x6d5a` repeated ([`SYMMETRIC_RSS_KEY`]): both directions of a flow land on
    /// the same queue. Written `"symmetric"`.
    Symmetric,
    /// Any other 40-byte key, written as 80 hex digits.
    Explicit([u8; RSS_KEY_LEN]),
}

impl RssKey {
    /// The key's bytes.
    pub fn bytes(&self) -> [u8; RSS_KEY_LEN] {
        match self {
            RssKey::Symmetric => SYMMETRIC_RSS_KEY,
            RssKey::Explicit(key) => *key,
        }
    }

    /// Reads `"symmetric"` or 80 hex digits.
    pub fn parse(s: &str) -> Result<RssKey, String> {
        if s == "symmetric" {
            return Ok(RssKey::Symmetric);
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!(
                "`{c}` is not a hex digit: write \"symmetric\" or the {RSS_KEY_LEN}-byte key \
                 as {} hex digits",
                RSS_KEY_LEN * 2
            ));
        }
        if s.len() != RSS_KEY_LEN * 2 {
            return Err(format!(
                "the key has {} hex digits ({} bytes); an RSS key is {RSS_KEY_LEN} bytes, \
                 {} hex digits",
                s.len(),
                s.len() as f64 / 2.0,
                RSS_KEY_LEN * 2
            ));
        }
        let mut key = [0u8; RSS_KEY_LEN];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(RssKey::Explicit(key))
    }
}

impl fmt::Display for RssKey {
    /// `symmetric`, or the key in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RssKey::Symmetric => f.write_str("symmetric"),
            RssKey::Explicit(key) => key.iter().try_for_each(|b| write!(f, "{b:02x}")),
        }
    }
}

impl PortsConfig {
    /// Reads and validates a `ports.toml` file.
    pub fn load(file: impl AsRef<Path>) -> Result<PortsConfig, ConfigError> {
        let file = file.as_ref();
        PortsConfig::parse(&read(file)?, file)
    }

    /// Validates the text of a `ports.toml` file; `file` names it in errors.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<PortsConfig, ConfigError> {
        parse_located(text, file.as_ref()).map(|(ports, _)| ports)
    }

    /// The port called `name`.
    pub fn get(&self, name: &str) -> Option<&PortConfig> {
        self.ports.iter().find(|p| p.name == name)
    }
}

/// Where each port's values sit in the file, for checks against the other files.
pub(crate) struct PortLines {
    /// Line of each port's `device`, in port order.
    pub(crate) device: Vec<usize>,
}

/// Validates `ports.toml`, also returning the lines the cross-file checks report.
pub(crate) fn parse_located(
    text: &str,
    file: &Path,
) -> Result<(PortsConfig, PortLines), ConfigError> {
    let src = Source { file, text };
    let raw: PortsFile = src.parse()?;
    if raw.port.is_empty() {
        return Err(src.invalid(0..0, "port", "no ports: add a [[port]] table for each port"));
    }
    let mut ports: Vec<PortConfig> = Vec::with_capacity(raw.port.len());
    let mut lines = PortLines { device: Vec::new() };
    for (i, entry) in raw.port.into_iter().enumerate() {
        let port = validate_port(&src, i, &entry, &ports)?;
        lines.device.push(src.line(entry.device.span()));
        ports.push(port);
    }
    Ok((PortsConfig { ports }, lines))
}

fn validate_port(
    src: &Source<'_>,
    i: usize,
    e: &PortEntry,
    earlier: &[PortConfig],
) -> Result<PortConfig, ConfigError> {
    let field = |name: &str| format!("port[{i}].{name}");
    let name = e.name.get_ref();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(src.invalid(
            e.name.span(),
            field("name"),
            format!("`{name}` is not a port name: use letters, digits, `_` and `-`"),
        ));
    }
    if earlier.iter().any(|p| &p.name == name) {
        return Err(src.invalid(
            e.name.span(),
            field("name"),
            format!("port name `{name}` is used twice"),
        ));
    }
    let device = Device::parse(e.device.get_ref())
        .map_err(|m| src.invalid(e.device.span(), field("device"), m))?;
    if let Some(other) = earlier.iter().find(|p| p.device == device) {
        return Err(src.invalid(
            e.device.span(),
            field("device"),
            format!("device `{device}` already backs port `{}`", other.name),
        ));
    }
    for (q, what) in [(&e.rx_queues, "rx_queues"), (&e.tx_queues, "tx_queues")] {
        let n = *q.get_ref();
        if n == 0 || n > MAX_QUEUES {
            return Err(src.invalid(
                q.span(),
                field(what),
                format!("{n} queues: a port needs 1 to {MAX_QUEUES}"),
            ));
        }
    }
    let mut descriptors = [DEFAULT_DESCRIPTORS; 2];
    for (slot, (d, what)) in descriptors.iter_mut().zip([
        (&e.rx_descriptors, "rx_descriptors"),
        (&e.tx_descriptors, "tx_descriptors"),
    ]) {
        if let Some(d) = d {
            let n = *d.get_ref();
            if !n.is_power_of_two() {
                return Err(src.invalid(
                    d.span(),
                    field(what),
                    format!(
                        "{n} descriptors: ring sizes must be a power of two, such as 512, \
                         1024 or 2048"
                    ),
                ));
            }
            *slot = n;
        }
    }
    let [rx_descriptors, tx_descriptors] = descriptors;
    let rx_queues = *e.rx_queues.get_ref();
    let mbufs = e.mbufs.as_ref().map_or(DEFAULT_MBUFS, |m| *m.get_ref());
    let ring_fill = u32::from(rx_queues) * u32::from(rx_descriptors);
    if mbufs <= ring_fill {
        let span = e.mbufs.as_ref().map_or(e.name.span(), |m| m.span());
        return Err(src.invalid(
            span,
            field("mbufs"),
            format!(
                "{mbufs} mbufs cannot fill the receive rings ({rx_queues} queues × \
                 {rx_descriptors} descriptors = {ring_fill}) and leave any to carry packets"
            ),
        ));
    }
    let rss_key = match &e.rss_key {
        Some(k) => {
            RssKey::parse(k.get_ref()).map_err(|m| src.invalid(k.span(), field("rss_key"), m))?
        }
        None => RssKey::Symmetric,
    };
    let mtu = e.mtu.as_ref().map_or(DEFAULT_MTU, |m| *m.get_ref());
    if mtu < MIN_MTU {
        let span = e.mtu.as_ref().map_or(0..0, |m| m.span());
        return Err(src.invalid(
            span,
            field("mtu"),
            format!("MTU {mtu} is below {MIN_MTU}, the least IPv4 allows"),
        ));
    }
    Ok(PortConfig {
        name: name.clone(),
        device,
        rx_queues,
        tx_queues: *e.tx_queues.get_ref(),
        rx_descriptors,
        tx_descriptors,
        mbufs,
        rss_key,
        mtu,
    })
}

#[cfg(test)]
mod tests {
    use super::RssKey;
    use crate::flow::SYMMETRIC_RSS_KEY;

    #[test]
    fn rss_keys() {
        assert_eq!(RssKey::parse("symmetric"), Ok(RssKey::Symmetric));
        assert_eq!(RssKey::Symmetric.bytes(), SYMMETRIC_RSS_KEY);
        let hex = "6d5a".repeat(20);
        assert_eq!(RssKey::parse(&hex), Ok(RssKey::Explicit(SYMMETRIC_RSS_KEY)));
        assert_eq!(RssKey::Explicit(SYMMETRIC_RSS_KEY).to_string(), hex);
        let short = RssKey::parse(&"6d5a".repeat(13)).unwrap_err();
        assert!(short.contains("52 hex digits (26 bytes)"), "{short}");
        assert!(RssKey::parse(&"6d5a".repeat(21)).is_err());
        assert!(RssKey::parse("0x6d5a").is_err());
        assert!(RssKey::parse("Symmetric").is_err());
    }
}
