//! State and helpers shared by the platform's LTI Advantage endpoints: the
//! access tokens the token endpoint issued, bearer token checks, injected
//! failures, the request log, and verification of JWTs that the tool signs.

use std::collections::{HashMap, HashSet};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use url::Url;

use super::ags::StoredLineItem;
use super::deep_linking::{DeepLinkingResult, OpenDeepLinkingRequest};
use super::{lock, SharedState};
use crate::browser::is_loopback;
use crate::claims::{ags_scope, nrps_scope};

/// Seconds of clock skew allowed when checking `exp` and `iat` of the
/// tool's JWTs.
const CLOCK_LEEWAY_SECONDS: u64 = 5;

/// An endpoint of the platform's LTI Advantage services, for injected
/// failures and the request log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceEndpoint {
    /// The OAuth 2.0 token endpoint.
    Token,
    /// A line items container (GET to list, POST to create).
    LineItems,
    /// One line item (GET).
    LineItem,
    /// The scores endpoint of a line item (POST).
    Scores,
    /// The Names and Role Provisioning Services membership container.
    Memberships,
    /// Matches every endpoint above, in an [`InjectedFailure`] only.
    Any,
}

impl ServiceEndpoint {
    fn matches(self, endpoint: ServiceEndpoint) -> bool {
        self == ServiceEndpoint::Any || self == endpoint
    }
}

/// A failure response that the platform returns instead of serving a request.
///
/// ```
/// use microcred_testkit::{InjectedFailure, ServiceEndpoint};
///
/// // The next two score posts get a 500, and every score for "learner-9"
/// // gets a 404 until the test calls `clear_failures`.
/// let flaky = InjectedFailure::next(ServiceEndpoint::Scores, 2, 500);
/// let ungradeable = InjectedFailure::until_cleared(ServiceEndpoint::Scores, 404).for_user("learner-9");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFailure {
    pub endpoint: ServiceEndpoint,
    pub status: u16,
    /// How many more requests fail, or `None` for every request until
    /// [`super::TestPlatform::clear_failures`].
    pub remaining: Option<usize>,
    /// Only score posts whose `userId` is this value fail. Other endpoints
    /// never match a failure that names a user.
    pub user_id: Option<String>,
    /// Response body; a JSON error object naming the status when `None`.
    pub body: Option<String>,
}

impl InjectedFailure {
    /// Makes the next `count` requests to `endpoint` fail with `status`.
    pub fn next(endpoint: ServiceEndpoint, count: usize, status: u16) -> InjectedFailure {
        InjectedFailure {
            endpoint,
            status,
            remaining: Some(count),
            user_id: None,
            body: None,
        }
    }

    /// Makes every request to `endpoint` fail with `status` until the test
    /// clears failures.
    pub fn until_cleared(endpoint: ServiceEndpoint, status: u16) -> InjectedFailure {
        InjectedFailure {
            endpoint,
            status,
            remaining: None,
            user_id: None,
            body: None,
        }
    }

    /// Limits the failure to score posts for `user_id`.
    pub fn for_user(mut self, user_id: &str) -> InjectedFailure {
        self.user_id = Some(user_id.to_owned());
        self
    }

    pub fn with_body(mut self, body: &str) -> InjectedFailure {
        self.body = Some(body.to_owned());
        self
    }

    fn response(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.body.clone().unwrap_or_else(|| {
            json!({
                "error": format!("injected_{}", self.status),
                "error_description": format!(
                    "the test was told to answer HTTP {} here",
                    self.status
                ),
            })
            .to_string()
        });
        let mut response = (status, body).into_response();
        let content_type = if self.body.is_some() {
            "text/plain; charset=utf-8"
        } else {
            "application/json"
        };
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }
}

/// One request to an LTI Advantage endpoint and the status it got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRequestRecord {
    pub endpoint: ServiceEndpoint,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// True when an [`InjectedFailure`] produced the response.
    pub injected: bool,
}

