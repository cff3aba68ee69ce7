//! Observability: the Prometheus metrics at `/metrics` (launch counters,
//! request latency per route, the grade passback queue and failures, the
//! database pool), its bearer token guard, and the JSON access log of the
//! `microcred` binary.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use microcred::advantage::passback;
use microcred_testkit::{
    role, Browser, LaunchSpec, NonceChoice, PlatformOptions, ServiceEndpoint, StatusCode, TestPlatform,
};
use serde_json::Value;

use crate::advantage::{launch_ada, make_pending_due, start_with as start_advantage, submit};
use crate::support::{backend, describe, launch_to_app, registration, Backend, TestApp, TestDatabase};

const COMPLETED: &str = r#"microcred_launches_total{outcome="completed",reason=""}"#;
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const SCRAPE_TOKEN: &str = "scrape-token-7c1d0e55b3";

/// Starts microcred with `configure` applied and a test platform registered with it.
async fn start_with(configure: impl FnOnce(&mut microcred::config::Settings)) -> (TestApp, TestPlatform) {
    let app = TestApp::spawn_with(configure).await;
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    platform.allow_redirect_uri(&app.launch_url());
    app.register(registration(&platform)).await;
    (app, platform)
}

async fn start() -> (TestApp, TestPlatform) {
    start_with(|_| {}).await
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("build an HTTP client")
}

/// One scrape of `/metrics`: the text and its samples by series
/// (`name{labels}`, exactly as exposed).
struct Scrape {
    text: String,
    samples: HashMap<String, f64>,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
        let mut samples = HashMap::new();
        for line in text.lines().filter(|line| !line.starts_with('#') && !line.trim().is_empty()) {
            let (series, value) =
                line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line without a value: {line:?}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("a sample with a non-numeric value: {line:?}"));
            samples.insert(series.to_string(), value);
        }
        Scrape { text, samples }
    }

    /// Returns the value of `series`, or 0 when the scrape does not have it.
    fn value(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }

    /// Returns the samples whose series starts with `prefix`.
    fn starting_with(&self, prefix: &str) -> HashMap<String, f64> {
        self.samples.iter().filter(|(series, _)| series.starts_with(prefix)).map(|(s, v)| (s.clone(), *v)).collect()
    }
}

