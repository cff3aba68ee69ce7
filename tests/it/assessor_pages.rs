//! The assessor pages over real HTTP: the queue, the assessment form and a
//! participant's history, after real launches from the test platform.
//! Participant work is created through the service layer, which is faster
//! than driving the participant pages and checks the same rules.
//!
//! The helpers here are shared with `admin_pages`.

use microcred::sessions::Session;
use microcred::store::entities::{assessment, attempt};
use microcred::workflow::access::Viewer;
use microcred::workflow::catalogue;
use microcred::workflow::participation::{self, DraftInput};
use microcred_testkit::{
    claim, role, Browser, HtmlForm, LaunchSpec, LaunchStage, Method, Page, PlatformOptions, StatusCode, TestPlatform,
    TestUser,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::support::{describe, registration, session_of, url_with_token, TestApp};

/// Slug of the micro-credential that `start` imports.
pub const SLUG: &str = "test-talk";
pub const TITLE: &str = "Test Talk Routines";
/// Component keys of the test micro-credential, in order.
pub const COMPONENTS: [&str; 5] = ["norms", "plan", "lesson", "evidence", "reflect"];

/// Writes a catalogue with one micro-credential whose five components take
/// text only, each with the same two-criterion rubric (mastery at "proficient").
pub fn test_catalogue(slug: &str, title: &str) -> String {
    let mut text = format!(
        r#"[[micro_credential]]
slug = "{slug}"
title = "{title}"
competency = "The educator leads discussions in which students explain their reasoning."
key_method = "Talk moves used on purpose."
ceus = 2.0
estimated_hours = 20

[micro_credential.research]
summary = "Discussion that builds on student ideas deepens understanding."

[[micro_credential.research.citation]]
authors = "Example, A."
year = 2008
title = "A study of classroom talk"
venue = "Journal of Examples, 1(1), 1-10"

[[micro_credential.self_check]]
key = "open-questions"
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
key = "clarity"
title = "Clarity of the plan"
mastery_level = "proficient"

[[micro_credential.component.rubric.criterion.level]]
key = "beginning"
label = "Beginning"
description = "The plan is hard to follow."

[[micro_credential.component.rubric.criterion.level]]
key = "developing"
label = "Developing"
description = "The plan is partly clear."

[[micro_credential.component.rubric.criterion.level]]
key = "proficient"
label = "Proficient"
description = "The plan is clear."

[[micro_credential.component.rubric.criterion]]
key = "evidence"
title = "Use of evidence"
mastery_level = "proficient"

[[micro_credential.component.rubric.criterion.level]]
key = "developing"
label = "Developing"
description = "Claims without evidence."

[[micro_credential.component.rubric.criterion.level]]
key = "proficient"
label = "Proficient"
description = "Claims backed by student work."

[[micro_credential.component.rubric.criterion.level]]
key = "exemplary"
label = "Exemplary"
description = "Claims backed by several kinds of evidence."
"#,
            number = index + 1
        ));
    }
    text
}

/// Starts microcred with the test micro-credential in its catalogue, and a
/// test platform registered with it.
pub async fn start() -> (TestApp, TestPlatform) {
    let app = TestApp::spawn().await;
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    platform.allow_redirect_uri(&app.launch_url());
    app.register(registration(&platform)).await;
    catalogue::import_text(&app.state.db, &test_catalogue(SLUG, TITLE), false, None)
        .await
        .expect("import the test catalogue");
    (app, platform)
}

/// A launched user: their browser, page token and session.
pub struct Person {
    pub browser: Browser,
    pub token: String,
    pub session: Session,
    pub name: String,
}

impl Person {
    pub fn viewer(&self) -> Viewer {
        Viewer::from(&self.session)
    }

    pub fn user_id(&self) -> i64 {
        self.session.user_id
    }

