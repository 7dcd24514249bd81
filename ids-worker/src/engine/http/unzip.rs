//! Decompressing message bodies sent with `Content-Encoding: gzip` or `deflate`, as
//! Snort's HTTP inspector does for `file_data`. Streaming (a body arrives in
//! sections), bounded ([`MAX_OUTPUT`] bytes per message), and giving up quietly on
//! data that is not what its encoding says (the section then has no decompressed
//! data).

use flate2::{Decompress, FlushDecompress, Status};

/// Decompressed bytes per message at most (larger bodies are inspected up to there).
pub const MAX_OUTPUT: usize = 1 << 20;

/// The body encodings the decoder handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// gzip (RFC 1952).
    Gzip,
    /// deflate: zlib-wrapped (RFC 1950) or, as some servers send it, raw (RFC 1951).
    Deflate,
}

impl Encoding {
    /// The encoding a `Content-Encoding` value names, if the decoder handles it.
    pub fn from_header(value: &str) -> Option<Encoding> {
        match value.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Encoding::Gzip),
            "deflate" => Some(Encoding::Deflate),
            _ => None,
        }
    }
}

#[derive(Debug)]
enum Stage {
    /// Collecting the gzip header (or, for deflate, the first byte).
    Header(Vec<u8>),
    /// Inflating.
    Inflate(Box<Decompress>),
    /// Finished, or the data was bad.
    Done,
}

/// A streaming body decoder.
#[derive(Debug)]
pub struct Decoder {
    encoding: Encoding,
    stage: Stage,
    produced: usize,
}

impl Decoder {
    /// A decoder for one message body.
    pub fn new(encoding: Encoding) -> Decoder {
        Decoder {
            encoding,
            stage: Stage::Header(Vec::new()),
            produced: 0,
        }
    }

    /// Decodes the next piece of the body into `out` (appended).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let rest = match &mut self.stage {
            Stage::Done => return,
            Stage::Inflate(_) => {
                self.inflate(input, out);
                return;
            }
            Stage::Header(buf) => {
                buf.extend_from_slice(input);
                let (skip, raw) = match self.encoding {
                    Encoding::Gzip => match gzip_header_len(buf) {
                        Header::Complete(n) => (n, true),
                        Header::Incomplete => return,
                        Header::Bad => {
                            self.stage = Stage::Done;
                            return;
                        }
                    },
                    Encoding::Deflate => {
                        let Some(&first) = buf.first() else { return };
                        // A zlib header's first byte is CMF: deflate method 8.
                        (0, first & 0x0f != 8)
                    }
                };
                let rest = buf.split_off(skip.min(buf.len()));
                self.stage = Stage::Inflate(Box::new(Decompress::new(!raw)));
                rest
            }
        };
        self.inflate(&rest, out);
    }

    fn inflate(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        let Stage::Inflate(d) = &mut self.stage else {
            return;
        };
        let mut chunk = [0u8; 16 * 1024];
        while !input.is_empty() && self.produced < MAX_OUTPUT {
            let before_in = d.total_in();
            let before_out = d.total_out();
            let room = chunk.len().min(MAX_OUTPUT - self.produced);
            let status = d.decompress(input, &mut chunk[..room], FlushDecompress::None);
            let used = (d.total_in() - before_in) as usize;
            let made = (d.total_out() - before_out) as usize;
            out.extend_from_slice(&chunk[..made]);
            self.produced += made;
            input = &input[used.min(input.len())..];
            match status {
                Ok(Status::StreamEnd) | Err(_) => {
                    self.stage = Stage::Done;
                    return;
                }
                Ok(_) if used == 0 && made == 0 => return,
                Ok(_) => {}
            }
        }
        if self.produced >= MAX_OUTPUT {
            self.stage = Stage::Done;
        }
    }
}

enum Header {
    Complete(usize),
    Incomplete,
    Bad,
}

/// The length of a gzip member header at the start of `b`.
fn gzip_header_len(b: &[u8]) -> Header {
    if b.len() < 10 {
        return if b.first().is_some_and(|&x| x != 0x1f) || b.get(1).is_some_and(|&x| x != 0x8b) {
            Header::Bad
        } else {
            Header::Incomplete
        };
    }
    if b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
        return Header::Bad;
    }
    let flags = b[3];
    let mut at = 10usize;
    if flags & 0x04 != 0 {
        let Some(x) = b.get(at..at + 2) else {
            return Header::Incomplete;
        };
        at += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
    }
    for bit in [0x08u8, 0x10] {
        if flags & bit != 0 {
            match b.get(at..).and_then(|r| r.iter().position(|&c| c == 0)) {
                Some(p) => at += p + 1,
                None => return Header::Incomplete,
            }
        }
    }
    if flags & 0x02 != 0 {
        at += 2;
    }
    if b.len() < at {
        Header::Incomplete
    } else {
        Header::Complete(at)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_and_deflate_in_pieces() {
        let text = b"<script>eval(function(p,a,c,k,e,r){})</script>".repeat(20);
        let z = gzip(&text);
        for step in [1, 7, z.len()] {
            let mut d = Decoder::new(Encoding::Gzip);
            let mut out = Vec::new();
            for c in z.chunks(step) {
                d.feed(c, &mut out);
            }
            assert_eq!(out, text, "step {step}");
        }
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&text).unwrap();
        let z = e.finish().unwrap();
        let mut d = Decoder::new(Encoding::Deflate);
        let mut out = Vec::new();
        d.feed(&z, &mut out);
        assert_eq!(out, text);
    }

    #[test]
    fn bad_data_is_dropped_and_output_bounded() {
        let mut d = Decoder::new(Encoding::Gzip);
        let mut out = Vec::new();
        d.feed(b"not gzip at all", &mut out);
        assert!(out.is_empty());
        let bomb = gzip(&vec![0u8; MAX_OUTPUT * 3]);
        let mut d = Decoder::new(Encoding::Gzip);
        let mut out = Vec::new();
        d.feed(&bomb, &mut out);
        assert_eq!(out.len(), MAX_OUTPUT);
        assert_eq!(Encoding::from_header(" GZIP "), Some(Encoding::Gzip));
        assert_eq!(Encoding::from_header("br"), None);
    }
}
