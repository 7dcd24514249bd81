//! Splitting rule files into rules, and rules into header and options.
//!
//! A rule file holds one rule per logical line. A logical line continues on the next
//! physical line when it ends with a backslash, or while the rule's option list is
//! still open (Snort 3 lets a rule span lines). `#` starts a comment line. Options are
//! separated by `;` outside double quotes; a backslash escapes the next character
//! everywhere, so `\"` and `\;` stay inside a value.

use super::ParseError;

/// One logical line of a rule file: a rule or a directive (`var`, `ipvar`, `include`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The 1-based line on which the statement starts.
    pub line: u32,
    /// The statement with continuation lines joined by a space.
    pub text: String,
}

/// Splits a rule file into statements, dropping comments and blank lines.
pub fn statements(source: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0u32;
    let mut depth = OpenState::default();
    for (index, raw) in source.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let line = raw.trim();
        if current.is_empty() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            start = number;
        } else if line.starts_with('#') {
            // A comment between the lines of an open rule: skip it.
            continue;
        }
        let (body, continued) = match line.strip_suffix('\\') {
            Some(body) => (body, true),
            None => (line, false),
        };
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(body);
        depth.scan(body);
        if !continued && !depth.open() {
            out.push(Statement {
                line: start,
                text: std::mem::take(&mut current),
            });
            depth = OpenState::default();
        }
    }
    if !current.is_empty() {
        out.push(Statement {
            line: start,
            text: current,
        });
    }
    out
}

/// Tracks whether a rule's option list is still open across lines.
#[derive(Debug, Default)]
struct OpenState {
    parens: u32,
    quoted: bool,
    escaped: bool,
}

impl OpenState {
    fn scan(&mut self, text: &str) {
        for b in text.bytes() {
            if self.escaped {
                self.escaped = false;
                continue;
            }
            match b {
                b'\\' => self.escaped = true,
                b'"' => self.quoted = !self.quoted,
                b'(' if !self.quoted => self.parens += 1,
                b')' if !self.quoted => self.parens = self.parens.saturating_sub(1),
                _ => {}
            }
        }
        // A lone backslash at the end of a physical line never escapes the newline.
        self.escaped = false;
    }

    fn open(&self) -> bool {
        self.parens > 0 || self.quoted
    }
}

/// One `name[:value]` option of a rule body, both trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// The keyword.
    pub name: &'a str,
    /// What follows the first `:` outside quotes, if there is one.
    pub value: Option<&'a str>,
}

/// Splits a rule into its header (before the option list) and its option body
/// (between the first `(` and the rule's final `)`).
pub fn header_and_body(text: &str) -> Result<(&str, &str), ParseError> {
    let open = text
        .find('(')
        .ok_or_else(|| ParseError::new("no option list: missing '('"))?;
    let trimmed = text.trim_end();
    let close = trimmed
        .strip_suffix(')')
        .map(str::len)
        .filter(|&c| c > open)
        .ok_or_else(|| ParseError::new("option list is not closed: the rule must end with ')'"))?;
    Ok((text[..open].trim(), &text[open + 1..close]))
}

/// Splits an option body into options at `;` outside quotes.
pub fn options(body: &str) -> Result<Vec<RawOption<'_>>, ParseError> {
    let mut out = Vec::new();
    let bytes = body.as_bytes();
    let mut start = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' => escaped = true,
            b'"' => quoted = !quoted,
            b';' if !quoted => {
                push_option(&body[start..i], &mut out)?;
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        // An unbalanced quote (a bare `"` inside a pcre): split the way Snort 2 does,
        // at every `;` that is not escaped.
        return options_unquoted(body);
    }
    push_option(&body[start..], &mut out)?;
    Ok(out)
}

/// Splits at every unescaped `;`, ignoring quotes; every value must still start and
/// end with its quote when it has one.
fn options_unquoted(body: &str) -> Result<Vec<RawOption<'_>>, ParseError> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut escaped = false;
    for (i, b) in body.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' => escaped = true,
            b';' => {
                push_option_raw(&body[start..i], &mut out)?;
                start = i + 1;
            }
            _ => {}
        }
    }
    push_option_raw(&body[start..], &mut out)?;
    for o in &out {
        if let Some(v) = o.value {
            let v = v.trim_start_matches('!');
            if v.contains('"') && !(v.starts_with('"') && v.ends_with('"') && v.len() > 1) {
                return Err(ParseError::new("unterminated quoted string in the options"));
            }
        }
    }
    Ok(out)
}

