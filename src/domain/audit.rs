//! The actions the service itself records in the audit trail (`audit_logs.action`).
//!
//! Other applications write their own actions to the same table; the service's are all
//! under [`PLATFORM_PREFIX`], and each is spelled here and nowhere else.

/// Every action the service's own actions start with.
pub(crate) const PLATFORM_PREFIX: &str = "platform.";

/// An action the service records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum AuditAction {
    /// A login attempt, successful or not.
    Login,
    /// A session ended by its operator.
    Logout,
    /// An operator entered break-glass mode.
    BreakGlassEnter,
    /// An operator left break-glass mode.
    BreakGlassExit,
    /// A break-glass grant ran out, noticed by the service.
    BreakGlassExpired,
    /// An operator was created from the command line.
    OperatorCreated,
    /// An operator was disabled from the command line.
    OperatorDisabled,
    /// A run was marked investigated; the metadata holds `runId` and `note`.
    RunInvestigated,
    /// A dashboard token was created from the command line.
    TokenCreated,
    /// A dashboard token was revoked from the command line.
    TokenRevoked,
}

impl AuditAction {
    /// Every action, in declaration order.
    #[cfg(test)]
    pub(crate) const ALL: [AuditAction; 10] = [
        AuditAction::Login,
        AuditAction::Logout,
        AuditAction::BreakGlassEnter,
        AuditAction::BreakGlassExit,
        AuditAction::BreakGlassExpired,
        AuditAction::OperatorCreated,
        AuditAction::OperatorDisabled,
        AuditAction::RunInvestigated,
        AuditAction::TokenCreated,
        AuditAction::TokenRevoked,
    ];

    /// The stored spelling.
    pub(crate) const fn as_stored(self) -> &'static str {
        match self {
            AuditAction::Login => "platform.auth.login",
            AuditAction::Logout => "platform.auth.logout",
            AuditAction::BreakGlassEnter => "platform.break_glass.enter",
            AuditAction::BreakGlassExit => "platform.break_glass.exit",
            AuditAction::BreakGlassExpired => "platform.break_glass.expired",
            AuditAction::OperatorCreated => "platform.operator.created",
            AuditAction::OperatorDisabled => "platform.operator.disabled",
            AuditAction::RunInvestigated => "platform.operation_run.investigated",
            AuditAction::TokenCreated => "platform.api_token.created",
            AuditAction::TokenRevoked => "platform.api_token.revoked",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_under_the_platform_prefix() {
        for action in AuditAction::ALL {
            assert!(
                action.as_stored().starts_with(PLATFORM_PREFIX),
                "{action:?}"
            );
        }
    }

    #[test]
    fn no_two_actions_share_a_spelling() {
        let spellings: std::collections::HashSet<&str> = AuditAction::ALL
            .iter()
            .map(|action| action.as_stored())
            .collect();
        assert_eq!(spellings.len(), AuditAction::ALL.len());
    }
}
