//! The hand-built estate of the derived-value tests: every number it produces is known in
//! advance (see the comments), runs sit just inside and just outside each window and at
//! each stuck boundary, and tenants hit every row of the health table. Requests happen at
//! [`T`], to the second.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::audit_log;
use sea_orm::ActiveValue::Set;
use sea_orm::DatabaseConnection;

use crate::fixtures::*;

/// The moment every request of these tests happens.
pub fn t() -> DateTime<Utc> {
    "2026-11-27T12:00:00Z".parse().unwrap()
}

fn ago(duration: Duration) -> DateTime<Utc> {
    t() - duration
}

fn m(minutes: i64) -> Duration {
    Duration::minutes(minutes)
}

fn h(hours: i64) -> Duration {
    Duration::hours(hours)
}

fn s(seconds: i64) -> Duration {
    Duration::seconds(seconds)
}

fn d(days: i64) -> Duration {
    Duration::days(days)
}

/// A run of the estate: name, workspace, tenant, type, status, outcome, how long ago it
/// was created and started.
type RunRow = (
    &'static str,
    i64,
    Option<i64>,
    &'static str,
    &'static str,
    &'static str,
    Duration,
    Option<Duration>,
);

/// Ids of what the estate holds, by name.
pub struct Estate {
    pub workspaces: HashMap<&'static str, i64>,
    pub tenants: HashMap<&'static str, i64>,
    pub runs: HashMap<&'static str, i64>,
}

