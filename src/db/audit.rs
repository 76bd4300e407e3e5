//! Audit logs: their filter and order.

use entity::audit_log;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, Statement};

use super::filter::stored_in;
use super::page::{KeyKind, KeyValue, SortColumn, SortSpec};
use crate::domain::audit::AuditAction;
use crate::domain::status::{ActorType, AuditStatus, StoredSelection};
use crate::domain::window::TimeRange;

/// What a list of audit logs is narrowed to. Every part is optional; parts combine with
/// AND.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct AuditFilter {
    /// Logs recorded within the range, ends included.
    pub(crate) recorded: Option<TimeRange>,
    pub(crate) workspace_id: Option<i64>,
    pub(crate) tenant_id: Option<i64>,
    /// Exact actions, e.g. `platform.auth.login`.
    pub(crate) actions: Option<Vec<String>>,
    pub(crate) actor_id: Option<i64>,
    pub(crate) status: Option<StoredSelection>,
}

impl AuditFilter {
    /// The filter as SQL.
    pub(crate) fn condition(&self) -> Condition {
        let mut all = Condition::all();
        if let Some(range) = self.recorded {
            all = all
                .add(audit_log::Column::RecordedAt.gte(range.start))
                .add(audit_log::Column::RecordedAt.lte(range.end));
        }
        if let Some(workspace_id) = self.workspace_id {
            all = all.add(audit_log::Column::WorkspaceId.eq(workspace_id));
        }
        if let Some(tenant_id) = self.tenant_id {
            all = all.add(audit_log::Column::TenantId.eq(tenant_id));
        }
        if let Some(actions) = &self.actions {
            all = all.add(audit_log::Column::Action.is_in(actions.iter().cloned()));
        }
        if let Some(actor_id) = self.actor_id {
            all = all.add(audit_log::Column::ActorId.eq(actor_id));
        }
        if let Some(status) = &self.status {
            all = all.add(stored_in(audit_log::Column::Status.into_expr(), status));
        }
        all
    }
}

/// Newest first, then by id.
pub(crate) fn sort_spec() -> SortSpec {
    SortSpec {
        tag: "audit:recorded_at:desc".to_owned(),
        columns: vec![
            SortColumn::required(audit_log::Column::RecordedAt.into_expr(), KeyKind::Time),
            SortColumn::required(audit_log::Column::Id.into_expr(), KeyKind::Int),
        ],
        descending: true,
    }
}

/// A log's position in [`sort_spec`].
pub(crate) fn sort_key(model: &audit_log::Model) -> Vec<KeyValue> {
    vec![KeyValue::Time(model.recorded_at), KeyValue::Int(model.id)]
}

/// A new entry of the audit trail. Its metadata must already be free of secrets: the
/// writers put in only ids, reasons, notes and network addresses.
#[derive(Clone, Debug)]
pub(crate) struct NewAuditEntry {
    pub(crate) action: AuditAction,
    pub(crate) success: bool,
    pub(crate) actor: Actor,
    pub(crate) workspace_id: Option<i64>,
    pub(crate) tenant_id: Option<i64>,
    pub(crate) metadata: serde_json::Value,
}

/// Who acted.
#[derive(Clone, Debug)]
pub(crate) enum Actor {
    /// An operator of this console, as far as known (a failed login may name an e-mail
    /// that has no operator).
    Operator {
        id: Option<i64>,
        name: Option<String>,
        email: Option<String>,
    },
    /// The service itself (expiry sweeps, the command line).
    System,
}

