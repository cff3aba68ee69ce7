//! Storage: the connection, migrations, entities and the queries the
//! services use. Nothing here decides a rule of the LTI protocol or of
//! micro-credentials; it stores and loads.

pub mod entities;
pub mod keys;
pub mod launches;
pub mod platforms;
pub mod sessions;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, TransactionTrait};

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

/// Apply pending migrations. On PostgreSQL an advisory lock makes instances
/// that start together run them once, one after the other.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7316240552)").await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await
        }
        _ => Migrator::up(db, None).await,
    }
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
