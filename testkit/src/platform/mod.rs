//! The test LTI 1.3 platform: an axum server on 127.0.0.1 with a JWKS
//! endpoint, an OIDC authorization endpoint and a launch starter. It also
//! serves the LTI Advantage services: an OAuth 2.0 token endpoint,
//! Assignment and Grade Services, Names and Role Provisioning Services and
//! a deep linking return endpoint, and the platform side of LTI Dynamic
//! Registration.

mod advantage_api;
mod ags;
mod authorize;
mod deep_linking;
mod launch;
mod nrps;
mod registration;
mod services;
mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::claims::{LaunchClaims, PlatformIdentity};
use crate::html;
use crate::jwt::{self, MintingKeys, SigningChoice};
use crate::keys::{TestKey, FIXED_KEY_COUNT};

pub use ags::{
    validate_score, LineItemSpec, ReceivedScore, ACTIVITY_PROGRESS_VALUES, GRADING_PROGRESS_VALUES,
    LINE_ITEM_CONTAINER_MEDIA_TYPE, LINE_ITEM_MEDIA_TYPE, SCORE_MEDIA_TYPE,
};
pub use authorize::{AuthErrorMode, AuthorizationOutcome, AuthorizationRecord};
pub use deep_linking::DeepLinkingResult;
pub use launch::{LaunchSpec, LaunchStage, LoginMethod, PreparedLaunch};
pub use nrps::MEMBERSHIP_CONTAINER_MEDIA_TYPE;
pub use services::{InjectedFailure, ServiceEndpoint, ServiceRequestRecord};
pub use token::{TokenOutcome, TokenRequestRecord, CLIENT_ASSERTION_TYPE};

use launch::LoginStart;
use services::ServiceState;

/// Paths of the platform's endpoints.
const AUTH_PATH: &str = "/oidc/authorize";
const JWKS_PATH: &str = "/.well-known/jwks.json";
const TOKEN_PATH: &str = "/oauth2/token";
const DEEP_LINKING_RETURN_PATH: &str = "/deep-linking/return";
const COURSE_PATH: &str = "/courses/testkit-course-1";
const LAUNCH_START_PATH: &str = "/launches";
const LINE_ITEMS_PATH: &str = "/ags/contexts/{context}/lineitems";
const LINE_ITEM_PATH: &str = "/ags/contexts/{context}/lineitems/{item}";
const SCORES_PATH: &str = "/ags/contexts/{context}/lineitems/{item}/scores";
const MEMBERSHIPS_PATH: &str = "/nrps/contexts/{context}/memberships";

/// Default lifetime of the access tokens the token endpoint issues, in seconds.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS: u64 = 3600;

/// Time [`TestPlatform::stop_server`] waits for open requests to finish
/// before it drops their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Settings for [`TestPlatform::start`]. Every field has a default.
#[derive(Clone, Debug)]
pub struct PlatformOptions {
    /// The `iss` value. Defaults to the platform's base URL,
    /// `http://127.0.0.1:{port}`.
    pub issuer: Option<String>,
    pub client_id: String,
    pub deployment_id: String,
    /// Redirect URIs registered for the tool. The authorization endpoint
    /// rejects any other; more can be added with
    /// [`TestPlatform::allow_redirect_uri`].
    pub redirect_uris: Vec<String>,
    /// Key that signs id_tokens; the JWKS publishes it.
    pub signing_key: TestKey,
    /// More keys the JWKS publishes without signing with them.
    pub extra_keys: Vec<TestKey>,
    /// `Cache-Control` header of JWKS responses, or `None` for no header.
    pub jwks_cache_control: Option<String>,
    /// Delivery of the authorization endpoint's errors that may go back to the tool.
    pub auth_error_mode: AuthErrorMode,
    /// The tool's JWKS URL, which verifies client assertions and deep
    /// linking responses. Can also be set later with
    /// [`TestPlatform::set_tool_jwks_url`].
    pub tool_jwks_url: Option<String>,
    /// The `aud` a client assertion must contain. Defaults to the token URL.
    pub token_audience: Option<String>,
    /// `expires_in` of issued access tokens, in seconds.
    pub access_token_lifetime_seconds: u64,
}

