//! The JSON API over real HTTP: users launch from the test platform, take
//! the page token from the landing URL (`/app?_s=...`), and then call
//! `/api/v1` with `Authorization: Bearer <token>`.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use microcred::config::Settings;
use microcred::web::api::{openapi, route_table};
use microcred_testkit::{claim, role, Browser, LaunchSpec, PlatformOptions, TestPlatform, TestUser};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{self, TestApp};

/// The sample micro-credential in `config/catalogue/formative-assessment.toml`.
const SLUG: &str = "exit-tickets";
const SESSION_COOKIE: &str = "microcred_session";
const COURSE: &str = "api-course-1";

// Setup: the app, platforms and launched users.

async fn start() -> (TestApp, TestPlatform) {
    start_with(|_| {}).await
}

async fn start_with(configure: impl FnOnce(&mut Settings)) -> (TestApp, TestPlatform) {
    let app = TestApp::spawn_with(configure).await;
    let platform = start_platform(&app).await;
    (app, platform)
}

/// Starts a test platform and registers it with the app.
async fn start_platform(app: &TestApp) -> TestPlatform {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    platform.allow_redirect_uri(&app.launch_url());
    app.register(support::registration(&platform)).await;
    platform
}

/// A launched user calling the API with the page token of their launch.
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    /// The browser of the launch, which contains the session cookie.
    browser: Browser,
}

/// A response, read whole.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("the {} response is not JSON ({e}): {}", self.status, self.text()))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Checks the status and returns the JSON body.
    fn expect(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "unexpected response: {}", self.text());
        if self.bytes.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Checks that the response is a JSON error with this status and code,
    /// and returns its body.
    fn expect_error(&self, status: StatusCode, code: &str) -> Value {
        let body = self.expect(status);
        assert_eq!(body["error"], code, "error code of {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "error without message: {body}");
        assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()), "error without request id: {body}");
        body
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build the HTTP client")
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn read(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("read the response body").to_vec();
        Reply { status, headers, bytes }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).header(AUTHORIZATION, format!("Bearer {}", self.token))
    }

    async fn get(&self, path: &str) -> Reply {
        Self::read(self.request(Method::GET, path).send().await.expect("send GET")).await
    }

    async fn send_json(&self, method: Method, path: &str, body: &Value) -> Reply {
        Self::read(self.request(method, path).json(body).send().await.expect("send a JSON request")).await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send_json(Method::POST, path, body).await
    }

    async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send_json(Method::PUT, path, body).await
    }

    async fn delete(&self, path: &str) -> Reply {
        Self::read(self.request(Method::DELETE, path).send().await.expect("send DELETE")).await
    }

    /// Sends `body` as is, with this content type.
    async fn send_raw(&self, method: Method, path: &str, content_type: &str, body: &str) -> Reply {
        let request = self.request(method, path).header(CONTENT_TYPE, content_type).body(body.to_string());
        Self::read(request.send().await.expect("send a raw request")).await
    }

    async fn upload(&self, attempt_id: i64, name: &str, content_type: &str, bytes: Vec<u8>) -> Reply {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(content_type)
            .expect("a valid content type");
        let form = reqwest::multipart::Form::new().part("file", part);
        let request = self.request(Method::POST, &format!("/api/v1/attempts/{attempt_id}/files")).multipart(form);
        Self::read(request.send().await.expect("send the upload")).await
    }

    async fn user_id(&self) -> i64 {
        self.get("/api/v1/session").await.expect(StatusCode::OK)["user"]["id"].as_i64().expect("a user id")
    }
}

/// Launches `sub` into `course` with `roles` and returns their API client.
async fn launch(app: &TestApp, platform: &TestPlatform, sub: &str, course: &str, roles: &[&str]) -> Client {
    let user = TestUser::new(sub, "Pat", &format!("Tester-{sub}"), &format!("{sub}@example.edu"));
    let claims = platform
        .resource_link_claims(&app.launch_url())
        .with_user(&user)
        .with_roles(roles.iter().copied())
        .with(&[claim::CONTEXT, "id"], course)
        .with(&[claim::CONTEXT, "title"], format!("Course {course}"))
        .with(&[claim::RESOURCE_LINK, "id"], format!("link-{sub}-{course}"));
    let browser = Browser::new();
    let page = platform.launch(&browser, &app.login_url(), LaunchSpec::new(claims)).await;
    // Only the launch matters here, not how the landing page renders.
    let launch =
        page.hop_to("/lti/launch").unwrap_or_else(|| panic!("{sub} never reached /lti/launch: {}", page.summary()));
    assert_eq!(launch.status, StatusCode::SEE_OTHER, "launch of {sub} into {course}: {}", page.summary());
    let token = page
        .url
        .query_pairs()
        .find(|(name, _)| name == "_s")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("the launch of {sub} ended without a page token: {}", page.url));
    Client { http: http_client(), base: app.base.clone(), token, browser }
}

async fn participant(app: &TestApp, platform: &TestPlatform, sub: &str, course: &str) -> Client {
    launch(app, platform, sub, course, &[role::LEARNER]).await
}

async fn assessor(app: &TestApp, platform: &TestPlatform, sub: &str, course: &str) -> Client {
    launch(app, platform, sub, course, &[role::INSTRUCTOR]).await
}

async fn admin(app: &TestApp, platform: &TestPlatform, sub: &str, course: &str) -> Client {
    launch(app, platform, sub, course, &[role::ADMINISTRATOR]).await
}

// Building work that meets a component's requirements.

/// Builds `count` words of plain prose.
fn words(count: u64) -> String {
    (0..count).map(|i| format!("idea{i}")).collect::<Vec<_>>().join(" ")
}

