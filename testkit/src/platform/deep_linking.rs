//! The deep linking return endpoint (LTI Deep Linking 2.0): the tool's
//! browser posts an `LtiDeepLinkingResponse` JWT in the form field `JWT`,
//! and the platform verifies it against the tool's JWKS before it takes
//! the content items.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use super::services::{audience_contains, media_type, verify_tool_jwt};
use super::{lock, PlatformState, SharedState};
use crate::claims::{claim, message_type};
use crate::html;

/// A deep linking request the platform sent that no response has matched yet.
#[derive(Clone, Debug)]
pub(super) struct OpenDeepLinkingRequest {
    /// The `data` setting, which the response must echo.
    pub data: Option<String>,
    /// The whole deep linking settings claim.
    pub settings: Value,
}

/// One POST to the deep linking return URL and what the platform made of it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeepLinkingResult {
    /// The form fields as posted.
    pub fields: Vec<(String, String)>,
    /// The response's claims, once its signature verified.
    pub claims: Option<Value>,
    /// The content items of an accepted response.
    pub content_items: Vec<Value>,
    /// The reason the platform rejected the response, or `None` when it accepted it.
    pub error: Option<String>,
}

impl DeepLinkingResult {
    pub fn is_accepted(&self) -> bool {
        self.error.is_none()
    }

    /// Returns a claim of the verified response.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.as_ref().and_then(|claims| claims.get(name))
    }
}

/// Remembers the settings of a deep linking request the authorization
/// endpoint just signed, so that its response can be checked.
pub(super) fn note_launch(state: &mut PlatformState, claims: &Value) {
    if claims.get(claim::MESSAGE_TYPE).and_then(Value::as_str) != Some(message_type::DEEP_LINKING) {
        return;
    }
    let settings = claims
        .get(claim::DEEP_LINKING_SETTINGS)
        .cloned()
        .unwrap_or(Value::Null);
    let data = settings
        .get("data")
        .and_then(Value::as_str)
        .map(str::to_owned);
    state
        .services
        .deep_linking_requests
        .push(OpenDeepLinkingRequest { data, settings });
}

pub(super) async fn receive_response(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    lock(&state).deep_linking_responses.push(fields.clone());

    let outcome = if media_type(&headers) == "application/x-www-form-urlencoded" {
        check_response(&state, &fields).await
    } else {
        Err((
            "a deep linking response must be posted as application/x-www-form-urlencoded"
                .to_owned(),
            None,
        ))
    };
    let (result, response) = match outcome {
        Ok((claims, content_items)) => {
            let titles: Vec<&str> = content_items
                .iter()
                .filter_map(|item| item.get("title").and_then(Value::as_str))
                .collect();
            let message = format!(
                "The test platform accepted {} content item(s): {}.",
                content_items.len(),
                titles.join(", ")
            );
            let response = Html(html::message_page("Content added", &message)).into_response();
            let result = DeepLinkingResult {
                fields,
                claims: Some(claims),
                content_items,
                error: None,
            };
            (result, response)
        }
        Err((reason, claims)) => {
            let page = html::message_page("Deep linking response rejected", &reason);
            let response = (StatusCode::BAD_REQUEST, Html(page)).into_response();
            let result = DeepLinkingResult {
                fields,
                claims,
                content_items: Vec::new(),
                error: Some(reason),
            };
            (result, response)
        }
    };
    lock(&state).services.deep_linking_results.push(result);
    response
}

type Rejection = (String, Option<Value>);

/// Verifies the response and returns its claims and content items.
async fn check_response(
    state: &SharedState,
    fields: &[(String, String)],
) -> Result<(Value, Vec<Value>), Rejection> {
    let tokens: Vec<&str> = fields
        .iter()
        .filter(|(name, _)| name == "JWT")
        .map(|(_, value)| value.as_str())
        .collect();
    let token = match tokens.as_slice() {
        [token] if !token.is_empty() => *token,
        [] | [_] => return Err(("the form field JWT is missing".to_owned(), None)),
        _ => return Err(("the form field JWT appears more than once".to_owned(), None)),
    };

    let (http, jwks_url) = {
        let state = lock(state);
        (
            state.services.http.clone(),
            state.services.tool_jwks_url.clone(),
        )
    };
    let jwks_url = jwks_url.ok_or_else(|| {
        (
            "the test platform does not know the tool's JWKS URL: set it with PlatformOptions::with_tool_jwks_url or TestPlatform::set_tool_jwks_url".to_owned(),
            None,
        )
    })?;
    let claims = verify_tool_jwt(state, &http, &jwks_url, token)
        .await
        .map_err(|reason| (format!("the deep linking response JWT: {reason}"), None))?;

    let mut state = lock(state);
    match check_claims(&mut state, &claims) {
        Ok(items) => Ok((claims, items)),
        Err(reason) => Err((reason, Some(claims))),
    }
}

