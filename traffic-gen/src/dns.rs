//! DNS over UDP port 53: queries for A, AAAA, MX and TXT records and their responses in
//! wire format, with name compression in the answers, optional EDNS(0), and the
//! bad-domain attack.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::attacks::{AttackKind, BAD_DOMAIN};
use crate::content;
use crate::flow::{FlowPackets, L4, Side};
use crate::frame;
use crate::mix::SizeMix;
use crate::rng::Rng;
use crate::tcp_flow::Timing;

/// Record type A.
pub(crate) const TYPE_A: u16 = 1;
const TYPE_SOA: u16 = 6;
const TYPE_CNAME: u16 = 5;
/// Record type MX.
pub(crate) const TYPE_MX: u16 = 15;
/// Record type TXT.
pub(crate) const TYPE_TXT: u16 = 16;
/// Record type AAAA.
pub(crate) const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const OPTION_PADDING: u16 = 12;

const HOST_LABELS: &[&str] = &[
    "www",
    "api",
    "cdn",
    "static",
    "img",
    "mail",
    "login",
    "app",
    "m",
    "media",
    "assets",
    "update",
    "telemetry",
    "ads",
    "video",
    "news",
    "shop",
    "time",
    "push",
    "sync",
];

const ZONES: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "acme.example",
    "shop.example",
    "news.example",
    "video.test",
    "cloud.test",
    "mail.example",
    "social.test",
    "games.example",
    "bank.example",
];

/// A DNS question, with the EDNS(0) parameters of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    pub id: u16,
    pub name: String,
    pub qtype: u16,
    /// The zone the name belongs to (used for MX, TXT and SOA data).
    pub zone: String,
    /// EDNS(0) UDP payload size, if the query carries an OPT record.
    pub edns: Option<u16>,
    pub recursion_desired: bool,
}

/// What a response says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// Addresses (A or AAAA, per the query type), optionally behind a CNAME.
    Addresses {
        cname: Option<String>,
        v4: Vec<Ipv4Addr>,
        v6: Vec<Ipv6Addr>,
        ttl: u32,
    },
    Mx(Vec<(u16, String)>, u32),
    Txt(Vec<String>, u32),
    NxDomain {
        serial: u32,
    },
}

/// Writes a DNS message, compressing names against those already written.
struct Writer {
    buf: Vec<u8>,
    /// Lower-case suffixes already written and their offsets.
    names: Vec<(String, u16)>,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            buf: Vec::with_capacity(512),
            names: Vec::new(),
        }
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes `name`, ending in a pointer to the longest suffix already written.
    fn name(&mut self, name: &str) {
        let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".").to_ascii_lowercase();
            if let Some(&(_, off)) = self.names.iter().find(|(s, _)| *s == suffix) {
                self.u16(0xc000 | off);
                return;
            }
            if self.buf.len() < 0x3fff {
                self.names.push((suffix, self.buf.len() as u16));
            }
            self.buf.push(labels[i].len() as u8);
            self.buf.extend_from_slice(labels[i].as_bytes());
        }
        self.buf.push(0);
    }

    /// Starts a resource record; returns where its RDLENGTH goes.
    fn record(&mut self, name: &str, rtype: u16, ttl: u32) -> usize {
        self.name(name);
        self.u16(rtype);
        self.u16(1);
        self.u32(ttl);
        let at = self.buf.len();
        self.u16(0);
        at
    }

    /// Fills in the RDLENGTH of the record started at `at`.
    fn end_record(&mut self, at: usize) {
        let len = (self.buf.len() - at - 2) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_be_bytes());
    }

    /// An OPT record with a Padding option of `pad` bytes when `pad` is `Some`.
    fn opt(&mut self, udp_size: u16, pad: Option<usize>) {
        self.buf.push(0);
        self.u16(TYPE_OPT);
        self.u16(udp_size);
        self.u32(0);
        match pad {
            None => self.u16(0),
            Some(p) => {
                self.u16(4 + p as u16);
                self.u16(OPTION_PADDING);
                self.u16(p as u16);
                self.buf.resize(self.buf.len() + p, 0);
            }
        }
    }
}

