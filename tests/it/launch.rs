//! The LTI 1.3 login and launch, end to end: the test platform drives a
//! browser through login initiation, the authorization request and the
//! form_post of the id_token. Every rejected login or launch must render
//! an error page with its code and request id, and leave a
//! `launch_failures` row with the same code and request id.

use microcred::config::{Settings, UnknownDeploymentPolicy};
use microcred::platforms::{self, PlatformInput};
use microcred::launch::LaunchDetails;
use microcred::login_token::{state_id, Carried};
use microcred::sessions::{self, NewSession};
use microcred::store::launches::{upsert_launch_rows, ContextRecord, ResourceLinkRecord, UserRecord};
use microcred_lti::{MessageType, RoleSet};
use microcred::store::platforms as platform_store;
use microcred::store::direct;
use microcred::store::entities::{deployment, launch_failure, login_state, session, user};
use microcred::workflow::access::Viewer;
use microcred::workflow::participation;
use microcred_testkit::{
    claim, decode_header_unverified, role, Browser, HtmlForm, LaunchClaims, LaunchSpec, LaunchStage, LoginMethod, NonceChoice,
    Page, PlatformOptions, SigningChoice, StatusCode, TestKey, TestPlatform, TestUser,
};
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter};

use crate::support::{describe, registration, text_between, TestApp};

const SESSION_COOKIE: &str = "microcred_session";
const STATE_COOKIE_PREFIX: &str = "microcred_state_";
const OTHER_CLIENT_ID: &str = "another-client";

/// Starts microcred and a test platform registered with it.
async fn start() -> (TestApp, TestPlatform) {
    start_with(|_| {}).await
}

async fn start_with(configure: impl FnOnce(&mut Settings)) -> (TestApp, TestPlatform) {
    let app = TestApp::spawn_with(configure).await;
    let platform = start_platform(&app).await;
    (app, platform)
}

/// Starts a test platform that accepts the app's redirect URI, without
/// registering it with the app.
pub(crate) async fn serve_platform(app: &TestApp, options: PlatformOptions) -> TestPlatform {
    let platform = TestPlatform::start(options).await;
    platform.allow_redirect_uri(&app.launch_url());
    platform
}

/// Starts a test platform and registers it, with its one deployment.
async fn start_platform(app: &TestApp) -> TestPlatform {
    let platform = serve_platform(app, PlatformOptions::default()).await;
    app.register(registration(&platform)).await;
    platform
}

/// Builds a complete resource link launch for the default learner.
pub(crate) fn claims(app: &TestApp, platform: &TestPlatform) -> LaunchClaims {
    platform.resource_link_claims(&app.launch_url())
}

/// Builds a resource link launch by `user` in course `n` through resource link `n`.
pub(crate) fn claims_for(app: &TestApp, platform: &TestPlatform, user: &TestUser, n: usize) -> LaunchClaims {
    claims(app, platform)
        .with_user(user)
        .with(&[claim::CONTEXT, "id"], format!("testkit-course-{n}"))
        .with(&[claim::RESOURCE_LINK, "id"], format!("testkit-resource-link-{n}"))
}

pub(crate) fn numbered_user(n: usize) -> TestUser {
    TestUser::new(&format!("testkit-user-{n}"), "Learner", &format!("Number{n}"), &format!("learner{n}@example.edu"))
}

fn grace() -> TestUser {
    TestUser::new("testkit-user-grace", "Grace", "Hopper", "grace.hopper@example.edu")
}

/// Runs a whole launch in a new browser.
pub(crate) async fn launch(app: &TestApp, platform: &TestPlatform, spec: LaunchSpec) -> Page {
    platform.launch(&Browser::new(), &app.login_url(), spec).await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sets_cookie(set_cookies: &[&str], name: &str) -> bool {
    set_cookies.iter().any(|value| value.starts_with(&format!("{name}=")))
}

/// Returns the role label that the tool's home page shows.
fn role_label(page: &Page) -> Option<&str> {
    text_between(&page.body, "<dt>Role</dt><dd>", "</dd>")
}

/// Returns a field that the browser posted to the tool's launch URL.
fn posted_field(page: &Page, name: &str) -> String {
    let hop = page
        .hop_to("/lti/launch")
        .unwrap_or_else(|| panic!("the browser never posted to /lti/launch: {}", describe(page)));
    hop.form_field(name).unwrap_or_else(|| panic!("the launch form had no {name} field")).to_string()
}

/// Checks that a launch ended on the tool's home page with a new session.
pub(crate) fn assert_launched(page: &Page) {
    assert_eq!(page.status, StatusCode::OK, "{}", describe(page));
    assert_eq!(page.url.path(), "/app", "{}", describe(page));
    let launch = page.hop_to("/lti/launch").expect("the browser posted to /lti/launch");
    assert_eq!(launch.status, StatusCode::SEE_OTHER);
    assert!(sets_cookie(&launch.set_cookies(), SESSION_COOKIE), "the launch set no session cookie");
}

/// Checks the error page of a rejected login or launch: its status, error
/// code and request id, the `x-request-id` header, no session cookie, and
/// the one `launch_failures` row for that request. Returns the row.
pub(crate) async fn assert_rejected(app: &TestApp, page: &Page, status: StatusCode, code: &str) -> launch_failure::Model {
    assert_eq!(page.status, status, "{}", describe(page));
    let code_line = format!("Error code <code>{code}</code>");
    assert!(page.body.contains(&code_line), "expected error code {code}: {}", describe(page));
    let request_id = text_between(&page.body, "Request id <code>", "</code>")
        .unwrap_or_else(|| panic!("the error page shows no request id: {}", describe(page)));
    assert_eq!(page.header("x-request-id"), Some(request_id));
    assert!(!sets_cookie(&page.set_cookies(), SESSION_COOKIE), "a rejected request set a session cookie");

    let mut rows = launch_failure::Entity::find()
        .filter(launch_failure::Column::RequestId.eq(request_id))
        .all(&app.state.db)
        .await
        .expect("read launch_failures");
    assert_eq!(rows.len(), 1, "launch_failures rows for request {request_id}: {rows:?}");
    let row = rows.remove(0);
    assert_eq!(row.reason, code);
    row
}

// Signature and key checks.

#[tokio::test]
async fn launch_rejects_missing_kid() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).signing(SigningChoice::NoKid);

    let page = launch(&app, &platform, spec).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "missing_kid").await;
}

