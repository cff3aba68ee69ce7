//! The simulated users: each worker runs one user at a time, one step after
//! the other, for the whole run.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::client::{Client, Credential, Failure, Sink};
use crate::platform::{LaunchUser, INSTRUCTOR, LEARNER};
use crate::stats::{ErrorKind, Recorder, Step};

pub const PHASE_WARMUP: u8 = 0;
pub const PHASE_MEASURE: u8 = 1;
pub const PHASE_STOP: u8 = 2;

/// Every `ASSESSOR_EVERY`-th iteration of a journey worker is an assessor's.
const ASSESSOR_EVERY: u64 = 6;
/// Attempts an assessor assesses in one visit, at most.
const ASSESSMENTS_PER_VISIT: usize = 5;

/// The work of each simulated user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Complete launches only, by learners drawn from a pool of users.
    Launch,
    /// Participants launch, enrol, open a component, save a draft, upload a
    /// file and submit; every sixth iteration an assessor launches, reads the
    /// queue and assesses.
    Journey,
}

/// State shared by the workers.
pub struct Shared {
    pub client: Client,
    /// Base URL of each tool process; worker `n` uses process `n % len`.
    pub tools: Vec<String>,
    pub credential: Credential,
    pub phase: AtomicU8,
    pub scenario: Scenario,
    /// Learners of the launch scenario are `bench-u-{n}` for n below this.
    pub user_pool: u64,
    /// Distinguishes this run's journey users and courses from earlier runs on the same database.
    pub run_tag: String,
    /// Schedule of each user's launches, when set; without it, a user launches again as soon as its last launch ends.
    pub pace: Option<Pace>,
}

/// The schedule of paced launches: each user launches once every
/// `interval`, and the users' schedules are spread evenly over it.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    interval: Duration,
    users: u32,
}

impl Pace {
    /// Create the schedule that offers `rate` launches per second in all from `users` users.
    pub fn new(rate: f64, users: u32) -> Self {
        Self { interval: Duration::from_secs_f64(f64::from(users) / rate), users }
    }

    /// Return when user `id` first launches, counted from the start.
    fn first(&self, id: usize) -> Duration {
        self.interval.mul_f64(id as f64 / f64::from(self.users.max(1)))
    }
}

impl Shared {
    fn measuring(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == PHASE_MEASURE
    }

    fn stopped(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == PHASE_STOP
    }
}

/// Records only while the measured window is open.
struct WindowSink<'a> {
    shared: &'a Shared,
    recorder: &'a mut Recorder,
    /// Moment the running paced launch was due. A complete launch is timed from then.
    due: Option<Instant>,
}

impl Sink for WindowSink<'_> {
    fn record(&mut self, step: Step, elapsed: Duration) {
        if self.shared.measuring() {
            let elapsed = match (step, self.due) {
                (Step::CompleteLaunch, Some(due)) => due.elapsed().max(elapsed),
                _ => elapsed,
            };
            self.recorder.record(step, elapsed);
        }
    }
}

impl WindowSink<'_> {
    fn fail(&mut self, (step, kind): Failure) {
        if self.shared.measuring() {
            self.recorder.error(step, kind);
        }
    }
}

/// The participant a journey worker is playing.
struct Participant {
    number: u64,
    enrollment: Option<i64>,
    next_component: usize,
}

/// Run worker `id` until the phase is `PHASE_STOP`; returns what it recorded.
pub async fn worker(shared: Arc<Shared>, id: usize) -> Recorder {
    let mut recorder = Recorder::new();
    let tool = shared.tools[id % shared.tools.len()].clone();
    let course = format!("bench-{}-c{id}", shared.run_tag);
    let mut participant = Participant { number: 0, enrollment: None, next_component: 0 };
    let mut iteration: u64 = 0;
    let mut next_due = shared.pace.map(|pace| Instant::now() + pace.first(id));
    while !shared.stopped() {
        let due = next_due;
        if let (Some(at), Some(pace)) = (next_due, shared.pace) {
            tokio::time::sleep_until(at).await;
            if shared.stopped() {
                break;
            }
            next_due = Some(at + pace.interval);
        }
        let mut sink = WindowSink { shared: &shared, recorder: &mut recorder, due };
        let result = match shared.scenario {
            Scenario::Launch => {
                let n = rand::thread_rng().gen_range(0..shared.user_pool);
                let sub = format!("bench-u-{n}");
                let name = format!("Bench User {n}");
                let user = LaunchUser {
                    sub: &sub,
                    name: &name,
                    role: LEARNER,
                    course: &course,
                    credential: &shared.credential.slug,
                };
                shared.client.launch(&mut sink, &tool, &user).await.map(|_| ())
            }
            Scenario::Journey if iteration % ASSESSOR_EVERY == ASSESSOR_EVERY - 1 => {
                assessor_visit(&shared, &mut sink, &tool, &course, id).await
            }
            Scenario::Journey => {
                let result = participant_visit(&shared, &mut sink, &tool, &course, id, &mut participant).await;
                if result.is_err() || participant.next_component >= shared.credential.components.len() {
                    // A finished or failed participant is replaced by a new one.
                    participant = Participant { number: participant.number + 1, enrollment: None, next_component: 0 };
                }
                result
            }
        };
        if let Err(failure) = result {
            sink.fail(failure);
        }
        iteration += 1;
    }
    recorder
}

