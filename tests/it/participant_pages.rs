//! The participant pages over real HTTP: a learner launches from the test
//! platform, then browses the catalogue, registers, writes and saves drafts,
//! uploads files and submits, as a teacher would. Assessments, which belong
//! to the assessor pages, are recorded through the service layer.

use chrono::{Duration, Utc};
use microcred::config::Settings;
use microcred::store::entities::{context, session};
use microcred::workflow::access::Viewer;
use microcred::workflow::assessing;
use microcred::workflow::catalogue;
use microcred::workflow::participation::{self, DraftInput};
use microcred_testkit::{
    claim, role, HtmlForm, LaunchClaims, Method, Page, PlatformOptions, StatusCode, TestPlatform, TestUser,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use crate::support::{describe, launch_to_app, registration, text_between, TestApp, Visitor};

pub(crate) const EXIT_TICKETS: &str = "exit-tickets";
const EXIT_TICKETS_TITLE: &str = "Using Exit Tickets to Adjust Instruction";
const ACCOUNTABLE_TALK_TITLE: &str = "Structuring Accountable Student Talk";
const COURSE_URL: &str = "https://learn.example.org/courses/formative-assessment-foundations";
/// The first component of `exit-tickets`: text of 250 to 900 words, a
/// reflection of 50 to 300 words, and up to two optional files.
pub(crate) const DESIGN: &str = "design";

/// A small micro-credential whose five components take text without word
/// limits, each rated on one criterion, so tests can earn it quickly.
const QUICK: &str = "quick-practice";
const QUICK_TITLE: &str = "Quick Practice Routines";
const QUICK_COMPONENTS: [&str; 5] = ["one", "two", "three", "four", "five"];

fn quick_catalogue() -> String {
    let mut text = format!(
        r#"[[micro_credential]]
slug = "{QUICK}"
title = "{QUICK_TITLE}"
competency = "The educator runs a short practice routine every day."
key_method = "Retrieval practice at the start of each lesson."
ceus = 1.5
estimated_hours = 10

[micro_credential.research]
summary = "Practice that recalls earlier learning strengthens it."

[[micro_credential.research.citation]]
authors = "Example, A."
year = 2010
title = "A study of practice"
venue = "Journal of Examples, 2(1), 1-10"

[[micro_credential.self_check]]
key = "routines"
statement = "I run a routine at the start of my lessons."
"#
    );
    for key in QUICK_COMPONENTS {
        text.push_str(&format!(
            r#"
[[micro_credential.component]]
key = "{key}"
title = "Step {key}"
prompt = "Describe step {key}."

[micro_credential.component.submission.text]
required = true

[[micro_credential.component.rubric.criterion]]
key = "clarity"
title = "Clarity of the routine"
mastery_level = "proficient"

[[micro_credential.component.rubric.criterion.level]]
key = "developing"
label = "Developing"
description = "The routine is partly clear."

[[micro_credential.component.rubric.criterion.level]]
key = "proficient"
label = "Proficient"
description = "The routine is clear."
"#
        ));
    }
    text
}

// Helpers.

async fn start() -> (TestApp, TestPlatform) {
    start_with(|_| {}).await
}

/// Starts microcred with `configure` applied to its settings, and a test
/// platform registered with it.
async fn start_with(configure: impl FnOnce(&mut Settings)) -> (TestApp, TestPlatform) {
    let app = TestApp::spawn_with(configure).await;
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    platform.allow_redirect_uri(&app.launch_url());
    app.register(registration(&platform)).await;
    (app, platform)
}


/// Launches the default learner, Ada Lovelace, in "Professional Development 101".
async fn launch_learner(app: &TestApp, platform: &TestPlatform) -> Visitor {
    let claims = platform.resource_link_claims(&app.launch_url()).with_roles([role::LEARNER]);
    launch_to_app(app, platform, claims).await
}

/// The course id that the test platform's launches carry unless a test sets another.
const DEFAULT_COURSE: &str = "testkit-course-1";

/// Launches an instructor into `course` through a resource link of their own.
async fn launch_assessor(app: &TestApp, platform: &TestPlatform, course: &str) -> Visitor {
    let coach = TestUser::new("testkit-user-coach", "Carol", "Coach", "carol.coach@example.edu");
    let claims = platform
        .resource_link_claims(&app.launch_url())
        .with_user(&coach)
        .with_roles([role::INSTRUCTOR])
        .with(&[claim::CONTEXT, "id"], course)
        .with(&[claim::RESOURCE_LINK, "id"], "testkit-resource-link-coach");
    launch_to_app(app, platform, claims).await
}

/// Decodes the character references that the templates write, so tests can
/// look for text as a reader sees it.
pub(crate) fn decoded(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Tells whether the page's HTML, with character references decoded, contains `text`.
pub(crate) fn shows(page: &Page, text: &str) -> bool {
    decoded(&page.body).contains(text)
}

/// Returns the page's form whose action path ends with `suffix`.
pub(crate) fn form_ending(page: &Page, suffix: &str) -> HtmlForm {
    page.forms()
        .into_iter()
        .find(|form| form.action.path().ends_with(suffix))
        .unwrap_or_else(|| panic!("no form posts to a path ending with {suffix}: {}", describe(page)))
}

/// Returns `count` distinct words.
pub(crate) fn words(count: usize) -> String {
    (1..=count).map(|i| format!("word{i}")).collect::<Vec<_>>().join(" ")
}

/// Registers for `slug` through the overview's form, ticking `ticked`, and
/// returns the page the registration ends on.
pub(crate) async fn register(app: &TestApp, visitor: &Visitor, slug: &str, ticked: &[&str]) -> Page {
    let overview = visitor.get(app, &format!("/app/credentials/{slug}")).await;
    assert_eq!(overview.status, StatusCode::OK, "{}", describe(&overview));
    let mut form = form_ending(&overview, "/enroll");
    for key in ticked {
        form.fields.push(("self_check".to_string(), (*key).to_string()));
    }
    visitor.browser.submit_form(&form).await
}

/// Returns the enrolment id in the component links of an overview page.
pub(crate) fn enrollment_id(overview: &Page) -> i64 {
    text_between(&overview.body, "href=\"/app/enrollments/", "/components/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("the overview links to no component: {}", describe(overview)))
}

/// Registers for `slug`, opens `component` and starts a draft. Returns the
/// component page with the draft editor.
pub(crate) async fn open_draft(app: &TestApp, visitor: &Visitor, slug: &str, component: &str) -> Page {
    let overview = register(app, visitor, slug, &[]).await;
    let enrollment = enrollment_id(&overview);
    let page = visitor.get(app, &format!("/app/enrollments/{enrollment}/components/{component}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(shows(&page, "Start a draft"), "{}", describe(&page));
    let started = visitor.browser.submit_form(&form_ending(&page, "/attempts")).await;
    assert_eq!(started.status, StatusCode::OK, "{}", describe(&started));
    started
}

/// Returns the draft editor's form on a component page.
pub(crate) fn draft_form(page: &Page) -> HtmlForm {
    form_ending(page, "/draft")
}

/// Returns the attempt id in the draft editor's action.
pub(crate) fn draft_attempt_id(page: &Page) -> i64 {
    let form = draft_form(page);
    form.action
        .path()
        .trim_start_matches("/app/attempts/")
        .trim_end_matches("/draft")
        .parse()
        .unwrap_or_else(|_| panic!("unexpected draft action {}", form.action))
}

/// Saves `text` and `reflection` through the draft editor of `page`.
pub(crate) async fn save_draft(visitor: &Visitor, page: &Page, text: &str, reflection: &str) -> Page {
    let form = draft_form(page).with_field("text", text).with_field("reflection", reflection);
    visitor.browser.submit_form(&form).await
}

/// Posts the draft editor of `page`, with `text` and `reflection`, to the
/// Submit for assessment button's `formaction`.
pub(crate) async fn submit_draft(visitor: &Visitor, page: &Page, text: &str, reflection: &str) -> Page {
    let attempt_id = draft_attempt_id(page);
    let submit_path = format!("/app/attempts/{attempt_id}/submit");
    assert!(
        shows(&page, &format!("formaction=\"{submit_path}?_s=")),
        "the editor has no Submit for assessment button: {}",
        describe(page)
    );
    let mut form = draft_form(page).with_field("text", text).with_field("reflection", reflection);
    form.action.set_path(&submit_path);
    visitor.browser.submit_form(&form).await
}

/// Uploads `bytes` as the `file` field to an attempt, without following the redirect.
pub(crate) async fn upload(app: &TestApp, visitor: &Visitor, attempt_id: i64, name: &str, content_type: &str, bytes: Vec<u8>) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()).mime_str(content_type).expect("a valid content type");
    let form = reqwest::multipart::Form::new().part("file", part);
    http_client()
        .post(visitor.url(app, &format!("/app/attempts/{attempt_id}/files")))
        .multipart(form)
        .send()
        .await
        .expect("send the upload")
}

pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("build an HTTP client")
}

/// Ends every session, as the idle timeout or a night away would.
async fn expire_sessions(app: &TestApp) {
    session::Entity::update_many()
        .col_expr(session::Column::ExpiresAt, Expr::value(Utc::now() - Duration::minutes(1)))
        .exec(&app.state.db)
        .await
        .expect("expire the sessions");
}

pub(crate) fn pdf_bytes(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    bytes.extend((0..size.saturating_sub(bytes.len())).map(|i| (i % 251) as u8));
    bytes
}

// Landing page and catalogue.

#[tokio::test]
async fn landing_page_names_user_course_and_role() {
    let (app, platform) = start().await;

    let learner = launch_learner(&app, &platform).await;
    let page = &learner.landing;

    assert!(shows(&page, "Ada Lovelace"), "{}", describe(page));
    assert!(shows(&page, "Professional Development 101"), "{}", describe(page));
    assert!(shows(&page, "<dt>Role</dt><dd>Participant</dd>"), "{}", describe(page));
    assert!(shows(&page, EXIT_TICKETS_TITLE), "the landing page lists the catalogue: {}", describe(page));
}

#[tokio::test]
async fn landing_page_without_name_uses_neutral_phrase() {
    let (app, platform) = start().await;
    let claims = platform
        .resource_link_claims(&app.launch_url())
        .with_roles([role::LEARNER])
        .without(&["name"])
        .without(&["given_name"])
        .without(&["family_name"]);

    let learner = launch_to_app(&app, &platform, claims).await;

    assert!(shows(&learner.landing, "Your LMS did not share your name"), "{}", describe(&learner.landing));
    assert!(!shows(&learner.landing, "Lovelace"), "{}", describe(&learner.landing));
}

#[tokio::test]
async fn landing_page_scopes_enrolment_to_course() {
    let (app, platform) = start().await;
    let linked = |course: &str, link: &str| {
        platform
            .resource_link_claims(&app.launch_url())
            .with_roles([role::LEARNER])
            .with_custom("microcredential", EXIT_TICKETS)
            .with(&[claim::CONTEXT, "id"], course)
            .with(&[claim::RESOURCE_LINK, "id"], link)
    };
    let first = launch_to_app(&app, &platform, linked(DEFAULT_COURSE, "testkit-link-first")).await;
    let registered = register(&app, &first, EXIT_TICKETS, &["learning-goals"]).await;
    assert!(shows(&registered, "You are registered."), "{}", describe(&registered));

    let elsewhere = launch_to_app(&app, &platform, linked("testkit-course-2", "testkit-link-second")).await;
    let page = &elsewhere.landing;
    assert!(!shows(page, "components mastered"), "{}", describe(page));
    assert_eq!(form_ending(page, "/enroll").action.path(), "/app/credentials/exit-tickets/enroll");

    let back = launch_to_app(&app, &platform, linked(DEFAULT_COURSE, "testkit-link-first")).await;
    let page = &back.landing;
    assert!(shows(page, "0 of 5 components mastered"), "{}", describe(page));
    assert!(!shows(page, "exit-tickets/enroll"), "{}", describe(page));
}

/// The overview read with a launch is the launching user's in the launch's
/// course, also where the user's key and the course's key differ.
#[tokio::test]
async fn landing_page_shows_enrolment_of_user_in_course() {
    let (app, platform) = start().await;
    let linked = platform
        .resource_link_claims(&app.launch_url())
        .with_roles([role::LEARNER])
        .with_custom("microcredential", EXIT_TICKETS);
    let first = launch_to_app(&app, &platform, linked.clone()).await;
    // A course stored outside a launch, so that the next course's key is not the user's.
    let now = Utc::now();
    let other = context::ActiveModel {
        platform_id: Set(first.viewer(&app).await.platform_id),
        issuer: Set("https://lms.example.edu".to_string()),
        context_id: Set("testkit-course-stored".to_string()),
        label: Set(None),
        title: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    other.insert(&app.state.db).await.expect("store a course");
    let course = |claims: LaunchClaims| claims.with(&[claim::CONTEXT, "id"], "testkit-course-2");
    let enrolled = launch_to_app(&app, &platform, course(linked.clone())).await;
    let registered = register(&app, &enrolled, EXIT_TICKETS, &["learning-goals"]).await;
    assert!(shows(&registered, "You are registered."), "{}", describe(&registered));
    let viewer = enrolled.viewer(&app).await;
    assert_ne!(Some(viewer.user_id), viewer.context_pk, "the user's and the course's keys differ");

    let again = launch_to_app(&app, &platform, course(linked.clone())).await;

    let page = &again.landing;
    assert!(shows(page, "0 of 5 components mastered"), "{}", describe(page));
    assert!(!shows(page, "exit-tickets/enroll"), "{}", describe(page));
    let grace = TestUser::new("testkit-user-grace", "Grace", "Hopper", "grace.hopper@example.edu");
    let graces = launch_to_app(&app, &platform, course(linked.with_user(&grace))).await;
    assert!(shows(&graces.landing, "exit-tickets/enroll"), "Grace is not enrolled: {}", describe(&graces.landing));
}

/// Launches the default learner through a course link that names the exit-tickets micro-credential.
async fn launch_linked_learner(app: &TestApp, platform: &TestPlatform) -> Visitor {
    let claims = platform
        .resource_link_claims(&app.launch_url())
        .with_roles([role::LEARNER])
        .with_custom("microcredential", EXIT_TICKETS);
    launch_to_app(app, platform, claims).await
}

#[tokio::test]
async fn landing_page_explains_unknown_credential() {
    let (app, platform) = start().await;
    let claims = platform
        .resource_link_claims(&app.launch_url())
        .with_roles([role::LEARNER])
        .with_custom("microcredential", "no-such-credential");

    let learner = launch_to_app(&app, &platform, claims).await;

    let page = &learner.landing;
    assert!(shows(page, "opens the micro-credential “no-such-credential”, which is not in the catalogue"), "{}", describe(page));
    assert!(shows(page, "Micro-credentials you can earn"), "{}", describe(page));
}

#[tokio::test]
async fn landing_page_opens_linked_credential() {
    let (app, platform) = start().await;
    let learner = launch_linked_learner(&app, &platform).await;
    let page = &learner.landing;

    assert!(shows(&page, &format!("<h1>{EXIT_TICKETS_TITLE}</h1>")), "{}", describe(page));
    assert!(shows(&page, "Ada Lovelace"), "{}", describe(page));
    assert!(shows(&page, "<dt>Role</dt><dd>Participant</dd>"), "{}", describe(page));
    assert!(shows(&page, ">Register</button>"), "{}", describe(page));
}

#[tokio::test]
async fn landing_overview_used_once() {
    let (app, platform) = start().await;
    let learner = launch_linked_learner(&app, &platform).await;
    assert!(shows(&learner.landing, ">Register</button>"), "{}", describe(&learner.landing));

    // The overview read by the launch serves only the first page. The page
    // opened again after registering shows the registration.
    let registered = register(&app, &learner, EXIT_TICKETS, &["learning-goals"]).await;
    assert!(shows(&registered, "You are registered."), "{}", describe(&registered));
    let again = learner.get(&app, "/app").await;
    assert_eq!(again.status, StatusCode::OK, "{}", describe(&again));
    assert!(shows(&again, "0 of 5 components mastered"), "{}", describe(&again));
    assert!(!shows(&again, ">Register</button>"), "{}", describe(&again));
}

#[tokio::test]
async fn landing_page_links_assessor_areas() {
    let (app, platform) = start().await;

    let coach = launch_assessor(&app, &platform, "testkit-course-coach").await;

    assert!(shows(&coach.landing, "<dt>Role</dt><dd>Assessor</dd>"), "{}", describe(&coach.landing));
    assert!(shows(&coach.landing, "href=\"/app/assess?_s="), "{}", describe(&coach.landing));
}

#[tokio::test]
async fn catalogue_lists_both_samples() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;

    let page = learner.get(&app, "/app/catalogue").await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(shows(&page, EXIT_TICKETS_TITLE), "{}", describe(&page));
    assert!(shows(&page, ACCOUNTABLE_TALK_TITLE), "{}", describe(&page));
    assert!(shows(&page, "2.0 CEUs · about 20 hours of work"), "{}", describe(&page));
    assert!(shows(&page, "href=\"/app/credentials/exit-tickets?_s="), "{}", describe(&page));
}

// Overview and registration.

#[tokio::test]
async fn overview_shows_method_research_and_self_check() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;

    let page = learner.get(&app, "/app/credentials/exit-tickets").await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(shows(&page, "Key method"), "{}", describe(&page));
    assert!(shows(&page, "Black, P., & Wiliam, D. (1998)"), "{}", describe(&page));
    assert!(shows(&page, COURSE_URL), "{}", describe(&page));
    assert!(shows(&page, "<label for=\"self-check-learning-goals\">"), "{}", describe(&page));
    assert_eq!(form_ending(&page, "/enroll").action.path(), "/app/credentials/exit-tickets/enroll");
}

#[tokio::test]
async fn registration_with_unticked_self_check_recommends_course() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;

    let page = register(&app, &learner, EXIT_TICKETS, &["learning-goals", "success-criteria"]).await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert_eq!(page.url.path(), "/app/credentials/exit-tickets");
    assert!(shows(&page, "You are registered."), "{}", describe(&page));
    assert!(shows(&page, "Recommended before you start"), "{}", describe(&page));
    assert!(shows(&page, &format!("href=\"{COURSE_URL}\"")), "{}", describe(&page));
    assert!(shows(&page, "0 of 5 components mastered"), "{}", describe(&page));
    assert!(shows(&page, "<progress id=\"mastery-progress\" max=\"5\" value=\"0\">"), "{}", describe(&page));
    assert!(shows(&page, "Not started"), "{}", describe(&page));
}

