//! LTI Advantage end to end against the test platform: deep linking,
//! grade passback through the outbox, course rosters from NRPS and
//! submission review launches, with the platform failing in the ways real
//! ones do (down, 5xx, revoked tokens, 4xx responses).
//!
//! Participant and assessor work goes through the workflow services with
//! the state hook, as the pages do, because these tests are about what
//! reaches the platform rather than about the pages.

use std::time::Duration;

use chrono::Utc;
use microcred::advantage::passback;
use microcred::sessions::Session;
use microcred::store::entities::{platform as platform_entity, score_outbox};
use microcred::store::launches::{upsert_context, ContextRecord};
use microcred::workflow::access::Viewer;
use microcred::workflow::participation::{self, DraftInput};
use microcred::workflow::{assessing, catalogue};
use microcred_domain::AssessmentInput;
use microcred_testkit::{
    claim, decode_header_unverified, role, Browser, HtmlForm, InjectedFailure, LaunchClaims, LaunchSpec, LaunchStage, LineItemSpec, Page,
    PlatformOptions, ReceivedScore, ServiceEndpoint, StatusCode, TestPlatform, TestUser,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde_json::json;

use crate::support::{self, describe, registration, session_of, text_between, Backend, TestApp};

/// Slug, title and CEUs of the micro-credential that `start` imports. The
/// CEUs are not the default 2.0, so a score maximum taken from elsewhere shows.
pub(crate) const SLUG: &str = "talk-moves";
pub(crate) const TITLE: &str = "Talk Moves for Reasoning";
pub(crate) const CEUS: f64 = 2.5;
/// Component keys of the test micro-credential, in order.
pub(crate) const COMPONENTS: [&str; 5] = ["norms", "plan", "lesson", "evidence", "reflect"];
const SELF_CHECK_KEY: &str = "open-questions";

const COURSE: &str = "course-advantage";
const LINK: &str = "link-talk-moves";
/// Tag the tool puts on the line items it creates and looks for.
pub(crate) const TOOL_TAG: &str = "microcred";

/// Maximum wait for the passback worker. A score normally arrives within a
/// second, because the worker polls every `POLL_INTERVAL_MS`.
pub(crate) const WAIT: Duration = Duration::from_secs(20);
pub(crate) const POLL_INTERVAL_MS: u64 = 50;

/// Writes a catalogue with one micro-credential whose five components take
/// text only and share a one-criterion rubric (mastery at "proficient").
pub(crate) fn catalogue_toml() -> String {
    let mut text = format!(
        r#"[[micro_credential]]
slug = "{SLUG}"
title = "{TITLE}"
competency = "The educator uses talk moves that make students explain and build on reasoning."
key_method = "Planned talk moves in whole-class discussion."
ceus = {CEUS}
estimated_hours = 25

[micro_credential.research]
summary = "Discussion that presses for reasoning deepens understanding."

[[micro_credential.research.citation]]
authors = "Example, A."
year = 2011
title = "A study of classroom talk"
venue = "Journal of Examples, 2(1), 1-10"

[[micro_credential.self_check]]
key = "{SELF_CHECK_KEY}"
statement = "I can tell an open question from a closed one."
"#
    );
    for (index, key) in COMPONENTS.iter().enumerate() {
        text.push_str(&format!(
            r#"
[[micro_credential.component]]
key = "{key}"
title = "Component {number}: {key}"
prompt = "Describe your work on {key}."

[micro_credential.component.submission.text]
required = true

[[micro_credential.component.rubric.criterion]]
key = "quality"
title = "Quality of the evidence"
mastery_level = "proficient"

[[micro_credential.component.rubric.criterion.level]]
key = "developing"
label = "Developing"
description = "Claims without evidence."

[[micro_credential.component.rubric.criterion.level]]
key = "proficient"
label = "Proficient"
description = "Claims backed by student work."
"#,
            number = index + 1
        ));
    }
    text
}

fn tool_jwks_url(app: &TestApp) -> String {
    app.url("/.well-known/jwks.json")
}

pub(crate) fn fast_worker(settings: &mut microcred::config::Settings) {
    settings.passback.poll_interval_ms = POLL_INTERVAL_MS;
}

/// Starts microcred with a fast passback worker and the test
/// micro-credential, and a test platform registered with it that has the
/// tool's JWKS URL.
async fn start() -> (TestApp, TestPlatform) {
    start_with(|_| {}).await
}

pub(crate) async fn start_with(configure: impl FnOnce(&mut microcred::config::Settings)) -> (TestApp, TestPlatform) {
    let app = TestApp::spawn_with(|settings| {
        fast_worker(settings);
        configure(settings);
    })
    .await;
    let platform = TestPlatform::start(PlatformOptions::default().with_tool_jwks_url(&tool_jwks_url(&app))).await;
    platform.allow_redirect_uri(&app.launch_url());
    app.register(registration(&platform)).await;
    catalogue::import_text(&app.state.db, &catalogue_toml(), false, None).await.expect("import the test catalogue");
    (app, platform)
}

pub(crate) fn user(sub: &str, given: &str, family: &str) -> TestUser {
    TestUser::new(sub, given, family, &format!("{sub}@example.edu"))
}

pub(crate) fn ada() -> TestUser {
    user("ada", "Ada", "Lovelace")
}

pub(crate) fn coach() -> TestUser {
    user("coach", "Carol", "Coach")
}

/// A launched user: their browser, page token and session.
pub(crate) struct Person {
    pub(crate) browser: Browser,
    pub(crate) token: String,
    pub(crate) session: Session,
    /// The response to the launch: the tool's redirect, or the landing page
    /// of [`launch_to_page`].
    pub(crate) page: Page,
}

impl Person {
    pub(crate) fn viewer(&self) -> Viewer {
        Viewer::from(&self.session)
    }

    /// Returns an app URL with this person's page token in its query.
    pub(crate) fn url(&self, app: &TestApp, path: &str) -> String {
        let separator = if path.contains('?') { '&' } else { '?' };
        let token: String = url::form_urlencoded::byte_serialize(self.token.as_bytes()).collect();
        app.url(&format!("{path}{separator}_s={token}"))
    }

    pub(crate) async fn get(&self, app: &TestApp, path: &str) -> Page {
        self.browser.get(&self.url(app, path)).await
    }
}

/// Launches `claims` and stops at the tool's redirect after the launch, so
/// the test does not depend on the landing page.
async fn launch(app: &TestApp, platform: &TestPlatform, claims: LaunchClaims) -> Person {
    let browser = Browser::new();
    let spec = LaunchSpec::new(claims).stop_after(LaunchStage::ToolLaunch);
    let page = platform.launch(&browser, &app.login_url(), spec).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "launch: {}", describe(&page));
    let token = page
        .location_param("_s")
        .unwrap_or_else(|| panic!("the launch redirected without a page token: {}", describe(&page)));
    let session = session_of(app, &token).await;
    Person { browser, token, session, page }
}

