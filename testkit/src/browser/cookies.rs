//! The browser's cookie store, following RFC 6265 and the parts of
//! RFC 6265bis that Chromium enforces: SameSite (Lax when unspecified),
//! `SameSite=None` and `Partitioned` only with `Secure`, the `__Secure-` and
//! `__Host-` prefixes, and the 400-day cap on lifetimes.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::{Host, Url};

/// Chromium caps the lifetime of a cookie at 400 days.
const MAX_COOKIE_LIFETIME: Duration = Duration::from_secs(400 * 24 * 60 * 60);

/// The SameSite attribute of a stored cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
    /// No attribute was given, so the cookie is enforced as Lax.
    Unspecified,
}

/// A cookie in the browser's store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCookie {
    pub name: String,
    pub value: String,
    /// Host name or IP address, lowercase and without a leading dot.
    pub domain: String,
    /// True when `Set-Cookie` had no `Domain` attribute, so only `domain`
    /// itself receives the cookie.
    pub host_only: bool,
    pub path: String,
    /// `None` for a session cookie.
    pub expires: Option<SystemTime>,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: SameSite,
    /// Top-level site the cookie is partitioned under (CHIPS), for cookies
    /// set with `Partitioned`.
    pub partition_key: Option<String>,
    /// Browser clock time when the cookie was first stored.
    pub created: SystemTime,
    sequence: u64,
}

/// A `Set-Cookie` header the browser ignored, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedCookie {
    pub url: String,
    pub set_cookie: String,
    pub reason: String,
}

/// Request facts that the cookie rules depend on, for one request or response.
pub(crate) struct CookieContext<'a> {
    pub url: &'a Url,
    /// The request is same-site with its initiator, its redirect chain and,
    /// for an embedded page, the top-level site.
    pub same_site: bool,
    /// The request loads the top-level page, not an iframe.
    pub top_level_navigation: bool,
    /// The method is GET or HEAD.
    pub safe_method: bool,
    /// Top-level site for partitioned cookies.
    pub partition_key: String,
    /// The page is embedded and cross-site with the top-level site.
    pub third_party: bool,
    /// Unpartitioned cookies are blocked in third-party contexts.
    pub block_third_party: bool,
}

/// Hosts, or host and port pairs, whose cookies are blocked.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BlockRule {
    host: String,
    port: Option<u16>,
}

impl BlockRule {
    fn matches(&self, url: &Url) -> bool {
        let host_matches = url
            .host_str()
            .is_some_and(|host| host.eq_ignore_ascii_case(&self.host));
        let port_matches = self.port.is_none() || self.port == url.port_or_known_default();
        host_matches && port_matches
    }
}

#[derive(Default)]
pub(crate) struct CookieJar {
    cookies: Vec<StoredCookie>,
    blocked: Vec<BlockRule>,
    rejected: Vec<RejectedCookie>,
    clock_offset: Duration,
    next_sequence: u64,
}

impl CookieJar {
    /// Browser clock: the system clock plus any offset a test added.
    pub fn now(&self) -> SystemTime {
        SystemTime::now() + self.clock_offset
    }

    pub fn advance_clock(&mut self, by: Duration) {
        self.clock_offset += by;
    }

    pub fn clear(&mut self) {
        self.cookies.clear();
    }

    /// Blocks cookies for a host (`127.0.0.1`), a host and port
    /// (`127.0.0.1:8080`) or the host and port of a URL. Stored cookies stay
    /// stored, but requests to a blocked target carry none.
    pub fn block(&mut self, target: &str) {
        let rule = parse_block_rule(target);
        if !self.blocked.contains(&rule) {
            self.blocked.push(rule);
        }
    }

    pub fn unblock(&mut self, target: &str) {
        let rule = parse_block_rule(target);
        self.blocked.retain(|existing| existing != &rule);
    }

    fn is_blocked(&self, url: &Url) -> bool {
        self.blocked.iter().any(|rule| rule.matches(url))
    }

    pub fn rejected(&self) -> &[RejectedCookie] {
        &self.rejected
    }

    /// Returns the cookies that have not expired, in storage order.
    pub fn live_cookies(&self) -> Vec<StoredCookie> {
        let now = self.now();
        self.cookies
            .iter()
            .filter(|cookie| !is_expired(cookie, now))
            .cloned()
            .collect()
    }

    /// Applies one `Set-Cookie` header value received in the context `context`.
    /// A header the rules reject is recorded in [`CookieJar::rejected`].
    pub fn store(&mut self, set_cookie: &str, context: &CookieContext<'_>) {
        if let Err(reason) = self.try_store(set_cookie, context) {
            self.rejected.push(RejectedCookie {
                url: context.url.to_string(),
                set_cookie: set_cookie.to_owned(),
                reason,
            });
        }
    }

