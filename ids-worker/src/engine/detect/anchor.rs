//! A pure-Rust multi-pattern matcher tuned for prefiltering: each pattern is found
//! through a two-byte "anchor" inside it. A scan tests every byte pair of the data
//! against a 64 Ki-bit table of anchors (8 KiB, in L1 cache); only on a hit are the
//! patterns with that anchor compared with the data. One-byte patterns are found
//! through a 256-bit table. Matching ignores ASCII case.
//!
//! Anchors are chosen rare (bytes that are uncommon in traffic) and spread (a pair
//! few other patterns already use), so that the work per byte stays small whatever
//! the data: on the community and ET Open rules, no anchor is shared by more than ten
//! patterns.

use std::collections::HashMap;

use crate::engine::flow::FxBuild;

/// How common a byte is in network payloads (0 rare .. 3 very common).
pub fn commonness(b: u8) -> u32 {
    match b.to_ascii_lowercase() {
        0x00 | 0xff | b' ' => 3,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'0' | b'1' | b'\r' | b'\n' => 2,
        b'h'
        | b'l'
        | b'd'
        | b'c'
        | b'u'
        | b'm'
        | b'/'
        | b'.'
        | b'='
        | b'-'
        | b':'
        | b'2'..=b'9' => 1,
        0x01..=0x08 | 0x20..=0x7e => 1,
        _ => 0,
    }
}

/// Where a scan reports patterns.
pub trait Sink {
    /// Whether pattern `id` still needs checking (false once it was reported).
    fn wanted(&self, id: usize) -> bool;
    /// Pattern `id` occurs.
    fn report(&mut self, id: usize);
}

/// Patterns indexed by their anchors.
#[derive(Debug, Clone)]
pub struct AnchorMatcher {
    /// Bit `a << 8 | b` is set when some pattern is anchored at the pair (a, b)
    /// (lower-cased).
    pairs: Box<[u64]>,
    /// The patterns of each anchor: a range of `entries`.
    buckets: HashMap<u16, (u32, u32), FxBuild>,
    /// (pattern, offset of its anchor in it).
    entries: Vec<(u32, u32)>,
    /// Bit per byte value (lower-cased) of one-byte patterns.
    singles: [u64; 4],
    single_ids: HashMap<u8, Vec<u32>, FxBuild>,
    /// The patterns, lower-cased.
    patterns: Vec<Box<[u8]>>,
}

impl AnchorMatcher {
    /// Indexes `patterns` (pattern id = index); empty patterns never match.
    pub fn new(patterns: &[&[u8]]) -> AnchorMatcher {
        let mut pairs = vec![0u64; 1024].into_boxed_slice();
        let mut by_anchor: HashMap<u16, Vec<(u32, u32)>, FxBuild> = HashMap::default();
        let mut singles = [0u64; 4];
        let mut single_ids: HashMap<u8, Vec<u32>, FxBuild> = HashMap::default();
        let lowered: Vec<Vec<u8>> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
        // Short patterns have the fewest anchors to choose from: they choose first.
        let mut order: Vec<usize> = (0..lowered.len()).collect();
        order.sort_by_key(|&i| lowered[i].len());
        for id in order {
            let p = &lowered[id];
            match p.len() {
                0 => {}
                1 => {
                    singles[usize::from(p[0] >> 6)] |= 1 << (p[0] & 63);
                    single_ids.entry(p[0]).or_default().push(id as u32);
                }
                _ => {
                    // A rare pair, and one few other patterns use: a scan then verifies
                    // few patterns wherever the pair occurs.
                    let key_at = |i: usize| u16::from(p[i]) << 8 | u16::from(p[i + 1]);
                    let cost = |i: usize| {
                        let crowd = by_anchor.get(&key_at(i)).map_or(0, Vec::len) as u32;
                        (commonness(p[i]) + commonness(p[i + 1])) * 4 + crowd
                    };
                    let off = (0..p.len() - 1)
                        .min_by_key(|&i| (cost(i), usize::MAX - i))
                        .unwrap_or(0);
                    let key = key_at(off);
                    pairs[usize::from(key >> 6)] |= 1 << (key & 63);
                    by_anchor
                        .entry(key)
                        .or_default()
                        .push((id as u32, off as u32));
                }
            }
        }
        let lowered: Vec<Box<[u8]>> = lowered.into_iter().map(Vec::into_boxed_slice).collect();
        let mut buckets = HashMap::default();
        let mut entries = Vec::new();
        for (key, list) in by_anchor {
            buckets.insert(key, (entries.len() as u32, list.len() as u32));
            entries.extend(list);
        }
        AnchorMatcher {
            pairs,
            buckets,
            entries,
            singles,
            single_ids,
            patterns: lowered,
        }
    }