/// Picks a word count that meets a part's limits: the minimum, or 30 words when there is none.
fn word_count(part: &Value) -> u64 {
    let count = part["min_words"].as_u64().unwrap_or(30).max(1);
    match part["max_words"].as_u64() {
        Some(max) => count.min(max),
        None => count,
    }
}

/// Builds the draft body that meets a component's submission requirements.
fn draft_for(component: &Value) -> Value {
    let submission = &component["submission"];
    let text = if submission["text"].is_object() { words(word_count(&submission["text"])) } else { String::new() };
    let reflection =
        if submission["reflection"].is_object() { words(word_count(&submission["reflection"])) } else { String::new() };
    let links: Vec<String> = if submission["links"]["required"].as_bool() == Some(true) {
        vec!["https://video.example.org/lesson-1".to_string()]
    } else {
        Vec::new()
    };
    json!({"text": text, "reflection": reflection, "links": links})
}

fn needs_file(component: &Value) -> bool {
    component["submission"]["files"]["required"].as_bool() == Some(true)
}

/// Builds ratings at each criterion's mastery level, except `below`, which gets the level under it.
fn ratings(component: &Value, below: Option<&str>) -> (Value, Value) {
    let mut ratings = BTreeMap::new();
    let mut feedback = BTreeMap::new();
    for criterion in component["rubric"]["criterion"].as_array().expect("rubric criteria") {
        let key = criterion["key"].as_str().expect("criterion key");
        let levels: Vec<&str> = criterion["level"]
            .as_array()
            .expect("criterion levels")
            .iter()
            .map(|level| level["key"].as_str().expect("level key"))
            .collect();
        let mastery = criterion["mastery_level"].as_str().expect("mastery level");
        let position = levels.iter().position(|level| *level == mastery).expect("the mastery level is a level");
        if below == Some(key) {
            assert!(position > 0, "criterion {key} has no level below mastery");
            ratings.insert(key.to_string(), levels[position - 1].to_string());
            feedback.insert(key.to_string(), "Show how the students' answers changed your next lesson.".to_string());
        } else {
            ratings.insert(key.to_string(), mastery.to_string());
        }
    }
    (json!(ratings), json!(feedback))
}

fn mastered_assessment(component: &Value) -> Value {
    let (ratings, feedback) = ratings(component, None);
    json!({"ratings": ratings, "feedback": feedback, "overall_comment": "Clear evidence of the method."})
}

/// Fetches the micro-credential's components from the catalogue endpoint.
async fn components(client: &Client) -> Vec<Value> {
    let credential = client.get(&format!("/api/v1/catalogue/{SLUG}")).await.expect(StatusCode::OK);
    credential["definition"]["component"].as_array().expect("components").clone()
}

async fn enroll(client: &Client) -> i64 {
    let reply = client.post(&format!("/api/v1/catalogue/{SLUG}/enrollment"), &json!({"self_check": []})).await;
    reply.expect(StatusCode::CREATED)["enrollment"]["id"].as_i64().expect("an enrolment id")
}

async fn open_draft(client: &Client, enrollment_id: i64, component_key: &str) -> Value {
    let path = format!("/api/v1/enrollments/{enrollment_id}/components/{component_key}/attempts");
    client.post(&path, &json!({})).await.expect(StatusCode::OK)
}

/// Writes work that meets the component's requirements into a new draft and
/// submits it. Returns the attempt id.
async fn submit_component(client: &Client, enrollment_id: i64, component: &Value) -> i64 {
    let key = component["key"].as_str().expect("component key");
    let draft = open_draft(client, enrollment_id, key).await;
    let attempt_id = draft["attempt"]["id"].as_i64().expect("an attempt id");
    client.put(&format!("/api/v1/attempts/{attempt_id}/draft"), &draft_for(component)).await.expect(StatusCode::OK);
    if needs_file(component) && draft["files"].as_array().is_none_or(|files| files.is_empty()) {
        client
            .upload(attempt_id, "evidence.txt", "text/plain", b"Exit ticket answers, sorted.".to_vec())
            .await
            .expect(StatusCode::CREATED);
    }
    let submitted = client.post(&format!("/api/v1/attempts/{attempt_id}/submit"), &json!({})).await;
    assert_eq!(submitted.expect(StatusCode::OK)["status"], "submitted");
    attempt_id
}

/// Enrols `client` and opens a draft of the first component. Returns the
/// enrolment id and the draft's attempt id.
async fn enroll_with_draft(client: &Client) -> (i64, i64) {
    let enrollment_id = enroll(client).await;
    let first = components(client).await.remove(0);
    let draft = open_draft(client, enrollment_id, first["key"].as_str().expect("component key")).await;
    (enrollment_id, draft["attempt"]["id"].as_i64().expect("an attempt id"))
}

/// Enrols `client`, then writes and submits the first component.
async fn submitted_first_component(client: &Client) -> (i64, i64, Value) {
    let enrollment_id = enroll(client).await;
    let first = components(client).await.remove(0);
    let attempt_id = submit_component(client, enrollment_id, &first).await;
    (enrollment_id, attempt_id, first)
}

// The journey.

