//! The test-facing side of the LTI Advantage services: launch claims that
//! point at them, setup (line items, members, failures) and what they
//! received (token requests, scores, deep linking responses).

use std::time::Duration;

use serde_json::{json, Value};

use super::ags::{line_items_url, LineItemSpec, ReceivedScore};
use super::deep_linking::DeepLinkingResult;
use super::nrps::{member_json, memberships_url};
use super::services::{
    default_supported_scopes, InjectedFailure, ServiceEndpoint, ServiceRequestRecord,
};
use super::token::{TokenOutcome, TokenRequestRecord};
use super::{lock, TestPlatform};
use crate::claims::{ags_scope, LaunchClaims, TestUser};

/// How often [`TestPlatform::wait_for_scores`] looks at the received scores.
const SCORE_POLL_INTERVAL: Duration = Duration::from_millis(50);

impl TestPlatform {
    // Launch claims.

    /// Returns the line items container URL of the course `context_id`.
    pub fn line_items_url(&self, context_id: &str) -> String {
        line_items_url(self.base_url(), context_id)
    }

    /// Returns the NRPS membership container URL of the course `context_id`.
    pub fn memberships_url(&self, context_id: &str) -> String {
        memberships_url(self.base_url(), context_id)
    }

    /// Builds an Assignment and Grade Services endpoint claim for the course
    /// `context_id` with the line item, score and result scopes, and the
    /// launch's own line item when `line_item_url` is given.
    pub fn ags_claim(&self, context_id: &str, line_item_url: Option<&str>) -> Value {
        let mut claim = json!({
            "scope": [
                ags_scope::LINE_ITEM,
                ags_scope::LINE_ITEM_READONLY,
                ags_scope::RESULT_READONLY,
                ags_scope::SCORE,
            ],
            "lineitems": self.line_items_url(context_id),
        });
        if let Some(line_item_url) = line_item_url {
            claim["lineitem"] = Value::from(line_item_url);
        }
        claim
    }

    /// Builds a Names and Role Provisioning Services claim for the course
    /// `context_id`.
    pub fn nrps_claim(&self, context_id: &str) -> Value {
        json!({
            "context_memberships_url": self.memberships_url(context_id),
            "service_versions": ["2.0"],
        })
    }

    /// Adds AGS and NRPS claims for the course of `claims` (its context
    /// claim's `id`), with `line_item_url` as the launch's line item.
    ///
    /// # Panics
    /// If `claims` has no context id.
    pub fn with_services(&self, claims: LaunchClaims, line_item_url: Option<&str>) -> LaunchClaims {
        let context_id = claims
            .context_id()
            .expect("with_services needs a claim set with a context id")
            .to_owned();
        claims
            .with_ags(self.ags_claim(&context_id, line_item_url))
            .with_nrps(self.nrps_claim(&context_id))
    }

    // Token endpoint.

    /// Keep a fetched tool key set for `ttl` without refetching, even for an
    /// unknown kid, as the strictest platforms do; `None` fetches it for
    /// every JWT (the default).
    pub fn set_tool_jwks_cache_ttl(&self, ttl: Option<std::time::Duration>) {
        let mut state = lock(&self.state);
        state.services.tool_jwks_ttl = ttl;
        state.services.tool_jwks_cache = None;
    }

    /// How many times the platform fetched the tool's key set.
    pub fn tool_jwks_fetch_count(&self) -> usize {
        lock(&self.state).services.tool_jwks_fetches
    }

    /// Sets the tool's JWKS URL, which verifies client assertions and deep
    /// linking responses.
    pub fn set_tool_jwks_url(&self, url: &str) {
        lock(&self.state).services.tool_jwks_url = Some(url.to_owned());
    }

    /// Sets `expires_in` of access tokens issued from now on, in seconds.
    pub fn set_access_token_lifetime(&self, seconds: u64) {
        lock(&self.state).services.access_token_lifetime_seconds = seconds;
    }

    /// Sets the scopes the token endpoint grants, or restores all AGS and
    /// NRPS scopes with `None`.
    pub fn set_supported_scopes(&self, scopes: Option<&[&str]>) {
        let scopes = match scopes {
            Some(scopes) => scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            None => default_supported_scopes(),
        };
        lock(&self.state).services.supported_scopes = scopes;
    }

    /// Makes every access token issued so far invalid, as after a platform
    /// restart that lost its tokens. The services then return 401 for them.
    pub fn revoke_access_tokens(&self) {
        for token in lock(&self.state).services.access_tokens.values_mut() {
            token.revoked = true;
        }
    }

    /// Returns every request to the token endpoint, in order.
    pub fn token_requests(&self) -> Vec<TokenRequestRecord> {
        lock(&self.state).services.token_requests.clone()
    }

    /// Returns how many requests the token endpoint received, rejected and
    /// failed ones included.
    pub fn token_request_count(&self) -> usize {
        lock(&self.state).services.token_requests.len()
    }

