//! A fixed, independent CPU capacity per node, with the cgroup v1 `cpu` controller.
//!
//! A machine with fewer cores than nodes cannot pin each node to its own core. Instead
//! each node gets a child cgroup of the `cpu` controller whose bandwidth limits hold
//! the node's threads to a fraction of one core: `cpu.cfs_quota_us` / `cpu.cfs_period_us`
//! for time-sharing threads (SCHED_OTHER, SCHED_IDLE) and `cpu.rt_runtime_us` /
//! `cpu.rt_period_us` for SCHED_FIFO threads. A straggler's background task joins the
//! same cgroup, so it eats into its own node's share and nobody else's. Needs the cgroup
//! v1 `cpu` controller mounted at `/sys/fs/cgroup/cpu` and write access to it (root).
//! The cgroup is removed when the [`NodeCgroup`] is dropped, after its threads ended.

use std::path::{Path, PathBuf};

/// Where the cgroup v1 `cpu` controller is mounted.
pub const CPU_CGROUP_ROOT: &str = "/sys/fs/cgroup/cpu";

/// CFS bandwidth period, in µs: a tenth of the kernel's default. The quota is spent
/// by whatever runs first in a period: when a node's duplicates use the cycles its
/// primaries leave idle early in a period, primaries arriving later in it find the
/// quota spent and wait for the next period. With the default 100 ms that wait (up to
/// 60 ms at 0.4 of a core) holds more primaries than a node queue of 1,024 packets at
/// 30 k packets/s, and they are dropped; with 10 ms it holds about 200, which the queue
/// absorbs. Fractions below 0.1 get a longer period, so that the quota stays at the
/// kernel's minimum of 1 ms or more.
const CFS_PERIOD_US: u64 = 10_000;
/// The smallest CFS quota the kernel takes, in µs.
const CFS_MIN_QUOTA_US: u64 = 1_000;
/// Real-time bandwidth period, in µs: a hundredth of the kernel's default, for the
/// reason the CFS period is short. An `os` node's SCHED_FIFO primary that used its
/// runtime (0.38 s of every second at 0.4 of a core) stalled for the rest of the second,
/// which a node queue cannot bridge: in the Fig. 9a experiment in `os` mode the cluster
/// then measured 55 k packets/s and single-copy delivered 66 % of the offered 90 %;
/// with 10 ms, 99 k packets/s and 100 %.
const RT_PERIOD_US: u64 = 10_000;

/// Errors setting up a node's CPU capacity.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    /// The fraction is not in (0, 1].
    #[error("CPU capacity {0} is not a fraction of a core in (0, 1]")]
    BadFraction(f64),
    /// No cgroup v1 cpu controller.
    #[error(
        "per-node CPU capacity needs the cgroup v1 cpu controller at {CPU_CGROUP_ROOT}, \
         which this machine lacks (cgroup v2 thread-level limits are not supported)"
    )]
    NoController,
    /// The real-time bandwidth of the parent cgroup cannot cover another node.
    #[error(
        "no real-time bandwidth left for another node at {fraction} of a core: the nodes' \
         shares must add up to at most 95 % of a core (the kernel's real-time limit)"
    )]
    RealtimeBudget {
        /// The share asked for.
        fraction: f64,
    },
    /// A cgroup file could not be written.
    #[error("cannot set up the cgroup at {path}: {source} (per-node CPU capacity needs root)")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// The cgroup of one node.
#[derive(Debug)]
pub struct NodeCgroup {
    dir: PathBuf,
    fraction: f64,
}

impl NodeCgroup {
    /// Creates the cgroup of `node` (named after the process and the node) holding its
    /// threads to `fraction` of one core; with `realtime`, SCHED_FIFO threads (an `os`
    /// node's primary, its stragglers) get the same share of real-time bandwidth.
    /// Empty cgroups left by das processes that no longer exist are removed first.
    pub fn create(node: usize, fraction: f64, realtime: bool) -> Result<Self, CapacityError> {
        Self::create_named(&format!("node{node}"), fraction, realtime)
    }

