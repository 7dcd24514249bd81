//! Protocol structure of generated traffic, checked from the frames alone.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use common::{ACK, Decoded, FIN, FlowKey, Proto, RST, SYN, flows, streams};
use traffic_gen::{GenConfig, Protocol, ProtocolWeights, SizeMix, generate};

fn cfg(seed: u64, flows: u64, mix: SizeMix) -> GenConfig {
    GenConfig {
        seed,
        flows,
        ipv6_share: 0.3,
        size_mix: mix,
        attack_fraction: 0.1,
        ..GenConfig::default()
    }
}

fn decoded_flows(c: GenConfig) -> BTreeMap<FlowKey, Vec<Decoded>> {
    let (packets, _) = generate(c).unwrap();
    flows(&packets)
}

/// True if `a` is at or after `b` in sequence space.
fn seq_ge(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) < 1 << 31
}

/// Checks one TCP connection: handshake, sequence and acknowledgement arithmetic in
/// both directions, data both ways, and a complete teardown.
fn check_tcp(pkts: &[Decoded]) -> Result<(), String> {
    if pkts.len() < 3 {
        return Err(format!("only {} packets", pkts.len()));
    }
    let client = (pkts[0].src, pkts[0].sport);
    let t = |i: usize| pkts[i].tcp.unwrap();
    if t(0).flags != SYN {
        return Err(format!("first packet flags {:#x}, not SYN", t(0).flags));
    }
    if t(1).flags != SYN | ACK || (pkts[1].src, pkts[1].sport) == client {
        return Err("second packet is not the server's SYN-ACK".into());
    }
    if t(1).ack != t(0).seq.wrapping_add(1) {
        return Err("SYN-ACK does not acknowledge the SYN".into());
    }
    if t(2).flags != ACK
        || (pkts[2].src, pkts[2].sport) != client
        || t(2).seq != t(0).seq.wrapping_add(1)
        || t(2).ack != t(1).seq.wrapping_add(1)
        || !pkts[2].payload.is_empty()
    {
        return Err("third packet is not the client's handshake ACK".into());
    }
    if t(0).options == 0 || t(1).options == 0 {
        return Err("SYN or SYN-ACK without options".into());
    }
    let mut next: [Option<u32>; 2] = [None, None];
    let mut last_ack: [Option<u32>; 2] = [None, None];
    let mut data = [0usize; 2];
    let mut fin = [false; 2];
    let mut rst = false;
    for (i, p) in pkts.iter().enumerate() {
        if rst {
            return Err(format!("packet {i} after a RST"));
        }
        let d = usize::from((p.src, p.sport) != client);
        let h = p.tcp.unwrap();
        if h.flags & SYN != 0 {
            if next[d].is_some() {
                return Err(format!("second SYN at packet {i}"));
            }
            next[d] = Some(h.seq.wrapping_add(1));
        } else {
            let want = next[d].ok_or(format!("packet {i} before its side's SYN"))?;
            if h.seq != want {
                return Err(format!("packet {i}: seq {} but {} expected", h.seq, want));
            }
            let adv = p.payload.len() as u32 + u32::from(h.flags & FIN != 0);
            next[d] = Some(want.wrapping_add(adv));
        }
        if fin[d] && (!p.payload.is_empty() || h.flags & FIN != 0) {
            return Err(format!("packet {i}: data or FIN after FIN"));
        }
        fin[d] |= h.flags & FIN != 0;
        rst |= h.flags & RST != 0;
        data[d] += p.payload.len();
        if h.flags & ACK != 0 {
            let peer =
                next[1 - d].ok_or(format!("packet {i} acknowledges before the peer's SYN"))?;
            if !seq_ge(peer, h.ack) {
                return Err(format!(
                    "packet {i} acknowledges unseen data ({} > {peer})",
                    h.ack
                ));
            }
            if let Some(prev) = last_ack[d] {
                if !seq_ge(h.ack, prev) {
                    return Err(format!("packet {i}: acknowledgement went backwards"));
                }
            }
            last_ack[d] = Some(h.ack);
        }
    }
    if data[0] == 0 || data[1] == 0 {
        return Err(format!("data only one way: {data:?}"));
    }
    if !rst {
        if !(fin[0] && fin[1]) {
            return Err("connection neither reset nor closed both ways".into());
        }
        let last = pkts.last().unwrap();
        let d = usize::from((last.src, last.sport) != client);
        if last.tcp.unwrap().flags != ACK || Some(last.tcp.unwrap().ack) != next[1 - d] {
            return Err("the last FIN is not acknowledged".into());
        }
    }
    Ok(())
}

