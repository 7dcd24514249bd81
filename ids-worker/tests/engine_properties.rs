//! Property tests: the rule parser, the HTTP parser, the prefilter matchers and the
//! engine never panic, whatever the input; the HTTP parser cuts the same sections
//! however the data is split; the matchers agree with a naive search.

use std::sync::Arc;

use ids_worker::engine::detect::anchor::{AnchorMatcher, Sink};
use ids_worker::engine::detect::prefilter::{Backend, MatchScratch, PrefilterBuilder};
use ids_worker::engine::http::HttpSession;
use ids_worker::engine::rules::{LoadOptions, RuleLoader, parse_rule};
use ids_worker::engine::{Detector, DetectorConfig, Engine, EngineConfig};
use proptest::prelude::*;

/// Pieces rules are made of, to reach deep into the parser.
const PIECES: &[&str] = &[
    "alert ",
    "tcp ",
    "udp ",
    "icmp ",
    "ip ",
    "http ",
    "any ",
    "$HOME_NET ",
    "$EXTERNAL_NET ",
    "[10.0.0.0/8,!10.1.0.0/16] ",
    "!1.2.3.4 ",
    "80 ",
    "1024: ",
    "[80,443] ",
    "-> ",
    "<> ",
    "(",
    ")",
    "; ",
    "msg:\"m\"",
    "sid:1",
    "rev:2",
    "content:\"a|0d 0a|b\"",
    ",nocase",
    ",depth 4",
    ",distance 0",
    ",within 5",
    ",offset -3",
    "content:!\"x\"",
    "pcre:\"/a.b/Ri\"",
    "pcre:\"/(/\"",
    "byte_test:2,>,5,0,relative",
    "byte_jump:4,0,relative,align",
    "byte_extract:1,0,n",
    "isdataat:!1,relative",
    "flow:to_server,established",
    "flowbits:set,a|b",
    "flowbits:isset,a&b",
    "http_uri",
    "http_header:field host",
    "file_data",
    "dsize:<10",
    "flags:S,12",
    "threshold:type limit,track by_src,count 1,seconds 60",
    "detection_filter:track by_dst,count 2,seconds 1",
    "itype:>3",
    "icode:1<>4",
    "urilen:5<=>9",
    "bufferlen:>3,relative",
    "stream_size:client,>,100",
    "fast_pattern",
    "\\",
    "\"",
    "|",
    ":",
    ",",
    "distance:n",
    "within:n",
    "nocase",
    "http_uri;",
    "uricontent:\"u\"",
];

