//! Rule variables (`$HOME_NET`, `$HTTP_PORTS`, ...) with Snort 3's stock defaults.

use std::collections::HashMap;

use super::ParseError;

/// The port list `$HTTP_PORTS` has in Snort 3's stock configuration.
pub const DEFAULT_HTTP_PORTS: &str = "80 81 311 383 591 593 901 1220 1414 1741 1830 2301 2381 \
    2809 3037 3128 3702 4343 4848 5250 6988 7000 7001 7144 7145 7510 7777 7779 8000 8008 8014 \
    8028 8080 8085 8088 8090 8118 8123 8180 8181 8243 8280 8300 8800 8888 8899 9000 9060 9080 \
    9090 9091 9443 9999 11371 34443 34444 41080 50002 55555";

/// The addresses `$AIM_SERVERS` has in Snort 3's stock configuration.
const DEFAULT_AIM_SERVERS: &str = "64.12.24.0/23 64.12.28.0/23 64.12.161.0/24 64.12.163.0/24 \
    64.12.200.0/24 205.188.3.0/24 205.188.5.0/24 205.188.7.0/24 205.188.9.0/24 \
    205.188.153.0/24 205.188.179.0/24 205.188.248.0/24";

/// Named address and port lists that rule headers refer to as `$NAME`.
///
/// [`Variables::default`] holds Snort 3's stock values (`snort_defaults.lua`):
/// `HOME_NET` and `EXTERNAL_NET` are `any`, the `*_SERVERS` lists follow `HOME_NET`,
/// and the port lists are Snort's. Setting `HOME_NET` also moves every server list that
/// still follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variables {
    values: HashMap<String, String>,
    follows_home: Vec<String>,
}

/// How deep variables may refer to variables.
const MAX_DEPTH: usize = 16;

impl Default for Variables {
    fn default() -> Self {
        let mut values = HashMap::new();
        let mut set = |k: &str, v: &str| {
            values.insert(k.to_string(), v.to_string());
        };
        set("HOME_NET", "any");
        set("EXTERNAL_NET", "any");
        let servers = [
            "DNS_SERVERS",
            "SMTP_SERVERS",
            "HTTP_SERVERS",
            "SQL_SERVERS",
            "TELNET_SERVERS",
            "SSH_SERVERS",
            "FTP_SERVERS",
            "SIP_SERVERS",
        ];
        for s in servers {
            set(s, "any");
        }
        set("AIM_SERVERS", DEFAULT_AIM_SERVERS);
        set("HTTP_PORTS", DEFAULT_HTTP_PORTS);
        set("SHELLCODE_PORTS", "!80");
        set("ORACLE_PORTS", "1024:");
        set("SSH_PORTS", "22");
        set("FTP_PORTS", "21 2100 3535");
        set("SIP_PORTS", "5060 5061 5600");
        set("MAIL_PORTS", "110 143");
        set("FILE_DATA_PORTS", &format!("{DEFAULT_HTTP_PORTS} 110 143"));
        set("GTP_PORTS", "2123 2152 3386");
        set(
            "RPC_PORTS",
            "111 32770 32771 32772 32773 32774 32775 32776 32777 32778 32779",
        );
        Variables {
            values,
            follows_home: servers.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Variables {
    /// Sets `name` (without `$`) to `value`: an address or port list in rule syntax
    /// (`10.0.0.0/8`, `[80,443]`, `!$HOME_NET`) or a space-separated list.
    pub fn set(&mut self, name: &str, value: &str) {
        let name = name.trim().trim_start_matches('$').to_string();
        if name == "HOME_NET" {
            for s in &self.follows_home {
                self.values.insert(s.clone(), "$HOME_NET".to_string());
            }
        }
        self.follows_home.retain(|s| *s != name);
        self.values.insert(name, value.trim().to_string());
    }

    /// The value of `name` (without `$`), if it is defined.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether `name` is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The value of `$name` in list form: a space- or comma-separated value without
    /// brackets becomes a bracketed list, so `"21 2100"` reads as `[21,2100]`.
    pub(crate) fn resolve(&self, name: &str, depth: usize) -> Result<String, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::new(format!(
                "variable ${name} refers to itself (or nests too deep)"
            )));
        }
        let value = self
            .get(name)
            .ok_or_else(|| ParseError::new(format!("undefined variable ${name}")))?
            .trim();
        if value.starts_with('[') {
            return Ok(value.to_string());
        }
        let items: Vec<&str> = value
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .collect();
        Ok(match items.len() {
            0 => String::new(),
            1 => items[0].to_string(),
            _ => format!("[{}]", items.join(",")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_home_net_followers() {
        let mut v = Variables::default();
        assert_eq!(v.get("HOME_NET"), Some("any"));
        assert_eq!(v.resolve("FTP_PORTS", 0).unwrap(), "[21,2100,3535]");
        v.set("$HOME_NET", "10.0.0.0/8");
        assert_eq!(v.get("HTTP_SERVERS"), Some("$HOME_NET"));
        v.set("DNS_SERVERS", "10.0.0.53");
        v.set("HOME_NET", "192.168.0.0/16");
        assert_eq!(v.get("DNS_SERVERS"), Some("10.0.0.53"));
        assert!(v.resolve("NOPE", 0).is_err());
    }
}
