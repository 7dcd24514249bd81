//! Pinning a node's threads to its core and splitting their OS priorities.

/// The OS scheduling class of an instance thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedClass {
    /// The default time-sharing class (SCHED_OTHER).
    Normal,
    /// SCHED_IDLE: runs only when no normal thread of the core wants it.
    Idle,
}

/// Where and how an instance thread runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// CPU to pin to, if any.
    pub core: Option<usize>,
    /// Scheduling class.
    pub class: SchedClass,
}

/// Applies `placement` to the calling thread. Returns a warning for each part the OS
/// refused; the thread then runs with what it had (a clear warning is better than a
/// node that does not start).
pub fn apply(placement: Placement) -> Vec<String> {
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
    if placement.class == SchedClass::Idle {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(e) = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            policy,
        ) {
            warnings.push(format!(
                "could not set SCHED_IDLE ({e:?}); the secondary runs at normal priority"
            ));
        }
    }
    warnings
}

/// The calling thread's scheduling class as the OS reports it.
pub fn current_class() -> Option<SchedClass> {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
    };
    match thread_schedule_policy().ok()? {
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle) => Some(SchedClass::Idle),
        ThreadSchedulePolicy::Normal(_) => Some(SchedClass::Normal),
        ThreadSchedulePolicy::Realtime(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_class_is_applied_to_the_calling_thread_only() {
        let class = std::thread::spawn(|| {
            let warnings = apply(Placement {
                core: Some(0),
                class: SchedClass::Idle,
            });
            assert!(warnings.is_empty(), "{warnings:?}");
            current_class()
        })
        .join()
        .unwrap();
        assert_eq!(class, Some(SchedClass::Idle));
        assert_eq!(current_class(), Some(SchedClass::Normal));
    }

    #[test]
    fn a_missing_core_is_a_warning_not_a_failure() {
        let warnings = std::thread::spawn(|| {
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
