//! Prometheus metrics: the registry of one running instance and the calls
//! that update it.
//!
//! Counters and histograms change as things happen (a launch ends, a
//! request completes, a score cannot be sent). The grade passback queue and
//! the database pool are read when `/metrics` is scraped, so they show the
//! state of that moment. Each `Application` has its own registry, so several
//! instances in one process (the integration tests) never share counts.
//!
//! Every label has a bounded set of values: launch failure reasons are
//! `LaunchError` codes, routes are axum's route templates (never the raw
//! path), and methods outside the standard ones are counted as `other`.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

use crate::advantage::passback;

/// `Content-Type` of the scrape response: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Route label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Reason label of launches that failed on an internal error rather than a check.
pub const INTERNAL_ERROR_REASON: &str = "internal_error";

/// Upper bounds of the request latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Upper bounds of the write batch size buckets, in jobs.
const BATCH_JOB_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// Upper bounds of the write batch duration buckets, in seconds.
const BATCH_SECONDS_BUCKETS: [f64; 9] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// Outbox states that count as queued: waiting, being sent, or parked after a refusal.
const QUEUE_STATES: [&str; 3] = [passback::STATUS_PENDING, passback::STATUS_SENDING, passback::STATUS_FAILED];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LaunchLabels {
    outcome: &'static str,
    /// The `LaunchError` code of a failed launch; empty for a completed one.
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    kind: &'static str,
}

/// Whether a failed score send is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendFailure {
    /// A network error, 5xx, 429 or 401: the score stays pending and is retried.
    Retried,
    /// Any other rejection: the score is parked as failed until an admin retries it.
    Parked,
}

impl SendFailure {
    fn label(self) -> &'static str {
        match self {
            Self::Retried => "retried",
            Self::Parked => "parked",
        }
    }
}

