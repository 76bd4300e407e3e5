//! Health badges (SPEC §3): the worst level over a set of signals, each signal saying
//! why. Display-only: nothing here changes data.
//!
//! The tenant rules have a second form in SQL (`db::health`), used to filter, count and
//! page tenants by level; the integration tests check both forms agree.

use chrono::{DateTime, Duration, Utc};

use super::status::{ConnectionHealth, ConnectionStatus, PermissionStatus, TenantStatus};

/// A health level; the order is the severity: `Healthy < Unknown < Warning < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum HealthLevel {
    Healthy = 0,
    Unknown = 1,
    Warning = 2,
    Critical = 3,
}

impl HealthLevel {
    pub(crate) const ALL: [HealthLevel; 4] =
        [Self::Healthy, Self::Unknown, Self::Warning, Self::Critical];

    /// The level's rank, as the SQL form computes it.
    pub(crate) fn rank(self) -> i32 {
        self as i32
    }

    /// The level of a rank; anything out of range is `Unknown`.
    pub(crate) fn from_rank(rank: i64) -> Self {
        match rank {
            0 => Self::Healthy,
            2 => Self::Warning,
            3 => Self::Critical,
            _ => Self::Unknown,
        }
    }

    /// The level as operators read it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Healthy => "HEALTHY",
            Self::Unknown => "UNKNOWN",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
        }
    }
}

/// Where a signal comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SignalSource {
    TenantStatus,
    ProviderConnection,
    Permissions,
    Runs,
    Tenants,
}

/// One reason for a badge's level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Signal {
    pub(crate) source: SignalSource,
    pub(crate) level: HealthLevel,
    pub(crate) message: String,
}

/// A badge: the worst level of its signals, and the signals, worst first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Badge {
    pub(crate) level: HealthLevel,
    pub(crate) signals: Vec<Signal>,
}

impl Badge {
    /// The badge of these signals: sorted worst first (ties in source order).
    pub(crate) fn of(mut signals: Vec<Signal>) -> Self {
        signals.sort_by(|a, b| b.level.cmp(&a.level).then(a.source.cmp(&b.source)));
        let level = signals
            .first()
            .map_or(HealthLevel::Unknown, |signal| signal.level);
        Self { level, signals }
    }
}

/// The thresholds in force (`system_console.health.*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct HealthRules {
    pub(crate) stale_check_hours: u32,
    pub(crate) failed_runs_critical: u32,
}

impl HealthRules {
    /// Checks made before this moment are stale ("longer ago than the limit").
    pub(crate) fn stale_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::hours(i64::from(self.stale_check_hours))
    }

    fn is_stale(&self, checked_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        checked_at < self.stale_before(now)
    }
}

/// What the rules read of a provider connection.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionFacts {
    pub(crate) provider: String,
    pub(crate) status: ConnectionStatus,
    pub(crate) health: ConnectionHealth,
    pub(crate) last_checked_at: Option<DateTime<Utc>>,
}

/// What the rules read of a permission.
#[derive(Clone, Debug)]
pub(crate) struct PermissionFacts {
    pub(crate) key: String,
    pub(crate) status: PermissionStatus,
    pub(crate) last_checked_at: Option<DateTime<Utc>>,
}

/// A tenant's (or workspace's) runs in a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RunCounts {
    pub(crate) failed: u64,
    pub(crate) stuck: u64,
}

/// `TENANT_STATUS`: active is healthy, onboarding a warning, archived unknown.
pub(crate) fn tenant_status_signal(status: TenantStatus) -> Signal {
    let (level, message) = match status {
        TenantStatus::Active => (HealthLevel::Healthy, "Tenant is active".to_owned()),
        TenantStatus::Onboarding => (
            HealthLevel::Warning,
            "Tenant is still onboarding".to_owned(),
        ),
        TenantStatus::Archived => (HealthLevel::Unknown, "Tenant is archived".to_owned()),
        TenantStatus::Unknown => (
            HealthLevel::Unknown,
            "Tenant status is not recognised".to_owned(),
        ),
    };
    Signal {
        source: SignalSource::TenantStatus,
        level,
        message,
    }
}