#[tokio::test]
async fn api_journey_earns_credential() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "journey-educator", COURSE).await;
    let coach = assessor(&app, &platform, "journey-coach", COURSE).await;
    let district = admin(&app, &platform, "journey-admin", COURSE).await;

    // The catalogue offers the sample micro-credential.
    let catalogue = educator.get("/api/v1/catalogue").await.expect(StatusCode::OK);
    let listed: Vec<&str> =
        catalogue["items"].as_array().expect("items").iter().filter_map(|i| i["slug"].as_str()).collect();
    assert!(listed.contains(&SLUG), "catalogue: {listed:?}");
    let credential = educator.get(&format!("/api/v1/catalogue/{SLUG}")).await.expect(StatusCode::OK);
    let definition = &credential["definition"];
    let components = definition["component"].as_array().expect("components").clone();
    assert_eq!(components.len(), 5);

    // Enrolling with one statement unticked recommends the linked course.
    let first_item = definition["self_check"][0]["key"].as_str().expect("a self-check item").to_string();
    let enrolled = educator
        .post(&format!("/api/v1/catalogue/{SLUG}/enrollment"), &json!({"self_check": [first_item]}))
        .await
        .expect(StatusCode::CREATED);
    let enrollment_id = enrolled["enrollment"]["id"].as_i64().expect("an enrolment id");
    assert_eq!(enrolled["enrollment"]["self_check"], json!([first_item]));
    assert_eq!(enrolled["self_check"]["recommend_course"], json!(definition["course"].is_object()));
    let again = educator.post(&format!("/api/v1/catalogue/{SLUG}/enrollment"), &json!({})).await.expect(StatusCode::OK);
    assert_eq!(again["enrollment"]["id"], enrollment_id, "enrolling twice returns the same enrolment");

    // Five components, each written to its requirements and submitted.
    let mut attempts = Vec::new();
    for component in &components {
        attempts.push(submit_component(&educator, enrollment_id, component).await);
    }
    let listed = educator.get("/api/v1/enrollments").await.expect(StatusCode::OK);
    assert_eq!(listed["items"][0]["enrollment"]["id"], enrollment_id);

    // The coach finds all five in the queue, and can filter it.
    let queue = coach.get("/api/v1/queue").await.expect(StatusCode::OK);
    assert_eq!(queue["items"].as_array().expect("items").len(), 5, "queue: {queue}");
    let first_key = components[0]["key"].as_str().expect("component key");
    let filtered =
        coach.get(&format!("/api/v1/queue?credential={SLUG}&component={first_key}")).await.expect(StatusCode::OK);
    assert_eq!(filtered["items"].as_array().expect("items").len(), 1, "filtered queue: {filtered}");
    assert_eq!(filtered["items"][0]["attempt_id"], attempts[0]);

    // One component not yet mastered, four mastered.
    let below = components[0]["rubric"]["criterion"][0]["key"].as_str().expect("criterion key");
    let (short_ratings, short_feedback) = ratings(&components[0], Some(below));
    let result = coach
        .post(
            &format!("/api/v1/attempts/{}/assessment", attempts[0]),
            &json!({"ratings": short_ratings, "feedback": short_feedback, "overall_comment": "Almost there."}),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(result["decision"], "not_yet_mastered");
    assert_eq!(result["shortfalls"], json!([below]));
    for (component, attempt_id) in components.iter().zip(&attempts).skip(1) {
        let result = coach
            .post(&format!("/api/v1/attempts/{attempt_id}/assessment"), &mastered_assessment(component))
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(result["decision"], "mastered");
        assert_eq!(result["earned"], false);
    }

    // The educator's overview shows four mastered and one to resubmit.
    let overview = educator.get(&format!("/api/v1/enrollments/{enrollment_id}")).await.expect(StatusCode::OK);
    assert_eq!(overview["progress"]["mastered_count"], 4);
    assert_eq!(overview["progress"]["percent_complete"], 80);
    assert_eq!(overview["components"][0]["state"], "not_yet_mastered");
    assert_eq!(overview["earned"], false);
    let feedback = educator.get(&format!("/api/v1/attempts/{}", attempts[0])).await.expect(StatusCode::OK);
    assert_eq!(feedback["assessment"]["decision"], "not_yet_mastered");
    assert!(feedback["assessment"]["feedback"][below].is_string(), "feedback: {feedback}");

    // The resubmission starts from the first attempt's text.
    let retry = open_draft(&educator, enrollment_id, first_key).await;
    assert_eq!(retry["attempt"]["number"], 2);
    assert_eq!(retry["attempt"]["text"], draft_for(&components[0])["text"]);
    let second_attempt = submit_component(&educator, enrollment_id, &components[0]).await;
    assert_eq!(second_attempt, retry["attempt"]["id"].as_i64().expect("an attempt id"));

    let result = coach
        .post(&format!("/api/v1/attempts/{second_attempt}/assessment"), &mastered_assessment(&components[0]))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(result["decision"], "mastered");
    assert_eq!(result["earned"], true);
    assert_eq!(result["progress"]["mastered_count"], 5);

    // Earned with 2.0 CEUs, on the transcript.
    let overview = educator.get(&format!("/api/v1/enrollments/{enrollment_id}")).await.expect(StatusCode::OK);
    assert_eq!(overview["earned"], true);
    assert_eq!(overview["ceus"], 2.0);
    assert!(overview["earned_at"].is_string(), "overview: {overview}");
    let transcript = educator.get("/api/v1/transcript").await.expect(StatusCode::OK);
    assert_eq!(transcript["items"].as_array().expect("items").len(), 1, "transcript: {transcript}");
    assert_eq!(transcript["items"][0]["credential_slug"], SLUG);
    assert_eq!(transcript["items"][0]["ceus"], 2.0);
    assert_eq!(transcript["total_ceus"], 2.0);

    // The admin's CEU report has the line, in JSON and CSV.
    let report = district.get("/api/v1/admin/ceu-report").await.expect(StatusCode::OK);
    assert_eq!(report["items"][0]["email"], "journey-educator@example.edu");
    let csv = district.get("/api/v1/admin/ceu-report.csv").await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text());
    assert!(csv.header("content-type").is_some_and(|t| t.starts_with("text/csv")), "{:?}", csv.headers);
    let text = csv.text();
    let line = text
        .lines()
        .find(|line| line.contains("journey-educator@example.edu"))
        .unwrap_or_else(|| panic!("no CSV line for the educator: {text}"));
    assert!(line.contains(&format!(",{SLUG},")), "line: {line}");
    assert!(line.contains(",2.00,"), "line: {line}");
}

