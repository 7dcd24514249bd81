//! Snort 3's default rule classifications (`classtype`) and their priorities.

/// A classification: its `classtype` name, the text alerts print, its priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// The `classtype` keyword.
    pub name: &'static str,
    /// The text alerts print after `Classification:`.
    pub text: &'static str,
    /// The default priority (1 is the most severe).
    pub priority: u32,
}

const fn c(name: &'static str, priority: u32, text: &'static str) -> Classification {
    Classification {
        name,
        text,
        priority,
    }
}

/// The classifications of Snort 3's stock configuration.
pub const CLASSIFICATIONS: &[Classification] = &[
    c("not-suspicious", 3, "Not Suspicious Traffic"),
    c("unknown", 3, "Unknown Traffic"),
    c("bad-unknown", 2, "Potentially Bad Traffic"),
    c("attempted-recon", 2, "Attempted Information Leak"),
    c("successful-recon-limited", 2, "Information Leak"),
    c(
        "successful-recon-largescale",
        2,
        "Large Scale Information Leak",
    ),
    c("attempted-dos", 2, "Attempted Denial of Service"),
    c("successful-dos", 2, "Denial of Service"),
    c("attempted-user", 1, "Attempted User Privilege Gain"),
    c("unsuccessful-user", 1, "Unsuccessful User Privilege Gain"),
    c("successful-user", 1, "Successful User Privilege Gain"),
    c(
        "attempted-admin",
        1,
        "Attempted Administrator Privilege Gain",
    ),
    c(
        "successful-admin",
        1,
        "Successful Administrator Privilege Gain",
    ),
    c("rpc-portmap-decode", 2, "Decode of an RPC Query"),
    c("shellcode-detect", 1, "Executable code was detected"),
    c("string-detect", 3, "A suspicious string was detected"),
    c(
        "suspicious-filename-detect",
        2,
        "A suspicious filename was detected",
    ),
    c(
        "suspicious-login",
        2,
        "An attempted login using a suspicious username was detected",
    ),
    c("system-call-detect", 2, "A system call was detected"),
    c("tcp-connection", 4, "A TCP connection was detected"),
    c("trojan-activity", 1, "A Network Trojan was detected"),
    c(
        "unusual-client-port-connection",
        2,
        "A client was using an unusual port",
    ),
    c("network-scan", 3, "Detection of a Network Scan"),
    c(
        "denial-of-service",
        2,
        "Detection of a Denial of Service Attack",
    ),
    c(
        "non-standard-protocol",
        2,
        "Detection of a non-standard protocol or event",
    ),
    c(
        "protocol-command-decode",
        3,
        "Generic Protocol Command Decode",
    ),
    c(
        "web-application-activity",
        2,
        "access to a potentially vulnerable web application",
    ),
    c("web-application-attack", 1, "Web Application Attack"),
    c("misc-activity", 3, "Misc activity"),
    c("misc-attack", 2, "Misc Attack"),
    c("icmp-event", 3, "Generic ICMP event"),
    c(
        "inappropriate-content",
        1,
        "Inappropriate Content was Detected",
    ),
    c(
        "policy-violation",
        1,
        "Potential Corporate Privacy Violation",
    ),
    c(
        "default-login-attempt",
        2,
        "Attempt to login by a default username and password",
    ),
    c("sdf", 2, "Senstive Data"),
    c(
        "file-format",
        1,
        "Known malicious file or file based exploit",
    ),
    c(
        "malware-cnc",
        1,
        "Known malware command and control traffic",
    ),
    c(
        "client-side-exploit",
        1,
        "Known client side exploit attempt",
    ),
];

/// The classification named `name`.
pub fn lookup(name: &str) -> Option<&'static Classification> {
    CLASSIFICATIONS.iter().find(|c| c.name == name)
}

/// The default priority of classtype `name`.
pub fn priority(name: &str) -> Option<u32> {
    lookup(name).map(|c| c.priority)
}

/// The services whose inspectors provide `file_data`: a rule that reads it without
/// naming a service applies to these (as in Snort 3).
pub const FILE_DATA_SERVICES: &[&str] = &[
    "ftp-data",
    "http",
    "http2",
    "imap",
    "pop3",
    "smtp",
    "netbios-ssn",
];
