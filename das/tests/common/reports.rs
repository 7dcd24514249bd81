//! Reading the stages' JSON reports (`--report`), for the tests that check a cluster of
//! stage processes packet by packet.

use std::path::Path;

use serde_json::Value;

/// The `report` of stage `name`'s JSON report in `dir`.
pub fn report(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("{name}.json: {e}"));
    serde_json::from_str::<Value>(&text).unwrap()["report"].clone()
}

/// A count in a report.
pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}