#[test]
fn packets_are_in_time_order_from_the_start() {
    let c = cfg(1, 400, SizeMix::natural());
    let start = c.start_ns;
    let (packets, records) = generate(c).unwrap();
    assert!(
        packets
            .windows(2)
            .all(|w| w[0].timestamp_ns <= w[1].timestamp_ns)
    );
    assert!(packets[0].timestamp_ns > start);
    for r in &records {
        assert!(r.start_ns <= r.end_ns);
        let first = packets.iter().find(|p| p.flow_id == r.id).unwrap();
        assert_eq!(first.timestamp_ns, r.start_ns);
    }
    let total: u64 = records.iter().map(|r| r.packets).sum();
    assert_eq!(total, packets.len() as u64);
    let bytes: u64 = records.iter().map(|r| r.bytes).sum();
    assert_eq!(
        bytes,
        packets.iter().map(|p| p.frame.len() as u64).sum::<u64>()
    );
}

#[test]
fn requested_flow_count_is_honoured() {
    for (n, mix) in [
        (1, SizeMix::natural()),
        (37, SizeMix::imix()),
        (800, SizeMix::natural()),
    ] {
        let (packets, records) = generate(cfg(n, n, mix)).unwrap();
        let keys = flows(&packets);
        assert_eq!(keys.len() as u64, n, "distinct flows on the wire");
        assert_eq!(records.len() as u64, n);
        let ids: BTreeSet<u64> = packets.iter().map(|p| p.flow_id).collect();
        assert_eq!(ids.len() as u64, n);
        // Each flow on the wire is exactly one recorded flow.
        for pkts in keys.values() {
            let ids: BTreeSet<u64> = pkts.iter().map(|p| p.flow_id).collect();
            assert_eq!(ids.len(), 1);
            let r = &records[*ids.first().unwrap() as usize];
            assert_eq!((r.client, r.server), (pkts[0].src, pkts[0].dst));
            if pkts[0].proto != Proto::Icmp && pkts[0].proto != Proto::Icmp6 {
                assert_eq!(
                    (r.client_port, r.server_port),
                    (pkts[0].sport, pkts[0].dport)
                );
            }
        }
    }
}

#[test]
fn tcp_connections_follow_the_protocol() {
    for (seed, mix) in [
        (3, SizeMix::natural()),
        (4, SizeMix::imix()),
        (5, SizeMix::small()),
    ] {
        let f = decoded_flows(cfg(seed, 400, mix.clone()));
        let mut tcp = 0;
        for (key, pkts) in &f {
            if key.proto == Proto::Tcp {
                tcp += 1;
                check_tcp(pkts).unwrap_or_else(|e| panic!("mix {mix}: flow {key:?}: {e}"));
            }
        }
        assert!(tcp > 100, "{tcp} TCP flows");
    }
}

#[test]
fn the_tcp_checker_rejects_broken_arithmetic() {
    let f = decoded_flows(cfg(3, 40, SizeMix::natural()));
    let pkts = f
        .values()
        .find(|p| p[0].proto == Proto::Tcp)
        .unwrap()
        .clone();
    check_tcp(&pkts).unwrap();
    // A data segment with a sequence number off by one.
    let mut broken = pkts.clone();
    let i = broken.iter().position(|p| !p.payload.is_empty()).unwrap();
    let mut t = broken[i].tcp.unwrap();
    t.seq = t.seq.wrapping_add(1);
    broken[i].tcp = Some(t);
    assert!(check_tcp(&broken).is_err());
    // A lost data segment.
    let mut lost = pkts.clone();
    lost.remove(i);
    assert!(check_tcp(&lost).is_err());
    // No SYN.
    assert!(check_tcp(&pkts[1..]).is_err());
}

