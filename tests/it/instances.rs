//! Several microcred instances on one database and one storage folder, as
//! behind a load balancer: a launch whose two requests reach different
//! instances, a session used on every instance, and instances that start
//! together on a fresh database.
//!
//! Each instance listens on its own port of 127.0.0.1. Browsers send
//! cookies by host whatever the port, so the test browser carries the
//! session cookie from one instance to the other as it would behind one
//! public address.

use std::collections::HashMap;

use futures::future::join_all;
use microcred::startup::Application;
use microcred::store::entities::{credential, credential_version, secret, tool_key};
use microcred::workflow::catalogue;
use microcred_testkit::{claim, role, PlatformOptions, StatusCode, TestPlatform, TestUser};
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};

use crate::assessor_pages::{form_to, stored_attempt};
use crate::participant_pages::{
    draft_attempt_id, http_client, open_draft, pdf_bytes, save_draft, shows, submit_draft, upload, words, DESIGN,
    EXIT_TICKETS,
};
use crate::support::{self, describe, launch_across, launch_to_app, registration, TestApp, TestDatabase, Visitor};

/// Number of instances that start together on a fresh database.
const CONCURRENT_STARTS: usize = 4;

/// Starts two instances on one database and storage folder, and a test
/// platform registered once (in the shared database) that accepts both
/// instances' redirect URIs.
async fn start_pair() -> (TestApp, TestApp, TestPlatform) {
    let first = TestApp::spawn().await;
    let second = first.spawn_sibling(|_| {}).await;
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    platform.allow_redirect_uri(&first.launch_url());
    platform.allow_redirect_uri(&second.launch_url());
    first.register(registration(&platform)).await;
    (first, second, platform)
}

/// Builds an instructor's launch into the platform's default course through a resource link of their own.
fn coach_claims(app: &TestApp, platform: &TestPlatform) -> microcred_testkit::LaunchClaims {
    let coach = TestUser::new("testkit-user-coach", "Carol", "Coach", "carol.coach@example.edu");
    platform
        .resource_link_claims(&app.launch_url())
        .with_user(&coach)
        .with_roles([role::INSTRUCTOR])
        .with(&[claim::RESOURCE_LINK, "id"], "testkit-resource-link-coach")
}

/// Returns the URL of `page` on `app` instead of the instance that served it.
fn on(app: &TestApp, page: &microcred_testkit::Page) -> String {
    let mut url = page.url.clone();
    let base = url::Url::parse(&app.base).expect("the app's base URL parses");
    url.set_port(base.port()).expect("an http URL takes a port");
    url.to_string()
}

#[tokio::test]
async fn launch_crosses_instances_both_ways() {
    let (first, second, platform) = start_pair().await;

    let forward = launch_across(&platform, &first, &second, platform.resource_link_claims(&first.launch_url())).await;
    let backward = launch_across(&platform, &second, &first, platform.resource_link_claims(&second.launch_url())).await;

    assert!(shows(&forward.landing, "Ada Lovelace"), "{}", describe(&forward.landing));
    assert!(shows(&backward.landing, "Ada Lovelace"), "{}", describe(&backward.landing));
    // Either instance accepts the session that the other opened.
    for (visitor, app) in [(&forward, &first), (&backward, &second)] {
        let page = visitor.get(app, "/app/catalogue").await;
        assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    }
}

#[tokio::test]
async fn spent_state_rejected_on_other_instance() {
    let (first, second, platform) = start_pair().await;
    let visitor = launch_across(&platform, &first, &second, platform.resource_link_claims(&first.launch_url())).await;
    let launch = visitor.landing.hop_to("/lti/launch").expect("the browser posted to /lti/launch");
    let fields: Vec<(&str, &str)> = ["id_token", "state"]
        .into_iter()
        .map(|name| (name, launch.form_field(name).expect("the launch form field")))
        .collect();

    let replay = visitor.browser.post_form(&first.launch_url(), &fields).await;

    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", describe(&replay));
    assert!(replay.body.contains("state_already_used"), "{}", describe(&replay));
}

