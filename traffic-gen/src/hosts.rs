//! The simulated hosts: clients in private address space, web servers and DNS resolvers
//! in documentation ranges, each with one MAC address, one IPv4 and one IPv6 address, an
//! operating-system profile (TTL, TCP options) and, for servers, a name and a distance.
//!
//! The capture point is taken to be on the clients' side of the network: client frames
//! show their initial TTL, server frames a TTL reduced by the hops between, and server
//! packets arrive one round-trip time after the client packet they answer.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::frame::Mac;
use crate::rng::Rng;

/// Most clients the address plan hands out.
pub const MAX_CLIENTS: u32 = 65_536;
/// Most web servers: three documentation /24s, less the resolvers' addresses.
pub const MAX_SERVERS: u32 = 3 * 253;

/// Operating-system profile of a host: what its TCP/IP stack puts in headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Os {
    Linux,
    Windows,
    Mac,
}

impl Os {
    pub(crate) fn initial_ttl(self) -> u8 {
        match self {
            Os::Windows => 128,
            Os::Linux | Os::Mac => 64,
        }
    }

    /// Ephemeral port range.
    fn ports(self) -> (u16, u16) {
        match self {
            Os::Linux => (32768, 60999),
            Os::Windows | Os::Mac => (49152, 65535),
        }
    }
}

/// One simulated host.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub mac: Mac,
    pub v4: Ipv4Addr,
    pub v6: Ipv6Addr,
    pub os: Os,
    /// IPv4 TTL / IPv6 hop limit as seen at the capture point.
    pub ttl: u8,
    /// Host name (servers only).
    pub name: String,
    /// Round-trip time between the capture point and this host (servers only).
    pub base_rtt_ns: u64,
}

/// All hosts of a run, and each client's ephemeral-port cursor.
#[derive(Debug, Clone)]
pub(crate) struct Hosts {
    pub clients: Vec<Host>,
    pub web: Vec<Host>,
    pub resolvers: Vec<Host>,
    next_port: Vec<u16>,
}

const NAME_PREFIXES: &[&str] = &[
    "www", "api", "cdn", "static", "img", "shop", "mail", "news", "blog", "docs", "login", "app",
    "portal", "media", "assets", "video", "files", "download", "status", "support", "m", "auth",
    "data", "search", "maps", "cloud", "store", "wiki", "forum", "events",
];

const NAME_DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "acme.example",
    "shop.example",
    "news.example",
    "travel.example",
    "bank.example",
    "games.example",
    "music.example",
    "photos.example",
    "weather.example",
    "sports.example",
    "health.example",
    "school.example",
    "city.example",
    "tech.example",
    "food.example",
    "books.example",
    "market.example",
    "cars.example",
    "home.example",
    "garden.example",
    "movies.example",
    "jobs.example",
    "social.example",
    "radio.example",
    "art.example",
    "energy.example",
    "science.example",
];

