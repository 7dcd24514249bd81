//! Names a rule set shares between rules: flowbits and HTTP header fields, each
//! numbered once.

use std::collections::HashMap;

use super::ParseError;

/// The most distinct flowbits (and header field names) a rule set may use.
pub const MAX_SYMBOLS: usize = 4096;

/// The flowbit and header-field names of a rule set, each numbered in first-seen
/// order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Symbols {
    flowbits: Vec<String>,
    flowbit_index: HashMap<String, u16>,
    fields: Vec<String>,
}

impl Symbols {
    /// The number of flowbit `name`, assigning one if it is new.
    pub fn flowbit(&mut self, name: &str) -> Result<u16, ParseError> {
        let name = name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'|' && b != b'&' && b != b',')
        {
            return Err(ParseError::new(format!("bad flowbit name {name:?}")));
        }
        if let Some(&i) = self.flowbit_index.get(name) {
            return Ok(i);
        }
        if self.flowbits.len() >= MAX_SYMBOLS {
            return Err(ParseError::new("too many distinct flowbits"));
        }
        let i = self.flowbits.len() as u16;
        self.flowbits.push(name.to_string());
        self.flowbit_index.insert(name.to_string(), i);
        Ok(i)
    }

    /// The number of HTTP header field `name` (case-insensitive).
    pub fn header_field(&mut self, name: &str) -> Result<u16, ParseError> {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(ParseError::new(format!("bad header field name {name:?}")));
        }
        if let Some(i) = self.fields.iter().position(|f| *f == name) {
            return Ok(i as u16);
        }
        if self.fields.len() >= MAX_SYMBOLS {
            return Err(ParseError::new("too many distinct header fields"));
        }
        self.fields.push(name);
        Ok((self.fields.len() - 1) as u16)
    }

    /// How many flowbits the rule set uses.
    pub fn flowbit_count(&self) -> usize {
        self.flowbits.len()
    }

    /// The name of flowbit `i`.
    pub fn flowbit_name(&self, i: u16) -> Option<&str> {
        self.flowbits.get(usize::from(i)).map(String::as_str)
    }

    /// The header field names, by number.
    pub fn header_fields(&self) -> &[String] {
        &self.fields
    }
}
