//! The engine on built conversations: TCP handshakes, reassembly across segments,
//! HTTP buffers, flow options, flowbits, raw versus reassembled inspection, event
//! filters and detection filters.

use std::net::Ipv4Addr;
use std::sync::Arc;

use ids_worker::engine::{
    Alert, Detector, DetectorConfig, Engine, EngineConfig, LoadOptions, PacketKind, RuleLoader,
};
use traffic_gen::frame::{self, IpFields, IpPair, L4Header, Mac, TcpHeader, tcp_flags};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn engine(rules: &str) -> Engine {
    engine_with(rules, EngineConfig::default())
}

fn engine_with(rules: &str, config: EngineConfig) -> Engine {
    let mut l = RuleLoader::new(LoadOptions::default());
    l.load_str("test.rules", rules).unwrap();
    let set = l.finish();
    assert_eq!(set.report.loaded, set.rules.len());
    let d = Arc::new(Detector::new(&set, DetectorConfig::default()).unwrap());
    Engine::new(d, config)
}

/// A TCP conversation that keeps sequence numbers.
struct Conn {
    sport: u16,
    dport: u16,
    cseq: u32,
    sseq: u32,
    ts: u64,
    frames: Vec<(u64, Vec<u8>)>,
}

impl Conn {
    fn new(sport: u16, dport: u16) -> Conn {
        Conn {
            sport,
            dport,
            cseq: 1000,
            sseq: 5000,
            ts: 1_600_000_000_000_000_000,
            frames: Vec::new(),
        }
    }

    fn push(&mut self, from_client: bool, flags: u8, payload: &[u8]) {
        let (ip, sport, dport, seq, ack) = if from_client {
            (
                IpPair::V4 {
                    src: CLIENT,
                    dst: SERVER,
                },
                self.sport,
                self.dport,
                self.cseq,
                self.sseq,
            )
        } else {
            (
                IpPair::V4 {
                    src: SERVER,
                    dst: CLIENT,
                },
                self.dport,
                self.sport,
                self.sseq,
                self.cseq,
            )
        };
        let mut out = Vec::new();
        frame::build(
            &mut out,
            Mac::local(1),
            Mac::local(2),
            &ip,
            &IpFields::default(),
            &L4Header::Tcp(TcpHeader {
                src_port: sport,
                dst_port: dport,
                seq,
                ack,
                flags,
                window: 65535,
                options: &[],
            }),
            payload,
        );
        let advance =
            payload.len() as u32 + u32::from(flags & (tcp_flags::SYN | tcp_flags::FIN) != 0);
        if from_client {
            self.cseq = self.cseq.wrapping_add(advance);
        } else {
            self.sseq = self.sseq.wrapping_add(advance);
        }
        self.ts += 1_000_000;
        self.frames.push((self.ts, out));
    }

    fn handshake(&mut self) -> &mut Self {
        self.push(true, tcp_flags::SYN, b"");
        self.push(false, tcp_flags::SYN | tcp_flags::ACK, b"");
        self.push(true, tcp_flags::ACK, b"");
        self
    }

    /// Data from one side in segments of `seg` bytes, then the other side's ACK.
    fn send(&mut self, from_client: bool, data: &[u8], seg: usize) -> &mut Self {
        for chunk in data.chunks(seg.max(1)) {
            self.push(from_client, tcp_flags::ACK | tcp_flags::PSH, chunk);
        }
        self.push(!from_client, tcp_flags::ACK, b"");
        self
    }

    fn run(&self, e: &mut Engine) -> Vec<Alert> {
        let mut out = Vec::new();
        for (ts, f) in &self.frames {
            e.process(f, *ts, &mut out);
        }
        e.finish(self.ts, &mut out);
        out
    }
}

fn sids(alerts: &[Alert]) -> Vec<u32> {
    alerts.iter().map(|a| a.sig.sid).collect()
}

const REQUEST: &[u8] = b"GET /apt/../dists/InRelease?q=a%20b HTTP/1.1\r\nHost: mirror\r\n\
User-Agent: Debian APT-HTTP/1.3 (1.0.1)\r\nCookie: sess=42\r\n\r\n";

