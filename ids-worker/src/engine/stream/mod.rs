//! TCP: connection state and in-order reassembly of each direction.
//!
//! Each direction keeps the data not yet inspected, in sequence order, from the first
//! sequence number seen. Segments that arrive early wait in a bounded out-of-order
//! queue. Overlaps keep the data that arrived first ("first wins"): a retransmission
//! or an overlapping segment never rewrites bytes already queued or inspected.
//!
//! As in Snort's IDS mode, a direction's data is inspected once the other side
//! acknowledges it: [`HalfStream::acked`] hands the acknowledged bytes on, chunk by
//! received segment, to whoever cuts them into messages. Memory is bounded: at most
//! [`MAX_QUEUED`] bytes wait for an acknowledgment (beyond that the oldest are handed
//! on unacknowledged) and at most [`MAX_OUT_OF_ORDER`] bytes wait out of order (beyond
//! that later segments are dropped and the gap is skipped when data is flushed).

pub mod splitter;

use std::collections::{BTreeMap, VecDeque};

pub use splitter::{Scan, Splitter};

/// Bytes a direction keeps waiting for an acknowledgment.
pub const MAX_QUEUED: usize = 1 << 20;

/// Bytes a direction keeps out of order.
pub const MAX_OUT_OF_ORDER: usize = 1 << 18;

/// Segments a direction keeps out of order.
pub const MAX_OUT_OF_ORDER_SEGMENTS: usize = 256;

/// The connection's handshake progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Nothing seen.
    #[default]
    None,
    /// The client's SYN.
    SynSent,
    /// The server's SYN+ACK.
    SynAcked,
    /// Handshake complete, or picked up midstream.
    Established,
    /// A RST was seen.
    Reset,
}

/// What inserting a segment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// New bytes were queued (in order or out of order).
    Queued,
    /// Every byte was already queued or inspected (a retransmission).
    Duplicate,
    /// The segment was dropped (out-of-order queue full, or far outside the window).
    Dropped,
}

/// One direction's reassembly.
#[derive(Debug, Clone, Default)]
pub struct HalfStream {
    started: bool,
    /// The sequence number of `data[0]`.
    base: u32,
    /// In-order bytes not yet handed on.
    data: Vec<u8>,
    /// Where received segments end in `data` (for handing data on per segment).
    seg_ends: VecDeque<usize>,
    /// Early segments by sequence number.
    ooo: BTreeMap<u32, Vec<u8>>,
    ooo_bytes: usize,
    /// Payload bytes queued so far (stream_size).
    total: u64,
    /// The sequence number of the FIN, once seen.
    fin: Option<u32>,
}

impl HalfStream {
    /// The sequence number after the last in-order byte.
    fn next_seq(&self) -> u32 {
        self.base.wrapping_add(self.data.len() as u32)
    }

    /// Records a FIN at `seq` (the sequence number after the segment's data).
    pub fn set_fin(&mut self, seq: u32) {
        if self.fin.is_none() {
            self.fin = Some(seq);
        }
    }

    /// Whether `ack` acknowledges this direction's FIN.
    pub fn fin_acked(&self, ack: u32) -> bool {
        self.fin.is_some_and(|f| (ack.wrapping_sub(f) as i32) > 0)
    }

    /// Payload bytes this direction carried (in order).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes waiting to be handed on.
    pub fn queued(&self) -> usize {
        self.data.len()
    }

    /// Starts the direction at `seq` (the first data byte's sequence number).
    pub fn start(&mut self, seq: u32) {
        if !self.started {
            self.started = true;
            self.base = seq;
        }
    }

    /// Queues a segment's payload.
    pub fn insert(&mut self, seq: u32, payload: &[u8]) -> Insert {
        if payload.is_empty() {
            return Insert::Duplicate;
        }
        self.start(seq);
        let rel = seq.wrapping_sub(self.next_seq()) as i32;
        if rel <= 0 {
            let skip = rel.unsigned_abs() as usize;
            if skip >= payload.len() {
                return Insert::Duplicate;
            }
            self.append(&payload[skip..]);
            self.drain_ooo();
            return Insert::Queued;
        }
        if rel as usize > MAX_QUEUED + MAX_OUT_OF_ORDER {
            return Insert::Dropped;
        }
        if self.ooo_bytes + payload.len() > MAX_OUT_OF_ORDER
            || self.ooo.len() >= MAX_OUT_OF_ORDER_SEGMENTS
        {
            return Insert::Dropped;
        }
        match self.ooo.get(&seq) {
            Some(old) if old.len() >= payload.len() => return Insert::Duplicate,
            Some(old) => self.ooo_bytes -= old.len(),
            None => {}
        }
        self.ooo_bytes += payload.len();
        self.ooo.insert(seq, payload.to_vec());
        Insert::Queued
    }