/// Splits an HTTP stream into messages, returning their first lines.
fn http_messages(stream: &[u8]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < stream.len() {
        let rest = &stream[pos..];
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("header without end")?
            + 4;
        let head = std::str::from_utf8(&rest[..end]).map_err(|e| e.to_string())?;
        let first = head.lines().next().unwrap_or("").to_string();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(Ok(0), str::parse)
            .map_err(|e| format!("{e}"))?;
        if end + len > rest.len() {
            return Err(format!("body of {len} runs past the stream"));
        }
        pos += end + len;
        out.push(first);
    }
    Ok(out)
}

/// Splits a TLS stream into records, returning their content types.
fn tls_records(stream: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < stream.len() {
        if stream.len() - pos < 5 {
            return Err("truncated record header".into());
        }
        let len = usize::from(u16::from_be_bytes([stream[pos + 3], stream[pos + 4]]));
        if !matches!(stream[pos], 20..=23) || stream[pos + 1] != 3 {
            return Err(format!("bad record header at {pos}"));
        }
        if pos + 5 + len > stream.len() {
            return Err("record runs past the stream".into());
        }
        out.push(stream[pos]);
        pos += 5 + len;
    }
    Ok(out)
}

#[test]
fn http_and_tls_streams_are_well_framed() {
    for (seed, mix) in [
        (6, SizeMix::natural()),
        (7, SizeMix::imix()),
        (8, "200:1,1000:1".parse().unwrap()),
    ] {
        let f = decoded_flows(cfg(seed, 300, mix));
        let (mut http, mut tls) = (0, 0);
        for (key, pkts) in &f {
            if key.proto != Proto::Tcp {
                continue;
            }
            let (up, down) = streams(pkts);
            let port = pkts[0].dport;
            if port == 80 {
                http += 1;
                let reqs = http_messages(&up).unwrap();
                let resps = http_messages(&down).unwrap();
                assert!(!reqs.is_empty());
                assert_eq!(reqs.len(), resps.len(), "{key:?}");
                for r in &reqs {
                    assert!(
                        (r.starts_with("GET /") || r.starts_with("POST /"))
                            && r.ends_with(" HTTP/1.1"),
                        "{r}"
                    );
                }
                assert!(resps.iter().all(|r| r.starts_with("HTTP/1.1 ")));
                assert!(up.windows(6).any(|w| w == b"Host: "));
            } else {
                assert_eq!(port, 443);
                tls += 1;
                let c = tls_records(&up).unwrap();
                let s = tls_records(&down).unwrap();
                assert_eq!((c[0], up[5]), (22, 1), "ClientHello first");
                assert_eq!((s[0], down[5]), (22, 2), "ServerHello first");
                assert!(c.contains(&23) || c.contains(&21));
            }
        }
        assert!(http > 50 && tls > 50, "{http} HTTP, {tls} TLS");
    }
}

/// Bytes of the question section starting at offset 12 of a DNS message.
fn question_len(msg: &[u8]) -> usize {
    let mut i = 12;
    while msg[i] != 0 {
        assert!(msg[i] < 64, "compressed or bad label in a question");
        i += 1 + usize::from(msg[i]);
    }
    i + 1 + 4 - 12
}

#[test]
fn dns_responses_answer_their_queries() {
    let f = decoded_flows(cfg(9, 600, SizeMix::natural()));
    let mut answered = 0;
    for (key, pkts) in f.iter().filter(|(k, _)| k.proto == Proto::Udp) {
        let mut open: HashMap<u16, Vec<u8>> = HashMap::new();
        for p in pkts {
            let m = &p.payload;
            let id = u16::from_be_bytes([m[0], m[1]]);
            let question = m[12..12 + question_len(m)].to_vec();
            if p.dport == 53 {
                assert_eq!(m[2] & 0x80, 0, "query with QR set");
                assert!(open.insert(id, question).is_none(), "query id reused");
            } else {
                assert_eq!(p.sport, 53, "{key:?}");
                assert_eq!(m[2] & 0x80, 0x80, "response without QR");
                let q = open
                    .remove(&id)
                    .unwrap_or_else(|| panic!("response {id:#x} answers no query"));
                assert_eq!(q, question, "response repeats another question");
                answered += 1;
            }
        }
        assert!(open.is_empty(), "unanswered query in {key:?}");
    }
    assert!(answered > 100, "{answered}");
}

