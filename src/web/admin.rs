//! Admin pages: the catalogue with editing, import, export and archiving,
//! the CEU report with its CSV download, and the audit log. Every handler
//! first checks the admin role with `Viewer::require`, because the catalogue
//! services themselves do not check roles.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use microcred_lti::Role;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::state::AppState;
use crate::store::entities::audit_entry;
use crate::store::launches as launch_store;
use crate::web::page;
use crate::web::session::{CurrentSession, TOKEN_PARAM};
use crate::workflow::access::Viewer;
use crate::workflow::assessing::display_name;
use crate::workflow::catalogue::{self, Entry, ImportReport};
use crate::workflow::{reports, WorkflowError};

/// How many audit entries the audit page shows, newest first.
const AUDIT_PAGE_SIZE: u64 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/admin", get(catalogue_page))
        .route("/app/admin/credentials/{slug}/edit", get(edit_page).post(save_edit))
        .route("/app/admin/credentials/{slug}/export.toml", get(export_one))
        .route("/app/admin/credentials/{slug}/archive", post(archive))
        .route("/app/admin/credentials/{slug}/restore", post(restore))
        .route("/app/admin/import", get(import_page).post(import))
        .route("/app/admin/export.toml", get(export_all))
        .route("/app/admin/ceu-report", get(ceu_report_page))
        .route("/app/admin/ceu-report.csv", get(ceu_report_csv))
        .route("/app/admin/audit", get(audit_page))
}

/// Returns the viewer, or 403 unless the session's roles include admin.
fn admin_viewer(current: &CurrentSession) -> Result<Viewer, AppError> {
    let viewer = Viewer::from(&current.session);
    viewer.require(Role::Admin)?;
    Ok(viewer)
}

/// Builds a 303 to `path` with a fresh page token and `params` in the query.
pub(crate) fn see_other(path: &str, token: &str, params: &[(&str, &str)]) -> Response {
    let mut pairs = vec![(TOKEN_PARAM, token)];
    pairs.extend_from_slice(params);
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    (StatusCode::SEE_OTHER, [(header::LOCATION, format!("{path}?{query}"))]).into_response()
}

/// Builds a download response with `Content-Disposition: attachment`.
fn attachment(content_type: &'static str, file_name: &str, body: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type)), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

// The catalogue.

#[derive(Serialize)]
struct CatalogueRow {
    slug: String,
    title: String,
    version: i32,
    ceus: f64,
    archived: bool,
}

#[derive(Debug, Default, Deserialize)]
struct CatalogueQuery {
    #[serde(default)]
    archived: Option<String>,
    #[serde(default)]
    restored: Option<String>,
}

fn title_of(entries: &[Entry], slug: &str) -> String {
    entries
        .iter()
        .find(|entry| entry.slug == slug)
        .map(|entry| entry.definition.title.clone())
        .unwrap_or_else(|| slug.to_string())
}

async fn catalogue_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Query(query): Query<CatalogueQuery>,
) -> Result<Response, AppError> {
    admin_viewer(&current)?;
    let entries = catalogue::list_all(&state.db).await?;
    let notice = match (&query.archived, &query.restored) {
        (Some(slug), _) => Some(format!(
            "{} is archived. Participants no longer see it in the catalogue; their enrolments and work stay.",
            title_of(&entries, slug)
        )),
        (None, Some(slug)) => Some(format!("{} is back in the catalogue.", title_of(&entries, slug))),
        (None, None) => None,
    };
    let rows: Vec<CatalogueRow> = entries
        .iter()
        .map(|entry| CatalogueRow {
            slug: entry.slug.clone(),
            title: entry.definition.title.clone(),
            version: entry.version,
            ceus: entry.definition.ceus,
            archived: entry.status == catalogue::STATUS_ARCHIVED,
        })
        .collect();
    let base = page::base(&state, &current).await?;
    let html = page::render("admin/catalogue.html", &base, minijinja::context! { rows => rows, notice => notice })?;
    Ok(html.into_response())
}

