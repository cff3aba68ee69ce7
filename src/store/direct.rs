//! The launch's writes on SQLite, run on a connection of their own without
//! sqlx's connection threads.
//!
//! sqlx runs every SQLite connection on a thread of its own, and each
//! statement crosses to that thread and back. A launch makes a handful of
//! small statements, so most of the CPU that SQLite cost a launch went to
//! waking those threads, not to SQLite. [`DirectWriter`] owns one connection
//! on one thread and runs each batch of waiting jobs there in one
//! transaction, statement after statement, without a thread switch.
//!
//! A job is a plain function of the connection. The helpers here run
//! sea-query statements built for SQLite, and return their rows as sea-orm
//! query results typed by the columns of the entities they come from, so
//! that the entities' own `FromQueryResult` reads them.
//!
//! Each batch waits for this process's turn to write ([`super::write_turn`]),
//! like the other writers. Each job runs inside a savepoint, so a job that
//! fails leaves no writes behind while the rest of its batch is committed.
//! A caller gets its job's result only after the batch is committed.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{Connection, OpenFlags};
use sea_orm::sea_query::{ColumnType, Values};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, IdenStatic, Iterable, ProxyRow, QueryResult, RuntimeErr, Statement, Value};
use tokio::sync::oneshot;

use super::writer::{deliver_all, BatchObserver, Deliver};

/// Maximum number of jobs in one transaction.
const MAX_BATCH: usize = 64;

/// How long a batch waits for more jobs before it begins, while launches
/// keep arriving. One commit then serves many launches: each commit appends
/// every page it changed to the write-ahead log, and launches that commit
/// together share the pages of the tables' rightmost leaves and indexes. A
/// job that arrives alone, after a batch of one, does not wait.
const BATCH_WINDOW: Duration = Duration::from_millis(2);

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// One caller's work and the channel back to that caller.
trait Job: Send {
    fn run(self: Box<Self>, connection: &Connection) -> Deliver;
    /// Send `error` to the caller without running the work, because the batch's transaction failed to begin.
    fn fail(self: Box<Self>, error: DbErr);
}

struct Pending<T, E, F> {
    work: F,
    reply: oneshot::Sender<Result<Result<T, E>, DbErr>>,
}

impl<T, E, F> Job for Pending<T, E, F>
where
    T: Send + 'static,
    E: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
{
    fn run(self: Box<Self>, connection: &Connection) -> Deliver {
        let Pending { work, reply } = *self;
        begin_job(connection);
        let output = work(connection);
        end_job(connection, output.is_ok());
        Box::new(move |committed: Result<(), DbErr>| {
            // The caller may have gone (a closed connection). Its rows stay stored.
            let _ = reply.send(committed.map(|()| output));
        })
    }

    fn fail(self: Box<Self>, error: DbErr) {
        let _ = self.reply.send(Err(error));
    }
}

/// Open the savepoint that lets one job's writes be undone without the batch's.
fn begin_job(connection: &Connection) {
    if let Err(error) = connection.execute_batch("SAVEPOINT job") {
        tracing::error!(%error, "launch write job failed to open its savepoint");
    }
}

