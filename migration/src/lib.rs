//! sea-orm migrations of Control Tower. The first creates the whole schema of SPEC §2; the second
//! adds the run roll-ups the service keeps for the Control Tower; the third, what it needs on
//! densely used data (stuck counts on partial indexes, tenants' failures as prefix sums); the
//! fourth, dashboard tokens; the fifth, the query cost budgets shared on PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_tables;
mod m20261128_000002_run_rollups;
mod m20261206_000003_dense_data;
mod m20261207_000004_dashboard_tokens;
mod m20261208_000005_cost_budget;

/// The ordered list of Control Tower's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_tables::Migration),
            Box::new(m20261128_000002_run_rollups::Migration),
            Box::new(m20261206_000003_dense_data::Migration),
            Box::new(m20261207_000004_dashboard_tokens::Migration),
            Box::new(m20261208_000005_cost_budget::Migration),
        ]
    }
}