impl Default for PlatformOptions {
    fn default() -> Self {
        PlatformOptions {
            issuer: None,
            client_id: "microcred-testkit-client".to_owned(),
            deployment_id: "testkit-deployment-1".to_owned(),
            redirect_uris: Vec::new(),
            signing_key: TestKey::fixed(1),
            extra_keys: Vec::new(),
            jwks_cache_control: Some("max-age=300".to_owned()),
            auth_error_mode: AuthErrorMode::default(),
            tool_jwks_url: None,
            token_audience: None,
            access_token_lifetime_seconds: DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS,
        }
    }
}

impl PlatformOptions {
    pub fn with_issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    pub fn with_client_id(mut self, client_id: &str) -> Self {
        self.client_id = client_id.to_owned();
        self
    }

    pub fn with_deployment_id(mut self, deployment_id: &str) -> Self {
        self.deployment_id = deployment_id.to_owned();
        self
    }

    pub fn with_redirect_uri(mut self, redirect_uri: &str) -> Self {
        self.redirect_uris.push(redirect_uri.to_owned());
        self
    }

    pub fn with_signing_key(mut self, key: TestKey) -> Self {
        self.signing_key = key;
        self
    }

    pub fn with_extra_key(mut self, key: TestKey) -> Self {
        self.extra_keys.push(key);
        self
    }

    pub fn with_jwks_cache_control(mut self, value: Option<&str>) -> Self {
        self.jwks_cache_control = value.map(str::to_owned);
        self
    }

    pub fn with_auth_error_mode(mut self, mode: AuthErrorMode) -> Self {
        self.auth_error_mode = mode;
        self
    }

    pub fn with_tool_jwks_url(mut self, url: &str) -> Self {
        self.tool_jwks_url = Some(url.to_owned());
        self
    }

    pub fn with_token_audience(mut self, audience: &str) -> Self {
        self.token_audience = Some(audience.to_owned());
        self
    }

    pub fn with_access_token_lifetime(mut self, seconds: u64) -> Self {
        self.access_token_lifetime_seconds = seconds;
        self
    }
}

/// The id_token setup for one launch. The authorization endpoint picks the
/// template by `lti_message_hint`, or by `login_hint` when the template has
/// no message hint.
///
/// The endpoint changes only the `nonce` claim (see [`NonceChoice`]). The
/// claim builders already set `aud` to the client id, so a test can still
/// send a wrong or missing `aud`.
#[derive(Clone, Debug)]
pub struct LaunchTemplate {
    /// The user hint the authentication request must carry.
    pub login_hint: String,
    pub lti_message_hint: Option<String>,
    pub claims: LaunchClaims,
    pub signing: SigningChoice,
    pub nonce: NonceChoice,
}

impl LaunchTemplate {
    fn lookup_key(&self) -> &str {
        self.lti_message_hint.as_deref().unwrap_or(&self.login_hint)
    }
}

/// Source of the id_token's `nonce` claim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NonceChoice {
    /// The `nonce` of the authentication request, as a correct platform does.
    #[default]
    FromRequest,
    /// This value, whatever the request contained.
    Fixed(String),
    /// No `nonce` claim at all.
    Omit,
}

/// Mutable platform state, shared with the request handlers.
struct PlatformState {
    /// `http://127.0.0.1:{port}`, the base of every endpoint URL.
    base_url: String,
    identity: PlatformIdentity,
    redirect_uris: Vec<String>,
    /// Keys the JWKS publishes, in order.
    keys: Vec<TestKey>,
    signing_kid: String,
    /// A key the JWKS does not publish, made on first use.
    unpublished_key: Option<TestKey>,
    jwks_cache_control: Option<String>,
    jwks_failure: Option<StatusCode>,
    jwks_fetches: usize,
    templates: HashMap<String, LaunchTemplate>,
    login_starts: HashMap<String, LoginStart>,
    authorizations: Vec<AuthorizationRecord>,
    deep_linking_responses: Vec<Vec<(String, String)>>,
    auth_error_mode: AuthErrorMode,
    services: ServiceState,
    registration: registration::RegistrationState,
}