async fn archive(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let viewer = admin_viewer(&current)?;
    catalogue::set_archived(&state.db, &slug, true, viewer.user_id).await?;
    Ok(see_other("/app/admin", &current.page_token, &[("archived", &slug)]))
}

async fn restore(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let viewer = admin_viewer(&current)?;
    catalogue::set_archived(&state.db, &slug, false, viewer.user_id).await?;
    Ok(see_other("/app/admin", &current.page_token, &[("restored", &slug)]))
}

// Editing one micro-credential.

#[derive(Debug, Default, Deserialize)]
struct EditQuery {
    /// Set by the redirect after a save: `versioned` or `unchanged`.
    #[serde(default)]
    result: Option<String>,
}

#[derive(Debug, Deserialize)]
struct EditForm {
    #[serde(default)]
    toml: String,
}

/// Render the edit page with `text` in the textarea.
async fn render_edit(
    state: &AppState,
    current: &CurrentSession,
    entry: &Entry,
    text: &str,
    problems: &[String],
    notice: Option<String>,
) -> Result<axum::response::Html<String>, AppError> {
    let base = page::base(state, current).await?;
    page::render(
        "admin/edit.html",
        &base,
        minijinja::context! {
            slug => entry.slug,
            title => entry.definition.title,
            version => entry.version,
            archived => entry.status == catalogue::STATUS_ARCHIVED,
            text => text,
            problems => problems,
            notice => notice,
        },
    )
}

async fn edit_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(slug): Path<String>,
    Query(query): Query<EditQuery>,
) -> Result<Response, AppError> {
    admin_viewer(&current)?;
    let entry = catalogue::by_slug(&state.db, &slug).await?;
    let text = catalogue::export_toml(std::slice::from_ref(&entry))?;
    let notice = match query.result.as_deref() {
        Some("versioned") => Some(format!(
            "Saved. Version {} created; participants who started earlier stay on their versions.",
            entry.version
        )),
        Some("unchanged") => {
            Some(format!("Nothing changed: the text matches version {}, so no new version was created.", entry.version))
        }
        _ => None,
    };
    let html = render_edit(&state, &current, &entry, &text, &[], notice).await?;
    Ok(html.into_response())
}

