//! Plausible bodies of an exact length: text, HTML, CSS, JavaScript, JSON and random
//! binary, plus the date formats that HTTP and X.509 use.

use crate::rng::Rng;

/// Common English words for text bodies; none of them spells an attack marker.
pub(crate) const WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by",
    "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there",
    "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other",
    "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make", "like",
    "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number", "no",
    "way", "could", "people", "my", "than", "first", "water", "been", "call", "who", "oil", "its",
    "now", "find", "long", "down", "day", "did", "get", "come", "made", "may", "part", "network",
    "packet", "server", "market", "garden", "weather", "travel", "music", "report", "update",
    "family", "river", "mountain", "city", "history", "science", "energy",
];

/// Words separated by spaces with a newline roughly every 72 characters, exactly `len`
/// bytes long.
pub(crate) fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    push_text(rng, &mut out, len, true);
    out
}

/// Appends exactly `len` bytes of words to `out`; `newlines` allows line breaks.
pub(crate) fn push_text(rng: &mut Rng, out: &mut Vec<u8>, len: usize, newlines: bool) {
    let end = out.len() + len;
    let mut line = 0;
    while out.len() < end {
        let left = end - out.len();
        let w = rng.pick(WORDS).as_bytes();
        if w.len() < left {
            out.extend_from_slice(w);
            line += w.len() + 1;
            out.push(if newlines && line > 72 {
                line = 0;
                b'\n'
            } else {
                b' '
            });
        } else {
            out.extend_from_slice(&w[..left.min(w.len())]);
            while out.len() < end {
                out.push(b'.');
            }
        }
    }
}

/// Letters and digits, exactly `len` of them (tokens, cookie values, ids).
pub(crate) fn token(rng: &mut Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len).map(|_| char::from(*rng.pick(ALPHABET))).collect()
}

/// Lower-case hexadecimal, exactly `len` digits.
pub(crate) fn hex(rng: &mut Rng, len: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..len).map(|_| char::from(*rng.pick(HEX))).collect()
}

/// An HTML page of exactly `len` bytes, or `None` if `len` is too short for one.
pub(crate) fn html(rng: &mut Rng, len: usize, title: &str) -> Option<Vec<u8>> {
    let head = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n</head>\n<body>\n"
    );
    let tail = "</body>\n</html>\n";
    if len < head.len() + tail.len() {
        return None;
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(head.as_bytes());
    let body_end = len - tail.len();
    let mut n = 0;
    while out.len() < body_end {
        let left = body_end - out.len();
        if left < 12 {
            out.resize(body_end, b'\n');
            break;
        }
        let (open, close) = match n % 5 {
            0 => ("<h2>".to_string(), "</h2>\n"),
            4 => (
                format!("<a href=\"/page/{}\">", rng.range(1, 999)),
                "</a>\n",
            ),
            _ => ("<p>".to_string(), "</p>\n"),
        };
        n += 1;
        let overhead = open.len() + close.len();
        if left < overhead + 1 {
            out.resize(body_end, b'\n');
            break;
        }
        let inner = if n % 5 == 1 {
            rng.range(10, 40) as usize
        } else {
            rng.range(40, 400) as usize
        }
        .min(left - overhead);
        out.extend_from_slice(open.as_bytes());
        push_text(rng, &mut out, inner, false);
        out.extend_from_slice(close.as_bytes());
    }
    out.extend_from_slice(tail.as_bytes());
    debug_assert_eq!(out.len(), len);
    Some(out)
}