/// Checks the claims of a verified response against the open request whose
/// `data` it echoes, and consumes that request.
fn check_claims(state: &mut PlatformState, claims: &Value) -> Result<Vec<Value>, String> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let identity = &state.identity;
    let expected = [
        ("iss", identity.client_id.as_str()),
        (claim::MESSAGE_TYPE, message_type::DEEP_LINKING_RESPONSE),
        (claim::VERSION, "1.3.0"),
        (claim::DEPLOYMENT_ID, identity.deployment_id.as_str()),
    ];
    for (name, value) in expected {
        if text(name) != Some(value) {
            return Err(format!(
                "the claim {name} must be {value:?}, got {:?}",
                claims.get(name)
            ));
        }
    }
    if !audience_contains(claims, &identity.issuer) {
        return Err(format!(
            "aud must contain the platform issuer {:?}, got {:?}",
            identity.issuer,
            claims.get("aud")
        ));
    }
    let nonce = text("nonce")
        .filter(|nonce| !nonce.is_empty())
        .ok_or("the nonce claim is missing")?;
    if state.services.used_response_nonces.contains(nonce) {
        return Err(format!(
            "the nonce {nonce:?} was already used by another deep linking response"
        ));
    }

    let data = text(claim::DEEP_LINKING_DATA);
    let index = state
        .services
        .deep_linking_requests
        .iter()
        .position(|request| request.data.as_deref() == data)
        .ok_or_else(|| {
            format!(
                "the data claim {data:?} does not echo the data of an open deep linking request"
            )
        })?;
    let settings = state.services.deep_linking_requests[index].settings.clone();
    let items = check_content_items(claims, &settings)?;

    state.services.deep_linking_requests.remove(index);
    state.services.used_response_nonces.insert(nonce.to_owned());
    Ok(items)
}

/// Checks the content items against the request's settings: accepted
/// types, `accept_multiple`, `accept_lineitem`, string custom parameters,
/// and a line item `scoreMaximum` above 0.
fn check_content_items(claims: &Value, settings: &Value) -> Result<Vec<Value>, String> {
    let items = match claims.get(claim::DEEP_LINKING_CONTENT_ITEMS) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => return Err(format!("content_items must be an array, got {other}")),
    };
    let accept_types: Vec<&str> = settings
        .get("accept_types")
        .and_then(Value::as_array)
        .map(|types| types.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let accept_multiple = settings
        .get("accept_multiple")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let accept_line_item = settings
        .get("accept_lineitem")
        .and_then(Value::as_bool)
        .unwrap_or(true);

    if items.len() > 1 && !accept_multiple {
        return Err(format!(
            "the request did not accept multiple items (accept_multiple is false), but the response has {}",
            items.len()
        ));
    }
    for (index, item) in items.iter().enumerate() {
        let item_type = item.get("type").and_then(Value::as_str).unwrap_or_default();
        if !accept_types.contains(&item_type) {
            return Err(format!(
                "content item {index} has type {item_type:?}, which the request did not accept ({accept_types:?})"
            ));
        }
        if let Some(custom) = item.get("custom") {
            let all_strings = custom
                .as_object()
                .is_some_and(|custom| custom.values().all(Value::is_string));
            if !all_strings {
                return Err(format!(
                    "content item {index} has custom parameters that are not all strings: {custom}"
                ));
            }
        }
        if let Some(line_item) = item.get("lineItem") {
            if !accept_line_item {
                return Err(format!(
                    "content item {index} has a lineItem, but the request said accept_lineitem false"
                ));
            }
            let maximum = line_item.get("scoreMaximum").and_then(Value::as_f64);
            if !maximum.is_some_and(|maximum| maximum > 0.0) {
                return Err(format!(
                    "content item {index} has a lineItem without a scoreMaximum above 0"
                ));
            }
        }
    }
    Ok(items)
}
