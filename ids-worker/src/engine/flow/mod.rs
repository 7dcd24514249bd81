//! Flows: a bounded table keyed by the symmetric 5-tuple, and what the engine keeps
//! per flow (roles, TCP state and reassembly, service, HTTP state, flowbits, the
//! alerts already raised on raw packets).
//!
//! The first packet's sender is the client, except a TCP SYN+ACK, whose receiver is.
//! Flows idle longer than their protocol's timeout are removed (TCP data still
//! buffered is flushed to detection first), and when the table is full the least
//! recently used flow makes room.

pub mod key;
pub mod table;

pub use key::{Addr, Endpoint, FlowKey, FxBuild, FxHasher};
pub use table::{FlowTable, Lookup};

use crate::engine::http::HttpSession;
use crate::engine::service::{Service, Wizard};
use crate::engine::stream::TcpSession;

/// Flow table limits and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig {
    /// The most flows tracked at once.
    pub max_flows: usize,
    /// Idle timeout of TCP flows, in seconds.
    pub tcp_timeout_s: u64,
    /// Idle timeout of UDP flows, in seconds.
    pub udp_timeout_s: u64,
    /// Idle timeout of other flows (ICMP, other IP), in seconds.
    pub other_timeout_s: u64,
}

impl Default for FlowConfig {
    /// Snort 3's stock timeouts (TCP 3600 s, UDP 180 s, others 180 s) and 256 Ki
    /// flows.
    fn default() -> Self {
        FlowConfig {
            max_flows: 1 << 18,
            tcp_timeout_s: 3600,
            udp_timeout_s: 180,
            other_timeout_s: 180,
        }
    }
}

impl FlowConfig {
    /// The idle timeout of a flow of IP protocol `protocol`, in nanoseconds.
    pub fn timeout_ns(&self, protocol: u8) -> u64 {
        let s = match protocol {
            6 => self.tcp_timeout_s,
            17 => self.udp_timeout_s,
            _ => self.other_timeout_s,
        };
        s.saturating_mul(1_000_000_000)
    }
}

/// The most (gid, sid) pairs remembered per direction as alerted on raw packets.
pub const MAX_SESSION_ALERTS: usize = 8;

/// Rules that alerted on raw packets of one direction since its last reassembled
/// data was inspected: reassembled data does not raise them again.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionAlerts {
    len: u8,
    sigs: [(u32, u32); MAX_SESSION_ALERTS],
}

impl SessionAlerts {
    /// Records (gid, sid); false when the list is full.
    pub fn add(&mut self, gid: u32, sid: u32) -> bool {
        if self.contains(gid, sid) {
            return true;
        }
        let n = usize::from(self.len);
        if n >= MAX_SESSION_ALERTS {
            return false;
        }
        self.sigs[n] = (gid, sid);
        self.len += 1;
        true
    }

    /// Whether (gid, sid) was recorded.
    pub fn contains(&self, gid: u32, sid: u32) -> bool {
        self.sigs[..usize::from(self.len)].contains(&(gid, sid))
    }

    /// Forgets every recorded alert.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

/// A flow's flowbits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowBits {
    words: Vec<u64>,
}

impl FlowBits {
    /// Whether bit `i` is set.
    #[inline]
    pub fn get(&self, i: u16) -> bool {
        let i = usize::from(i);
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Sets bit `i` to `on`.
    pub fn set(&mut self, i: u16, on: bool) {
        let i = usize::from(i);
        if i / 64 >= self.words.len() {
            if !on {
                return;
            }
            self.words.resize(i / 64 + 1, 0);
        }
        if on {
            self.words[i / 64] |= 1 << (i % 64);
        } else {
            self.words[i / 64] &= !(1 << (i % 64));
        }
    }

    /// Clears every bit.
    pub fn clear(&mut self) {
        self.words.clear();
    }
}

/// Everything the engine keeps for one flow.
#[derive(Debug)]
pub struct Flow {
    /// Whether the key's `lo` endpoint is the client.
    pub client_is_lo: bool,
    /// Packets seen from the client and from the server.
    pub seen: [bool; 2],
    /// The identified service, if any.
    pub service: Option<Service>,
    /// Service identification state.
    pub wizard: Wizard,
    /// TCP state and reassembly.
    pub tcp: Option<Box<TcpSession>>,
    /// HTTP state, for flows identified as HTTP.
    pub http: Option<Box<HttpSession>>,
    /// Flowbits.
    pub bits: FlowBits,
    /// Alerts raised on raw packets, by the direction of the data (client's, server's).
    pub session_alerts: [SessionAlerts; 2],
    /// Payload bytes sent by the client and by the server.
    pub bytes: [u64; 2],
}

impl Flow {
    /// A new flow whose client is the key's `lo` endpoint if `client_is_lo`.
    pub fn new(client_is_lo: bool, tcp: bool) -> Flow {
        Flow {
            client_is_lo,
            seen: [false; 2],
            service: None,
            wizard: Wizard::default(),
            tcp: tcp.then(|| Box::new(TcpSession::default())),
            http: None,
            bits: FlowBits::default(),
            session_alerts: [SessionAlerts::default(); 2],
            bytes: [0; 2],
        }
    }

    /// Whether the flow is established: a TCP flow after its handshake (or picked up
    /// midstream), other flows once both sides have sent.
    pub fn established(&self) -> bool {
        match &self.tcp {
            Some(t) => t.established(),
            None => self.seen[0] && self.seen[1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_alerts() {
        let mut b = FlowBits::default();
        assert!(!b.get(200));
        b.set(200, true);
        b.set(3, true);
        assert!(b.get(200) && b.get(3) && !b.get(4));
        b.set(200, false);
        assert!(!b.get(200));
        b.set(5000, false);
        b.clear();
        assert!(!b.get(3));
        let mut a = SessionAlerts::default();
        for s in 0..8 {
            assert!(a.add(1, s));
        }
        assert!(!a.add(1, 99));
        assert!(a.add(1, 3));
        assert!(a.contains(1, 7));
        a.clear();
        assert!(!a.contains(1, 7));
    }
}
