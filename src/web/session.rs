//! The session extractor: the session cookie, resolved to a live session.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;

use crate::error::AppError;
use crate::sessions::{self, Session, SESSION_COOKIE};
use crate::state::AppState;

/// A handler argument that requires a live session, or answers 401 with a
/// page that says to launch again from the course.
pub struct CurrentSession(pub Session);

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()).ok_or(AppError::NoSession)?;
        let session = sessions::resolve(state, &token).await?.ok_or(AppError::NoSession)?;
        tracing::Span::current().record("user_id", session.user_id);
        Ok(CurrentSession(session))
    }
}
