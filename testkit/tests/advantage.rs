//! The platform's LTI Advantage endpoints: the token endpoint, Assignment
//! and Grade Services, Names and Role Provisioning Services, the deep
//! linking return endpoint, injected failures and a server restart.

mod common;

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use common::{default_state_cookie_attributes, ToyTool, ToyToolConfig};
use jsonwebtoken::{Algorithm, Header};
use microcred_testkit::{
    ags_scope, claim, message_type, nrps_scope, role, Browser, InjectedFailure, LaunchSpec,
    LineItemSpec, PlatformOptions, ServiceEndpoint, StatusCode, TestKey, TestPlatform, TestUser,
    TokenOutcome, CLIENT_ASSERTION_TYPE, LINE_ITEM_CONTAINER_MEDIA_TYPE, LINE_ITEM_MEDIA_TYPE,
    MEMBERSHIP_CONTAINER_MEDIA_TYPE, SCORE_MEDIA_TYPE,
};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

const COURSE: &str = "course-advantage";
const TOOL_KID: &str = "tool-key-1";

/// The tool's side of the services: a JWKS endpoint on 127.0.0.1 and the
/// key it publishes.
struct ToolKeys {
    key: TestKey,
    jwks_url: String,
    server: JoinHandle<()>,
}

impl Drop for ToolKeys {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ToolKeys {
    async fn start() -> ToolKeys {
        let key = TestKey::fixed(2).with_kid(TOOL_KID);
        let jwks = json!({ "keys": [key.jwk()] });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the tool's JWKS server failed");
        let port = listener
            .local_addr()
            .expect("the JWKS server address")
            .port();
        let router = Router::new().route("/jwks", get(move || async move { Json(jwks) }));
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the tool's JWKS server failed");
        });
        ToolKeys {
            key,
            jwks_url: format!("http://127.0.0.1:{port}/jwks"),
            server,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        sign_with(&self.key, claims)
    }
}