    /// Returns the access tokens issued so far, in order.
    pub fn issued_access_tokens(&self) -> Vec<String> {
        lock(&self.state)
            .services
            .token_requests
            .iter()
            .filter_map(|record| match &record.outcome {
                TokenOutcome::Granted { access_token, .. } => Some(access_token.clone()),
                _ => None,
            })
            .collect()
    }

    // Assignment and Grade Services.

    /// Creates a line item in the course `context_id`, as an instructor
    /// would in the gradebook, and returns its URL (its `id`).
    pub fn add_line_item(&self, context_id: &str, spec: LineItemSpec) -> String {
        lock(&self.state).add_line_item_from_spec(context_id, &spec)
    }

    /// Returns the line items of the course `context_id` as the API returns them.
    pub fn line_items(&self, context_id: &str) -> Vec<Value> {
        lock(&self.state)
            .services
            .line_items
            .iter()
            .filter(|item| item.context_id == context_id)
            .map(|item| item.body.clone())
            .collect()
    }

    /// Gives line items that tools create from now on a query string in
    /// their URL (for example `type=x`), or none with `None`.
    pub fn set_new_line_item_query(&self, query: Option<&str>) {
        lock(&self.state).services.new_line_item_query =
            query.map(|query| query.trim_start_matches('?').to_owned());
    }

    /// Sets the page size of the line items container when a request has
    /// no `limit`, or serves everything on one page with `None`.
    pub fn set_line_items_page_size(&self, size: Option<usize>) {
        lock(&self.state).services.line_items_page_size = size;
    }

    /// With `false`, the line items container ignores the
    /// `resource_link_id`, `resource_id` and `tag` parameters and lists
    /// every line item of the course, as some platforms do.
    pub fn set_line_item_filtering(&self, enabled: bool) {
        lock(&self.state).services.filter_line_items = enabled;
    }

    /// Returns every score the scores endpoints accepted, in order.
    pub fn scores(&self) -> Vec<ReceivedScore> {
        lock(&self.state).services.scores.clone()
    }

    /// Waits until the platform has accepted at least `count` scores and
    /// returns them all.
    ///
    /// # Panics
    /// After `timeout`, with the scores and service requests so far.
    pub async fn wait_for_scores(&self, count: usize, timeout: Duration) -> Vec<ReceivedScore> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let scores = self.scores();
            if scores.len() >= count {
                return scores;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "the test platform received {} of {count} expected scores within {timeout:?}.\n\
                     Scores: {:#?}\nService requests: {:#?}",
                    scores.len(),
                    scores.iter().map(|score| &score.score).collect::<Vec<_>>(),
                    self.service_requests()
                );
            }
            tokio::time::sleep(SCORE_POLL_INTERVAL).await;
        }
    }

    // Names and Role Provisioning Services.

    /// Adds `user` with `roles` to the roster of the course `context_id`.
    pub fn add_member(&self, context_id: &str, user: &TestUser, roles: &[&str]) {
        self.add_member_json(context_id, member_json(user, roles));
    }

    /// Adds a membership entry exactly as given to the roster of the course
    /// `context_id`.
    pub fn add_member_json(&self, context_id: &str, member: Value) {
        lock(&self.state)
            .services
            .members
            .push((context_id.to_owned(), member));
    }

    /// Sets the page size of membership containers when a request has no
    /// `limit`, or serves every member on one page with `None`.
    pub fn set_memberships_page_size(&self, size: Option<usize>) {
        lock(&self.state).services.memberships_page_size = size;
    }

    // Failures and the request log.

    /// Makes requests fail as `failure` describes. Failures apply in the
    /// order they were added.
    pub fn inject_failure(&self, failure: InjectedFailure) {
        lock(&self.state).services.failures.push(failure);
    }

    /// Makes the next `count` requests to `endpoint` fail with `status`.
    pub fn fail_next(&self, endpoint: ServiceEndpoint, count: usize, status: u16) {
        self.inject_failure(InjectedFailure::next(endpoint, count, status));
    }

    /// Removes every injected failure, so the services work normally again.
    pub fn clear_failures(&self) {
        lock(&self.state).services.failures.clear();
    }

    /// Returns every request to the token endpoint, AGS and NRPS, in order.
    pub fn service_requests(&self) -> Vec<ServiceRequestRecord> {
        lock(&self.state).services.requests.clone()
    }

    /// Returns the service requests to `endpoint`, in order.
    pub fn service_requests_to(&self, endpoint: ServiceEndpoint) -> Vec<ServiceRequestRecord> {
        self.service_requests()
            .into_iter()
            .filter(|record| endpoint == ServiceEndpoint::Any || record.endpoint == endpoint)
            .collect()
    }

    // Deep linking.

    /// Returns what the platform made of every POST to the deep linking
    /// return URL, in order.
    pub fn deep_linking_results(&self) -> Vec<DeepLinkingResult> {
        lock(&self.state).services.deep_linking_results.clone()
    }
}
