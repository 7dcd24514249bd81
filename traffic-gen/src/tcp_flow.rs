//! A TCP connection as seen from a capture point on the client's side: three-way
//! handshake with options, data transfer with segmentation, slow start and delayed ACKs,
//! and teardown by FIN (three or four packets) or RST.
//!
//! Times are capture-point times. A packet from the client is seen as it leaves the
//! client; the server sees it half a round trip later, and whatever the server sends in
//! answer is seen another half round trip later. So a reaction by the server to a packet
//! seen at `t` is seen at `t + rtt + server turnaround`, a reaction by the client at
//! `t + client turnaround`.
//!
//! Sequence numbers advance by the payload length of each segment (and by one for SYN
//! and FIN); every ACK acknowledges only bytes already seen; no segment is lost or
//! retransmitted.

use std::ops::Range;

use crate::flow::{FlowPackets, L4, Side, TcpOpts};
use crate::frame::{self, tcp_flags};
use crate::hosts::Os;
use crate::mix::{MAX_SEGMENTS_PER_MESSAGE, SizeMix};
use crate::rng::Rng;

/// Delays of one flow's path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// Round-trip time between the capture point and the server.
    pub rtt: u64,
    /// Time the client's stack takes to answer a packet.
    pub client_turn: u64,
    /// Time the server's stack takes to answer a packet.
    pub server_turn: u64,
    /// Bottleneck rate in bits per second, which spaces back-to-back segments.
    pub rate_bps: u64,
}

impl Timing {
    /// A path to a server `base_rtt_ns` away, with jitter and stack delays drawn from
    /// `rng`.
    pub(crate) fn draw(rng: &mut Rng, base_rtt_ns: u64) -> Timing {
        let jitter = 1.0 + rng.unit() * 0.2;
        Timing {
            rtt: (base_rtt_ns as f64 * jitter) as u64,
            client_turn: rng.range(15_000, 150_000),
            server_turn: rng.range(10_000, 80_000),
            rate_bps: rng.log_uniform_u64(5_000_000, 1_000_000_000),
        }
    }

    /// When `side` reacts to a packet seen at `t`.
    pub(crate) fn react(&self, side: Side, t: u64) -> u64 {
        match side {
            Side::Client => t + self.client_turn,
            Side::Server => t + self.rtt + self.server_turn,
        }
    }

    /// Time to put `bytes` on the wire at the bottleneck rate.
    pub(crate) fn wire_time(&self, bytes: usize) -> u64 {
        (bytes as u64 * 8_000_000_000).div_ceil(self.rate_bps)
    }
}

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// FIN/ACK, FIN/ACK, ACK.
    Fin3,
    /// FIN/ACK, ACK, FIN/ACK, ACK.
    Fin4,
    /// RST/ACK from the closing side.
    Rst,
}

/// Where a data transfer ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    /// Time of the last data segment.
    pub last_data: u64,
    /// Time of the receiver's last ACK, if it sent one.
    pub last_ack: Option<u64>,
}

impl Sent {
    /// The later of the last data segment and the last ACK.
    pub(crate) fn end(&self) -> u64 {
        self.last_ack
            .map_or(self.last_data, |a| a.max(self.last_data))
    }
}

#[derive(Debug, Clone)]
struct Half {
    os: Os,
    /// Next sequence number to send.
    nxt: u32,
    /// Next sequence number expected from the peer.
    rcv: u32,
    mss: u16,
    wscale: u8,
    syn_window: u16,
    /// Receive window after the handshake, in bytes.
    rwnd: u32,
    ts_offset: u32,
    /// Latest timestamp value seen from the peer.
    ts_recent: u32,
    /// Congestion window in segments.
    cwnd: usize,
}

/// Builds one TCP connection's packets into a [`FlowPackets`].
pub(crate) struct TcpConn<'a> {
    pub fp: &'a mut FlowPackets,
    pub rng: &'a mut Rng,
    pub timing: Timing,
    mix: &'a SizeMix,
    half: [Half; 2],
    ts_on: bool,
}