async fn scrape(app: &TestApp) -> Scrape {
    let response = http_client().get(app.url("/metrics")).send().await.expect("request /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE));
    Scrape::parse(response.text().await.expect("read the metrics"))
}

/// Returns the change of every launch counter between two scrapes, leaving out those that did not change.
fn launch_changes(before: &Scrape, after: &Scrape) -> HashMap<String, f64> {
    after
        .starting_with("microcred_launches_total")
        .into_iter()
        .map(|(series, value)| {
            let change = value - before.value(&series);
            (series, change)
        })
        .filter(|(_, change)| *change != 0.0)
        .collect()
}

fn failed(reason: &str) -> String {
    format!(r#"microcred_launches_total{{outcome="failed",reason="{reason}"}}"#)
}

fn request_count(method: &str, route: &str, status_class: &str) -> String {
    format!(
        r#"microcred_http_request_duration_seconds_count{{method="{method}",route="{route}",status_class="{status_class}"}}"#
    )
}

fn queue(state: &str) -> String {
    format!(r#"microcred_passback_queue_scores{{state="{state}"}}"#)
}

fn send_failures(kind: &str) -> String {
    format!(r#"microcred_passback_send_failures_total{{kind="{kind}"}}"#)
}

// Launch counters.

#[tokio::test]
async fn launch_counters_change_by_one_each() {
    let (app, platform) = start().await;
    let before = scrape(&app).await;

    launch_to_app(&app, &platform, platform.resource_link_claims(&app.launch_url())).await;
    let middle = scrape(&app).await;
    let spec = LaunchSpec::new(platform.resource_link_claims(&app.launch_url()))
        .nonce(NonceChoice::Fixed("nonce-never-issued".into()));
    let rejected = platform.launch(&Browser::new(), &app.login_url(), spec).await;
    let after = scrape(&app).await;

    assert_eq!(rejected.status, StatusCode::BAD_REQUEST, "{}", describe(&rejected));
    let first = launch_changes(&before, &middle);
    assert_eq!(first, HashMap::from([(COMPLETED.to_string(), 1.0)]), "{}", middle.text);
    let second = launch_changes(&middle, &after);
    assert_eq!(second, HashMap::from([(failed("nonce_mismatch"), 1.0)]), "{}", after.text);
}

#[tokio::test]
async fn login_rejection_counts_its_reason() {
    let (app, _platform) = start().await;
    let before = scrape(&app).await;

    let page = Browser::new()
        .get(&format!(
            "{}?iss=https%3A%2F%2Funknown.example.org&login_hint=ada&target_link_uri={}",
            app.login_url(),
            url::form_urlencoded::byte_serialize(app.launch_url().as_bytes()).collect::<String>()
        ))
        .await;
    let after = scrape(&app).await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", describe(&page));
    assert_eq!(launch_changes(&before, &after), HashMap::from([(failed("unknown_issuer"), 1.0)]), "{}", after.text);
}

// Request latency.

#[tokio::test]
async fn request_histogram_labels_route_templates() {
    let (app, platform) = start().await;
    let learner = launch_to_app(&app, &platform, platform.resource_link_claims(&app.launch_url())).await;

    let overview = learner.get(&app, "/app/credentials/exit-tickets").await;
    let missing = http_client().get(app.url("/no-such-page/12345")).send().await.expect("request a missing page");
    let metrics = scrape(&app).await;

    assert_eq!(overview.status, StatusCode::OK, "{}", describe(&overview));
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(metrics.value(&request_count("GET", "/app/credentials/{slug}", "2xx")), 1.0, "{}", metrics.text);
    assert_eq!(metrics.value(&request_count("GET", "/app", "2xx")), 1.0, "{}", metrics.text);
    assert_eq!(metrics.value(&request_count("POST", "/lti/launch", "3xx")), 1.0, "{}", metrics.text);
    assert_eq!(metrics.value(&request_count("GET", "unmatched", "4xx")), 1.0, "{}", metrics.text);
    let inf_bucket = r#"microcred_http_request_duration_seconds_bucket{method="GET",route="/app/credentials/{slug}",status_class="2xx",le="+Inf"}"#;
    assert_eq!(metrics.value(inf_bucket), 1.0, "{}", metrics.text);
    let buckets = metrics.starting_with(
        r#"microcred_http_request_duration_seconds_bucket{method="GET",route="/app/credentials/{slug}""#,
    );
    assert!(buckets.len() > 5, "the route has a bucket series per bound: {buckets:?}");
    assert!(!metrics.text.contains("exit-tickets"), "a raw path reached a label:\n{}", metrics.text);
    assert!(!metrics.text.contains("no-such-page"), "a raw path reached a label:\n{}", metrics.text);
}

// Grade passback.

#[tokio::test]
async fn passback_queue_and_failures() {
    let (app, platform) = start_advantage(|settings| settings.passback.enabled = false).await;
    let (ada, _) = launch_ada(&app, &platform).await;
    let empty = scrape(&app).await;

    submit(&app, &ada, "norms").await;
    let queued = scrape(&app).await;
    platform.fail_next(ServiceEndpoint::Scores, 1, 503);
    passback::run_once(&app.state.services).await.expect("run the passback worker once");
    let retried = scrape(&app).await;
    make_pending_due(&app).await;
    platform.fail_next(ServiceEndpoint::Scores, 1, 400);
    passback::run_once(&app.state.services).await.expect("run the passback worker again");
    let parked = scrape(&app).await;

    for state in ["pending", "sending", "failed"] {
        assert_eq!(empty.value(&queue(state)), 0.0, "{state}: {}", empty.text);
        assert!(empty.samples.contains_key(&queue(state)), "{state} is exposed at 0: {}", empty.text);
    }
    assert_eq!(queued.value(&queue("pending")), 1.0, "{}", queued.text);
    assert_eq!(queued.value(&queue("failed")), 0.0, "{}", queued.text);
    assert_eq!(retried.value(&queue("pending")), 1.0, "a retried score stays pending: {}", retried.text);
    assert_eq!(retried.value(&send_failures("retried")), 1.0, "{}", retried.text);
    assert_eq!(retried.value(&send_failures("parked")), 0.0, "{}", retried.text);
    assert_eq!(parked.value(&queue("pending")), 0.0, "{}", parked.text);
    assert_eq!(parked.value(&queue("failed")), 1.0, "{}", parked.text);
    assert_eq!(parked.value(&send_failures("retried")), 1.0, "{}", parked.text);
    assert_eq!(parked.value(&send_failures("parked")), 1.0, "{}", parked.text);
}

// Database pool.

#[tokio::test]
async fn database_pool_gauges() {
    let (app, _platform) = start().await;

    let metrics = scrape(&app).await;

    assert_eq!(metrics.value("microcred_db_pool_max"), 5.0, "the test settings' max_connections: {}", metrics.text);
    let size = metrics.value("microcred_db_pool_size");
    let idle = metrics.value("microcred_db_pool_idle");
    assert!((1.0..=5.0).contains(&size), "open connections {size}: {}", metrics.text);
    assert!(idle <= size, "idle {idle} of {size} open: {}", metrics.text);
}

#[tokio::test]
async fn write_batches_follow_backend() {
    let (app, platform) = start().await;
    let before = scrape(&app).await;

    launch_to_app(&app, &platform, platform.resource_link_claims(&app.launch_url())).await;
    let after = scrape(&app).await;

    // The login carries its state in a token and writes nothing; the launch writes its rows in one job.
    let jobs = after.value("microcred_db_write_batch_jobs_sum") - before.value("microcred_db_write_batch_jobs_sum");
    let batches =
        after.value("microcred_db_write_batch_jobs_count") - before.value("microcred_db_write_batch_jobs_count");
    let timed = after.value("microcred_db_write_batch_seconds_count")
        - before.value("microcred_db_write_batch_seconds_count");
    match backend() {
        // SQLite commits a launch's writes in batches.
        Backend::Sqlite => {
            assert_eq!(jobs, 1.0, "{}", after.text);
            assert_eq!(batches, 1.0, "{}", after.text);
            assert_eq!(timed, 1.0, "{}", after.text);
        }
        // PostgreSQL runs each write in a transaction of its own, outside any batch.
        Backend::Postgres => {
            assert_eq!(jobs, 0.0, "{}", after.text);
            assert_eq!(batches, 0.0, "{}", after.text);
        }
    }
}

// The token guard and the switch.

#[tokio::test]
async fn token_guard_requires_bearer_token() {
    let (app, _platform) = start_with(|settings| settings.metrics.token = Some(SCRAPE_TOKEN.to_string())).await;
    let client = http_client();

    let without = client.get(app.url("/metrics")).send().await.expect("scrape without a token");
    let wrong = client.get(app.url("/metrics")).bearer_auth("scrape-token-wrong").send().await.expect("scrape");
    let basic = client.get(app.url("/metrics")).basic_auth("prometheus", Some(SCRAPE_TOKEN)).send().await.expect("scrape");
    let right = client.get(app.url("/metrics")).bearer_auth(SCRAPE_TOKEN).send().await.expect("scrape");

    for response in [without, wrong, basic] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_eq!(challenge.as_deref(), Some("Bearer realm=\"metrics\""));
        let body = response.text().await.expect("read the 401 body");
        assert!(body.contains("Authorization: Bearer <token>"), "{body}");
        assert!(body.contains("metrics.token"), "{body}");
        assert!(!body.contains(SCRAPE_TOKEN), "the 401 body shows the token: {body}");
    }
    assert_eq!(right.status(), StatusCode::OK);
    let text = right.text().await.expect("read the metrics");
    assert!(text.contains("microcred_db_pool_max"), "{text}");
}

#[tokio::test]
async fn disabled_metrics_answer_404() {
    let (app, _platform) = start_with(|settings| settings.metrics.enabled = false).await;

    let metrics = http_client().get(app.url("/metrics")).send().await.expect("request /metrics");
    let health = http_client().get(app.url("/healthz")).send().await.expect("request /healthz");

    assert_eq!(metrics.status(), StatusCode::NOT_FOUND);
    assert_eq!(health.status(), StatusCode::OK);
}

// The JSON access log of the binary.

/// The `microcred serve` child process, killed when dropped.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stdout line received so far.
    seen: Vec<String>,
}

impl Server {
    /// Waits for the next stdout line, for at most `timeout`.
    fn next_line(&mut self, timeout: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(timeout).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// Reads lines until one satisfies `done`, and returns it as JSON.
    fn wait_for(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            let Some(line) = self.next_line(Duration::from_millis(200)) else { continue };
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                if done(&value) {
                    return value;
                }
            }
        }
        panic!("microcred logged no line for {what} within 60 s; it logged:\n{}", self.seen.join("\n"));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the `microcred` binary with `args`, the settings file `config`, JSON
/// logs, and none of the caller's `MICROCRED__` variables.
fn microcred_command(config: &std::path::Path, folder: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_microcred"));
    command.arg("--config").arg(config).args(args).current_dir(folder);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MICROCRED__") {
            command.env_remove(name);
        }
    }
    command.env("MICROCRED__LOG__FORMAT", "json");
    command
}

fn start_server(config: &std::path::Path, folder: &std::path::Path) -> Server {
    let mut child = microcred_command(config, folder, &["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start microcred serve");
    let (sender, lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("the child's stdout");
    let stderr = child.stderr.take().expect("the child's stderr");
    for stream in [Box::new(stdout) as Box<dyn std::io::Read + Send>, Box::new(stderr)] {
        let sender = sender.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
    }
    Server { child, lines, seen: Vec::new() }
}

fn field<'a>(line: &'a Value, name: &str) -> &'a Value {
    line.get(name).unwrap_or_else(|| panic!("the log line has no {name}: {line}"))
}

#[tokio::test]
async fn json_log_has_one_line_per_request() {
    let database = TestDatabase::create().await;
    let folder = database.folder();
    let config = folder.join("microcred.toml");
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/catalogue");
    std::fs::write(
        &config,
        format!(
            r#"[server]
bind = "127.0.0.1:0"

[database]
url = "{url}"
max_connections = 5

[storage]
path = "{files}"

[catalogue]
samples_path = "{samples}"

[metrics]
token = "{SCRAPE_TOKEN}"

[log]
filter = "info"
"#,
            url = database.url,
            files = folder.join("files").display(),
            samples = samples.display(),
        ),
    )
    .expect("write the settings file");
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let input = registration(&platform);
    let added = microcred_command(&config, &folder, &["platform", "add"])
        .args(["--issuer", &input.issuer, "--client-id", &input.client_id])
        .args(["--deployment-id", &input.deployment_ids[0], "--auth-url", &input.auth_url])
        .args(["--token-url", &input.token_url, "--jwks-url", &input.jwks_url])
        .output()
        .expect("run microcred platform add");
    assert!(added.status.success(), "platform add failed: {}", String::from_utf8_lossy(&added.stderr));

    let mut server = start_server(&config, &folder);
    let listening = server.wait_for("the listening address", |line| line["message"] == "microcred is listening");
    let address = field(&listening, "address").as_str().expect("the address is a string").to_string();
    let app_base = format!("http://{address}");
    platform.allow_redirect_uri(&format!("{app_base}/lti/launch"));

    // A launch, pages by page token and by cookie, the metrics with and
    // without the token, and a page that does not exist.
    let browser = Browser::new();
    let claims = platform.resource_link_claims(&format!("{app_base}/lti/launch")).with_roles([role::LEARNER]);
    let landing = platform.launch(&browser, &format!("{app_base}/lti/login"), LaunchSpec::new(claims)).await;
    assert_eq!(landing.status, StatusCode::OK, "{}", describe(&landing));
    let page_token = landing
        .url
        .query_pairs()
        .find(|(name, _)| name == "_s")
        .map(|(_, value)| value.into_owned())
        .expect("the landing URL has a page token");
    let launch_hop = landing.hop_to("/lti/launch").expect("the browser posted to /lti/launch");
    let id_token = launch_hop.form_field("id_token").expect("the launch posted an id_token").to_string();
    let state = launch_hop.form_field("state").expect("the launch posted a state").to_string();
    let session_cookie = browser.cookie("microcred_session").expect("the launch set the session cookie").value;
    let catalogue = browser.get(&format!("{app_base}/app/catalogue?_s={page_token}")).await;
    let by_cookie = browser.get(&format!("{app_base}/app/catalogue")).await;
    let client = http_client();
    let scraped = client
        .get(format!("{app_base}/metrics"))
        .bearer_auth(SCRAPE_TOKEN)
        .header("x-request-id", "scrape-with-token")
        .send()
        .await
        .expect("scrape with the token");
    let refused = client.get(format!("{app_base}/metrics")).send().await.expect("scrape without a token");
    let missing = client.get(format!("{app_base}/no-such-page")).send().await.expect("request a missing page");
    assert_eq!(catalogue.status, StatusCode::OK, "{}", describe(&catalogue));
    assert_eq!(by_cookie.status, StatusCode::OK, "{}", describe(&by_cookie));
    assert_eq!(scraped.status(), StatusCode::OK);
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // The request id of every request the tool served, from its x-request-id header.
    let header_id = |headers: &reqwest::header::HeaderMap| {
        headers.get("x-request-id").and_then(|v| v.to_str().ok()).expect("an x-request-id header").to_string()
    };
    let mut expected: Vec<(String, &str, &str, u64)> = Vec::new();
    for hop in landing.hops.iter().filter(|hop| hop.url.as_str().starts_with(&app_base)) {
        let route = match hop.url.path() {
            "/lti/login" => "/lti/login",
            "/lti/launch" => "/lti/launch",
            "/app" => "/app",
            other => panic!("the launch requested an unexpected tool path {other}"),
        };
        expected.push((header_id(&hop.headers), hop.method.as_str(), route, u64::from(hop.status.as_u16())));
    }
    expected.push((header_id(&catalogue.headers), "GET", "/app/catalogue", 200));
    expected.push((header_id(&by_cookie.headers), "GET", "/app/catalogue", 200));
    expected.push((header_id(scraped.headers()), "GET", "/metrics", 200));
    expected.push((header_id(refused.headers()), "GET", "/metrics", 401));
    expected.push((header_id(missing.headers()), "GET", "unmatched", 404));
    assert_eq!(expected.len(), 8, "three launch requests and five others");
    assert!(expected.iter().any(|(id, ..)| id == "scrape-with-token"), "the tool keeps a valid incoming request id");

    let last_id = expected.last().map(|(id, ..)| id.clone()).expect("a request id");
    server.wait_for("the last request", |line| line["message"] == "request completed" && line["request_id"] == last_id);
    // The lines of the other requests came before; give stragglers from other tasks a moment.
    while server.next_line(Duration::from_millis(300)).is_some() {}
    let log = std::mem::take(&mut server.seen);
    drop(server);

    let parsed: Vec<Value> = log
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}")))
        .collect();
    for (id, method, route, status) in &expected {
        let lines: Vec<&Value> = parsed
            .iter()
            .filter(|line| line["message"] == "request completed" && line["request_id"] == id.as_str())
            .collect();
        assert_eq!(lines.len(), 1, "request {id} ({method} {route}) has {} access log lines:\n{}", lines.len(), log.join("\n"));
        let line = lines[0];
        assert_eq!(field(line, "method").as_str(), Some(*method), "{line}");
        assert_eq!(field(line, "route").as_str(), Some(*route), "{line}");
        assert_eq!(field(line, "status").as_u64(), Some(*status), "{line}");
        let latency = field(line, "latency_ms").as_f64().unwrap_or_else(|| panic!("latency_ms is no number: {line}"));
        assert!(latency >= 0.0, "{line}");
        assert!(field(line, "path").is_string(), "{line}");
    }
    let access_lines = parsed.iter().filter(|line| line["message"] == "request completed").count();
    assert_eq!(access_lines, expected.len(), "one access log line per request:\n{}", log.join("\n"));
    let catalogue_line = parsed
        .iter()
        .find(|line| line["request_id"] == expected[3].0.as_str() && line["message"] == "request completed")
        .expect("the catalogue request's line");
    assert!(catalogue_line["user_id"].is_i64(), "the line of a request with a session names its user: {catalogue_line}");

    let text = log.join("\n");
    for (what, secret) in [
        ("page token", page_token.as_str()),
        ("session cookie", session_cookie.as_str()),
        ("login state", state.as_str()),
        ("id_token", id_token.as_str()),
        ("metrics token", SCRAPE_TOKEN),
    ] {
        assert!(!text.contains(secret), "the {what} appears in the log:\n{text}");
    }
}
