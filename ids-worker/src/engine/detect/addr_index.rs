//! An index from addresses to the rules whose address lists contain them, so that
//! rules without a fast pattern but with long address lists (IP reputation rules) are
//! only evaluated for packets from or to their addresses.

use crate::engine::flow::Addr;
use crate::engine::rules::addr::AddrSpec;

/// Elementary segments over one address family: `starts[i]..starts[i+1]` is covered
/// by the rules `rules[offsets[i]..offsets[i+1]]`.
#[derive(Debug, Clone, Default)]
struct Segments<T> {
    starts: Vec<T>,
    offsets: Vec<u32>,
    rules: Vec<u32>,
}

impl<T: Ord + Copy + Bound> Segments<T> {
    fn build(mut intervals: Vec<(T, T, u32)>) -> Self {
        if intervals.is_empty() {
            return Segments {
                starts: Vec::new(),
                offsets: vec![0],
                rules: Vec::new(),
            };
        }
        // Boundaries: every interval start and every end + 1.
        let mut points: Vec<T> = Vec::with_capacity(intervals.len() * 2);
        for &(lo, hi, _) in &intervals {
            points.push(lo);
            if let Some(n) = hi.next() {
                points.push(n);
            }
        }
        points.sort_unstable();
        points.dedup();
        intervals.sort_unstable_by_key(|i| i.0);
        let mut offsets = Vec::with_capacity(points.len() + 1);
        let mut rules = Vec::new();
        let mut active: Vec<(T, u32)> = Vec::new();
        let mut next = 0usize;
        for &p in &points {
            active.retain(|&(hi, _)| hi >= p);
            while next < intervals.len() && intervals[next].0 <= p {
                let (_, hi, r) = intervals[next];
                if hi >= p {
                    active.push((hi, r));
                }
                next += 1;
            }
            offsets.push(rules.len() as u32);
            let mut ids: Vec<u32> = active.iter().map(|&(_, r)| r).collect();
            ids.sort_unstable();
            ids.dedup();
            rules.extend(ids);
        }
        offsets.push(rules.len() as u32);
        Segments {
            starts: points,
            offsets,
            rules,
        }
    }

    fn lookup(&self, x: T) -> &[u32] {
        let i = match self.starts.binary_search(&x) {
            Ok(i) => i,
            Err(0) => return &[],
            Err(i) => i - 1,
        };
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        &self.rules[a..b]
    }
}

trait Bound: Sized {
    fn next(self) -> Option<Self>;
}

impl Bound for u32 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Bound for u128 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
}

/// Rules indexed by the addresses of one header field.
#[derive(Debug, Clone, Default)]
pub struct AddrIndex {
    v4: Segments<u32>,
    v6: Segments<u128>,
    count: usize,
}

impl AddrIndex {
    /// Indexes `rules`: (rule id, the address spec to index it by).
    pub fn build<'a>(rules: impl IntoIterator<Item = (u32, &'a AddrSpec)>) -> AddrIndex {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut count = 0;
        for (id, spec) in rules {
            if let AddrSpec::Set(set) = spec {
                count += 1;
                for &(lo, hi) in set.v4_ranges() {
                    v4.push((lo, hi, id));
                }
                for &(lo, hi) in set.v6_ranges() {
                    v6.push((lo, hi, id));
                }
            }
        }
        AddrIndex {
            v4: Segments::build(v4),
            v6: Segments::build(v6),
            count,
        }
    }

    /// The rules whose addresses contain `a`.
    pub fn lookup(&self, a: Addr) -> &[u32] {
        match a {
            Addr::V4(v) => self.v4.lookup(u32::from_be_bytes(v)),
            Addr::V6(v) => self.v6.lookup(u128::from_be_bytes(v)),
        }
    }

    /// How many rules are indexed.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no rule is indexed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of heap used.
    pub fn memory_usage(&self) -> usize {
        self.v4.starts.len() * 4
            + self.v6.starts.len() * 16
            + (self.v4.offsets.len()
                + self.v6.offsets.len()
                + self.v4.rules.len()
                + self.v6.rules.len())
                * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rules::vars::Variables;

    #[test]
    fn stabbing_queries() {
        let v = Variables::default();
        let a = AddrSpec::parse("[10.0.0.0/8,192.168.1.1]", &v).unwrap();
        let b = AddrSpec::parse("10.1.0.0/16", &v).unwrap();
        let c = AddrSpec::parse("any", &v).unwrap();
        let idx = AddrIndex::build([(1, &a), (2, &b), (3, &c)]);
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.lookup(Addr::V4([10, 1, 2, 3])), &[1, 2]);
        assert_eq!(idx.lookup(Addr::V4([10, 2, 2, 3])), &[1]);
        assert_eq!(idx.lookup(Addr::V4([192, 168, 1, 1])), &[1]);
        assert!(idx.lookup(Addr::V4([192, 168, 1, 2])).is_empty());
        assert!(idx.lookup(Addr::V4([9, 255, 255, 255])).is_empty());
        assert!(idx.lookup(Addr::V6([0; 16])).is_empty());
        let all = AddrSpec::parse("!1.2.3.4", &v).unwrap();
        let idx = AddrIndex::build([(7, &all)]);
        assert_eq!(idx.lookup(Addr::V4([255, 255, 255, 255])), &[7]);
        assert_eq!(idx.lookup(Addr::V6([0xff; 16])), &[7]);
        assert!(idx.lookup(Addr::V4([1, 2, 3, 4])).is_empty());
    }
}