impl<'a> TcpConn<'a> {
    /// A connection between a client running `client_os` and a server running
    /// `server_os`, not yet opened.
    pub(crate) fn new(
        fp: &'a mut FlowPackets,
        rng: &'a mut Rng,
        mix: &'a SizeMix,
        timing: Timing,
        client_os: Os,
        server_os: Os,
    ) -> TcpConn<'a> {
        let v6 = fp.ends().ip.is_v6();
        let mss = if v6 { 1440 } else { 1460 };
        let half = |os: Os, server: bool, rng: &mut Rng| {
            let (wscale, syn_window) = match (os, server) {
                (Os::Linux, false) => (7, 64240),
                (Os::Linux, true) => (7, if v6 { 64800 } else { 65160 }),
                (Os::Windows, _) => (8, if server { 65535 } else { 64240 }),
                (Os::Mac, _) => (6, 65535),
            };
            let rwnd = if server {
                rng.log_uniform_u64(65_536, 524_288)
            } else {
                rng.log_uniform_u64(65_536, 4_194_304)
            } as u32;
            let isn = rng.next_u32();
            Half {
                os,
                nxt: isn,
                rcv: 0,
                mss,
                wscale,
                syn_window,
                rwnd,
                ts_offset: rng.next_u32(),
                ts_recent: 0,
                cwnd: 10,
            }
        };
        let c = half(client_os, false, rng);
        let s = half(server_os, true, rng);
        let ts_on = client_os != Os::Windows && server_os == Os::Linux;
        TcpConn {
            fp,
            rng,
            timing,
            mix,
            half: [c, s],
            ts_on,
        }
    }

    /// TCP timestamp clock of `side` (1 kHz) at capture time `t`.
    fn tsval(&self, side: Side, t: u64) -> u32 {
        let host_t = match side {
            Side::Client => t,
            Side::Server => t.saturating_sub(self.timing.rtt / 2),
        };
        self.half[side.idx()]
            .ts_offset
            .wrapping_add((host_t / 1_000_000) as u32)
    }

    fn window(&self, side: Side) -> u16 {
        let h = &self.half[side.idx()];
        (h.rwnd >> h.wscale).clamp(1, 65535) as u16
    }

    /// Plans one segment from `from` at `t` carrying `data`; advances the sequence
    /// number. Returns the segment's timestamp value.
    fn emit(&mut self, t: u64, from: Side, flags: u8, data: Range<u32>) -> u32 {
        let tsval = self.tsval(from, t);
        let syn = flags & tcp_flags::SYN != 0;
        let h = &self.half[from.idx()];
        let opts = if syn {
            TcpOpts::Syn {
                os: h.os,
                mss: h.mss,
                wscale: h.wscale,
                ts: if from == Side::Client {
                    (h.os != Os::Windows).then_some((tsval, 0))
                } else {
                    self.ts_on.then_some((tsval, h.ts_recent))
                },
            }
        } else if self.ts_on && flags & tcp_flags::RST == 0 {
            TcpOpts::Ts {
                val: tsval,
                ecr: h.ts_recent,
            }
        } else {
            TcpOpts::None
        };
        let window = if syn {
            h.syn_window
        } else if flags & tcp_flags::RST != 0 {
            0
        } else {
            self.window(from)
        };
        let ack = if flags & tcp_flags::ACK != 0 {
            h.rcv
        } else {
            0
        };
        let seq = h.nxt;
        let mut advance = data.len() as u32;
        if flags & (tcp_flags::SYN | tcp_flags::FIN) != 0 {
            advance += 1;
        }
        let l4 = L4::Tcp {
            seq,
            ack,
            flags,
            window,
            opts,
        };
        self.fp.push(t, from, l4, data);
        let h = &mut self.half[from.idx()];
        h.nxt = h.nxt.wrapping_add(advance);
        if advance > 0 {
            let end = h.nxt;
            self.half[from.other().idx()].rcv = end;
        }
        tsval
    }

    /// `side` has seen a segment with timestamp value `tsval`.
    fn seen(&mut self, side: Side, tsval: u32) {
        self.half[side.idx()].ts_recent = tsval;
    }

    /// SYN at `t0`, SYN-ACK, ACK; returns the time of the ACK.
    pub(crate) fn handshake(&mut self, t0: u64) -> u64 {
        let v = self.emit(t0, Side::Client, tcp_flags::SYN, 0..0);
        self.seen(Side::Server, v);
        let t1 = self.timing.react(Side::Server, t0);
        let v = self.emit(t1, Side::Server, tcp_flags::SYN | tcp_flags::ACK, 0..0);
        self.seen(Side::Client, v);
        let t2 = self.timing.react(Side::Client, t1);
        self.emit(t2, Side::Client, tcp_flags::ACK, 0..0);
        t2
    }

    /// Bytes of headers in front of the payload of a data segment.
    fn data_header_len(&self) -> usize {
        frame::ETH_HEADER
            + self.fp.ends().ip.header_len()
            + frame::TCP_HEADER
            + if self.ts_on { 12 } else { 0 }
    }

    /// Largest payload `from` may put in one segment (the receiver's MSS less options).
    fn max_payload(&self, from: Side) -> usize {
        usize::from(self.half[from.other().idx()].mss) - if self.ts_on { 12 } else { 0 }
    }

    /// Payload lengths of the segments of one message from `from` whose natural length
    /// is `natural` and which cannot be shorter than `min_len`. Their sum is the length
    /// the message must be rendered at.
    fn plan(&mut self, from: Side, natural: usize, min_len: usize) -> Vec<usize> {
        let max_payload = self.max_payload(from);
        let need = natural.max(min_len).max(1);
        if self.mix.is_natural() {
            let mut sizes = vec![max_payload; need / max_payload];
            if need % max_payload != 0 {
                sizes.push(need % max_payload);
            }
            return sizes;
        }
        let header = self.data_header_len();
        let mut sizes = Vec::new();
        let mut sum = 0;
        while sum < need && (sizes.len() < MAX_SEGMENTS_PER_MESSAGE || sum < min_len.max(1)) {
            let target = self.mix.sample(self.rng).expect("a mix with classes");
            let payload = target.saturating_sub(header).clamp(1, max_payload);
            sizes.push(payload);
            sum += payload;
        }
        sizes
    }

    /// Sends one application message from `from`, starting at `t`. `natural` is the
    /// message at its natural length; under a size mix it is re-rendered by `resize` at
    /// the planned length (never below `min_len`). The receiver acknowledges every
    /// second segment and the end of each burst; with `piggyback_last` the final segment
    /// is left for the receiver's next data to acknowledge.
    pub(crate) fn send_message(
        &mut self,
        from: Side,
        t: u64,
        natural: Vec<u8>,
        min_len: usize,
        resize: impl FnOnce(usize) -> Vec<u8>,
        piggyback_last: bool,
    ) -> Sent {
        let sizes = self.plan(from, natural.len(), min_len);
        let total: usize = sizes.iter().sum();
        let bytes = if total == natural.len() {
            natural
        } else {
            resize(total)
        };
        assert_eq!(bytes.len(), total, "message rendered at the wrong length");
        let data = self.fp.store(&bytes);
        drop(bytes);
        self.transfer(from, data, &sizes, t, piggyback_last)
    }

    fn transfer(
        &mut self,
        from: Side,
        data: Range<u32>,
        sizes: &[usize],
        t0: u64,
        piggyback_last: bool,
    ) -> Sent {
        let to = from.other();
        let header = self.data_header_len();
        let max_payload = self.max_payload(from);
        let burst_bytes_cap = ((self.half[to.idx()].rwnd / 2) as usize).max(max_payload);
        let mut t = t0;
        let mut i = 0;
        let mut off = data.start;
        let mut last_data = t0;
        let mut last_ack = None;
        let mut last_ack_tsval = 0;
        while i < sizes.len() {
            let cwnd = self.half[from.idx()].cwnd;
            let mut in_burst = 0;
            let mut burst_bytes = 0;
            loop {
                let len = sizes[i];
                let end = i + 1 == sizes.len();
                let flags = if end {
                    tcp_flags::ACK | tcp_flags::PSH
                } else {
                    tcp_flags::ACK
                };
                let seg_t = t;
                let v = self.emit(seg_t, from, flags, off..off + len as u32);
                // The receiver echoes the newest timestamp it has seen.
                self.seen(to, v);
                off += len as u32;
                last_data = seg_t;
                t += self.timing.wire_time(header + len);
                i += 1;
                in_burst += 1;
                burst_bytes += len;
                let burst_over = i == sizes.len()
                    || in_burst >= cwnd
                    || burst_bytes + sizes[i] > burst_bytes_cap;
                if (in_burst % 2 == 0 || burst_over) && !(end && piggyback_last) {
                    let at = self.timing.react(to, seg_t);
                    last_ack_tsval = self.emit(at, to, tcp_flags::ACK, 0..0);
                    last_ack = Some(at);
                }
                if burst_over {
                    break;
                }
            }
            let h = &mut self.half[from.idx()];
            h.cwnd = (h.cwnd + in_burst).min(4096);
            if i < sizes.len() {
                let ack_t = last_ack.expect("a burst that is not the last is acknowledged");
                self.seen(from, last_ack_tsval);
                t = t.max(self.timing.react(from, ack_t));
            }
        }
        debug_assert_eq!(off, data.end);
        Sent {
            last_data,
            last_ack,
        }
    }

    /// A pure ACK from `side` at `t` (for example a delayed ACK of a request the server
    /// takes long to answer).
    pub(crate) fn ack(&mut self, side: Side, t: u64) {
        self.emit(t, side, tcp_flags::ACK, 0..0);
    }

    /// Ends the connection: `closer` starts at `t`. Returns the time of the last packet.
    pub(crate) fn close(&mut self, closer: Side, t: u64, how: Close) -> u64 {
        let peer = closer.other();
        match how {
            Close::Rst => {
                self.emit(t, closer, tcp_flags::RST | tcp_flags::ACK, 0..0);
                t
            }
            Close::Fin3 | Close::Fin4 => {
                let v = self.emit(t, closer, tcp_flags::FIN | tcp_flags::ACK, 0..0);
                self.seen(peer, v);
                let mut t2 = self.timing.react(peer, t);
                if how == Close::Fin4 {
                    self.emit(t2, peer, tcp_flags::ACK, 0..0);
                    t2 += self.rng.range(50_000, 5_000_000);
                }
                let v = self.emit(t2, peer, tcp_flags::FIN | tcp_flags::ACK, 0..0);
                self.seen(closer, v);
                let t3 = self.timing.react(closer, t2);
                self.emit(t3, closer, tcp_flags::ACK, 0..0);
                t3
            }
        }
    }

    /// The size mix data segments follow.
    pub(crate) fn mix(&self) -> &'a SizeMix {
        self.mix
    }
}
