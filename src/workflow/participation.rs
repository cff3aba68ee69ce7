//! An educator's work on a micro-credential: enrolment, drafts, files,
//! submission, and the progress computed from the attempts.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use microcred_domain::{
    credential_progress, AttemptStatus, AttemptSummary, Component, CredentialProgress, Decision, MicroCredential,
    Submission,
};
use microcred_lti::Role;
use rand::RngCore;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::query::{SelectA, SelectB};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    IdenStatic, JoinType, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, RelationDef, Set, Statement, TransactionTrait,
    Value,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::access::Viewer;
use super::catalogue::{self, Entry};
use super::files::FileStore;
use super::{audit, Result, WorkflowError};
use crate::config::StorageSettings;
use crate::store::direct::ColumnTypes;
use crate::store::prepared::SqlText;
use crate::store::entities::{assessment, attempt, attempt_file, credential, credential_version, enrollment};

pub const ATTEMPT_DRAFT: &str = "draft";
pub const ATTEMPT_SUBMITTED: &str = "submitted";
pub const ATTEMPT_ASSESSED: &str = "assessed";
pub const DECISION_MASTERED: &str = "mastered";
pub const DECISION_NOT_YET: &str = "not_yet_mastered";

pub fn decision_str(decision: Decision) -> &'static str {
    match decision {
        Decision::Mastered => DECISION_MASTERED,
        Decision::NotYetMastered => DECISION_NOT_YET,
    }
}

fn parse_decision(value: Option<&str>) -> Option<Decision> {
    match value {
        Some(DECISION_MASTERED) => Some(Decision::Mastered),
        Some(DECISION_NOT_YET) => Some(Decision::NotYetMastered),
        _ => None,
    }
}

/// The domain's view of a stored attempt.
pub fn summary(row: &attempt::Model) -> AttemptSummary {
    let status = match (row.status.as_str(), row.submitted_at, row.assessed_at, parse_decision(row.decision.as_deref())) {
        (ATTEMPT_ASSESSED, Some(submitted_at), Some(assessed_at), Some(decision)) => {
            AttemptStatus::Assessed { submitted_at, assessed_at, decision }
        }
        (ATTEMPT_SUBMITTED, Some(submitted_at), _, _) | (ATTEMPT_ASSESSED, Some(submitted_at), _, _) => {
            AttemptStatus::Submitted { submitted_at }
        }
        _ => AttemptStatus::Draft,
    };
    AttemptSummary { started_at: row.created_at, status }
}

pub fn links_of(row: &attempt::Model) -> Vec<String> {
    serde_json::from_str(&row.links).unwrap_or_default()
}

/// The educator's enrolment in a micro-credential within the current course.
pub async fn find_enrollment<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    credential_id: i64,
) -> Result<Option<enrollment::Model>> {
    let Some(context_pk) = viewer.context_pk else { return Ok(None) };
    Ok(enrollment::Entity::find()
        .filter(enrollment::Column::UserId.eq(viewer.user_id))
        .filter(enrollment::Column::CredentialId.eq(credential_id))
        .filter(enrollment::Column::ContextPk.eq(context_pk))
        .one(db)
        .await?)
}

/// Read the current version of the micro-credential with this slug and the
/// viewer's enrolment in it in their course, in one query, because every
/// launch into a course link reads both.
async fn current_with_enrollment<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    slug: &str,
) -> Result<(Entry, Option<enrollment::Model>)> {
    let Some(statement) = landing_statement(db.get_database_backend(), viewer, slug) else {
        return Ok((catalogue::by_slug(db, slug).await?, None));
    };
    let row = db.query_one(statement).await?.ok_or_else(|| catalogue::not_in_catalogue(slug))?;
    current_from_row(db, &row).await
}

/// Build the query that reads the micro-credential with this slug, its
/// current version and the viewer's enrolment in it in their course: the
/// row that [`overview_from_row`] turns into an overview. `None` when the
/// viewer has no course.
pub fn landing_statement(backend: DbBackend, viewer: &Viewer, slug: &str) -> Option<Statement> {
    static SQL: SqlText = SqlText::new();
    let context_pk = viewer.context_pk?;
    let values = vec![viewer.user_id.into(), context_pk.into(), slug.into()];
    Some(SQL.statement(backend, values, |values| overview_query(backend, values)))
}