/// Appends `entry` to the audit trail, recorded at `now`.
pub(crate) async fn record(
    db: &impl sea_orm::ConnectionTrait,
    entry: NewAuditEntry,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<audit_log::Model, sea_orm::DbErr> {
    use sea_orm::ActiveModelTrait;
    use sea_orm::ActiveValue::Set;
    let (actor_type, actor_id, actor_name, actor_email) = match entry.actor {
        Actor::Operator { id, name, email } => (ActorType::PlatformUser, id, name, email),
        Actor::System => (
            ActorType::System,
            None,
            Some(ActorType::System.as_stored().to_owned()),
            None,
        ),
    };
    let status = if entry.success {
        AuditStatus::Success
    } else {
        AuditStatus::Failure
    };
    audit_log::ActiveModel {
        workspace_id: Set(entry.workspace_id),
        tenant_id: Set(entry.tenant_id),
        actor_id: Set(actor_id),
        actor_type: Set(actor_type.as_stored().to_owned()),
        actor_name: Set(actor_name),
        actor_email: Set(actor_email),
        action: Set(entry.action.as_stored().to_owned()),
        status: Set(status.as_stored().to_owned()),
        metadata: Set(Some(entity::Document::from(entry.metadata))),
        recorded_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// The investigations of each run, newest first, in one statement.
pub(crate) async fn investigations_of(
    db: &super::Db,
    runs: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<audit_log::Model>>, sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder};
    // The run id as text, read from the metadata; malformed JSON (possible on SQLite)
    // reads as NULL rather than failing the statement.
    let run_id = match db.get_database_backend() {
        DbBackend::Postgres => Expr::cust("\"audit_logs\".\"metadata\" ->> 'runId'"),
        _ => Expr::cust(
            "CASE WHEN json_valid(\"audit_logs\".\"metadata\") \
             THEN CAST(json_extract(\"audit_logs\".\"metadata\", '$.runId') AS TEXT) END",
        ),
    };
    let rows = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(AuditAction::RunInvestigated.as_stored()))
        .filter(run_id.is_in(runs.iter().map(|id| id.to_string())))
        .order_by_desc(audit_log::Column::RecordedAt)
        .order_by_desc(audit_log::Column::Id)
        .all(db)
        .await?;
    let mut grouped: std::collections::HashMap<i64, Vec<audit_log::Model>> =
        std::collections::HashMap::new();
    for row in rows {
        let run = row
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.value().get("runId"))
            .and_then(serde_json::Value::as_i64);
        if let Some(run) = run {
            grouped.entry(run).or_default().push(row);
        }
    }
    Ok(grouped)
}

/// The audit tail's order: by id, oldest first. Ids are given out in the order entries
/// are begun, and [`Horizon`] says how far they are settled.
pub(crate) fn tail_spec() -> SortSpec {
    SortSpec {
        tag: "audit:id:asc".to_owned(),
        columns: vec![SortColumn::required(
            audit_log::Column::Id.into_expr(),
            KeyKind::Int,
        )],
        descending: false,
    }
}

/// A log's position in [`tail_spec`].
pub(crate) fn tail_key(model: &audit_log::Model) -> Vec<KeyValue> {
    vec![KeyValue::Int(model.id)]
}

/// One look at how far audit ids have been given out, and at which transactions of this
/// database were running then (none on SQLite, whose writers take turns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sample {
    /// The last id given out (PostgreSQL) or written (SQLite).
    pub(crate) last_id: i64,
    /// PostgreSQL: the transaction ids of this database's sessions in a transaction that
    /// has written (`pg_stat_activity.backend_xid`).
    pub(crate) running: Option<Vec<i64>>,
}

/// Takes a [`Sample`], in one statement.
pub(crate) async fn sample(db: &impl ConnectionTrait) -> Result<Sample, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('audit_logs', 'id')::regclass), 0) AS last_id, \
             COALESCE((SELECT string_agg(backend_xid::text, ',') FROM pg_stat_activity \
               WHERE backend_xid IS NOT NULL \
               AND datid = (SELECT oid FROM pg_database WHERE datname = current_database())), '') AS writers"
        }
        _ => "SELECT COALESCE(MAX(id), 0) AS last_id FROM audit_logs",
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the audit horizon".to_owned()))?;
    let last_id: i64 = row.try_get("", "last_id")?;
    let running = match backend {
        DbBackend::Postgres => {
            let writers: String = row.try_get("", "writers")?;
            Some(
                writers
                    .split(',')
                    .filter_map(|xid| xid.trim().parse().ok())
                    .collect(),
            )
        }
        _ => None,
    };
    Ok(Sample { last_id, running })
}

