//! Service identification: which application protocol a flow speaks, found the way
//! Snort's stock configuration finds it (the binder's port bindings, then the
//! wizard's patterns on the first bytes each side sends).
//!
//! A rule with `service:` applies to flows of those services whatever their ports,
//! and not to flows identified as another service; flows whose service is unknown
//! fall back to the rule's ports.

/// An application protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// HTTP/1.x.
    Http,
    /// SSL/TLS.
    Ssl,
    /// DNS.
    Dns,
    /// SMB over NetBIOS session service (`netbios-ssn`).
    NetbiosSsn,
    /// DCE/RPC over TCP.
    Dcerpc,
    /// FTP control.
    Ftp,
    /// SMTP.
    Smtp,
    /// POP3.
    Pop3,
    /// IMAP.
    Imap,
    /// SSH.
    Ssh,
    /// SIP.
    Sip,
    /// Telnet.
    Telnet,
    /// Sun RPC.
    Sunrpc,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 13] = [
        Service::Http,
        Service::Ssl,
        Service::Dns,
        Service::NetbiosSsn,
        Service::Dcerpc,
        Service::Ftp,
        Service::Smtp,
        Service::Pop3,
        Service::Imap,
        Service::Ssh,
        Service::Sip,
        Service::Telnet,
        Service::Sunrpc,
    ];

    /// The name rules use (`service:http`).
    pub fn name(self) -> &'static str {
        match self {
            Service::Http => "http",
            Service::Ssl => "ssl",
            Service::Dns => "dns",
            Service::NetbiosSsn => "netbios-ssn",
            Service::Dcerpc => "dcerpc",
            Service::Ftp => "ftp",
            Service::Smtp => "smtp",
            Service::Pop3 => "pop3",
            Service::Imap => "imap",
            Service::Ssh => "ssh",
            Service::Sip => "sip",
            Service::Telnet => "telnet",
            Service::Sunrpc => "sunrpc",
        }
    }

    /// The service a rule names, if the engine can identify it.
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    /// A small index (for bitsets).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The binder's port bindings for TCP and UDP servers.
pub fn by_port(protocol: u8, server_port: u16) -> Option<Service> {
    match (protocol, server_port) {
        (6 | 17, 53) => Some(Service::Dns),
        (6, 111) => Some(Service::Sunrpc),
        _ => None,
    }
}

/// How the wizard is doing on one direction of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Search {
    /// Still looking.
    #[default]
    Searching,
    /// Gave up: no pattern can match.
    Failed,
}

/// The wizard's state for one flow: what each side sent first, up to
/// [`WIZARD_DEPTH`] bytes.
#[derive(Debug, Clone, Default)]
pub struct Wizard {
    seen: [Vec<u8>; 2],
    state: [Search; 2],
}

/// Bytes per direction the wizard looks at before giving up.
pub const WIZARD_DEPTH: usize = 64;

/// What the wizard decided after looking at more data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The flow speaks this service.
    Found(Service),
    /// Not yet known.
    Searching,
    /// This direction matches nothing.
    Failed,
}

impl Wizard {
    /// Looks at more of what the client (`from_client`) or the server sent, on a flow
    /// of IP protocol `protocol`.
    pub fn look(&mut self, from_client: bool, data: &[u8]) -> Verdict {
        let side = usize::from(!from_client);
        if self.state[side] == Search::Failed {
            return Verdict::Failed;
        }
        let seen = &mut self.seen[side];
        let room = WIZARD_DEPTH.saturating_sub(seen.len());
        seen.extend_from_slice(&data[..data.len().min(room)]);
        match cast(seen, from_client) {
            Cast::Match(s) => Verdict::Found(s),
            Cast::Maybe if seen.len() < WIZARD_DEPTH => Verdict::Searching,
            _ => {
                self.state[side] = Search::Failed;
                Verdict::Failed
            }
        }
    }

    /// Whether the wizard gave up on one direction.
    pub fn failed(&self, from_client: bool) -> bool {
        self.state[usize::from(!from_client)] == Search::Failed
    }
}

enum Cast {
    Match(Service),
    Maybe,
    No,
}

/// Request methods that identify HTTP clients.
const HTTP_METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"TRACE ",
    b"PATCH ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
    b"SEARCH ",
    b"SUBSCRIBE ",
    b"NOTIFY ",
    b"M-SEARCH ",
];

/// How a pattern relates to the start of the data.
#[derive(PartialEq, Eq)]
enum Prefix {
    /// The data starts with the pattern.
    Yes,
    /// The data is a proper prefix of the pattern: more data may match.
    Partial,
    /// No.
    No,
}