/// One connection's level and why. Disabled connections are `Unknown` ("not monitored");
/// the tenant signal leaves them out.
pub(crate) fn connection_level(
    connection: &ConnectionFacts,
    now: DateTime<Utc>,
    rules: HealthRules,
) -> (HealthLevel, String) {
    let name = &connection.provider;
    match connection.status {
        ConnectionStatus::Disabled => (
            HealthLevel::Unknown,
            format!("{name} connection is disabled and not monitored"),
        ),
        ConnectionStatus::Error => (
            HealthLevel::Critical,
            format!("{name} connection is failing"),
        ),
        ConnectionStatus::NeedsConsent => (
            HealthLevel::Warning,
            format!("{name} connection needs an administrator's consent"),
        ),
        ConnectionStatus::Unknown => (
            HealthLevel::Unknown,
            format!("{name} connection status is not recognised"),
        ),
        ConnectionStatus::Connected => {
            let (level, state) = match connection.health {
                ConnectionHealth::Ok => (HealthLevel::Healthy, "healthy"),
                ConnectionHealth::Degraded => (HealthLevel::Warning, "degraded"),
                ConnectionHealth::Down => (HealthLevel::Critical, "down"),
                ConnectionHealth::Unknown => (HealthLevel::Unknown, "of unknown health"),
            };
            // Never checked is at least UNKNOWN: a reported `degraded` or `down` still
            // counts, a reported `ok` is not believed.
            let Some(checked_at) = connection.last_checked_at else {
                let message = if level > HealthLevel::Unknown {
                    format!(
                        "{name} connection is reported {state} and has never been health-checked"
                    )
                } else {
                    format!("{name} connection has never been health-checked")
                };
                return (level.max(HealthLevel::Unknown), message);
            };
            if rules.is_stale(checked_at, now) {
                let hours = (now - checked_at).num_hours();
                let level = level.max(HealthLevel::Warning);
                let message = format!(
                    "{name} connection was {state} when last checked {hours} hours ago (stale after {} hours)",
                    rules.stale_check_hours
                );
                (level, message)
            } else {
                (level, format!("{name} connection is {state}"))
            }
        }
    }
}

/// `PROVIDER_CONNECTION`: the worst connection that is not disabled; none is critical.
pub(crate) fn connections_signal(
    connections: &[ConnectionFacts],
    now: DateTime<Utc>,
    rules: HealthRules,
) -> Signal {
    let active: Vec<&ConnectionFacts> = connections
        .iter()
        .filter(|connection| connection.status != ConnectionStatus::Disabled)
        .collect();
    let worst = active
        .iter()
        .map(|connection| connection_level(connection, now, rules))
        .max_by(|a, b| a.0.cmp(&b.0));
    let (level, message) = match worst {
        None => (
            HealthLevel::Critical,
            "No active provider connection".to_owned(),
        ),
        Some((level, message)) if active.len() > 1 => (
            level,
            format!("{message} (worst of {} connections)", active.len()),
        ),
        Some(worst) => worst,
    };
    Signal {
        source: SignalSource::ProviderConnection,
        level,
        message,
    }
}

/// `PERMISSIONS`: none recorded is unknown; any missing is critical; else any failed
/// check, or any check never made or stale, is a warning; else healthy.
pub(crate) fn permissions_signal(
    permissions: &[PermissionFacts],
    now: DateTime<Utc>,
    rules: HealthRules,
) -> Signal {
    let keys = |select: &dyn Fn(&PermissionFacts) -> bool| -> Vec<&str> {
        permissions
            .iter()
            .filter(|permission| select(permission))
            .map(|permission| permission.key.as_str())
            .collect()
    };
    let missing = keys(&|p| p.status == PermissionStatus::Missing);
    let failed = keys(&|p| p.status == PermissionStatus::Error);
    let unchecked = keys(&|p| {
        p.status == PermissionStatus::Granted
            && p.last_checked_at.is_none_or(|at| rules.is_stale(at, now))
    });
    let unrecognised = keys(&|p| p.status == PermissionStatus::Unknown);
    let (level, message) = if permissions.is_empty() {
        (
            HealthLevel::Unknown,
            "No permission checks recorded".to_owned(),
        )
    } else if !missing.is_empty() {
        (
            HealthLevel::Critical,
            listing(&missing, "permission", "missing"),
        )
    } else if !failed.is_empty() {
        (
            HealthLevel::Warning,
            listing(&failed, "permission check", "failed"),
        )
    } else if !unchecked.is_empty() {
        let what = format!("not checked in the last {} hours", rules.stale_check_hours);
        (
            HealthLevel::Warning,
            listing(&unchecked, "permission", &what),
        )
    } else if !unrecognised.is_empty() {
        (
            HealthLevel::Unknown,
            listing(&unrecognised, "permission", "in an unrecognised state"),
        )
    } else {
        let count = permissions.len();
        (
            HealthLevel::Healthy,
            format!("All {count} {} granted", plural(count, "permission")),
        )
    };
    Signal {
        source: SignalSource::Permissions,
        level,
        message,
    }
}