/// Keep the writes of the job that began last, or undo them when it failed.
fn end_job(connection: &Connection, keep: bool) {
    let sql = if keep { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
    if let Err(error) = connection.execute_batch(sql) {
        tracing::error!(%error, keep, "launch write job failed to close its savepoint");
    }
}

/// Runs write jobs on one SQLite connection of its own. Cheap to clone.
#[derive(Clone)]
pub struct DirectWriter {
    sender: mpsc::Sender<Box<dyn Job>>,
}

impl DirectWriter {
    /// Open a second connection to the SQLite file at `path` and start the
    /// thread that runs the batches. The thread ends when the last clone of
    /// the writer is dropped.
    pub fn open(path: &Path, observe: Option<BatchObserver>) -> Result<Self, DbErr> {
        let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| failed(format!("cannot open {} for the launch writer", path.display()), e))?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(|e| failed("cannot set the busy timeout", e))?;
        connection
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(|e| failed("cannot set up the launch writer's connection", e))?;
        let turns = super::write_queue(path);
        let (sender, receiver) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("sqlite-writer".to_string())
            .spawn(move || run_batches(connection, receiver, turns, observe))
            .map_err(|e| DbErr::Custom(format!("cannot start the launch writer's thread: {e}")))?;
        Ok(Self { sender })
    }

    /// Run `work` in a batch's transaction and return its output once the
    /// transaction is committed. When `work` returns an error, or panics,
    /// its writes are undone and the rest of the batch is committed. The outer
    /// error means that the transaction failed to begin or commit.
    pub async fn run<T, E, F>(&self, work: F) -> Result<Result<T, E>, DbErr>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Box::new(Pending { work, reply }))
            .map_err(|_| DbErr::Custom("the launch writer has stopped; restart microcred".to_string()))?;
        answer.await.map_err(|_| {
            DbErr::Custom("the write stopped before it finished; nothing was reported as stored".to_string())
        })?
    }
}

fn run_batches(
    connection: Connection,
    receiver: mpsc::Receiver<Box<dyn Job>>,
    turns: Arc<tokio::sync::Mutex<()>>,
    observe: Option<BatchObserver>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    let mut busy = false;
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        drain(&receiver, &mut batch);
        // Wait for more jobs only while they keep coming: another job was
        // already waiting, or the last batch held more than one.
        if (batch.len() > 1 || busy) && batch.len() < MAX_BATCH {
            std::thread::sleep(BATCH_WINDOW);
            drain(&receiver, &mut batch);
        }
        busy = batch.len() > 1;
        let _turn = turns.blocking_lock();
        let started = Instant::now();
        // Jobs that arrived while the batch waited for its turn join it.
        drain(&receiver, &mut batch);
        let count = batch.len();
        if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(%error, jobs = count, "launch write batch failed to begin; its callers get the error");
            for job in batch.drain(..) {
                job.fail(DbErr::Custom(format!("cannot begin the write: {error}")));
            }
            continue;
        }
        let mut delivers = Vec::with_capacity(count);
        for job in batch.drain(..) {
            // A panicking job loses only its own result, not the batch or the thread.
            match std::panic::catch_unwind(AssertUnwindSafe(|| job.run(&connection))) {
                Ok(deliver) => delivers.push(deliver),
                Err(_) => {
                    end_job(&connection, false);
                    tracing::error!("launch write job panicked; its writes are undone, its caller gets an error and the batch goes on");
                }
            }
        }
        let committed = connection.execute_batch("COMMIT");
        if let Err(error) = &committed {
            tracing::error!(%error, jobs = delivers.len(), "launch write batch failed to commit; its callers get the error");
            let _ = connection.execute_batch("ROLLBACK");
        }
        deliver_all(delivers, committed.as_ref().map_err(ToString::to_string));
        if let Some(observe) = &observe {
            observe(count, started.elapsed());
        }
    }
}

