//! Duplication schemes: which copies of a packet the duplicator makes.

use dataplane::meta::Priority;

/// A duplication scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// One copy to the flow's primary node; no duplicates.
    Single,
    /// A second copy to another node at the same priority as primaries (its queue 0).
    Clone,
    /// Duplicate-aware scheduling: a second copy to another node at low priority (its
    /// queue 1, bounded and served only with idle cycles).
    Das,
}

impl Scheme {
    /// Every scheme, in the order reports list them.
    pub const ALL: [Scheme; 3] = [Scheme::Single, Scheme::Clone, Scheme::Das];

    /// The scheme's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Single => "single",
            Scheme::Clone => "clone",
            Scheme::Das => "das",
        }
    }

    /// The priority of the duplicate copy, or `None` when the scheme makes none.
    pub fn duplicate_priority(self) -> Option<Priority> {
        match self {
            Scheme::Single => None,
            Scheme::Clone => Some(Priority::High),
            Scheme::Das => Some(Priority::Low),
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A scheme name that is not one of `single`, `clone`, `das`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scheme {0:?}: expected single, clone or das")]
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
        assert!(err.to_string().contains("single, clone or das"));
    }
}