impl PlatformState {
    fn signing_key(&self) -> TestKey {
        self.keys
            .iter()
            .find(|key| key.kid() == self.signing_kid)
            .cloned()
            .expect("the signing key is always among the published keys")
    }

    /// Returns a key whose material the JWKS does not publish: a fixed key if
    /// one is unused, else a generated one.
    fn unpublished_key(&mut self) -> TestKey {
        let published =
            |candidate: &TestKey| self.keys.iter().any(|key| key.same_material_as(candidate));
        if let Some(key) = &self.unpublished_key {
            if !published(key) {
                return key.clone();
            }
        }
        let key = (1..=FIXED_KEY_COUNT)
            .map(TestKey::fixed)
            .find(|candidate| !published(candidate))
            .unwrap_or_else(TestKey::generate);
        self.unpublished_key = Some(key.clone());
        key
    }

    fn mint(&mut self, claims: &Value, choice: &SigningChoice) -> String {
        let signing = self.signing_key();
        let unpublished = match choice {
            SigningChoice::UnpublishedKey => self.unpublished_key(),
            _ => signing.clone(),
        };
        let keys = MintingKeys {
            signing: &signing,
            unpublished: &unpublished,
        };
        jwt::mint(claims, choice, &keys)
    }

    fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.keys.iter().map(TestKey::jwk).collect();
        json!({ "keys": keys })
    }
}

type SharedState = Arc<Mutex<PlatformState>>;

fn lock(state: &SharedState) -> MutexGuard<'_, PlatformState> {
    state
        .lock()
        .expect("the test platform state lock was poisoned by a panic in another thread")
}

/// The serving task and the sender that starts its graceful shutdown.
struct RunningServer {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// A running test platform. The server stops when this value is dropped.
pub struct TestPlatform {
    base_url: String,
    port: u16,
    identity: PlatformIdentity,
    state: SharedState,
    router: Router,
    server: Mutex<Option<RunningServer>>,
}

impl Drop for TestPlatform {
    fn drop(&mut self) {
        let server = match self.server.get_mut() {
            Ok(server) => server.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(server) = server {
            server.task.abort();
        }
    }
}

/// Binds 127.0.0.1:`port` again, retrying for up to five seconds while the
/// old socket is released.
async fn bind_again(port: u16) -> tokio::net::TcpListener {
    let address = format!("127.0.0.1:{port}");
    let mut last_error = None;
    for _ in 0..50 {
        match tokio::net::TcpListener::bind(&address).await {
            Ok(listener) => return listener,
            Err(error) => last_error = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("binding the test platform to {address} again failed: {last_error:?}");
}

/// Serves `router` on `listener` until the shutdown sender fires or is dropped.
fn serve(listener: tokio::net::TcpListener, router: Router, port: u16) -> RunningServer {
    let (shutdown, shutdown_signal) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let stopped = async move {
            let _ = shutdown_signal.await;
        };
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await
        {
            eprintln!("test platform server on port {port} stopped with an error: {error}");
        }
    });
    RunningServer { shutdown, task }
}

impl TestPlatform {
    /// Binds 127.0.0.1 on a free port and starts serving.
    ///
    /// # Panics
    /// If the port cannot be bound, or two keys share a kid.
    pub async fn start(options: PlatformOptions) -> TestPlatform {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the test platform to 127.0.0.1 failed");
        let port = listener
            .local_addr()
            .expect("reading the test platform's bound address failed")
            .port();
        let base_url = format!("http://127.0.0.1:{port}");

        let identity = PlatformIdentity {
            issuer: options.issuer.unwrap_or_else(|| base_url.clone()),
            client_id: options.client_id,
            deployment_id: options.deployment_id,
        };
        let signing_kid = options.signing_key.kid().to_owned();
        let mut keys = vec![options.signing_key];
        for key in options.extra_keys {
            assert!(
                keys.iter().all(|existing| existing.kid() != key.kid()),
                "two platform keys share the kid {:?}",
                key.kid()
            );
            keys.push(key);
        }

        let state = Arc::new(Mutex::new(PlatformState {
            base_url: base_url.clone(),
            identity: identity.clone(),
            redirect_uris: options.redirect_uris,
            keys,
            signing_kid,
            unpublished_key: None,
            jwks_cache_control: options.jwks_cache_control,
            jwks_failure: None,
            jwks_fetches: 0,
            templates: HashMap::new(),
            login_starts: HashMap::new(),
            authorizations: Vec::new(),
            deep_linking_responses: Vec::new(),
            auth_error_mode: options.auth_error_mode,
            services: ServiceState::new(
                options.tool_jwks_url,
                options.token_audience,
                options.access_token_lifetime_seconds,
            ),
            registration: registration::RegistrationState::default(),
        }));

        let router = Router::new()
            .route(JWKS_PATH, get(serve_jwks))
            .route(
                AUTH_PATH,
                get(authorize::authorize).post(authorize::authorize),
            )
            .route(TOKEN_PATH, post(token::issue_token))
            .route(
                DEEP_LINKING_RETURN_PATH,
                post(deep_linking::receive_response),
            )
            .route(
                LINE_ITEMS_PATH,
                get(ags::list_line_items).post(ags::create_line_item),
            )
            .route(LINE_ITEM_PATH, get(ags::get_line_item))
            .route(SCORES_PATH, post(ags::post_score))
            .route(MEMBERSHIPS_PATH, get(nrps::list_memberships))
            .route(COURSE_PATH, get(serve_course_page))
            .route(
                registration::OPENID_CONFIGURATION_PATH,
                get(registration::serve_configuration),
            )
            .route(
                registration::REGISTRATION_PATH,
                post(registration::register),
            )
            .route(&format!("{LAUNCH_START_PATH}/{{id}}"), get(start_launch))
            .with_state(state.clone());
        let server = serve(listener, router.clone(), port);

        TestPlatform {
            base_url,
            port,
            identity,
            state,
            router,
            server: Mutex::new(Some(server)),
        }
    }