/// Return the type of each column of the row that [`landing_statement`] reads.
pub fn landing_columns() -> &'static ColumnTypes {
    static TYPES: std::sync::LazyLock<ColumnTypes> = std::sync::LazyLock::new(|| {
        ColumnTypes::default()
            .entity::<credential::Entity>(SelectA.as_str())
            .columns::<credential_version::Entity>(OVERVIEW_VERSION_PREFIX, &catalogue::VersionHead::COLUMNS)
            .entity::<enrollment::Entity>(SelectB.as_str())
    });
    &TYPES
}

/// Read the micro-credential, its current version and the enrolment from a
/// row of [`landing_statement`].
async fn current_from_row<C: ConnectionTrait>(db: &C, row: &QueryResult) -> Result<(Entry, Option<enrollment::Model>)> {
    let (credential, version, enrollment) = (
        credential::Model::from_query_result(row, SelectA.as_str())?,
        catalogue::VersionHead::from_query_result_optional(row, OVERVIEW_VERSION_PREFIX)?,
        enrollment::Model::from_query_result_optional(row, SelectB.as_str())?,
    );
    Ok((catalogue::current_of(db, credential, version).await?, enrollment))
}

/// Build the overview from a row of [`landing_statement`], reading the
/// enrolment's version and attempts when there is an enrolment.
pub async fn overview_from_row<C: ConnectionTrait>(db: &C, row: &QueryResult) -> Result<Overview> {
    let (current, enrollment) = current_from_row(db, row).await?;
    finish_overview(db, current, enrollment).await
}

/// Build the overview of `slug` from a row that joined [`landing_query_for`]
/// with a left join, as [`overview_from_row`] does. Return `NotFound` when
/// the join found no micro-credential named `slug`.
pub async fn overview_from_joined_row<C: ConnectionTrait>(db: &C, row: &QueryResult, slug: &str) -> Result<Overview> {
    let found: Option<i64> = row.try_get(SelectA.as_str(), credential::Column::Id.as_str())?;
    if found.is_none() {
        return Err(catalogue::not_in_catalogue(slug));
    }
    overview_from_row(db, row).await
}

/// Build the select of the micro-credential with slug `values[2]`, its current version and
/// the enrolment of user `values[0]` in course `values[1]`.
fn overview_query(backend: DbBackend, values: &[Value]) -> Statement {
    let (user_id, context_pk) = (SimpleExpr::Value(values[0].clone()), SimpleExpr::Value(values[1].clone()));
    landing_query_for(backend, user_id, context_pk, values[2].clone())
}

/// Build [`landing_statement`]'s select for the user and the course whose
/// keys `user_id` and `context_pk` compute, such as subqueries of a statement
/// that stores them. Its one bound value is `slug`.
pub fn landing_query_for(backend: DbBackend, user_id: SimpleExpr, context_pk: SimpleExpr, slug: Value) -> Statement {
    let viewers_enrollment: RelationDef = credential::Entity::belongs_to(enrollment::Entity)
        .from(credential::Column::Id)
        .to(enrollment::Column::CredentialId)
        .on_condition(move |_, enrollments| {
            Condition::all()
                .add(Expr::col((enrollments.clone(), enrollment::Column::UserId)).eq(user_id.clone()))
                .add(Expr::col((enrollments, enrollment::Column::ContextPk)).eq(context_pk.clone()))
        })
        .into();
    let select = credential::Entity::find()
        .select_also(enrollment::Entity)
        .join(JoinType::LeftJoin, catalogue::current_version())
        .join(JoinType::LeftJoin, viewers_enrollment)
        .filter(credential::Column::Slug.eq(slug));
    catalogue::with_version_head(select, OVERVIEW_VERSION_PREFIX).build(backend)
}

