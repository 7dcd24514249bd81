//! HTTP/1.x inspection of reassembled TCP data, in sections as Snort's HTTP inspector
//! cuts them: a message's header section (start line and headers), then its body in
//! sections of up to [`BODY_SECTION`] bytes, de-chunked. Rules see the header
//! buffers (`http_uri`, `http_header`, ...) on every section of the message, and the
//! body (`http_client_body`, `file_data`) on body sections.
//!
//! Bodies with a gzip or deflate content encoding are decompressed for `file_data`
//! ([`unzip`]). Each direction is parsed on its own; the client's request methods are
//! remembered so that responses to `HEAD` have no body. Memory is bounded: a header section
//! longer than [`MAX_HEADER_SECTION`] ends HTTP inspection of that direction
//! ([`HttpSession::aborted`]), and at most one body section is buffered.

mod message;
pub mod normalize;
pub mod unzip;

use std::collections::VecDeque;
use std::sync::Arc;

pub use message::{HttpBuffers, NotHttp, is_method, parse_header_section};
use unzip::{Decoder, Encoding};

/// Body bytes per body section.
pub const BODY_SECTION: usize = 16_384;

/// The longest header section accepted.
pub const MAX_HEADER_SECTION: usize = 65_536;

/// Requests whose responses are awaited, remembered per flow.
const MAX_PENDING_REQUESTS: usize = 64;

/// What a section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// Start line and header fields.
    Header,
    /// A piece of the message body.
    Body,
}

/// One piece of an HTTP message, ready for detection.
#[derive(Debug, Clone)]
pub struct Section {
    /// Header or body.
    pub kind: SectionKind,
    /// The message's header buffers.
    pub message: Arc<HttpBuffers>,
    /// The section's bytes as sent (chunk framing included).
    pub raw: Vec<u8>,
    /// The body bytes, de-chunked (empty for header sections).
    pub body: Vec<u8>,
    /// The body decompressed, when the message has a gzip or deflate content
    /// encoding (`file_data` then holds this).
    pub decoded: Option<Vec<u8>>,
}

impl Section {
    /// The section's `file_data`: the decompressed body, or the body.
    pub fn file_data(&self) -> &[u8] {
        self.decoded.as_deref().unwrap_or(&self.body)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Inside a chunk's data.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer lines after the last chunk.
    Trailer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a header section.
    Header,
    /// A body of known length.
    Length(u64),
    /// A chunked body.
    Chunked(Chunk),
    /// A body that lasts until the connection closes.
    UntilClose,
    /// Not HTTP (or beyond the limits): no more inspection.
    Aborted,
}

/// One direction of an HTTP conversation.
#[derive(Debug)]
struct Direction {
    request: bool,
    state: State,
    pending: Vec<u8>,
    message: Option<Arc<HttpBuffers>>,
    raw_body: Vec<u8>,
    body: Vec<u8>,
    decoder: Option<Decoder>,
}

impl Direction {
    fn new(request: bool) -> Self {
        Direction {
            request,
            state: State::Header,
            pending: Vec::new(),
            message: None,
            raw_body: Vec::new(),
            body: Vec::new(),
            decoder: None,
        }
    }
}

/// The HTTP state of one flow.
#[derive(Debug)]
pub struct HttpSession {
    client: Direction,
    server: Direction,
    methods: VecDeque<Vec<u8>>,
}

impl Default for HttpSession {
    fn default() -> Self {
        HttpSession {
            client: Direction::new(true),
            server: Direction::new(false),
            methods: VecDeque::new(),
        }
    }
}

impl HttpSession {
    /// A session with nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether inspection of one direction stopped (not HTTP, or over the limits).
    pub fn aborted(&self, from_client: bool) -> bool {
        let d = if from_client {
            &self.client
        } else {
            &self.server
        };
        d.state == State::Aborted
    }