/// `RUNS`' level: any stuck run in the window is critical, as are `failed_runs_critical`
/// failed runs; one failed run is a warning.
pub(crate) fn runs_level(counts: RunCounts, rules: HealthRules) -> HealthLevel {
    if counts.stuck > 0 || counts.failed >= u64::from(rules.failed_runs_critical) {
        HealthLevel::Critical
    } else if counts.failed >= 1 {
        HealthLevel::Warning
    } else {
        HealthLevel::Healthy
    }
}

/// `RUNS`: [`runs_level`], with a message saying why.
pub(crate) fn runs_signal(counts: RunCounts, window: &str, rules: HealthRules) -> Signal {
    let failed = counts.failed;
    let level = runs_level(counts, rules);
    let message = if counts.stuck > 0 {
        let stuck = counts.stuck;
        format!(
            "{stuck} {} stuck, created in {window}",
            plural(stuck as usize, "run")
        )
    } else if failed >= u64::from(rules.failed_runs_critical) {
        format!(
            "{failed} runs failed in {window} (critical from {})",
            rules.failed_runs_critical
        )
    } else if failed >= 1 {
        format!(
            "{failed} {} failed in {window}",
            plural(failed as usize, "run")
        )
    } else {
        format!("No failed or stuck runs in {window}")
    };
    Signal {
        source: SignalSource::Runs,
        level,
        message,
    }
}

/// A tenant's badge: its status, connections, permissions and runs in the window.
pub(crate) fn tenant_badge(
    status: TenantStatus,
    connections: &[ConnectionFacts],
    permissions: &[PermissionFacts],
    runs: RunCounts,
    window: &str,
    now: DateTime<Utc>,
    rules: HealthRules,
) -> Badge {
    Badge::of(vec![
        tenant_status_signal(status),
        connections_signal(connections, now, rules),
        permissions_signal(permissions, now, rules),
        runs_signal(runs, window, rules),
    ])
}

/// A connection's own badge: one `PROVIDER_CONNECTION` signal.
pub(crate) fn connection_badge(
    connection: &ConnectionFacts,
    now: DateTime<Utc>,
    rules: HealthRules,
) -> Badge {
    let (level, message) = connection_level(connection, now, rules);
    Badge::of(vec![Signal {
        source: SignalSource::ProviderConnection,
        level,
        message,
    }])
}

/// How many tenants are at each level (index = rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LevelCounts(pub [u64; 4]);

impl LevelCounts {
    pub(crate) fn get(&self, level: HealthLevel) -> u64 {
        self.0[level as usize]
    }

    pub(crate) fn add(&mut self, level: HealthLevel, count: u64) {
        self.0[level as usize] += count;
    }

