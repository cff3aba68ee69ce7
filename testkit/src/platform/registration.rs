//! The platform side of LTI Dynamic Registration 1.0: the OpenID
//! configuration document and the registration endpoint that checks the
//! tool's client registration and answers with a client id and deployment.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use url::Url;

use super::services::default_supported_scopes;
use super::{lock, SharedState, TestPlatform, AUTH_PATH, JWKS_PATH, TOKEN_PATH};
use crate::browser::is_loopback;

pub(super) const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
pub(super) const REGISTRATION_PATH: &str = "/lti/registrations";

const PLATFORM_CONFIGURATION: &str = "https://purl.imsglobal.org/spec/lti-platform-configuration";
const TOOL_CONFIGURATION: &str = "https://purl.imsglobal.org/spec/lti-tool-configuration";
/// Message types this platform can send.
const SUPPORTED_MESSAGES: [&str; 3] = [
    "LtiResourceLinkRequest",
    "LtiDeepLinkingRequest",
    "LtiSubmissionReviewRequest",
];

/// Dynamic registration state.
#[derive(Default)]
pub(super) struct RegistrationState {
    /// The token handed to the tool; the tool must send it as a Bearer
    /// token, once.
    token: Option<String>,
    /// Served instead of the built configuration, when set.
    configuration_override: Option<Value>,
    /// Status and body answered instead of a registration, when set.
    failure: Option<(StatusCode, String)>,
    /// Whether the answer names a deployment.
    omit_deployment: bool,
    /// `Authorization` headers of configuration requests, in order.
    configuration_requests: Vec<Option<String>>,
    /// Registration requests as received, accepted or not.
    requests: Vec<Value>,
    /// Accepted registrations.
    accepted: Vec<Value>,
}

fn configuration(base_url: &str, issuer: &str) -> Value {
    let scopes: Vec<String> = std::iter::once("openid".to_owned())
        .chain(default_supported_scopes())
        .collect();
    let messages: Vec<Value> = SUPPORTED_MESSAGES
        .iter()
        .map(|m| json!({ "type": m }))
        .collect();
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base_url}{AUTH_PATH}"),
        "token_endpoint": format!("{base_url}{TOKEN_PATH}"),
        "jwks_uri": format!("{base_url}{JWKS_PATH}"),
        "registration_endpoint": format!("{base_url}{REGISTRATION_PATH}"),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "scopes_supported": scopes,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "aud", "sub", "name", "given_name", "family_name", "email"],
        PLATFORM_CONFIGURATION: {
            "product_family_code": "microcred-testkit",
            "version": env!("CARGO_PKG_VERSION"),
            "messages_supported": messages,
            "variables": ["Context.id", "ResourceLink.id"],
        },
    })
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

fn refusal(status: StatusCode, error: &str, description: String) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

pub(super) async fn serve_configuration(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&state);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    state
        .registration
        .configuration_requests
        .push(authorization);
    if let Some(document) = &state.registration.configuration_override {
        return Json(document.clone()).into_response();
    }
    Json(configuration(&state.base_url, &state.identity.issuer)).into_response()
}

fn text<'a>(value: &'a Value, field: &str) -> Result<&'a str, String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("{field} is missing"))
}

fn url_on(value: &str, field: &str, domain: &str) -> Result<(), String> {
    let url = Url::parse(value).map_err(|e| format!("{field} {value:?} is not a URL: {e}"))?;
    if !is_loopback(&url) {
        return Err(format!(
            "{field} {value} is not a loopback URL, and the test platform only contacts loopback"
        ));
    }
    let authority = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    if authority != domain {
        return Err(format!(
            "{field} {value} is not on the tool's domain {domain}"
        ));
    }
    Ok(())
}

fn has(value: &Value, field: &str, wanted: &str) -> bool {
    value
        .get(field)
        .and_then(Value::as_array)
        .is_some_and(|items| items.iter().any(|i| i == wanted))
}

/// Check a client registration against LTI Dynamic Registration 1.0.
fn check(request: &Value, supported_scopes: &[String]) -> Result<(), String> {
    if request.get("application_type").and_then(Value::as_str) != Some("web") {
        return Err("application_type must be \"web\"".into());
    }
    if !has(request, "response_types", "id_token") {
        return Err("response_types must contain id_token".into());
    }
    if !has(request, "grant_types", "implicit")
        || !has(request, "grant_types", "client_credentials")
    {
        return Err("grant_types must contain implicit and client_credentials".into());
    }
    if request
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        != Some("private_key_jwt")
    {
        return Err("token_endpoint_auth_method must be private_key_jwt".into());
    }
    text(request, "client_name")?;
    let tool = request
        .get(TOOL_CONFIGURATION)
        .ok_or_else(|| format!("{TOOL_CONFIGURATION} is missing"))?;
    let domain = text(tool, "domain")?;
    url_on(
        text(request, "initiate_login_uri")?,
        "initiate_login_uri",
        domain,
    )?;
    url_on(text(request, "jwks_uri")?, "jwks_uri", domain)?;
    url_on(text(tool, "target_link_uri")?, "target_link_uri", domain)?;
    let redirect_uris = request
        .get("redirect_uris")
        .and_then(Value::as_array)
        .filter(|uris| !uris.is_empty())
        .ok_or("redirect_uris must be a non-empty array")?;
    for uri in redirect_uris {
        url_on(
            uri.as_str().ok_or("redirect_uris holds a non-string")?,
            "redirect_uris",
            domain,
        )?;
    }
    if let Some(logo) = request.get("logo_uri").and_then(Value::as_str) {
        url_on(logo, "logo_uri", domain)?;
    }
    let scope = request
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for asked in scope.split_whitespace() {
        if !supported_scopes.iter().any(|s| s == asked) {
            return Err(format!("scope {asked} is not offered by this platform"));
        }
    }
    let messages = tool
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for message in &messages {
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .ok_or("a message has no type")?;
        if !SUPPORTED_MESSAGES.contains(&kind) {
            return Err(format!("message type {kind} is not supported"));
        }
        if let Some(target) = message.get("target_link_uri").and_then(Value::as_str) {
            url_on(target, "a message's target_link_uri", domain)?;
        }
    }
    Ok(())
}