#[tokio::test]
async fn launch_rejects_unknown_kid_after_one_refetch() {
    let (app, platform) = start().await;
    assert_launched(&launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await);
    assert_eq!(platform.jwks_fetch_count(), 1, "the first launch fetches the key set once");

    let spec = LaunchSpec::new(claims(&app, &platform)).signing(SigningChoice::UnknownKid);
    let page = launch(&app, &platform, spec).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unknown_kid").await;
    assert_eq!(platform.jwks_fetch_count(), 2, "an unknown kid causes exactly one refetch");
}

#[tokio::test]
async fn launch_rejects_unreachable_key_set() {
    let (app, platform) = start().await;
    platform.set_jwks_failure(Some(503));

    let page = launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await;

    assert_rejected(&app, &page, StatusCode::BAD_GATEWAY, "key_set_unavailable").await;
}

#[tokio::test]
async fn launch_rejects_alg_none() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).signing(SigningChoice::AlgNone);

    let page = launch(&app, &platform, spec).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unsupported_algorithm").await;
}

#[tokio::test]
async fn launch_rejects_hs256() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).signing(SigningChoice::Hs256WithPublicKey);

    let page = launch(&app, &platform, spec).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unsupported_algorithm").await;
}

#[tokio::test]
async fn launch_rejects_unpublished_signing_key() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).signing(SigningChoice::UnpublishedKey);

    let page = launch(&app, &platform, spec).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "bad_signature").await;
}

#[tokio::test]
async fn launch_rejects_tampered_payload() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).signing(SigningChoice::TamperedPayload);

    let page = launch(&app, &platform, spec).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "bad_signature").await;
}

#[tokio::test]
async fn launch_rejects_malformed_token() {
    let (app, platform) = start().await;
    let browser = Browser::new();
    let spec = LaunchSpec::new(claims(&app, &platform)).stop_after(LaunchStage::Authorization);
    let authorization = platform.launch(&browser, &app.login_url(), spec).await;
    let form = authorization.form().expect("the platform's form_post page");

    let page = browser.submit_form(&form.with_field("id_token", "not-a-jwt")).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "malformed_token").await;
}

// Time checks. The tool allows 60 s of clock skew on exp and on iat.

#[tokio::test]
async fn launch_rejects_expired_token() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with_times(now() - 3600, now() - 600);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "expired").await;
}

#[tokio::test]
async fn launch_rejects_iat_far_in_future() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with_times(now() + 3600, now() + 3900);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "issued_in_future").await;
}

#[tokio::test]
async fn launch_accepts_iat_slightly_in_future() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with_times(now() + 5, now() + 305);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_launched(&page);
}

// Issuer, audience and authorized party.

#[tokio::test]
async fn launch_rejects_wrong_issuer() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with(&["iss"], "https://other-lms.invalid");

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "wrong_issuer").await;
}

#[tokio::test]
async fn launch_rejects_wrong_audience() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with(&["aud"], OTHER_CLIENT_ID);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "wrong_audience").await;
}

#[tokio::test]
async fn launch_rejects_several_audiences_without_azp() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with(&["aud"], [platform.client_id(), OTHER_CLIENT_ID]);
    assert!(claims.get(&["azp"]).is_none());

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "wrong_azp").await;
}

#[tokio::test]
async fn launch_rejects_wrong_azp() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform)
        .with_audiences(&[platform.client_id(), OTHER_CLIENT_ID])
        .with(&["azp"], OTHER_CLIENT_ID);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "wrong_azp").await;
}

#[tokio::test]
async fn launch_accepts_audience_array_with_azp() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with_audiences(&[platform.client_id(), OTHER_CLIENT_ID]);
    assert_eq!(claims.get_str(&["azp"]), Some(platform.client_id()));

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_launched(&page);
}

// State and nonce.

#[tokio::test]
async fn concurrent_posts_of_one_state_open_one_session() {
    let (app, platform) = start().await;
    let browser = Browser::new();
    let spec = LaunchSpec::new(claims(&app, &platform)).stop_after(LaunchStage::Authorization);
    let authorization = platform.launch(&browser, &app.login_url(), spec).await;
    let form = authorization.form().expect("the platform's form_post page");

    // Posted together, the copies reach the tool's writer in one batch or a few.
    let posts = (0..8).map(|_| browser.submit_form(&form));
    let pages = futures::future::join_all(posts).await;

    // The browser follows the one accepted launch to its landing page.
    let landed = |page: &&Page| page.status == StatusCode::OK && page.url.path() == "/app";
    let opened = pages.iter().filter(landed).count();
    assert_eq!(opened, 1, "{}", pages.iter().map(describe).collect::<Vec<_>>().join("\n"));
    for page in pages.iter().filter(|page| !landed(page)) {
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", describe(page));
        assert!(page.body.contains("state_already_used"), "{}", describe(page));
    }
    let sessions = session::Entity::find().all(&app.state.db).await.expect("read sessions");
    assert_eq!(sessions.len(), 1);
}

#[tokio::test]
async fn concurrent_launches_each_open_their_session() {
    let (app, platform) = start().await;
    let launches = (0..24).map(|n| {
        let spec = LaunchSpec::new(claims_for(&app, &platform, &numbered_user(n), n));
        let (app, platform) = (&app, &platform);
        async move { platform.launch(&Browser::new(), &app.login_url(), spec).await }
    });

    let pages = futures::future::join_all(launches).await;

    for page in &pages {
        assert_launched(page);
    }
    let sessions = session::Entity::find().all(&app.state.db).await.expect("read sessions");
    let users = user::Entity::find().all(&app.state.db).await.expect("read users");
    assert_eq!(sessions.len(), 24);
    assert_eq!(users.len(), 24);
    for session in &sessions {
        assert!(users.iter().any(|user| user.id == session.user_id), "session of an unknown user: {session:?}");
    }
}

#[tokio::test]
async fn launch_rejects_replayed_id_token() {
    let (app, platform) = start().await;
    let browser = Browser::new();
    let spec = LaunchSpec::new(claims(&app, &platform)).stop_after(LaunchStage::ToolLaunch);
    let first = platform.launch(&browser, &app.login_url(), spec).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", describe(&first));
    let id_token = posted_field(&first, "id_token");
    let state = posted_field(&first, "state");

    let replay = browser.post_form(&app.launch_url(), &[("id_token", &id_token), ("state", &state)]).await;

    assert_rejected(&app, &replay, StatusCode::BAD_REQUEST, "state_already_used").await;
}

