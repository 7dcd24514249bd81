//! A sliding window over job ids: which of the most recent ids were seen.
//!
//! Like IPsec's anti-replay window: the window remembers, one bit per id, which of the
//! `size` most recent ids (counting back from the highest id seen) were marked. An id
//! above the highest moves the window forward; an id inside it was seen if its bit is
//! set; an id below it is *late*: its bit is gone, so whether it was seen is unknown.
//! Memory is `size / 8` bytes, fixed at creation.
//!
//! Dedup uses it to decide which copy of a job is the first (a late copy is never
//! forwarded: no double delivery, and the loss is counted); a node uses it to remember
//! which jobs were completed by their other copy (a late duplicate is inspected, since
//! nothing says it is useless).

/// What the window says about one copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first copy of this job: forward it.
    First,
    /// A later copy of a job already forwarded.
    Repeat,
    /// Older than the window: cannot tell, so never forward.
    Late,
}

/// Errors from window settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The size is not a power of two of at least 64.
    #[error("dedup window of {0} jobs: must be a power of two, at least 64")]
    BadSize(usize),
}

/// A window over the `size` most recent job ids of one duplicator.
#[derive(Debug, Clone)]
pub struct JobWindow {
    bits: Vec<u64>,
    mask: u64,
    size: u64,
    /// Highest id seen; `None` before the first id.
    top: Option<u64>,
}

impl JobWindow {
    /// A window remembering `size` ids (a power of two, at least 64).
    pub fn new(size: usize) -> Result<Self, WindowError> {
        if size < 64 || !size.is_power_of_two() {
            return Err(WindowError::BadSize(size));
        }
        Ok(JobWindow {
            bits: vec![0; size / 64],
            mask: size as u64 - 1,
            size: size as u64,
            top: None,
        })
    }

    /// Number of ids remembered.
    pub fn size(&self) -> usize {
        self.size as usize
    }

    /// Bytes of memory the window uses for its bits.
    pub fn memory_bytes(&self) -> usize {
        self.bits.len() * 8
    }

    /// Whether `id` was marked (`Late` when it is older than the window), without
    /// marking it.
    #[inline]
    pub fn check(&self, id: u64) -> Seen {
        let Some(top) = self.top else {
            return Seen::First;
        };
        if id > top {
            return Seen::First;
        }
        if top - id >= self.size {
            return Seen::Late;
        }
        let slot = id & self.mask;
        if self.bits[(slot / 64) as usize] & (1u64 << (slot % 64)) != 0 {
            Seen::Repeat
        } else {
            Seen::First
        }
    }

    /// Classifies `id` and remembers it.
    #[inline]
    pub fn observe(&mut self, id: u64) -> Seen {
        let top = match self.top {
            None => {
                self.top = Some(id);
                self.set(id);
                return Seen::First;
            }
            Some(top) => top,
        };
        if id > top {
            self.advance(top, id);
            self.top = Some(id);
            self.set(id);
            return Seen::First;
        }
        if top - id >= self.size {
            return Seen::Late;
        }
        if self.test_and_set(id) {
            Seen::Repeat
        } else {
            Seen::First
        }
    }

    /// Forgets the ids that fall out when the top moves from `old` to `new`: their slots
    /// are reused by ids `old + 1 ..= new`.
    fn advance(&mut self, old: u64, new: u64) {
        let gap = new - old;
        if gap >= self.size {
            self.bits.fill(0);
            return;
        }
        // `id` is the last id already cleared; stepping this way never overflows.
        let mut id = old;
        while id < new {
            let next = id + 1;
            let slot = next & self.mask;
            if slot % 64 == 0 && new - next >= 63 {
                self.bits[(slot / 64) as usize] = 0;
                id = next + 63;
            } else {
                self.bits[(slot / 64) as usize] &= !(1u64 << (slot % 64));
                id = next;
            }
        }
    }

    #[inline]
    fn set(&mut self, id: u64) {
        let slot = id & self.mask;
        self.bits[(slot / 64) as usize] |= 1u64 << (slot % 64);
    }

