//! The run summary: accounting checks that every packet is accounted for, the human
//! summary, and the JSON document.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use dataplane::port::QueueStats;
use dataplane::ring::Overflow;
use duplicator::Scheme;

use crate::alerts::{AlertSummary, LoadedRules};
use crate::pipeline::RunReport;

/// One accounting identity and whether it held.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// The numbers on both sides.
    pub detail: String,
}

fn check(
    checks: &mut Vec<Check>,
    name: impl Into<String>,
    left: u64,
    right: u64,
    detail: impl Into<String>,
) {
    checks.push(Check {
        name: name.into(),
        ok: left == right,
        detail: format!("{}: {left} vs {right}", detail.into()),
    });
}

fn queue_drops(q: &QueueStats) -> u64 {
    q.dropped.values().sum()
}

/// The name of the end-to-end check of lossless runs.
const EXACTLY_ONCE: &str = "every packet in left dedup exactly once";

/// Every identity a completed run must satisfy: at each stage received = forwarded +
/// dropped, on each link sent = received + dropped, the duplicator's copies all
/// accounted for, and end to end every job left dedup exactly once when nothing on the
/// way was allowed to lose one (lossless primary queues, no dead node, no verdict drop);
/// otherwise at most once.
pub fn accounting(r: &RunReport) -> Vec<Check> {
    let mut c = Vec::new();
    let src_q = &r.source_port.queues[0];
    check(
        &mut c,
        "source delivered what its port received",
        r.source_forward.packets,
        src_q.rx_packets,
        "delivered vs port rx",
    );
    for (d, link) in r.ingress.iter().enumerate() {
        let q = &link.port.queues[0];
        check(
            &mut c,
            format!("source link {d}: sent = received"),
            q.tx_packets,
            q.rx_packets + queue_drops(q),
            "tx vs rx + dropped",
        );
        check(
            &mut c,
            format!("duplicator {d} received what the source sent it"),
            r.duplicators[d].counters.received,
            r.source_split[d].packets,
            "received vs source delivered",
        );
    }
    let dup = &r.duplicator;
    let jobs = &dup.counters;
    check(
        &mut c,
        "duplicator received what the source sent",
        jobs.received,
        r.source_forward.packets,
        "received vs source delivered",
    );
    check(
        &mut c,
        "duplicator: received = forwarded + dropped",
        jobs.received,
        jobs.forwarded + jobs.dropped_total(),
        "received vs forwarded + dropped",
    );
    let taken: u64 = dup.copies_per_node.iter().flatten().sum();
    let lost: u64 = dup.copies_lost_per_node.iter().sum();
    check(
        &mut c,
        "duplicator: every copy taken by a node queue or lost with its node",
        taken + lost,
        jobs.forwarded - dup.failovers + dup.duplicates,
        "taken + lost vs dispatched",
    );
    if dup.dead_nodes.is_empty() {
        let expected = if r.scheme == Scheme::Single {
            0
        } else {
            jobs.received
        };
        check(
            &mut c,
            "duplicator: one duplicate per packet, or a reason for none",
            dup.duplicates + dup.not_hedged + dup.guarded,
            expected,
            "duplicates + not hedged + guarded vs expected",
        );
    }
    let mut nf_drops = 0;
    for (i, node) in r.node_reports.iter().enumerate() {
        // What every duplicator core sent to this node, per queue (primaries,
        // duplicates and, where the node has one, rescue duplicates).
        let queues = r
            .to_nodes
            .first()
            .map_or(0, |links| links[i].port.queues.len());
        let to: Vec<QueueStats> = (0..queues)
            .map(|q| {
                let mut total = QueueStats::default();
                for links in &r.to_nodes {
                    total.add(&links[i].port.queues[q]);
                }
                total
            })
            .collect();
        let from = &r.from_nodes[i].port.queues;
        for (q, copies) in dup.copies_per_node[i].iter().enumerate() {
            check(
                &mut c,
                format!("node {i} queue {q}: took what the duplicator counted"),
                to.get(q).map_or(0, |queue| queue.tx_packets),
                *copies,
                "queue tx vs duplicator",
            );
        }
        for (q, queue) in to.iter().enumerate() {
            check(
                &mut c,
                format!("node {i} queue {q}: sent = received + dropped"),
                queue.tx_packets,
                queue.rx_packets + queue_drops(queue),
                "tx vs rx + dropped",
            );
        }
        // The secondary instance serves every queue after queue 0.
        let mut secondary_in = QueueStats::default();
        for queue in to.iter().skip(1) {
            secondary_in.add(queue);
        }
        let primary_in = to.first().cloned().unwrap_or_default();
        for (q, inst) in [
            (&primary_in, &node.primary),
            (&secondary_in, &node.secondary),
        ] {
            let role = format!("{:?}", inst.role).to_lowercase();
            check(
                &mut c,
                format!("node {i} {role}: took what its queues gave"),
                inst.counters.received,
                q.rx_packets,
                "received vs queue rx",
            );
            check(
                &mut c,
                format!("node {i} {role}: received = forwarded + dropped"),
                inst.counters.received,
                inst.counters.forwarded + inst.counters.dropped_total(),
                "received vs forwarded + dropped",
            );
            nf_drops += inst.counters.dropped_for(dataplane::DropReason::NfVerdict);
        }
        for (q, inst) in [(&from[0], &node.primary), (&from[1], &node.secondary)] {
            check(
                &mut c,
                format!("node {i} output link: sent = received"),
                q.tx_packets,
                q.rx_packets + queue_drops(q),
                "tx vs rx + dropped",
            );
            check(
                &mut c,
                format!("node {i} output link carried what the instance forwarded"),
                q.tx_packets,
                inst.counters.forwarded,
                "tx vs forwarded",
            );
        }
    }
    let from_nodes: u64 = (0..r.nodes)
        .flat_map(|i| r.from_nodes[i].port.queues.iter())
        .map(|q| q.rx_packets)
        .sum();
    let d = &r.dedup.counters;
    check(
        &mut c,
        "dedup received what the nodes sent",
        d.received,
        from_nodes,
        "received vs node links rx",
    );
    check(
        &mut c,
        "dedup: received = forwarded + dropped",
        d.received,
        d.forwarded + d.dropped_total(),
        "received vs unique + dropped",
    );
    // Content-hash dedup also collapses packets the input itself holds twice: never
    // more than the packets in, but possibly fewer.
    let lossless = r.primary_overflow == Overflow::Backpressure
        && !r.content_dedup
        && dup.dead_nodes.is_empty()
        && nf_drops == 0
        && jobs.dropped_total() == 0;
    if lossless {
        check(
            &mut c,
            EXACTLY_ONCE,
            d.forwarded,
            jobs.received,
            "unique out vs packets in",
        );
    } else {
        c.push(Check {
            name: "no packet left dedup twice".into(),
            ok: d.forwarded <= jobs.forwarded,
            detail: format!(
                "unique out {} vs jobs dispatched {} ({} fewer: lossy primary queues, dead nodes, verdict drops or content-identical packets allow it)",
                d.forwarded,
                jobs.forwarded,
                jobs.received.saturating_sub(d.forwarded)
            ),
        });
    }
    check(
        &mut c,
        "output wrote every unique packet",
        r.output.queues[0].tx_packets,
        d.forwarded,
        "output tx vs unique",
    );
    c
}