#[test]
fn pings_are_answered() {
    let c = GenConfig {
        protocols: ProtocolWeights::only(Protocol::Icmp),
        attack_fraction: 0.0,
        ..cfg(10, 100, SizeMix::natural())
    };
    let f = decoded_flows(c);
    assert_eq!(f.len(), 100);
    for pkts in f.values() {
        let mut open = HashMap::new();
        for p in pkts {
            match p.icmp_type {
                8 | 128 => assert!(open.insert(p.dport, p.payload.clone()).is_none()),
                0 | 129 => {
                    let data = open.remove(&p.dport).expect("reply without request");
                    assert_eq!(data, p.payload, "reply data differs");
                }
                other => panic!("ICMP type {other}"),
            }
        }
        assert!(open.is_empty());
    }
}

#[test]
fn ipv6_share_is_roughly_honoured() {
    for share in [0.0, 0.3, 1.0] {
        let c = GenConfig {
            ipv6_share: share,
            ..cfg(11, 2000, SizeMix::natural())
        };
        let f = decoded_flows(c);
        let v6 = f.values().filter(|p| p[0].v6).count() as f64 / f.len() as f64;
        assert!((v6 - share).abs() <= 0.04, "share {share}: got {v6}");
        // A flow never mixes IP versions.
        assert!(f.values().all(|p| p.iter().all(|x| x.v6 == p[0].v6)));
    }
}

fn in_doc_range(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => matches!(
            a.octets()[..3],
            [192, 0, 2] | [198, 51, 100] | [203, 0, 113]
        ),
        IpAddr::V6(a) => a.segments()[..2] == [0x2001, 0xdb8],
    }
}

fn in_private_range(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.octets()[0] == 10 || a.octets()[..2] == [192, 168],
        IpAddr::V6(a) => a.octets()[0] == 0xfd,
    }
}

#[test]
fn hosts_have_one_mac_and_sit_in_their_ranges() {
    let f = decoded_flows(cfg(12, 800, SizeMix::natural()));
    let mut mac_of: HashMap<IpAddr, [u8; 6]> = HashMap::new();
    let mut ips_of: HashMap<[u8; 6], BTreeSet<bool>> = HashMap::new();
    for pkts in f.values() {
        let client = pkts[0].src;
        assert!(in_private_range(client), "client {client}");
        assert!(in_doc_range(pkts[0].dst), "server {}", pkts[0].dst);
        for p in pkts {
            for (ip, mac) in [(p.src, p.src_mac), (p.dst, p.dst_mac)] {
                assert_eq!(*mac_of.entry(ip).or_insert(mac), mac, "{ip} changed MAC");
                ips_of.entry(mac).or_default();
            }
            let ttl_ok = if p.src == client {
                p.ttl == 64 || p.ttl == 128
            } else {
                (32..64).contains(&p.ttl) || (96..128).contains(&p.ttl)
            };
            assert!(ttl_ok, "TTL {} from {}", p.ttl, p.src);
        }
    }
    // One MAC per host: a MAC carries at most one IPv4 and one IPv6 address.
    let mut per_mac: HashMap<[u8; 6], (usize, usize)> = HashMap::new();
    for (ip, mac) in &mac_of {
        let e = per_mac.entry(*mac).or_default();
        if ip.is_ipv4() { e.0 += 1 } else { e.1 += 1 }
    }
    assert!(
        per_mac.values().all(|&(v4, v6)| v4 <= 1 && v6 <= 1),
        "a MAC shared by hosts"
    );
}

/// Frame lengths of data-bearing packets: TCP segments with payload, UDP, ICMP.
fn data_frame_lengths(f: &BTreeMap<FlowKey, Vec<Decoded>>) -> Vec<usize> {
    f.values()
        .flatten()
        .filter(|p| p.proto != Proto::Tcp || !p.payload.is_empty())
        .map(|p| p.frame_len)
        .collect()
}