#[tokio::test]
async fn registration_with_full_self_check_has_no_recommendation() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let all = ["learning-goals", "success-criteria", "misconceptions", "item-types", "grouping"];

    let page = register(&app, &learner, EXIT_TICKETS, &all).await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(shows(&page, "You are registered."), "{}", describe(&page));
    assert!(!shows(&page, "Recommended before you start"), "{}", describe(&page));
}

#[tokio::test]
async fn self_check_update_removes_recommendation() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let registered = register(&app, &learner, EXIT_TICKETS, &[]).await;
    assert!(shows(&registered, "Recommended before you start"), "{}", describe(&registered));

    let mut form = form_ending(&registered, "/self-check");
    for key in ["learning-goals", "success-criteria", "misconceptions", "item-types", "grouping"] {
        form.fields.push(("self_check".to_string(), key.to_string()));
    }
    let page = learner.browser.submit_form(&form).await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(shows(&page, "Your self-check is updated."), "{}", describe(&page));
    assert!(!shows(&page, "Recommended before you start"), "{}", describe(&page));
    assert!(shows(&page, "value=\"grouping\" checked"), "{}", describe(&page));
}

// Component page and drafts.

#[tokio::test]
async fn component_page_shows_task_and_rubric() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;

    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;

    assert!(shows(&page, "<h1>Design an exit ticket</h1>"), "{}", describe(&page));
    assert!(shows(&page, "250 to 900 words"), "{}", describe(&page));
    assert!(shows(&page, "What did you leave out of the exit ticket to keep it short, and why?"));
    assert!(shows(&page, "Alignment to the learning goal"), "{}", describe(&page));
    assert!(shows(&page, "<strong>Proficient</strong> <span class=\"tag\">Mastery level</span>"), "{}", describe(&page));
    assert!(shows(&page, "<script src=\"/static/autosave.js\" defer>"), "{}", describe(&page));
    assert!(shows(&page, "aria-live=\"polite\""), "{}", describe(&page));
}