/// Drops by reason over every stage and queue, with where they happened.
pub fn drops_by_reason(r: &RunReport) -> BTreeMap<String, Vec<(String, u64)>> {
    let mut out: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    let mut add = |place: String, drops: &BTreeMap<String, u64>| {
        for (reason, &n) in drops {
            out.entry(reason.clone())
                .or_default()
                .push((place.clone(), n));
        }
    };
    add("source".into(), &r.source_port.queues[0].dropped);
    add("duplicator".into(), &r.duplicator.counters.dropped);
    let links = r
        .ingress
        .iter()
        .chain(r.to_nodes.iter().flatten())
        .chain(&r.from_nodes);
    for link in links {
        for (q, stats) in link.port.queues.iter().enumerate() {
            add(format!("{} queue {q}", link.port.name), &stats.dropped);
        }
    }
    for node in &r.node_reports {
        add(
            format!("node {} primary", node.id),
            &node.primary.counters.dropped,
        );
        add(
            format!("node {} secondary", node.id),
            &node.secondary.counters.dropped,
        );
    }
    add("dedup".into(), &r.dedup.counters.dropped);
    out
}

/// Formats a count with thousands separators.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Formats a rate with an SI prefix.
pub fn rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2}M", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1}k", per_sec / 1e3)
    } else {
        format!("{per_sec:.0}")
    }
}