#[tokio::test]
async fn session_works_on_every_instance() {
    let (first, second, platform) = start_pair().await;
    let learner: Visitor = launch_to_app(&first, &platform, platform.resource_link_claims(&first.launch_url())).await;
    let text = words(260);
    let reflection = words(60);

    // Open a component and save a draft on the second instance.
    let component = open_draft(&second, &learner, EXIT_TICKETS, DESIGN).await;
    assert!(component.url.as_str().starts_with(&second.base), "{}", component.url);
    let saved = save_draft(&learner, &component, &text, &reflection).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", describe(&saved));
    assert!(shows(&saved, "Your draft is saved."), "{}", describe(&saved));
    let attempt_id = draft_attempt_id(&saved);

    // Attach a file and submit on the first instance.
    let bytes = pdf_bytes(2048);
    let uploaded = upload(&first, &learner, attempt_id, "ticket.pdf", "application/pdf", bytes.clone()).await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let on_first = learner.browser.get(&on(&first, &saved)).await;
    assert!(on_first.url.as_str().starts_with(&first.base), "{}", on_first.url);
    assert!(shows(&on_first, "ticket.pdf"), "{}", describe(&on_first));
    let submitted = submit_draft(&learner, &on_first, &text, &reflection).await;
    assert_eq!(submitted.status, StatusCode::OK, "{}", describe(&submitted));
    assert!(shows(&submitted, "Your work is submitted."), "{}", describe(&submitted));

    // Download the file from the second instance, which reads the shared storage folder.
    let attempt = learner.get(&second, &format!("/app/attempts/{attempt_id}")).await;
    assert_eq!(attempt.status, StatusCode::OK, "{}", describe(&attempt));
    let file_path = support::text_between(&attempt.body, "<a href=\"/app/files/", "?_s=")
        .map(|id| format!("/app/files/{id}"))
        .unwrap_or_else(|| panic!("no download link: {}", describe(&attempt)));
    let download = http_client().get(learner.url(&second, &file_path)).send().await.expect("download the file");
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.expect("read the download").as_ref(), bytes.as_slice());

    // An assessor launched on the first instance assesses on the second.
    let coach = launch_to_app(&first, &platform, coach_claims(&first, &platform)).await;
    let path = format!("/app/assess/attempts/{attempt_id}");
    let form_page = coach.get(&second, &path).await;
    assert_eq!(form_page.status, StatusCode::OK, "{}", describe(&form_page));
    let entry = catalogue::by_slug(&second.state.db, EXIT_TICKETS).await.expect("read the sample micro-credential");
    let design = entry.definition.components.iter().find(|c| c.key == DESIGN).expect("the design component");
    let mut form = form_to(&form_page, &path);
    for criterion in &design.rubric.criteria {
        form.set_field(&format!("rating.{}", criterion.key), &criterion.mastery_level);
    }
    let assessed = coach.browser.form_request(&form).follow_redirects(false).send().await;

    assert_eq!(assessed.status, StatusCode::SEE_OTHER, "{}", describe(&assessed));
    assert!(form.action.as_str().starts_with(&second.base), "the assessment went to {}", form.action);
    assert_eq!(stored_attempt(&first, attempt_id).await.decision.as_deref(), Some("mastered"));
    let result = learner.get(&first, &format!("/app/attempts/{attempt_id}")).await;
    assert!(shows(&result, "Mastered"), "{}", describe(&result));
}

/// Returns how many times each migration is recorded in `seaql_migrations`.
async fn applied_migrations(app: &TestApp) -> HashMap<String, i64> {
    let db = &app.state.db;
    let statement = Statement::from_string(
        db.get_database_backend(),
        "SELECT version, COUNT(*) AS times FROM seaql_migrations GROUP BY version",
    );
    let rows = db.query_all(statement).await.expect("read seaql_migrations");
    rows.iter()
        .map(|row| {
            let version: String = row.try_get("", "version").expect("a version");
            let times: i64 = row.try_get("", "times").expect("a count");
            (version, times)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_set_up_once() {
    let database = std::sync::Arc::new(TestDatabase::create().await);
    let builds = (0..CONCURRENT_STARTS).map(|_| {
        let settings = support::settings(&database.url, &database.folder());
        microcred::telemetry::init(&settings.log);
        tokio::spawn(Application::build(settings))
    });

    let results = join_all(builds).await;

    let mut apps = Vec::new();
    for (number, result) in results.into_iter().enumerate() {
        let result = result.expect("the start task ran to its end");
        let app = result.unwrap_or_else(|error| panic!("instance {number} did not start: {error:#}"));
        apps.push(TestApp::serve(app, database.clone()));
    }
    for app in &apps {
        let health = http_client().get(app.url("/healthz")).send().await.expect("request /healthz");
        assert_eq!(health.status(), StatusCode::OK, "{}", app.base);
    }
    let db = &apps[0].state.db;
    let migrations = applied_migrations(&apps[0]).await;
    let expected: HashMap<String, i64> =
        migration::Migrator::migrations().iter().map(|m| (m.name().to_string(), 1)).collect();
    assert_eq!(migrations, expected, "each migration is recorded once");
    let samples = microcred_domain::Catalogue::load_dir(&apps[0].state.settings.catalogue.samples_path)
        .expect("read the sample catalogue");
    let credentials = credential::Entity::find().count(db).await.expect("count micro-credentials");
    let versions = credential_version::Entity::find().count(db).await.expect("count versions");
    assert_eq!(credentials as usize, samples.micro_credentials.len(), "each sample is loaded once");
    assert_eq!(versions as usize, samples.micro_credentials.len(), "each sample has one version");
    let keys = tool_key::Entity::find().all(db).await.expect("read the signing keys");
    let states: Vec<&str> = keys.iter().map(|key| key.status.as_str()).collect();
    assert_eq!(states, ["active", "next"], "one signing key and one published for the next rotation");
    let secrets = secret::Entity::find().all(db).await.expect("read the secrets");
    assert_eq!(secrets.iter().filter(|row| row.name == "page_token_key").count(), 1);
}

/// Returns the server process id of the connection the pool lends `db` for one query.
async fn server_process_of(db: &sea_orm::DatabaseConnection) -> Result<i32, sea_orm::DbErr> {
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), "SELECT pg_backend_pid() AS pid"))
        .await?
        .expect("a row");
    row.try_get("", "pid")
}

