//! Feeds arbitrary bytes to the wire parsers and the job-metadata reader: nothing may
//! panic, and a successful parse must keep every offset inside the frame.

#![no_main]

use dataplane::meta;
use dataplane::wire::{
    self, EthernetFrame, IcmpPacket, Icmpv6Packet, IpProtocol, Ipv4Packet, Ipv6FragmentHeader,
    Ipv6Packet, L3, L4, TcpSegment, UdpDatagram, VlanTag,
};
use libfuzzer_sys::fuzz_target;

/// Runs every checked view, and all of its accessors, over `b`.
fn views(b: &[u8]) {
    if let Ok(v) = EthernetFrame::new_checked(b) {
        let _ = (
            v.dst_addr(),
            v.src_addr(),
            v.ethertype(),
            v.header_len(),
            v.payload(),
        );
    }
    if let Ok(v) = VlanTag::new_checked(b) {
        let _ = (
            v.tci(),
            v.pcp(),
            v.dei(),
            v.vid(),
            v.ethertype(),
            v.payload(),
        );
    }
    if let Ok(v) = Ipv4Packet::new_checked(b) {
        let _ = (
            v.version(),
            v.header_len(),
            v.dscp(),
            v.ecn(),
            v.total_len(),
        );
        let _ = (v.ident(), v.reserved_flag(), v.dont_frag(), v.more_frags());
        let _ = (
            v.frag_offset(),
            v.fragment(),
            v.ttl(),
            v.protocol(),
            v.checksum(),
        );
        let _ = (v.src_addr(), v.dst_addr(), v.options(), v.is_truncated());
        let _ = (v.payload(), v.verify_checksum());
    }
    if let Ok(v) = Ipv6Packet::new_checked(b) {
        let _ = (
            v.version(),
            v.traffic_class(),
            v.flow_label(),
            v.payload_len(),
        );
        let _ = (v.next_header(), v.hop_limit(), v.src_addr(), v.dst_addr());
        let _ = (v.header_len(), v.is_truncated(), v.payload());
        let walk = v.ext_headers();
        assert!(walk.offset <= v.payload().len());
    }
    if let Ok(v) = Ipv6FragmentHeader::new_checked(b) {
        let _ = (v.next_header(), v.frag_offset(), v.more_frags(), v.ident());
        let _ = (v.fragment(), v.header_len(), v.payload());
    }
    let walk = wire::walk_ext_headers(IpProtocol::HOP_BY_HOP, b, b.len());
    assert!(walk.offset <= b.len());
    if let Ok(v) = TcpSegment::new_checked(b) {
        let _ = (v.src_port(), v.dst_port(), v.seq_number(), v.ack_number());
        let _ = (v.header_len(), v.flags(), v.reserved(), v.window_len());
        let _ = (v.checksum(), v.urgent_ptr(), v.options(), v.payload());
        let _ = v.verify_checksum_v4([10, 0, 0, 1], [10, 0, 0, 2]);
        let _ = v.verify_checksum_v6([1; 16], [2; 16]);
    }
    if let Ok(v) = UdpDatagram::new_checked(b) {
        let _ = (
            v.src_port(),
            v.dst_port(),
            v.len(),
            v.is_empty(),
            v.checksum(),
        );
        let _ = (v.header_len(), v.payload());
        let _ = v.verify_checksum_v4([10, 0, 0, 1], [10, 0, 0, 2]);
        let _ = v.verify_checksum_v6([1; 16], [2; 16]);
    }
    if let Ok(v) = IcmpPacket::new_checked(b) {
        let _ = (v.msg_type(), v.code(), v.checksum(), v.rest_of_header());
        let _ = (v.echo_ident(), v.echo_seq_no(), v.header_len(), v.payload());
        let _ = v.verify_checksum();
    }
    if let Ok(v) = Icmpv6Packet::new_checked(b) {
        let _ = (v.msg_type(), v.code(), v.checksum(), v.message_header());
        let _ = (v.echo_ident(), v.echo_seq_no(), v.header_len(), v.payload());
        let _ = v.verify_checksum([1; 16], [2; 16]);
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = meta::peek(data);
    views(data);
    let Ok(p) = wire::parse(data) else {
        return;
    };
    // Offsets are ordered and inside the frame.
    assert!(p.l3_offset <= p.l4_offset);
    assert!(p.l4_offset <= p.l3_end);
    assert!(p.l3_end <= data.len());
    assert!(p.payload.start <= p.payload.end && p.payload.end <= data.len());
    assert_eq!(p.payload_bytes(data).len(), p.payload.len());
    if let L4::Tcp(t) = &p.l4 {
        assert!(t.options.start <= t.options.end && t.options.end <= p.payload.start);
    }
    if !matches!(p.l3, L3::Other(_)) {
        assert!(p.l4_offset <= p.payload.start && p.payload.end <= p.l3_end);
    }
    let _ = (p.ports(), p.ip_protocol(), p.ipv4_addrs(), p.ipv6_addrs());
    // The views at the offsets parse found.
    views(&data[p.l3_offset..]);
    views(&data[p.l4_offset..p.l3_end]);
});