/// Prefix of the current version's columns in [`overview_query`]'s select.
const OVERVIEW_VERSION_PREFIX: &str = "V_";

pub async fn enrollment_by_id<C: ConnectionTrait>(db: &C, id: i64) -> Result<enrollment::Model> {
    enrollment::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| WorkflowError::NotFound("No such work, or it belongs to someone else.".into()))
}

/// Every attempt of an enrolment, oldest first.
pub async fn attempts_of<C: ConnectionTrait>(db: &C, enrollment_id: i64) -> Result<Vec<attempt::Model>> {
    Ok(attempt::Entity::find()
        .filter(attempt::Column::EnrollmentId.eq(enrollment_id))
        .order_by_asc(attempt::Column::ComponentKey)
        .order_by_asc(attempt::Column::Number)
        .all(db)
        .await?)
}

/// Progress of an enrolment, from its stored attempts and its version's definition.
pub fn progress(definition: &MicroCredential, attempts: &[attempt::Model]) -> Result<CredentialProgress> {
    let mut by_component: BTreeMap<String, Vec<AttemptSummary>> = BTreeMap::new();
    for row in attempts {
        by_component.entry(row.component_key.clone()).or_default().push(summary(row));
    }
    credential_progress(definition, &by_component)
        .map_err(|e| WorkflowError::Internal(anyhow::anyhow!("stored attempts break the rules: {e}")))
}

