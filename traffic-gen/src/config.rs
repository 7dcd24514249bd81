//! What to generate: [`GenConfig`] and its checks.

use crate::attacks::{AttackKind, Protocol};
use crate::error::GenError;
use crate::hosts::{MAX_CLIENTS, MAX_SERVERS};
use crate::mix::SizeMix;

/// 2024-01-01T00:00:00Z in nanoseconds since the Unix epoch: the default start.
pub const DEFAULT_START_NS: u64 = 1_704_067_200_000_000_000;

/// Relative weights of the protocols of benign flows (any non-negative numbers; only
/// their ratios matter).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtocolWeights {
    /// HTTP/1.1 connections to port 80.
    pub http: f64,
    /// TLS connections to port 443.
    pub tls: f64,
    /// DNS exchanges over UDP port 53.
    pub dns: f64,
    /// Ping sessions (ICMP or ICMPv6 echo).
    pub icmp: f64,
}

impl Default for ProtocolWeights {
    /// HTTP 35, TLS 30, DNS 30, ICMP 5.
    fn default() -> Self {
        ProtocolWeights {
            http: 35.0,
            tls: 30.0,
            dns: 30.0,
            icmp: 5.0,
        }
    }
}

impl ProtocolWeights {
    /// The weight of `p`.
    pub fn get(&self, p: Protocol) -> f64 {
        match p {
            Protocol::Http => self.http,
            Protocol::Tls => self.tls,
            Protocol::Dns => self.dns,
            Protocol::Icmp => self.icmp,
        }
    }

    /// Weights of only `p` (the others zero).
    pub fn only(p: Protocol) -> ProtocolWeights {
        let mut w = ProtocolWeights {
            http: 0.0,
            tls: 0.0,
            dns: 0.0,
            icmp: 0.0,
        };
        match p {
            Protocol::Http => w.http = 1.0,
            Protocol::Tls => w.tls = 1.0,
            Protocol::Dns => w.dns = 1.0,
            Protocol::Icmp => w.icmp = 1.0,
        }
        w
    }
}

/// Everything the generator needs; `Default` gives a small, realistic mixed capture.
///
/// Deserialisable (for example from TOML or JSON) with every field optional:
///
/// ```
/// let cfg: traffic_gen::GenConfig = serde_json::from_str(
///     r#"{ "seed": 7, "flows": 500, "size_mix": "imix", "attack_fraction": 0.05,
///          "protocols": { "http": 1, "dns": 1, "tls": 0, "icmp": 0 } }"#,
/// ).unwrap();
/// cfg.validate().unwrap();
/// assert_eq!(cfg.size_mix, traffic_gen::SizeMix::imix());
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenConfig {
    /// Seed of every random choice: the same configuration gives the same bytes.
    pub seed: u64,
    /// Number of flows (TCP connections, DNS exchanges, ping sessions) to generate.
    pub flows: u64,
    /// Mean rate of new flows per second; flows start at Poisson-process times.
    pub flow_rate: f64,
    /// Fraction of flows carried over IPv6, in `0..=1`.
    pub ipv6_share: f64,
    /// Relative weights of the protocols of benign flows.
    pub protocols: ProtocolWeights,
    /// Frame lengths of data-bearing packets (see [`SizeMix`]).
    pub size_mix: SizeMix,
    /// Fraction of flows, in `0..=1`, that carry an attack from `attacks`. The attack
    /// decides the flow's protocol; `protocols` applies to the remaining flows.
    pub attack_fraction: f64,
    /// The attacks to plant, chosen uniformly per attack flow (default: all).
    pub attacks: Vec<AttackKind>,
    /// Time of the first possible packet, in nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// Number of client hosts.
    pub clients: u32,
    /// Number of web servers (DNS resolvers come on top).
    pub servers: u32,
}

impl Default for GenConfig {
    /// Seed 1, 1000 flows at 100 per second (about ten seconds of traffic), 20 % IPv6,
    /// [`ProtocolWeights::default`], the natural size mix, no attacks (all enabled for
    /// when a fraction is set), starting 2024-01-01T00:00:00Z, 200 clients, 50 servers.
    fn default() -> Self {
        GenConfig {
            seed: 1,
            flows: 1000,
            flow_rate: 100.0,
            ipv6_share: 0.2,
            protocols: ProtocolWeights::default(),
            size_mix: SizeMix::natural(),
            attack_fraction: 0.0,
            attacks: AttackKind::ALL.to_vec(),
            start_ns: DEFAULT_START_NS,
            clients: 200,
            servers: 50,
        }
    }
}

