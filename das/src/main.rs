//! `das`: duplication made safe for IDS clusters.
//!
//! Subcommands: `run` replays traffic through duplicator → IDS nodes → dedup in one
//! process; `gen` writes generated traffic to a pcap file; `dpdk-config` checks the
//! DPDK configuration and prints its EAL arguments and flow rules; `dpdk-bench`
//! measures the DPDK port backend; `replay`, `duplicator`, `worker` and `dedup` run one
//! stage each as its own process, linked by network ports.

mod alerts;
mod bench_cmd;
mod dpdk_bench_cmd;
mod dpdk_cmd;
mod experiment;
mod gen_cmd;
mod ids_cmd;
mod pipeline;
mod port_rx_bench;
mod report;
mod run_cmd;
mod spec;
mod stage;

use clap::{Parser, Subcommand};

/// das: a packet pipeline that makes duplication safe for IDS clusters.
///
/// A duplicator load-balances flows over IDS nodes by a symmetric flow hash and copies
/// each packet to a second node; on every node a primary and a duplicate instance share
/// one pinned core, the duplicate at lower priority with a bounded queue; dedup forwards
/// the first copy of each packet and counts unique packets per second (UPP/sec).
#[derive(Debug, Parser)]
#[command(name = "das", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// The run options are the largest variant; the enum is built once at start-up.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Replay traffic through duplicator -> N IDS nodes -> dedup in one process and
    /// print what every stage did. With no arguments: generated traffic, 2 nodes, DAS.
    Run(run_cmd::RunArgs),
    /// Write realistic, deterministic generated traffic to a pcap file.
    Gen(gen_cmd::GenArgs),
    /// Check the DPDK configuration (EAL, ports, flow rules) and print the EAL arguments
    /// and the steering rules in dpdk-testpmd syntax.
    DpdkConfig(dpdk_cmd::DpdkConfigArgs),
    /// Forward frames between two DPDK net_null ports through the DPDK port backend
    /// and print Mpps per core (needs a das built with the `dpdk` feature).
    DpdkBench(dpdk_bench_cmd::DpdkBenchArgs),
    /// Measure a node's scheduling (duplicates' cost to primaries, wake-up latency),
    /// the independence of nodes under a straggler, and a network port's receive rate.
    Bench(bench_cmd::BenchArgs),
    /// Inspect captures with Snort rules (like `snort -r`) and print alerts and a
    /// summary.
    Ids(ids_cmd::IdsArgs),
    /// The IDS-cluster experiment: calibrate the nodes, offer every load with every
    /// scheme (and a straggler), and write goodput, latency and plots.
    Experiment(experiment::ExperimentArgs),
    /// The traffic source as a process: send a capture or generated traffic out of a
    /// network port (afpacket:IFACE, afxdp:IFACE or dpdk:NAME).
    Replay(stage::ReplayArgs),
    /// The duplicator as a process: traffic in on one port, each node's copies out on
    /// its port.
    Duplicator(stage::DuplicatorArgs),
    /// One IDS node as a process: copies in from the duplicator (primaries and
    /// duplicates steered to their queues), inspected packets out to dedup.
    Worker(stage::WorkerArgs),
    /// Dedup as a process: copies in from every node, the first copy of each job out.
    Dedup(stage::DedupArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_cmd::run(args),
        Command::Gen(args) => gen_cmd::run(args),
        Command::DpdkConfig(args) => dpdk_cmd::run(args),
        Command::DpdkBench(args) => dpdk_bench_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Ids(args) => ids_cmd::run(args),
        Command::Experiment(args) => experiment::run(args),
        Command::Replay(args) => stage::replay::run(args),
        Command::Duplicator(args) => stage::duplicator::run(args),
        Command::Worker(args) => stage::worker::run(args),
        Command::Dedup(args) => stage::dedup::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("das: error: {}", one_line(&e));
            std::process::ExitCode::from(2)
        }
    }
}

/// An error and its causes on one line, each cause once. Many errors show their cause
/// in their own message (`port p: opening a socket: Operation not permitted`) and also
/// return it as their source, which `{:#}` would print a second time; a cause whose
/// text the line already holds is left out.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::one_line;
    use dataplane::port::PortError;

    #[test]
    fn causes_shown_by_their_error_are_not_repeated() {
        // EPERM.
        let io = std::io::Error::from_raw_os_error(1);
        let e = anyhow::Error::new(PortError::Io {
            port: "output".into(),
            context: "opening an AF_PACKET socket".into(),
            source: io,
        })
        .context("cannot open afpacket:pa");
        assert_eq!(
            one_line(&e),
            "cannot open afpacket:pa: port output: opening an AF_PACKET socket: Operation not \
             permitted (os error 1)"
        );
        // Causes that their error does not show are all kept, in order.
        let e = anyhow::anyhow!("no such file")
            .context("reading x")
            .context("loading y");
        assert_eq!(one_line(&e), "loading y: reading x: no such file");
    }
}
