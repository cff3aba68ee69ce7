//! Storage: the connection, migrations, entities and the queries the
//! services use. Nothing here decides a rule of the LTI protocol or of
//! micro-credentials; it stores and loads.

pub mod direct;
pub mod entities;
pub mod keys;
pub mod launches;
pub mod platforms;
pub mod prepared;
pub mod sessions;
pub mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
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
    if settings.url.starts_with("postgres://") || settings.url.starts_with("postgresql://") {
        return connect_postgres(settings).await;
    }
    let mut options = ConnectOptions::new(settings.url.clone());
    // A SQLite connection lives in this process and cannot drop, so the
    // pool skips the test query it would otherwise send before lending one
    // out. That test doubled the round trips to SQLite's worker threads.
    options.test_before_acquire(false);
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(CONNECT_TIMEOUT)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    // Instances that start together on a new file race to switch it to WAL
    // mode. SQLite returns SQLITE_BUSY to the losers at once instead of
    // waiting for the busy timeout, so a locked open is tried again.
    let started = std::time::Instant::now();
    loop {
        match Database::connect(options.clone()).await {
            Err(error) if is_locked(&error) && started.elapsed() < CONNECT_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            result => return result,
        }
    }
}

/// Report whether `error` is SQLite's "database is locked" (SQLITE_BUSY or one of its extended codes).
fn is_locked(error: &DbErr) -> bool {
    let (DbErr::Conn(sea_orm::RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(cause)))
    | DbErr::Exec(sea_orm::RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(cause)))) = error
    else {
        return false;
    };
    cause.code().and_then(|code| code.parse::<i32>().ok()).is_some_and(|code| code & 0xff == 5)
}

/// How long a request waits for a connection, and a new connection for the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled PostgreSQL connection idle for at least this long is tested
/// with a round trip before it is lent out. One used more recently is not.
pub const POSTGRES_IDLE_CHECK: Duration = Duration::from_secs(1);

/// Open a PostgreSQL pool that tests a connection before lending it only
/// when the connection has been idle for [`POSTGRES_IDLE_CHECK`] or longer.
///
/// The pool already tests each connection when it comes back, so a
/// connection lent out again at once has just passed that test. Testing it
/// again would add a round trip to every request. A connection that has been idle
/// longer may have been closed by the server, a restart or a firewall, and
/// is replaced when its test fails.
async fn connect_postgres(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    let connection_error = |e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e));
    let options = settings.url.parse::<PgConnectOptions>().map_err(connection_error)?.disable_statement_logging();
    probe_postgres(&options).await?;
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= POSTGRES_IDLE_CHECK {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(connection_error)?;
    Ok(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// Open one connection and close it again, so that a wrong host, port,
/// database name, user or password is reported at once and with its cause.
/// The pool would retry a refused connection until its timeout and then
/// report only that it timed out.
async fn probe_postgres(options: &sea_orm::sqlx::postgres::PgConnectOptions) -> Result<(), DbErr> {
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    let server = format!("{}:{}", options.get_host(), options.get_port());
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(DbErr::Custom(explain_postgres_error(options, &server, &error))),
        Err(_) => Err(DbErr::Custom(format!(
            "connecting to the PostgreSQL server at {server} timed out after {} s; check the host and port in \
             database.url, and that a firewall lets the connection through",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Describe a failed PostgreSQL connection and what to change to fix it.
fn explain_postgres_error(
    options: &sea_orm::sqlx::postgres::PgConnectOptions,
    server: &str,
    error: &sea_orm::sqlx::Error,
) -> String {
    use sea_orm::sqlx::Error;
    let database = options.get_database().unwrap_or(options.get_username());
    match error {
        Error::Io(cause) if cause.kind() == std::io::ErrorKind::ConnectionRefused => format!(
            "connection refused at {server}: no PostgreSQL server is running there; start it, or correct the \
             host and port in database.url"
        ),
        Error::Io(cause) => format!("cannot reach {server}: {cause}; check the host and port in database.url"),
        Error::Database(cause) if cause.code().as_deref() == Some("3D000") => format!(
            "the PostgreSQL server at {server} has no database named \"{database}\"; create it (for example \
             with `createdb {database}`), or name an existing database in database.url"
        ),
        Error::Database(cause) if matches!(cause.code().as_deref(), Some("28000" | "28P01")) => format!(
            "the PostgreSQL server at {server} rejected the user \"{}\": {}; check the user and password in \
             database.url",
            options.get_username(),
            cause.message()
        ),
        other => format!("cannot connect to the PostgreSQL server at {server}: {other}"),
    }
}

/// Queues for the write lock of each SQLite file this process opened, by path.
static WRITE_QUEUES: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Default::default);

/// This process's turn to write to a SQLite database. The next writer in the
/// process waits until it is dropped.
#[must_use = "the turn ends when it is dropped"]
pub struct WriteTurn(#[allow(dead_code)] Option<tokio::sync::OwnedMutexGuard<()>>);

/// Wait for this process's turn to write to `db`, first come, first served.
///
/// SQLite has one writer at a time. A connection that finds the write lock
/// taken retries after sleeps that grow to 100 ms (SQLite's default busy
/// handler, which `busy_timeout` sets). While the launch writer commits
/// batch after batch, a participant's submit could therefore miss the short
/// gaps between them again and again, and wait a second or more. The
/// writer's batches and the participants' and assessors' writes take turns
/// here instead, so each waits only for the writes queued before it. Other
/// processes on the same file still meet SQLite's lock and its busy timeout.
/// On other databases this returns at once.
pub async fn write_turn(db: &DatabaseConnection) -> WriteTurn {
    if db.get_database_backend() != DbBackend::Sqlite {
        return WriteTurn(None);
    }
    let path = db.get_sqlite_connection_pool().connect_options().get_filename().to_path_buf();
    WriteTurn(Some(write_queue(&path).lock_owned().await))
}

/// Return the queue for this process's turns to write to the SQLite file at `path`.
fn write_queue(path: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
    let mut queues = WRITE_QUEUES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    queues.entry(path.to_path_buf()).or_default().clone()
}

/// Return the file of an open SQLite database, or `None` for other databases
/// and in-memory SQLite, which has no file.
pub fn sqlite_file(db: &DatabaseConnection) -> Option<PathBuf> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let path = db.get_sqlite_connection_pool().connect_options().get_filename().to_path_buf();
    path.is_file().then_some(path)
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