impl GenConfig {
    /// Checks every field, explaining the first problem found.
    pub fn validate(&self) -> Result<(), GenError> {
        if self.flows == 0 {
            return Err(GenError::NoFlows);
        }
        if !(self.flow_rate.is_finite() && self.flow_rate > 0.0) {
            return Err(GenError::InvalidRate(self.flow_rate));
        }
        for (field, value) in [
            ("ipv6_share", self.ipv6_share),
            ("attack_fraction", self.attack_fraction),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(GenError::ShareOutOfRange { field, value });
            }
        }
        for p in Protocol::ALL {
            let value = self.protocols.get(p);
            if !(value.is_finite() && value >= 0.0) {
                return Err(GenError::InvalidWeight {
                    field: p.name(),
                    value,
                });
            }
        }
        let benign_needed = self.attack_fraction < 1.0;
        if benign_needed && Protocol::ALL.iter().all(|&p| self.protocols.get(p) == 0.0) {
            return Err(GenError::NoProtocols);
        }
        self.size_mix.validate()?;
        if self.attack_fraction > 0.0 && self.attacks.is_empty() {
            return Err(GenError::NoAttacks(self.attack_fraction));
        }
        for (field, value, max) in [
            ("clients", self.clients, MAX_CLIENTS),
            ("servers", self.servers, MAX_SERVERS),
        ] {
            if value == 0 || value > max {
                return Err(GenError::HostCount { field, value, max });
            }
        }
        // Leave room for the run: flows / rate seconds plus a generous tail.
        let span_s = self.flows as f64 / self.flow_rate + 3_600.0;
        if span_s * 1e9 >= (u64::MAX - self.start_ns) as f64 {
            return Err(GenError::StartTooLate(self.start_ns));
        }
        Ok(())
    }

    /// Integer weights (parts per million) of the benign protocols, in
    /// [`Protocol::ALL`] order.
    pub(crate) fn protocol_weights(&self) -> [u64; 4] {
        let total: f64 = Protocol::ALL.iter().map(|&p| self.protocols.get(p)).sum();
        Protocol::ALL.map(|p| {
            let w = self.protocols.get(p);
            if w > 0.0 {
                ((w / total * 1e6) as u64).max(1)
            } else {
                0
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        GenConfig::default().validate().unwrap();
    }

    #[test]
    fn bad_values_are_explained() {
        let check = |f: &dyn Fn(&mut GenConfig), want: &str| {
            let mut c = GenConfig::default();
            f(&mut c);
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        };
        check(&|c| c.flows = 0, "flows must be at least 1");
        check(&|c| c.flow_rate = 0.0, "flow_rate");
        check(&|c| c.flow_rate = f64::NAN, "flow_rate");
        check(
            &|c| c.ipv6_share = 1.5,
            "ipv6_share must lie between 0 and 1",
        );
        check(&|c| c.attack_fraction = -0.1, "attack_fraction");
        check(&|c| c.protocols.dns = -1.0, "`dns`");
        check(
            &|c| c.protocols = ProtocolWeights::only(Protocol::Http).scaled(0.0),
            "all zero",
        );
        check(
            &|c| {
                c.attack_fraction = 0.5;
                c.attacks.clear();
            },
            "attacks is empty",
        );
        check(&|c| c.clients = 0, "clients must be between 1 and");
        check(&|c| c.servers = 100_000, "servers must be between 1 and");
        check(&|c| c.start_ns = u64::MAX - 5, "too late");
    }

    #[test]
    fn all_attacks_need_no_benign_protocol() {
        let c = GenConfig {
            attack_fraction: 1.0,
            protocols: ProtocolWeights::only(Protocol::Icmp).scaled(0.0),
            ..GenConfig::default()
        };
        c.validate().unwrap();
    }

    #[test]
    fn deserialises_with_defaults() {
        let c: GenConfig =
            serde_json::from_str(r#"{"flows": 5, "attacks": ["xss", "eicar"]}"#).unwrap();
        assert_eq!(c.flows, 5);
        assert_eq!(c.attacks, vec![AttackKind::Xss, AttackKind::Eicar]);
        assert_eq!(c.seed, GenConfig::default().seed);
        assert!(serde_json::from_str::<GenConfig>(r#"{"flowz": 5}"#).is_err());
        assert!(serde_json::from_str::<GenConfig>(r#"{"size_mix": "12:1"}"#).is_err());
        let round = serde_json::to_string(&GenConfig::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<GenConfig>(&round).unwrap(),
            GenConfig::default()
        );
    }

    impl ProtocolWeights {
        fn scaled(mut self, k: f64) -> Self {
            self.http *= k;
            self.tls *= k;
            self.dns *= k;
            self.icmp *= k;
            self
        }
    }
}
