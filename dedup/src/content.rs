//! Content-hash deduplication, for traffic that lost its job metadata (behind a legacy
//! function that strips it, say): as a packet broker does, a packet is a copy of another
//! when the fields no hop changes, and its payload, hash alike, within a time window.
//!
//! The fingerprint covers, for IPv4, the header without TTL, DSCP/ECN and checksum
//! (version, length, identification, flags, fragment offset, protocol, addresses,
//! options) and every byte after it up to the datagram's end; for IPv6, the header
//! without hop limit, traffic class and flow label, and every byte after it; for other
//! frames, everything after the MAC addresses. VLAN tags and MAC addresses, which
//! switches and routers rewrite, are left out. The hash is XXH3-64.
//!
//! With [`Fingerprint::Frame`] the fingerprint covers every byte of the frame instead:
//! copies must then be byte-identical, and a packet seen at two hops (another source
//! MAC, another TTL) counts as two.
//!
//! Two genuinely distinct packets with the same fingerprint inside one window (a
//! capture that holds a packet twice, or the same packet seen at two hops of a routed
//! capture, say) are indistinguishable from copies: the second is dropped. Memory is bounded by `max_entries` fingerprints; when the table
//! is full the oldest is forgotten early (counted).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use dataplane::wire::{L3, parse};
use xxhash_rust::xxh3::Xxh3;

/// What a content fingerprint covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fingerprint {
    /// The fields no hop changes, and the payload (what packet brokers compare).
    #[default]
    Invariant,
    /// Every byte of the frame.
    Frame,
}

/// The fingerprint of `frame` under `kind`.
pub fn fingerprint_with(kind: Fingerprint, frame: &[u8]) -> u64 {
    match kind {
        Fingerprint::Invariant => fingerprint(frame),
        Fingerprint::Frame => xxhash_rust::xxh3::xxh3_64(frame),
    }
}

/// The fingerprint of a frame's invariant content.
pub fn fingerprint(frame: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    match parse(frame) {
        Ok(p) => match p.l3 {
            L3::Ipv4(_) => {
                let ip = &frame[p.l3_offset..p.l3_end.max(p.l3_offset)];
                // Version/IHL (0), total length (2..4), id, flags, offset (4..8),
                // protocol (9), then addresses and options (12..): everything but
                // DSCP/ECN (1), TTL (8) and the checksum (10..12).
                h.update(&[4]);
                h.update(ip.get(0..1).unwrap_or_default());
                h.update(ip.get(2..8).unwrap_or_default());
                h.update(ip.get(9..10).unwrap_or_default());
                h.update(ip.get(12..).unwrap_or_default());
            }
            L3::Ipv6(_) => {
                let ip = &frame[p.l3_offset..p.l3_end.max(p.l3_offset)];
                // Payload length and next header (4..7), then addresses and the
                // rest (8..): everything but traffic class, flow label and hop limit.
                h.update(&[6]);
                h.update(ip.get(4..7).unwrap_or_default());
                h.update(ip.get(8..).unwrap_or_default());
            }
            L3::Other(_) => {
                h.update(&[0]);
                h.update(&frame[12.min(frame.len())..]);
            }
        },
        Err(_) => {
            h.update(&[0]);
            h.update(&frame[12.min(frame.len())..]);
        }
    }
    h.digest()
}

/// Settings of content-hash deduplication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentConfig {
    /// How long a fingerprint is remembered after its first packet.
    pub window: Duration,
    /// Most fingerprints remembered at once.
    pub max_entries: usize,
    /// What the fingerprint covers.
    pub fingerprint: Fingerprint,
}

impl Default for ContentConfig {
    fn default() -> Self {
        ContentConfig {
            window: Duration::from_millis(50),
            max_entries: 1 << 18,
            fingerprint: Fingerprint::Invariant,
        }
    }
}

/// The fingerprints seen within the window.
#[derive(Debug)]
pub struct ContentWindow {
    config: ContentConfig,
    seen: HashMap<u64, u64>,
    order: VecDeque<(u64, u64)>,
    evicted_early: u64,
}

impl ContentWindow {
    /// An empty window.
    pub fn new(config: ContentConfig) -> Self {
        ContentWindow {
            config,
            seen: HashMap::with_capacity(config.max_entries.min(1 << 16)),
            order: VecDeque::new(),
            evicted_early: 0,
        }
    }

    /// Whether `frame`, arriving at `now_ns`, is the first of its content within the
    /// window (and remembers it).
    pub fn first_frame(&mut self, frame: &[u8], now_ns: u64) -> bool {
        self.first(fingerprint_with(self.config.fingerprint, frame), now_ns)
    }

    /// Whether a packet with fingerprint `fp` arriving at `now_ns` is the first of its
    /// content within the window (and remembers it).
    pub fn first(&mut self, fp: u64, now_ns: u64) -> bool {
        let window = self.config.window.as_nanos() as u64;
        while let Some(&(t, old)) = self.order.front() {
            if now_ns.saturating_sub(t) < window && self.order.len() < self.config.max_entries {
                break;
            }
            if now_ns.saturating_sub(t) < window {
                self.evicted_early += 1;
            }
            self.order.pop_front();
            if self.seen.get(&old) == Some(&t) {
                self.seen.remove(&old);
            }
        }
        if self.seen.contains_key(&fp) {
            return false;
        }
        self.seen.insert(fp, now_ns);
        self.order.push_back((now_ns, fp));
        true
    }

    /// Fingerprints forgotten before their window ended because the table was full.
    pub fn evicted_early(&self) -> u64 {
        self.evicted_early
    }

    /// Fingerprints remembered now.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no fingerprint is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_udp(ttl: u8, mac: u8, payload: u8) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[0..6].copy_from_slice(&[mac; 6]);
        f[12] = 0x08;
        f[14] = 0x45;
        f[15] = 0x10;
        f[16..18].copy_from_slice(&46u16.to_be_bytes());
        f[22] = ttl;
        f[23] = 17;
        f[24] = ttl; // a checksum that changes with the TTL
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[42] = payload;
        f
    }

    #[test]
    fn hops_do_not_change_the_fingerprint_content_does() {
        let base = fingerprint(&ipv4_udp(64, 1, 7));
        assert_eq!(
            base,
            fingerprint(&ipv4_udp(63, 2, 7)),
            "TTL, checksum and MACs are ignored"
        );
        assert_ne!(base, fingerprint(&ipv4_udp(64, 1, 8)), "payload counts");
        let frame = |ttl, mac| fingerprint_with(Fingerprint::Frame, &ipv4_udp(ttl, mac, 7));
        assert_ne!(
            frame(64, 1),
            frame(63, 2),
            "a whole-frame fingerprint sees the hop"
        );
        let _ = fingerprint(&[]);
        let _ = fingerprint(&[0xff; 13]);
    }

    #[test]
    fn a_fingerprint_is_first_once_per_window() {
        let mut w = ContentWindow::new(ContentConfig {
            window: Duration::from_nanos(100),
            max_entries: 3,
            fingerprint: Fingerprint::Invariant,
        });
        assert!(w.first(1, 0));
        assert!(!w.first(1, 50));
        assert!(w.first(1, 100), "the window has passed");
        assert!(w.first(2, 101));
        assert!(w.first(3, 102));
        assert!(w.first(4, 103), "the table is full: the oldest goes early");
        assert_eq!(w.evicted_early(), 1);
        assert!(w.len() <= 3);
    }
}