impl Hosts {
    /// Builds `clients` clients and `servers` web servers from `seed`.
    pub(crate) fn new(seed: u64, clients: u32, servers: u32) -> Hosts {
        let mut rng = Rng::derive(seed, u64::MAX - 1);
        let ula_prefix: [u8; 6] = {
            let g: [u8; 5] = rng.bytes();
            [0xfd, g[0], g[1], g[2], g[3], g[4]]
        };
        let mut macs = HashSet::new();
        let mut mac = |rng: &mut Rng| loop {
            let m = Mac::local(rng.next_u64() & 0xff_ffff_ffff);
            if macs.insert(m) {
                return m;
            }
        };

        let mut v4_seen = HashSet::new();
        let mut v6_seen = HashSet::new();
        let mut client_list = Vec::with_capacity(clients as usize);
        let mut next_port = Vec::with_capacity(clients as usize);
        for i in 0..clients {
            let v4 = loop {
                let a = if i % 3 == 2 {
                    Ipv4Addr::new(192, 168, rng.below(256) as u8, rng.range(2, 254) as u8)
                } else {
                    Ipv4Addr::new(
                        10,
                        rng.below(256) as u8,
                        rng.below(256) as u8,
                        rng.range(2, 254) as u8,
                    )
                };
                if v4_seen.insert(a) {
                    break a;
                }
            };
            let v6 = loop {
                let mut o = [0u8; 16];
                o[..6].copy_from_slice(&ula_prefix);
                o[6..8].copy_from_slice(&(rng.below(16) as u16).to_be_bytes());
                rng.fill(&mut o[8..]);
                let a = Ipv6Addr::from(o);
                if v6_seen.insert(a) {
                    break a;
                }
            };
            let os = match rng.below(100) {
                0..45 => Os::Windows,
                45..75 => Os::Linux,
                _ => Os::Mac,
            };
            let (lo, hi) = os.ports();
            next_port.push(rng.range(u64::from(lo), u64::from(hi)) as u16);
            client_list.push(Host {
                mac: mac(&mut rng),
                v4,
                v6,
                os,
                ttl: os.initial_ttl(),
                name: String::new(),
                base_rtt_ns: 0,
            });
        }

        let nets: [[u8; 3]; 3] = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];
        let mut names = HashSet::new();
        let mut web = Vec::with_capacity(servers as usize);
        for i in 0..servers {
            let v4 = loop {
                let n = nets[(i % 3) as usize];
                let host = rng.range(1, 254) as u8;
                let a = Ipv4Addr::new(n[0], n[1], n[2], host);
                if host != 53 && v4_seen.insert(a) {
                    break a;
                }
            };
            let v6 = loop {
                let mut o = [0u8; 16];
                o[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                o[4..6].copy_from_slice(&(rng.range(0x100, 0xfff) as u16).to_be_bytes());
                o[14..16].copy_from_slice(&(rng.range(1, 0xffff) as u16).to_be_bytes());
                let a = Ipv6Addr::from(o);
                if v6_seen.insert(a) {
                    break a;
                }
            };
            let name = loop {
                let n = format!("{}.{}", rng.pick(NAME_PREFIXES), rng.pick(NAME_DOMAINS));
                if names.insert(n.clone()) {
                    break n;
                }
            };
            let os = if rng.chance(0.9) {
                Os::Linux
            } else {
                Os::Windows
            };
            web.push(Host {
                mac: mac(&mut rng),
                v4,
                v6,
                os,
                ttl: os.initial_ttl() - rng.range(4, 24) as u8,
                name,
                base_rtt_ns: rng.log_uniform_u64(2_000_000, 150_000_000),
            });
        }

        let resolvers = (0..3u8)
            .map(|i| {
                let n = nets[usize::from(i)];
                Host {
                    mac: mac(&mut rng),
                    v4: Ipv4Addr::new(n[0], n[1], n[2], 53),
                    v6: Ipv6Addr::new(0x2001, 0xdb8, 0x53, u16::from(i), 0, 0, 0, 0x53),
                    os: Os::Linux,
                    ttl: 64 - rng.range(2, 12) as u8,
                    name: format!("ns{}.resolver.example", i + 1),
                    base_rtt_ns: rng.log_uniform_u64(1_000_000, 30_000_000),
                }
            })
            .collect();

        Hosts {
            clients: client_list,
            web,
            resolvers,
            next_port,
        }
    }

    /// The next ephemeral port (or ICMP identifier) of client `i`: ports advance by small
    /// steps through the client's range, so a port is not reused until the range wraps.
    pub(crate) fn next_port(&mut self, i: usize, rng: &mut Rng) -> u16 {
        let (lo, hi) = self.clients[i].os.ports();
        let port = self.next_port[i];
        let step = 1 + rng.below(4) as u32;
        let mut next = u32::from(port) + step;
        if next > u32::from(hi) {
            next = u32::from(lo) + (next - u32::from(hi) - 1);
        }
        self.next_port[i] = next as u16;
        port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_in_the_promised_ranges_and_unique() {
        let h = Hosts::new(1, 300, 200);
        for c in &h.clients {
            let o = c.v4.octets();
            assert!(o[0] == 10 || (o[0] == 192 && o[1] == 168), "{}", c.v4);
            assert_eq!(c.v6.octets()[0], 0xfd);
            assert_eq!(c.mac.0[0] & 0x03, 0x02);
        }
        for s in h.web.iter().chain(&h.resolvers) {
            let o = s.v4.octets();
            assert!(
                matches!(o[..3], [192, 0, 2] | [198, 51, 100] | [203, 0, 113]),
                "{}",
                s.v4
            );
            assert_eq!(&s.v6.octets()[..4], &[0x20, 0x01, 0x0d, 0xb8]);
        }
        let all: HashSet<_> = h.clients.iter().chain(&h.web).map(|x| x.v4).collect();
        assert_eq!(all.len(), 500);
        let macs: HashSet<_> = h.clients.iter().chain(&h.web).map(|x| x.mac).collect();
        assert_eq!(macs.len(), 500);
        let names: HashSet<_> = h.web.iter().map(|x| &x.name).collect();
        assert_eq!(names.len(), 200);
    }

    #[test]
    fn largest_plan_fits() {
        let h = Hosts::new(2, 10, MAX_SERVERS);
        assert_eq!(h.web.len(), MAX_SERVERS as usize);
    }

    #[test]
    fn ports_advance_and_wrap_within_range() {
        let mut h = Hosts::new(3, 1, 1);
        let mut rng = Rng::new(1);
        let (lo, hi) = h.clients[0].os.ports();
        let mut prev = h.next_port(0, &mut rng);
        for _ in 0..100_000 {
            let p = h.next_port(0, &mut rng);
            assert!((lo..=hi).contains(&p));
            assert!(p > prev || p < lo + 4, "{prev} -> {p}");
            prev = p;
        }
    }
}