    /// Stops listening and closes idle connections, as a platform that goes
    /// down does: until [`TestPlatform::restart_server`], connections to its
    /// port are refused. Requests in progress get [`SHUTDOWN_GRACE`] to
    /// finish. Does nothing when the server is already stopped.
    pub async fn stop_server(&self) {
        let server = self.running_server().take();
        let Some(server) = server else { return };
        let _ = server.shutdown.send(());
        let abort = server.task.abort_handle();
        if tokio::time::timeout(SHUTDOWN_GRACE, server.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }

    /// Listens again on the same port after [`TestPlatform::stop_server`],
    /// with all state kept. Does nothing when the server is running.
    ///
    /// # Panics
    /// If the port cannot be bound again within a few seconds (another
    /// process took it).
    pub async fn restart_server(&self) {
        if self.is_serving() {
            return;
        }
        let listener = bind_again(self.port).await;
        let server = serve(listener, self.router.clone(), self.port);
        *self.running_server() = Some(server);
    }

    /// Tells whether the server is listening (not stopped by
    /// [`TestPlatform::stop_server`]).
    pub fn is_serving(&self) -> bool {
        self.running_server().is_some()
    }

    fn running_server(&self) -> MutexGuard<'_, Option<RunningServer>> {
        self.server
            .lock()
            .expect("the test platform server lock was poisoned by a panic in another thread")
    }

    /// Base URL, `http://127.0.0.1:{port}`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Returns the absolute URL of `path` on this platform.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn issuer(&self) -> &str {
        &self.identity.issuer
    }

    pub fn client_id(&self) -> &str {
        &self.identity.client_id
    }

    pub fn deployment_id(&self) -> &str {
        &self.identity.deployment_id
    }

    pub fn identity(&self) -> PlatformIdentity {
        self.identity.clone()
    }

    /// OIDC authorization endpoint (accepts GET and POST).
    pub fn auth_url(&self) -> String {
        self.url(AUTH_PATH)
    }

