//! The OAuth 2.0 token endpoint for LTI Advantage services, as the 1EdTech
//! Security Framework 1.0 describes it. The tool requests a client
//! credentials grant and authenticates with a JWT client assertion
//! (RFC 7523), signed with a key from the tool's JWKS.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::services::{
    audience_contains, error_json, media_type, verify_tool_jwt, IssuedToken, ServiceEndpoint,
};
use super::{lock, SharedState, TOKEN_PATH};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// One request to the token endpoint and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequestRecord {
    /// The scopes of the `scope` parameter, in order.
    pub requested_scopes: Vec<String>,
    pub outcome: TokenOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenOutcome {
    /// The endpoint issued an access token for these scopes.
    Granted {
        access_token: String,
        scopes: Vec<String>,
        expires_in: u64,
    },
    /// The endpoint rejected the request with this OAuth error code.
    Rejected {
        status: u16,
        error: String,
        description: String,
    },
    /// An [`super::InjectedFailure`] produced the response.
    Injected { status: u16 },
}

impl TokenRequestRecord {
    pub fn is_granted(&self) -> bool {
        matches!(self.outcome, TokenOutcome::Granted { .. })
    }
}

/// An OAuth error with its HTTP status.
struct TokenError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl TokenError {
    fn bad_request(code: &'static str, description: impl Into<String>) -> TokenError {
        TokenError {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
        }
    }

    fn invalid_client(description: impl Into<String>) -> TokenError {
        TokenError {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: description.into(),
        }
    }
}

pub(super) async fn issue_token(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let requested_scopes: Vec<String> = single(&params, "scope")
        .ok()
        .flatten()
        .map(|scope| scope.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();

    let injected = {
        let mut state = lock(&state);
        state.services.take_failure(ServiceEndpoint::Token, None)
    };
    let (response, outcome) = match injected {
        Some(response) => {
            let status = response.status().as_u16();
            (response, TokenOutcome::Injected { status })
        }
        None => match grant(&state, &headers, &params, &requested_scopes).await {
            Ok((access_token, scopes, expires_in)) => {
                let body = json!({
                    "access_token": access_token,
                    "token_type": "Bearer",
                    "expires_in": expires_in,
                    "scope": scopes.join(" "),
                });
                let response = no_store(Json(body).into_response());
                let outcome = TokenOutcome::Granted {
                    access_token,
                    scopes,
                    expires_in,
                };
                (response, outcome)
            }
            Err(error) => {
                let response = no_store(error_json(error.status, error.code, &error.description));
                let outcome = TokenOutcome::Rejected {
                    status: error.status.as_u16(),
                    error: error.code.to_owned(),
                    description: error.description,
                };
                (response, outcome)
            }
        },
    };

    let mut state = lock(&state);
    let injected = matches!(outcome, TokenOutcome::Injected { .. });
    state.services.record(
        ServiceEndpoint::Token,
        "POST",
        TOKEN_PATH,
        None,
        &response,
        injected,
    );
    state.services.token_requests.push(TokenRequestRecord {
        requested_scopes,
        outcome,
    });
    response
}

/// Returns the value of `name`, or an error if it appears more than once.
fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, TokenError> {
    let mut values = params
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(TokenError::bad_request(
            "invalid_request",
            format!("the parameter {name} appears more than once"),
        ));
    }
    Ok(first)
}

fn required<'a>(
    params: &'a [(String, String)],
    name: &str,
    code: &'static str,
) -> Result<&'a str, TokenError> {
    match single(params, name)? {
        Some(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(TokenError::bad_request(
            code,
            format!("the parameter {name} is missing"),
        )),
    }
}

