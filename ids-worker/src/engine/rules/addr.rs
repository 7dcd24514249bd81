//! Address lists of rule headers: `any`, addresses, CIDR blocks, `[lists]`, `!` negation
//! and `$VARIABLES`, evaluated once into sorted ranges.
//!
//! A list matches an address when one of its positive entries does (or it has none)
//! and none of its negated entries does: `[10.0.0.0/8,!10.1.0.0/16]` is 10/8 without
//! 10.1/16, `![a,b]` is everything but a and b. `!any` is an error, as in Snort.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::ParseError;
use super::lexer::split_unquoted;
use super::vars::Variables;

/// A set of IPv4 and IPv6 addresses as sorted, disjoint, inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl IpSet {
    /// Every address.
    pub fn all() -> Self {
        IpSet {
            v4: vec![(0, u32::MAX)],
            v6: vec![(0, u128::MAX)],
        }
    }

    /// Whether this is every address.
    pub fn is_all(&self) -> bool {
        self.v4 == [(0, u32::MAX)] && self.v6 == [(0, u128::MAX)]
    }

    /// Whether the set holds no address.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The IPv4 ranges, sorted and disjoint.
    pub fn v4_ranges(&self) -> &[(u32, u32)] {
        &self.v4
    }

    /// The IPv6 ranges, sorted and disjoint.
    pub fn v6_ranges(&self) -> &[(u128, u128)] {
        &self.v6
    }

    /// Whether the IPv4 address is in the set.
    pub fn contains_v4(&self, addr: [u8; 4]) -> bool {
        contains(&self.v4, u32::from_be_bytes(addr))
    }

    /// Whether the IPv6 address is in the set.
    pub fn contains_v6(&self, addr: [u8; 16]) -> bool {
        contains(&self.v6, u128::from_be_bytes(addr))
    }

    fn union(mut self, other: &IpSet) -> IpSet {
        self.v4.extend_from_slice(&other.v4);
        self.v6.extend_from_slice(&other.v6);
        self.v4 = normalize(self.v4);
        self.v6 = normalize(self.v6);
        self
    }

    fn minus(self, other: &IpSet) -> IpSet {
        IpSet {
            v4: subtract(&self.v4, &other.v4),
            v6: subtract(&self.v6, &other.v6),
        }
    }
}

/// Whether `x` lies in one of the sorted disjoint ranges.
fn contains<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    match ranges.binary_search_by(|&(lo, _)| lo.cmp(&x)) {
        Ok(_) => true,
        Err(0) => false,
        Err(i) => ranges.get(i - 1).is_some_and(|&(_, hi)| x <= hi),
    }
}

/// Sorts and merges overlapping or adjacent ranges.
pub(crate) fn normalize<T: RangeBound>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_next() => {
                if hi > last.1 {
                    last.1 = hi;
                }
            }
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// `a` without `b`; both sorted and disjoint.
pub(crate) fn subtract<T: RangeBound>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    let mut out = Vec::new();
    for &(lo, hi) in a {
        let mut start = Some(lo);
        for &(blo, bhi) in b {
            let Some(s) = start else { break };
            if bhi < s || blo > hi {
                continue;
            }
            if blo > s {
                out.push((s, blo.saturating_prev()));
            }
            start = if bhi >= hi {
                None
            } else {
                Some(bhi.saturating_next())
            };
        }
        if let Some(s) = start {
            out.push((s, hi));
        }
    }
    out
}

/// Integer types used as range bounds.
pub(crate) trait RangeBound: Ord + Copy {
    fn saturating_next(self) -> Self;
    fn saturating_prev(self) -> Self;
}

macro_rules! range_bound {
    ($($t:ty),*) => {$(
        impl RangeBound for $t {
            fn saturating_next(self) -> Self { self.saturating_add(1) }
            fn saturating_prev(self) -> Self { self.saturating_sub(1) }
        }
    )*};
}
range_bound!(u16, u32, u128);

/// The address part of a rule header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrSpec {
    /// Every address.
    Any,
    /// These addresses.
    Set(Box<IpSet>),
}

impl AddrSpec {
    /// Parses an address list, resolving variables.
    pub fn parse(text: &str, vars: &Variables) -> Result<AddrSpec, ParseError> {
        let set = eval(text.trim(), vars, 0)?;
        if set.is_empty() {
            return Err(ParseError::new(format!(
                "address list {text:?} matches no address"
            )));
        }
        Ok(if set.is_all() {
            AddrSpec::Any
        } else {
            AddrSpec::Set(Box::new(set))
        })
    }

    /// Whether the spec matches every address.
    pub fn is_any(&self) -> bool {
        matches!(self, AddrSpec::Any)
    }

    /// Whether an IPv4 address matches.
    #[inline]
    pub fn matches_v4(&self, addr: [u8; 4]) -> bool {
        match self {
            AddrSpec::Any => true,
            AddrSpec::Set(s) => s.contains_v4(addr),
        }
    }

    /// Whether an IPv6 address matches.
    #[inline]
    pub fn matches_v6(&self, addr: [u8; 16]) -> bool {
        match self {
            AddrSpec::Any => true,
            AddrSpec::Set(s) => s.contains_v6(addr),
        }
    }
}