/// Launches `claims` and follows the tool's redirects to the landing page.
async fn launch_to_page(app: &TestApp, platform: &TestPlatform, claims: LaunchClaims) -> Person {
    let browser = Browser::new();
    let page = platform.launch(&browser, &app.login_url(), LaunchSpec::new(claims)).await;
    let token = page
        .url
        .query_pairs()
        .find(|(name, _)| name == "_s")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("the launch ended without a page token: {}", describe(&page)));
    let session = session_of(app, &token).await;
    Person { browser, token, session, page }
}

/// Builds a learner's launch into the test course through `LINK`, with the
/// grade services (and `line_item_url` as the launch's line item when given)
/// and the custom parameter that names the test micro-credential.
fn learner_claims(
    app: &TestApp,
    platform: &TestPlatform,
    learner: &TestUser,
    line_item_url: Option<&str>,
) -> LaunchClaims {
    let claims = platform
        .resource_link_claims(&app.launch_url())
        .with_user(learner)
        .with_roles([role::LEARNER])
        .with(&[claim::CONTEXT, "id"], COURSE)
        .with(&[claim::CONTEXT, "title"], "Talk Moves Cohort")
        .with(&[claim::RESOURCE_LINK, "id"], LINK)
        .with_custom("microcredential", SLUG);
    platform.with_services(claims, line_item_url)
}

/// Builds an instructor's launch into the test course through a resource
/// link of their own, with the grade and roster services.
fn instructor_claims(app: &TestApp, platform: &TestPlatform, instructor: &TestUser) -> LaunchClaims {
    let claims = platform
        .resource_link_claims(&app.launch_url())
        .with_user(instructor)
        .with_roles([role::INSTRUCTOR])
        .with(&[claim::CONTEXT, "id"], COURSE)
        .with(&[claim::CONTEXT, "title"], "Talk Moves Cohort")
        .with(&[claim::RESOURCE_LINK, "id"], format!("link-{}", instructor.sub));
    platform.with_services(claims, None)
}

/// Adds the usual line item of the test link to the platform's gradebook
/// and returns its URL.
fn add_link_line_item(platform: &TestPlatform) -> String {
    let spec = LineItemSpec::new(TITLE, CEUS).with_resource_link_id(LINK).with_resource_id(SLUG).with_tag(TOOL_TAG);
    platform.add_line_item(COURSE, spec)
}

/// Launches Ada into the test course through `LINK`, with a line item in the
/// launch. Returns her and the line item's URL.
pub(crate) async fn launch_ada(app: &TestApp, platform: &TestPlatform) -> (Person, String) {
    let line_item = add_link_line_item(platform);
    let learner = launch(app, platform, learner_claims(app, platform, &ada(), Some(&line_item))).await;
    (learner, line_item)
}

/// Launches Carol, an instructor of the test course.
async fn launch_coach(app: &TestApp, platform: &TestPlatform) -> Person {
    launch(app, platform, instructor_claims(app, platform, &coach())).await
}

/// Tells whether upserting an existing row returns another row. Without
/// `RETURNING`, sea-orm reads an upserted row back by the connection's
/// `last_insert_rowid`, which an update leaves stale on SQLite, and a second
/// launch into an existing course then fails with a 500 or opens a session
/// in another course. The probe runs in a transaction that it rolls back.
async fn upsert_returns_wrong_row(app: &TestApp) -> bool {
    let platform_id = platform_entity::Entity::find()
        .one(&app.state.db)
        .await
        .expect("read the platform registration")
        .expect("a platform is registered")
        .id;
    let record =
        |context_id| ContextRecord { platform_id, issuer: "upsert-probe", context_id, label: None, title: None };
    let txn = app.state.db.begin().await.expect("begin the probe transaction");
    let first = upsert_context(&txn, record("probe-a")).await;
    let other = upsert_context(&txn, record("probe-b")).await;
    let again = upsert_context(&txn, record("probe-a")).await;
    txn.rollback().await.expect("roll back the probe transaction");
    match (first, other, again) {
        (Ok(first), Ok(_), Ok(again)) => again.id != first.id,
        _ => true,
    }
}

/// Enrols `person` in the test micro-credential, writes a draft for
/// `component` and submits it with the state hook. Returns the attempt id.
pub(crate) async fn submit(app: &TestApp, person: &Person, component: &str) -> i64 {
    let db = &app.state.db;
    let viewer = person.viewer();
    let enrollment = participation::enroll(db, &viewer, SLUG, &[SELF_CHECK_KEY.to_string()]).await.expect("enrol");
    let draft = participation::open_draft(db, &viewer, enrollment.id, component).await.expect("open a draft");
    let input = DraftInput {
        text: format!("My work on {component}, with transcripts of two discussions."),
        reflection: String::new(),
        links: Vec::new(),
    };
    participation::save_draft(db, &viewer, draft.id, input).await.expect("save the draft");
    participation::submit(db, app.state.state_hook(), &viewer, draft.id).await.expect("submit");
    draft.id
}

/// Assesses an attempt with the state hook, as mastered or not.
pub(crate) async fn assess(
    app: &TestApp,
    assessor: &Person,
    attempt_id: i64,
    mastered: bool,
) -> assessing::AssessmentResult {
    let level = if mastered { "proficient" } else { "developing" };
    let mut input = AssessmentInput {
        ratings: [("quality".to_string(), level.to_string())].into_iter().collect(),
        feedback: Default::default(),
        overall_comment: String::new(),
    };
    if !mastered {
        input.feedback.insert("quality".to_string(), "Add the students' own words as evidence.".to_string());
    }
    assessing::assess(&app.state.db, app.state.state_hook(), &assessor.viewer(), attempt_id, input)
        .await
        .expect("assess")
}

async fn outbox(app: &TestApp) -> Vec<score_outbox::Model> {
    score_outbox::Entity::find()
        .order_by_asc(score_outbox::Column::Id)
        .all(&app.state.db)
        .await
        .expect("read the score outbox")
}

