//! Job metadata and its wire encoding: an outer Ethernet header plus an NSH header
//! (RFC 8300) with one MD type 2 context TLV, in front of the original frame.
//!
//! ```text
//! offset size field
//!   0     6   outer destination MAC  02:44:41:53:NN:QQ   (NN = node, QQ = queue)
//!   6     6   outer source MAC       02:44:41:53:ff:DD   (DD = duplicator id)
//!  12     2   EtherType 0x894F (NSH)
//!  14     4   NSH base header: version 0, O 0, TTL 63, length 8 words, MD type 2,
//!             next protocol 3 (Ethernet)                  = 0f c8 02 03
//!  18     4   service path header: SPI 0x000DA5, SI 255
//!  22     4   context TLV header: MD class 0xFFF6 (experimental), type 0x01, length 20
//!  26     8   job id (big endian)
//!  34     8   ingress time, ns since the UNIX epoch (big endian)
//!  42     1   copy kind: 0 primary, 1 duplicate
//!  43     1   priority: 0 high, 1 low
//!  44     1   duplicator id
//!  45     1   peer node: the node holding the job's other copy (0xff: none)
//!  46         the original frame, byte for byte
//! ```
//!
//! Standard tools decode it (Wireshark's NSH dissector shows the service path and the
//! TLV, then dissects the inner Ethernet frame). NIC hardware can steer on it: the
//! outer destination MAC names the node and the queue, so a Flow Director rule that
//! matches `eth dst` (or just the EtherType and the last MAC byte) puts low-priority
//! copies on queue 1. Stripping the 46 bytes gives back the original frame.
//! `docs/METADATA.md` describes the layout for operators.

use crate::buf::PacketBuf;

/// EtherType of NSH.
pub const ETHERTYPE_NSH: u16 = 0x894F;
/// Bytes the encapsulation adds in front of a frame.
pub const ENCAP_LEN: usize = 46;
/// The das service path identifier.
pub const DAS_SPI: u32 = 0x000DA5;
/// The service index das stamps.
pub const DAS_SI: u8 = 255;
/// NSH MD class of the das context TLV (IANA's experimental range).
pub const DAS_MD_CLASS: u16 = 0xFFF6;
/// NSH metadata type of the das context TLV.
pub const DAS_MD_TYPE: u8 = 0x01;
/// Length of the das context TLV's value.
pub const DAS_MD_LEN: u8 = 20;
/// The first four bytes of every das MAC address ("\x02DAS": locally administered).
pub const DAS_MAC_PREFIX: [u8; 4] = [0x02, 0x44, 0x41, 0x53];

const NSH_BASE: [u8; 4] = [0x0f, 0xc8, 0x02, 0x03];
const NSH_NEXT_PROTO_ETHERNET: u8 = 3;

/// A job's identifier: unique per duplicator and increasing in the order the duplicator
/// saw the packets.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct JobId(pub u64);

/// Which copy of a job a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CopyKind {
    /// The copy sent to the flow's primary node.
    Primary,
    /// The extra copy sent to a second node.
    Duplicate,
}

/// The scheduling class a copy gets at its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Served first (queue 0).
    High,
    /// Served only when no high-priority work waits (queue 1).
    Low,
}

impl Priority {
    /// The node queue that serves this priority.
    pub fn queue(self) -> u8 {
        match self {
            Priority::High => 0,
            Priority::Low => 1,
        }
    }
}

/// The metadata that travels with every copy of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobMeta {
    /// The job.
    pub job: JobId,
    /// Primary or duplicate.
    pub kind: CopyKind,
    /// Scheduling class at the node.
    pub priority: Priority,
    /// When the duplicator received the packet, ns since the UNIX epoch.
    pub ingress_ns: u64,
    /// Which duplicator stamped it (job ids are unique per duplicator).
    pub duplicator: u8,
    /// The node holding the job's other copy, if there is one: where a completion
    /// notice goes once this copy is delivered first.
    pub peer: Option<u8>,
}

/// The peer byte of a job without another copy.
pub const NO_PEER: u8 = 0xff;

/// Where an encapsulated copy goes: a node and one of its queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Steering {
    /// Node index.
    pub node: u8,
    /// Queue at the node (0 primaries, 1 duplicates).
    pub queue: u8,
}

impl Steering {
    /// The outer destination MAC address for this node and queue.
    pub fn mac(self) -> [u8; 6] {
        let p = DAS_MAC_PREFIX;
        [p[0], p[1], p[2], p[3], self.node, self.queue]
    }
}

