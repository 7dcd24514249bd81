//! Protocol-aware flushing: where a service's messages end in the reassembled data,
//! so that each reassembled unit (PDU) handed to detection is whole messages.
//!
//! A splitter is fed the acknowledged data chunk by chunk (one received segment at a
//! time) and answers with the position, in the chunk, after which everything scanned
//! so far can be flushed, as Snort's protocol-aware flushing does.

/// What a splitter says about a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Flush everything up to this many bytes into the chunk.
    Flush(usize),
    /// No message ends in the chunk yet.
    Search,
    /// The data is not this protocol: stop reassembling this direction.
    Abort,
}

/// The splitters, one per kind of framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Splitter {
    /// TLS records (and SSLv2 records): flush after the last complete record.
    Ssl(SslState),
    /// NetBIOS session messages: 4-byte header with a 17-bit length.
    Netbios(LengthState),
    /// DCE/RPC connection-oriented PDUs: fragment length at bytes 8-9.
    Dcerpc(LengthState),
    /// A 2-byte length before each message (DNS over TCP).
    Length16(LengthState),
    /// Line-oriented protocols: flush after the last newline.
    Lines,
}

/// Progress through a length-framed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LengthState {
    header: [u8; 10],
    have: usize,
    remaining: u64,
}

/// Progress through TLS records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SslState {
    state: u8,
    len: [u8; 2],
    remaining: u32,
    sslv2: bool,
}

impl Splitter {
    /// Scans the next chunk.
    pub fn scan(&mut self, chunk: &[u8]) -> Scan {
        match self {
            Splitter::Ssl(s) => ssl_scan(s, chunk),
            Splitter::Netbios(s) => length_scan(s, chunk, 4, netbios_len),
            Splitter::Dcerpc(s) => length_scan(s, chunk, 10, dcerpc_len),
            Splitter::Length16(s) => length_scan(s, chunk, 2, |h| {
                Some(2 + u64::from(u16::from_be_bytes([h[0], h[1]])))
            }),
            Splitter::Lines => match memchr::memrchr(b'\n', chunk) {
                Some(p) => Scan::Flush(p + 1),
                None => Scan::Search,
            },
        }
    }
}

/// The total length of a NetBIOS session message from its 4-byte header.
fn netbios_len(h: &[u8]) -> Option<u64> {
    let len = u64::from(h[1] & 0x01) << 16 | u64::from(h[2]) << 8 | u64::from(h[3]);
    Some(4 + len)
}

/// The fragment length of a DCE/RPC connection-oriented PDU from its first 10 bytes.
fn dcerpc_len(h: &[u8]) -> Option<u64> {
    if h[0] != 5 {
        return None;
    }
    let little = h[4] & 0x10 != 0;
    let len = if little {
        u16::from_le_bytes([h[8], h[9]])
    } else {
        u16::from_be_bytes([h[8], h[9]])
    };
    (len >= 16).then_some(u64::from(len))
}

/// Scans messages framed by a fixed-size header that gives the whole length.
fn length_scan(
    s: &mut LengthState,
    chunk: &[u8],
    header: usize,
    total: impl Fn(&[u8]) -> Option<u64>,
) -> Scan {
    let mut n = 0usize;
    let mut last = None;
    while n < chunk.len() {
        if s.remaining > 0 {
            let take = (chunk.len() - n).min(usize::try_from(s.remaining).unwrap_or(usize::MAX));
            n += take;
            s.remaining -= take as u64;
            if s.remaining == 0 {
                last = Some(n);
            }
            continue;
        }
        s.header[s.have] = chunk[n];
        s.have += 1;
        n += 1;
        if s.have == header {
            s.have = 0;
            match total(&s.header[..header]) {
                Some(t) if t > header as u64 => s.remaining = t - header as u64,
                Some(_) => last = Some(n),
                None => {
                    return match last {
                        Some(p) => Scan::Flush(p),
                        None => Scan::Abort,
                    };
                }
            }
        }
    }
    match last {
        Some(p) => {
            // Everything after the flush point is scanned again from a clean state.
            *s = LengthState::default();
            Scan::Flush(p)
        }
        None => Scan::Search,
    }
}

const SSL_START: u8 = 0;
const SSL_VER_MAJOR: u8 = 1;
const SSL_VER_MINOR: u8 = 2;
const SSL_LEN1: u8 = 3;
const SSL_LEN2: u8 = 4;
const SSL_DATA: u8 = 5;
const SSL_LEN2_V2: u8 = 6;
const SSL_PAD_V2: u8 = 7;