/// Waits until an outbox row satisfies `done`, and returns it.
async fn wait_for_row(app: &TestApp, what: &str, done: impl Fn(&score_outbox::Model) -> bool) -> score_outbox::Model {
    let rows = wait_for_outbox(app, &format!("an outbox row to become {what}"), |rows| rows.iter().any(&done)).await;
    rows.into_iter().find(|row| done(row)).expect("the row that was found")
}

/// Waits until every outbox row is sent, and returns the rows. The platform
/// records a score before its response reaches the tool, so a test that has
/// seen the score arrive may still find its row being sent.
async fn wait_for_all_sent(app: &TestApp) -> Vec<score_outbox::Model> {
    wait_for_outbox(app, "every outbox row to be sent", |rows| rows.iter().all(|row| row.status == passback::STATUS_SENT)).await
}

async fn wait_for_outbox(app: &TestApp, what: &str, done: impl Fn(&[score_outbox::Model]) -> bool) -> Vec<score_outbox::Model> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let rows = outbox(app).await;
        if done(&rows) {
            return rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "waited {WAIT:?} for {what}: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes every pending outbox row due now, instead of waiting out its backoff.
pub(crate) async fn make_pending_due(app: &TestApp) {
    score_outbox::Entity::update_many()
        .col_expr(score_outbox::Column::NextAttemptAt, Expr::value(Utc::now()))
        .filter(score_outbox::Column::Status.eq(passback::STATUS_PENDING))
        .exec(&app.state.db)
        .await
        .expect("make pending scores due");
}

fn score_str<'a>(score: &'a ReceivedScore, name: &str) -> &'a str {
    score.field_str(name).unwrap_or_else(|| panic!("the score has no string {name}: {}", score.score))
}

/// Checks that `timestamp` is RFC 3339 with milliseconds and a zone, as in
/// `2026-12-04T10:11:12.500Z` or `2026-12-04T10:11:12.500+01:00`.
pub(crate) fn assert_ags_timestamp(timestamp: &str) {
    chrono::DateTime::parse_from_rfc3339(timestamp)
        .unwrap_or_else(|error| panic!("timestamp {timestamp:?} is not RFC 3339: {error}"));
    let (seconds, rest) = timestamp.split_at(19);
    assert!(seconds.contains('T'), "timestamp {timestamp:?} has no time");
    let millis = rest.strip_prefix('.').unwrap_or_else(|| panic!("timestamp {timestamp:?} has no fraction"));
    let (digits, zone) = millis.split_at(millis.find(|c: char| !c.is_ascii_digit()).unwrap_or(millis.len()));
    assert_eq!(digits.len(), 3, "timestamp {timestamp:?} does not have milliseconds");
    assert!(zone == "Z" || zone.starts_with('+') || zone.starts_with('-'), "timestamp {timestamp:?} has no zone");
}

/// Checks the fields every score has, for Ada.
fn assert_score_basics(score: &ReceivedScore, activity: &str, grading: &str) {
    assert_eq!(score.user_id(), Some("ada"), "{}", score.score);
    assert_eq!(score_str(score, "activityProgress"), activity, "{}", score.score);
    assert_eq!(score_str(score, "gradingProgress"), grading, "{}", score.score);
    assert!(!score_str(score, "comment").is_empty(), "the comment is empty: {}", score.score);
    assert_ags_timestamp(score_str(score, "timestamp"));
}

fn assert_no_grade(score: &ReceivedScore) {
    assert!(score.field("scoreGiven").is_none(), "a score before earning carries scoreGiven: {}", score.score);
    assert!(score.field("scoreMaximum").is_none(), "a score before earning carries scoreMaximum: {}", score.score);
}

fn statuses(platform: &TestPlatform, endpoint: ServiceEndpoint) -> Vec<u16> {
    platform.service_requests_to(endpoint).iter().map(|record| record.status).collect()
}

// Deep linking.

/// Builds an instructor's deep linking launch into the test course.
fn deep_linking_claims(app: &TestApp, platform: &TestPlatform, accept_multiple: bool) -> LaunchClaims {
    platform
        .deep_linking_claims(&app.launch_url())
        .with_user(&coach())
        .with(&[claim::CONTEXT, "id"], COURSE)
        .with(&[claim::DEEP_LINKING_SETTINGS, "accept_multiple"], accept_multiple)
        .with(&[claim::DEEP_LINKING_SETTINGS, "data"], format!("dl-{}", uuid::Uuid::new_v4()))
}

/// Returns the picker's form with `slugs` chosen.
fn picker_form(page: &Page, slugs: &[&str]) -> HtmlForm {
    let mut form = page
        .forms()
        .into_iter()
        .find(|form| form.action.path() == "/app/deep-link")
        .unwrap_or_else(|| panic!("the picker has no form that posts to /app/deep-link: {}", describe(page)));
    form.remove_field("slug");
    for slug in slugs {
        form.fields.push(("slug".to_string(), (*slug).to_string()));
    }
    form
}

/// Opens the picker in a deep linking launch and places `slugs`. Returns the
/// instructor and the tool's response page to the placement.
async fn place(app: &TestApp, platform: &TestPlatform, claims: LaunchClaims, slugs: &[&str]) -> (Person, Page) {
    let instructor = launch_to_page(app, platform, claims).await;
    let picker = &instructor.page;
    assert_eq!(picker.status, StatusCode::OK, "{}", describe(picker));
    assert_eq!(picker.url.path(), "/app/deep-link", "{}", describe(picker));
    for slug in slugs {
        assert!(
            picker.body.contains(&format!("value=\"{slug}\"")),
            "the picker does not offer {slug}: {}",
            describe(picker)
        );
    }
    let placement = instructor.browser.submit_form(&picker_form(picker, slugs)).await;
    (instructor, placement)
}

/// Submits the tool's auto-submitting form to the platform's return URL.
async fn return_to_platform(platform: &TestPlatform, browser: &Browser, placement: &Page) -> Page {
    let form = placement
        .forms()
        .into_iter()
        .find(|form| form.action.as_str() == platform.deep_linking_return_url())
        .unwrap_or_else(|| panic!("the tool's response page has no form to the return URL: {}", describe(placement)));
    assert!(form.field("JWT").is_some_and(|jwt| !jwt.is_empty()), "the form carries no JWT");
    browser.submit_form(&form).await
}

