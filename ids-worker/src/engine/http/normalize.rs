//! URI normalization for `http_uri`: percent-decoding, `+` to space in the query,
//! backslashes to slashes, and path simplification (`//`, `/./`, `/../`).

/// Normalizes a request target the way Snort's HTTP inspector does by default.
pub fn uri(raw: &[u8]) -> Vec<u8> {
    // Absolute-form targets (`http://host/path`) keep their scheme and authority.
    let (prefix, rest) = split_authority(raw);
    let (path, query) = match rest.iter().position(|&b| b == b'?') {
        Some(q) => (&rest[..q], Some(&rest[q + 1..])),
        None => (rest, None),
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(prefix);
    let decoded_path: Vec<u8> = percent_decode(path)
        .into_iter()
        .map(|b| if b == b'\\' { b'/' } else { b })
        .collect();
    simplify_path(&decoded_path, &mut out);
    if let Some(q) = query {
        out.push(b'?');
        out.extend(
            percent_decode(q)
                .into_iter()
                .map(|b| if b == b'+' { b' ' } else { b }),
        );
    }
    out
}

/// Splits `scheme://authority` off an absolute-form target.
fn split_authority(raw: &[u8]) -> (&[u8], &[u8]) {
    let Some(p) = raw.windows(3).position(|w| w == b"://") else {
        return (&[], raw);
    };
    if raw[..p].iter().any(|&b| !b.is_ascii_alphabetic()) {
        return (&[], raw);
    }
    let after = p + 3;
    match raw[after..].iter().position(|&b| b == b'/') {
        Some(s) => raw.split_at(after + s),
        None => (raw, &[]),
    }
}

/// Replaces `%XX` escapes (valid hex only) by their byte.
pub fn percent_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%'
            && let (Some(h), Some(l)) = (
                text.get(i + 1).and_then(|&b| hex(b)),
                text.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// Collapses repeated slashes and resolves `.` and `..` segments of `path` into `out`.
fn simplify_path(path: &[u8], out: &mut Vec<u8>) {
    if path.is_empty() {
        return;
    }
    let absolute = path[0] == b'/';
    let mut segments: Vec<&[u8]> = Vec::new();
    let parts: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    let last = parts.len() - 1;
    let mut trailing_slash = false;
    for (i, seg) in parts.iter().enumerate() {
        match *seg {
            b"" => trailing_slash = i == last && i > 0,
            b"." => trailing_slash = i == last,
            b".." => {
                segments.pop();
                trailing_slash = i == last;
            }
            s => {
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    if absolute {
        out.push(b'/');
    }
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(s);
    }
    if trailing_slash && !segments.is_empty() {
        out.push(b'/');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(uri(b"/a/./b//c/../d"), b"/a/b/d");
        assert_eq!(uri(b"/../../etc/passwd"), b"/etc/passwd");
        assert_eq!(uri(b"/%2e%2e/x%41?q=a+b%3d"), b"/xA?q=a b=");
        assert_eq!(uri(b"/dir/"), b"/dir/");
        assert_eq!(uri(b"\\win\\path"), b"/win/path");
        assert_eq!(uri(b"/bad%zz"), b"/bad%zz");
        assert_eq!(uri(b"http://h.example/a/../b"), b"http://h.example/b");
        assert_eq!(uri(b""), b"");
        assert_eq!(uri(b"*"), b"*");
    }
}