#[tokio::test]
async fn launch_rejects_id_token_with_fresh_state() {
    let (app, platform) = start().await;
    let browser = Browser::new();
    let spec = LaunchSpec::new(claims(&app, &platform)).stop_after(LaunchStage::ToolLaunch);
    let first = platform.launch(&browser, &app.login_url(), spec).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", describe(&first));
    let id_token = posted_field(&first, "id_token");

    let spec = LaunchSpec::new(claims(&app, &platform)).stop_after(LaunchStage::LoginInitiation);
    let second_login = platform.launch(&browser, &app.login_url(), spec).await;
    let fresh_state = second_login.location_param("state").expect("the second login issued a state");
    let page = browser.post_form(&app.launch_url(), &[("id_token", &id_token), ("state", &fresh_state)]).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "nonce_mismatch").await;
}

#[tokio::test]
async fn launch_rejects_nonce_never_issued() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).nonce(NonceChoice::Fixed("nonce-never-issued".into()));

    let page = launch(&app, &platform, spec).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "nonce_mismatch").await;
}

#[tokio::test]
async fn launch_rejects_missing_state() {
    let (app, platform) = start().await;
    let browser = Browser::new();
    let spec = LaunchSpec::new(claims(&app, &platform)).stop_after(LaunchStage::Authorization);
    let authorization = platform.launch(&browser, &app.login_url(), spec).await;
    let form = authorization.form().expect("the platform's form_post page");

    let page = browser.submit_form(&form.without_field("state")).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "missing_state").await;
}

#[tokio::test]
async fn launch_rejects_missing_id_token() {
    let (app, platform) = start().await;
    let browser = Browser::new();
    let spec = LaunchSpec::new(claims(&app, &platform)).stop_after(LaunchStage::Authorization);
    let authorization = platform.launch(&browser, &app.login_url(), spec).await;
    let form = authorization.form().expect("the platform's form_post page");

    let page = browser.submit_form(&form.without_field("id_token")).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "missing_id_token").await;
}

#[tokio::test]
async fn launch_rejects_unknown_state() {
    let (app, platform) = start().await;
    let id_token =
        platform.mint_id_token(&claims(&app, &platform).with_nonce("nonce-never-issued"), SigningChoice::CurrentKey);

    let page =
        Browser::new().post_form(&app.launch_url(), &[("id_token", &id_token), ("state", "state-never-issued")]).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unknown_state").await;
}

#[tokio::test]
async fn launch_rejects_state_from_another_browser() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).stop_after(LaunchStage::Authorization);
    let authorization = platform.launch(&Browser::new(), &app.login_url(), spec).await;
    let form = authorization.form().expect("the platform's form_post page");

    let other_browser = Browser::new();
    let page = other_browser.submit_form(&form).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "state_from_another_browser").await;
}

#[tokio::test]
async fn launch_accepts_two_tabs_of_one_browser() {
    let (app, platform) = start().await;
    let first_tab = Browser::new();
    let second_tab = first_tab.clone();
    let ada = TestUser::default_learner();
    let first_spec = LaunchSpec::new(claims_for(&app, &platform, &ada, 1)).stop_after(LaunchStage::Authorization);
    let second_spec = LaunchSpec::new(claims_for(&app, &platform, &ada, 2)).stop_after(LaunchStage::Authorization);
    let first = platform.launch(&first_tab, &app.login_url(), first_spec).await;
    let second = platform.launch(&second_tab, &app.login_url(), second_spec).await;
    let first_form = first.form().expect("the first tab's form_post page");
    let second_form = second.form().expect("the second tab's form_post page");
    assert_ne!(first_form.field("state"), second_form.field("state"));

    let first_done = first_tab.submit_form(&first_form).await;
    let second_done = second_tab.submit_form(&second_form).await;

    assert_launched(&first_done);
    assert_launched(&second_done);
}

// Login initiation.

#[tokio::test]
async fn login_redirect_carries_oidc_parameters() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform))
        .lti_message_hint(Some("message-hint-1"))
        .stop_after(LaunchStage::LoginInitiation);

    let page = launch(&app, &platform, spec).await;

    assert_eq!(page.status, StatusCode::FOUND, "{}", describe(&page));
    let location = page.location().expect("the login response has a Location");
    assert!(location.as_str().starts_with(&platform.auth_url()), "redirected to {location}");
    let param = |name: &str| page.location_param(name);
    assert_eq!(param("scope").as_deref(), Some("openid"));
    assert_eq!(param("response_type").as_deref(), Some("id_token"));
    assert_eq!(param("response_mode").as_deref(), Some("form_post"));
    assert_eq!(param("prompt").as_deref(), Some("none"));
    assert_eq!(param("client_id").as_deref(), Some(platform.client_id()));
    assert_eq!(param("redirect_uri"), Some(app.launch_url()));
    assert_eq!(param("login_hint").as_deref(), Some("testkit-user-ada"));
    assert_eq!(param("lti_message_hint").as_deref(), Some("message-hint-1"));
    let state = param("state").expect("a state parameter");
    let nonce = param("nonce").expect("a nonce parameter");
    assert_ne!(state, nonce);

    // The state carries the login: the login stores nothing.
    let carried = match app.state.login_tokens.open(&state) {
        Ok(Carried::Token(carried)) => carried,
        other => panic!("the state is not a login token of the tool: {other:?}"),
    };
    assert_eq!(carried.nonce, nonce);
    assert_eq!(carried.state, state_id(&state));
    let found = platforms::find(&app.state.db, platform.issuer(), platform.client_id()).await.expect("find the registration");
    assert_eq!(carried.platform_id, found.id);
    let params = carried.login_params.expect("the login's parameters");
    assert!(params.contains(r#""lti_message_hint":"message-hint-1""#), "{params}");
    assert_eq!(login_state::Entity::find().count(&app.state.db).await.expect("count login_states"), 0);
}

#[tokio::test]
async fn login_accepts_get() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).login_method(LoginMethod::Get);

    let page = launch(&app, &platform, spec).await;

    assert_launched(&page);
    let login = page.hop_to("/lti/login").expect("the browser reached /lti/login");
    assert_eq!(login.method.as_str(), "GET");
    assert_eq!(
        login.url.query_pairs().find(|(name, _)| name == "iss").map(|(_, value)| value.into_owned()).as_deref(),
        Some(platform.issuer())
    );
}

