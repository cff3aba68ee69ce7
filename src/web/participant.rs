//! The participant (educator) pages: the landing page after a launch, the
//! catalogue, a micro-credential's overview with enrolment and self-check,
//! the component page with its draft editor, file uploads, submission, the
//! read-only attempt view, file downloads, the transcript and certificates.
//!
//! Every rule is checked by the services in `crate::workflow`; the handlers
//! here parse the request, call a service and render the result.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use microcred_domain::{count_words, Component, ComponentState, MicroCredential};
use microcred_lti::Role;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::state::AppState;
use crate::store::entities::{assessment, attempt, attempt_file, enrollment};
use crate::web::page::{self, PageBase};
use crate::web::session::{CurrentSession, TOKEN_PARAM};
use crate::web::templates;
use crate::workflow::access::Viewer;
use crate::workflow::participation::{self, DraftInput, Overview};
use crate::workflow::{catalogue, reports, WorkflowError};

/// Header that `static/autosave.js` sends, so the draft handler replies with JSON.
const AUTOSAVE_HEADER: &str = "x-autosave";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", get(home))
        .route("/app/catalogue", get(catalogue_page))
        .route("/app/credentials/{slug}", get(credential_page))
        .route("/app/credentials/{slug}/enroll", post(enroll))
        .route("/app/enrollments/{id}/self-check", post(update_self_check))
        .route("/app/enrollments/{id}/components/{key}", get(component_page))
        .route("/app/enrollments/{id}/components/{key}/attempts", post(start_attempt))
        .route("/app/enrollments/{id}/certificate", get(certificate))
        .route("/app/attempts/{id}", get(attempt_page))
        .route("/app/attempts/{id}/draft", post(save_draft))
        .route("/app/attempts/{id}/files", post(upload_file))
        .route("/app/attempts/{id}/submit", post(submit))
        .route("/app/files/{id}", get(download_file))
        .route("/app/files/{id}/delete", post(delete_file))
        .route("/app/transcript", get(transcript))
        .route("/static/autosave.js", get(autosave_script))
}

// Shared helpers.

/// Builds a 303 See Other to `path` with a fresh page token and the `extra` query parameters.
fn see_other(path: &str, current: &CurrentSession, extra: &[(&str, &str)]) -> Response {
    let mut query: Vec<(&str, &str)> = vec![(TOKEN_PARAM, current.page_token.as_str())];
    query.extend_from_slice(extra);
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
    Redirect::to(&format!("{path}?{encoded}")).into_response()
}

fn component_path(enrollment_id: i64, key: &str) -> String {
    format!("/app/enrollments/{enrollment_id}/components/{key}")
}

/// Formats a date as teachers read it, e.g. `December 4, 2026`.
fn long_date(at: DateTime<Utc>) -> String {
    at.format("%B %-d, %Y").to_string()
}

/// Formats a file size as `512 bytes`, `12 KB` or `3.4 MB`.
fn size_label(bytes: i64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if (bytes as f64) < MB {
        format!("{} KB", (bytes as f64 / 1024.0).round())
    } else {
        format!("{:.1} MB", bytes as f64 / MB)
    }
}

/// Percent-encodes a file name for `filename*=UTF-8''…` (RFC 8187): every byte
/// outside the `attr-char` set is written as `%XX`.
fn encode_ext_value(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The query parameter that names a message to show after a redirect.
#[derive(Debug, Default, Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

/// Returns the message for a `notice` code, or `None` for an unknown code.
fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "enrolled" => Some("You are registered. Open a component below to start your first draft."),
        "self-check" => Some("Your self-check is updated."),
        "started" => Some("Your draft is open. Write below and select Save draft as you go."),
        "saved" => Some("Your draft is saved."),
        "file-added" => Some("The file is attached to your draft."),
        "file-removed" => Some("The file is removed from your draft."),
        "submitted" => Some("Your work is submitted. An assessor will review it against the rubric."),
        _ => None,
    }
}

/// Returns the self-check keys stored with an enrolment.
fn ticked_keys(enrollment: &enrollment::Model) -> Vec<String> {
    serde_json::from_str(&enrollment.self_check).unwrap_or_default()
}

/// Capitalizes the first letter of each problem, because the domain writes
/// problems as clauses ("the text has 4 words, …") and the page lists them as sentences.
fn as_sentences(problems: Vec<String>) -> Vec<String> {
    problems
        .into_iter()
        .map(|problem| {
            let mut chars = problem.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => problem,
            }
        })
        .collect()
}

/// Returns the values of every field called `name` in a urlencoded form.
fn field_values(fields: &[(String, String)], name: &str) -> Vec<String> {
    fields.iter().filter(|(field, _)| field == name).map(|(_, value)| value.clone()).collect()
}

// Landing page and catalogue.

/// The signed-in user, course and role, as the landing page lists them.
#[derive(Debug, Serialize)]
struct SignedIn {
    user_name: Option<String>,
    user_email: Option<String>,
    course_title: Option<String>,
    course_label: Option<String>,
    role_label: &'static str,
    platform_name: Option<String>,
}

