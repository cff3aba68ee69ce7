//! The test application: microcred on 127.0.0.1 with its own database.
//!
//! `MICROCRED_TEST_DB` picks the database: `sqlite` (the default) gives each
//! test a SQLite file in a temporary folder; `postgres` gives each test a
//! fresh database on the server at `MICROCRED_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped when the test ends.

#![allow(dead_code)]

use std::path::PathBuf;

use microcred::config::Settings;
use microcred::platforms::{self, PlatformInput};
use microcred::startup::Application;
use microcred::state::AppState;
use sea_orm::{ConnectionTrait, Database};
use tokio::sync::oneshot;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn backend() -> Backend {
    match std::env::var("MICROCRED_TEST_DB").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

fn postgres_admin_url() -> String {
    std::env::var("MICROCRED_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string())
}

/// A database for one test.
pub struct TestDatabase {
    pub url: String,
    postgres_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let dir = tempfile::tempdir().expect("create a temporary folder for the test database");
        match backend() {
            Backend::Sqlite => {
                let path = dir.path().join("microcred.db");
                TestDatabase { url: format!("sqlite://{}?mode=rwc", path.display()), postgres_name: None, _dir: dir }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = format!("mc_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("connect to the PostgreSQL test server {admin_url}: {e}"));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create the test database");
                admin.close().await.ok();
                let mut url = url::Url::parse(&admin_url).expect("MICROCRED_TEST_POSTGRES_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDatabase { url: url.to_string(), postgres_name: Some(name), _dir: dir }
            }
        }
    }

    pub fn folder(&self) -> PathBuf {
        self._dir.path().to_path_buf()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else { return };
        let admin_url = postgres_admin_url();
        // Drop needs a runtime of its own: the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async move {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Test settings: loopback on any free port, quiet logs, files in `folder`.
pub fn settings(database_url: &str, folder: &std::path::Path) -> Settings {
    let mut settings = Settings::defaults().expect("the built-in settings parse");
    settings.server.bind = "127.0.0.1:0".parse().expect("a socket address");
    settings.server.public_url = String::new();
    settings.database.url = database_url.to_string();
    settings.database.max_connections = 5;
    settings.storage.path = folder.join("files");
    settings.catalogue.samples_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue");
    settings.log.filter = std::env::var("MICROCRED_TEST_LOG").unwrap_or_else(|_| "warn".to_string());
    settings.lti.jwks_refetch_interval_secs = 1;
    settings
}

/// microcred running on 127.0.0.1 for one test.
pub struct TestApp {
    /// Base URL, e.g. `http://127.0.0.1:41234`, without a trailing slash.
    pub base: String,
    pub state: AppState,
    pub database: TestDatabase,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Start with settings changed by `configure`.
    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
        let database = TestDatabase::create().await;
        let mut settings = settings(&database.url, &database.folder());
        configure(&mut settings);
        Self::start(settings, database).await
    }

    pub async fn start(settings: Settings, database: TestDatabase) -> TestApp {
        microcred::telemetry::init(&settings.log);
        let app = Application::build(settings).await.expect("build the application");
        let base = format!("http://{}", app.local_addr());
        let state = app.state();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = app
                .run_until(async move {
                    let _ = rx.await;
                })
                .await;
        });
        TestApp { base, state, database, shutdown: Some(tx) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn login_url(&self) -> String {
        self.url("/lti/login")
    }

    pub fn launch_url(&self) -> String {
        self.url("/lti/launch")
    }

    /// Register a platform as `microcred platform add` does.
    pub async fn register(&self, input: PlatformInput) {
        platforms::add(&self.state.db, input).await.expect("register the test platform");
    }

    /// Stop the server; the database stays until the value is dropped.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}