#[tokio::test]
async fn login_accepts_post() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).login_method(LoginMethod::Post);

    let page = launch(&app, &platform, spec).await;

    assert_launched(&page);
    let login = page.hop_to("/lti/login").expect("the browser reached /lti/login");
    assert_eq!(login.method.as_str(), "POST");
    assert_eq!(login.form_field("iss"), Some(platform.issuer()));
}

#[tokio::test]
async fn login_accepts_omitted_client_id() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).without_login_param("client_id");

    let page = launch(&app, &platform, spec).await;

    assert_launched(&page);
}

#[tokio::test]
async fn login_keeps_auth_url_query() {
    let app = TestApp::spawn().await;
    let platform = serve_platform(&app, PlatformOptions::default()).await;
    let auth_url = format!("{}?tenant=district-7", platform.auth_url());
    app.register(PlatformInput { auth_url, ..registration(&platform) }).await;

    let page = launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await;

    assert_launched(&page);
    let login = page.hop_to("/lti/login").expect("the browser reached /lti/login");
    let location = url::Url::parse(login.header("location").expect("a Location header")).expect("an absolute URL");
    assert_eq!(location.path(), "/oidc/authorize");
    let tenants: Vec<String> =
        location.query_pairs().filter(|(name, _)| name == "tenant").map(|(_, value)| value.into_owned()).collect();
    assert_eq!(tenants, ["district-7"]);
    assert_eq!(location.query_pairs().filter(|(name, _)| name == "state").count(), 1);
}

#[tokio::test]
async fn login_rejects_missing_issuer() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).without_login_param("iss");

    let page = launch(&app, &platform, spec).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "missing_issuer").await;
    assert!(platform.authorization_requests().is_empty());
}

#[tokio::test]
async fn login_rejects_unknown_issuer() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).login_param("iss", "https://unregistered-lms.invalid");

    let page = launch(&app, &platform, spec).await;

    let failure = assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unknown_issuer").await;
    assert_eq!(failure.issuer.as_deref(), Some("https://unregistered-lms.invalid"));
    assert!(!page.set_cookies().iter().any(|value| value.starts_with(STATE_COOKIE_PREFIX)));
    assert!(platform.authorization_requests().is_empty());
}

#[tokio::test]
async fn login_rejects_unknown_client() {
    let (app, platform) = start().await;
    let spec = LaunchSpec::new(claims(&app, &platform)).login_param("client_id", OTHER_CLIENT_ID);

    let page = launch(&app, &platform, spec).await;

    let failure = assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unknown_client").await;
    assert_eq!(failure.client_id.as_deref(), Some(OTHER_CLIENT_ID));
}

#[tokio::test]
async fn login_rejects_ambiguous_client() {
    let (app, platform) = start().await;
    app.register(PlatformInput { client_id: OTHER_CLIENT_ID.to_string(), ..registration(&platform) }).await;
    let spec = LaunchSpec::new(claims(&app, &platform)).without_login_param("client_id");

    let page = launch(&app, &platform, spec).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "ambiguous_client").await;
}

#[tokio::test]
async fn login_rejects_foreign_target_link_uri() {
    let (app, platform) = start().await;
    let foreign = platform.url("/lti/launch");
    let spec = LaunchSpec::new(claims(&app, &platform)).login_param("target_link_uri", &foreign);

    let page = launch(&app, &platform, spec).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "foreign_target_link_uri").await;
    assert!(platform.authorization_requests().is_empty());
}

#[tokio::test]
async fn login_rejects_disabled_registration() {
    let (app, platform) = start().await;
    { let found = platforms::find(&app.state.db, platform.issuer(), platform.client_id()).await.expect("find the registration"); platforms::disable(&app.state.db, found).await.expect("disable the registration") };

    let page = launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "registration_disabled").await;
}

#[tokio::test]
async fn launch_rejects_registration_disabled_after_login() {
    let (app, _platform, browser, form, found) = launch_stopped_at_form().await;
    platforms::disable(&app.state.db, found).await.expect("disable the registration");

    let page = browser.submit_form(&form).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "registration_disabled").await;
    assert_eq!(session::Entity::find().all(&app.state.db).await.expect("read sessions").len(), 0);
}

/// Starts microcred and a platform, and runs a launch up to the platform's
/// form_post page. Returns the platform, which serves its key set while it
/// lives, the browser, the form it has yet to submit and the stored
/// registration.
async fn launch_stopped_at_form() -> (TestApp, TestPlatform, Browser, HtmlForm, microcred::store::entities::platform::Model) {
    launch_stopped_at_form_naming(None).await
}

/// Like [`launch_stopped_at_form`], for a link that names the micro-credential
/// `credential` when given. On SQLite such a launch is stored by the launch
/// writer's own connection, and one that names none by the pool's.
async fn launch_stopped_at_form_naming(
    credential: Option<&str>,
) -> (TestApp, TestPlatform, Browser, HtmlForm, microcred::store::entities::platform::Model) {
    let (app, platform) = start().await;
    let browser = Browser::new();
    let claims = match credential {
        Some(slug) => claims(&app, &platform).with_custom("microcredential", slug),
        None => claims(&app, &platform),
    };
    let spec = LaunchSpec::new(claims).stop_after(LaunchStage::Authorization);
    let authorization = platform.launch(&browser, &app.login_url(), spec).await;
    let form = authorization.form().expect("the platform's form_post page");
    let found = platforms::find(&app.state.db, platform.issuer(), platform.client_id()).await.expect("find the registration");
    (app, platform, browser, form, found)
}

/// The micro-credential a link names in the launches that test both ways of storing a launch.
const NAMED: Option<&str> = Some("exit-tickets");

#[tokio::test]
async fn launch_rejects_registration_set_pending_after_login() {
    for credential in [None, NAMED] {
        let (app, _platform, browser, form, found) = launch_stopped_at_form_naming(credential).await;
        platform_store::set_status(&app.state.db, found.id, platform_store::STATUS_PENDING).await.expect("set pending");

        let page = browser.submit_form(&form).await;

        assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "registration_pending").await;
        assert_eq!(session::Entity::find().all(&app.state.db).await.expect("read sessions").len(), 0, "{credential:?}");
    }
}