/// How far the audit trail is settled: the greatest id such that every entry up to it
/// is committed or will never be. A tail that reads no further never misses an entry
/// whose transaction commits after one with a higher id.
///
/// On PostgreSQL an id is given out (`nextval`) moments before its transaction takes a
/// transaction id. So every id up to sample *k*'s `last_id` belongs to a transaction
/// that, if it still runs at the next sample *k+1* (taken a tick later), is among that
/// sample's running transactions. Once a later sample finds none of those still
/// running, all of them have ended: ids up to sample *k*'s `last_id` are settled. Only
/// this database's transactions count, so a long transaction elsewhere on the server
/// does not hold the tail back; one here that stays open (and so may still commit an
/// earlier entry) delays it, and never makes it skip.
#[derive(Debug, Default)]
pub(crate) struct Horizon {
    samples: std::collections::VecDeque<Sample>,
    settled: Option<i64>,
}

/// Most samples a [`Horizon`] keeps while a transaction stays open. Dropping one after
/// the oldest is sound: a transaction that may hold an id up to the oldest sample's and
/// still runs at any later sample is among that sample's running ones. It only makes
/// the steps coarser.
const MAX_SAMPLES: usize = 64;

impl Horizon {
    /// Adds a sample taken now; returns the settled id, once one is known.
    pub(crate) fn settle(&mut self, sample: Sample) -> Option<i64> {
        let Some(running) = sample.running.clone() else {
            // SQLite: a written id is committed, and no lower one is still to come.
            self.settled = Some(sample.last_id);
            return self.settled;
        };
        if self.samples.len() >= MAX_SAMPLES {
            self.samples.remove(1);
        }
        self.samples.push_back(sample);
        while let Some(next) = self.samples.get(1) {
            let still_running = next
                .running
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|xid| running.contains(xid));
            if still_running {
                break;
            }
            if let Some(settled) = self.samples.pop_front() {
                self.settled = Some(self.settled.unwrap_or(0).max(settled.last_id));
            }
        }
        self.settled
    }
}

#[cfg(test)]
mod tests {
    use super::{Horizon, Sample};

    fn pg(last_id: i64, running: &[i64]) -> Sample {
        Sample {
            last_id,
            running: Some(running.to_vec()),
        }
    }

    #[test]
    fn the_horizon_waits_for_every_transaction_that_may_hold_a_lower_id() {
        let mut horizon = Horizon::default();
        // Transaction 100 holds id 10 and stays open; 101 has committed id 11.
        assert_eq!(horizon.settle(pg(11, &[100])), None);
        assert_eq!(horizon.settle(pg(11, &[100])), None);
        assert_eq!(horizon.settle(pg(11, &[100, 102])), None, "100 still runs");
        // 100 commits: every id given out before the last sample is settled; the last
        // sample's own ids wait for a later one (their transactions may not have a
        // transaction id yet).
        assert_eq!(horizon.settle(pg(12, &[])), Some(11));
        assert_eq!(horizon.settle(pg(12, &[104])), Some(11));
        assert_eq!(horizon.settle(pg(13, &[105])), Some(12));
        assert_eq!(horizon.settle(pg(13, &[])), Some(13));
    }

    #[test]
    fn a_transaction_left_open_keeps_a_bounded_history() {
        let mut horizon = Horizon::default();
        for last_id in 0..1_000 {
            assert_eq!(horizon.settle(pg(last_id, &[100])), None);
        }
        assert!(horizon.samples.len() <= super::MAX_SAMPLES);
        // Once it ends, everything before the last sample is settled.
        assert_eq!(horizon.settle(pg(1_000, &[])), Some(999));
    }

    #[test]
    fn sqlite_is_settled_as_written() {
        let mut horizon = Horizon::default();
        let sample = Sample {
            last_id: 7,
            running: None,
        };
        assert_eq!(horizon.settle(sample), Some(7));
    }
}
