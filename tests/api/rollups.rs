//! The run roll-ups never change an answer (issues #13, #26): after random inserts, status
//! changes and deletes, through the entities and by plain SQL from outside the service
//! (old hours, moves across hours, windows, tenants and types), every Control Tower field and every `runStats`, in every window,
//! equal the direct computation — here, from the rows themselves, in this test's own
//! code — before the roll-ups are refreshed (dirty hours are read from the rows) and
//! after.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use control_tower::db::{Db, rollup};
use entity::operation_run;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
use crate::fixtures::{insert_all, run_row, tenants_with_children, workspace};

const WINDOWS: [(&str, i64); 3] = [("LAST_1H", 1), ("LAST_24H", 24), ("LAST_7D", 168)];
const TYPES: [&str; 3] = ["inventory.sync", "policy.apply", "report.export"];
/// The thresholds the test server judges by.
#[derive(Clone, Copy, Debug)]
struct Rules {
    queued_minutes: i64,
    running_minutes: i64,
    failed_runs_critical: u64,
}

/// SPEC §3's defaults.
const DEFAULTS: Rules = Rules {
    queued_minutes: 15,
    running_minutes: 60,
    failed_runs_critical: 5,
};

/// Nothing stuck (the runs are at most nine days old) and a lower bar for critical:
/// the tenants' health then follows their failures alone, where the random runs, a
/// third of them unfinished, make nearly every tenant critical by its stuck runs.
const FAILURES_ONLY: Rules = Rules {
    queued_minutes: 30 * 24 * 60,
    running_minutes: 30 * 24 * 60,
    failed_runs_critical: 3,
};

#[derive(Clone, Copy, Default, Debug, PartialEq)]
struct Tally {
    total: u64,
    queued: u64,
    running: u64,
    completed: u64,
    succeeded: u64,
    partially_succeeded: u64,
    failed: u64,
    canceled: u64,
    stuck: u64,
}

impl Tally {
    fn add(&mut self, run: &operation_run::Model, now: DateTime<Utc>, rules: Rules) {
        self.total += 1;
        match run.status.as_str() {
            "queued" => self.queued += 1,
            "running" => self.running += 1,
            "completed" => self.completed += 1,
            _ => {}
        }
        match run.outcome.as_str() {
            "succeeded" => self.succeeded += 1,
            "partially_succeeded" => self.partially_succeeded += 1,
            "failed" => self.failed += 1,
            "canceled" => self.canceled += 1,
            _ => {}
        }
        self.stuck += u64::from(stuck(run, now, rules));
    }

    fn json(&self) -> Value {
        let rate = (self.completed > 0).then(|| self.failed as f64 / self.completed as f64);
        json!({
            "total": self.total, "queued": self.queued, "running": self.running,
            "completed": self.completed, "succeeded": self.succeeded,
            "partiallySucceeded": self.partially_succeeded, "failed": self.failed,
            "canceled": self.canceled, "stuck": self.stuck, "failureRate": rate,
        })
    }
}

/// `value` with its `failureRate` rounded to 1e-12: the rate is computed with a last
/// digit of its own, and the counts it comes from are compared exactly.
fn rounded(value: &Value) -> Value {
    let mut value = value.clone();
    if let Some(rate) = value["failureRate"].as_f64() {
        value["failureRate"] = json!((rate * 1e12).round() / 1e12);
    }
    value
}

const STATS: &str =
    "total queued running completed succeeded partiallySucceeded failed canceled stuck failureRate";

fn stuck(run: &operation_run::Model, now: DateTime<Utc>, rules: Rules) -> bool {
    match (run.status.as_str(), run.started_at) {
        ("queued", None) => run.created_at <= now - Duration::minutes(rules.queued_minutes),
        ("running", Some(started)) => started <= now - Duration::minutes(rules.running_minutes),
        _ => false,
    }
}

/// The world the test changes: its tenants (id → workspace, name) and workspaces.
struct World {
    now: DateTime<Utc>,
    rules: Rules,
    tenants: BTreeMap<i64, (i64, String)>,
    workspaces: BTreeMap<i64, String>,
}

