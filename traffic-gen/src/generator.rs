//! The streaming generator: starts flows at their arrival times, plans each flow's
//! packets when it starts, and hands out packets of all active flows in time order.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::attacks::{AttackKind, Protocol};
use crate::config::GenConfig;
use crate::error::GenError;
use crate::flow::{Endpoints, FlowPackets};
use crate::frame::IpPair;
use crate::hosts::Hosts;
use crate::rng::Rng;
use crate::schedule::{ActiveFlows, Arrivals};
use crate::tcp_flow::{TcpConn, Timing};
use crate::{dns, http, icmp, tls};

/// One generated packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedPacket {
    /// Capture time in nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// The flow it belongs to (see [`FlowRecord::id`]).
    pub flow_id: u64,
    /// The Ethernet frame, without FCS.
    pub frame: Vec<u8>,
}

/// What one flow is, recorded when it starts (before its first packet is handed out).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlowRecord {
    /// Flow number, counting from 0 in start order.
    pub id: u64,
    /// Application protocol.
    pub protocol: Protocol,
    /// True if carried over IPv6.
    pub ipv6: bool,
    /// Client address.
    pub client: IpAddr,
    /// Client port (for ICMP: the echo identifier).
    pub client_port: u16,
    /// Server address.
    pub server: IpAddr,
    /// Server port (0 for ICMP).
    pub server_port: u16,
    /// Time of the flow's first packet, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// Time of the flow's last packet.
    pub end_ns: u64,
    /// Packets in the flow.
    pub packets: u64,
    /// Bytes of all its frames.
    pub bytes: u64,
    /// The attack the flow carries, if any.
    pub attack: Option<AttackKind>,
}

/// Running totals of a generator.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Flows started so far.
    pub flows: u64,
    /// Flows over IPv6.
    pub ipv6_flows: u64,
    /// Flows per protocol.
    pub flows_by_protocol: BTreeMap<String, u64>,
    /// Flows per planted attack.
    pub attack_flows: BTreeMap<AttackKind, u64>,
    /// Packets handed out so far.
    pub packets: u64,
    /// Bytes of the frames handed out so far.
    pub bytes: u64,
    /// Most flows active at once.
    pub max_active_flows: u64,
}

/// A deterministic traffic generator: an iterator of [`GeneratedPacket`]s in time order.
///
/// Memory is bounded by the flows active at once (each flow's packets are planned when
/// it starts and written one at a time), so long runs stream in constant space. Per-flow
/// [`FlowRecord`]s are kept only when asked for with [`Generator::keep_flow_records`],
/// and then accumulate until taken with [`Generator::take_flow_records`]; the
/// [`Summary`] is always kept.
#[derive(Debug)]
pub struct Generator {
    config: GenConfig,
    hosts: Hosts,
    protocol_weights: [u64; 4],
    arrivals: Arrivals,
    active: ActiveFlows,
    next_id: u64,
    keep_records: bool,
    records: Vec<FlowRecord>,
    summary: Summary,
}

