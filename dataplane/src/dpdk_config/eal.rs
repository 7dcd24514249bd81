//! `eal.toml`: the arguments the DPDK Environment Abstraction Layer starts with.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::device::vdev_name_ok;
use super::error::{ConfigError, Source, read};

/// The program name `rte_eal_init` gets as `argv[0]` unless the file names another.
pub const DEFAULT_PROGRAM: &str = "das";

/// Log levels DPDK accepts by name (`--log-level=notice`, `--log-level=lib.eal:debug`).
const LOG_LEVELS: [&str; 8] = [
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "info",
    "debug",
];

/// `eal.toml` as written; every field optional, unknown fields refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EalFile {
    program: Option<Spanned<String>>,
    lcores: Option<Spanned<String>>,
    memory_mb: Option<Spanned<u32>>,
    no_huge: Option<bool>,
    no_pci: Option<bool>,
    in_memory: Option<Spanned<bool>>,
    file_prefix: Option<Spanned<String>>,
    #[serde(default)]
    vdevs: Vec<Spanned<String>>,
    log_level: Option<Spanned<String>>,
    #[serde(default)]
    extra_args: Vec<Spanned<String>>,
}

/// EAL settings: everything `rte_eal_init` is told, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EalConfig {
    /// `argv[0]`.
    pub program: String,
    /// `--lcores`: logical cores and, after `@`, the CPUs they run on (`0-1`,
    /// `0@1,1@1`); `None` lets DPDK use every CPU.
    pub lcores: Option<String>,
    /// `-m`: memory to reserve, in MB.
    pub memory_mb: Option<u32>,
    /// `--no-huge`: use anonymous memory instead of hugepages.
    pub no_huge: bool,
    /// `--no-pci`: do not scan the PCI bus (virtual devices only).
    pub no_pci: bool,
    /// `--in-memory`: keep no runtime files (cannot be combined with `no_huge`).
    pub in_memory: bool,
    /// `--file-prefix`: names this process's runtime files; two DPDK processes
    /// running at once need different prefixes.
    pub file_prefix: Option<String>,
    /// `--vdev`, once per entry: virtual devices with their arguments
    /// (`net_memif0,role=server,socket=/run/das/memif.sock`).
    pub vdevs: Vec<String>,
    /// `--log-level`: a level (`notice`, `debug`, 1 to 8) or `pattern:level`.
    pub log_level: Option<String>,
    /// Further EAL arguments, appended as written.
    pub extra_args: Vec<String>,
}

impl Default for EalConfig {
    /// No options at all: DPDK's own defaults, program name [`DEFAULT_PROGRAM`].
    fn default() -> Self {
        EalConfig {
            program: DEFAULT_PROGRAM.to_string(),
            lcores: None,
            memory_mb: None,
            no_huge: false,
            no_pci: false,
            in_memory: false,
            file_prefix: None,
            vdevs: Vec::new(),
            log_level: None,
            extra_args: Vec::new(),
        }
    }
}

impl EalConfig {
    /// Reads and validates an `eal.toml` file.
    pub fn load(file: impl AsRef<Path>) -> Result<EalConfig, ConfigError> {
        let file = file.as_ref();
        EalConfig::parse(&read(file)?, file)
    }

    /// Validates the text of an `eal.toml` file; `file` names it in errors.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<EalConfig, ConfigError> {
        let src = Source {
            file: file.as_ref(),
            text,
        };
        let raw: EalFile = src.parse()?;
        validate(&src, raw)
    }

    /// The exact argument vector for `rte_eal_init`, program name first.
    ///
    /// Order: program, `--lcores=`, `-m N`, `--no-huge`, `--no-pci`, `--in-memory`,
    /// `--file-prefix=`, one `--vdev=` per virtual device, `--log-level=`, then
    /// `extra_args` as written.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![self.program.clone()];
        if let Some(lcores) = &self.lcores {
            args.push(format!("--lcores={lcores}"));
        }
        if let Some(mb) = self.memory_mb {
            args.push("-m".to_string());
            args.push(mb.to_string());
        }
        if self.no_huge {
            args.push("--no-huge".to_string());
        }
        if self.no_pci {
            args.push("--no-pci".to_string());
        }
        if self.in_memory {
            args.push("--in-memory".to_string());
        }
        if let Some(prefix) = &self.file_prefix {
            args.push(format!("--file-prefix={prefix}"));
        }
        for vdev in &self.vdevs {
            args.push(format!("--vdev={vdev}"));
        }
        if let Some(level) = &self.log_level {
            args.push(format!("--log-level={level}"));
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// The names of the virtual devices (each `vdevs` entry up to its first `,`), in
    /// the order the EAL creates them.
    pub fn vdev_names(&self) -> impl Iterator<Item = &str> {
        self.vdevs.iter().map(|v| vdev_name(v))
    }
}

/// A `--vdev` argument's device name: everything before the first `,`.
fn vdev_name(vdev: &str) -> &str {
    vdev.split_once(',').map_or(vdev, |(name, _)| name)
}

