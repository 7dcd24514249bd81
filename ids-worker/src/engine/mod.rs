//! The IDS engine: Snort 2.9 and Snort 3 rules over packets, with flows, TCP
//! reassembly and HTTP inspection, raising alerts that agree with Snort 3's.
//!
//! - [`rules`]: the rule language and the load report ([`RuleLoader`]).
//! - [`detect`]: rules compiled into port and service groups with a multi-pattern
//!   prefilter ([`Detector`]), and full rule evaluation.
//! - [`flow`], [`stream`], [`http`], [`service`]: per-flow state, TCP reassembly,
//!   HTTP/1.x parsing, service identification.
//! - [`output`]: alerts and their alert_fast / alert_json text.
//! - [`function`]: [`IdsFunction`], the engine as a node's network function.
//!
//! An [`Engine`] is one IDS instance: its flows and counters are its own; the
//! compiled rules ([`Detector`]) are immutable and shared through an `Arc`.
//!
//! # How a packet is inspected
//!
//! The packet's flow is looked up (created on its first packet). TCP segments are
//! queued for reassembly in their direction; an acknowledgment from the other side
//! hands the acknowledged data of that side on, as Snort does in IDS mode: service
//! identification looks at it first, then the service's splitter cuts it into units
//! (HTTP messages in header and body sections, TLS records, SMB messages, DNS
//! messages, lines...) and each unit is inspected as reassembled data
//! ([`PacketKind::StreamTcp`]). The packet itself is then inspected
//! ([`PacketKind::Raw`]), except a TCP segment carrying data of a flow whose service
//! is identified and whose direction is reassembled: that data is inspected once,
//! reassembled. A rule that alerted on a raw packet does not alert again on the next
//! unit of reassembled data of the same direction.
//!
//! Each pass raises at most [`EngineConfig::log_events`] alerts, the rules with the
//! longest contents first (Snort's defaults: 8 queued, 3 logged, ordered by content
//! length); event filters then decide which are logged.

pub mod decode;
pub mod detect;
pub mod flow;
pub mod function;
pub mod http;
pub mod output;
pub mod rules;
pub mod service;
pub mod stream;
mod units;

use std::sync::Arc;

use dataplane::wire;

pub use detect::{Backend, Detector, DetectorConfig, DetectorStats};
pub use flow::FlowConfig;
pub use function::{IdsFunction, TaggedAlert};
pub use output::{Alert, PacketKind};
pub use rules::{LoadOptions, LoadReport, RuleLoader, RuleSet, SkipPolicy};

use detect::{BufferSet, Fresh, Match, PacketInfo, RateTable, Scratch};
use flow::{Endpoint, Flow, FlowKey, FlowTable};
use http::Section;
use service::Service;
use stream::Insert;

/// An engine instance's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Flow table size and timeouts.
    pub flow: FlowConfig,
    /// Matching rules queued per pass (Snort's `event_queue.max_queue`).
    pub max_queue: usize,
    /// Alerts logged per pass (Snort's `event_queue.log`).
    pub log_events: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            flow: FlowConfig::default(),
            max_queue: 8,
            log_events: 3,
        }
    }
}

/// What an engine instance did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct EngineStats {
    /// Frames given to the engine.
    pub packets: u64,
    /// Bytes of those frames.
    pub bytes: u64,
    /// Frames that are not IP (not inspected).
    pub not_ip: u64,
    /// Frames whose headers could not be read.
    pub decode_errors: u64,
    /// Reassembled units inspected (TCP data, HTTP sections).
    pub units: u64,
    /// Flows created.
    pub flows: u64,
    /// Flows removed after their idle timeout.
    pub flows_timed_out: u64,
    /// Flows removed to make room.
    pub flows_evicted: u64,
    /// TCP segments dropped by reassembly (out-of-order queue full).
    pub segments_dropped: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Rule matches not reported because an event filter held them back.
    pub filtered: u64,
    /// Rule matches beyond the per-pass event limits.
    pub queue_limited: u64,
    /// Rule matches on reassembled data already reported on a raw packet.
    pub already_alerted: u64,
    /// Rule evaluations that ran out of steps (counted as no match).
    pub exhausted: u64,
    /// Passes whose alerts a matching `pass` rule suppressed.
    pub passed: u64,
}

/// The mutable state of an instance other than its flows.
pub(crate) struct State {
    pub(crate) detector: Arc<Detector>,
    pub(crate) config: EngineConfig,
    pub(crate) detection_filters: RateTable,
    pub(crate) event_filters: RateTable,
    pub(crate) scratch: Scratch,
    pub(crate) matches: Vec<Match>,
    pub(crate) sections: Vec<Section>,
    pub(crate) stats: EngineStats,
    pub(crate) rule_alerts: Vec<u64>,
}

/// One IDS instance.
pub struct Engine {
    flows: FlowTable<Flow>,
    state: State,
    pkt_num: u64,
    last_sweep_s: u64,
    gone: Vec<(FlowKey, Flow)>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("flows", &self.flows.len())
            .field("stats", &self.state.stats)
            .finish()
    }
}