/// A random run of the last nine days (some exactly on a window's start or an hour).
fn random_run(rng: &mut ChaCha8Rng, world: &World) -> operation_run::ActiveModel {
    let now = world.now;
    let tenants: Vec<(&i64, &(i64, String))> = world.tenants.iter().collect();
    let (tenant_id, workspace_id) = if rng.random_bool(0.15) {
        let workspaces: Vec<&i64> = world.workspaces.keys().collect();
        (None, *workspaces[rng.random_range(0..workspaces.len())])
    } else {
        let (id, (workspace, _)) = tenants[rng.random_range(0..tenants.len())];
        (Some(*id), *workspace)
    };
    let created_at = match rng.random_range(0..10) {
        0 => now - Duration::hours(WINDOWS[rng.random_range(0..3)].1),
        1 => {
            let hour = now.timestamp() / 3600 - rng.random_range(0..200);
            DateTime::from_timestamp(hour * 3600, 0).unwrap()
        }
        2 => now - Duration::seconds(rng.random_range(0..7_200)),
        _ => now - Duration::seconds(rng.random_range(0..9 * 86_400)),
    };
    let (status, outcome, started_at) = match rng.random_range(0..6) {
        0 => ("queued", "pending", None),
        1 => (
            "running",
            "pending",
            Some(created_at + Duration::seconds(rng.random_range(0..5_000))),
        ),
        _ => {
            let outcome =
                ["succeeded", "failed", "partially_succeeded", "canceled"][rng.random_range(0..4)];
            (
                "completed",
                outcome,
                Some(created_at + Duration::seconds(30)),
            )
        }
    };
    let kind = TYPES[rng.random_range(0..TYPES.len())];
    run_row(workspace_id, tenant_id, |row| {
        row.r#type = Set(kind.to_owned());
        row.status = Set(status.to_owned());
        row.outcome = Set(outcome.to_owned());
        row.created_at = Set(created_at);
        row.started_at = Set(started_at);
        row.completed_at = Set(None);
        row.updated_at = Set(created_at);
    })
}

/// One random change: inserts, status changes (long after creation too) or deletes.
async fn change(app: &TestApp, rng: &mut ChaCha8Rng, world: &World) -> String {
    let runs = operation_run::Entity::find().all(&app.db).await.unwrap();
    match rng.random_range(0..4) {
        0 | 1 => {
            let count = rng.random_range(1..40);
            let rows = (0..count).map(|_| random_run(rng, world)).collect();
            insert_all(&app.db, rows).await;
            format!("inserted {count} runs")
        }
        2 => {
            let count = rng.random_range(1..10).min(runs.len());
            for _ in 0..count {
                let run = &runs[rng.random_range(0..runs.len())];
                let mut row = run.clone().into_active_model();
                match run.status.as_str() {
                    "queued" => {
                        row.status = Set("running".to_owned());
                        row.started_at = Set(Some(run.created_at + Duration::minutes(1)));
                    }
                    "running" => {
                        row.status = Set("completed".to_owned());
                        row.outcome = Set("failed".to_owned());
                    }
                    _ => {
                        let flip = if run.outcome == "failed" {
                            "succeeded"
                        } else {
                            "failed"
                        };
                        row.outcome = Set(flip.to_owned());
                    }
                }
                row.updated_at = Set(world.now);
                row.update(&app.db).await.unwrap();
            }
            format!("changed {count} runs")
        }
        _ => {
            let count = rng.random_range(1..8).min(runs.len());
            let ids: Vec<i64> = (0..count)
                .map(|_| runs[rng.random_range(0..runs.len())].id)
                .collect();
            operation_run::Entity::delete_many()
                .filter(operation_run::Column::Id.is_in(ids))
                .exec(&app.db)
                .await
                .unwrap();
            format!("deleted up to {count} runs")
        }
    }
}

/// A timestamp as SQL text, in the one format the service writes (SPEC §2), which
/// PostgreSQL reads as a `timestamptz` too.
fn literal(at: DateTime<Utc>) -> String {
    format!("'{}'", at.format("%Y-%m-%dT%H:%M:%S+00:00"))
}

