//! What loading a rule set did: rules loaded and dropped, keywords skipped, errors.

use std::collections::BTreeMap;
use std::fmt;

use super::rule::SkipEffect;

/// Whether a rule with a keyword that constrains detection, and that the engine does
/// not honour, is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SkipPolicy {
    /// Drop such a rule (the default): every loaded rule is honoured in full, so an
    /// alert always means what the rule says.
    #[default]
    Drop,
    /// Load such a rule without the keyword: it may alert on more than it should.
    /// Every such rule and keyword is counted in the report.
    Relax,
}

/// A rule that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// `file:line`.
    pub location: String,
    /// The rule's sid, if it was read before the problem.
    pub sid: Option<u32>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sid {
            Some(sid) => write!(f, "{}: sid {sid}: {}", self.location, self.message),
            None => write!(f, "{}: {}", self.location, self.message),
        }
    }
}

/// How often a keyword the engine does not honour was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeywordCount {
    /// Rules that use it.
    pub rules: usize,
    /// Of those, rules dropped by the policy (for this keyword or another).
    pub dropped: usize,
    /// Of those, rules loaded with the keyword ignored.
    pub loaded: usize,
    /// Whether the keyword constrains detection.
    pub constraint: bool,
}

/// What loading did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadReport {
    /// Files read.
    pub files: usize,
    /// Rules read (every rule statement, including malformed ones).
    pub rules_read: usize,
    /// Rules loaded.
    pub loaded: usize,
    /// Rules dropped by the skip policy.
    pub dropped: usize,
    /// Rules loaded although a keyword that constrains detection was skipped
    /// ([`SkipPolicy::Relax`]).
    pub relaxed: usize,
    /// Rules that replaced an earlier rule with the same gid:sid (the higher
    /// revision wins).
    pub duplicates: usize,
    /// Rules that could not be read (only with lenient loading; otherwise loading
    /// stops at the first).
    pub malformed: Vec<RuleProblem>,
    /// Keywords not honoured, by keyword.
    pub keywords: BTreeMap<String, KeywordCount>,
    /// Event filters read (from `threshold` options and filter tables).
    pub event_filters: usize,
    /// Directives read and ignored (`config ...`, `preprocessor ...`), by keyword.
    pub ignored_directives: BTreeMap<String, usize>,
}

impl LoadReport {
    pub(crate) fn count_keywords(&mut self, skipped: &[(String, SkipEffect)], dropped: bool) {
        for (k, effect) in skipped {
            let e = self.keywords.entry(k.clone()).or_default();
            e.rules += 1;
            e.constraint |= *effect == SkipEffect::Constraint;
            if dropped {
                e.dropped += 1;
            } else {
                e.loaded += 1;
            }
        }
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rules: {} read, {} loaded, {} dropped by policy, {} loaded relaxed, {} malformed, \
             {} duplicates replaced; {} event filters",
            self.rules_read,
            self.loaded,
            self.dropped,
            self.relaxed,
            self.malformed.len(),
            self.duplicates,
            self.event_filters
        )?;
        if !self.keywords.is_empty() {
            writeln!(
                f,
                "keywords not honoured (rules using it: dropped / loaded):"
            )?;
            let mut by_count: Vec<_> = self.keywords.iter().collect();
            by_count.sort_by(|a, b| b.1.rules.cmp(&a.1.rules).then(a.0.cmp(b.0)));
            for (k, c) in by_count {
                let kind = if c.constraint {
                    "constrains detection"
                } else {
                    "ignored, no effect on alerts"
                };
                writeln!(
                    f,
                    "  {k:<28} {:>6}: {} dropped / {} loaded ({kind})",
                    c.rules, c.dropped, c.loaded
                )?;
            }
        }
        for (d, n) in &self.ignored_directives {
            writeln!(f, "directive ignored: {d} ({n}x)")?;
        }
        for p in &self.malformed {
            writeln!(f, "malformed: {p}")?;
        }
        Ok(())
    }
}