    /// Returns an app URL with this person's page token added to its query.
    pub fn url(&self, app: &TestApp, path: &str) -> String {
        url_with_token(app, path, &self.token)
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> Page {
        self.browser.get(&self.url(app, path)).await
    }

    /// POSTs a form without following the redirect.
    pub async fn post(&self, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Page {
        self.browser.navigate(Method::POST, &self.url(app, path)).form(fields).follow_redirects(false).send().await
    }
}

/// Launches `sub` into `course` with `roles`, each launch through its own resource link.
pub async fn launch_as(
    app: &TestApp,
    platform: &TestPlatform,
    sub: &str,
    given_name: &str,
    family_name: &str,
    course: &str,
    roles: &[&str],
) -> Person {
    let user = TestUser::new(sub, given_name, family_name, &format!("{sub}@example.edu"));
    let claims = platform
        .resource_link_claims(&app.launch_url())
        .with_user(&user)
        .with_roles(roles.iter().copied())
        .with(&[claim::CONTEXT, "id"], course)
        .with(&[claim::CONTEXT, "title"], format!("Course {course}"))
        .with(&[claim::RESOURCE_LINK, "id"], format!("link-{sub}-{course}"));
    let browser = Browser::new();
    // The launch stops at the tool's redirect, so these tests do not depend on the landing page.
    let spec = LaunchSpec::new(claims).stop_after(LaunchStage::ToolLaunch);
    let page = platform.launch(&browser, &app.login_url(), spec).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "launch of {sub} into {course}: {}", describe(&page));
    let token = page
        .location_param("_s")
        .unwrap_or_else(|| panic!("the launch of {sub} redirected without a page token: {}", describe(&page)));
    let session = session_of(app, &token).await;
    Person { browser, token, session, name: user.name() }
}

pub async fn participant(app: &TestApp, platform: &TestPlatform, sub: &str, given: &str, course: &str) -> Person {
    launch_as(app, platform, sub, given, "Teacher", course, &[role::LEARNER]).await
}

pub async fn assessor(app: &TestApp, platform: &TestPlatform, sub: &str, given: &str, course: &str) -> Person {
    launch_as(app, platform, sub, given, "Coach", course, &[role::INSTRUCTOR]).await
}

/// Enrols `person` in the test micro-credential, writes `text` for
/// `component` and submits it. Returns the attempt id.
pub async fn submit_work(app: &TestApp, person: &Person, component: &str, text: &str) -> i64 {
    let db = &app.state.db;
    let viewer = person.viewer();
    let enrollment = participation::enroll(db, &viewer, SLUG, &["open-questions".to_string()]).await.expect("enrol");
    let draft = participation::open_draft(db, &viewer, enrollment.id, component).await.expect("open a draft");
    let input = DraftInput { text: text.to_string(), reflection: String::new(), links: Vec::new() };
    participation::save_draft(db, &viewer, draft.id, input).await.expect("save the draft");
    participation::submit(db, app.state.state_hook(), &viewer, draft.id).await.expect("submit");
    draft.id
}

/// Ratings that master the test rubric.
pub const MASTERED: &[(&str, &str)] = &[("rating.clarity", "proficient"), ("rating.evidence", "exemplary")];

pub async fn stored_attempt(app: &TestApp, attempt_id: i64) -> attempt::Model {
    attempt::Entity::find_by_id(attempt_id)
        .one(&app.state.db)
        .await
        .expect("read the attempt")
        .expect("the attempt exists")
}

pub async fn stored_assessments(app: &TestApp, attempt_id: i64) -> Vec<assessment::Model> {
    assessment::Entity::find()
        .filter(assessment::Column::AttemptId.eq(attempt_id))
        .all(&app.state.db)
        .await
        .expect("read the assessments")
}

/// Returns the page's form whose action path is `path`.
pub fn form_to(page: &Page, path: &str) -> HtmlForm {
    page.forms()
        .into_iter()
        .find(|form| form.action.path() == path)
        .unwrap_or_else(|| panic!("no form posts to {path}: {}", describe(page)))
}

/// Counts the rows of a queue page.
fn queue_rows(page: &Page) -> usize {
    page.body.matches("href=\"/app/assess/attempts/").count()
}

// The queue.

#[tokio::test]
async fn queue_lists_and_filters_by_component() {
    let (app, platform) = start().await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let coach = assessor(&app, &platform, "coach", "Carol", "course-1").await;
    let norms = submit_work(&app, &ada, "norms", "Our class norms.").await;
    let plan = submit_work(&app, &ada, "plan", "The plan.").await;

    let page = coach.get(&app, "/app/assess").await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains("Ada Teacher"), "{}", describe(&page));
    assert!(page.body.contains(TITLE), "{}", describe(&page));
    assert!(page.body.contains("Component 1: norms"), "{}", describe(&page));
    assert!(page.body.contains("Component 2: plan"), "{}", describe(&page));
    assert!(page.body.contains(&format!("href=\"/app/assess/attempts/{norms}?_s=")), "{}", describe(&page));
    assert!(page.body.contains(&format!("href=\"/app/assess/participants/{}?_s=", ada.user_id())));
    assert_eq!(queue_rows(&page), 2);
    let first = page.body.find(&format!("/app/assess/attempts/{norms}?")).expect("the norms row");
    let second = page.body.find(&format!("/app/assess/attempts/{plan}?")).expect("the plan row");
    assert!(first < second, "the queue lists the oldest submission first");

