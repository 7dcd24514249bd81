//! Errors of the traffic generator.

/// What can be wrong with a generator configuration or with text parsed into one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenError {
    /// `flows` is zero.
    #[error("flows must be at least 1")]
    NoFlows,
    /// `flow_rate` is not a positive finite number.
    #[error("flow_rate must be a positive, finite number of new flows per second, got {0}")]
    InvalidRate(f64),
    /// A share or fraction lies outside `0..=1`.
    #[error("{field} must lie between 0 and 1 inclusive, got {value}")]
    ShareOutOfRange {
        /// The configuration field.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A protocol weight is negative or not finite.
    #[error("protocol weight `{field}` must be a finite number >= 0, got {value}")]
    InvalidWeight {
        /// The protocol whose weight is wrong.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// Every protocol weight is zero.
    #[error(
        "protocol weights are all zero: give at least one of http, tls, dns, icmp a positive weight"
    )]
    NoProtocols,
    /// A size-mix frame length is below the shortest frame that carries data.
    #[error(
        "size mix frame length {len} is below {min} bytes, the shortest Ethernet frame \
         (without FCS) and the smallest that carries data (IPv4 + TCP + 6 bytes)"
    )]
    FrameTooSmall {
        /// The frame length given.
        len: usize,
        /// The smallest allowed.
        min: usize,
    },
    /// A size-mix frame length exceeds an Ethernet frame for a 1500-byte MTU.
    #[error(
        "size mix frame length {len} exceeds {max} bytes, the longest Ethernet frame \
         (without FCS) for a 1500-byte MTU"
    )]
    FrameTooLarge {
        /// The frame length given.
        len: usize,
        /// The largest allowed.
        max: usize,
    },
    /// Size-mix text that does not parse.
    #[error(
        "cannot parse size mix {text:?}: {reason} (expected natural, imix, small, large, \
         or LEN:WEIGHT pairs such as \"64:7,590:4,1514:1\")"
    )]
    SizeMixSyntax {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The size mix has no class with a positive weight.
    #[error("size mix weights are all zero: give at least one frame length a positive weight")]
    ZeroMixWeights,
    /// Attacks were asked for but none is enabled.
    #[error("attack_fraction is {0} but the list of enabled attacks is empty")]
    NoAttacks(f64),
    /// An attack name that is not in [`crate::ATTACKS`].
    #[error("unknown attack {0:?}; known attacks: {1}")]
    UnknownAttack(String, String),
    /// A host count outside what the address plan can hold.
    #[error("{field} must be between 1 and {max}, got {value}")]
    HostCount {
        /// `clients` or `servers`.
        field: &'static str,
        /// The value given.
        value: u32,
        /// The largest the address plan allows.
        max: u32,
    },
    /// The start time leaves no room for the run before timestamps overflow.
    #[error("start_ns {0} is too late: timestamps would overflow 64-bit nanoseconds")]
    StartTooLate(u64),
}
