//! The Hyperscan backend of the prefilter (cargo feature `hyperscan`; needs Debian's
//! `libhyperscan-dev`).
//!
//! Each fast pattern becomes a Hyperscan expression of escaped bytes, case-insensitive
//! and reported once per scan. A database is immutable and shared; the scratch space a
//! scan needs belongs to the engine instance ([`super::prefilter::MatchScratch`]).

use hyperscan::prelude::*;
use hyperscan::{Pattern, PatternFlags, Patterns};

use crate::engine::rules::ParseError;

/// A compiled Hyperscan block-mode database.
pub struct HsMatcher {
    db: BlockDatabase,
    size: usize,
}

impl HsMatcher {
    /// Compiles `patterns` (pattern id = index).
    pub fn new(patterns: &[&[u8]]) -> Result<HsMatcher, ParseError> {
        let list: Patterns = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| Pattern {
                expression: escape(p),
                flags: PatternFlags::CASELESS | PatternFlags::SINGLEMATCH,
                id: Some(i),
                ext: Default::default(),
                som: None,
            })
            .collect();
        let db: BlockDatabase = list
            .build()
            .map_err(|e| ParseError::new(format!("hyperscan: {e}")))?;
        let size = db.size().unwrap_or(0);
        Ok(HsMatcher { db, size })
    }

    /// Makes `scratch` large enough for this database.
    pub fn prepare(&self, scratch: &mut Option<Scratch>) -> Result<(), ParseError> {
        let err = |e: hyperscan::Error| ParseError::new(format!("hyperscan scratch: {e}"));
        match scratch {
            Some(s) => {
                self.db.realloc_scratch(s).map_err(err)?;
            }
            None => *scratch = Some(self.db.alloc_scratch().map_err(err)?),
        }
        Ok(())
    }

    /// Scans `hay`, reporting each pattern found (once).
    pub fn scan(&self, hay: &[u8], scratch: Option<&Scratch>, report: &mut impl FnMut(usize)) {
        let Some(scratch) = scratch else {
            return;
        };
        let _ = self.db.scan(
            hay,
            scratch,
            |id: u32, _from: u64, _to: u64, _flags: u32| {
                report(id as usize);
                Matching::Continue
            },
        );
    }

    /// Bytes of the compiled database.
    pub fn memory_usage(&self) -> usize {
        self.size
    }
}

/// `bytes` as a Hyperscan expression matching them literally.
fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 4);
    for b in bytes {
        s.push_str(&format!("\\x{b:02x}"));
    }
    s
}
