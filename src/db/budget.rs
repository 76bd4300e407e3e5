//! The query cost budgets that instances share on PostgreSQL (SPEC §9e): one row of
//! `cost_budget` per caller, a leaky bucket read and written in one statement, on the
//! database's clock.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// A bucket as a request left it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Level {
    /// What the bucket holds now.
    pub(crate) available: f64,
    /// Whether the request's cost was taken (else the bucket held less).
    pub(crate) taken: bool,
}

/// Restores the bucket of `subject` for the time since it was last written (up to
/// `maximum`, at `restore` a second), then takes `cost` from it if it holds that much
/// or the cost is `owed` (the bucket may then go below empty), in one statement. A
/// subject seen for the first time starts full.
pub(crate) async fn take(
    db: &impl ConnectionTrait,
    subject: &str,
    cost: f64,
    owed: bool,
    maximum: f64,
    restore: f64,
) -> Result<Level, DbErr> {
    // `$2` maximum, `$3` cost, `$4` restore per second, `$5` owed.
    const TAKE: &str = "WITH now AS (SELECT clock_timestamp() AS at) \
        INSERT INTO cost_budget AS b (subject, available, taken, updated_at) \
        SELECT $1, $2 - $3, $3, at FROM now \
        ON CONFLICT (subject) DO UPDATE SET \
          available = LEAST($2, b.available + $4 * EXTRACT(EPOCH FROM (excluded.updated_at - b.updated_at))::float8) \
            - CASE WHEN LEAST($2, b.available + $4 * EXTRACT(EPOCH FROM (excluded.updated_at - b.updated_at))::float8) >= $3 OR $5 THEN $3 ELSE 0 END, \
          taken = CASE WHEN LEAST($2, b.available + $4 * EXTRACT(EPOCH FROM (excluded.updated_at - b.updated_at))::float8) >= $3 OR $5 THEN $3 ELSE 0 END, \
          updated_at = excluded.updated_at \
        RETURNING available, taken";
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        TAKE,
        [
            subject.into(),
            maximum.into(),
            cost.into(),
            restore.into(),
            owed.into(),
        ],
    );
    let row = db
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the cost budget".to_owned()))?;
    let available: f64 = row.try_get("", "available")?;
    let taken: f64 = row.try_get("", "taken")?;
    Ok(Level {
        available,
        // A cost of 0 is always taken.
        taken: taken > 0.0 || cost == 0.0,
    })
}

/// Gives `amount` back to the bucket of `subject`, up to `maximum`: what a request took
/// beyond what it cost.
pub(crate) async fn give_back(
    db: &impl ConnectionTrait,
    subject: &str,
    amount: f64,
    maximum: f64,
) -> Result<(), DbErr> {
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE cost_budget SET available = LEAST($2, available + $3) WHERE subject = $1",
        [subject.into(), maximum.into(), amount.into()],
    );
    db.execute_raw(statement).await?;
    Ok(())
}
