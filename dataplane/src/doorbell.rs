//! Waking a sleeping stage thread when work arrives.
//!
//! Stages poll their queues and spin briefly when idle, but when threads outnumber
//! cores a spinning consumer steals the cycles its producer needs. So an idle thread
//! announces that it is about to sleep ([`Doorbell::arm`]), polls once more, and parks;
//! a producer that publishes packets rings the consumer's doorbell, which unparks it
//! only if it announced sleep. The announce/publish pair is ordered by sequentially
//! consistent fences on both sides (Dekker's pattern), so a wake-up is never lost; a
//! park timeout bounds the wait anyway for ports that cannot ring.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::thread::Thread;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::clock::monotonic_ns;

/// The wake-up handle of one thread.
#[derive(Debug)]
pub struct Doorbell {
    sleeping: AtomicBool,
    thread: Thread,
    wakeups: AtomicU64,
    /// When the first ring since the owner last slept came ([`monotonic_ns`]; 0: none).
    rung_at_ns: AtomicU64,
}

impl Doorbell {
    /// A doorbell that wakes the calling thread.
    pub fn for_current_thread() -> Arc<Self> {
        Arc::new(Doorbell {
            sleeping: AtomicBool::new(false),
            thread: std::thread::current(),
            wakeups: AtomicU64::new(0),
            rung_at_ns: AtomicU64::new(0),
        })
    }

    /// Wakes the owner if it announced sleep. Call after publishing work.
    #[inline]
    pub fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) {
            let now = monotonic_ns().max(1);
            let _ = self
                .rung_at_ns
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            self.thread.unpark();
        }
    }

    /// Announces that the owner is about to sleep. The owner must poll its queues once
    /// more after this and call [`Doorbell::sleep`] only if they were still empty.
    #[inline]
    pub fn arm(&self) {
        self.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Withdraws an [`arm`](Doorbell::arm) (work was found after all).
    #[inline]
    pub fn disarm(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }

    /// Parks the owner until rung or until `timeout`, then disarms. Returns the wake-up
    /// latency in nanoseconds (from the ring to the owner running again) when a ring
    /// woke it.
    pub fn sleep(&self, timeout: Duration) -> Option<u64> {
        std::thread::park_timeout(timeout);
        self.disarm();
        let rung = self.rung_at_ns.swap(0, Ordering::Relaxed);
        (rung != 0).then(|| monotonic_ns().saturating_sub(rung))
    }

    /// How many times a producer woke this thread.
    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }
}

/// How a polling loop spends rounds that found no work: spin, then yield, then sleep on
/// its doorbell.
#[derive(Debug)]
pub struct Idler {
    bell: Arc<Doorbell>,
    idle_rounds: u32,
    armed: bool,
    spin_rounds: u32,
    yield_rounds: u32,
    max_sleep: Duration,
    /// Keep spinning until the idle stretch is this long (0: count rounds only).
    spin_ns: u64,
    idle_since_ns: u64,
    wake_latency: Histogram<u64>,
}

/// Rounds spent spinning before yielding, by default.
pub const DEFAULT_SPIN_ROUNDS: u32 = 32;
/// Rounds spent yielding before sleeping, by default.
pub const DEFAULT_YIELD_ROUNDS: u32 = 8;
/// Longest sleep between polls, by default.
pub const DEFAULT_MAX_SLEEP: Duration = Duration::from_millis(1);

impl Idler {
    /// An idler for the thread that owns `bell`, with the default rounds and sleep.
    pub fn new(bell: Arc<Doorbell>) -> Self {
        Idler {
            bell,
            idle_rounds: 0,
            armed: false,
            spin_rounds: DEFAULT_SPIN_ROUNDS,
            yield_rounds: DEFAULT_YIELD_ROUNDS,
            max_sleep: DEFAULT_MAX_SLEEP,
            spin_ns: 0,
            idle_since_ns: 0,
            wake_latency: crate::latency::latency_histogram(),
        }
    }

    /// Wake-up latencies (ns from a producer's ring to this thread running again) of
    /// every sleep a ring ended.
    pub fn wake_latency(&self) -> &Histogram<u64> {
        &self.wake_latency
    }