fn signed_in(current: &CurrentSession, base: &PageBase) -> SignedIn {
    let session = &current.session;
    SignedIn {
        user_name: base.user_name.clone(),
        user_email: base.who.email.clone(),
        course_title: base.who.course.clone(),
        course_label: base.who.course_label.clone(),
        role_label: base.who.role_label,
        platform_name: session.details.platform_name.clone(),
    }
}

/// Renders the landing page after a launch. For a participant launched from
/// a link that names a micro-credential, it renders that overview, so the
/// launch still ends on `/app`.
async fn home(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    let base = page::base(&state, &current).await?;
    let signed_in = signed_in(&current, &base);
    let session = &current.session;
    let viewer = Viewer::from(session);

    let mut missing_credential = None;
    if let Some(slug) = session.landing_credential() {
        // The launch that opened the session may have read the overview already.
        let read_by_launch = state.fresh_overviews.take(&session.id).filter(|overview| overview.entry.slug == slug);
        let overview = match read_by_launch {
            Some(overview) => Ok(overview),
            None => participation::overview(&state.db, &viewer, slug).await,
        };
        match overview {
            Ok(overview) => {
                let html = render_overview(&base, &overview, None, Some(&signed_in))?;
                return Ok(html.into_response());
            }
            Err(WorkflowError::NotFound(_)) => missing_credential = Some(slug.to_string()),
            Err(error) => return Err(error.into()),
        }
    }

    let entries = if session.roles.has(Role::Participant) { catalogue::list(&state.db).await? } else { Vec::new() };
    let html = page::render(
        "home.html",
        &base,
        minijinja::context! {
            signed_in => signed_in,
            entries => entries,
            linked_credential => session.details.credential,
            missing_credential => missing_credential,
            show_assess => session.roles.has(Role::Assessor),
            show_admin => session.roles.has(Role::Admin),
        },
    )?;
    Ok(html.into_response())
}

async fn catalogue_page(State(state): State<AppState>, current: CurrentSession) -> Result<Html<String>, AppError> {
    let base = page::base(&state, &current).await?;
    let entries = catalogue::list(&state.db).await?;
    page::render("participant/catalogue.html", &base, minijinja::context! { entries => entries })
}

// Overview, enrolment and self-check.

/// One self-check statement with whether the educator ticked it.
#[derive(Debug, Serialize)]
struct SelfCheckRow {
    key: String,
    statement: String,
    ticked: bool,
}

/// The fields of an overview that the overview template reads. The
/// components' attempts are left out because the page shows only each component's state.
#[derive(Serialize)]
struct OverviewPage<'a> {
    slug: &'a str,
    enrollment: Option<&'a enrollment::Model>,
    components: Vec<ComponentLine<'a>>,
    mastered_count: usize,
    component_count: usize,
    percent_complete: u8,
    earned_at: Option<DateTime<Utc>>,
    ceus: Option<f64>,
}

#[derive(Serialize)]
struct ComponentLine<'a> {
    key: &'a str,
    title: &'a str,
    state: &'static str,
    state_label: &'static str,
}

impl<'a> OverviewPage<'a> {
    fn of(overview: &'a Overview) -> Self {
        Self {
            slug: &overview.entry.slug,
            enrollment: overview.enrollment.as_ref(),
            components: overview
                .components
                .iter()
                .map(|c| ComponentLine { key: &c.key, title: &c.title, state: c.state, state_label: c.state_label })
                .collect(),
            mastered_count: overview.mastered_count,
            component_count: overview.component_count,
            percent_complete: overview.percent_complete,
            earned_at: overview.earned_at,
            ceus: overview.ceus,
        }
    }
}

/// The fields of a definition that the overview template reads. The
/// rubrics, the bulk of a definition, are left out because turning them
/// into template values took about a quarter of the landing page's CPU.
#[derive(Serialize)]
struct DefinitionSummary<'a> {
    title: &'a str,
    competency: &'a str,
    key_method: &'a str,
    research: &'a microcred_domain::ResearchBasis,
    course: Option<&'a microcred_domain::LearningCourse>,
    ceus: f64,
    estimated_hours: u32,
    component: Vec<ComponentTitle<'a>>,
}

#[derive(Serialize)]
struct ComponentTitle<'a> {
    title: &'a str,
}

impl<'a> DefinitionSummary<'a> {
    fn of(definition: &'a MicroCredential) -> Self {
        Self {
            title: &definition.title,
            competency: &definition.competency,
            key_method: &definition.key_method,
            research: &definition.research,
            course: definition.course.as_ref(),
            ceus: definition.ceus,
            estimated_hours: definition.estimated_hours,
            component: definition.components.iter().map(|c| ComponentTitle { title: &c.title }).collect(),
        }
    }
}

