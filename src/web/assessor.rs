//! Assessor pages: the queue of submitted attempts in the course, the
//! assessment form, and a participant's history. Every read and write goes
//! through `workflow::assessing` and `workflow::participation`, which
//! enforce course scoping and that nobody assesses their own submission.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use microcred_domain::{AssessmentInput, Component, Rubric};
use microcred_lti::Role;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::state::AppState;
use crate::store::entities::{assessment, attempt};
use crate::store::launches as launch_store;
use crate::web::page::{self, PageBase};
use crate::web::session::{CurrentSession, TOKEN_PARAM};
use crate::workflow::access::Viewer;
use crate::workflow::assessing::{self, display_name, QueueFilter, QueueItem};
use crate::workflow::participation::{
    self, AttemptDetail, ATTEMPT_ASSESSED, ATTEMPT_DRAFT, ATTEMPT_SUBMITTED, DECISION_MASTERED,
};
use crate::workflow::{catalogue, WorkflowError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/assess", get(queue_page))
        .route("/app/assess/attempts/{id}", get(assessment_page).post(save_assessment))
        .route("/app/assess/participants/{user_id}", get(history_page))
}

/// Form field names: `rating.<criterion key>` and `feedback.<criterion key>`.
const RATING_PREFIX: &str = "rating.";
const FEEDBACK_PREFIX: &str = "feedback.";
const OVERALL_COMMENT_FIELD: &str = "overall_comment";

/// Builds a 303 to `path` with a fresh page token and `params` in the query.
fn see_other(path: &str, token: &str, params: &[(&str, &str)]) -> Response {
    let mut pairs = vec![(TOKEN_PARAM, token)];
    pairs.extend_from_slice(params);
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    (StatusCode::SEE_OTHER, [(header::LOCATION, format!("{path}?{query}"))]).into_response()
}

fn decision_label(decision: &str) -> &'static str {
    if decision == DECISION_MASTERED {
        "Mastered"
    } else {
        "Not yet mastered"
    }
}

/// Returns the status of an attempt in words.
fn attempt_status_label(row: &attempt::Model) -> &'static str {
    match (row.status.as_str(), row.decision.as_deref()) {
        (ATTEMPT_DRAFT, _) => "Draft, not submitted",
        (ATTEMPT_SUBMITTED, _) => "Submitted, waiting for assessment",
        (ATTEMPT_ASSESSED, Some(decision)) => decision_label(decision),
        _ => "Assessed",
    }
}

/// Display names of users, loaded once per page.
#[derive(Default)]
struct Names(BTreeMap<i64, String>);

impl Names {
    async fn get(&mut self, db: &DatabaseConnection, user_id: i64) -> Result<String, AppError> {
        if let Some(name) = self.0.get(&user_id) {
            return Ok(name.clone());
        }
        let name = launch_store::user_by_id(db, user_id)
            .await?
            .map(|user| display_name(&user))
            .unwrap_or_else(|| format!("User {user_id}"));
        self.0.insert(user_id, name.clone());
        Ok(name)
    }
}

// The queue.

#[derive(Debug, Default, Deserialize)]
struct QueueQuery {
    #[serde(default)]
    credential: Option<String>,
    #[serde(default)]
    component: Option<String>,
    /// Set by the redirect after a saved assessment: the attempt to confirm.
    #[serde(default)]
    assessed: Option<String>,
}

