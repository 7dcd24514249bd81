//! Active purge at a node: jobs whose other copy was delivered, and the duplicate-queue
//! policies.

use dataplane::completion::{Completion, CompletionReceiver};
use dataplane::meta::JobMeta;
use dataplane::window::{JobWindow, Seen};

/// What a node's bounded duplicate queue does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DuplicatePolicy {
    /// A full queue refuses new duplicates.
    DropTail,
    /// A full queue evicts its oldest duplicates for new ones.
    #[default]
    DropOldest,
    /// Drop-oldest, and duplicates whose job was already delivered by the other copy
    /// are removed before inspection (completion notices from dedup).
    Purge,
    /// Never drops: a full queue makes the duplicator wait, as for primaries (cloning
    /// with priority but without purging).
    Lossless,
}

impl DuplicatePolicy {
    /// The policy's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DuplicatePolicy::DropTail => "drop-tail",
            DuplicatePolicy::DropOldest => "drop-oldest",
            DuplicatePolicy::Purge => "purge",
            DuplicatePolicy::Lossless => "lossless",
        }
    }
}

impl std::str::FromStr for DuplicatePolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            DuplicatePolicy::DropTail,
            DuplicatePolicy::DropOldest,
            DuplicatePolicy::Purge,
            DuplicatePolicy::Lossless,
        ]
        .into_iter()
        .find(|p| p.name() == s)
        .ok_or_else(|| {
            format!(
                "unknown duplicate policy {s:?}: expected drop-tail, drop-oldest, purge or lossless"
            )
        })
    }
}

/// The jobs a node learnt were delivered, per duplicator, over a bounded window.
pub struct PurgeSet {
    notices: CompletionReceiver,
    windows: Vec<Option<JobWindow>>,
    window: usize,
}

impl std::fmt::Debug for PurgeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurgeSet")
            .field("window", &self.window)
            .finish()
    }
}

impl PurgeSet {
    /// A set fed by `notices`, remembering the last `window` job ids of each duplicator
    /// (a power of two, at least 64).
    pub fn new(
        notices: CompletionReceiver,
        window: usize,
    ) -> Result<Self, dataplane::window::WindowError> {
        JobWindow::new(window)?;
        Ok(PurgeSet {
            notices,
            windows: vec![None; 256],
            window,
        })
    }

    /// Takes in the notices that arrived (the D-Stage `purge(job ids)`); returns how many.
    pub fn update(&mut self) -> usize {
        let (windows, window) = (&mut self.windows, self.window);
        self.notices.drain(|Completion { duplicator, job }| {
            windows[duplicator as usize]
                .get_or_insert_with(|| JobWindow::new(window).expect("size checked in new"))
                .observe(job);
        })
    }

    /// Whether the copy described by `meta` is useless: its job was delivered by the
    /// other copy. A node holds one copy of a job at most, so whichever copy this is,
    /// the notice was about it: the secondary instance purges duplicates with it, the
    /// primary instance (where the node purges late primaries) primaries.
    #[inline]
    pub fn is_purged(&self, meta: &JobMeta) -> bool {
        self.windows[meta.duplicator as usize]
            .as_ref()
            .is_some_and(|w| w.check(meta.job.0) == Seen::Repeat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::completion::completion_channel;
    use dataplane::meta::{CopyKind, JobId, Priority};

    fn meta(job: u64, kind: CopyKind) -> JobMeta {
        JobMeta {
            job: JobId(job),
            kind,
            priority: Priority::Low,
            ingress_ns: 0,
            duplicator: 2,
            peer: Some(0),
        }
    }

    #[test]
    fn only_notified_jobs_of_their_duplicator_are_purged() {
        let (mut tx, rx) = completion_channel(16);
        let mut set = PurgeSet::new(rx, 64).unwrap();
        tx.send(&[
            Completion {
                duplicator: 2,
                job: 7,
            },
            Completion {
                duplicator: 3,
                job: 8,
            },
        ]);
        assert!(
            !set.is_purged(&meta(7, CopyKind::Duplicate)),
            "not yet taken in"
        );
        assert_eq!(set.update(), 2);
        assert!(set.is_purged(&meta(7, CopyKind::Duplicate)));
        assert!(set.is_purged(&meta(7, CopyKind::Primary)), "a late primary");
        assert!(
            !set.is_purged(&meta(8, CopyKind::Duplicate)),
            "other duplicator's job 8"
        );
        assert!(!set.is_purged(&meta(6, CopyKind::Duplicate)));
    }

    #[test]
    fn policies_parse_by_name() {
        for p in [
            DuplicatePolicy::DropTail,
            DuplicatePolicy::DropOldest,
            DuplicatePolicy::Purge,
            DuplicatePolicy::Lossless,
        ] {
            assert_eq!(p.name().parse::<DuplicatePolicy>().unwrap(), p);
        }
        assert!(
            "oldest"
                .parse::<DuplicatePolicy>()
                .unwrap_err()
                .contains("drop-oldest")
        );
    }
}