#[tokio::test]
async fn launch_rejects_deployment_disabled_after_login() {
    for credential in [None, NAMED] {
        let (app, _platform, browser, form, found) = launch_stopped_at_form_naming(credential).await;
        let deployments = platform_store::deployments(&app.state.db, found.id).await.expect("read deployments");
        assert_eq!(deployments.len(), 1, "{deployments:?}");
        platform_store::set_deployment_status(&app.state.db, deployments[0].id, platform_store::STATUS_DISABLED)
            .await
            .expect("disable the deployment");

        let page = browser.submit_form(&form).await;

        let failure = assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "deployment_disabled").await;
        assert_eq!(failure.deployment_id.as_deref(), Some(deployments[0].deployment_id.as_str()));
        assert_eq!(session::Entity::find().all(&app.state.db).await.expect("read sessions").len(), 0, "{credential:?}");
    }
}

#[tokio::test]
async fn launch_rejects_second_post_of_form() {
    for credential in [None, NAMED] {
        let (app, _platform, browser, form, _found) = launch_stopped_at_form_naming(credential).await;
        let first = browser.submit_form(&form).await;
        assert_launched(&first);

        let second = browser.submit_form(&form).await;

        assert_rejected(&app, &second, StatusCode::BAD_REQUEST, "state_already_used").await;
        assert_eq!(session::Entity::find().all(&app.state.db).await.expect("read sessions").len(), 1, "{credential:?}");
    }
}

/// Returns the login that the state of `form` carries, sealed by `app`.
fn carried_login(app: &TestApp, form: &HtmlForm) -> login_state::Model {
    let state = form.field("state").expect("the form's state");
    match app.state.login_tokens.open(state) {
        Ok(Carried::Token(login)) => login,
        other => panic!("the state is not a login token of the tool: {other:?}"),
    }
}

/// Checks that a rejected launch opened no session and used no state.
async fn assert_nothing_stored(app: &TestApp) {
    let db = &app.state.db;
    assert_eq!(session::Entity::find().count(db).await.expect("count sessions"), 0);
    assert_eq!(login_state::Entity::find().count(db).await.expect("count login_states"), 0);
}