/// Why a frame's metadata header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// Shorter than the header.
    #[error("frame of {0} bytes is shorter than the {ENCAP_LEN}-byte metadata header")]
    Truncated(usize),
    /// The outer EtherType is not NSH.
    #[error("outer EtherType {0:#06x} is not NSH")]
    NotNsh(u16),
    /// NSH header fields differ from the das layout.
    #[error("NSH header is not a das header: {0}")]
    Foreign(&'static str),
    /// A field holds a value outside its range.
    #[error("bad das metadata: {0}")]
    BadValue(&'static str),
}

/// A read-only view of a frame that carries das metadata, checked once on creation.
#[derive(Debug, Clone, Copy)]
pub struct JobFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> JobFrame<T> {
    /// Wraps `buffer` after checking its length and every fixed field of the header.
    pub fn new_checked(buffer: T) -> Result<Self, MetaError> {
        let b = buffer.as_ref();
        if b.len() < ENCAP_LEN {
            return Err(MetaError::Truncated(b.len()));
        }
        let ethertype = u16::from_be_bytes([b[12], b[13]]);
        if ethertype != ETHERTYPE_NSH {
            return Err(MetaError::NotNsh(ethertype));
        }
        if b[14] >> 6 != 0 {
            return Err(MetaError::Foreign("NSH version is not 0"));
        }
        // Byte 14: version, O, U, TTL high bits; byte 15: TTL low bits, length in words.
        let length_words = b[15] & 0x3f;
        if length_words != 8 || b[16] & 0x0f != 2 {
            return Err(MetaError::Foreign("not an 8-word MD type 2 header"));
        }
        if b[17] != NSH_NEXT_PROTO_ETHERNET {
            return Err(MetaError::Foreign("next protocol is not Ethernet"));
        }
        if u32::from_be_bytes([0, b[18], b[19], b[20]]) != DAS_SPI {
            return Err(MetaError::Foreign("service path is not the das SPI"));
        }
        if u16::from_be_bytes([b[22], b[23]]) != DAS_MD_CLASS
            || b[24] != DAS_MD_TYPE
            || b[25] & 0x7f != DAS_MD_LEN
        {
            return Err(MetaError::Foreign("context TLV is not the das TLV"));
        }
        if b[42] > 1 {
            return Err(MetaError::BadValue("copy kind"));
        }
        if b[43] > 1 {
            return Err(MetaError::BadValue("priority"));
        }
        Ok(JobFrame { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The job id.
    pub fn job(&self) -> JobId {
        JobId(u64::from_be_bytes(
            self.bytes()[26..34].try_into().expect("8 bytes"),
        ))
    }

    /// The ingress time, ns since the UNIX epoch.
    pub fn ingress_ns(&self) -> u64 {
        u64::from_be_bytes(self.bytes()[34..42].try_into().expect("8 bytes"))
    }

    /// Primary or duplicate.
    pub fn kind(&self) -> CopyKind {
        if self.bytes()[42] == 0 {
            CopyKind::Primary
        } else {
            CopyKind::Duplicate
        }
    }

    /// Scheduling class.
    pub fn priority(&self) -> Priority {
        if self.bytes()[43] == 0 {
            Priority::High
        } else {
            Priority::Low
        }
    }

    /// The duplicator that stamped the frame.
    pub fn duplicator(&self) -> u8 {
        self.bytes()[44]
    }

    /// The node holding the job's other copy, if any.
    pub fn peer(&self) -> Option<u8> {
        let b = self.bytes()[45];
        (b != NO_PEER).then_some(b)
    }

    /// The node and queue named by the outer destination MAC, if it is a das address.
    pub fn steering(&self) -> Option<Steering> {
        let b = self.bytes();
        (b[0..4] == DAS_MAC_PREFIX).then_some(Steering {
            node: b[4],
            queue: b[5],
        })
    }

    /// All metadata fields.
    pub fn meta(&self) -> JobMeta {
        JobMeta {
            job: self.job(),
            kind: self.kind(),
            priority: self.priority(),
            ingress_ns: self.ingress_ns(),
            duplicator: self.duplicator(),
            peer: self.peer(),
        }
    }

    /// The original frame.
    pub fn inner(&self) -> &[u8] {
        &self.bytes()[ENCAP_LEN..]
    }
}

/// Writes the metadata header for `meta`, steered to `to`, into `out` (exactly
/// [`ENCAP_LEN`] bytes).
pub fn write_header(out: &mut [u8], meta: &JobMeta, to: Steering) {
    let out: &mut [u8; ENCAP_LEN] = out.try_into().expect("header is ENCAP_LEN bytes");
    out[0..6].copy_from_slice(&to.mac());
    let p = DAS_MAC_PREFIX;
    out[6..12].copy_from_slice(&[p[0], p[1], p[2], p[3], 0xff, meta.duplicator]);
    out[12..14].copy_from_slice(&ETHERTYPE_NSH.to_be_bytes());
    out[14..18].copy_from_slice(&NSH_BASE);
    out[18..22].copy_from_slice(&((DAS_SPI << 8) | DAS_SI as u32).to_be_bytes());
    out[22..24].copy_from_slice(&DAS_MD_CLASS.to_be_bytes());
    out[24] = DAS_MD_TYPE;
    out[25] = DAS_MD_LEN;
    out[26..34].copy_from_slice(&meta.job.0.to_be_bytes());
    out[34..42].copy_from_slice(&meta.ingress_ns.to_be_bytes());
    out[42] = match meta.kind {
        CopyKind::Primary => 0,
        CopyKind::Duplicate => 1,
    };
    out[43] = match meta.priority {
        Priority::High => 0,
        Priority::Low => 1,
    };
    out[44] = meta.duplicator;
    out[45] = meta.peer.unwrap_or(NO_PEER);
}

/// Prepends the metadata header to the frame in `buf` (in its headroom).
#[inline]
pub fn encap(buf: &mut PacketBuf, meta: &JobMeta, to: Steering) {
    write_header(buf.prepend(ENCAP_LEN), meta, to);
}

/// Reads the metadata of an encapsulated frame without changing it.
#[inline]
pub fn peek(frame: &[u8]) -> Result<JobMeta, MetaError> {
    JobFrame::new_checked(frame).map(|f| f.meta())
}

/// Reads the metadata and strips the header, leaving the original frame in `buf`.
/// On error `buf` is unchanged.
#[inline]
pub fn decap(buf: &mut PacketBuf) -> Result<JobMeta, MetaError> {
    let meta = peek(buf.data())?;
    buf.strip_front(ENCAP_LEN)
        .expect("checked frame is at least ENCAP_LEN long");
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_meta() -> JobMeta {
        JobMeta {
            job: JobId(0x0102_0304_0506_0708),
            kind: CopyKind::Duplicate,
            priority: Priority::Low,
            ingress_ns: 1_700_000_000_123_456_789,
            duplicator: 3,
            peer: Some(9),
        }
    }

    #[test]
    fn header_bytes_match_the_documented_layout() {
        let mut hdr = [0u8; ENCAP_LEN];
        write_header(&mut hdr, &sample_meta(), Steering { node: 2, queue: 1 });
        let expected: [u8; ENCAP_LEN] = [
            0x02, 0x44, 0x41, 0x53, 0x02, 0x01, // dst
            0x02, 0x44, 0x41, 0x53, 0xff, 0x03, // src
            0x89, 0x4f, // NSH
            0x0f, 0xc8, 0x02, 0x03, // base
            0x00, 0x0d, 0xa5, 0xff, // SPI, SI
            0xff, 0xf6, 0x01, 0x14, // TLV
            1, 2, 3, 4, 5, 6, 7, 8, // job
            0x17, 0x97, 0x9c, 0xfe, 0x3d, 0x85, 0xcd, 0x15, // ingress
            1, 1, 3, 9,
        ];
        assert_eq!(hdr, expected);
    }

    #[test]
    fn foreign_and_short_frames_are_refused() {
        let mut hdr = [0u8; ENCAP_LEN];
        write_header(&mut hdr, &sample_meta(), Steering { node: 0, queue: 0 });
        assert_eq!(
            peek(&hdr[..ENCAP_LEN - 1]),
            Err(MetaError::Truncated(ENCAP_LEN - 1))
        );
        let mut other = hdr;
        other[12] = 0x08;
        other[13] = 0x00;
        assert_eq!(peek(&other), Err(MetaError::NotNsh(0x0800)));
        let mut other = hdr;
        other[20] = 0x00;
        assert!(matches!(peek(&other), Err(MetaError::Foreign(_))));
        let mut other = hdr;
        other[42] = 7;
        assert_eq!(peek(&other), Err(MetaError::BadValue("copy kind")));
    }

    proptest! {
        #[test]
        fn encap_then_decap_gives_back_the_frame(
            frame in proptest::collection::vec(any::<u8>(), 0..2000),
            job in any::<u64>(),
            ingress in any::<u64>(),
            dup in any::<bool>(),
            low in any::<bool>(),
            duplicator in any::<u8>(),
            node in any::<u8>(),
            peer in proptest::option::of(0u8..NO_PEER),
        ) {
            let meta = JobMeta {
                job: JobId(job),
                kind: if dup { CopyKind::Duplicate } else { CopyKind::Primary },
                priority: if low { Priority::Low } else { Priority::High },
                ingress_ns: ingress,
                duplicator,
                peer,
            };
            let to = Steering { node, queue: meta.priority.queue() };
            let mut buf = PacketBuf::from_frame(&frame).unwrap();
            encap(&mut buf, &meta, to);
            prop_assert_eq!(buf.len(), frame.len() + ENCAP_LEN);
            let view = JobFrame::new_checked(buf.data()).unwrap();
            prop_assert_eq!(view.steering(), Some(to));
            prop_assert_eq!(view.inner(), &frame[..]);
            prop_assert_eq!(decap(&mut buf).unwrap(), meta);
            prop_assert_eq!(buf.data(), &frame[..]);
        }

        #[test]
        fn peek_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = peek(&bytes);
        }
    }
}