// The session and its tokens.

#[tokio::test]
async fn api_session_returns_fresh_token() {
    let (app, platform) = start().await;
    let mut client = launch(&app, &platform, "session-user", COURSE, &[role::INSTRUCTOR]).await;

    let reply = client.get("/api/v1/session").await;
    let session = reply.expect(StatusCode::OK);

    assert_eq!(session["user"]["email"], "session-user@example.edu");
    assert_eq!(session["user"]["name"], "Pat Tester-session-user");
    assert_eq!(session["course"]["id"], COURSE);
    assert_eq!(session["course"]["title"], format!("Course {COURSE}"));
    assert_eq!(session["roles"], json!(["participant", "assessor"]));
    assert_eq!(session["primary_role"], "assessor");
    let token = session["token"].as_str().expect("a token").to_string();
    assert_eq!(reply.header("x-session-token"), Some(token.as_str()));
    let expires_at: chrono::DateTime<chrono::Utc> =
        session["token_expires_at"].as_str().expect("an expiry").parse().expect("an RFC 3339 expiry");
    let idle = chrono::Duration::minutes(app.state.settings.session.idle_minutes);
    let remaining = expires_at - chrono::Utc::now();
    assert!(remaining > idle - chrono::Duration::minutes(1), "token expires in {remaining}");
    assert!(remaining <= idle, "token expires in {remaining}");

    // The fresh token works in place of the launch's, in either header.
    client.token = token.clone();
    client.get("/api/v1/enrollments").await.expect(StatusCode::OK);
    let by_header = client
        .http
        .get(client.url("/api/v1/session"))
        .header("x-session-token", &token)
        .send()
        .await
        .expect("send GET");
    assert_eq!(by_header.status(), StatusCode::OK);
}

#[tokio::test]
async fn api_rejects_expired_and_forged_tokens() {
    let (app, platform) = start().await;
    let client = participant(&app, &platform, "token-user", COURSE).await;
    let payload = client.token.split_once('.').expect("a token has two parts").0;
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).expect("base64url payload")).expect("UTF-8");
    let session_id = payload.rsplit_once(':').expect("session id and expiry").0;

    let expired = app.state.page_tokens.issue(session_id, -5);
    let signature = client.token.split_once('.').expect("a token has two parts").1;
    let forged_payload = URL_SAFE_NO_PAD.encode(format!("{session_id}:9999999999"));
    let forged = format!("{forged_payload}.{signature}");
    for (label, token) in [("expired", expired), ("forged", forged), ("garbage", "not-a-token".to_string())] {
        let with_token = Client { token, http: http_client(), base: client.base.clone(), browser: Browser::new() };
        let reply = with_token.get("/api/v1/session").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{label} token: {}", reply.text());
        reply.expect_error(StatusCode::UNAUTHORIZED, "no_session");
        let write = with_token.post(&format!("/api/v1/catalogue/{SLUG}/enrollment"), &json!({})).await;
        write.expect_error(StatusCode::UNAUTHORIZED, "no_session");
    }

    let anonymous = http_client().get(client.url("/api/v1/session")).send().await.expect("send GET");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_rejects_cookie_write_without_token() {
    let (app, platform) = start().await;
    let client = participant(&app, &platform, "cookie-user", COURSE).await;
    let cookie = client.browser.cookie(SESSION_COOKIE).expect("the launch set the session cookie");
    let cookie_header = format!("{SESSION_COOKIE}={}", cookie.value);

    // A read with the cookie alone works, as page navigation does.
    let read = http_client().get(client.url("/api/v1/session")).header(COOKIE, &cookie_header).send().await;
    assert_eq!(read.expect("send GET").status(), StatusCode::OK);

    // A write with the cookie alone is rejected, and no enrolment is created.
    let write = http_client()
        .post(client.url(&format!("/api/v1/catalogue/{SLUG}/enrollment")))
        .header(COOKIE, &cookie_header)
        .json(&json!({"self_check": []}))
        .send()
        .await
        .expect("send POST");
    Client::read(write).await.expect_error(StatusCode::FORBIDDEN, "forbidden");
    let enrollments = client.get("/api/v1/enrollments").await.expect(StatusCode::OK);
    assert_eq!(enrollments["items"], json!([]));
}

// Access rules.

#[tokio::test]
async fn api_hides_other_participants_work() {
    let (app, platform) = start().await;
    let owner = participant(&app, &platform, "owner", COURSE).await;
    let (enrollment_id, attempt_id) = enroll_with_draft(&owner).await;
    let file =
        owner.upload(attempt_id, "notes.txt", "text/plain", b"my notes".to_vec()).await.expect(StatusCode::CREATED);
    let file_id = file["id"].as_i64().expect("a file id");
    let other = participant(&app, &platform, "classmate", COURSE).await;

    other.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect_error(StatusCode::NOT_FOUND, "not_found");
    other.get(&format!("/api/v1/enrollments/{enrollment_id}")).await.expect_error(StatusCode::NOT_FOUND, "not_found");
    other.get(&format!("/api/v1/files/{file_id}")).await.expect_error(StatusCode::NOT_FOUND, "not_found");
    let write = other.put(&format!("/api/v1/attempts/{attempt_id}/draft"), &json!({"text": "mine now"})).await;
    write.expect_error(StatusCode::NOT_FOUND, "not_found");
    other.delete(&format!("/api/v1/files/{file_id}")).await.expect_error(StatusCode::NOT_FOUND, "not_found");
    let path = format!("/api/v1/enrollments/{enrollment_id}/components/x/attempts");
    other.post(&path, &json!({})).await.expect_error(StatusCode::NOT_FOUND, "not_found");

    // The owner's work is unchanged.
    let detail = owner.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect(StatusCode::OK);
    assert_eq!(detail["attempt"]["text"], "");
    assert_eq!(detail["files"].as_array().expect("files").len(), 1);
}

