//! Parsing an HTTP/1.x header section (start line and header fields) into the
//! buffers rules look at.

use super::normalize;
use crate::engine::rules::Buffer;

/// The buffers of one HTTP message's header section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpBuffers {
    /// A request (true) or a response.
    pub request: bool,
    /// `http_method`.
    pub method: Vec<u8>,
    /// `http_raw_uri`.
    pub raw_uri: Vec<u8>,
    /// `http_uri` (normalized).
    pub uri: Vec<u8>,
    /// `http_version`.
    pub version: Vec<u8>,
    /// `http_stat_code`.
    pub stat_code: Vec<u8>,
    /// `http_stat_msg`.
    pub stat_msg: Vec<u8>,
    /// `http_raw_request` / `http_raw_status`: the start line.
    pub start_line: Vec<u8>,
    /// `http_header`: `Name: value\r\n` lines, without cookies.
    pub header: Vec<u8>,
    /// `http_raw_header`: the header lines as sent.
    pub raw_header: Vec<u8>,
    /// `http_cookie`: the `Cookie` (request) or `Set-Cookie` (response) values.
    pub cookie: Vec<u8>,
    /// `http_raw_cookie`: the same, as sent.
    pub raw_cookie: Vec<u8>,
    /// Each header field: lower-case name and value.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl HttpBuffers {
    /// The bytes of an HTTP header-section buffer, if this message has it.
    pub fn get(&self, buffer: Buffer) -> Option<&[u8]> {
        let r = self.request;
        let b: &[u8] = match buffer {
            Buffer::HttpMethod if r => &self.method,
            Buffer::HttpUri if r => &self.uri,
            Buffer::HttpRawUri if r => &self.raw_uri,
            Buffer::HttpRawRequest if r => &self.start_line,
            Buffer::HttpStatCode if !r => &self.stat_code,
            Buffer::HttpStatMsg if !r => &self.stat_msg,
            Buffer::HttpRawStatus if !r => &self.start_line,
            Buffer::HttpVersion => &self.version,
            Buffer::HttpHeader => &self.header,
            Buffer::HttpRawHeader => &self.raw_header,
            Buffer::HttpCookie if !self.cookie.is_empty() => &self.cookie,
            Buffer::HttpRawCookie if !self.raw_cookie.is_empty() => &self.raw_cookie,
            _ => return None,
        };
        Some(b)
    }

    /// The value of header field `name` (lower case), if present.
    pub fn field(&self, name: &[u8]) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The value of header `name` (lower case) as text.
    pub fn field_str(&self, name: &[u8]) -> Option<&str> {
        self.field(name).and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// Why a header section is not HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotHttp {
    /// The start line is not a request or status line.
    StartLine,
}

/// Parses a header section (without its final blank line). `request` says which
/// side sent it.
pub fn parse_header_section(section: &[u8], request: bool) -> Result<HttpBuffers, NotHttp> {
    let mut lines = section.split(|&b| b == b'\n').map(trim_cr);
    let start = lines.next().unwrap_or_default();
    let mut m = HttpBuffers {
        request,
        start_line: start.to_vec(),
        ..HttpBuffers::default()
    };
    if request {
        parse_request_line(start, &mut m)?;
    } else {
        parse_status_line(start, &mut m)?;
    }
    let header_start = section
        .iter()
        .position(|&b| b == b'\n')
        .map_or(section.len(), |p| p + 1);
    m.raw_header = section[header_start..].to_vec();
    let cookie_name: &[u8] = if request { b"cookie" } else { b"set-cookie" };
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(c) => (&line[..c], trim_ws(&line[c + 1..])),
            None => (line, &b""[..]),
        };
        let lower = name.trim_ascii().to_ascii_lowercase();
        if lower == cookie_name {
            if !m.cookie.is_empty() {
                m.cookie.extend_from_slice(b"; ");
                m.raw_cookie.extend_from_slice(b"; ");
            }
            m.cookie.extend_from_slice(value);
            m.raw_cookie.extend_from_slice(value);
        } else {
            m.header.extend_from_slice(name.trim_ascii());
            m.header.extend_from_slice(b": ");
            m.header.extend_from_slice(value);
            m.header.extend_from_slice(b"\r\n");
        }
        m.fields.push((lower, value.to_vec()));
    }
    Ok(m)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ws(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// Whether `m` looks like a request method: 1 to 24 upper-case letters, `-` or `_`.
pub fn is_method(m: &[u8]) -> bool {
    !m.is_empty()
        && m.len() <= 24
        && m.iter()
            .all(|&b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
}

fn parse_request_line(line: &[u8], m: &mut HttpBuffers) -> Result<(), NotHttp> {
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let method = parts.next().ok_or(NotHttp::StartLine)?;
    if !is_method(method) {
        return Err(NotHttp::StartLine);
    }
    let target = parts.next().ok_or(NotHttp::StartLine)?;
    let version = parts.next();
    if let Some(v) = version
        && !v.starts_with(b"HTTP/")
    {
        return Err(NotHttp::StartLine);
    }
    m.method = method.to_vec();
    m.raw_uri = target.to_vec();
    m.uri = normalize::uri(target);
    m.version = version.unwrap_or(b"HTTP/0.9").to_vec();
    Ok(())
}

fn parse_status_line(line: &[u8], m: &mut HttpBuffers) -> Result<(), NotHttp> {
    if !line.starts_with(b"HTTP/") {
        return Err(NotHttp::StartLine);
    }
    let mut parts = line.splitn(3, |&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(NotHttp::StartLine);
    }
    m.version = version.to_vec();
    m.stat_code = code.to_vec();
    m.stat_msg = parts.next().unwrap_or_default().to_vec();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_section() {
        let s = b"GET /a/../b%41?x=1 HTTP/1.1\r\nHost: example\r\nCookie: id=7\r\nUser-Agent:  curl/8 \r\n";
        let m = parse_header_section(s, true).unwrap();
        assert_eq!(m.method, b"GET");
        assert_eq!(m.raw_uri, b"/a/../b%41?x=1");
        assert_eq!(m.uri, b"/bA?x=1");
        assert_eq!(m.header, b"Host: example\r\nUser-Agent: curl/8\r\n");
        assert_eq!(m.cookie, b"id=7");
        assert_eq!(m.field(b"user-agent"), Some(&b"curl/8"[..]));
        assert!(m.get(Buffer::HttpStatCode).is_none());
        assert!(m.raw_header.starts_with(b"Host: example\r\n"));
    }

    #[test]
    fn response_section() {
        let m = parse_header_section(b"HTTP/1.1 403 Forbidden\r\nSet-Cookie: a=b", false).unwrap();
        assert_eq!(m.stat_code, b"403");
        assert_eq!(m.stat_msg, b"Forbidden");
        assert_eq!(m.get(Buffer::HttpCookie), Some(&b"a=b"[..]));
        assert!(m.get(Buffer::HttpUri).is_none());
    }

    #[test]
    fn not_http() {
        assert!(parse_header_section(b"\x16\x03\x01", true).is_err());
        assert!(parse_header_section(b"get / HTTP/1.1", true).is_err());
        assert!(parse_header_section(b"HTTP/1.1 2000 OK", false).is_err());
        assert!(parse_header_section(b"GET / FTP/1.0", true).is_err());
        assert!(parse_header_section(b"", false).is_err());
    }
}
