//! MAC addresses and masks as the configuration files and dpdk-testpmd write them.

use std::fmt;
use std::str::FromStr;

/// A 48-bit MAC address or mask, written `02:44:41:53:00:01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The all-ones mask: every bit must match.
    pub const FULL_MASK: MacAddr = MacAddr([0xff; 6]);

    /// The six bytes.
    pub fn octets(self) -> [u8; 6] {
        self.0
    }
}

/// A string that is not six colon-separated hex bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a MAC address (six hex bytes separated by colons, such as 02:44:41:53:00:01)"
)]
pub struct BadMac(pub String);

impl FromStr for MacAddr {
    type Err = BadMac;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadMac(s.to_string());
        let mut bytes = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut bytes {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(bytes))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::MacAddr;

    #[test]
    fn parses_and_prints_lower_case() {
        let mac: MacAddr = "02:44:41:53:FF:0a".parse().unwrap();
        assert_eq!(mac.octets(), [0x02, 0x44, 0x41, 0x53, 0xff, 0x0a]);
        assert_eq!(mac.to_string(), "02:44:41:53:ff:0a");
    }

    #[test]
    fn rejects_anything_else() {
        for s in [
            "",
            "02:44:41:53:00",
            "02:44:41:53:00:01:02",
            "02-44-41-53-00-01",
            "2:44:41:53:00:01",
            "02:44:41:53:00:0g",
            "02:44:41:53:00:+1",
            "024441530001",
        ] {
            assert!(s.parse::<MacAddr>().is_err(), "{s:?} parsed");
        }
    }
}