    fn try_store(&mut self, set_cookie: &str, context: &CookieContext<'_>) -> Result<(), String> {
        let url = context.url;
        if self.is_blocked(url) {
            return Err("cookies are blocked for this host".into());
        }
        let parsed = cookie::Cookie::parse(set_cookie)
            .map_err(|error| format!("the Set-Cookie value could not be parsed: {error}"))?;
        let host = url
            .host_str()
            .ok_or("the response URL has no host")?
            .to_ascii_lowercase();

        let (domain, host_only) = match parsed.domain() {
            Some(attribute) if !attribute.is_empty() => {
                let attribute = attribute.to_ascii_lowercase();
                if !domain_matches(&host, &attribute) {
                    return Err(format!(
                        "the Domain attribute {attribute:?} does not match the host {host:?}"
                    ));
                }
                (attribute, false)
            }
            _ => (host.clone(), true),
        };

        let path = match parsed.path() {
            Some(path) if path.starts_with('/') => path.to_owned(),
            _ => default_path(url),
        };

        let secure = parsed.secure().unwrap_or(false);
        if secure && !is_potentially_trustworthy(url) {
            return Err("a Secure cookie can only be set from an https or loopback URL".into());
        }
        check_name_prefix(parsed.name(), secure, host_only, &path)?;

        let same_site = match parsed.same_site() {
            Some(cookie::SameSite::Strict) => SameSite::Strict,
            Some(cookie::SameSite::Lax) => SameSite::Lax,
            Some(cookie::SameSite::None) => SameSite::None,
            None => SameSite::Unspecified,
        };
        if same_site == SameSite::None && !secure {
            return Err("SameSite=None requires the Secure attribute".into());
        }
        if same_site != SameSite::None && !context.same_site && !context.top_level_navigation {
            return Err(
                "a SameSite=Lax or Strict cookie cannot be set by a cross-site subframe response"
                    .into(),
            );
        }

        let partitioned = parsed.partitioned().unwrap_or(false);
        if partitioned && !secure {
            return Err("the Partitioned attribute requires the Secure attribute".into());
        }
        if context.third_party && context.block_third_party && !partitioned {
            return Err(
                "third-party cookies are blocked and this cookie is not Partitioned".into(),
            );
        }
        let partition_key = partitioned.then(|| context.partition_key.clone());

        let now = self.now();
        let expires = expiry_time(&parsed, now);
        let identity = CookieIdentity {
            name: parsed.name(),
            domain: &domain,
            host_only,
            path: &path,
            partition_key: partition_key.as_deref(),
        };
        let existing = self
            .cookies
            .iter()
            .position(|cookie| identity.matches(cookie));
        let previous = existing.map(|index| self.cookies.remove(index));

        if expires.is_some_and(|expires| expires <= now) {
            // An expiry in the past deletes the cookie, as a logout does.
            return Ok(());
        }
        let (created, sequence) = match previous {
            Some(previous) => (previous.created, previous.sequence),
            None => {
                self.next_sequence += 1;
                (now, self.next_sequence)
            }
        };
        self.cookies.push(StoredCookie {
            name: parsed.name().to_owned(),
            value: parsed.value().to_owned(),
            domain,
            host_only,
            path,
            expires,
            secure,
            http_only: parsed.http_only().unwrap_or(false),
            same_site,
            partition_key,
            created,
            sequence,
        });
        Ok(())
    }

    /// Builds the `Cookie` request header for a request in `context`, or
    /// `None` when no cookie applies.
    pub fn header_for(&self, context: &CookieContext<'_>) -> Option<String> {
        let url = context.url;
        if self.is_blocked(url) {
            return None;
        }
        let host = url.host_str()?.to_ascii_lowercase();
        let now = self.now();

        let mut matching: Vec<&StoredCookie> = self
            .cookies
            .iter()
            .filter(|cookie| !is_expired(cookie, now))
            .filter(|cookie| {
                if cookie.host_only {
                    cookie.domain == host
                } else {
                    domain_matches(&host, &cookie.domain)
                }
            })
            .filter(|cookie| path_matches(url.path(), &cookie.path))
            .filter(|cookie| !cookie.secure || is_potentially_trustworthy(url))
            .filter(|cookie| match &cookie.partition_key {
                Some(key) => *key == context.partition_key,
                None => !(context.third_party && context.block_third_party),
            })
            .filter(|cookie| match cookie.same_site {
                SameSite::None => true,
                SameSite::Strict => context.same_site,
                // NOTE: Chromium has sent cookies without a SameSite attribute
                // on cross-site top-level POSTs during their first two minutes
                // ("Lax+POST"). This store does not, so it is stricter there.
                SameSite::Lax | SameSite::Unspecified => {
                    context.same_site || (context.top_level_navigation && context.safe_method)
                }
            })
            .collect();
        if matching.is_empty() {
            return None;
        }

        // RFC 6265 section 5.4: longer paths first, then older cookies first.
        matching.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.sequence.cmp(&b.sequence))
        });
        let pairs: Vec<String> = matching
            .iter()
            .map(|cookie| format!("{}={}", cookie.name, cookie.value))
            .collect();
        Some(pairs.join("; "))
    }
}

struct CookieIdentity<'a> {
    name: &'a str,
    domain: &'a str,
    host_only: bool,
    path: &'a str,
    partition_key: Option<&'a str>,
}

