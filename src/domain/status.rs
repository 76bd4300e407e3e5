//! The enumerated values stored in text columns, and what to do with the others.
//!
//! Another application may write values we do not know (an outcome `skipped`, say); they
//! parse as `Unknown` instead of failing the row (SPEC §2).

/// How [`Unknown`](RunStatus::Unknown) is spelled when one must be: no known value is.
const UNKNOWN_SPELLING: &str = "unknown";

/// Declares an enum of stored values with an `Unknown` variant for anything else.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $stored:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(
            dead_code,
            reason = "generated alike for every stored column; each column's code uses its part"
        )]
        pub(crate) enum $name {
            $($variant,)+
            /// A stored value outside the known set.
            Unknown,
        }

        #[allow(
            dead_code,
            reason = "generated alike for every stored column; each column's code uses its part"
        )]
        impl $name {
            /// The known values, in declaration order.
            pub(crate) const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// Reads a stored value; anything unrecognised is `Unknown`.
            pub(crate) fn from_stored(value: &str) -> Self {
                match value {
                    $($stored => $name::$variant,)+
                    _ => $name::Unknown,
                }
            }

            /// The stored spelling: the only place it is written, so the SQL and the
            /// rows the service writes follow a rename. `Unknown` stands for any value
            /// outside the known set and is spelled `unknown`, which reads back as
            /// `Unknown`; SQL that must match every unknown value uses a
            /// [`StoredSelection`].
            pub(crate) const fn as_stored(self) -> &'static str {
                match self {
                    $($name::$variant => $stored,)+
                    $name::Unknown => UNKNOWN_SPELLING,
                }
            }

            /// Every known stored spelling.
            pub(crate) fn known_stored() -> impl Iterator<Item = &'static str> {
                Self::KNOWN.iter().map(|value| value.as_stored())
            }
        }
    };
}

stored_enum!(
    /// `operation_runs.status`
    RunStatus { Queued => "queued", Running => "running", Completed => "completed" }
);

stored_enum!(
    /// `operation_runs.outcome`
    RunOutcome {
        Pending => "pending",
        Succeeded => "succeeded",
        PartiallySucceeded => "partially_succeeded",
        Failed => "failed",
        Canceled => "canceled",
    }
);

stored_enum!(
    /// `tenants.status`
    TenantStatus { Active => "active", Onboarding => "onboarding", Archived => "archived" }
);

stored_enum!(
    /// `provider_connections.status`
    ConnectionStatus {
        Connected => "connected",
        NeedsConsent => "needs_consent",
        Error => "error",
        Disabled => "disabled",
    }
);

stored_enum!(
    /// `provider_connections.health_status`
    ConnectionHealth { Ok => "ok", Degraded => "degraded", Down => "down" }
);

stored_enum!(
    /// `tenant_permissions.status`
    PermissionStatus { Granted => "granted", Missing => "missing", Error => "error" }
);

stored_enum!(
    /// `audit_logs.status`
    AuditStatus { Success => "success", Failure => "failure" }
);

stored_enum!(
    /// `workspace_memberships.role`
    MembershipRole {
        Owner => "owner",
        Manager => "manager",
        Operator => "operator",
        Readonly => "readonly",
    }
);

stored_enum!(
    /// `audit_logs.actor_type`
    ActorType { PlatformUser => "platform_user", User => "user", System => "system" }
);

/// How a filter on stored values reads: the listed known values, plus — when `Unknown`
/// is asked for — every value outside the known set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StoredSelection {
    /// Stored spellings to match exactly.
    pub(crate) values: Vec<&'static str>,
    /// Whether values outside `known` match too.
    pub(crate) include_unknown: bool,
    /// The known spellings (what "outside" is measured against).
    pub(crate) known: Vec<&'static str>,
}

macro_rules! selection_for {
    ($($name:ident),+) => {$(
        impl $name {
            /// The stored values a filter on these enum values matches.
            pub(crate) fn selection(values: &[$name]) -> StoredSelection {
                StoredSelection {
                    values: values
                        .iter()
                        .filter(|value| **value != $name::Unknown)
                        .map(|value| value.as_stored())
                        .collect(),
                    include_unknown: values.contains(&$name::Unknown),
                    known: Self::known_stored().collect(),
                }
            }
        }
    )+};
}

selection_for!(RunStatus, RunOutcome, TenantStatus, AuditStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_value_round_trips() {
        assert_eq!(
            RunOutcome::from_stored("partially_succeeded"),
            RunOutcome::PartiallySucceeded
        );
        assert_eq!(
            RunOutcome::PartiallySucceeded.as_stored(),
            "partially_succeeded"
        );
    }

    #[test]
    fn an_unknown_value_reads_as_unknown() {
        assert_eq!(RunOutcome::from_stored("skipped"), RunOutcome::Unknown);
        assert_eq!(RunStatus::from_stored("QUEUED"), RunStatus::Unknown);
        assert_eq!(
            RunOutcome::from_stored(RunOutcome::Unknown.as_stored()),
            RunOutcome::Unknown
        );
    }

    #[test]
    fn the_unknown_health_status_is_not_a_known_value() {
        // `unknown` is stored by the platform; it maps to Unknown like any other value.
        assert_eq!(
            ConnectionHealth::from_stored("unknown"),
            ConnectionHealth::Unknown
        );
    }

    #[test]
    fn a_selection_with_unknown_matches_outside_the_known_set() {
        let selection = RunStatus::selection(&[RunStatus::Queued, RunStatus::Unknown]);
        assert_eq!(selection.values, vec!["queued"]);
        assert!(selection.include_unknown);
        assert_eq!(selection.known, vec!["queued", "running", "completed"]);
    }
}