fn push_option_raw<'a>(text: &'a str, out: &mut Vec<RawOption<'a>>) -> Result<(), ParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let (name, value) = match text.split_once(':') {
        Some((name, value)) => (name.trim(), Some(value.trim())),
        None => (text, None),
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ParseError::new(format!("bad option name {name:?}")));
    }
    out.push(RawOption { name, value });
    Ok(())
}

fn push_option<'a>(text: &'a str, out: &mut Vec<RawOption<'a>>) -> Result<(), ParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let (name, value) = match split_unquoted(text, b':') {
        Some((name, value)) => (name.trim(), Some(value.trim())),
        None => (text, None),
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ParseError::new(format!("bad option name {name:?}")));
    }
    out.push(RawOption { name, value });
    Ok(())
}

/// Splits `text` at the first `sep` outside quotes.
pub fn split_unquoted(text: &str, sep: u8) -> Option<(&str, &str)> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' => escaped = true,
            b'"' => quoted = !quoted,
            _ if b == sep && !quoted => return Some((&text[..i], &text[i + 1..])),
            _ => {}
        }
    }
    None
}

/// Splits `text` at every `,` outside quotes, trimming the parts and dropping empty ones.
pub fn comma_list(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some((head, tail)) = split_unquoted(rest, b',') {
        push_trimmed(head, &mut out);
        rest = tail;
    }
    push_trimmed(rest, &mut out);
    out
}

fn push_trimmed<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let text = text.trim();
    if !text.is_empty() {
        out.push(text);
    }
}

/// Reads a double-quoted string at the start of `text` (after optional spaces):
/// returns the text between the quotes, with escapes still in place, and the rest.
pub fn quoted_prefix(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    let inner = text.strip_prefix('"')?;
    let mut escaped = false;
    for (i, &b) in inner.as_bytes().iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' => escaped = true,
            b'"' => return Some((&inner[..i], &inner[i + 1..])),
            _ => {}
        }
    }
    None
}

/// Removes one level of double quotes around `text`, if it has them.
pub fn unquote(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t)
}

/// Replaces the escapes `\"`, `\\`, `\;` and `\:` of a quoted rule string.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('"' | '\\' | ';' | ':')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_continuations_and_open_rules() {
        let src = "# comment\n\nalert tcp any any -> any any (msg:\"a\"; \\\n sid:1;)\n\
                   alert udp any any -> any 53 (msg:\"b\";\n  sid:2;\n)\nvar X 1\n";
        let s = statements(src);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].line, 3);
        assert!(s[0].text.contains("sid:1;"));
        assert_eq!(s[1].line, 5);
        assert!(s[1].text.ends_with(')'));
        assert_eq!(s[2].text, "var X 1");
    }

    #[test]
    fn splits_options_outside_quotes() {
        let (header, body) = header_and_body(
            r#"alert tcp any any -> any any (msg:"a;b(c)"; content:"x\"y;"; sid:3;)"#,
        )
        .unwrap();
        assert_eq!(header, "alert tcp any any -> any any");
        let opts = options(body).unwrap();
        assert_eq!(opts.len(), 3);
        assert_eq!(opts[0].value, Some("\"a;b(c)\""));
        assert_eq!(opts[1].value, Some(r#""x\"y;""#));
        assert_eq!(opts[2].name, "sid");
    }

    #[test]
    fn rejects_unclosed_lists() {
        assert!(header_and_body("alert tcp any any -> any any (msg:\"a\"").is_err());
        assert!(header_and_body("alert tcp any any -> any any").is_err());
        assert!(options("msg:\"abc").is_err());
        let odd = options(r#"pcre:"/a(%22|")b/R"; sid:1"#).unwrap();
        assert_eq!(odd.len(), 2);
    }

    #[test]
    fn quoted_prefix_and_unescape() {
        let (q, rest) = quoted_prefix(r#" "a\"b",depth 3"#).unwrap();
        assert_eq!(q, r#"a\"b"#);
        assert_eq!(rest, ",depth 3");
        assert_eq!(unescape(r#"a\"b\;c\d"#), "a\"b;c\\d");
        assert_eq!(comma_list(" a , \"b,c\" ,, d"), vec!["a", "\"b,c\"", "d"]);
    }
}
