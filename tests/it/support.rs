//! The test application: microcred on 127.0.0.1 with its own database,
//! further instances on that database, and the launch helpers that the test
//! modules share.
//!
//! `MICROCRED_TEST_DB` picks the database: `sqlite` (the default) gives each
//! test a SQLite file in a temporary folder; `postgres` gives each test a
//! fresh database on the server at `MICROCRED_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped when the test ends.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use microcred::config::Settings;
use microcred::platforms::{self, PlatformInput};
use microcred::sessions::{self, Session};
use microcred::startup::Application;
use microcred::state::AppState;
use microcred::workflow::access::Viewer;
use microcred_testkit::{Browser, LaunchClaims, LaunchSpec, LaunchStage, Page, StatusCode, TestPlatform};
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
    /// Shared with the other instances started on the same database.
    pub database: Arc<TestDatabase>,
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
        Self::start_on(settings, Arc::new(database)).await
    }

    /// Start an instance with `settings` on a database that other instances may share.
    pub async fn start_on(settings: Settings, database: Arc<TestDatabase>) -> TestApp {
        microcred::telemetry::init(&settings.log);
        let app = Application::build(settings).await.expect("build the application");
        Self::serve(app, database)
    }

    /// Start another instance on this app's database and storage folder, as
    /// a second server behind the same load balancer runs, with its settings
    /// changed by `configure`.
    pub async fn spawn_sibling(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = settings(&self.database.url, &self.database.folder());
        configure(&mut settings);
        Self::start_on(settings, self.database.clone()).await
    }

    /// Serve a built application until the returned value is stopped or dropped.
    pub fn serve(app: Application, database: Arc<TestDatabase>) -> TestApp {
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

/// Returns the registration of `platform` with its one deployment, as `microcred platform add` takes it.
pub fn registration(platform: &TestPlatform) -> PlatformInput {
    PlatformInput {
        issuer: platform.issuer().to_string(),
        client_id: platform.client_id().to_string(),
        deployment_ids: vec![platform.deployment_id().to_string()],
        auth_url: platform.auth_url(),
        token_url: platform.token_url(),
        jwks_url: platform.jwks_url(),
        token_audience: None,
        manages_registrations: false,
    }
}

pub fn text_between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let length = text[from..].find(end)?;
    Some(&text[from..from + length])
}

/// Status, URL and main content of a page, for assertion messages.
pub fn describe(page: &Page) -> String {
    let content = text_between(&page.body, "<main id=\"main\">", "</main>").unwrap_or(&page.body);
    format!("{} {}\n{}", page.status, page.url, content.trim())
}

/// Returns `path` on `app` with the page token `token` added to its query.
pub fn url_with_token(app: &TestApp, path: &str, token: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    app.url(&format!("{path}{separator}_s={token}"))
}

/// Reads the session that a page token names.
pub async fn session_of(app: &TestApp, token: &str) -> Session {
    let session_id = app.state.page_tokens.verify(token).expect("the page token verifies");
    sessions::resolve_by_id(&app.state, &session_id)
        .await
        .expect("read the session")
        .expect("the page token's session is live")
}

/// A user launched to the tool's landing page: the browser and the page
/// token the launch ended with.
pub struct Visitor {
    pub browser: Browser,
    pub token: String,
    pub landing: Page,
}

impl Visitor {
    /// Returns an app URL with the page token added to its query.
    pub fn url(&self, app: &TestApp, path: &str) -> String {
        url_with_token(app, path, &self.token)
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> Page {
        self.browser.get(&self.url(app, path)).await
    }

    pub async fn viewer(&self, app: &TestApp) -> Viewer {
        Viewer::from(&session_of(app, &self.token).await)
    }
}

/// Returns the page token in the query of the URL a launch ended on.
fn landing_token(landing: &Page) -> String {
    landing
        .url
        .query_pairs()
        .find(|(name, _)| name == "_s")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("the launch ended without a page token: {}", describe(landing)))
}

/// Checks that a launch ended on the tool's landing page, `/app`, and returns its visitor.
fn landed(browser: Browser, landing: Page) -> Visitor {
    assert_eq!(landing.status, StatusCode::OK, "{}", describe(&landing));
    assert_eq!(landing.url.path(), "/app", "{}", describe(&landing));
    let token = landing_token(&landing);
    Visitor { browser, token, landing }
}

/// Launches `claims` in a new browser and checks that it ends on `/app`.
pub async fn launch_to_app(app: &TestApp, platform: &TestPlatform, claims: LaunchClaims) -> Visitor {
    let browser = Browser::new();
    let landing = platform.launch(&browser, &app.login_url(), LaunchSpec::new(claims)).await;
    landed(browser, landing)
}

/// Launches `claims` in a new browser with the login initiation sent to
/// `login_app` and the id_token posted to `launch_app`, as a load balancer
/// may route the two requests to different instances, and checks that it
/// ends on `/app` of `launch_app`.
pub async fn launch_across(
    platform: &TestPlatform,
    login_app: &TestApp,
    launch_app: &TestApp,
    claims: LaunchClaims,
) -> Visitor {
    let browser = Browser::new();
    let spec = LaunchSpec::new(claims).stop_after(LaunchStage::Authorization);
    let authorization = platform.launch(&browser, &login_app.login_url(), spec).await;
    let mut form = authorization
        .form()
        .unwrap_or_else(|| panic!("the platform returned no form_post page: {}", describe(&authorization)));
    assert_eq!(form.action.as_str(), login_app.launch_url(), "the platform posts to the redirect URI of the login");
    form.action = url::Url::parse(&launch_app.launch_url()).expect("the launch URL parses");
    let landing = browser.submit_form(&form).await;
    let visitor = landed(browser, landing);
    assert!(
        visitor.landing.url.as_str().starts_with(&launch_app.base),
        "the launch ended on another instance: {}",
        visitor.landing.url
    );
    visitor
}