#[tokio::test]
async fn deep_linking_round_trip() {
    let (app, platform) = start().await;

    let (instructor, placement) = place(&app, &platform, deep_linking_claims(&app, &platform, false), &[SLUG]).await;
    assert_eq!(placement.status, StatusCode::OK, "{}", describe(&placement));
    let returned = return_to_platform(&platform, &instructor.browser, &placement).await;

    assert_eq!(returned.status, StatusCode::OK, "{}", returned.body);
    let results = platform.deep_linking_results();
    assert_eq!(results.len(), 1);
    assert!(results[0].is_accepted(), "the platform rejected the response: {:?}", results[0].error);
    let items = &results[0].content_items;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["type"], "ltiResourceLink");
    assert_eq!(item["title"], TITLE);
    assert_eq!(item["url"], app.launch_url());
    assert_eq!(item["custom"], json!({ "microcredential": SLUG }));
    assert_eq!(item["lineItem"]["scoreMaximum"], json!(CEUS));
    assert_eq!(item["lineItem"]["resourceId"], SLUG);
    assert_eq!(item["lineItem"]["tag"], TOOL_TAG);
    assert!(item["lineItem"]["label"].as_str().is_some_and(|label| label.contains(TITLE)), "{item}");
    assert!(item["text"].as_str().is_some_and(|text| !text.is_empty()), "{item}");

    // The platform makes a resource link of the item, whose launches carry
    // the item's custom parameters.
    let custom = item["custom"]["microcredential"].as_str().expect("the item names a micro-credential");
    let placed = |learner: &TestUser, with_custom: bool| {
        let claims = platform
            .resource_link_claims(&app.launch_url())
            .with_user(learner)
            .with_roles([role::LEARNER])
            .with(&[claim::CONTEXT, "id"], COURSE)
            .with(&[claim::RESOURCE_LINK, "id"], "placed-link-1");
        if with_custom {
            claims.with_custom("microcredential", custom)
        } else {
            claims
        }
    };
    let learner = launch_to_page(&app, &platform, placed(&ada(), true)).await;
    assert_eq!(learner.page.status, StatusCode::OK, "{}", describe(&learner.page));
    assert!(learner.page.body.contains(&format!("<h1>{TITLE}</h1>")), "{}", describe(&learner.page));

    // The resource link remembers its micro-credential for launches without the parameter.
    let grace = launch_to_page(&app, &platform, placed(&user("grace", "Grace", "Hopper"), false)).await;
    assert!(grace.page.body.contains(&format!("<h1>{TITLE}</h1>")), "{}", describe(&grace.page));
}

#[tokio::test]
async fn deep_linking_refuses_two_when_single() {
    let (app, platform) = start().await;

    let (_, placement) =
        place(&app, &platform, deep_linking_claims(&app, &platform, false), &[SLUG, "exit-tickets"]).await;

    assert_eq!(placement.status, StatusCode::BAD_REQUEST, "{}", describe(&placement));
    assert!(placement.body.contains("one item at a time"), "{}", describe(&placement));
    assert!(
        placement.forms().iter().all(|form| form.action.as_str() != platform.deep_linking_return_url()),
        "the refusal still offers a response to the platform"
    );
    assert!(platform.deep_linking_responses().is_empty());
}

#[tokio::test]
async fn deep_linking_places_two_when_multiple() {
    let (app, platform) = start().await;
    let claims = deep_linking_claims(&app, &platform, true);

    let (instructor, placement) = place(&app, &platform, claims, &[SLUG, "exit-tickets"]).await;
    let returned = return_to_platform(&platform, &instructor.browser, &placement).await;

    assert_eq!(returned.status, StatusCode::OK, "{}", returned.body);
    let result = platform.deep_linking_results().pop().expect("a deep linking response");
    assert!(result.is_accepted(), "{:?}", result.error);
    let slugs: Vec<&str> =
        result.content_items.iter().filter_map(|item| item["custom"]["microcredential"].as_str()).collect();
    assert_eq!(slugs, [SLUG, "exit-tickets"]);
}

#[tokio::test]
async fn deep_linking_omits_refused_line_item() {
    let (app, platform) = start().await;
    let claims =
        deep_linking_claims(&app, &platform, false).with(&[claim::DEEP_LINKING_SETTINGS, "accept_lineitem"], false);

    let (instructor, placement) = place(&app, &platform, claims, &[SLUG]).await;
    let returned = return_to_platform(&platform, &instructor.browser, &placement).await;

    assert_eq!(returned.status, StatusCode::OK, "{}", returned.body);
    let result = platform.deep_linking_results().pop().expect("a deep linking response");
    assert!(result.is_accepted(), "{:?}", result.error);
    assert!(result.content_items[0].get("lineItem").is_none(), "{}", result.content_items[0]);
}

// Line items.

#[tokio::test]
async fn line_item_found_by_tag() {
    let (app, platform) = start().await;
    platform.add_line_item(COURSE, LineItemSpec::new("Attendance", 10.0).with_tag("attendance"));
    let other_link = LineItemSpec::new("Another link", 2.0).with_resource_link_id("other-link").with_tag(TOOL_TAG);
    platform.add_line_item(COURSE, other_link);
    let ours = add_link_line_item(&platform);
    let learner = launch(&app, &platform, learner_claims(&app, &platform, &ada(), None)).await;

    submit(&app, &learner, "norms").await;

    let scores = platform.wait_for_scores(1, WAIT).await;
    assert_eq!(scores[0].line_item_url, ours);
    assert_eq!(platform.line_items(COURSE).len(), 3, "the tool created a line item although one was there");
    let lookups = platform.service_requests_to(ServiceEndpoint::LineItems);
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(lookups[0].method, "GET");
    let query = lookups[0].query.clone().unwrap_or_default();
    assert!(query.contains(&format!("resource_link_id={LINK}")), "{query}");
    assert!(query.contains(&format!("tag={TOOL_TAG}")), "{query}");
}

#[tokio::test]
async fn line_item_found_across_pages() {
    let (app, platform) = start().await;
    // A platform that ignores the filters and pages its container.
    platform.set_line_item_filtering(false);
    platform.set_line_items_page_size(Some(2));
    for number in 1..=4 {
        platform.add_line_item(COURSE, LineItemSpec::new(&format!("Quiz {number}"), 10.0).with_tag("quiz"));
    }
    let ours = add_link_line_item(&platform);
    let learner = launch(&app, &platform, learner_claims(&app, &platform, &ada(), None)).await;

    submit(&app, &learner, "norms").await;

    let scores = platform.wait_for_scores(1, WAIT).await;
    assert_eq!(scores[0].line_item_url, ours);
    assert_eq!(statuses(&platform, ServiceEndpoint::LineItems), [200, 200, 200], "three pages, no creation");
}