/// The current packet, for alerts.
#[derive(Clone, Copy)]
pub(crate) struct Here {
    pub(crate) ts_ns: u64,
    pub(crate) pkt_num: u64,
}

impl Engine {
    /// An instance running `detector`'s rules.
    pub fn new(detector: Arc<Detector>, config: EngineConfig) -> Engine {
        let scratch = detector.scratch();
        let rules = detector.rules().len();
        Engine {
            flows: FlowTable::new(config.flow.max_flows),
            state: State {
                detector,
                config,
                detection_filters: RateTable::default(),
                event_filters: RateTable::default(),
                scratch,
                matches: Vec::new(),
                sections: Vec::new(),
                stats: EngineStats::default(),
                rule_alerts: vec![0; rules],
            },
            pkt_num: 0,
            last_sweep_s: 0,
            gone: Vec::new(),
        }
    }

    /// The compiled rules.
    pub fn detector(&self) -> &Arc<Detector> {
        &self.state.detector
    }

    /// What the instance did so far.
    pub fn stats(&self) -> EngineStats {
        let mut s = self.state.stats;
        s.exhausted = self.state.scratch.exhausted;
        s
    }

    /// Alerts raised per rule (indexed like [`Detector::rules`]).
    pub fn rule_alerts(&self) -> &[u64] {
        &self.state.rule_alerts
    }

    /// Flows tracked now.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Inspects one Ethernet frame captured at `ts_ns`; alerts are appended to `out`.
    pub fn process(&mut self, frame: &[u8], ts_ns: u64, out: &mut Vec<Alert>) {
        self.pkt_num += 1;
        let here = Here {
            ts_ns,
            pkt_num: self.pkt_num,
        };
        let st = &mut self.state;
        st.stats.packets += 1;
        st.stats.bytes += frame.len() as u64;
        let now_s = ts_ns / 1_000_000_000;
        if now_s > self.last_sweep_s {
            self.last_sweep_s = now_s;
            let config = st.config.flow;
            let before = self.gone.len();
            self.flows
                .expire(ts_ns, |k, _| config.timeout_ns(k.protocol), &mut self.gone);
            st.stats.flows_timed_out += (self.gone.len() - before) as u64;
            self.close_gone(here, out);
        }
        let parsed = match wire::parse(frame) {
            Ok(p) => p,
            Err(_) => {
                self.state.stats.decode_errors += 1;
                return;
            }
        };
        let Some(d) = decode::decode(frame, &parsed) else {
            self.state.stats.not_ip += 1;
            return;
        };
        let payload = frame.get(d.payload.0..d.payload.1).unwrap_or_default();
        let mut info = d.info;
        let src = Endpoint {
            addr: info.src,
            port: info.sport,
        };
        let dst = Endpoint {
            addr: info.dst,
            port: info.dport,
        };
        let (key, src_is_lo) = FlowKey::new(info.protocol, src, dst);
        let tcp = d.tcp;
        let is_tcp = info.protocol == 6 && tcp.is_some();
        let before = self.gone.len();
        let (flow, lookup) = self.flows.get_or_insert(
            key,
            ts_ns,
            || {
                // A SYN+ACK comes from the server.
                let synack = tcp.is_some_and(|t| t.flags & 0x12 == 0x12);
                Flow::new(src_is_lo != synack, is_tcp)
            },
            &mut self.gone,
        );
        let st = &mut self.state;
        st.stats.flows_evicted += (self.gone.len() - before) as u64;
        if lookup == flow::Lookup::Created {
            st.stats.flows += 1;
            let server_port = if src_is_lo == flow.client_is_lo {
                info.dport
            } else {
                info.sport
            };
            flow.service = service::by_port(info.protocol, server_port);
            if flow.service == Some(Service::Http) {
                flow.http = Some(Box::default());
            }
        }
        let from_client = src_is_lo == flow.client_is_lo;
        let side = usize::from(!from_client);
        info.from_client = Some(from_client);
        flow.seen[side] = true;
        flow.bytes[side] += payload.len() as u64;

        // TCP: handshake, reassembly, and the other side's data this packet
        // acknowledges.
        let mut inserted = false;
        if let (Some(t), true) = (tcp, is_tcp) {
            let syn = t.flags & 0x02 != 0;
            let ack = t.flags & 0x10 != 0;
            let rst = t.flags & 0x04 != 0;
            let fin = t.flags & 0x01 != 0;
            if let Some(session) = flow.tcp.as_mut() {
                session.track(from_client, syn, ack, rst);
                let half = &mut session.halves[side];
                let seq = if syn { t.seq.wrapping_add(1) } else { t.seq };
                if syn {
                    half.start(seq);
                }
                if !payload.is_empty() {
                    match half.insert(seq, payload) {
                        Insert::Queued => inserted = true,
                        Insert::Duplicate => {}
                        Insert::Dropped => st.stats.segments_dropped += 1,
                    }
                }
                if fin {
                    half.start(seq);
                    half.set_fin(seq.wrapping_add(payload.len() as u32));
                }
            }
            if ack {
                units::flush(st, flow, 1 - side, t.ack, &info, here, out);
            }
        }

        // The packet itself.
        let reassembled = inserted
            && flow.service.is_some()
            && flow.tcp.as_ref().is_some_and(|t| !t.units[side].aborted);
        if !reassembled {
            info.established = flow.established();
            info.service = flow.service;
            info.stream_bytes = stream_bytes(flow);
            let buffers = BufferSet::packet(payload);
            let alert = AlertSpec {
                kind: PacketKind::Raw,
                pkt_len: d.ip_len,
            };
            inspect(
                st,
                flow,
                &info,
                &buffers,
                Fresh::PKT,
                side,
                alert,
                here,
                out,
            );
        }
        if !self.gone.is_empty() {
            self.close_gone(here, out);
        }
    }