fn sign_with(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, claims, key.encoding_key()).expect("signing a test JWT failed")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Builds the claims of a valid client assertion for `platform`.
fn assertion_claims(platform: &TestPlatform) -> Value {
    json!({
        "iss": platform.client_id(),
        "sub": platform.client_id(),
        "aud": platform.token_url(),
        "iat": now() - 5,
        "exp": now() + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

async fn platform_with_tool_keys() -> (TestPlatform, ToolKeys) {
    let keys = ToolKeys::start().await;
    let platform =
        TestPlatform::start(PlatformOptions::default().with_tool_jwks_url(&keys.jwks_url)).await;
    (platform, keys)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("building the HTTP client failed")
}

/// Posts a token request with `assertion` and `scope`; returns the status and JSON body.
async fn request_token(
    platform: &TestPlatform,
    assertion: &str,
    scope: &str,
) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", CLIENT_ASSERTION_TYPE),
        ("client_assertion", assertion),
        ("scope", scope),
    ];
    let response = http()
        .post(platform.token_url())
        .form(&form)
        .send()
        .await
        .expect("the token request failed");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Returns an access token for `scopes`.
async fn access_token(platform: &TestPlatform, keys: &ToolKeys, scopes: &[&str]) -> String {
    let assertion = keys.sign(&assertion_claims(platform));
    let (status, body) = request_token(platform, &assertion, &scopes.join(" ")).await;
    assert_eq!(status, StatusCode::OK, "token response: {body}");
    body["access_token"]
        .as_str()
        .expect("the token response has no access_token")
        .to_owned()
}

fn valid_score(user_id: &str) -> Value {
    json!({
        "userId": user_id,
        "scoreGiven": 2.0,
        "scoreMaximum": 2.0,
        "comment": "Micro-credential earned.",
        "timestamp": "2026-12-04T10:11:12.500Z",
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
    })
}

async fn post_score(url: &str, token: &str, content_type: &str, score: &Value) -> StatusCode {
    http()
        .post(url)
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(score.to_string())
        .send()
        .await
        .expect("the score request failed")
        .status()
}

fn scores_url(line_item_url: &str) -> String {
    match line_item_url.split_once('?') {
        Some((path, query)) => format!("{path}/scores?{query}"),
        None => format!("{line_item_url}/scores"),
    }
}

/// Fetches a paged container from `url`, following `Link: rel="next"`.
/// Returns each page's body.
async fn fetch_pages(url: &str, token: &str, accept: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut next = Some(url.to_owned());
    while let Some(url) = next.take() {
        assert!(pages.len() < 20, "the container has too many pages");
        let response = http()
            .get(&url)
            .bearer_auth(token)
            .header("accept", accept)
            .send()
            .await
            .expect("the container request failed");
        assert_eq!(response.status(), StatusCode::OK, "GET {url}");
        next = response
            .headers()
            .get("link")
            .and_then(|value| value.to_str().ok())
            .and_then(|link| link.strip_suffix(">; rel=\"next\""))
            .and_then(|link| link.strip_prefix('<'))
            .map(str::to_owned);
        pages.push(response.json().await.expect("the container is not JSON"));
    }
    pages
}

// Token endpoint.

#[tokio::test]
async fn token_endpoint_grants_supported_scopes() {
    let (platform, keys) = platform_with_tool_keys().await;
    platform.set_access_token_lifetime(120);
    let assertion = keys.sign(&assertion_claims(&platform));
    let scope = format!(
        "{} {} https://example.org/unknown-scope",
        ags_scope::SCORE,
        nrps_scope::CONTEXT_MEMBERSHIP_READONLY
    );

    let (status, body) = request_token(&platform, &assertion, &scope).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 120);
    assert_eq!(
        body["scope"],
        format!(
            "{} {}",
            ags_scope::SCORE,
            nrps_scope::CONTEXT_MEMBERSHIP_READONLY
        )
    );
    assert_eq!(platform.token_request_count(), 1);
    let issued = platform.issued_access_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(body["access_token"], issued[0]);
}

#[tokio::test]
async fn token_endpoint_rejects_bad_assertions() {
    let (platform, keys) = platform_with_tool_keys().await;
    let valid = assertion_claims(&platform);
    let with = |name: &str, value: Value| {
        let mut claims = valid.clone();
        claims[name] = value;
        claims
    };
    let unpublished = TestKey::fixed(3).with_kid(TOOL_KID);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong iss",
            keys.sign(&with("iss", json!("someone-else"))),
            "iss",
        ),
        (
            "wrong sub",
            keys.sign(&with("sub", json!("someone-else"))),
            "sub",
        ),
        (
            "wrong aud",
            keys.sign(&with("aud", json!("http://127.0.0.1:9/token"))),
            "aud",
        ),
        (
            "expired",
            keys.sign(&with("exp", json!(now() - 120))),
            "ExpiredSignature",
        ),
        ("no jti", keys.sign(&with("jti", Value::Null)), "jti"),
        (
            "unknown kid",
            sign_with(&TestKey::fixed(2).with_kid("not-published"), &valid),
            "kid",
        ),
        (
            "unpublished key",
            sign_with(&unpublished, &valid),
            "InvalidSignature",
        ),
    ];

    for (case, assertion, reason) in cases {
        let (status, body) = request_token(&platform, &assertion, ags_scope::SCORE).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert_eq!(body["error"], "invalid_client", "{case}: {body}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(reason), "{case}: {description}");
    }
    assert!(platform
        .token_requests()
        .iter()
        .all(|record| !record.is_granted()));
}

#[tokio::test]
async fn token_endpoint_rejects_reused_jti() {
    let (platform, keys) = platform_with_tool_keys().await;
    let assertion = keys.sign(&assertion_claims(&platform));

    let (first, _) = request_token(&platform, &assertion, ags_scope::SCORE).await;
    let (second, body) = request_token(&platform, &assertion, ags_scope::SCORE).await;

    assert_eq!(first, StatusCode::OK);
    assert_eq!(second, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error_description"]
        .as_str()
        .unwrap_or_default()
        .contains("already used"));
}

