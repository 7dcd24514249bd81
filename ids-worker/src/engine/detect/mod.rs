//! Detection: rules compiled into groups by protocol, port and service, each with a
//! multi-pattern prefilter over the rules' fast patterns, then full evaluation of the
//! rules the prefilter (or, for rules without content, the header) lets through.
//!
//! A rule goes to the group of each of its destination ports (or, when those are
//! `any`, of its source ports, or else to its protocol's any-port group), and to the
//! group of each service it names. A packet is checked against its service's group,
//! its destination and source port groups and the any-port group. Port lists longer
//! than [`DetectorConfig::port_group_limit`] go to the any-port group (their ports are
//! still checked). Rules without a fast pattern whose address lists are long (IP
//! reputation rules) are indexed by address.
//!
//! Each rule has one fast pattern: its `fast_pattern` content, or else its longest
//! content that is not negated. A pass over data scans only the buffers that are new
//! in it (for HTTP, the header buffers on a message's header section, the body on
//! body sections), so a rule is evaluated where its fast pattern's buffer is.

pub mod addr_index;
pub mod anchor;
pub mod bytes;
pub mod filters;
#[cfg(feature = "hyperscan")]
mod hyperscan;
pub mod packet;
pub mod prefilter;
pub mod program;
pub mod search;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use addr_index::AddrIndex;
pub use filters::RateTable;
pub use packet::{IcmpFields, PacketInfo, TcpFields};
pub use prefilter::{Backend, MatchScratch, Prefilter, PrefilterBuilder};
pub use program::{BufferSet, Outcome, Program};

use crate::engine::flow::FlowBits;
use crate::engine::rules::{
    Action, Buffer, EventFilter, FlowbitAction, LoadReport, Op, ParseError, Protocol, Rule,
    RuleSet, Symbols,
};
use crate::engine::service::Service;

/// The buffers fast patterns are searched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FpBuffer {
    /// Packet or reassembled data.
    Pkt,
    /// `file_data`.
    FileData,
    /// `http_client_body`.
    ClientBody,
    /// `http_raw_body`.
    RawBody,
    /// `http_uri`.
    Uri,
    /// `http_raw_uri`.
    RawUri,
    /// `http_header` (and single header fields).
    Header,
    /// `http_raw_header`.
    RawHeader,
    /// `http_method`.
    Method,
    /// `http_cookie`.
    Cookie,
    /// `http_raw_cookie`.
    RawCookie,
    /// `http_stat_code`.
    StatCode,
    /// `http_stat_msg`.
    StatMsg,
    /// `http_version`.
    Version,
    /// `http_raw_request`.
    RawRequest,
    /// `http_raw_status`.
    RawStatus,
}

impl FpBuffer {
    /// The fast-pattern buffer a rule buffer is searched in.
    pub fn of(b: Buffer) -> FpBuffer {
        match b {
            Buffer::Pkt | Buffer::Raw => FpBuffer::Pkt,
            Buffer::FileData => FpBuffer::FileData,
            Buffer::HttpClientBody => FpBuffer::ClientBody,
            Buffer::HttpRawBody => FpBuffer::RawBody,
            Buffer::HttpUri => FpBuffer::Uri,
            Buffer::HttpRawUri => FpBuffer::RawUri,
            Buffer::HttpHeader | Buffer::HttpHeaderField(_) => FpBuffer::Header,
            Buffer::HttpRawHeader => FpBuffer::RawHeader,
            Buffer::HttpMethod => FpBuffer::Method,
            Buffer::HttpCookie => FpBuffer::Cookie,
            Buffer::HttpRawCookie => FpBuffer::RawCookie,
            Buffer::HttpStatCode => FpBuffer::StatCode,
            Buffer::HttpStatMsg => FpBuffer::StatMsg,
            Buffer::HttpVersion => FpBuffer::Version,
            Buffer::HttpRawRequest => FpBuffer::RawRequest,
            Buffer::HttpRawStatus => FpBuffer::RawStatus,
        }
    }