/// Launch as the participant and complete their next component.
async fn participant_visit(
    shared: &Shared,
    sink: &mut WindowSink<'_>,
    tool: &str,
    course: &str,
    worker: usize,
    participant: &mut Participant,
) -> Result<(), Failure> {
    let sub = format!("bench-{}-p{worker}-{}", shared.run_tag, participant.number);
    let user = LaunchUser { sub: &sub, name: "Bench Participant", role: LEARNER, course, credential: &shared.credential.slug };
    let token = shared.client.launch(sink, tool, &user).await?;
    let client = &shared.client;
    let api = |path: String| format!("{tool}/api/v1{path}");

    let enrollment = match participant.enrollment {
        Some(id) => id,
        None => {
            let request = client
                .request(Method::POST, api(format!("/catalogue/{}/enrollment", shared.credential.slug)))
                .json(&json!({"self_check": []}));
            let body = client.api(sink, Step::Enroll, request, &token, &[StatusCode::CREATED, StatusCode::OK]).await?;
            let id = body["enrollment"]["id"].as_i64().ok_or((Step::Enroll, ErrorKind::Protocol("no enrolment id")))?;
            participant.enrollment = Some(id);
            id
        }
    };

    let component = &shared.credential.components[participant.next_component];
    let request =
        client.request(Method::POST, api(format!("/enrollments/{enrollment}/components/{}/attempts", component.key)));
    let body = client.api(sink, Step::OpenComponent, request.json(&json!({})), &token, &[StatusCode::OK]).await?;
    let attempt = body["attempt"]["id"].as_i64().ok_or((Step::OpenComponent, ErrorKind::Protocol("no attempt id")))?;

    let request = client.request(Method::PUT, api(format!("/attempts/{attempt}/draft"))).json(&component.draft);
    client.api(sink, Step::SaveDraft, request, &token, &[StatusCode::OK]).await?;

    if component.accepts_files {
        let part = reqwest::multipart::Part::bytes(b"Exit ticket answers, sorted into three groups.\n".to_vec())
            .file_name("evidence.txt")
            .mime_str("text/plain")
            .map_err(|_| (Step::UploadFile, ErrorKind::Protocol("invalid content type")))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let request = client.request(Method::POST, api(format!("/attempts/{attempt}/files"))).multipart(form);
        client.api(sink, Step::UploadFile, request, &token, &[StatusCode::CREATED]).await?;
    }

    let request = client.request(Method::POST, api(format!("/attempts/{attempt}/submit"))).json(&json!({}));
    let body = client.api(sink, Step::Submit, request, &token, &[StatusCode::OK]).await?;
    if body["status"] != "submitted" {
        return Err((Step::Submit, ErrorKind::Protocol("attempt not submitted")));
    }
    participant.next_component += 1;
    Ok(())
}

/// Launch as an assessor into the worker's course, read the queue and
/// assess the oldest attempts in it.
async fn assessor_visit(
    shared: &Shared,
    sink: &mut WindowSink<'_>,
    tool: &str,
    course: &str,
    worker: usize,
) -> Result<(), Failure> {
    let sub = format!("bench-{}-a{worker}", shared.run_tag);
    let user = LaunchUser { sub: &sub, name: "Bench Assessor", role: INSTRUCTOR, course, credential: &shared.credential.slug };
    let token = shared.client.launch(sink, tool, &user).await?;
    let client = &shared.client;

    let queue = client
        .api(sink, Step::Queue, client.request(Method::GET, format!("{tool}/api/v1/queue")), &token, &[StatusCode::OK])
        .await?;
    let items: Vec<Value> = queue["items"].as_array().cloned().unwrap_or_default();
    for item in items.iter().take(ASSESSMENTS_PER_VISIT) {
        let attempt = item["attempt_id"].as_i64().ok_or((Step::Queue, ErrorKind::Protocol("queue item without id")))?;
        let key = item["component_key"].as_str().unwrap_or_default();
        let Some(component) = shared.credential.components.iter().find(|c| c.key == key) else {
            return Err((Step::Queue, ErrorKind::Protocol("queue item of an unknown component")));
        };
        let request = client
            .request(Method::POST, format!("{tool}/api/v1/attempts/{attempt}/assessment"))
            .json(&component.assessment);
        client.api(sink, Step::Assess, request, &token, &[StatusCode::CREATED]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_spreads_users_over_the_interval() {
        let pace = Pace::new(1000.0, 64);
        assert_eq!(pace.interval, Duration::from_millis(64));
        assert_eq!(pace.first(0), Duration::ZERO);
        assert_eq!(pace.first(32), Duration::from_millis(32));
        assert_eq!(pace.first(63), Duration::from_millis(63));
    }
}
