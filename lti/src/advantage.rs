//! LTI Advantage service calls: OAuth 2 access tokens with a JWT client
//! assertion, Assignment and Grade Services, and Names and Role
//! Provisioning Services.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LINK};
use serde::{Deserialize, Serialize};
use url::Url;

pub const SCOPE_LINEITEM: &str = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem";
pub const SCOPE_LINEITEM_READONLY: &str = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly";
pub const SCOPE_SCORE: &str = "https://purl.imsglobal.org/spec/lti-ags/scope/score";
pub const SCOPE_RESULT_READONLY: &str = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly";
pub const SCOPE_NRPS: &str = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly";

const MEDIA_LINEITEM: &str = "application/vnd.ims.lis.v2.lineitem+json";
const MEDIA_LINEITEMS: &str = "application/vnd.ims.lis.v2.lineitemcontainer+json";
const MEDIA_SCORE: &str = "application/vnd.ims.lis.v1.score+json";
const MEDIA_MEMBERSHIP: &str = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json";

/// Maximum pages followed through `Link: rel="next"`, so a looping platform cannot hold a worker.
const MAX_PAGES: usize = 200;

/// A failed service call, classified for retry decisions.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// Connection refused, timed out, reset: retry later.
    #[error("the platform could not be reached: {0}")]
    Network(String),
    /// 401: the access token was refused; get a new one once.
    #[error("the platform refused the access token (HTTP 401): {body}")]
    Unauthorized { body: String },
    /// 429 or 5xx: retry later.
    #[error("the platform is unavailable (HTTP {status}): {body}")]
    Unavailable { status: u16, body: String },
    /// Any other 4xx: retrying will not help.
    #[error("the platform rejected the request (HTTP {status}): {body}")]
    Rejected { status: u16, body: String },
    /// The platform's response could not be parsed.
    #[error("the platform's answer could not be read: {0}")]
    BadResponse(String),
    /// The tool could not sign its request.
    #[error("the tool could not sign its token request: {0}")]
    Signing(String),
}

impl ServiceError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Network(_) | Self::Unavailable { .. })
    }
}

fn classify(error: reqwest::Error) -> ServiceError {
    ServiceError::Network(error.without_url().to_string())
}

async fn check_status(response: reqwest::Response) -> Result<reqwest::Response, ServiceError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body: String = response.text().await.unwrap_or_default().chars().take(2000).collect();
    let code = status.as_u16();
    Err(match code {
        401 => ServiceError::Unauthorized { body },
        429 | 500..=599 => ServiceError::Unavailable { status: code, body },
        _ => ServiceError::Rejected { status: code, body },
    })
}

/// The registration details a token request needs.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    pub token_url: String,
    pub client_id: String,
    /// `aud` of the client assertion; the token URL when `None`.
    pub audience: Option<String>,
}

/// The tool's signing key.
#[derive(Clone)]
pub struct ToolSigner {
    pub kid: String,
    pub key: EncodingKey,
}

#[derive(Serialize)]
struct ClientAssertion<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// Sign a JWT client assertion (RFC 7523) for the token request.
pub fn client_assertion(endpoint: &TokenEndpoint, signer: &ToolSigner) -> Result<String, ServiceError> {
    let now = Utc::now().timestamp();
    let claims = ClientAssertion {
        iss: &endpoint.client_id,
        sub: &endpoint.client_id,
        aud: endpoint.audience.as_deref().unwrap_or(&endpoint.token_url),
        iat: now - 5,
        exp: now + 60,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(signer.kid.clone());
    jsonwebtoken::encode(&header, &claims, &signer.key).map_err(|e| ServiceError::Signing(e.to_string()))
}

/// An access token and the scopes the platform granted.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub scopes: Vec<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
}

type CacheKey = (String, String, String);

/// Access tokens cached per token URL, client and scope set until shortly
/// before they expire.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<CacheKey, (AccessToken, Instant)>>,
    requests: std::sync::atomic::AtomicU64,
}

impl TokenCache {
    fn key(endpoint: &TokenEndpoint, scopes: &[&str]) -> CacheKey {
        let mut sorted: Vec<&str> = scopes.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        (endpoint.token_url.clone(), endpoint.client_id.clone(), sorted.join(" "))
    }

