//! The multi-pattern prefilter: one scan of a buffer finds every rule whose fast
//! pattern occurs in it. Patterns are matched without regard to ASCII case (rules that
//! need exact case are checked again in full evaluation), as Snort's matchers do.
//!
//! Three backends: [`Backend::Anchor`] (the default, pure Rust, [`AnchorMatcher`]),
//! [`Backend::AhoCorasick`] (the pure-Rust `aho-corasick` crate) and, with the cargo
//! feature `hyperscan`, [`Backend::Hyperscan`] (Intel's Hyperscan library).

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::anchor::{AnchorMatcher, Sink, commonness};
use crate::engine::rules::ParseError;

/// The pattern matcher behind a prefilter.
///
/// The default is [`Backend::Anchor`]: pure Rust like Aho-Corasick, but about twice
/// as fast on the community and ET rules with less memory (`docs/PERF.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Aho-Corasick automata (`aho-corasick` crate).
    AhoCorasick,
    /// Two-byte anchors ([`AnchorMatcher`], pure Rust).
    #[default]
    Anchor,
    /// Hyperscan (cargo feature `hyperscan`).
    Hyperscan,
}

impl Backend {
    /// The backend's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::AhoCorasick => "aho-corasick",
            Backend::Anchor => "anchor",
            Backend::Hyperscan => "hyperscan",
        }
    }

    /// Whether this build can use the backend.
    pub fn available(self) -> bool {
        match self {
            Backend::AhoCorasick | Backend::Anchor => true,
            Backend::Hyperscan => cfg!(feature = "hyperscan"),
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ac" | "aho-corasick" | "aho_corasick" => Ok(Backend::AhoCorasick),
            "anchor" => Ok(Backend::Anchor),
            "hs" | "hyperscan" => Ok(Backend::Hyperscan),
            _ => Err(format!("unknown matcher {s:?} (aho-corasick or hyperscan)")),
        }
    }
}

/// Per-instance scratch space the matchers need while scanning (Hyperscan's
/// scratch; nothing for Aho-Corasick).
#[derive(Default)]
pub struct MatchScratch {
    #[cfg(feature = "hyperscan")]
    hs: Option<hyperscan::Scratch>,
}

impl std::fmt::Debug for MatchScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchScratch").finish_non_exhaustive()
    }
}

enum Matcher {
    Ac(AhoCorasick),
    Anchor(AnchorMatcher),
    #[cfg(feature = "hyperscan")]
    Hs(super::hyperscan::HsMatcher),
}

/// A compiled set of fast patterns, each with the rules that use it.
pub struct Prefilter {
    matcher: Matcher,
    /// For each pattern id: its global id (for de-duplication across one scan) and the
    /// rules that own it.
    owners: Vec<(u32, Box<[u32]>)>,
}

impl std::fmt::Debug for Prefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefilter")
            .field("patterns", &self.owners.len())
            .finish()
    }
}

/// The longest pattern a prefilter searches for: longer fast patterns are searched
/// by their rarest window of this many bytes (the rule's evaluation checks the whole
/// content), which keeps the automata small.
pub const MAX_WINDOW: usize = 8;

/// The part of `pattern` a prefilter searches for: the whole pattern, or its
/// [`MAX_WINDOW`]-byte window of rarest bytes.
pub fn window(pattern: &[u8]) -> &[u8] {
    if pattern.len() <= MAX_WINDOW {
        return pattern;
    }
    let mut best = 0usize;
    let mut best_score = u32::MAX;
    let mut score: u32 = pattern[..MAX_WINDOW].iter().map(|&b| commonness(b)).sum();
    for start in 0..=pattern.len() - MAX_WINDOW {
        if start > 0 {
            score = score - commonness(pattern[start - 1])
                + commonness(pattern[start + MAX_WINDOW - 1]);
        }
        if score < best_score {
            best_score = score;
            best = start;
        }
    }
    &pattern[best..best + MAX_WINDOW]
}

/// Collects patterns for one prefilter.
#[derive(Debug, Default)]
pub struct PrefilterBuilder {
    index: HashMap<Vec<u8>, usize>,
    patterns: Vec<(Vec<u8>, Vec<u32>)>,
}

impl PrefilterBuilder {
    /// Adds rule `rule`'s fast pattern.
    pub fn add(&mut self, pattern: &[u8], rule: u32) {
        let key = window(pattern).to_ascii_lowercase();
        match self.index.get(&key) {
            Some(&i) => {
                let owners = &mut self.patterns[i].1;
                if owners.last() != Some(&rule) {
                    owners.push(rule);
                }
            }
            None => {
                self.index.insert(key.clone(), self.patterns.len());
                self.patterns.push((key, vec![rule]));
            }
        }
    }

    /// Whether no pattern was added.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Compiles the patterns; `next_global` numbers patterns across prefilters.
    pub fn build(self, backend: Backend, next_global: &mut u32) -> Result<Prefilter, ParseError> {
        let pats: Vec<&[u8]> = self.patterns.iter().map(|(p, _)| p.as_slice()).collect();
        let matcher = match backend {
            Backend::AhoCorasick => {
                // A DFA is the fastest automaton but its size grows with the patterns':
                // small groups get one, the others a contiguous NFA.
                let kind = if pats.len() <= 64 {
                    AhoCorasickKind::DFA
                } else {
                    AhoCorasickKind::ContiguousNFA
                };
                Matcher::Ac(
                    AhoCorasick::builder()
                        .ascii_case_insensitive(true)
                        .match_kind(MatchKind::Standard)
                        .kind(Some(kind))
                        .build(&pats)
                        .map_err(|e| ParseError::new(format!("prefilter: {e}")))?,
                )
            }
            Backend::Anchor => Matcher::Anchor(AnchorMatcher::new(&pats)),
            #[cfg(feature = "hyperscan")]
            Backend::Hyperscan => Matcher::Hs(super::hyperscan::HsMatcher::new(&pats)?),
            #[cfg(not(feature = "hyperscan"))]
            Backend::Hyperscan => {
                return Err(ParseError::new(
                    "this build has no Hyperscan (build with --features hyperscan)",
                ));
            }
        };
        let owners = self
            .patterns
            .into_iter()
            .map(|(_, rules)| {
                let g = *next_global;
                *next_global += 1;
                (g, rules.into_boxed_slice())
            })
            .collect();
        Ok(Prefilter { matcher, owners })
    }
}

