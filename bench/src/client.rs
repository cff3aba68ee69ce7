//! The requests of a user's browser and API client: the launch hops, then
//! the participant's and the assessor's JSON API calls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::platform::{LaunchUser, Platform};
use crate::stats::{ErrorKind, Step};

/// A step that failed, and how.
pub type Failure = (Step, ErrorKind);

/// Destination of measured steps. `record` returns nothing, so callers need
/// not know whether the warm-up is over.
pub trait Sink: Send {
    fn record(&mut self, step: Step, elapsed: Duration);
}

/// One component of the micro-credential, with the bodies that complete it.
#[derive(Debug, Clone)]
pub struct Component {
    pub key: String,
    pub draft: Value,
    pub accepts_files: bool,
    pub assessment: Value,
}

/// The micro-credential the course links show.
#[derive(Debug, Clone)]
pub struct Credential {
    pub slug: String,
    pub components: Vec<Component>,
}

/// Build the HTTP client of every simulated user: no redirects followed (each hop
/// is measured on its own), no proxy, loopback only.
pub fn http_client(pool_size: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(pool_size)
        .tcp_nodelay(true)
        .build()?)
}

/// The launch and API calls, shared by every worker.
pub struct Client {
    pub http: reqwest::Client,
    pub platform: Arc<Platform>,
}

/// Return the first `name=value` of a `Set-Cookie` header whose name starts with `prefix`.
fn cookie_from(response: &reqwest::Response, prefix: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim())
        .find(|pair| pair.starts_with(prefix) && !pair.ends_with('='))
        .map(str::to_string)
}

fn location(response: &reqwest::Response) -> Result<String, ErrorKind> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .ok_or(ErrorKind::Protocol("redirect without Location"))
}

fn expect_status(response: &reqwest::Response, expected: &[StatusCode]) -> Result<(), ErrorKind> {
    if expected.contains(&response.status()) {
        Ok(())
    } else {
        Err(ErrorKind::Status(response.status().as_u16()))
    }
}

/// Reads the page token `_s` from a landing path such as `/app?_s=...`.
pub fn page_token(landing: &str) -> Option<String> {
    let query = landing.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "_s").map(|(_, value)| value.into_owned())
}

impl Client {
    /// Run one launch (login initiation, authorization, id_token post, first
    /// page) and return the page token of the session.
    pub async fn launch(&self, sink: &mut dyn Sink, tool: &str, user: &LaunchUser<'_>) -> Result<String, Failure> {
        let started = Instant::now();
        let message_hint = format!("bench-{}", rand::random::<u64>());

        let login_url = format!("{tool}/lti/login?{}", self.platform.login_query(tool, user, &message_hint));
        let response = self.http.get(&login_url).send().await.map_err(|e| (Step::Login, ErrorKind::from(&e)))?;
        expect_status(&response, &[StatusCode::FOUND]).map_err(|kind| (Step::Login, kind))?;
        let authorization = location(&response).map_err(|kind| (Step::Login, kind))?;
        let state_cookie = cookie_from(&response, "microcred_state_")
            .ok_or((Step::Login, ErrorKind::Protocol("login without state cookie")))?;
        drain(response).await.map_err(|kind| (Step::Login, kind))?;
        let login_done = Instant::now();
        sink.record(Step::Login, login_done - started);

        let (state, id_token) =
            self.platform.authorize(&authorization, tool, user, &message_hint).map_err(|kind| (Step::Authorize, kind))?;
        let authorized = Instant::now();
        sink.record(Step::Authorize, authorized - login_done);

        let response = self
            .http
            .post(format!("{tool}/lti/launch"))
            .header(COOKIE, state_cookie)
            .form(&[("id_token", id_token.as_str()), ("state", state.as_str())])
            .send()
            .await
            .map_err(|e| (Step::Launch, ErrorKind::from(&e)))?;
        expect_status(&response, &[StatusCode::SEE_OTHER]).map_err(|kind| (Step::Launch, kind))?;
        let landing = location(&response).map_err(|kind| (Step::Launch, kind))?;
        let session_cookie = cookie_from(&response, "microcred_session=");
        drain(response).await.map_err(|kind| (Step::Launch, kind))?;
        let token = page_token(&landing).ok_or((Step::Launch, ErrorKind::Protocol("landing URL without page token")))?;
        let launched = Instant::now();
        sink.record(Step::Launch, launched - authorized);

        let mut request = self.http.get(format!("{tool}{landing}"));
        if let Some(cookie) = session_cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.map_err(|e| (Step::FirstPage, ErrorKind::from(&e)))?;
        expect_status(&response, &[StatusCode::OK]).map_err(|kind| (Step::FirstPage, kind))?;
        let page = response.bytes().await.map_err(|e| (Step::FirstPage, ErrorKind::from(&e)))?;
        if page.is_empty() {
            return Err((Step::FirstPage, ErrorKind::Protocol("empty first page")));
        }
        let finished = Instant::now();
        sink.record(Step::FirstPage, finished - launched);
        sink.record(Step::CompleteLaunch, finished - started);
        Ok(token)
    }

