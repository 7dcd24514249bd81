//! Node health as the control plane sees it: which nodes are up.
//!
//! A node that dies marks itself down (as a health check would find it); the
//! duplicator reads the flags once per batch and stops sending to a node that is down
//! (its flows fail over to their duplicates).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Up/down flags of a cluster's nodes, shared by every stage.
#[derive(Debug, Clone)]
pub struct NodeHealth {
    up: Arc<[AtomicBool]>,
}

impl NodeHealth {
    /// `nodes` nodes, all up.
    pub fn new(nodes: usize) -> Self {
        NodeHealth {
            up: (0..nodes).map(|_| AtomicBool::new(true)).collect(),
        }
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.up.len()
    }

    /// Whether node `node` is up (nodes beyond the count are down).
    #[inline]
    pub fn is_up(&self, node: usize) -> bool {
        self.up.get(node).is_some_and(|f| f.load(Ordering::Acquire))
    }

    /// Marks node `node` down for good.
    pub fn mark_down(&self, node: usize) {
        if let Some(f) = self.up.get(node) {
            f.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_is_seen_by_every_clone() {
        let h = NodeHealth::new(2);
        let seen = h.clone();
        assert!(seen.is_up(1));
        h.mark_down(1);
        assert!(!seen.is_up(1));
        assert!(seen.is_up(0));
        assert!(!seen.is_up(5));
    }
}
