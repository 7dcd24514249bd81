//! Errors of the DPDK configuration files, each naming the file and the line.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Why a DPDK configuration file could not be used. Every variant names the file;
/// syntax and validation errors also name the line (1-based).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {io}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        io: std::io::Error,
    },
    /// The file is not valid TOML, or does not fit the schema (unknown field, wrong
    /// type, missing field, malformed value).
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// Line of the offending text, 1-based.
        line: usize,
        /// Column of the offending text, 1-based, in characters.
        column: usize,
        /// What is wrong, as the TOML reader says it.
        message: String,
    },
    /// A value is well formed but not usable (out of range, inconsistent with another
    /// value or another file).
    #[error("{}:{line}: {field}: {message}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Line of the offending value, 1-based.
        line: usize,
        /// Where the value sits, such as `port[1].rx_queues`.
        field: String,
        /// What is wrong and what would be right.
        message: String,
    },
}

impl ConfigError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            ConfigError::Read { file, .. }
            | ConfigError::Syntax { file, .. }
            | ConfigError::Invalid { file, .. } => file,
        }
    }

    /// The line the error is about (1-based), if it is about a line.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { line, .. } | ConfigError::Invalid { line, .. } => Some(*line),
        }
    }
}

/// The text of one configuration file and its name, for reporting.
pub(crate) struct Source<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
}

impl<'a> Source<'a> {
    /// Deserialises the whole file, reporting the line and column of any error.
    pub(crate) fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(self.text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_column(self.text, offset);
            ConfigError::Syntax {
                file: self.file.to_path_buf(),
                line,
                column,
                message: e.message().trim_end().replace('\n', "; "),
            }
        })
    }

    /// An [`ConfigError::Invalid`] for the value at `span`.
    pub(crate) fn invalid(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            line: self.line(span),
            field: field.into(),
            message: message.into(),
        }
    }

    /// The line (1-based) where `span` starts.
    pub(crate) fn line(&self, span: Range<usize>) -> usize {
        line_column(self.text, span.start).0
    }
}

/// Reads a file, naming it in the error.
pub(crate) fn read(file: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(file).map_err(|io| ConfigError::Read {
        file: file.to_path_buf(),
        io,
    })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn lines_and_columns_are_one_based() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (1, 5));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 9), (2, 3));
        assert_eq!(line_column(text, 1000), (3, 1));
    }
}
