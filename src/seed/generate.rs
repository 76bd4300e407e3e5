//! The row generator: one ChaCha stream drawn in a fixed order, so a seed and an anchor
//! always give the same rows.
//!
//! Distributions, roughly: tenants 85% active, 10% onboarding, 5% archived; connections
//! 85% connected (mostly healthy), the rest needing consent, failing or disabled, some
//! never or long ago checked; permissions 95% granted; runs spread over the 30 days before
//! the anchor, 86% succeeded, 7% failed, 5% partly, 2% canceled (a few "flaky" tenants
//! fail far more), the last minutes queued or running, and a few stuck; audit logs of
//! logins (some failed), logouts, break-glass and tenant-plane events.

use chrono::{DateTime, Duration, Utc};
use entity::{
    Document, audit_log, operation_run, platform_user, provider_connection, tenant,
    tenant_permission, user, workspace, workspace_membership,
};
use rand::distr::weighted::WeightedIndex;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use sea_orm::ActiveValue::Set;
use serde_json::json;

use super::SeedPlan;
use super::vocabulary::{
    COMPANIES, FAILURES, FIRST_NAMES, LAST_NAMES, OPERATORS, PERMISSIONS, REGIONS, RUN_TYPES, UNITS,
};
use crate::domain::audit::AuditAction;
use crate::domain::status::{
    ActorType, AuditStatus, ConnectionHealth, ConnectionStatus, MembershipRole, PermissionStatus,
    RunOutcome, RunStatus, TenantStatus,
};

/// The span of time runs and audit logs are spread over, before the anchor.
const HISTORY_DAYS: i64 = 30;

struct TenantFacts {
    id: i64,
    workspace_id: i64,
    flaky: bool,
}

pub(crate) struct Generator {
    rng: ChaCha8Rng,
    plan: SeedPlan,
    workspace_slugs: Vec<String>,
    /// The users of each workspace (index = workspace id − 1).
    workspace_users: Vec<Vec<i64>>,
    users: Vec<(i64, String, String)>,
    tenants: Vec<TenantFacts>,
    run_types: WeightedIndex<u32>,
    runs_made: u64,
    audit_logs_made: u64,
}

impl Generator {
    pub(crate) fn new(plan: &SeedPlan) -> Self {
        let weights = RUN_TYPES.iter().map(|(_, weight)| *weight);
        Self {
            rng: ChaCha8Rng::seed_from_u64(plan.seed),
            plan: plan.clone(),
            workspace_slugs: Vec::new(),
            workspace_users: Vec::new(),
            users: Vec::new(),
            tenants: Vec::new(),
            // The weights are constant and positive.
            run_types: WeightedIndex::new(weights).unwrap_or_else(|_| unreachable!()),
            runs_made: 0,
            audit_logs_made: 0,
        }
    }

    /// Rows to be written, for the progress bar.
    pub(crate) fn row_estimate(&self) -> u64 {
        let workspaces = u64::from(self.plan.workspaces);
        let tenants = u64::from(self.plan.tenants);
        workspaces * 12
            + tenants * (1 + 1 + PERMISSIONS.len() as u64)
            + OPERATORS.len() as u64
            + self.plan.runs
            + self.plan.audit_logs
    }

    fn anchor(&self) -> DateTime<Utc> {
        self.plan.anchor
    }