async fn save_edit(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(slug): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    let viewer = admin_viewer(&current)?;
    let entry = catalogue::by_slug(&state.db, &slug).await?;
    match catalogue::update_from_toml(&state.db, &slug, &form.toml, viewer.user_id).await {
        Ok(report) => {
            let result = if report.unchanged.is_empty() { "versioned" } else { "unchanged" };
            let path = format!("/app/admin/credentials/{}/edit", entry.slug);
            Ok(see_other(&path, &current.page_token, &[("result", result)]))
        }
        Err(WorkflowError::Invalid(problems)) => {
            tracing::info!(slug = %entry.slug, problems = problems.len(), "catalogue edit rejected as invalid");
            let html = render_edit(&state, &current, &entry, &form.toml, &problems, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(error) => Err(error.into()),
    }
}

// Import and export.

#[derive(Debug, Default, Deserialize)]
struct ImportQuery {
    /// Set by the redirect after an import. The lists are comma-separated slugs.
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    versioned: Option<String>,
    #[serde(default)]
    unchanged: Option<String>,
}

#[derive(Serialize)]
struct ImportedItem {
    slug: String,
    title: String,
    version: Option<i32>,
}

#[derive(Serialize)]
struct ImportSummary {
    created: Vec<ImportedItem>,
    versioned: Vec<ImportedItem>,
    unchanged: Vec<ImportedItem>,
}

fn imported_items(entries: &[Entry], slugs: Option<&str>) -> Vec<ImportedItem> {
    slugs
        .unwrap_or_default()
        .split(',')
        .filter(|slug| !slug.is_empty())
        .map(|slug| {
            let entry = entries.iter().find(|entry| entry.slug == slug);
            ImportedItem {
                slug: slug.to_string(),
                title: entry.map(|e| e.definition.title.clone()).unwrap_or_else(|| slug.to_string()),
                version: entry.map(|e| e.version),
            }
        })
        .collect()
}

/// Render the import page with the pasted text kept and the problems listed.
async fn render_import(
    state: &AppState,
    current: &CurrentSession,
    text: &str,
    file_name: Option<&str>,
    problems: &[String],
    summary: Option<ImportSummary>,
) -> Result<axum::response::Html<String>, AppError> {
    let base = page::base(state, current).await?;
    page::render(
        "admin/import.html",
        &base,
        minijinja::context! {
            text => text,
            file_name => file_name,
            problems => problems,
            summary => summary,
        },
    )
}

async fn import_page(
    State(state): State<AppState>,
    current: CurrentSession,
    Query(query): Query<ImportQuery>,
) -> Result<Response, AppError> {
    admin_viewer(&current)?;
    let summary = match query.done {
        Some(_) => {
            let entries = catalogue::list_all(&state.db).await?;
            Some(ImportSummary {
                created: imported_items(&entries, query.created.as_deref()),
                versioned: imported_items(&entries, query.versioned.as_deref()),
                unchanged: imported_items(&entries, query.unchanged.as_deref()),
            })
        }
        None => None,
    };
    let html = render_import(&state, &current, "", None, &[], summary).await?;
    Ok(html.into_response())
}

/// The content of the import form: pasted text and an optional uploaded file.
#[derive(Debug, Default)]
struct ImportUpload {
    text: String,
    file_name: Option<String>,
    file_bytes: Vec<u8>,
}

#[derive(Debug, Default, Deserialize)]
struct ImportForm {
    #[serde(default)]
    text: String,
}

/// Read the import form, sent as multipart (with a file) or URL-encoded (text only).
async fn read_import_form(state: &AppState, request: Request) -> Result<ImportUpload, AppError> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        let Form(form) = Form::<ImportForm>::from_request(request, state).await.map_err(|e| {
            AppError::BadRequest(format!("The import form could not be read ({e}). Reload the page and try again."))
        })?;
        return Ok(ImportUpload { text: form.text, ..ImportUpload::default() });
    }
    let mut multipart = Multipart::from_request(request, state).await.map_err(|e| {
        AppError::BadRequest(format!("The upload could not be read ({e}). Reload the page and try again."))
    })?;
    let mut upload = ImportUpload::default();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge(format!(
                "The upload is larger than the limit of {} MB. Split the catalogue into smaller files and import them one at a time.",
                state.settings.server.max_body_mb
            ))
        } else {
            AppError::BadRequest(format!("The upload could not be read ({e}). Reload the page and try again."))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("text") => upload.text = field.text().await.map_err(unreadable)?,
            Some("file") => {
                let name = field.file_name().map(str::to_string).filter(|n| !n.is_empty());
                let bytes = field.bytes().await.map_err(unreadable)?;
                if name.is_some() || !bytes.is_empty() {
                    upload.file_name = name;
                    upload.file_bytes = bytes.to_vec();
                }
            }
            _ => {}
        }
    }
    Ok(upload)
}

/// Picks the catalogue text to import and whether it is JSON. Returns the
/// problems that stop the import instead when the form is unusable.
fn import_source(upload: &ImportUpload) -> Result<(String, bool), Vec<String>> {
    let has_text = !upload.text.trim().is_empty();
    let has_file = upload.file_name.is_some() || !upload.file_bytes.is_empty();
    match (has_text, has_file) {
        (false, false) => Err(vec!["Nothing to import. Paste catalogue text or choose a .toml or .json file.".into()]),
        (true, true) => Err(vec![
            "Both pasted text and a file were sent. Clear the text box to import the file, or import the text without a file."
                .into(),
        ]),
        (true, false) => {
            let json = upload.text.trim_start().starts_with('{');
            Ok((upload.text.clone(), json))
        }
        (false, true) => {
            let name = upload.file_name.clone().unwrap_or_default();
            let lower = name.to_ascii_lowercase();
            let json = if lower.ends_with(".json") {
                true
            } else if lower.ends_with(".toml") {
                false
            } else {
                return Err(vec![format!(
                    "The file {name:?} is neither a .toml nor a .json file. Choose a catalogue file with one of those endings."
                )]);
            };
            if upload.file_bytes.is_empty() {
                return Err(vec![format!("The file {name:?} is empty. Choose the catalogue file again.")]);
            }
            match String::from_utf8(upload.file_bytes.clone()) {
                Ok(text) => Ok((text, json)),
                Err(_) => Err(vec![format!(
                    "The file {name:?} is not UTF-8 text. Save it as UTF-8 in your editor and upload it again."
                )]),
            }
        }
    }
}