#[tokio::test]
async fn launch_rejects_state_with_changed_details() {
    let (app, _platform, browser, mut form, _found) = launch_stopped_at_form().await;
    let state = form.field("state").expect("the form's state").to_string();
    // Change one character of the encoded details and keep the id, which the cookie matches.
    let details_at = state.find('.').expect("a token") + 2;
    let changed = if state.as_bytes()[details_at] == b'A' { "B" } else { "A" };
    let forged = format!("{}{changed}{}", &state[..details_at], &state[details_at + 1..]);
    assert_eq!(state_id(&forged), state_id(&state));
    form.set_field("state", &forged);

    let page = browser.submit_form(&form).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unknown_state").await;
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn launch_rejects_expired_state() {
    let (app, _platform, browser, mut form, _found) = launch_stopped_at_form().await;
    let login = carried_login(&app, &form);
    let expired = login_state::Model { expires_at: chrono::Utc::now() - chrono::Duration::seconds(1), ..login };
    form.set_field("state", &app.state.login_tokens.seal(&expired));

    let page = browser.submit_form(&form).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unknown_state").await;
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn launch_rejects_state_of_another_installation() {
    let (app, _platform, browser, mut form, _found) = launch_stopped_at_form().await;
    let (other, _other_platform) = start().await;
    let login = carried_login(&app, &form);
    form.set_field("state", &other.state.login_tokens.seal(&login));

    let page = browser.submit_form(&form).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unknown_state").await;
    assert_nothing_stored(&app).await;
}

/// A login whose parameters would make the state too long for the
/// authorization URL stores its state, and the launch uses the row.
#[tokio::test]
async fn long_login_stores_its_state() {
    let (app, platform) = start().await;
    let browser = Browser::new();
    let hint = format!("testkit-message-{}", "h".repeat(2500));
    let spec = LaunchSpec::new(claims(&app, &platform)).lti_message_hint(Some(&hint)).stop_after(LaunchStage::Authorization);
    let authorization = platform.launch(&browser, &app.login_url(), spec).await;
    let form = authorization.form().expect("the platform's form_post page");
    let state = form.field("state").expect("the form's state").to_string();
    assert!(!state.contains('.'), "a stored state is its id alone: {} characters", state.len());
    let db = &app.state.db;
    let stored = login_state::Entity::find_by_id(state.clone()).one(db).await.expect("read login_states").expect("the stored state");
    assert!(stored.login_params.as_deref().is_some_and(|params| params.contains(&hint)));
    assert_eq!(stored.used_at, None);

    let page = browser.submit_form(&form).await;

    assert_launched(&page);
    let used = login_state::Entity::find_by_id(state).one(db).await.expect("read login_states").expect("the stored state");
    assert!(used.used_at.is_some(), "{used:?}");
    let again = browser.submit_form(&form).await;
    assert_rejected(&app, &again, StatusCode::BAD_REQUEST, "state_already_used").await;
}

#[tokio::test]
async fn named_launch_stores_its_rows() {
    let (app, _platform, browser, form, found) = launch_stopped_at_form_naming(NAMED).await;

    let page = browser.submit_form(&form).await;

    assert_launched(&page);
    assert!(page.body.contains("Using Exit Tickets to Adjust Instruction"), "{}", describe(&page));
    let db = &app.state.db;
    let sessions = session::Entity::find().all(db).await.expect("read sessions");
    assert_eq!(sessions.len(), 1);
    let users = user::Entity::find().all(db).await.expect("read users");
    assert_eq!(users.len(), 1);
    assert_eq!(sessions[0].user_id, users[0].id);
    assert_eq!(sessions[0].platform_id, found.id);
    let link_pk = sessions[0].resource_link_pk.expect("the session's link");
    let link = microcred::store::launches::resource_link_by_id(db, link_pk).await.expect("read the link").expect("the link");
    assert_eq!(link.credential_slug.as_deref(), NAMED);
    assert_eq!(link.context_pk, sessions[0].context_pk);
    let state = form.field("state").expect("the form's state").to_string();
    let stored = login_state::Entity::find_by_id(state_id(&state)).one(db).await.expect("read login_states").expect("the state");
    assert!(stored.used_at.is_some(), "{stored:?}");
}

/// The landing overview that a launch reads on the SQLite launch writer's
/// connection is the one read through the pool, enrolment included.
#[tokio::test]
async fn landing_row_reads_enrolment() {
    let (app, _platform, browser, form, _found) = launch_stopped_at_form_naming(NAMED).await;
    assert_launched(&browser.submit_form(&form).await);
    let db = &app.state.db;
    let row = session::Entity::find().one(db).await.expect("read sessions").expect("the session");
    let viewer = Viewer {
        user_id: row.user_id,
        platform_id: row.platform_id,
        context_pk: row.context_pk,
        resource_link_pk: row.resource_link_pk,
        roles: RoleSet::from_storage(&row.roles),
    };
    let slug = NAMED.expect("a named micro-credential");
    let enrolled = participation::enroll(db, &viewer, slug, &[]).await.expect("enrol");
    let Some(sqlite) = app.state.writer.sqlite() else {
        return;
    };

    let statement = participation::landing_statement(DbBackend::Sqlite, &viewer, slug).expect("a course launch");
    let rows = sqlite
        .run(move |connection| direct::query(connection, &statement, participation::landing_columns()))
        .await
        .expect("the batch commits")
        .expect("the landing query");
    let landing = participation::overview_from_row(db, rows.first().expect("the landing row")).await.expect("overview");

    let through_pool = participation::overview(db, &viewer, slug).await.expect("overview through the pool");
    assert_eq!(landing.enrollment.as_ref().map(|e| e.id), Some(enrolled.id));
    assert_eq!(
        serde_json::to_value(&landing).expect("serialize"),
        serde_json::to_value(&through_pool).expect("serialize")
    );
}

#[tokio::test]
async fn upsert_launch_rows_moves_link() {
    let (app, platform) = start().await;
    let db = &app.state.db;
    let platform_id = platforms::find(db, platform.issuer(), platform.client_id()).await.expect("find").id;
    let deployment_pk = platform_store::deployments(db, platform_id).await.expect("read deployments")[0].id;
    let user = |name| UserRecord { platform_id, issuer: "rows-probe", subject: "u-1", name, email: None };
    let course = |context_id| ContextRecord { platform_id, issuer: "rows-probe", context_id, label: None, title: None };
    let link = |title, credential_slug| ResourceLinkRecord { resource_link_id: "link-1", title, credential_slug };
    // The user, course and link keys of a session row are replaced by those of the rows stored with it.
    let session_row = || {
        let new = NewSession {
            user_id: 0,
            platform_id,
            deployment_pk,
            context_pk: None,
            resource_link_pk: None,
            roles: RoleSet::from_claim(&[role::LEARNER.to_string()]),
            message_type: MessageType::LtiResourceLinkRequest,
            details: LaunchDetails::default(),
        };
        sessions::new_row(8, new).expect("a session row").1
    };

    let first =
        upsert_launch_rows(db, user(Some("Ada")), course("course-a"), Some(link(Some("Week 1"), Some("exit-tickets"))), Some(session_row()))
            .await
            .expect("first launch rows");
    let second = upsert_launch_rows(db, user(None), course("course-b"), Some(link(None, None)), None)
        .await
        .expect("second launch rows");
    let without_link =
        upsert_launch_rows(db, user(None), course("course-b"), None, Some(session_row())).await.expect("rows without link");

    let first_link = first.resource_link.expect("first link row");
    let first_session = first.session.expect("first session row");
    assert_eq!(first_link.context_pk, Some(first.context.id));
    assert_eq!(first_session.user_id, first.user.id);
    assert_eq!(first_session.context_pk, Some(first.context.id));
    assert_eq!(first_session.resource_link_pk, Some(first_link.id));
    let second_link = second.resource_link.expect("second link row");
    assert!(second.session.is_none());
    assert_eq!(second.user.id, first.user.id);
    assert_eq!(second.user.name.as_deref(), Some("Ada"));
    assert_ne!(second.context.id, first.context.id);
    assert_eq!(second_link.id, first_link.id);
    assert_eq!(second_link.context_pk, Some(second.context.id));
    assert_eq!(second_link.title.as_deref(), Some("Week 1"));
    assert_eq!(second_link.credential_slug.as_deref(), Some("exit-tickets"));
    let lone_session = without_link.session.expect("session row without link");
    assert_eq!(without_link.context.id, second.context.id);
    assert!(without_link.resource_link.is_none());
    assert_eq!(lone_session.context_pk, Some(second.context.id));
    assert_eq!(lone_session.resource_link_pk, None);
    assert_eq!(lone_session.user_id, first.user.id);
}

// Deployments.

#[tokio::test]
async fn launch_rejects_unregistered_deployment() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with(&[claim::DEPLOYMENT_ID], "unregistered-deployment");

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    let failure = assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unknown_deployment").await;
    assert!(page.body.contains("unregistered-deployment"), "{}", describe(&page));
    assert!(page.body.contains(platform.client_id()), "{}", describe(&page));
    assert_eq!(failure.deployment_id.as_deref(), Some("unregistered-deployment"));
    assert_eq!(failure.client_id.as_deref(), Some(platform.client_id()));
}

#[tokio::test]
async fn launch_records_pending_deployment() {
    let (app, platform) =
        start_with(|settings| settings.lti.unknown_deployment = UnknownDeploymentPolicy::Pending).await;
    let claims = claims(&app, &platform).with(&[claim::DEPLOYMENT_ID], "new-deployment");

    let first = launch(&app, &platform, LaunchSpec::new(claims.clone())).await;
    let second = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_rejected(&app, &first, StatusCode::BAD_REQUEST, "deployment_pending").await;
    assert_rejected(&app, &second, StatusCode::BAD_REQUEST, "deployment_pending").await;
    let rows = deployment::Entity::find()
        .filter(deployment::Column::DeploymentId.eq("new-deployment"))
        .all(&app.state.db)
        .await
        .expect("read deployments");
    assert_eq!(rows.len(), 1, "deployments named new-deployment: {rows:?}");
    assert_eq!(rows[0].status, "pending");
}

// Message claims.

#[tokio::test]
async fn launch_rejects_version_1_2() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with(&[claim::VERSION], "1.2.0");

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unsupported_version").await;
}

#[tokio::test]
async fn launch_rejects_missing_message_type() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).without(&[claim::MESSAGE_TYPE]);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "missing_message_type").await;
}

#[tokio::test]
async fn launch_rejects_unsupported_message_type() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with(&[claim::MESSAGE_TYPE], "LtiStartProctoring");

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "unsupported_message_type").await;
}