    /// A moment within the `days` before the anchor.
    fn within_days(&mut self, days: i64) -> DateTime<Utc> {
        let seconds = self.rng.random_range(0..days * 86_400);
        self.anchor() - Duration::seconds(seconds)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn hex(&mut self, digits: usize) -> String {
        (0..digits)
            .map(|_| char::from_digit(self.rng.random_range(0..16), 16).unwrap_or('0'))
            .collect()
    }

    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(4),
            self.hex(12)
        )
    }

    pub(crate) fn workspaces(&mut self) -> Vec<workspace::ActiveModel> {
        (1..=i64::from(self.plan.workspaces))
            .map(|id| {
                let index = (id - 1) as usize;
                let base = COMPANIES[index % COMPANIES.len()];
                let round = index / COMPANIES.len();
                let name = if round == 0 {
                    base.to_owned()
                } else {
                    format!("{base} {}", round + 1)
                };
                let slug = name
                    .to_lowercase()
                    .chars()
                    .filter_map(|c| match c {
                        'a'..='z' | '0'..='9' => Some(c),
                        ' ' | '-' => Some('-'),
                        _ => None,
                    })
                    .collect::<String>();
                self.workspace_slugs.push(slug.clone());
                let created_at = self.anchor() - Duration::days(400) + Duration::hours(id * 7);
                workspace::ActiveModel {
                    id: Set(id),
                    name: Set(name),
                    slug: Set(slug),
                    created_at: Set(created_at),
                    updated_at: Set(created_at + Duration::days(self.rng.random_range(0..300))),
                }
            })
            .collect()
    }

    pub(crate) fn users(&mut self) -> Vec<user::ActiveModel> {
        let mut rows = Vec::new();
        for index in 0..self.workspace_slugs.len() {
            let count = self.rng.random_range(3..=8);
            let mut members = Vec::new();
            for _ in 0..count {
                let id = rows.len() as i64 + 1;
                let first = *self.pick(&FIRST_NAMES);
                let last = *self.pick(&LAST_NAMES);
                let name = format!("{first} {last}");
                let email = format!(
                    "{}.{}{id}@{}.example",
                    ascii(first),
                    ascii(last),
                    self.workspace_slugs[index]
                );
                let created_at = self.within_days(380);
                members.push(id);
                self.users.push((id, name.clone(), email.clone()));
                rows.push(user::ActiveModel {
                    id: Set(id),
                    name: Set(name),
                    email: Set(email),
                    created_at: Set(created_at),
                    updated_at: Set(created_at),
                });
            }
            self.workspace_users.push(members);
        }
        rows
    }

    pub(crate) fn memberships(&mut self) -> Vec<workspace_membership::ActiveModel> {
        let mut rows = Vec::new();
        for (index, members) in self.workspace_users.clone().iter().enumerate() {
            for (position, user_id) in members.iter().enumerate() {
                let role = match position {
                    0 => MembershipRole::Owner,
                    1 => MembershipRole::Manager,
                    _ => *self.pick(&[
                        MembershipRole::Operator,
                        MembershipRole::Operator,
                        MembershipRole::Readonly,
                        MembershipRole::Manager,
                    ]),
                };
                let created_at = self.within_days(360);
                rows.push(workspace_membership::ActiveModel {
                    id: Set(rows.len() as i64 + 1),
                    workspace_id: Set(index as i64 + 1),
                    user_id: Set(*user_id),
                    role: Set(role.as_stored().to_owned()),
                    created_at: Set(created_at),
                    updated_at: Set(created_at),
                });
            }
        }
        rows
    }

    pub(crate) fn tenants(&mut self) -> Vec<tenant::ActiveModel> {
        let workspaces = i64::from(self.plan.workspaces);
        (1..=i64::from(self.plan.tenants))
            .map(|id| {
                // Uneven workspaces: the first ones hold more tenants.
                let workspace_id = if self.rng.random_bool(0.5) {
                    (id - 1) % workspaces + 1
                } else {
                    self.rng.random_range(1..=(workspaces + 2) / 3)
                };
                let company = COMPANIES[((workspace_id - 1) as usize) % COMPANIES.len()];
                let unit = *self.pick(&UNITS);
                let name = format!("{company} {unit} {id}");
                let status = match self.rng.random_range(0..100) {
                    0..85 => TenantStatus::Active,
                    85..95 => TenantStatus::Onboarding,
                    _ => TenantStatus::Archived,
                };
                let environment = match self.rng.random_range(0..10) {
                    0..7 => "production",
                    7..9 => "staging",
                    _ => "development",
                };
                let created_at = self.within_days(365);
                let checked = self.rng.random_bool(0.9).then(|| self.within_days(2));
                let region = *self.pick(&REGIONS);
                let flaky = self.rng.random_bool(0.05);
                self.tenants.push(TenantFacts { id, workspace_id, flaky });
                let warnings = if self.rng.random_bool(0.1) {
                    json!(["Role assignment 'Intune Reader' is missing on 1 scope"])
                } else {
                    json!([])
                };
                let external_id = self.uuid();
                let secret_hint = self.hex(6);
                tenant::ActiveModel {
                    id: Set(id),
                    external_id: Set(external_id),
                    name: Set(name),
                    workspace_id: Set(workspace_id),
                    status: Set(status.as_stored().to_owned()),
                    environment: Set(environment.to_owned()),
                    rbac_last_checked_at: Set(checked),
                    rbac_last_setup_at: Set(Some(created_at + Duration::hours(2))),
                    rbac_canary_results: Set(Some(Document::from(json!({
                        "readDevices": {"ok": true, "latencyMs": 180 + id % 200},
                        "readPolicies": {"ok": id % 17 != 0, "error": if id % 17 == 0 { "403" } else { "" }},
                        "servicePrincipal": {"appId": format!("app-{}", id * 7919 % 100_000), "clientSecret": format!("s3cr3t-{secret_hint}")}
                    })))),
                    rbac_last_warnings: Set(Some(Document::from(warnings))),
                    metadata: Set(Some(Document::from(json!({
                        "region": region,
                        "tier": if id % 4 == 0 { "premium" } else { "standard" },
                        "contact": {"team": format!("{unit} IT"), "apiKey": format!("ak_{secret_hint}")}
                    })))),
                    created_at: Set(created_at),
                    updated_at: Set(checked.unwrap_or(created_at).max(created_at)),
                }
            })
            .collect()
    }

    pub(crate) fn connections(&mut self) -> Vec<provider_connection::ActiveModel> {
        let mut rows = Vec::new();
        for index in 0..self.tenants.len() {
            let tenant_id = self.tenants[index].id;
            let count = if self.rng.random_bool(0.2) { 2 } else { 1 };
            for position in 0..count {
                let provider = if position == 0 {
                    "microsoft"
                } else {
                    *self.pick(&["google", "aws"])
                };
                let status = match self.rng.random_range(0..100) {
                    0..85 => ConnectionStatus::Connected,
                    85..91 => ConnectionStatus::NeedsConsent,
                    91..96 => ConnectionStatus::Error,
                    _ => ConnectionStatus::Disabled,
                };
                let health = match (status, self.rng.random_range(0..100)) {
                    (ConnectionStatus::Connected, 0..85) => ConnectionHealth::Ok,
                    (ConnectionStatus::Connected, 85..93) => ConnectionHealth::Degraded,
                    (ConnectionStatus::Connected, 93..96) => ConnectionHealth::Down,
                    (ConnectionStatus::Error, _) => ConnectionHealth::Down,
                    // The platform stores `unknown` before a first check.
                    _ => ConnectionHealth::Unknown,
                };
                let checked = match self.rng.random_range(0..100) {
                    0..3 => None,
                    3..8 => Some(self.anchor() - Duration::hours(self.rng.random_range(30..120))),
                    _ => Some(self.anchor() - Duration::minutes(self.rng.random_range(1..360))),
                };
                let created_at = self.within_days(365);
                let token = self.hex(32);
                rows.push(provider_connection::ActiveModel {
                    id: Set(rows.len() as i64 + 1),
                    tenant_id: Set(tenant_id),
                    provider: Set(provider.to_owned()),
                    is_default: Set(position == 0),
                    status: Set(status.as_stored().to_owned()),
                    health_status: Set(health.as_stored().to_owned()),
                    scopes_granted: Set(Some(Document::from(json!([
                        "https://graph.microsoft.com/.default",
                        "offline_access"
                    ])))),
                    last_health_check_at: Set(checked),
                    metadata: Set(Some(Document::from(json!({
                        "consentedBy": "admin@tenant.example",
                        "refreshToken": token,
                        "endpoint": "https://graph.microsoft.com/v1.0"
                    })))),
                    created_at: Set(created_at),
                    updated_at: Set(checked.unwrap_or(created_at).max(created_at)),
                });
            }
        }
        rows
    }

    pub(crate) fn permissions(&mut self) -> Vec<tenant_permission::ActiveModel> {
        let mut rows = Vec::new();
        for index in 0..self.tenants.len() {
            let tenant_id = self.tenants[index].id;
            for key in PERMISSIONS {
                let status = match self.rng.random_range(0..100) {
                    0..95 => PermissionStatus::Granted,
                    95..98 => PermissionStatus::Missing,
                    _ => PermissionStatus::Error,
                };
                let checked = match self.rng.random_range(0..100) {
                    0..2 => None,
                    2..5 => Some(self.anchor() - Duration::hours(self.rng.random_range(30..200))),
                    _ => Some(self.anchor() - Duration::minutes(self.rng.random_range(5..600))),
                };
                let created_at = self.within_days(365);
                rows.push(tenant_permission::ActiveModel {
                    id: Set(rows.len() as i64 + 1),
                    tenant_id: Set(tenant_id),
                    key: Set(key.to_owned()),
                    status: Set(status.as_stored().to_owned()),
                    details: Set(Some(Document::from(
                        json!({"source": "graph", "checkedScopes": 1}),
                    ))),
                    last_checked_at: Set(checked),
                    created_at: Set(created_at),
                    updated_at: Set(checked.unwrap_or(created_at).max(created_at)),
                });
            }
        }
        rows
    }

    /// Operators who appear in the generated audit trail. Their password hash is not a
    /// hash of anything, so nobody can log in as them.
    pub(crate) fn operators(&mut self) -> Vec<platform_user::ActiveModel> {
        OPERATORS
            .iter()
            .enumerate()
            .map(|(index, (name, email))| {
                let created_at = self.anchor() - Duration::days(200);
                platform_user::ActiveModel {
                    id: Set(index as i64 + 1),
                    name: Set((*name).to_owned()),
                    email: Set((*email).to_owned()),
                    password_hash: Set("!seeded: no password".to_owned()),
                    capabilities: Set(Some(Document::from(json!([
                        "console.view",
                        "audit.view",
                        "runs.triage"
                    ])))),
                    is_active: Set(true),
                    last_login_at: Set(Some(self.within_days(3))),
                    created_at: Set(created_at),
                    updated_at: Set(created_at),
                }
            })
            .collect()
    }

    /// The next `limit` runs, or `None` when all are made.
    pub(crate) fn next_runs(&mut self, limit: usize) -> Option<Vec<operation_run::ActiveModel>> {
        let remaining = self.plan.runs - self.runs_made;
        if remaining == 0 {
            return None;
        }
        let count = remaining.min(limit as u64);
        let batch = (0..count).map(|_| self.run()).collect();
        Some(batch)
    }

    fn run(&mut self) -> operation_run::ActiveModel {
        self.runs_made += 1;
        let id = self.runs_made as i64;
        let stuck_probability = (4.0 / self.plan.runs as f64).clamp(0.0005, 0.05);

        let (workspace_id, tenant_id, flaky) =
            if self.tenants.is_empty() || self.rng.random_bool(0.1) {
                (
                    self.rng.random_range(1..=i64::from(self.plan.workspaces)),
                    None,
                    false,
                )
            } else {
                let tenant = &self.tenants[self.rng.random_range(0..self.tenants.len())];
                (tenant.workspace_id, Some(tenant.id), tenant.flaky)
            };
        let members = &self.workspace_users[(workspace_id - 1) as usize];
        let (user_id, initiator) = if !members.is_empty() && self.rng.random_bool(0.6) {
            let user_id = members[self.rng.random_range(0..members.len())];
            let name = self.users[(user_id - 1) as usize].1.clone();
            (Some(user_id), name)
        } else {
            (
                None,
                (*self.pick(&["scheduler", "scheduler", "api", "webhook"])).to_owned(),
            )
        };
        let run_type = RUN_TYPES[self.run_types.sample(&mut self.rng)].0;

        let stuck = self.rng.random_bool(stuck_probability);
        let created_at = if stuck && self.rng.random_bool(0.5) {
            self.anchor() - Duration::minutes(self.rng.random_range(75..48 * 60))
        } else {
            self.within_days(HISTORY_DAYS)
        };
        let age = self.anchor() - created_at;
        let queue_delay = Duration::seconds(self.rng.random_range(1..90));
        let duration = Duration::seconds(self.rng.random_range(20..1_800));
        let (status, started_at, completed_at) = if stuck {
            if self.rng.random_bool(0.5) {
                (RunStatus::Queued, None, None)
            } else {
                (RunStatus::Running, Some(created_at + queue_delay), None)
            }
        } else if age < Duration::minutes(10) && self.rng.random_bool(0.8) {
            if self.rng.random_bool(0.4) || age < queue_delay {
                (RunStatus::Queued, None, None)
            } else {
                (RunStatus::Running, Some(created_at + queue_delay), None)
            }
        } else if age < Duration::hours(2)
            && age > queue_delay
            && created_at + queue_delay + duration > self.anchor()
        {
            (RunStatus::Running, Some(created_at + queue_delay), None)
        } else {
            let started = created_at + queue_delay;
            (
                RunStatus::Completed,
                Some(started),
                Some((started + duration).min(self.anchor())),
            )
        };
        let outcome = if status != RunStatus::Completed {
            RunOutcome::Pending
        } else {
            let failed_percent = if flaky { 35 } else { 7 };
            let roll = self.rng.random_range(0..100);
            if roll < failed_percent {
                RunOutcome::Failed
            } else if roll < failed_percent + 5 {
                RunOutcome::PartiallySucceeded
            } else if roll < failed_percent + 7 {
                RunOutcome::Canceled
            } else {
                RunOutcome::Succeeded
            }
        };

        let processed = self.rng.random_range(0..5_000);
        let failed_items = match outcome {
            RunOutcome::Failed => processed.max(1),
            RunOutcome::PartiallySucceeded => self.rng.random_range(1..50),
            _ => 0,
        };
        let summary = json!({
            "processed": processed,
            "created": self.rng.random_range(0..processed.max(1)),
            "updated": format!("{}", self.rng.random_range(0..processed.max(1))),
            "failed": failed_items,
            "durationMs": duration.num_milliseconds() as f64,
        });
        let failures = if matches!(outcome, RunOutcome::Failed | RunOutcome::PartiallySucceeded) {
            let count = self.rng.random_range(1..=3);
            let entries: Vec<_> = (0..count)
                .map(|_| {
                    let (code, reason, message) = *self.pick(&FAILURES);
                    json!({"code": code, "reason": reason, "message": message, "attempt": 3})
                })
                .collect();
            json!(entries)
        } else {
            json!([])
        };
        let request_id = self.uuid();
        let context = json!({
            "trigger": if user_id.is_some() { "manual" } else { "schedule" },
            "requestId": request_id,
            "options": {"fullSync": id % 10 == 0, "pageSize": 999},
            "accessToken": format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", self.hex(16)),
        });
        let updated_at = completed_at.or(started_at).unwrap_or(created_at);
        operation_run::ActiveModel {
            id: Set(id),
            workspace_id: Set(workspace_id),
            tenant_id: Set(tenant_id),
            user_id: Set(user_id),
            initiator_name: Set(Some(initiator)),
            r#type: Set(run_type.to_owned()),
            status: Set(status.as_stored().to_owned()),
            outcome: Set(outcome.as_stored().to_owned()),
            summary_counts: Set(Some(Document::from(summary))),
            failure_summary: Set(Some(Document::from(failures))),
            context: Set(Some(Document::from(context))),
            created_at: Set(created_at),
            started_at: Set(started_at),
            completed_at: Set(completed_at),
            updated_at: Set(updated_at),
        }
    }

    /// The next `limit` audit logs, or `None` when all are made.
    pub(crate) fn next_audit_logs(&mut self, limit: usize) -> Option<Vec<audit_log::ActiveModel>> {
        let remaining = self.plan.audit_logs - self.audit_logs_made;
        if remaining == 0 {
            return None;
        }
        let count = remaining.min(limit as u64);
        Some((0..count).map(|_| self.audit_log()).collect())
    }

    fn audit_log(&mut self) -> audit_log::ActiveModel {
        self.audit_logs_made += 1;
        let id = self.audit_logs_made as i64;
        let recorded_at = self.within_days(HISTORY_DAYS);
        let operator = self.rng.random_range(0..OPERATORS.len());
        let ip = format!(
            "10.{}.{}.{}",
            self.rng.random_range(0..255),
            self.rng.random_range(0..255),
            self.rng.random_range(1..255)
        );
        let by_operator = |action: AuditAction, status: AuditStatus, metadata| AuditEntry {
            workspace_id: None,
            tenant_id: None,
            actor_id: Some(operator as i64 + 1),
            actor_type: ActorType::PlatformUser,
            actor_name: Some(OPERATORS[operator].0.to_owned()),
            actor_email: Some(OPERATORS[operator].1.to_owned()),
            action: action.as_stored(),
            status,
            metadata,
        };
        let roll = self.rng.random_range(0..100);
        let entry = match roll {
            0..55 => by_operator(AuditAction::Login, AuditStatus::Success, json!({"ip": ip})),
            55..63 => by_operator(
                AuditAction::Login,
                AuditStatus::Failure,
                json!({"ip": ip, "reason": "invalid credentials"}),
            ),
            63..66 => AuditEntry {
                actor_id: None,
                actor_name: None,
                actor_email: Some(format!("{}@unknown.example", self.hex(6))),
                ..by_operator(
                    AuditAction::Login,
                    AuditStatus::Failure,
                    json!({"ip": ip, "reason": "invalid credentials"}),
                )
            },
            66..76 => by_operator(AuditAction::Logout, AuditStatus::Success, json!({"ip": ip})),
            76..78 => by_operator(
                AuditAction::BreakGlassEnter,
                AuditStatus::Success,
                json!({
                    "reason": "Investigating failed policy sync for a customer escalation",
                    "expiresAt": (recorded_at + Duration::minutes(30)).to_rfc3339(),
                }),
            ),
            78..79 => by_operator(AuditAction::BreakGlassExit, AuditStatus::Success, json!({})),
            79..80 => AuditEntry {
                actor_type: ActorType::System,
                actor_name: Some(ActorType::System.as_stored().to_owned()),
                actor_email: None,
                actor_id: None,
                ..by_operator(
                    AuditAction::BreakGlassExpired,
                    AuditStatus::Success,
                    json!({"operatorId": operator + 1}),
                )
            },
            80..86 if !self.tenants.is_empty() => {
                let tenant = &self.tenants[self.rng.random_range(0..self.tenants.len())];
                let (workspace_id, tenant_id) = (tenant.workspace_id, tenant.id);
                let run_id = self.rng.random_range(1..=self.plan.runs.max(1));
                AuditEntry {
                    workspace_id: Some(workspace_id),
                    tenant_id: Some(tenant_id),
                    ..by_operator(
                        AuditAction::RunInvestigated,
                        AuditStatus::Success,
                        json!({"runId": run_id, "note": "Throttling on the provider side; re-run scheduled"}),
                    )
                }
            }
            86.. if !self.tenants.is_empty() => {
                let tenant = &self.tenants[self.rng.random_range(0..self.tenants.len())];
                let (workspace_id, tenant_id) = (tenant.workspace_id, tenant.id);
                let members = &self.workspace_users[(workspace_id - 1) as usize];
                let user_id = members[self.rng.random_range(0..members.len())];
                let (_, name, email) = self.users[(user_id - 1) as usize].clone();
                let action = *self.pick(&[
                    "tenant.connection.consent_granted",
                    "tenant.permissions.checked",
                    "operation_run.started",
                    "tenant.settings.updated",
                ]);
                AuditEntry {
                    workspace_id: Some(workspace_id),
                    tenant_id: Some(tenant_id),
                    actor_id: Some(user_id),
                    actor_type: ActorType::User,
                    actor_name: Some(name),
                    actor_email: Some(email),
                    action,
                    status: AuditStatus::Success,
                    metadata: json!({"session": self.hex(16), "source": "portal"}),
                }
            }
            _ => by_operator(AuditAction::Login, AuditStatus::Success, json!({"ip": ip})),
        };
        audit_log::ActiveModel {
            id: Set(id),
            workspace_id: Set(entry.workspace_id),
            tenant_id: Set(entry.tenant_id),
            actor_id: Set(entry.actor_id),
            actor_type: Set(entry.actor_type.as_stored().to_owned()),
            actor_name: Set(entry.actor_name),
            actor_email: Set(entry.actor_email),
            action: Set(entry.action.to_owned()),
            status: Set(entry.status.as_stored().to_owned()),
            metadata: Set(Some(Document::from(entry.metadata))),
            recorded_at: Set(recorded_at),
            created_at: Set(recorded_at),
        }
    }
}

struct AuditEntry {
    workspace_id: Option<i64>,
    tenant_id: Option<i64>,
    actor_id: Option<i64>,
    actor_type: ActorType,
    actor_name: Option<String>,
    actor_email: Option<String>,
    action: &'static str,
    status: AuditStatus,
    metadata: serde_json::Value,
}

/// A name as an e-mail local part: ASCII letters only.
fn ascii(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'é' | 'è' => Some('e'),
            'í' => Some('i'),
            c if c.is_ascii_alphabetic() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}