#[tokio::test]
async fn draft_saves_and_reloads() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;

    let saved = save_draft(&learner, &page, "My exit ticket asks three questions.", "I left out a graph.").await;

    assert_eq!(saved.status, StatusCode::OK, "{}", describe(&saved));
    assert!(shows(&saved, "Your draft is saved."), "{}", describe(&saved));
    assert!(shows(&saved, "6 words so far (250 to 900 words)."), "{}", describe(&saved));
    let reloaded = learner.browser.get(saved.url.as_str()).await;
    assert_eq!(draft_form(&reloaded).field("text"), Some("My exit ticket asks three questions."));
    assert_eq!(draft_form(&reloaded).field("reflection"), Some("I left out a graph."));
}

#[tokio::test]
async fn draft_survives_new_launch() {
    let (app, platform) = start().await;
    let first = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &first, EXIT_TICKETS, DESIGN).await;
    let saved = save_draft(&first, &page, "Written before the summer break.", "").await;
    assert!(shows(&saved, "Your draft is saved."), "{}", describe(&saved));
    let component_path = saved.url.path().to_string();
    expire_sessions(&app).await;

    let second = launch_learner(&app, &platform).await;
    let overview = second.get(&app, "/app/credentials/exit-tickets").await;
    let reopened = second.get(&app, &component_path).await;

    assert!(shows(&overview, "Draft"), "{}", describe(&overview));
    assert_eq!(reopened.status, StatusCode::OK, "{}", describe(&reopened));
    assert_eq!(draft_form(&reopened).field("text"), Some("Written before the summer break."));
}

