//! Port lists of rule headers: `any`, `80`, ranges `1024:`, `:1023`, `100:200`,
//! `[lists]`, `!` negation and `$VARIABLES`, evaluated once into sorted ranges.

use super::ParseError;
use super::addr::{normalize, split_items, subtract};
use super::vars::Variables;

/// The port part of a rule header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// Every port.
    Any,
    /// These ports, as sorted disjoint inclusive ranges.
    Ranges(Vec<(u16, u16)>),
}

impl PortSpec {
    /// Parses a port list, resolving variables.
    pub fn parse(text: &str, vars: &Variables) -> Result<PortSpec, ParseError> {
        let ranges = eval(text.trim(), vars, 0)?;
        if ranges.is_empty() {
            return Err(ParseError::new(format!(
                "port list {text:?} matches no port"
            )));
        }
        Ok(if ranges == [(0, u16::MAX)] {
            PortSpec::Any
        } else {
            PortSpec::Ranges(ranges)
        })
    }

    /// Whether the spec matches every port.
    pub fn is_any(&self) -> bool {
        matches!(self, PortSpec::Any)
    }

    /// Whether `port` matches.
    #[inline]
    pub fn matches(&self, port: u16) -> bool {
        match self {
            PortSpec::Any => true,
            PortSpec::Ranges(r) => match r.binary_search_by(|&(lo, _)| lo.cmp(&port)) {
                Ok(_) => true,
                Err(0) => false,
                Err(i) => r.get(i - 1).is_some_and(|&(_, hi)| port <= hi),
            },
        }
    }

    /// How many ports match.
    pub fn count(&self) -> u32 {
        match self {
            PortSpec::Any => 65536,
            PortSpec::Ranges(r) => r
                .iter()
                .map(|&(lo, hi)| u32::from(hi) - u32::from(lo) + 1)
                .sum(),
        }
    }

    /// The ranges (every port for `Any`).
    pub fn ranges(&self) -> &[(u16, u16)] {
        match self {
            PortSpec::Any => &[(0, u16::MAX)],
            PortSpec::Ranges(r) => r,
        }
    }
}

fn eval(text: &str, vars: &Variables, depth: usize) -> Result<Vec<(u16, u16)>, ParseError> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('!') {
        let inner = eval(rest, vars, depth)?;
        let out = subtract(&[(0, u16::MAX)], &inner);
        if out.is_empty() {
            return Err(ParseError::new(format!("{text:?} negates every port")));
        }
        return Ok(out);
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| ParseError::new(format!("port list {text:?} is not closed")))?;
        let mut positive: Option<Vec<(u16, u16)>> = None;
        let mut negative = Vec::new();
        for item in split_items(inner)? {
            if let Some(rest) = item.strip_prefix('!') {
                negative.extend(eval(rest, vars, depth)?);
            } else {
                let r = eval(item, vars, depth)?;
                positive.get_or_insert_with(Vec::new).extend(r);
            }
        }
        let base = normalize(positive.unwrap_or_else(|| vec![(0, u16::MAX)]));
        return Ok(subtract(&base, &normalize(negative)));
    }
    if let Some(name) = text.strip_prefix('$') {
        let value = vars.resolve(name, depth)?;
        return eval(&value, vars, depth + 1);
    }
    if text.eq_ignore_ascii_case("any") {
        return Ok(vec![(0, u16::MAX)]);
    }
    let bad = || ParseError::new(format!("bad port {text:?}"));
    let number = |s: &str| s.trim().parse::<u16>().map_err(|_| bad());
    match text.split_once(':') {
        Some((lo, hi)) => {
            let lo = if lo.trim().is_empty() { 0 } else { number(lo)? };
            let hi = if hi.trim().is_empty() {
                u16::MAX
            } else {
                number(hi)?
            };
            if lo > hi {
                return Err(bad());
            }
            Ok(vec![(lo, hi)])
        }
        None => {
            let p = number(text)?;
            Ok(vec![(p, p)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> PortSpec {
        PortSpec::parse(s, &Variables::default()).unwrap()
    }

    #[test]
    fn forms() {
        assert!(spec("any").is_any());
        assert!(spec("80").matches(80) && !spec("80").matches(81));
        assert!(spec("1024:").matches(65535) && !spec("1024:").matches(1023));
        assert!(spec(":1023").matches(0) && !spec(":1023").matches(1024));
        let l = spec("[135,139,445,1024:2048]");
        assert!(l.matches(445) && l.matches(2000) && !l.matches(446));
        assert_eq!(l.count(), 3 + 1025);
        let n = spec("![80,443]");
        assert!(!n.matches(443) && n.matches(444));
        assert!(spec("$HTTP_PORTS").matches(8080));
        assert!(!spec("$SHELLCODE_PORTS").matches(80));
        assert!(spec("[$HTTP_PORTS,!8080]").matches(80));
        assert!(!spec("[$HTTP_PORTS,!8080]").matches(8080));
    }

    #[test]
    fn errors() {
        let v = Variables::default();
        assert!(PortSpec::parse("!any", &v).is_err());
        assert!(PortSpec::parse("70000", &v).is_err());
        assert!(PortSpec::parse("20:10", &v).is_err());
        assert!(PortSpec::parse("[80", &v).is_err());
        assert!(PortSpec::parse("$NOPE", &v).is_err());
    }
}
