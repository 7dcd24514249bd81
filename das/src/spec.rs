//! Parsing the command line's fault, straggler and network-function specifications.

use std::time::Duration;

use ids_worker::{RunWindow, Straggler};

/// A duration such as `2s`, `1.5s`, `250ms`, `40us` or `800ns`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 2s, 250ms, 40us)"))?;
    let scale = match unit {
        "s" => 1e9,
        "ms" => 1e6,
        "us" => 1e3,
        "ns" => 1.0,
        _ => return Err(format!("{text:?}: the unit must be s, ms, us or ns")),
    };
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?} is not a duration"));
    }
    Ok(Duration::from_nanos((value * scale).round() as u64))
}

fn fields<'a>(text: &'a str, names: &str, count: usize) -> Result<Vec<&'a str>, String> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != count {
        return Err(format!("{text:?}: expected {names}"));
    }
    Ok(parts)
}

fn node(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a node index"))
}

/// `NODE:START:DURATION:INTENSITY`, e.g. `0:1s:3s:0.5`.
pub fn straggler(text: &str) -> Result<Straggler, String> {
    let f = fields(text, "NODE:START:DURATION:INTENSITY, e.g. 0:1s:3s:0.5", 4)?;
    let intensity: f64 = f[3]
        .parse()
        .map_err(|_| format!("{:?} is not an intensity", f[3]))?;
    if !(intensity > 0.0 && intensity <= 1.0) {
        return Err(format!("intensity {intensity} must be in (0, 1]"));
    }
    Ok(Straggler {
        node: node(f[0])?,
        window: RunWindow {
            start: duration(f[1])?,
            duration: duration(f[2])?,
        },
        intensity,
    })
}

/// `NODE:START:DURATION`, e.g. `1:2s:500ms`.
pub fn pause(text: &str) -> Result<(usize, RunWindow), String> {
    let f = fields(text, "NODE:START:DURATION, e.g. 1:2s:500ms", 3)?;
    Ok((
        node(f[0])?,
        RunWindow {
            start: duration(f[1])?,
            duration: duration(f[2])?,
        },
    ))
}

/// `NODE:AT`, e.g. `1:2s`.
pub fn kill(text: &str) -> Result<(usize, Duration), String> {
    let f = fields(text, "NODE:AT, e.g. 1:2s", 2)?;
    Ok((node(f[0])?, duration(f[1])?))
}

/// Every CPU this process may run on (empty when they cannot be read).
pub fn all_cpus() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// The nodes' network function as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionSpec {
    /// `forward`: forward everything at no cost.
    Forward,
    /// `spin:COST`: a fixed CPU cost per packet.
    Spin(Duration),
    /// `ids`: the IDS engine with the run's rules.
    Ids,
}

/// `ids`, `forward` or `spin:COST`, e.g. `spin:2us`.
pub fn function(text: &str) -> Result<FunctionSpec, String> {
    match text.split_once(':') {
        None if text == "forward" => Ok(FunctionSpec::Forward),
        None if text == "ids" => Ok(FunctionSpec::Ids),
        Some(("spin", cost)) => Ok(FunctionSpec::Spin(duration(cost)?)),
        _ => Err(format!(
            "{text:?}: expected ids, forward or spin:COST (e.g. spin:2us)"
        )),
    }
}

/// A fraction of a core in (0, 1].
pub fn fraction(text: &str) -> Result<f64, String> {
    let f: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if f > 0.0 && f <= 1.0 {
        Ok(f)
    } else {
        Err(format!("{f} is not a fraction of a core in (0, 1]"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("40us").unwrap(), Duration::from_micros(40));
        assert!(duration("2").unwrap_err().contains("unit"));
        assert!(duration("fast").is_err());
        assert!(duration("-1s").is_err());
    }

    #[test]
    fn specs_parse_and_explain_mistakes() {
        let s = straggler("1:1s:3s:0.5").unwrap();
        assert_eq!((s.node, s.intensity), (1, 0.5));
        assert_eq!(s.window.start, Duration::from_secs(1));
        assert!(straggler("1:1s:3s:1.5").unwrap_err().contains("(0, 1]"));
        assert!(straggler("1:1s").unwrap_err().contains("NODE:START"));
        assert_eq!(
            pause("0:2s:500ms").unwrap().1.duration,
            Duration::from_millis(500)
        );
        assert_eq!(kill("2:1s").unwrap(), (2, Duration::from_secs(1)));
        assert!(kill("x:1s").unwrap_err().contains("node index"));
        assert_eq!(
            function("spin:2us").unwrap(),
            FunctionSpec::Spin(Duration::from_micros(2))
        );
        assert_eq!(function("forward").unwrap(), FunctionSpec::Forward);
        assert_eq!(function("ids").unwrap(), FunctionSpec::Ids);
        assert!(function("snort").is_err());
        assert!(fraction("0").is_err() && fraction("0.4").is_ok());
    }
}
