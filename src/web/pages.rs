//! Pages a launched user sees.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use microcred_lti::Role;
use serde::Serialize;

use crate::error::AppError;
use crate::state::AppState;
use crate::store::launches as launch_store;
use crate::web::session::CurrentSession;
use crate::web::templates;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/app", get(home))
        .route("/static/app.css", get(stylesheet))
}

pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Participant => "Participant",
        Role::Assessor => "Assessor",
        Role::Admin => "Administrator",
    }
}

/// Who is signed in, for the page header.
#[derive(Serialize)]
pub struct Who {
    pub name: String,
    pub role_label: &'static str,
    pub course: Option<String>,
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>microcred</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main><h1>microcred</h1>\
         <p>microcred runs inside your LMS. Open it from a link on your course page.</p></main></body></html>",
    )
}

async fn home(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    let session = current.session;
    let user = launch_store::user_by_id(&state.db, session.user_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("session {} names a missing user", session.user_id)))?;
    let context = match session.context_pk {
        Some(id) => launch_store::context_by_id(&state.db, id).await?,
        None => None,
    };
    let role = session.roles.primary();
    let who = Who {
        name: user.name.clone().unwrap_or_else(|| "Signed in".to_string()),
        role_label: role_label(role),
        course: context.as_ref().and_then(|c| c.title.clone()),
    };
    let page = templates::render(
        "home.html",
        minijinja::context! {
            who => who,
            user_name => user.name,
            user_email => user.email,
            course_title => context.as_ref().and_then(|c| c.title.clone()),
            course_label => context.as_ref().and_then(|c| c.label.clone()),
            role_label => role_label(role),
            platform_name => session.details.platform_name,
        },
    )?;
    Ok(page.into_response())
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/app.css"),
    )
        .into_response()
}