pub(super) async fn register(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut state = lock(&state);
    let request: Value = match serde_json::from_str(&body) {
        Ok(value) => value,
        Err(error) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                format!("the body is not JSON: {error}"),
            )
        }
    };
    state.registration.requests.push(request.clone());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("Content-Type must be application/json, not {content_type:?}"),
        );
    }
    if let Some(expected) = &state.registration.token {
        if bearer(&headers).as_deref() != Some(expected.as_str()) {
            return refusal(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the registration token is missing or wrong".into(),
            );
        }
    }
    if let Some((status, body)) = state.registration.failure.clone() {
        return (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let supported = default_supported_scopes();
    if let Err(reason) = check(&request, &supported) {
        return refusal(StatusCode::BAD_REQUEST, "invalid_client_metadata", reason);
    }
    // The token is good for one registration.
    state.registration.token = None;
    for uri in request["redirect_uris"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !state.redirect_uris.iter().any(|known| known == uri) {
            state.redirect_uris.push(uri.to_owned());
        }
    }
    state.services.tool_jwks_url = request["jwks_uri"].as_str().map(str::to_owned);
    let mut answer = request.clone();
    answer["client_id"] = json!(state.identity.client_id);
    if !state.registration.omit_deployment {
        answer[TOOL_CONFIGURATION]["deployment_id"] = json!(state.identity.deployment_id);
    }
    state.registration.accepted.push(request);
    (StatusCode::OK, Json(answer)).into_response()
}

impl TestPlatform {
    /// The URL of the platform's OpenID configuration, the
    /// `openid_configuration` parameter of a registration.
    pub fn openid_configuration_url(&self) -> String {
        self.url(OPENID_CONFIGURATION_PATH)
    }

    /// The configuration document the platform serves by default.
    pub fn openid_configuration(&self) -> Value {
        let state = lock(&self.state);
        configuration(&state.base_url, &state.identity.issuer)
    }

    /// Serve `document` as the configuration instead, or the built one for `None`.
    pub fn set_openid_configuration(&self, document: Option<Value>) {
        lock(&self.state).registration.configuration_override = document;
    }

    /// Make a registration token the tool must send once as a Bearer token,
    /// and return it.
    pub fn issue_registration_token(&self) -> String {
        let token = format!("testkit-registration-{}", uuid::Uuid::new_v4().simple());
        lock(&self.state).registration.token = Some(token.clone());
        token
    }

    /// The URL an LMS admin's browser opens to start registering the tool:
    /// `tool_register_url` with the configuration URL and a fresh token.
    pub fn registration_start_url(&self, tool_register_url: &str) -> String {
        let token = self.issue_registration_token();
        let mut url = Url::parse(tool_register_url).expect("the tool's registration URL is a URL");
        url.query_pairs_mut()
            .append_pair("openid_configuration", &self.openid_configuration_url())
            .append_pair("registration_token", &token);
        url.to_string()
    }

    /// Answer registrations with `status` and `body` instead, or normally for `None`.
    pub fn set_registration_failure(&self, failure: Option<(u16, &str)>) {
        lock(&self.state).registration.failure = failure.map(|(status, body)| {
            (
                StatusCode::from_u16(status).expect("a valid HTTP status"),
                body.to_owned(),
            )
        });
    }

    /// Leave the deployment out of registration answers, as some platforms do.
    pub fn omit_deployment_in_registration(&self, omit: bool) {
        lock(&self.state).registration.omit_deployment = omit;
    }

    /// Registration requests received, accepted or not.
    pub fn registration_requests(&self) -> Vec<Value> {
        lock(&self.state).registration.requests.clone()
    }

    /// Registrations the platform accepted.
    pub fn accepted_registrations(&self) -> Vec<Value> {
        lock(&self.state).registration.accepted.clone()
    }

    /// The `Authorization` header of each configuration request.
    pub fn configuration_request_authorizations(&self) -> Vec<Option<String>> {
        lock(&self.state)
            .registration
            .configuration_requests
            .clone()
    }
}
