//! Per-step latency histograms and error counts, and the report built from them.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histograms record, in microseconds (60 s). Longer
/// requests are clamped to it; the client timeout is 30 s, so none are.
const MAX_LATENCY_US: u64 = 60_000_000;

/// One measured step. The order is the order of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Login initiation to first page, every hop included.
    CompleteLaunch,
    /// `GET /lti/login` up to the tool's redirect to the authorization endpoint.
    Login,
    /// The authorization request, handled by the generator: checks and id_token signing.
    Authorize,
    /// `POST /lti/launch` with the id_token, up to the tool's redirect.
    Launch,
    /// `GET /app?_s=...`, the page the launch lands on.
    FirstPage,
    Enroll,
    OpenComponent,
    SaveDraft,
    UploadFile,
    Submit,
    Queue,
    Assess,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::CompleteLaunch => "complete launch",
            Step::Login => "  login initiation",
            Step::Authorize => "  authorization (generator)",
            Step::Launch => "  id_token post",
            Step::FirstPage => "  first page",
            Step::Enroll => "enroll",
            Step::OpenComponent => "open component",
            Step::SaveDraft => "save draft",
            Step::UploadFile => "upload file",
            Step::Submit => "submit",
            Step::Queue => "assessor queue",
            Step::Assess => "assess",
        }
    }
}

/// Kind of failure of a step, as counted in the report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The tool responded with an unexpected HTTP status.
    Status(u16),
    Timeout,
    Connect,
    /// Any other transport error (reset connection, body read failure).
    Transport,
    /// The response had the expected status but not the expected content.
    Protocol(&'static str),
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorKind::Status(code) => write!(f, "HTTP {code}"),
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Connect => f.write_str("connect failed"),
            ErrorKind::Transport => f.write_str("transport error"),
            ErrorKind::Protocol(what) => f.write_str(what),
        }
    }
}

impl From<&reqwest::Error> for ErrorKind {
    fn from(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            ErrorKind::Timeout
        } else if error.is_connect() {
            ErrorKind::Connect
        } else {
            ErrorKind::Transport
        }
    }
}