/// An access token the token endpoint issued.
#[derive(Clone, Debug)]
pub(super) struct IssuedToken {
    pub scopes: Vec<String>,
    /// Seconds since the Unix epoch.
    pub expires_at: i64,
    pub revoked: bool,
}

/// Mutable state of the LTI Advantage endpoints.
pub(super) struct ServiceState {
    pub http: reqwest::Client,
    pub tool_jwks_url: Option<String>,
    /// How long a fetched tool key set is trusted; `None` fetches it for
    /// every JWT. A cached set is not refetched for an unknown kid, as
    /// the strictest platforms behave.
    pub tool_jwks_ttl: Option<std::time::Duration>,
    pub tool_jwks_cache: Option<(std::time::Instant, String, JwkSet)>,
    pub tool_jwks_fetches: usize,
    pub token_audience: Option<String>,
    pub access_token_lifetime_seconds: u64,
    pub supported_scopes: Vec<String>,
    /// `jti` values of accepted client assertions, which may not be reused.
    pub used_assertion_ids: HashSet<String>,
    pub access_tokens: HashMap<String, IssuedToken>,
    pub token_requests: Vec<super::token::TokenRequestRecord>,
    pub line_items: Vec<StoredLineItem>,
    pub next_line_item_number: u64,
    /// Query string that line items created through the API get in their URL.
    pub new_line_item_query: Option<String>,
    pub line_items_page_size: Option<usize>,
    /// False makes the container ignore `resource_link_id`, `resource_id`
    /// and `tag`, as some platforms do.
    pub filter_line_items: bool,
    pub scores: Vec<super::ags::ReceivedScore>,
    /// Members by context id, in the order they were added.
    pub members: Vec<(String, Value)>,
    pub memberships_page_size: Option<usize>,
    pub failures: Vec<InjectedFailure>,
    pub requests: Vec<ServiceRequestRecord>,
    pub deep_linking_requests: Vec<OpenDeepLinkingRequest>,
    pub deep_linking_results: Vec<DeepLinkingResult>,
    /// `nonce` values of accepted deep linking responses.
    pub used_response_nonces: HashSet<String>,
}

impl ServiceState {
    pub fn new(
        tool_jwks_url: Option<String>,
        token_audience: Option<String>,
        access_token_lifetime_seconds: u64,
    ) -> ServiceState {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("building the test platform's HTTP client failed");
        ServiceState {
            http,
            tool_jwks_url,
            tool_jwks_ttl: None,
            tool_jwks_cache: None,
            tool_jwks_fetches: 0,
            token_audience,
            access_token_lifetime_seconds,
            supported_scopes: default_supported_scopes(),
            used_assertion_ids: HashSet::new(),
            access_tokens: HashMap::new(),
            token_requests: Vec::new(),
            line_items: Vec::new(),
            next_line_item_number: 1,
            new_line_item_query: None,
            line_items_page_size: None,
            filter_line_items: true,
            scores: Vec::new(),
            members: Vec::new(),
            memberships_page_size: None,
            failures: Vec::new(),
            requests: Vec::new(),
            deep_linking_requests: Vec::new(),
            deep_linking_results: Vec::new(),
            used_response_nonces: HashSet::new(),
        }
    }

