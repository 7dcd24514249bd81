//! Errors of the DPDK backend.

/// What went wrong starting DPDK or opening a port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpdkError {
    /// `rte_eal_init` failed: bad arguments, no memory or hugepages, a runtime
    /// directory in use. The EAL prints its own explanation on stderr before this.
    #[error("DPDK EAL initialisation failed with `{}`: {message}", .args.join(" "))]
    EalInit {
        /// The arguments it was given.
        args: Vec<String>,
        /// What failed, with a hint where one is known.
        message: String,
    },
    /// The machine or the process lacks what the EAL configuration needs (hugepages, a
    /// device's capabilities), found before the EAL was started.
    #[error("{0}")]
    Unmet(String),
    /// The EAL already runs in this process with other arguments; it starts only once
    /// per process.
    #[error(
        "the DPDK EAL already runs in this process with `{}` and cannot start again with \
         `{}` (rte_eal_init runs once per process)",
        .running.join(" "),
        .requested.join(" ")
    )]
    EalAlreadyRunning {
        /// The arguments it runs with.
        running: Vec<String>,
        /// The arguments asked for now.
        requested: Vec<String>,
    },
    /// No ethdev port has the configured device's name.
    #[error(
        "port {port}: no DPDK device `{device}` (the EAL has: {}); list a virtual device \
         in eal.toml's vdevs, or bind the NIC to a DPDK driver and set no_pci = false",
        if .available.is_empty() { "none".to_string() } else { .available.join(", ") }
    )]
    UnknownDevice {
        /// Port name.
        port: String,
        /// Device asked for.
        device: String,
        /// Devices the EAL created.
        available: Vec<String>,
    },
    /// The device is already open as a port of this process, or was closed (a closed
    /// virtual device is gone until the process restarts).
    #[error("port {port}: device `{device}` is already open in this process")]
    DeviceInUse {
        /// Port name.
        port: String,
        /// Device.
        device: String,
    },
    /// A virtual device listed in the EAL's arguments that the EAL did not create: its
    /// driver refused it and said why on stderr (a missing interface, say).
    #[error(
        "port {port}: the EAL did not create `{device}`, though eal.toml's vdevs list it: \
         its driver refused it (its messages are above)"
    )]
    DeviceNotCreated {
        /// Port name.
        port: String,
        /// Device.
        device: String,
    },
    /// A configuration the device cannot honour.
    #[error("port {port}: {reason}")]
    Config {
        /// Port name.
        port: String,
        /// What is wrong.
        reason: String,
    },
    /// A DPDK call failed.
    #[error("port {port}: {call} failed: {message}")]
    Call {
        /// Port name.
        port: String,
        /// The DPDK function.
        call: &'static str,
        /// The error, with a hint where one is known.
        message: String,
    },
}