impl Query {
    fn header_and_question(&self, w: &mut Writer, flags: u16, counts: [u16; 4]) {
        w.u16(self.id);
        w.u16(flags);
        for c in counts {
            w.u16(c);
        }
        w.name(&self.name);
        w.u16(self.qtype);
        w.u16(1);
    }

    /// The query in wire format; `pad` adds an EDNS(0) Padding option of that many bytes.
    pub(crate) fn to_bytes(&self, pad: Option<usize>) -> Vec<u8> {
        let mut w = Writer::new();
        let flags = if self.recursion_desired { 0x0100 } else { 0 };
        let ar = u16::from(self.edns.is_some());
        self.header_and_question(&mut w, flags, [1, 0, 0, ar]);
        if let Some(size) = self.edns {
            w.opt(size, pad);
        }
        w.buf
    }
}

fn response_bytes(q: &Query, a: &Answer, pad: Option<usize>) -> Vec<u8> {
    let mut w = Writer::new();
    let (rcode, answers, authority) = match a {
        Answer::Addresses { cname, v4, v6, .. } => {
            let n = if q.qtype == TYPE_AAAA {
                v6.len()
            } else {
                v4.len()
            };
            (0, n + usize::from(cname.is_some()), 0)
        }
        Answer::Mx(list, _) => (0, list.len(), 0),
        Answer::Txt(list, _) => (0, list.len(), 0),
        Answer::NxDomain { .. } => (3, 0, 1),
    };
    let rd = if q.recursion_desired { 0x0100 } else { 0 };
    let flags = 0x8000 | rd | 0x0080 | rcode;
    let ar = u16::from(q.edns.is_some());
    q.header_and_question(&mut w, flags, [1, answers as u16, authority, ar]);
    match a {
        Answer::Addresses { cname, v4, v6, ttl } => {
            let mut owner = q.name.clone();
            if let Some(target) = cname {
                let at = w.record(&owner, TYPE_CNAME, *ttl * 4);
                w.name(target);
                w.end_record(at);
                owner = target.clone();
            }
            if q.qtype == TYPE_AAAA {
                for addr in v6 {
                    let at = w.record(&owner, TYPE_AAAA, *ttl);
                    w.buf.extend_from_slice(&addr.octets());
                    w.end_record(at);
                }
            } else {
                for addr in v4 {
                    let at = w.record(&owner, TYPE_A, *ttl);
                    w.buf.extend_from_slice(&addr.octets());
                    w.end_record(at);
                }
            }
        }
        Answer::Mx(list, ttl) => {
            for (pref, exchange) in list {
                let at = w.record(&q.name, TYPE_MX, *ttl);
                w.u16(*pref);
                w.name(exchange);
                w.end_record(at);
            }
        }
        Answer::Txt(list, ttl) => {
            for text in list {
                let at = w.record(&q.name, TYPE_TXT, *ttl);
                for chunk in text.as_bytes().chunks(255) {
                    w.buf.push(chunk.len() as u8);
                    w.buf.extend_from_slice(chunk);
                }
                w.end_record(at);
            }
        }
        Answer::NxDomain { serial } => {
            let at = w.record(&q.zone, TYPE_SOA, 900);
            w.name(&format!("ns1.{}", q.zone));
            w.name(&format!("hostmaster.{}", q.zone));
            for v in [*serial, 7200, 3600, 1_209_600, 300] {
                w.u32(v);
            }
            w.end_record(at);
        }
    }
    if let Some(size) = q.edns {
        w.opt(size, pad);
    }
    w.buf
}