#[tokio::test]
async fn launch_rejects_missing_roles() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).without(&[claim::ROLES]);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    let failure = assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "missing_claim").await;
    assert!(failure.detail.contains("roles"), "detail: {}", failure.detail);
}

#[tokio::test]
async fn launch_rejects_missing_sub() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).without(&["sub"]);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    let failure = assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "missing_claim").await;
    assert!(failure.detail.contains("sub"), "detail: {}", failure.detail);
}

#[tokio::test]
async fn launch_rejects_resource_link_without_id() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).without(&[claim::RESOURCE_LINK, "id"]);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    let failure = assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "missing_claim").await;
    assert!(failure.detail.contains("resource_link.id"), "detail: {}", failure.detail);
}

#[tokio::test]
async fn launch_rejects_resource_link_with_empty_id() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with(&[claim::RESOURCE_LINK, "id"], "");

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    let failure = assert_rejected(&app, &page, StatusCode::BAD_REQUEST, "missing_claim").await;
    assert!(failure.detail.contains("resource_link.id"), "detail: {}", failure.detail);
}

// Roles and users.

#[tokio::test]
async fn launch_maps_lis_roles_to_labels() {
    let (app, platform) = start().await;
    let cases = [
        (role::LEARNER, "Participant"),
        (role::INSTRUCTOR, "Assessor"),
        (role::TEACHING_ASSISTANT, "Assessor"),
        (role::MENTOR, "Assessor"),
        (role::ADMINISTRATOR, "Administrator"),
        (role::CONTENT_DEVELOPER, "Administrator"),
    ];

    for (n, (role, label)) in cases.into_iter().enumerate() {
        let claims = claims_for(&app, &platform, &numbered_user(n), n).with_roles([role]);
        let page = launch(&app, &platform, LaunchSpec::new(claims)).await;
        assert_launched(&page);
        assert_eq!(role_label(&page), Some(label), "role {role}");
    }
}

#[tokio::test]
async fn launch_accepts_empty_role_string() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with_roles([""]);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_launched(&page);
    assert_eq!(role_label(&page), Some("Participant"));
}

#[tokio::test]
async fn launch_accepts_short_role_name() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform).with_roles(["Instructor"]);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_launched(&page);
    assert_eq!(role_label(&page), Some("Assessor"));
}

#[tokio::test]
async fn launch_accepts_unknown_roles_only() {
    let (app, platform) = start().await;
    let unknown = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Observer", "urn:example:district:coach"];
    let claims = claims(&app, &platform).with_roles(unknown);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_launched(&page);
    assert_eq!(role_label(&page), Some("Participant"));
}

#[tokio::test]
async fn launch_accepts_several_roles() {
    let (app, platform) = start().await;
    let claims =
        claims(&app, &platform).with_roles([role::LEARNER, role::TEACHING_ASSISTANT, "urn:example:district:coach"]);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_launched(&page);
    assert_eq!(role_label(&page), Some("Assessor"));
}

#[tokio::test]
async fn launch_shows_user_and_course() {
    let (app, platform) = start().await;

    let page = launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await;

    assert_launched(&page);
    assert!(page.body.contains("Ada Lovelace"), "{}", describe(&page));
    assert!(page.body.contains("Professional Development 101"), "{}", describe(&page));
    assert_eq!(role_label(&page), Some("Participant"));
}

#[tokio::test]
async fn launch_accepts_missing_name_and_email() {
    let (app, platform) = start().await;
    let claims = claims(&app, &platform)
        .without(&["name"])
        .without(&["given_name"])
        .without(&["family_name"])
        .without(&["email"]);

    let page = launch(&app, &platform, LaunchSpec::new(claims)).await;

    assert_launched(&page);
    assert!(!page.body.contains("Lovelace"), "{}", describe(&page));
    assert!(page.body.contains("Professional Development 101"), "{}", describe(&page));
    assert_eq!(role_label(&page), Some("Participant"));
}

#[tokio::test]
async fn launch_keys_users_by_issuer_and_sub() {
    let app = TestApp::spawn().await;
    let first_platform = start_platform(&app).await;
    let second_platform = start_platform(&app).await;
    assert_ne!(first_platform.issuer(), second_platform.issuer());

    for platform in [&first_platform, &second_platform] {
        let page = launch(&app, platform, LaunchSpec::new(claims(&app, platform))).await;
        assert_launched(&page);
    }

    let users = user::Entity::find()
        .filter(user::Column::Subject.eq("testkit-user-ada"))
        .all(&app.state.db)
        .await
        .expect("read users");
    let mut issuers: Vec<&str> = users.iter().map(|user| user.issuer.as_str()).collect();
    issuers.sort_unstable();
    let mut expected = vec![first_platform.issuer(), second_platform.issuer()];
    expected.sort_unstable();
    assert_eq!(issuers, expected);
}

#[tokio::test]
async fn launch_accepts_returning_user() {
    let (app, platform) = start().await;

    let first = launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await;
    let second = launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await;

    assert_launched(&first);
    assert_launched(&second);
    assert!(second.body.contains("Ada Lovelace"), "{}", describe(&second));
}

#[tokio::test]
async fn launch_keeps_returning_user_apart() {
    // With one connection, SQLite's last_insert_rowid follows the order of
    // the requests below, so the outcome does not depend on the pool.
    let app = TestApp::spawn_with(|settings| settings.database.max_connections = 1).await;
    let platform = start_platform(&app).await;
    let ada = TestUser::default_learner();
    assert_launched(&launch(&app, &platform, LaunchSpec::new(claims_for(&app, &platform, &ada, 1))).await);

    // Grace and Ada both log in, then Grace launches first and Ada second.
    let grace_browser = Browser::new();
    let ada_browser = Browser::new();
    let grace_spec = LaunchSpec::new(claims_for(&app, &platform, &grace(), 2)).stop_after(LaunchStage::Authorization);
    let ada_spec = LaunchSpec::new(claims_for(&app, &platform, &ada, 3)).stop_after(LaunchStage::Authorization);
    let grace_form =
        platform.launch(&grace_browser, &app.login_url(), grace_spec).await.form().expect("Grace's form_post page");
    let ada_form =
        platform.launch(&ada_browser, &app.login_url(), ada_spec).await.form().expect("Ada's form_post page");
    let grace_page = grace_browser.submit_form(&grace_form).await;
    let ada_page = ada_browser.submit_form(&ada_form).await;

    assert_launched(&grace_page);
    assert!(grace_page.body.contains("Grace Hopper"), "{}", describe(&grace_page));
    assert_launched(&ada_page);
    assert!(ada_page.body.contains("Ada Lovelace"), "Ada's launch shows another user: {}", describe(&ada_page));
    assert!(!ada_page.body.contains("Grace Hopper"), "Ada's launch shows Grace: {}", describe(&ada_page));
}

