//! Replay pacing: when the next packet of a replay may go.
//!
//! [`Pacer`] is pure: it is told the time ("now", in nanoseconds on any monotonic
//! clock) and decides, packet by packet, whether the packet is due. The schedule is
//! anchored at the first packet and absolute, so rounding never accumulates and the
//! average rate is exact: a consumer that falls behind receives the packets it missed
//! as fast as it pulls them until it is back on schedule.

use std::fmt;
use std::str::FromStr;

const NS_PER_SEC: f64 = 1e9;

/// How fast a replay goes. In configuration files it is written as text: `max`,
/// `<N>pps`, `<N>mbps`, `capture` or `capture*<speed>` (see [`Pace::from_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Pace {
    /// As fast as the consumer pulls (backpressure is the only limit).
    #[default]
    Unlimited,
    /// This many packets per second.
    PacketsPerSec(f64),
    /// This many megabits (10^6 bits) of frame bytes per second.
    MbitPerSec(f64),
    /// The capture's own timing, `speed` times faster (1.0 is real time).
    Capture {
        /// Speed factor: 2.0 replays twice as fast as captured.
        speed: f64,
    },
}

/// A pace that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PaceError {
    /// A rate or speed that is zero, negative, infinite or not a number.
    #[error("pace {what} must be a positive, finite number, got {value}")]
    BadRate {
        /// "packets per second", "Mbit/s" or "speed".
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// Text that does not describe a pace.
    #[error("cannot read pace {0:?}: expected max, <N>pps, <N>mbps, capture or capture*<speed>")]
    Parse(String),
}

impl Pace {
    /// Checks that rates and speeds are positive and finite.
    pub fn validate(&self) -> Result<(), PaceError> {
        let (what, value) = match *self {
            Pace::Unlimited => return Ok(()),
            Pace::PacketsPerSec(v) => ("packets per second", v),
            Pace::MbitPerSec(v) => ("Mbit/s", v),
            Pace::Capture { speed } => ("speed", speed),
        };
        if value.is_finite() && value > 0.0 {
            Ok(())
        } else {
            Err(PaceError::BadRate { what, value })
        }
    }
}

impl fmt::Display for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pace::Unlimited => f.write_str("max"),
            Pace::PacketsPerSec(r) => write!(f, "{r}pps"),
            Pace::MbitPerSec(r) => write!(f, "{r}mbps"),
            Pace::Capture { speed } if *speed == 1.0 => f.write_str("capture"),
            Pace::Capture { speed } => write!(f, "capture*{speed}"),
        }
    }
}

impl TryFrom<String> for Pace {
    type Error = PaceError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Pace> for String {
    fn from(pace: Pace) -> String {
        pace.to_string()
    }
}

impl FromStr for Pace {
    type Err = PaceError;

    /// Reads `max`, `<N>pps`, `<N>mbps`, `capture` or `capture*<speed>` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim().to_ascii_lowercase();
        let number = |n: &str| {
            n.trim()
                .parse::<f64>()
                .map_err(|_| PaceError::Parse(s.into()))
        };
        let pace = if text == "max" || text == "unlimited" {
            Pace::Unlimited
        } else if text == "capture" {
            Pace::Capture { speed: 1.0 }
        } else if let Some(speed) = text.strip_prefix("capture*") {
            Pace::Capture {
                speed: number(speed)?,
            }
        } else if let Some(rate) = text.strip_suffix("pps") {
            Pace::PacketsPerSec(number(rate)?)
        } else if let Some(rate) = text.strip_suffix("mbps") {
            Pace::MbitPerSec(number(rate)?)
        } else {
            return Err(PaceError::Parse(s.into()));
        };
        pace.validate()?;
        Ok(pace)
    }
}

/// Decides when each packet of a replay is due, given the time.
#[derive(Debug, Clone)]
pub struct Pacer {
    pace: Pace,
    /// Time of the first packet, once one went.
    start_ns: Option<u64>,
    /// Capture timestamp of the first packet.
    first_ts_ns: u64,
    sent_packets: u64,
    sent_bytes: u64,
}

impl Pacer {
    /// A pacer for `pace`, or an error if its rate is not usable.
    pub fn new(pace: Pace) -> Result<Self, PaceError> {
        pace.validate()?;
        Ok(Pacer {
            pace,
            start_ns: None,
            first_ts_ns: 0,
            sent_packets: 0,
            sent_bytes: 0,
        })
    }

    /// The pace.
    pub fn pace(&self) -> Pace {
        self.pace
    }

    /// Whether decisions depend on the time (false for [`Pace::Unlimited`], whose
    /// callers need not read a clock).
    pub fn needs_clock(&self) -> bool {
        self.pace != Pace::Unlimited
    }

    /// Packets let through so far.
    pub fn sent_packets(&self) -> u64 {
        self.sent_packets
    }

    /// Frame bytes let through so far.
    pub fn sent_bytes(&self) -> u64 {
        self.sent_bytes
    }

    /// When the next packet, captured at `ts_ns`, is due: nanoseconds on the caller's
    /// clock, or `None` before the first packet (which is due at once). At a bit rate the
    /// next packet waits for the bytes sent before it, whatever its own length.
    pub fn due_ns(&self, ts_ns: u64) -> Option<u64> {
        let start = self.start_ns?;
        let delay = match self.pace {
            Pace::Unlimited => 0.0,
            Pace::PacketsPerSec(rate) => self.sent_packets as f64 * NS_PER_SEC / rate,
            Pace::MbitPerSec(rate) => self.sent_bytes as f64 * 8.0 * 1e3 / rate,
            // Timestamps before the first one (reordered captures) are due at once.
            Pace::Capture { speed } => ts_ns.saturating_sub(self.first_ts_ns) as f64 / speed,
        };
        // Float-to-int casts saturate: an absurd delay becomes "never" rather than a wrap.
        Some(start.saturating_add(delay as u64))
    }