#[test]
fn http_request_buffers_on_the_first_request() {
    let rules = r#"alert tcp any any -> any 80 (msg:"ua"; flow:established,to_server; http_header; content:"APT-HTTP|2F|"; sid:1;)
alert tcp any any -> any any (msg:"uri"; http_uri; content:"/dists/InRelease?q=a b"; sid:2;)
alert tcp any any -> any any (msg:"raw uri"; http_raw_uri; content:"/apt/../"; sid:3;)
alert tcp any any -> any any (msg:"cookie"; http_cookie; content:"sess=42"; sid:4;)
alert tcp any any -> any any (msg:"method"; http_method; content:"GET"; sid:5;)
alert tcp any any -> any any (msg:"not in header"; http_header; content:"sess=42"; sid:6;)
alert tcp any any -> any any (msg:"field"; http_header:field user-agent; content:"Debian",depth 6; sid:7;)"#;
    let mut c = Conn::new(40000, 80);
    c.handshake().send(true, REQUEST, 1460);
    // Three alerts at most per inspected unit: the longest contents first.
    let alerts = c.run(&mut engine(rules));
    let mut got = sids(&alerts);
    got.sort();
    assert_eq!(got, vec![1, 2, 3], "{alerts:?}");
    assert!(alerts.iter().all(|a| a.kind == PacketKind::StreamTcp));
    assert!(
        alerts
            .iter()
            .all(|a| a.from_client == Some(true) && a.dport == 80)
    );
    let all = EngineConfig {
        log_events: 8,
        ..EngineConfig::default()
    };
    let mut got = sids(&c.run(&mut engine_with(rules, all)));
    got.sort();
    assert_eq!(got, vec![1, 2, 3, 4, 5, 7]);
}

