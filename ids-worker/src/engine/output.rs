//! Alerts, and their text in Snort's `alert_fast` and `alert_json` formats.

use std::fmt::Write as _;

use crate::engine::flow::Addr;
use crate::engine::rules::{SigId, classify};

/// How the data an alert was raised on was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PacketKind {
    /// A packet as captured (`raw`).
    Raw,
    /// Reassembled TCP data (`stream_tcp`).
    StreamTcp,
}

impl PacketKind {
    /// The name alert_json prints in `pkt_gen`.
    pub fn name(self) -> &'static str {
        match self {
            PacketKind::Raw => "raw",
            PacketKind::StreamTcp => "stream_tcp",
        }
    }
}

/// An alert the engine raised.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Alert {
    /// When: the capture (or ingress) time of the packet, ns since the UNIX epoch.
    pub ts_ns: u64,
    /// The packet's 1-based number in the input.
    pub pkt_num: u64,
    /// The rule's index in the engine's detector.
    pub rule: u32,
    /// gid:sid:rev.
    pub sig: SigId,
    /// IP protocol number.
    pub protocol: u8,
    /// Source address.
    pub src: Addr,
    /// Source port (0 without ports).
    pub sport: u16,
    /// Destination address.
    pub dst: Addr,
    /// Destination port.
    pub dport: u16,
    /// A packet as captured or reassembled data.
    pub kind: PacketKind,
    /// Bytes of the packet (IP datagram) or of the reassembled data.
    pub pkt_len: u32,
    /// Sent by the flow's client (Some(true)), its server, or unknown.
    pub from_client: Option<bool>,
}

/// What a rule contributes to an alert's text.
#[derive(Debug, Clone, Copy)]
pub struct RuleText<'a> {
    /// `msg`.
    pub msg: &'a str,
    /// `classtype`.
    pub classtype: Option<&'a str>,
    /// Priority.
    pub priority: u32,
    /// alert_json's `action`.
    pub action: &'a str,
}

/// The protocol name alerts print.
pub fn protocol_name(p: u8) -> &'static str {
    match p {
        6 => "TCP",
        17 => "UDP",
        1 => "ICMP",
        58 => "ICMP",
        _ => "IP",
    }
}

fn has_ports(p: u8) -> bool {
    p == 6 || p == 17
}

fn endpoint(out: &mut String, a: Addr, port: u16, ports: bool) {
    match a {
        Addr::V4(_) => {
            let _ = write!(out, "{a}");
        }
        Addr::V6(_) => {
            let _ = write!(out, "{a}");
        }
    }
    if ports {
        let _ = write!(out, ":{port}");
    }
}

/// `MM/DD-HH:MM:SS.uuuuuu` (UTC), as Snort prints times.
pub fn timestamp(ts_ns: u64) -> String {
    let secs = ts_ns / 1_000_000_000;
    let micros = (ts_ns % 1_000_000_000) / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (_, month, day) = civil_from_days(days);
    format!(
        "{month:02}/{day:02}-{:02}:{:02}:{:02}.{micros:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// One alert_fast line (without the newline).
pub fn fast_line(a: &Alert, r: &RuleText<'_>) -> String {
    let mut s = String::with_capacity(160);
    s.push_str(&timestamp(a.ts_ns));
    let _ = write!(s, " [**] [{}] \"{}\" [**] ", a.sig, r.msg);
    if let Some(c) = r.classtype {
        let text = classify::lookup(c).map_or(c, |c| c.text);
        let _ = write!(s, "[Classification: {text}] ");
    }
    let _ = write!(
        s,
        "[Priority: {}] {{{}}} ",
        r.priority,
        protocol_name(a.protocol)
    );
    let ports = has_ports(a.protocol);
    endpoint(&mut s, a.src, a.sport, ports);
    s.push_str(" -> ");
    endpoint(&mut s, a.dst, a.dport, ports);
    s
}

/// One alert_json line (without the newline), with the fields of Snort's reference
/// output: timestamp, pkt_num, proto, pkt_gen, pkt_len, dir, src_ap, dst_ap, gid, sid,
/// rev, action, msg.
pub fn json_line(a: &Alert, r: &RuleText<'_>) -> String {
    let mut src = String::new();
    endpoint(&mut src, a.src, a.sport, true);
    let mut dst = String::new();
    endpoint(&mut dst, a.dst, a.dport, true);
    let dir = match a.from_client {
        Some(true) => "C2S",
        Some(false) => "S2C",
        None => "UNK",
    };
    format!(
        "{{ \"timestamp\" : \"{}\", \"pkt_num\" : {}, \"proto\" : \"{}\", \"pkt_gen\" : \"{}\", \
         \"pkt_len\" : {}, \"dir\" : \"{}\", \"src_ap\" : {}, \"dst_ap\" : {}, \"gid\" : {}, \
         \"sid\" : {}, \"rev\" : {}, \"action\" : \"{}\", \"msg\" : {} }}",
        timestamp(a.ts_ns),
        a.pkt_num,
        protocol_name(a.protocol),
        a.kind.name(),
        a.pkt_len,
        dir,
        serde_json::Value::String(src),
        serde_json::Value::String(dst),
        a.sig.gid,
        a.sig.sid,
        a.sig.rev,
        r.action,
        serde_json::Value::String(r.msg.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            ts_ns: 1_614_578_399_721_426_000,
            pkt_num: 135,
            rule: 0,
            sig: SigId {
                gid: 1,
                sid: 1394,
                rev: 17,
            },
            protocol: 6,
            src: Addr::V4([173, 203, 79, 216]),
            sport: 46592,
            dst: Addr::V4([162, 219, 2, 166]),
            dport: 443,
            kind: PacketKind::StreamTcp,
            pkt_len: 2896,
            from_client: Some(true),
        }
    }

    const TEXT: RuleText<'static> = RuleText {
        msg: "INDICATOR-SHELLCODE x86 inc ecx NOOP",
        classtype: Some("shellcode-detect"),
        priority: 1,
        action: "allow",
    };

    #[test]
    fn fast_format_matches_snort() {
        assert_eq!(
            fast_line(&alert(), &TEXT),
            "03/01-05:59:59.721426 [**] [1:1394:17] \"INDICATOR-SHELLCODE x86 inc ecx NOOP\" [**] \
             [Classification: Executable code was detected] [Priority: 1] {TCP} \
             173.203.79.216:46592 -> 162.219.2.166:443"
        );
        let mut icmp = alert();
        icmp.protocol = 1;
        assert!(fast_line(&icmp, &TEXT).ends_with("{ICMP} 173.203.79.216 -> 162.219.2.166"));
    }

    #[test]
    fn json_format_matches_snort() {
        let line = json_line(&alert(), &TEXT);
        assert_eq!(
            line,
            "{ \"timestamp\" : \"03/01-05:59:59.721426\", \"pkt_num\" : 135, \"proto\" : \"TCP\", \
             \"pkt_gen\" : \"stream_tcp\", \"pkt_len\" : 2896, \"dir\" : \"C2S\", \"src_ap\" : \
             \"173.203.79.216:46592\", \"dst_ap\" : \"162.219.2.166:443\", \"gid\" : 1, \"sid\" : \
             1394, \"rev\" : 17, \"action\" : \"allow\", \"msg\" : \"INDICATOR-SHELLCODE x86 inc \
             ecx NOOP\" }"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["sid"], 1394);
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
        assert_eq!(timestamp(0), "01/01-00:00:00.000000");
    }
}