/// The latencies and errors one worker recorded. Workers keep their own and
/// the report merges them, so recording takes no lock.
pub struct Recorder {
    histograms: BTreeMap<Step, Histogram<u64>>,
    errors: BTreeMap<(Step, ErrorKind), u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

fn new_histogram() -> Histogram<u64> {
    // Three significant digits over 1 µs to 60 s: always a valid range.
    match Histogram::new_with_bounds(1, MAX_LATENCY_US, 3) {
        Ok(histogram) => histogram,
        Err(error) => unreachable!("fixed histogram bounds are valid: {error}"),
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self { histograms: BTreeMap::new(), errors: BTreeMap::new() }
    }

    pub fn record(&mut self, step: Step, elapsed: Duration) {
        let micros = (elapsed.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        self.histograms.entry(step).or_insert_with(new_histogram).saturating_record(micros);
    }

    pub fn error(&mut self, step: Step, kind: ErrorKind) {
        *self.errors.entry((step, kind)).or_insert(0) += 1;
    }

    pub fn count(&self, step: Step) -> u64 {
        self.histograms.get(&step).map_or(0, Histogram::len)
    }

    pub fn merge(&mut self, other: Recorder) {
        for (step, histogram) in other.histograms {
            let mine = self.histograms.entry(step).or_insert_with(new_histogram);
            // Both histograms have the same bounds, so adding cannot fail.
            let _ = mine.add(&histogram);
        }
        for (key, count) in other.errors {
            *self.errors.entry(key).or_insert(0) += count;
        }
    }

    /// Summarize every step over a window of `window` seconds.
    pub fn summarize(&self, window: Duration) -> Vec<StepSummary> {
        let seconds = window.as_secs_f64().max(1e-9);
        let mut steps: Vec<Step> = self.histograms.keys().copied().collect();
        for (step, _) in self.errors.keys() {
            if !steps.contains(step) {
                steps.push(*step);
            }
        }
        steps.sort();
        steps
            .into_iter()
            .map(|step| {
                let histogram = self.histograms.get(&step);
                let quantile = |q: f64| histogram.map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0);
                let count = histogram.map_or(0, Histogram::len);
                let errors: BTreeMap<String, u64> = self
                    .errors
                    .iter()
                    .filter(|((s, _), _)| *s == step)
                    .map(|((_, kind), n)| (kind.to_string(), *n))
                    .collect();
                StepSummary {
                    step,
                    name: step.name().trim().to_string(),
                    count,
                    per_second: count as f64 / seconds,
                    p50_ms: quantile(0.50),
                    p95_ms: quantile(0.95),
                    p99_ms: quantile(0.99),
                    max_ms: histogram.map_or(0.0, |h| h.max() as f64 / 1000.0),
                    error_count: errors.values().sum(),
                    errors,
                }
            })
            .collect()
    }
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    #[serde(skip)]
    pub step: Step,
    pub name: String,
    pub count: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub error_count: u64,
    pub errors: BTreeMap<String, u64>,
}

/// Render the steps as a fixed-width table, with error kinds listed under it.
pub fn table(rows: &[StepSummary]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<30} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}\n",
        "step", "count", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"
    ));
    for row in rows {
        out.push_str(&format!(
            "{:<30} {:>9} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7}\n",
            row.step.name(),
            row.count,
            row.per_second,
            row.p50_ms,
            row.p95_ms,
            row.p99_ms,
            row.max_ms,
            row.error_count
        ));
    }
    let failing: Vec<&StepSummary> = rows.iter().filter(|row| row.error_count > 0).collect();
    if !failing.is_empty() {
        out.push_str("errors by kind:\n");
        for row in failing {
            for (kind, count) in &row.errors {
                out.push_str(&format!("  {:<28} {:<24} {:>9}\n", row.name, kind, count));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_uniform_latencies() {
        let mut recorder = Recorder::new();
        for ms in 1..=100u64 {
            recorder.record(Step::Login, Duration::from_millis(ms));
        }
        let rows = recorder.summarize(Duration::from_secs(10));
        let login = &rows[0];
        assert_eq!(login.count, 100);
        assert!((login.per_second - 10.0).abs() < 1e-9, "rate {}", login.per_second);
        assert!((login.p50_ms - 50.0).abs() < 0.1, "p50 {}", login.p50_ms);
        assert!((login.p95_ms - 95.0).abs() < 0.1, "p95 {}", login.p95_ms);
        assert!((login.p99_ms - 99.0).abs() < 0.1, "p99 {}", login.p99_ms);
        assert!((login.max_ms - 100.0).abs() < 0.1, "max {}", login.max_ms);
    }

    #[test]
    fn merge_adds_counts_and_errors() {
        let mut first = Recorder::new();
        first.record(Step::Submit, Duration::from_millis(2));
        first.error(Step::Submit, ErrorKind::Status(409));
        let mut second = Recorder::new();
        second.record(Step::Submit, Duration::from_millis(4));
        second.error(Step::Submit, ErrorKind::Status(409));
        second.error(Step::Assess, ErrorKind::Timeout);
        first.merge(second);

        let rows = first.summarize(Duration::from_secs(1));
        let submit = rows.iter().find(|row| row.step == Step::Submit).expect("a submit row");
        assert_eq!(submit.count, 2);
        assert_eq!(submit.errors.get("HTTP 409"), Some(&2));
        let assess = rows.iter().find(|row| row.step == Step::Assess).expect("an assess row with errors only");
        assert_eq!(assess.count, 0);
        assert_eq!(assess.error_count, 1);
    }

    #[test]
    fn latency_clamped_to_range() {
        let mut recorder = Recorder::new();
        recorder.record(Step::Queue, Duration::from_secs(600));
        recorder.record(Step::Queue, Duration::ZERO);
        assert_eq!(recorder.count(Step::Queue), 2);
    }
}