#[tokio::test]
async fn autosave_gets_json_and_fresh_token() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;
    let form = draft_form(&page);

    let response = http_client()
        .post(form.action.as_str())
        .header("x-autosave", "1")
        .form(&[("text", "Typed and saved by the script."), ("reflection", ""), ("links", "")])
        .send()
        .await
        .expect("send the autosave");

    assert_eq!(response.status(), StatusCode::OK);
    let reply: serde_json::Value = response.json().await.expect("a JSON reply");
    assert_eq!(reply["saved"], true, "{reply}");
    assert!(reply["message"].as_str().is_some_and(|m| m.starts_with("Saved ")), "{reply}");
    assert!(reply["token"].as_str().is_some_and(|t| !t.is_empty()), "{reply}");
    let reloaded = learner.browser.get(page.url.as_str()).await;
    assert_eq!(draft_form(&reloaded).field("text"), Some("Typed and saved by the script."));
}

#[tokio::test]
async fn autosave_script_is_served() {
    let (app, _platform) = start().await;

    let response = http_client().get(app.url("/static/autosave.js")).send().await.expect("fetch the script");

    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(content_type.as_deref(), Some("text/javascript; charset=utf-8"));
    let body = response.text().await.expect("read the script");
    assert!(body.contains("x-autosave"));
}

