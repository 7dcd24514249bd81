//! Feeds arbitrary bytes to the HTTP/1.x parser, whole and in pieces, from both sides:
//! nothing may panic and the sections must not depend on how the data is split.

#![no_main]

use ids_worker::engine::http::HttpSession;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    for client in [true, false] {
        let mut whole = Vec::new();
        let mut a = HttpSession::new();
        a.feed(client, data, &mut whole);
        let mut parts = Vec::new();
        let mut b = HttpSession::new();
        for c in data.chunks(usize::from(split).max(1)) {
            b.feed(client, c, &mut parts);
        }
        assert_eq!(whole.len(), parts.len());
        for (x, y) in whole.iter().zip(&parts) {
            assert_eq!(x.raw, y.raw);
            assert_eq!(x.body, y.body);
        }
        a.finish(client, &mut whole);
        b.abort(client);
    }
});