/// Enrol the viewer in a micro-credential in the current course. Enrolling
/// twice returns the existing enrolment, on the version it began with.
pub async fn enroll(
    db: &DatabaseConnection,
    viewer: &Viewer,
    slug: &str,
    self_check: &[String],
) -> Result<enrollment::Model> {
    viewer.require(Role::Participant)?;
    let context_pk = viewer.context()?;
    let entry = catalogue::by_slug(db, slug).await?;
    if entry.status != catalogue::STATUS_ACTIVE {
        return Err(WorkflowError::invalid(format!("{} is no longer offered.", entry.definition.title)));
    }
    entry
        .definition
        .evaluate_self_check(self_check)
        .map_err(|e| WorkflowError::invalid(e.to_string()))?;
    if let Some(existing) = find_enrollment(db, viewer, entry.credential_id).await? {
        return Ok(existing);
    }
    let now = Utc::now();
    let _turn = crate::store::write_turn(db).await;
    let txn = db.begin().await?;
    let inserted = enrollment::ActiveModel {
        user_id: Set(viewer.user_id),
        credential_id: Set(entry.credential_id),
        credential_version_id: Set(entry.version_id),
        context_pk: Set(context_pk),
        resource_link_pk: Set(viewer.resource_link_pk),
        platform_id: Set(viewer.platform_id),
        self_check: Set(serde_json::to_string(self_check).unwrap_or_else(|_| "[]".into())),
        enrolled_at: Set(now),
        earned_at: Set(None),
        ceus_awarded: Set(None),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(_) => {
            // A second tab enrolled at the same moment; use its enrolment.
            drop(txn);
            return find_enrollment(db, viewer, entry.credential_id)
                .await?
                .ok_or_else(|| WorkflowError::Conflict("Enrolment failed; reload the page and try again.".into()));
        }
    };
    audit::record(
        &txn,
        Some(viewer.user_id),
        "enrollment.created",
        "enrollment",
        row.id,
        Some(context_pk),
        serde_json::json!({"slug": slug, "version": entry.version}),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Update the ticked self-check items of an enrolment.
pub async fn save_self_check(db: &DatabaseConnection, viewer: &Viewer, enrollment_id: i64, ticked: &[String]) -> Result<()> {
    let enrollment = enrollment_by_id(db, enrollment_id).await?;
    viewer.check_owner(&enrollment)?;
    let entry = catalogue::version(db, enrollment.credential_version_id).await?;
    entry.definition.evaluate_self_check(ticked).map_err(|e| WorkflowError::invalid(e.to_string()))?;
    let _turn = crate::store::write_turn(db).await;
    enrollment::Entity::update_many()
        .col_expr(enrollment::Column::SelfCheck, Expr::value(serde_json::to_string(ticked).unwrap_or_default()))
        .col_expr(enrollment::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(enrollment::Column::Id.eq(enrollment.id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn attempt_by_id<C: ConnectionTrait>(db: &C, id: i64) -> Result<attempt::Model> {
    attempt::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| WorkflowError::NotFound("No such work, or it belongs to someone else.".into()))
}

fn component<'a>(definition: &'a MicroCredential, key: &str) -> Result<&'a Component> {
    definition
        .component(key)
        .ok_or_else(|| WorkflowError::NotFound(format!("{} has no component {key:?}.", definition.title)))
}

/// The draft to edit for a component: the open draft, or a new attempt
/// when the rules allow one (no attempt yet, or the last one was assessed
/// as not yet mastered).
pub async fn open_draft(
    db: &DatabaseConnection,
    viewer: &Viewer,
    enrollment_id: i64,
    component_key: &str,
) -> Result<attempt::Model> {
    let enrollment = enrollment_by_id(db, enrollment_id).await?;
    viewer.check_owner(&enrollment)?;
    let entry = catalogue::version(db, enrollment.credential_version_id).await?;
    component(&entry.definition, component_key)?;
    // Read before the transaction begins: on SQLite, a transaction that reads
    // first and then writes fails at once with SQLITE_BUSY when another
    // connection wrote in between. The unique (enrolment, component, number)
    // index still stops two tabs from adding the same attempt.
    let attempts: Vec<attempt::Model> = attempt::Entity::find()
        .filter(attempt::Column::EnrollmentId.eq(enrollment.id))
        .filter(attempt::Column::ComponentKey.eq(component_key))
        .order_by_asc(attempt::Column::Number)
        .all(db)
        .await?;
    if let Some(draft) = attempts.iter().find(|a| a.status == ATTEMPT_DRAFT) {
        return Ok(draft.clone());
    }
    let summaries: Vec<AttemptSummary> = attempts.iter().map(summary).collect();
    let state = microcred_domain::component_state(&summaries)
        .map_err(|e| WorkflowError::Internal(anyhow::anyhow!("stored attempts break the rules: {e}")))?;
    state.check_new_attempt().map_err(|e| WorkflowError::Conflict(e.to_string()))?;
    let number = attempts.last().map(|a| a.number + 1).unwrap_or(1);
    // Start a resubmission from the text of the previous attempt, so nothing has to be retyped.
    let previous = attempts.last();
    let now = Utc::now();
    let _turn = crate::store::write_turn(db).await;
    let txn = db.begin().await?;
    let inserted = attempt::ActiveModel {
        enrollment_id: Set(enrollment.id),
        component_key: Set(component_key.to_string()),
        number: Set(number),
        status: Set(ATTEMPT_DRAFT.to_string()),
        text: Set(previous.map(|p| p.text.clone()).unwrap_or_default()),
        reflection: Set(previous.map(|p| p.reflection.clone()).unwrap_or_default()),
        links: Set(previous.map(|p| p.links.clone()).unwrap_or_else(|| "[]".to_string())),
        created_at: Set(now),
        updated_at: Set(now),
        submitted_at: Set(None),
        assessed_at: Set(None),
        decision: Set(None),
        revision: Set(0),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    match inserted {
        Ok(row) => {
            audit::record(
                &txn,
                Some(viewer.user_id),
                "attempt.started",
                "attempt",
                row.id,
                Some(enrollment.context_pk),
                serde_json::json!({"component": component_key, "number": number}),
            )
            .await?;
            txn.commit().await?;
            Ok(row)
        }
        Err(_) => {
            // Another tab created the same attempt a moment ago.
            drop(txn);
            attempt::Entity::find()
                .filter(attempt::Column::EnrollmentId.eq(enrollment.id))
                .filter(attempt::Column::ComponentKey.eq(component_key))
                .filter(attempt::Column::Status.eq(ATTEMPT_DRAFT))
                .one(db)
                .await?
                .ok_or_else(|| WorkflowError::Conflict("The draft could not be opened; reload the page.".into()))
        }
    }
}

/// What the educator typed into a draft.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct DraftInput {
    pub text: String,
    pub reflection: String,
    pub links: Vec<String>,
}

async fn owned_attempt(db: &DatabaseConnection, viewer: &Viewer, attempt_id: i64) -> Result<(attempt::Model, enrollment::Model)> {
    let row = attempt_by_id(db, attempt_id).await?;
    let enrollment = enrollment_by_id(db, row.enrollment_id).await?;
    viewer.check_owner(&enrollment)?;
    Ok((row, enrollment))
}

fn read_only() -> WorkflowError {
    WorkflowError::Conflict(
        "This attempt has been submitted and is read-only. Start a new attempt if the assessor asks for a resubmission."
            .into(),
    )
}

/// Save a draft. Hard size limits apply; the submission rules wait for submit.
pub async fn save_draft(db: &DatabaseConnection, viewer: &Viewer, attempt_id: i64, input: DraftInput) -> Result<attempt::Model> {
    let (row, enrollment) = owned_attempt(db, viewer, attempt_id).await?;
    if row.status != ATTEMPT_DRAFT {
        return Err(read_only());
    }
    let entry = catalogue::version(db, enrollment.credential_version_id).await?;
    let component = component(&entry.definition, &row.component_key)?;
    let links: Vec<String> = input.links.iter().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
    let file_count = count_files(db, row.id).await?;
    let submission = Submission { text: input.text.clone(), reflection: input.reflection.clone(), file_count, links: links.clone() };
    component
        .submission
        .check_draft(&submission)
        .map_err(|e| WorkflowError::Invalid(e.problems.iter().map(|p| p.to_string()).collect()))?;
    let now = Utc::now();
    let turn = crate::store::write_turn(db).await;
    let updated = attempt::Entity::update_many()
        .col_expr(attempt::Column::Text, Expr::value(input.text))
        .col_expr(attempt::Column::Reflection, Expr::value(input.reflection))
        .col_expr(attempt::Column::Links, Expr::value(serde_json::to_string(&links).unwrap_or_else(|_| "[]".into())))
        .col_expr(attempt::Column::UpdatedAt, Expr::value(now))
        .col_expr(attempt::Column::Revision, Expr::col(attempt::Column::Revision).add(1))
        .filter(attempt::Column::Id.eq(row.id))
        .filter(attempt::Column::Status.eq(ATTEMPT_DRAFT))
        .exec(db)
        .await?;
    drop(turn);
    if updated.rows_affected == 0 {
        return Err(read_only());
    }
    attempt_by_id(db, row.id).await
}

async fn count_files<C: ConnectionTrait>(db: &C, attempt_id: i64) -> Result<u32> {
    use sea_orm::PaginatorTrait;
    Ok(attempt_file::Entity::find().filter(attempt_file::Column::AttemptId.eq(attempt_id)).count(db).await? as u32)
}

pub async fn files_of<C: ConnectionTrait>(db: &C, attempt_id: i64) -> Result<Vec<attempt_file::Model>> {
    Ok(attempt_file::Entity::find()
        .filter(attempt_file::Column::AttemptId.eq(attempt_id))
        .order_by_asc(attempt_file::Column::Id)
        .all(db)
        .await?)
}

/// Keep the last path segment of an uploaded name, without control characters.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect::<String>().trim().to_string();
    let cleaned: String = cleaned.chars().take(200).collect();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "upload".to_string()
    } else {
        cleaned
    }
}

/// The content type to store for an upload: the declared type when the
/// configuration allows it, checked against the file's first bytes for the
/// types that have a signature.
pub fn check_upload_type(settings: &StorageSettings, declared: &str, bytes: &[u8]) -> Result<String> {
    let declared = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !settings.allowed_types.iter().any(|t| t.eq_ignore_ascii_case(&declared)) {
        return Err(WorkflowError::invalid(format!(
            "Files of type {declared:?} are not accepted. Accepted types: {}.",
            settings.allowed_types.join(", ")
        )));
    }
    let signature_ok = match declared.as_str() {
        "application/pdf" => bytes.starts_with(b"%PDF"),
        "image/png" => bytes.starts_with(b"\x89PNG"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => bytes.starts_with(b"GIF8"),
        t if t.starts_with("application/vnd.openxmlformats") => bytes.starts_with(b"PK"),
        _ => true,
    };
    if !signature_ok {
        return Err(WorkflowError::invalid(format!(
            "The file's content does not match its type {declared:?}. Save it again in that format and upload it."
        )));
    }
    Ok(declared)
}

/// Attach an uploaded file to a draft.
pub async fn add_file(
    db: &DatabaseConnection,
    store: &dyn FileStore,
    settings: &StorageSettings,
    viewer: &Viewer,
    attempt_id: i64,
    original_name: &str,
    declared_type: &str,
    bytes: &[u8],
) -> Result<attempt_file::Model> {
    let (row, enrollment) = owned_attempt(db, viewer, attempt_id).await?;
    if row.status != ATTEMPT_DRAFT {
        return Err(read_only());
    }
    let max_bytes = settings.max_file_mb.saturating_mul(1024 * 1024);
    if bytes.len() as u64 > max_bytes {
        return Err(WorkflowError::TooLarge(format!(
            "The file is {:.1} MB; the limit is {} MB. Compress it or upload a shorter version.",
            bytes.len() as f64 / 1_048_576.0,
            settings.max_file_mb
        )));
    }
    if bytes.is_empty() {
        return Err(WorkflowError::invalid("The file is empty. Choose the file again and upload it."));
    }
    let content_type = check_upload_type(settings, declared_type, bytes)?;
    let entry = catalogue::version(db, enrollment.credential_version_id).await?;
    let component = component(&entry.definition, &row.component_key)?;
    let count = count_files(db, row.id).await?;
    let max_count = component.submission.files.as_ref().map(|f| f.max_count).unwrap_or(0);
    if count >= max_count {
        return Err(WorkflowError::invalid(if max_count == 0 {
            "This component does not take files.".to_string()
        } else {
            format!("This component takes at most {max_count} files. Remove one before adding another.")
        }));
    }
    let mut key_bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut key_bytes);
    let key = URL_SAFE_NO_PAD.encode(key_bytes);
    store.put(&key, bytes).await?;
    let turn = crate::store::write_turn(db).await;
    let stored = attempt_file::ActiveModel {
        attempt_id: Set(row.id),
        storage_key: Set(key.clone()),
        original_name: Set(clean_file_name(original_name)),
        content_type: Set(content_type),
        size_bytes: Set(bytes.len() as i64),
        sha256: Set(hex::encode(Sha256::digest(bytes))),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await;
    drop(turn);
    match stored {
        Ok(file) => Ok(file),
        Err(e) => {
            let _ = store.delete(&key).await;
            Err(e.into())
        }
    }
}

/// Remove a file from a draft.
pub async fn remove_file(db: &DatabaseConnection, store: &dyn FileStore, viewer: &Viewer, file_id: i64) -> Result<()> {
    let file = attempt_file::Entity::find_by_id(file_id)
        .one(db)
        .await?
        .ok_or_else(|| WorkflowError::NotFound("No such file.".into()))?;
    let (row, _) = owned_attempt(db, viewer, file.attempt_id).await?;
    if row.status != ATTEMPT_DRAFT {
        return Err(read_only());
    }
    let turn = crate::store::write_turn(db).await;
    attempt_file::Entity::delete_by_id(file.id).exec(db).await?;
    drop(turn);
    if let Err(error) = store.delete(&file.storage_key).await {
        tracing::warn!(file_id = file.id, error = %error, "could not delete a removed file from storage");
    }
    Ok(())
}

/// A file the viewer may download, with its bytes.
pub async fn download(db: &DatabaseConnection, store: &dyn FileStore, viewer: &Viewer, file_id: i64) -> Result<(attempt_file::Model, Vec<u8>)> {
    let file = attempt_file::Entity::find_by_id(file_id)
        .one(db)
        .await?
        .ok_or_else(|| WorkflowError::NotFound("No such file.".into()))?;
    let row = attempt_by_id(db, file.attempt_id).await?;
    let enrollment = enrollment_by_id(db, row.enrollment_id).await?;
    viewer.check_read(&enrollment)?;
    let bytes = store.get(&file.storage_key).await?;
    Ok((file, bytes))
}

/// Hook run in the transaction of every change of a participant's state,
/// so that work caused by the change (grade passback) is stored with it.
#[async_trait::async_trait]
pub trait StateChangeHook: Send + Sync {
    async fn on_change(&self, txn: &sea_orm::DatabaseTransaction, enrollment: &enrollment::Model, change: StateChange) -> Result<()>;
}

/// What changed for a participant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StateChange {
    Submitted,
    Assessed { mastered_count: usize, component_count: usize },
    Earned { ceus: f64 },
}

/// Submit a draft for assessment, after checking it against the component's requirements.
pub async fn submit(
    db: &DatabaseConnection,
    hook: Option<&dyn StateChangeHook>,
    viewer: &Viewer,
    attempt_id: i64,
) -> Result<attempt::Model> {
    let (row, enrollment) = owned_attempt(db, viewer, attempt_id).await?;
    if row.status != ATTEMPT_DRAFT {
        return Err(read_only());
    }
    let entry = catalogue::version(db, enrollment.credential_version_id).await?;
    let component = component(&entry.definition, &row.component_key)?;
    let submission = Submission {
        text: row.text.clone(),
        reflection: row.reflection.clone(),
        file_count: count_files(db, row.id).await?,
        links: links_of(&row),
    };
    component
        .submission
        .check_submit(&submission)
        .map_err(|e| WorkflowError::Invalid(e.problems.iter().map(|p| p.to_string()).collect()))?;
    let _turn = crate::store::write_turn(db).await;
    let txn = db.begin().await?;
    let now = Utc::now();
    let updated = attempt::Entity::update_many()
        .col_expr(attempt::Column::Status, Expr::value(ATTEMPT_SUBMITTED))
        .col_expr(attempt::Column::SubmittedAt, Expr::value(now))
        .col_expr(attempt::Column::UpdatedAt, Expr::value(now))
        .filter(attempt::Column::Id.eq(row.id))
        .filter(attempt::Column::Status.eq(ATTEMPT_DRAFT))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(read_only());
    }
    audit::record(
        &txn,
        Some(viewer.user_id),
        "attempt.submitted",
        "attempt",
        row.id,
        Some(enrollment.context_pk),
        serde_json::json!({"component": row.component_key, "number": row.number}),
    )
    .await?;
    if let Some(hook) = hook {
        hook.on_change(&txn, &enrollment, StateChange::Submitted).await?;
    }
    txn.commit().await?;
    attempt_by_id(db, row.id).await
}