/// How a tenant's connection and permissions look.
#[derive(Clone, Copy)]
enum Setup {
    Fine,
    NoConnection,
    Connection(&'static str, &'static str, Option<i64>),
    NoPermissions,
    Permission(&'static str, Option<i64>),
    Missing,
}

pub async fn build(db: &DatabaseConnection) -> Estate {
    let mut estate = Estate {
        workspaces: HashMap::new(),
        tenants: HashMap::new(),
        runs: HashMap::new(),
    };
    for name in ["Alpha", "Beta", "Gamma", "Delta"] {
        estate.workspaces.insert(name, workspace(db, name).await.id);
    }
    let alpha = estate.workspaces["Alpha"];
    let beta = estate.workspaces["Beta"];
    let delta = estate.workspaces["Delta"];

    // (name, workspace, status, setup) — the level each reaches in 24 h is in the tests.
    #[rustfmt::skip]
    let tenants: [(&'static str, i64, &str, Setup); 20] = [
        ("A Healthy", alpha, "active", Setup::Fine),
        ("B Onboarding", alpha, "onboarding", Setup::Fine),
        ("C Archived", delta, "archived", Setup::Fine),
        ("D No connection", alpha, "active", Setup::NoConnection),
        ("E Connection error", alpha, "active", Setup::Connection("error", "down", Some(1))),
        ("F Needs consent", alpha, "active", Setup::Connection("needs_consent", "unknown", Some(1))),
        ("G Degraded", alpha, "active", Setup::Connection("connected", "degraded", Some(1))),
        ("H Down", alpha, "active", Setup::Connection("connected", "down", Some(1))),
        ("I Unknown health", alpha, "active", Setup::Connection("connected", "unknown", Some(1))),
        ("J Never checked", alpha, "active", Setup::Connection("connected", "ok", None)),
        ("K Stale", alpha, "active", Setup::Connection("connected", "ok", Some(25))),
        ("L No permissions", alpha, "active", Setup::NoPermissions),
        ("M Missing", alpha, "active", Setup::Missing),
        ("N Permission error", alpha, "active", Setup::Permission("error", Some(1))),
        ("O Permission stale", alpha, "active", Setup::Permission("granted", Some(30))),
        ("P Stuck", alpha, "active", Setup::Fine),
        ("Q Five failures", alpha, "active", Setup::Fine),
        ("R One failure", alpha, "active", Setup::Fine),
        ("S Beta ok", beta, "active", Setup::Fine),
        ("T Beta archived", beta, "archived", Setup::Fine),
    ];
    for (name, workspace_id, status, setup) in tenants {
        let tenant = tenant_with(db, workspace_id, name, |row| {
            row.status = Set(status.to_owned());
            row.created_at = Set(ago(Duration::days(90)));
        })
        .await;
        estate.tenants.insert(name, tenant.id);
        // Connections: one healthy microsoft connection unless the setup says otherwise;
        // the tenant without one still has a disabled connection, which does not count.
        let (status, health, checked_hours) = match setup {
            Setup::Connection(status, health, checked) => (status, health, checked),
            Setup::NoConnection => ("disabled", "ok", Some(1)),
            _ => ("connected", "ok", Some(1)),
        };
        connection_with(db, tenant.id, |row| {
            row.status = Set(status.to_owned());
            row.health_status = Set(health.to_owned());
            row.last_health_check_at = Set(checked_hours.map(|hours| ago(h(hours))));
        })
        .await;
        // Permissions: Directory.Read.All granted and fresh, unless the setup says otherwise.
        match setup {
            Setup::NoPermissions => {}
            Setup::Missing => {
                for (key, status) in [
                    ("DeviceManagementConfiguration.Read.All", "missing"),
                    ("Directory.Read.All", "granted"),
                    ("Policy.Read.All", "missing"),
                ] {
                    permission_with(db, tenant.id, key, |row| {
                        row.status = Set(status.to_owned());
                        row.last_checked_at = Set(Some(ago(h(1))));
                    })
                    .await;
                }
            }
            Setup::Permission(status, checked_hours) => {
                permission_with(db, tenant.id, "Directory.Read.All", |row| {
                    row.status = Set(status.to_owned());
                    row.last_checked_at = Set(checked_hours.map(|hours| ago(h(hours))));
                })
                .await;
            }
            _ => {
                permission_with(db, tenant.id, "Directory.Read.All", |row| {
                    row.last_checked_at = Set(Some(ago(h(1))));
                })
                .await;
            }
        }
    }

    let tenant = |name: &str| Some(estate.tenants[name]);
    // (name, workspace, tenant, type, status, outcome, created ago, started ago)
    // Completed runs finish one minute after they start, never after T.
    #[rustfmt::skip]
    let runs: Vec<RunRow> = vec![
        ("r1", alpha, tenant("A Healthy"), "inventory.sync", "completed", "succeeded", m(10), Some(m(9))),
        ("r2", alpha, tenant("A Healthy"), "inventory.sync", "completed", "succeeded", h(2), Some(h(2) - s(30))),
        ("r3", alpha, tenant("R One failure"), "policy.sync", "completed", "failed", h(3), Some(h(3) - s(30))),
        ("r4", alpha, tenant("R One failure"), "policy.sync", "completed", "failed", h(48), Some(h(48) - s(30))),
        ("r5", alpha, tenant("Q Five failures"), "inventory.sync", "completed", "failed", h(1), Some(h(1) - s(30))),
        ("r6", alpha, tenant("Q Five failures"), "inventory.sync", "completed", "failed", m(30), Some(m(29))),
        ("r7", alpha, tenant("Q Five failures"), "inventory.sync", "completed", "failed", h(5), Some(h(5) - s(30))),
        ("r8", alpha, tenant("Q Five failures"), "inventory.sync", "completed", "failed", h(12), Some(h(12) - s(30))),
        ("r9", alpha, tenant("Q Five failures"), "inventory.sync", "completed", "failed", h(24), Some(h(24) - s(30))),
        ("r10", alpha, tenant("Q Five failures"), "inventory.sync", "completed", "failed", h(24) + s(1), Some(h(24) - s(30))),
        // The stuck boundaries: queued 15 minutes, running 60 minutes.
        ("r11", alpha, tenant("P Stuck"), "compliance.scan", "queued", "pending", m(15), None),
        ("r12", alpha, tenant("P Stuck"), "compliance.scan", "queued", "pending", m(15) - s(1), None),
        ("r13", alpha, tenant("P Stuck"), "compliance.scan", "queued", "pending", m(15) + s(1), None),
        ("r14", alpha, tenant("P Stuck"), "compliance.scan", "running", "pending", m(61), Some(m(60))),
        ("r15", alpha, tenant("P Stuck"), "compliance.scan", "running", "pending", m(61), Some(m(60) - s(1))),
        ("r16", alpha, tenant("P Stuck"), "compliance.scan", "running", "pending", m(62), Some(m(60) + s(1))),
        ("r17", alpha, tenant("P Stuck"), "compliance.scan", "queued", "pending", h(3), Some(h(2))),
        ("r18", alpha, tenant("P Stuck"), "compliance.scan", "running", "pending", h(3), None),
        ("r19", alpha, None, "report.export", "completed", "failed", m(30), Some(m(29))),
        ("r20", alpha, None, "report.export", "completed", "canceled", h(6), Some(h(6) - s(30))),
        ("r21", beta, tenant("S Beta ok"), "backup.snapshot", "completed", "partially_succeeded", h(1) + s(1), Some(h(1))),
        ("r22", beta, tenant("S Beta ok"), "backup.snapshot", "completed", "succeeded", d(7), Some(d(7) - s(30))),
        ("r23", beta, tenant("S Beta ok"), "backup.snapshot", "completed", "succeeded", d(7) + s(1), Some(d(7) - s(30))),
        ("r24", beta, tenant("S Beta ok"), "backup.snapshot", "running", "pending", d(10), Some(d(10))),
        ("r25", alpha, tenant("A Healthy"), "inventory.sync", "completed", "skipped", m(20), Some(m(19))),
        ("r26", alpha, tenant("G Degraded"), "policy.sync", "completed", "failed", h(4), Some(h(4) - s(30))),
    ];
    for (name, workspace_id, tenant_id, kind, status, outcome, created, started) in runs {
        let started_at = started.map(ago);
        let completed_at = (status == "completed")
            .then(|| started_at.map(|at| (at + m(1)).min(t())))
            .flatten();
        let run = run_with(db, workspace_id, tenant_id, |row| {
            row.r#type = Set(kind.to_owned());
            row.status = Set(status.to_owned());
            row.outcome = Set(outcome.to_owned());
            row.created_at = Set(ago(created));
            row.started_at = Set(started_at);
            row.completed_at = Set(completed_at);
            row.updated_at = Set(completed_at.or(started_at).unwrap_or(ago(created)));
        })
        .await;
        estate.runs.insert(name, run.id);
    }

    // The access trail: logins, a logout and break-glass.
    for (action, status, when) in [
        ("platform.auth.login", "success", m(10)),
        ("platform.auth.login", "success", h(2)),
        ("platform.auth.login", "success", h(23)),
        ("platform.auth.login", "success", h(25)),
        ("platform.auth.login", "failure", m(30)),
        ("platform.auth.login", "failure", h(5)),
        ("platform.auth.logout", "success", m(5)),
        ("platform.break_glass.enter", "success", m(45)),
        ("platform.break_glass.enter", "failure", m(50)),
    ] {
        audit_log_with(db, action, |row: &mut audit_log::ActiveModel| {
            row.status = Set(status.to_owned());
            row.actor_type = Set("platform_user".to_owned());
            row.recorded_at = Set(ago(when));
        })
        .await;
    }
    estate
}
