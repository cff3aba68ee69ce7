//! Building blocks of every API handler: the request context with the
//! session, JSON errors, extractors whose rejections are JSON, and replies
//! that carry a fresh page token.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::AppError;
use crate::state::AppState;
use crate::telemetry;
use crate::web::session::CurrentSession;
use crate::workflow::access::Viewer;
use crate::workflow::WorkflowError;

/// Response header with a fresh page token for the next request.
pub const TOKEN_HEADER: &str = "x-session-token";
/// Response header with the time (RFC 3339) at which that token expires.
pub const TOKEN_EXPIRY_HEADER: &str = "x-session-token-expires-at";

/// The failure of an API request. Every variant renders as a JSON object
/// with `error`, `message` and `request_id`.
#[derive(Debug)]
pub enum ApiError {
    /// Any error of the web layer, rendered by [`AppError`] (boxed, because it is large).
    App(Box<AppError>),
    /// 400: the input breaks rules; `problems` lists each one.
    Invalid(Vec<String>),
    /// 400 (or 415 for a wrong content type): the request body could not
    /// be read; `field` names the offending field when there is one.
    Body { status: StatusCode, field: Option<String>, message: String },
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::from(AppError::BadRequest(message.into()))
    }

    fn body(field: Option<String>, message: String) -> Self {
        Self::Body { status: StatusCode::BAD_REQUEST, field, message }
    }

    fn unsupported_type(message: &str) -> Self {
        Self::Body { status: StatusCode::UNSUPPORTED_MEDIA_TYPE, field: None, message: message.to_string() }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        Self::App(Box::new(error))
    }
}

impl From<WorkflowError> for ApiError {
    fn from(error: WorkflowError) -> Self {
        match error {
            WorkflowError::Invalid(problems) => Self::Invalid(problems),
            other => Self::from(AppError::from(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = telemetry::current_request_id();
        match self {
            Self::App(error) => error.into_response(),
            Self::Invalid(problems) => {
                let body = serde_json::json!({
                    "error": "bad_request",
                    "message": problems.join(" "),
                    "problems": problems,
                    "request_id": request_id,
                });
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
            Self::Body { status, field, message } => {
                let code = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    "unsupported_media_type"
                } else {
                    "invalid_body"
                };
                let body = serde_json::json!({
                    "error": code,
                    "message": message,
                    "field": field,
                    "request_id": request_id,
                });
                (status, Json(body)).into_response()
            }
        }
    }
}

/// The context of an authenticated API request: the application state, the
/// session with its fresh page token, and the viewer that the services take.
pub struct ApiContext {
    pub state: AppState,
    pub current: CurrentSession,
    pub viewer: Viewer,
    /// When the fresh page token stops working: its own expiry, or the end
    /// of the session when that comes first.
    ///
    /// NOTE: an idle session can end up to a minute before this, because
    /// `sessions::resolve_by_id` stores the time of last use at most once a minute.
    pub token_expires_at: DateTime<Utc>,
}

impl FromRequestParts<AppState> for ApiContext {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let current = CurrentSession::from_request_parts(parts, state).await?;
        let viewer = Viewer::from(&current.session);
        // The extractor issued the token just now for the idle time, so this
        // matches the token's own expiry to within a second.
        let idle_secs = state.settings.session.idle_minutes.saturating_mul(60);
        let token_expiry = DateTime::from_timestamp(Utc::now().timestamp().saturating_add(idle_secs), 0)
            .unwrap_or(current.session.expires_at);
        let token_expires_at = token_expiry.min(current.session.expires_at);
        Ok(Self { state: state.clone(), current, viewer, token_expires_at })
    }
}

impl ApiContext {
    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.state.db
    }

    /// Builds a JSON reply with the fresh page token.
    pub fn json<T: Serialize>(&self, status: StatusCode, body: &T) -> Response {
        self.with_token((status, Json(body)).into_response())
    }

    /// Builds a 200 JSON reply with the fresh page token.
    pub fn ok<T: Serialize>(&self, body: &T) -> Response {
        self.json(StatusCode::OK, body)
    }

    /// Builds an empty 204 reply with the fresh page token.
    pub fn no_content(&self) -> Response {
        self.with_token(StatusCode::NO_CONTENT.into_response())
    }

    /// Adds the fresh page token and its expiry to a response.
    pub fn with_token(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.current.page_token) {
            headers.insert(TOKEN_HEADER, value);
        }
        let expiry = self.token_expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if let Ok(value) = HeaderValue::from_str(&expiry) {
            headers.insert(TOKEN_EXPIRY_HEADER, value);
        }
        response
    }
}

/// A JSON request body. Unlike `axum::Json`, every rejection is a JSON
/// error, and a body that does not fit the expected shape names the field.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::unsupported_type(
                "Send the request body as JSON, with the header `Content-Type: application/json`.",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(body_read_error)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body into `T`, naming the field when its value is wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::body(None, "The request body is empty. Send a JSON object.".into()));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        json_error(&error.into_inner(), Some(path))
    })?;
    deserializer.end().map_err(|error| json_error(&error, None))?;
    Ok(value)
}