#[tokio::test]
async fn api_hides_work_from_other_course() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "course-one-educator", COURSE).await;
    let (enrollment_id, attempt_id, component) = submitted_first_component(&educator).await;
    let stranger = assessor(&app, &platform, "course-two-coach", "api-course-2").await;

    let queue = stranger.get("/api/v1/queue").await.expect(StatusCode::OK);
    assert_eq!(queue["items"], json!([]), "another course's queue: {queue}");
    stranger.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect_error(StatusCode::NOT_FOUND, "not_found");
    stranger
        .get(&format!("/api/v1/enrollments/{enrollment_id}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    let assess =
        stranger.post(&format!("/api/v1/attempts/{attempt_id}/assessment"), &mastered_assessment(&component)).await;
    assess.expect_error(StatusCode::NOT_FOUND, "not_found");
    let educator_id = educator.user_id().await;
    stranger.get(&format!("/api/v1/participants/{educator_id}")).await.expect_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn api_hides_work_from_other_platform() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "platform-one-educator", COURSE).await;
    let (enrollment_id, attempt_id, component) = submitted_first_component(&educator).await;
    let other_platform = start_platform(&app).await;
    // Same course id and user names, but another LMS.
    let outsider = launch(&app, &other_platform, "platform-two-coach", COURSE, &[role::INSTRUCTOR]).await;

    outsider.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect_error(StatusCode::NOT_FOUND, "not_found");
    outsider
        .get(&format!("/api/v1/enrollments/{enrollment_id}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    let assess =
        outsider.post(&format!("/api/v1/attempts/{attempt_id}/assessment"), &mastered_assessment(&component)).await;
    assess.expect_error(StatusCode::NOT_FOUND, "not_found");
    let queue = outsider.get("/api/v1/queue").await.expect(StatusCode::OK);
    assert_eq!(queue["items"], json!([]), "another platform's queue: {queue}");
}

#[tokio::test]
async fn api_forbids_assessing_own_submission() {
    let (app, platform) = start().await;
    let coach = assessor(&app, &platform, "self-assessing-coach", COURSE).await;
    let (_, attempt_id, component) = submitted_first_component(&coach).await;

    let reply =
        coach.post(&format!("/api/v1/attempts/{attempt_id}/assessment"), &mastered_assessment(&component)).await;

    reply.expect_error(StatusCode::FORBIDDEN, "forbidden");
    let detail = coach.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect(StatusCode::OK);
    assert_eq!(detail["attempt"]["status"], "submitted");
    assert_eq!(detail["assessment"], Value::Null);
}

#[tokio::test]
async fn api_forbids_participant_staff_endpoints() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "curious-educator", COURSE).await;
    let (_, attempt_id, component) = submitted_first_component(&educator).await;
    let user_id = educator.user_id().await;

    let reads = [
        "/api/v1/queue".to_string(),
        format!("/api/v1/participants/{user_id}"),
        "/api/v1/admin/catalogue".to_string(),
        "/api/v1/admin/catalogue/export".to_string(),
        "/api/v1/admin/ceu-report".to_string(),
        "/api/v1/admin/ceu-report.csv".to_string(),
        "/api/v1/admin/audit".to_string(),
    ];
    for path in &reads {
        let reply = educator.get(path).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "GET {path}: {}", reply.text());
        reply.expect_error(StatusCode::FORBIDDEN, "forbidden");
    }
    let assess =
        educator.post(&format!("/api/v1/attempts/{attempt_id}/assessment"), &mastered_assessment(&component)).await;
    assess.expect_error(StatusCode::FORBIDDEN, "forbidden");
    let archive = educator.put(&format!("/api/v1/admin/catalogue/{SLUG}/archived"), &json!({"archived": true})).await;
    archive.expect_error(StatusCode::FORBIDDEN, "forbidden");
    let toml = "[[micro_credential]]\nslug = \"x\"\n";
    let import = educator.send_raw(Method::POST, "/api/v1/admin/catalogue/import", "application/toml", toml).await;
    import.expect_error(StatusCode::FORBIDDEN, "forbidden");
    let update =
        educator.send_raw(Method::PUT, &format!("/api/v1/admin/catalogue/{SLUG}"), "application/toml", toml).await;
    update.expect_error(StatusCode::FORBIDDEN, "forbidden");

    // Nothing changed: the micro-credential is still offered.
    let catalogue = educator.get("/api/v1/catalogue").await.expect(StatusCode::OK);
    assert!(catalogue["items"].as_array().expect("items").iter().any(|item| item["slug"] == SLUG));
}

#[tokio::test]
async fn api_assessment_conflict_keeps_first() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "contested-educator", COURSE).await;
    let (_, attempt_id, component) = submitted_first_component(&educator).await;
    let first = assessor(&app, &platform, "first-coach", COURSE).await;
    let second = assessor(&app, &platform, "second-coach", COURSE).await;
    let first_id = first.user_id().await;
    let path = format!("/api/v1/attempts/{attempt_id}/assessment");

    first.post(&path, &mastered_assessment(&component)).await.expect(StatusCode::CREATED);
    let below = component["rubric"]["criterion"][0]["key"].as_str().expect("criterion key");
    let (short_ratings, short_feedback) = ratings(&component, Some(below));
    let late = second.post(&path, &json!({"ratings": short_ratings, "feedback": short_feedback})).await;

    late.expect_error(StatusCode::CONFLICT, "conflict");
    let detail = educator.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect(StatusCode::OK);
    assert_eq!(detail["assessment"]["assessor_user_id"], first_id);
    assert_eq!(detail["assessment"]["decision"], "mastered");
}

