//! Duplication schemes: which copies of a packet the duplicator makes (the schemes of
//! the DAS paper's Table 1 that fit packets).

use dataplane::meta::Priority;

/// A duplication scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// One copy to the flow's primary node; no duplicates.
    Single,
    /// A second copy to another node at the same priority as primaries (its queue 0).
    Clone,
    /// A second copy at low priority (queue 1), never dropped nor purged: cloning with
    /// prioritisation but without purging.
    ClonePrio,
    /// Duplicate-aware scheduling: a second copy at low priority, in a bounded queue,
    /// purged once its job is delivered, and not made while the secondary's duplicate
    /// queue overflows (the overload guard).
    Das,
    /// Like DAS, but a duplicate only for packets whose primary node has a queue above
    /// a threshold (hedging against a slow node).
    Hedged,
}

impl Scheme {
    /// Every scheme, in the order reports list them.
    pub const ALL: [Scheme; 5] = [
        Scheme::Single,
        Scheme::Clone,
        Scheme::ClonePrio,
        Scheme::Das,
        Scheme::Hedged,
    ];

    /// The scheme's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Single => "single",
            Scheme::Clone => "clone",
            Scheme::ClonePrio => "clone-prio",
            Scheme::Das => "das",
            Scheme::Hedged => "hedged",
        }
    }

    /// The priority of the duplicate copy, or `None` when the scheme makes none.
    pub fn duplicate_priority(self) -> Option<Priority> {
        match self {
            Scheme::Single => None,
            Scheme::Clone => Some(Priority::High),
            Scheme::ClonePrio | Scheme::Das | Scheme::Hedged => Some(Priority::Low),
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A scheme name that is not one of the schemes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scheme {0:?}: expected single, clone, clone-prio, das or hedged")]
pub struct UnknownScheme(pub String);

impl std::str::FromStr for Scheme {
    type Err = UnknownScheme;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scheme::ALL
            .into_iter()
            .find(|scheme| scheme.name() == s)
            .ok_or_else(|| UnknownScheme(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for scheme in Scheme::ALL {
            assert_eq!(scheme.name().parse::<Scheme>().unwrap(), scheme);
        }
        let err = "cloning".parse::<Scheme>().unwrap_err();
        assert!(err.to_string().contains("clone-prio, das or hedged"));
    }
}
