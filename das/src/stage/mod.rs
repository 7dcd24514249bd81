//! Stages as processes: `das replay`, `das duplicator`, `das worker` and `das dedup`.
//!
//! The one-process pipeline (`das run`) links its stages with in-memory rings. Here each
//! stage runs alone and talks to its peers over network ports (AF_PACKET or AF_XDP on a
//! Linux interface: a veth into another network namespace, or a NIC; or DPDK: a NIC, or
//! a `net_memif` pair between two processes), so the same cluster runs as one process
//! per host: in network namespaces on one machine (`scripts/topology.sh`) or on a
//! testbed. The job metadata travels in each frame
//! (docs/METADATA.md) and the receiving node's port steers each copy to its queue by
//! the outer destination MAC, so the stages need nothing else from each other.
//!
//! A network link never closes, so each process decides that its input has ended after
//! it saw traffic and then none for `--idle-exit`, or on SIGINT/SIGTERM; it then drains,
//! writes its report (JSON with `--report`) and exits.

pub mod dedup;
#[cfg(feature = "dpdk")]
mod dpdk_ports;
pub mod duplicator;
mod netmap;
pub mod notices;
pub mod ports;
pub mod replay;
pub mod status;
pub mod worker;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use dataplane::input_end::InputEnd;

pub use dedup::{DedupArgs, DedupStageReport};
pub use duplicator::{DuplicatorArgs, DuplicatorStageReport};
use ports::{PortSpec, StagePorts};
pub use replay::{ReplayArgs, ReplayReport};
pub use worker::{WorkerArgs, WorkerReport};

use crate::spec;

/// Options every stage process takes.
#[derive(Debug, Args)]
pub struct StageArgs {
    /// The input has ended once traffic came and then none for this long (a network
    /// link never closes); the stage then drains and exits. SIGINT or SIGTERM end it
    /// at once.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = spec::duration)]
    idle_exit: Duration,

    /// Write the stage's counters as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Packets per batch (1 to 256).
    #[arg(long, default_value_t = dataplane::DEFAULT_BATCH, value_name = "N")]
    batch: usize,

    /// The DPDK configuration folder that dpdk:NAME ports come from: eal.toml (the
    /// EAL of this process), ports.toml (NAME is one of its ports) and flow-rules.toml,
    /// as `das dpdk-config` checks them.
    #[arg(long, default_value = "dpdk-config", value_name = "DIR")]
    dpdk_config: PathBuf,
}

impl StageArgs {
    /// The ports of this process, for `specs`: their inputs end after the idle time
    /// or on SIGINT and SIGTERM; DPDK starts here when one of them is a DPDK port.
    fn ports(&self, specs: &[&PortSpec]) -> Result<StagePorts> {
        dataplane::Batch::with_capacity(self.batch).context("--batch")?;
        let end = InputEnd::after_idle(self.idle_exit);
        let ports = StagePorts::new(end.clone(), &self.dpdk_config, specs)?;
        ctrlc::set_handler(move || end.stop()).context("installing the signal handler")?;
        Ok(ports)
    }

    /// Says on stderr that the stage's ports are open and its threads run, so a
    /// launcher (scripts/cluster.sh) knows when traffic may start.
    fn ready(&self, stage: &str) {
        eprintln!("das {stage}: ready");
    }

    /// Writes `report` as JSON to `--report`, if given.
    fn write_report(&self, stage: &str, report: &impl serde::Serialize) -> Result<()> {
        let Some(path) = &self.report else {
            return Ok(());
        };
        let doc = serde_json::json!({ "stage": stage, "report": report });
        let text = serde_json::to_string_pretty(&doc).context("serialising the report")?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }
}
