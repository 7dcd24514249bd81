//! Pinning threads to a core and setting their OS scheduling class.

use thread_priority::unix::{
    NormalThreadSchedulePolicy, RealtimeThreadSchedulePolicy, ThreadSchedulePolicy,
    set_thread_priority_and_policy, thread_native_id, thread_schedule_policy,
};
use thread_priority::{ThreadPriority, ThreadPriorityValue};

/// The OS scheduling class of a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedClass {
    /// SCHED_OTHER at nice 0, the default time-sharing class.
    Normal,
    /// SCHED_OTHER at nice -20: time-sharing, but weighted about 87 times a nice-0
    /// thread (a straggler's background task next to a time-sharing node).
    Boosted,
    /// SCHED_IDLE: runs only when no other class wants the core.
    Idle,
    /// SCHED_FIFO at this priority (1 to 99): runs until it sleeps, ahead of every
    /// time-sharing thread and of lower FIFO priorities.
    Fifo(u8),
}

/// Where and how a thread runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// CPU to pin to, if any.
    pub core: Option<usize>,
    /// Scheduling class.
    pub class: SchedClass,
}

/// Applies `placement` to the calling thread. Returns the class the thread ended up in
/// (the requested one, or `Normal` when the OS refused it) and a warning for each part
/// the OS refused: a clear warning is better than a node that does not start.
pub fn apply(placement: Placement) -> (SchedClass, Vec<String>) {
    let mut warnings = Vec::new();
    if let Some(core) = placement.core {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        match ids.iter().find(|c| c.id == core) {
            Some(&id) => {
                if !core_affinity::set_for_current(id) {
                    warnings.push(format!("could not pin to CPU {core}"));
                }
            }
            None => warnings.push(format!(
                "CPU {core} is not available to this process ({} CPUs are); not pinned",
                ids.len()
            )),
        }
    }
    let (policy, priority) = match placement.class {
        SchedClass::Normal => return (SchedClass::Normal, warnings),
        SchedClass::Boosted => (
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other),
            ThreadPriority::Max,
        ),
        SchedClass::Idle => (
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
            ThreadPriority::Min,
        ),
        SchedClass::Fifo(p) => (
            ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
            ThreadPriority::Crossplatform(
                ThreadPriorityValue::try_from(p.clamp(1, 99)).expect("1..=99 is in range"),
            ),
        ),
    };
    match set_thread_priority_and_policy(thread_native_id(), priority, policy) {
        Ok(()) => (placement.class, warnings),
        Err(e) => {
            warnings.push(format!(
                "the OS refused {} ({e:?}; raising priority needs CAP_SYS_NICE, e.g. root); \
                 running at SCHED_OTHER instead",
                describe(placement.class)
            ));
            (SchedClass::Normal, warnings)
        }
    }
}

/// The class's name as the OS calls it.
pub fn describe(class: SchedClass) -> String {
    match class {
        SchedClass::Normal => "SCHED_OTHER".into(),
        SchedClass::Boosted => "SCHED_OTHER at nice -20".into(),
        SchedClass::Idle => "SCHED_IDLE".into(),
        SchedClass::Fifo(p) => format!("SCHED_FIFO priority {p}"),
    }
}

/// The calling thread's scheduling policy as the OS reports it: `Normal` covers
/// SCHED_OTHER at any nice value, `Fifo(0)` any SCHED_FIFO priority; `None` for other
/// policies.
pub fn current_policy() -> Option<SchedClass> {
    match thread_schedule_policy().ok()? {
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle) => Some(SchedClass::Idle),
        ThreadSchedulePolicy::Normal(_) => Some(SchedClass::Normal),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo) => {
            Some(SchedClass::Fifo(0))
        }
        ThreadSchedulePolicy::Realtime(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_class_is_applied_to_the_calling_thread_only() {
        let (class, policy) = std::thread::spawn(|| {
            let (class, warnings) = apply(Placement {
                core: Some(0),
                class: SchedClass::Idle,
            });
            assert!(warnings.is_empty(), "{warnings:?}");
            (class, current_policy())
        })
        .join()
        .unwrap();
        assert_eq!((class, policy), (SchedClass::Idle, Some(SchedClass::Idle)));
        assert_eq!(current_policy(), Some(SchedClass::Normal));
    }

    #[test]
    fn fifo_is_applied_or_refused_with_a_warning() {
        let (class, warnings, policy) = std::thread::spawn(|| {
            let (class, warnings) = apply(Placement {
                core: None,
                class: SchedClass::Fifo(5),
            });
            (class, warnings, current_policy())
        })
        .join()
        .unwrap();
        match class {
            SchedClass::Fifo(5) => assert_eq!(policy, Some(SchedClass::Fifo(0))),
            SchedClass::Normal => {
                assert_eq!(warnings.len(), 1);
                assert!(warnings[0].contains("SCHED_FIFO"), "{warnings:?}");
                assert!(
                    std::env::var("DAS_REQUIRE_PRIVILEGES").as_deref() != Ok("1"),
                    "SCHED_FIFO refused but privileges are required: {warnings:?}"
                );
            }
            other => panic!("unexpected class {other:?}"),
        }
    }

    #[test]
    fn a_missing_core_is_a_warning_not_a_failure() {
        let (_, warnings) = std::thread::spawn(|| {
            apply(Placement {
                core: Some(100_000),
                class: SchedClass::Normal,
            })
        })
        .join()
        .unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("CPU 100000"));
    }
}