/// Checks the request and the client assertion, and issues a token.
/// Returns the token, the granted scopes and the lifetime in seconds.
async fn grant(
    state: &SharedState,
    headers: &HeaderMap,
    params: &[(String, String)],
    requested_scopes: &[String],
) -> Result<(String, Vec<String>, u64), TokenError> {
    if media_type(headers) != "application/x-www-form-urlencoded" {
        return Err(TokenError::bad_request(
            "invalid_request",
            "a token request must be application/x-www-form-urlencoded",
        ));
    }
    let grant_type = required(params, "grant_type", "invalid_request")?;
    if grant_type != "client_credentials" {
        return Err(TokenError::bad_request(
            "unsupported_grant_type",
            format!("grant_type must be client_credentials, got {grant_type:?}"),
        ));
    }
    let assertion_type = required(params, "client_assertion_type", "invalid_request")?;
    if assertion_type != CLIENT_ASSERTION_TYPE {
        return Err(TokenError::bad_request(
            "invalid_request",
            format!(
                "client_assertion_type must be {CLIENT_ASSERTION_TYPE}, got {assertion_type:?}"
            ),
        ));
    }
    let assertion = required(params, "client_assertion", "invalid_request")?;
    required(params, "scope", "invalid_scope")?;

    let (http, jwks_url, client_id, audience) = {
        let state = lock(state);
        let audience = state
            .services
            .token_audience
            .clone()
            .unwrap_or_else(|| format!("{}{TOKEN_PATH}", state.base_url));
        (
            state.services.http.clone(),
            state.services.tool_jwks_url.clone(),
            state.identity.client_id.clone(),
            audience,
        )
    };
    let jwks_url = jwks_url.ok_or_else(|| {
        TokenError::invalid_client(
            "the test platform does not know the tool's JWKS URL: set it with PlatformOptions::with_tool_jwks_url or TestPlatform::set_tool_jwks_url",
        )
    })?;
    let claims = verify_tool_jwt(state, &http, &jwks_url, assertion)
        .await
        .map_err(|reason| TokenError::invalid_client(format!("client_assertion: {reason}")))?;
    check_assertion_claims(&claims, &client_id, &audience)?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|jti| !jti.is_empty())
        .ok_or_else(|| TokenError::invalid_client("client_assertion has no jti"))?;

    let mut state = lock(state);
    let services = &mut state.services;
    if !services.used_assertion_ids.insert(jti.to_owned()) {
        return Err(TokenError::invalid_client(format!(
            "client_assertion jti {jti:?} was already used"
        )));
    }
    let mut granted: Vec<String> = Vec::new();
    for scope in requested_scopes {
        if services.supported_scopes.contains(scope) && !granted.contains(scope) {
            granted.push(scope.clone());
        }
    }
    if granted.is_empty() {
        return Err(TokenError::bad_request(
            "invalid_scope",
            format!(
                "none of the requested scopes {requested_scopes:?} is supported (supported: {:?})",
                services.supported_scopes
            ),
        ));
    }
    let access_token = format!("testkit-access-{}", uuid::Uuid::new_v4().simple());
    let lifetime = services.access_token_lifetime_seconds;
    let expires_at =
        chrono::Utc::now().timestamp() + i64::try_from(lifetime).unwrap_or(i64::MAX / 2);
    services.access_tokens.insert(
        access_token.clone(),
        IssuedToken {
            scopes: granted.clone(),
            expires_at,
            revoked: false,
        },
    );
    Ok((access_token, granted, lifetime))
}

/// Checks `iss`, `sub` and `aud` of a verified client assertion.
fn check_assertion_claims(
    claims: &Value,
    client_id: &str,
    audience: &str,
) -> Result<(), TokenError> {
    for name in ["iss", "sub"] {
        let value = claims.get(name).and_then(Value::as_str);
        if value != Some(client_id) {
            return Err(TokenError::invalid_client(format!(
                "client_assertion {name} must be the client_id {client_id:?}, got {value:?}"
            )));
        }
    }
    if !audience_contains(claims, audience) {
        return Err(TokenError::invalid_client(format!(
            "client_assertion aud must contain {audience:?}, got {}",
            claims.get("aud").cloned().unwrap_or(Value::Null)
        )));
    }
    Ok(())
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
