//! Stragglers and faults: a CPU-hungry background task on a node's core for a window of
//! the run, a pause, a kill.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use dataplane::clock::monotonic_ns;

use crate::capacity::NodeCgroup;
use crate::metrics::thread_cpu_ns;
use crate::placement::{self, Placement, SchedClass};

/// A window of a run, from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunWindow {
    /// When the window opens, from the start of the run.
    pub start: Duration,
    /// How long it stays open.
    pub duration: Duration,
}

impl RunWindow {
    /// Whether `since_start_ns` falls inside the window.
    pub fn contains(&self, since_start_ns: u64) -> bool {
        let start = self.start.as_nanos() as u64;
        since_start_ns >= start && since_start_ns < start + self.duration.as_nanos() as u64
    }

    /// When the window closes, in ns from the start of the run.
    pub fn end_ns(&self) -> u64 {
        (self.start + self.duration).as_nanos() as u64
    }
}

/// Faults planned for one node.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NodeFaults {
    /// Windows in which the node processes nothing (its queues fill up).
    pub pauses: Vec<RunWindow>,
    /// When the node dies: it marks itself down and from then on drops whatever reaches
    /// it (counted as `node_down`), as a dead host's link would.
    pub kill_at: Option<Duration>,
}

/// What a node should be doing at a moment of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultState {
    /// Working.
    Running,
    /// Paused until this moment (ns from the start of the run).
    Paused(u64),
    /// Dead.
    Dead,
}

impl NodeFaults {
    /// The state at `since_start_ns`.
    pub fn state(&self, since_start_ns: u64) -> FaultState {
        if self
            .kill_at
            .is_some_and(|k| since_start_ns >= k.as_nanos() as u64)
        {
            return FaultState::Dead;
        }
        match self.pauses.iter().find(|p| p.contains(since_start_ns)) {
            Some(p) => FaultState::Paused(p.end_ns()),
            None => FaultState::Running,
        }
    }

    /// Whether nothing is planned.
    pub fn is_empty(&self) -> bool {
        self.pauses.is_empty() && self.kill_at.is_none()
    }
}

/// A CPU-intensive background task on a node's core, as the paper's straggler: for the
/// window, it takes `intensity` of the node's CPU (in each 10 ms period it spins until
/// it has used the CPU time owed since the window opened, then sleeps), at a priority
/// above the node's threads, so that the node keeps `1 - intensity` of its CPU.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Straggler {
    /// The node it slows.
    pub node: usize,
    /// When.
    pub window: RunWindow,
    /// Share of the node's CPU it takes, in (0, 1].
    pub intensity: f64,
}

/// What a straggler did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StragglerReport {
    /// The plan.
    pub straggler: Straggler,
    /// CPU seconds it used during its window.
    pub busy_secs: f64,
    /// Seconds its window lasted, as run.
    pub window_secs: f64,
    /// The node's CPU (in cores) the intensity was a share of.
    pub node_cpu: f64,
    /// Share of the node's CPU it took: busy / (window × node CPU).
    pub achieved_intensity: f64,
    /// The class it ran in.
    pub class: SchedClass,
    /// Placement requests the OS refused.
    pub warnings: Vec<String>,
}

/// Length of one busy/sleep cycle of a straggler.
const STRAGGLER_PERIOD_NS: u64 = 10_000_000;