    // The filter form carries the page token in a hidden field, so it works
    // in a browser without the session cookie.
    let mut filter = page
        .forms()
        .into_iter()
        .find(|form| form.method == Method::GET && form.action.path() == "/app/assess")
        .expect("the filter form");
    filter.set_field("component", "plan");
    let filtered = Browser::new().submit_form(&filter).await;

    assert_eq!(filtered.status, StatusCode::OK, "{}", describe(&filtered));
    assert_eq!(queue_rows(&filtered), 1, "{}", describe(&filtered));
    assert!(filtered.body.contains(&format!("/app/assess/attempts/{plan}?")));
    assert!(!filtered.body.contains(&format!("/app/assess/attempts/{norms}?")));

    filter.set_field("component", "lesson");
    let nothing = Browser::new().submit_form(&filter).await;
    assert_eq!(queue_rows(&nothing), 0);
    assert!(nothing.body.contains("Nothing matching this filter is waiting"), "{}", describe(&nothing));

    filter.set_field("component", "").set_field("credential", SLUG);
    let by_credential = Browser::new().submit_form(&filter).await;
    assert_eq!(queue_rows(&by_credential), 2, "{}", describe(&by_credential));
}

#[tokio::test]
async fn queue_of_other_course_is_empty() {
    let (app, platform) = start().await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let stranger = assessor(&app, &platform, "stranger", "Sam", "course-2").await;
    let attempt_id = submit_work(&app, &ada, "norms", "Our class norms.").await;

    let queue = stranger.get(&app, "/app/assess").await;
    let form = stranger.get(&app, &format!("/app/assess/attempts/{attempt_id}")).await;
    let post = stranger.post(&app, &format!("/app/assess/attempts/{attempt_id}"), MASTERED).await;
    let history = stranger.get(&app, &format!("/app/assess/participants/{}", ada.user_id())).await;

    assert_eq!(queue.status, StatusCode::OK, "{}", describe(&queue));
    assert_eq!(queue_rows(&queue), 0);
    assert!(queue.body.contains("Nothing is waiting for assessment"), "{}", describe(&queue));
    assert_eq!(form.status, StatusCode::NOT_FOUND, "{}", describe(&form));
    assert_eq!(post.status, StatusCode::NOT_FOUND, "{}", describe(&post));
    assert_eq!(history.status, StatusCode::NOT_FOUND, "{}", describe(&history));
    assert_eq!(stored_attempt(&app, attempt_id).await.status, "submitted");
}

