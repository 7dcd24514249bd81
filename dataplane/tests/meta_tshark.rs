//! The job-metadata encapsulation as a standard tool sees it: Wireshark's NSH dissector
//! must decode the service path and the das TLV, then the original frame inside.

use std::process::Command;

use dataplane::PacketBuf;
use dataplane::meta::{self, CopyKind, JobId, JobMeta, Priority, Steering};
use dataplane::pcap::write_frames;

/// An IPv4/UDP frame from 10.1.2.3:4000 to 192.0.2.9:53.
fn udp_frame() -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x0b]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x0a]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 1, 2, 3]);
    f[30..34].copy_from_slice(&[192, 0, 2, 9]);
    f[34..36].copy_from_slice(&4000u16.to_be_bytes());
    f[36..38].copy_from_slice(&53u16.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f
}

fn tshark_available() -> bool {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("DAS_REQUIRE_TSHARK").as_deref() != Ok("1"),
            "tshark is required (DAS_REQUIRE_TSHARK=1) but was not found; scripts/setup.sh installs it"
        );
        eprintln!("skipped: tshark not installed (scripts/setup.sh installs it)");
    }
    found
}

#[test]
fn tshark_decodes_the_nsh_header_and_the_inner_frame() {
    if !tshark_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encap.pcap");
    let metas = [
        (
            JobMeta {
                job: JobId(0x1122_3344_5566_7788),
                kind: CopyKind::Primary,
                priority: Priority::High,
                ingress_ns: 1_700_000_000_000_000_001,
                duplicator: 4,
                peer: Some(2),
            },
            0u8,
        ),
        (
            JobMeta {
                job: JobId(9),
                kind: CopyKind::Duplicate,
                priority: Priority::Low,
                ingress_ns: 5,
                duplicator: 4,
                peer: None,
            },
            2u8,
        ),
    ];
    let frames: Vec<Vec<u8>> = metas
        .iter()
        .map(|(m, node)| {
            let mut buf = PacketBuf::from_frame(&udp_frame()).unwrap();
            meta::encap(
                &mut buf,
                m,
                Steering {
                    node: *node,
                    queue: m.priority.queue(),
                },
            );
            buf.data().to_vec()
        })
        .collect();
    write_frames(&path, frames.iter().map(|f| (1_000_000_000u64, &f[..]))).unwrap();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ])
        .args([
            "-e",
            "eth.dst",
            "-e",
            "nsh.spi",
            "-e",
            "nsh.si",
            "-e",
            "nsh.mdtype",
            "-e",
            "nsh.nextproto",
        ])
        .args([
            "-e",
            "nsh.metadataclass",
            "-e",
            "nsh.metadatatype",
            "-e",
            "nsh.metadatalen",
            "-e",
            "nsh.metadata",
        ])
        .args(["-e", "ip.src", "-e", "udp.dstport", "-e", "_ws.malformed"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (fields, (m, node)) in lines.iter().zip(&metas) {
        // Outer destination (node, queue), then the inner frame's own destination.
        let queue = m.priority.queue();
        assert_eq!(
            fields[0],
            format!("02:44:41:53:{node:02x}:{queue:02x},02:00:00:00:00:0b"),
            "{text}"
        );
        assert_eq!(fields[1], "3493", "SPI 0xDA5");
        assert_eq!(fields[2], "255");
        assert_eq!(fields[3], "2", "MD type 2");
        assert_eq!(fields[4], "3", "next protocol Ethernet");
        assert_eq!(fields[5], "65526", "MD class 0xFFF6");
        assert_eq!(fields[6], "1");
        assert_eq!(fields[7], "0x14", "TLV length 20");
        let mut value = Vec::new();
        value.extend_from_slice(&m.job.0.to_be_bytes());
        value.extend_from_slice(&m.ingress_ns.to_be_bytes());
        let kind = u8::from(m.kind == CopyKind::Duplicate);
        value.extend_from_slice(&[kind, queue, m.duplicator, m.peer.unwrap_or(meta::NO_PEER)]);
        let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(fields[8].replace(':', ""), hex, "{text}");
        assert_eq!(fields[9], "10.1.2.3", "inner frame decoded");
        assert_eq!(fields[10], "53");
        assert_eq!(fields[11], "", "tshark flagged a malformed packet: {text}");
    }
}
