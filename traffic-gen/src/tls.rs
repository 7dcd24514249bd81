//! TLS-looking flows on TCP port 443: a browser-like ClientHello with SNI, cipher suites,
//! GREASE and the usual extensions; then either a TLS 1.3 ServerHello followed by
//! encrypted records, or a TLS 1.2 ServerHello, Certificate chain, ServerKeyExchange and
//! the rest of the 1.2 handshake; then ApplicationData records of random bytes in both
//! directions, and an encrypted close_notify alert.

use crate::attacks::{AttackKind, BAD_SNI};
use crate::cert;
use crate::flow::Side;
use crate::hosts::Os;
use crate::rng::Rng;
use crate::tcp_flow::{Close, TcpConn};

const HANDSHAKE: u8 = 22;
const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const APPLICATION_DATA: u8 = 23;
/// Largest record: 2^14 bytes of plaintext plus AEAD overhead, plus the record header.
const MAX_RECORD: usize = 5 + 16_384 + 17;
/// Smallest encrypted record: header, one byte of content and a 16-byte tag.
const MIN_RECORD: usize = 5 + 17;

/// A record of `content_type` holding `body`.
fn record(out: &mut Vec<u8>, content_type: u8, version: u16, body: &[u8]) {
    out.push(content_type);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// A handshake message of type `msg_type`.
fn handshake_msg(out: &mut Vec<u8>, msg_type: u8, body: &[u8]) {
    out.push(msg_type);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(body);
}

fn u16_prefixed(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

fn extension(out: &mut Vec<u8>, ext_type: u16, body: &[u8]) {
    out.extend_from_slice(&ext_type.to_be_bytes());
    u16_prefixed(out, body);
}

/// Exactly `total` bytes (at least [`MIN_RECORD`]) of encrypted-looking records of
/// `content_type`, each at most [`MAX_RECORD`].
fn encrypted_records(rng: &mut Rng, content_type: u8, total: usize) -> Vec<u8> {
    assert!(
        total >= MIN_RECORD,
        "encrypted records need {MIN_RECORD} bytes"
    );
    let mut out = Vec::with_capacity(total);
    let mut left = total;
    while left > 0 {
        let mut take = left.min(MAX_RECORD);
        if left > take && left - take < MIN_RECORD {
            take = left - MIN_RECORD;
        }
        let start = out.len();
        out.push(content_type);
        out.extend_from_slice(&0x0303u16.to_be_bytes());
        out.extend_from_slice(&((take - 5) as u16).to_be_bytes());
        rng.extend(&mut out, take - 5);
        debug_assert_eq!(out.len() - start, take);
        left -= take;
    }
    out
}

/// A GREASE value (RFC 8701).
fn grease(rng: &mut Rng) -> u16 {
    let n = rng.below(16) as u16;
    (n << 12) | 0x0a00 | (n << 4) | 0x0a
}

/// A ClientHello, fixed at creation so that it can be rendered at several lengths.
#[derive(Debug, Clone)]
pub(crate) struct ClientHello {
    random: [u8; 32],
    session_id: [u8; 32],
    key_share: [u8; 32],
    sni: String,
    /// Browser-like GREASE values, or none for a library-like client.
    grease: Option<[u16; 4]>,
    /// Natural padding rule: pad the handshake message to 512 bytes (Chrome) or not.
    pads: bool,
}

impl ClientHello {
    fn new(rng: &mut Rng, sni: &str, browser: bool) -> ClientHello {
        ClientHello {
            random: rng.bytes(),
            session_id: rng.bytes(),
            key_share: rng.bytes(),
            sni: sni.to_string(),
            grease: browser.then(|| [grease(rng), grease(rng), grease(rng), grease(rng)]),
            pads: browser,
        }
    }

    /// The record, with a padding extension of `pad` bytes if `pad` is `Some`.
    fn record(&self, pad: Option<usize>) -> Vec<u8> {
        let mut body = Vec::with_capacity(600);
        body.extend_from_slice(&0x0303u16.to_be_bytes());
        body.extend_from_slice(&self.random);
        body.push(32);
        body.extend_from_slice(&self.session_id);
        let mut suites: Vec<u16> = Vec::new();
        if let Some(g) = self.grease {
            suites.push(g[0]);
            suites.extend_from_slice(&[
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ]);
        } else {
            suites.extend_from_slice(&[
                0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc024,
                0xc028, 0xc023, 0xc027, 0x009f, 0x009e, 0x00ff,
            ]);
        }
        let suite_bytes: Vec<u8> = suites.iter().flat_map(|s| s.to_be_bytes()).collect();
        u16_prefixed(&mut body, &suite_bytes);
        body.extend_from_slice(&[1, 0]); // compression methods: null

        let mut ext = Vec::with_capacity(400);
        if let Some(g) = self.grease {
            extension(&mut ext, g[1], &[]);
        }
        // server_name
        let mut sni = Vec::new();
        let mut entry = vec![0u8];
        u16_prefixed(&mut entry, self.sni.as_bytes());
        u16_prefixed(&mut sni, &entry);
        extension(&mut ext, 0x0000, &sni);
        extension(&mut ext, 0x0017, &[]); // extended_master_secret
        extension(&mut ext, 0xff01, &[0]); // renegotiation_info
        let mut groups: Vec<u16> = self.grease.map(|g| vec![g[2]]).unwrap_or_default();
        groups.extend_from_slice(&[0x001d, 0x0017, 0x0018]);
        let group_bytes: Vec<u8> = groups.iter().flat_map(|s| s.to_be_bytes()).collect();
        let mut sg = Vec::new();
        u16_prefixed(&mut sg, &group_bytes);
        extension(&mut ext, 0x000a, &sg); // supported_groups
        extension(&mut ext, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
        extension(&mut ext, 0x0023, &[]); // session_ticket
        let mut alpn = Vec::new();
        for proto in ["h2", "http/1.1"] {
            alpn.push(proto.len() as u8);
            alpn.extend_from_slice(proto.as_bytes());
        }
        let mut alpn_ext = Vec::new();
        u16_prefixed(&mut alpn_ext, &alpn);
        extension(&mut ext, 0x0010, &alpn_ext); // ALPN
        extension(&mut ext, 0x0005, &[1, 0, 0, 0, 0]); // status_request: OCSP
        let sigalgs: Vec<u8> = [
            0x0403u16, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ]
        .iter()
        .flat_map(|s| s.to_be_bytes())
        .collect();
        let mut sa = Vec::new();
        u16_prefixed(&mut sa, &sigalgs);
        extension(&mut ext, 0x000d, &sa); // signature_algorithms
        extension(&mut ext, 0x0012, &[]); // signed_certificate_timestamp
        let mut shares = Vec::new();
        if let Some(g) = self.grease {
            shares.extend_from_slice(&g[2].to_be_bytes());
            u16_prefixed(&mut shares, &[0]);
        }
        shares.extend_from_slice(&0x001du16.to_be_bytes());
        u16_prefixed(&mut shares, &self.key_share);
        let mut ks = Vec::new();
        u16_prefixed(&mut ks, &shares);
        extension(&mut ext, 0x0033, &ks); // key_share
        extension(&mut ext, 0x002d, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
        let mut versions: Vec<u8> = Vec::new();
        if let Some(g) = self.grease {
            versions.extend_from_slice(&g[3].to_be_bytes());
        }
        versions.extend_from_slice(&[0x03, 0x04, 0x03, 0x03]);
        let mut sv = vec![versions.len() as u8];
        sv.extend_from_slice(&versions);
        extension(&mut ext, 0x002b, &sv); // supported_versions
        if self.grease.is_some() {
            extension(&mut ext, 0x001b, &[2, 0, 2]); // compress_certificate: brotli
            extension(&mut ext, grease_after(self.grease), &[0]);
        }
        if let Some(p) = pad {
            extension(&mut ext, 0x0015, &vec![0u8; p]); // padding
        }
        u16_prefixed(&mut body, &ext);

        let mut hs = Vec::with_capacity(body.len() + 4);
        handshake_msg(&mut hs, 1, &body);
        let mut out = Vec::with_capacity(hs.len() + 5);
        record(&mut out, HANDSHAKE, 0x0301, &hs);
        out
    }

    /// The padding a client applies on its own: browsers pad a handshake message of
    /// 256..=511 bytes up to 512 (RFC 7685's workaround), others do not pad.
    fn natural_pad(&self) -> Option<usize> {
        if !self.pads {
            return None;
        }
        let hs_len = self.record(Some(0)).len() - 5;
        ((256..512).contains(&hs_len)).then(|| 512 - hs_len)
    }

    /// The natural record, and how many bytes it can be padded to at least under a size
    /// mix (a padding extension is then always present).
    fn natural(&self, sized: bool) -> Vec<u8> {
        match (self.natural_pad(), sized) {
            (Some(p), _) => self.record(Some(p)),
            (None, true) => self.record(Some(0)),
            (None, false) => self.record(None),
        }
    }

    /// The record at exactly `len` bytes (at least the sized natural length).
    fn render(&self, len: usize) -> Vec<u8> {
        let base = self.record(Some(0)).len();
        self.record(Some(len - base))
    }
}

/// The last GREASE extension type, distinct from the first.
fn grease_after(g: Option<[u16; 4]>) -> u16 {
    let first = g.map_or(0x0a0a, |g| g[1]);
    if first == 0xfafa {
        0x0a0a
    } else {
        first + 0x1010
    }
}

/// A server's first flight at a chosen version.
#[derive(Debug, Clone)]
struct ServerFlight {
    random: [u8; 32],
    session_id: [u8; 32],
    key_share: [u8; 32],
    cipher: u16,
    tls13: bool,
    /// TLS 1.2: Certificate, ServerKeyExchange and ServerHelloDone, ready made.
    rest12: Vec<u8>,
    /// TLS 1.3: natural length of the encrypted part.
    encrypted13: usize,
}

impl ServerFlight {
    fn new(rng: &mut Rng, ch: &ClientHello, tls13: bool, sni: &str, now_secs: u64) -> ServerFlight {
        let random = rng.bytes();
        let key_share = rng.bytes();
        let mut rest12 = Vec::new();
        let cipher = if tls13 {
            *rng.pick(&[0x1301u16, 0x1302, 0x1303])
        } else {
            let leaf = cert::certificate(rng, sni, "Example Issuing CA 1", false, now_secs);
            let ca = cert::certificate(
                rng,
                "Example Issuing CA 1",
                "Example Root CA",
                true,
                now_secs,
            );
            let mut list = Vec::new();
            for c in [&leaf, &ca] {
                list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
                list.extend_from_slice(c);
            }
            let mut certs = Vec::new();
            certs.extend_from_slice(&(list.len() as u32).to_be_bytes()[1..]);
            certs.extend_from_slice(&list);
            handshake_msg(&mut rest12, 11, &certs);
            let mut ske = vec![3, 0x00, 0x1d, 32];
            ske.extend_from_slice(&rng.bytes::<32>());
            ske.extend_from_slice(&0x0403u16.to_be_bytes());
            u16_prefixed(&mut ske, &cert::ecdsa_signature(rng));
            handshake_msg(&mut rest12, 12, &ske);
            handshake_msg(&mut rest12, 14, &[]);
            *rng.pick(&[0xc02bu16, 0xc02c])
        };
        ServerFlight {
            random,
            session_id: ch.session_id,
            key_share,
            cipher,
            tls13,
            rest12,
            encrypted13: rng.range(2_400, 5_200) as usize,
        }
    }

    /// ServerHello (TLS 1.2: plus the rest of the flight) in one handshake record;
    /// `extra` bytes are added with a padding extension (and, for fewer than four, a
    /// shorter session id).
    fn hello_record(&self, extra: usize) -> Vec<u8> {
        let (sid_len, pad) = match extra {
            0 => (32, None),
            1..=3 => (32 - (4 - extra), Some(0)),
            _ => (32, Some(extra - 4)),
        };
        let mut body = Vec::with_capacity(200);
        body.extend_from_slice(&0x0303u16.to_be_bytes());
        body.extend_from_slice(&self.random);
        body.push(sid_len as u8);
        body.extend_from_slice(&self.session_id[..sid_len]);
        body.extend_from_slice(&self.cipher.to_be_bytes());
        body.push(0);
        let mut ext = Vec::new();
        if self.tls13 {
            extension(&mut ext, 0x002b, &[0x03, 0x04]);
            let mut ks = 0x001du16.to_be_bytes().to_vec();
            u16_prefixed(&mut ks, &self.key_share);
            extension(&mut ext, 0x0033, &ks);
        } else {
            extension(&mut ext, 0xff01, &[0]);
            extension(&mut ext, 0x000b, &[1, 0]);
            extension(&mut ext, 0x0017, &[]);
            extension(&mut ext, 0x0023, &[]);
            let mut alpn = Vec::new();
            u16_prefixed(&mut alpn, b"\x08http/1.1");
            extension(&mut ext, 0x0010, &alpn);
        }
        if let Some(p) = pad {
            extension(&mut ext, 0x0015, &vec![0u8; p]);
        }
        u16_prefixed(&mut body, &ext);
        let mut hs = Vec::new();
        handshake_msg(&mut hs, 2, &body);
        if !self.tls13 {
            hs.extend_from_slice(&self.rest12);
        }
        let mut out = Vec::new();
        record(&mut out, HANDSHAKE, 0x0303, &hs);
        out
    }

    fn natural(&self, rng: &mut Rng) -> Vec<u8> {
        let mut out = self.hello_record(0);
        if self.tls13 {
            record(&mut out, CHANGE_CIPHER_SPEC, 0x0303, &[1]);
            out.extend_from_slice(&encrypted_records(rng, APPLICATION_DATA, self.encrypted13));
        }
        out
    }

    fn min_len(&self) -> usize {
        self.hello_record(0).len() + if self.tls13 { 6 + MIN_RECORD } else { 0 }
    }

    fn render(&self, rng: &mut Rng, len: usize) -> Vec<u8> {
        if self.tls13 {
            let mut out = self.hello_record(0);
            record(&mut out, CHANGE_CIPHER_SPEC, 0x0303, &[1]);
            let rest = len - out.len();
            out.extend_from_slice(&encrypted_records(rng, APPLICATION_DATA, rest));
            out
        } else {
            let base = self.hello_record(0).len();
            self.hello_record(len - base)
        }
    }
}

/// Something to send that is a prefix of fixed records and then encrypted records of a
/// flexible total length.
fn with_encrypted(prefix: &[u8], content_type: u8) -> impl Fn(&mut Rng, usize) -> Vec<u8> + Clone {
    let prefix = prefix.to_vec();
    move |rng: &mut Rng, len: usize| {
        let mut out = prefix.clone();
        out.extend_from_slice(&encrypted_records(rng, content_type, len - prefix.len()));
        out
    }
}

/// Sends a message of `natural` length built by `build` (which renders any length of at
/// least `min`), returning when its last segment and last ACK were seen.
fn send(
    conn: &mut TcpConn<'_>,
    from: Side,
    t: u64,
    natural: usize,
    min: usize,
    piggyback: bool,
    build: impl Fn(&mut Rng, usize) -> Vec<u8> + Clone,
) -> crate::tcp_flow::Sent {
    let mut mrng = Rng::new(conn.rng.next_u64());
    let nat = build(&mut mrng, natural);
    let b2 = build.clone();
    conn.send_message(from, t, nat, min, move |n| b2(&mut mrng, n), piggyback)
}

/// Plays one TLS connection on `conn` from `t0`.
pub(crate) fn run(
    conn: &mut TcpConn<'_>,
    t0: u64,
    server_name: &str,
    client_os: Os,
    attack: Option<AttackKind>,
) {
    let sni = if attack == Some(AttackKind::BadSni) {
        BAD_SNI
    } else {
        server_name
    };
    let browser = client_os != Os::Linux || conn.rng.chance(0.5);
    let tls13 = conn.rng.chance(0.7);
    let mut hrng = Rng::new(conn.rng.next_u64());
    let ch = ClientHello::new(&mut hrng, sni, browser);
    let now_secs = t0 / 1_000_000_000;
    let sf = ServerFlight::new(&mut hrng, &ch, tls13, sni, now_secs);
    let sized = !conn.mix().is_natural();

    let mut t = conn.handshake(t0) + conn.rng.range(2_000, 100_000);
    // ClientHello.
    let natural = ch.natural(sized);
    let min = natural.len();
    let ch2 = ch.clone();
    let sent = conn.send_message(Side::Client, t, natural, min, move |n| ch2.render(n), true);
    // Server's first flight.
    t = conn.timing.react(Side::Server, sent.last_data) + conn.rng.range(200_000, 3_000_000);
    let mut frng = Rng::new(conn.rng.next_u64());
    let natural = sf.natural(&mut frng);
    let min = sf.min_len();
    let sf2 = sf.clone();
    let sent = conn.send_message(
        Side::Server,
        t,
        natural,
        min,
        move |n| sf2.render(&mut frng, n),
        false,
    );
    // Client's second flight.
    t = conn.timing.react(Side::Client, sent.last_data) + conn.rng.range(100_000, 1_500_000);
    let ccs = [CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1];
    if tls13 {
        let build = with_encrypted(&ccs, APPLICATION_DATA);
        let sent = send(conn, Side::Client, t, 6 + 58, 6 + MIN_RECORD, false, build);
        t = sent.last_data + conn.rng.range(10_000, 200_000);
    } else {
        let mut prefix = Vec::new();
        let mut cke = vec![32u8];
        cke.extend_from_slice(&conn.rng.bytes::<32>());
        let mut hs = Vec::new();
        handshake_msg(&mut hs, 16, &cke);
        record(&mut prefix, HANDSHAKE, 0x0303, &hs);
        prefix.extend_from_slice(&ccs);
        let build = with_encrypted(&prefix, HANDSHAKE);
        let sent = send(
            conn,
            Side::Client,
            t,
            prefix.len() + 45,
            prefix.len() + MIN_RECORD,
            true,
            build,
        );
        // Server: NewSessionTicket, ChangeCipherSpec, Finished.
        t = conn.timing.react(Side::Server, sent.last_data) + conn.rng.range(100_000, 1_000_000);
        let mut prefix = Vec::new();
        let mut ticket = vec![0u8; 4];
        ticket[..4].copy_from_slice(&conn.rng.range(7_200, 172_800).to_be_bytes()[4..]);
        let mut tbytes = Vec::new();
        let ticket_len = conn.rng.range(160, 220) as usize;
        conn.rng.extend(&mut tbytes, ticket_len);
        u16_prefixed(&mut ticket, &tbytes);
        let mut hs = Vec::new();
        handshake_msg(&mut hs, 4, &ticket);
        record(&mut prefix, HANDSHAKE, 0x0303, &hs);
        prefix.extend_from_slice(&ccs);
        let build = with_encrypted(&prefix, HANDSHAKE);
        let sent = send(
            conn,
            Side::Server,
            t,
            prefix.len() + 45,
            prefix.len() + MIN_RECORD,
            false,
            build,
        );
        t = conn.timing.react(Side::Client, sent.last_data) + conn.rng.range(10_000, 200_000);
    }

    // Application data: requests and responses.
    let exchanges = conn.rng.range(1, 6);
    for i in 0..exchanges {
        let req_len = conn.rng.log_uniform_u64(60, 1_500) as usize;
        let think = conn.rng.log_uniform_u64(300_000, 120_000_000);
        let slow = think > 40_000_000;
        let build = with_encrypted(&[], APPLICATION_DATA);
        let sent = send(
            conn,
            Side::Client,
            t,
            req_len.max(MIN_RECORD),
            MIN_RECORD,
            true,
            build,
        );
        let arrive = conn.timing.react(Side::Server, sent.last_data);
        if slow {
            conn.ack(Side::Server, arrive + 40_000_000 - conn.timing.server_turn);
        }
        let resp_len = conn.rng.log_uniform_u64(100, 400_000) as usize;
        let build = with_encrypted(&[], APPLICATION_DATA);
        let sent = send(
            conn,
            Side::Server,
            arrive + think,
            resp_len.max(MIN_RECORD),
            MIN_RECORD,
            false,
            build,
        );
        t = sent.end();
        if i + 1 < exchanges {
            t += conn.rng.log_uniform_u64(1_000_000, 3_000_000_000);
        }
    }

    // Teardown.
    t += conn.rng.log_uniform_u64(10_000_000, 5_000_000_000);
    match conn.rng.below(10) {
        0..6 => {
            // close_notify, then FIN.
            let (ct, len) = if tls13 {
                (APPLICATION_DATA, 5 + 19)
            } else {
                (ALERT, 5 + 26)
            };
            let build = with_encrypted(&[], ct);
            let sent = send(conn, Side::Client, t, len, MIN_RECORD, false, build);
            let how = if conn.rng.chance(0.7) {
                Close::Fin3
            } else {
                Close::Fin4
            };
            let t_fin = sent.end() + conn.rng.range(10_000, 100_000);
            conn.close(Side::Client, t_fin, how);
        }
        6..8 => {
            conn.close(Side::Client, t, Close::Fin3);
        }
        _ => {
            conn.close(Side::Client, t, Close::Rst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits records, checking each header's length.
    fn records(mut b: &[u8]) -> Vec<(u8, usize)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            assert!(b.len() >= 5);
            let len = usize::from(u16::from_be_bytes([b[3], b[4]]));
            assert!(b.len() >= 5 + len, "record overruns");
            assert!(len <= MAX_RECORD - 5);
            out.push((b[0], len));
            b = &b[5 + len..];
        }
        out
    }

    #[test]
    fn encrypted_records_hit_exact_lengths() {
        let mut rng = Rng::new(1);
        for total in [
            MIN_RECORD,
            100,
            MAX_RECORD,
            MAX_RECORD + 1,
            MAX_RECORD + 21,
            MAX_RECORD + 22,
            100_000,
        ] {
            let b = encrypted_records(&mut rng, APPLICATION_DATA, total);
            assert_eq!(b.len(), total);
            let r = records(&b);
            assert!(
                r.iter()
                    .all(|&(ct, len)| ct == APPLICATION_DATA && len >= 17)
            );
        }
    }

    #[test]
    fn client_hello_is_well_formed_and_pads() {
        let mut rng = Rng::new(2);
        for browser in [true, false] {
            let ch = ClientHello::new(&mut rng, "www.example.com", browser);
            let nat = ch.natural(false);
            let r = records(&nat);
            assert_eq!(r, vec![(HANDSHAKE, nat.len() - 5)]);
            assert_eq!(nat[5], 1, "ClientHello");
            let hs_len = u32::from_be_bytes([0, nat[6], nat[7], nat[8]]) as usize;
            assert_eq!(hs_len, nat.len() - 9);
            if browser {
                assert_eq!(nat.len(), 517);
            }
            assert!(nat.windows(15).any(|w| w == b"www.example.com"));
            let sized = ch.natural(true);
            for extra in [0, 1, 4, 100, 1000] {
                assert_eq!(ch.render(sized.len() + extra).len(), sized.len() + extra);
            }
        }
    }

    #[test]
    fn server_flights_render_at_exact_lengths() {
        let mut rng = Rng::new(3);
        let ch = ClientHello::new(&mut rng, "shop.example.com", true);
        for tls13 in [true, false] {
            let sf = ServerFlight::new(&mut rng, &ch, tls13, "shop.example.com", 1_704_067_200);
            let nat = sf.natural(&mut rng);
            records(&nat);
            assert!(sf.min_len() <= nat.len());
            for extra in [0, 1, 2, 3, 4, 5, 300] {
                let len = nat.len().max(sf.min_len()) + extra;
                let b = sf.render(&mut rng, len);
                assert_eq!(b.len(), len);
                records(&b);
            }
            if !tls13 {
                assert!(nat.windows(16).any(|w| w == b"shop.example.com"));
            }
        }
    }
}