#[tokio::test]
async fn participant_is_forbidden_on_assessor_pages() {
    let (app, platform) = start().await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let attempt_id = submit_work(&app, &ada, "norms", "Our class norms.").await;

    let queue = ada.get(&app, "/app/assess").await;
    let form = ada.get(&app, &format!("/app/assess/attempts/{attempt_id}")).await;
    let post = ada.post(&app, &format!("/app/assess/attempts/{attempt_id}"), MASTERED).await;
    let history = ada.get(&app, &format!("/app/assess/participants/{}", ada.user_id())).await;

    assert_eq!(queue.status, StatusCode::FORBIDDEN, "{}", describe(&queue));
    assert_eq!(form.status, StatusCode::FORBIDDEN, "{}", describe(&form));
    assert_eq!(post.status, StatusCode::FORBIDDEN, "{}", describe(&post));
    assert_eq!(history.status, StatusCode::FORBIDDEN, "{}", describe(&history));
    assert_eq!(stored_attempt(&app, attempt_id).await.status, "submitted");
}

#[tokio::test]
async fn assessor_cannot_assess_own_submission() {
    let (app, platform) = start().await;
    let both = launch_as(&app, &platform, "tess", "Tess", "Both", "course-1", &[role::LEARNER, role::INSTRUCTOR]).await;
    let attempt_id = submit_work(&app, &both, "norms", "My own norms.").await;

    let queue = both.get(&app, "/app/assess").await;
    let form = both.get(&app, &format!("/app/assess/attempts/{attempt_id}")).await;
    let post = both.post(&app, &format!("/app/assess/attempts/{attempt_id}"), MASTERED).await;

    assert_eq!(queue.status, StatusCode::OK, "{}", describe(&queue));
    assert!(queue.body.contains("Your own submission"), "{}", describe(&queue));
    assert_eq!(queue_rows(&queue), 0, "no Assess link for one's own submission");
    assert_eq!(form.status, StatusCode::FORBIDDEN, "{}", describe(&form));
    assert!(form.body.contains("You cannot assess your own submission"), "{}", describe(&form));
    assert_eq!(post.status, StatusCode::FORBIDDEN, "{}", describe(&post));
    assert_eq!(stored_attempt(&app, attempt_id).await.status, "submitted");
    assert!(stored_assessments(&app, attempt_id).await.is_empty());
}

// The assessment form.

#[tokio::test]
async fn assessment_form_shows_work_and_rubric() {
    let (app, platform) = start().await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let coach = assessor(&app, &platform, "coach", "Carol", "course-1").await;
    let attempt_id = submit_work(&app, &ada, "norms", "Students <b>proposed</b> the norms.").await;

    let page = coach.get(&app, &format!("/app/assess/attempts/{attempt_id}")).await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains("Describe your work on norms."), "the prompt: {}", describe(&page));
    assert!(page.body.contains("Students &lt;b&gt;proposed&lt;"), "the text, escaped: {}", describe(&page));
    assert!(!page.body.contains("<b>proposed"), "the text is escaped");
    assert!(page.body.contains("Mastered only when every criterion is at or above its mastery level"));
    assert!(page.body.contains("<legend>Clarity of the plan</legend>"));
    assert!(page.body.contains("<strong>Proficient</strong> (mastery)"));
    assert!(page.body.contains("name=\"rating.clarity\" value=\"beginning\""));
    assert!(page.body.contains("name=\"feedback.evidence\""));
    assert!(page.body.contains("name=\"overall_comment\""));
    assert!(page.body.contains("Save assessment"));
    let form = form_to(&page, &format!("/app/assess/attempts/{attempt_id}"));
    assert_eq!(form.method, Method::POST);
    assert!(form.action.query_pairs().any(|(name, _)| name == "_s"), "the action carries the page token");
}