    /// Creates the cgroup `das-PID-NAME`: see [`NodeCgroup::create`].
    fn create_named(name: &str, fraction: f64, realtime: bool) -> Result<Self, CapacityError> {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(CapacityError::BadFraction(fraction));
        }
        let root = Path::new(CPU_CGROUP_ROOT);
        if !root.join("cpu.cfs_quota_us").exists() {
            return Err(CapacityError::NoController);
        }
        remove_stale(root);
        let dir = root.join(format!("das-{}-{name}", std::process::id()));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CapacityError::Io { path, source }
        };
        if !dir.exists() {
            std::fs::create_dir(&dir).map_err(io(&dir))?;
        }
        let cgroup = NodeCgroup { dir, fraction };
        let period = CFS_PERIOD_US.max((CFS_MIN_QUOTA_US as f64 / fraction).ceil() as u64);
        let quota = (fraction * period as f64).round() as u64;
        let rt_runtime = if realtime {
            (fraction * RT_PERIOD_US as f64 * 0.95).round() as u64
        } else {
            0
        };
        for (file, value) in [
            ("cpu.cfs_period_us", period),
            ("cpu.cfs_quota_us", quota.max(CFS_MIN_QUOTA_US)),
            ("cpu.rt_period_us", RT_PERIOD_US),
            ("cpu.rt_runtime_us", rt_runtime),
        ] {
            let path = cgroup.dir.join(file);
            // The kernel frees the real-time bandwidth of a removed cgroup only once the
            // cgroup is gone for good, some time after `rmdir` returned: a node cgroup
            // made right after the previous run's were removed may find the budget
            // still taken, so a refusal is retried for up to a second.
            let mut tries = 0;
            let written = loop {
                match std::fs::write(&path, value.to_string()) {
                    Err(e)
                        if file == "cpu.rt_runtime_us"
                            && e.raw_os_error() == Some(22)
                            && tries < 100 =>
                    {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    other => break other,
                }
            };
            written.map_err(|source| {
                if file == "cpu.rt_runtime_us" && source.raw_os_error() == Some(22) {
                    CapacityError::RealtimeBudget { fraction }
                } else {
                    io(&path)(source)
                }
            })?;
        }
        Ok(cgroup)
    }

    /// The fraction of a core the node gets.
    pub fn fraction(&self) -> f64 {
        self.fraction
    }

    /// The cgroup's folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Moves the calling thread into the cgroup.
    pub fn join_current_thread(&self) -> Result<(), CapacityError> {
        // Writing 0 to a v1 `tasks` file moves the writing thread.
        let path = self.dir.join("tasks");
        std::fs::write(&path, "0").map_err(|source| CapacityError::Io { path, source })
    }

    /// The CPU time the cgroup's threads used so far, in seconds (`cpuacct` when it is
    /// co-mounted, else the `cpu.stat` of kernels that report it).
    pub fn usage_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(self.dir.join("cpu.stat")).ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|us| us / 1e6)
    }

    /// How many CFS periods the cgroup was throttled in (its quota ran out).
    pub fn throttled_periods(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(self.dir.join("cpu.stat")).ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("nr_throttled "))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for NodeCgroup {
    fn drop(&mut self) {
        // A thread that was just joined may not have left the cgroup yet (the kernel
        // releases it after waking the joiner): retry briefly. A cgroup that still
        // holds threads is left, and removed by the next das process (see
        // `remove_stale`).
        for _ in 0..200 {
            match std::fs::remove_dir(&self.dir) {
                Err(e) if e.raw_os_error() == Some(16) => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                _ => return,
            }
        }
    }
}

/// Removes the node cgroups of das processes that no longer run.
fn remove_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix("das-").and_then(|r| r.split('-').next()) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// Whether this process can create node cgroups: tries one and removes it. Each call
/// probes with a cgroup of its own, so that threads asking at once do not remove
/// each other's probe.
pub fn available() -> bool {
    static PROBES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let probe = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    NodeCgroup::create_named(&format!("probe{probe}"), 0.5, false).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether node cgroups can be made here; says why not (and fails under
    /// DAS_REQUIRE_PRIVILEGES=1) when they cannot.
    fn usable() -> bool {
        if available() {
            return true;
        }
        assert!(
            std::env::var("DAS_REQUIRE_PRIVILEGES").as_deref() != Ok("1"),
            "cgroup v1 cpu controller required (DAS_REQUIRE_PRIVILEGES=1) but not usable"
        );
        eprintln!("skipped: no writable cgroup v1 cpu controller (needs root)");
        false
    }

    #[test]
    fn real_time_budget_of_removed_cgroups_is_reused() {
        if !usable() {
            return;
        }
        // Rounds of two nodes back to back, as an experiment's runs are: each round's
        // budget (2 x 0.3 x 0.95 of a core) fits only once the last round's is freed.
        for round in 0..4 {
            let a = NodeCgroup::create(20, 0.3, true);
            let b = NodeCgroup::create(21, 0.3, true);
            assert!(a.is_ok() && b.is_ok(), "round {round}: {a:?} {b:?}");
        }
    }

    #[test]
    fn threads_asking_at_once_all_find_cgroups_available() {
        if !usable() {
            return;
        }
        let answers: Vec<bool> = std::thread::scope(|s| {
            let asking: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..20).all(|_| available())))
                .collect();
            asking.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(answers, vec![true; 8]);
    }

    #[test]
    fn fractions_outside_a_core_are_refused() {
        assert!(matches!(
            NodeCgroup::create(0, 0.0, false),
            Err(CapacityError::BadFraction(_))
        ));
        assert!(matches!(
            NodeCgroup::create(0, 1.5, false),
            Err(CapacityError::BadFraction(_))
        ));
    }

    #[test]
    fn a_cgroup_limits_and_is_removed() {
        if !usable() {
            return;
        }
        let cg = NodeCgroup::create(7, 0.25, true).unwrap();
        let path = cg.path().to_path_buf();
        let read = |f: &str| {
            std::fs::read_to_string(path.join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(read("cpu.cfs_period_us"), "10000");
        assert_eq!(read("cpu.cfs_quota_us"), "2500");
        // A share below 0.1 of a core: a longer period keeps the quota at 1 ms.
        let small = NodeCgroup::create(8, 0.02, false).unwrap();
        let small_read = |f: &str| {
            std::fs::read_to_string(small.path().join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(small_read("cpu.cfs_period_us"), "50000");
        assert_eq!(small_read("cpu.cfs_quota_us"), "1000");
        drop(small);
        assert_eq!(read("cpu.rt_period_us"), "10000");
        assert_eq!(read("cpu.rt_runtime_us"), "2375");
        std::thread::spawn({
            let tasks = path.join("tasks");
            move || {
                std::fs::write(&tasks, "0").unwrap();
                let me = std::fs::read_link("/proc/thread-self").unwrap();
                let tid = me.file_name().unwrap().to_string_lossy().to_string();
                let members = std::fs::read_to_string(&tasks).unwrap();
                assert!(members.lines().any(|l| l == tid), "{tid} not in {members}");
            }
        })
        .join()
        .unwrap();
        drop(cg);
        assert!(!path.exists(), "cgroup left behind");
    }
}