#[test]
fn imix_shows_in_the_data_frame_histogram() {
    let f = decoded_flows(cfg(13, 600, SizeMix::imix()));
    let lens = data_frame_lengths(&f);
    let n = lens.len() as f64;
    let small = lens.iter().filter(|&&l| l < 590).count() as f64 / n;
    let mid = lens.iter().filter(|&&l| l == 590).count() as f64 / n;
    let large = lens.iter().filter(|&&l| l == 1514).count() as f64 / n;
    assert!(n > 20_000.0, "{n} data packets");
    assert!(
        (small + mid + large - 1.0).abs() < 1e-9,
        "frames outside the three classes"
    );
    assert!((small - 7.0 / 12.0).abs() < 0.03, "small {small}");
    assert!((mid - 4.0 / 12.0).abs() < 0.03, "590 {mid}");
    assert!((large - 1.0 / 12.0).abs() < 0.02, "1514 {large}");
    // Small-class TCP frames are the smallest the headers allow: one byte of payload at
    // most six bytes (IPv4 without timestamps: 60 bytes).
    for p in f.values().flatten() {
        if p.proto == Proto::Tcp && !p.payload.is_empty() && p.frame_len < 590 {
            assert!(
                p.payload.len() <= 6,
                "{} bytes in a small frame",
                p.payload.len()
            );
        }
    }
    // Handshakes and pure ACKs are not padded up to the mix.
    for p in f.values().flatten() {
        if p.proto == Proto::Tcp && p.payload.is_empty() {
            assert!(
                p.frame_len <= 14 + 40 + 20 + 24,
                "{}-byte control segment",
                p.frame_len
            );
        }
    }
}

#[test]
fn a_two_class_mix_is_exact_for_tcp() {
    let c = GenConfig {
        protocols: ProtocolWeights {
            http: 1.0,
            tls: 1.0,
            dns: 0.0,
            icmp: 0.0,
        },
        ..cfg(14, 300, "200:1,1000:1".parse().unwrap())
    };
    let f = decoded_flows(c);
    let lens = data_frame_lengths(&f);
    let at_200 = lens.iter().filter(|&&l| l == 200).count();
    let at_1000 = lens.iter().filter(|&&l| l == 1000).count();
    assert_eq!(
        at_200 + at_1000,
        lens.len(),
        "a data frame of another length"
    );
    let ratio = at_200 as f64 / lens.len() as f64;
    assert!((ratio - 0.5).abs() < 0.05, "{ratio}");
}

#[test]
fn natural_sizes_follow_the_protocols() {
    let f = decoded_flows(cfg(15, 500, SizeMix::natural()));
    let mut full = 0;
    for p in f.values().flatten() {
        if p.proto == Proto::Tcp {
            let mss = if p.v6 { 1440 } else { 1460 };
            assert!(p.payload.len() <= mss);
            full += usize::from(p.frame_len == 1514);
        }
    }
    assert!(full > 1000, "few MSS-sized segments: {full}");
    // DNS and ping packets keep their natural sizes: far below the MTU.
    for p in f.values().flatten() {
        if p.proto != Proto::Tcp {
            assert!(p.frame_len < 600, "{}-byte {:?}", p.frame_len, p.proto);
        }
    }
}

#[test]
fn protocol_weights_pick_the_protocols() {
    let c = GenConfig {
        protocols: ProtocolWeights::only(Protocol::Dns),
        attack_fraction: 0.0,
        ..cfg(16, 200, SizeMix::natural())
    };
    let f = decoded_flows(c);
    assert!(f.keys().all(|k| k.proto == Proto::Udp));
    let c = GenConfig {
        protocols: ProtocolWeights {
            http: 3.0,
            tls: 1.0,
            dns: 0.0,
            icmp: 0.0,
        },
        attack_fraction: 0.0,
        ..cfg(17, 1000, SizeMix::natural())
    };
    let f = decoded_flows(c);
    let http = f.values().filter(|p| p[0].dport == 80).count() as f64 / 1000.0;
    assert!((http - 0.75).abs() < 0.05, "{http}");
}
