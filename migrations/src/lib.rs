//! Database migrations, one file each, never edited once applied.
//!
//! The same migrations run on SQLite and PostgreSQL. Add a change as a new
//! file; to drop or rename a column, first add the new shape, ship code that
//! uses it, then remove the old shape in a later migration.

pub use sea_orm_migration::prelude::*;

mod m20261204_000001_lti_core;
mod m20261204_000002_workflow;
mod m20261204_000003_advantage;
mod m20261204_000004_login_storage;
mod m20261204_000006_registrations;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_000001_lti_core::Migration),
            Box::new(m20261204_000002_workflow::Migration),
            Box::new(m20261204_000003_advantage::Migration),
            Box::new(m20261204_000004_login_storage::Migration),
            Box::new(m20261204_000006_registrations::Migration),
        ]
    }
}