    /// Number of token requests sent, for tests and metrics.
    pub fn request_count(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Forget a token the platform refused.
    pub fn invalidate(&self, endpoint: &TokenEndpoint, scopes: &[&str]) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&Self::key(endpoint, scopes));
        }
    }

    /// Return a cached token, or request a new one from the platform.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        endpoint: &TokenEndpoint,
        signer: &ToolSigner,
        scopes: &[&str],
    ) -> Result<AccessToken, ServiceError> {
        let key = Self::key(endpoint, scopes);
        if let Ok(entries) = self.entries.lock() {
            if let Some((token, until)) = entries.get(&key) {
                if Instant::now() < *until {
                    return Ok(token.clone());
                }
            }
        }
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let assertion = client_assertion(endpoint, signer)?;
        let scope = key.2.clone();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.as_str()),
            ("scope", scope.as_str()),
        ];
        let response = http
            .post(&endpoint.token_url)
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(classify)?;
        // A 401 from the token endpoint rejects the client itself, so a new token cannot help.
        let response = match check_status(response).await {
            Err(ServiceError::Unauthorized { body }) => return Err(ServiceError::Rejected { status: 401, body }),
            other => other?,
        };
        let parsed: TokenResponse = response.json().await.map_err(|e| ServiceError::BadResponse(e.to_string()))?;
        let granted = match parsed.scope {
            Some(scope) => scope.split_whitespace().map(str::to_string).collect(),
            None => scopes.iter().map(|s| s.to_string()).collect(),
        };
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        // Renew a little early so a token never expires in flight.
        let margin = Duration::from_secs(30).min(lifetime / 2);
        let token = AccessToken { token: parsed.access_token, scopes: granted };
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key, (token.clone(), Instant::now() + lifetime - margin));
        }
        Ok(token)
    }
}

/// Append a path segment to a line item URL, keeping its query string:
/// `…/lineitems/42?type=x` becomes `…/lineitems/42/scores?type=x`.
pub fn service_url(lineitem_url: &str, segment: &str) -> Result<String, ServiceError> {
    let mut url = Url::parse(lineitem_url).map_err(|e| ServiceError::BadResponse(format!("line item URL: {e}")))?;
    let path = format!("{}/{segment}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url.to_string())
}

/// Return the `rel="next"` target of a `Link` header, if any.
pub fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    for value in headers.get_all(LINK) {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split(',') {
            let mut pieces = part.split(';');
            let target = pieces.next()?.trim();
            let is_next = pieces.any(|p| {
                let p = p.trim().to_ascii_lowercase();
                p == "rel=\"next\"" || p == "rel=next"
            });
            if is_next {
                let url = target.trim_start_matches('<').trim_end_matches('>');
                return Some(url.to_string());
            }
        }
    }
    None
}

/// An AGS score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Score {
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_given: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_maximum: Option<f64>,
    pub comment: String,
    /// RFC 3339 with milliseconds and a zone.
    pub timestamp: String,
    pub activity_progress: String,
    pub grading_progress: String,
}

/// Post a score to a line item.
pub async fn post_score(
    http: &reqwest::Client,
    token: &AccessToken,
    lineitem_url: &str,
    score: &Score,
) -> Result<(), ServiceError> {
    let url = service_url(lineitem_url, "scores")?;
    let body = serde_json::to_vec(score).map_err(|e| ServiceError::BadResponse(e.to_string()))?;
    let response = http
        .post(url)
        .header(AUTHORIZATION, format!("Bearer {}", token.token))
        .header(CONTENT_TYPE, MEDIA_SCORE)
        .body(body)
        .send()
        .await
        .map_err(classify)?;
    check_status(response).await?;
    Ok(())
}

/// An AGS line item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub score_maximum: f64,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_link_id: Option<String>,
}