/// Builds the error for a body that failed to parse at `path`. Only a wrong
/// value has a field worth naming: after a syntax error, the path is partial.
fn json_error(error: &serde_json::Error, path: Option<String>) -> ApiError {
    use serde_json::error::Category;

    // `serde_path_to_error` writes `.` for the whole body and `?` for an unknown position.
    let field = path.filter(|path| error.classify() == Category::Data && path != "." && !path.contains('?'));
    let message = match (error.classify(), &field) {
        (Category::Data, Some(field)) => {
            format!("The field `{field}` of the JSON body is invalid: {error}. Correct it and send the request again.")
        }
        (Category::Data, None) => {
            format!("The JSON body does not have the expected shape: {error}. Correct it and send the request again.")
        }
        _ => format!("The request body is not valid JSON: {error}. Correct it and send the request again."),
    };
    ApiError::body(field, message)
}

fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|media| media == "application/json" || media.ends_with("+json"))
}

/// Returns the media type of the request body, lowercase, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    (!media.is_empty()).then_some(media)
}

/// The format of a catalogue text in a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    Toml,
    Json,
}

/// A request body that contains TOML or JSON text, distinguished by `Content-Type`.
pub struct CatalogueText {
    pub format: TextFormat,
    pub text: String,
}

impl<S: Send + Sync> FromRequest<S> for CatalogueText {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let format = match media_type(request.headers()).as_deref() {
            Some("application/toml" | "text/toml" | "text/x-toml") => TextFormat::Toml,
            Some("application/json") => TextFormat::Json,
            _ => {
                return Err(ApiError::unsupported_type(
                    "Send the catalogue as TOML with `Content-Type: application/toml`, \
                     or as JSON with `Content-Type: application/json`.",
                ))
            }
        };
        let bytes = Bytes::from_request(request, state).await.map_err(body_read_error)?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
            ApiError::body(None, "The request body is not UTF-8 text. Save it as UTF-8 and send it again.".into())
        })?;
        if text.trim().is_empty() {
            return Err(ApiError::body(None, "The request body is empty. Send the catalogue text.".into()));
        }
        Ok(Self { format, text })
    }
}

fn body_read_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::from(AppError::TooLarge(
            "The request body is larger than the server accepts. Send a smaller body.".into(),
        ))
    } else {
        ApiError::body(None, format!("The request body could not be read: {}.", rejection.body_text()))
    }
}

/// Path parameters, with JSON errors.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(value)| ApiPath(value)).map_err(path_error)
    }
}

fn path_error(rejection: PathRejection) -> ApiError {
    ApiError::bad_request(format!(
        "The address is invalid: {}. Ids in the address are whole numbers; take them from earlier responses.",
        rejection.body_text()
    ))
}

/// Query parameters, with JSON errors.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(value)| ApiQuery(value)).map_err(query_error)
    }
}

fn query_error(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("The query string is invalid: {}.", rejection.body_text()))
}

/// Returns the JSON 404 for a path under `/api` that no endpoint matches.
pub async fn no_such_endpoint(method: Method, uri: Uri) -> ApiError {
    ApiError::from(AppError::NotFound(format!(
        "No API endpoint matches {method} {}. The endpoints are listed in /api/openapi.json.",
        uri.path()
    )))
}

/// Returns the JSON 405 for a known path called with a method it does not take.
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let body = serde_json::json!({
        "error": "method_not_allowed",
        "message": format!(
            "{} does not take {method}. The methods it takes are in the Allow header and in /api/openapi.json.",
            uri.path()
        ),
        "request_id": telemetry::current_request_id(),
    });
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

/// Builds `Content-Disposition` for a download with the original file
/// name, in the RFC 8187 `filename*` form so that any name survives.
pub fn attachment(name: &str) -> HeaderValue {
    let mut encoded = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        text: String,
        links: Vec<String>,
    }

    fn field_of(error: ApiError) -> Option<String> {
        match error {
            ApiError::Body { field, .. } => field,
            other => panic!("expected a body error, got {other:?}"),
        }
    }

    #[test]
    fn json_error_names_nested_field() {
        let error = parse_json::<Sample>(br#"{"text": "a", "links": ["x", 3]}"#).unwrap_err();
        assert_eq!(field_of(error).as_deref(), Some("links[1]"));
    }

    #[test]
    fn json_error_reports_syntax() {
        let error = parse_json::<Sample>(br#"{"text": "a","#).unwrap_err();
        assert_eq!(field_of(error), None);
    }

    #[test]
    fn json_error_rejects_trailing_text() {
        assert!(parse_json::<Sample>(br#"{"text": "a", "links": []} x"#).is_err());
    }

    #[test]
    fn attachment_encodes_name() {
        assert_eq!(attachment("plan v2 (é).pdf"), "attachment; filename*=UTF-8''plan%20v2%20%28%C3%A9%29.pdf");
    }
}
