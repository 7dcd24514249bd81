//! `flow-rules.toml`: the steering rules that put an IDS node's duplicates on their
//! own receive queue, as rte_flow rules for NICs and as a software Flow Director.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, Source, read};
use super::mac::MacAddr;

/// `flow-rules.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowRulesFile {
    port: Spanned<String>,
    #[serde(default)]
    rule: Vec<RuleEntry>,
}

/// One `[[rule]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    name: Spanned<String>,
    dst: Option<Spanned<String>>,
    dst_mask: Option<Spanned<String>>,
    ether_type: Option<Spanned<u16>>,
    queue: Spanned<u16>,
}

/// The steering rules of one port, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRules {
    /// The `ports.toml` port whose receive queues the rules choose.
    pub port: String,
    /// The rules; the first that matches a frame decides its queue.
    pub rules: Vec<FlowRule>,
}

/// One rule: a match on the outer Ethernet header and the queue it sends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRule {
    /// A name for reports (unique).
    pub name: String,
    /// Destination MAC match, if the rule looks at it.
    pub dst: Option<MacMatch>,
    /// EtherType the frame must carry (exact), if the rule looks at it.
    pub ether_type: Option<u16>,
    /// Receive queue for matching frames.
    pub queue: u16,
}

/// A masked MAC match: a frame matches when `addr & mask == spec & mask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacMatch {
    /// The value to match.
    pub spec: MacAddr,
    /// Which bits count (one = must match).
    pub mask: MacAddr,
}

impl MacMatch {
    /// Whether `addr` matches.
    #[inline]
    pub fn matches(&self, addr: &[u8; 6]) -> bool {
        addr.iter()
            .zip(self.spec.0)
            .zip(self.mask.0)
            .all(|((a, s), m)| a & m == s & m)
    }

    /// Whether some address matches both `self` and `other`.
    fn overlaps(&self, other: &MacMatch) -> bool {
        (0..6).all(|i| {
            let both = self.mask.0[i] & other.mask.0[i];
            (self.spec.0[i] ^ other.spec.0[i]) & both == 0
        })
    }
}

/// Bytes of an untagged Ethernet header: the least a frame needs to match any rule.
const ETH_HEADER_LEN: usize = 14;

impl FlowRule {
    /// Whether the rule matches `frame` (an Ethernet frame, outer header first).
    /// Frames shorter than an Ethernet header match nothing.
    #[inline]
    pub fn matches(&self, frame: &[u8]) -> bool {
        let Some(header) = frame.first_chunk::<ETH_HEADER_LEN>() else {
            return false;
        };
        let dst: &[u8; 6] = header.first_chunk().expect("14 > 6");
        let ether_type = u16::from_be_bytes([header[12], header[13]]);
        self.dst.is_none_or(|m| m.matches(dst)) && self.ether_type.is_none_or(|t| t == ether_type)
    }

    /// The rule as a `dpdk-testpmd` command for port `port_id`, such as
    /// `flow create 0 ingress pattern eth dst spec 02:44:41:53:00:01 dst mask
    /// ff:ff:ff:ff:00:ff type is 0x894f / end actions queue index 1 / end`.
    ///
    /// A full mask is written `dst is X`; a partial one `dst spec X dst mask M`.
    pub fn testpmd_command(&self, port_id: u16) -> String {
        let mut cmd = format!("flow create {port_id} ingress pattern eth");
        if let Some(m) = &self.dst {
            if m.mask == MacAddr::FULL_MASK {
                cmd.push_str(&format!(" dst is {}", m.spec));
            } else {
                cmd.push_str(&format!(" dst spec {} dst mask {}", m.spec, m.mask));
            }
        }
        if let Some(t) = self.ether_type {
            cmd.push_str(&format!(" type is {t:#06x}"));
        }
        cmd.push_str(&format!(" / end actions queue index {} / end", self.queue));
        cmd
    }

    /// Whether some frame matches both rules.
    fn overlaps(&self, other: &FlowRule) -> bool {
        let dst = match (&self.dst, &other.dst) {
            (Some(a), Some(b)) => a.overlaps(b),
            _ => true,
        };
        let ether_type = match (self.ether_type, other.ether_type) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        dst && ether_type
    }
}

impl FlowRules {
    /// Reads and validates a `flow-rules.toml` file (the queue indices are checked
    /// against the port by [`DpdkConfig::load`](super::DpdkConfig::load)).
    pub fn load(file: impl AsRef<Path>) -> Result<FlowRules, ConfigError> {
        let file = file.as_ref();
        FlowRules::parse(&read(file)?, file)
    }

    /// Validates the text of a `flow-rules.toml` file; `file` names it in errors.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<FlowRules, ConfigError> {
        parse_located(text, file.as_ref()).map(|(rules, _)| rules)
    }

    /// Software Flow Director: the queue of the first rule that matches `frame`, or
    /// `None` when no rule does (then RSS, or the default queue, decides). Never
    /// panics, whatever the bytes.
    #[inline]
    pub fn queue_for(&self, frame: &[u8]) -> Option<u16> {
        self.rules
            .iter()
            .find(|r| r.matches(frame))
            .map(|r| r.queue)
    }

    /// Every rule as a `dpdk-testpmd` `flow create` command for port `port_id`, in
    /// order.
    pub fn testpmd_commands(&self, port_id: u16) -> Vec<String> {
        self.rules
            .iter()
            .map(|r| r.testpmd_command(port_id))
            .collect()
    }
}