#[tokio::test]
async fn postgres_connection_closed_while_idle_is_replaced() {
    if support::backend() != support::Backend::Postgres {
        eprintln!(
            "postgres_connection_closed_while_idle_is_replaced: skipped because it runs on PostgreSQL only (MICROCRED_TEST_DB=postgres)"
        );
        return;
    }
    let database = TestDatabase::create().await;
    let mut settings = support::settings(&database.url, &database.folder()).database;
    settings.max_connections = 1;
    let db = microcred::store::connect(&settings).await.expect("open the pool");
    let first = server_process_of(&db).await.expect("a query on a new pool");

    // The server ends the pooled connection, as a restart or an idle timeout would.
    let admin = sea_orm::Database::connect(&database.url).await.expect("a second connection");
    admin.execute_unprepared(&format!("SELECT pg_terminate_backend({first})")).await.expect("end the connection");
    let still_open = format!("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = {first}");
    for _ in 0..200 {
        let row = admin.query_one(Statement::from_string(admin.get_database_backend(), still_open.clone())).await;
        let left: i64 = row.expect("read the server's connections").expect("a row").try_get("", "n").expect("a count");
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(microcred::store::POSTGRES_IDLE_CHECK).await;

    let second = server_process_of(&db).await.expect("the pool replaces the closed connection before lending it");
    assert_ne!(second, first);
}

/// Returns the error `Application::build` gives for `database_url`.
async fn start_error(database_url: &str) -> String {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let settings = support::settings(database_url, folder.path());
    match Application::build(settings).await {
        Ok(_) => panic!("the tool started on {database_url}"),
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn postgres_port_without_server_reported_at_once() {
    // A port that was free a moment ago: nothing listens on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address").port()
    };
    let message = start_error(&format!("postgres://postgres:hunter22@127.0.0.1:{port}/microcred")).await;
    assert!(message.contains(&format!("connection refused at 127.0.0.1:{port}: no PostgreSQL server is running there")), "{message}");
    assert!(message.contains("correct the host and port in database.url"), "{message}");
    assert!(!message.contains("hunter22"), "the password is not shown: {message}");
}

#[tokio::test]
async fn postgres_missing_database_named_with_remedy() {
    if support::backend() != support::Backend::Postgres {
        eprintln!(
            "postgres_missing_database_named_with_remedy: skipped because it runs on PostgreSQL only (MICROCRED_TEST_DB=postgres)"
        );
        return;
    }
    let existing = TestDatabase::create().await;
    let mut url = url::Url::parse(&existing.url).expect("a database URL");
    let missing = format!("mc_missing_{}", uuid::Uuid::new_v4().simple());
    url.set_path(&format!("/{missing}"));
    let message = start_error(url.as_str()).await;
    assert!(message.contains(&format!("has no database named \"{missing}\"")), "{message}");
    assert!(message.contains(&format!("`createdb {missing}`")), "{message}");

    let mut unknown_user = url::Url::parse(&existing.url).expect("a database URL");
    unknown_user.set_username("mc_no_such_role").expect("a URL with a user");
    let message = start_error(unknown_user.as_str()).await;
    assert!(message.contains("rejected the user \"mc_no_such_role\""), "{message}");
    assert!(message.contains("check the user and password in database.url"), "{message}");
}

#[tokio::test]
async fn malformed_database_url_named_without_password() {
    let cases = [
        ("mysql://app:hunter22@127.0.0.1/microcred", "microcred does not support \"mysql\" databases"),
        ("postgres://app:hunter22@127.0.0.1:badport/microcred", "the URL is malformed (invalid port number)"),
        ("postgres://app:hunter22@/microcred", "the URL is malformed (empty host)"),
    ];
    for (url, expected) in cases {
        let message = start_error(url).await;
        assert!(message.contains(expected), "{message}");
        assert!(message.contains("use sqlite://PATH?mode=rwc or postgres://"), "{message}");
        assert!(!message.contains("hunter22"), "the password is not shown: {message}");
    }
}

#[tokio::test]
async fn sqlite_url_without_create_mode_names_remedy() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let message = start_error(&format!("sqlite://{}/microcred.db", folder.path().display())).await;
    assert!(message.contains("unable to open database file"), "{message}");
    assert!(message.contains("add ?mode=rwc to database.url"), "{message}");
}

#[test]
fn command_help_names_settings_sources() {
    for args in [&["serve", "--help"][..], &["migrate", "--help"], &["platform", "add", "--help"]] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_microcred")).args(args).output().expect("run microcred");
        assert!(output.status.success(), "{args:?}: {output:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("then --config FILE, then MICROCRED__ environment variables"), "{args:?}: {help}");
        assert!(help.contains("MICROCRED__DATABASE__URL names the database"), "{args:?}: {help}");
    }
}