fn prefix(p: &[u8], data: &[u8]) -> Prefix {
    let n = p.len().min(data.len());
    if data[..n] != p[..n] {
        Prefix::No
    } else if data.len() < p.len() {
        Prefix::Partial
    } else {
        Prefix::Yes
    }
}

/// Matches the first bytes one side sent against the wizard's patterns.
fn cast(data: &[u8], from_client: bool) -> Cast {
    let mut maybe = false;
    let mut any = |patterns: &[&[u8]]| -> bool {
        let mut hit = false;
        for p in patterns {
            match prefix(p, data) {
                Prefix::Yes => hit = true,
                Prefix::Partial => maybe = true,
                Prefix::No => {}
            }
        }
        hit
    };
    if from_client {
        if any(HTTP_METHODS) {
            return Cast::Match(Service::Http);
        }
        if any(&[b"INVITE ", b"REGISTER ", b"OPTIONS sip:"]) {
            return Cast::Match(Service::Sip);
        }
        if any(&[b"HELO", b"EHLO"]) {
            return Cast::Match(Service::Smtp);
        }
        // FTP and POP3 clients both say USER; the server's banner decides.
        if any(&[b"USER ", b"APOP "]) {
            return Cast::Maybe;
        }
    } else {
        if any(&[b"HTTP/"]) {
            return Cast::Match(Service::Http);
        }
        if any(&[b"SIP/"]) {
            return Cast::Match(Service::Sip);
        }
        if any(&[b"+OK", b"-ERR"]) {
            return Cast::Match(Service::Pop3);
        }
        if any(&[b"* OK", b"* BYE"]) {
            return Cast::Match(Service::Imap);
        }
        if any(&[b"220"]) {
            let line_end = data.iter().position(|&b| b == b'\n');
            let line = &data[..line_end.unwrap_or(data.len())];
            let has = |w: &[u8]| line.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w));
            if has(b"FTP") {
                return Cast::Match(Service::Ftp);
            }
            if has(b"SMTP") || has(b"MAIL") {
                return Cast::Match(Service::Smtp);
            }
            if line_end.is_none() {
                return Cast::Maybe;
            }
        }
    }
    if any(&[b"SSH-"]) {
        return Cast::Match(Service::Ssh);
    }
    // TLS records (handshake) and SSLv2 client hellos.
    if any(&[b"\x16\x03"]) {
        return Cast::Match(Service::Ssl);
    }
    if from_client && data.len() >= 3 && data[0] & 0x80 != 0 && data[2] == 0x01 {
        return Cast::Match(Service::Ssl);
    }
    // DCE/RPC connection-oriented PDUs.
    if any(&[b"\x05\x00"]) {
        return Cast::Match(Service::Dcerpc);
    }
    // SMB over a NetBIOS session message, or a NetBIOS session request.
    match data.first() {
        Some(0x81..=0x83) => return Cast::Match(Service::NetbiosSsn),
        Some(0x00)
            if data.len() >= 8 && matches!(data[4], 0xff | 0xfe) && &data[5..8] == b"SMB" =>
        {
            return Cast::Match(Service::NetbiosSsn);
        }
        Some(0x00) if data.len() < 8 => maybe = true,
        // Telnet option negotiation.
        Some(0xff) if data.len() >= 2 && data[1] >= 0xf0 => return Cast::Match(Service::Telnet),
        Some(0xff) if data.len() < 2 => maybe = true,
        _ => {}
    }
    if maybe { Cast::Maybe } else { Cast::No }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_common_services() {
        let mut w = Wizard::default();
        assert_eq!(w.look(true, b"GE"), Verdict::Searching);
        assert_eq!(
            w.look(true, b"T / HTTP/1.1\r\n"),
            Verdict::Found(Service::Http)
        );
        let mut w = Wizard::default();
        assert_eq!(
            w.look(false, b"220 ftp.example FTP server\r\n"),
            Verdict::Found(Service::Ftp)
        );
        let mut w = Wizard::default();
        assert_eq!(
            w.look(true, b"\x16\x03\x01\x02\x00"),
            Verdict::Found(Service::Ssl)
        );
        let mut w = Wizard::default();
        assert_eq!(
            w.look(true, b"\x00\x00\x00\x85\xffSMBr\x00\x00"),
            Verdict::Found(Service::NetbiosSsn)
        );
        let mut w = Wizard::default();
        assert_eq!(w.look(true, b"\x01\x02\x03"), Verdict::Failed);
        assert!(w.failed(true) && !w.failed(false));
        assert_eq!(w.look(true, b"GET / HTTP/1.1"), Verdict::Failed);
        assert_eq!(Service::from_name("netbios-ssn"), Some(Service::NetbiosSsn));
        assert_eq!(by_port(17, 53), Some(Service::Dns));
    }
}