async fn import(
    State(state): State<AppState>,
    current: CurrentSession,
    request: Request,
) -> Result<Response, AppError> {
    let viewer = admin_viewer(&current)?;
    let upload = read_import_form(&state, request).await?;
    let outcome = match import_source(&upload) {
        Ok((text, json)) => catalogue::import_text(&state.db, &text, json, Some(viewer.user_id)).await,
        Err(problems) => Err(WorkflowError::Invalid(problems)),
    };
    match outcome {
        Ok(report) => Ok(import_redirect(&current.page_token, &report)),
        Err(WorkflowError::Invalid(problems)) => {
            tracing::info!(problems = problems.len(), "catalogue import rejected as invalid");
            let html =
                render_import(&state, &current, &upload.text, upload.file_name.as_deref(), &problems, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(error) => Err(error.into()),
    }
}

fn import_redirect(token: &str, report: &ImportReport) -> Response {
    let created = report.created.join(",");
    let versioned = report.new_versions.join(",");
    let unchanged = report.unchanged.join(",");
    see_other(
        "/app/admin/import",
        token,
        &[("done", "1"), ("created", &created), ("versioned", &versioned), ("unchanged", &unchanged)],
    )
}

async fn export_all(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    admin_viewer(&current)?;
    let entries = catalogue::list(&state.db).await?;
    let text = catalogue::export_toml(&entries)?;
    Ok(attachment("application/toml; charset=utf-8", "microcred-catalogue.toml", text))
}

async fn export_one(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    admin_viewer(&current)?;
    let entry = catalogue::by_slug(&state.db, &slug).await?;
    let text = catalogue::export_toml(std::slice::from_ref(&entry))?;
    // Stored slugs passed validation (lowercase letters, digits and hyphens), so the name needs no quoting.
    let file_name = format!("microcred-{}.toml", entry.slug);
    Ok(attachment("application/toml; charset=utf-8", &file_name, text))
}

// Reports.

async fn ceu_report_page(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    let viewer = admin_viewer(&current)?;
    let rows = reports::ceu_report(&state.db, &viewer).await?;
    let total: f64 = rows.iter().map(|row| row.ceus).sum();
    let base = page::base(&state, &current).await?;
    let html = page::render("admin/ceu_report.html", &base, minijinja::context! { rows => rows, total => total })?;
    Ok(html.into_response())
}

async fn ceu_report_csv(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    let viewer = admin_viewer(&current)?;
    let rows = reports::ceu_report(&state.db, &viewer).await?;
    Ok(attachment("text/csv; charset=utf-8", "microcred-ceu-report.csv", reports::ceu_csv(&rows)))
}

#[derive(Serialize)]
struct DetailItem {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct AuditRow {
    at: String,
    actor: String,
    action: String,
    action_label: &'static str,
    subject: String,
    detail: Vec<DetailItem>,
}

fn action_label(action: &str) -> &'static str {
    match action {
        "credential.created" => "Micro-credential created",
        "credential.versioned" => "New version of a micro-credential",
        "credential.archived" => "Micro-credential archived",
        "credential.restored" => "Micro-credential restored",
        "enrollment.created" => "Enrolled",
        "enrollment.earned" => "Micro-credential earned",
        "attempt.started" => "Attempt started",
        "attempt.submitted" => "Attempt submitted",
        "attempt.assessed" => "Attempt assessed",
        _ => "Other change",
    }
}

/// Splits the detail JSON of an audit entry into name and value pairs. Text
/// that is not a JSON object becomes one pair.
fn detail_items(detail: &str) -> Vec<DetailItem> {
    match serde_json::from_str::<serde_json::Value>(detail) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(name, value)| DetailItem {
                name,
                value: match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                },
            })
            .collect(),
        _ if detail.trim().is_empty() => Vec::new(),
        _ => vec![DetailItem { name: "detail".into(), value: detail.to_string() }],
    }
}

