//! The platforms' public key sets, fetched from their JWKS URLs and cached.
//!
//! One cache entry per JWKS URL. The entry's lock is held while a fetch runs,
//! so concurrent launches share one fetch. A token that names a `kid` the
//! cache lacks causes one refetch, and refetches of one URL are spaced by at
//! least `refetch_interval`, so a stream of bad tokens cannot turn the tool
//! into a load on the platform.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::DecodingKey;

use crate::error::LaunchError;

/// A key set as fetched, with how long the platform allows it to be cached.
#[derive(Debug, Clone)]
pub struct FetchedKeySet {
    pub keys: JwkSet,
    /// From `Cache-Control: max-age`; `Some(ZERO)` for `no-store` or `no-cache`.
    pub max_age: Option<Duration>,
}

/// Source of key sets; the HTTP implementation is [`HttpKeySetFetcher`].
#[async_trait]
pub trait KeySetFetcher: Send + Sync {
    async fn fetch(&self, url: &str) -> Result<FetchedKeySet, String>;
}

/// Fetches key sets over HTTP with a shared client and a timeout.
#[derive(Clone)]
pub struct HttpKeySetFetcher {
    client: reqwest::Client,
}

impl HttpKeySetFetcher {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl KeySetFetcher for HttpKeySetFetcher {
    async fn fetch(&self, url: &str) -> Result<FetchedKeySet, String> {
        let response = self.client.get(url).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP status {status}"));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_cache_control);
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        let keys: JwkSet =
            serde_json::from_slice(&body).map_err(|e| format!("not a JSON Web Key Set: {e}"))?;
        Ok(FetchedKeySet { keys, max_age })
    }
}

/// Read the cache lifetime from a `Cache-Control` header value.
pub fn parse_cache_control(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            max_age = seconds.trim_matches('"').parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    max_age
}

/// Bounds applied to the platform's cache lifetime.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    /// Lifetime used when the platform sends no `Cache-Control`.
    pub default_ttl: Duration,
    /// Shortest lifetime, even for `no-store`: keys are reused for this long.
    pub min_ttl: Duration,
    /// Maximum lifetime, whatever `max-age` is.
    pub max_ttl: Duration,
    /// Minimum time between two fetches of one URL caused by unknown `kid`s.
    pub refetch_interval: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            default_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(5),
            max_ttl: Duration::from_secs(24 * 3600),
            refetch_interval: Duration::from_secs(2),
        }
    }
}

struct CachedKey {
    kid: Option<String>,
    key: DecodingKey,
}

#[derive(Default)]
struct EntryState {
    keys: Vec<CachedKey>,
    fetched_at: Option<Instant>,
    expires_at: Option<Instant>,
    fetch_count: u64,
}

impl EntryState {
    fn find(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)).map(|k| k.key.clone())
    }
}

/// Cache of platform key sets, shared by all launches of the process.
pub struct KeySetCache {
    fetcher: Arc<dyn KeySetFetcher>,
    policy: CachePolicy,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<EntryState>>>>,
}

impl KeySetCache {
    pub fn new(fetcher: Arc<dyn KeySetFetcher>, policy: CachePolicy) -> Self {
        Self { fetcher, policy, entries: Mutex::new(HashMap::new()) }
    }

    fn entry(&self, url: &str) -> Arc<tokio::sync::Mutex<EntryState>> {
        let mut entries = match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries.entry(url.to_string()).or_default().clone()
    }

    /// Number of fetches made for one URL, for tests and metrics.
    pub async fn fetch_count(&self, url: &str) -> u64 {
        self.entry(url).lock().await.fetch_count
    }

    /// Find the verification key named `kid` in the key set at `url`.
    ///
    /// A stale entry or an unknown `kid` causes a refetch; a refetch within
    /// `refetch_interval` of the previous fetch first waits out the interval
    /// (without holding the lock), then uses whatever the other fetch found.
    pub async fn key(&self, url: &str, kid: &str) -> Result<DecodingKey, LaunchError> {
        let unknown = || LaunchError::UnknownKid { kid: kid.to_string(), jwks_url: url.to_string() };
        let entry = self.entry(url);
        let mut state = entry.lock().await;
        let fresh = state.expires_at.is_some_and(|expires| Instant::now() < expires);
        if fresh {
            if let Some(key) = state.find(kid) {
                return Ok(key);
            }
        }
        if let Some(since) = state.fetched_at.map(|t| t.elapsed()) {
            if since < self.policy.refetch_interval {
                let wait = self.policy.refetch_interval - since;
                drop(state);
                tokio::time::sleep(wait).await;
                state = entry.lock().await;
                if let Some(key) = state.find(kid) {
                    return Ok(key);
                }
                let refetched_meanwhile =
                    state.fetched_at.is_some_and(|t| t.elapsed() < self.policy.refetch_interval);
                if refetched_meanwhile {
                    return Err(unknown());
                }
            }
        }
        self.refresh(url, &mut state).await?;
        state.find(kid).ok_or_else(unknown)
    }

