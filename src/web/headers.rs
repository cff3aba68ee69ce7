//! Response headers every page gets: no caching of personal pages, no
//! Referer to other sites, no MIME sniffing, and a framing policy that lets
//! only the registered platforms embed the tool.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use url::Url;

use crate::state::AppState;
use crate::store::platforms as platform_store;

const ORIGINS_TTL: Duration = Duration::from_secs(30);

/// The Content-Security-Policy that names the registered platforms'
/// origins, rebuilt every 30 seconds.
#[derive(Default)]
pub struct FrameOrigins {
    cached: Mutex<Option<(Instant, HeaderValue)>>,
}

impl FrameOrigins {
    async fn policy(&self, state: &AppState) -> Option<HeaderValue> {
        if let Ok(guard) = self.cached.lock() {
            if let Some((at, value)) = guard.as_ref() {
                if at.elapsed() < ORIGINS_TTL {
                    return Some(value.clone());
                }
            }
        }
        let mut origins: Vec<String> = Vec::new();
        if let Ok(platforms) = platform_store::all(&state.db).await {
            for platform in platforms.iter().filter(|p| !platform_store::is_switched_off(&p.status)) {
                for raw in [&platform.issuer, &platform.auth_url] {
                    if let Some(origin) = origin_of(raw) {
                        if !origins.contains(&origin) {
                            origins.push(origin);
                        }
                    }
                }
            }
        }
        let origins = origins.join(" ");
        let csp = format!(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self' {origins}; frame-ancestors 'self' {origins}"
        );
        let value = HeaderValue::from_str(csp.trim()).ok()?;
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((Instant::now(), value.clone()));
        }
        Some(value)
    }
}

fn origin_of(raw: &str) -> Option<String> {
    let url = Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(url.origin().ascii_serialization()).filter(|o| o != "null")
}

pub async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let policy = state.frame_origins.policy(&state).await;
    let headers = response.headers_mut();
    // A handler that framed its own policy (the registration page) keeps it.
    if let Some(value) = policy {
        headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}
