//! The rule language: Snort 3 and Snort 2.9 rule text, variables, event filters, and
//! the load report.
//!
//! [`RuleLoader`] reads rule files (and `.lua` event-filter tables) into a
//! [`RuleSet`]. A rule that cannot be read is an error naming its file and line
//! ([`RuleError::Malformed`]); with [`LoadOptions::lenient`] it is recorded in the
//! [`LoadReport`] and the rest still loads. A keyword the engine knows but does not
//! honour is never applied halfway in silence: each is recorded per keyword, and
//! [`SkipPolicy`] decides whether a rule that needs one is dropped (the default) or
//! loaded without it. Keywords that do not change which packets alert (`tag`,
//! `replace`) are ignored and counted.

pub mod addr;
pub mod classify;
pub mod content;
pub mod event_filter;
pub mod header;
pub mod lexer;
pub mod numbers;
pub mod options;
pub mod ports;
pub mod report;
pub mod rule;
pub mod symbols;
pub mod vars;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub use event_filter::FilterEntry;
pub use options::Dialect;
pub use report::{KeywordCount, LoadReport, RuleProblem, SkipPolicy};
pub use rule::*;
pub use symbols::Symbols;
pub use vars::Variables;

/// Why a piece of rule text could not be read (without its location).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    message: String,
}

impl ParseError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ParseError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Why loading rules failed.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A rule file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A rule (or directive) could not be parsed.
    #[error("{0}")]
    Malformed(RuleProblem),
}

/// How rules are loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// What to do with rules that need a keyword the engine does not honour.
    pub policy: SkipPolicy,
    /// Record malformed rules and load the rest, instead of stopping at the first.
    pub lenient: bool,
    /// The rule syntax, or `None` to tell Snort 2.9 and Snort 3 rules apart by their
    /// content (per file, and per rule where a rule says which it is).
    pub dialect: Option<Dialect>,
    /// The variables rule headers use.
    pub vars: Variables,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            policy: SkipPolicy::Drop,
            lenient: false,
            dialect: None,
            vars: Variables::default(),
        }
    }
}

/// A loaded rule set.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// The rules, in load order (one per gid:sid).
    pub rules: Vec<Rule>,
    /// Flowbit and header-field names.
    pub symbols: Symbols,
    /// Event filters from filter tables and `event_filter` lines (a rule's own
    /// `threshold` is in [`Rule::threshold`]).
    pub filters: Vec<FilterEntry>,
    /// What loading did.
    pub report: LoadReport,
}

/// Reads rule files into a [`RuleSet`].
#[derive(Debug)]
pub struct RuleLoader {
    options: LoadOptions,
    set: RuleSet,
    by_sig: HashMap<(u32, u32), usize>,
}

impl RuleLoader {
    /// A loader with these options.
    pub fn new(options: LoadOptions) -> Self {
        RuleLoader {
            options,
            set: RuleSet::default(),
            by_sig: HashMap::new(),
        }
    }

    /// Loads a file: rules, or an event-filter table if its name ends in `.lua`.
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<(), RuleError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| RuleError::Io {
            path: name.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        if path.extension().is_some_and(|e| e == "lua") {
            self.load_filter_table(&name, &text)
        } else {
            self.load_str(&name, &text)
        }
    }

    /// Loads the `event_filter` table of Snort 3 Lua configuration text.
    pub fn load_filter_table(&mut self, name: &str, text: &str) -> Result<(), RuleError> {
        self.set.report.files += 1;
        match event_filter::parse_lua(text) {
            Ok(entries) => {
                self.set.report.event_filters += entries.len();
                self.set.filters.extend(entries);
                Ok(())
            }
            Err(e) => Err(RuleError::Malformed(RuleProblem {
                location: format!("{name}:1"),
                sid: None,
                message: e.message().to_string(),
            })),
        }
    }

    /// Loads rule text; `name` is used in locations and errors.
    pub fn load_str(&mut self, name: &str, text: &str) -> Result<(), RuleError> {
        self.set.report.files += 1;
        let file: Arc<str> = Arc::from(name);
        let statements = lexer::statements(text);
        let file_dialect = self
            .options
            .dialect
            .unwrap_or_else(|| guess_file_dialect(&statements));
        for st in statements {
            let location = Location {
                file: file.clone(),
                line: st.line,
            };
            if let Err(problem) = self.statement(&st.text, location, file_dialect) {
                if self.options.lenient {
                    self.set.report.malformed.push(problem);
                } else {
                    return Err(RuleError::Malformed(problem));
                }
            }
        }
        Ok(())
    }

