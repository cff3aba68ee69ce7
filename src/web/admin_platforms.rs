//! The Registrations admin pages: every platform registration of the
//! installation, one registration's details, the form to add one by hand,
//! and the approve, disable and remove actions. `platforms::manage` checks
//! who may use them and builds what they show.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::platforms::manage::{self, AddOutcome, Done};
use crate::platforms::{FieldProblem, PlatformInput};
use crate::state::AppState;
use crate::web::admin::see_other;
use crate::web::page;
use crate::web::session::CurrentSession;
use crate::workflow::access::Viewer;

const LIST_PATH: &str = "/app/admin/platforms";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(LIST_PATH, get(list_page))
        .route("/app/admin/platforms/new", get(new_page).post(add))
        .route("/app/admin/platforms/{id}", get(detail_page))
        .route("/app/admin/platforms/{id}/approve", post(approve))
        .route("/app/admin/platforms/{id}/disable", post(disable))
        .route("/app/admin/platforms/{id}/remove", post(remove))
        .route("/app/admin/platforms/{id}/deployments/{deployment}/approve", post(approve_deployment))
        .route("/app/admin/platforms/{id}/deployments/{deployment}/disable", post(disable_deployment))
}

fn detail_path(id: i64) -> String {
    format!("{LIST_PATH}/{id}")
}

/// The query of the pages: set by the redirect after an action.
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    /// `1` lists removed registrations too.
    #[serde(default)]
    removed: Option<String>,
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    registration: Option<i64>,
    #[serde(default)]
    deployment: Option<i64>,
}

impl PageQuery {
    /// Describe the action that redirected here, if any.
    async fn notice(&self, state: &AppState, id: Option<i64>) -> Result<Option<String>, AppError> {
        let (Some(done), Some(id)) = (self.done.as_deref().and_then(Done::parse), id.or(self.registration)) else {
            return Ok(None);
        };
        Ok(manage::notice(&state.db, done, id, self.deployment).await?)
    }
}

async fn list_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    let show_removed = query.removed.as_deref() == Some("1");
    let overview = manage::overview(&state.db, &viewer, show_removed).await?;
    let notice = query.notice(&state, None).await?;
    let base = page::base(&state, &current).await?;
    let html =
        page::render("admin/platforms.html", &base, minijinja::context! { overview => overview, notice => notice })?;
    Ok(html.into_response())
}

async fn detail_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    let detail = manage::detail(&state.db, &viewer, id).await?;
    let notice = query.notice(&state, Some(id)).await?;
    let base = page::base(&state, &current).await?;
    let html = page::render("admin/platform.html", &base, minijinja::context! { detail => detail, notice => notice })?;
    Ok(html.into_response())
}

// Actions.

/// The form of every action button: which page to return to.
#[derive(Debug, Default, Deserialize)]
struct ActionForm {
    /// `list` returns to the list; anything else to the registration's page.
    #[serde(default)]
    back: Option<String>,
}

/// Redirect after an action on registration `id` to the page named by `form`.
fn after_action(current: &CurrentSession, form: &ActionForm, id: i64, done: Done, deployment: Option<i64>) -> Response {
    let id_text = id.to_string();
    let deployment_text = deployment.map(|pk| pk.to_string());
    let mut params = vec![("done", done.as_str())];
    if let Some(pk) = &deployment_text {
        params.push(("deployment", pk));
    }
    if form.back.as_deref() == Some("list") {
        params.push(("registration", &id_text));
        see_other(LIST_PATH, &current.page_token, &params)
    } else {
        see_other(&detail_path(id), &current.page_token, &params)
    }
}

async fn approve(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> Result<Response, AppError> {
    manage::approve(&state.db, &Viewer::from(&current.session), id).await?;
    Ok(after_action(&current, &form, id, Done::Approved, None))
}

async fn disable(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> Result<Response, AppError> {
    manage::disable(&state.db, &Viewer::from(&current.session), id).await?;
    Ok(after_action(&current, &form, id, Done::Disabled, None))
}

async fn remove(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    manage::remove(&state.db, &Viewer::from(&current.session), id).await?;
    // A removed registration leaves the list, which is where its users look next.
    let form = ActionForm { back: Some("list".to_string()) };
    Ok(after_action(&current, &form, id, Done::Removed, None))
}

async fn approve_deployment(
    State(state): State<AppState>,
    current: CurrentSession,
    Path((id, deployment)): Path<(i64, i64)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, AppError> {
    manage::set_deployment_status(&state.db, &Viewer::from(&current.session), id, deployment, true).await?;
    Ok(after_action(&current, &form, id, Done::DeploymentApproved, Some(deployment)))
}

async fn disable_deployment(
    State(state): State<AppState>,
    current: CurrentSession,
    Path((id, deployment)): Path<(i64, i64)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, AppError> {
    manage::set_deployment_status(&state.db, &Viewer::from(&current.session), id, deployment, false).await?;
    Ok(after_action(&current, &form, id, Done::DeploymentDisabled, Some(deployment)))
}

// Adding a registration by hand.

/// The add form, as sent and as shown again with its problems.
#[derive(Debug, Default, Deserialize, Serialize)]
struct AddForm {
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    /// One deployment id per line.
    #[serde(default)]
    deployment_ids: String,
    #[serde(default)]
    auth_url: String,
    #[serde(default)]
    token_url: String,
    #[serde(default)]
    jwks_url: String,
    #[serde(default)]
    token_audience: String,
}

impl AddForm {
    fn to_input(&self) -> PlatformInput {
        PlatformInput {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            deployment_ids: self
                .deployment_ids
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_string)
                .collect(),
            auth_url: self.auth_url.clone(),
            token_url: self.token_url.clone(),
            jwks_url: self.jwks_url.clone(),
            token_audience: Some(self.token_audience.clone()),
            manages_registrations: false,
        }
    }
}

/// Returns `text` with its first letter in upper case, as the start of a sentence.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One problem of the add form, with the id of the field it belongs to.
#[derive(Debug, Serialize)]
struct ProblemItem {
    field: &'static str,
    message: String,
}

async fn render_new(
    state: &AppState,
    current: &CurrentSession,
    form: &AddForm,
    problems: &[FieldProblem],
) -> Result<axum::response::Html<String>, AppError> {
    let items: Vec<ProblemItem> = problems
        .iter()
        .map(|problem| ProblemItem { field: problem.field().key(), message: sentence(&problem.to_string()) })
        .collect();
    let mut by_field: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for item in &items {
        by_field.entry(item.field).or_default().push(&item.message);
    }
    let base = page::base(state, current).await?;
    page::render(
        "admin/platform_new.html",
        &base,
        minijinja::context! { form => form, problems => items, by_field => by_field },
    )
}

async fn new_page(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    manage::check_manager(&state.db, &Viewer::from(&current.session)).await?;
    let html = render_new(&state, &current, &AddForm::default(), &[]).await?;
    Ok(html.into_response())
}

async fn add(
    State(state): State<AppState>,
    current: CurrentSession,
    Form(form): Form<AddForm>,
) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    match manage::add(&state.db, &viewer, form.to_input()).await? {
        AddOutcome::Stored { id } => {
            Ok(see_other(&detail_path(id), &current.page_token, &[("done", Done::Added.as_str())]))
        }
        AddOutcome::Invalid(problems) => {
            tracing::info!(problems = problems.len(), "registration form rejected as invalid");
            let html = render_new(&state, &current, &form, &problems).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
    }
}
