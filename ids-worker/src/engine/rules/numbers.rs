//! Numbers and numeric comparisons in rule options.

use super::ParseError;
use super::rule::{RangeCheck, RangeKind};

/// Parses a decimal, `0x` hexadecimal or negative integer.
pub fn int(text: &str) -> Result<i64, ParseError> {
    let t = text.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b.trim()),
        None => (false, t.strip_prefix('+').unwrap_or(t).trim()),
    };
    let value = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16)
    } else {
        body.parse::<i64>()
    }
    .map_err(|_| ParseError::new(format!("bad number {t:?}")))?;
    Ok(if neg { -value } else { value })
}

/// Parses an integer that must lie in `lo..=hi`.
pub fn int_in(text: &str, lo: i64, hi: i64, what: &str) -> Result<i64, ParseError> {
    let v = int(text)?;
    if v < lo || v > hi {
        return Err(ParseError::new(format!(
            "{what} {v} is out of range {lo}..{hi}"
        )));
    }
    Ok(v)
}

/// Parses an unsigned 32-bit number.
pub fn u32_of(text: &str, what: &str) -> Result<u32, ParseError> {
    int_in(text, 0, i64::from(u32::MAX), what).map(|v| v as u32)
}

/// Parses a numeric comparison: `N`, `=N`, `!N`, `!=N`, `<N`, `<=N`, `>N`, `>=N`,
/// `N<>M` (exclusive) or `N<=>M` (inclusive), spaces allowed.
pub fn range(text: &str) -> Result<RangeCheck, ParseError> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bad = || ParseError::new(format!("bad numeric comparison {text:?}"));
    if let Some((a, b)) = t.split_once("<=>") {
        let (a, b) = (int(a)?, int(b)?);
        if a > b {
            return Err(bad());
        }
        return Ok(RangeCheck {
            kind: RangeKind::BetweenInclusive,
            a,
            b,
        });
    }
    if let Some((a, b)) = t.split_once("<>") {
        if !a.is_empty() {
            let (a, b) = (int(a)?, int(b)?);
            if a > b {
                return Err(bad());
            }
            return Ok(RangeCheck {
                kind: RangeKind::Between,
                a,
                b,
            });
        }
    }
    let (kind, rest) = if let Some(r) = t.strip_prefix("<=") {
        (RangeKind::Le, r)
    } else if let Some(r) = t.strip_prefix(">=") {
        (RangeKind::Ge, r)
    } else if let Some(r) = t.strip_prefix("!=") {
        (RangeKind::Ne, r)
    } else if let Some(r) = t.strip_prefix('<') {
        (RangeKind::Lt, r)
    } else if let Some(r) = t.strip_prefix('>') {
        (RangeKind::Gt, r)
    } else if let Some(r) = t.strip_prefix('!') {
        (RangeKind::Ne, r)
    } else if let Some(r) = t.strip_prefix('=') {
        (RangeKind::Eq, r)
    } else {
        (RangeKind::Eq, t.as_str())
    };
    if rest.is_empty() {
        return Err(bad());
    }
    Ok(RangeCheck {
        kind,
        a: int(rest)?,
        b: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(int("42").unwrap(), 42);
        assert_eq!(int("-33").unwrap(), -33);
        assert_eq!(int("0x8150").unwrap(), 0x8150);
        assert_eq!(int(" 0XfF ").unwrap(), 255);
        assert!(int("1e3").is_err());
        assert!(int("").is_err());
        assert!(int_in("300", 0, 255, "ttl").is_err());
    }

    #[test]
    fn comparisons() {
        assert!(range("5").unwrap().test(5));
        assert!(range("<5").unwrap().test(4) && !range("<5").unwrap().test(5));
        assert!(range(">= 5").unwrap().test(5));
        assert!(range("!5").unwrap().test(6) && !range("!=5").unwrap().test(5));
        let ex = range("1<>5").unwrap();
        assert!(ex.test(2) && !ex.test(1) && !ex.test(5));
        let inc = range("1<=>5").unwrap();
        assert!(inc.test(1) && inc.test(5) && !inc.test(6));
        assert!(range("5<>1").is_err());
        assert!(range("<").is_err());
        assert!(range("x").is_err());
    }
}
