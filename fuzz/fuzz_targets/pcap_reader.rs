//! Fuzz target: any bytes read as a capture file never panic or loop forever; every
//! record handed out lies within the input.

#![no_main]

use dataplane::pcap::CaptureReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new("fuzz", std::io::Cursor::new(data)) else {
        return;
    };
    let mut records = 0usize;
    while let Ok(Some(record)) = reader.next_record() {
        assert!(record.data.len() <= data.len());
        records += 1;
        // Each record consumes at least its header: the count is bounded by the input.
        assert!(records <= data.len() / 12 + 1);
    }
});