/// One component as the participant sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentView {
    pub key: String,
    pub title: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub attempts: Vec<attempt::Model>,
}

pub fn state_name(state: &microcred_domain::ComponentState) -> (&'static str, &'static str) {
    use microcred_domain::ComponentState::*;
    match state {
        NotStarted => ("not_started", "Not started"),
        Draft => ("draft", "Draft"),
        Submitted => ("submitted", "Submitted"),
        NotYetMastered => ("not_yet_mastered", "Not yet mastered"),
        Mastered { .. } => ("mastered", "Mastered"),
    }
}

/// Everything a participant's overview shows.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub entry: Entry,
    pub enrollment: Option<enrollment::Model>,
    pub components: Vec<ComponentView>,
    pub mastered_count: usize,
    pub component_count: usize,
    pub percent_complete: u8,
    pub earned_at: Option<DateTime<Utc>>,
    pub ceus: Option<f64>,
}

/// How long an overview read by a launch waits for the launch's first page.
const FRESH_OVERVIEW_SECS: u64 = 10;

/// Maximum number of overviews kept for the first page of their launch.
const FRESH_OVERVIEW_LIMIT: usize = 2048;

/// Overviews that launches on this instance read for the page their
/// redirect leads to, keyed by the session's id. The launch reads it in its
/// own transaction, on the connection that has just written the launch's
/// rows, so the first page makes no round trip to the database. The page
/// takes it once; a page that comes later, or to another instance, reads
/// the overview itself.
pub type FreshOverviews = crate::handoff::Handoff<Overview>;

