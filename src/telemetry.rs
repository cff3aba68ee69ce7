//! Logging setup and the per-request context: a request id on every
//! request, in the log line, in the `x-request-id` response header and on
//! error pages.
//!
//! Each request gets exactly one access log line, "request completed", with
//! the request id, method, path, route, status, latency and (once a session
//! is known) the user id. Only the method, the path (never the query string)
//! and the matched route are logged, never headers, so no token, cookie or
//! key can reach the logs from here. The same middleware feeds the request
//! latency histogram of [`Metrics`].

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};
use crate::metrics::{Metrics, UNMATCHED_ROUTE};

tokio::task_local! {
    static REQUEST: RequestInfo;
}

#[derive(Clone)]
struct RequestInfo {
    id: String,
    wants_json: bool,
    /// The session's user, set once the session is resolved.
    user_id: Arc<OnceLock<i64>>,
}

/// Install the global tracing subscriber. Safe to call more than once.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal, because a log file or a journal would get the escape codes as text.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(colours);
    let result = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second call (tests) finds a subscriber already installed; that is fine.
    let _ = result;
}

/// The id of the request being handled, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST.try_with(|info| info.id.clone()).unwrap_or_else(|_| "-".to_string())
}

/// Record the user of the request being handled, in its span and in its
/// access log line. Does nothing outside a request.
pub fn record_user(user_id: i64) {
    tracing::Span::current().record("user_id", user_id);
    let _ = REQUEST.try_with(|info| info.user_id.set(user_id));
}

/// Whether the request being handled is an API call that expects JSON errors.
pub fn current_request_wants_json() -> bool {
    REQUEST.try_with(|info| info.wants_json).unwrap_or(false)
}

fn incoming_request_id(request: &Request) -> Option<String> {
    let value = request.headers().get("x-request-id")?.to_str().ok()?;
    let valid = !value.is_empty()
        && value.len() <= 64
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then(|| value.to_string())
}

/// Middleware: assign the request id, run the request inside its span,
/// write its one access log line and observe its latency.
pub async fn request_context(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let id = incoming_request_id(&request).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let matched = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let route = matched.as_deref().unwrap_or(UNMATCHED_ROUTE).to_string();
    let wants_json = path.starts_with("/api/");
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        path = %path,
        route = %route,
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let user_id = Arc::new(OnceLock::new());
    let info = RequestInfo { id: id.clone(), wants_json, user_id: user_id.clone() };
    let mut response = REQUEST.scope(info, next.run(request).instrument(span)).await;
    let elapsed = started.elapsed();
    let status = response.status();
    metrics.observe_request(&method, matched.as_deref(), status, elapsed.as_secs_f64());

    // Outside the span, so that each field appears once in text and JSON logs.
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let user_id = user_id.get().copied();
    let status = status.as_u16();
    if status >= 500 {
        tracing::warn!(
            request_id = %id, method = %method, path = %path, route = %route, status, latency_ms, user_id,
            "request completed"
        );
    } else {
        tracing::info!(
            request_id = %id, method = %method, path = %path, route = %route, status, latency_ms, user_id,
            "request completed"
        );
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
