//! The HTTP-facing error type.
//!
//! Handlers return `Result<_, AppError>`. Each variant documents its
//! status. Every error renders as an HTML page readable inside an LMS iframe
//! (or as JSON under `/api`), with the request id that the log line carries.
//! The details of a 500 are logged and never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use microcred_lti::LaunchError;

use crate::launch::{FlowError, LaunchFailure};
use crate::telemetry;
use crate::web::templates;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400, or 502 when the platform's key set is unreachable: a rejected login or launch.
    #[error("launch rejected: {}", .0.error)]
    Launch(LaunchFailure),
    /// 401: no live session; the user must launch again from the course.
    #[error("no session")]
    NoSession,
    /// 403: the session's user may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: nothing with this id that the user may see.
    #[error("not found: {0}")]
    NotFound(String),
    /// 400: the request is malformed; the message says what to change.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 409: someone else changed the thing first.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 413: an upload or body over the configured limit.
    #[error("too large: {0}")]
    TooLarge(String),
    /// 500: anything unexpected; logged with its cause chain.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for AppError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Internal(error.into())
    }
}

impl From<FlowError> for AppError {
    fn from(error: FlowError) -> Self {
        match error {
            FlowError::Rejected(failure) => Self::Launch(failure),
            FlowError::Internal(error) => Self::Internal(error),
            FlowError::BrowserCheck(_) => Self::Launch(LaunchError::StateFromAnotherBrowser.into()),
        }
    }
}

impl From<LaunchError> for AppError {
    fn from(error: LaunchError) -> Self {
        Self::Launch(error.into())
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Launch(failure) if !failure.error.is_client_error() => StatusCode::BAD_GATEWAY,
            Self::Launch(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NoSession => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable code for the JSON body and for tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Launch(failure) => failure.error.code(),
            Self::NoSession => "no_session",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::BadRequest(_) => "bad_request",
            Self::Conflict(_) => "conflict",
            Self::TooLarge(_) => "too_large",
            Self::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::Launch(_) => "The tool could not start",
            Self::NoSession => "Your session has ended",
            Self::Forbidden(_) => "Not allowed",
            Self::NotFound(_) => "Not found",
            Self::BadRequest(_) => "Something in the request was wrong",
            Self::Conflict(_) => "Someone else got there first",
            Self::TooLarge(_) => "Too large",
            Self::Internal(_) => "Something went wrong on our side",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Launch(failure) => failure.error.message(),
            Self::NoSession => "Nothing you saved is lost. Open microcred again from your course page to continue."
                .to_string(),
            Self::Forbidden(detail)
            | Self::NotFound(detail)
            | Self::BadRequest(detail)
            | Self::Conflict(detail)
            | Self::TooLarge(detail) => detail.clone(),
            Self::Internal(_) => {
                "The request failed because of an error in microcred. Try again in a minute; if it \
                 keeps failing, send this page to your administrator."
                    .to_string()
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let request_id = telemetry::current_request_id();
        if let Self::Internal(error) = &self {
            tracing::error!(error = format!("{error:#}"), request_id = %request_id, "request failed");
        }
        let admin_hint = match &self {
            Self::Launch(failure) => failure.error.admin_hint(),
            _ => None,
        };
        let reason = match &self {
            Self::Launch(failure) => Some(failure.error.to_string()),
            _ => None,
        };
        if telemetry::current_request_wants_json() {
            let body = serde_json::json!({
                "error": self.code(),
                "message": self.message(),
                "reason": reason,
                "admin_hint": admin_hint,
                "request_id": request_id,
            });
            return (status, axum::Json(body)).into_response();
        }
        let html = templates::render_error(
            status,
            self.title(),
            &self.message(),
            reason.as_deref(),
            self.code(),
            admin_hint.as_deref(),
            &request_id,
        );
        (status, html).into_response()
    }
}