    /// Feeds in-order data sent by the client (`from_client`) or the server, and
    /// appends the sections it completes to `out`.
    pub fn feed(&mut self, from_client: bool, data: &[u8], out: &mut Vec<Section>) {
        let (dir, methods) = if from_client {
            (&mut self.client, &mut self.methods)
        } else {
            (&mut self.server, &mut self.methods)
        };
        if dir.state == State::Aborted {
            return;
        }
        dir.pending.extend_from_slice(data);
        let mut used = 0usize;
        loop {
            let progressed = step(dir, methods, &mut used, out);
            if !progressed {
                break;
            }
        }
        dir.pending.drain(..used.min(dir.pending.len()));
    }

    /// One direction ended (its FIN was acknowledged): a body that lasts until the
    /// close, or was cut short, is handed out.
    pub fn finish(&mut self, from_client: bool, out: &mut Vec<Section>) {
        let dir = if from_client {
            &mut self.client
        } else {
            &mut self.server
        };
        if matches!(
            dir.state,
            State::Length(_) | State::Chunked(_) | State::UntilClose
        ) {
            if matches!(dir.state, State::UntilClose) {
                let rest = std::mem::take(&mut dir.pending);
                dir.raw_body.extend_from_slice(&rest);
                dir.body.extend_from_slice(&rest);
            }
            emit_body(dir, out);
            dir.state = State::Header;
        }
        dir.pending.clear();
    }

