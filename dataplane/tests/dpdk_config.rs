//! The shipped `dpdk-config/` folder loads and renders exactly as expected, and every
//! kind of mistake in it is reported with the file, the line and a clear message.

use std::path::{Path, PathBuf};

use dataplane::dpdk_config::{
    ConfigError, Device, DpdkConfig, EAL_FILE, EalConfig, FLOW_RULES_FILE, FlowRules, PORTS_FILE,
    PortsConfig, RssKey,
};
use dataplane::flow::SYMMETRIC_RSS_KEY;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dpdk-config")
}

#[test]
fn shipped_folder_loads_and_validates() {
    let config = DpdkConfig::load(shipped()).expect("shipped dpdk-config is valid");
    let names: Vec<&str> = config.ports.ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["node0", "dup-node0", "dup-node1"]);
    let node = config.ports.get("node0").unwrap();
    assert_eq!(node.device, Device::Vdev("net_ring_node0".into()));
    assert_eq!((node.rx_queues, node.tx_queues), (2, 2));
    assert_eq!((node.rx_descriptors, node.tx_descriptors), (1024, 1024));
    assert_eq!((node.mbufs, node.mtu), (8191, 1546));
    assert_eq!(node.rss_key, RssKey::Symmetric);
    let dup1 = config.ports.get("dup-node1").unwrap();
    assert_eq!(dup1.rss_key, RssKey::Explicit(SYMMETRIC_RSS_KEY));
    assert_eq!(config.flow_rules.port, "node0");
    let queues: Vec<u16> = config.flow_rules.rules.iter().map(|r| r.queue).collect();
    assert_eq!(queues, [1, 0]);
    for (name, id) in [("node0", 0), ("dup-node0", 1), ("dup-node1", 2)] {
        assert_eq!(config.port_id(name), Some(id), "{name}");
    }
    assert_eq!(config.port_id("node1"), None);

    // Each file also loads on its own.
    assert_eq!(
        EalConfig::load(shipped().join(EAL_FILE)).unwrap(),
        config.eal
    );
    assert_eq!(
        PortsConfig::load(shipped().join(PORTS_FILE)).unwrap(),
        config.ports
    );
    assert_eq!(
        FlowRules::load(shipped().join(FLOW_RULES_FILE)).unwrap(),
        config.flow_rules
    );
}

#[test]
fn shipped_eal_argv_is_exact() {
    let eal = EalConfig::load(shipped().join(EAL_FILE)).unwrap();
    assert_eq!(
        eal.args(),
        [
            "das",
            "--lcores=0-1",
            "-m",
            "512",
            "--no-huge",
            "--no-pci",
            "--file-prefix=das",
            "--vdev=net_ring_node0",
            "--vdev=net_ring_dup0",
            "--vdev=net_ring_dup1",
            "--log-level=notice",
        ]
    );
}

#[test]
fn eal_argv_covers_every_option() {
    let text = r#"
program = "das-node"
lcores = "0@1,1@1"
memory_mb = 256
no_huge = false
in_memory = true
file_prefix = "node1"
vdevs = ["net_memif0,role=client,socket=/run/das/node1.sock"]
log_level = "lib.eal:debug"
extra_args = ["--huge-unlink", "--single-file-segments"]
"#;
    let eal = EalConfig::parse(text, "eal.toml").unwrap();
    assert_eq!(
        eal.args(),
        [
            "das-node",
            "--lcores=0@1,1@1",
            "-m",
            "256",
            "--in-memory",
            "--file-prefix=node1",
            "--vdev=net_memif0,role=client,socket=/run/das/node1.sock",
            "--log-level=lib.eal:debug",
            "--huge-unlink",
            "--single-file-segments",
        ]
    );
    assert_eq!(eal.vdev_names().collect::<Vec<_>>(), ["net_memif0"]);
    assert_eq!(EalConfig::parse("", "eal.toml").unwrap().args(), ["das"]);
}

#[test]
fn shipped_rules_render_as_testpmd_commands() {
    let rules = FlowRules::load(shipped().join(FLOW_RULES_FILE)).unwrap();
    assert_eq!(
        rules.testpmd_commands(0),
        [
            "flow create 0 ingress pattern eth dst spec 02:44:41:53:00:01 dst mask ff:ff:ff:ff:00:ff type is 0x894f / end actions queue index 1 / end",
            "flow create 0 ingress pattern eth dst spec 02:44:41:53:00:00 dst mask ff:ff:ff:ff:00:ff type is 0x894f / end actions queue index 0 / end",
        ]
    );
    assert!(rules.testpmd_commands(7)[0].starts_with("flow create 7 ingress "));
}

