//! What a port is backed by: a DPDK virtual device or a PCI function.

use std::fmt;
use std::str::FromStr;

/// The device behind a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Device {
    /// A virtual device created by the EAL's `--vdev` option (`net_ring0`,
    /// `net_memif0`, ...): the name without its `,key=value` arguments.
    Vdev(String),
    /// A NIC's PCI function, in the form `0000:03:00.0`.
    Pci(PciAddress),
}

impl Device {
    /// Reads a device string: a PCI address if it looks like one (starts with a digit
    /// or holds `:` or `.`), else a virtual device name.
    pub fn parse(s: &str) -> Result<Device, String> {
        let looks_pci = s.starts_with(|c: char| c.is_ascii_digit()) || s.contains([':', '.']);
        if looks_pci {
            return s.parse().map(Device::Pci);
        }
        if vdev_name_ok(s) {
            Ok(Device::Vdev(s.to_string()))
        } else {
            Err(format!(
                "`{s}` is neither a virtual device name (letters, digits and `_`, such as \
                 net_ring0) nor a PCI address (such as 0000:03:00.0)"
            ))
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Vdev(name) => f.write_str(name),
            Device::Pci(addr) => addr.fmt(f),
        }
    }
}

/// Whether `name` is usable as a virtual device name: a letter, then letters, digits
/// and `_`.
pub(crate) fn vdev_name_ok(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A PCI address `domain:bus:device.function`, written `0000:03:00.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciAddress {
    /// PCI domain (segment), four hex digits.
    pub domain: u16,
    /// Bus, two hex digits.
    pub bus: u8,
    /// Device, two hex digits, at most 0x1f.
    pub device: u8,
    /// Function, 0 to 7.
    pub function: u8,
}

impl FromStr for PciAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` does not look like a PCI address: write domain:bus:device.function \
                 in hex, such as 0000:03:00.0"
            )
        };
        let hex = |part: &str, digits: usize| -> Option<u16> {
            (part.len() == digits && part.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u16::from_str_radix(part, 16).ok())
                .flatten()
        };
        let (domain, rest) = s.split_once(':').ok_or_else(bad)?;
        let (bus, rest) = rest.split_once(':').ok_or_else(bad)?;
        let (device, function) = rest.split_once('.').ok_or_else(bad)?;
        let domain = hex(domain, 4).ok_or_else(bad)?;
        let bus = hex(bus, 2).ok_or_else(bad)? as u8;
        let device = hex(device, 2).ok_or_else(bad)? as u8;
        let function = hex(function, 1).ok_or_else(bad)? as u8;
        if device > 0x1f {
            return Err(format!(
                "`{s}` is not a PCI address: the device number is at most 1f"
            ));
        }
        if function > 7 {
            return Err(format!(
                "`{s}` is not a PCI address: the function number is at most 7"
            ));
        }
        Ok(PciAddress {
            domain,
            bus,
            device,
            function,
        })
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Device, PciAddress};

    #[test]
    fn pci_addresses_round_trip() {
        for s in ["0000:03:00.0", "0001:af:1f.7", "ffff:00:00.1"] {
            let addr: PciAddress = s.parse().unwrap();
            assert_eq!(addr.to_string(), s);
        }
    }

    #[test]
    fn malformed_pci_addresses_are_refused() {
        for s in [
            "03:00.0",
            "0:03:00.0",
            "0000:3:00.0",
            "0000:03:00",
            "0000:03:00.8",
            "0000:03:20.0",
            "0000:03:00.0.1",
            "0000:03:0g.0",
            "0000-03-00.0",
        ] {
            assert!(s.parse::<PciAddress>().is_err(), "{s:?} parsed");
            assert!(Device::parse(s).is_err(), "{s:?} parsed as a device");
        }
    }

    #[test]
    fn devices_are_told_apart() {
        assert_eq!(
            Device::parse("net_ring_node0"),
            Ok(Device::Vdev("net_ring_node0".into()))
        );
        assert!(matches!(Device::parse("0000:03:00.0"), Ok(Device::Pci(_))));
        assert!(Device::parse("net ring").is_err());
        assert!(Device::parse("").is_err());
        assert!(Device::parse("net_memif0,role=server").is_err());
    }
}
