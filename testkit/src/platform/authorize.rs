//! The OIDC authorization endpoint, as LTI 1.3 uses it: the tool sends the
//! browser here after login initiation, and the platform responds with a
//! form_post of the id_token to the tool's redirect URI.
//!
//! Checks follow the 1EdTech Security Framework 1.0 (authentication request:
//! `scope=openid`, `response_type=id_token`, `response_mode=form_post`,
//! `prompt=none`, a registered `client_id` and `redirect_uri`, `login_hint`
//! and `nonce` present) and OpenID Connect Core 1.0 section 3.1.2.6 for
//! errors: without a trusted client and redirect URI the user sees an error
//! page, otherwise the error goes back to the redirect URI with `state`.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;
use url::Url;

use super::{lock, NonceChoice, PlatformState, SharedState};
use crate::html;

/// Delivery mode for authorization errors, once the endpoint trusts the
/// client and redirect URI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthErrorMode {
    /// A form_post of `error`, `error_description` and `state` to the
    /// redirect URI when the request asked for `response_mode=form_post`,
    /// else a 302 to the redirect URI with those query parameters.
    #[default]
    FollowResponseMode,
    /// Always a 302 to the redirect URI with the error in the query.
    Redirect,
    /// Always a 400 error page; the tool never hears of the error.
    ErrorPage,
}

/// One request to the authorization endpoint and what the platform did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRecord {
    /// `GET` or `POST`.
    pub method: String,
    /// Request parameters in the order received.
    pub params: Vec<(String, String)>,
    pub outcome: AuthorizationOutcome,
}

impl AuthorizationRecord {
    /// Returns the first value of the request parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationOutcome {
    /// The platform posted this id_token to the redirect URI.
    IdToken {
        id_token: String,
        redirect_uri: String,
        state: Option<String>,
    },
    /// The platform rejected the request with this OAuth error code.
    Error {
        error: String,
        description: String,
        /// True when the error went back to the tool, false for an error page.
        sent_to_tool: bool,
    },
}

/// An OAuth 2.0 / OIDC error code with a human-readable description.
struct AuthError {
    code: &'static str,
    description: String,
}

impl AuthError {
    fn new(code: &'static str, description: impl Into<String>) -> AuthError {
        AuthError {
            code,
            description: description.into(),
        }
    }
}

/// Request parameters with their duplicates kept, so they can be rejected.
struct Params(Vec<(String, String)>);

impl Params {
    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// Returns the value of `name`, or an error if it appears more than once.
    fn single(&self, name: &str) -> Result<Option<&str>, AuthError> {
        match self.all(name).as_slice() {
            [] => Ok(None),
            [value] => Ok(Some(value)),
            _ => Err(AuthError::new(
                "invalid_request",
                format!("the parameter {name} appears more than once"),
            )),
        }
    }

    /// Returns the value of `name`, or an error if it is missing, empty or
    /// repeated.
    fn required(&self, name: &str) -> Result<&str, AuthError> {
        match self.single(name)? {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(AuthError::new(
                "invalid_request",
                format!("the parameter {name} is missing"),
            )),
        }
    }
}

pub(super) async fn authorize(
    State(state): State<SharedState>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = if method == Method::POST {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return error_page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "a POST authentication request must be application/x-www-form-urlencoded",
            );
        }
        body.to_vec()
    } else {
        query.unwrap_or_default().into_bytes()
    };
    let params = Params(
        url::form_urlencoded::parse(&raw)
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect(),
    );

    let mut state = lock(&state);
    let (outcome, response) = handle(&mut state, &params);
    state.authorizations.push(AuthorizationRecord {
        method: method.to_string(),
        params: params.0,
        outcome,
    });
    response
}

fn handle(state: &mut PlatformState, params: &Params) -> (AuthorizationOutcome, Response) {
    // Without a known client and a registered redirect URI the platform must
    // not redirect (RFC 6749 section 4.1.2.1), so these errors get a page.
    let redirect_uri = match check_client(state, params) {
        Ok(redirect_uri) => redirect_uri,
        Err(error) => {
            let response = error_page(StatusCode::BAD_REQUEST, error.code, &error.description);
            let outcome = AuthorizationOutcome::Error {
                error: error.code.to_owned(),
                description: error.description,
                sent_to_tool: false,
            };
            return (outcome, response);
        }
    };
    let request_state = params.all("state").first().map(|value| (*value).to_owned());

    match check_request(state, params) {
        Ok(id_token) => {
            let mut fields = vec![("id_token".to_owned(), id_token.clone())];
            if let Some(request_state) = &request_state {
                fields.push(("state".to_owned(), request_state.clone()));
            }
            let page = html::auto_submit_form("Launching the tool", &redirect_uri, &fields);
            let outcome = AuthorizationOutcome::IdToken {
                id_token,
                redirect_uri,
                state: request_state,
            };
            (outcome, no_store(Html(page).into_response()))
        }
        Err(error) => {
            let form_post = params.all("response_mode").first() == Some(&"form_post");
            let response = error_response(
                state.auth_error_mode,
                form_post,
                &redirect_uri,
                &error,
                request_state.as_deref(),
            );
            let outcome = AuthorizationOutcome::Error {
                error: error.code.to_owned(),
                description: error.description,
                sent_to_tool: state.auth_error_mode != AuthErrorMode::ErrorPage,
            };
            (outcome, response)
        }
    }
}