// Files.

#[tokio::test]
async fn pdf_upload_downloads_same_bytes() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;
    let attempt_id = draft_attempt_id(&page);
    let bytes = pdf_bytes(4096);

    let response = upload(&app, &learner, attempt_id, "lesson plan (v2).pdf", "application/pdf", bytes.clone()).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let after = learner.browser.get(page.url.as_str()).await;
    assert!(shows(&after, "lesson plan (v2).pdf"), "{}", describe(&after));
    let file_path = text_between(&after.body, "<a href=\"/app/files/", "?_s=")
        .map(|id| format!("/app/files/{id}"))
        .unwrap_or_else(|| panic!("no download link: {}", describe(&after)));
    let download = http_client().get(learner.url(&app, &file_path)).send().await.expect("download the file");
    assert_eq!(download.status(), StatusCode::OK);
    let header = |name: &str| download.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(header("content-type").as_deref(), Some("application/pdf"));
    assert_eq!(header("content-disposition").as_deref(), Some("attachment; filename*=UTF-8''lesson%20plan%20%28v2%29.pdf"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    let downloaded = download.bytes().await.expect("read the download");
    assert_eq!(downloaded.as_ref(), bytes.as_slice(), "the download differs from the upload");
}

#[tokio::test]
async fn file_removal_detaches_file() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;
    let attempt_id = draft_attempt_id(&page);
    let response = upload(&app, &learner, attempt_id, "plan.pdf", "application/pdf", pdf_bytes(512)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let with_file = learner.browser.get(page.url.as_str()).await;

    let removed = learner.browser.submit_form(&form_ending(&with_file, "/delete")).await;

    assert_eq!(removed.status, StatusCode::OK, "{}", describe(&removed));
    assert!(shows(&removed, "The file is removed from your draft."), "{}", describe(&removed));
    assert!(shows(&removed, "No files attached yet."), "{}", describe(&removed));
}

#[tokio::test]
async fn upload_of_disallowed_type_shows_reason() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;
    let saved = save_draft(&learner, &page, "Text that must stay.", "").await;
    let attempt_id = draft_attempt_id(&saved);

    let response = upload(&app, &learner, attempt_id, "page.html", "text/html", b"<p>hello</p>".to_vec()).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = decoded(&response.text().await.expect("read the page"));
    assert!(body.contains("The file was not added."), "{body}");
    assert!(body.contains("Files of type \"text/html\" are not accepted."), "{body}");
    assert!(body.contains("Text that must stay."), "the draft is not shown: {body}");
}