/// TLS record framing, as Snort's SSL splitter reads it.
fn ssl_scan(s: &mut SslState, chunk: &[u8]) -> Scan {
    let mut n = 0usize;
    let mut last = 0usize;
    while n < chunk.len() {
        let b = chunk[n];
        match s.state {
            SSL_START => {
                if (20..=24).contains(&b) {
                    s.sslv2 = false;
                    s.state = SSL_VER_MAJOR;
                } else if b & 0x80 != 0 || s.sslv2 {
                    s.len[0] = b;
                    s.sslv2 = true;
                    s.state = SSL_LEN2_V2;
                } else if last > 0 {
                    break;
                } else {
                    return Scan::Abort;
                }
            }
            SSL_VER_MAJOR => s.state = SSL_VER_MINOR,
            SSL_VER_MINOR => s.state = SSL_LEN1,
            SSL_LEN1 => {
                s.len[0] = b;
                s.state = SSL_LEN2;
            }
            SSL_LEN2 => {
                s.len[1] = b;
                s.remaining = u32::from(s.len[0]) << 8 | u32::from(s.len[1]);
                if s.remaining == 0 {
                    last = n + 1;
                    s.state = SSL_START;
                } else {
                    s.state = SSL_DATA;
                }
            }
            SSL_DATA => {
                let take = (chunk.len() - n).min(s.remaining as usize);
                s.remaining -= take as u32;
                n += take;
                if s.remaining == 0 {
                    last = n;
                    s.state = SSL_START;
                }
                continue;
            }
            SSL_LEN2_V2 => {
                s.len[1] = b;
                if s.len[0] & 0x80 != 0 {
                    s.len[0] &= 0x7f;
                    s.state = SSL_DATA;
                } else {
                    s.len[0] &= 0x3f;
                    s.state = SSL_PAD_V2;
                }
                s.remaining = u32::from(s.len[0]) << 8 | u32::from(s.len[1]);
                if s.remaining == 0 && s.state == SSL_DATA {
                    last = n + 1;
                    s.state = SSL_START;
                }
            }
            _ => {
                // SSL_PAD_V2
                s.state = SSL_DATA;
                if s.remaining == 0 {
                    last = n + 1;
                    s.state = SSL_START;
                }
            }
        }
        n += 1;
    }
    if last > 0 {
        *s = SslState::default();
        Scan::Flush(last)
    } else {
        Scan::Search
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netbios_messages() {
        let mut s = Splitter::Netbios(LengthState::default());
        let msg = [0u8, 0, 0, 3, b'a', b'b', b'c'];
        assert_eq!(s.scan(&msg[..5]), Scan::Search);
        assert_eq!(s.scan(&msg[5..]), Scan::Flush(2));
        let two = [0u8, 0, 0, 1, b'x', 0, 0, 0, 2, b'y'];
        assert_eq!(s.scan(&two), Scan::Flush(5));
        // The rest is scanned again.
        assert_eq!(s.scan(&two[5..]), Scan::Search);
    }

    #[test]
    fn tls_records() {
        let mut s = Splitter::Ssl(SslState::default());
        let rec = [0x16u8, 3, 1, 0, 2, 0xaa, 0xbb, 0x17, 3, 1, 0, 5, 1];
        assert_eq!(s.scan(&rec), Scan::Flush(7));
        let mut s = Splitter::Ssl(SslState::default());
        assert_eq!(s.scan(b"GET / HTTP/1.1"), Scan::Abort);
    }

    #[test]
    fn other_framings() {
        let mut s = Splitter::Length16(LengthState::default());
        assert_eq!(s.scan(&[0, 2, 1, 2, 0]), Scan::Flush(4));
        let mut s = Splitter::Lines;
        assert_eq!(s.scan(b"USER a\r\nPA"), Scan::Flush(8));
        assert_eq!(s.scan(b"SS"), Scan::Search);
        let mut s = Splitter::Dcerpc(LengthState::default());
        let mut pdu = vec![5u8, 0, 11, 3, 0x10, 0, 0, 0, 16, 0];
        pdu.extend([0u8; 6]);
        assert_eq!(s.scan(&pdu), Scan::Flush(16));
        let mut s = Splitter::Dcerpc(LengthState::default());
        assert_eq!(s.scan(&[4u8; 12]), Scan::Abort);
    }
}
