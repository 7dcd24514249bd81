//! Feeds arbitrary text to the rule loader (both dialects, lenient) and compiles what
//! loads: nothing may panic.

#![no_main]

use ids_worker::engine::rules::{Dialect, LoadOptions, RuleLoader, parse_rule};
use ids_worker::engine::{Detector, DetectorConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_rule(&text);
    for dialect in [None, Some(Dialect::Snort2), Some(Dialect::Snort3)] {
        let mut l = RuleLoader::new(LoadOptions {
            lenient: true,
            dialect,
            ..LoadOptions::default()
        });
        let _ = l.load_str("fuzz.rules", &text);
        let _ = l.load_filter_table("fuzz.lua", &text);
        let set = l.finish();
        let _ = Detector::new(&set, DetectorConfig::default());
    }
});
