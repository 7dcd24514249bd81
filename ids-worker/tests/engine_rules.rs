//! Loading the shared rule sets.

use ids_worker::engine::rules::{LoadOptions, RuleLoader};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/rules");

#[test]
fn loads_all_three() {
    for files in [
        vec![format!("{SHARED}/snort3-community/snort3-community.rules")],
        vec![
            format!("{SHARED}/et-open-snort3-converted/et-open-snort3.rules"),
            format!("{SHARED}/et-open-snort3-converted/et_event_filter.lua"),
        ],
    ] {
        let mut l = RuleLoader::new(LoadOptions {
            lenient: true,
            ..Default::default()
        });
        for f in &files {
            l.load_file(f).unwrap();
        }
        let s = l.finish();
        println!("{}", s.report);
    }
    let mut l = RuleLoader::new(LoadOptions {
        lenient: true,
        ..Default::default()
    });
    let mut names: Vec<_> = std::fs::read_dir(format!("{SHARED}/et-open-snort2.9.0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    names.sort();
    for f in names {
        l.load_file(f).unwrap();
    }
    println!("{}", l.finish().report);
}
