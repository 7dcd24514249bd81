//! Feeds arbitrary frames (the input cut at 0xff bytes) to an engine with
//! rules using every kind of option: nothing may panic.

#![no_main]

use std::sync::{Arc, OnceLock};

use ids_worker::engine::rules::{LoadOptions, RuleLoader};
use ids_worker::engine::{Detector, DetectorConfig, Engine, EngineConfig};
use libfuzzer_sys::fuzz_target;

const RULES: &str = r#"
alert ip any any -> any any (msg:"a"; content:"ab"; content:"cd",distance 1,within 4; sid:1;)
alert tcp any any -> any any (msg:"b"; flow:established,to_server; http_uri; content:"/x"; pcre:"/x.+y/Ri"; sid:2;)
alert tcp any any <> any any (msg:"c"; file_data; content:"MZ",depth 2; byte_jump:2,0,relative; isdataat:!1,relative; sid:3;)
alert udp any any -> any 53 (msg:"d"; byte_extract:1,12,len; content:"|00|",distance len; flowbits:set,q; sid:4;)
alert tcp any any -> any 445 (msg:"e"; content:"|FF|SMB"; byte_test:4,&,0x80,10,relative,little; flowbits:isset,q; sid:5;)
alert icmp any any -> any any (msg:"f"; itype:8; dsize:>10; detection_filter:track by_src,count 2,seconds 1; sid:6;)
"#;

fn detector() -> Arc<Detector> {
    static D: OnceLock<Arc<Detector>> = OnceLock::new();
    D.get_or_init(|| {
        let mut l = RuleLoader::new(LoadOptions::default());
        l.load_str("fuzz.rules", RULES).expect("rules load");
        Arc::new(Detector::new(&l.finish(), DetectorConfig::default()).expect("rules compile"))
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let mut engine = Engine::new(detector(), EngineConfig::default());
    let mut out = Vec::new();
    let mut ts = 1_000_000_000u64;
    for frame in data.split(|&b| b == 0xff).filter(|f| !f.is_empty()) {
        ts += 1_000_000;
        engine.process(frame, ts, &mut out);
    }
    engine.finish(ts, &mut out);
});