/// One random change by plain SQL, as another application would write it: inserts into
/// old hours, moves across hours and windows, tenants and types, status changes and
/// deletes.
async fn outside_change(app: &TestApp, rng: &mut ChaCha8Rng, world: &World) -> String {
    let runs = operation_run::Entity::find().all(&app.db).await.unwrap();
    let pick = |rng: &mut ChaCha8Rng| runs[rng.random_range(0..runs.len())].id;
    let tenants: Vec<(&i64, &(i64, String))> = world.tenants.iter().collect();
    let mut statements = Vec::new();
    let what = match rng.random_range(0..6) {
        0 => {
            for _ in 0..rng.random_range(1..20) {
                // An old hour, on the hour or inside it.
                let hour = world.now.timestamp() / 3600 - rng.random_range(1..200);
                let created = DateTime::from_timestamp(
                    hour * 3600 + rng.random_range(0..2) * rng.random_range(0..3600),
                    0,
                )
                .unwrap();
                let (tenant, (workspace, _)) = tenants[rng.random_range(0..tenants.len())];
                let (status, outcome, started) = match rng.random_range(0..4) {
                    0 => ("queued", "pending", "NULL".to_owned()),
                    1 => (
                        "running",
                        "pending",
                        literal(created + Duration::minutes(rng.random_range(0..120))),
                    ),
                    2 => ("completed", "failed", literal(created)),
                    _ => ("completed", "succeeded", literal(created)),
                };
                statements.push(format!(
                    "INSERT INTO operation_runs (workspace_id, tenant_id, type, status, outcome, summary_counts, \
                     failure_summary, context, created_at, started_at, updated_at) VALUES ({workspace}, {tenant}, \
                     '{kind}', '{status}', '{outcome}', '{{}}', '[]', '{{}}', {created}, {started}, {created})",
                    kind = TYPES[rng.random_range(0..TYPES.len())],
                    created = literal(created),
                ));
            }
            "inserted runs into old hours"
        }
        1 => {
            for _ in 0..rng.random_range(1..6) {
                let created = world.now - Duration::seconds(rng.random_range(0..9 * 86_400));
                statements.push(format!(
                    "UPDATE operation_runs SET created_at = {} WHERE id = {}",
                    literal(created),
                    pick(rng)
                ));
            }
            "moved runs across hours and windows"
        }
        2 => {
            for _ in 0..rng.random_range(1..6) {
                let (tenant, (workspace, _)) = tenants[rng.random_range(0..tenants.len())];
                let tenant = if rng.random_bool(0.2) {
                    "NULL".to_owned()
                } else {
                    tenant.to_string()
                };
                statements.push(format!(
                    "UPDATE operation_runs SET tenant_id = {tenant}, workspace_id = {workspace}, type = '{}' WHERE id = {}",
                    TYPES[rng.random_range(0..TYPES.len())],
                    pick(rng)
                ));
            }
            "moved runs across tenants, workspaces and types"
        }
        3 => {
            let ids: Vec<String> = (0..rng.random_range(1..12))
                .map(|_| pick(rng).to_string())
                .collect();
            let set = match rng.random_range(0..3) {
                0 => "status = 'completed', outcome = 'failed'".to_owned(),
                1 => "status = 'queued', outcome = 'pending', started_at = NULL".to_owned(),
                _ => format!(
                    "status = 'running', outcome = 'pending', started_at = {}",
                    literal(world.now - Duration::minutes(world.rules.running_minutes))
                ),
            };
            statements.push(format!(
                "UPDATE operation_runs SET {set} WHERE id IN ({})",
                ids.join(", ")
            ));
            "changed statuses"
        }
        4 => {
            // Every run of one hour moves to another hour.
            let from = world.now.timestamp() / 3600 - rng.random_range(0..170);
            let to = world.now.timestamp() / 3600 - rng.random_range(0..170);
            for run in runs
                .iter()
                .filter(|run| run.created_at.timestamp() / 3600 == from)
            {
                let moved =
                    DateTime::from_timestamp(to * 3600 + run.created_at.timestamp() % 3600, 0)
                        .unwrap();
                statements.push(format!(
                    "UPDATE operation_runs SET created_at = {} WHERE id = {}",
                    literal(moved),
                    run.id
                ));
            }
            "moved a whole hour"
        }
        _ => {
            let ids: Vec<String> = (0..rng.random_range(1..10))
                .map(|_| pick(rng).to_string())
                .collect();
            statements.push(format!(
                "DELETE FROM operation_runs WHERE id IN ({})",
                ids.join(", ")
            ));
            "deleted runs"
        }
    };
    for statement in &statements {
        app.db.execute_unprepared(statement).await.unwrap();
    }
    format!("{what} by plain SQL ({} statements)", statements.len())
}