fn answer_for(rng: &mut Rng, q: &Query, bad: bool) -> Answer {
    if bad {
        return Answer::Addresses {
            cname: None,
            v4: vec![Ipv4Addr::new(203, 0, 113, 66)],
            v6: vec![Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 0x66)],
            ttl: 60,
        };
    }
    if rng.chance(0.06) {
        return Answer::NxDomain {
            serial: 2_024_010_100 + rng.below(99) as u32,
        };
    }
    match q.qtype {
        TYPE_MX => {
            let n = rng.range(1, 3) as u16;
            Answer::Mx(
                (1..=n)
                    .map(|i| (i * 10, format!("mx{i}.{}", q.zone)))
                    .collect(),
                rng.range(300, 86_400) as u32,
            )
        }
        TYPE_TXT => {
            let mut list = vec![format!("v=spf1 include:_spf.{} ~all", q.zone)];
            if rng.chance(0.5) {
                list.push(format!("site-verification={}", content::token(rng, 43)));
            }
            Answer::Txt(list, rng.range(300, 86_400) as u32)
        }
        _ => {
            let cname = rng.chance(0.35).then(|| {
                format!(
                    "edge-{}.{}.cdn.example.net",
                    rng.range(1, 64),
                    rng.pick(&["eu", "us", "ap"])
                )
            });
            let n = rng.range(1, 4) as usize;
            let nets: [[u8; 3]; 3] = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];
            let v4 = (0..n)
                .map(|_| {
                    let p = rng.pick(&nets);
                    Ipv4Addr::new(p[0], p[1], p[2], rng.range(1, 254) as u8)
                })
                .collect();
            let v6 = (0..n)
                .map(|_| {
                    Ipv6Addr::new(
                        0x2001,
                        0xdb8,
                        rng.range(0x100, 0xfff) as u16,
                        0,
                        0,
                        0,
                        0,
                        rng.range(1, 0xffff) as u16,
                    )
                })
                .collect();
            Answer::Addresses {
                cname,
                v4,
                v6,
                ttl: rng.range(30, 3600) as u32,
            }
        }
    }
}

/// A random query of type `qtype` (or the bad domain).
fn query(rng: &mut Rng, qtype: u16, bad: bool, mix: bool) -> Query {
    let (name, zone) = if bad {
        (
            BAD_DOMAIN.to_string(),
            BAD_DOMAIN
                .split_once('.')
                .map_or("", |(_, z)| z)
                .to_string(),
        )
    } else {
        let zone = rng.pick(ZONES).to_string();
        let name = if qtype == TYPE_MX || qtype == TYPE_TXT {
            zone.clone()
        } else {
            format!("{}.{zone}", rng.pick(HOST_LABELS))
        };
        (name, zone)
    };
    Query {
        id: rng.next_u16(),
        name,
        qtype,
        zone,
        // A size mix pads with EDNS(0), so every query carries OPT then.
        edns: (mix || rng.chance(0.7)).then(|| *rng.pick(&[1232, 4096, 1232, 512])),
        recursion_desired: true,
    }
}

/// A message padded towards a frame length drawn from `mix`: the padding option fills
/// the gap when there is one.
fn sized(
    mix: &SizeMix,
    rng: &mut Rng,
    header: usize,
    render: impl Fn(Option<usize>) -> Vec<u8>,
) -> Vec<u8> {
    match mix.sample(rng) {
        None => render(None),
        Some(frame_len) => {
            let base = render(Some(0));
            let want = frame_len.saturating_sub(header);
            if want > base.len() {
                render(Some(want - base.len()))
            } else {
                base
            }
        }
    }
}