    /// Returns the response of the first injected failure that matches, and
    /// uses up one of its requests.
    pub fn take_failure(
        &mut self,
        endpoint: ServiceEndpoint,
        user_id: Option<&str>,
    ) -> Option<Response> {
        let index = self.failures.iter().position(|failure| {
            failure.endpoint.matches(endpoint)
                && match &failure.user_id {
                    None => true,
                    Some(wanted) => {
                        endpoint == ServiceEndpoint::Scores && user_id == Some(wanted.as_str())
                    }
                }
        })?;
        let failure = &mut self.failures[index];
        let response = failure.response();
        if let Some(remaining) = failure.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                self.failures.remove(index);
            }
        }
        Some(response)
    }

    pub fn record(
        &mut self,
        endpoint: ServiceEndpoint,
        method: &str,
        path: &str,
        query: Option<&str>,
        response: &Response,
        injected: bool,
    ) {
        self.requests.push(ServiceRequestRecord {
            endpoint,
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            status: response.status().as_u16(),
            injected,
        });
    }

    /// Checks the bearer token of a service request and returns it. The
    /// token must be issued, unexpired, not revoked, and carry one of
    /// `any_of_scopes`.
    // The error is the finished HTTP response, built at most once per request.
    #[allow(clippy::result_large_err)]
    pub fn check_bearer(
        &self,
        headers: &HeaderMap,
        any_of_scopes: &[&str],
    ) -> Result<String, Response> {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
        else {
            return Err(unauthorized("the request has no Authorization header"));
        };
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
        else {
            return Err(unauthorized(
                "the Authorization header is not a Bearer token",
            ));
        };
        let Some(issued) = self.access_tokens.get(token) else {
            return Err(unauthorized(
                "the access token was not issued by this platform",
            ));
        };
        if issued.revoked {
            return Err(unauthorized("the access token was revoked"));
        }
        if issued.expires_at <= chrono::Utc::now().timestamp() {
            return Err(unauthorized("the access token has expired"));
        }
        if !any_of_scopes
            .iter()
            .any(|scope| issued.scopes.iter().any(|granted| granted == scope))
        {
            let description = format!(
                "the access token has scopes {:?}, and this request needs one of {any_of_scopes:?}",
                issued.scopes
            );
            let mut response =
                error_json(StatusCode::FORBIDDEN, "insufficient_scope", &description);
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"insufficient_scope\""),
            );
            return Err(response);
        }
        Ok(token.to_owned())
    }
}

/// Scopes the token endpoint grants unless a test restricts them.
pub(super) fn default_supported_scopes() -> Vec<String> {
    [
        ags_scope::LINE_ITEM,
        ags_scope::LINE_ITEM_READONLY,
        ags_scope::RESULT_READONLY,
        ags_scope::SCORE,
        nrps_scope::CONTEXT_MEMBERSHIP_READONLY,
    ]
    .iter()
    .map(|scope| (*scope).to_owned())
    .collect()
}

fn unauthorized(description: &str) -> Response {
    let mut response = error_json(StatusCode::UNAUTHORIZED, "invalid_token", description);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

/// Builds an error response with an OAuth-style JSON body.
pub(super) fn error_json(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (status, axum::Json(body)).into_response()
}

/// Returns the media type of a request, without parameters, in lower case.
pub(super) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Builds a JSON response with a specific media type.
pub(super) fn json_with_media_type(
    status: StatusCode,
    media_type: &'static str,
    body: &Value,
) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    response
}

/// Tells whether the `aud` claim is `expected` or an array containing it.
pub(super) fn audience_contains(claims: &Value, expected: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(audience)) => audience == expected,
        Some(Value::Array(audiences)) => audiences
            .iter()
            .any(|audience| audience.as_str() == Some(expected)),
        _ => false,
    }
}

