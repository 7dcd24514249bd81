//! Picking a flow's primary and secondary node from its symmetric hash.
//!
//! The primary comes from an indirection table indexed by the hash's low bits, as a
//! NIC's RSS redirection table (RETA) does, so hardware and software agree on a flow's
//! node. The secondary is always a different node, chosen with the hash's high bits so
//! that the duplicates of one node's flows spread over all the others.

/// Entries in the indirection table (a NIC's RETA size).
pub const RETA_SIZE: usize = 512;

/// Most nodes a duplicator addresses (the node index travels in one byte).
pub const MAX_NODES: usize = 256;

/// Errors from node-table settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// Zero nodes, or more than [`MAX_NODES`].
    #[error("{0} nodes: a cluster has 1 to {MAX_NODES} nodes")]
    BadNodeCount(usize),
}

/// Maps flow hashes to (primary, secondary) nodes.
#[derive(Debug, Clone)]
pub struct NodeTable {
    reta: Vec<u8>,
    nodes: usize,
}

impl NodeTable {
    /// A table spreading flows evenly over `nodes` nodes.
    pub fn new(nodes: usize) -> Result<Self, SelectError> {
        if nodes == 0 || nodes > MAX_NODES {
            return Err(SelectError::BadNodeCount(nodes));
        }
        Ok(NodeTable {
            reta: (0..RETA_SIZE).map(|i| (i % nodes) as u8).collect(),
            nodes,
        })
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The flow's primary node.
    #[inline]
    pub fn primary(&self, hash: u32) -> usize {
        self.reta[hash as usize % RETA_SIZE] as usize
    }

    /// The flow's secondary node: never the primary; `None` with a single node.
    #[inline]
    pub fn secondary(&self, hash: u32, primary: usize) -> Option<usize> {
        if self.nodes < 2 {
            return None;
        }
        let offset = 1 + (hash >> 16) as usize % (self.nodes - 1);
        Some((primary + offset) % self.nodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn node_counts_outside_range_are_refused() {
        assert_eq!(NodeTable::new(0).unwrap_err(), SelectError::BadNodeCount(0));
        assert!(NodeTable::new(257).is_err());
        assert!(NodeTable::new(256).is_ok());
        assert_eq!(NodeTable::new(1).unwrap().secondary(7, 0), None);
    }

    #[test]
    fn flows_spread_evenly() {
        let table = NodeTable::new(3).unwrap();
        let mut counts = [0usize; 3];
        for hash in 0..(RETA_SIZE as u32 * 3) {
            counts[table.primary(hash.wrapping_mul(2_654_435_761))] += 1;
        }
        for c in counts {
            assert!((400..=640).contains(&c), "{counts:?}");
        }
    }

    proptest! {
        #[test]
        fn secondary_is_never_the_primary(nodes in 2usize..=256, hash in any::<u32>()) {
            let table = NodeTable::new(nodes).unwrap();
            let p = table.primary(hash);
            let s = table.secondary(hash, p).unwrap();
            prop_assert!(p < nodes && s < nodes);
            prop_assert_ne!(p, s);
        }
    }
}