#[tokio::test]
async fn incomplete_assessment_keeps_choices() {
    let (app, platform) = start().await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let coach = assessor(&app, &platform, "coach", "Carol", "course-1").await;
    let attempt_id = submit_work(&app, &ada, "norms", "Our class norms.").await;
    let path = format!("/app/assess/attempts/{attempt_id}");
    let page = coach.get(&app, &path).await;
    let form = form_to(&page, &path)
        .with_field("rating.clarity", "developing")
        .with_field("feedback.evidence", "Attach two student exit slips.")
        .with_field("overall_comment", "A good start.\nKeep going.");

    let answer = coach.browser.submit_form(&form).await;

    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", describe(&answer));
    assert!(answer.body.contains("The assessment was not saved"), "{}", describe(&answer));
    assert!(answer.body.contains("criterion &quot;evidence&quot; is not rated"), "{}", describe(&answer));
    assert!(answer.body.contains("feedback on criterion &quot;clarity&quot; is missing"), "{}", describe(&answer));
    let kept = form_to(&answer, &path);
    assert_eq!(kept.field("rating.clarity"), Some("developing"));
    assert_eq!(kept.field("rating.evidence"), None, "evidence stays unrated");
    assert_eq!(kept.field("feedback.evidence"), Some("Attach two student exit slips."));
    assert_eq!(kept.field("overall_comment"), Some("A good start.\nKeep going."));
    assert_eq!(stored_attempt(&app, attempt_id).await.status, "submitted");
    assert!(stored_assessments(&app, attempt_id).await.is_empty());
}

#[tokio::test]
async fn decisions_follow_rubric() {
    let (app, platform) = start().await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let coach = assessor(&app, &platform, "coach", "Carol", "course-1").await;
    let norms = submit_work(&app, &ada, "norms", "Our class norms.").await;
    let plan = submit_work(&app, &ada, "plan", "The plan.").await;

    let mastered = coach.post(&app, &format!("/app/assess/attempts/{norms}"), MASTERED).await;
    let short = coach
        .post(
            &app,
            &format!("/app/assess/attempts/{plan}"),
            &[
                ("rating.clarity", "proficient"),
                ("rating.evidence", "developing"),
                ("feedback.evidence", "Name the student work behind each claim."),
            ],
        )
        .await;

    assert_eq!(mastered.status, StatusCode::SEE_OTHER, "{}", describe(&mastered));
    let location = mastered.location().expect("a Location header");
    assert_eq!(location.path(), "/app/assess");
    assert!(location.query_pairs().any(|(name, _)| name == "_s"), "the redirect carries a page token");
    let confirmation = coach.browser.follow(&mastered).await;
    assert!(confirmation.body.contains("by Ada Teacher is <strong>Mastered</strong>"), "{}", describe(&confirmation));
    assert_eq!(stored_attempt(&app, norms).await.decision.as_deref(), Some("mastered"));

    assert_eq!(short.status, StatusCode::SEE_OTHER, "{}", describe(&short));
    let confirmation = coach.browser.follow(&short).await;
    assert!(
        confirmation.body.contains("by Ada Teacher is <strong>Not yet mastered</strong>"),
        "{}",
        describe(&confirmation)
    );
    assert_eq!(stored_attempt(&app, plan).await.decision.as_deref(), Some("not_yet_mastered"));
    assert_eq!(queue_rows(&confirmation), 0, "both attempts left the queue");

    // The resubmission shows the earlier attempt with its feedback.
    let resubmitted = submit_work(&app, &ada, "plan", "The revised plan.").await;
    let page = coach.get(&app, &format!("/app/assess/attempts/{resubmitted}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains("Earlier attempts at this component"), "{}", describe(&page));
    assert!(page.body.contains("Name the student work behind each claim."), "{}", describe(&page));
    assert!(page.body.contains(&format!("href=\"/app/attempts/{plan}?_s=")), "{}", describe(&page));
}

#[tokio::test]
async fn second_assessor_gets_conflict() {
    let (app, platform) = start().await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let first = assessor(&app, &platform, "first", "Fiona", "course-1").await;
    let second = assessor(&app, &platform, "second", "Gus", "course-1").await;
    let attempt_id = submit_work(&app, &ada, "norms", "Our class norms.").await;
    let path = format!("/app/assess/attempts/{attempt_id}");
    let first_page = first.get(&app, &path).await;
    let second_page = second.get(&app, &path).await;
    let first_form = form_to(&first_page, &path)
        .with_field("rating.clarity", "proficient")
        .with_field("rating.evidence", "proficient");
    let second_form = form_to(&second_page, &path)
        .with_field("rating.clarity", "beginning")
        .with_field("rating.evidence", "developing")
        .with_field("feedback.clarity", "Gus's feedback on clarity.")
        .with_field("feedback.evidence", "Gus's feedback on evidence.")
        .with_field("overall_comment", "Gus's overall comment.");

    let first_answer = first.browser.form_request(&first_form).follow_redirects(false).send().await;
    let second_answer = second.browser.submit_form(&second_form).await;

    assert_eq!(first_answer.status, StatusCode::SEE_OTHER, "{}", describe(&first_answer));
    assert_eq!(second_answer.status, StatusCode::CONFLICT, "{}", describe(&second_answer));
    assert!(second_answer.body.contains("Your assessment was not saved"), "{}", describe(&second_answer));
    assert!(second_answer.body.contains(&format!("href=\"/app/attempts/{attempt_id}?_s=")));
    assert!(
        second_answer.body.contains("Gus&#x27;s feedback on clarity.")
            || second_answer.body.contains("Gus's feedback on clarity.")
    );
    assert!(
        second_answer.body.contains("Gus&#x27;s overall comment.")
            || second_answer.body.contains("Gus's overall comment.")
    );
    assert!(second_answer.body.contains("assessed by Fiona Coach"), "{}", describe(&second_answer));

    let stored = stored_assessments(&app, attempt_id).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].assessor_user_id, first.user_id());
    assert_eq!(stored[0].decision, "mastered");
    assert_eq!(stored_attempt(&app, attempt_id).await.decision.as_deref(), Some("mastered"));

    // The form of an assessed attempt offers no second assessment.
    let again = second.get(&app, &path).await;
    assert_eq!(again.status, StatusCode::OK, "{}", describe(&again));
    assert!(again.body.contains("Already assessed"), "{}", describe(&again));
    assert!(!again.body.contains("Save assessment"));
}