    #[inline]
    fn test_and_set(&mut self, id: u64) -> bool {
        let slot = id & self.mask;
        let word = &mut self.bits[(slot / 64) as usize];
        let bit = 1u64 << (slot % 64);
        let was = *word & bit != 0;
        *word |= bit;
        was
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn sizes_must_be_powers_of_two() {
        assert_eq!(JobWindow::new(100).unwrap_err(), WindowError::BadSize(100));
        assert!(JobWindow::new(32).is_err());
        assert_eq!(JobWindow::new(1024).unwrap().memory_bytes(), 128);
    }

    #[test]
    fn first_repeat_and_late() {
        let mut w = JobWindow::new(64).unwrap();
        assert_eq!(w.observe(10), Seen::First);
        assert_eq!(w.observe(10), Seen::Repeat);
        // Below the first id but inside the window: still a first copy.
        assert_eq!(w.observe(3), Seen::First);
        assert_eq!(w.observe(3), Seen::Repeat);
        assert_eq!(w.observe(100), Seen::First);
        // 100 - 36 = 64: just out of the window.
        assert_eq!(w.observe(36), Seen::Late);
        assert_eq!(w.observe(37), Seen::First);
        assert_eq!(w.observe(37), Seen::Repeat);
    }

    #[test]
    fn slots_reused_after_wrap_around_are_cleared() {
        let mut w = JobWindow::new(64).unwrap();
        for id in 0..64 {
            assert_eq!(w.observe(id), Seen::First);
        }
        // 64 reuses slot 0, which held id 0; id 64 is new.
        assert_eq!(w.observe(64), Seen::First);
        assert_eq!(w.observe(0), Seen::Late);
        // Jump far ahead: the whole window is cleared.
        assert_eq!(w.observe(10_000), Seen::First);
        assert_eq!(w.observe(9_999), Seen::First);
        assert_eq!(w.observe(10_000 - 64), Seen::Late);
        // Jump by a bit more than a word, from a slot that is not word aligned.
        assert_eq!(w.observe(10_000 + 70), Seen::First);
        for id in 10_000 + 7..10_000 + 70 {
            assert_eq!(w.observe(id), Seen::First, "id {id}");
        }
    }

    #[test]
    fn check_reports_without_marking() {
        let mut w = JobWindow::new(64).unwrap();
        assert_eq!(w.check(5), Seen::First);
        assert_eq!(w.observe(5), Seen::First);
        assert_eq!(w.check(5), Seen::Repeat);
        assert_eq!(w.check(6), Seen::First);
        assert_eq!(w.check(6), Seen::First);
        assert_eq!(w.observe(200), Seen::First);
        assert_eq!(w.check(5), Seen::Late);
        assert_eq!(w.check(199), Seen::First);
    }

    #[test]
    fn ids_near_u64_max_do_not_overflow() {
        let mut w = JobWindow::new(64).unwrap();
        assert_eq!(w.observe(u64::MAX - 1), Seen::First);
        assert_eq!(w.observe(u64::MAX), Seen::First);
        assert_eq!(w.observe(u64::MAX), Seen::Repeat);
        assert_eq!(w.observe(0), Seen::Late);
    }

    proptest! {
        /// Against a model that remembers everything: the window never forwards a job
        /// twice, and forwards every first copy that is not older than the window.
        #[test]
        fn never_twice_and_never_misses_a_recent_first_copy(
            ids in proptest::collection::vec(0u64..400, 1..600),
        ) {
            let mut w = JobWindow::new(128).unwrap();
            let mut forwarded = HashSet::new();
            let mut top: Option<u64> = None;
            for id in ids {
                let seen = w.observe(id);
                let recent = top.is_none_or(|t| id + 128 > t);
                match seen {
                    Seen::First => prop_assert!(forwarded.insert(id), "{} forwarded twice", id),
                    Seen::Repeat => prop_assert!(forwarded.contains(&id)),
                    Seen::Late => prop_assert!(!recent),
                }
                top = Some(top.map_or(id, |t| t.max(id)));
            }
        }
    }
}
