//! The query cost budgets (SPEC §9e) that the instances on one PostgreSQL database share:
//! one leaky bucket per caller. `UNLOGGED` on PostgreSQL: a bucket is rewritten by every
//! request, and what a crash loses is only how much of their allowance callers have
//! used, which then starts full. SQLite instances keep their buckets in memory; the
//! table is made there too, so that both databases have one schema.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000005_cost_budget"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let unlogged = match manager.get_database_backend() {
            DbBackend::Postgres => "UNLOGGED ",
            _ => "",
        };
        // `available` is what the bucket held at `updated_at` (the database's clock, so
        // that instances whose clocks differ agree); `taken` is what the last request
        // took from it, 0 when it was refused.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE {unlogged}TABLE cost_budget (
                    subject TEXT PRIMARY KEY,
                    available DOUBLE PRECISION NOT NULL,
                    taken DOUBLE PRECISION NOT NULL,
                    updated_at TIMESTAMPTZ NOT NULL
                )"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE cost_budget")
            .await?;
        Ok(())
    }
}
