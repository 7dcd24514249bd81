//! `das gen` is deterministic: every recipe of `pcaps/recipes.txt` still produces the
//! exact bytes whose SHA-256 the recipe records.

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

#[test]
fn every_recipe_reproduces_its_recorded_capture() {
    let recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcaps/recipes.txt");
    let text = std::fs::read_to_string(&recipes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let mut fields = line.split_whitespace();
        let (name, sha) = (fields.next().unwrap(), fields.next().unwrap());
        let out = dir.path().join(name);
        let status = Command::new(env!("CARGO_BIN_EXE_das"))
            .args(["gen", "--out", out.to_str().unwrap()])
            .args(fields)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let digest: String = Sha256::digest(std::fs::read(&out).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, sha, "{name}: the generator's output changed");
        checked += 1;
    }
    assert_eq!(checked, 4);
}