#[tokio::test]
async fn api_assessment_race_has_one_winner() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "raced-educator", COURSE).await;
    let (_, attempt_id, component) = submitted_first_component(&educator).await;
    let first = assessor(&app, &platform, "racing-coach-1", COURSE).await;
    let second = assessor(&app, &platform, "racing-coach-2", COURSE).await;
    let path = format!("/api/v1/attempts/{attempt_id}/assessment");
    let body = mastered_assessment(&component);

    let (a, b) = tokio::join!(first.post(&path, &body), second.post(&path, &body));

    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "{} / {}", a.text(), b.text());
}

// Files.

#[tokio::test]
async fn api_download_sends_attachment_headers() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "downloading-educator", COURSE).await;
    let (_, attempt_id) = enroll_with_draft(&educator).await;
    let bytes = b"Ticket 1: yes\nTicket 2: not yet\n".to_vec();
    let file =
        educator.upload(attempt_id, "tickets é.txt", "text/plain", bytes.clone()).await.expect(StatusCode::CREATED);
    assert_eq!(file["name"], "tickets é.txt");
    assert_eq!(file["size_bytes"], bytes.len());

    let download = educator.get(file["download"].as_str().expect("a download path")).await;

    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.bytes, bytes);
    assert_eq!(download.header("content-type"), Some("text/plain"));
    assert_eq!(download.header("content-disposition"), Some("attachment; filename*=UTF-8''tickets%20%C3%A9.txt"));
    assert_eq!(download.header("x-content-type-options"), Some("nosniff"));
    assert!(download.header("x-session-token").is_some(), "no fresh token on the download");

    let file_id = file["id"].as_i64().expect("a file id");
    let removed = educator.delete(&format!("/api/v1/files/{file_id}")).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text());
    educator.get(&format!("/api/v1/files/{file_id}")).await.expect_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn api_upload_rejects_wrong_type() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "typing-educator", COURSE).await;
    let (_, attempt_id) = enroll_with_draft(&educator).await;

    let executable = educator.upload(attempt_id, "tool.exe", "application/x-msdownload", b"MZ\x90\x00".to_vec()).await;
    let body = executable.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains("application/x-msdownload"), "{message}");
    assert!(message.contains("application/pdf"), "the message lists the accepted types: {message}");

    let fake_pdf = educator.upload(attempt_id, "plan.pdf", "application/pdf", b"just text".to_vec()).await;
    let body = fake_pdf.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(body["message"].as_str().expect("a message").contains("does not match"), "{body}");

    let detail = educator.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect(StatusCode::OK);
    assert_eq!(detail["files"], json!([]));
}

#[tokio::test]
async fn api_upload_rejects_large_file() {
    let (app, platform) = start_with(|settings| settings.storage.max_file_mb = 1).await;
    let educator = participant(&app, &platform, "large-file-educator", COURSE).await;
    let (_, attempt_id) = enroll_with_draft(&educator).await;

    let reply = educator.upload(attempt_id, "lesson.txt", "text/plain", vec![b'a'; 2 * 1024 * 1024]).await;

    let body = reply.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    assert!(body["message"].as_str().expect("a message").contains("the limit is 1 MB"), "{body}");
    let detail = educator.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect(StatusCode::OK);
    assert_eq!(detail["files"], json!([]));
}

#[tokio::test]
async fn api_upload_rejects_file_over_count() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "many-files-educator", COURSE).await;
    let (_, attempt_id) = enroll_with_draft(&educator).await;
    let detail = educator.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect(StatusCode::OK);
    let max_count =
        detail["component"]["submission"]["files"]["max_count"].as_u64().expect("the component takes files");

    for n in 0..max_count {
        educator
            .upload(attempt_id, &format!("file-{n}.txt"), "text/plain", b"notes".to_vec())
            .await
            .expect(StatusCode::CREATED);
    }
    let reply = educator.upload(attempt_id, "one-more.txt", "text/plain", b"notes".to_vec()).await;

    let body = reply.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(body["message"].as_str().expect("a message").contains(&format!("at most {max_count} files")), "{body}");
    let detail = educator.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect(StatusCode::OK);
    assert_eq!(detail["files"].as_array().expect("files").len() as u64, max_count);
}

#[tokio::test]
async fn api_upload_requires_file_field() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "fieldless-educator", COURSE).await;
    let (_, attempt_id) = enroll_with_draft(&educator).await;

    let form = reqwest::multipart::Form::new().text("document", "hello");
    let request = educator.request(Method::POST, &format!("/api/v1/attempts/{attempt_id}/files")).multipart(form);
    let reply = Client::read(request.send().await.expect("send the upload")).await;

    let body = reply.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(body["message"].as_str().expect("a message").contains("`file`"), "{body}");
}

// Bad input.