#[test]
fn pci_ports_are_numbered_before_virtual_devices() {
    let dir = copy_shipped();
    edit(&dir, EAL_FILE, "no_pci = true", "no_pci = false");
    edit(&dir, PORTS_FILE, "\"net_ring_dup1\"", "\"0000:81:00.1\"");
    edit(&dir, PORTS_FILE, "\"net_ring_dup0\"", "\"0000:03:00.0\"");
    let config = DpdkConfig::load(dir.path()).unwrap();
    assert_eq!(config.port_id("dup-node0"), Some(0));
    assert_eq!(config.port_id("dup-node1"), Some(1));
    assert_eq!(config.port_id("node0"), Some(2));
}

// ---------------------------------------------------------------------------------
// Mistakes: each is made in a copy of the shipped folder, and the error must name the
// file, the line of the edit and say what is wrong.

fn copy_shipped() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in [EAL_FILE, PORTS_FILE, FLOW_RULES_FILE] {
        std::fs::copy(shipped().join(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// Replaces the first `from` outside comments in `file` by `to`; returns the 1-based
/// line of the edit.
fn edit(dir: &tempfile::TempDir, file: &str, from: &str, to: &str) -> usize {
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut start = 0;
    let at = text
        .split_inclusive('\n')
        .find_map(|line| {
            let line_start = start;
            start += line.len();
            let found = line
                .find(from)
                .filter(|_| !line.trim_start().starts_with('#'));
            found.map(|i| line_start + i)
        })
        .unwrap_or_else(|| panic!("{from:?} not in {file}"));
    let edited = format!("{}{}{}", &text[..at], to, &text[at + from.len()..]);
    std::fs::write(&path, edited).unwrap();
    text[..at].matches('\n').count() + 1
}

/// Makes one edit and checks the error names `file`, the edited line and `expected`.
fn assert_mistake(file: &str, from: &str, to: &str, expected: &str) -> ConfigError {
    assert_mistake_near(file, from, to, 0, expected)
}

/// As [`assert_mistake`], for errors reported `offset` lines from the edit (such as a
/// whole rule's, reported at its name).
fn assert_mistake_near(
    file: &str,
    from: &str,
    to: &str,
    offset: isize,
    expected: &str,
) -> ConfigError {
    let dir = copy_shipped();
    let line = edit(&dir, file, from, to)
        .checked_add_signed(offset)
        .unwrap();
    let err = DpdkConfig::load(dir.path()).expect_err(&format!("{to:?} was accepted"));
    let text = err.to_string();
    assert!(
        text.contains(&format!("{file}:{line}:")),
        "{to:?}: expected {file}:{line}: in {text:?}"
    );
    assert!(
        text.contains(expected),
        "{to:?}: expected {expected:?} in {text:?}"
    );
    assert_eq!(err.line(), Some(line), "{text}");
    assert!(err.file().ends_with(file), "{text}");
    err
}

#[test]
fn eal_mistakes_are_explained() {
    assert_mistake(
        EAL_FILE,
        "in_memory = false",
        "in_memory = true",
        "in_memory: DPDK rejects --in-memory together with --no-huge",
    );
    assert_mistake(
        EAL_FILE,
        "memory_mb = 512",
        "memory_mb = 0",
        "memory_mb: 0 MB",
    );
    assert_mistake(
        EAL_FILE,
        "lcores = \"0-1\"",
        "lcores = \"0-a\"",
        "is not an lcore list",
    );
    assert_mistake(
        EAL_FILE,
        "\"net_ring_dup1\",",
        "\"net_ring_dup0,x=1\",",
        "vdevs[2]: virtual device `net_ring_dup0` is listed twice",
    );
    assert_mistake(
        EAL_FILE,
        "\"net_ring_dup1\",",
        "\"1ring\",",
        "vdevs[2]: `1ring` does not start",
    );
    assert_mistake(
        EAL_FILE,
        "log_level = \"notice\"",
        "log_level = \"loud\"",
        "not a DPDK log level",
    );
    assert_mistake(
        EAL_FILE,
        "file_prefix = \"das\"",
        "file_prefix = \"a/b\"",
        "not a usable file prefix",
    );
    assert_mistake(
        EAL_FILE,
        "no_pci = true",
        "no_pcie = true",
        "unknown field `no_pcie`",
    );
    assert_mistake(
        EAL_FILE,
        "memory_mb = 512",
        "memory_mb = \"512\"",
        "invalid type",
    );
}

#[test]
fn port_mistakes_are_explained() {
    assert_mistake(
        PORTS_FILE,
        "rx_queues = 2",
        "rx_queues = 0",
        "port[0].rx_queues: 0 queues",
    );
    assert_mistake(
        PORTS_FILE,
        "tx_queues = 1",
        "tx_queues = 2000",
        "port[1].tx_queues: 2000 queues",
    );
    assert_mistake(
        PORTS_FILE,
        "rx_descriptors = 1024",
        "rx_descriptors = 1000",
        "port[0].rx_descriptors: 1000 descriptors: ring sizes must be a power of two",
    );
    assert_mistake(
        PORTS_FILE,
        "tx_descriptors = 1024",
        "tx_descriptors = 0",
        "must be a power of two",
    );
    assert_mistake(
        PORTS_FILE,
        "rss_key = \"symmetric\"",
        "rss_key = \"6d5a6d5a\"",
        "port[0].rss_key: the key has 8 hex digits (4 bytes); an RSS key is 40 bytes",
    );
    assert_mistake(
        PORTS_FILE,
        "rss_key = \"symmetric\"",
        "rss_key = \"0x6d5a\"",
        "`x` is not a hex digit",
    );
    assert_mistake(
        PORTS_FILE,
        "name = \"dup-node1\"",
        "name = \"dup-node0\"",
        "port[2].name: port name `dup-node0` is used twice",
    );
    assert_mistake(
        PORTS_FILE,
        "device = \"net_ring_dup0\"",
        "device = \"03:00.0\"",
        "`03:00.0` does not look like a PCI address",
    );
    assert_mistake(
        PORTS_FILE,
        "device = \"net_ring_dup0\"",
        "device = \"0000:03:00.9\"",
        "the function number is at most 7",
    );
    assert_mistake(
        PORTS_FILE,
        "device = \"net_ring_dup0\"",
        "device = \"0000:03:00.0\"",
        "PCI device 0000:03:00.0 cannot be used while eal.toml sets no_pci = true",
    );
    assert_mistake(
        PORTS_FILE,
        "device = \"net_ring_dup0\"",
        "device = \"net_ring_dup9\"",
        "virtual device `net_ring_dup9` is not created by eal.toml",
    );
    assert_mistake(
        PORTS_FILE,
        "device = \"net_ring_dup0\"",
        "device = \"net_ring_node0\"",
        "device `net_ring_node0` already backs port `node0`",
    );
    assert_mistake(
        PORTS_FILE,
        "mbufs = 8191",
        "mbufs = 2048",
        "cannot fill the receive rings",
    );
    assert_mistake(PORTS_FILE, "mtu = 1546", "mtu = 40", "MTU 40 is below 68");
    assert_mistake(
        PORTS_FILE,
        "rx_queues = 2",
        "rx_queue = 2",
        "unknown field `rx_queue`",
    );
    assert_mistake(
        PORTS_FILE,
        "rx_queues = 2",
        "rx_queues = -1",
        "invalid value",
    );
}

#[test]
fn flow_rule_mistakes_are_explained() {
    assert_mistake(
        FLOW_RULES_FILE,
        "dst = \"02:44:41:53:00:01\"",
        "dst = \"02:44:41:53:00\"",
        "rule[0].dst: `02:44:41:53:00` is not a MAC address",
    );
    assert_mistake(
        FLOW_RULES_FILE,
        "dst_mask = \"ff:ff:ff:ff:00:ff\"",
        "dst_mask = \"ff:ff:ff:ff:00:fg\"",
        "rule[0].dst_mask: `ff:ff:ff:ff:00:fg` is not a MAC address",
    );
    assert_mistake(
        FLOW_RULES_FILE,
        "queue = 1",
        "queue = 2",
        "rule[0].queue: queue 2 does not exist: port `node0` has 2 receive queues (0 to 1)",
    );
    assert_mistake(
        FLOW_RULES_FILE,
        "port = \"node0\"",
        "port = \"node9\"",
        "no port `node9` in ports.toml",
    );
    assert_mistake(
        FLOW_RULES_FILE,
        "dst = \"02:44:41:53:00:01\"",
        "dst = \"02:44:41:53:07:01\"",
        "byte 4 of dst (07) has bits the mask ignores (00)",
    );
    assert_mistake_near(
        FLOW_RULES_FILE,
        "dst = \"02:44:41:53:00:00\"",
        "dst = \"02:44:41:53:00:01\"",
        -1,
        "rule[1]: rule `primaries` can match the same frames as rule `duplicates` (line 32) \
         but sends them to another queue",
    );
    assert_mistake(
        FLOW_RULES_FILE,
        "name = \"primaries\"",
        "name = \"duplicates\"",
        "rule name `duplicates` is used twice",
    );
    assert_mistake(
        FLOW_RULES_FILE,
        "ether_type = 0x894F",
        "ether_type = 0x1894F",
        "invalid value",
    );
    assert_mistake(
        FLOW_RULES_FILE,
        "queue = 1",
        "queue = ",
        "invalid string; expected",
    );
    assert_mistake(
        FLOW_RULES_FILE,
        "queue = 1",
        "queues = 1",
        "unknown field `queues`",
    );
}

#[test]
fn a_missing_file_is_named() {
    let dir = copy_shipped();
    std::fs::remove_file(dir.path().join(PORTS_FILE)).unwrap();
    let err = DpdkConfig::load(dir.path()).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    let text = err.to_string();
    assert!(text.contains("ports.toml: cannot read:"), "{text}");
    assert_eq!(err.line(), None);
}
