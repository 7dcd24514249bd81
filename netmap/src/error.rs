//! Errors of opening a netmap port.

use std::path::PathBuf;

/// Why a [`crate::NetmapPort`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum NetmapError {
    /// The control device is missing: the netmap kernel module is not loaded (or not
    /// built for this kernel).
    #[error(
        "netmap: {} does not exist: this machine has no netmap kernel module (load netmap.ko; see docs/NETMAP.md)",
        device.display()
    )]
    NoDevice {
        /// The control device looked for.
        device: PathBuf,
    },
    /// The control device exists but could not be opened.
    #[error("netmap: cannot open {}: {source} (netmap needs root)", device.display())]
    OpenDevice {
        /// The control device.
        device: PathBuf,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
    /// The settings are inconsistent.
    #[error("netmap: {interface}: {reason}")]
    Config {
        /// Interface asked for.
        interface: String,
        /// What is wrong.
        reason: String,
    },
    /// The kernel module speaks another API version.
    #[error(
        "netmap: the kernel module speaks netmap API {kernel}, this build speaks {ours}: use a netmap release of API {ours}"
    )]
    ApiVersion {
        /// The kernel's version.
        kernel: u16,
        /// This crate's version.
        ours: u16,
    },
    /// The kernel refused to bind a ring of the interface.
    #[error("netmap: {interface}: binding {dir} ring {ring} was refused: {source}{hint}")]
    Register {
        /// Interface asked for.
        interface: String,
        /// "rx" or "tx".
        dir: &'static str,
        /// Ring asked for.
        ring: usize,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
        /// What the answer most likely means.
        hint: &'static str,
    },
    /// The interface has fewer rings than the port needs.
    #[error(
        "netmap: {interface}: the port needs {dir} ring {ring} but the interface has {count} (ethtool -L {interface} combined N)"
    )]
    NoSuchRing {
        /// Interface asked for.
        interface: String,
        /// "rx" or "tx".
        dir: &'static str,
        /// Ring asked for.
        ring: usize,
        /// Rings the interface has in that direction.
        count: usize,
    },
    /// The shared region the kernel described does not hold what it should.
    #[error("netmap: {interface}: {dir} ring {ring}: inconsistent shared memory: {what}")]
    Layout {
        /// Interface asked for.
        interface: String,
        /// "rx" or "tx".
        dir: &'static str,
        /// Ring.
        ring: usize,
        /// What is wrong.
        what: String,
    },
    /// Mapping the shared region failed.
    #[error("netmap: {interface}: mapping the shared region ({bytes} bytes): {source}")]
    Map {
        /// Interface asked for.
        interface: String,
        /// Bytes of the region.
        bytes: u64,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
}