fn request_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The metrics of one instance. Cheap to clone; clones share the registry.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    launches: Family<LaunchLabels, Counter>,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    passback_send_failures: Family<FailureLabels, Counter>,
    passback_queue: Family<StateLabels, Gauge>,
    pool_size: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    write_batch_jobs: Histogram,
    write_batch_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let launches = Family::<LaunchLabels, Counter>::default();
        registry.register(
            "microcred_launches",
            "LTI launches by outcome (completed or failed) and, for failures, the LaunchError code",
            launches.clone(),
        );

        let requests = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(request_histogram);
        registry.register(
            "microcred_http_request_duration_seconds",
            "HTTP request latency in seconds, by method, route template and status class",
            requests.clone(),
        );

        let passback_send_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "microcred_passback_send_failures",
            "Scores the platform did not accept, by whether they are retried or parked as failed",
            passback_send_failures.clone(),
        );
        let passback_queue = Family::<StateLabels, Gauge>::default();
        registry.register(
            "microcred_passback_queue_scores",
            "Scores in the grade passback outbox by state, read from the database at scrape time",
            passback_queue.clone(),
        );

        let pool_size = Gauge::default();
        registry.register("microcred_db_pool_size", "Open connections in the database pool", pool_size.clone());
        let pool_idle = Gauge::default();
        registry.register("microcred_db_pool_idle", "Idle connections in the database pool", pool_idle.clone());
        let pool_max = Gauge::default();
        registry.register(
            "microcred_db_pool_max",
            "Maximum connections of the database pool (database.max_connections)",
            pool_max.clone(),
        );

        let write_batch_jobs = Histogram::new(BATCH_JOB_BUCKETS);
        registry.register(
            "microcred_db_write_batch_jobs",
            "Writes (such as a launch's rows) committed together in one SQLite transaction",
            write_batch_jobs.clone(),
        );
        let write_batch_seconds = Histogram::new(BATCH_SECONDS_BUCKETS);
        registry.register(
            "microcred_db_write_batch_seconds",
            "Time from the start of a SQLite write batch to its commit, in seconds",
            write_batch_seconds.clone(),
        );

        Self(Arc::new(Inner {
            registry,
            launches,
            requests,
            passback_send_failures,
            passback_queue,
            pool_size,
            pool_idle,
            pool_max,
            write_batch_jobs,
            write_batch_seconds,
        }))
    }

    /// Return the callback that records each SQLite write batch.
    pub fn write_batch_observer(&self) -> crate::store::writer::BatchObserver {
        let metrics = self.clone();
        Arc::new(move |jobs, elapsed| {
            metrics.0.write_batch_jobs.observe(jobs as f64);
            metrics.0.write_batch_seconds.observe(elapsed.as_secs_f64());
        })
    }

    /// Count a launch that ended in a session.
    pub fn launch_completed(&self) {
        self.0.launches.get_or_create(&LaunchLabels { outcome: "completed", reason: "" }).inc();
    }

    /// Count a rejected login or launch under `reason`, a `LaunchError` code
    /// or [`INTERNAL_ERROR_REASON`].
    pub fn launch_failed(&self, reason: &'static str) {
        self.0.launches.get_or_create(&LaunchLabels { outcome: "failed", reason }).inc();
    }

    /// Record a completed request. `route` is the matched route template, or
    /// `None` when no route matched.
    pub fn observe_request(&self, method: &Method, route: Option<&str>, status: StatusCode, seconds: f64) {
        let labels = RequestLabels {
            method: method_label(method),
            route: route.unwrap_or(UNMATCHED_ROUTE).to_string(),
            status_class: status_class(status),
        };
        self.0.requests.get_or_create(&labels).observe(seconds);
    }

    /// Count a score send that failed.
    pub fn passback_send_failed(&self, failure: SendFailure) {
        self.0.passback_send_failures.get_or_create(&FailureLabels { kind: failure.label() }).inc();
    }

    /// Read the passback queue and the pool, then encode every metric in the
    /// Prometheus text format. When the queue cannot be read, its gauges are
    /// left out of this scrape and the error is logged.
    pub async fn render(&self, db: &DatabaseConnection) -> Result<String, std::fmt::Error> {
        self.refresh_passback_queue(db).await;
        self.refresh_pool(db);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.0.registry)?;
        Ok(text)
    }

    async fn refresh_passback_queue(&self, db: &DatabaseConnection) {
        match passback::count_by_status(db, &QUEUE_STATES).await {
            Ok(counts) => {
                for state in QUEUE_STATES {
                    let count = counts.iter().find(|(status, _)| status == state).map_or(0, |(_, count)| *count);
                    self.0.passback_queue.get_or_create(&StateLabels { state }).set(count);
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "metrics: could not count the grade passback queue");
                self.0.passback_queue.clear();
            }
        }
    }

    fn refresh_pool(&self, db: &DatabaseConnection) {
        let (size, idle, max) = match db.get_database_backend() {
            DbBackend::Sqlite => {
                let pool = db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            DbBackend::Postgres => {
                let pool = db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            DbBackend::MySql => return,
        };
        self.0.pool_size.set(i64::from(size));
        self.0.pool_idle.set(i64::try_from(idle).unwrap_or(i64::MAX));
        self.0.pool_max.set(i64::from(max));
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(metrics: &Metrics) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &metrics.0.registry).unwrap();
        text
    }

    #[test]
    fn launch_counters_by_outcome_and_reason() {
        let metrics = Metrics::new();
        metrics.launch_completed();
        metrics.launch_completed();
        metrics.launch_failed("nonce_mismatch");

        let text = encoded(&metrics);

        assert!(text.contains("microcred_launches_total{outcome=\"completed\",reason=\"\"} 2"), "{text}");
        assert!(text.contains("microcred_launches_total{outcome=\"failed\",reason=\"nonce_mismatch\"} 1"), "{text}");
    }

    #[test]
    fn request_histogram_labels_route_template() {
        let metrics = Metrics::new();
        metrics.observe_request(&Method::GET, Some("/app/attempts/{id}"), StatusCode::OK, 0.003);
        metrics.observe_request(&Method::from_bytes(b"BREW").unwrap(), None, StatusCode::NOT_FOUND, 0.2);

        let text = encoded(&metrics);

        let first = "microcred_http_request_duration_seconds_bucket{method=\"GET\",route=\"/app/attempts/{id}\",status_class=\"2xx\",le=\"0.005\"} 1";
        assert!(text.contains(first), "{text}");
        let second = "microcred_http_request_duration_seconds_count{method=\"other\",route=\"unmatched\",status_class=\"4xx\"} 1";
        assert!(text.contains(second), "{text}");
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(StatusCode::SWITCHING_PROTOCOLS), "1xx");
        assert_eq!(status_class(StatusCode::SEE_OTHER), "3xx");
        assert_eq!(status_class(StatusCode::BAD_GATEWAY), "5xx");
    }
}
