//! Minimal DER encoding and X.509 certificates that decode as such: ECDSA P-256 keys and
//! signatures of random bytes, names and validity from the generator's clock, and the
//! usual extensions. They verify nothing; they only look the part on the wire.

use crate::content;
use crate::rng::Rng;

/// A DER tag-length-value.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 4);
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        assert!(n < 0x1_0000, "DER value too long");
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn set(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x31, &parts.concat())
}

/// An OBJECT IDENTIFIER.
pub(crate) fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        groups.reverse();
        body.extend_from_slice(&groups);
    }
    tlv(0x06, &body)
}

/// A positive INTEGER from big-endian magnitude bytes.
fn integer(bytes: &[u8]) -> Vec<u8> {
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut body = Vec::with_capacity(bytes.len() + 1);
    if bytes[first] & 0x80 != 0 {
        body.push(0);
    }
    body.extend_from_slice(&bytes[first..]);
    tlv(0x02, &body)
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut body = vec![0u8];
    body.extend_from_slice(bytes);
    tlv(0x03, &body)
}

fn utf8(s: &str) -> Vec<u8> {
    tlv(0x0c, s.as_bytes())
}

fn name(rdns: &[(&[u64], &str)]) -> Vec<u8> {
    let sets: Vec<Vec<u8>> = rdns
        .iter()
        .map(|(attr, value)| {
            let v = if **attr == [2, 5, 4, 6] {
                tlv(0x13, value.as_bytes())
            } else {
                utf8(value)
            };
            set(&[&seq(&[&oid(attr), &v])])
        })
        .collect();
    let refs: Vec<&[u8]> = sets.iter().map(Vec::as_slice).collect();
    seq(&refs)
}

fn extension(id: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let crit = tlv(0x01, &[0xff]);
    if critical {
        seq(&[&oid(id), &crit, &tlv(0x04, value)])
    } else {
        seq(&[&oid(id), &tlv(0x04, value)])
    }
}

const ECDSA_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const PRIME256V1: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const COUNTRY: &[u64] = &[2, 5, 4, 6];
const ORGANIZATION: &[u64] = &[2, 5, 4, 10];
const COMMON_NAME: &[u64] = &[2, 5, 4, 3];

/// An ECDSA signature value: the DER of two random 256-bit integers.
pub(crate) fn ecdsa_signature(rng: &mut Rng) -> Vec<u8> {
    let r: [u8; 32] = rng.bytes();
    let s: [u8; 32] = rng.bytes();
    seq(&[&integer(&r), &integer(&s)])
}

/// A certificate for `subject` (a host name, or a CA name when `ca`), issued by `issuer`,
/// valid around `now_secs`.
pub(crate) fn certificate(
    rng: &mut Rng,
    subject: &str,
    issuer: &str,
    ca: bool,
    now_secs: u64,
) -> Vec<u8> {
    let version = tlv(0xa0, &integer(&[2]));
    let mut serial: [u8; 16] = rng.bytes();
    serial[0] = (serial[0] & 0x7f) | 0x01;
    let alg = seq(&[&oid(ECDSA_SHA256)]);
    let issuer_name = name(&[
        (COUNTRY, "US"),
        (ORGANIZATION, "Example Trust Services"),
        (COMMON_NAME, issuer),
    ]);
    let days = rng.range(10, 60);
    let not_before = now_secs.saturating_sub(days * 86_400);
    let lifetime = if ca { 5 * 365 } else { 90 };
    let validity = seq(&[
        &tlv(0x17, content::utc_time(not_before).as_bytes()),
        &tlv(
            0x17,
            content::utc_time(not_before + lifetime * 86_400).as_bytes(),
        ),
    ]);
    let subject_name = if ca {
        name(&[
            (COUNTRY, "US"),
            (ORGANIZATION, "Example Trust Services"),
            (COMMON_NAME, subject),
        ])
    } else {
        name(&[(COMMON_NAME, subject)])
    };
    let mut point = vec![0x04];
    rng.extend(&mut point, 64);
    let spki = seq(&[
        &seq(&[&oid(EC_PUBLIC_KEY), &oid(PRIME256V1)]),
        &bit_string(&point),
    ]);
    let key_id: [u8; 20] = rng.bytes();
    let mut exts = vec![extension(&[2, 5, 29, 14], false, &tlv(0x04, &key_id))];
    if ca {
        exts.push(extension(
            &[2, 5, 29, 19],
            true,
            &seq(&[&tlv(0x01, &[0xff]), &integer(&[0])]),
        ));
        exts.push(extension(&[2, 5, 29, 15], true, &tlv(0x03, &[0x01, 0x86])));
    } else {
        let mut names = vec![tlv(0x82, subject.as_bytes())];
        if let Some(rest) = subject.split_once('.').map(|(_, r)| r) {
            if rest.contains('.') {
                names.push(tlv(0x82, format!("*.{rest}").as_bytes()));
            }
        }
        let refs: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
        exts.push(extension(&[2, 5, 29, 17], false, &seq(&refs)));
        exts.push(extension(&[2, 5, 29, 19], true, &seq(&[])));
        exts.push(extension(&[2, 5, 29, 15], true, &tlv(0x03, &[0x07, 0x80])));
        exts.push(extension(
            &[2, 5, 29, 37],
            false,
            &seq(&[
                &oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1]),
                &oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2]),
            ]),
        ));
    }
    let ext_refs: Vec<&[u8]> = exts.iter().map(Vec::as_slice).collect();
    let extensions = tlv(0xa3, &seq(&ext_refs));
    let tbs = seq(&[
        &version,
        &integer(&serial),
        &alg,
        &issuer_name,
        &validity,
        &subject_name,
        &spki,
        &extensions,
    ]);
    let signature = bit_string(&ecdsa_signature(rng));
    seq(&[&tbs, &alg, &signature])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks DER, checking that every length fits its container; returns the number of
    /// values seen.
    fn walk(mut der: &[u8]) -> usize {
        let mut n = 0;
        while !der.is_empty() {
            let tag = der[0];
            let (len, hdr) = match der[1] {
                l if l < 0x80 => (usize::from(l), 2),
                0x81 => (usize::from(der[2]), 3),
                0x82 => ((usize::from(der[2]) << 8) | usize::from(der[3]), 4),
                other => panic!("length form {other:#x}"),
            };
            assert!(hdr + len <= der.len(), "value overruns its container");
            let body = &der[hdr..hdr + len];
            n += 1;
            if tag & 0x20 != 0 {
                n += walk(body);
            }
            der = &der[hdr + len..];
        }
        n
    }

    #[test]
    fn oid_encoding() {
        assert_eq!(
            oid(&[1, 2, 840, 10045, 2, 1]),
            b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01"
        );
        assert_eq!(oid(&[2, 5, 4, 3]), b"\x06\x03\x55\x04\x03");
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(integer(&[0, 0, 5]), b"\x02\x01\x05");
        assert_eq!(integer(&[0x80]), b"\x02\x02\x00\x80");
        assert_eq!(integer(&[0]), b"\x02\x01\x00");
    }

    #[test]
    fn certificates_are_well_formed_der() {
        let mut rng = Rng::new(4);
        for ca in [false, true] {
            let c = certificate(
                &mut rng,
                "www.example.com",
                "Example Issuing CA 1",
                ca,
                1_704_067_200,
            );
            assert_eq!(c[0], 0x30);
            assert!(walk(&c) > 30);
            assert!(c.windows(15).any(|w| w == b"www.example.com"));
        }
    }
}