#[derive(Serialize)]
struct FilterOption {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct ComponentGroup {
    label: String,
    options: Vec<FilterOption>,
}

#[derive(Serialize)]
struct QueueRow {
    #[serde(flatten)]
    item: QueueItem,
    participant_user_id: i64,
}

#[derive(Serialize)]
struct Confirmation {
    participant: String,
    component_title: String,
    credential_title: String,
    number: i32,
    decision: &'static str,
    mastered: bool,
    earned: bool,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Builds the filter's select lists from the catalogue. Archived micro-credentials
/// stay in the lists because their participants may still have work waiting.
async fn filter_options(
    db: &DatabaseConnection,
    filter: &QueueFilter,
) -> Result<(Vec<FilterOption>, Vec<ComponentGroup>), AppError> {
    let entries = catalogue::list_all(db).await?;
    let mut credentials = Vec::new();
    let mut groups = Vec::new();
    for entry in &entries {
        let archived = entry.status == catalogue::STATUS_ARCHIVED;
        let title =
            if archived { format!("{} (archived)", entry.definition.title) } else { entry.definition.title.clone() };
        credentials.push(FilterOption {
            value: entry.slug.clone(),
            selected: filter.credential.as_deref() == Some(entry.slug.as_str()),
            label: title.clone(),
        });
        let chosen_elsewhere = filter.credential.as_deref().is_some_and(|slug| slug != entry.slug);
        if chosen_elsewhere {
            continue;
        }
        let options = entry
            .definition
            .components
            .iter()
            .map(|component| FilterOption {
                value: component.key.clone(),
                label: component.title.clone(),
                selected: filter.component.as_deref() == Some(component.key.as_str()),
            })
            .collect();
        groups.push(ComponentGroup { label: title, options });
    }
    Ok((credentials, groups))
}

/// Loads the confirmation shown after a saved assessment. Returns `None`
/// when the attempt is not readable or not assessed.
async fn confirmation(
    db: &DatabaseConnection,
    viewer: &Viewer,
    attempt_id: &str,
    names: &mut Names,
) -> Result<Option<Confirmation>, AppError> {
    let Ok(attempt_id) = attempt_id.parse::<i64>() else { return Ok(None) };
    let detail = match participation::attempt_detail(db, viewer, attempt_id).await {
        Ok(detail) => detail,
        Err(WorkflowError::NotFound(_) | WorkflowError::Forbidden(_)) => {
            tracing::debug!(attempt_id, "no confirmation: the assessed attempt is not readable");
            return Ok(None);
        }
        Err(error) => return Err(error.into()),
    };
    let Some(assessment) = detail.assessment.as_ref() else { return Ok(None) };
    let component_title = detail
        .entry
        .definition
        .component(&detail.attempt.component_key)
        .map(|c| c.title.clone())
        .unwrap_or_else(|| detail.attempt.component_key.clone());
    Ok(Some(Confirmation {
        participant: names.get(db, detail.enrollment.user_id).await?,
        component_title,
        credential_title: detail.entry.definition.title.clone(),
        number: detail.attempt.number,
        decision: decision_label(&assessment.decision),
        mastered: assessment.decision == DECISION_MASTERED,
        earned: detail.enrollment.earned_at.is_some(),
    }))
}

async fn queue_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Query(query): Query<QueueQuery>,
) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    let filter = QueueFilter { credential: non_empty(query.credential), component: non_empty(query.component) };
    let items = assessing::queue(&state.db, &viewer, &filter).await?;

    // NOTE: `QueueItem` does not carry the participant's user id, so each
    // row loads its attempt to link the name to the participant's history.
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let detail = participation::attempt_detail(&state.db, &viewer, item.attempt_id).await?;
        rows.push(QueueRow { participant_user_id: detail.enrollment.user_id, item });
    }

    let mut names = Names::default();
    let confirmation = match query.assessed.as_deref() {
        Some(id) => confirmation(&state.db, &viewer, id, &mut names).await?,
        None => None,
    };
    let (credentials, component_groups) = filter_options(&state.db, &filter).await?;
    let base = page::base(&state, &current).await?;
    let html = page::render(
        "assessor/queue.html",
        &base,
        minijinja::context! {
            rows => rows,
            credentials => credentials,
            component_groups => component_groups,
            filtered => filter.credential.is_some() || filter.component.is_some(),
            confirmation => confirmation,
            own_user_id => viewer.user_id,
        },
    )?;
    Ok(html.into_response())
}

// The assessment form.

#[derive(Serialize)]
struct LevelView {
    key: String,
    label: String,
    description: String,
    mastery: bool,
    checked: bool,
}

