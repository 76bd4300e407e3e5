//! The enums of the schema. Stored values outside the known set read as `UNKNOWN`.

use async_graphql::Enum;

use crate::domain::{health, status, stuck, window};

/// Where a run is in its life.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "status::RunStatus")]
pub(crate) enum RunStatus {
    /// Waiting for a worker; not started yet.
    Queued,
    /// Started and not finished.
    Running,
    /// Finished; see `outcome` for how it went.
    Completed,
    /// A stored status this service does not know (written by another application).
    Unknown,
}

/// How a run ended (or `PENDING` while it has not).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "status::RunOutcome")]
pub(crate) enum RunOutcome {
    /// Not finished yet.
    Pending,
    /// Everything the run set out to do was done.
    Succeeded,
    /// Finished with some items failed; see `failureSummary`.
    PartiallySucceeded,
    /// Finished without doing its work; see `failureSummary`.
    Failed,
    /// Stopped before it finished, by a user or the system.
    Canceled,
    /// A stored outcome this service does not know (e.g. `skipped`).
    Unknown,
}

/// Where a tenant is in its life on the platform.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "status::TenantStatus")]
pub(crate) enum TenantStatus {
    /// Managed and in service.
    Active,
    /// Being set up; not everything is expected to work yet.
    Onboarding,
    /// No longer managed; kept for history.
    Archived,
    /// A stored status this service does not know.
    Unknown,
}

/// The state of a provider connection.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "status::ConnectionStatus")]
pub(crate) enum ConnectionStatus {
    /// Connected and usable.
    Connected,
    /// The tenant's administrator must grant (or renew) consent.
    NeedsConsent,
    /// The connection fails.
    Error,
    /// Switched off on purpose; ignored by health.
    Disabled,
    /// A stored status this service does not know.
    Unknown,
}

/// The result of a connection's last health check.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "status::ConnectionHealth")]
pub(crate) enum ConnectionHealth {
    /// The provider answered normally.
    Ok,
    /// The provider answered slowly or partly.
    Degraded,
    /// The provider did not answer.
    Down,
    /// Not known: never checked, stored as `unknown`, or a value this service does not
    /// know.
    Unknown,
}

/// Whether the platform holds a permission in a tenant.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "status::PermissionStatus")]
pub(crate) enum PermissionStatus {
    /// Granted.
    Granted,
    /// Not granted: features that need it fail.
    Missing,
    /// The check itself failed.
    Error,
    /// A stored status this service does not know.
    Unknown,
}

/// Whether an audited action succeeded.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "status::AuditStatus")]
pub(crate) enum AuditStatus {
    /// The action was carried out.
    Success,
    /// The action was refused or failed.
    Failure,
    /// A stored status this service does not know.
    Unknown,
}

/// A user's role in a workspace.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "status::MembershipRole")]
pub(crate) enum MembershipRole {
    /// Owns the workspace and its settings.
    Owner,
    /// Manages tenants of the workspace.
    Manager,
    /// Runs operations in the workspace.
    Operator,
    /// Reads only.
    Readonly,
    /// A stored role this service does not know.
    Unknown,
}

/// A window of time ending now: `[now − length, now]`, both ends included. Runs fall in
/// a window by `createdAt`, audit logs by `recordedAt`.
#[derive(Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[graphql(remote = "window::TimeWindow")]
pub(crate) enum TimeWindow {
    /// The last hour.
    #[graphql(name = "LAST_1H")]
    Last1h,
    /// The last 24 hours (the default everywhere).
    #[graphql(name = "LAST_24H")]
    #[default]
    Last24h,
    /// The last 7 days.
    #[graphql(name = "LAST_7D")]
    Last7d,
}

/// Which way a list is sorted.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrderDirection {
    /// Smallest (or oldest, or A) first.
    Asc,
    /// Largest (or newest, or Z) first.
    Desc,
}

impl OrderDirection {
    /// Whether this is `DESC`.
    pub(crate) fn descending(self) -> bool {
        self == Self::Desc
    }
}

/// A health level, from best to worst: `HEALTHY`, `UNKNOWN`, `WARNING`, `CRITICAL`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "health::HealthLevel")]
pub(crate) enum HealthLevel {
    /// Nothing needs attention.
    Healthy,
    /// Not enough is known to judge (never checked, archived, not recognised).
    Unknown,
    /// Something needs attention soon.
    Warning,
    /// Something is broken now.
    Critical,
}

/// What a health signal looked at.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "health::SignalSource")]
pub(crate) enum HealthSignalSource {
    /// The tenant's lifecycle status.
    TenantStatus,
    /// The tenant's provider connections (the worst one that is not disabled).
    ProviderConnection,
    /// The permissions the platform holds in the tenant.
    Permissions,
    /// Failed and stuck runs in the window.
    Runs,
    /// The worst badge among a workspace's tenants that are not archived.
    Tenants,
}

/// Why a run is stuck.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "stuck::StuckReason")]
pub(crate) enum StuckReason {
    /// Queued and not started within `settings.queuedStuckMinutes` of its creation.
    QueuedTooLong,
    /// Running for `settings.runningStuckMinutes` or more since it started.
    RunningTooLong,
}

impl TimeWindow {
    /// The window a field was asked for: the default (`LAST_24H`) when absent or null.
    pub(crate) fn chosen(window: Option<Self>) -> window::TimeWindow {
        window.unwrap_or_default().into()
    }
}