    /// Send one JSON API call with the page token and return the JSON body.
    pub async fn api(
        &self,
        sink: &mut dyn Sink,
        step: Step,
        request: reqwest::RequestBuilder,
        token: &str,
        expected: &[StatusCode],
    ) -> Result<Value, Failure> {
        let started = Instant::now();
        let response = request
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .map_err(|e| (step, ErrorKind::from(&e)))?;
        expect_status(&response, expected).map_err(|kind| (step, kind))?;
        let body = response.bytes().await.map_err(|e| (step, ErrorKind::from(&e)))?;
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|_| (step, ErrorKind::Protocol("response is not JSON")))?
        };
        sink.record(step, started.elapsed());
        Ok(value)
    }

    pub fn request(&self, method: Method, url: String) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }
}

async fn drain(response: reqwest::Response) -> Result<(), ErrorKind> {
    response.bytes().await.map(|_| ()).map_err(|e| ErrorKind::from(&e))
}

// Building the bodies from the catalogue entry.

/// Builds `count` words of plain prose.
fn words(count: u64) -> String {
    (0..count).map(|i| format!("idea{i}")).collect::<Vec<_>>().join(" ")
}

/// Pick the minimum word count of a part, or 30 words when it sets none, within its maximum.
fn word_count(part: &Value) -> u64 {
    let count = part["min_words"].as_u64().unwrap_or(30).max(1);
    part["max_words"].as_u64().map_or(count, |max| count.min(max))
}

fn draft_for(component: &Value) -> Value {
    let submission = &component["submission"];
    let part = |name: &str| if submission[name].is_object() { words(word_count(&submission[name])) } else { String::new() };
    let links: Vec<&str> =
        if submission["links"]["required"].as_bool() == Some(true) { vec!["https://video.example.org/lesson-1"] } else { Vec::new() };
    json!({"text": part("text"), "reflection": part("reflection"), "links": links})
}

/// Build an assessment that rates every criterion at its mastery level.
fn mastered_assessment(component: &Value) -> Value {
    let mut ratings = BTreeMap::new();
    if let Some(criteria) = component["rubric"]["criterion"].as_array() {
        for criterion in criteria {
            if let (Some(key), Some(mastery)) = (criterion["key"].as_str(), criterion["mastery_level"].as_str()) {
                ratings.insert(key.to_string(), mastery.to_string());
            }
        }
    }
    json!({"ratings": ratings, "feedback": {}, "overall_comment": "Clear evidence of the method."})
}

/// Reads the components of `GET /api/v1/catalogue/{slug}`.
pub fn credential_from(slug: &str, body: &Value) -> anyhow::Result<Credential> {
    let components = body["definition"]["component"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("the catalogue entry {slug} has no components: {body}"))?
        .iter()
        .map(|component| {
            let key = component["key"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("a component of {slug} has no key"))?
                .to_string();
            Ok(Component {
                key,
                draft: draft_for(component),
                accepts_files: component["submission"]["files"].is_object(),
                assessment: mastered_assessment(component),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if components.is_empty() {
        anyhow::bail!("the catalogue entry {slug} has no components");
    }
    Ok(Credential { slug: slug.to_string(), components })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_token_from_landing() {
        assert_eq!(page_token("/app?_s=abc.def").as_deref(), Some("abc.def"));
        assert_eq!(page_token("/app?x=1&_s=a%2Bb").as_deref(), Some("a+b"));
        assert_eq!(page_token("/app"), None);
    }

    #[test]
    fn draft_meets_word_limits() {
        let component = json!({"submission": {
            "text": {"min_words": 3, "max_words": 10},
            "reflection": {"max_words": 2},
            "links": {"required": true}
        }});
        let draft = draft_for(&component);
        assert_eq!(draft["text"].as_str().map(|t| t.split(' ').count()), Some(3));
        assert_eq!(draft["reflection"].as_str().map(|t| t.split(' ').count()), Some(2));
        assert_eq!(draft["links"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn assessment_at_mastery() {
        let component = json!({"rubric": {"criterion": [
            {"key": "a", "mastery_level": "proficient"},
            {"key": "b", "mastery_level": "secure"}
        ]}});
        let assessment = mastered_assessment(&component);
        assert_eq!(assessment["ratings"]["a"], "proficient");
        assert_eq!(assessment["ratings"]["b"], "secure");
    }
}
