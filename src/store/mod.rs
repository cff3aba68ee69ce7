//! Storage: the connection, migrations, entities and the queries the
//! services use. Nothing here decides a rule of the LTI protocol or of
//! micro-credentials; it stores and loads.

pub mod entities;
pub mod keys;
pub mod launches;
pub mod platforms;
pub mod prepared;
pub mod sessions;
pub mod writer;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    TransactionTrait,
};

use crate::config::DatabaseSettings;

/// Open the database. A SQLite file's folder is created when missing.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_file_path(&settings.url) {
        if let Some(parent) = std::path::Path::new(&path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    DbErr::Custom(format!("cannot create the database folder {}: {e}", parent.display()))
                })?;
            }
        }
    }
    let mut options = ConnectOptions::new(settings.url.clone());
    // A SQLite connection lives in this process and cannot drop, so the
    // pool skips the test query it would otherwise send before lending one
    // out. That test doubled the round trips to SQLite's worker threads.
    options.test_before_acquire(sqlite_file_path(&settings.url).is_none() && !settings.url.starts_with("sqlite:"));
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// The file path of a `sqlite:` URL, or `None` for other databases and in-memory SQLite.
fn sqlite_file_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// Key of the PostgreSQL advisory lock that [`begin_setup`] takes.
const SETUP_LOCK_KEY: i64 = 7316240552;

/// Begin the transaction in which an instance sets the database up on start:
/// migrations, the first signing key, the sample catalogue. The transaction
/// holds a database-wide lock until it commits or rolls back, so instances
/// that start together do the setup one after the other, and the later ones
/// find it done.
pub async fn begin_setup(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    match db.get_database_backend() {
        DbBackend::Postgres => {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({SETUP_LOCK_KEY})")).await?;
        }
        DbBackend::Sqlite => {
            // SQLite has no advisory lock, and sea-orm's BEGIN is deferred: the
            // transaction takes the database's write lock at its first write,
            // waiting for it up to the busy timeout. Creating a scratch table is
            // that first write, and dropping it in the same transaction leaves no trace.
            txn.execute_unprepared("CREATE TABLE microcred_setup_lock (id INTEGER)").await?;
            txn.execute_unprepared("DROP TABLE microcred_setup_lock").await?;
        }
        DbBackend::MySql => {}
    }
    Ok(txn)
}

/// Apply pending migrations inside a transaction from [`begin_setup`].
pub async fn apply_migrations(setup: &DatabaseTransaction) -> Result<(), DbErr> {
    Migrator::up(setup, None).await
}

/// Apply pending migrations, holding the setup lock so that instances that
/// start together run them once.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let setup = begin_setup(db).await?;
    apply_migrations(&setup).await?;
    setup.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_path_from_url() {
        assert_eq!(sqlite_file_path("sqlite://data/microcred.db?mode=rwc").as_deref(), Some("data/microcred.db"));
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
        assert_eq!(sqlite_file_path("postgres://localhost/x"), None);
    }
}