    /// Stops parsing one direction (its data went missing).
    pub fn abort(&mut self, from_client: bool) {
        let dir = if from_client {
            &mut self.client
        } else {
            &mut self.server
        };
        dir.state = State::Aborted;
        dir.pending.clear();
        dir.body.clear();
        dir.raw_body.clear();
    }
}

/// Advances one direction by one step over `dir.pending[*used..]`; returns whether
/// it made progress.
fn step(
    dir: &mut Direction,
    methods: &mut VecDeque<Vec<u8>>,
    used: &mut usize,
    out: &mut Vec<Section>,
) -> bool {
    let avail = &dir.pending[*used..];
    match dir.state {
        State::Aborted => false,
        State::Header => {
            // Blank lines between messages are skipped.
            let skip = avail
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            let avail = &avail[skip..];
            let Some((len, end)) = header_end(avail) else {
                *used += skip;
                // The section so far is at least `avail.len() - 3` bytes (the blank
                // line may be partly there).
                if avail.len() > MAX_HEADER_SECTION + 3
                    || (!avail.is_empty() && !plausible(avail, dir.request))
                {
                    dir.state = State::Aborted;
                }
                return false;
            };
            let section = &avail[..len];
            if len > MAX_HEADER_SECTION {
                dir.state = State::Aborted;
                return false;
            }
            let Ok(message) = parse_header_section(section, dir.request) else {
                dir.state = State::Aborted;
                return false;
            };
            let raw = avail[..end].to_vec();
            *used += skip + end;
            let message = Arc::new(message);
            dir.state = body_state(&message, dir.request, methods);
            if dir.request {
                if methods.len() >= MAX_PENDING_REQUESTS {
                    methods.pop_front();
                }
                methods.push_back(message.method.clone());
            }
            dir.decoder = message
                .field_str(b"content-encoding")
                .and_then(Encoding::from_header)
                .map(Decoder::new);
            out.push(Section {
                kind: SectionKind::Header,
                message: message.clone(),
                raw,
                body: Vec::new(),
                decoded: None,
            });
            dir.message = Some(message);
            true
        }
        State::Length(remaining) => {
            if avail.is_empty() {
                return false;
            }
            let room = BODY_SECTION - dir.body.len();
            let n = (avail.len() as u64).min(remaining).min(room as u64) as usize;
            dir.raw_body.extend_from_slice(&avail[..n]);
            dir.body.extend_from_slice(&avail[..n]);
            *used += n;
            let left = remaining - n as u64;
            if left == 0 {
                emit_body(dir, out);
                dir.state = State::Header;
            } else {
                dir.state = State::Length(left);
                if dir.body.len() >= BODY_SECTION {
                    emit_body(dir, out);
                }
            }
            true
        }
        State::UntilClose => {
            if avail.is_empty() {
                return false;
            }
            let room = BODY_SECTION - dir.body.len();
            let n = avail.len().min(room);
            dir.raw_body.extend_from_slice(&avail[..n]);
            dir.body.extend_from_slice(&avail[..n]);
            *used += n;
            if dir.body.len() >= BODY_SECTION {
                emit_body(dir, out);
            }
            true
        }
        State::Chunked(c) => chunk_step(dir, c, used, out),
    }
}

/// Whether the start of a header section could still become HTTP: false only when
/// parsing the complete section would fail too, so that how data is split never
/// changes what is parsed.
fn plausible(avail: &[u8], request: bool) -> bool {
    if request {
        let start = avail.iter().position(|&b| b != b' ').unwrap_or(avail.len());
        let rest = &avail[start..];
        let end = rest
            .iter()
            .position(|&b| b == b' ' || b == b'\r' || b == b'\n');
        let word = &rest[..end.unwrap_or(rest.len())];
        word.len() <= 24
            && (end.is_none() || !word.is_empty())
            && word
                .iter()
                .all(|&b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
    } else {
        let n = avail.len().min(5);
        avail[..n] == b"HTTP/"[..n]
    }
}

/// The header section's length (without the blank line) and where it ends (after
/// the blank line), if complete.
fn header_end(data: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'\n', &data[i..]) {
        let nl = i + p;
        // Line ends at nl; a blank line follows if the next line is empty.
        let rest = &data[nl + 1..];
        if rest.first() == Some(&b'\n') {
            return Some((nl + 1, nl + 2));
        }
        if rest.starts_with(b"\r\n") {
            return Some((nl + 1, nl + 3));
        }
        i = nl + 1;
    }
    None
}

/// How the body of a message is delimited.
fn body_state(m: &HttpBuffers, request: bool, methods: &mut VecDeque<Vec<u8>>) -> State {
    let chunked = m
        .field_str(b"transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = m
        .field_str(b"content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if request {
        return if chunked {
            State::Chunked(Chunk::Size)
        } else {
            match length {
                Some(n) if n > 0 => State::Length(n),
                _ => State::Header,
            }
        };
    }
    let code: u32 = std::str::from_utf8(&m.stat_code)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if (100..200).contains(&code) {
        // Interim responses answer no request of their own.
        return State::Header;
    }
    let method = methods.pop_front();
    if method.as_deref() == Some(b"HEAD") || code == 204 || code == 304 {
        return State::Header;
    }
    if chunked {
        State::Chunked(Chunk::Size)
    } else {
        match length {
            Some(0) => State::Header,
            Some(n) => State::Length(n),
            None => State::UntilClose,
        }
    }
}

fn chunk_step(dir: &mut Direction, c: Chunk, used: &mut usize, out: &mut Vec<Section>) -> bool {
    let avail = &dir.pending[*used..];
    match c {
        Chunk::Size => {
            let Some(nl) = memchr::memchr(b'\n', avail) else {
                if avail.len() > 1024 {
                    dir.state = State::Aborted;
                }
                return false;
            };
            let line = &avail[..nl];
            let digits: Vec<u8> = line
                .iter()
                .copied()
                .skip_while(|b| *b == b' ' || *b == b'\t')
                .take_while(u8::is_ascii_hexdigit)
                .collect();
            let size = std::str::from_utf8(&digits)
                .ok()
                .and_then(|s| u64::from_str_radix(s, 16).ok());
            dir.raw_body.extend_from_slice(&avail[..=nl]);
            *used += nl + 1;
            dir.state = match size {
                None => {
                    emit_body(dir, out);
                    State::Aborted
                }
                Some(0) => State::Chunked(Chunk::Trailer),
                Some(n) => State::Chunked(Chunk::Data(n)),
            };
            true
        }
        Chunk::Data(remaining) => {
            if avail.is_empty() {
                return false;
            }
            let room = BODY_SECTION - dir.body.len();
            let n = (avail.len() as u64).min(remaining).min(room as u64) as usize;
            dir.raw_body.extend_from_slice(&avail[..n]);
            dir.body.extend_from_slice(&avail[..n]);
            *used += n;
            let left = remaining - n as u64;
            dir.state = State::Chunked(if left == 0 {
                Chunk::DataEnd
            } else {
                Chunk::Data(left)
            });
            if dir.body.len() >= BODY_SECTION {
                emit_body(dir, out);
            }
            true
        }
        Chunk::DataEnd => {
            let Some(nl) = memchr::memchr(b'\n', avail) else {
                return false;
            };
            dir.raw_body.extend_from_slice(&avail[..=nl]);
            *used += nl + 1;
            dir.state = State::Chunked(Chunk::Size);
            true
        }
        Chunk::Trailer => {
            let Some(nl) = memchr::memchr(b'\n', avail) else {
                return false;
            };
            let blank = avail[..nl].iter().all(|&b| b == b'\r');
            dir.raw_body.extend_from_slice(&avail[..=nl]);
            *used += nl + 1;
            if blank {
                emit_body(dir, out);
                dir.state = State::Header;
            }
            true
        }
    }
}

/// Hands out the buffered body as a section (if there is any).
fn emit_body(dir: &mut Direction, out: &mut Vec<Section>) {
    if dir.body.is_empty() && dir.raw_body.is_empty() {
        return;
    }
    let Some(message) = dir.message.clone() else {
        dir.body.clear();
        dir.raw_body.clear();
        return;
    };
    let body = std::mem::take(&mut dir.body);
    let decoded = dir.decoder.as_mut().map(|d| {
        let mut out = Vec::new();
        d.feed(&body, &mut out);
        out
    });
    out.push(Section {
        kind: SectionKind::Body,
        message,
        raw: std::mem::take(&mut dir.raw_body),
        body,
        decoded,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(s: &mut HttpSession, from_client: bool, data: &[u8], step: usize) -> Vec<Section> {
        let mut out = Vec::new();
        for chunk in data.chunks(step.max(1)) {
            s.feed(from_client, chunk, &mut out);
        }
        out
    }

    #[test]
    fn request_with_body_in_any_split() {
        let req = b"POST /login HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nuser=a&pw=bGET /next HTTP/1.1\r\n\r\n";
        for step in [1, 3, 7, req.len()] {
            let mut s = HttpSession::new();
            let out = feed_all(&mut s, true, req, step);
            assert_eq!(out.len(), 3, "step {step}");
            assert_eq!(out[0].kind, SectionKind::Header);
            assert_eq!(out[0].message.uri, b"/login");
            assert_eq!(out[1].kind, SectionKind::Body);
            assert_eq!(out[1].body, b"user=a&pw=b");
            assert_eq!(out[2].message.uri, b"/next");
        }
    }

    #[test]
    fn chunked_response_and_head() {
        let mut s = HttpSession::new();
        let mut out = Vec::new();
        s.feed(
            true,
            b"HEAD / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
            &mut out,
        );
        assert_eq!(out.len(), 2);
        out.clear();
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\
                     HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n";
        s.feed(false, resp, &mut out);
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[2].body, b"Wikipedia");
        assert!(out[2].raw.starts_with(b"4\r\nWiki"));
    }

    #[test]
    fn until_close_and_large_bodies() {
        let mut s = HttpSession::new();
        let mut out = Vec::new();
        s.feed(false, b"HTTP/1.0 200 OK\r\n\r\n", &mut out);
        s.feed(false, &vec![b'a'; BODY_SECTION + 10], &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].body.len(), BODY_SECTION);
        s.finish(false, &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].body.len(), 10);
    }

    #[test]
    fn same_sections_however_split() {
        // Found by fuzzing: a request line starting with a space.
        let data = b"\n -- -\x01\n\n\n\n\n";
        let mut whole = Vec::new();
        HttpSession::new().feed(true, data, &mut whole);
        let mut s = HttpSession::new();
        let mut parts = Vec::new();
        for c in data.chunks(1) {
            s.feed(true, c, &mut parts);
        }
        assert_eq!(whole.len(), parts.len());
    }

    #[test]
    fn aborts_on_non_http() {
        let mut s = HttpSession::new();
        let mut out = Vec::new();
        s.feed(true, b"\x16\x03\x01\x00", &mut out);
        assert!(s.aborted(true));
        let mut s = HttpSession::new();
        s.feed(true, b"GE", &mut out);
        assert!(!s.aborted(true));
        s.feed(true, &vec![b'A'; MAX_HEADER_SECTION + 4], &mut out);
        assert!(s.aborted(true));
        assert!(out.is_empty());
    }
}