#[tokio::test]
async fn upload_over_size_limit_shows_reason() {
    let (app, platform) = start_with(|settings| settings.storage.max_file_mb = 1).await;
    let learner = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;
    let saved = save_draft(&learner, &page, "Text that must stay.", "").await;
    let attempt_id = draft_attempt_id(&saved);

    let response = upload(&app, &learner, attempt_id, "big.pdf", "application/pdf", pdf_bytes(1536 * 1024)).await;

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = decoded(&response.text().await.expect("read the page"));
    assert!(body.contains("larger than the limit of 1 MB"), "{body}");
    assert!(body.contains("Text that must stay."), "the draft is not shown: {body}");
    assert!(body.contains("No files attached yet."), "{body}");
}

// Submission.

#[tokio::test]
async fn submit_with_too_few_words_shows_problems() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;

    let rejected = submit_draft(&learner, &page, "Too short to submit.", "Also short.").await;

    assert_eq!(rejected.status, StatusCode::BAD_REQUEST, "{}", describe(&rejected));
    assert!(shows(&rejected, "not submitted yet"), "{}", describe(&rejected));
    assert!(shows(&rejected, "The text has 4 words, fewer than the minimum of 250"), "{}", describe(&rejected));
    assert!(shows(&rejected, "The reflection has 2 words, fewer than the minimum of 50"), "{}", describe(&rejected));
    assert_eq!(draft_form(&rejected).field("text"), Some("Too short to submit."));
    let reloaded = learner.browser.get(page.url.as_str()).await;
    assert_eq!(draft_form(&reloaded).field("text"), Some("Too short to submit."), "the text was saved");
}

