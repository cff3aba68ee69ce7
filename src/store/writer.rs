//! Writes that many requests make at the same time, such as the rows of
//! every launch, committed together on SQLite.
//!
//! SQLite has one writer at a time, and each commit appends every page it
//! changed to the write-ahead log. When each launch commits its own rows,
//! concurrent launches queue for the write lock, rewrite the same index
//! pages many times over, and each statement crosses to one of the pool's
//! connection threads and back twice. [`Writer`] hands the work to one task
//! instead: it takes every waiting job, runs the jobs one after the other in
//! a single transaction, commits once, and only then returns each caller's
//! result. A caller therefore never receives a result whose rows are not
//! yet stored.
//!
//! Each batch waits for this process's turn to write ([`super::write_turn`]),
//! which the participants' and assessors' writes take too, so that neither
//! keeps the other from SQLite's write lock for long.
//!
//! On PostgreSQL, which runs many writers at once, each job runs in a
//! transaction of its own.
//!
//! Jobs in one batch share a transaction, so a job must not roll it back,
//! and on SQLite its first statement should be a write: a transaction that
//! begins with a read fails at its first write if another connection wrote
//! in between.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

/// Maximum number of jobs in one transaction. A longer queue is split, so
/// other writers get the write lock between batches.
const MAX_BATCH: usize = 64;

/// Callback that sends a job's result once its batch is committed or has failed.
pub(super) type Deliver = Box<dyn FnOnce(Result<(), DbErr>) + Send>;

/// Send every job of a batch its result: its output when the batch's
/// `committed` is `Ok`, else the commit's error.
pub(super) fn deliver_all(delivers: Vec<Deliver>, committed: Result<&(), String>) {
    for deliver in delivers {
        let outcome = match &committed {
            Ok(()) => Ok(()),
            Err(error) => Err(DbErr::Custom(format!("the write could not be committed: {error}"))),
        };
        deliver(outcome);
    }
}

/// One caller's work and the channel back to that caller.
trait Job: Send {
    fn run<'t>(self: Box<Self>, txn: &'t DatabaseTransaction) -> BoxFuture<'t, Deliver>;
    /// Send `error` to the caller without running the work, because the batch's transaction failed to begin.
    fn fail(self: Box<Self>, error: DbErr);
}

struct Pending<T, F> {
    work: F,
    reply: oneshot::Sender<Result<T, DbErr>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, T> + Send + 'static,
{
    fn run<'t>(self: Box<Self>, txn: &'t DatabaseTransaction) -> BoxFuture<'t, Deliver> {
        let Pending { work, reply } = *self;
        Box::pin(async move {
            let output = work(txn).await;
            let deliver: Deliver = Box::new(move |committed: Result<(), DbErr>| {
                // The caller may have gone (a closed connection). Its rows stay stored.
                let _ = reply.send(committed.map(|()| output));
            });
            deliver
        })
    }

    fn fail(self: Box<Self>, error: DbErr) {
        let _ = self.reply.send(Err(error));
    }
}

/// Callback that receives the number of jobs and the duration of each batch, committed or failed.
pub type BatchObserver = Arc<dyn Fn(usize, Duration) + Send + Sync>;

/// Runs write jobs, batched on SQLite. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    route: Route,
    /// On a SQLite file, the writer for the launch's own statements.
    sqlite: Option<super::direct::DirectWriter>,
}

#[derive(Clone)]
enum Route {
    Batched(mpsc::UnboundedSender<Box<dyn Job>>),
    Direct(DatabaseConnection),
}

impl Writer {
    /// Create a writer for `db`. On SQLite this spawns the task that runs the
    /// batches, which ends when the last clone of the writer is dropped.
    /// `observe` gets the size and duration of every batch.
    ///
    /// On a SQLite file it also opens the connection of a
    /// [`DirectWriter`](super::direct::DirectWriter), which [`Self::sqlite`]
    /// returns. If that fails, the error is logged and every write takes
    /// the batches of sea-orm jobs.
    pub fn new(db: DatabaseConnection, observe: Option<BatchObserver>) -> Self {
        let sqlite = super::sqlite_file(&db).and_then(|path| {
            super::direct::DirectWriter::open(&path, observe.clone())
                .map_err(|error| tracing::warn!(%error, "launch writer unavailable; launches write through the pool"))
                .ok()
        });
        let route = match db.get_database_backend() {
            DbBackend::Sqlite => {
                let (sender, receiver) = mpsc::unbounded_channel();
                tokio::spawn(run_batches(db, receiver, observe));
                Route::Batched(sender)
            }
            _ => Route::Direct(db),
        };
        Self { route, sqlite }
    }

