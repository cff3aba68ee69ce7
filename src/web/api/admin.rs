//! Catalogue admins' endpoints: catalogue management, the CEU report and
//! the audit log.
//!
//! The catalogue services take no viewer, so these handlers check the
//! admin role with `Viewer::require` before calling them; the report
//! services check it themselves.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use microcred_domain::{Catalogue, MicroCredential};
use microcred_lti::Role;
use serde::{Deserialize, Serialize};

use super::support::{parse_json, ApiContext, ApiError, ApiJson, ApiPath, ApiQuery, CatalogueText, TextFormat};
use super::views::{AuditEntryView, CatalogueItem, Items};
use crate::workflow::{catalogue, reports};

/// Audit entries returned when the request sets no limit.
const DEFAULT_AUDIT_LIMIT: u64 = 100;
/// Maximum audit entries one request returns.
const MAX_AUDIT_LIMIT: u64 = 1000;

/// Lists every micro-credential, archived ones included.
pub async fn catalogue(ctx: ApiContext) -> Result<Response, ApiError> {
    ctx.viewer.require(Role::Admin)?;
    let entries = catalogue::list_all(ctx.db()).await?;
    Ok(ctx.ok(&Items { items: entries.iter().map(CatalogueItem::from).collect() }))
}

/// Imports a catalogue (TOML, or JSON with the same keys) in one
/// transaction: all of it or nothing.
pub async fn import(ctx: ApiContext, body: CatalogueText) -> Result<Response, ApiError> {
    ctx.viewer.require(Role::Admin)?;
    let json = body.format == TextFormat::Json;
    let report = catalogue::import_text(ctx.db(), &body.text, json, Some(ctx.viewer.user_id)).await?;
    Ok(ctx.ok(&report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Export only this micro-credential.
    slug: Option<String>,
}

/// Exports the active micro-credentials (or the one named by `slug`) as TOML.
pub async fn export(ctx: ApiContext, ApiQuery(query): ApiQuery<ExportQuery>) -> Result<Response, ApiError> {
    ctx.viewer.require(Role::Admin)?;
    let (entries, file_name) = match query.slug.filter(|slug| !slug.is_empty()) {
        Some(slug) => {
            let entry = catalogue::by_slug(ctx.db(), &slug).await?;
            // Stored slugs passed validation (lowercase letters, digits and hyphens), so the name needs no quoting.
            let file_name = format!("microcred-{}.toml", entry.slug);
            (vec![entry], file_name)
        }
        None => (catalogue::list(ctx.db()).await?, "microcred-catalogue.toml".to_string()),
    };
    let text = catalogue::export_toml(&entries)?;
    Ok(ctx.with_token(download("application/toml; charset=utf-8", &file_name, text)))
}

fn download(content_type: &'static str, file_name: &str, body: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type)), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

/// Replaces one micro-credential's definition. The body is its TOML text (a
/// catalogue with exactly this one micro-credential), or its definition as a
/// JSON object. A changed definition becomes a new version; enrolments keep
/// the version they began with.
pub async fn update(
    ctx: ApiContext,
    ApiPath(slug): ApiPath<String>,
    body: CatalogueText,
) -> Result<Response, ApiError> {
    ctx.viewer.require(Role::Admin)?;
    let toml_text = match body.format {
        TextFormat::Toml => body.text,
        TextFormat::Json => {
            let definition: MicroCredential = parse_json(body.text.as_bytes())?;
            // The service reads only TOML, and `to_toml_string` writes the format that `from_toml_str` reads.
            Catalogue { micro_credentials: vec![definition] }
                .to_toml_string()
                .map_err(|e| ApiError::bad_request(format!("The definition cannot be written as TOML: {e}.")))?
        }
    };
    let report = catalogue::update_from_toml(ctx.db(), &slug, &toml_text, ctx.viewer.user_id).await?;
    let entry = catalogue::by_slug(ctx.db(), &slug).await?;
    #[derive(Serialize)]
    struct Updated {
        changed: bool,
        slug: String,
        status: String,
        version: i32,
    }
    let view = Updated {
        changed: report.unchanged.is_empty(),
        slug: entry.slug,
        status: entry.status,
        version: entry.version,
    };
    Ok(ctx.ok(&view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchivedBody {
    /// `true` hides the micro-credential from the catalogue; `false` offers it again.
    archived: bool,
}

/// Archives or restores a micro-credential. Enrolments and work stay.
pub async fn set_archived(
    ctx: ApiContext,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<ArchivedBody>,
) -> Result<Response, ApiError> {
    ctx.viewer.require(Role::Admin)?;
    catalogue::set_archived(ctx.db(), &slug, body.archived, ctx.viewer.user_id).await?;
    let entry = catalogue::by_slug(ctx.db(), &slug).await?;
    Ok(ctx.ok(&CatalogueItem::from(&entry)))
}

#[derive(Debug, Serialize)]
struct CeuReportView {
    items: Vec<reports::EarnedRow>,
    total_ceus: f64,
}

/// Returns who earned what and when, across the courses of the admin's platform.
pub async fn ceu_report(ctx: ApiContext) -> Result<Response, ApiError> {
    let items = reports::ceu_report(ctx.db(), &ctx.viewer).await?;
    let total_ceus = items.iter().map(|row| row.ceus).sum();
    Ok(ctx.ok(&CeuReportView { items, total_ceus }))
}

pub async fn ceu_csv(ctx: ApiContext) -> Result<Response, ApiError> {
    let rows = reports::ceu_report(ctx.db(), &ctx.viewer).await?;
    let csv = reports::ceu_csv(&rows);
    Ok(ctx.with_token(download("text/csv; charset=utf-8", "ceu-report.csv", csv)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<u64>,
}

/// Returns the newest audit entries first.
pub async fn audit(ctx: ApiContext, ApiQuery(query): ApiQuery<AuditQuery>) -> Result<Response, ApiError> {
    ctx.viewer.require(Role::Admin)?;
    let limit = query.limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
    if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "The limit {limit} is out of range: ask for 1 to {MAX_AUDIT_LIMIT} entries."
        )));
    }
    let entries = reports::audit_log(ctx.db(), &ctx.viewer, limit).await?;
    Ok(ctx.ok(&Items { items: entries.iter().map(AuditEntryView::from).collect() }))
}