#[tokio::test]
async fn submitted_attempt_is_read_only() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;
    let draft = draft_form(&page);

    let submitted = submit_draft(&learner, &page, &words(260), &words(60)).await;

    assert_eq!(submitted.status, StatusCode::OK, "{}", describe(&submitted));
    assert!(shows(&submitted, "Your work is submitted."), "{}", describe(&submitted));
    assert!(shows(&submitted, "— waiting for assessment"), "{}", describe(&submitted));
    assert!(!shows(&submitted, "formaction="), "the editor is still shown: {}", describe(&submitted));
    assert!(!shows(&submitted, "Start a new attempt"), "{}", describe(&submitted));

    let late = learner.browser.submit_form(&draft.with_field("text", "A change after submitting.")).await;

    assert_eq!(late.status, StatusCode::CONFLICT, "{}", describe(&late));
    assert!(shows(&late, "This attempt has been submitted and is read-only."), "{}", describe(&late));
    assert!(shows(&late, "A change after submitting."), "the unsaved text is not shown: {}", describe(&late));
}

#[tokio::test]
async fn post_without_token_is_rejected() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;
    let attempt_id = draft_attempt_id(&page);

    let rejected = learner
        .browser
        .navigate(Method::POST, &app.url(&format!("/app/attempts/{attempt_id}/draft")))
        .form(&[("text", "Sent from another site."), ("reflection", ""), ("links", "")])
        .send()
        .await;

    assert_eq!(rejected.status, StatusCode::FORBIDDEN, "{}", describe(&rejected));
    assert!(shows(&rejected, "page token"), "{}", describe(&rejected));
    let reloaded = learner.browser.get(page.url.as_str()).await;
    assert_eq!(draft_form(&reloaded).field("text"), Some(""), "the rejected post changed the draft");
}

#[tokio::test]
async fn expired_session_draft_post_shows_unsaved_text() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let page = open_draft(&app, &learner, EXIT_TICKETS, DESIGN).await;
    expire_sessions(&app).await;

    let ended = save_draft(&learner, &page, "An hour of careful writing.", "A reflection worth keeping.").await;

    assert_eq!(ended.status, StatusCode::UNAUTHORIZED, "{}", describe(&ended));
    assert!(shows(&ended, "Your session has ended"), "{}", describe(&ended));
    assert!(shows(&ended, "An hour of careful writing."), "{}", describe(&ended));
    assert!(shows(&ended, "A reflection worth keeping."), "{}", describe(&ended));
    assert!(shows(&ended, "Open microcred again from your course page"), "{}", describe(&ended));
    assert!(shows(&ended, "readonly"), "{}", describe(&ended));
}

// Assessed work, transcript and certificate.

/// Registers the learner for the quick micro-credential through the pages
/// and returns the enrolment id.
async fn register_quick(app: &TestApp, learner: &Visitor) -> i64 {
    catalogue::import_text(&app.state.db, &quick_catalogue(), false, None).await.expect("import the quick catalogue");
    let overview = register(app, learner, QUICK, &["routines"]).await;
    assert_eq!(overview.status, StatusCode::OK, "{}", describe(&overview));
    enrollment_id(&overview)
}

/// Writes and submits `component` through the service layer; returns the attempt id.
async fn submit_quick(app: &TestApp, learner: &Viewer, enrollment_id: i64, component: &str) -> i64 {
    let db = &app.state.db;
    let draft = participation::open_draft(db, learner, enrollment_id, component).await.expect("open a draft");
    let input = DraftInput { text: format!("My routine for step {component}."), reflection: String::new(), links: vec![] };
    participation::save_draft(db, learner, draft.id, input).await.expect("save the draft");
    participation::submit(db, app.state.state_hook(), learner, draft.id).await.expect("submit");
    draft.id
}