#[tokio::test]
async fn line_item_created_when_missing() {
    let (app, platform) = start().await;
    platform.add_line_item(COURSE, LineItemSpec::new("Attendance", 10.0).with_tag("attendance"));
    let learner = launch(&app, &platform, learner_claims(&app, &platform, &ada(), None)).await;

    submit(&app, &learner, "norms").await;
    platform.wait_for_scores(1, WAIT).await;
    submit(&app, &learner, "plan").await;
    let scores = platform.wait_for_scores(2, WAIT).await;

    let items = platform.line_items(COURSE);
    assert_eq!(items.len(), 2, "{items:#?}");
    let created = &items[1];
    assert_eq!(created["label"], TITLE);
    assert_eq!(created["scoreMaximum"], json!(CEUS));
    assert_eq!(created["tag"], TOOL_TAG);
    assert_eq!(created["resourceLinkId"], LINK);
    assert_eq!(created["resourceId"], SLUG);
    assert_eq!(Some(scores[0].line_item_url.as_str()), created["id"].as_str());
    assert_eq!(scores[1].line_item_url, scores[0].line_item_url, "the second score reuses the created line item");
    let creations: Vec<u16> = platform
        .service_requests_to(ServiceEndpoint::LineItems)
        .iter()
        .filter(|record| record.method == "POST")
        .map(|record| record.status)
        .collect();
    assert_eq!(creations, [201]);
}

#[tokio::test]
async fn line_item_query_kept_after_scores() {
    let (app, platform) = start().await;
    let spec = LineItemSpec::new(TITLE, CEUS).with_resource_link_id(LINK).with_query("type=x");
    let line_item = platform.add_line_item(COURSE, spec);
    let learner = launch(&app, &platform, learner_claims(&app, &platform, &ada(), Some(&line_item))).await;

    submit(&app, &learner, "norms").await;

    let scores = platform.wait_for_scores(1, WAIT).await;
    assert_eq!(scores[0].line_item_url, line_item);
    assert!(scores[0].path.ends_with("/lineitems/1/scores"), "{}", scores[0].path);
    assert_eq!(scores[0].query.as_deref(), Some("type=x"));
}

// Scores.

#[tokio::test]
async fn scores_follow_each_state_change() {
    let (app, platform) = start().await;
    let (learner, line_item) = launch_ada(&app, &platform).await;
    let coach = launch_coach(&app, &platform).await;

    let first = submit(&app, &learner, COMPONENTS[0]).await;
    let scores = platform.wait_for_scores(1, WAIT).await;
    assert_score_basics(&scores[0], "Submitted", "PendingManual");
    assert_no_grade(&scores[0]);
    assert_eq!(scores[0].line_item_url, line_item);

    assess(&app, &coach, first, false).await;
    let scores = platform.wait_for_scores(2, WAIT).await;
    assert_score_basics(&scores[1], "InProgress", "Pending");
    assert_no_grade(&scores[1]);
    assert_eq!(score_str(&scores[1], "comment"), "0 of 5 components mastered.");

    let resubmitted = submit(&app, &learner, COMPONENTS[0]).await;
    platform.wait_for_scores(3, WAIT).await;
    assess(&app, &coach, resubmitted, true).await;
    let scores = platform.wait_for_scores(4, WAIT).await;
    assert_score_basics(&scores[3], "InProgress", "Pending");
    assert_eq!(score_str(&scores[3], "comment"), "1 of 5 components mastered.");

    let mut expected = 4;
    for component in &COMPONENTS[1..] {
        let attempt = submit(&app, &learner, component).await;
        expected += 1;
        platform.wait_for_scores(expected, WAIT).await;
        let result = assess(&app, &coach, attempt, true).await;
        expected += 1;
        platform.wait_for_scores(expected, WAIT).await;
        assert_eq!(result.earned, *component == COMPONENTS[4]);
    }

    let scores = platform.scores();
    assert_eq!(scores.len(), 12, "one score per state change");
    let earned = &scores[11];
    assert_score_basics(earned, "Completed", "FullyGraded");
    assert_eq!(earned.field("scoreGiven"), Some(&json!(CEUS)));
    assert_eq!(earned.field("scoreMaximum"), Some(&json!(CEUS)));
    for score in &scores[..11] {
        assert_no_grade(score);
    }
    wait_for_all_sent(&app).await;
}

#[tokio::test]
async fn token_reused_from_cache() {
    let (app, platform) = start().await;
    let (learner, _) = launch_ada(&app, &platform).await;

    submit(&app, &learner, "norms").await;
    platform.wait_for_scores(1, WAIT).await;
    submit(&app, &learner, "plan").await;
    let scores = platform.wait_for_scores(2, WAIT).await;

    assert_eq!(platform.token_request_count(), 1, "{:#?}", platform.token_requests());
    assert_eq!(scores[0].access_token, scores[1].access_token);
    let request = &platform.token_requests()[0];
    assert!(request.is_granted(), "{request:?}");
    assert_eq!(request.requested_scopes, [microcred_testkit::ags_scope::SCORE]);
}

// Rosters and submission review.

#[tokio::test]
async fn roster_pages_include_absent_member() {
    let (app, platform) = start().await;
    let (learner, _) = launch_ada(&app, &platform).await;
    let instructor = launch_coach(&app, &platform).await;
    submit(&app, &learner, "norms").await;
    platform.add_member(COURSE, &coach(), &[role::INSTRUCTOR]);
    platform.add_member(COURSE, &ada(), &[role::LEARNER]);
    platform.add_member(COURSE, &user("grace", "Grace", "Hopper"), &[role::LEARNER]);
    platform.add_member(COURSE, &user("alan", "Alan", "Turing"), &[role::LEARNER]);
    platform.add_member(COURSE, &user("barbara", "Barbara", "Liskov"), &[role::LEARNER]);
    platform.add_member(COURSE, &user("edsger", "Edsger", "Dijkstra"), &[role::TEACHING_ASSISTANT]);
    platform.set_memberships_page_size(Some(2));

    let page = instructor.get(&app, "/app/roster").await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert_eq!(statuses(&platform, ServiceEndpoint::Memberships), [200, 200, 200], "three pages of two");
    for name in ["Carol Coach", "Ada Lovelace", "Grace Hopper", "Alan Turing", "Barbara Liskov", "Edsger Dijkstra"] {
        assert!(page.body.contains(name), "the roster misses {name}: {}", describe(&page));
    }
    let grace_row = text_between(&page.body, "Grace Hopper", "</tr>").expect("Grace's row");
    assert!(grace_row.contains("Has not opened microcred yet"), "{grace_row}");
    let ada_row = text_between(&page.body, "Ada Lovelace", "</tr>").expect("Ada's row");
    assert!(ada_row.contains(&format!("{TITLE}: 0 of 5 mastered")), "{ada_row}");
    assert!(
        page.body.contains(&format!("/app/assess/participants/{}?_s=", learner.session.user_id)),
        "Ada's row links her history: {}",
        describe(&page)
    );
}