    async fn refresh(&self, url: &str, state: &mut EntryState) -> Result<(), LaunchError> {
        state.fetch_count += 1;
        let fetched_at = Instant::now();
        state.fetched_at = Some(fetched_at);
        let fetched = match self.fetcher.fetch(url).await {
            Ok(fetched) => fetched,
            Err(detail) => {
                tracing::warn!(jwks_url = url, error = %detail, "platform key set fetch failed");
                // Keep serving the keys we had; they are tried before failing.
                state.expires_at = Some(fetched_at + self.policy.min_ttl);
                if state.keys.is_empty() {
                    return Err(LaunchError::KeySetUnavailable { jwks_url: url.to_string(), detail });
                }
                return Ok(());
            }
        };
        let ttl = fetched
            .max_age
            .unwrap_or(self.policy.default_ttl)
            .clamp(self.policy.min_ttl, self.policy.max_ttl);
        state.expires_at = Some(fetched_at + ttl);
        state.keys = usable_keys(&fetched.keys);
        tracing::debug!(jwks_url = url, keys = state.keys.len(), ttl_secs = ttl.as_secs(), "platform key set fetched");
        Ok(())
    }
}

/// RSA signing keys of a key set, skipping encryption keys and other key types.
fn usable_keys(set: &JwkSet) -> Vec<CachedKey> {
    set.keys
        .iter()
        .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
        .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter(|jwk| matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256)))
        .filter_map(|jwk| {
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some(CachedKey { kid: jwk.common.key_id.clone(), key })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn cache_control_no_store_is_zero() {
        assert_eq!(parse_cache_control("no-store"), Some(Duration::ZERO));
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(parse_cache_control("public, max-age=600"), Some(Duration::from_secs(600)));
    }

    #[test]
    fn cache_control_absent_max_age() {
        assert_eq!(parse_cache_control("public"), None);
    }

    struct CountingFetcher {
        calls: AtomicUsize,
        result: Result<FetchedKeySet, String>,
    }

    #[async_trait]
    impl KeySetFetcher for CountingFetcher {
        async fn fetch(&self, _url: &str) -> Result<FetchedKeySet, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.result.clone()
        }
    }

    fn empty_set() -> FetchedKeySet {
        FetchedKeySet { keys: JwkSet { keys: vec![] }, max_age: None }
    }

    #[tokio::test]
    async fn concurrent_lookups_share_one_fetch() {
        let fetcher = Arc::new(CountingFetcher { calls: AtomicUsize::new(0), result: Ok(empty_set()) });
        let policy = CachePolicy { refetch_interval: Duration::from_millis(200), ..CachePolicy::default() };
        let cache = Arc::new(KeySetCache::new(fetcher.clone(), policy));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let cache = cache.clone();
            tasks.push(tokio::spawn(async move { cache.key("http://127.0.0.1:1/jwks", "missing").await }));
        }
        for task in tasks {
            assert!(matches!(task.await.unwrap().err(), Some(LaunchError::UnknownKid { .. })));
        }
        // The first fetch, then at most one refetch for the unknown kid.
        assert!(fetcher.calls.load(Ordering::SeqCst) <= 2, "fetches: {}", fetcher.calls.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn unreachable_key_set_is_reported() {
        let fetcher =
            Arc::new(CountingFetcher { calls: AtomicUsize::new(0), result: Err("connection refused".into()) });
        let cache = KeySetCache::new(fetcher, CachePolicy::default());
        let err = cache.key("http://127.0.0.1:1/jwks", "k1").await.err().unwrap();
        assert_eq!(err.code(), "key_set_unavailable");
    }

    #[tokio::test]
    async fn bad_token_stream_is_rate_limited() {
        let fetcher = Arc::new(CountingFetcher { calls: AtomicUsize::new(0), result: Ok(empty_set()) });
        let policy = CachePolicy { refetch_interval: Duration::from_millis(300), ..CachePolicy::default() };
        let cache = KeySetCache::new(fetcher.clone(), policy);
        let started = Instant::now();
        for i in 0..20 {
            let _ = cache.key("http://127.0.0.1:1/jwks", &format!("bogus-{i}")).await;
            if started.elapsed() > Duration::from_millis(900) {
                break;
            }
        }
        let elapsed_intervals = (started.elapsed().as_millis() / 300) as usize + 2;
        assert!(fetcher.calls.load(Ordering::SeqCst) <= elapsed_intervals);
    }
}