#[tokio::test]
async fn api_malformed_json_names_problem() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "typo-educator", COURSE).await;
    let (enrollment_id, attempt_id) = enroll_with_draft(&educator).await;
    let draft = format!("/api/v1/attempts/{attempt_id}/draft");

    let cases = [
        (draft.clone(), r#"{"text": 5}"#, Some("text")),
        (draft.clone(), r#"{"links": ["https://a.example", 7]}"#, Some("links[1]")),
        (draft.clone(), r#"{"text": "a", "reflexion": "b"}"#, None),
        (draft.clone(), r#"{"text": "unfinished"#, None),
        (draft.clone(), r#"{"text": "a"} trailing"#, None),
        (draft.clone(), "", None),
        (format!("/api/v1/enrollments/{enrollment_id}/self-check"), r#"{"self_check": "all"}"#, Some("self_check")),
        (format!("/api/v1/attempts/{attempt_id}/assessment"), r#"{"ratings": ["proficient"]}"#, Some("ratings")),
    ];
    for (path, body, field) in cases {
        let method = if path.ends_with("assessment") { Method::POST } else { Method::PUT };
        let reply = educator.send_raw(method, &path, "application/json", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} with {body:?}: {}", reply.text());
        let error = reply.expect_error(StatusCode::BAD_REQUEST, "invalid_body");
        if let Some(field) = field {
            assert_eq!(error["field"], field, "{path} with {body:?}: {error}");
            assert!(error["message"].as_str().expect("a message").contains(field), "{error}");
        }
    }

    // The unknown field is named in the message.
    let reply = educator.send_raw(Method::PUT, &draft, "application/json", r#"{"reflexion": "b"}"#).await;
    let error = reply.expect_error(StatusCode::BAD_REQUEST, "invalid_body");
    assert!(error["message"].as_str().expect("a message").contains("reflexion"), "{error}");

    // A body without a JSON content type is refused as such.
    let reply = educator.send_raw(Method::PUT, &draft, "text/plain", r#"{"text": "a"}"#).await;
    reply.expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    // A path id that is not a number is a JSON 400 too.
    educator.get("/api/v1/attempts/first").await.expect_error(StatusCode::BAD_REQUEST, "bad_request");

    // Nothing was saved by the rejected requests.
    let detail = educator.get(&format!("/api/v1/attempts/{attempt_id}")).await.expect(StatusCode::OK);
    assert_eq!(detail["attempt"]["text"], "");
    assert_eq!(detail["attempt"]["revision"], 0);
}

#[tokio::test]
async fn api_validation_lists_problems() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "hasty-educator", COURSE).await;
    let (enrollment_id, attempt_id) = enroll_with_draft(&educator).await;

    let submit = educator.post(&format!("/api/v1/attempts/{attempt_id}/submit"), &json!({})).await;

    let error = submit.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    let problems = error["problems"].as_array().expect("a problem list");
    assert!(problems.len() >= 2, "an empty draft breaks several requirements: {error}");
    assert!(problems.iter().all(|p| p.as_str().is_some_and(|p| !p.is_empty())), "{error}");

    let unknown = educator
        .put(&format!("/api/v1/enrollments/{enrollment_id}/self-check"), &json!({"self_check": ["no-such-item"]}))
        .await;
    let error = unknown.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(error["problems"][0].as_str().expect("a problem").contains("no-such-item"), "{error}");

    // The draft keeps partial work; only the size limits apply before submit.
    let partial = educator.put(&format!("/api/v1/attempts/{attempt_id}/draft"), &json!({"text": "a start"})).await;
    let saved = partial.expect(StatusCode::OK);
    assert_eq!(saved["text"], "a start");
    assert_eq!(saved["revision"], 1);
    let reflection =
        educator.put(&format!("/api/v1/attempts/{attempt_id}/draft"), &json!({"reflection": "later"})).await;
    assert_eq!(reflection.expect(StatusCode::OK)["text"], "a start", "a field left out keeps its value");
}

#[tokio::test]
async fn api_unknown_endpoint_answers_json() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "lost-educator", COURSE).await;

    educator.get("/api/v1/no-such-thing").await.expect_error(StatusCode::NOT_FOUND, "not_found");
    let wrong_method = educator.delete("/api/v1/catalogue").await;
    wrong_method.expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let allowed = wrong_method.header("allow").unwrap_or_default();
    assert!(allowed.contains("GET"), "Allow header: {allowed:?}");
}

// Catalogue administration.

#[tokio::test]
async fn api_admin_manages_catalogue() {
    let (app, platform) = start().await;
    let district = admin(&app, &platform, "catalogue-admin", COURSE).await;

    // Edit through JSON: a new version.
    let credential = district.get(&format!("/api/v1/catalogue/{SLUG}")).await.expect(StatusCode::OK);
    let mut definition = credential["definition"].clone();
    definition["title"] = json!("Exit Tickets, Revised");
    let updated = district.put(&format!("/api/v1/admin/catalogue/{SLUG}"), &definition).await.expect(StatusCode::OK);
    assert_eq!(updated["changed"], true);
    assert_eq!(updated["version"], 2);

    // The export contains the new title and re-imports unchanged.
    let export = district.get(&format!("/api/v1/admin/catalogue/export?slug={SLUG}")).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text());
    assert!(export.header("content-type").is_some_and(|t| t.starts_with("application/toml")));
    let toml = export.text();
    assert!(toml.contains("Exit Tickets, Revised"), "{toml}");
    let same =
        district.send_raw(Method::PUT, &format!("/api/v1/admin/catalogue/{SLUG}"), "application/toml", &toml).await;
    assert_eq!(same.expect(StatusCode::OK)["changed"], false);

    // Import a copy under a new slug.
    let copy = toml.replace(&format!("slug = \"{SLUG}\""), "slug = \"exit-tickets-copy\"");
    let import = district.send_raw(Method::POST, "/api/v1/admin/catalogue/import", "application/toml", &copy).await;
    assert_eq!(import.expect(StatusCode::OK)["created"], json!(["exit-tickets-copy"]));

    // A slug change is refused with the reason, and nothing is stored.
    let renamed =
        district.send_raw(Method::PUT, &format!("/api/v1/admin/catalogue/{SLUG}"), "application/toml", &copy).await;
    let error = renamed.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(error["problems"][0].as_str().expect("a problem").contains("slug"), "{error}");

    // An invalid definition lists its problems.
    let mut broken = definition.clone();
    broken["component"] = json!([]);
    let invalid = district.put(&format!("/api/v1/admin/catalogue/{SLUG}"), &broken).await;
    let error = invalid.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(!error["problems"].as_array().expect("problems").is_empty(), "{error}");

    // Archive hides it from the catalogue, but not from admins.
    let archived = district.put("/api/v1/admin/catalogue/exit-tickets-copy/archived", &json!({"archived": true})).await;
    assert_eq!(archived.expect(StatusCode::OK)["status"], "archived");
    let offered = district.get("/api/v1/catalogue").await.expect(StatusCode::OK);
    assert!(!offered["items"].as_array().expect("items").iter().any(|i| i["slug"] == "exit-tickets-copy"));
    let all = district.get("/api/v1/admin/catalogue").await.expect(StatusCode::OK);
    assert!(all["items"].as_array().expect("items").iter().any(|i| i["slug"] == "exit-tickets-copy"));

    // Each change is in the audit log, newest first.
    let audit = district.get("/api/v1/admin/audit?limit=3").await.expect(StatusCode::OK);
    let actions: Vec<&str> =
        audit["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["credential.archived", "credential.created", "credential.versioned"]);
    district.get("/api/v1/admin/audit?limit=0").await.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    district.get("/api/v1/admin/audit?limit=many").await.expect_error(StatusCode::BAD_REQUEST, "bad_request");
}

// The OpenAPI document.

/// Returns the key in `ids` for the path parameter `name` of `template`.
fn id_kind<'a>(template: &str, name: &'a str) -> &'a str {
    match name {
        "id" if template.starts_with("/api/v1/enrollments/") => "enrollment",
        "id" if template.starts_with("/api/v1/attempts/") => "attempt",
        "id" if template.starts_with("/api/v1/files/") => "file",
        other => other,
    }
}

/// Fills a documented path with ids that exist.
fn concrete_path(template: &str, ids: &BTreeMap<&str, String>) -> String {
    let mut path = template.to_string();
    while let Some(start) = path.find('{') {
        let end = path[start..].find('}').expect("a closing brace") + start;
        let name = path[start + 1..end].to_string();
        let value = ids.get(id_kind(template, &name)).unwrap_or_else(|| panic!("no id for {{{name}}} in {template}"));
        path.replace_range(start..=end, value);
    }
    path
}

#[test]
fn openapi_lists_every_route() {
    let document = openapi::document();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");

    for route in route_table() {
        let operation = &paths.get(route.path).unwrap_or_else(|| panic!("{} is not in the document", route.path))
            [route.verb.as_str()];
        assert!(operation.is_object(), "{} {} is not in the document", route.verb.as_str(), route.path);
        assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{} has no responses", route.path);
    }
    let routed: Vec<(String, String)> =
        route_table().iter().map(|r| (r.verb.as_str().to_string(), r.path.to_string())).collect();
    for (path, item) in paths {
        for method in item.as_object().expect("a path item").keys() {
            assert!(routed.contains(&(method.clone(), path.clone())), "{method} {path} is documented but not routed");
        }
    }
    assert_eq!(document["components"]["securitySchemes"]["bearerToken"]["scheme"], "bearer");
}

#[tokio::test]
async fn openapi_paths_answer() {
    let (app, platform) = start().await;
    let educator = participant(&app, &platform, "documented-educator", COURSE).await;
    let staff = launch(&app, &platform, "documented-staff", COURSE, &[role::INSTRUCTOR, role::ADMINISTRATOR]).await;
    let (enrollment_id, attempt_id) = enroll_with_draft(&educator).await;
    let file =
        educator.upload(attempt_id, "notes.txt", "text/plain", b"notes".to_vec()).await.expect(StatusCode::CREATED);
    let key = components(&educator).await[0]["key"].as_str().expect("component key").to_string();
    let export = staff.get(&format!("/api/v1/admin/catalogue/export?slug={SLUG}")).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text());
    let toml = export.text();
    let ids = BTreeMap::from([
        ("enrollment", enrollment_id.to_string()),
        ("attempt", attempt_id.to_string()),
        ("file", file["id"].to_string()),
        ("key", key),
        ("slug", SLUG.to_string()),
        ("user_id", educator.user_id().await.to_string()),
    ]);

    // The served document is the one the router was checked against.
    let served: Value = http_client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("fetch the document")
        .json()
        .await
        .expect("the document is JSON");
    assert_eq!(&served, openapi::document());

    // Deletions go last, so that the other calls still find the file.
    let mut operations: Vec<(String, String)> = Vec::new();
    for (path, item) in served["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            operations.push((method.clone(), path.clone()));
        }
    }
    operations.sort_by_key(|(method, _)| method == "delete");

    for (method, template) in operations {
        let path = concrete_path(&template, &ids);
        let staff_only = path.starts_with("/api/v1/admin")
            || path.contains("/queue")
            || path.contains("/participants/")
            || path.ends_with("/assessment");
        let client = if staff_only { &staff } else { &educator };
        let reply = match method.as_str() {
            "get" => client.get(&path).await,
            "delete" => client.delete(&path).await,
            "post" if path.ends_with("/files") => {
                client.upload(attempt_id, "more.txt", "text/plain", b"more".to_vec()).await
            }
            "post" if path.ends_with("/import") => {
                client.send_raw(Method::POST, &path, "application/toml", &toml).await
            }
            "put" if path == format!("/api/v1/admin/catalogue/{SLUG}") => {
                client.send_raw(Method::PUT, &path, "application/toml", &toml).await
            }
            "post" | "put" => {
                let body = match path.rsplit('/').next() {
                    Some("archived") => json!({"archived": false}),
                    Some("assessment") => json!({"ratings": {}}),
                    Some("draft") => json!({"text": "draft text"}),
                    _ => json!({}),
                };
                let method = if method == "post" { Method::POST } else { Method::PUT };
                client.send_json(method, &path, &body).await
            }
            other => panic!("unexpected method {other} for {template}"),
        };
        assert!(
            reply.status != StatusCode::NOT_FOUND
                && reply.status != StatusCode::METHOD_NOT_ALLOWED
                && !reply.status.is_server_error(),
            "{method} {path} (documented as {template}) answered {}: {}",
            reply.status,
            reply.text()
        );
    }
}