/// Where the values the cross-file checks look at sit in the file.
pub(crate) struct RuleLines {
    /// Line of `port`.
    pub(crate) port: usize,
    /// Line of each rule's `queue`, in rule order.
    pub(crate) queue: Vec<usize>,
}

/// Validates `flow-rules.toml`, also returning the lines the cross-file checks report.
pub(crate) fn parse_located(
    text: &str,
    file: &Path,
) -> Result<(FlowRules, RuleLines), ConfigError> {
    let src = Source { file, text };
    let raw: FlowRulesFile = src.parse()?;
    let mut rules: Vec<FlowRule> = Vec::with_capacity(raw.rule.len());
    let mut lines = RuleLines {
        port: src.line(raw.port.span()),
        queue: Vec::new(),
    };
    let mut name_lines: Vec<usize> = Vec::new();
    for (i, entry) in raw.rule.iter().enumerate() {
        let rule = validate_rule(&src, i, entry, &rules)?;
        if let Some((j, other)) = rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.queue != rule.queue && r.overlaps(&rule))
        {
            return Err(src.invalid(
                entry.name.span(),
                format!("rule[{i}]"),
                format!(
                    "rule `{}` can match the same frames as rule `{}` (line {}) but sends them \
                     to another queue; NICs give rules of equal priority no order, so make \
                     the matches disjoint",
                    rule.name, other.name, name_lines[j]
                ),
            ));
        }
        lines.queue.push(src.line(entry.queue.span()));
        name_lines.push(src.line(entry.name.span()));
        rules.push(rule);
    }
    Ok((
        FlowRules {
            port: raw.port.into_inner(),
            rules,
        },
        lines,
    ))
}

fn validate_rule(
    src: &Source<'_>,
    i: usize,
    e: &RuleEntry,
    earlier: &[FlowRule],
) -> Result<FlowRule, ConfigError> {
    let field = |name: &str| format!("rule[{i}].{name}");
    let name = e.name.get_ref();
    if name.is_empty() {
        return Err(src.invalid(e.name.span(), field("name"), "a rule needs a name"));
    }
    if earlier.iter().any(|r| &r.name == name) {
        return Err(src.invalid(
            e.name.span(),
            field("name"),
            format!("rule name `{name}` is used twice"),
        ));
    }
    let mac = |s: &Spanned<String>, what: &str| -> Result<MacAddr, ConfigError> {
        s.get_ref()
            .parse::<MacAddr>()
            .map_err(|err| src.invalid(s.span(), field(what), err.to_string()))
    };
    let dst = match (&e.dst, &e.dst_mask) {
        (None, None) => None,
        (None, Some(m)) => {
            return Err(src.invalid(
                m.span(),
                field("dst_mask"),
                "dst_mask without dst: write the address to match in dst",
            ));
        }
        (Some(d), m) => {
            let spec = mac(d, "dst")?;
            let mask = match m {
                Some(m) => mac(m, "dst_mask")?,
                None => MacAddr::FULL_MASK,
            };
            if let Some(b) = (0..6).find(|&b| spec.0[b] & !mask.0[b] != 0) {
                return Err(src.invalid(
                    d.span(),
                    field("dst"),
                    format!(
                        "byte {b} of dst ({:02x}) has bits the mask ignores ({:02x}): clear \
                         them so the rule reads as it matches",
                        spec.0[b], mask.0[b]
                    ),
                ));
            }
            Some(MacMatch { spec, mask })
        }
    };
    Ok(FlowRule {
        name: name.clone(),
        dst,
        ether_type: e.ether_type.as_ref().map(|t| *t.get_ref()),
        queue: *e.queue.get_ref(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(dst: &str, mask: &str, ether_type: Option<u16>, queue: u16) -> FlowRule {
        FlowRule {
            name: format!("q{queue}"),
            dst: Some(MacMatch {
                spec: dst.parse().unwrap(),
                mask: mask.parse().unwrap(),
            }),
            ether_type,
            queue,
        }
    }

    #[test]
    fn full_masks_render_as_is() {
        let r = rule("02:44:41:53:00:01", "ff:ff:ff:ff:ff:ff", None, 1);
        assert_eq!(
            r.testpmd_command(3),
            "flow create 3 ingress pattern eth dst is 02:44:41:53:00:01 / end actions queue index 1 / end"
        );
        let any = FlowRule {
            name: "all".into(),
            dst: None,
            ether_type: Some(0x0800),
            queue: 0,
        };
        assert_eq!(
            any.testpmd_command(0),
            "flow create 0 ingress pattern eth type is 0x0800 / end actions queue index 0 / end"
        );
    }

    #[test]
    fn overlap_is_decided_on_common_mask_bits() {
        let q1 = rule("02:44:41:53:00:01", "ff:ff:ff:ff:00:ff", Some(0x894f), 1);
        let q0 = rule("02:44:41:53:00:00", "ff:ff:ff:ff:00:ff", Some(0x894f), 0);
        let node3 = rule("02:44:41:53:03:00", "ff:ff:ff:ff:ff:00", Some(0x894f), 0);
        assert!(!q1.overlaps(&q0));
        assert!(q1.overlaps(&node3));
        let other_type = rule("02:44:41:53:03:00", "ff:ff:ff:ff:ff:00", Some(0x0800), 0);
        assert!(!q1.overlaps(&other_type));
    }
}