/// The human summary of a run.
pub fn summary(r: &RunReport, checks: &[Check]) -> String {
    let mut s = String::new();
    let d = &r.dedup;
    let dup = &r.duplicator;
    let _ = writeln!(
        s,
        "das run: {} nodes ({} scheduling), scheme {}, duplicate queue {}{}, batch {}; traffic: {}",
        r.nodes,
        r.mode.name(),
        r.scheme,
        r.duplicate_policy.name(),
        if r.purge_primaries {
            " (late primaries purged too)"
        } else {
            ""
        },
        r.batch,
        r.source
    );
    let src_drops = queue_drops(&r.source_port.queues[0]);
    let _ = writeln!(
        s,
        "  packets in      {} ({} bytes){}",
        count(r.source_forward.packets),
        count(r.source_forward.bytes),
        if src_drops > 0 {
            format!(
                "; {} capture records not replayed (see drops)",
                count(src_drops)
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "  duplicator      {} jobs{} -> {} dispatched with {} duplicates{}",
        count(dup.counters.received),
        if r.duplicators.len() > 1 {
            format!(" over {} cores", r.duplicators.len())
        } else {
            String::new()
        },
        count(dup.counters.forwarded),
        count(dup.duplicates),
        if dup.rescued > 0 {
            format!(
                " ({} of them rescues: their primary found its queue full)",
                count(dup.rescued)
            )
        } else {
            String::new()
        }
    );
    if !dup.dead_nodes.is_empty() {
        let _ = writeln!(
            s,
            "  node failures   nodes {:?} found down: {} duplicates failed over to high priority, {} copies lost with their node",
            dup.dead_nodes,
            count(dup.failovers),
            count(dup.copies_lost_per_node.iter().sum())
        );
    }
    for n in &r.node_reports {
        let mut core = n
            .core
            .map_or("unpinned".to_string(), |c| format!("cpu {c}"));
        if let Some(f) = n.capacity {
            let _ = write!(core, ", {:.0} % of a core", f * 100.0);
        }
        let inst = |i: &ids_worker::InstanceReport| {
            let dropped_at_queue = queue_drops(&i.queue);
            let mut t = format!("{} inspected", count(i.inspected));
            if dropped_at_queue > 0 {
                let _ = write!(t, ", {} dropped at queue", count(dropped_at_queue));
            }
            if i.counters.dropped_total() > 0 {
                let _ = write!(t, ", {} dropped", count(i.counters.dropped_total()));
            }
            t
        };
        let _ = writeln!(
            s,
            "  node {} ({core})  primary {} | secondary {}",
            n.id,
            inst(&n.primary),
            inst(&n.secondary)
        );
        if let Some(t) = n.killed_at_secs {
            let _ = writeln!(s, "    killed at {t:.3} s");
        }
    }
    let _ = writeln!(
        s,
        "  dedup           {} copies -> {} unique; first copy from primary {}, from duplicate {}",
        count(d.counters.received),
        count(d.counters.forwarded),
        count(d.first_from_primary),
        count(d.first_from_duplicate)
    );
    for st in &r.stragglers {
        let _ = writeln!(
            s,
            "  straggler       node {}: {:.0} % busy from {:.1} s for {:.1} s (spun {:.2} s)",
            st.straggler.node,
            st.straggler.intensity * 100.0,
            st.straggler.window.start.as_secs_f64(),
            st.straggler.window.duration.as_secs_f64(),
            st.busy_secs
        );
    }
    if !r.notices.is_empty() {
        let sent: u64 = r.notices.iter().map(|n| n.sent).sum();
        let dropped: u64 = r.notices.iter().map(|n| n.dropped).sum();
        let _ = writeln!(
            s,
            "  purge notices   {} sent to the nodes, {} dropped (channel full)",
            count(sent),
            count(dropped)
        );
    }
    let out = match &r.output_path {
        Some(p) => format!(" -> {}", p.display()),
        None => String::new(),
    };
    let _ = writeln!(
        s,
        "  unique out      {}{out}",
        count(r.output.queues[0].tx_packets)
    );
    let drops = drops_by_reason(r);
    if drops.is_empty() {
        let _ = writeln!(s, "  drops           none");
    } else {
        for (reason, places) in &drops {
            let total: u64 = places.iter().map(|(_, n)| n).sum();
            let at: Vec<String> = places
                .iter()
                .map(|(p, n)| format!("{p} {}", count(*n)))
                .collect();
            let _ = writeln!(
                s,
                "  drop {reason:<15} {} ({})",
                count(total),
                at.join(", ")
            );
        }
    }
    match d.upp.mean_upp_per_sec {
        Some(upp) => {
            let _ = writeln!(
                s,
                "  UPP/sec         {} (unique packets per second over {:.3} s)",
                rate(upp),
                d.upp.active_secs
            );
        }
        None => {
            let _ = writeln!(s, "  UPP/sec         n/a (too few packets to time)");
        }
    }
    if d.latency.count > 0 {
        let _ = writeln!(
            s,
            "  latency         p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, max {:.0} us (duplicator to dedup)",
            d.latency.p50_us, d.latency.p99_us, d.latency.p999_us, d.latency.max_us
        );
    }
    let _ = writeln!(
        s,
        "  elapsed         {:.3} s; buffers allocated {}",
        r.elapsed_secs,
        count(r.pool.allocated)
    );
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
    if failed.is_empty() {
        let end_to_end = if checks.iter().any(|c| c.name == EXACTLY_ONCE) {
            "every packet in left dedup once"
        } else {
            "no packet left dedup twice (this run could lose jobs)"
        };
        let _ = writeln!(
            s,
            "  accounting      OK ({} checks: received = forwarded + dropped at every stage and link; {end_to_end})",
            checks.len()
        );
    } else {
        let _ = writeln!(
            s,
            "  accounting      FAILED {} of {} checks:",
            failed.len(),
            checks.len()
        );
        for f in failed {
            let _ = writeln!(s, "    - {} ({})", f.name, f.detail);
        }
    }
    s
}

/// The UPP/sec timeline as CSV: one row per interval, the interval's start in seconds
/// and its unique packets per second.
pub fn timeline_csv(r: &RunReport) -> String {
    let upp = &r.dedup.upp;
    let mut s = String::from("t_secs,upp_per_sec\n");
    for (i, rate) in upp.timeline.iter().enumerate() {
        let _ = writeln!(s, "{:.3},{rate:.1}", i as f64 * upp.interval_ms / 1e3);
    }
    s
}

/// The run's counters as Prometheus text metrics.
pub fn prometheus(r: &RunReport, checks: &[Check]) -> String {
    let mut s = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, rows: &[(String, f64)]| {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(s, "{name}{labels} {value}");
        }
    };
    let d = &r.dedup;
    let plain = |v: u64| vec![(String::new(), v as f64)];
    metric(
        "das_packets_in_total",
        "counter",
        "Packets the traffic source delivered.",
        &plain(r.source_forward.packets),
    );
    metric(
        "das_unique_packets_total",
        "counter",
        "Unique packets dedup forwarded.",
        &plain(d.counters.forwarded),
    );
    metric(
        "das_duplicates_total",
        "counter",
        "Duplicate copies the duplicator made.",
        &plain(r.duplicator.duplicates),
    );
    metric(
        "das_first_copy_total",
        "counter",
        "Unique packets by the copy that arrived first.",
        &[
            ("{kind=\"primary\"}".into(), d.first_from_primary as f64),
            ("{kind=\"duplicate\"}".into(), d.first_from_duplicate as f64),
        ],
    );
    let by_node: Vec<(String, f64)> = d
        .first_by_node
        .iter()
        .enumerate()
        .map(|(n, &v)| (format!("{{node=\"{n}\"}}"), v as f64))
        .collect();
    metric(
        "das_unique_by_node_total",
        "counter",
        "Unique packets by the node that delivered them first.",
        &by_node,
    );
    let mut inspected = Vec::new();
    for n in &r.node_reports {
        for (role, inst) in [("primary", &n.primary), ("secondary", &n.secondary)] {
            inspected.push((
                format!("{{node=\"{}\",instance=\"{role}\"}}", n.id),
                inst.inspected as f64,
            ));
        }
    }
    metric(
        "das_node_inspected_total",
        "counter",
        "Packets each node instance inspected.",
        &inspected,
    );
    let drops: Vec<(String, f64)> = drops_by_reason(r)
        .into_iter()
        .flat_map(|(reason, places)| {
            places.into_iter().map(move |(place, n)| {
                (
                    format!("{{reason=\"{reason}\",place=\"{place}\"}}"),
                    n as f64,
                )
            })
        })
        .collect();
    metric(
        "das_dropped_packets_total",
        "counter",
        "Packets dropped, by reason and place.",
        &drops,
    );
    metric(
        "das_upp_per_second",
        "gauge",
        "Mean unique packets per second over the run.",
        &[(String::new(), d.upp.mean_upp_per_sec.unwrap_or(0.0))],
    );
    let l = &d.latency;
    metric(
        "das_latency_microseconds",
        "summary",
        "Latency of unique packets from the duplicator to dedup.",
        &[
            ("{quantile=\"0.5\"}".into(), l.p50_us),
            ("{quantile=\"0.99\"}".into(), l.p99_us),
            ("{quantile=\"0.999\"}".into(), l.p999_us),
            ("{quantile=\"1\"}".into(), l.max_us),
        ],
    );
    metric(
        "das_elapsed_seconds",
        "gauge",
        "Wall-clock length of the run.",
        &[(String::new(), r.elapsed_secs)],
    );
    let failed = checks.iter().filter(|c| !c.ok).count();
    metric(
        "das_accounting_failures",
        "gauge",
        "Accounting checks that failed (0: every packet accounted for).",
        &plain(failed as u64),
    );
    s
}

/// The alerts section of `das run`'s summary: rules, unique alerts, which copies raised
/// them, the most frequent rules.
pub fn alerts_summary(rules: &LoadedRules, a: &AlertSummary) -> String {
    let mut s = String::new();
    let rep = &rules.report;
    let _ = writeln!(
        s,
        "  ids rules       {} loaded from {} ({} dropped by the skip policy)",
        count(rep.loaded as u64),
        rules.description,
        count(rep.dropped as u64)
    );
    let _ = writeln!(
        s,
        "  alerts          {} unique (one per job and rule) of {} raised: {} by the primary copy only, {} by the duplicate only, {} by both, {} at the end of flows; {} raised by a duplicate on another packet of a flow its primary alerted on{}",
        count(a.unique),
        count(a.raised),
        count(a.primary_only),
        count(a.duplicate_only),
        count(a.both),
        count(a.at_end),
        count(a.duplicate_elsewhere),
        if a.dropped > 0 {
            format!("; {} lost to full alert buffers", count(a.dropped))
        } else {
            String::new()
        }
    );
    for (node, [p, d]) in a.raised_by_node.iter().enumerate() {
        let _ = writeln!(
            s,
            "    node {node}: {} raised by the primary instance, {} by the secondary",
            count(*p),
            count(*d)
        );
    }
    for (sig, n, msg) in a.by_rule.iter().take(10) {
        let _ = writeln!(s, "    {:>8}  {sig}  {msg}", count(*n));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
    }
}
