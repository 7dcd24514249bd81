//! Decoding `content` strings: literal text with `|hex bytes|` and backslash escapes.

use super::ParseError;

/// Decodes the text between a content's quotes: `abc|0D 0A|def`, `\"`, `\\`, `\;`,
/// `\:`, `\|`. Hex blocks may separate bytes with spaces or not (`|0d0a|`).
pub fn decode(text: &str) -> Result<Vec<u8>, ParseError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0usize;
    let mut in_hex = false;
    let mut nibble: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if in_hex {
            match b {
                b'|' => {
                    if nibble.is_some() {
                        return Err(ParseError::new(format!(
                            "odd number of hex digits in content {text:?}"
                        )));
                    }
                    in_hex = false;
                }
                b' ' | b'\t' => {
                    if nibble.is_some() {
                        return Err(ParseError::new(format!(
                            "hex byte split by a space in content {text:?}"
                        )));
                    }
                }
                _ => {
                    let v = hex_value(b).ok_or_else(|| {
                        ParseError::new(format!(
                            "bad hex digit {:?} in content {text:?}",
                            char::from(b)
                        ))
                    })?;
                    nibble = match nibble {
                        Some(hi) => {
                            out.push(hi << 4 | v);
                            None
                        }
                        None => Some(v),
                    };
                }
            }
            i += 1;
            continue;
        }
        match b {
            b'|' => in_hex = true,
            b'\\' => {
                let next = *bytes.get(i + 1).ok_or_else(|| {
                    ParseError::new(format!("content {text:?} ends with a backslash"))
                })?;
                out.push(next);
                i += 1;
            }
            b'"' => {
                return Err(ParseError::new(format!(
                    "unescaped quote in content {text:?}"
                )));
            }
            _ => out.push(b),
        }
        i += 1;
    }
    if in_hex {
        return Err(ParseError::new(format!(
            "hex block not closed in content {text:?}"
        )));
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn literal_hex_and_escapes() {
        assert_eq!(decode("a|0D 0a|b").unwrap(), b"a\r\nb");
        assert_eq!(decode("|ff|SMB|32 00|").unwrap(), b"\xffSMB\x32\x00");
        assert_eq!(decode("|0d0a|").unwrap(), b"\r\n");
        assert_eq!(decode(r#"x\"y\\z\;\:\|"#).unwrap(), b"x\"y\\z;:|");
        assert_eq!(decode("").unwrap(), b"");
    }

    #[test]
    fn rejects_bad_hex() {
        assert!(decode("|0g|").is_err());
        assert!(decode("|0d 0|").is_err());
        assert!(decode("|0 d|").is_err());
        assert!(decode("|0d").is_err());
        assert!(decode("ab\\").is_err());
        assert!(decode("a\"b").is_err());
    }
}