    /// Whether a packet of `len` frame bytes captured at `ts_ns` may go at `now_ns`; if
    /// so it is counted as sent. The first packet always goes and anchors the schedule.
    #[inline]
    pub fn admit(&mut self, now_ns: u64, len: usize, ts_ns: u64) -> bool {
        if self.pace != Pace::Unlimited {
            match self.due_ns(ts_ns) {
                None => {
                    self.start_ns = Some(now_ns);
                    self.first_ts_ns = ts_ns;
                }
                Some(due) if now_ns < due => return false,
                Some(_) => {}
            }
        }
        self.sent_packets += 1;
        self.sent_bytes += len as u64;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Advances a fake clock 1 µs at a time and records when each packet goes.
    fn send_times(pace: Pace, packets: &[(usize, u64)]) -> Vec<u64> {
        let mut pacer = Pacer::new(pace).unwrap();
        let mut now = 5_000_000_000u64;
        let mut times = Vec::new();
        for &(len, ts) in packets {
            while !pacer.admit(now, len, ts) {
                now += 1_000;
            }
            times.push(now);
        }
        times
    }

    #[test]
    fn unlimited_never_waits() {
        let mut pacer = Pacer::new(Pace::Unlimited).unwrap();
        assert!(!pacer.needs_clock());
        for i in 0..1000 {
            assert!(pacer.admit(0, 1500, i));
        }
        assert_eq!(pacer.sent_packets(), 1000);
        assert_eq!(pacer.sent_bytes(), 1_500_000);
    }

    #[test]
    fn packets_per_second_spaces_packets_evenly() {
        let t = send_times(Pace::PacketsPerSec(1000.0), &[(60, 0); 5]);
        let gaps: Vec<u64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps, vec![1_000_000; 4]);
    }

    #[test]
    fn packets_per_second_does_not_drift_with_fractional_periods() {
        // 3 pps: period 333,333,333.3 ns; after 3,000 packets exactly 1,000 s.
        let mut pacer = Pacer::new(Pace::PacketsPerSec(3.0)).unwrap();
        assert!(pacer.admit(0, 60, 0));
        for _ in 1..3000 {
            let due = pacer.due_ns(0).unwrap();
            assert!(!pacer.admit(due - 1, 60, 0));
            assert!(pacer.admit(due, 60, 0));
        }
        assert_eq!(pacer.due_ns(0), Some(1_000_000_000_000));
    }

    #[test]
    fn mbit_per_second_paces_by_frame_bytes() {
        // 8 Mbit/s = 1 byte per µs: a 1000-byte frame holds the next back 1 ms.
        let t = send_times(
            Pace::MbitPerSec(8.0),
            &[(1000, 0), (500, 0), (100, 0), (100, 0)],
        );
        let gaps: Vec<u64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps, vec![1_000_000, 500_000, 100_000]);
    }

    #[test]
    fn capture_timing_follows_timestamps_with_speed() {
        let ts = [
            (60, 1_000_000_000),
            (60, 1_002_000_000),
            (60, 1_010_000_000),
        ];
        let t = send_times(Pace::Capture { speed: 1.0 }, &ts);
        assert_eq!(vec![t[1] - t[0], t[2] - t[0]], vec![2_000_000, 10_000_000]);
        let t = send_times(Pace::Capture { speed: 2.0 }, &ts);
        assert_eq!(vec![t[1] - t[0], t[2] - t[0]], vec![1_000_000, 5_000_000]);
        // A timestamp earlier than the first is due at once.
        let t = send_times(Pace::Capture { speed: 1.0 }, &[(60, 50), (60, 10)]);
        assert_eq!(t[0], t[1]);
    }

    #[test]
    fn a_late_consumer_catches_up_then_keeps_the_rate() {
        let mut pacer = Pacer::new(Pace::PacketsPerSec(1000.0)).unwrap();
        assert!(pacer.admit(0, 60, 0));
        // 10 ms late: the 10 missed packets go at once, the 11th waits.
        let now = 10_000_000;
        let burst = (0..20).take_while(|_| pacer.admit(now, 60, 0)).count();
        assert_eq!(burst, 10);
        assert_eq!(pacer.due_ns(0), Some(11_000_000));
    }

    #[test]
    fn bad_rates_are_refused() {
        for pace in [
            Pace::PacketsPerSec(0.0),
            Pace::MbitPerSec(-1.0),
            Pace::Capture { speed: f64::NAN },
            Pace::PacketsPerSec(f64::INFINITY),
        ] {
            assert!(Pacer::new(pace).is_err(), "{pace:?}");
        }
    }

    #[test]
    fn paces_read_from_text_and_back() {
        for (text, pace) in [
            ("max", Pace::Unlimited),
            ("1000pps", Pace::PacketsPerSec(1000.0)),
            ("2.5Mbps", Pace::MbitPerSec(2.5)),
            ("capture", Pace::Capture { speed: 1.0 }),
            ("capture*4", Pace::Capture { speed: 4.0 }),
        ] {
            let parsed: Pace = text.parse().unwrap();
            assert_eq!(parsed, pace, "{text}");
            assert_eq!(parsed.to_string().parse::<Pace>().unwrap(), pace);
        }
        for bad in ["", "fast", "0pps", "-3mbps", "capture*0", "12"] {
            assert!(bad.parse::<Pace>().is_err(), "{bad}");
        }
    }
}
