//! Batches of packets: the unit every port and stage moves.

use crate::buf::{BufCache, PacketBuf};

/// Largest batch a port or stage handles at once.
pub const MAX_BATCH: usize = 256;

/// Batch size used where none is configured.
pub const DEFAULT_BATCH: usize = 32;

/// Errors from making a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The requested size is outside 1..=[`MAX_BATCH`].
    #[error("batch size {0} is outside 1..={MAX_BATCH}")]
    BadSize(usize),
}

/// An ordered group of at most `capacity` packets whose storage is allocated once.
#[derive(Debug)]
pub struct Batch {
    pkts: Vec<PacketBuf>,
    capacity: usize,
}

impl Batch {
    /// An empty batch holding at most `capacity` packets (1 to [`MAX_BATCH`]).
    pub fn with_capacity(capacity: usize) -> Result<Self, BatchError> {
        if capacity == 0 || capacity > MAX_BATCH {
            return Err(BatchError::BadSize(capacity));
        }
        Ok(Batch {
            pkts: Vec::with_capacity(capacity),
            capacity,
        })
    }

    /// Most packets the batch holds.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Packets in the batch.
    #[inline]
    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    /// Whether the batch holds no packet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// Whether the batch is at capacity.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.pkts.len() >= self.capacity
    }

    /// Packets that can still be added.
    #[inline]
    pub fn room(&self) -> usize {
        self.capacity - self.pkts.len()
    }

    /// Appends a packet, or hands it back when the batch is full.
    #[inline]
    pub fn push(&mut self, pkt: PacketBuf) -> Result<(), PacketBuf> {
        if self.is_full() {
            return Err(pkt);
        }
        self.pkts.push(pkt);
        Ok(())
    }

    /// The packets, in order.
    #[inline]
    pub fn as_slice(&self) -> &[PacketBuf] {
        &self.pkts
    }

    /// The packets, in order, writable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [PacketBuf] {
        &mut self.pkts
    }

    /// Iterates over the packets.
    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, PacketBuf> {
        self.pkts.iter()
    }

    /// Iterates over the packets, writable.
    #[inline]
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, PacketBuf> {
        self.pkts.iter_mut()
    }

    /// Removes the first `n` packets (all if fewer) and yields them in order.
    #[inline]
    pub fn drain_front(&mut self, n: usize) -> std::vec::Drain<'_, PacketBuf> {
        let n = n.min(self.pkts.len());
        self.pkts.drain(..n)
    }

    /// Removes every packet and yields them in order.
    #[inline]
    pub fn drain(&mut self) -> std::vec::Drain<'_, PacketBuf> {
        self.pkts.drain(..)
    }

    /// Returns every packet to `bufs` for reuse.
    pub fn free_into(&mut self, bufs: &mut BufCache) {
        bufs.free_all(self.pkts.drain(..));
    }

    /// Total bytes of the frames in the batch.
    pub fn bytes(&self) -> u64 {
        self.pkts.iter().map(|p| p.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_outside_range_are_refused() {
        assert_eq!(Batch::with_capacity(0).unwrap_err(), BatchError::BadSize(0));
        assert!(Batch::with_capacity(MAX_BATCH + 1).is_err());
        assert!(Batch::with_capacity(MAX_BATCH).is_ok());
    }

    #[test]
    fn push_refuses_beyond_capacity_and_drain_keeps_order() {
        let mut batch = Batch::with_capacity(3).unwrap();
        for i in 0..3u8 {
            batch.push(PacketBuf::from_frame(&[i]).unwrap()).unwrap();
        }
        let extra = PacketBuf::from_frame(&[9]).unwrap();
        assert!(batch.push(extra).is_err());
        let first: Vec<u8> = batch.drain_front(2).map(|p| p.data()[0]).collect();
        assert_eq!(first, vec![0, 1]);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.as_slice()[0].data(), &[2]);
    }
}
