//! `das dpdk-config`: validate the DPDK configuration folder and show what it makes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use dataplane::dpdk_config::{Device, DpdkConfig, PortConfig, RssKey};

/// Options of `das dpdk-config`.
#[derive(Debug, Args)]
#[command(after_help = "\
Reads eal.toml, ports.toml and flow-rules.toml from the folder, checks each and checks \
them against each other, then prints: the EAL argument list (what rte_eal_init gets; \
dpdk-testpmd takes the same before its `--`), a table of the ports, and the flow rules \
as dpdk-testpmd `flow create` commands, to paste at the testpmd> prompt or load with \
--cmdline-file. A mistake stops it with the file, the line and what is wrong. The exit \
status is 0 when the folder is valid, 2 otherwise.")]
pub struct DpdkConfigArgs {
    /// The configuration folder.
    #[arg(long, value_name = "DIR", default_value = "dpdk-config")]
    dir: PathBuf,

    /// DPDK port id to write in the flow rules. Default: the id DPDK gives the rules'
    /// port when it probes only the devices these files name (PCI ports in address
    /// order, then virtual devices in eal.toml order).
    #[arg(long, value_name = "N")]
    port_id: Option<u16>,
}

/// What a das built without the `dpdk` feature says when asked for DPDK.
#[cfg(not(feature = "dpdk"))]
pub const WITHOUT_DPDK: &str = "this das was built without DPDK: rebuild with --features dpdk \
     (cargo build --release -p das --features dpdk; it needs libdpdk-dev, pkg-config and \
     libclang-dev, see docs/DPDK.md)";

/// Reads and checks the DPDK configuration folder `dir`.
pub fn load(dir: &Path) -> Result<DpdkConfig> {
    DpdkConfig::load(dir).context("invalid DPDK configuration")
}

/// Runs `das dpdk-config`.
pub fn run(args: DpdkConfigArgs) -> Result<ExitCode> {
    let config = load(&args.dir)?;
    print!("{}", render(&config, &args));
    Ok(ExitCode::SUCCESS)
}

fn render(config: &DpdkConfig, args: &DpdkConfigArgs) -> String {
    let mut out = String::new();
    let rules = &config.flow_rules;
    let _ = writeln!(
        out,
        "das dpdk-config: {} is valid: {} port{}, {} flow rule{}",
        args.dir.display(),
        config.ports.ports.len(),
        plural(config.ports.ports.len()),
        rules.rules.len(),
        plural(rules.rules.len()),
    );

    let _ = writeln!(out, "\nEAL arguments (rte_eal_init):");
    let argv: Vec<String> = config.eal.args().iter().map(|a| shell_quote(a)).collect();
    let _ = writeln!(out, "  {}", argv.join(" "));

    let _ = writeln!(out, "\nPorts:");
    let header = [
        "id", "name", "device", "rxq", "txq", "rx desc", "tx desc", "mbufs", "mtu", "rss key",
    ]
    .map(String::from);
    let mut rows = vec![header.to_vec()];
    for port in &config.ports.ports {
        rows.push(port_row(config, port));
    }
    out.push_str(&table(&rows));

    let port_id = args
        .port_id
        .or_else(|| config.port_id(&rules.port))
        .unwrap_or(0);
    let names: Vec<&str> = rules.rules.iter().map(|r| r.name.as_str()).collect();
    let _ = writeln!(
        out,
        "\nFlow rules of port {} (DPDK port {port_id}{}), first match wins: {}",
        rules.port,
        if args.port_id.is_some() {
            ", from --port-id"
        } else {
            ""
        },
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        },
    );
    let port = config.ports.get(&rules.port);
    if port.is_some_and(|p| matches!(p.device, Device::Vdev(_))) {
        let _ = writeln!(
            out,
            "(port {} is a virtual device: no virtual device implements rte_flow; there the \
             rules must run in software, as dataplane::dpdk_config::FlowRules::queue_for \
             evaluates them)",
            rules.port
        );
    }
    for command in rules.testpmd_commands(port_id) {
        let _ = writeln!(out, "{command}");
    }
    out
}

fn port_row(config: &DpdkConfig, port: &PortConfig) -> Vec<String> {
    let id = config
        .port_id(&port.name)
        .map_or_else(|| "?".to_string(), |id| id.to_string());
    let rss = match port.rss_key {
        RssKey::Symmetric => "symmetric".to_string(),
        RssKey::Explicit(key) if key == RssKey::Symmetric.bytes() => {
            "symmetric (written out)".to_string()
        }
        key => format!("{}...", &key.to_string()[..8]),
    };
    vec![
        id,
        port.name.clone(),
        port.device.to_string(),
        port.rx_queues.to_string(),
        port.tx_queues.to_string(),
        port.rx_descriptors.to_string(),
        port.tx_descriptors.to_string(),
        port.mbufs.to_string(),
        port.mtu.to_string(),
        rss,
    ]
}

/// Left-aligned columns two spaces apart, indented by two.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    out
}

/// `arg` as a POSIX shell word: unchanged when it holds only safe characters, else in
/// single quotes.
fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-=.,/:@+%".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::{shell_quote, table};

    #[test]
    fn shell_words() {
        assert_eq!(shell_quote("--lcores=0@1,1@1"), "--lcores=0@1,1@1");
        assert_eq!(shell_quote("--lcores=(0-2)@1"), "'--lcores=(0-2)@1'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn tables_align() {
        let rows = vec![
            vec!["id".to_string(), "name".to_string()],
            vec!["10".to_string(), "n".to_string()],
        ];
        assert_eq!(table(&rows), "  id  name\n  10  n\n");
    }
}