/// Plays one DNS exchange (one query and its response, or an A and an AAAA query from
/// the same socket) into `fp` from `t0`.
pub(crate) fn run(
    fp: &mut FlowPackets,
    rng: &mut Rng,
    timing: &Timing,
    mix: &SizeMix,
    t0: u64,
    attack: Option<AttackKind>,
) {
    let bad = attack == Some(AttackKind::BadDomain);
    let qtypes: &[u16] = if bad {
        &[TYPE_A]
    } else {
        match rng.below(100) {
            0..45 => &[TYPE_A],
            45..65 => &[TYPE_AAAA],
            65..85 => &[TYPE_A, TYPE_AAAA],
            85..92 => &[TYPE_MX],
            _ => &[TYPE_TXT],
        }
    };
    let header = frame::ETH_HEADER + fp.ends().ip.header_len() + frame::UDP_HEADER;
    let mut first: Option<Query> = None;
    let mut t = t0;
    for &qtype in qtypes {
        let q = match &first {
            // The AAAA query of a pair asks for the same name.
            Some(f) => Query {
                id: rng.next_u16(),
                qtype,
                ..f.clone()
            },
            None => query(rng, qtype, bad, !mix.is_natural()),
        };
        let bytes = sized(mix, rng, header, |pad| q.to_bytes(pad));
        fp.push_bytes(t, Side::Client, L4::Udp, &bytes);
        let lookup = if rng.chance(0.8) {
            rng.log_uniform_u64(30_000, 1_000_000)
        } else {
            rng.log_uniform_u64(5_000_000, 150_000_000)
        };
        let answer = answer_for(rng, &q, bad);
        let resp = sized(mix, rng, header, |pad| response_bytes(&q, &answer, pad));
        fp.push_bytes(
            timing.react(Side::Server, t) + lookup,
            Side::Server,
            L4::Udp,
            &resp,
        );
        t += rng.range(20_000, 300_000);
        if first.is_none() {
            first = Some(q);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str, qtype: u16) -> Query {
        Query {
            id: 0x1234,
            name: name.into(),
            qtype,
            zone: "example.com".into(),
            edns: Some(1232),
            recursion_desired: true,
        }
    }

    #[test]
    fn query_wire_format() {
        let b = q("www.example.com", TYPE_A).to_bytes(None);
        let expected: &[u8] = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\
            \x03www\x07example\x03com\x00\x00\x01\x00\x01\
            \x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00";
        assert_eq!(b, expected);
        let padded = q("www.example.com", TYPE_A).to_bytes(Some(10));
        assert_eq!(padded.len(), b.len() + 4 + 10);
    }

    #[test]
    fn answers_compress_names() {
        let query = q("www.example.com", TYPE_A);
        let a = Answer::Addresses {
            cname: Some("edge-1.eu.cdn.example.net".into()),
            v4: vec![Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)],
            v6: vec![],
            ttl: 60,
        };
        let r = response_bytes(&query, &a, None);
        assert_eq!(&r[..4], b"\x12\x34\x81\x80");
        assert_eq!(&r[6..8], &3u16.to_be_bytes());
        // The CNAME record's owner is a pointer to the question name at offset 12.
        let after_question = 12 + 17 + 4;
        assert_eq!(&r[after_question..after_question + 2], b"\xc0\x0c");
        // The CNAME target shares no suffix with the question, so it is written in full.
        assert!(r.windows(7).any(|w| w == b"\x06edge-1"));
        // Each A record's owner points at the CNAME target.
        let target_at = r.windows(7).position(|w| w == b"\x06edge-1").unwrap() as u16;
        let ptr = (0xc000 | target_at).to_be_bytes();
        assert_eq!(r.windows(2).filter(|w| *w == ptr).count(), 2);
    }

    #[test]
    fn mx_exchange_compresses_against_the_question() {
        let query = q("example.com", TYPE_MX);
        let a = Answer::Mx(vec![(10, "mx1.example.com".into())], 300);
        let r = response_bytes(&query, &a, None);
        // "mx1" then a pointer to "example.com" at offset 12.
        assert!(r.windows(6).any(|w| w == b"\x03mx1\xc0\x0c"));
    }

    #[test]
    fn padding_hits_the_target() {
        let mut rng = Rng::new(1);
        let mix: SizeMix = "590:1".parse().unwrap();
        let query = q("www.example.com", TYPE_A);
        let b = sized(&mix, &mut rng, 42, |pad| query.to_bytes(pad));
        assert_eq!(b.len() + 42, 590);
    }
}