async fn assess_quick(app: &TestApp, assessor: &Viewer, attempt_id: i64, level: &str, feedback: &str) {
    let input = microcred::domain::AssessmentInput {
        ratings: [("clarity".to_string(), level.to_string())].into_iter().collect(),
        feedback: [("clarity".to_string(), feedback.to_string())].into_iter().collect(),
        overall_comment: "Thank you for the careful work.".to_string(),
    };
    assessing::assess(&app.state.db, app.state.state_hook(), assessor, attempt_id, input).await.expect("assess");
}

#[tokio::test]
async fn not_yet_mastered_shows_feedback_and_new_attempt() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let enrollment = register_quick(&app, &learner).await;
    let coach = launch_assessor(&app, &platform, DEFAULT_COURSE).await;
    let attempt_id = submit_quick(&app, &learner.viewer(&app).await, enrollment, "one").await;
    assess_quick(&app, &coach.viewer(&app).await, attempt_id, "developing", "Name the cue that starts the routine.").await;

    let page = learner.get(&app, &format!("/app/enrollments/{enrollment}/components/one")).await;
    let detail = learner.get(&app, &format!("/app/attempts/{attempt_id}")).await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(shows(&page, "Your last attempt is not yet mastered."), "{}", describe(&page));
    assert!(shows(&page, "Assessment: Not yet mastered"), "{}", describe(&page));
    assert!(shows(&page, "<strong>Developing</strong> (mastery level: Proficient)"), "{}", describe(&page));
    assert!(shows(&page, "Name the cue that starts the routine."), "{}", describe(&page));
    assert!(shows(&page, "Start a new attempt"), "{}", describe(&page));
    assert_eq!(detail.status, StatusCode::OK, "{}", describe(&detail));
    assert!(shows(&detail, "My routine for step one."), "{}", describe(&detail));
    assert!(shows(&detail, "Thank you for the careful work."), "{}", describe(&detail));
}

#[tokio::test]
async fn earned_credential_has_certificate_and_transcript() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let enrollment = register_quick(&app, &learner).await;
    let coach = launch_assessor(&app, &platform, DEFAULT_COURSE).await;
    let (learner_viewer, coach_viewer) = (learner.viewer(&app).await, coach.viewer(&app).await);
    for component in QUICK_COMPONENTS {
        let attempt_id = submit_quick(&app, &learner_viewer, enrollment, component).await;
        assess_quick(&app, &coach_viewer, attempt_id, "proficient", "").await;
    }
    let today = Utc::now().format("%B %-d, %Y").to_string();

    let overview = learner.get(&app, &format!("/app/credentials/{QUICK}")).await;
    let certificate = learner.get(&app, &format!("/app/enrollments/{enrollment}/certificate")).await;
    let transcript = learner.get(&app, "/app/transcript").await;

    assert!(shows(&overview, &format!("Earned on {today} — 1.5 CEUs")), "{}", describe(&overview));
    assert!(shows(&overview, "5 of 5 components mastered"), "{}", describe(&overview));
    assert_eq!(certificate.status, StatusCode::OK, "{}", describe(&certificate));
    assert!(shows(&certificate, "Ada Lovelace"), "{}", describe(&certificate));
    assert!(shows(&certificate, QUICK_TITLE), "{}", describe(&certificate));
    assert!(shows(&certificate, "The educator runs a short practice routine every day."));
    assert!(shows(&certificate, "Testkit LMS"), "{}", describe(&certificate));
    assert!(shows(&certificate, &today), "{}", describe(&certificate));
    assert_eq!(transcript.status, StatusCode::OK, "{}", describe(&transcript));
    assert!(shows(&transcript, QUICK_TITLE), "{}", describe(&transcript));
    assert!(shows(&transcript, "Total CEUs</th><td>1.5</td>"), "{}", describe(&transcript));
}

#[tokio::test]
async fn unearned_certificate_shows_message() {
    let (app, platform) = start().await;
    let learner = launch_learner(&app, &platform).await;
    let overview = register(&app, &learner, EXIT_TICKETS, &[]).await;
    let enrollment = enrollment_id(&overview);

    let certificate = learner.get(&app, &format!("/app/enrollments/{enrollment}/certificate")).await;
    let transcript = learner.get(&app, "/app/transcript").await;

    assert_eq!(certificate.status, StatusCode::NOT_FOUND, "{}", describe(&certificate));
    assert!(shows(&certificate, "No certificate to show"), "{}", describe(&certificate));
    assert!(shows(&transcript, "You have not earned a micro-credential yet."), "{}", describe(&transcript));
}