/// Verifies a JWT the tool signed: RS256 only, a `kid` in the header that
/// the tool's JWKS at `jwks_url` publishes, a valid signature, and an
/// unexpired `exp`. Returns the claims; the caller checks the rest.
///
/// The key set is fetched on every call, so key rotation takes effect at
/// once, unless a cache lifetime is set with
/// [`TestPlatform::set_tool_jwks_cache_ttl`](super::TestPlatform::set_tool_jwks_cache_ttl).
pub(super) async fn verify_tool_jwt(
    state: &SharedState,
    http: &reqwest::Client,
    jwks_url: &str,
    token: &str,
) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|error| format!("the JWT header is invalid: {error}"))?;
    if header.alg != Algorithm::RS256 {
        return Err(format!(
            "the JWT is signed with {:?}, but only RS256 is accepted",
            header.alg
        ));
    }
    let kid = header.kid.ok_or("the JWT header has no kid")?;

    let url = Url::parse(jwks_url)
        .map_err(|error| format!("the tool's JWKS URL {jwks_url:?} is invalid: {error}"))?;
    if !is_loopback(&url) {
        return Err(format!(
            "the tool's JWKS URL {jwks_url} is not a loopback address, and the test platform only contacts loopback"
        ));
    }
    let cached = {
        let state = lock(state);
        let services = &state.services;
        match (services.tool_jwks_ttl, &services.tool_jwks_cache) {
            (Some(ttl), Some((at, cached_url, set)))
                if at.elapsed() < ttl && cached_url == jwks_url =>
            {
                Some(set.clone())
            }
            _ => None,
        }
    };
    let key_set = match cached {
        Some(set) => set,
        None => {
            let set = fetch_tool_jwks(http, url, jwks_url).await?;
            let mut state = lock(state);
            state.services.tool_jwks_fetches += 1;
            if state.services.tool_jwks_ttl.is_some() {
                state.services.tool_jwks_cache =
                    Some((std::time::Instant::now(), jwks_url.to_owned(), set.clone()));
            }
            set
        }
    };
    let jwk = key_set
        .find(&kid)
        .ok_or_else(|| format!("the tool's JWKS does not publish the kid {kid:?}"))?;
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|error| format!("the tool's key {kid:?} is unusable: {error}"))?;

    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.leeway = CLOCK_LEEWAY_SECONDS;
    validation.set_required_spec_claims(&["exp"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|error| format!("the JWT failed verification: {error}"))?;

    if let Some(issued_at) = data.claims.get("iat").and_then(Value::as_i64) {
        let now = chrono::Utc::now().timestamp();
        if issued_at > now + CLOCK_LEEWAY_SECONDS as i64 {
            return Err(format!(
                "the JWT's iat {issued_at} lies in the future (now {now})"
            ));
        }
    }
    Ok(data.claims)
}

async fn fetch_tool_jwks(
    http: &reqwest::Client,
    url: Url,
    jwks_url: &str,
) -> Result<JwkSet, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|error| format!("fetching the tool's JWKS from {jwks_url} failed: {error}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "the tool's JWKS at {jwks_url} returned HTTP {}",
            response.status()
        ));
    }
    response
        .json()
        .await
        .map_err(|error| format!("the tool's JWKS at {jwks_url} is not a valid JWK set: {error}"))
}

/// Returns the number of a page (from 1) and its size, from the `page` and
/// `limit` query parameters and the platform's default page size.
pub(super) fn paging(
    params: &[(String, String)],
    default_size: Option<usize>,
) -> Result<(usize, Option<usize>), String> {
    let value = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let page = match value("page") {
        None => 1,
        Some(raw) => match raw.parse::<usize>() {
            Ok(page) if page >= 1 => page,
            _ => return Err(format!("page must be a whole number from 1, got {raw:?}")),
        },
    };
    let limit = match value("limit") {
        None => default_size,
        Some(raw) => match raw.parse::<usize>() {
            Ok(limit) if limit >= 1 => Some(limit),
            _ => return Err(format!("limit must be a whole number from 1, got {raw:?}")),
        },
    };
    Ok((page, limit))
}

/// Returns one page of `items` and the URL of the next page, if any: `base`
/// with the request's query parameters and `page` replaced.
pub(super) fn page_of<T: Clone>(
    items: &[T],
    page: usize,
    limit: Option<usize>,
    base: &str,
    params: &[(String, String)],
) -> (Vec<T>, Option<String>) {
    let Some(limit) = limit else {
        return (items.to_vec(), None);
    };
    let start = (page - 1).saturating_mul(limit).min(items.len());
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len()).then(|| {
        let mut url = Url::parse(base).expect("the platform builds valid service URLs");
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in params
                .iter()
                .filter(|(key, _)| key != "page" && key != "limit")
            {
                query.append_pair(key, value);
            }
            query.append_pair("limit", &limit.to_string());
            query.append_pair("page", &(page + 1).to_string());
        }
        url.to_string()
    });
    (items[start..end].to_vec(), next)
}

/// Adds `Link: <next>; rel="next"` to a response when there is a next page.
pub(super) fn with_next_link(mut response: Response, next: Option<String>) -> Response {
    if let Some(next) = next {
        if let Ok(value) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// Parses a query string into pairs, keeping duplicates.
pub(super) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}