async fn actor_names(
    db: &DatabaseConnection,
    entries: &[audit_entry::Model],
) -> Result<BTreeMap<i64, String>, AppError> {
    let mut names = BTreeMap::new();
    for user_id in entries.iter().filter_map(|entry| entry.actor_user_id) {
        if names.contains_key(&user_id) {
            continue;
        }
        let name = launch_store::user_by_id(db, user_id)
            .await?
            .map(|user| display_name(&user))
            .unwrap_or_else(|| format!("User {user_id}"));
        names.insert(user_id, name);
    }
    Ok(names)
}

async fn audit_page(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    let viewer = admin_viewer(&current)?;
    let entries = reports::audit_log(&state.db, &viewer, AUDIT_PAGE_SIZE).await?;
    let names = actor_names(&state.db, &entries).await?;
    let rows: Vec<AuditRow> = entries
        .iter()
        .map(|entry| AuditRow {
            at: entry.at.to_rfc3339(),
            actor: match entry.actor_user_id {
                Some(id) => names.get(&id).cloned().unwrap_or_else(|| format!("User {id}")),
                None => "microcred (start-up)".to_string(),
            },
            action_label: action_label(&entry.action),
            action: entry.action.clone(),
            subject: format!("{} {}", entry.subject_type, entry.subject_id),
            detail: detail_items(&entry.detail),
        })
        .collect();
    let base = page::base(&state, &current).await?;
    let html = page::render("admin/audit.html", &base, minijinja::context! { rows => rows, limit => AUDIT_PAGE_SIZE })?;
    Ok(html.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(text: &str, file_name: Option<&str>, bytes: &[u8]) -> ImportUpload {
        ImportUpload { text: text.into(), file_name: file_name.map(str::to_string), file_bytes: bytes.to_vec() }
    }

    #[test]
    fn import_source_picks_format() {
        assert_eq!(import_source(&upload("slug = 1", None, b"")), Ok(("slug = 1".into(), false)));
        assert_eq!(import_source(&upload("  {\"a\": 1}", None, b"")), Ok(("  {\"a\": 1}".into(), true)));
        assert_eq!(import_source(&upload("", Some("c.JSON"), b"{}")), Ok(("{}".into(), true)));
        assert_eq!(import_source(&upload("", Some("c.toml"), b"x = 1")), Ok(("x = 1".into(), false)));
    }

    #[test]
    fn import_source_rejects_bad_input() {
        assert!(import_source(&upload("", None, b"")).is_err(), "nothing sent");
        assert!(import_source(&upload("x = 1", Some("c.toml"), b"x = 1")).is_err(), "text and file");
        assert!(import_source(&upload("", Some("c.txt"), b"x = 1")).is_err(), "wrong ending");
        assert!(import_source(&upload("", Some("c.toml"), b"")).is_err(), "empty file");
        assert!(import_source(&upload("", Some("c.toml"), &[0xff, 0xfe])).is_err(), "not UTF-8");
    }

    #[test]
    fn detail_items_flatten_objects() {
        let items = detail_items(r#"{"slug":"exit-tickets","version":2,"ratings":{"a":"b"}}"#);
        let pairs: Vec<(&str, &str)> = items.iter().map(|i| (i.name.as_str(), i.value.as_str())).collect();
        assert!(pairs.contains(&("slug", "exit-tickets")));
        assert!(pairs.contains(&("version", "2")));
        assert!(pairs.contains(&("ratings", r#"{"a":"b"}"#)));
        assert!(detail_items("").is_empty());
        assert_eq!(detail_items("not json")[0].value, "not json");
    }
}