    /// Changes how many rounds are spun and yielded before sleeping.
    pub fn with_rounds(mut self, spin: u32, yield_: u32) -> Self {
        self.spin_rounds = spin;
        self.yield_rounds = yield_;
        self
    }

    /// Spins for at least `spin` of idle time before yielding and sleeping: a thread
    /// whose work arrives in closely spaced bursts then never pays a wake-up between
    /// them (at the price of that much CPU after each burst).
    pub fn with_spin_time(mut self, spin: Duration) -> Self {
        self.spin_ns = spin.as_nanos() as u64;
        self
    }

    /// Changes the longest sleep.
    pub fn with_max_sleep(mut self, max_sleep: Duration) -> Self {
        self.max_sleep = max_sleep;
        self
    }

    /// The doorbell this idler sleeps on.
    pub fn doorbell(&self) -> &Arc<Doorbell> {
        &self.bell
    }

    /// Call after a round that did work.
    #[inline]
    pub fn busy(&mut self) {
        self.idle_rounds = 0;
        if self.armed {
            self.armed = false;
            self.bell.disarm();
        }
    }

    /// Call after a round that found no work. Deep in an idle stretch this first arms the
    /// doorbell and returns (so the caller polls once more), and on the next idle round
    /// sleeps.
    #[inline]
    pub fn idle(&mut self) {
        if self.armed {
            self.armed = false;
            if let Some(ns) = self.bell.sleep(self.max_sleep) {
                self.wake_latency.saturating_record(ns.max(1));
            }
            return;
        }
        self.idle_rounds = self.idle_rounds.saturating_add(1);
        if self.spin_ns > 0 {
            let now = monotonic_ns();
            if self.idle_rounds == 1 {
                self.idle_since_ns = now;
            }
            if now - self.idle_since_ns < self.spin_ns {
                // Stay in the spinning phase until the spin time is used up.
                self.idle_rounds = 1;
                std::hint::spin_loop();
                return;
            }
            if self.idle_rounds <= self.spin_rounds {
                self.idle_rounds = self.spin_rounds + 1;
            }
        }
        if self.idle_rounds <= self.spin_rounds {
            std::hint::spin_loop();
        } else if self.idle_rounds <= self.spin_rounds + self.yield_rounds {
            std::thread::yield_now();
        } else {
            self.armed = true;
            self.bell.arm();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    #[test]
    fn ring_wakes_an_armed_sleeper_long_before_its_timeout() {
        let work = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let w = work.clone();
        let sleeper = std::thread::spawn(move || {
            let bell = Doorbell::for_current_thread();
            tx.send(bell.clone()).unwrap();
            let start = Instant::now();
            let mut latency = None;
            while w.load(Ordering::SeqCst) == 0 {
                bell.arm();
                if w.load(Ordering::SeqCst) != 0 {
                    bell.disarm();
                    break;
                }
                latency = bell.sleep(Duration::from_secs(60)).or(latency);
            }
            (start.elapsed(), latency)
        });
        let bell = rx.recv().unwrap();
        // Ring only once the sleeper has announced its sleep.
        while !bell.sleeping.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        work.store(1, Ordering::SeqCst);
        bell.ring();
        let (waited, latency) = sleeper.join().unwrap();
        // Without the ring the sleeper would only wake at its 60 s timeout.
        assert!(waited < Duration::from_secs(30), "woke after {waited:?}");
        let latency = latency.expect("the ring woke the sleeper and said when");
        assert!(latency < 30_000_000_000);
    }

    #[test]
    fn idler_arms_then_sleeps_and_busy_disarms() {
        let bell = Doorbell::for_current_thread();
        let mut idler = Idler::new(bell.clone())
            .with_rounds(1, 1)
            .with_max_sleep(Duration::from_millis(1));
        idler.idle(); // spin
        idler.idle(); // yield
        idler.idle(); // arm
        assert!(bell.sleeping.load(Ordering::SeqCst));
        idler.busy();
        assert!(!bell.sleeping.load(Ordering::SeqCst));
        idler.idle();
        idler.idle();
        idler.idle(); // arm
        idler.idle(); // sleep, disarmed after
        assert!(!bell.sleeping.load(Ordering::SeqCst));
    }
}
