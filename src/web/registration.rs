//! `GET /lti/register`: LTI Dynamic Registration, started by the LMS in a
//! frame or window of its own, with the page that shows the result.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::registration::{self, DynamicRegistrationError};
use crate::state::AppState;
use crate::telemetry;
use crate::web::templates;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lti/register", get(register))
        .route("/static/lti-register.js", get(script))
        .route("/static/logo.svg", get(logo))
}

#[derive(Debug, Default, Deserialize)]
struct RegisterQuery {
    openid_configuration: Option<String>,
    registration_token: Option<String>,
}

/// The registration page is shown inside the LMS before the LMS is
/// registered, so the LMS's origin may frame it.
fn frame_policy(state: &AppState, query: &RegisterQuery) -> String {
    let origin = query
        .openid_configuration
        .as_deref()
        .and_then(|raw| url::Url::parse(raw.trim()).ok())
        .filter(|url| {
            let local_trial = microcred_lti::registration::is_loopback_url(&state.public_url);
            microcred_lti::registration::acceptable_url(url.as_str(), local_trial)
        })
        .map(|url| url.origin().ascii_serialization())
        .filter(|origin| origin != "null")
        .unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'self' {origin}"
    )
    .trim()
    .to_string()
}

async fn register(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    // An unreadable query is treated as an empty one, which reports the
    // missing openid_configuration parameter.
    let query: RegisterQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    let csp = frame_policy(&state, &query);
    let outcome = registration::register(
        &state,
        query.openid_configuration.as_deref(),
        query.registration_token.as_deref(),
    )
    .await;
    let (status, page) = match outcome {
        Ok(done) => {
            let tool = registration::tool_description(&state);
            let page = templates::render(
                "lti/registered.html",
                minijinja::context! {
                    platform => minijinja::context! {
                        issuer => done.platform.issuer,
                        client_id => done.platform.client_id,
                        display_name => done.platform.display_name,
                        status => done.platform.status,
                    },
                    deployment => done.deployment.map(|d| minijinja::context! { deployment_id => d.deployment_id }),
                    messages => done.configuration.messages,
                    scopes => done.scopes,
                    tool => minijinja::context! {
                        login => state.url(&tool.login_path),
                        launch => state.url(&tool.launch_path),
                        jwks => state.url(&tool.jwks_path),
                    },
                },
            );
            (StatusCode::OK, page)
        }
        Err(error) => {
            let status =
                StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
            tracing::warn!(error = %error, "dynamic registration failed");
            let page = templates::render(
                "lti/registration_failed.html",
                minijinja::context! {
                    reason => capitalized(&error.to_string()),
                    advice => advice(&error),
                    answer => error.platform_answer(),
                    request_id => telemetry::current_request_id(),
                },
            );
            (status, page)
        }
    };
    match page {
        Ok(html) => {
            let mut response = (status, html).into_response();
            if let Ok(value) = HeaderValue::from_str(&csp) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, value);
            }
            response
        }
        Err(error) => crate::error::AppError::Internal(error).into_response(),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}

fn advice(error: &DynamicRegistrationError) -> &'static str {
    match error {
        DynamicRegistrationError::Disabled | DynamicRegistrationError::HostNotAllowed { .. } => {
            "Ask the administrator of this microcred installation to allow it, or register by hand."
        }
        DynamicRegistrationError::TooManyPending { .. } | DynamicRegistrationError::AlreadyRegistered { .. } => {
            "A microcred administrator can sort this out on the Registrations admin page."
        }
        DynamicRegistrationError::Database(_) => "Try again in a minute; if it fails again, tell the engineer on call.",
        _ => "Start the registration again from the LMS; if it fails again, send this page to the LMS's administrator.",
    }
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/lti-register.js"),
    )
        .into_response()
}

async fn logo() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../static/logo.svg"),
    )
        .into_response()
}