#[tokio::test]
async fn token_endpoint_rejects_bad_requests() {
    let (platform, keys) = platform_with_tool_keys().await;
    let assertion = keys.sign(&assertion_claims(&platform));

    let (status, body) = request_token(&platform, &assertion, "https://example.org/unknown").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope");

    let response = http()
        .post(platform.token_url())
        .form(&[("grant_type", "password"), ("scope", ags_scope::SCORE)])
        .send()
        .await
        .expect("the token request failed");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"], "unsupported_grant_type");

    let response = http()
        .post(platform.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("scope", ags_scope::SCORE),
        ])
        .send()
        .await
        .expect("the token request failed");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(platform.token_request_count(), 3);
}

#[tokio::test]
async fn token_endpoint_needs_tool_jwks_url() {
    let keys = ToolKeys::start().await;
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let assertion = keys.sign(&assertion_claims(&platform));

    let (status, body) = request_token(&platform, &assertion, ags_scope::SCORE).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error_description"]
        .as_str()
        .unwrap_or_default()
        .contains("JWKS URL"));

    platform.set_tool_jwks_url(&keys.jwks_url);
    let assertion = keys.sign(&assertion_claims(&platform));
    let (status, body) = request_token(&platform, &assertion, ags_scope::SCORE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn token_audience_option_changes_expected_aud() {
    let keys = ToolKeys::start().await;
    let audience = "https://lms.example.org/oauth2/token";
    let options = PlatformOptions::default()
        .with_tool_jwks_url(&keys.jwks_url)
        .with_token_audience(audience);
    let platform = TestPlatform::start(options).await;

    let mut claims = assertion_claims(&platform);
    let (status, _) = request_token(&platform, &keys.sign(&claims), ags_scope::SCORE).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the token URL is no longer the audience"
    );

    claims["aud"] = json!([audience]);
    claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
    let (status, body) = request_token(&platform, &keys.sign(&claims), ags_scope::SCORE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn access_tokens_expire_and_revoke() {
    let (platform, keys) = platform_with_tool_keys().await;
    let line_item = platform.add_line_item(COURSE, LineItemSpec::new("Unit 1", 10.0));
    let url = scores_url(&line_item);

    let token = access_token(&platform, &keys, &[ags_scope::SCORE]).await;
    assert_eq!(
        post_score(&url, &token, SCORE_MEDIA_TYPE, &valid_score("u1")).await,
        StatusCode::NO_CONTENT
    );
    platform.revoke_access_tokens();
    assert_eq!(
        post_score(&url, &token, SCORE_MEDIA_TYPE, &valid_score("u1")).await,
        StatusCode::UNAUTHORIZED
    );

    platform.set_access_token_lifetime(0);
    let expired = access_token(&platform, &keys, &[ags_scope::SCORE]).await;
    assert_eq!(
        post_score(&url, &expired, SCORE_MEDIA_TYPE, &valid_score("u1")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_score(&url, "made-up", SCORE_MEDIA_TYPE, &valid_score("u1")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(platform.scores().len(), 1);
}

// Assignment and Grade Services.

#[tokio::test]
async fn line_items_filter_and_page() {
    let (platform, keys) = platform_with_tool_keys().await;
    for number in 1..=5 {
        let tag = if number % 2 == 0 { "even" } else { "odd" };
        let spec = LineItemSpec::new(&format!("Item {number}"), 10.0)
            .with_tag(tag)
            .with_resource_link_id(&format!("link-{number}"));
        platform.add_line_item(COURSE, spec);
    }
    platform.add_line_item(
        "another-course",
        LineItemSpec::new("Elsewhere", 5.0).with_tag("odd"),
    );
    let token = access_token(&platform, &keys, &[ags_scope::LINE_ITEM_READONLY]).await;
    let container = platform.line_items_url(COURSE);

    let odd = fetch_pages(
        &format!("{container}?tag=odd"),
        &token,
        LINE_ITEM_CONTAINER_MEDIA_TYPE,
    )
    .await;
    assert_eq!(odd.len(), 1);
    let labels: Vec<&str> = odd[0]
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|item| item["label"].as_str())
        .collect();
    assert_eq!(labels, ["Item 1", "Item 3", "Item 5"]);

    let linked = fetch_pages(
        &format!("{container}?resource_link_id=link-4&tag=even"),
        &token,
        LINE_ITEM_CONTAINER_MEDIA_TYPE,
    )
    .await;
    assert_eq!(linked[0].as_array().map(Vec::len), Some(1));
    assert_eq!(linked[0][0]["label"], "Item 4");

    let pages = fetch_pages(
        &format!("{container}?limit=2"),
        &token,
        LINE_ITEM_CONTAINER_MEDIA_TYPE,
    )
    .await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|page| page.as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [2, 2, 1]);

    platform.set_line_items_page_size(Some(4));
    platform.set_line_item_filtering(false);
    let unfiltered = fetch_pages(
        &format!("{container}?tag=odd"),
        &token,
        LINE_ITEM_CONTAINER_MEDIA_TYPE,
    )
    .await;
    let sizes: Vec<usize> = unfiltered
        .iter()
        .map(|page| page.as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(
        sizes,
        [4, 1],
        "filters are ignored and the default page size applies"
    );
}

#[tokio::test]
async fn line_item_create_checks_request() {
    let (platform, keys) = platform_with_tool_keys().await;
    platform.set_new_line_item_query(Some("type=x"));
    let writer = access_token(&platform, &keys, &[ags_scope::LINE_ITEM]).await;
    let reader = access_token(&platform, &keys, &[ags_scope::LINE_ITEM_READONLY]).await;
    let container = platform.line_items_url(COURSE);
    let item = json!({ "label": "Exit tickets", "scoreMaximum": 2.0, "tag": "microcred", "resourceLinkId": "link-1" });
    let create = |token: &str, content_type: &str, body: &Value| {
        http()
            .post(&container)
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
    };

    let response = create(&writer, LINE_ITEM_MEDIA_TYPE, &item)
        .await
        .expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response
        .json()
        .await
        .expect("the created line item is JSON");
    let id = created["id"].as_str().expect("the line item has an id");
    assert!(
        id.starts_with(&container) && id.ends_with("?type=x"),
        "{id}"
    );
    assert_eq!(created["tag"], "microcred");
    assert_eq!(platform.line_items(COURSE), vec![created.clone()]);

    let status = |response: reqwest::Response| response.status();
    assert_eq!(
        status(
            create(&reader, LINE_ITEM_MEDIA_TYPE, &item)
                .await
                .expect("create")
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            create(&writer, "application/json", &item)
                .await
                .expect("create")
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    for (name, value) in [
        ("label", json!("")),
        ("scoreMaximum", json!(0)),
        ("tag", json!(7)),
    ] {
        let mut bad = item.clone();
        bad[name] = value;
        let response = create(&writer, LINE_ITEM_MEDIA_TYPE, &bad)
            .await
            .expect("create");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "bad {name}");
    }

    let fetched = http()
        .get(id)
        .bearer_auth(&reader)
        .send()
        .await
        .expect("get line item");
    assert_eq!(fetched.status(), StatusCode::OK);
    let without_query = id.split_once('?').map(|(path, _)| path).unwrap_or(id);
    let missing = http()
        .get(without_query)
        .bearer_auth(&reader)
        .send()
        .await
        .expect("get line item");
    assert_eq!(
        missing.status(),
        StatusCode::NOT_FOUND,
        "the line item's URL includes its query"
    );
}

#[tokio::test]
async fn scores_endpoint_validates_and_records() {
    let (platform, keys) = platform_with_tool_keys().await;
    let line_item = platform.add_line_item(COURSE, LineItemSpec::new("Unit 1", 2.0));
    let url = scores_url(&line_item);
    let token = access_token(&platform, &keys, &[ags_scope::SCORE]).await;
    let reader = access_token(&platform, &keys, &[ags_scope::LINE_ITEM_READONLY]).await;

    assert_eq!(
        post_score(&url, &token, SCORE_MEDIA_TYPE, &valid_score("u1")).await,
        StatusCode::NO_CONTENT
    );

    let with = |name: &str, value: Value| {
        let mut score = valid_score("u1");
        score[name] = value;
        score
    };
    let mut given_without_maximum = valid_score("u1");
    given_without_maximum
        .as_object_mut()
        .expect("an object")
        .remove("scoreMaximum");
    let cases = [
        ("no userId", with("userId", Value::Null)),
        (
            "timestamp without zone",
            with("timestamp", json!("2026-12-04T10:11:12.500")),
        ),
        (
            "timestamp not RFC 3339",
            with("timestamp", json!("yesterday")),
        ),
        (
            "unknown activityProgress",
            with("activityProgress", json!("Done")),
        ),
        (
            "unknown gradingProgress",
            with("gradingProgress", json!("Graded")),
        ),
        ("negative scoreGiven", with("scoreGiven", json!(-1))),
        ("scoreGiven without scoreMaximum", given_without_maximum),
        ("comment not a string", with("comment", json!(5))),
    ];
    for (case, score) in cases {
        assert_eq!(
            post_score(&url, &token, SCORE_MEDIA_TYPE, &score).await,
            StatusCode::BAD_REQUEST,
            "{case}"
        );
    }
    let valid = valid_score("u1");
    assert_eq!(
        post_score(&url, &token, "application/json", &valid).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        post_score(&url, &reader, SCORE_MEDIA_TYPE, &valid).await,
        StatusCode::FORBIDDEN
    );
    let unknown = scores_url(&format!("{}/999", platform.line_items_url(COURSE)));
    assert_eq!(
        post_score(&unknown, &token, SCORE_MEDIA_TYPE, &valid).await,
        StatusCode::NOT_FOUND
    );

    let scores = platform.scores();
    assert_eq!(scores.len(), 1);
    assert_eq!(scores[0].user_id(), Some("u1"));
    assert_eq!(scores[0].line_item_url, line_item);
    assert_eq!(scores[0].access_token, token);
    assert_eq!(scores[0].score, valid);
}

#[tokio::test]
async fn line_item_query_precedes_scores_path() {
    let (platform, keys) = platform_with_tool_keys().await;
    let line_item = platform.add_line_item(
        COURSE,
        LineItemSpec::new("Unit 1", 2.0).with_query("type=x"),
    );
    let token = access_token(&platform, &keys, &[ags_scope::SCORE]).await;
    let score = valid_score("u1");

    let appended_after_query = format!("{line_item}/scores");
    assert_eq!(
        post_score(&appended_after_query, &token, SCORE_MEDIA_TYPE, &score).await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let without_query = scores_url(
        line_item
            .split_once('?')
            .map(|(path, _)| path)
            .unwrap_or(&line_item),
    );
    assert_eq!(
        post_score(&without_query, &token, SCORE_MEDIA_TYPE, &score).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post_score(&scores_url(&line_item), &token, SCORE_MEDIA_TYPE, &score).await,
        StatusCode::NO_CONTENT
    );

    let scores = platform.scores();
    assert_eq!(scores.len(), 1);
    assert_eq!(scores[0].query.as_deref(), Some("type=x"));
    assert!(scores[0].path.ends_with("/scores"), "{}", scores[0].path);
}

// Names and Role Provisioning Services.

#[tokio::test]
async fn memberships_page_and_filter() {
    let (platform, keys) = platform_with_tool_keys().await;
    for number in 1..=5 {
        let user = TestUser::new(
            &format!("u{number}"),
            "Learner",
            &format!("Number{number}"),
            &format!("u{number}@example.edu"),
        );
        platform.add_member(COURSE, &user, &[role::LEARNER]);
    }
    let instructor = TestUser::new("t1", "Alan", "Turing", "alan@example.edu");
    platform.add_member(COURSE, &instructor, &[role::INSTRUCTOR]);
    platform.set_memberships_page_size(Some(2));
    let token = access_token(&platform, &keys, &[nrps_scope::CONTEXT_MEMBERSHIP_READONLY]).await;
    let url = platform.memberships_url(COURSE);

    let pages = fetch_pages(&url, &token, MEMBERSHIP_CONTAINER_MEDIA_TYPE).await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|page| page["members"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [2, 2, 2]);
    assert_eq!(pages[0]["context"]["id"], COURSE);
    assert_eq!(pages[2]["members"][1]["user_id"], "t1");
    assert_eq!(pages[2]["members"][1]["name"], "Alan Turing");

    let learners = fetch_pages(
        &format!("{url}?role=Learner&limit=10"),
        &token,
        MEMBERSHIP_CONTAINER_MEDIA_TYPE,
    )
    .await;
    assert_eq!(learners.len(), 1);
    assert_eq!(learners[0]["members"].as_array().map(Vec::len), Some(5));
    let instructors = fetch_pages(
        &format!("{url}?role={}", urlencode(role::INSTRUCTOR)),
        &token,
        MEMBERSHIP_CONTAINER_MEDIA_TYPE,
    )
    .await;
    assert_eq!(instructors[0]["members"].as_array().map(Vec::len), Some(1));

    let score_token = access_token(&platform, &keys, &[ags_scope::SCORE]).await;
    let refused = http()
        .get(&url)
        .bearer_auth(&score_token)
        .send()
        .await
        .expect("memberships");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

// Injected failures and restarts.

#[tokio::test]
async fn injected_failures_answer_then_clear() {
    let (platform, keys) = platform_with_tool_keys().await;
    let line_item = platform.add_line_item(COURSE, LineItemSpec::new("Unit 1", 2.0));
    let url = scores_url(&line_item);
    let token = access_token(&platform, &keys, &[ags_scope::SCORE]).await;

    platform.fail_next(ServiceEndpoint::Scores, 2, 500);
    platform.inject_failure(
        InjectedFailure::until_cleared(ServiceEndpoint::Scores, 404).for_user("ungradeable"),
    );
    let statuses = [
        post_score(&url, &token, SCORE_MEDIA_TYPE, &valid_score("u1")).await,
        post_score(&url, &token, SCORE_MEDIA_TYPE, &valid_score("u1")).await,
        post_score(&url, &token, SCORE_MEDIA_TYPE, &valid_score("u1")).await,
        post_score(&url, &token, SCORE_MEDIA_TYPE, &valid_score("ungradeable")).await,
        post_score(&url, &token, SCORE_MEDIA_TYPE, &valid_score("ungradeable")).await,
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::NO_CONTENT,
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
        ]
    );
    platform.clear_failures();
    assert_eq!(
        post_score(&url, &token, SCORE_MEDIA_TYPE, &valid_score("ungradeable")).await,
        StatusCode::NO_CONTENT
    );

    let requests = platform.service_requests_to(ServiceEndpoint::Scores);
    let injected: Vec<bool> = requests.iter().map(|record| record.injected).collect();
    assert_eq!(injected, [true, true, false, true, true, false]);
    assert_eq!(platform.scores().len(), 2);

    platform.fail_next(ServiceEndpoint::Token, 1, 503);
    let assertion = keys.sign(&assertion_claims(&platform));
    let (status, _) = request_token(&platform, &assertion, ags_scope::SCORE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let last = platform.token_requests().pop().expect("a token request");
    assert_eq!(last.outcome, TokenOutcome::Injected { status: 503 });
}

#[tokio::test]
async fn stopped_server_refuses_then_resumes() {
    let (platform, keys) = platform_with_tool_keys().await;
    let line_item = platform.add_line_item(COURSE, LineItemSpec::new("Unit 1", 2.0));
    let url = scores_url(&line_item);
    let token = access_token(&platform, &keys, &[ags_scope::SCORE]).await;
    // One client, so the second request would reuse a kept-alive connection.
    let client = http();
    let send = || {
        client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", SCORE_MEDIA_TYPE)
            .body(valid_score("u1").to_string())
            .send()
    };
    assert_eq!(
        send().await.expect("the first score").status(),
        StatusCode::NO_CONTENT
    );

    platform.stop_server().await;
    assert!(!platform.is_serving());
    let error = send()
        .await
        .expect_err("a stopped platform must not answer");
    assert!(error.is_connect() || error.is_request(), "{error:?}");

    platform.restart_server().await;
    assert!(platform.is_serving());
    assert_eq!(
        send().await.expect("the score after the restart").status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(platform.scores().len(), 2, "state survives the restart");
}

// Launch claims and the deep linking return endpoint.

#[tokio::test]
async fn service_claims_point_at_endpoints() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let claims = platform
        .resource_link_claims("http://127.0.0.1:9/lti/launch")
        .with(&[claim::CONTEXT, "id"], COURSE);
    let line_item = platform.add_line_item(COURSE, LineItemSpec::new("Unit 1", 2.0));

    let claims = platform.with_services(claims, Some(&line_item));

    assert_eq!(
        claims.get_str(&[claim::AGS_ENDPOINT, "lineitem"]),
        Some(line_item.as_str())
    );
    assert_eq!(
        claims.get_str(&[claim::AGS_ENDPOINT, "lineitems"]),
        Some(platform.line_items_url(COURSE).as_str())
    );
    let scopes = claims
        .get(&[claim::AGS_ENDPOINT, "scope"])
        .cloned()
        .unwrap_or(Value::Null);
    assert!(scopes
        .as_array()
        .is_some_and(|scopes| scopes.contains(&json!(ags_scope::SCORE))));
    assert_eq!(
        claims.get_str(&[claim::NAMES_ROLE_SERVICE, "context_memberships_url"]),
        Some(platform.memberships_url(COURSE).as_str())
    );
}

/// Runs a deep linking launch into a toy tool, so the platform has an open
/// request, and returns the platform, the tool keys and the request's data.
async fn open_deep_linking_request(
    accept_multiple: bool,
) -> (TestPlatform, ToolKeys, ToyTool, String) {
    let (platform, keys) = platform_with_tool_keys().await;
    let tool = ToyTool::start(ToyToolConfig {
        issuer: platform.issuer().to_owned(),
        client_id: platform.client_id().to_owned(),
        auth_url: platform.auth_url(),
        jwks_url: platform.jwks_url(),
        state_cookie_attributes: default_state_cookie_attributes(),
    })
    .await;
    platform.allow_redirect_uri(&tool.launch_url());
    let data = format!("request-{}", uuid::Uuid::new_v4());
    let claims = platform
        .deep_linking_claims(&tool.launch_url())
        .with(&[claim::DEEP_LINKING_SETTINGS, "data"], &data)
        .with(
            &[claim::DEEP_LINKING_SETTINGS, "accept_multiple"],
            accept_multiple,
        );
    let page = platform
        .launch(&Browser::new(), &tool.login_url(), LaunchSpec::new(claims))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.summary());
    (platform, keys, tool, data)
}

fn resource_link_item(title: &str) -> Value {
    json!({
        "type": "ltiResourceLink",
        "title": title,
        "url": "http://127.0.0.1:9/lti/launch",
        "custom": { "microcredential": "exit-tickets" },
        "lineItem": { "scoreMaximum": 2.0, "label": title, "resourceId": "exit-tickets", "tag": "microcred" },
    })
}

fn response_claims(platform: &TestPlatform, data: &str, items: Vec<Value>) -> Value {
    json!({
        "iss": platform.client_id(),
        "aud": platform.issuer(),
        "iat": now(),
        "exp": now() + 300,
        "nonce": uuid::Uuid::new_v4().to_string(),
        claim::MESSAGE_TYPE: message_type::DEEP_LINKING_RESPONSE,
        claim::VERSION: "1.3.0",
        claim::DEPLOYMENT_ID: platform.deployment_id(),
        claim::DEEP_LINKING_DATA: data,
        claim::DEEP_LINKING_CONTENT_ITEMS: items,
    })
}

async fn post_response(platform: &TestPlatform, jwt: &str) -> StatusCode {
    Browser::new()
        .post_form(&platform.deep_linking_return_url(), &[("JWT", jwt)])
        .await
        .status
}

#[tokio::test]
async fn deep_linking_return_accepts_valid_response() {
    let (platform, keys, _tool, data) = open_deep_linking_request(false).await;
    let claims = response_claims(&platform, &data, vec![resource_link_item("Exit tickets")]);

    let status = post_response(&platform, &keys.sign(&claims)).await;

    assert_eq!(status, StatusCode::OK);
    let results = platform.deep_linking_results();
    assert_eq!(results.len(), 1);
    assert!(results[0].is_accepted(), "{:?}", results[0].error);
    assert_eq!(
        results[0].content_items,
        vec![resource_link_item("Exit tickets")]
    );
    assert_eq!(
        results[0].claim(claim::DEEP_LINKING_DATA),
        Some(&json!(data))
    );
    assert_eq!(platform.deep_linking_responses().len(), 1);

    let again = post_response(&platform, &keys.sign(&claims)).await;
    assert_eq!(again, StatusCode::BAD_REQUEST, "a request is answered once");
}

#[tokio::test]
async fn deep_linking_return_rejects_bad_responses() {
    let (platform, keys, _tool, data) = open_deep_linking_request(false).await;
    let valid = response_claims(&platform, &data, vec![resource_link_item("Exit tickets")]);
    let with = |name: &str, value: Value| {
        let mut claims = valid.clone();
        claims[name] = value;
        claims
    };
    let cases = vec![
        (
            "wrong iss",
            keys.sign(&with("iss", json!("someone-else"))),
            "iss",
        ),
        (
            "wrong aud",
            keys.sign(&with("aud", json!(platform.client_id()))),
            "aud",
        ),
        (
            "wrong deployment",
            keys.sign(&with(claim::DEPLOYMENT_ID, json!("other"))),
            "deployment_id",
        ),
        ("no nonce", keys.sign(&with("nonce", Value::Null)), "nonce"),
        (
            "data not echoed",
            keys.sign(&with(claim::DEEP_LINKING_DATA, json!("other"))),
            "data",
        ),
        (
            "wrong message type",
            keys.sign(&with(claim::MESSAGE_TYPE, json!("LtiResourceLinkRequest"))),
            "message_type",
        ),
        (
            "two items refused",
            keys.sign(&with(
                claim::DEEP_LINKING_CONTENT_ITEMS,
                json!([resource_link_item("A"), resource_link_item("B")]),
            )),
            "accept_multiple",
        ),
        (
            "unaccepted type",
            keys.sign(&with(
                claim::DEEP_LINKING_CONTENT_ITEMS,
                json!([{ "type": "file", "url": "http://127.0.0.1:9/f" }]),
            )),
            "type",
        ),
        (
            "unpublished key",
            sign_with(&TestKey::fixed(3).with_kid(TOOL_KID), &valid),
            "InvalidSignature",
        ),
    ];

    for (case, jwt, reason) in cases {
        assert_eq!(
            post_response(&platform, &jwt).await,
            StatusCode::BAD_REQUEST,
            "{case}"
        );
        let result = platform.deep_linking_results().pop().expect("a result");
        let error = result.error.unwrap_or_default();
        assert!(error.contains(reason), "{case}: {error}");
    }

    assert_eq!(
        post_response(&platform, &keys.sign(&valid)).await,
        StatusCode::OK,
        "the request is still open"
    );
}

#[tokio::test]
async fn deep_linking_return_allows_multiple_when_asked() {
    let (platform, keys, _tool, data) = open_deep_linking_request(true).await;
    let items = vec![resource_link_item("A"), resource_link_item("B")];

    let status = post_response(
        &platform,
        &keys.sign(&response_claims(&platform, &data, items)),
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    let result = platform.deep_linking_results().pop().expect("a result");
    assert_eq!(result.content_items.len(), 2);
}

#[tokio::test]
async fn wait_for_scores_returns_when_enough() {
    let (platform, keys) = platform_with_tool_keys().await;
    let line_item = platform.add_line_item(COURSE, LineItemSpec::new("Unit 1", 2.0));
    let token = access_token(&platform, &keys, &[ags_scope::SCORE]).await;
    let url = scores_url(&line_item);
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        post_score(&url, &token, SCORE_MEDIA_TYPE, &valid_score("u1")).await
    });

    let scores = platform.wait_for_scores(1, Duration::from_secs(10)).await;

    assert_eq!(scores.len(), 1);
    assert_eq!(
        sender.await.expect("the sender task"),
        StatusCode::NO_CONTENT
    );
}
