//! Picking a flow's primary and secondary node from its symmetric hash, Maglev style.
//!
//! Each node has a preference list over the slots of a lookup table (a permutation made
//! from two hashes of the node's index); nodes take turns claiming their next preferred
//! free slot, a node of weight `w` taking `w` turns for every turn of a node of weight 1,
//! until the table is full (Eisenbud et al., "Maglev", NSDI 2016). A flow's primary is
//! the node in the slot its hash selects. Adding or removing a node only moves the slots
//! that node wins or loses, so about 1/N of flows change node. The secondary is looked
//! up the same way with a second hash and is always a different node.
//!
//! The symmetric Toeplitz hash keeps both directions of a flow together; it is mixed
//! (a 32-bit finaliser) before indexing the table, because the symmetric key leaves it
//! only 16 bits of entropy, spread over all 32.

/// Slots in the lookup table (a prime, well over 100 times any node count used).
pub const TABLE_SIZE: usize = 65_537;

/// Most nodes a duplicator addresses (the node index travels in one byte and 0xff means
/// "no peer").
pub const MAX_NODES: usize = 255;

/// Errors from node-table settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// Zero nodes, or more than [`MAX_NODES`].
    #[error("{0} nodes: a cluster has 1 to {MAX_NODES} nodes")]
    BadNodeCount(usize),
    /// A weight that is not a positive whole number.
    #[error("node {node} has weight {weight}: weights are whole numbers from 1 to 100")]
    BadWeight {
        /// The node.
        node: usize,
        /// Its weight.
        weight: u32,
    },
}

/// Maps flow hashes to (primary, secondary) nodes.
#[derive(Debug, Clone)]
pub struct NodeTable {
    slots: Vec<u8>,
    nodes: Vec<u8>,
}

/// A 32-bit finaliser (MurmurHash3's fmix32): spreads every input bit over the output.
#[inline]
fn mix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// SplitMix64: two independent hashes of a node index.
fn node_hash(node: usize, seed: u64) -> u64 {
    let mut z = (node as u64)
        .wrapping_add(seed)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl NodeTable {
    /// A table over nodes `0..nodes`, all of weight 1.
    pub fn new(nodes: usize) -> Result<Self, SelectError> {
        NodeTable::weighted(&vec![1; nodes])
    }

    /// A table over nodes `0..weights.len()`, node `i` getting a share of flows in
    /// proportion to `weights[i]` (1 to 100).
    pub fn weighted(weights: &[u32]) -> Result<Self, SelectError> {
        let nodes = weights.len();
        if nodes == 0 || nodes > MAX_NODES {
            return Err(SelectError::BadNodeCount(nodes));
        }
        if let Some((node, &weight)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !(1..=100).contains(*w))
        {
            return Err(SelectError::BadWeight { node, weight });
        }
        let m = TABLE_SIZE as u64;
        let prefs: Vec<(u64, u64)> = (0..nodes)
            .map(|n| (node_hash(n, 1) % m, node_hash(n, 2) % (m - 1) + 1))
            .collect();
        let mut next = vec![0u64; nodes];
        let mut slots = vec![u8::MAX; TABLE_SIZE];
        let mut filled = 0;
        'fill: loop {
            for (n, &(offset, skip)) in prefs.iter().enumerate() {
                for _ in 0..weights[n] {
                    let mut slot = ((offset + next[n] * skip) % m) as usize;
                    while slots[slot] != u8::MAX {
                        next[n] += 1;
                        slot = ((offset + next[n] * skip) % m) as usize;
                    }
                    slots[slot] = n as u8;
                    next[n] += 1;
                    filled += 1;
                    if filled == TABLE_SIZE {
                        break 'fill;
                    }
                }
            }
        }
        Ok(NodeTable {
            slots,
            nodes: (0..nodes as u8).collect(),
        })
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The flow's primary node.
    #[inline]
    pub fn primary(&self, hash: u32) -> usize {
        self.slots[mix(hash) as usize % TABLE_SIZE] as usize
    }

    /// The flow's secondary node: never the primary; `None` with a single node.
    #[inline]
    pub fn secondary(&self, hash: u32, primary: usize) -> Option<usize> {
        if self.nodes.len() < 2 {
            return None;
        }
        let mut slot = mix(hash.rotate_left(16) ^ 0x5bd1_e995) as usize % TABLE_SIZE;
        loop {
            let node = self.slots[slot] as usize;
            if node != primary {
                return Some(node);
            }
            slot = (slot + 1) % TABLE_SIZE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_settings_are_refused() {
        assert_eq!(NodeTable::new(0).unwrap_err(), SelectError::BadNodeCount(0));
        assert!(NodeTable::new(256).is_err());
        assert!(NodeTable::new(255).is_ok());
        assert_eq!(NodeTable::new(1).unwrap().secondary(7, 0), None);
        assert!(matches!(
            NodeTable::weighted(&[1, 0]),
            Err(SelectError::BadWeight { node: 1, weight: 0 })
        ));
    }

    fn shares(table: &NodeTable) -> Vec<f64> {
        let mut counts = vec![0usize; table.nodes()];
        for &s in &table.slots {
            counts[s as usize] += 1;
        }
        counts
            .iter()
            .map(|&c| c as f64 / TABLE_SIZE as f64)
            .collect()
    }

    #[test]
    fn slots_follow_the_weights() {
        for nodes in [2, 3, 5, 8] {
            let share = shares(&NodeTable::new(nodes).unwrap());
            for s in share {
                assert!(
                    (s - 1.0 / nodes as f64).abs() < 0.01,
                    "{nodes} nodes: share {s}"
                );
            }
        }
        let share = shares(&NodeTable::weighted(&[1, 2, 1]).unwrap());
        assert!((share[1] - 0.5).abs() < 0.01, "{share:?}");
    }

    #[test]
    fn flows_over_the_16_bits_of_a_symmetric_hash_spread_evenly() {
        let table = NodeTable::new(3).unwrap();
        let mut counts = [0usize; 3];
        for h in 0..65_536u32 {
            // A symmetric Toeplitz hash repeats its low 16 bits in its high 16 bits.
            counts[table.primary(h | (h << 16))] += 1;
        }
        for c in counts {
            assert!((20_000..=23_700).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn adding_or_removing_a_node_moves_about_one_flow_in_n() {
        for nodes in [2usize, 3, 4, 8, 16] {
            let small = NodeTable::new(nodes).unwrap();
            let large = NodeTable::new(nodes + 1).unwrap();
            let moved = (0..TABLE_SIZE)
                .filter(|&s| small.slots[s] != large.slots[s])
                .count();
            let fraction = moved as f64 / TABLE_SIZE as f64;
            let ideal = 1.0 / (nodes + 1) as f64;
            // Maglev moves slightly more than the ideal 1/(N+1).
            assert!(
                fraction <= ideal * 1.25 + 0.01,
                "{nodes}->{}: moved {fraction:.3}, ideal {ideal:.3}",
                nodes + 1
            );
        }
    }

    proptest! {
        #[test]
        fn secondary_is_never_the_primary(nodes in 2usize..=255, hash in any::<u32>()) {
            let table = NodeTable::new(nodes).unwrap();
            let p = table.primary(hash);
            let s = table.secondary(hash, p).unwrap();
            prop_assert!(p < nodes && s < nodes);
            prop_assert_ne!(p, s);
        }
    }
}
