//! Single-pattern search for `content`: exact (memchr's memmem) or ASCII
//! case-insensitive.

use memchr::memmem;

/// A compiled content pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    bytes: Box<[u8]>,
    nocase: bool,
    finder: Option<memmem::Finder<'static>>,
    /// For case-insensitive search: the pattern byte to scan for with memchr (the
    /// rarest-looking one) and its position.
    anchor: Option<(usize, u8, u8)>,
}

impl Pattern {
    /// Compiles `bytes` (case-insensitive when `nocase`).
    pub fn new(bytes: &[u8], nocase: bool) -> Pattern {
        let nocase = nocase && bytes.iter().any(u8::is_ascii_alphabetic);
        let bytes: Box<[u8]> = bytes.into();
        if nocase {
            let anchor = anchor_byte(&bytes);
            Pattern {
                bytes,
                nocase,
                finder: None,
                anchor: Some(anchor),
            }
        } else {
            let finder = memmem::Finder::new(&bytes[..]).into_owned();
            Pattern {
                bytes,
                nocase,
                finder: Some(finder),
                anchor: None,
            }
        }
    }

    /// The pattern length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the pattern is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Whether the pattern matches exactly at `at` in `hay`.
    #[inline]
    pub fn matches_at(&self, hay: &[u8], at: usize) -> bool {
        match hay.get(at..at + self.bytes.len()) {
            Some(w) if self.nocase => w.eq_ignore_ascii_case(&self.bytes),
            Some(w) => w == &self.bytes[..],
            None => false,
        }
    }

    /// The first position `p >= from` with the whole match inside `hay[..end]`.
    #[inline]
    pub fn find(&self, hay: &[u8], from: usize, end: usize) -> Option<usize> {
        let end = end.min(hay.len());
        let n = self.bytes.len();
        if from > end || end - from < n {
            return None;
        }
        let window = &hay[from..end];
        if let Some(f) = &self.finder {
            return f.find(window).map(|p| p + from);
        }
        let (offset, lo, hi) = self.anchor?;
        // Scan for the anchor byte; candidates start `offset` bytes earlier.
        let last_start = window.len() - n;
        let mut scan = offset;
        while scan <= last_start + offset {
            let hit = if lo == hi {
                memchr::memchr(lo, &window[scan..=last_start + offset])
            } else {
                memchr::memchr2(lo, hi, &window[scan..=last_start + offset])
            }?;
            let start = scan + hit - offset;
            if window[start..start + n].eq_ignore_ascii_case(&self.bytes) {
                return Some(start + from);
            }
            scan += hit + 1;
        }
        None
    }
}

/// The byte of a case-insensitive pattern to scan for: prefer a non-letter or a rare
/// letter, later bytes on ties; returns (position, lower case, upper case).
fn anchor_byte(bytes: &[u8]) -> (usize, u8, u8) {
    let score = |b: u8| -> u32 {
        match b {
            b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'E' | b'T' | b'A' | b'O'
            | b'I' | b'N' | b'S' | b'R' => 1,
            b' ' | b'0' | 0x00 | 0xff => 0,
            b if b.is_ascii_alphabetic() => 3,
            b'/' | b'.' | b'=' | b'-' | b'_' | b':' => 2,
            _ => 4,
        }
    };
    let mut best = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if score(b) >= score(bytes[best]) {
            best = i;
        }
    }
    let b = bytes[best];
    (best, b.to_ascii_lowercase(), b.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_nocase() {
        let hay = b"xxGET /Index.HTML HTTP/1.1";
        let p = Pattern::new(b"index.html", true);
        assert_eq!(p.find(hay, 0, hay.len()), Some(7));
        assert_eq!(p.find(hay, 8, hay.len()), None);
        assert_eq!(p.find(hay, 0, 16), None);
        assert_eq!(p.find(hay, 0, 17), Some(7));
        let e = Pattern::new(b"Index", false);
        assert_eq!(e.find(hay, 0, hay.len()), Some(7));
        assert!(
            Pattern::new(b"index", false)
                .find(hay, 0, hay.len())
                .is_none()
        );
        assert!(p.matches_at(hay, 7) && !p.matches_at(hay, 8));
        let bin = Pattern::new(b"\x00\xffSMB", true);
        assert_eq!(bin.find(b"\x00\x00\xffsmb", 0, 6), Some(1));
        assert_eq!(p.find(hay, 30, 10), None);
    }

    #[test]
    fn agrees_with_naive_search() {
        let hay: Vec<u8> = (0..500u32)
            .map(|i| b"aAbB/x\x00"[(i * 7 % 11 % 7) as usize])
            .collect();
        for pat in [&b"ab"[..], b"Ba/", b"x\x00a", b"bbb", b"A"] {
            for nocase in [false, true] {
                let p = Pattern::new(pat, nocase);
                for from in [0usize, 3, 17, 250] {
                    let naive = (from..hay.len().saturating_sub(pat.len() - 1)).find(|&i| {
                        let w = &hay[i..i + pat.len()];
                        if nocase {
                            w.eq_ignore_ascii_case(pat)
                        } else {
                            w == pat
                        }
                    });
                    assert_eq!(
                        p.find(&hay, from, hay.len()),
                        naive,
                        "{pat:?} {nocase} {from}"
                    );
                }
            }
        }
    }
}
