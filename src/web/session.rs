//! The session extractor.
//!
//! A request names its session by a signed page token (query parameter
//! `_s`, header `x-session-token`, or `Authorization: Bearer`), or, for
//! plain navigation, by the session cookie. Every request that changes
//! something must carry a page token: a cross-site form cannot know one,
//! so this is also the protection against request forgery. Each handler
//! gets a fresh token to put in the links and forms it renders.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum_extra::extract::CookieJar;

use crate::error::AppError;
use crate::sessions::{self, Session, SESSION_COOKIE};
use crate::state::AppState;

/// Name of the query parameter that carries the page token.
pub const TOKEN_PARAM: &str = "_s";

/// A live session and a fresh page token for the response.
pub struct CurrentSession {
    pub session: Session,
    /// Put this in every link and form action as `_s`.
    pub page_token: String,
}

fn presented_token(parts: &Parts) -> Option<String> {
    if let Some(query) = parts.uri.query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        if let Some((_, value)) = pairs.into_iter().find(|(name, _)| name == TOKEN_PARAM) {
            return Some(value);
        }
    }
    if let Some(value) = parts.headers.get("x-session-token").and_then(|v| v.to_str().ok()) {
        return Some(value.trim().to_string());
    }
    let authorization = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())?;
    authorization.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = match presented_token(parts) {
            Some(token) => {
                let session_id = state.page_tokens.verify(&token).map_err(|error| {
                    tracing::info!(reason = %error, "page token rejected");
                    AppError::NoSession
                })?;
                sessions::resolve_by_id(state, &session_id).await?.ok_or(AppError::NoSession)?
            }
            None => {
                let safe = matches!(parts.method, Method::GET | Method::HEAD);
                if !safe {
                    return Err(AppError::Forbidden(
                        "This form was sent without the page token that proves it came from microcred. \
                         Go back, reload the page, and send it again."
                            .into(),
                    ));
                }
                let jar = CookieJar::from_headers(&parts.headers);
                let token = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()).ok_or(AppError::NoSession)?;
                sessions::resolve(state, &token).await?.ok_or(AppError::NoSession)?
            }
        };
        crate::telemetry::record_user(session.user_id);
        let page_token = state.page_tokens.issue(&session.id, state.settings.session.idle_minutes * 60);
        Ok(CurrentSession { session, page_token })
    }
}
