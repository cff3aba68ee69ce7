//! The session, the catalogue, and a participant's own work: enrolments,
//! drafts, files, submissions and the transcript.

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::Multipart;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use microcred_lti::Role;
use serde::{Deserialize, Serialize};

use super::support::{attachment, ApiContext, ApiError, ApiJson, ApiPath};
use super::views::{
    ticked_items, AttemptDetailView, AttemptView, CatalogueItem, CredentialView, EnrolledView, EnrollmentSummary,
    EnrollmentView, FileView, Items, OverviewView, SelfCheckView,
};
use crate::error::AppError;
use crate::web::page::role_label;
use crate::workflow::participation::{self, DraftInput};
use crate::workflow::{catalogue, reports};

/// The signed-in user, course and roles, and the token to continue with.
#[derive(Debug, Serialize)]
struct SessionView {
    user: UserView,
    course: Option<CourseView>,
    /// Every role the session holds: `participant`, `assessor`, `admin`.
    roles: Vec<&'static str>,
    primary_role: &'static str,
    primary_role_label: &'static str,
    token: String,
    token_expires_at: DateTime<Utc>,
    session_expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct UserView {
    id: i64,
    name: Option<String>,
    email: Option<String>,
}

#[derive(Debug, Serialize)]
struct CourseView {
    /// The course's id in the LMS (the LTI context id).
    id: String,
    label: Option<String>,
    title: Option<String>,
}

pub async fn session(ctx: ApiContext) -> Result<Response, ApiError> {
    let session = &ctx.current.session;
    let user = session
        .user
        .clone()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("session names missing user {}", session.user_id)))?;
    let context = session.course.clone();
    let roles = [Role::Participant, Role::Assessor, Role::Admin]
        .into_iter()
        .filter(|role| session.roles.has(*role))
        .map(Role::as_str)
        .collect();
    let primary = session.roles.primary();
    let view = SessionView {
        user: UserView { id: user.id, name: user.name, email: user.email },
        course: context.map(|c| CourseView { id: c.context_id, label: c.label, title: c.title }),
        roles,
        primary_role: primary.as_str(),
        primary_role_label: role_label(primary),
        token: ctx.current.page_token.clone(),
        token_expires_at: ctx.token_expires_at,
        session_expires_at: session.expires_at,
    };
    Ok(ctx.ok(&view))
}

pub async fn catalogue(ctx: ApiContext) -> Result<Response, ApiError> {
    let entries = catalogue::list(ctx.db()).await?;
    Ok(ctx.ok(&Items { items: entries.iter().map(CatalogueItem::from).collect() }))
}

pub async fn credential(ctx: ApiContext, ApiPath(slug): ApiPath<String>) -> Result<Response, ApiError> {
    let entry = catalogue::by_slug(ctx.db(), &slug).await?;
    Ok(ctx.ok(&CredentialView::from(entry)))
}

/// The ticked self-check items.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfCheckBody {
    #[serde(default)]
    self_check: Vec<String>,
}

/// Enrols the viewer in a micro-credential in the current course: 201 with
/// a new enrolment, 200 with the one that already exists (its ticks unchanged).
pub async fn enroll(
    ctx: ApiContext,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<SelfCheckBody>,
) -> Result<Response, ApiError> {
    let db = ctx.db();
    let current = catalogue::by_slug(db, &slug).await?;
    let existed = participation::find_enrollment(db, &ctx.viewer, current.credential_id).await?.is_some();
    let row = participation::enroll(db, &ctx.viewer, &slug, &body.self_check).await?;
    let entry = if row.credential_version_id == current.version_id {
        current
    } else {
        catalogue::version(db, row.credential_version_id).await?
    };
    let view = EnrolledView {
        enrollment: EnrollmentView::new(&row, &entry),
        self_check: SelfCheckView::new(&entry.definition, ticked_items(&row)),
    };
    let status = if existed { StatusCode::OK } else { StatusCode::CREATED };
    Ok(ctx.json(status, &view))
}

/// Lists the viewer's enrolments in the current course.
pub async fn enrollments(ctx: ApiContext) -> Result<Response, ApiError> {
    let mut items = Vec::new();
    for entry in catalogue::list_all(ctx.db()).await? {
        let overview = participation::overview(ctx.db(), &ctx.viewer, &entry.slug).await?;
        if let Some(view) = OverviewView::new(overview) {
            items.push(EnrollmentSummary::from(view));
        }
    }
    Ok(ctx.ok(&Items { items }))
}

/// Returns one enrolment with its components and progress, for its owner
/// or an assessor of its course.
pub async fn enrollment(ctx: ApiContext, ApiPath(id): ApiPath<i64>) -> Result<Response, ApiError> {
    let db = ctx.db();
    let row = participation::enrollment_by_id(db, id).await?;
    ctx.viewer.check_read(&row)?;
    let entry = catalogue::version(db, row.credential_version_id).await?;
    let attempts = participation::attempts_of(db, row.id).await?;
    let overview = participation::overview_of(entry, Some(row), attempts)?;
    let view = OverviewView::new(overview)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("overview of enrolment {id} lost its enrolment")))?;
    Ok(ctx.ok(&view))
}

/// The ticked self-check items, all of them: items left out count as unticked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceSelfCheckBody {
    self_check: Vec<String>,
}