/// Builds a submission review launch of Ada's work in the test course, by `reviewer`.
fn review_claims(app: &TestApp, platform: &TestPlatform, reviewer: &TestUser, line_item: &str) -> LaunchClaims {
    let claims = platform
        .submission_review_claims(&app.launch_url(), "ada")
        .with_user(reviewer)
        .with(&[claim::CONTEXT, "id"], COURSE)
        .with(&[claim::RESOURCE_LINK, "id"], LINK);
    platform.with_services(claims, Some(line_item))
}

#[tokio::test]
async fn submission_review_as_assessor() {
    let (app, platform) = start().await;
    let (learner, line_item) = launch_ada(&app, &platform).await;
    submit(&app, &learner, "norms").await;

    let reviewer = launch_to_page(&app, &platform, review_claims(&app, &platform, &coach(), &line_item)).await;

    let review_hop = reviewer.page.hop_to("/app/review").expect("the launch lands on /app/review");
    assert_eq!(review_hop.status, StatusCode::SEE_OTHER);
    let history = format!("/app/assess/participants/{}", learner.session.user_id);
    assert_eq!(reviewer.page.url.path(), history, "{}", describe(&reviewer.page));
    assert_eq!(reviewer.page.status, StatusCode::OK, "{}", describe(&reviewer.page));
    assert!(reviewer.page.body.contains("Ada Lovelace"), "{}", describe(&reviewer.page));
}

#[tokio::test]
async fn submission_review_as_participant() {
    let (app, platform) = start().await;
    let (learner, line_item) = launch_ada(&app, &platform).await;
    submit(&app, &learner, "norms").await;
    let claims = review_claims(&app, &platform, &ada(), &line_item).with_roles([role::LEARNER]);

    let participant = launch_to_page(&app, &platform, claims).await;

    let review_hop = participant.page.hop_to("/app/review").expect("the launch lands on /app/review");
    assert_eq!(review_hop.status, StatusCode::SEE_OTHER);
    assert_eq!(participant.page.url.path(), "/app", "{}", describe(&participant.page));
    assert_eq!(participant.page.status, StatusCode::OK, "{}", describe(&participant.page));
}

#[tokio::test]
async fn second_launch_into_course_keeps_course() {
    let (app, platform) = start().await;

    let (learner, _) = launch_ada(&app, &platform).await;
    let instructor = launch_coach(&app, &platform).await;

    assert!(!upsert_returns_wrong_row(&app).await, "an upsert returned another row");
    assert_eq!(instructor.session.context_pk, learner.session.context_pk);
}

// Failures.

#[tokio::test]
async fn score_waits_out_platform_outage() {
    let (app, platform) = start().await;
    let (learner, _) = launch_ada(&app, &platform).await;
    let coach = launch_coach(&app, &platform).await;
    let attempt = submit(&app, &learner, "norms").await;
    platform.wait_for_scores(1, WAIT).await;

    platform.stop_server().await;
    assess(&app, &coach, attempt, true).await;
    let failed_try =
        wait_for_row(&app, "retried after a network error", |row| row.attempts >= 1 && row.last_error.is_some()).await;
    assert_eq!(failed_try.status, passback::STATUS_PENDING, "{failed_try:#?}");
    assert!(failed_try.next_attempt_at > Utc::now(), "the retry waits: {failed_try:#?}");
    assert_eq!(platform.scores().len(), 1);

    platform.restart_server().await;
    make_pending_due(&app).await;
    let scores = platform.wait_for_scores(2, WAIT).await;

    assert_eq!(score_str(&scores[1], "comment"), "1 of 5 components mastered.");
    let sent = wait_for_row(&app, "sent", |row| row.id == failed_try.id && row.status == passback::STATUS_SENT).await;
    assert!(sent.attempts >= 2, "{sent:#?}");
}

#[tokio::test]
async fn score_retried_after_server_error() {
    let (app, platform) = start().await;
    let (learner, _) = launch_ada(&app, &platform).await;
    platform.fail_next(ServiceEndpoint::Scores, 1, 500);

    submit(&app, &learner, "norms").await;
    let row = wait_for_row(&app, "retried after a 500", |row| {
        row.status == passback::STATUS_PENDING && row.last_error.as_deref().is_some_and(|error| error.contains("500"))
    })
    .await;
    let wait = row.next_attempt_at - Utc::now();
    assert!(wait > chrono::Duration::zero(), "the retry waits: {wait}");
    assert!(wait <= chrono::Duration::seconds(2), "the first backoff is 2 s: {wait}");
    make_pending_due(&app).await;
    let scores = platform.wait_for_scores(1, WAIT).await;

    assert_eq!(scores.len(), 1);
    assert_eq!(statuses(&platform, ServiceEndpoint::Scores), [500, 204]);
    wait_for_row(&app, "sent", |sent| sent.id == row.id && sent.status == passback::STATUS_SENT).await;
}

#[tokio::test]
async fn refused_token_replaced_once() {
    let (app, platform) = start().await;
    let (learner, _) = launch_ada(&app, &platform).await;
    submit(&app, &learner, "norms").await;
    platform.wait_for_scores(1, WAIT).await;

    // The platform revokes its tokens, so the cached one gets a 401.
    platform.revoke_access_tokens();
    submit(&app, &learner, "plan").await;
    let scores = platform.wait_for_scores(2, WAIT).await;

    assert_eq!(platform.token_request_count(), 2, "{:#?}", platform.token_requests());
    assert_ne!(scores[0].access_token, scores[1].access_token);
    assert_eq!(statuses(&platform, ServiceEndpoint::Scores), [204, 401, 204]);
}

