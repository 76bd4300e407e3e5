//! sea-orm migrations of Control Tower. One migration creates the whole schema of SPEC §2.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_tables;

/// The ordered list of Control Tower's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261127_000001_create_tables::Migration)]
    }
}