    fn statement(
        &mut self,
        text: &str,
        location: Location,
        file_dialect: Dialect,
    ) -> Result<(), RuleProblem> {
        let problem = |sid: Option<u32>, e: ParseError| RuleProblem {
            location: location.to_string(),
            sid,
            message: e.message().to_string(),
        };
        let first = text.split_whitespace().next().unwrap_or("");
        match first {
            "var" | "ipvar" | "portvar" => {
                let mut parts = text.splitn(3, char::is_whitespace).skip(1);
                let (Some(n), Some(v)) = (parts.next(), parts.next()) else {
                    return Err(problem(
                        None,
                        ParseError::new("variable needs a name and a value"),
                    ));
                };
                self.options.vars.set(n, v);
                return Ok(());
            }
            "event_filter" | "threshold" => {
                let rest = text[first.len()..].trim();
                let entry = event_filter::parse_snort2_line(rest).map_err(|e| problem(None, e))?;
                self.set.filters.push(entry);
                self.set.report.event_filters += 1;
                return Ok(());
            }
            "config"
            | "preprocessor"
            | "include"
            | "output"
            | "suppress"
            | "rate_filter"
            | "dynamicpreprocessor"
            | "dynamicengine"
            | "dynamicdetection" => {
                *self
                    .set
                    .report
                    .ignored_directives
                    .entry(first.to_string())
                    .or_default() += 1;
                return Ok(());
            }
            _ => {}
        }
        self.set.report.rules_read += 1;
        let rule = parse_rule_with(
            text,
            &self.options.vars,
            &mut self.set.symbols,
            file_dialect,
            location.clone(),
        )
        .map_err(|(sid, e)| problem(sid, e))?;
        self.add(rule);
        Ok(())
    }

    fn add(&mut self, rule: Rule) {
        let skipped: Vec<(String, SkipEffect)> = rule
            .skipped
            .iter()
            .map(|s| (s.keyword.clone(), s.effect))
            .collect();
        let constrained = rule
            .skipped
            .iter()
            .any(|s| s.effect == SkipEffect::Constraint);
        let drop = constrained && self.options.policy == SkipPolicy::Drop;
        let report = &mut self.set.report;
        report.count_keywords(&skipped, drop);
        if drop {
            report.dropped += 1;
            return;
        }
        if constrained {
            report.relaxed += 1;
        }
        if rule.threshold.is_some() {
            report.event_filters += 1;
        }
        let key = (rule.sig.gid, rule.sig.sid);
        match self.by_sig.get(&key) {
            Some(&i) => {
                report.duplicates += 1;
                if let Some(old) = self.set.rules.get_mut(i)
                    && rule.sig.rev >= old.sig.rev
                {
                    *old = rule;
                }
            }
            None => {
                self.by_sig.insert(key, self.set.rules.len());
                self.set.rules.push(rule);
                report.loaded += 1;
            }
        }
    }

    /// The rule set loaded so far.
    pub fn finish(self) -> RuleSet {
        self.set
    }
}

/// The dialect of a file: Snort 2 if any rule is unambiguously Snort 2 and none is
/// unambiguously Snort 3; otherwise Snort 3.
fn guess_file_dialect(statements: &[lexer::Statement]) -> Dialect {
    let mut snort2 = 0usize;
    let mut snort3 = 0usize;
    for st in statements {
        let Ok((_, body)) = lexer::header_and_body(&st.text) else {
            continue;
        };
        let Ok(opts) = lexer::options(body) else {
            continue;
        };
        match options::detect_dialect(&opts) {
            Some(Dialect::Snort2) => snort2 += 1,
            Some(Dialect::Snort3) => snort3 += 1,
            None => {}
        }
    }
    if snort2 > 0 && snort3 == 0 {
        Dialect::Snort2
    } else {
        Dialect::Snort3
    }
}

/// Parses one rule. `file_dialect` is used when the rule itself does not show which
/// syntax it is written in.
pub fn parse_rule_with(
    text: &str,
    vars: &Variables,
    symbols: &mut Symbols,
    file_dialect: Dialect,
    location: Location,
) -> Result<Rule, (Option<u32>, ParseError)> {
    let (header_text, body) = lexer::header_and_body(text).map_err(|e| (None, e))?;
    let raw = lexer::options(body).map_err(|e| (None, e))?;
    let sid = raw
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case("sid"))
        .and_then(|o| o.value)
        .and_then(|v| v.trim().parse::<u32>().ok());
    let dialect = options::detect_dialect(&raw).unwrap_or(file_dialect);
    let header = header::parse(header_text, vars).map_err(|e| (sid, e))?;
    let mut builder = options::RuleBuilder::new(symbols, dialect);
    for o in &raw {
        builder.option(o).map_err(|e| {
            (
                builder.sid().or(sid),
                ParseError::new(format!("{}: {e}", o.name)),
            )
        })?;
    }
    builder.finish(header, location).map_err(|e| (sid, e))
}

/// Parses one rule with the stock variables, guessing its dialect (Snort 3 when the
/// rule does not show).
pub fn parse_rule(text: &str) -> Result<Rule, ParseError> {
    let mut symbols = Symbols::default();
    parse_rule_with(
        text,
        &Variables::default(),
        &mut symbols,
        Dialect::Snort3,
        Location {
            file: Arc::from("<rule>"),
            line: 1,
        },
    )
    .map_err(|(_, e)| e)
}