/// Reports each pattern's rules once per pass.
struct Reporter<'a, F> {
    owners: &'a [(u32, Box<[u32]>)],
    seen: &'a mut [u32],
    stamp: u32,
    hit: &'a mut F,
}

impl<F: FnMut(u32)> Sink for Reporter<'_, F> {
    #[inline]
    fn wanted(&self, pattern: usize) -> bool {
        self.owners
            .get(pattern)
            .and_then(|(g, _)| self.seen.get(*g as usize))
            .is_some_and(|s| *s != self.stamp)
    }

    #[inline]
    fn report(&mut self, pattern: usize) {
        if let Some((g, rules)) = self.owners.get(pattern)
            && let Some(s) = self.seen.get_mut(*g as usize)
            && *s != self.stamp
        {
            *s = self.stamp;
            for &r in rules.iter() {
                (self.hit)(r);
            }
        }
    }
}

impl Prefilter {
    /// Makes `scratch` ready for scans with this prefilter.
    pub fn prepare(&self, scratch: &mut MatchScratch) -> Result<(), ParseError> {
        match &self.matcher {
            Matcher::Ac(_) | Matcher::Anchor(_) => {
                let _ = scratch;
                Ok(())
            }
            #[cfg(feature = "hyperscan")]
            Matcher::Hs(hs) => hs.prepare(&mut scratch.hs),
        }
    }

    /// Scans `hay` and calls `hit` for each rule owning a pattern found, once per
    /// pattern: `seen[global id] == stamp` marks patterns already reported in this
    /// pass (`seen` must cover every global id).
    #[inline]
    pub fn scan(
        &self,
        hay: &[u8],
        scratch: &MatchScratch,
        seen: &mut [u32],
        stamp: u32,
        hit: &mut impl FnMut(u32),
    ) {
        let mut report = |pattern: usize| {
            if let Some((g, rules)) = self.owners.get(pattern)
                && let Some(s) = seen.get_mut(*g as usize)
                && *s != stamp
            {
                *s = stamp;
                for &r in rules.iter() {
                    hit(r);
                }
            }
        };
        match &self.matcher {
            Matcher::Ac(ac) => {
                for m in ac.find_overlapping_iter(hay) {
                    report(m.pattern().as_usize());
                }
            }
            Matcher::Anchor(m) => {
                let mut sink = Reporter {
                    owners: &self.owners,
                    seen,
                    stamp,
                    hit,
                };
                m.scan(hay, &mut sink);
            }
            #[cfg(feature = "hyperscan")]
            Matcher::Hs(hs) => hs.scan(hay, scratch.hs.as_ref(), &mut report),
        }
        #[cfg(not(feature = "hyperscan"))]
        let _ = scratch;
    }

    /// How many distinct patterns the prefilter holds.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// Whether the prefilter holds no pattern.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Bytes of heap the matcher uses.
    pub fn memory_usage(&self) -> usize {
        let owners: usize = self.owners.iter().map(|(_, r)| 16 + r.len() * 4).sum();
        owners
            + match &self.matcher {
                Matcher::Ac(ac) => ac.memory_usage(),
                Matcher::Anchor(m) => m.memory_usage(),
                #[cfg(feature = "hyperscan")]
                Matcher::Hs(hs) => hs.memory_usage(),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_pattern_once_without_case() {
        finds_each_pattern_once(Backend::AhoCorasick);
    }

    #[cfg(feature = "hyperscan")]
    #[test]
    fn hyperscan_finds_each_pattern_once_without_case() {
        finds_each_pattern_once(Backend::Hyperscan);
    }

    #[cfg(not(feature = "hyperscan"))]
    #[test]
    fn hyperscan_is_refused_without_the_feature() {
        let mut b = PrefilterBuilder::default();
        b.add(b"x", 0);
        assert!(!Backend::Hyperscan.available());
        assert!(b.build(Backend::Hyperscan, &mut 0).is_err());
    }

    fn finds_each_pattern_once(backend: Backend) {
        let mut b = PrefilterBuilder::default();
        b.add(b"GET", 1);
        b.add(b"get", 2);
        b.add(b"/etc/passwd", 3);
        b.add(b"zz", 4);
        let mut next = 0;
        let p = b.build(backend, &mut next).unwrap();
        assert_eq!(p.len(), 3);
        let mut ms = MatchScratch::default();
        p.prepare(&mut ms).unwrap();
        let mut seen = vec![0u32; next as usize];
        let mut hits = Vec::new();
        p.scan(b"get /etc/passwd GET", &ms, &mut seen, 1, &mut |r| {
            hits.push(r)
        });
        hits.sort();
        assert_eq!(hits, vec![1, 2, 3]);
        hits.clear();
        p.scan(b"get", &ms, &mut seen, 1, &mut |r| hits.push(r));
        assert!(hits.is_empty(), "already reported with this stamp");
        p.scan(b"get", &ms, &mut seen, 2, &mut |r| hits.push(r));
        assert_eq!(hits.len(), 2);
    }
}