#[tokio::test]
async fn launch_accepts_key_rotation_with_one_refetch() {
    let (app, platform) = start().await;
    assert_launched(&launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await);
    assert_eq!(platform.jwks_fetch_count(), 1);

    let new_key = TestKey::fixed(2);
    platform.rotate_to(new_key.clone());
    let page = launch(&app, &platform, LaunchSpec::new(claims_for(&app, &platform, &grace(), 2))).await;

    assert_launched(&page);
    let id_token = posted_field(&page, "id_token");
    let header = decode_header_unverified(&id_token).expect("a JWT header");
    assert_eq!(header["kid"], new_key.kid());
    assert_eq!(platform.jwks_fetch_count(), 2, "the new kid causes exactly one refetch");
}

// What the tool shows and publishes.

#[tokio::test]
async fn launch_error_page_omits_id_token() {
    let (app, platform) = start().await;
    let cases = [
        (LaunchSpec::new(claims(&app, &platform).with(&["aud"], OTHER_CLIENT_ID)), "wrong_audience"),
        (LaunchSpec::new(claims(&app, &platform)).signing(SigningChoice::TamperedPayload), "bad_signature"),
    ];

    for (spec, code) in cases {
        let page = launch(&app, &platform, spec).await;
        let failure = assert_rejected(&app, &page, StatusCode::BAD_REQUEST, code).await;
        let id_token = posted_field(&page, "id_token");
        let signature = id_token.rsplit('.').next().expect("a signature segment");
        assert!(!page.body.contains(&id_token), "the {code} page contains the id_token");
        assert!(!page.body.contains(signature), "the {code} page contains the id_token's signature");
        assert!(!failure.detail.contains(signature), "the {code} failure row contains the id_token's signature");
    }
}

#[tokio::test]
async fn login_sets_state_cookie_attributes() {
    let (app, platform) = start().await;
    let browser = Browser::new();
    let spec = LaunchSpec::new(claims(&app, &platform)).stop_after(LaunchStage::LoginInitiation);

    let page = platform.launch(&browser, &app.login_url(), spec).await;

    let state = page.location_param("state").expect("the login issued a state");
    let name = format!("{STATE_COOKIE_PREFIX}{}", &state[..16]);
    let set_cookies = page.set_cookies();
    let raw = set_cookies
        .iter()
        .find(|value| value.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {set_cookies:?}"));
    let cookie = cookie::Cookie::parse(*raw).expect("a valid Set-Cookie value");
    assert_eq!(cookie.value(), state_id(&state), "the cookie holds the state's id only");
    assert_eq!(cookie.path(), Some("/lti"));
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.same_site(), Some(cookie::SameSite::None));
    assert_eq!(cookie.partitioned(), Some(true));
    assert!(browser.cookie(&name).is_some(), "the browser rejected the cookie: {:?}", browser.rejected_cookies());
}

#[tokio::test]
async fn launch_sets_session_cookie_attributes() {
    let (app, platform) = start().await;
    let browser = Browser::new();

    let page = platform.launch(&browser, &app.login_url(), LaunchSpec::new(claims(&app, &platform))).await;

    assert_launched(&page);
    let state = posted_field(&page, "state");
    let launch = page.hop_to("/lti/launch").expect("the browser posted to /lti/launch");
    let set_cookies = launch.set_cookies();
    let raw = set_cookies
        .iter()
        .find(|value| value.starts_with(&format!("{SESSION_COOKIE}=")))
        .unwrap_or_else(|| panic!("no session cookie in {set_cookies:?}"));
    let cookie = cookie::Cookie::parse(*raw).expect("a valid Set-Cookie value");
    assert!(!cookie.value().is_empty());
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.same_site(), Some(cookie::SameSite::None));
    assert_eq!(cookie.partitioned(), Some(true));
    let state_cookie = format!("{STATE_COOKIE_PREFIX}{}", &state[..16]);
    assert!(browser.cookie(&state_cookie).is_none(), "the launch left the spent state cookie in the browser");
}

#[tokio::test]
async fn healthz_reports_ok() {
    let app = TestApp::spawn().await;

    let page = Browser::new().get(&app.url("/healthz")).await;

    assert_eq!(page.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&page.body).expect("a JSON body");
    assert_eq!(body, serde_json::json!({ "status": "ok" }));
}

#[tokio::test]
async fn jwks_lists_tool_signing_key() {
    let app = TestApp::spawn().await;

    let page = Browser::new().get(&app.url("/.well-known/jwks.json")).await;

    assert_eq!(page.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&page.body).expect("a JSON body");
    let keys = body["keys"].as_array().expect("a keys array");
    assert!(!keys.is_empty());
    for key in keys {
        assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()), "{key}");
        assert_eq!(key["kty"], "RSA", "{key}");
        assert_eq!(key["alg"], "RS256", "{key}");
        assert!(key["n"].as_str().is_some_and(|n| !n.is_empty()), "{key}");
        assert!(key["e"].as_str().is_some_and(|e| !e.is_empty()), "{key}");
    }

    // The published key must verify what the tool's signing key signs.
    let signing = microcred::keys::signing_key(&app.state.db).await.expect("the tool's signing key");
    let published = keys
        .iter()
        .find(|key| key["kid"] == signing.kid.as_str())
        .unwrap_or_else(|| panic!("the JWKS does not list the signing key {}", signing.kid));
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &serde_json::json!({ "sub": "jwks-check", "exp": now() + 60 }),
        &signing.key,
    )
    .expect("sign a check token");
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        published["n"].as_str().expect("n"),
        published["e"].as_str().expect("e"),
    )
    .expect("a usable RSA key");
    let verified = jsonwebtoken::decode::<serde_json::Value>(
        &token,
        &decoding,
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256),
    );
    assert!(verified.is_ok(), "the published key does not verify the signing key's signature: {verified:?}");
}