fn render_overview(
    base: &PageBase,
    overview: &Overview,
    notice: Option<&str>,
    signed_in: Option<&SignedIn>,
) -> Result<Html<String>, AppError> {
    let definition = &overview.entry.definition;
    let ticked = overview.enrollment.as_ref().map(ticked_keys).unwrap_or_default();
    let self_check: Vec<SelfCheckRow> = definition
        .self_check_items
        .iter()
        .map(|item| SelfCheckRow {
            key: item.key.clone(),
            statement: item.statement.clone(),
            ticked: ticked.contains(&item.key),
        })
        .collect();
    // The recommendation follows the stored self-check, so it stays until the educator updates it.
    let outcome = match &overview.enrollment {
        Some(_) => definition.evaluate_self_check(&ticked).ok(),
        None => None,
    };
    page::render(
        "participant/overview.html",
        base,
        minijinja::context! {
            overview => OverviewPage::of(overview),
            definition => DefinitionSummary::of(definition),
            offered => overview.entry.status == catalogue::STATUS_ACTIVE,
            self_check => self_check,
            knowledge_missing => outcome.as_ref().is_some_and(|o| o.prior_knowledge_missing()),
            recommend_course => outcome.as_ref().is_some_and(|o| o.recommend_course),
            earned_on => overview.earned_at.map(long_date),
            notice => notice,
            signed_in => signed_in,
        },
    )
}

async fn credential_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(slug): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Html<String>, AppError> {
    let base = page::base(&state, &current).await?;
    let viewer = Viewer::from(&current.session);
    let overview = participation::overview(&state.db, &viewer, &slug).await?;
    render_overview(&base, &overview, notice_text(query.notice.as_deref()), None)
}

async fn enroll(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The registration form could not be read ({e}). Reload the page and try again.")))?;
    let ticked = field_values(&fields, "self_check");
    let viewer = Viewer::from(&current.session);
    let enrollment = participation::enroll(&state.db, &viewer, &slug, &ticked).await?;
    let entry = catalogue::version(&state.db, enrollment.credential_version_id).await?;
    Ok(see_other(&format!("/app/credentials/{}", entry.slug), &current, &[("notice", "enrolled")]))
}