    fn append(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        self.seg_ends.push_back(self.data.len());
        self.total += bytes.len() as u64;
    }

    /// Moves out-of-order segments that have become contiguous into `data`.
    fn drain_ooo(&mut self) {
        while let Some((&seq, _)) = self.ooo.iter().next() {
            let rel = seq.wrapping_sub(self.next_seq()) as i32;
            if rel > 0 {
                break;
            }
            let seg = self.ooo.remove(&seq).unwrap_or_default();
            self.ooo_bytes -= seg.len();
            let skip = rel.unsigned_abs() as usize;
            if skip < seg.len() {
                self.append(&seg[skip..]);
            }
        }
    }

    /// Hands on, to `take`, the data the other side acknowledged with `ack`: one
    /// [`Piece::Data`] per received segment, and [`Piece::Hole`] where data that was
    /// never received is skipped because the acknowledgment goes past it. With
    /// `force`, everything queued is handed on (holes skipped).
    pub fn acked(&mut self, ack: Option<u32>, force: bool, mut take: impl FnMut(Piece<'_>)) {
        if !self.started {
            return;
        }
        loop {
            let end = if force {
                self.data.len()
            } else {
                let Some(a) = ack else { return };
                let rel = a.wrapping_sub(self.base) as i32;
                if rel <= 0 {
                    return;
                }
                let mut end = (rel as usize).min(self.data.len());
                if self.data.len() > MAX_QUEUED {
                    end = end.max(self.data.len() - MAX_QUEUED);
                }
                end
            };
            if end > 0 {
                let mut pos = 0usize;
                while pos < end {
                    let seg_end = self
                        .seg_ends
                        .iter()
                        .copied()
                        .find(|&e| e > pos)
                        .unwrap_or(end)
                        .min(end);
                    take(Piece::Data(&self.data[pos..seg_end]));
                    pos = seg_end;
                }
                self.data.drain(..end);
                self.base = self.base.wrapping_add(end as u32);
                while self.seg_ends.front().is_some_and(|&e| e <= end) {
                    self.seg_ends.pop_front();
                }
                for e in &mut self.seg_ends {
                    *e -= end;
                }
            }
            if !self.data.is_empty() {
                return;
            }
            // Everything in order was handed on; the acknowledgment may go past a
            // hole (data the capture missed).
            let first = self.ooo.keys().next().copied();
            let skip_to = match (first, ack) {
                (Some(f), _) if force => f,
                (Some(f), Some(a)) if (a.wrapping_sub(f) as i32) > 0 => f,
                (None, Some(a)) if !force && (a.wrapping_sub(self.base) as i32) > 0 => a,
                _ => return,
            };
            take(Piece::Hole);
            self.base = skip_to;
            self.drain_ooo();
            if self.data.is_empty() {
                return;
            }
        }
    }
}

/// What [`HalfStream::acked`] hands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// In-order data of one received segment.
    Data(&'a [u8]),
    /// Data that was never received was skipped here.
    Hole,
}

/// Who cuts a direction's acknowledged data into units.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cutter {
    /// The service is not known yet: data waits while the wizard looks at it.
    #[default]
    Wizard,
    /// The HTTP parser.
    Http,
    /// The service's splitter.
    Splitter(Splitter),
    /// No framing: a unit every [`ATOM_SEGMENTS`] segments and [`ATOM_BYTES`] bytes
    /// (Snort's atom splitter). Used after a splitter gave up or data went missing.
    Atom {
        /// Segments since the last unit.
        segments: u32,
    },
}

/// Segments the atom cutter waits for before a unit.
pub const ATOM_SEGMENTS: u32 = 2;

/// Bytes the atom cutter waits for before a unit.
pub const ATOM_BYTES: usize = 192;