impl Generator {
    /// A generator for a validated copy of `config`.
    pub fn new(config: GenConfig) -> Result<Generator, GenError> {
        config.validate()?;
        let hosts = Hosts::new(config.seed, config.clients, config.servers);
        let arrivals = Arrivals::new(
            Rng::derive(config.seed, u64::MAX),
            config.flow_rate,
            config.start_ns,
            config.flows,
        );
        Ok(Generator {
            protocol_weights: config.protocol_weights(),
            config,
            hosts,
            arrivals,
            active: ActiveFlows::default(),
            next_id: 0,
            keep_records: false,
            records: Vec::new(),
            summary: Summary::default(),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &GenConfig {
        &self.config
    }

    /// Totals so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Keeps a [`FlowRecord`] of every flow from now on (off by default, so that long
    /// runs need no memory per flow). Returns the generator, for chaining.
    pub fn keep_flow_records(mut self, keep: bool) -> Generator {
        self.keep_records = keep;
        self
    }

    /// Records of the flows started since the last call, in start order (empty unless
    /// [`Generator::keep_flow_records`] is on). A flow's record is available before its
    /// first packet is handed out.
    pub fn take_flow_records(&mut self) -> Vec<FlowRecord> {
        std::mem::take(&mut self.records)
    }

    /// Flows with packets still to hand out.
    pub fn active_flows(&self) -> usize {
        self.active.len()
    }

    fn start_flow(&mut self, t0: u64) {
        let id = self.next_id;
        self.next_id += 1;
        let cfg = &self.config;
        let mut rng = Rng::derive(cfg.seed, id);
        let attack = if cfg.attack_fraction > 0.0 && rng.chance(cfg.attack_fraction) {
            Some(*rng.pick(&cfg.attacks))
        } else {
            None
        };
        let protocol = match attack {
            Some(a) => a.info().protocol,
            None => Protocol::ALL[rng.weighted(&self.protocol_weights)],
        };
        let v6 = rng.chance(cfg.ipv6_share);
        let ci = rng.index(self.hosts.clients.len());
        let port = self.hosts.next_port(ci, &mut rng);
        let client = self.hosts.clients[ci].clone();
        let server = match protocol {
            Protocol::Dns => rng.pick(&self.hosts.resolvers),
            _ => rng.pick(&self.hosts.web),
        }
        .clone();
        let ip = if v6 {
            IpPair::V6 {
                src: client.v6,
                dst: server.v6,
            }
        } else {
            IpPair::V4 {
                src: client.v4,
                dst: server.v4,
            }
        };
        let server_port = protocol.server_port();
        let ends = Endpoints {
            client_mac: client.mac,
            server_mac: server.mac,
            ip,
            client_port: port,
            server_port,
            ttl: [client.ttl, server.ttl],
            ip_id: [rng.next_u16(), rng.next_u16()],
            flow_label: [rng.next_u32() & 0xf_ffff, rng.next_u32() & 0xf_ffff],
        };
        let mut fp = FlowPackets::new(ends);
        let timing = Timing::draw(&mut rng, server.base_rtt_ns);
        let mix = &cfg.size_mix;
        match protocol {
            Protocol::Http | Protocol::Tls => {
                let mut conn = TcpConn::new(&mut fp, &mut rng, mix, timing, client.os, server.os);
                if protocol == Protocol::Http {
                    http::run(&mut conn, t0, &server.name, client.os, server.os, attack);
                } else {
                    tls::run(&mut conn, t0, &server.name, client.os, attack);
                }
            }
            Protocol::Dns => dns::run(&mut fp, &mut rng, &timing, mix, t0, attack),
            Protocol::Icmp => icmp::run(&mut fp, &mut rng, &timing, mix, t0, client.os, port),
        }
        fp.finish();
        debug_assert_eq!(fp.first_time(), Some(t0));

        let record = FlowRecord {
            id,
            protocol,
            ipv6: v6,
            client: ip.src(),
            client_port: port,
            server: ip.dst(),
            server_port,
            start_ns: t0,
            end_ns: fp.last_time().unwrap_or(t0),
            packets: fp.len() as u64,
            bytes: fp.total_bytes(),
            attack,
        };
        let s = &mut self.summary;
        s.flows += 1;
        s.ipv6_flows += u64::from(v6);
        *s.flows_by_protocol
            .entry(protocol.name().to_string())
            .or_insert(0) += 1;
        if let Some(a) = attack {
            *s.attack_flows.entry(a).or_insert(0) += 1;
        }
        if self.keep_records {
            self.records.push(record);
        }
        self.active.push(id, fp);
        s.max_active_flows = s.max_active_flows.max(self.active.len() as u64);
    }
}

impl Iterator for Generator {
    type Item = GeneratedPacket;

    fn next(&mut self) -> Option<GeneratedPacket> {
        loop {
            match (self.arrivals.peek(), self.active.peek_time()) {
                (Some(a), Some(p)) if a <= p => {}
                (Some(_), None) => {}
                (None, None) => return None,
                _ => {
                    let (timestamp_ns, flow_id, frame) = self.active.pop_packet()?;
                    self.summary.packets += 1;
                    self.summary.bytes += frame.len() as u64;
                    return Some(GeneratedPacket {
                        timestamp_ns,
                        flow_id,
                        frame,
                    });
                }
            }
            let t0 = self.arrivals.take().expect("peeked an arrival");
            self.start_flow(t0);
        }
    }
}

/// Generates everything `config` asks for at once: the packets in time order and the
/// record of every flow. Convenient for tests and small captures; stream with
/// [`Generator`] for large ones.
pub fn generate(config: GenConfig) -> Result<(Vec<GeneratedPacket>, Vec<FlowRecord>), GenError> {
    let mut g = Generator::new(config)?.keep_flow_records(true);
    let packets: Vec<GeneratedPacket> = g.by_ref().collect();
    Ok((packets, g.take_flow_records()))
}