// A participant's history.

#[tokio::test]
async fn history_shows_attempts_and_progress() {
    let (app, platform) = start().await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let coach = assessor(&app, &platform, "coach", "Carol", "course-1").await;
    let norms = submit_work(&app, &ada, "norms", "Our class norms.").await;
    let plan = submit_work(&app, &ada, "plan", "The plan.").await;
    let saved = coach.post(&app, &format!("/app/assess/attempts/{norms}"), MASTERED).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", describe(&saved));

    let page = coach.get(&app, &format!("/app/assess/participants/{}", ada.user_id())).await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains("<h1>Ada Teacher</h1>"), "{}", describe(&page));
    assert!(page.body.contains(TITLE));
    assert!(page.body.contains("1 of 5 components mastered (20%)"), "{}", describe(&page));
    assert!(page.body.contains("<progress"), "{}", describe(&page));
    assert!(page.body.contains("Component 1: norms: Mastered"), "{}", describe(&page));
    assert!(page.body.contains("Component 2: plan: Submitted"), "{}", describe(&page));
    assert!(page.body.contains(&format!("href=\"/app/attempts/{norms}?_s=")));
    assert!(page.body.contains(&format!("href=\"/app/attempts/{plan}?_s=")));
    assert!(
        page.body.contains(&format!("href=\"/app/assess/attempts/{plan}?_s=")),
        "the waiting attempt links to its form"
    );
    assert!(page.body.contains("assessed by Carol Coach"), "{}", describe(&page));
}