/// Add the jobs waiting in `receiver` to `batch`, up to [`MAX_BATCH`].
fn drain(receiver: &mpsc::Receiver<Box<dyn Job>>, batch: &mut Vec<Box<dyn Job>>) {
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

fn failed(what: impl std::fmt::Display, error: rusqlite::Error) -> DbErr {
    DbErr::Query(RuntimeErr::Internal(format!("{what}: {error}")))
}

/// Convert a bound value to SQLite's, stored as sqlx stores it, so that
/// rows written here read back the same through the pool.
fn to_sql(value: &Value) -> Result<Sql, DbErr> {
    let unsupported = || DbErr::Custom(format!("the launch writer cannot bind {value:?}"));
    Ok(match value {
        Value::Bool(v) => v.map_or(Sql::Null, |v| Sql::Integer(v.into())),
        Value::TinyInt(v) => v.map_or(Sql::Null, |v| Sql::Integer(v.into())),
        Value::SmallInt(v) => v.map_or(Sql::Null, |v| Sql::Integer(v.into())),
        Value::Int(v) => v.map_or(Sql::Null, |v| Sql::Integer(v.into())),
        Value::BigInt(v) => v.map_or(Sql::Null, Sql::Integer),
        Value::TinyUnsigned(v) => v.map_or(Sql::Null, |v| Sql::Integer(v.into())),
        Value::SmallUnsigned(v) => v.map_or(Sql::Null, |v| Sql::Integer(v.into())),
        Value::Unsigned(v) => v.map_or(Sql::Null, |v| Sql::Integer(v.into())),
        Value::BigUnsigned(v) => match v {
            None => Sql::Null,
            Some(v) => Sql::Integer(i64::try_from(*v).map_err(|_| unsupported())?),
        },
        Value::Float(v) => v.map_or(Sql::Null, |v| Sql::Real(v.into())),
        Value::Double(v) => v.map_or(Sql::Null, Sql::Real),
        Value::String(v) => v.as_ref().map_or(Sql::Null, |v| Sql::Text(v.to_string())),
        Value::Char(v) => v.map_or(Sql::Null, |v| Sql::Text(v.to_string())),
        Value::Bytes(v) => v.as_ref().map_or(Sql::Null, |v| Sql::Blob(v.to_vec())),
        Value::Json(v) => v.as_ref().map_or(Sql::Null, |v| Sql::Text(v.to_string())),
        Value::ChronoDateTimeUtc(v) => {
            v.as_ref().map_or(Sql::Null, |v| Sql::Text(v.to_rfc3339_opts(SecondsFormat::AutoSi, false)))
        }
        Value::ChronoDateTime(v) => v.as_ref().map_or(Sql::Null, |v| Sql::Text(v.format("%F %T%.f").to_string())),
        _ => return Err(unsupported()),
    })
}

/// Return the values bound to `statement`, converted for SQLite.
fn parameters(statement: &Statement) -> Result<Vec<Sql>, DbErr> {
    match &statement.values {
        Some(Values(values)) => values.iter().map(to_sql).collect(),
        None => Ok(Vec::new()),
    }
}

/// Run a statement that returns no rows and return the number of rows it changed.
pub fn execute(connection: &Connection, statement: &Statement) -> Result<usize, DbErr> {
    let parameters = parameters(statement)?;
    let mut prepared = connection.prepare_cached(&statement.sql).map_err(|e| failed("cannot prepare a statement", e))?;
    prepared.execute(rusqlite::params_from_iter(parameters)).map_err(|e| failed("a statement failed", e))
}

/// The type of each column a query returns, by its name in the result.
#[derive(Clone, Debug, Default)]
pub struct ColumnTypes(BTreeMap<String, ColumnType>);

impl ColumnTypes {
    /// Add the columns of entity `E`, named with `prefix` before each.
    pub fn entity<E: EntityTrait>(mut self, prefix: &str) -> Self {
        for column in E::Column::iter() {
            let name = format!("{prefix}{}", column.as_str());
            self.0.insert(name, column.def().get_column_type().clone());
        }
        self
    }

    /// Add the given columns of entity `E`, named with `prefix` before each.
    pub fn columns<E: EntityTrait>(mut self, prefix: &str, columns: &[E::Column]) -> Self {
        for column in columns {
            self.0.insert(format!("{prefix}{}", column.as_str()), column.def().get_column_type().clone());
        }
        self
    }
}

/// Run a query and return its rows as sea-orm query results whose values
/// have the types `types` gives their columns. A column that `types` does
/// not name gets the type of what SQLite returned (64-bit integer, double,
/// text or bytes).
pub fn query(connection: &Connection, statement: &Statement, types: &ColumnTypes) -> Result<Vec<QueryResult>, DbErr> {
    let parameters = parameters(statement)?;
    let mut prepared = connection.prepare_cached(&statement.sql).map_err(|e| failed("cannot prepare a query", e))?;
    let names: Vec<String> = prepared.column_names().into_iter().map(str::to_string).collect();
    let mut rows = prepared.query(rusqlite::params_from_iter(parameters)).map_err(|e| failed("a query failed", e))?;
    let mut results = Vec::new();
    while let Some(row) = rows.next().map_err(|e| failed("reading a row failed", e))? {
        let mut values = BTreeMap::new();
        for (index, name) in names.iter().enumerate() {
            let raw = row.get_ref(index).map_err(|e| failed("reading a column failed", e))?;
            values.insert(name.clone(), typed(raw, types.0.get(name)).map_err(|e| DbErr::Custom(format!("column {name}: {e}")))?);
        }
        results.push(QueryResult::from(ProxyRow::new(values)));
    }
    Ok(results)
}

/// Read one SQLite value as the sea-orm value of `column_type`.
fn typed(raw: ValueRef<'_>, column_type: Option<&ColumnType>) -> Result<Value, String> {
    let text = |raw: ValueRef<'_>| raw.as_str().map(str::to_string).map_err(|e| e.to_string());
    let null = matches!(raw, ValueRef::Null);
    let Some(column_type) = column_type else {
        return Ok(match raw {
            ValueRef::Null => Value::BigInt(None),
            ValueRef::Integer(v) => Value::BigInt(Some(v)),
            ValueRef::Real(v) => Value::Double(Some(v)),
            ValueRef::Text(_) => Value::String(Some(Box::new(text(raw)?))),
            ValueRef::Blob(v) => Value::Bytes(Some(Box::new(v.to_vec()))),
        });
    };
    Ok(match column_type {
        ColumnType::BigInteger => Value::BigInt(if null { None } else { Some(raw.as_i64().map_err(|e| e.to_string())?) }),
        ColumnType::Integer => Value::Int(match null {
            true => None,
            false => Some(i32::try_from(raw.as_i64().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?),
        }),
        ColumnType::Boolean => Value::Bool(if null { None } else { Some(raw.as_i64().map_err(|e| e.to_string())? != 0) }),
        ColumnType::Double | ColumnType::Float => Value::Double(match raw {
            ValueRef::Null => None,
            ValueRef::Integer(v) => Some(v as f64),
            other => Some(other.as_f64().map_err(|e| e.to_string())?),
        }),
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) => {
            Value::String(if null { None } else { Some(Box::new(text(raw)?)) })
        }
        ColumnType::TimestampWithTimeZone => Value::ChronoDateTimeUtc(match null {
            true => None,
            false => Some(Box::new(parse_timestamp(&text(raw)?)?)),
        }),
        other => return Err(format!("the launch writer cannot read columns of type {other:?}")),
    })
}

/// Parse a stored timestamp in the forms sqlx writes and reads.
fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Ok(parsed.with_timezone(&Utc));
    }
    for format in ["%F %T%.f%:z", "%FT%T%.f%:z"] {
        if let Ok(parsed) = DateTime::parse_from_str(text, format) {
            return Ok(parsed.with_timezone(&Utc));
        }
    }
    for format in ["%F %T%.f", "%FT%T%.f", "%F %T%.fZ", "%FT%T%.fZ"] {
        if let Ok(parsed) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(parsed.and_utc());
        }
    }
    Err(format!("{text:?} is not a timestamp"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use sea_orm::entity::prelude::*;
    use sea_orm::{
        ActiveValue::Set, ConnectOptions, Database, DatabaseConnection, DbBackend, FromQueryResult, QueryOrder, QueryTrait, Schema,
    };

    use super::*;

    /// A table with a column of each type the launch's entities use.
    mod sample {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "samples")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub version: i32,
            pub title: String,
            #[sea_orm(column_type = "Text", nullable)]
            pub note: Option<String>,
            pub parent: Option<i64>,
            pub created_at: DateTimeUtc,
            pub earned_at: Option<DateTimeUtc>,
            pub ceus: Option<f64>,
            pub active: bool,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    async fn scratch(dir: &tempfile::TempDir) -> (DatabaseConnection, DirectWriter) {
        let path = dir.path().join("direct.db");
        let mut options = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
        options.max_connections(2).sqlx_logging(false).map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal).busy_timeout(Duration::from_secs(10))
        });
        let db = Database::connect(options).await.expect("open the scratch database");
        let create = Schema::new(DbBackend::Sqlite).create_table_from_entity(sample::Entity);
        db.execute(db.get_database_backend().build(&create)).await.expect("create the sample table");
        let writer = DirectWriter::open(&path, None).expect("open the launch writer");
        (db, writer)
    }

    fn at(seconds: i64, nanos: u32) -> chrono::DateTime<Utc> {
        Utc.timestamp_opt(seconds, nanos).single().expect("a valid time")
    }

    fn full(id: i64) -> sample::Model {
        sample::Model {
            id,
            version: 3,
            title: "Questioning \u{2013} \"quoted\"".to_string(),
            note: Some("first line\nsecond line".to_string()),
            parent: Some(-7),
            created_at: at(1_796_000_000, 123_456_789),
            earned_at: Some(at(1_796_000_001, 0)),
            ceus: Some(2.5),
            active: true,
        }
    }

    fn empty(id: i64) -> sample::Model {
        sample::Model {
            id,
            version: -1,
            title: String::new(),
            note: None,
            parent: None,
            created_at: at(0, 0),
            earned_at: None,
            ceus: None,
            active: false,
        }
    }

    fn insert(row: &sample::Model) -> Statement {
        sample::Entity::insert(sample::ActiveModel {
            id: Set(row.id),
            version: Set(row.version),
            title: Set(row.title.clone()),
            note: Set(row.note.clone()),
            parent: Set(row.parent),
            created_at: Set(row.created_at),
            earned_at: Set(row.earned_at),
            ceus: Set(row.ceus),
            active: Set(row.active),
        })
        .build(DbBackend::Sqlite)
    }

    fn select_all() -> Statement {
        sample::Entity::find().order_by_asc(sample::Column::Id).build(DbBackend::Sqlite)
    }

    #[tokio::test]
    async fn written_rows_read_back_through_pool() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let (db, writer) = scratch(&dir).await;
        let rows = vec![full(1), empty(2)];
        let statements: Vec<Statement> = rows.iter().map(insert).collect();
        let changed = writer
            .run(move |connection| statements.iter().map(|s| execute(connection, s)).collect::<Result<Vec<_>, _>>())
            .await
            .expect("the batch commits")
            .expect("the inserts run");
        assert_eq!(changed, vec![1, 1]);

        let read = sample::Entity::find().order_by_asc(sample::Column::Id).all(&db).await.expect("read through the pool");
        assert_eq!(read, rows);
    }

    #[tokio::test]
    async fn pool_rows_read_back_here() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let (db, writer) = scratch(&dir).await;
        let rows = vec![full(1), empty(2)];
        for row in &rows {
            db.execute(insert(row)).await.expect("insert through the pool");
        }

        let types = ColumnTypes::default().entity::<sample::Entity>("");
        let read = writer
            .run(move |connection| query(connection, &select_all(), &types))
            .await
            .expect("the batch commits")
            .expect("the query runs");
        let models: Vec<sample::Model> =
            read.iter().map(|row| sample::Model::from_query_result(row, "")).collect::<Result<_, _>>().expect("typed rows");
        assert_eq!(models, rows);
    }

    #[tokio::test]
    async fn untyped_columns_keep_sqlite_types() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let (_db, writer) = scratch(&dir).await;
        let statement = Statement::from_string(DbBackend::Sqlite, "SELECT 7 AS n, 1.5 AS x, 'a' AS t, NULL AS z");
        let rows = writer
            .run(move |connection| query(connection, &statement, &ColumnTypes::default()))
            .await
            .expect("the batch commits")
            .expect("the query runs");
        let row = rows.first().expect("one row");
        assert_eq!(row.try_get::<i64>("", "n").expect("an integer"), 7);
        assert_eq!(row.try_get::<f64>("", "x").expect("a double"), 1.5);
        assert_eq!(row.try_get::<String>("", "t").expect("a text"), "a");
        assert_eq!(row.try_get::<Option<i64>>("", "z").expect("a null"), None);
    }

    #[tokio::test]
    async fn failing_statement_keeps_batch_going() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let (db, writer) = scratch(&dir).await;
        let bad = Statement::from_string(DbBackend::Sqlite, "INSERT INTO missing_table VALUES (1)");
        let error = writer.run(move |connection| execute(connection, &bad)).await.expect("the batch commits").unwrap_err();
        assert!(error.to_string().contains("missing_table"), "{error}");

        let good = insert(&full(5));
        writer.run(move |connection| execute(connection, &good)).await.expect("the batch commits").expect("the insert");
        assert_eq!(sample::Entity::find().count(&db).await.expect("count"), 1);
    }

    #[tokio::test]
    async fn panicking_job_keeps_batch_going() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let (db, writer) = scratch(&dir).await;
        let first = insert(&full(7));
        let panicked = writer
            .run(move |connection| -> Result<usize, DbErr> {
                execute(connection, &first)?;
                panic!("job fails")
            })
            .await;
        assert!(panicked.is_err());

        let good = insert(&full(6));
        writer.run(move |connection| execute(connection, &good)).await.expect("the batch commits").expect("the insert");
        assert_eq!(sample::Entity::find().count(&db).await.expect("count"), 1);
    }

    #[tokio::test]
    async fn failed_job_leaves_no_rows() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let (db, writer) = scratch(&dir).await;
        let (first, second) = (insert(&full(8)), insert(&full(9)));

        let failed = writer
            .run(move |connection| -> Result<(), DbErr> {
                execute(connection, &first)?;
                Err(DbErr::Custom("the job's own check failed".to_string()))
            })
            .await
            .expect("the batch commits");
        let second_insert = writer.run(move |connection| execute(connection, &second)).await.expect("the batch commits");

        assert!(failed.is_err());
        assert_eq!(second_insert.expect("the insert"), 1);
        let ids: Vec<i64> = sample::Entity::find().all(&db).await.expect("read").into_iter().map(|row| row.id).collect();
        assert_eq!(ids, vec![9]);
    }

    #[test]
    fn unsupported_values_rejected() {
        let error = to_sql(&Value::Uuid(Some(Box::new(uuid::Uuid::nil())))).unwrap_err();
        assert!(error.to_string().contains("cannot bind"), "{error}");
        assert!(typed(ValueRef::Integer(1), Some(&ColumnType::Uuid)).is_err());
        assert!(typed(ValueRef::Integer(i64::MAX), Some(&ColumnType::Integer)).is_err());
    }

    #[test]
    fn timestamp_forms_parsed() {
        let expected = at(1_796_000_000, 500_000_000);
        for text in [
            "2026-11-30T00:53:20.5+00:00",
            "2026-11-30T00:53:20.5Z",
            "2026-11-30 00:53:20.5+00:00",
            "2026-11-30 00:53:20.5",
            "2026-11-30T02:53:20.5+02:00",
        ] {
            assert_eq!(parse_timestamp(text), Ok(expected), "{text}");
        }
        assert!(parse_timestamp("yesterday").is_err());
    }
}