/// Valid JSON of exactly `len` bytes, or `None` if `len` is below 8.
pub(crate) fn json(rng: &mut Rng, len: usize) -> Option<Vec<u8>> {
    if len < 8 {
        return None;
    }
    let mut out = String::with_capacity(len);
    if len < 64 {
        out.push_str("{\"n\":\"");
    } else {
        out.push_str(&format!(
            "{{\"id\":{},\"status\":\"ok\",\"items\":[",
            rng.range(1, 99_999)
        ));
        let mut first = true;
        loop {
            let item = format!(
                "{}{{\"id\":{},\"name\":\"{}\",\"price\":{}.{:02},\"stock\":{}}}",
                if first { "" } else { "," },
                rng.range(1, 99_999),
                rng.pick(WORDS),
                rng.range(1, 999),
                rng.below(100),
                rng.below(500),
            );
            // Leave room for `],"note":""}`.
            if out.len() + item.len() + 12 > len {
                break;
            }
            out.push_str(&item);
            first = false;
        }
        out.push_str("],\"note\":\"");
    }
    let fill = len - out.len() - 2;
    let mut bytes = out.into_bytes();
    push_text(rng, &mut bytes, fill, false);
    bytes.extend_from_slice(b"\"}");
    debug_assert_eq!(bytes.len(), len);
    Some(bytes)
}

/// Style-sheet-looking text of exactly `len` bytes.
pub(crate) fn css(rng: &mut Rng, len: usize) -> Vec<u8> {
    lines(rng, len, |rng| {
        format!(
            ".{}-{} {{ margin: {}px {}px; color: #{}; }}",
            rng.pick(WORDS),
            rng.range(1, 99),
            rng.below(32),
            rng.below(32),
            hex(rng, 6)
        )
    })
}

/// Script-looking text of exactly `len` bytes.
pub(crate) fn javascript(rng: &mut Rng, len: usize) -> Vec<u8> {
    lines(rng, len, |rng| {
        format!(
            "var {}{} = function(a, b) {{ return a * {} + b; }};",
            rng.pick(WORDS),
            rng.range(1, 999),
            rng.range(2, 99)
        )
    })
}

fn lines(rng: &mut Rng, len: usize, mut line: impl FnMut(&mut Rng) -> String) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let l = line(rng);
        let left = len - out.len();
        if l.len() < left {
            out.extend_from_slice(l.as_bytes());
            out.push(b'\n');
        } else {
            out.resize(len - 1, b' ');
            out.push(b'\n');
        }
    }
    out.truncate(len);
    out
}

/// Random bytes (compressed or encrypted content).
pub(crate) fn binary(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    rng.extend(&mut out, len);
    out
}

/// Days since 1970-01-01 to (year, month, day) (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An HTTP date (IMF-fixdate), e.g. `Mon, 01 Jan 2024 00:00:00 GMT`.
pub(crate) fn http_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// An ASN.1 UTCTime string, e.g. `240101000000Z`.
pub(crate) fn utc_time(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil(days);
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        y % 100,
        m,
        d,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_lengths() {
        let mut rng = Rng::new(1);
        for len in [0, 1, 2, 5, 7, 8, 13, 63, 64, 65, 100, 777, 5000] {
            assert_eq!(text(&mut rng, len).len(), len);
            assert_eq!(css(&mut rng, len).len(), len);
            assert_eq!(javascript(&mut rng, len).len(), len);
            assert_eq!(binary(&mut rng, len).len(), len);
            if let Some(h) = html(&mut rng, len, "Title") {
                assert_eq!(h.len(), len);
            }
            if let Some(j) = json(&mut rng, len) {
                assert_eq!(j.len(), len);
            }
        }
        assert!(html(&mut rng, 10, "x").is_none());
        assert!(json(&mut rng, 7).is_none());
    }

    #[test]
    fn json_is_well_formed() {
        let mut rng = Rng::new(2);
        for len in [8, 20, 63, 64, 80, 200, 1000, 4096] {
            let j = json(&mut rng, len).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&j)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&j)));
            assert!(v.is_object());
        }
    }

    #[test]
    fn dates() {
        assert_eq!(http_date(1_704_067_200), "Mon, 01 Jan 2024 00:00:00 GMT");
        assert_eq!(http_date(1_709_210_096), "Thu, 29 Feb 2024 12:34:56 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(utc_time(1_704_067_200), "240101000000Z");
    }
}
