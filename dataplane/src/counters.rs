//! Counters that account for every packet: received = forwarded + dropped, each drop
//! with a named reason.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a packet was dropped. Every drop anywhere in das carries one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// Evicted from a full bounded queue to make room for a newer packet (drop-oldest).
    QueueOverflow,
    /// Refused by a full bounded queue (drop-tail).
    QueueFull,
    /// The frame could not be parsed where parsing is required.
    Malformed,
    /// A frame reached dedup without a valid das job-metadata header.
    MissingMetadata,
    /// A later copy of a job whose first copy was already forwarded.
    DuplicateCopy,
    /// A copy of a job older than dedup's window: it may have been forwarded already,
    /// so it is never forwarded again.
    LateCopy,
    /// A capture record whose link type is not Ethernet.
    UnsupportedLinkType,
    /// The network function's verdict was to drop the packet.
    NfVerdict,
    /// A capture record cut short at the end of its file (a capture that was killed).
    TruncatedRecord,
    /// A duplicate whose job its other copy had already delivered, removed before
    /// inspection (active purge).
    Purged,
    /// A copy for a node that was down (killed, or its queue's receiver gone).
    NodeDown,
    /// Dropped by the kernel or the device because a port's receive ring was full.
    RingFull,
    /// A frame larger than the port can carry (its ring's frame slots, or the link's
    /// MTU).
    Oversize,
    /// Dropped by the kernel before an AF_XDP socket's rx ring for a reason other than
    /// a full ring or an empty fill ring (`XDP_STATISTICS` rx_dropped).
    XskRxDropped,
    /// Dropped by the kernel because the UMEM's fill ring had no free frame.
    XskFillRingEmpty,
    /// An invalid descriptor on an AF_XDP socket's tx ring, dropped by the kernel.
    XskTxInvalid,
    /// A frame on a receive queue whose filter refuses it, where the device and not the
    /// kernel chooses the queue (a netmap ring): not das traffic, or a copy for another
    /// queue that the NIC's steering rules did not put on its own.
    Filtered,
}

impl DropReason {
    /// Every reason, in a fixed order.
    pub const ALL: [DropReason; 17] = [
        DropReason::QueueOverflow,
        DropReason::QueueFull,
        DropReason::Malformed,
        DropReason::MissingMetadata,
        DropReason::DuplicateCopy,
        DropReason::LateCopy,
        DropReason::UnsupportedLinkType,
        DropReason::NfVerdict,
        DropReason::TruncatedRecord,
        DropReason::Purged,
        DropReason::NodeDown,
        DropReason::RingFull,
        DropReason::Oversize,
        DropReason::XskRxDropped,
        DropReason::XskFillRingEmpty,
        DropReason::XskTxInvalid,
        DropReason::Filtered,
    ];

    /// The reason's name in reports (snake case).
    pub fn name(self) -> &'static str {
        match self {
            DropReason::QueueOverflow => "queue_overflow",
            DropReason::QueueFull => "queue_full",
            DropReason::Malformed => "malformed",
            DropReason::MissingMetadata => "missing_metadata",
            DropReason::DuplicateCopy => "duplicate_copy",
            DropReason::LateCopy => "late_copy",
            DropReason::UnsupportedLinkType => "unsupported_link_type",
            DropReason::NfVerdict => "nf_verdict",
            DropReason::TruncatedRecord => "truncated_record",
            DropReason::Purged => "purged",
            DropReason::NodeDown => "node_down",
            DropReason::RingFull => "ring_full",
            DropReason::Oversize => "oversize",
            DropReason::XskRxDropped => "xsk_rx_dropped",
            DropReason::XskFillRingEmpty => "xsk_fill_ring_empty",
            DropReason::XskTxInvalid => "xsk_tx_invalid",
            DropReason::Filtered => "filtered",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A monotonically increasing count, written by one thread and read by any.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Drop counts by reason.
#[derive(Debug, Default)]
pub struct DropCounters([Counter; DropReason::ALL.len()]);

impl DropCounters {
    /// Counts `n` drops for `reason`.
    #[inline]
    pub fn add(&self, reason: DropReason, n: u64) {
        self.0[reason.index()].add(n);
    }

    /// Drops counted for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason.index()].get()
    }

    /// Sum over every reason.
    pub fn total(&self) -> u64 {
        self.0.iter().map(Counter::get).sum()
    }

    /// The non-zero counts by reason name.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        DropReason::ALL
            .iter()
            .filter_map(|&r| {
                let n = self.get(r);
                (n > 0).then(|| (r.name().to_string(), n))
            })
            .collect()
    }
}

/// The counters of one stage (or one instance of a stage).
#[derive(Debug, Default)]
pub struct StageCounters {
    /// Packets the stage took in.
    pub received: Counter,
    /// Packets the stage passed on.
    pub forwarded: Counter,
    /// Packets the stage dropped, by reason.
    pub dropped: DropCounters,
}

impl StageCounters {
    /// A consistent-enough copy for reports (each field is read once).
    pub fn snapshot(&self) -> StageSnapshot {
        StageSnapshot {
            received: self.received.get(),
            forwarded: self.forwarded.get(),
            dropped: self.dropped.snapshot(),
        }
    }
}

/// A copy of [`StageCounters`] taken at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StageSnapshot {
    /// Packets taken in.
    pub received: u64,
    /// Packets passed on.
    pub forwarded: u64,
    /// Packets dropped, by reason name (reasons with no drop are left out).
    pub dropped: BTreeMap<String, u64>,
}

impl StageSnapshot {
    /// Total drops over every reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// Drops for one reason.
    pub fn dropped_for(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.name()).copied().unwrap_or(0)
    }

    /// Whether received = forwarded + dropped (true once a stage has drained).
    pub fn balanced(&self) -> bool {
        self.received == self.forwarded + self.dropped_total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_are_unique_and_indexed_in_order() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
    }

    #[test]
    fn snapshot_balances_only_when_every_packet_is_accounted() {
        let c = StageCounters::default();
        c.received.add(10);
        c.forwarded.add(7);
        c.dropped.add(DropReason::DuplicateCopy, 2);
        assert!(!c.snapshot().balanced());
        c.dropped.add(DropReason::LateCopy, 1);
        let s = c.snapshot();
        assert!(s.balanced());
        assert_eq!(s.dropped_for(DropReason::DuplicateCopy), 2);
        assert_eq!(s.dropped.len(), 2);
    }
}