/// Starts a straggler's thread: it waits for its window (measured from `origin_ns` on
/// [`monotonic_ns`]), then runs pinned to `core`, in `class`, inside `cgroup` if given.
/// `node_cpu` is the node's CPU in cores (its cgroup's fraction, or 1 for a core of
/// its own): the straggler takes `intensity` of that.
pub fn spawn_straggler(
    straggler: Straggler,
    core: Option<usize>,
    class: SchedClass,
    cgroup: Option<Arc<NodeCgroup>>,
    origin_ns: u64,
) -> std::io::Result<JoinHandle<StragglerReport>> {
    let node_cpu = cgroup.as_ref().map_or(1.0, |c| c.fraction());
    std::thread::Builder::new()
        .name(format!("straggler{}", straggler.node))
        .spawn(move || {
            let mut warnings = Vec::new();
            if let Some(cg) = &cgroup {
                if let Err(e) = cg.join_current_thread() {
                    warnings.push(e.to_string());
                }
            }
            let (class, placed) = placement::apply(Placement { core, class });
            warnings.extend(placed);
            let start = origin_ns + straggler.window.start.as_nanos() as u64;
            let end = origin_ns + straggler.window.end_ns();
            sleep_until(start);
            let cpu = || thread_cpu_ns().unwrap_or(0);
            let share = (straggler.intensity.clamp(0.0, 1.0)
                * node_cpu
                * STRAGGLER_PERIOD_NS as f64) as u64;
            let began = monotonic_ns();
            let cpu_at_start = cpu();
            let mut period_start = began;
            while period_start < end {
                let period_end = (period_start + STRAGGLER_PERIOD_NS).min(end);
                // The CPU time owed since the window opened: time lost while the node's
                // cgroup was throttled is made up in later periods, so the straggler
                // takes its share of the node's CPU however the quota is spread.
                let owed = (period_end - began) as f64 / STRAGGLER_PERIOD_NS as f64 * share as f64;
                let target = cpu_at_start + owed as u64;
                // Spin in short stretches, checking the CPU time actually received.
                while monotonic_ns() < period_end && cpu() < target {
                    let stretch = monotonic_ns() + SPIN_STRETCH_NS;
                    while monotonic_ns() < stretch {
                        std::hint::spin_loop();
                    }
                }
                period_start = period_end;
                sleep_until(period_start);
            }
            let window_secs = monotonic_ns().saturating_sub(began) as f64 / 1e9;
            let busy_secs = cpu().saturating_sub(cpu_at_start) as f64 / 1e9;
            StragglerReport {
                straggler,
                busy_secs,
                window_secs,
                node_cpu,
                achieved_intensity: if window_secs > 0.0 {
                    busy_secs / (window_secs * node_cpu)
                } else {
                    0.0
                },
                class,
                warnings,
            }
        })
}

/// How long a straggler spins between two looks at its CPU time.
const SPIN_STRETCH_NS: u64 = 20_000;

/// Sleeps until `deadline` on [`monotonic_ns`].
pub fn sleep_until(deadline: u64) {
    loop {
        let now = monotonic_ns();
        if now >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_nanos(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start_ms: u64, ms: u64) -> RunWindow {
        RunWindow {
            start: Duration::from_millis(start_ms),
            duration: Duration::from_millis(ms),
        }
    }

    #[test]
    fn states_follow_the_plan() {
        let faults = NodeFaults {
            pauses: vec![window(10, 5)],
            kill_at: Some(Duration::from_millis(20)),
        };
        let ms = |m: u64| m * 1_000_000;
        assert_eq!(faults.state(ms(9)), FaultState::Running);
        assert_eq!(faults.state(ms(10)), FaultState::Paused(ms(15)));
        assert_eq!(faults.state(ms(15)), FaultState::Running);
        assert_eq!(faults.state(ms(20)), FaultState::Dead);
        assert!(NodeFaults::default().is_empty());
    }

    #[test]
    fn a_straggler_spins_for_its_share_of_its_window() {
        let straggler = Straggler {
            node: 0,
            window: window(0, 100),
            intensity: 0.5,
        };
        let report = spawn_straggler(straggler, None, SchedClass::Normal, None, monotonic_ns())
            .unwrap()
            .join()
            .unwrap();
        // Its own CPU time, not a timing of the machine: it never takes more than its
        // share of each period (plus one spin stretch and a read of its CPU time).
        assert!(report.window_secs >= 0.09, "{report:?}");
        assert!(report.busy_secs > 0.0, "{report:?}");
        assert!(
            report.busy_secs <= report.window_secs * 0.5 + 0.01,
            "{report:?}"
        );
        assert_eq!(report.node_cpu, 1.0);
    }
}
