//! Rule headers: `action protocol src_addr src_port -> dst_addr dst_port`, and Snort 3's
//! short forms `action service` (`alert http`) and `action protocol`.

use super::ParseError;
use super::addr::AddrSpec;
use super::ports::PortSpec;
use super::rule::{Action, Header, Protocol};
use super::vars::Variables;

/// Services a Snort 3 rule may name in place of a protocol.
const SERVICE_PROTOCOLS: &[&str] = &[
    "http",
    "http2",
    "ssl",
    "dns",
    "ftp",
    "ftp-data",
    "smtp",
    "pop3",
    "imap",
    "ssh",
    "sip",
    "telnet",
    "smb",
    "netbios-ssn",
    "dcerpc",
    "file",
    "dnp3",
    "modbus",
    "s7commplus",
    "mms",
];

/// Parses a rule header.
pub fn parse(text: &str, vars: &Variables) -> Result<Header, ParseError> {
    let tokens = tokens(text)?;
    let action_word = tokens
        .first()
        .ok_or_else(|| ParseError::new("empty rule header"))?;
    let action = Action::parse(&action_word.to_ascii_lowercase())
        .ok_or_else(|| ParseError::new(format!("unknown rule action {action_word:?}")))?;
    let proto_word = tokens
        .get(1)
        .ok_or_else(|| ParseError::new("rule header has no protocol"))?
        .to_ascii_lowercase();
    let (protocol, service) = match proto_word.as_str() {
        "ip" => (Protocol::Ip, None),
        "tcp" => (Protocol::Tcp, None),
        "udp" => (Protocol::Udp, None),
        "icmp" => (Protocol::Icmp, None),
        s if SERVICE_PROTOCOLS.contains(&s) => (Protocol::Ip, Some(s.to_string())),
        s => return Err(ParseError::new(format!("unknown protocol {s:?}"))),
    };
    match tokens.len() {
        2 => Ok(Header {
            action,
            protocol,
            src: AddrSpec::Any,
            src_ports: PortSpec::Any,
            dst: AddrSpec::Any,
            dst_ports: PortSpec::Any,
            // A header without addresses matches both ways, as Snort 3's do.
            bidirectional: true,
            service,
        }),
        7 => {
            let bidirectional = match tokens[4].as_str() {
                "->" => false,
                "<>" => true,
                "<-" => {
                    return Err(ParseError::new(
                        "direction '<-' is not allowed; write the rule with '->'",
                    ));
                }
                d => return Err(ParseError::new(format!("bad direction {d:?}"))),
            };
            Ok(Header {
                action,
                protocol,
                src: AddrSpec::parse(&tokens[2], vars)?,
                src_ports: PortSpec::parse(&tokens[3], vars)?,
                dst: AddrSpec::parse(&tokens[5], vars)?,
                dst_ports: PortSpec::parse(&tokens[6], vars)?,
                bidirectional,
                service,
            })
        }
        n => Err(ParseError::new(format!(
            "rule header has {n} fields; expected 'action protocol src port -> dst port'"
        ))),
    }
}

/// Splits a header at whitespace, keeping bracketed lists (which may hold spaces) whole.
fn tokens(text: &str) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '[' => {
                depth += 1;
                current.push(c);
            }
            ']' => {
                depth -= 1;
                if depth < 0 {
                    return Err(ParseError::new("unbalanced ']' in the rule header"));
                }
                current.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c if c.is_whitespace() => {}
            _ => current.push(c),
        }
    }
    if depth != 0 {
        return Err(ParseError::new("unbalanced '[' in the rule header"));
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_short_headers() {
        let v = Variables::default();
        let h = parse("alert tcp $EXTERNAL_NET any -> $HOME_NET [80, 443]", &v).unwrap();
        assert_eq!(h.protocol, Protocol::Tcp);
        assert!(!h.bidirectional);
        assert!(h.dst_ports.matches(443) && !h.dst_ports.matches(81));
        let s = parse("alert http", &v).unwrap();
        assert_eq!(s.service.as_deref(), Some("http"));
        assert!(s.bidirectional);
        let b = parse("alert tcp $HOME_NET any <> $EXTERNAL_NET any", &v).unwrap();
        assert!(b.bidirectional);
        assert_eq!(
            parse("drop udp any any -> any 53", &v).unwrap().action,
            Action::Drop
        );
    }

    #[test]
    fn bad_headers() {
        let v = Variables::default();
        assert!(parse("", &v).is_err());
        assert!(parse("alarm tcp any any -> any any", &v).is_err());
        assert!(parse("alert foo any any -> any any", &v).is_err());
        assert!(parse("alert tcp any any => any any", &v).is_err());
        assert!(parse("alert tcp any any -> any", &v).is_err());
        assert!(parse("alert tcp [1.2.3.4 any -> any any", &v).is_err());
    }
}
