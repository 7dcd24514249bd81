//! Node status frames: an IDS node's heartbeat to the duplicator between processes.
//!
//! In one process the duplicator reads the nodes' health directly
//! ([`crate::health::NodeHealth`]). When every stage is a process of its own, each node
//! sends a small status frame back on its link from the duplicator at a fixed interval;
//! a node whose frames stop coming is taken for dead and its flows fail over to their
//! duplicates. The frame also carries what the node's duplicate queue took and dropped.
//!
//! ```text
//! 0      6      12    14  15  16      24        32        40       60
//! | dst  | src  | type| v | n | seq   | taken   | dropped | padding |
//! ```
//! dst `02:44:41:53:ff:03`, src `02:44:41:53:NN:03`, type [`STATUS_ETHERTYPE`], `v` the
//! version (1), `n` the node, then three counters big endian: the frame's sequence
//! number, the duplicates the node's duplicate queue took, and those it dropped.

use std::sync::atomic::{AtomicU64, Ordering};

/// EtherType of node status frames (IEEE 802's local experimental EtherType 2).
pub const STATUS_ETHERTYPE: u16 = 0x88B6;
/// The queue byte of a status frame's outer MACs.
pub const STATUS_QUEUE: u8 = 3;
/// Version byte of the status payload.
const STATUS_VERSION: u8 = 1;
/// Bytes of a status frame (the Ethernet minimum without its checksum).
pub const STATUS_FRAME_LEN: usize = 60;
/// Bytes that carry something.
const STATUS_USED: usize = 40;

/// What a duplicator knows of one node's duplicate queue from the node's status
/// frames: how many duplicates it took so far. Written by the thread reading the
/// frames, read by the duplicator's overload guard.
#[derive(Debug, Default)]
pub struct RemoteQueueView {
    taken: AtomicU64,
}

impl RemoteQueueView {
    /// Records what the node said.
    pub fn update(&self, status: &NodeStatus) {
        self.taken.store(status.duplicates_taken, Ordering::Release);
    }

    /// Duplicates the node's duplicate queue took, as of its last status frame.
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Acquire)
    }
}

/// What a node says of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeStatus {
    /// The node.
    pub node: u8,
    /// Frames the node sent before this one.
    pub seq: u64,
    /// Duplicates the node's duplicate queue took.
    pub duplicates_taken: u64,
    /// Duplicates the node's duplicate queue dropped.
    pub duplicates_dropped: u64,
}

/// A frame that is not a valid status frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusFrameError {
    /// Not a status frame at all (EtherType or address).
    #[error("not a das status frame")]
    NotStatus,
    /// A version this code does not read.
    #[error("status frame version {0} (expected 1)")]
    Version(u8),
    /// Too short for its fields.
    #[error("status frame of {0} bytes (at least 40)")]
    Truncated(usize),
}

/// Writes `status` into `frame` (cleared first) as a status frame.
pub fn encode_status(status: &NodeStatus, frame: &mut Vec<u8>) {
    frame.clear();
    frame.extend_from_slice(&crate::meta::DAS_MAC_PREFIX);
    frame.extend_from_slice(&[0xff, STATUS_QUEUE]);
    frame.extend_from_slice(&crate::meta::DAS_MAC_PREFIX);
    frame.extend_from_slice(&[status.node, STATUS_QUEUE]);
    frame.extend_from_slice(&STATUS_ETHERTYPE.to_be_bytes());
    frame.extend_from_slice(&[STATUS_VERSION, status.node]);
    for v in [
        status.seq,
        status.duplicates_taken,
        status.duplicates_dropped,
    ] {
        frame.extend_from_slice(&v.to_be_bytes());
    }
    frame.resize(STATUS_FRAME_LEN, 0);
}

/// Reads a status frame.
pub fn decode_status(frame: &[u8]) -> Result<NodeStatus, StatusFrameError> {
    if frame.len() < 14
        || frame[..4] != crate::meta::DAS_MAC_PREFIX
        || u16::from_be_bytes([frame[12], frame[13]]) != STATUS_ETHERTYPE
    {
        return Err(StatusFrameError::NotStatus);
    }
    if frame.len() < STATUS_USED {
        return Err(StatusFrameError::Truncated(frame.len()));
    }
    if frame[14] != STATUS_VERSION {
        return Err(StatusFrameError::Version(frame[14]));
    }
    let word = |at: usize| {
        u64::from_be_bytes(
            frame[at..at + 8]
                .try_into()
                .expect("the length was checked"),
        )
    };
    Ok(NodeStatus {
        node: frame[15],
        seq: word(16),
        duplicates_taken: word(24),
        duplicates_dropped: word(32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn status_frames_round_trip(node: u8, seq: u64, taken: u64, dropped: u64) {
            let s = NodeStatus { node, seq, duplicates_taken: taken, duplicates_dropped: dropped };
            let mut frame = Vec::new();
            encode_status(&s, &mut frame);
            prop_assert_eq!(frame.len(), STATUS_FRAME_LEN);
            prop_assert_eq!(decode_status(&frame), Ok(s));
            prop_assert!(crate::afpacket::Filter::Status.accepts(&frame));
            prop_assert!(!crate::afpacket::Filter::Notices.accepts(&frame));
            prop_assert!(!crate::afpacket::Filter::Das.accepts(&frame));
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_status(&bytes);
        }
    }

    #[test]
    fn bad_frames_say_what_is_wrong() {
        let mut frame = Vec::new();
        encode_status(&NodeStatus::default(), &mut frame);
        assert_eq!(
            decode_status(&frame[..39]),
            Err(StatusFrameError::Truncated(39))
        );
        let mut v2 = frame.clone();
        v2[14] = 2;
        assert_eq!(decode_status(&v2), Err(StatusFrameError::Version(2)));
        let mut other = frame.clone();
        other[13] = 0xB5;
        assert_eq!(decode_status(&other), Err(StatusFrameError::NotStatus));
        assert_eq!(decode_status(&[]), Err(StatusFrameError::NotStatus));
    }
}
