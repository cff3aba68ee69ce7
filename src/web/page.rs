//! What every page shares: the page token, who is signed in, and which
//! parts of the navigation the user's roles open.

use axum::response::Html;
use microcred_lti::Role;
use serde::Serialize;

use crate::error::AppError;
use crate::platforms::manage;
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::templates;
use crate::workflow::access::Viewer;

/// Who is signed in, for the page header.
#[derive(Debug, Clone, Serialize)]
pub struct Who {
    pub name: String,
    pub email: Option<String>,
    pub role_label: &'static str,
    pub course: Option<String>,
    pub course_label: Option<String>,
}

/// Which navigation entries to show.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Nav {
    pub participant: bool,
    pub assessor: bool,
    pub admin: bool,
    /// The Registrations admin pages; see `Viewer::can_manage_registrations`.
    pub registrations: bool,
}

/// The shared part of every page's template context.
#[derive(Debug, Clone, Serialize)]
pub struct PageBase {
    /// The page token: append `?_s={{ s|urlencode }}` to every link and form action.
    pub s: String,
    pub who: Who,
    pub nav: Nav,
    /// The user's name as the LMS sent it, `None` when it sent none or a blank one.
    #[serde(skip)]
    pub user_name: Option<String>,
}

pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Participant => "Participant",
        Role::Assessor => "Assessor",
        Role::Admin => "Administrator",
    }
}

/// Load the shared context for the current session.
pub async fn base(state: &AppState, current: &CurrentSession) -> Result<PageBase, AppError> {
    let session = &current.session;
    let user = session
        .user
        .as_ref()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("session names missing user {}", session.user_id)))?;
    let context = session.course.as_ref();
    let who = Who {
        name: user.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "Signed in".to_string()),
        email: user.email.clone(),
        role_label: role_label(session.roles.primary()),
        course: context.and_then(|c| c.title.clone()),
        course_label: context.and_then(|c| c.label.clone()),
    };
    let admin = session.roles.has(Role::Admin);
    let registrations = admin && manage::can_manage(&state.db, &Viewer::from(session)).await?;
    let nav = Nav {
        participant: session.roles.participant,
        assessor: session.roles.has(Role::Assessor),
        admin,
        registrations,
    };
    let user_name = user.name.clone().filter(|n| !n.trim().is_empty());
    Ok(PageBase { s: current.page_token.clone(), who, nav, user_name })
}

/// Render `template` with the shared context plus `extra`.
pub fn render(template: &str, base: &PageBase, extra: minijinja::Value) -> Result<Html<String>, AppError> {
    let context = minijinja::context! {
        s => base.s,
        who => base.who,
        nav => base.nav,
        ..extra
    };
    Ok(templates::render(template, context)?)
}
