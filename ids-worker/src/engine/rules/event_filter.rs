//! Event filters given outside the rules: Snort 3's `event_filter = { {...}, ... }` Lua
//! table, and Snort 2's `event_filter gen_id G, sig_id S, ...` lines.

use super::ParseError;
use super::numbers::u32_of;
use super::options::event_filter;
use super::rule::EventFilter;

/// An event filter for one rule (or, with `sid` 0, every rule of a generator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterEntry {
    /// Generator id.
    pub gid: u32,
    /// Signature id; 0 applies to every rule of the generator.
    pub sid: u32,
    /// The filter.
    pub filter: EventFilter,
}

/// Parses the `event_filter` table of a Snort 3 Lua configuration file.
///
/// Only the table literal is read (strings, numbers, nested tables, `--` comments);
/// nothing is executed.
pub fn parse_lua(text: &str) -> Result<Vec<FilterEntry>, ParseError> {
    let tokens = lua_tokens(text)?;
    let start = tokens
        .windows(3)
        .position(|w| {
            w[0] == Tok::Ident("event_filter".into()) && w[1] == Tok::Eq && w[2] == Tok::Open
        })
        .ok_or_else(|| ParseError::new("no 'event_filter = {' table"))?;
    let mut i = start + 3;
    let mut out = Vec::new();
    loop {
        match tokens.get(i) {
            Some(Tok::Close) => break,
            Some(Tok::Comma) => i += 1,
            Some(Tok::Open) => {
                let (entry, next) = lua_entry(&tokens, i + 1)?;
                out.push(entry);
                i = next;
            }
            Some(t) => return Err(ParseError::new(format!("unexpected {t:?} in event_filter"))),
            None => return Err(ParseError::new("event_filter table is not closed")),
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Eq,
    Open,
    Close,
    Comma,
}

fn lua_tokens(text: &str) -> Result<Vec<Tok>, ParseError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'=' => {
                out.push(Tok::Eq);
                i += 1;
            }
            b'{' => {
                out.push(Tok::Open);
                i += 1;
            }
            b'}' => {
                out.push(Tok::Close);
                i += 1;
            }
            b',' | b';' => {
                out.push(Tok::Comma);
                i += 1;
            }
            b'\'' | b'"' => {
                let end = b[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .ok_or_else(|| ParseError::new("unterminated string"))?;
                out.push(Tok::Str(
                    String::from_utf8_lossy(&b[i + 1..i + 1 + end]).into_owned(),
                ));
                i += end + 2;
            }
            c if c.is_ascii_whitespace() => i += 1,
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                {
                    i += 1;
                }
                let word = String::from_utf8_lossy(&b[start..i]).into_owned();
                out.push(if c.is_ascii_digit() {
                    Tok::Num(word)
                } else {
                    Tok::Ident(word)
                });
            }
            _ => {
                // Other Lua (calls, operators) outside the table is skipped.
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Reads `key = value, ...}` from `i`; returns the entry and the index after `}`.
fn lua_entry(tokens: &[Tok], mut i: usize) -> Result<(FilterEntry, usize), ParseError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        match (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2)) {
            (Some(Tok::Close), _, _) => {
                i += 1;
                break;
            }
            (Some(Tok::Comma), _, _) => i += 1,
            (Some(Tok::Ident(k)), Some(Tok::Eq), Some(Tok::Str(v) | Tok::Num(v))) => {
                fields.push((k.clone(), v.clone()));
                i += 3;
            }
            (t, _, _) => {
                return Err(ParseError::new(format!(
                    "unexpected {t:?} in an event_filter entry"
                )));
            }
        }
    }
    let text: Vec<String> = fields
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "type" | "track" | "count" | "seconds"))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let filter = event_filter(&text.join(","))?;
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let gid = get("gid")
        .map(|v| u32_of(v, "gid"))
        .transpose()?
        .unwrap_or(1);
    let sid = get("sid")
        .map(|v| u32_of(v, "sid"))
        .transpose()?
        .unwrap_or(0);
    Ok((FilterEntry { gid, sid, filter }, i))
}

/// Parses a Snort 2 line `event_filter gen_id G, sig_id S, type T, track K, count C,
/// seconds N` (or the older `threshold gen_id ...`).
pub fn parse_snort2_line(rest: &str) -> Result<FilterEntry, ParseError> {
    let mut gid = 1;
    let mut sid = 0;
    let mut filter_items = Vec::new();
    for item in rest.split(',') {
        let item = item.trim();
        if let Some(v) = item.strip_prefix("gen_id") {
            gid = u32_of(v, "gen_id")?;
        } else if let Some(v) = item.strip_prefix("sig_id") {
            sid = u32_of(v, "sig_id")?;
        } else if !item.is_empty() {
            filter_items.push(item);
        }
    }
    Ok(FilterEntry {
        gid,
        sid,
        filter: event_filter(&filter_items.join(","))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rules::rule::{EventFilterKind, Track};

    #[test]
    fn lua_table() {
        let text = "-- header\nevent_filter =\n{\n  {\n    type = 'limit', count = 1,\n    \
                    track = 'by_src', seconds = 30, sid = 2032469, gid = 1,\n  },\n  \
                    { type = \"both\", track = 'by_dst', count = 10, seconds = 1, sid = 5 },\n  \
                    --option change\n}\n";
        let f = parse_lua(text).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].sid, 2032469);
        assert_eq!(f[0].filter.kind, EventFilterKind::Limit);
        assert_eq!(f[0].filter.seconds, 30);
        assert_eq!(f[1].filter.track, Track::ByDst);
        assert!(parse_lua("x = {}").is_err());
        assert!(parse_lua("event_filter = { { type = 'limit' }").is_err());
    }

    #[test]
    fn snort2_line() {
        let e =
            parse_snort2_line("gen_id 1, sig_id 42, type limit, track by_src, count 1, seconds 60")
                .unwrap();
        assert_eq!((e.gid, e.sid, e.filter.count), (1, 42, 1));
    }
}
