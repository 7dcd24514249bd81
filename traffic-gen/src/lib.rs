//! A realistic, deterministic traffic generator: Ethernet frames with timestamps, in
//! time order, of mixed client/server traffic, byte-identical for a given configuration.
//!
//! What it produces:
//! - TCP connections with handshake (MSS, SACK-permitted, window scale and timestamp
//!   options as Linux, Windows or macOS lay them out), exact sequence and
//!   acknowledgement arithmetic, slow-start bursts, delayed ACKs, MSS segmentation and
//!   teardown by FIN (three or four packets) or RST;
//! - HTTP/1.1 on port 80 with keep-alive, browser and tool requests (GET and POST) and
//!   responses whose bodies match their `Content-Type` and `Content-Length`;
//! - TLS on port 443: ClientHello with SNI, GREASE, cipher suites and extensions; TLS 1.3
//!   (ServerHello, then encrypted records) or TLS 1.2 (ServerHello, an X.509 certificate
//!   chain, ServerKeyExchange, ...); ApplicationData records of random bytes;
//! - DNS over UDP port 53: A, AAAA, MX and TXT queries and responses with name
//!   compression, CNAME chains, NXDOMAIN with SOA, EDNS(0);
//! - ping sessions (ICMP echo, or ICMPv6 echo over IPv6);
//! - a configurable share of IPv6 flows; clients in 10.0.0.0/8 and 192.168.0.0/16 (IPv6:
//!   a ULA prefix), servers in 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
//!   2001:db8::/32, each host with one MAC address, TTL and stack profile;
//! - correct IPv4, TCP, UDP, ICMP and ICMPv6 checksums;
//! - flows starting at Poisson times, packets within a flow spaced by the path's
//!   round-trip time, the bottleneck rate and the server's think time;
//! - optionally, known attacks in a fraction of flows ([`ATTACKS`]), reported per flow in
//!   [`FlowRecord::attack`].
//!
//! Timing: the capture point sits on the clients' side of the network. A client packet
//! is seen as it is sent; the server's answer is seen one path round-trip time (drawn
//! per server, with jitter per flow) plus the server's turnaround or think time later.
//! Back-to-back segments are spaced by the flow's bottleneck rate, a sender waits for
//! ACKs between congestion-window bursts, and keep-alive requests follow each other
//! after a client think time. Flows start at the times of a Poisson process of rate
//! [`GenConfig::flow_rate`] after [`GenConfig::start_ns`].
//!
//! Sizes follow the protocols by default; a [`SizeMix`] such as IMIX makes data-bearing
//! packets follow chosen frame lengths instead (see [`mix`] for exactly how).
//!
//! ```
//! use traffic_gen::{GenConfig, Generator};
//!
//! let cfg = GenConfig { flows: 20, ..GenConfig::default() };
//! let mut g = Generator::new(cfg).unwrap().keep_flow_records(true);
//! let packets: Vec<_> = g.by_ref().collect();
//! assert!(packets.windows(2).all(|w| w[0].timestamp_ns <= w[1].timestamp_ns));
//! assert_eq!(g.take_flow_records().len(), 20);
//! ```
//!
//! Randomness comes from the crate's own xoshiro256** ([`rng`]) and all arithmetic on
//! random draws uses basic IEEE operations only, so a configuration means the same
//! bytes on every platform and in every future version that keeps the stream pinned
//! by this crate's tests.

pub mod attacks;
mod cert;
pub mod checksum;
pub mod config;
mod content;
mod dns;
pub mod error;
mod flow;
pub mod frame;
pub mod generator;
mod hosts;
mod http;
mod icmp;
pub mod mix;
pub mod rng;
mod schedule;
mod tcp_flow;
mod tls;

pub use attacks::{ATTACKS, Attack, AttackKind, Direction, Protocol};
pub use config::{DEFAULT_START_NS, GenConfig, ProtocolWeights};
pub use error::GenError;
pub use generator::{FlowRecord, GeneratedPacket, Generator, Summary, generate};
pub use hosts::{MAX_CLIENTS, MAX_SERVERS};
pub use mix::{SizeClass, SizeMix};