impl CookieIdentity<'_> {
    fn matches(&self, cookie: &StoredCookie) -> bool {
        cookie.name == self.name
            && cookie.domain == self.domain
            && cookie.host_only == self.host_only
            && cookie.path == self.path
            && cookie.partition_key.as_deref() == self.partition_key
    }
}

fn is_expired(cookie: &StoredCookie, now: SystemTime) -> bool {
    cookie.expires.is_some_and(|expires| expires <= now)
}

/// Computes the expiry time from Max-Age (which wins) or Expires, capped at
/// 400 days. Returns `None` for a session cookie.
fn expiry_time(parsed: &cookie::Cookie<'_>, now: SystemTime) -> Option<SystemTime> {
    let latest = now + MAX_COOKIE_LIFETIME;
    if let Some(max_age) = parsed.max_age() {
        let seconds = max_age.whole_seconds();
        if seconds <= 0 {
            return Some(UNIX_EPOCH);
        }
        let lifetime = Duration::from_secs(seconds.unsigned_abs()).min(MAX_COOKIE_LIFETIME);
        return Some(now + lifetime);
    }
    let expires = parsed.expires_datetime()?;
    let seconds = expires.unix_timestamp();
    if seconds <= 0 {
        return Some(UNIX_EPOCH);
    }
    Some((UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs())).min(latest))
}

fn check_name_prefix(name: &str, secure: bool, host_only: bool, path: &str) -> Result<(), String> {
    let lowercase = name.to_ascii_lowercase();
    if lowercase.starts_with("__secure-") && !secure {
        return Err("a __Secure- cookie requires the Secure attribute".into());
    }
    if lowercase.starts_with("__host-") && !(secure && host_only && path == "/") {
        return Err("a __Host- cookie requires Secure, Path=/ and no Domain attribute".into());
    }
    Ok(())
}

/// RFC 6265 section 5.1.3. IP addresses only match themselves.
fn domain_matches(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    let is_ip = host.parse::<IpAddr>().is_ok() || host.starts_with('[');
    !is_ip && host.ends_with(domain) && host[..host.len() - domain.len()].ends_with('.')
}

/// RFC 6265 section 5.1.4: the directory of the request path.
fn default_path(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        Some(index) if index > 0 && path.starts_with('/') => path[..index].to_owned(),
        _ => "/".to_owned(),
    }
}

/// RFC 6265 section 5.1.4.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    if request_path == cookie_path {
        return true;
    }
    request_path.starts_with(cookie_path)
        && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/'))
}

/// Tells whether `url` is a secure context for cookies: https, or a loopback
/// host, which Chromium treats as secure even over plain http.
pub(crate) fn is_potentially_trustworthy(url: &Url) -> bool {
    matches!(url.scheme(), "https" | "wss") || is_loopback(url)
}

/// Tells whether the host of `url` is a loopback address or a `localhost` name.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(address)) => address.is_loopback(),
        Some(Host::Ipv6(address)) => address.is_loopback(),
        Some(Host::Domain(name)) => {
            let name = name.to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

fn parse_block_rule(target: &str) -> BlockRule {
    let with_scheme = if target.contains("://") {
        target.to_owned()
    } else {
        format!("http://{target}")
    };
    match Url::parse(&with_scheme) {
        Ok(url) => BlockRule {
            host: url.host_str().unwrap_or(target).to_ascii_lowercase(),
            port: if target.contains("://") {
                url.port_or_known_default()
            } else {
                url.port()
            },
        },
        Err(_) => BlockRule {
            host: target.to_ascii_lowercase(),
            port: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_cases() {
        let cases = [
            ("http://127.0.0.1/", "/"),
            ("http://127.0.0.1/lti", "/"),
            ("http://127.0.0.1/lti/login", "/lti"),
            ("http://127.0.0.1/lti/launch/", "/lti/launch"),
        ];
        for (url, expected) in cases {
            let url = Url::parse(url).expect("test URL is valid");
            assert_eq!(default_path(&url), expected, "default path of {url}");
        }
    }

    #[test]
    fn path_match_cases() {
        assert!(path_matches("/lti", "/lti"));
        assert!(path_matches("/lti/launch", "/lti"));
        assert!(path_matches("/lti/launch", "/lti/"));
        assert!(path_matches("/anything", "/"));
        assert!(!path_matches("/ltix", "/lti"));
        assert!(!path_matches("/", "/lti"));
    }

    #[test]
    fn domain_match_cases() {
        assert!(domain_matches("127.0.0.1", "127.0.0.1"));
        assert!(domain_matches("tool.localhost", "localhost"));
        assert!(!domain_matches("127.0.0.1", "0.0.1"));
        assert!(!domain_matches("xlocalhost", "localhost"));
    }

    #[test]
    fn block_rule_parsing() {
        let host_only = parse_block_rule("127.0.0.1");
        assert_eq!(host_only.host, "127.0.0.1");
        assert_eq!(host_only.port, None);

        let with_port = parse_block_rule("127.0.0.1:4000");
        assert_eq!(with_port.port, Some(4000));

        let from_url = parse_block_rule("http://127.0.0.1:4001/lti/login");
        assert_eq!(from_url.host, "127.0.0.1");
        assert_eq!(from_url.port, Some(4001));
    }
}