#[tokio::test]
async fn rejected_score_parked_and_retried_by_admin() {
    let (app, platform) = start().await;
    let (learner, _) = launch_ada(&app, &platform).await;
    let body = "scoreMaximum does not match the line item";
    platform.inject_failure(InjectedFailure::until_cleared(ServiceEndpoint::Scores, 400).with_body(body));

    submit(&app, &learner, "norms").await;
    let parked = wait_for_row(&app, "failed", |row| row.status == passback::STATUS_FAILED).await;
    let error = parked.last_error.clone().unwrap_or_default();
    assert!(error.contains("400"), "{error}");
    assert!(error.contains(body), "{error}");
    assert_eq!(statuses(&platform, ServiceEndpoint::Scores), [400], "a 400 is not retried");

    // An administrator launched from another course finds the rejected score.
    let admin_claims = platform
        .resource_link_claims(&app.launch_url())
        .with_user(&user("rosa", "Rosa", "Admin"))
        .with_roles([role::ADMINISTRATOR])
        .with(&[claim::CONTEXT, "id"], "admin-course")
        .with(&[claim::RESOURCE_LINK, "id"], "admin-link");
    let admin = launch(&app, &platform, admin_claims).await;
    let page = admin.get(&app, "/app/admin/passbacks").await;
    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    let row = text_between(&page.body, &format!("#{} ", parked.id), "</tr>")
        .unwrap_or_else(|| panic!("no row for #{}: {}", parked.id, describe(&page)));
    assert!(row.contains("failed"), "{row}");
    assert!(row.contains(body), "{row}");
    assert!(row.contains("ada"), "{row}");

    // The platform is fixed, and the administrator retries.
    platform.clear_failures();
    let retry_path = format!("/app/admin/passbacks/{}/retry", parked.id);
    let form = page
        .forms()
        .into_iter()
        .find(|form| form.action.path() == retry_path)
        .unwrap_or_else(|| panic!("no retry form for #{}: {}", parked.id, describe(&page)));
    let after = admin.browser.form_request(&form).follow_redirects(false).send().await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "{}", describe(&after));
    assert_eq!(after.location().map(|url| url.path().to_string()).as_deref(), Some("/app/admin/passbacks"));

    let scores = platform.wait_for_scores(1, WAIT).await;
    assert_eq!(score_str(&scores[0], "activityProgress"), "Submitted");
    wait_for_row(&app, "sent", |row| row.id == parked.id && row.status == passback::STATUS_SENT).await;
    let page = admin.get(&app, "/app/admin/passbacks").await;
    assert!(page.body.contains("Every score has reached the LMS."), "{}", describe(&page));
}

/// Checks that a score the platform rejects with `status` for a user it
/// cannot grade is parked as failed, with the platform's message, and not retried.
async fn assert_ungradeable_user_parked(status: u16) {
    let (app, platform) = start().await;
    let (learner, _) = launch_ada(&app, &platform).await;
    // Canvas rejects scores for a user who is not a student of the course
    // with this body, and HTTP 422.
    let body = r#"{"errors":{"type":"unprocessable_entity","message":"User not found in course or is not a student"}}"#;
    let failure = InjectedFailure::until_cleared(ServiceEndpoint::Scores, status).for_user("ada").with_body(body);
    platform.inject_failure(failure);

    submit(&app, &learner, "norms").await;
    let parked = wait_for_row(&app, "failed", |row| row.status == passback::STATUS_FAILED).await;

    let error = parked.last_error.clone().unwrap_or_default();
    assert!(error.contains(&format!("HTTP {status}")), "{error}");
    assert!(error.contains("User not found in course"), "{error}");
    assert_eq!(parked.attempts, 1);
    assert!(platform.scores().is_empty());
    tokio::time::sleep(Duration::from_millis(10 * POLL_INTERVAL_MS)).await;
    assert_eq!(statuses(&platform, ServiceEndpoint::Scores), [status], "a failed score is not retried by itself");
}

#[tokio::test]
async fn ungradeable_user_parked_on_404() {
    assert_ungradeable_user_parked(404).await;
}

#[tokio::test]
async fn ungradeable_user_parked_on_422() {
    assert_ungradeable_user_parked(422).await;
}