/// Line items of a container, filtered by resource link and tag, following every page.
pub async fn find_line_items(
    http: &reqwest::Client,
    token: &AccessToken,
    lineitems_url: &str,
    resource_link_id: &str,
    tag: &str,
) -> Result<Vec<LineItem>, ServiceError> {
    let mut url = Url::parse(lineitems_url).map_err(|e| ServiceError::BadResponse(format!("line items URL: {e}")))?;
    url.query_pairs_mut().append_pair("resource_link_id", resource_link_id).append_pair("tag", tag);
    let mut next = Some(url.to_string());
    let mut found = Vec::new();
    for _ in 0..MAX_PAGES {
        let Some(page_url) = next.take() else { break };
        let response = http
            .get(&page_url)
            .header(AUTHORIZATION, format!("Bearer {}", token.token))
            .header(ACCEPT, MEDIA_LINEITEMS)
            .send()
            .await
            .map_err(classify)?;
        let response = check_status(response).await?;
        next = next_link(response.headers());
        let items: Vec<LineItem> = response.json().await.map_err(|e| ServiceError::BadResponse(e.to_string()))?;
        // Platforms may ignore the filters; apply them here as well.
        found.extend(items.into_iter().filter(|item| {
            item.resource_link_id.as_deref().is_none_or(|id| id == resource_link_id)
                && item.tag.as_deref() == Some(tag)
        }));
    }
    Ok(found)
}

/// Create a line item in a container.
pub async fn create_line_item(
    http: &reqwest::Client,
    token: &AccessToken,
    lineitems_url: &str,
    item: &LineItem,
) -> Result<LineItem, ServiceError> {
    let body = serde_json::to_vec(item).map_err(|e| ServiceError::BadResponse(e.to_string()))?;
    let response = http
        .post(lineitems_url)
        .header(AUTHORIZATION, format!("Bearer {}", token.token))
        .header(CONTENT_TYPE, MEDIA_LINEITEM)
        .header(ACCEPT, MEDIA_LINEITEM)
        .body(body)
        .send()
        .await
        .map_err(classify)?;
    let response = check_status(response).await?;
    response.json().await.map_err(|e| ServiceError::BadResponse(e.to_string()))
}

/// A member of a course roster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Deserialize)]
struct MembershipContainer {
    #[serde(default)]
    members: Vec<Member>,
}

/// Fetch every member of a course, following `rel="next"` pages.
pub async fn fetch_roster(
    http: &reqwest::Client,
    token: &AccessToken,
    memberships_url: &str,
) -> Result<Vec<Member>, ServiceError> {
    let mut next = Some(memberships_url.to_string());
    let mut members = Vec::new();
    for _ in 0..MAX_PAGES {
        let Some(page_url) = next.take() else { break };
        let response = http
            .get(&page_url)
            .header(AUTHORIZATION, format!("Bearer {}", token.token))
            .header(ACCEPT, MEDIA_MEMBERSHIP)
            .send()
            .await
            .map_err(classify)?;
        let response = check_status(response).await?;
        next = next_link(response.headers());
        let page: MembershipContainer =
            response.json().await.map_err(|e| ServiceError::BadResponse(e.to_string()))?;
        members.extend(page.members);
    }
    Ok(members)
}

/// Format a timestamp for AGS: RFC 3339 with milliseconds and `Z`.
pub fn ags_timestamp(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_url_keeps_query() {
        assert_eq!(
            service_url("https://lms.example.org/lineitems/42?type=x", "scores").unwrap(),
            "https://lms.example.org/lineitems/42/scores?type=x"
        );
        assert_eq!(
            service_url("https://lms.example.org/lineitems/42/", "results").unwrap(),
            "https://lms.example.org/lineitems/42/results"
        );
    }

    #[test]
    fn next_link_found_among_others() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            LINK,
            "<https://lms.example.org/m?page=1>; rel=\"first\", <https://lms.example.org/m?page=3>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&headers).as_deref(), Some("https://lms.example.org/m?page=3"));
    }

    #[test]
    fn next_link_absent() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(LINK, "<https://lms.example.org/m?page=1>; rel=\"prev\"".parse().unwrap());
        assert_eq!(next_link(&headers), None);
    }

    #[test]
    fn timestamp_has_millis_and_zone() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-04T10:11:12.5Z").unwrap().with_timezone(&Utc);
        assert_eq!(ags_timestamp(at), "2026-12-04T10:11:12.500Z");
    }

    #[test]
    fn score_without_given_omits_fields() {
        let score = Score {
            user_id: "u1".into(),
            score_given: None,
            score_maximum: None,
            comment: "2 of 5 components mastered".into(),
            timestamp: "2026-12-04T10:11:12.500Z".into(),
            activity_progress: "InProgress".into(),
            grading_progress: "Pending".into(),
        };
        let json = serde_json::to_value(&score).unwrap();
        assert!(json.get("scoreGiven").is_none());
        assert_eq!(json["comment"], "2 of 5 components mastered");
        assert_eq!(json["activityProgress"], "InProgress");
    }
}