    /// Return the writer that runs plain functions of its own SQLite connection, on a SQLite file.
    pub fn sqlite(&self) -> Option<&super::direct::DirectWriter> {
        self.sqlite.as_ref()
    }

    /// Run `work` in a transaction and return its output once the
    /// transaction is committed. `work` reports its own failures in `T`, and
    /// the outer error means the transaction failed to begin or commit.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbErr>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, T> + Send + 'static,
    {
        match &self.route {
            Route::Direct(db) => {
                let txn = db.begin().await?;
                let output = work(&txn).await;
                txn.commit().await?;
                Ok(output)
            }
            Route::Batched(sender) => {
                let (reply, answer) = oneshot::channel();
                sender.send(Box::new(Pending { work, reply })).map_err(|_| stopped())?;
                answer.await.map_err(|_| {
                    DbErr::Custom("the write stopped before it finished; nothing was reported as stored".to_string())
                })?
            }
        }
    }
}

impl Writer {
    /// Run one statement and return once it is stored. On a SQLite file it
    /// joins a batch of the launch writer, on in-memory SQLite one of the
    /// batches here. Elsewhere it runs on its own: a
    /// transaction around it would add a `BEGIN` and a `COMMIT`, two more
    /// round trips to the server.
    pub async fn execute(&self, statement: Statement) -> Result<(), DbErr> {
        if let Some(sqlite) = &self.sqlite {
            return sqlite.run(move |connection| super::direct::execute(connection, &statement).map(drop)).await?;
        }
        match &self.route {
            Route::Direct(db) => db.execute(statement).await.map(drop),
            Route::Batched(_) => self.write(move |txn| Box::pin(async move { txn.execute(statement).await.map(drop) })).await?,
        }
    }
}

fn stopped() -> DbErr {
    DbErr::Custom("the database writer has stopped; restart microcred".to_string())
}