#[test]
fn http_bodies_across_segments() {
    let mut e = engine(
        r#"alert tcp any 80 -> any any (msg:"eicar"; flow:to_client,established; file_data; content:"EICAR-STANDARD-ANTIVIRUS"; sid:10;)
alert tcp any any -> any 80 (msg:"sqli"; flow:to_server; http_client_body; content:"UNION SELECT",nocase; sid:11;)
alert tcp any 80 -> any any (msg:"status"; http_stat_code; content:"200"; sid:12;)"#,
    );
    let body = b"user=' union select a--";
    let req = format!(
        "POST /login HTTP/1.1\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        std::str::from_utf8(body).unwrap()
    );
    let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        10\r\nX5O!P%@AP[4\\PZX54\r\n30\r\n(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\r\n0\r\n\r\n";
    let mut c = Conn::new(40001, 80);
    c.handshake()
        .send(true, req.as_bytes(), 7)
        .send(false, resp, 9);
    let alerts = c.run(&mut e);
    let mut got = sids(&alerts);
    got.sort();
    assert_eq!(got, vec![10, 11, 12], "{alerts:?}");
}

#[test]
fn raw_packets_and_unknown_services() {
    // Data of a flow whose service is unknown is inspected packet by packet; a
    // content split over two segments is found only by the reassembled unit, and
    // a rule that alerted on a packet does not alert again on the unit.
    let mut e = engine(
        r#"alert tcp any any -> any 9999 (msg:"split"; flow:to_server,established; content:"SPLITMARK"; sid:20;)
alert tcp any any -> any 9999 (msg:"whole"; content:"WHOLE"; sid:21;)
alert tcp any any -> any 9999 (msg:"raw only"; flow:no_stream; content:"WHOLE"; sid:22;)
alert tcp any any -> any 9999 (msg:"stream only"; flow:only_stream; content:"SPLITMARK"; sid:23;)"#,
    );
    let mut c = Conn::new(40002, 9999);
    c.handshake();
    c.push(true, tcp_flags::ACK, b"\x01\x02garbage SPLIT");
    c.push(true, tcp_flags::ACK, b"MARK and WHOLE and more bytes to reach the atom minimum ......................................................................................................................................................................");
    c.push(false, tcp_flags::ACK, b"");
    let alerts = c.run(&mut e);
    let kinds: Vec<(u32, PacketKind)> = alerts.iter().map(|a| (a.sig.sid, a.kind)).collect();
    assert!(kinds.contains(&(21, PacketKind::Raw)), "{kinds:?}");
    assert!(kinds.contains(&(22, PacketKind::Raw)), "{kinds:?}");
    assert!(kinds.contains(&(20, PacketKind::StreamTcp)), "{kinds:?}");
    assert!(kinds.contains(&(23, PacketKind::StreamTcp)), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| k.0 == 21).count(), 1, "{kinds:?}");
}

#[test]
fn flow_direction_and_establishment() {
    let mut e = engine(
        r#"alert tcp any any -> any any (msg:"syn"; flags:S; flow:not_established; sid:30;)
alert tcp any any -> any any (msg:"to client"; flow:to_client; content:"pong"; sid:31;)
alert tcp any any -> any any (msg:"to server"; flow:to_server; content:"pong"; sid:32;)"#,
    );
    let mut c = Conn::new(40003, 7777);
    c.handshake().send(false, b"pong", 100);
    let alerts = c.run(&mut e);
    let mut got = sids(&alerts);
    got.sort();
    assert_eq!(got, vec![30, 31], "{alerts:?}");
}

#[test]
fn flowbits_across_packets() {
    let mut e = engine(
        r#"alert tcp any any -> any 5555 (msg:"login"; content:"LOGIN"; flowbits:set,logged; flowbits:noalert; sid:40;)
alert tcp any 5555 -> any any (msg:"secret after login"; content:"SECRET"; flowbits:isset,logged; sid:41;)
alert tcp any 5555 -> any any (msg:"secret without login"; content:"SECRET"; flowbits:isnotset,logged; sid:42;)"#,
    );
    let mut c = Conn::new(40004, 5555);
    c.handshake()
        .send(true, b"LOGIN", 100)
        .send(false, b"SECRET", 100);
    let got = sids(&c.run(&mut e));
    assert_eq!(got, vec![41]);
    let mut e2 = engine(
        r#"alert tcp any 5555 -> any any (msg:"secret without login"; content:"SECRET"; flowbits:isnotset,logged; sid:42;)"#,
    );
    let mut c = Conn::new(40005, 5555);
    c.handshake().send(false, b"SECRET", 100);
    assert_eq!(sids(&c.run(&mut e2)), vec![42]);
}

#[test]
fn event_and_detection_filters() {
    let mut e = engine(
        r#"alert tcp any any -> any 6666 (msg:"limited"; content:"PING"; threshold:type limit,track by_src,count 2,seconds 60; sid:50;)
alert tcp any any -> any 6666 (msg:"after five"; content:"PING"; detection_filter:track by_src,count 5,seconds 60; sid:51;)"#,
    );
    let mut c = Conn::new(40006, 6666);
    c.handshake();
    for _ in 0..8 {
        c.push(true, tcp_flags::ACK, b"PING");
    }
    let got = sids(&c.run(&mut e));
    assert_eq!(got.iter().filter(|&&s| s == 50).count(), 2, "{got:?}");
    assert_eq!(got.iter().filter(|&&s| s == 51).count(), 3, "{got:?}");
}

#[test]
fn pass_rules_silence_the_packet() {
    let mut e = engine(
        r#"alert tcp any any -> any 4444 (msg:"evil"; content:"EVIL"; sid:60;)
pass tcp any any -> any 4444 (msg:"allowed"; content:"EVIL-BUT-OK"; sid:61;)"#,
    );
    let mut c = Conn::new(40007, 4444);
    c.handshake();
    c.push(true, tcp_flags::ACK, b"EVIL-BUT-OK");
    c.push(true, tcp_flags::ACK, b"EVIL");
    let alerts = c.run(&mut e);
    assert_eq!(sids(&alerts), vec![60], "{alerts:?}");
    assert_eq!(e.stats().passed, 1);
}