/// Every Control Tower field and every `runStats`, from the service, against the rows.
async fn compare(app: &TestApp, world: &World, step: &str) {
    let now = world.now;
    let runs = operation_run::Entity::find().all(&app.db).await.unwrap();
    let rules = world.rules;
    let stuck_total = runs.iter().filter(|run| stuck(run, now, rules)).count();
    for (window, hours) in WINDOWS {
        let start = now - Duration::hours(hours);
        let within: Vec<&operation_run::Model> = runs
            .iter()
            .filter(|run| run.created_at >= start && run.created_at <= now)
            .collect();
        let mut all = Tally::default();
        let mut types: BTreeMap<String, Tally> = BTreeMap::new();
        let mut tenants: HashMap<i64, Tally> = HashMap::new();
        let mut workspaces: HashMap<i64, Tally> = HashMap::new();
        for run in &within {
            all.add(run, now, rules);
            types
                .entry(run.r#type.clone())
                .or_default()
                .add(run, now, rules);
            if let Some(tenant) = run.tenant_id {
                tenants.entry(tenant).or_default().add(run, now, rules);
            }
            workspaces
                .entry(run.workspace_id)
                .or_default()
                .add(run, now, rules);
        }
        let mut by_type: Vec<(String, Tally)> = types.into_iter().collect();
        by_type.sort_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.cmp(&b.0)));
        let top = |tallies: &HashMap<i64, Tally>, names: &BTreeMap<i64, String>| -> Vec<Value> {
            let mut failing: Vec<(&String, &Tally)> = tallies
                .iter()
                .filter(|(_, tally)| tally.failed > 0)
                .map(|(id, tally)| (&names[id], tally))
                .collect();
            failing.sort_by(|a, b| b.1.failed.cmp(&a.1.failed).then_with(|| a.0.cmp(b.0)));
            failing
                .into_iter()
                .map(|(name, tally)| json!({"name": name, "failed": tally.failed, "total": tally.total}))
                .collect()
        };
        let tenant_names: BTreeMap<i64, String> = world
            .tenants
            .iter()
            .map(|(id, (_, name))| (*id, name.clone()))
            .collect();
        let mut health = [0u64; 4];
        for id in world.tenants.keys() {
            let tally = tenants.get(id).copied().unwrap_or_default();
            // Every tenant is active with a healthy connection and permission: its runs decide.
            let level = if tally.stuck > 0 || tally.failed >= rules.failed_runs_critical {
                3
            } else if tally.failed >= 1 {
                2
            } else {
                0
            };
            health[level] += 1;
        }

        let data = app
            .data(
                &format!(
                    "{{ controlTower(window: {window}) {{ runs {{ {STATS} }} stuckTotal
                        byType {{ type total failed stuck }}
                        topFailingTenants(limit: 100) {{ tenant {{ name }} failed total }}
                        topFailingWorkspaces(limit: 100) {{ workspace {{ name }} failed total }}
                        tenantHealth {{ healthy unknown warning critical }} }}
                      tenants(first: 100) {{ nodes {{ databaseId runStats(window: {window}) {{ {STATS} }} }} }}
                      workspaces(first: 100) {{ nodes {{ databaseId runStats(window: {window}) {{ {STATS} }} }} }} }}"
                ),
                json!({}),
            )
            .await;
        let tower = &data["controlTower"];
        let context = format!("{window} after {step}");
        assert_eq!(
            rounded(&tower["runs"]),
            rounded(&all.json()),
            "runs, {context}"
        );
        assert_eq!(
            tower["stuckTotal"],
            json!(stuck_total),
            "stuckTotal, {context}"
        );
        let expected_types: Vec<Value> = by_type
            .iter()
            .map(|(kind, tally)| json!({"type": kind, "total": tally.total, "failed": tally.failed, "stuck": tally.stuck}))
            .collect();
        assert_eq!(tower["byType"], json!(expected_types), "byType, {context}");
        let named = |key: &str, list: &Value| -> Vec<Value> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|entry| json!({"name": entry[key]["name"], "failed": entry["failed"], "total": entry["total"]}))
                .collect()
        };
        assert_eq!(
            named("tenant", &tower["topFailingTenants"]),
            top(&tenants, &tenant_names),
            "topFailingTenants, {context}"
        );
        assert_eq!(
            named("workspace", &tower["topFailingWorkspaces"]),
            top(&workspaces, &world.workspaces),
            "topFailingWorkspaces, {context}"
        );
        assert_eq!(
            tower["tenantHealth"],
            json!({"healthy": health[0], "unknown": health[1], "warning": health[2], "critical": health[3]}),
            "tenantHealth, {context}"
        );
        for (list, tallies) in [("tenants", &tenants), ("workspaces", &workspaces)] {
            for node in data[list]["nodes"].as_array().unwrap() {
                let id = node["databaseId"].as_i64().unwrap();
                let expected = tallies.get(&id).copied().unwrap_or_default();
                assert_eq!(
                    rounded(&node["runStats"]),
                    rounded(&expected.json()),
                    "{list} {id} runStats, {context}"
                );
            }
        }
    }
}