async fn run_batches(
    db: DatabaseConnection,
    mut receiver: mpsc::UnboundedReceiver<Box<dyn Job>>,
    observe: Option<BatchObserver>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let _turn = super::write_turn(&db).await;
        let started = Instant::now();
        // Jobs that arrived while the batch waited for its turn join it.
        if batch.len() < MAX_BATCH {
            while let Ok(job) = receiver.try_recv() {
                batch.push(job);
                if batch.len() == MAX_BATCH {
                    break;
                }
            }
        }
        let jobs = std::mem::take(&mut batch);
        let count = jobs.len();
        let txn = match db.begin().await {
            Ok(txn) => txn,
            Err(error) => {
                tracing::error!(%error, jobs = jobs.len(), "write batch failed to begin; its callers get the error");
                for job in jobs {
                    job.fail(DbErr::Custom(format!("cannot begin the write: {error}")));
                }
                continue;
            }
        };
        let mut delivers = Vec::with_capacity(jobs.len());
        for job in jobs {
            // A panicking job loses only its own result, not the batch or the task.
            match AssertUnwindSafe(job.run(&txn)).catch_unwind().await {
                Ok(deliver) => delivers.push(deliver),
                Err(_) => tracing::error!("write job panicked; its caller gets an error and the batch goes on"),
            }
        }
        let committed = txn.commit().await;
        if let Err(error) = &committed {
            tracing::error!(%error, jobs = delivers.len(), "write batch failed to commit; its callers get the error");
        }
        deliver_all(delivers, committed.as_ref().map_err(ToString::to_string));
        if let Some(observe) = &observe {
            observe(count, started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectOptions, Database, Statement};

    use super::*;

    async fn scratch_db(dir: &tempfile::TempDir) -> DatabaseConnection {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("writer.db").display());
        let mut options = ConnectOptions::new(url);
        options.max_connections(4).sqlx_logging(false).map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(std::time::Duration::from_secs(10))
        });
        let db = Database::connect(options).await.expect("open the scratch database");
        db.execute_unprepared("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
            .await
            .expect("create the scratch table");
        db
    }

    async fn insert_note(txn: &DatabaseTransaction, body: String) -> Result<i64, DbErr> {
        let statement =
            Statement::from_sql_and_values(DbBackend::Sqlite, "INSERT INTO notes (body) VALUES (?) RETURNING id", [body.into()]);
        let row = txn.query_one(statement).await?.ok_or_else(|| DbErr::Custom("no id returned".to_string()))?;
        row.try_get_by_index::<i64>(0)
    }

    async fn count_notes(db: &DatabaseConnection) -> i64 {
        let row = db
            .query_one(Statement::from_string(DbBackend::Sqlite, "SELECT COUNT(*) FROM notes"))
            .await
            .expect("count the notes")
            .expect("a count row");
        row.try_get_by_index::<i64>(0).expect("an integer count")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writer_stores_concurrent_writes() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let db = scratch_db(&dir).await;
        let writer = Writer::new(db.clone(), None);

        let calls = (0..200).map(|n| {
            let writer = writer.clone();
            let reader = db.clone();
            tokio::spawn(async move {
                let id = writer.write(move |txn| Box::pin(insert_note(txn, format!("note {n}")))).await??;
                // The result arrives after the commit, so another connection already reads the row.
                let seen = reader
                    .query_one(Statement::from_sql_and_values(
                        DbBackend::Sqlite,
                        "SELECT body FROM notes WHERE id = ?",
                        [id.into()],
                    ))
                    .await?
                    .map(|row| row.try_get_by_index::<String>(0))
                    .transpose()?;
                Ok::<_, DbErr>((n, seen))
            })
        });
        for call in futures::future::join_all(calls).await {
            let (n, seen) = call.expect("the task ran").expect("the write succeeded");
            assert_eq!(seen, Some(format!("note {n}")));
        }
        assert_eq!(count_notes(&db).await, 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writer_failing_job_fails_alone() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let db = scratch_db(&dir).await;
        let writer = Writer::new(db.clone(), None);
        writer.write(|txn| Box::pin(insert_note(txn, "taken".to_string()))).await.unwrap().unwrap();

        let bodies = ["first", "taken", "second"];
        let calls = bodies.map(|body| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.write(move |txn| Box::pin(insert_note(txn, body.to_string()))).await })
        });
        let results: Vec<_> = futures::future::join_all(calls).await.into_iter().map(|r| r.expect("the task ran")).collect();

        assert!(results[0].as_ref().is_ok_and(|r| r.is_ok()), "{:?}", results[0]);
        let duplicate = results[1].as_ref().expect("the batch committed");
        assert!(duplicate.as_ref().is_err_and(|e| e.to_string().contains("UNIQUE")), "{duplicate:?}");
        assert!(results[2].as_ref().is_ok_and(|r| r.is_ok()), "{:?}", results[2]);
        assert_eq!(count_notes(&db).await, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writer_executes_one_statement() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let db = scratch_db(&dir).await;
        let writer = Writer::new(db.clone(), None);
        let insert = |body: &str| {
            Statement::from_sql_and_values(DbBackend::Sqlite, "INSERT INTO notes (body) VALUES (?)", [body.into()])
        };

        writer.execute(insert("one")).await.expect("the statement is stored");
        assert_eq!(count_notes(&db).await, 1);
        let duplicate = writer.execute(insert("one")).await.expect_err("a duplicate body is refused");
        assert!(duplicate.to_string().contains("UNIQUE"), "{duplicate}");
        assert_eq!(count_notes(&db).await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writer_survives_panicking_job() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let db = scratch_db(&dir).await;
        let writer = Writer::new(db.clone(), None);

        let panicking = writer.write(|_txn| -> BoxFuture<'_, ()> { Box::pin(async { panic!("a job that breaks") }) });
        let error = panicking.await.expect_err("the caller of a panicking job gets an error");
        assert!(error.to_string().contains("stopped before it finished"), "{error}");

        let id = writer.write(|txn| Box::pin(insert_note(txn, "after".to_string()))).await.unwrap().unwrap();
        assert!(id > 0);
        assert_eq!(count_notes(&db).await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn write_turns_queue_per_database_file() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let db = scratch_db(&dir).await;
        let other_dir = tempfile::tempdir().expect("a second scratch folder");
        let other_db = scratch_db(&other_dir).await;
        let writer = Writer::new(db.clone(), None);

        let turn = crate::store::write_turn(&db).await;
        let queued = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(|txn| Box::pin(insert_note(txn, "queued".to_string()))).await }
        });
        let waiting = tokio::spawn({
            let db = db.clone();
            async move {
                let _turn = crate::store::write_turn(&db).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!queued.is_finished(), "a write batch waits for the turn held before it");
        assert!(!waiting.is_finished(), "a second turn on the same file waits");
        let elsewhere = tokio::time::timeout(Duration::from_secs(5), crate::store::write_turn(&other_db)).await;
        assert!(elsewhere.is_ok(), "a turn on another file does not wait");
        assert_eq!(count_notes(&db).await, 0);

        drop(turn);
        let id = tokio::time::timeout(Duration::from_secs(10), queued)
            .await
            .expect("the batch runs once the turn ends")
            .expect("the write task ran")
            .expect("the batch commits")
            .expect("the note is inserted");
        assert!(id > 0);
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the second turn starts once the first ends")
            .expect("the turn task ran");
        assert_eq!(count_notes(&db).await, 1);
    }
}