#[derive(Serialize)]
struct CriterionView {
    key: String,
    title: String,
    anchor: String,
    levels: Vec<LevelView>,
    mastery_label: String,
    feedback: String,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct ProblemView {
    text: String,
    anchor: String,
}

/// One criterion of a stored assessment, in words.
#[derive(Serialize)]
struct RatedCriterion {
    title: String,
    level: String,
    mastery: bool,
    feedback: String,
}

/// A stored assessment, in words.
#[derive(Serialize)]
struct AssessmentView {
    assessor: String,
    assessed_at: String,
    decision: &'static str,
    mastered: bool,
    criteria: Vec<RatedCriterion>,
    overall_comment: String,
}

#[derive(Serialize)]
struct EarlierAttempt {
    id: i64,
    number: i32,
    status: &'static str,
    submitted_at: Option<String>,
    assessment: Option<AssessmentView>,
}

#[derive(Serialize)]
struct FileView {
    id: i64,
    name: String,
    size: String,
}

/// A submitted link. Only http and https links become clickable, whatever
/// the stored text contains.
#[derive(Serialize)]
struct LinkView {
    url: String,
    clickable: bool,
}

fn link_views(links: &[String]) -> Vec<LinkView> {
    links
        .iter()
        .map(|url| {
            let lower = url.to_ascii_lowercase();
            LinkView { clickable: lower.starts_with("https://") || lower.starts_with("http://"), url: url.clone() }
        })
        .collect()
}

fn file_size(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if bytes < 1024 * 1024 {
        format!("{:.0} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / 1_048_576.0)
    }
}

fn parse_map(json: &str) -> BTreeMap<String, String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// Describes a stored assessment with the level labels of `rubric`.
async fn assessment_view(
    db: &DatabaseConnection,
    rubric: Option<&Rubric>,
    stored: &assessment::Model,
    names: &mut Names,
) -> Result<AssessmentView, AppError> {
    let ratings = parse_map(&stored.ratings);
    let mut feedback = parse_map(&stored.feedback);
    let criteria = rubric
        .map(|rubric| {
            rubric
                .criteria
                .iter()
                .map(|criterion| {
                    let rated = ratings.get(&criterion.key).cloned().unwrap_or_default();
                    let position = criterion.level_position(&rated);
                    let level = criterion
                        .levels
                        .iter()
                        .find(|level| level.key == rated)
                        .map(|level| level.label.clone())
                        .unwrap_or(rated);
                    RatedCriterion {
                        title: criterion.title.clone(),
                        level,
                        mastery: position.is_some() && position >= criterion.level_position(&criterion.mastery_level),
                        feedback: feedback.remove(&criterion.key).unwrap_or_default(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(AssessmentView {
        assessor: names.get(db, stored.assessor_user_id).await?,
        assessed_at: stored.created_at.to_rfc3339(),
        decision: decision_label(&stored.decision),
        mastered: stored.decision == DECISION_MASTERED,
        criteria,
        overall_comment: stored.overall_comment.clone(),
    })
}

/// Loads the earlier attempts at the same component, oldest first, with their assessments.
async fn earlier_attempts(
    db: &DatabaseConnection,
    viewer: &Viewer,
    detail: &AttemptDetail,
    rubric: Option<&Rubric>,
    names: &mut Names,
) -> Result<Vec<EarlierAttempt>, AppError> {
    let (_, overviews) = assessing::participant_history(db, viewer, detail.enrollment.user_id).await?;
    let attempts: Vec<attempt::Model> = overviews
        .into_iter()
        .filter(|overview| overview.enrollment.as_ref().map(|e| e.id) == Some(detail.enrollment.id))
        .flat_map(|overview| overview.components)
        .filter(|component| component.key == detail.attempt.component_key)
        .flat_map(|component| component.attempts)
        .filter(|row| row.number < detail.attempt.number)
        .collect();
    let mut earlier = Vec::with_capacity(attempts.len());
    for row in attempts {
        let assessment = match row.status.as_str() {
            ATTEMPT_ASSESSED => {
                let earlier_detail = participation::attempt_detail(db, viewer, row.id).await?;
                match earlier_detail.assessment.as_ref() {
                    Some(stored) => Some(assessment_view(db, rubric, stored, names).await?),
                    None => None,
                }
            }
            _ => None,
        };
        earlier.push(EarlierAttempt {
            id: row.id,
            number: row.number,
            status: attempt_status_label(&row),
            submitted_at: row.submitted_at.map(|t| t.to_rfc3339()),
            assessment,
        });
    }
    Ok(earlier)
}

/// Builds the rubric's form fields with the assessor's choices and the
/// problems that name each criterion.
fn rubric_fields(rubric: &Rubric, input: &AssessmentInput, problems: &[String]) -> Vec<CriterionView> {
    rubric
        .criteria
        .iter()
        .enumerate()
        .map(|(index, criterion)| {
            let chosen = input.ratings.get(&criterion.key);
            let quoted = format!("\"{}\"", criterion.key);
            CriterionView {
                key: criterion.key.clone(),
                title: criterion.title.clone(),
                anchor: format!("criterion-{}", index + 1),
                mastery_label: criterion
                    .levels
                    .iter()
                    .find(|level| level.key == criterion.mastery_level)
                    .map(|level| level.label.clone())
                    .unwrap_or_else(|| criterion.mastery_level.clone()),
                levels: criterion
                    .levels
                    .iter()
                    .map(|level| LevelView {
                        key: level.key.clone(),
                        label: level.label.clone(),
                        description: level.description.clone(),
                        mastery: level.key == criterion.mastery_level,
                        checked: chosen == Some(&level.key),
                    })
                    .collect(),
                feedback: input.feedback.get(&criterion.key).cloned().unwrap_or_default(),
                problems: problems.iter().filter(|p| p.contains(&quoted)).cloned().collect(),
            }
        })
        .collect()
}

/// Builds the problem summary at the top, each problem linked to its criterion's fieldset.
fn problem_views(criteria: &[CriterionView], problems: &[String]) -> Vec<ProblemView> {
    problems
        .iter()
        .map(|problem| {
            let criterion = criteria.iter().find(|c| c.problems.contains(problem));
            ProblemView {
                text: match criterion {
                    Some(c) => format!("{}: {problem}", c.title),
                    None => problem.clone(),
                },
                anchor: criterion.map(|c| c.anchor.clone()).unwrap_or_else(|| "overall-comment".to_string()),
            }
        })
        .collect()
}

fn component_of<'a>(detail: &'a AttemptDetail) -> Result<&'a Component, AppError> {
    detail.entry.definition.component(&detail.attempt.component_key).ok_or_else(|| {
        AppError::NotFound(format!(
            "{} has no component {:?} any more. Ask an administrator to check the catalogue.",
            detail.entry.definition.title, detail.attempt.component_key
        ))
    })
}

/// Load an attempt for assessment: an assessor of this course, never the participant.
async fn load_for_assessor(
    db: &DatabaseConnection,
    viewer: &Viewer,
    attempt_id: i64,
) -> Result<AttemptDetail, AppError> {
    viewer.require(Role::Assessor)?;
    let detail = participation::attempt_detail(db, viewer, attempt_id).await?;
    viewer.check_assessor(&detail.enrollment)?;
    Ok(detail)
}

/// Render the assessment page for `detail`, with the assessor's input and problems.
async fn render_assessment(
    state: &AppState,
    current: &CurrentSession,
    viewer: &Viewer,
    detail: &AttemptDetail,
    input: &AssessmentInput,
    problems: &[String],
) -> Result<axum::response::Html<String>, AppError> {
    let db = &state.db;
    let component = component_of(detail)?;
    let mut names = Names::default();
    let participant = names.get(db, detail.enrollment.user_id).await?;
    let earlier = earlier_attempts(db, viewer, detail, Some(&component.rubric), &mut names).await?;
    let stored = match detail.assessment.as_ref() {
        Some(stored) => Some(assessment_view(db, Some(&component.rubric), stored, &mut names).await?),
        None => None,
    };
    let criteria = rubric_fields(&component.rubric, input, problems);
    let problem_list = problem_views(&criteria, problems);
    let files: Vec<FileView> = detail
        .files
        .iter()
        .map(|file| FileView { id: file.id, name: file.original_name.clone(), size: file_size(file.size_bytes) })
        .collect();
    let base: PageBase = page::base(state, current).await?;
    page::render(
        "assessor/assess.html",
        &base,
        minijinja::context! {
            attempt_id => detail.attempt.id,
            status => detail.attempt.status,
            number => detail.attempt.number,
            submitted_at => detail.attempt.submitted_at.map(|t| t.to_rfc3339()),
            text => detail.attempt.text,
            reflection => detail.attempt.reflection,
            links => link_views(&detail.links),
            files => files,
            participant => participant,
            participant_user_id => detail.enrollment.user_id,
            credential_title => detail.entry.definition.title,
            version => detail.entry.version,
            component_title => component.title,
            prompt => component.prompt,
            reflection_prompt => component.submission.reflection.as_ref().map(|r| r.prompt.clone()),
            earlier => earlier,
            stored => stored,
            criteria => criteria,
            overall_comment => input.overall_comment,
            problems => problem_list,
        },
    )
}

async fn assessment_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(attempt_id): Path<i64>,
) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    let detail = load_for_assessor(&state.db, &viewer, attempt_id).await?;
    let html = render_assessment(&state, &current, &viewer, &detail, &AssessmentInput::default(), &[]).await?;
    Ok(html.into_response())
}

/// Reads the assessor's choices from the posted form. Blank feedback is left
/// out, so the rubric requires it only where a criterion falls short.
fn assessment_input(fields: Vec<(String, String)>) -> AssessmentInput {
    let mut input = AssessmentInput::default();
    for (name, value) in fields {
        if let Some(key) = name.strip_prefix(RATING_PREFIX) {
            input.ratings.insert(key.to_string(), value);
        } else if let Some(key) = name.strip_prefix(FEEDBACK_PREFIX) {
            if !value.trim().is_empty() {
                input.feedback.insert(key.to_string(), value);
            }
        } else if name == OVERALL_COMMENT_FIELD {
            input.overall_comment = value;
        }
    }
    input
}

/// Render the page for an assessment that another assessor saved first,
/// with everything this assessor typed shown back.
async fn render_conflict(
    state: &AppState,
    current: &CurrentSession,
    viewer: &Viewer,
    attempt_id: i64,
    message: &str,
    input: &AssessmentInput,
) -> Result<Response, AppError> {
    let detail = participation::attempt_detail(&state.db, viewer, attempt_id).await?;
    let component = component_of(&detail)?;
    let mut names = Names::default();
    let stored = match detail.assessment.as_ref() {
        Some(stored) => Some(assessment_view(&state.db, Some(&component.rubric), stored, &mut names).await?),
        None => None,
    };
    let typed: Vec<RatedCriterion> = component
        .rubric
        .criteria
        .iter()
        .map(|criterion| {
            let chosen = input.ratings.get(&criterion.key);
            RatedCriterion {
                title: criterion.title.clone(),
                level: criterion
                    .levels
                    .iter()
                    .find(|level| Some(&level.key) == chosen)
                    .map(|level| level.label.clone())
                    .unwrap_or_else(|| "(no level chosen)".to_string()),
                mastery: false,
                feedback: input.feedback.get(&criterion.key).cloned().unwrap_or_default(),
            }
        })
        .collect();
    let base = page::base(state, current).await?;
    let html = page::render(
        "assessor/conflict.html",
        &base,
        minijinja::context! {
            message => message,
            attempt_id => attempt_id,
            participant => names.get(&state.db, detail.enrollment.user_id).await?,
            component_title => component.title,
            credential_title => detail.entry.definition.title,
            number => detail.attempt.number,
            stored => stored,
            typed => typed,
            overall_comment => input.overall_comment,
        },
    )?;
    Ok((StatusCode::CONFLICT, html).into_response())
}

async fn save_assessment(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(attempt_id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    let input = assessment_input(fields);
    match assessing::assess(&state.db, state.state_hook(), &viewer, attempt_id, input.clone()).await {
        Ok(_) => {
            let id = attempt_id.to_string();
            Ok(see_other("/app/assess", &current.page_token, &[("assessed", &id)]))
        }
        Err(WorkflowError::Invalid(problems)) => {
            tracing::info!(attempt_id, problems = problems.len(), "assessment rejected as incomplete");
            let detail = load_for_assessor(&state.db, &viewer, attempt_id).await?;
            let html = render_assessment(&state, &current, &viewer, &detail, &input, &problems).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(WorkflowError::Conflict(message)) => {
            tracing::info!(attempt_id, "assessment rejected: the attempt is not waiting for assessment");
            render_conflict(&state, &current, &viewer, attempt_id, &message, &input).await
        }
        Err(error) => Err(error.into()),
    }
}

// A participant's history.

#[derive(Serialize)]
struct HistoryAttempt {
    id: i64,
    number: i32,
    status: &'static str,
    waiting: bool,
    submitted_at: Option<String>,
    assessment: Option<AssessmentView>,
}

#[derive(Serialize)]
struct HistoryComponent {
    title: String,
    state_label: &'static str,
    attempts: Vec<HistoryAttempt>,
}

#[derive(Serialize)]
struct HistoryEnrollment {
    title: String,
    version: i32,
    enrolled_at: Option<String>,
    earned_at: Option<String>,
    ceus: Option<f64>,
    mastered_count: usize,
    component_count: usize,
    percent_complete: u8,
    components: Vec<HistoryComponent>,
}

async fn history_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(user_id): Path<i64>,
) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    let db = &state.db;
    let (participant, overviews) = assessing::participant_history(db, &viewer, user_id).await?;
    let mut names = Names::default();
    let mut enrollments = Vec::with_capacity(overviews.len());
    for overview in overviews {
        let mut components = Vec::with_capacity(overview.components.len());
        for view in &overview.components {
            let rubric = overview.entry.definition.component(&view.key).map(|c| &c.rubric);
            let mut attempts = Vec::with_capacity(view.attempts.len());
            for row in &view.attempts {
                let assessment = if row.status == ATTEMPT_ASSESSED {
                    let detail = participation::attempt_detail(db, &viewer, row.id).await?;
                    match detail.assessment.as_ref() {
                        Some(stored) => Some(assessment_view(db, rubric, stored, &mut names).await?),
                        None => None,
                    }
                } else {
                    None
                };
                attempts.push(HistoryAttempt {
                    id: row.id,
                    number: row.number,
                    status: attempt_status_label(row),
                    waiting: row.status == ATTEMPT_SUBMITTED && participant.id != viewer.user_id,
                    submitted_at: row.submitted_at.map(|t| t.to_rfc3339()),
                    assessment,
                });
            }
            components.push(HistoryComponent { title: view.title.clone(), state_label: view.state_label, attempts });
        }
        enrollments.push(HistoryEnrollment {
            title: overview.entry.definition.title.clone(),
            version: overview.entry.version,
            enrolled_at: overview.enrollment.as_ref().map(|e| e.enrolled_at.to_rfc3339()),
            earned_at: overview.earned_at.map(|t| t.to_rfc3339()),
            ceus: overview.ceus,
            mastered_count: overview.mastered_count,
            component_count: overview.component_count,
            percent_complete: overview.percent_complete,
            components,
        });
    }
    let base = page::base(&state, &current).await?;
    let html = page::render(
        "assessor/participant.html",
        &base,
        minijinja::context! {
            participant => display_name(&participant),
            email => participant.email,
            enrollments => enrollments,
        },
    )?;
    Ok(html.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assessment_input_reads_fields() {
        let fields = vec![
            ("_s".to_string(), "token".to_string()),
            ("rating.clarity".to_string(), "proficient".to_string()),
            ("feedback.clarity".to_string(), "   ".to_string()),
            ("rating.evidence".to_string(), "developing".to_string()),
            ("feedback.evidence".to_string(), "Name the data.".to_string()),
            ("overall_comment".to_string(), "Good start.".to_string()),
        ];

        let input = assessment_input(fields);

        assert_eq!(input.ratings.get("clarity").map(String::as_str), Some("proficient"));
        assert_eq!(input.ratings.get("evidence").map(String::as_str), Some("developing"));
        assert!(!input.feedback.contains_key("clarity"), "blank feedback is left out");
        assert_eq!(input.feedback.get("evidence").map(String::as_str), Some("Name the data."));
        assert_eq!(input.overall_comment, "Good start.");
    }

    #[test]
    fn file_size_in_words() {
        assert_eq!(file_size(512), "512 bytes");
        assert_eq!(file_size(2048), "2 KB");
        assert_eq!(file_size(3 * 1024 * 1024 + 100_000), "3.1 MB");
    }
}