    pub(crate) fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// `TENANTS`: the worst badge among the workspace's tenants that are not archived,
/// summarised ("2 tenants CRITICAL, 1 WARNING"); none is unknown.
pub(crate) fn tenants_signal(counts: LevelCounts) -> Signal {
    let total = counts.total();
    let (level, message) = if total == 0 {
        (HealthLevel::Unknown, "No tenants in service".to_owned())
    } else {
        let worst = HealthLevel::ALL
            .into_iter()
            .rev()
            .find(|level| counts.get(*level) > 0)
            .unwrap_or(HealthLevel::Healthy);
        let parts: Vec<String> = HealthLevel::ALL
            .into_iter()
            .rev()
            .filter(|level| *level != HealthLevel::Healthy && counts.get(*level) > 0)
            .map(|level| (level, counts.get(level)))
            .enumerate()
            .map(|(index, (level, count))| {
                if index == 0 {
                    format!(
                        "{count} {} {}",
                        plural(count as usize, "tenant"),
                        level.label()
                    )
                } else {
                    format!("{count} {}", level.label())
                }
            })
            .collect();
        let message = if parts.is_empty() {
            format!("All {total} {} HEALTHY", plural(total as usize, "tenant"))
        } else {
            parts.join(", ")
        };
        (worst, message)
    };
    Signal {
        source: SignalSource::Tenants,
        level,
        message,
    }
}

/// A workspace's badge: its tenants and its runs in the window.
pub(crate) fn workspace_badge(
    tenants: LevelCounts,
    runs: RunCounts,
    window: &str,
    rules: HealthRules,
) -> Badge {
    Badge::of(vec![
        tenants_signal(tenants),
        runs_signal(runs, window, rules),
    ])
}

/// "2 permissions missing: A, B" — at most five names, then "and N more".
fn listing(keys: &[&str], noun: &str, state: &str) -> String {
    const SHOWN: usize = 5;
    let count = keys.len();
    let mut names = keys
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if count > SHOWN {
        names.push_str(&format!(" and {} more", count - SHOWN));
    }
    format!("{count} {} {state}: {names}", plural(count, noun))
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        noun.to_owned()
    } else {
        format!("{noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: HealthRules = HealthRules {
        stale_check_hours: 24,
        failed_runs_critical: 5,
    };

    fn now() -> DateTime<Utc> {
        "2026-11-27T12:00:00Z".parse().unwrap()
    }

    fn hours_ago(hours: i64) -> Option<DateTime<Utc>> {
        Some(now() - Duration::hours(hours))
    }

    fn connection(
        status: ConnectionStatus,
        health: ConnectionHealth,
        checked: Option<DateTime<Utc>>,
    ) -> ConnectionFacts {
        ConnectionFacts {
            provider: "microsoft".into(),
            status,
            health,
            last_checked_at: checked,
        }
    }

    fn permission(
        key: &str,
        status: PermissionStatus,
        checked: Option<DateTime<Utc>>,
    ) -> PermissionFacts {
        PermissionFacts {
            key: key.into(),
            status,
            last_checked_at: checked,
        }
    }

    fn level_of_connections(connections: &[ConnectionFacts]) -> HealthLevel {
        connections_signal(connections, now(), RULES).level
    }

    #[test]
    fn an_active_tenant_is_healthy() {
        assert_eq!(
            tenant_status_signal(TenantStatus::Active).level,
            HealthLevel::Healthy
        );
    }

    #[test]
    fn an_onboarding_tenant_is_a_warning() {
        assert_eq!(
            tenant_status_signal(TenantStatus::Onboarding).level,
            HealthLevel::Warning
        );
    }

    #[test]
    fn an_archived_tenant_is_unknown() {
        assert_eq!(
            tenant_status_signal(TenantStatus::Archived).level,
            HealthLevel::Unknown
        );
    }

    #[test]
    fn no_connection_is_critical() {
        let signal = connections_signal(&[], now(), RULES);
        assert_eq!(signal.level, HealthLevel::Critical);
        assert_eq!(signal.message, "No active provider connection");
    }

    #[test]
    fn only_disabled_connections_count_as_none() {
        let disabled = connection(
            ConnectionStatus::Disabled,
            ConnectionHealth::Ok,
            hours_ago(1),
        );
        assert_eq!(level_of_connections(&[disabled]), HealthLevel::Critical);
    }

    #[test]
    fn a_failing_connection_is_critical() {
        let failing = connection(
            ConnectionStatus::Error,
            ConnectionHealth::Down,
            hours_ago(1),
        );
        assert_eq!(level_of_connections(&[failing]), HealthLevel::Critical);
    }

    #[test]
    fn a_connection_needing_consent_is_a_warning() {
        let consent = connection(
            ConnectionStatus::NeedsConsent,
            ConnectionHealth::Unknown,
            hours_ago(1),
        );
        assert_eq!(level_of_connections(&[consent]), HealthLevel::Warning);
    }

    #[test]
    fn a_connected_connection_is_as_healthy_as_its_last_check() {
        for (health, level) in [
            (ConnectionHealth::Ok, HealthLevel::Healthy),
            (ConnectionHealth::Degraded, HealthLevel::Warning),
            (ConnectionHealth::Down, HealthLevel::Critical),
            (ConnectionHealth::Unknown, HealthLevel::Unknown),
        ] {
            let connected = connection(ConnectionStatus::Connected, health, hours_ago(2));
            assert_eq!(level_of_connections(&[connected]), level, "{health:?}");
        }
    }

    #[test]
    fn a_connection_never_checked_is_unknown() {
        let never = connection(ConnectionStatus::Connected, ConnectionHealth::Ok, None);
        let signal = connections_signal(&[never], now(), RULES);
        assert_eq!(signal.level, HealthLevel::Unknown);
        assert_eq!(
            signal.message,
            "microsoft connection has never been health-checked"
        );
    }

    #[test]
    fn a_connection_never_checked_keeps_a_reported_degraded_or_down() {
        for (health, level) in [
            (ConnectionHealth::Unknown, HealthLevel::Unknown),
            (ConnectionHealth::Degraded, HealthLevel::Warning),
            (ConnectionHealth::Down, HealthLevel::Critical),
        ] {
            let never = connection(ConnectionStatus::Connected, health, None);
            assert_eq!(level_of_connections(&[never]), level, "{health:?}");
        }
        let down = connection(ConnectionStatus::Connected, ConnectionHealth::Down, None);
        assert_eq!(
            connections_signal(&[down], now(), RULES).message,
            "microsoft connection is reported down and has never been health-checked"
        );
    }

    #[test]
    fn a_stale_check_is_at_least_a_warning() {
        let stale_ok = connection(
            ConnectionStatus::Connected,
            ConnectionHealth::Ok,
            hours_ago(30),
        );
        let signal = connections_signal(&[stale_ok], now(), RULES);
        assert_eq!(signal.level, HealthLevel::Warning);
        assert_eq!(
            signal.message,
            "microsoft connection was healthy when last checked 30 hours ago (stale after 24 hours)"
        );
        let stale_down = connection(
            ConnectionStatus::Connected,
            ConnectionHealth::Down,
            hours_ago(30),
        );
        assert_eq!(level_of_connections(&[stale_down]), HealthLevel::Critical);
    }

    #[test]
    fn a_check_exactly_at_the_stale_limit_is_not_stale() {
        let edge = connection(
            ConnectionStatus::Connected,
            ConnectionHealth::Ok,
            hours_ago(24),
        );
        assert_eq!(level_of_connections(&[edge]), HealthLevel::Healthy);
    }

    #[test]
    fn the_signal_is_the_worst_connection() {
        let ok = connection(
            ConnectionStatus::Connected,
            ConnectionHealth::Ok,
            hours_ago(1),
        );
        let mut down = connection(
            ConnectionStatus::Connected,
            ConnectionHealth::Down,
            hours_ago(1),
        );
        down.provider = "google".into();
        let signal = connections_signal(&[ok, down], now(), RULES);
        assert_eq!(signal.level, HealthLevel::Critical);
        assert_eq!(
            signal.message,
            "google connection is down (worst of 2 connections)"
        );
    }

    #[test]
    fn no_permission_rows_are_unknown() {
        assert_eq!(
            permissions_signal(&[], now(), RULES).level,
            HealthLevel::Unknown
        );
    }

    #[test]
    fn a_missing_permission_is_critical_and_named() {
        let permissions = [
            permission(
                "DeviceManagementConfiguration.Read.All",
                PermissionStatus::Missing,
                hours_ago(1),
            ),
            permission(
                "Directory.Read.All",
                PermissionStatus::Granted,
                hours_ago(1),
            ),
            permission("Policy.Read.All", PermissionStatus::Missing, hours_ago(1)),
            permission("AuditLog.Read.All", PermissionStatus::Error, hours_ago(1)),
        ];
        let signal = permissions_signal(&permissions, now(), RULES);
        assert_eq!(signal.level, HealthLevel::Critical);
        assert_eq!(
            signal.message,
            "2 permissions missing: DeviceManagementConfiguration.Read.All, Policy.Read.All"
        );
    }

    #[test]
    fn a_failed_permission_check_is_a_warning() {
        let permissions = [
            permission("Directory.Read.All", PermissionStatus::Error, hours_ago(1)),
            permission("Policy.Read.All", PermissionStatus::Granted, hours_ago(1)),
        ];
        let signal = permissions_signal(&permissions, now(), RULES);
        assert_eq!(signal.level, HealthLevel::Warning);
        assert_eq!(
            signal.message,
            "1 permission check failed: Directory.Read.All"
        );
    }

    #[test]
    fn a_permission_never_checked_or_stale_is_a_warning() {
        for checked in [None, hours_ago(25)] {
            let permissions = [permission(
                "Directory.Read.All",
                PermissionStatus::Granted,
                checked,
            )];
            let signal = permissions_signal(&permissions, now(), RULES);
            assert_eq!(signal.level, HealthLevel::Warning);
            assert_eq!(
                signal.message,
                "1 permission not checked in the last 24 hours: Directory.Read.All"
            );
        }
    }

    #[test]
    fn granted_and_freshly_checked_permissions_are_healthy() {
        let permissions = [
            permission("A", PermissionStatus::Granted, hours_ago(1)),
            permission("B", PermissionStatus::Granted, hours_ago(24)),
        ];
        let signal = permissions_signal(&permissions, now(), RULES);
        assert_eq!(signal.level, HealthLevel::Healthy);
        assert_eq!(signal.message, "All 2 permissions granted");
    }

    #[test]
    fn long_lists_of_permissions_are_shortened() {
        let permissions: Vec<_> = (0..8)
            .map(|i| permission(&format!("P{i}"), PermissionStatus::Missing, hours_ago(1)))
            .collect();
        let message = permissions_signal(&permissions, now(), RULES).message;
        assert_eq!(
            message,
            "8 permissions missing: P0, P1, P2, P3, P4 and 3 more"
        );
    }

    #[test]
    fn a_stuck_run_is_critical() {
        let signal = runs_signal(
            RunCounts {
                failed: 0,
                stuck: 1,
            },
            "the last 24 hours",
            RULES,
        );
        assert_eq!(signal.level, HealthLevel::Critical);
        assert_eq!(signal.message, "1 run stuck, created in the last 24 hours");
    }

    #[test]
    fn failed_runs_at_the_critical_count_are_critical() {
        let signal = runs_signal(
            RunCounts {
                failed: 5,
                stuck: 0,
            },
            "the last 24 hours",
            RULES,
        );
        assert_eq!(signal.level, HealthLevel::Critical);
        assert_eq!(
            signal.message,
            "5 runs failed in the last 24 hours (critical from 5)"
        );
    }

    #[test]
    fn a_failed_run_is_a_warning() {
        for failed in [1, 4] {
            let signal = runs_signal(RunCounts { failed, stuck: 0 }, "the last hour", RULES);
            assert_eq!(signal.level, HealthLevel::Warning);
        }
    }

    #[test]
    fn no_failed_or_stuck_runs_are_healthy() {
        let signal = runs_signal(RunCounts::default(), "the last 7 days", RULES);
        assert_eq!(signal.level, HealthLevel::Healthy);
        assert_eq!(signal.message, "No failed or stuck runs in the last 7 days");
    }

    #[test]
    fn a_badge_is_the_worst_signal_and_lists_signals_worst_first() {
        let badge = tenant_badge(
            TenantStatus::Onboarding,
            &[connection(
                ConnectionStatus::Connected,
                ConnectionHealth::Ok,
                hours_ago(1),
            )],
            &[],
            RunCounts {
                failed: 7,
                stuck: 0,
            },
            "the last 24 hours",
            now(),
            RULES,
        );
        assert_eq!(badge.level, HealthLevel::Critical);
        let order: Vec<_> = badge.signals.iter().map(|s| (s.source, s.level)).collect();
        assert_eq!(
            order,
            vec![
                (SignalSource::Runs, HealthLevel::Critical),
                (SignalSource::TenantStatus, HealthLevel::Warning),
                (SignalSource::Permissions, HealthLevel::Unknown),
                (SignalSource::ProviderConnection, HealthLevel::Healthy),
            ]
        );
    }

    #[test]
    fn the_workspace_tenants_signal_summarises_the_levels() {
        let mut counts = LevelCounts::default();
        counts.add(HealthLevel::Critical, 2);
        counts.add(HealthLevel::Warning, 1);
        counts.add(HealthLevel::Healthy, 9);
        let signal = tenants_signal(counts);
        assert_eq!(signal.level, HealthLevel::Critical);
        assert_eq!(signal.message, "2 tenants CRITICAL, 1 WARNING");
    }

    #[test]
    fn a_workspace_of_healthy_tenants_says_so() {
        let mut counts = LevelCounts::default();
        counts.add(HealthLevel::Healthy, 1);
        assert_eq!(tenants_signal(counts).message, "All 1 tenant HEALTHY");
        assert_eq!(tenants_signal(counts).level, HealthLevel::Healthy);
    }

    #[test]
    fn a_workspace_without_tenants_in_service_is_unknown() {
        let signal = tenants_signal(LevelCounts::default());
        assert_eq!(signal.level, HealthLevel::Unknown);
        assert_eq!(signal.message, "No tenants in service");
    }

    #[test]
    fn a_disabled_connection_alone_is_unknown_on_its_own_badge() {
        let disabled = connection(
            ConnectionStatus::Disabled,
            ConnectionHealth::Ok,
            hours_ago(1),
        );
        assert_eq!(
            connection_badge(&disabled, now(), RULES).level,
            HealthLevel::Unknown
        );
    }
}
