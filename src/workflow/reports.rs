//! Transcripts, the CEU report with its CSV export, and the audit log view.

use chrono::{DateTime, Utc};
use microcred_lti::Role;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::access::Viewer;
use super::assessing::display_name;
use super::{catalogue, Result};
use crate::store::entities::{audit_entry, context, enrollment, user};

/// One earned micro-credential.
#[derive(Debug, Clone, Serialize)]
pub struct EarnedRow {
    pub enrollment_id: i64,
    pub user_id: i64,
    pub participant: String,
    pub email: Option<String>,
    pub credential_slug: String,
    pub credential_title: String,
    pub version: i32,
    pub course: String,
    pub ceus: f64,
    pub earned_at: DateTime<Utc>,
}

async fn earned_rows(db: &DatabaseConnection, enrollments: Vec<enrollment::Model>) -> Result<Vec<EarnedRow>> {
    let mut rows = Vec::new();
    for e in enrollments {
        let (Some(earned_at), Some(ceus)) = (e.earned_at, e.ceus_awarded) else { continue };
        let entry = catalogue::version(db, e.credential_version_id).await?;
        let person = user::Entity::find_by_id(e.user_id).one(db).await?;
        let course = context::Entity::find_by_id(e.context_pk).one(db).await?;
        rows.push(EarnedRow {
            enrollment_id: e.id,
            user_id: e.user_id,
            participant: person.as_ref().map(display_name).unwrap_or_default(),
            email: person.and_then(|p| p.email),
            credential_slug: entry.slug,
            credential_title: entry.definition.title.clone(),
            version: entry.version,
            course: course.and_then(|c| c.title.or(c.label).or(Some(c.context_id))).unwrap_or_default(),
            ceus,
            earned_at,
        });
    }
    Ok(rows)
}

/// List every micro-credential the viewer has earned, across courses, with the total CEUs.
pub async fn transcript(db: &DatabaseConnection, viewer: &Viewer) -> Result<(Vec<EarnedRow>, f64)> {
    let enrollments = enrollment::Entity::find()
        .filter(enrollment::Column::UserId.eq(viewer.user_id))
        .filter(enrollment::Column::PlatformId.eq(viewer.platform_id))
        .filter(enrollment::Column::EarnedAt.is_not_null())
        .order_by_asc(enrollment::Column::EarnedAt)
        .all(db)
        .await?;
    let rows = earned_rows(db, enrollments).await?;
    let total = rows.iter().map(|r| r.ceus).sum();
    Ok((rows, total))
}

/// List who earned what and when, across the courses of the admin's platform.
pub async fn ceu_report(db: &DatabaseConnection, viewer: &Viewer) -> Result<Vec<EarnedRow>> {
    viewer.require(Role::Admin)?;
    let enrollments = enrollment::Entity::find()
        .filter(enrollment::Column::PlatformId.eq(viewer.platform_id))
        .filter(enrollment::Column::EarnedAt.is_not_null())
        .order_by_asc(enrollment::Column::EarnedAt)
        .all(db)
        .await?;
    earned_rows(db, enrollments).await
}

/// Quote a CSV field when needed and neutralize spreadsheet formula triggers.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_string() };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Write the CEU report as CSV, one earned micro-credential per line.
pub fn ceu_csv(rows: &[EarnedRow]) -> String {
    let mut out = String::from("participant,email,micro_credential,slug,version,course,ceus,earned_at\r\n");
    for row in rows {
        let fields = [
            csv_field(&row.participant),
            csv_field(row.email.as_deref().unwrap_or("")),
            csv_field(&row.credential_title),
            csv_field(&row.credential_slug),
            row.version.to_string(),
            csv_field(&row.course),
            format!("{:.2}", row.ceus),
            row.earned_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// List the audit entries an admin may see, newest first.
pub async fn audit_log(db: &DatabaseConnection, viewer: &Viewer, limit: u64) -> Result<Vec<audit_entry::Model>> {
    viewer.require(Role::Admin)?;
    // Catalogue changes (no course) are shared by every platform; course work
    // is shown only for the courses of the admin's own platform.
    let own_courses: Vec<i64> = context::Entity::find()
        .filter(context::Column::PlatformId.eq(viewer.platform_id))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let scope = sea_orm::Condition::any()
        .add(audit_entry::Column::ContextPk.is_null())
        .add(audit_entry::Column::ContextPk.is_in(own_courses));
    Ok(audit_entry::Entity::find()
        .filter(scope)
        .order_by_desc(audit_entry::Column::At)
        .order_by_desc(audit_entry::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_neutralizes() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