    /// The rule buffer to read for this fast-pattern buffer.
    fn buffer(self) -> Buffer {
        match self {
            FpBuffer::Pkt => Buffer::Pkt,
            FpBuffer::FileData => Buffer::FileData,
            FpBuffer::ClientBody => Buffer::HttpClientBody,
            FpBuffer::RawBody => Buffer::HttpRawBody,
            FpBuffer::Uri => Buffer::HttpUri,
            FpBuffer::RawUri => Buffer::HttpRawUri,
            FpBuffer::Header => Buffer::HttpHeader,
            FpBuffer::RawHeader => Buffer::HttpRawHeader,
            FpBuffer::Method => Buffer::HttpMethod,
            FpBuffer::Cookie => Buffer::HttpCookie,
            FpBuffer::RawCookie => Buffer::HttpRawCookie,
            FpBuffer::StatCode => Buffer::HttpStatCode,
            FpBuffer::StatMsg => Buffer::HttpStatMsg,
            FpBuffer::Version => Buffer::HttpVersion,
            FpBuffer::RawRequest => Buffer::HttpRawRequest,
            FpBuffer::RawStatus => Buffer::HttpRawStatus,
        }
    }

    /// A bit for [`Fresh`] masks.
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Which fast-pattern buffers are new in a pass (a bit per [`FpBuffer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fresh(u32);

impl Fresh {
    /// Only the packet data (a packet, or non-HTTP reassembled data).
    pub const PKT: Fresh = Fresh(1);
    /// An HTTP header section: the header buffers.
    pub const HTTP_HEADER: Fresh = Fresh(
        (1 << FpBuffer::Uri as u32)
            | (1 << FpBuffer::RawUri as u32)
            | (1 << FpBuffer::Header as u32)
            | (1 << FpBuffer::RawHeader as u32)
            | (1 << FpBuffer::Method as u32)
            | (1 << FpBuffer::Cookie as u32)
            | (1 << FpBuffer::RawCookie as u32)
            | (1 << FpBuffer::StatCode as u32)
            | (1 << FpBuffer::StatMsg as u32)
            | (1 << FpBuffer::Version as u32)
            | (1 << FpBuffer::RawRequest as u32)
            | (1 << FpBuffer::RawStatus as u32),
    );
    /// An HTTP body section: the body and the packet data (the raw body).
    pub const HTTP_BODY: Fresh = Fresh(
        1 | (1 << FpBuffer::FileData as u32)
            | (1 << FpBuffer::ClientBody as u32)
            | (1 << FpBuffer::RawBody as u32),
    );

    fn has(self, b: FpBuffer) -> bool {
        self.0 & b.bit() != 0
    }
}

/// How rules are compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorConfig {
    /// The prefilter's pattern matcher.
    pub backend: Backend,
    /// Port lists with more ports than this go to the any-port group.
    pub port_group_limit: u32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            backend: Backend::default(),
            port_group_limit: 1024,
        }
    }
}

/// A rule ready for detection.
#[derive(Debug)]
pub struct CompiledRule {
    /// The rule.
    pub rule: Rule,
    /// Its data tests.
    pub program: Program,
    /// Bit per [`Service`] the rule names.
    service_mask: u32,
    /// The rule names services (known to the engine or not).
    has_services: bool,
    /// The rule applies only to identified services (a service rule header).
    service_only: bool,
    /// The fast pattern: buffer and bytes.
    pub fast: Option<(FpBuffer, Vec<u8>)>,
    /// The longest content (orders events, as Snort's `content_length` order does).
    pub longest: usize,
    /// The rule tests flowbits (evaluated after rules that do not).
    checks_flowbits: bool,
    /// The event filter that applies to the rule (from its `threshold`, or a filter
    /// table), with its counter id.
    pub event_filter: Option<(u32, EventFilter)>,
    /// Whether matching raises an alert.
    alerts: bool,
    /// A `pass` rule: when it matches, the pass raises no alert at all.
    pub pass: bool,
}

impl CompiledRule {
    fn new(rule: Rule, symbols: &Symbols) -> Result<CompiledRule, ParseError> {
        let program = Program::compile(&rule.program, symbols.header_fields())?;
        let mut service_mask = 0u32;
        for s in &rule.services {
            if let Some(svc) = Service::from_name(s) {
                service_mask |= 1 << svc.index();
            }
        }
        let fast = fast_pattern(&rule);
        let longest = rule
            .program
            .iter()
            .filter_map(|o| match o {
                Op::Content(c) => Some(c.pattern.len()),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Ok(CompiledRule {
            service_mask,
            has_services: !rule.services.is_empty(),
            service_only: rule.service_only(),
            fast,
            longest,
            checks_flowbits: !rule.flowbit_tests.is_empty(),
            event_filter: None,
            alerts: !rule.noalert && matches!(rule.header.action, Action::Alert | Action::Drop),
            pass: rule.header.action == Action::Pass,
            program,
            rule,
        })
    }

    /// Whether the header, service, flow options and header tests accept the packet.
    #[inline]
    fn header_matches(&self, p: &PacketInfo) -> bool {
        let h = &self.rule.header;
        if !packet::protocol_matches(h.protocol, p.protocol) {
            return false;
        }
        let check_ports = match p.service {
            Some(s) if self.has_services => {
                if self.service_mask & (1 << s.index()) == 0 {
                    return false;
                }
                false
            }
            Some(_) => true,
            None => {
                if self.service_only {
                    return false;
                }
                true
            }
        };
        packet::addresses_match(h, p, check_ports)
            && packet::flow_matches(&self.rule.flow, p)
            && self.rule.checks.iter().all(|c| packet::check_matches(c, p))
    }
}

/// The fast pattern of a rule: its `fast_pattern` content, else its longest
/// non-negated content.
fn fast_pattern(rule: &Rule) -> Option<(FpBuffer, Vec<u8>)> {
    let mut buffer = Buffer::Pkt;
    let mut best: Option<(bool, usize, FpBuffer, Vec<u8>)> = None;
    for op in &rule.program {
        match op {
            Op::Buffer(b) => buffer = *b,
            Op::Content(c) if !c.negated => {
                let mut bytes = c.pattern.clone();
                if let Some((off, len)) = c.fast_pattern.slice {
                    let off = usize::from(off).min(bytes.len());
                    let end = off.saturating_add(usize::from(len)).min(bytes.len());
                    if end > off {
                        bytes = bytes[off..end].to_vec();
                    }
                }
                let chosen = c.fast_pattern.chosen;
                let better = match &best {
                    None => true,
                    Some((bc, blen, _, _)) => {
                        (chosen && !bc) || (chosen == *bc && bytes.len() > *blen)
                    }
                };
                if better {
                    best = Some((chosen, bytes.len(), FpBuffer::of(buffer), bytes));
                }
            }
            _ => {}
        }
    }
    best.map(|(_, _, b, bytes)| (b, bytes))
}

/// A group of rules checked together.
#[derive(Debug)]
struct Group {
    scanners: Vec<(FpBuffer, Prefilter)>,
    /// Rules without a fast pattern, checked on every pass.
    nfp: Box<[u32]>,
    /// Rules without a fast pattern, indexed by source addresses.
    nfp_src: AddrIndex,
    /// Rules without a fast pattern, indexed by destination addresses.
    nfp_dst: AddrIndex,
}

const NONE: u32 = u32::MAX;

/// The groups of one protocol.
#[derive(Debug)]
struct ProtoGroups {
    dst: Box<[u32]>,
    src: Box<[u32]>,
    any: u32,
}

/// Rule counts and sizes of a compiled rule set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DetectorStats {
    /// Rules compiled.
    pub rules: usize,
    /// Rules with a fast pattern.
    pub with_fast_pattern: usize,
    /// Rule groups.
    pub groups: usize,
    /// Patterns over all prefilters.
    pub patterns: usize,
    /// Bytes of heap the prefilters and indexes use.
    pub prefilter_bytes: usize,
}

/// Rules compiled for detection. Immutable: engine instances share one through an
/// `Arc` and keep their state (flows, counters) to themselves.
#[derive(Debug)]
pub struct Detector {
    rules: Vec<CompiledRule>,
    groups: Vec<Group>,
    /// TCP, UDP, ICMP, other.
    protos: [ProtoGroups; 4],
    services: Vec<u32>,
    patterns: u32,
    symbols: Symbols,
    filter_count: u32,
    stats: DetectorStats,
    compile_time: Duration,
}

/// One rule that matched in a pass (an alerting rule, or a `pass` rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// The rule's index in the detector.
    pub rule: u32,
}

/// Per-instance scratch space for passes (no allocation per packet).
#[derive(Debug, Default)]
pub struct Scratch {
    matcher: MatchScratch,
    pattern_seen: Vec<u32>,
    rule_seen: Vec<u32>,
    stamp: u32,
    fp: Vec<u32>,
    checkers: Vec<u32>,
    /// Rules that ran out of evaluation steps, so far.
    pub exhausted: u64,
}

fn proto_index(protocol: u8) -> usize {
    match protocol {
        6 => 0,
        17 => 1,
        1 | 58 => 2,
        _ => 3,
    }
}

impl Detector {
    /// Compiles a rule set.
    pub fn new(set: &RuleSet, config: DetectorConfig) -> Result<Detector, ParseError> {
        Detector::build(
            RuleSet {
                rules: set.rules.clone(),
                symbols: set.symbols.clone(),
                filters: set.filters.clone(),
                report: LoadReport::default(),
            },
            config,
        )
    }

    /// Compiles a rule set, taking it (no copy of the rules is kept besides the
    /// compiled ones).
    pub fn build(set: RuleSet, config: DetectorConfig) -> Result<Detector, ParseError> {
        let started = Instant::now();
        let mut rules = Vec::with_capacity(set.rules.len());
        for r in set.rules {
            let (location, sid) = (r.location.clone(), r.sig.sid);
            let compiled = CompiledRule::new(r, &set.symbols)
                .map_err(|e| ParseError::new(format!("{location} sid {sid}: {e}")))?;
            rules.push(compiled);
        }
        // Event filters: a filter table entry overrides a rule's own threshold.
        let mut filter_count = 0u32;
        let table: HashMap<(u32, u32), EventFilter> = set
            .filters
            .iter()
            .map(|f| ((f.gid, f.sid), f.filter))
            .collect();
        for r in &mut rules {
            let f = table
                .get(&(r.rule.sig.gid, r.rule.sig.sid))
                .or_else(|| table.get(&(r.rule.sig.gid, 0)))
                .copied()
                .or(r.rule.threshold);
            if let Some(f) = f {
                r.event_filter = Some((filter_count, f));
                filter_count += 1;
            }
        }
        let mut d = Detector {
            groups: Vec::new(),
            protos: std::array::from_fn(|_| ProtoGroups {
                dst: Box::new([]),
                src: Box::new([]),
                any: NONE,
            }),
            services: vec![NONE; Service::ALL.len()],
            patterns: 0,
            symbols: set.symbols.clone(),
            filter_count,
            stats: DetectorStats::default(),
            compile_time: Duration::ZERO,
            rules,
        };
        d.build_groups(config)?;
        d.stats.rules = d.rules.len();
        d.stats.with_fast_pattern = d.rules.iter().filter(|r| r.fast.is_some()).count();
        d.stats.groups = d.groups.len();
        d.stats.patterns = d.patterns as usize;
        d.stats.prefilter_bytes = d
            .groups
            .iter()
            .map(|g| {
                g.scanners
                    .iter()
                    .map(|(_, p)| p.memory_usage())
                    .sum::<usize>()
                    + g.nfp_src.memory_usage()
                    + g.nfp_dst.memory_usage()
                    + g.nfp.len() * 4
            })
            .sum();
        d.compile_time = started.elapsed();
        Ok(d)
    }

    fn build_groups(&mut self, config: DetectorConfig) -> Result<(), ParseError> {
        let mut interned: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut sets: Vec<Vec<u32>> = Vec::new();
        let mut intern = |set: Vec<u32>, sets: &mut Vec<Vec<u32>>| -> u32 {
            if set.is_empty() {
                return NONE;
            }
            if let Some(&g) = interned.get(&set) {
                return g;
            }
            let g = sets.len() as u32;
            interned.insert(set.clone(), g);
            sets.push(set);
            g
        };
        for (pi, proto) in [6u8, 17, 1, 0].into_iter().enumerate() {
            let ported = pi < 2;
            // (port, rule) pairs, grouped by port below.
            let mut dst: Vec<(u16, u32)> = Vec::new();
            let mut src: Vec<(u16, u32)> = Vec::new();
            let mut any = Vec::new();
            for (i, r) in self.rules.iter().enumerate() {
                let h = &r.rule.header;
                let applies = match h.protocol {
                    Protocol::Ip => true,
                    Protocol::Tcp => proto == 6,
                    Protocol::Udp => proto == 17,
                    Protocol::Icmp => proto == 1,
                };
                // Rules whose fast pattern needs a service's buffers only ever match
                // on flows of their services.
                let service_fp =
                    r.has_services && r.fast.as_ref().is_some_and(|f| f.0 != FpBuffer::Pkt);
                if !applies || r.service_only || service_fp {
                    continue;
                }
                let i = i as u32;
                let small = |p: &crate::engine::rules::ports::PortSpec| {
                    !p.is_any() && p.count() <= config.port_group_limit
                };
                let (ports, primary, other) = if ported && small(&h.dst_ports) {
                    (&h.dst_ports, &mut dst, &mut src)
                } else if ported && small(&h.src_ports) {
                    (&h.src_ports, &mut src, &mut dst)
                } else {
                    any.push(i);
                    continue;
                };
                for &(lo, hi) in ports.ranges() {
                    for port in lo..=hi {
                        primary.push((port, i));
                        if h.bidirectional {
                            other.push((port, i));
                        }
                    }
                }
            }
            let mut table = |mut pairs: Vec<(u16, u32)>, sets: &mut Vec<Vec<u32>>| {
                pairs.sort_unstable();
                pairs.dedup();
                let mut t = vec![NONE; if ported { 65536 } else { 0 }].into_boxed_slice();
                for run in pairs.chunk_by(|a, b| a.0 == b.0) {
                    let set: Vec<u32> = run.iter().map(|&(_, r)| r).collect();
                    if let Some(slot) = t.get_mut(usize::from(run[0].0)) {
                        *slot = intern(set, sets);
                    }
                }
                t
            };
            let dst = table(dst, &mut sets);
            let src = table(src, &mut sets);
            let any = intern(any, &mut sets);
            self.protos[pi] = ProtoGroups { dst, src, any };
        }
        for s in Service::ALL {
            let members: Vec<u32> = self
                .rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.service_mask & (1 << s.index()) != 0)
                .map(|(i, _)| i as u32)
                .collect();
            self.services[s.index()] = intern(members, &mut sets);
        }
        let mut next_global = 0u32;
        for set in sets {
            self.groups
                .push(self.build_group(&set, config, &mut next_global)?);
        }
        self.patterns = next_global;
        Ok(())
    }

    fn build_group(
        &self,
        members: &[u32],
        config: DetectorConfig,
        next_global: &mut u32,
    ) -> Result<Group, ParseError> {
        let mut builders: Vec<(FpBuffer, PrefilterBuilder)> = Vec::new();
        let mut nfp = Vec::new();
        let mut by_src = Vec::new();
        let mut by_dst = Vec::new();
        for &i in members {
            let r = &self.rules[i as usize];
            match &r.fast {
                Some((b, bytes)) => {
                    let pos = match builders.iter().position(|(x, _)| x == b) {
                        Some(p) => p,
                        None => {
                            builders.push((*b, PrefilterBuilder::default()));
                            builders.len() - 1
                        }
                    };
                    builders[pos].1.add(bytes, i);
                }
                None => {
                    let h = &r.rule.header;
                    if !h.bidirectional && !h.src.is_any() {
                        by_src.push(i);
                    } else if !h.bidirectional && !h.dst.is_any() {
                        by_dst.push(i);
                    } else {
                        nfp.push(i);
                    }
                }
            }
        }
        let mut scanners = Vec::with_capacity(builders.len());
        builders.sort_by_key(|(b, _)| *b);
        for (b, builder) in builders {
            scanners.push((b, builder.build(config.backend, next_global)?));
        }
        let rules = &self.rules;
        Ok(Group {
            scanners,
            nfp: nfp.into_boxed_slice(),
            nfp_src: AddrIndex::build(
                by_src
                    .iter()
                    .map(|&i| (i, &rules[i as usize].rule.header.src)),
            ),
            nfp_dst: AddrIndex::build(
                by_dst
                    .iter()
                    .map(|&i| (i, &rules[i as usize].rule.header.dst)),
            ),
        })
    }

    /// The compiled rules.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The rule at `index`.
    pub fn rule(&self, index: u32) -> Option<&CompiledRule> {
        self.rules.get(index as usize)
    }

    /// Flowbit and header-field names.
    pub fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    /// How many event-filter counters the rules use.
    pub fn filter_count(&self) -> u32 {
        self.filter_count
    }

    /// Counts and sizes.
    pub fn stats(&self) -> DetectorStats {
        self.stats
    }

    /// How long compiling took.
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    /// Scratch space sized for this detector.
    pub fn scratch(&self) -> Scratch {
        let mut matcher = MatchScratch::default();
        for g in &self.groups {
            for (_, p) in &g.scanners {
                // Scratch allocation fails only when out of memory; scans without it
                // find nothing, which the missing alerts would show.
                let _ = p.prepare(&mut matcher);
            }
        }
        Scratch {
            matcher,
            pattern_seen: vec![0; self.patterns as usize],
            rule_seen: vec![0; self.rules.len()],
            stamp: 0,
            fp: Vec::new(),
            checkers: Vec::new(),
            exhausted: 0,
        }
    }

    /// One detection pass over a packet or reassembled data: appends the rules that
    /// match (and should alert) to `out`. Flowbits of matching rules are applied to
    /// `bits`; `detection_filter` counters are kept in `rates`.
    #[allow(clippy::too_many_arguments)]
    pub fn detect(
        &self,
        p: &PacketInfo,
        buffers: &BufferSet<'_>,
        fresh: Fresh,
        bits: &mut FlowBits,
        rates: &mut RateTable,
        now_s: u64,
        scratch: &mut Scratch,
        out: &mut Vec<Match>,
    ) {
        scratch.stamp = scratch.stamp.wrapping_add(1);
        if scratch.stamp == 0 {
            scratch.pattern_seen.iter_mut().for_each(|s| *s = 0);
            scratch.rule_seen.iter_mut().for_each(|s| *s = 0);
            scratch.stamp = 1;
        }
        let stamp = scratch.stamp;
        let pg = &self.protos[proto_index(p.protocol)];
        let mut ids = [NONE; 4];
        if let Some(s) = p.service {
            ids[0] = self.services[s.index()];
        }
        if !pg.dst.is_empty() {
            ids[1] = pg.dst[usize::from(p.dport)];
            ids[2] = pg.src[usize::from(p.sport)];
        }
        ids[3] = pg.any;
        scratch.fp.clear();
        scratch.checkers.clear();
        {
            let Scratch {
                matcher,
                pattern_seen,
                rule_seen,
                fp,
                checkers,
                ..
            } = scratch;
            for &g in &ids {
                let Some(group) = self.groups.get(g as usize) else {
                    continue;
                };
                for (b, pre) in &group.scanners {
                    if !fresh.has(*b) {
                        continue;
                    }
                    let Some(hay) = buffers.get(b.buffer(), None) else {
                        continue;
                    };
                    if hay.is_empty() {
                        continue;
                    }
                    pre.scan(hay, matcher, pattern_seen, stamp, &mut |r| {
                        let seen = &mut rule_seen[r as usize];
                        if *seen != stamp {
                            *seen = stamp;
                            if self.rules[r as usize].checks_flowbits {
                                checkers.push(r);
                            } else {
                                fp.push(r);
                            }
                        }
                    });
                }
            }
        }
        let fp = std::mem::take(&mut scratch.fp);
        for &r in &fp {
            self.eval(r, p, buffers, bits, rates, now_s, scratch, out);
        }
        scratch.fp = fp;
        let checkers = std::mem::take(&mut scratch.checkers);
        for &r in &checkers {
            self.eval(r, p, buffers, bits, rates, now_s, scratch, out);
        }
        scratch.checkers = checkers;
        for &g in &ids {
            let Some(group) = self.groups.get(g as usize) else {
                continue;
            };
            let lists = [
                &group.nfp[..],
                group.nfp_src.lookup(p.src),
                group.nfp_dst.lookup(p.dst),
            ];
            for list in lists {
                for &r in list {
                    let seen = &mut scratch.rule_seen[r as usize];
                    if *seen == stamp {
                        continue;
                    }
                    *seen = stamp;
                    self.eval(r, p, buffers, bits, rates, now_s, scratch, out);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn eval(
        &self,
        r: u32,
        p: &PacketInfo,
        buffers: &BufferSet<'_>,
        bits: &mut FlowBits,
        rates: &mut RateTable,
        now_s: u64,
        scratch: &mut Scratch,
        out: &mut Vec<Match>,
    ) {
        let Some(cr) = self.rules.get(r as usize) else {
            return;
        };
        if !cr.header_matches(p) {
            return;
        }
        let rule = &cr.rule;
        for t in &rule.flowbit_tests {
            let hit = if t.all {
                t.bits.iter().all(|&b| bits.get(b))
            } else {
                t.bits.iter().any(|&b| bits.get(b))
            };
            if hit != t.set {
                return;
            }
        }
        match cr.program.eval(buffers) {
            Outcome::Match => {}
            Outcome::NoMatch => return,
            Outcome::Exhausted => {
                scratch.exhausted += 1;
                return;
            }
        }
        if let Some(df) = rule.detection_filter
            && !rates.detection_filter(r, &df, p.src, p.dst, now_s)
        {
            return;
        }
        for a in &rule.flowbit_actions {
            match a {
                FlowbitAction::Set(b) => b.iter().for_each(|&x| bits.set(x, true)),
                FlowbitAction::Unset(b) => b.iter().for_each(|&x| bits.set(x, false)),
                FlowbitAction::Toggle(b) => b.iter().for_each(|&x| bits.set(x, !bits.get(x))),
                FlowbitAction::Reset => bits.clear(),
            }
        }
        if cr.alerts || cr.pass {
            out.push(Match { rule: r });
        }
    }
}