pub async fn self_check(
    ctx: ApiContext,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReplaceSelfCheckBody>,
) -> Result<Response, ApiError> {
    let db = ctx.db();
    participation::save_self_check(db, &ctx.viewer, id, &body.self_check).await?;
    let row = participation::enrollment_by_id(db, id).await?;
    let entry = catalogue::version(db, row.credential_version_id).await?;
    let view = EnrolledView {
        enrollment: EnrollmentView::new(&row, &entry),
        self_check: SelfCheckView::new(&entry.definition, ticked_items(&row)),
    };
    Ok(ctx.ok(&view))
}

async fn detail_view(ctx: &ApiContext, attempt_id: i64) -> Result<AttemptDetailView, ApiError> {
    Ok(AttemptDetailView::from(participation::attempt_detail(ctx.db(), &ctx.viewer, attempt_id).await?))
}

/// Returns the open draft of a component, or starts a new attempt when the
/// rules allow one.
pub async fn open_draft(ctx: ApiContext, ApiPath((id, key)): ApiPath<(i64, String)>) -> Result<Response, ApiError> {
    let draft = participation::open_draft(ctx.db(), &ctx.viewer, id, &key).await?;
    let view = detail_view(&ctx, draft.id).await?;
    Ok(ctx.ok(&view))
}

pub async fn attempt(ctx: ApiContext, ApiPath(id): ApiPath<i64>) -> Result<Response, ApiError> {
    let view = detail_view(&ctx, id).await?;
    Ok(ctx.ok(&view))
}

/// The changes to a draft. A field left out keeps its saved value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    text: Option<String>,
    reflection: Option<String>,
    links: Option<Vec<String>>,
}

pub async fn save_draft(
    ctx: ApiContext,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DraftBody>,
) -> Result<Response, ApiError> {
    let db = ctx.db();
    let saved = participation::attempt_detail(db, &ctx.viewer, id).await?;
    let input = DraftInput {
        text: body.text.unwrap_or(saved.attempt.text),
        reflection: body.reflection.unwrap_or(saved.attempt.reflection),
        links: body.links.unwrap_or(saved.links),
    };
    let row = participation::save_draft(db, &ctx.viewer, id, input).await?;
    Ok(ctx.ok(&AttemptView::from(&row)))
}

/// The form field that carries an uploaded file.
const FILE_FIELD: &str = "file";

fn multipart_error(error: MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::from(AppError::TooLarge(
            "The upload is larger than the server accepts. Compress the file or upload a shorter version.".into(),
        ));
    }
    ApiError::bad_request(format!(
        "The upload could not be read: {}. Send it as multipart/form-data with the file in a field named `{FILE_FIELD}`.",
        error.body_text()
    ))
}

/// Attaches a file (multipart field `file`) to a draft.
pub async fn upload(
    ctx: ApiContext,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|rejection| {
        ApiError::bad_request(format!(
            "The upload could not be read: {}. Send it as multipart/form-data with the file in a field named `{FILE_FIELD}`.",
            rejection.body_text()
        ))
    })?;
    let mut upload = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some(FILE_FIELD) {
            continue;
        }
        if upload.is_some() {
            return Err(ApiError::bad_request(format!(
                "The request contains more than one `{FILE_FIELD}` field. Upload one file per request."
            )));
        }
        let name = field.file_name().unwrap_or("upload").to_string();
        let content_type = field.content_type().unwrap_or("application/octet-stream").to_string();
        let bytes = field.bytes().await.map_err(multipart_error)?;
        upload = Some((name, content_type, bytes));
    }
    let Some((name, content_type, bytes)) = upload else {
        return Err(ApiError::bad_request(format!(
            "The request has no field named `{FILE_FIELD}`. Send the file as multipart/form-data in that field."
        )));
    };
    let state = &ctx.state;
    let file = participation::add_file(
        &state.db,
        state.files.as_ref(),
        &state.settings.storage,
        &ctx.viewer,
        id,
        &name,
        &content_type,
        &bytes,
    )
    .await?;
    Ok(ctx.json(StatusCode::CREATED, &FileView::from(&file)))
}

pub async fn submit(ctx: ApiContext, ApiPath(id): ApiPath<i64>) -> Result<Response, ApiError> {
    let row = participation::submit(ctx.db(), ctx.state.state_hook(), &ctx.viewer, id).await?;
    Ok(ctx.ok(&AttemptView::from(&row)))
}

/// Sends the file's bytes with the headers of the page download: an
/// attachment with the original name, the stored content type, and no sniffing.
pub async fn download(ctx: ApiContext, ApiPath(id): ApiPath<i64>) -> Result<Response, ApiError> {
    let state = &ctx.state;
    let (file, bytes) = participation::download(&state.db, state.files.as_ref(), &ctx.viewer, id).await?;
    let content_type = HeaderValue::from_str(&file.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, attachment(&file.original_name)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
    ];
    Ok(ctx.with_token((headers, bytes).into_response()))
}

pub async fn remove_file(ctx: ApiContext, ApiPath(id): ApiPath<i64>) -> Result<Response, ApiError> {
    let state = &ctx.state;
    participation::remove_file(&state.db, state.files.as_ref(), &ctx.viewer, id).await?;
    Ok(ctx.no_content())
}

/// Every micro-credential the viewer has earned, with the total CEUs.
#[derive(Debug, Serialize)]
struct TranscriptView {
    items: Vec<reports::EarnedRow>,
    total_ceus: f64,
}

pub async fn transcript(ctx: ApiContext) -> Result<Response, ApiError> {
    let (items, total_ceus) = reports::transcript(ctx.db(), &ctx.viewer).await?;
    Ok(ctx.ok(&TranscriptView { items, total_ceus }))
}