/// Create the map of fresh overviews with its age and size limits.
pub fn fresh_overviews() -> FreshOverviews {
    FreshOverviews::new(std::time::Duration::from_secs(FRESH_OVERVIEW_SECS), FRESH_OVERVIEW_LIMIT)
}

/// The participant's overview of one micro-credential: the version they
/// enrolled in, or the current one when they have not enrolled.
pub async fn overview<C: ConnectionTrait>(db: &C, viewer: &Viewer, slug: &str) -> Result<Overview> {
    let (current, enrollment) = current_with_enrollment(db, viewer, slug).await?;
    finish_overview(db, current, enrollment).await
}

/// Build the overview of `current`, or of the version of `enrollment` with its attempts.
async fn finish_overview<C: ConnectionTrait>(db: &C, current: Entry, enrollment: Option<enrollment::Model>) -> Result<Overview> {
    let entry = match &enrollment {
        Some(e) => catalogue::version(db, e.credential_version_id).await?,
        None => current,
    };
    let attempts = match &enrollment {
        Some(e) => attempts_of(db, e.id).await?,
        None => Vec::new(),
    };
    overview_of(entry, enrollment, attempts)
}

/// Build an overview from loaded rows.
pub fn overview_of(entry: Entry, enrollment: Option<enrollment::Model>, attempts: Vec<attempt::Model>) -> Result<Overview> {
    let progress = progress(&entry.definition, &attempts)?;
    let components = entry
        .definition
        .components
        .iter()
        .zip(progress.components.iter())
        .map(|(component, state)| {
            let (name, label) = state_name(&state.state);
            ComponentView {
                key: component.key.clone(),
                title: component.title.clone(),
                state: name,
                state_label: label,
                attempts: attempts.iter().filter(|a| a.component_key == component.key).cloned().collect(),
            }
        })
        .collect();
    Ok(Overview {
        earned_at: enrollment.as_ref().and_then(|e| e.earned_at),
        ceus: enrollment.as_ref().and_then(|e| e.ceus_awarded),
        entry,
        enrollment,
        components,
        mastered_count: progress.mastered_count,
        component_count: progress.component_count,
        percent_complete: progress.percent_complete,
    })
}

