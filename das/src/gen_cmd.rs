//! `das gen`, and the generated-traffic options `das run` shares with it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use dataplane::memory::TimedFrame;
use dataplane::pcap::{Pace, PcapWriter, ReplayConfig};
use traffic_gen::{GenConfig, Generator, SizeMix};

use crate::report::count;

/// A capture to replay instead of generated traffic (`das run`, `das replay`).
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Replay this capture (pcap or pcapng, Ethernet) instead of generated traffic.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// Replay the capture this many times.
    #[arg(long, default_value_t = 1, value_name = "K", requires = "pcap")]
    loops: u64,

    /// Give each loop its own addresses (byte 1 of every IP address XORed with the loop
    /// number, checksums kept right), so looped traffic holds distinct flows.
    #[arg(long, requires = "pcap")]
    distinct_loops: bool,
}

impl CaptureArgs {
    /// The capture and how to replay it at `pace`, if one was named.
    pub fn replay(&self, pace: Pace) -> Result<Option<(PathBuf, ReplayConfig)>> {
        if self.loops == 0 {
            anyhow::bail!("--loops must be at least 1");
        }
        pace.validate().context("--pace")?;
        Ok(self.pcap.clone().map(|path| {
            let config = ReplayConfig::default()
                .with_pace(pace)
                .with_loops(self.loops)
                .with_distinct_loops(self.distinct_loops);
            (path, config)
        }))
    }
}

/// What to generate.
#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// Number of generated flows (TCP connections, DNS exchanges, ping sessions).
    #[arg(long, default_value_t = 2000, value_name = "N")]
    flows: u64,

    /// Seed of the generator: the same options give the same bytes.
    #[arg(long, default_value_t = 1, value_name = "N")]
    seed: u64,

    /// Frame sizes of data-bearing packets: natural (as the protocols make them), imix,
    /// small, large, or LEN:WEIGHT pairs such as 64:7,590:4,1514:1.
    #[arg(long, default_value = "natural", value_name = "MIX")]
    size_mix: SizeMix,

    /// Fraction of flows (0 to 1) carrying a known attack payload.
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    attacks: f64,

    /// Fraction of flows (0 to 1) over IPv6.
    #[arg(long, default_value_t = 0.2, value_name = "F")]
    ipv6: f64,
}

impl TrafficArgs {
    fn config(&self) -> GenConfig {
        GenConfig {
            seed: self.seed,
            flows: self.flows,
            size_mix: self.size_mix.clone(),
            attack_fraction: self.attacks,
            ipv6_share: self.ipv6,
            ..GenConfig::default()
        }
    }

    /// The generator's frames, streamed, with a description for reports.
    pub fn frames(&self) -> Result<(String, Box<dyn Iterator<Item = TimedFrame> + Send>)> {
        let generator = Generator::new(self.config()).context("traffic generator")?;
        let description = format!(
            "generated ({} flows, seed {}, size mix {}, {:.0} % IPv6, {:.0} % attacks)",
            self.flows,
            self.seed,
            self.size_mix,
            self.ipv6 * 100.0,
            self.attacks * 100.0
        );
        Ok((
            description,
            Box::new(generator.map(|p| (p.timestamp_ns, p.frame))),
        ))
    }
}

/// Options of `das gen`.
#[derive(Debug, Args)]
#[command(after_help = "\
Writes classic pcap with nanosecond timestamps and prints what it generated: packets, \
bytes, flows by protocol, IPv6 flows and flows carrying each attack.")]
pub struct GenArgs {
    /// The pcap file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,

    #[command(flatten)]
    traffic: TrafficArgs,
}

/// Runs `das gen`.
pub fn run(args: GenArgs) -> Result<ExitCode> {
    let mut generator = Generator::new(args.traffic.config()).context("traffic generator")?;
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut writer = PcapWriter::new(std::io::BufWriter::new(file))
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    for p in generator.by_ref() {
        writer
            .write_frame(p.timestamp_ns, &p.frame)
            .with_context(|| format!("cannot write {}", args.out.display()))?;
    }
    writer
        .flush()
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let s = generator.summary();
    println!(
        "das gen: wrote {} packets ({} bytes) of {} flows to {}",
        count(s.packets),
        count(s.bytes),
        count(s.flows),
        args.out.display()
    );
    let protocols: Vec<String> = s
        .flows_by_protocol
        .iter()
        .map(|(p, n)| format!("{p} {}", count(*n)))
        .collect();
    println!("  flows by protocol  {}", protocols.join(", "));
    println!("  IPv6 flows         {}", count(s.ipv6_flows));
    if !s.attack_flows.is_empty() {
        let attacks: Vec<String> = s
            .attack_flows
            .iter()
            .map(|(a, n)| format!("{} {}", a.name(), count(*n)))
            .collect();
        println!("  attack flows       {}", attacks.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
