//! `GET /metrics`: the Prometheus scrape endpoint, mounted only when
//! `metrics.enabled` is true. When `metrics.token` is set, a request must
//! carry `Authorization: Bearer <token>`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::metrics::CONTENT_TYPE;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = state.settings.metrics.required_token() {
        if !bearer_matches(&headers, expected) {
            return unauthorized();
        }
    }
    match state.metrics.render(&state.db).await {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "could not encode the metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "The metrics could not be encoded; see the server log.\n")
                .into_response()
        }
    }
}

/// Check the request's bearer token against `expected` in constant time.
/// Both sides are hashed first, so the comparison runs over two digests of
/// equal length and its time reveals neither the bytes nor the length of
/// the expected token.
fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    let presented = Sha256::digest(presented.trim().as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    presented.ct_eq(&expected).into()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""), (header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "GET /metrics requires the header \"Authorization: Bearer <token>\" with the token set in metrics.token \
         (MICROCRED__METRICS__TOKEN). The request had no token or a different one.\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_token_matches_exactly() {
        assert!(bearer_matches(&with_authorization("Bearer scrape-token"), "scrape-token"));
        assert!(!bearer_matches(&with_authorization("Bearer scrape-token2"), "scrape-token"));
        assert!(!bearer_matches(&with_authorization("Bearer scrape"), "scrape-token"));
        assert!(!bearer_matches(&with_authorization("Basic scrape-token"), "scrape-token"));
        assert!(!bearer_matches(&HeaderMap::new(), "scrape-token"));
    }
}