    /// Ends every flow (flushing data still queued), as at the end of a capture.
    pub fn finish(&mut self, ts_ns: u64, out: &mut Vec<Alert>) {
        let here = Here {
            ts_ns,
            pkt_num: self.pkt_num,
        };
        self.gone.extend(self.flows.drain());
        self.close_gone(here, out);
    }

    /// Drops the flows in `self.gone`. Data they still queue was never acknowledged
    /// and is not inspected (as Snort in IDS mode does not).
    fn close_gone(&mut self, _here: Here, _out: &mut Vec<Alert>) {
        self.gone.clear();
    }
}

/// The payload bytes each side of a flow sent (TCP: in sequence order).
pub(crate) fn stream_bytes(flow: &Flow) -> [u64; 2] {
    match &flow.tcp {
        Some(t) => [t.halves[0].total(), t.halves[1].total()],
        None => flow.bytes,
    }
}

/// How alerts of a pass describe the data.
#[derive(Clone, Copy)]
pub(crate) struct AlertSpec {
    pub(crate) kind: PacketKind,
    pub(crate) pkt_len: u32,
}

/// One detection pass, then event selection and filtering.
#[allow(clippy::too_many_arguments)]
pub(crate) fn inspect(
    st: &mut State,
    flow: &mut Flow,
    info: &PacketInfo,
    buffers: &BufferSet<'_>,
    fresh: Fresh,
    side: usize,
    spec: AlertSpec,
    here: Here,
    out: &mut Vec<Alert>,
) {
    let now_s = here.ts_ns / 1_000_000_000;
    let mut matches = std::mem::take(&mut st.matches);
    matches.clear();
    let detector = st.detector.clone();
    detector.detect(
        info,
        buffers,
        fresh,
        &mut flow.bits,
        &mut st.detection_filters,
        now_s,
        &mut st.scratch,
        &mut matches,
    );
    // A matching pass rule lets the packet through without alerts (Snort's default
    // order: pass before alert).
    if matches
        .iter()
        .any(|m| detector.rule(m.rule).is_some_and(|r| r.pass))
    {
        st.stats.passed += 1;
        matches.clear();
    }
    if !matches.is_empty() {
        let rules = detector.rules();
        matches.sort_by(|a, b| {
            let (ra, rb) = (&rules[a.rule as usize], &rules[b.rule as usize]);
            rb.longest
                .cmp(&ra.longest)
                .then(rb.rule.sig.sid.cmp(&ra.rule.sig.sid))
        });
        let rebuilt = spec.kind != PacketKind::Raw;
        let is_tcp = flow.tcp.is_some();
        let mut queued = 0usize;
        for m in &matches {
            let cr = &rules[m.rule as usize];
            let sig = cr.rule.sig;
            if rebuilt && flow.session_alerts[side].contains(sig.gid, sig.sid) {
                st.stats.already_alerted += 1;
                continue;
            }
            if queued >= st.config.max_queue.min(st.config.log_events) {
                st.stats.queue_limited += 1;
                continue;
            }
            queued += 1;
            if is_tcp {
                flow.session_alerts[side].add(sig.gid, sig.sid);
            }
            if let Some((id, f)) = &cr.event_filter
                && !st
                    .event_filters
                    .event_filter(*id, f, info.src, info.dst, now_s)
            {
                st.stats.filtered += 1;
                continue;
            }
            st.stats.alerts += 1;
            if let Some(c) = st.rule_alerts.get_mut(m.rule as usize) {
                *c += 1;
            }
            out.push(Alert {
                ts_ns: here.ts_ns,
                pkt_num: here.pkt_num,
                rule: m.rule,
                sig,
                protocol: info.protocol,
                src: info.src,
                sport: info.sport,
                dst: info.dst,
                dport: info.dport,
                kind: spec.kind,
                pkt_len: spec.pkt_len,
                from_client: info.from_client,
            });
        }
    }
    st.matches = matches;
}

/// The text of an alert's rule, for output.
pub fn rule_text<'a>(detector: &'a Detector, alert: &Alert) -> output::RuleText<'a> {
    match detector.rule(alert.rule) {
        Some(r) => output::RuleText {
            msg: &r.rule.msg,
            classtype: r.rule.classtype.as_deref(),
            priority: r.rule.priority,
            action: r.rule.header.action.json_name(),
        },
        None => output::RuleText {
            msg: "",
            classtype: None,
            priority: 0,
            action: "allow",
        },
    }
}