fn validate(src: &Source<'_>, raw: EalFile) -> Result<EalConfig, ConfigError> {
    let program = match raw.program {
        Some(p) => {
            if p.get_ref().trim().is_empty() || p.get_ref().contains(char::is_whitespace) {
                return Err(src.invalid(
                    p.span(),
                    "program",
                    "the program name must be one word, such as \"das\"",
                ));
            }
            p.into_inner()
        }
        None => DEFAULT_PROGRAM.to_string(),
    };
    if let Some(l) = &raw.lcores {
        check_lcores(l.get_ref()).map_err(|m| src.invalid(l.span(), "lcores", m))?;
    }
    if let Some(m) = raw.memory_mb.as_ref().filter(|m| *m.get_ref() == 0) {
        return Err(src.invalid(
            m.span(),
            "memory_mb",
            "0 MB leaves DPDK no memory for mbufs; --no-huge runs need about 512",
        ));
    }
    let no_huge = raw.no_huge.unwrap_or(false);
    let in_memory = raw.in_memory.as_ref().is_some_and(|m| *m.get_ref());
    if no_huge && in_memory {
        let span = raw.in_memory.as_ref().map(|m| m.span()).unwrap_or(0..0);
        return Err(src.invalid(
            span,
            "in_memory",
            "DPDK rejects --in-memory together with --no-huge: set one of no_huge and \
             in_memory to false",
        ));
    }
    if let Some(p) = &raw.file_prefix {
        let prefix = p.get_ref();
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err(src.invalid(
                p.span(),
                "file_prefix",
                format!(
                    "`{prefix}` is not a usable file prefix: use letters, digits, `_`, `-` and `.`"
                ),
            ));
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, v) in raw.vdevs.iter().enumerate() {
        let name = vdev_name(v.get_ref());
        let field = format!("vdevs[{i}]");
        if !vdev_name_ok(name) {
            return Err(src.invalid(
                v.span(),
                field,
                format!(
                    "`{}` does not start with a device name (a letter, then letters, digits \
                     and `_`, such as net_ring0), optionally followed by ,key=value arguments",
                    v.get_ref()
                ),
            ));
        }
        if v.get_ref().contains(char::is_whitespace) {
            return Err(src.invalid(v.span(), field, "a --vdev argument cannot contain spaces"));
        }
        if seen.contains(&name) {
            return Err(src.invalid(
                v.span(),
                field,
                format!("virtual device `{name}` is listed twice"),
            ));
        }
        seen.push(name);
    }
    if let Some(l) = &raw.log_level {
        check_log_level(l.get_ref()).map_err(|m| src.invalid(l.span(), "log_level", m))?;
    }
    for (i, a) in raw.extra_args.iter().enumerate() {
        if a.get_ref().is_empty() {
            return Err(src.invalid(
                a.span(),
                format!("extra_args[{i}]"),
                "an argument cannot be empty",
            ));
        }
    }
    Ok(EalConfig {
        program,
        lcores: raw.lcores.map(Spanned::into_inner),
        memory_mb: raw.memory_mb.map(Spanned::into_inner),
        no_huge,
        no_pci: raw.no_pci.unwrap_or(false),
        in_memory,
        file_prefix: raw.file_prefix.map(Spanned::into_inner),
        vdevs: raw.vdevs.into_iter().map(Spanned::into_inner).collect(),
        log_level: raw.log_level.map(Spanned::into_inner),
        extra_args: raw
            .extra_args
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
    })
}

/// Checks the `--lcores` syntax DPDK reads: numbers, ranges `a-b`, groups `(...)`,
/// separated by `,`, each optionally `@cpus`.
fn check_lcores(lcores: &str) -> Result<(), String> {
    let bad = |why: &str| {
        format!(
            "`{lcores}` is not an lcore list ({why}); write CPUs such as \"0-1\" or \
             lcore@cpu pairs such as \"0@1,1@1\""
        )
    };
    if lcores.is_empty() {
        return Err(bad("it is empty"));
    }
    if let Some(c) = lcores
        .chars()
        .find(|c| !(c.is_ascii_digit() || "-,@()".contains(*c)))
    {
        return Err(bad(&format!("`{c}` is not allowed")));
    }
    let mut depth = 0i32;
    for c in lcores.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err(bad("unbalanced parentheses"));
        }
    }
    if depth != 0 {
        return Err(bad("unbalanced parentheses"));
    }
    if !lcores.starts_with(|c: char| c.is_ascii_digit() || c == '(')
        || !lcores.ends_with(|c: char| c.is_ascii_digit() || c == ')')
    {
        return Err(bad("it must start and end with a number or a group"));
    }
    Ok(())
}

/// Checks a `--log-level` value: a level name or number, optionally after
/// `pattern:`.
fn check_log_level(level: &str) -> Result<(), String> {
    let value = level.rsplit_once(':').map_or(level, |(_, v)| v);
    let ok = LOG_LEVELS.contains(&value) || value.parse::<u8>().is_ok_and(|n| (1..=8).contains(&n));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{level}` is not a DPDK log level: use one of {} or 1 to 8, optionally after \
             `pattern:`",
            LOG_LEVELS.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{check_lcores, check_log_level};

    #[test]
    fn lcore_lists() {
        for ok in [
            "0",
            "0-1",
            "0@1,1@1",
            "(0-2)@(0,1)",
            "1,2@(5-7),(3-5)@(0,2),(0,6),7-8",
        ] {
            assert!(check_lcores(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "0-", "(0", "0)", "((0))", "0 1"] {
            assert!(check_lcores(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn log_levels() {
        for ok in ["notice", "debug", "8", "lib.eal:debug", "pmd.net.*:info"] {
            assert!(check_log_level(ok).is_ok(), "{ok}");
        }
        for bad in ["loud", "0", "9", "lib.eal:", ""] {
            assert!(check_log_level(bad).is_err(), "{bad}");
        }
    }
}