async fn random_changes_never_change_an_answer(backend: Backend, rules: Rules) {
    let now: DateTime<Utc> = Utc::now().trunc_subsecs(0);
    let app = TestApp::spawn_at_with(backend, now, |config| {
        // Every request computes its Control Tower: no shared snapshot.
        config.system_console.cache.control_tower_seconds = 0;
        let minutes = |value: i64| u32::try_from(value).unwrap();
        config.system_console.stuck_thresholds.queued_minutes = minutes(rules.queued_minutes);
        config.system_console.stuck_thresholds.running_minutes = minutes(rules.running_minutes);
        config.system_console.health.failed_runs_critical =
            u32::try_from(rules.failed_runs_critical).unwrap();
    })
    .await;
    let mut world = World {
        now,
        rules,
        tenants: BTreeMap::new(),
        workspaces: BTreeMap::new(),
    };
    for name in ["North", "South", "East"] {
        let group = workspace(&app.db, name).await;
        world.workspaces.insert(group.id, group.name.clone());
        let ids = tenants_with_children(&app.db, group.id, name, 4, 1, 1).await;
        for (index, id) in ids.into_iter().enumerate() {
            world
                .tenants
                .insert(id, (group.id, format!("{name} {index:03}")));
        }
    }
    let db = Db::new(app.db.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let rows = (0..300).map(|_| random_run(&mut rng, &world)).collect();
    insert_all(&app.db, rows).await;
    compare(&app, &world, "the first runs, nothing refreshed").await;
    assert!(
        rollup::refresh(&db).await.unwrap() > 0,
        "the first refresh builds roll-ups"
    );
    compare(&app, &world, "the first refresh").await;
    for step in 0..24 {
        let what = if step % 2 == 0 {
            change(&app, &mut rng, &world).await
        } else {
            outside_change(&app, &mut rng, &world).await
        };
        compare(&app, &world, &format!("step {step}: {what}")).await;
        if step % 3 != 0 {
            rollup::refresh(&db).await.unwrap();
            compare(&app, &world, &format!("step {step}: {what}, refreshed")).await;
        }
    }
    let what = change(&app, &mut rng, &world).await;
    assert!(
        rollup::refresh(&db).await.unwrap() > 0,
        "{what} leaves hours to refresh"
    );
    assert_eq!(
        rollup::refresh(&db).await.unwrap(),
        0,
        "a refresh leaves nothing dirty"
    );
    compare(&app, &world, "the last refresh").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_changes_never_change_an_answer_on_sqlite() {
    random_changes_never_change_an_answer(Backend::Sqlite, DEFAULTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn random_changes_never_change_an_answer_on_postgres() {
    random_changes_never_change_an_answer(Backend::Postgres, DEFAULTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_changes_never_change_the_tenants_failures_on_sqlite() {
    random_changes_never_change_an_answer(Backend::Sqlite, FAILURES_ONLY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn random_changes_never_change_the_tenants_failures_on_postgres() {
    random_changes_never_change_an_answer(Backend::Postgres, FAILURES_ONLY).await;
}
