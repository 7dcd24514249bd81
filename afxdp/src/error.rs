//! Errors of opening an AF_XDP port.

use crate::port::XdpMode;

/// Why an [`crate::AfXdpPort`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AfXdpError {
    /// The process lacks the capabilities AF_XDP and XDP need.
    #[error(
        "{interface}: {context}: {source} (AF_XDP needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF: run as root)"
    )]
    NoPrivileges {
        /// Interface asked for.
        interface: String,
        /// What was refused.
        context: &'static str,
        /// The kernel's answer (EPERM or EACCES).
        #[source]
        source: std::io::Error,
    },
    /// No interface of that name in the caller's network namespace.
    #[error("no such network interface: {0}")]
    NoSuchInterface(String),
    /// The settings are inconsistent.
    #[error("{interface}: invalid AF_XDP configuration: {reason}")]
    Config {
        /// Interface asked for.
        interface: String,
        /// What is wrong.
        reason: String,
    },
    /// The XDP program or its maps could not be loaded (the verifier refused it, say).
    #[error("{interface}: loading the XDP program failed: {reason}")]
    ProgramLoad {
        /// Interface asked for.
        interface: String,
        /// The loader's error.
        reason: String,
    },
    /// The kernel refused to attach the XDP program (the mode is not supported by the
    /// driver, or another program is attached).
    #[error("{interface}: attaching the XDP program in {mode} mode was refused: {reason}")]
    AttachRefused {
        /// Interface asked for.
        interface: String,
        /// Mode asked for.
        mode: XdpMode,
        /// The kernel's answer.
        reason: String,
    },
    /// The kernel refused to bind a socket to the device queue (no such queue, zero-copy
    /// not supported, queue taken by another socket).
    #[error("{interface}: binding an AF_XDP socket to device queue {queue} was refused: {source}")]
    BindRefused {
        /// Interface asked for.
        interface: String,
        /// Device queue.
        queue: u32,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
    /// Another system call failed while setting up sockets, rings or the UMEM.
    #[error("{interface}: {context}: {source}")]
    Io {
        /// Interface asked for.
        interface: String,
        /// What the port was doing.
        context: &'static str,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
}