    pub fn jwks_url(&self) -> String {
        self.url(JWKS_PATH)
    }

    /// OAuth 2.0 token endpoint for LTI Advantage services. See
    /// [`TestPlatform::set_tool_jwks_url`].
    pub fn token_url(&self) -> String {
        self.url(TOKEN_PATH)
    }

    /// Returns the URL that deep linking responses are posted to. See
    /// [`TestPlatform::deep_linking_responses`].
    pub fn deep_linking_return_url(&self) -> String {
        self.url(DEEP_LINKING_RETURN_PATH)
    }

    /// Returns the URL of a course page, the page a launch link is on. Pass it
    /// to `Browser::set_top_level_page` to run the tool in an iframe.
    pub fn course_page_url(&self) -> String {
        self.url(COURSE_PATH)
    }

    /// Registers another redirect URI for the tool.
    pub fn allow_redirect_uri(&self, redirect_uri: &str) {
        let mut state = lock(&self.state);
        if !state
            .redirect_uris
            .iter()
            .any(|known| known == redirect_uri)
        {
            state.redirect_uris.push(redirect_uri.to_owned());
        }
    }

    /// Builds a complete `LtiResourceLinkRequest` claim set from this platform.
    pub fn resource_link_claims(&self, target_link_uri: &str) -> LaunchClaims {
        LaunchClaims::resource_link(&self.identity, target_link_uri)
    }

    /// Builds an `LtiDeepLinkingRequest` claim set whose return URL is this
    /// platform's deep linking return endpoint.
    pub fn deep_linking_claims(&self, target_link_uri: &str) -> LaunchClaims {
        LaunchClaims::deep_linking(
            &self.identity,
            target_link_uri,
            &self.deep_linking_return_url(),
        )
    }

    /// Builds an `LtiSubmissionReviewRequest` claim set for the submission of
    /// the user `for_user_id`.
    pub fn submission_review_claims(
        &self,
        target_link_uri: &str,
        for_user_id: &str,
    ) -> LaunchClaims {
        LaunchClaims::submission_review(&self.identity, target_link_uri, for_user_id)
    }

    /// Registers the id_token template for one launch, replacing a template
    /// with the same hint.
    pub fn register_launch(&self, template: LaunchTemplate) {
        let key = template.lookup_key().to_owned();
        lock(&self.state).templates.insert(key, template);
    }

    /// Signs `claims` as given (nothing is filled in, not even `nonce`).
    pub fn mint_id_token(&self, claims: &LaunchClaims, signing: SigningChoice) -> String {
        lock(&self.state).mint(&claims.to_value(), &signing)
    }

    /// Returns the key that signs with [`SigningChoice::CurrentKey`].
    pub fn signing_key(&self) -> TestKey {
        lock(&self.state).signing_key()
    }

    /// Returns the keys the JWKS publishes, in order.
    pub fn published_keys(&self) -> Vec<TestKey> {
        lock(&self.state).keys.clone()
    }

    /// Publishes `key` in the JWKS, without signing with it yet.
    ///
    /// # Panics
    /// If a published key already has its kid.
    pub fn add_key(&self, key: TestKey) {
        let mut state = lock(&self.state);
        assert!(
            state
                .keys
                .iter()
                .all(|existing| existing.kid() != key.kid()),
            "the JWKS already publishes a key with kid {:?}",
            key.kid()
        );
        state.keys.push(key);
    }

    /// Makes the published key `kid` the signing key.
    ///
    /// # Panics
    /// If no published key has that kid.
    pub fn set_signing_key(&self, kid: &str) {
        let mut state = lock(&self.state);
        assert!(
            state.keys.iter().any(|key| key.kid() == kid),
            "cannot sign with kid {kid:?}: the JWKS does not publish it (add_key first)"
        );
        state.signing_kid = kid.to_owned();
    }

    /// Publishes `key` and makes it the signing key; the old key stays
    /// published until [`TestPlatform::remove_key`].
    pub fn rotate_to(&self, key: TestKey) {
        let kid = key.kid().to_owned();
        self.add_key(key);
        self.set_signing_key(&kid);
    }