async fn update_self_check(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(enrollment_id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The self-check form could not be read ({e}). Reload the page and try again.")))?;
    let ticked = field_values(&fields, "self_check");
    let viewer = Viewer::from(&current.session);
    participation::save_self_check(&state.db, &viewer, enrollment_id, &ticked).await?;
    let enrollment = participation::enrollment_by_id(&state.db, enrollment_id).await?;
    let entry = catalogue::version(&state.db, enrollment.credential_version_id).await?;
    Ok(see_other(&format!("/app/credentials/{}", entry.slug), &current, &[("notice", "self-check")]))
}

// Attempts as read-only views.

/// A link from a submission; only http and https links become anchors.
#[derive(Debug, Serialize)]
struct LinkView {
    url: String,
    clickable: bool,
}

fn link_views(links: &[String]) -> Vec<LinkView> {
    links
        .iter()
        .map(|link| {
            let clickable = url::Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            LinkView { url: link.clone(), clickable }
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct FileView {
    id: i64,
    name: String,
    content_type: String,
    size: String,
}

fn file_views(files: &[attempt_file::Model]) -> Vec<FileView> {
    files
        .iter()
        .map(|file| FileView {
            id: file.id,
            name: file.original_name.clone(),
            content_type: file.content_type.clone(),
            size: size_label(file.size_bytes),
        })
        .collect()
}

/// The assessor's rating of one criterion.
#[derive(Debug, Serialize)]
struct CriterionResult {
    title: String,
    level_label: String,
    mastery_label: String,
    feedback: String,
}

#[derive(Debug, Serialize)]
struct AssessmentView {
    mastered: bool,
    decision_label: &'static str,
    overall_comment: String,
    criteria: Vec<CriterionResult>,
    assessed_at: DateTime<Utc>,
}

fn assessment_view(row: &assessment::Model, component: Option<&Component>) -> AssessmentView {
    let ratings: BTreeMap<String, String> = serde_json::from_str(&row.ratings).unwrap_or_default();
    let mut feedback: BTreeMap<String, String> = serde_json::from_str(&row.feedback).unwrap_or_default();
    let criteria = match component {
        Some(component) => component
            .rubric
            .criteria
            .iter()
            .map(|criterion| {
                let label_of = |key: &str| {
                    criterion.levels.iter().find(|l| l.key == key).map(|l| l.label.clone()).unwrap_or_else(|| key.to_string())
                };
                CriterionResult {
                    title: criterion.title.clone(),
                    level_label: ratings.get(&criterion.key).map(|k| label_of(k)).unwrap_or_else(|| "Not rated".into()),
                    mastery_label: label_of(&criterion.mastery_level),
                    feedback: feedback.remove(&criterion.key).unwrap_or_default(),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let mastered = row.decision == participation::DECISION_MASTERED;
    AssessmentView {
        mastered,
        decision_label: if mastered { "Mastered" } else { "Not yet mastered" },
        overall_comment: row.overall_comment.clone(),
        criteria,
        assessed_at: row.created_at,
    }
}

/// One attempt as the read-only views show it.
#[derive(Debug, Serialize)]
struct AttemptView {
    id: i64,
    number: i32,
    status_label: &'static str,
    text: String,
    reflection: String,
    links: Vec<LinkView>,
    files: Vec<FileView>,
    created_at: DateTime<Utc>,
    submitted_at: Option<DateTime<Utc>>,
    assessment: Option<AssessmentView>,
}

fn status_label(row: &attempt::Model) -> &'static str {
    match (row.status.as_str(), row.decision.as_deref()) {
        (participation::ATTEMPT_DRAFT, _) => "Draft",
        (_, Some(participation::DECISION_MASTERED)) => "Mastered",
        (_, Some(participation::DECISION_NOT_YET)) => "Not yet mastered",
        _ => "Submitted, waiting for assessment",
    }
}

fn attempt_view(detail: &participation::AttemptDetail, component: Option<&Component>) -> AttemptView {
    let row = &detail.attempt;
    AttemptView {
        id: row.id,
        number: row.number,
        status_label: status_label(row),
        text: row.text.clone(),
        reflection: row.reflection.clone(),
        links: link_views(&detail.links),
        files: file_views(&detail.files),
        created_at: row.created_at,
        submitted_at: row.submitted_at,
        assessment: detail.assessment.as_ref().map(|a| assessment_view(a, component)),
    }
}

async fn attempt_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(attempt_id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let base = page::base(&state, &current).await?;
    let viewer = Viewer::from(&current.session);
    let detail = participation::attempt_detail(&state.db, &viewer, attempt_id).await?;
    let component = detail.entry.definition.component(&detail.attempt.component_key);
    let view = attempt_view(&detail, component);
    let own = detail.enrollment.user_id == current.session.user_id;
    page::render(
        "participant/attempt.html",
        &base,
        minijinja::context! {
            attempt => view,
            credential_title => detail.entry.definition.title,
            component_title => component.map(|c| c.title.clone()).unwrap_or_else(|| detail.attempt.component_key.clone()),
            component_link => own.then(|| component_path(detail.enrollment.id, &detail.attempt.component_key)),
        },
    )
}

// The component page and its draft editor.

/// Fields of the draft form. A field left out keeps its stored value.
#[derive(Debug, Clone, Default, Deserialize)]
struct DraftForm {
    text: Option<String>,
    reflection: Option<String>,
    /// One link per line.
    links: Option<String>,
}

impl DraftForm {
    fn is_empty(&self) -> bool {
        self.text.is_none() && self.reflection.is_none() && self.links.is_none()
    }

    /// Builds the draft to save from the posted fields and the stored value of each field not posted.
    fn merged_with(&self, stored: Option<&attempt::Model>) -> DraftInput {
        let stored_links = stored.map(participation::links_of).unwrap_or_default();
        DraftInput {
            text: self.text.clone().or_else(|| stored.map(|a| a.text.clone())).unwrap_or_default(),
            reflection: self.reflection.clone().or_else(|| stored.map(|a| a.reflection.clone())).unwrap_or_default(),
            links: match &self.links {
                Some(lines) => lines.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect(),
                None => stored_links,
            },
        }
    }
}

/// The open draft, as the editor shows it.
#[derive(Debug, Serialize)]
struct DraftEditor {
    attempt_id: i64,
    number: i32,
    text: String,
    reflection: String,
    links_text: String,
    text_words: usize,
    reflection_words: usize,
    link_count: usize,
    updated_at: DateTime<Utc>,
    files: Vec<FileView>,
}

impl DraftEditor {
    fn new(row: &attempt::Model, files: &[attempt_file::Model], posted: Option<&DraftForm>) -> Self {
        let stored_links = participation::links_of(row).join("\n");
        let posted = posted.cloned().unwrap_or_default();
        let text = posted.text.unwrap_or_else(|| row.text.clone());
        let reflection = posted.reflection.unwrap_or_else(|| row.reflection.clone());
        let links_text = posted.links.unwrap_or(stored_links);
        DraftEditor {
            attempt_id: row.id,
            number: row.number,
            text_words: count_words(&text),
            reflection_words: count_words(&reflection),
            link_count: links_text.lines().filter(|l| !l.trim().is_empty()).count(),
            text,
            reflection,
            links_text,
            updated_at: row.updated_at,
            files: file_views(files),
        }
    }
}

/// Messages and unsaved input that a component page shows besides the stored state.
#[derive(Debug, Default)]
struct ComponentExtras {
    notice: Option<&'static str>,
    /// Text the educator posted and that was not saved.
    posted: Option<DraftForm>,
    /// Heading of the problem list, e.g. "Your draft was not submitted".
    problems_title: Option<&'static str>,
    problems: Vec<String>,
    file_problems: Vec<String>,
}

async fn render_component(
    state: &AppState,
    current: &CurrentSession,
    enrollment_id: i64,
    key: &str,
    extras: ComponentExtras,
) -> Result<Html<String>, AppError> {
    let db = &state.db;
    let base = page::base(state, current).await?;
    let viewer = Viewer::from(&current.session);

    let enrollment = participation::enrollment_by_id(db, enrollment_id).await?;
    viewer.check_owner(&enrollment)?;
    let entry = catalogue::version(db, enrollment.credential_version_id).await?;
    let definition: &MicroCredential = &entry.definition;
    let component = definition
        .component(key)
        .ok_or_else(|| AppError::NotFound(format!("{} has no component {key:?}. Go back to its overview and pick a component.", definition.title)))?;

    let attempts: Vec<attempt::Model> = participation::attempts_of(db, enrollment.id)
        .await?
        .into_iter()
        .filter(|a| a.component_key == key)
        .collect();
    let summaries: Vec<_> = attempts.iter().map(participation::summary).collect();
    let component_state = microcred_domain::component_state(&summaries)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("attempts of enrolment {} break the rules: {e}", enrollment.id)))?;
    let (state_name, state_label) = participation::state_name(&component_state);
    let can_start = component_state.check_new_attempt().is_ok();
    let mastered_on = match component_state {
        ComponentState::Mastered { mastered_at } => Some(long_date(mastered_at)),
        _ => None,
    };
    let waiting_since = match component_state {
        ComponentState::Submitted => attempts.last().and_then(|a| a.submitted_at).map(long_date),
        _ => None,
    };

    let mut draft = None;
    let mut earlier = Vec::new();
    for row in attempts.iter().rev() {
        if row.status == participation::ATTEMPT_DRAFT {
            let files = participation::files_of(db, row.id).await?;
            draft = Some(DraftEditor::new(row, &files, extras.posted.as_ref()));
        } else {
            let detail = participation::attempt_detail(db, &viewer, row.id).await?;
            earlier.push(attempt_view(&detail, Some(component)));
        }
    }
    let max_files = component.submission.files.as_ref().map(|f| f.max_count as usize).unwrap_or(0);
    let can_add_file = draft.as_ref().is_some_and(|d| d.files.len() < max_files);

    page::render(
        "participant/component.html",
        &base,
        minijinja::context! {
            credential_title => definition.title,
            credential_slug => entry.slug,
            enrollment_id => enrollment.id,
            component => component,
            state => state_name,
            state_label => state_label,
            can_start => can_start,
            start_label => if attempts.is_empty() { "Start a draft" } else { "Start a new attempt" },
            mastered_on => mastered_on,
            waiting_since => waiting_since,
            draft => draft,
            earlier => earlier,
            can_add_file => can_add_file,
            max_file_mb => state.settings.storage.max_file_mb,
            notice => extras.notice,
            problems_title => extras.problems_title,
            problems => as_sentences(extras.problems),
            file_problems => as_sentences(extras.file_problems),
        },
    )
}

async fn component_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Path((enrollment_id, key)): Path<(i64, String)>,
    Query(query): Query<NoticeQuery>,
) -> Result<Html<String>, AppError> {
    let extras = ComponentExtras { notice: notice_text(query.notice.as_deref()), ..Default::default() };
    render_component(&state, &current, enrollment_id, &key, extras).await
}

async fn start_attempt(
    State(state): State<AppState>,
    current: CurrentSession,
    Path((enrollment_id, key)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    let draft = participation::open_draft(&state.db, &viewer, enrollment_id, &key).await?;
    Ok(see_other(&component_path(draft.enrollment_id, &draft.component_key), &current, &[("notice", "started")]))
}

// Saving and submitting drafts.

/// A draft post: the session if it is still live, the posted fields, and
/// whether `static/autosave.js` sent it.
struct DraftPost {
    current: Result<CurrentSession, AppError>,
    form: DraftForm,
    autosave: bool,
}

/// Reads the form body even when the session is missing, so that the text
/// can be shown back to the educator instead of being lost.
async fn read_draft_post(state: &AppState, request: Request) -> Result<DraftPost, Response> {
    let autosave = request.headers().contains_key(AUTOSAVE_HEADER);
    let (mut parts, body) = request.into_parts();
    let current = CurrentSession::from_request_parts(&mut parts, state).await;
    let bytes = Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
    let form: DraftForm = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
        AppError::BadRequest(format!("The draft form could not be read ({e}). Reload the page and try again.")).into_response()
    })?;
    Ok(DraftPost { current, form, autosave })
}

#[derive(Serialize)]
struct AutosaveReply {
    saved: bool,
    message: String,
    /// A fresh page token, for the script to put in the page's links and forms.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

fn autosave_reply(status: StatusCode, message: impl Into<String>, token: Option<String>) -> Response {
    let saved = status.is_success();
    (status, Json(AutosaveReply { saved, message: message.into(), token })).into_response()
}

/// Renders the page for posted text that could not be saved: it explains why
/// and shows the text in read-only fields to copy.
fn unsaved_page(
    status: StatusCode,
    title: &str,
    message: &str,
    next_step: &str,
    form: &DraftForm,
    base: Option<&PageBase>,
) -> Response {
    let extra = minijinja::context! {
        title => title,
        message => message,
        next_step => next_step,
        text => form.text,
        reflection => form.reflection,
        links => form.links,
    };
    let html = match base {
        Some(base) => page::render("participant/unsaved.html", base, extra),
        None => templates::render("participant/unsaved.html", extra).map_err(AppError::from),
    };
    match html {
        Ok(html) => (status, html).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Builds the response to a draft post whose session has ended.
fn session_ended(post: &DraftPost) -> Response {
    let message = "Your session in microcred ended, so the changes you just sent were not saved. \
                   They are shown below: copy them before you leave this page.";
    if post.autosave {
        return autosave_reply(StatusCode::UNAUTHORIZED, "Not saved: your session has ended. Select Save draft to see your text and what to do next.", None);
    }
    unsaved_page(
        StatusCode::UNAUTHORIZED,
        "Your session has ended",
        message,
        "Open microcred again from your course page. Your last saved draft is waiting there; paste in the text you copied and save it.",
        &post.form,
        None,
    )
}

/// Returns the live session of a draft post, or the response to send when there is none.
fn live_session(post: &DraftPost) -> Result<&CurrentSession, Response> {
    match &post.current {
        Ok(current) => Ok(current),
        Err(AppError::NoSession) => Err(session_ended(post)),
        // A post without a page token did not come from a microcred page.
        Err(AppError::Forbidden(message)) if post.autosave => {
            Err(autosave_reply(StatusCode::FORBIDDEN, format!("Not saved: {message}"), None))
        }
        Err(AppError::Forbidden(message)) => Err(AppError::Forbidden(message.clone()).into_response()),
        Err(error) => {
            tracing::error!(error = %error, "resolving the session of a draft post failed");
            let message = "Your changes were not saved because microcred could not check your session. \
                           Copy your text below, then try again in a minute.";
            if post.autosave {
                return Err(autosave_reply(error.status(), format!("Not saved: {message}"), None));
            }
            Err(unsaved_page(error.status(), "Your changes were not saved", message, "Copy your text from below before you leave this page.", &post.form, None))
        }
    }
}

/// Builds the response to a save or submit that failed for a reason other than invalid input.
fn save_failed(post: &DraftPost, current: &CurrentSession, base: Option<&PageBase>, error: WorkflowError) -> Response {
    let (status, message) = match error {
        WorkflowError::Conflict(m) => (StatusCode::CONFLICT, m),
        WorkflowError::NotFound(m) => (StatusCode::NOT_FOUND, m),
        WorkflowError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
        WorkflowError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
        WorkflowError::Invalid(problems) => (StatusCode::BAD_REQUEST, problems.join(" ")),
        WorkflowError::Database(e) => internal_save_error(current, e.into()),
        WorkflowError::Internal(e) => internal_save_error(current, e),
    };
    if post.autosave {
        return autosave_reply(status, format!("Not saved: {message}"), None);
    }
    unsaved_page(
        status,
        "Your changes were not saved",
        &message,
        "Copy your text from below before you leave this page.",
        &post.form,
        base,
    )
}

fn internal_save_error(current: &CurrentSession, error: anyhow::Error) -> (StatusCode, String) {
    tracing::error!(error = format!("{error:#}"), user_id = current.session.user_id, "saving a draft failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Saving failed because of an error in microcred. Try again in a minute; if it keeps failing, tell your administrator.".to_string(),
    )
}

/// Saves the posted fields into the draft, or returns the response to send
/// when the save failed: the editor with the problems for invalid input, the
/// page with the unsaved text otherwise.
async fn save_posted_draft(
    state: &AppState,
    current: &CurrentSession,
    post: &DraftPost,
    attempt_id: i64,
) -> Result<attempt::Model, Response> {
    let viewer = Viewer::from(&current.session);
    let complete = post.form.text.is_some() && post.form.reflection.is_some() && post.form.links.is_some();
    let stored = if complete {
        None
    } else {
        match participation::attempt_detail(&state.db, &viewer, attempt_id).await {
            Ok(detail) => Some(detail.attempt),
            Err(error) => return Err(save_failed(post, current, None, error)),
        }
    };
    let input = post.form.merged_with(stored.as_ref());
    match participation::save_draft(&state.db, &viewer, attempt_id, input).await {
        Ok(row) => Ok(row),
        Err(WorkflowError::Invalid(problems)) => {
            if post.autosave {
                return Err(autosave_reply(StatusCode::BAD_REQUEST, format!("Not saved: {}", problems.join(" ")), None));
            }
            let extras = ComponentExtras {
                posted: Some(post.form.clone()),
                problems_title: Some("Your draft was not saved"),
                problems,
                ..Default::default()
            };
            Err(rerender_for_attempt(state, current, attempt_id, StatusCode::BAD_REQUEST, extras).await)
        }
        Err(error) => {
            let base = page::base(state, current).await.ok();
            Err(save_failed(post, current, base.as_ref(), error))
        }
    }
}

/// Renders the component page of an attempt with `extras`, with status `status`.
async fn rerender_for_attempt(
    state: &AppState,
    current: &CurrentSession,
    attempt_id: i64,
    status: StatusCode,
    extras: ComponentExtras,
) -> Response {
    let row = match participation::attempt_by_id(&state.db, attempt_id).await {
        Ok(row) => row,
        Err(error) => return AppError::from(error).into_response(),
    };
    match render_component(state, current, row.enrollment_id, &row.component_key, extras).await {
        Ok(html) => (status, html).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn save_draft(State(state): State<AppState>, Path(attempt_id): Path<i64>, request: Request) -> Response {
    let post = match read_draft_post(&state, request).await {
        Ok(post) => post,
        Err(response) => return response,
    };
    let current = match live_session(&post) {
        Ok(current) => current,
        Err(response) => return response,
    };
    match save_posted_draft(&state, current, &post, attempt_id).await {
        Ok(row) if post.autosave => {
            let saved_at = row.updated_at.format("%H:%M UTC");
            autosave_reply(StatusCode::OK, format!("Saved {saved_at}"), Some(current.page_token.clone()))
        }
        Ok(row) => see_other(&component_path(row.enrollment_id, &row.component_key), current, &[("notice", "saved")]),
        Err(response) => response,
    }
}

/// Submits a draft. The form may carry the editor's fields (the submit
/// button sits in the draft form), which are saved first.
async fn submit(State(state): State<AppState>, Path(attempt_id): Path<i64>, request: Request) -> Response {
    let mut post = match read_draft_post(&state, request).await {
        Ok(post) => post,
        Err(response) => return response,
    };
    post.autosave = false;
    let current = match live_session(&post) {
        Ok(current) => current,
        Err(response) => return response,
    };
    if !post.form.is_empty() {
        if let Err(response) = save_posted_draft(&state, current, &post, attempt_id).await {
            return response;
        }
    }
    let viewer = Viewer::from(&current.session);
    match participation::submit(&state.db, state.state_hook(), &viewer, attempt_id).await {
        Ok(row) => see_other(&component_path(row.enrollment_id, &row.component_key), current, &[("notice", "submitted")]),
        Err(WorkflowError::Invalid(problems)) => {
            let extras = ComponentExtras {
                problems_title: Some("Your draft is saved but not submitted yet. Fix these problems, then submit again"),
                problems,
                ..Default::default()
            };
            rerender_for_attempt(&state, current, attempt_id, StatusCode::BAD_REQUEST, extras).await
        }
        Err(error) => AppError::from(error).into_response(),
    }
}

// Files.

/// A file read from the upload form.
struct Upload {
    name: String,
    content_type: String,
    bytes: Vec<u8>,
}

/// A problem with the upload form, with the message for the educator.
enum UploadProblem {
    TooLarge(String),
    Invalid(String),
}

/// Reads the `file` field, keeping at most `max_bytes`. The rest of an
/// oversized file is read and dropped, so the browser receives the response
/// instead of a reset connection.
async fn read_upload(multipart: &mut Multipart, max_bytes: u64, max_file_mb: u64) -> Result<Upload, UploadProblem> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            UploadProblem::TooLarge(format!("The file is larger than the limit of {max_file_mb} MB. Compress it or upload a shorter version."))
        } else {
            UploadProblem::Invalid(format!("The upload did not arrive complete ({}). Choose the file again and upload it.", e.body_text()))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or_default().to_string();
        let content_type = field.content_type().unwrap_or("application/octet-stream").to_string();
        let mut bytes = Vec::new();
        let mut too_large = false;
        while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
            if too_large || (bytes.len() + chunk.len()) as u64 > max_bytes {
                too_large = true;
                bytes.clear();
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
        if too_large {
            return Err(UploadProblem::TooLarge(format!(
                "The file {name:?} is larger than the limit of {max_file_mb} MB. Compress it or upload a shorter version."
            )));
        }
        if name.is_empty() && bytes.is_empty() {
            break;
        }
        return Ok(Upload { name, content_type, bytes });
    }
    Err(UploadProblem::Invalid("No file was chosen. Choose a file first, then select Upload file.".into()))
}

async fn upload_file(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(attempt_id): Path<i64>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let settings = &state.settings.storage;
    let max_bytes = settings.max_file_mb.saturating_mul(1024 * 1024);
    let viewer = Viewer::from(&current.session);
    let result = match read_upload(&mut multipart, max_bytes, settings.max_file_mb).await {
        Ok(upload) => participation::add_file(
            &state.db,
            state.files.as_ref(),
            settings,
            &viewer,
            attempt_id,
            &upload.name,
            &upload.content_type,
            &upload.bytes,
        )
        .await
        .map(|_| ()),
        Err(UploadProblem::TooLarge(message)) => Err(WorkflowError::TooLarge(message)),
        Err(UploadProblem::Invalid(message)) => Err(WorkflowError::invalid(message)),
    };
    let (status, problems) = match result {
        Ok(()) => {
            let row = participation::attempt_by_id(&state.db, attempt_id).await?;
            return Ok(see_other(&component_path(row.enrollment_id, &row.component_key), &current, &[("notice", "file-added")]));
        }
        Err(WorkflowError::Invalid(problems)) => (StatusCode::BAD_REQUEST, problems),
        Err(WorkflowError::TooLarge(message)) => (StatusCode::PAYLOAD_TOO_LARGE, vec![message]),
        Err(error) => return Err(error.into()),
    };
    let extras = ComponentExtras { file_problems: problems, ..Default::default() };
    Ok(rerender_for_attempt(&state, &current, attempt_id, status, extras).await)
}

/// The remove button names the attempt, so the redirect can return to its component.
#[derive(Debug, Deserialize)]
struct RemoveFileForm {
    attempt: Option<i64>,
}

async fn delete_file(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(file_id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let form: RemoveFileForm = serde_urlencoded::from_bytes(&body).unwrap_or(RemoveFileForm { attempt: None });
    let viewer = Viewer::from(&current.session);
    participation::remove_file(&state.db, state.files.as_ref(), &viewer, file_id).await?;
    let target = match form.attempt {
        Some(attempt_id) => participation::attempt_by_id(&state.db, attempt_id).await.ok(),
        None => None,
    };
    Ok(match target {
        Some(row) => see_other(&component_path(row.enrollment_id, &row.component_key), &current, &[("notice", "file-removed")]),
        None => see_other("/app", &current, &[]),
    })
}

async fn download_file(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(file_id): Path<i64>,
) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    let (file, bytes) = participation::download(&state.db, state.files.as_ref(), &viewer, file_id).await?;
    let mut headers = HeaderMap::new();
    let content_type = HeaderValue::from_str(&file.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    let disposition = format!("attachment; filename*=UTF-8''{}", encode_ext_value(&file.original_name));
    let disposition = HeaderValue::from_str(&disposition).unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok((headers, bytes).into_response())
}

// Transcript and certificate.

#[derive(Debug, Serialize)]
struct TranscriptRow {
    enrollment_id: i64,
    title: String,
    course: String,
    earned_on: String,
    ceus: f64,
}

async fn transcript(State(state): State<AppState>, current: CurrentSession) -> Result<Html<String>, AppError> {
    let base = page::base(&state, &current).await?;
    let viewer = Viewer::from(&current.session);
    let (rows, total) = reports::transcript(&state.db, &viewer).await?;
    let rows: Vec<TranscriptRow> = rows
        .into_iter()
        .map(|row| TranscriptRow {
            enrollment_id: row.enrollment_id,
            title: row.credential_title,
            course: row.course,
            earned_on: long_date(row.earned_at),
            ceus: row.ceus,
        })
        .collect();
    page::render("participant/transcript.html", &base, minijinja::context! { rows => rows, total => total })
}

async fn certificate(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(enrollment_id): Path<i64>,
) -> Result<Response, AppError> {
    let base = page::base(&state, &current).await?;
    let viewer = Viewer::from(&current.session);
    // The transcript contains exactly the viewer's own earned enrolments.
    let (rows, _) = reports::transcript(&state.db, &viewer).await?;
    let Some(row) = rows.into_iter().find(|row| row.enrollment_id == enrollment_id) else {
        let html = page::render(
            "participant/no_certificate.html",
            &base,
            minijinja::context! {},
        )?;
        return Ok((StatusCode::NOT_FOUND, html).into_response());
    };
    let enrollment = participation::enrollment_by_id(&state.db, enrollment_id).await?;
    let entry = catalogue::version(&state.db, enrollment.credential_version_id).await?;
    let html = page::render(
        "participant/certificate.html",
        &base,
        minijinja::context! {
            participant => row.participant,
            title => row.credential_title,
            competency => entry.definition.competency,
            ceus => row.ceus,
            earned_on => long_date(row.earned_at),
            course => row.course,
            issuer => current.session.details.platform_name,
        },
    )?;
    Ok(html.into_response())
}

async fn autosave_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/autosave.js"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_value_encodes_outside_attr_chars() {
        assert_eq!(encode_ext_value("plan.pdf"), "plan.pdf");
        assert_eq!(encode_ext_value("lesson plan (v2).pdf"), "lesson%20plan%20%28v2%29.pdf");
        assert_eq!(encode_ext_value("résumé.pdf"), "r%C3%A9sum%C3%A9.pdf");
        assert_eq!(encode_ext_value("a\"b;c.txt"), "a%22b%3Bc.txt");
    }

    #[test]
    fn draft_form_keeps_stored_fields_not_posted() {
        let form = DraftForm { text: Some("new text".into()), reflection: None, links: Some("https://a.example\r\n\r\n  https://b.example  ".into()) };
        let input = form.merged_with(None);
        assert_eq!(input.text, "new text");
        assert_eq!(input.reflection, "");
        assert_eq!(input.links, vec!["https://a.example".to_string(), "https://b.example".to_string()]);
    }

    #[test]
    fn problems_become_sentences() {
        let problems = vec!["the text has 4 words".to_string(), String::new(), "Already a sentence.".to_string()];
        assert_eq!(as_sentences(problems), vec!["The text has 4 words", "", "Already a sentence."]);
    }

    #[test]
    fn size_labels() {
        assert_eq!(size_label(512), "512 bytes");
        assert_eq!(size_label(2048), "2 KB");
        assert_eq!(size_label(3 * 1024 * 1024 + 400 * 1024), "3.4 MB");
    }
}