/// Waits until nothing listens on `address` any more.
async fn wait_until_port_free(address: std::net::SocketAddr) {
    for _ in 0..100 {
        if std::net::TcpListener::bind(address).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the stopped app still listens on {address}");
}

/// Stops `app` and starts a new instance on the same database and address,
/// as a restart of the service does, with its settings changed by `configure`.
async fn restart(mut app: TestApp, configure: impl FnOnce(&mut microcred::config::Settings)) -> TestApp {
    let address: std::net::SocketAddr =
        app.base.trim_start_matches("http://").parse().expect("the app's base URL names a socket address");
    app.stop();
    let database = app.database.clone();
    drop(app);
    wait_until_port_free(address).await;
    let mut settings = support::settings(&database.url, &database.folder());
    settings.server.bind = address;
    fast_worker(&mut settings);
    configure(&mut settings);
    TestApp::start_on(settings, database).await
}

#[tokio::test]
async fn pending_scores_sent_after_restart() {
    // The first instance never sends: it stops with its scores still queued.
    let (app, platform) = start_with(|settings| settings.passback.enabled = false).await;
    let (ada, _) = launch_ada(&app, &platform).await;
    let grace_claims = learner_claims(&app, &platform, &user("grace", "Grace", "Hopper"), None)
        .with(&[claim::CONTEXT, "id"], "course-grace")
        .with(&[claim::RESOURCE_LINK, "id"], "link-grace");
    let grace_claims = platform.with_services(grace_claims, None);
    let grace = launch(&app, &platform, grace_claims).await;
    submit(&app, &ada, "norms").await;
    submit(&app, &grace, "norms").await;
    submit(&app, &ada, "plan").await;
    let queued = outbox(&app).await;
    let queued_statuses: Vec<&str> = queued.iter().map(|row| row.status.as_str()).collect();
    assert_eq!(queued_statuses, ["superseded", "pending", "pending"], "{queued:#?}");
    let newest_for_ada: serde_json::Value = serde_json::from_str(&queued[2].score).expect("a stored score");

    let app = restart(app, |_| {}).await;
    let scores = platform.wait_for_scores(2, WAIT).await;

    let ada_scores: Vec<&ReceivedScore> = scores.iter().filter(|score| score.user_id() == Some("ada")).collect();
    assert_eq!(ada_scores.len(), 1, "{scores:#?}");
    assert_eq!(ada_scores[0].score, newest_for_ada, "Ada's newest score, not the superseded one");
    assert!(scores.iter().any(|score| score.user_id() == Some("grace")), "{scores:#?}");
    tokio::time::sleep(Duration::from_millis(10 * POLL_INTERVAL_MS)).await;
    assert_eq!(platform.scores().len(), 2, "the superseded score is never sent");
    let sent = ["superseded", "sent", "sent"];
    wait_for_outbox(&app, "the two newest rows to be sent", |rows| rows.iter().map(|row| row.status.as_str()).eq(sent)).await;
}

#[tokio::test]
async fn abandoned_send_taken_over_after_restart() {
    let (app, platform) = start_with(|settings| settings.passback.enabled = false).await;
    let (learner, _) = launch_ada(&app, &platform).await;
    submit(&app, &learner, "norms").await;
    // An instance claimed the row and died before sending it: the row stays
    // "sending" until its lock expires.
    score_outbox::Entity::update_many()
        .col_expr(score_outbox::Column::Status, Expr::value(passback::STATUS_SENDING))
        .col_expr(score_outbox::Column::Attempts, Expr::value(1))
        .col_expr(score_outbox::Column::LockedUntil, Expr::value(Some(Utc::now() - chrono::Duration::seconds(1))))
        .exec(&app.state.db)
        .await
        .expect("mark the row as abandoned mid-send");

    let app = restart(app, |_| {}).await;
    let scores = platform.wait_for_scores(1, WAIT).await;

    assert_eq!(scores.len(), 1);
    let row = wait_for_row(&app, "sent", |row| row.status == passback::STATUS_SENT).await;
    assert_eq!(row.attempts, 2);
}

#[tokio::test]
async fn two_workers_send_each_score_once() {
    if support::backend() != Backend::Postgres {
        eprintln!(
            "two_workers_send_each_score_once: skipped because it runs on PostgreSQL only (MICROCRED_TEST_DB=postgres)"
        );
        return;
    }
    const LEARNERS: usize = 30;
    // The scores are queued while no worker runs, then two instances race for them.
    let (app, platform) = start_with(|settings| settings.passback.enabled = false).await;
    let line_item = add_link_line_item(&platform);
    for number in 0..LEARNERS {
        let learner = user(&format!("learner-{number}"), "Learner", &format!("Number{number}"));
        let person = launch(&app, &platform, learner_claims(&app, &platform, &learner, Some(&line_item))).await;
        submit(&app, &person, "norms").await;
    }
    assert_eq!(outbox(&app).await.len(), LEARNERS);

    let first = restart(app, |settings| settings.passback.poll_interval_ms = 20).await;
    let second = first.spawn_sibling(|settings| settings.passback.poll_interval_ms = 20).await;
    platform.wait_for_scores(LEARNERS, WAIT).await;
    // Time for a duplicate send to arrive, if there is one.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let scores = platform.scores();
    let mut users: Vec<&str> = scores.iter().filter_map(ReceivedScore::user_id).collect();
    users.sort_unstable();
    users.dedup();
    assert_eq!(users.len(), LEARNERS, "every learner's score arrived");
    assert_eq!(scores.len(), LEARNERS, "no score was sent twice");
    let rows = wait_for_all_sent(&first).await;
    assert!(rows.iter().all(|row| row.attempts == 1), "{rows:#?}");
    drop(second);
}

#[tokio::test]
async fn run_once_sends_due_scores() {
    let (app, platform) = start_with(|settings| settings.passback.enabled = false).await;
    let (learner, _) = launch_ada(&app, &platform).await;
    submit(&app, &learner, "norms").await;

    let handled = passback::run_once(&app.state.services).await.expect("run the passback worker once");

    assert_eq!(handled, 1);
    assert_eq!(platform.scores().len(), 1);
    assert_eq!(passback::run_once(&app.state.services).await.expect("run again"), 0, "nothing is left");
}

/// The tool rotates its signing key while instructors keep placing
/// micro-credentials, and the platform caches the tool's key set without
/// refetching for an unknown kid, as the strictest platforms do. Because a
/// new key is published for `keys.min_published_secs` before it signs, no
/// deep linking response is refused.
#[tokio::test]
async fn tool_key_rotation_during_deep_linking_fails_none() {
    let (app, platform) = start_with(|settings| settings.keys.min_published_secs = 2).await;
    platform.set_tool_jwks_cache_ttl(Some(std::time::Duration::from_millis(1500)));
    let times = app.state.settings.keys.rotation_times();
    let db = app.state.db.clone();
    let rotator = tokio::spawn(async move {
        let mut promoted = Vec::new();
        for _ in 0..12 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let report = microcred::keys::rotate(&db, times).await.expect("a rotation step");
            promoted.extend(report.activated);
        }
        promoted
    });

    let started = std::time::Instant::now();
    let mut kids = std::collections::BTreeSet::new();
    let mut refused = Vec::new();
    let mut rounds = 0;
    while started.elapsed() < std::time::Duration::from_millis(6500) {
        let (instructor, placement) =
            place(&app, &platform, deep_linking_claims(&app, &platform, false), &[SLUG]).await;
        assert_eq!(placement.status, StatusCode::OK, "{}", describe(&placement));
        let jwt = placement.forms().into_iter().find_map(|form| form.field("JWT").map(str::to_string));
        if let Some(kid) = jwt.as_deref().and_then(decode_header_unverified).and_then(|h| h["kid"].as_str().map(str::to_string)) {
            kids.insert(kid);
        }
        let returned = return_to_platform(&platform, &instructor.browser, &placement).await;
        if returned.status != StatusCode::OK {
            refused.push(returned.body);
        }
        rounds += 1;
    }
    let promoted = rotator.await.expect("the rotation task");

    assert!(promoted.len() >= 2, "only {} keys were promoted", promoted.len());
    assert!(kids.len() >= 2, "every response was signed by one key: {kids:?}");
    assert!(refused.is_empty(), "{} of {rounds} responses were refused: {refused:#?}", refused.len());
    let results = platform.deep_linking_results();
    assert_eq!(results.len(), rounds);
    assert!(results.iter().all(|result| result.is_accepted()), "{:?}", results.iter().map(|r| &r.error).collect::<Vec<_>>());
}