/// One attempt with its files and assessment, for whoever may read it.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptDetail {
    pub attempt: attempt::Model,
    pub links: Vec<String>,
    pub files: Vec<attempt_file::Model>,
    pub assessment: Option<assessment::Model>,
    pub enrollment: enrollment::Model,
    pub entry: Entry,
}

pub async fn attempt_detail(db: &DatabaseConnection, viewer: &Viewer, attempt_id: i64) -> Result<AttemptDetail> {
    let row = attempt_by_id(db, attempt_id).await?;
    let enrollment = enrollment_by_id(db, row.enrollment_id).await?;
    viewer.check_read(&enrollment)?;
    let entry = catalogue::version(db, enrollment.credential_version_id).await?;
    let files = files_of(db, row.id).await?;
    let assessment = assessment::Entity::find().filter(assessment::Column::AttemptId.eq(row.id)).one(db).await?;
    Ok(AttemptDetail { links: links_of(&row), attempt: row, files, assessment, enrollment, entry })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_keeps_last_segment() {
        assert_eq!(clean_file_name("C:\\Users\\me\\plan.pdf"), "plan.pdf");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name(".."), "upload");
        assert_eq!(clean_file_name("a\u{0}b.txt"), "ab.txt");
    }

    #[test]
    fn overview_query_text_is_kept() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            assert!(SqlText::new().keeps(backend, 3, |values| overview_query(backend, values)), "{backend:?}");
        }
    }
}