    /// Scans `hay`, reporting to `sink` each pattern it still wants that occurs.
    #[inline]
    pub fn scan(&self, hay: &[u8], sink: &mut impl Sink) {
        if self.singles != [0; 4] {
            for &raw in hay {
                let cur = raw.to_ascii_lowercase();
                if self.singles[usize::from(cur >> 6)] & (1 << (cur & 63)) != 0 {
                    for &id in self.single_ids.get(&cur).into_iter().flatten() {
                        if sink.wanted(id as usize) {
                            sink.report(id as usize);
                        }
                    }
                }
            }
        }
        if self.entries.is_empty() || hay.len() < 2 {
            return;
        }
        let pairs = &self.pairs[..1024];
        let mut prev = u16::from(hay[0].to_ascii_lowercase());
        for (i, &raw) in hay.iter().enumerate().skip(1) {
            let cur = u16::from(raw.to_ascii_lowercase());
            let key = prev << 8 | cur;
            if pairs[usize::from(key >> 6)] & (1 << (key & 63)) != 0 {
                self.verify(hay, i - 1, key, sink);
            }
            prev = cur;
        }
    }

    #[cold]
    #[inline(never)]
    fn verify(&self, hay: &[u8], at: usize, key: u16, sink: &mut impl Sink) {
        let Some(&(start, len)) = self.buckets.get(&key) else {
            return;
        };
        let list = &self.entries[start as usize..(start + len) as usize];
        for &(id, off) in list {
            let Some(begin) = at.checked_sub(off as usize) else {
                continue;
            };
            let p = &self.patterns[id as usize];
            if sink.wanted(id as usize)
                && let Some(w) = hay.get(begin..begin + p.len())
                && w.eq_ignore_ascii_case(p)
            {
                sink.report(id as usize);
            }
        }
    }

    /// The most patterns that share one anchor: the most a scan verifies at one
    /// position.
    pub fn max_bucket(&self) -> usize {
        self.buckets
            .values()
            .map(|&(_, n)| n as usize)
            .max()
            .unwrap_or(0)
    }

    /// Bytes of heap used.
    pub fn memory_usage(&self) -> usize {
        self.pairs.len() * 8
            + self.buckets.len() * 16
            + self.entries.len() * 8
            + self.patterns.iter().map(|p| p.len() + 16).sum::<usize>()
            + self
                .single_ids
                .values()
                .map(|v| v.len() * 4 + 24)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Found(Vec<usize>);

    impl Sink for Found {
        fn wanted(&self, id: usize) -> bool {
            !self.0.contains(&id)
        }
        fn report(&mut self, id: usize) {
            self.0.push(id);
        }
    }

    fn found(m: &AnchorMatcher, hay: &[u8]) -> Vec<usize> {
        let mut f = Found(Vec::new());
        m.scan(hay, &mut f);
        f.0.sort();
        f.0
    }

    #[test]
    fn finds_overlapping_patterns_without_case() {
        let pats: Vec<&[u8]> = vec![
            b"GET",
            b"get /",
            b"/etc/passwd",
            b"x",
            b"\x00\x00",
            b"zz",
            b"",
        ];
        let m = AnchorMatcher::new(&pats);
        assert_eq!(found(&m, b"GET /etc/passwd"), vec![0, 1, 2]);
        assert_eq!(found(&m, b"x\x00\x00"), vec![3, 4]);
        assert_eq!(found(&m, b"z"), Vec::<usize>::new());
        assert_eq!(found(&m, b""), Vec::<usize>::new());
    }

    #[test]
    fn anchors_spread_over_shared_text() {
        // Names that share a long common part still get anchors of their own.
        let names: Vec<Vec<u8>> = (0..300)
            .map(|i| format!("\x07example{i:03}\x03com").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).collect();
        let m = AnchorMatcher::new(&refs);
        assert!(m.max_bucket() <= 8, "{}", m.max_bucket());
        assert_eq!(found(&m, b"xx\x07example123\x03com"), vec![123]);
    }

    #[test]
    fn agrees_with_naive_search() {
        let hay: Vec<u8> = (0..2000u32)
            .map(|i| b"abAB\x00 /ET"[(i * 7 + i / 13) as usize % 9])
            .collect();
        let pats: Vec<Vec<u8>> = (0..60u32)
            .map(|i| {
                let s = (i * 31 % 1900) as usize;
                hay[s..s + 1 + (i as usize % 7)].to_vec()
            })
            .chain([b"never".to_vec()])
            .collect();
        let refs: Vec<&[u8]> = pats.iter().map(|p| p.as_slice()).collect();
        let m = AnchorMatcher::new(&refs);
        let got = found(&m, &hay);
        let want: Vec<usize> = (0..pats.len())
            .filter(|&i| {
                hay.windows(pats[i].len())
                    .any(|w| w.eq_ignore_ascii_case(&pats[i]))
            })
            .collect();
        assert_eq!(got, want);
    }
}