/// Acknowledged data of one direction on its way to detection: what the cutter has
/// not made a unit of yet.
#[derive(Debug, Clone, Default)]
pub struct Reassembly {
    /// Bytes scanned but not yet flushed.
    pub pending: Vec<u8>,
    /// Who cuts the data.
    pub cutter: Cutter,
    /// The data is not what the service expects, or some went missing: this
    /// direction is also inspected packet by packet from now on.
    pub aborted: bool,
}

/// A TCP connection's state.
#[derive(Debug, Clone, Default)]
pub struct TcpSession {
    /// Handshake progress.
    pub phase: Phase,
    /// The client's data (index 0) and the server's (index 1).
    pub halves: [HalfStream; 2],
    /// Units in the making, per direction.
    pub units: [Reassembly; 2],
}

impl TcpSession {
    /// Whether the handshake completed (or the flow was picked up midstream).
    pub fn established(&self) -> bool {
        matches!(self.phase, Phase::Established)
    }

    /// Updates the handshake for a segment with `syn`/`ack`/`rst`/`fin` flags from the
    /// client (`from_client`) or the server.
    pub fn track(&mut self, from_client: bool, syn: bool, ack: bool, rst: bool) {
        if rst {
            self.phase = Phase::Reset;
            return;
        }
        self.phase = match (self.phase, from_client, syn, ack) {
            (Phase::None, true, true, false) => Phase::SynSent,
            (Phase::None, false, true, true) => Phase::SynAcked,
            (Phase::SynSent, false, true, true) => Phase::SynAcked,
            (Phase::SynAcked, true, false, true) => Phase::Established,
            // A flow picked up after its handshake.
            (Phase::None, _, false, true) => Phase::Established,
            (p, _, _, _) => p,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(h: &mut HalfStream, ack: Option<u32>, force: bool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        h.acked(ack, force, |p| match p {
            Piece::Data(c) => out.push(c.to_vec()),
            Piece::Hole => out.push(b"<hole>".to_vec()),
        });
        out
    }

    #[test]
    fn in_order_out_of_order_and_overlaps() {
        let mut h = HalfStream::default();
        assert_eq!(h.insert(100, b"abc"), Insert::Queued);
        assert_eq!(h.insert(106, b"ghi"), Insert::Queued);
        assert_eq!(h.insert(103, b"dXf"), Insert::Queued);
        // First wins: the retransmitted "XYZ" over "def" changes nothing.
        assert_eq!(h.insert(103, b"XYZ"), Insert::Duplicate);
        assert_eq!(h.insert(101, b"bcdEFGHIJ"), Insert::Queued);
        assert_eq!(h.total(), 10);
        let chunks = collect(&mut h, Some(106), false);
        assert_eq!(chunks, vec![b"abc".to_vec(), b"dXf".to_vec()]);
        let chunks = collect(&mut h, Some(110), false);
        assert_eq!(chunks, vec![b"ghi".to_vec(), b"J".to_vec()]);
        assert_eq!(h.queued(), 0);
    }

    #[test]
    fn gaps_are_skipped_when_forced() {
        let mut h = HalfStream::default();
        h.insert(1, b"ab");
        h.insert(10, b"zz");
        assert_eq!(
            collect(&mut h, None, true),
            vec![b"ab".to_vec(), b"<hole>".to_vec(), b"zz".to_vec()]
        );
        h.insert(20, b"late");
        // An acknowledgment past the hole skips it.
        assert_eq!(
            collect(&mut h, Some(22), false),
            vec![b"<hole>".to_vec(), b"la".to_vec()]
        );
        assert_eq!(collect(&mut h, Some(22), false), Vec::<Vec<u8>>::new());
        assert_eq!(h.insert(u32::MAX - 1, b"x"), Insert::Duplicate);
        let far = 24 + (MAX_QUEUED + MAX_OUT_OF_ORDER) as u32 + 10;
        assert_eq!(h.insert(far, b"x"), Insert::Dropped);
    }

    #[test]
    fn handshake() {
        let mut t = TcpSession::default();
        t.track(true, true, false, false);
        assert!(!t.established());
        t.track(false, true, true, false);
        t.track(true, false, true, false);
        assert!(t.established());
        let mut m = TcpSession::default();
        m.track(false, false, true, false);
        assert!(m.established());
        m.track(true, false, true, true);
        assert!(!m.established());
    }
}