/// Checks `client_id` and `redirect_uri` and returns the redirect URI.
fn check_client(state: &PlatformState, params: &Params) -> Result<String, AuthError> {
    let client_id = params.required("client_id")?;
    if client_id != state.identity.client_id {
        return Err(AuthError::new(
            "unauthorized_client",
            format!("the client_id {client_id:?} is not registered with this platform"),
        ));
    }
    let redirect_uri = params.required("redirect_uri")?;
    if !state
        .redirect_uris
        .iter()
        .any(|known| known == redirect_uri)
    {
        return Err(AuthError::new(
            "invalid_request",
            format!(
                "the redirect_uri {redirect_uri:?} is not registered for this client (registered: {:?})",
                state.redirect_uris
            ),
        ));
    }
    Ok(redirect_uri.to_owned())
}

/// Checks the rest of the request and mints the id_token from the template.
fn check_request(state: &mut PlatformState, params: &Params) -> Result<String, AuthError> {
    if let Some((name, _)) = params.0.iter().find(|(name, _)| params.all(name).len() > 1) {
        return Err(AuthError::new(
            "invalid_request",
            format!("the parameter {name} appears more than once"),
        ));
    }

    let response_type = params.required("response_type")?;
    if response_type != "id_token" {
        return Err(AuthError::new(
            "unsupported_response_type",
            format!("response_type must be id_token, got {response_type:?}"),
        ));
    }
    let scope = params.required("scope")?;
    if !scope.split(' ').any(|scope| scope == "openid") {
        return Err(AuthError::new(
            "invalid_scope",
            format!("scope must include openid, got {scope:?}"),
        ));
    }
    let response_mode = params.required("response_mode")?;
    if response_mode != "form_post" {
        return Err(AuthError::new(
            "invalid_request",
            format!("response_mode must be form_post, got {response_mode:?}"),
        ));
    }
    let prompt = params.required("prompt")?;
    if prompt != "none" {
        return Err(AuthError::new(
            "invalid_request",
            format!("prompt must be none, got {prompt:?}"),
        ));
    }
    let login_hint = params.required("login_hint")?;
    let nonce = params.required("nonce")?;

    let message_hint = params.single("lti_message_hint")?;
    let key = message_hint.unwrap_or(login_hint);
    let template = state.templates.get(key).cloned().ok_or_else(|| {
        AuthError::new(
            "login_required",
            format!("no launch is registered for the hint {key:?}"),
        )
    })?;
    if template.login_hint != login_hint {
        return Err(AuthError::new(
            "login_required",
            format!(
                "the login_hint {login_hint:?} is not the user of this launch ({:?})",
                template.login_hint
            ),
        ));
    }

    let mut claims = template.claims.clone();
    match &template.nonce {
        NonceChoice::FromRequest => {
            claims.set(&["nonce"], nonce);
        }
        NonceChoice::Fixed(fixed) => {
            claims.set(&["nonce"], fixed);
        }
        NonceChoice::Omit => {
            claims.remove(&["nonce"]);
        }
    }
    let claims: Value = claims.to_value();
    let id_token = state.mint(&claims, &template.signing);
    super::deep_linking::note_launch(state, &claims);
    Ok(id_token)
}

fn error_response(
    mode: AuthErrorMode,
    form_post: bool,
    redirect_uri: &str,
    error: &AuthError,
    request_state: Option<&str>,
) -> Response {
    let mut fields = vec![
        ("error".to_owned(), error.code.to_owned()),
        ("error_description".to_owned(), error.description.clone()),
    ];
    if let Some(request_state) = request_state {
        fields.push(("state".to_owned(), request_state.to_owned()));
    }

    let use_form_post = match mode {
        AuthErrorMode::ErrorPage => {
            return error_page(StatusCode::BAD_REQUEST, error.code, &error.description)
        }
        AuthErrorMode::Redirect => false,
        AuthErrorMode::FollowResponseMode => form_post,
    };
    if use_form_post {
        let page = html::auto_submit_form("Returning to the tool", redirect_uri, &fields);
        return no_store(Html(page).into_response());
    }

    let mut location = match Url::parse(redirect_uri) {
        Ok(location) => location,
        Err(_) => return error_page(StatusCode::BAD_REQUEST, error.code, &error.description),
    };
    location.query_pairs_mut().extend_pairs(fields.iter());
    match HeaderValue::from_str(location.as_str()) {
        Ok(location) => {
            no_store((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
        }
        Err(_) => error_page(StatusCode::BAD_REQUEST, error.code, &error.description),
    }
}

fn error_page(status: StatusCode, code: &str, description: &str) -> Response {
    let page = html::message_page(
        "Authentication request rejected",
        &format!("{code}: {description}"),
    );
    no_store((status, Html(page)).into_response())
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