    /// Stops publishing the key `kid` and returns it.
    ///
    /// # Panics
    /// If `kid` is the signing key (make another key the signing key first)
    /// or is not published.
    pub fn remove_key(&self, kid: &str) -> TestKey {
        let mut state = lock(&self.state);
        assert!(
            state.signing_kid != kid,
            "cannot remove kid {kid:?} because it is the signing key: call set_signing_key with another kid first"
        );
        let index = state
            .keys
            .iter()
            .position(|key| key.kid() == kid)
            .unwrap_or_else(|| panic!("cannot remove kid {kid:?}: the JWKS does not publish it"));
        state.keys.remove(index)
    }

    /// Returns the JWKS document as the endpoint serves it.
    pub fn jwks(&self) -> Value {
        lock(&self.state).jwks()
    }

    /// Returns how many requests the JWKS endpoint has served, failed ones
    /// included.
    pub fn jwks_fetch_count(&self) -> usize {
        lock(&self.state).jwks_fetches
    }

    pub fn reset_jwks_fetch_count(&self) {
        lock(&self.state).jwks_fetches = 0;
    }

    /// Sets the `Cache-Control` header of JWKS responses, or removes it.
    pub fn set_jwks_cache_control(&self, value: Option<&str>) {
        lock(&self.state).jwks_cache_control = value.map(str::to_owned);
    }

    /// Makes the JWKS endpoint fail with `status` (for example 503), or serve
    /// normally again with `None`.
    ///
    /// # Panics
    /// If `status` is not a valid HTTP status code.
    pub fn set_jwks_failure(&self, status: Option<u16>) {
        let status = status.map(|code| {
            StatusCode::from_u16(code)
                .unwrap_or_else(|_| panic!("{code} is not an HTTP status code"))
        });
        lock(&self.state).jwks_failure = status;
    }

    pub fn set_auth_error_mode(&self, mode: AuthErrorMode) {
        lock(&self.state).auth_error_mode = mode;
    }

    /// Returns every request the authorization endpoint received, in order.
    pub fn authorization_requests(&self) -> Vec<AuthorizationRecord> {
        lock(&self.state).authorizations.clone()
    }

    /// Returns the id_token of the most recent successful authorization.
    pub fn last_id_token(&self) -> Option<String> {
        lock(&self.state)
            .authorizations
            .iter()
            .rev()
            .find_map(|record| match &record.outcome {
                AuthorizationOutcome::IdToken { id_token, .. } => Some(id_token.clone()),
                AuthorizationOutcome::Error { .. } => None,
            })
    }

    /// Returns the form fields of every POST to the deep linking return URL
    /// (the signed response is in the `JWT` field). See
    /// [`TestPlatform::deep_linking_results`] for what the platform made of
    /// them.
    pub fn deep_linking_responses(&self) -> Vec<Vec<(String, String)>> {
        lock(&self.state).deep_linking_responses.clone()
    }
}

async fn serve_jwks(State(state): State<SharedState>) -> Response {
    let mut state = lock(&state);
    state.jwks_fetches += 1;
    if let Some(status) = state.jwks_failure {
        return (status, "the test platform was told to fail JWKS requests").into_response();
    }
    let mut response = Json(state.jwks()).into_response();
    if let Some(cache_control) = &state.jwks_cache_control {
        match header::HeaderValue::from_str(cache_control) {
            Ok(value) => {
                response.headers_mut().insert(header::CACHE_CONTROL, value);
            }
            Err(_) => eprintln!("ignored an invalid JWKS Cache-Control value: {cache_control:?}"),
        }
    }
    response
}

async fn serve_course_page() -> Html<String> {
    Html(html::message_page(
        "Professional Development 101",
        "A course page of the test platform.",
    ))
}

async fn start_launch(State(state): State<SharedState>, Path(id): Path<String>) -> Response {
    let start = lock(&state).login_starts.get(&id).cloned();
    match start {
        Some(start) => start.into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(html::message_page(
                "Launch not found",
                &format!("No launch {id} was prepared."),
            )),
        )
            .into_response(),
    }
}