fn rule_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..30).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn rule_parser_never_panics(text in rule_text(), junk in ".{0,80}") {
        let _ = parse_rule(&text);
        let _ = parse_rule(&junk);
        let mut l = RuleLoader::new(LoadOptions { lenient: true, ..LoadOptions::default() });
        let _ = l.load_str("p", &format!("{text}\n{junk}\n{text}\\\n{junk}"));
        let set = l.finish();
        // What loads compiles.
        let _ = Detector::new(&set, DetectorConfig::default());
    }

    #[test]
    fn http_parser_never_panics_and_ignores_splits(
        data in prop::collection::vec(any::<u8>(), 0..600),
        split in 1usize..64,
        client in any::<bool>(),
    ) {
        let (whole, parts) = sections_whole_and_split(client, &data, split);
        prop_assert_eq!(whole, parts);
    }

    #[test]
    fn http_messages_survive_any_split(
        uri in "/[a-z0-9%/._?=&+-]{0,40}",
        body in prop::collection::vec(any::<u8>(), 0..300),
        split in 1usize..50,
    ) {
        let mut msg = format!("POST {uri} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        msg.extend_from_slice(&body);
        let mut s = HttpSession::new();
        let mut out = Vec::new();
        for c in msg.chunks(split) {
            s.feed(true, c, &mut out);
        }
        prop_assert!(!out.is_empty());
        prop_assert_eq!(&out[0].message.raw_uri, &uri.as_bytes().to_vec());
        let got: Vec<u8> = out[1..].iter().flat_map(|s| s.body.clone()).collect();
        prop_assert_eq!(got, body);
    }

    #[test]
    fn matchers_agree_with_naive_search(
        hay in prop::collection::vec(prop::sample::select(b"aAbB\x00 /xyZ".to_vec()), 0..400),
        pats in prop::collection::vec(prop::collection::vec(prop::sample::select(b"aAbB\x00 /xyZ".to_vec()), 1..6), 1..20),
    ) {
        let want: Vec<bool> = pats
            .iter()
            .map(|p| hay.windows(p.len()).any(|w| w.eq_ignore_ascii_case(p)))
            .collect();
        // The anchor matcher alone.
        let refs: Vec<&[u8]> = pats.iter().map(|p| p.as_slice()).collect();
        struct Seen(Vec<bool>);
        impl Sink for Seen {
            fn wanted(&self, id: usize) -> bool { !self.0[id] }
            fn report(&mut self, id: usize) { self.0[id] = true; }
        }
        let mut seen = Seen(vec![false; pats.len()]);
        AnchorMatcher::new(&refs).scan(&hay, &mut seen);
        prop_assert_eq!(&seen.0, &want);
        // Each prefilter backend, rule i owning pattern i.
        for backend in [Backend::AhoCorasick, Backend::Anchor] {
            let mut b = PrefilterBuilder::default();
            for (i, p) in pats.iter().enumerate() {
                b.add(p, i as u32);
            }
            let mut next = 0;
            let pre = b.build(backend, &mut next).unwrap();
            let mut scratch = MatchScratch::default();
            pre.prepare(&mut scratch).unwrap();
            let mut stamps = vec![0u32; next as usize];
            let mut hit = vec![false; pats.len()];
            pre.scan(&hay, &scratch, &mut stamps, 1, &mut |r| hit[r as usize] = true);
            prop_assert_eq!(&hit, &want);
        }
    }

    #[test]
    fn engine_never_panics_on_frames(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..40),
        template in 0usize..3,
    ) {
        let rules = "alert ip any any -> any any (msg:\"a\"; content:\"ab\"; sid:1;)\n\
                     alert tcp any any -> any any (msg:\"b\"; flow:established; http_uri; content:\"x\"; sid:2;)\n\
                     alert udp any any <> any 53 (msg:\"c\"; byte_test:1,>,3,0; pcre:\"/./\"; sid:3;)";
        let mut l = RuleLoader::new(LoadOptions::default());
        l.load_str("r", rules).unwrap();
        let d = Arc::new(Detector::new(&l.finish(), DetectorConfig::default()).unwrap());
        let mut e = Engine::new(d, EngineConfig::default());
        // Frames that start like IPv4/TCP, IPv4/UDP or anything.
        let prefix: &[u8] = match template {
            0 => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 0, 0x45, 0, 0, 60, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2],
            1 => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 0, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2],
            _ => &[],
        };
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let mut frame = prefix.to_vec();
            frame.extend_from_slice(f);
            e.process(&frame, i as u64 * 1_000_000_000, &mut out);
        }
        e.finish(0, &mut out);
    }
}

/// The (raw, body) of each HTTP section.
type Sections = Vec<(Vec<u8>, Vec<u8>)>;

/// The (raw, body) of the HTTP sections cut from `data` fed whole, and fed in pieces of
/// `split` bytes, each session finished (end of the connection) after its feed.
fn sections_whole_and_split(client: bool, data: &[u8], split: usize) -> (Sections, Sections) {
    let cut = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut s = HttpSession::new();
        let mut out = Vec::new();
        for c in pieces {
            s.feed(client, c, &mut out);
        }
        s.finish(client, &mut out);
        out.iter()
            .map(|x| (x.raw.to_vec(), x.body.to_vec()))
            .collect::<Vec<_>>()
    };
    let whole = cut(&mut std::iter::once(data));
    let parts = cut(&mut data.chunks(split.max(1)));
    (whole, parts)
}

/// A fuzzer finding (fuzz target http_parser): a line feed where a request line was
/// expected, then folded header lines, split one byte at a time, must give the same
/// sections as the whole data.
#[test]
fn http_sections_regression_folded_lines() {
    let data: &[u8] = b"\n -- -\x01\n\n\n\n\n";
    for client in [true, false] {
        let (whole, parts) = sections_whole_and_split(client, data, 1);
        assert_eq!(whole, parts);
    }
}