/// Evaluates an address expression into a set.
fn eval(text: &str, vars: &Variables, depth: usize) -> Result<IpSet, ParseError> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('!') {
        let inner = eval(rest, vars, depth)?;
        if inner.is_all() {
            return Err(ParseError::new(format!(
                "{text:?} negates every address (!any is not allowed)"
            )));
        }
        return Ok(IpSet::all().minus(&inner));
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| ParseError::new(format!("address list {text:?} is not closed")))?;
        return eval_list(inner, vars, depth);
    }
    if let Some(name) = text.strip_prefix('$') {
        let value = vars.resolve(name, depth)?;
        return eval(&value, vars, depth + 1);
    }
    if text.eq_ignore_ascii_case("any") {
        return Ok(IpSet::all());
    }
    single(text)
}

/// Evaluates the items of a bracketed list.
fn eval_list(text: &str, vars: &Variables, depth: usize) -> Result<IpSet, ParseError> {
    let mut positive: Option<IpSet> = None;
    let mut negative = IpSet::default();
    for item in split_items(text)? {
        if let Some(rest) = item.strip_prefix('!') {
            let set = eval(rest, vars, depth)?;
            negative = negative.union(&set);
        } else {
            let set = eval(item, vars, depth)?;
            positive = Some(match positive {
                Some(p) => p.union(&set),
                None => set,
            });
        }
    }
    let base = positive.unwrap_or_else(IpSet::all);
    Ok(base.minus(&negative))
}

/// Splits a list body at top-level commas (brackets nest).
pub(crate) fn split_items(text: &str) -> Result<Vec<&str>, ParseError> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth < 0 {
                    return Err(ParseError::new(format!("unbalanced ']' in {text:?}")));
                }
            }
            b',' if depth == 0 => {
                push_item(&text[start..i], &mut out);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(ParseError::new(format!("unbalanced '[' in {text:?}")));
    }
    push_item(&text[start..], &mut out);
    if out.is_empty() {
        return Err(ParseError::new("empty list"));
    }
    Ok(out)
}

fn push_item<'a>(s: &'a str, out: &mut Vec<&'a str>) {
    let s = s.trim();
    if !s.is_empty() {
        out.push(s);
    }
}

/// One address or CIDR block.
fn single(text: &str) -> Result<IpSet, ParseError> {
    let (addr, prefix) = match split_unquoted(text, b'/') {
        Some((a, p)) => (a.trim(), Some(p.trim())),
        None => (text, None),
    };
    let bad = || ParseError::new(format!("bad address {text:?}"));
    if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        let bits: u32 = match prefix {
            Some(p) => p.parse().ok().filter(|&b| b <= 32).ok_or_else(bad)?,
            None => 32,
        };
        let base = u32::from(v4);
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        let lo = base & mask;
        return Ok(IpSet {
            v4: vec![(lo, lo | !mask)],
            v6: Vec::new(),
        });
    }
    if let Ok(v6) = addr.parse::<Ipv6Addr>() {
        let bits: u32 = match prefix {
            Some(p) => p.parse().ok().filter(|&b| b <= 128).ok_or_else(bad)?,
            None => 128,
        };
        let base = u128::from(v6);
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - bits)
        };
        let lo = base & mask;
        return Ok(IpSet {
            v4: Vec::new(),
            v6: vec![(lo, lo | !mask)],
        });
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> AddrSpec {
        AddrSpec::parse(s, &Variables::default()).unwrap()
    }

    #[test]
    fn any_and_variables() {
        assert!(spec("any").is_any());
        assert!(spec("$HOME_NET").is_any());
        assert!(spec("[$EXTERNAL_NET,$HOME_NET]").is_any());
        assert!(AddrSpec::parse("!any", &Variables::default()).is_err());
        assert!(AddrSpec::parse("!$HOME_NET", &Variables::default()).is_err());
        assert!(AddrSpec::parse("$NOPE", &Variables::default()).is_err());
    }

    #[test]
    fn lists_with_negation() {
        let s = spec("[10.0.0.0/8,!10.1.0.0/16, 192.168.1.1]");
        assert!(s.matches_v4([10, 2, 3, 4]));
        assert!(!s.matches_v4([10, 1, 3, 4]));
        assert!(s.matches_v4([192, 168, 1, 1]));
        assert!(!s.matches_v4([192, 168, 1, 2]));
        assert!(!s.matches_v6([0; 16]));
        let n = spec("![1.2.3.4,[5.6.7.0/24]]");
        assert!(!n.matches_v4([5, 6, 7, 9]));
        assert!(n.matches_v4([5, 6, 8, 9]));
        assert!(n.matches_v6([1; 16]));
        let e = spec("[$EXTERNAL_NET,!255.255.255.255]");
        assert!(e.matches_v4([1, 2, 3, 4]));
        assert!(!e.matches_v4([255; 4]));
    }

    #[test]
    fn ipv6_blocks() {
        let s = spec("[2001:db8::/32,::1]");
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        assert!(s.matches_v6(a));
        assert!(!s.matches_v4([32, 1, 13, 184]));
        assert!(AddrSpec::parse("1.2.3.4/33", &Variables::default()).is_err());
        assert!(AddrSpec::parse("[1.2.3.4", &Variables::default()).is_err());
    }

    #[test]
    fn range_arithmetic() {
        assert_eq!(
            normalize(vec![(5u32, 9), (1, 3), (4, 4), (20, 30)]),
            vec![(1, 9), (20, 30)]
        );
        assert_eq!(
            subtract(&[(0u32, 100)], &[(10, 20), (50, 60), (90, 200)]),
            vec![(0, 9), (21, 49), (61, 89)]
        );
        assert!(subtract(&[(0u16, 10)], &[(0, 10)]).is_empty());
    }
}
