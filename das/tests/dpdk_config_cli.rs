//! `das dpdk-config` validates the shipped folder and prints what it makes; a broken
//! copy gives one error line naming the file and the line, and a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dpdk-config")
}

fn das(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_das"))
        .args(args)
        .output()
        .expect("das runs")
}

#[test]
fn the_shipped_folder_is_valid_and_printed() {
    let dir = shipped();
    let out = das(&["dpdk-config", "--dir", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("is valid: 3 ports, 2 flow rules"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  das --lcores=0-1 -m 512 --no-huge --no-pci --file-prefix=das \
             --vdev=net_ring_node0 --vdev=net_ring_dup0 --vdev=net_ring_dup1 \
             --log-level=notice\n"
        ),
        "{stdout}"
    );
    let table_row = stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("node0"))
        .unwrap_or_else(|| panic!("no node0 row in {stdout}"));
    let cells: Vec<&str> = table_row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "0",
            "node0",
            "net_ring_node0",
            "2",
            "2",
            "1024",
            "1024",
            "8191",
            "1546",
            "symmetric"
        ]
    );
    assert!(
        stdout.contains(
            "\nflow create 0 ingress pattern eth dst spec 02:44:41:53:00:01 dst mask \
             ff:ff:ff:ff:00:ff type is 0x894f / end actions queue index 1 / end\n\
             flow create 0 ingress pattern eth dst spec 02:44:41:53:00:00 dst mask \
             ff:ff:ff:ff:00:ff type is 0x894f / end actions queue index 0 / end\n"
        ),
        "{stdout}"
    );

    let out = das(&[
        "dpdk-config",
        "--dir",
        dir.to_str().unwrap(),
        "--port-id",
        "3",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("(DPDK port 3, from --port-id)"), "{stdout}");
    assert_eq!(
        stdout.matches("flow create 3 ingress").count(),
        2,
        "{stdout}"
    );
}

#[test]
fn a_broken_copy_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["eal.toml", "ports.toml", "flow-rules.toml"] {
        std::fs::copy(shipped().join(file), dir.path().join(file)).unwrap();
    }
    let rules = dir.path().join("flow-rules.toml");
    let text = std::fs::read_to_string(&rules).unwrap();
    let line = text
        .lines()
        .position(|l| l == "queue = 1")
        .expect("the shipped duplicates rule")
        + 1;
    std::fs::write(&rules, text.replace("\nqueue = 1\n", "\nqueue = 5\n")).unwrap();

    let out = das(&["dpdk-config", "--dir", dir.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "printed despite the error");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "flow-rules.toml:{line}: rule[0].queue: queue 5 does not exist"
        )),
        "{stderr}"
    );

    let missing = dir.path().join("nowhere");
    let out = das(&["dpdk-config", "--dir", missing.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("eal.toml: cannot read"), "{stderr}");
}

#[test]
fn help_describes_the_output() {
    let out = das(&["dpdk-config", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["--dir", "--port-id", "EAL argument list", "dpdk-testpmd"] {
        assert!(text.contains(word), "{word}: {text}");
    }
}
