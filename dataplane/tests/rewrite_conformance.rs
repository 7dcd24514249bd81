//! Loop rewriting equals the shared corpus's own recipe: copy k of a file built by
//! `../shared/tools/build_big.py` is the file with `rewrite::distinct_loop(frame, k)`
//! applied to every frame.

use std::path::Path;
use std::process::Command;

use dataplane::pcap::read_frames;
use dataplane::rewrite::distinct_loop;

#[test]
fn each_loop_matches_the_corpus_tool() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    let tool = shared.join("tools/build_big.py");
    assert!(
        tool.exists(),
        "the corpus tool is missing at {}",
        tool.display()
    );
    // Classic little-endian microsecond captures, as the tool requires.
    let sources: Vec<_> = [
        "DNS.pcap",
        "wannacry.pcap",
        "eternalromance-doublepulsar-meterpreter.pcap",
    ]
    .iter()
    .map(|f| shared.join("corpus/pcaps").join(f))
    .collect();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.pcap");
    let copies = 4u8;
    let status = Command::new("python3")
        .arg(&tool)
        .arg(&out)
        .arg(copies.to_string())
        .args(&sources)
        .output()
        .expect("python3 runs (the machine's CPython)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let built = read_frames(&out).unwrap();
    let originals: Vec<Vec<u8>> = sources
        .iter()
        .flat_map(|s| read_frames(s).unwrap().into_iter().map(|f| f.data))
        .collect();
    assert_eq!(built.len(), originals.len() * copies as usize);
    let mut changed = 0;
    for k in 0..copies {
        for (i, original) in originals.iter().enumerate() {
            let mut ours = original.clone();
            distinct_loop(&mut ours, k);
            let theirs = &built[k as usize * originals.len() + i].data;
            assert_eq!(&ours, theirs, "copy {k}, packet {i}");
            changed += usize::from(ours != *original);
        }
    }
    assert!(changed > 20_000, "{changed} frames rewritten");
}
