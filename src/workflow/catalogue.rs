//! The catalogue in the database: micro-credentials and their versions.
//!
//! A definition is stored whole, as JSON, in a version row. Editing a
//! micro-credential adds a version and points new enrolments at it;
//! enrolments keep the version they began with.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::Utc;
use microcred_domain::{Catalogue, MicroCredential};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, IdenStatic,
    JoinType, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, RelationDef, Set, TransactionTrait,
};
use serde::Serialize;

use super::{audit, Result, WorkflowError};
use crate::store::entities::{credential, credential_version};

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_ARCHIVED: &str = "archived";

/// A micro-credential with the definition of one of its versions.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub credential_id: i64,
    pub slug: String,
    pub status: String,
    pub version_id: i64,
    pub version: i32,
    /// Shared with every other reader of the same version: a stored
    /// definition never changes.
    #[serde(serialize_with = "serialize_definition")]
    pub definition: Arc<MicroCredential>,
}

pub fn serialize_definition<S: serde::Serializer>(definition: &Arc<MicroCredential>, out: S) -> std::result::Result<S::Ok, S::Error> {
    definition.as_ref().serialize(out)
}

/// Maximum number of parsed definitions kept. Past it, the cache is emptied.
const PARSED_LIMIT: usize = 64;

/// Parsed definitions by fingerprint. Every launch into a course link and
/// most pages read a definition. Reading its JSON (about 20 KB, compressed
/// out of line on PostgreSQL) and parsing it took several per cent of the
/// tool's CPU under launch load.
///
/// A stored version never changes: an edit adds a version. Its fingerprint
/// is the SHA-256 of its content, so a definition parsed once is found
/// again by the fingerprint stored with any row of the same content, in any
/// database, and the definition column is read only for a fingerprint this
/// process has not parsed.
static PARSED: LazyLock<Mutex<HashMap<String, Arc<MicroCredential>>>> = LazyLock::new(Default::default);

/// The columns of a version row other than its definition, which is read
/// only when no parsed copy of it is kept.
#[derive(Debug, Clone, FromQueryResult)]
pub(crate) struct VersionHead {
    pub id: i64,
    pub credential_id: i64,
    pub version: i32,
    pub fingerprint: String,
}

impl VersionHead {
    pub(crate) const COLUMNS: [credential_version::Column; 4] = [
        credential_version::Column::Id,
        credential_version::Column::CredentialId,
        credential_version::Column::Version,
        credential_version::Column::Fingerprint,
    ];
}

/// Add the columns of a [`VersionHead`] of the joined version to `select`,
/// each named with `prefix` before the column's name.
pub(crate) fn with_version_head<S: QuerySelect>(mut select: S, prefix: &str) -> S {
    for column in VersionHead::COLUMNS {
        select = select.column_as(Expr::col((credential_version::Entity, column)), format!("{prefix}{}", column.as_str()));
    }
    select
}

/// Return the parsed definition with this fingerprint, if this process keeps one.
fn kept_definition(fingerprint: &str) -> Option<Arc<MicroCredential>> {
    PARSED.lock().ok().and_then(|parsed| parsed.get(fingerprint).cloned())
}

/// Parse the definition JSON of version `version_id`, stored with
/// `fingerprint`, and keep it when the fingerprint is its own. A row whose
/// fingerprint does not match its definition (edited by hand in the
/// database) is used as read, and not kept.
fn parse_definition(version_id: i64, fingerprint: &str, json: &str) -> Result<Arc<MicroCredential>> {
    let definition: MicroCredential = serde_json::from_str(json).map_err(|e| {
        WorkflowError::Internal(anyhow::anyhow!("stored definition of version {version_id} is unreadable: {e}"))
    })?;
    let definition = Arc::new(definition);
    if definition.fingerprint().as_str() == fingerprint {
        if let Ok(mut parsed) = PARSED.lock() {
            if parsed.len() >= PARSED_LIMIT {
                parsed.clear();
            }
            parsed.insert(fingerprint.to_string(), definition.clone());
        }
    }
    Ok(definition)
}

/// Return the definition of the version that `head` names: the kept parse,
/// or else the stored JSON, read and parsed.
async fn definition_of<C: ConnectionTrait>(db: &C, head: &VersionHead) -> Result<Arc<MicroCredential>> {
    if let Some(definition) = kept_definition(&head.fingerprint) {
        return Ok(definition);
    }
    let json: Option<String> = credential_version::Entity::find_by_id(head.id)
        .select_only()
        .column(credential_version::Column::Definition)
        .into_tuple()
        .one(db)
        .await?;
    let json = json.ok_or_else(|| WorkflowError::NotFound(format!("No catalogue version {}.", head.id)))?;
    parse_definition(head.id, &head.fingerprint, &json)
}

/// Read the head of version `version_id`, without its definition.
async fn version_head<C: ConnectionTrait>(db: &C, version_id: i64) -> Result<Option<VersionHead>> {
    Ok(credential_version::Entity::find_by_id(version_id)
        .select_only()
        .columns(VersionHead::COLUMNS)
        .into_model::<VersionHead>()
        .one(db)
        .await?)
}

/// What an import changed.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub new_versions: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Store one definition: a new micro-credential, a new version of an
/// existing one when its content changed, or nothing when it did not.
async fn upsert<C: ConnectionTrait>(
    db: &C,
    definition: &MicroCredential,
    actor: Option<i64>,
    report: &mut ImportReport,
) -> Result<()> {
    let now = Utc::now();
    let fingerprint = definition.fingerprint();
    let json = serde_json::to_string(definition).map_err(|e| WorkflowError::Internal(e.into()))?;
    let existing = credential::Entity::find().filter(credential::Column::Slug.eq(&definition.slug)).one(db).await?;
    let (credential_id, next_version) = match existing {
        Some(row) => {
            let current = match row.current_version_id {
                Some(id) => credential_version::Entity::find_by_id(id).one(db).await?,
                None => None,
            };
            if let Some(current) = current {
                if fingerprint.as_str() == current.fingerprint && row.status == STATUS_ACTIVE {
                    report.unchanged.push(definition.slug.clone());
                    return Ok(());
                }
            }
            let latest = credential_version::Entity::find()
                .filter(credential_version::Column::CredentialId.eq(row.id))
                .order_by_desc(credential_version::Column::Version)
                .one(db)
                .await?
                .map(|v| v.version)
                .unwrap_or(0);
            report.new_versions.push(definition.slug.clone());
            (row.id, latest + 1)
        }
        None => {
            let row = credential::ActiveModel {
                slug: Set(definition.slug.clone()),
                current_version_id: Set(None),
                status: Set(STATUS_ACTIVE.to_string()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await?;
            report.created.push(definition.slug.clone());
            (row.id, 1)
        }
    };
    let version = credential_version::ActiveModel {
        credential_id: Set(credential_id),
        version: Set(next_version),
        fingerprint: Set(fingerprint.as_str().to_string()),
        title: Set(definition.title.clone()),
        definition: Set(json),
        created_at: Set(now),
        created_by: Set(actor),
        ..Default::default()
    }
    .insert(db)
    .await?;
    credential::Entity::update_many()
        .col_expr(credential::Column::CurrentVersionId, Expr::value(version.id))
        .col_expr(credential::Column::Status, Expr::value(STATUS_ACTIVE))
        .col_expr(credential::Column::UpdatedAt, Expr::value(now))
        .filter(credential::Column::Id.eq(credential_id))
        .exec(db)
        .await?;
    audit::record(
        db,
        actor,
        if next_version == 1 { "credential.created" } else { "credential.versioned" },
        "credential",
        credential_id,
        None,
        serde_json::json!({"slug": definition.slug, "version": next_version}),
    )
    .await?;
    Ok(())
}

/// Import a validated catalogue in one transaction: all of it or nothing.
pub async fn import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    catalogue: &Catalogue,
    actor: Option<i64>,
) -> Result<ImportReport> {
    let txn = db.begin().await?;
    let mut report = ImportReport::default();
    for definition in &catalogue.micro_credentials {
        upsert(&txn, definition, actor, &mut report).await?;
    }
    txn.commit().await?;
    Ok(report)
}

/// Parse and import catalogue text (TOML, or JSON when `json` is true).
pub async fn import_text(db: &DatabaseConnection, text: &str, json: bool, actor: Option<i64>) -> Result<ImportReport> {
    let parsed = if json { Catalogue::from_json_str(text) } else { Catalogue::from_toml_str(text) };
    let catalogue = parsed.map_err(catalogue_problems)?;
    import(db, &catalogue, actor).await
}

/// Turn a catalogue error into the list of problems a user can act on.
pub fn catalogue_problems(error: microcred_domain::CatalogueError) -> WorkflowError {
    match error {
        microcred_domain::CatalogueError::Invalid(validation) => {
            WorkflowError::Invalid(validation.problems.iter().map(|p| p.to_string()).collect())
        }
        other => WorkflowError::invalid(other.to_string()),
    }
}

/// Load the sample catalogue when the database has no micro-credential yet.
/// Run it inside the transaction of `store::begin_setup`, so that instances
/// starting together on an empty database load the samples once.
pub async fn load_samples_if_empty<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    folder: &Path,
) -> Result<Option<ImportReport>> {
    if credential::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    if !folder.exists() {
        tracing::warn!(folder = %folder.display(), "sample catalogue folder not found; the catalogue stays empty");
        return Ok(None);
    }
    let catalogue = Catalogue::load_dir(folder).map_err(catalogue_problems)?;
    let report = import(db, &catalogue, None).await?;
    tracing::info!(loaded = report.created.len(), "loaded the sample catalogue");
    Ok(Some(report))
}

/// Active micro-credentials at their current versions, by title.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<Entry>> {
    list_with_status(db, Some(STATUS_ACTIVE)).await
}

/// Every micro-credential, archived ones included, for admins.
pub async fn list_all(db: &DatabaseConnection) -> Result<Vec<Entry>> {
    list_with_status(db, None).await
}

async fn list_with_status(db: &DatabaseConnection, status: Option<&str>) -> Result<Vec<Entry>> {
    let mut query = credential::Entity::find();
    if let Some(status) = status {
        query = query.filter(credential::Column::Status.eq(status));
    }
    let mut entries = Vec::new();
    for row in query.order_by_asc(credential::Column::Slug).all(db).await? {
        if let Some(entry) = current_entry(db, &row).await? {
            entries.push(entry);
        }
    }
    entries.sort_by(|a, b| a.definition.title.cmp(&b.definition.title));
    Ok(entries)
}

async fn current_entry<C: ConnectionTrait>(db: &C, row: &credential::Model) -> Result<Option<Entry>> {
    let Some(version_id) = row.current_version_id else { return Ok(None) };
    let Some(version) = version_head(db, version_id).await? else {
        return Ok(None);
    };
    Ok(Some(Entry {
        credential_id: row.id,
        slug: row.slug.clone(),
        status: row.status.clone(),
        version_id: version.id,
        version: version.version,
        definition: definition_of(db, &version).await?,
    }))
}

/// The current version of the micro-credential with this slug.
pub async fn by_slug<C: ConnectionTrait>(db: &C, slug: &str) -> Result<Entry> {
    // One query for the micro-credential and its current version: every
    // launch into a course link reads it.
    let select = credential::Entity::find()
        .filter(credential::Column::Slug.eq(slug))
        .join(JoinType::LeftJoin, current_version());
    let row = with_version_head(select, VERSION_PREFIX)
        .into_model::<CredentialWithHead>()
        .one(db)
        .await?
        .ok_or_else(|| not_in_catalogue(slug))?;
    current_of(db, row.credential, row.version).await
}

/// Prefix of the version's columns in [`by_slug`]'s query.
const VERSION_PREFIX: &str = "version_";

/// A micro-credential row with the head of its current version, as
/// [`by_slug`] reads them.
struct CredentialWithHead {
    credential: credential::Model,
    version: Option<VersionHead>,
}

impl FromQueryResult for CredentialWithHead {
    fn from_query_result(row: &QueryResult, prefix: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            credential: credential::Model::from_query_result(row, prefix)?,
            version: VersionHead::from_query_result_optional(row, &format!("{prefix}{VERSION_PREFIX}"))?,
        })
    }
}

/// Return the join from a micro-credential to its current version.
pub(crate) fn current_version() -> RelationDef {
    credential::Entity::belongs_to(credential_version::Entity)
        .from(credential::Column::CurrentVersionId)
        .to(credential_version::Column::Id)
        .into()
}

pub(crate) fn not_in_catalogue(slug: &str) -> WorkflowError {
    WorkflowError::NotFound(format!("No micro-credential named {slug:?} in the catalogue."))
}

/// Build the entry for a micro-credential row and the head of its current
/// version, as a join with [`current_version`] reads them.
pub(crate) async fn current_of<C: ConnectionTrait>(
    db: &C,
    row: credential::Model,
    version: Option<VersionHead>,
) -> Result<Entry> {
    let version = version
        .ok_or_else(|| WorkflowError::NotFound(format!("Micro-credential {:?} has no published version.", row.slug)))?;
    Ok(Entry {
        definition: definition_of(db, &version).await?,
        credential_id: row.id,
        slug: row.slug,
        status: row.status,
        version_id: version.id,
        version: version.version,
    })
}

/// One specific version.
pub async fn version<C: ConnectionTrait>(db: &C, version_id: i64) -> Result<Entry> {
    let version = version_head(db, version_id)
        .await?
        .ok_or_else(|| WorkflowError::NotFound(format!("No catalogue version {version_id}.")))?;
    let row = credential::Entity::find_by_id(version.credential_id)
        .one(db)
        .await?
        .ok_or_else(|| WorkflowError::NotFound(format!("No micro-credential {}.", version.credential_id)))?;
    Ok(Entry {
        definition: definition_of(db, &version).await?,
        credential_id: row.id,
        slug: row.slug,
        status: row.status,
        version_id: version.id,
        version: version.version,
    })
}

/// Replace one micro-credential's definition from TOML text; the slug in
/// the text must be `slug`. Adds a version when the content changed.
pub async fn update_from_toml(db: &DatabaseConnection, slug: &str, text: &str, actor: i64) -> Result<ImportReport> {
    let catalogue = Catalogue::from_toml_str(text).map_err(catalogue_problems)?;
    if catalogue.micro_credentials.len() != 1 {
        return Err(WorkflowError::invalid(format!(
            "The text contains {} micro-credentials, but an edit must contain exactly one.",
            catalogue.micro_credentials.len()
        )));
    }
    if catalogue.micro_credentials[0].slug != slug {
        return Err(WorkflowError::invalid(format!(
            "The slug in the text is {:?} but this page edits {slug:?}; a slug cannot change. Import the text as a new micro-credential instead.",
            catalogue.micro_credentials[0].slug
        )));
    }
    import(db, &catalogue, Some(actor)).await
}

/// The TOML text of micro-credentials at their current versions.
pub fn export_toml(entries: &[Entry]) -> Result<String> {
    let catalogue = Catalogue { micro_credentials: entries.iter().map(|e| e.definition.as_ref().clone()).collect() };
    catalogue.to_toml_string().map_err(|e| WorkflowError::Internal(anyhow::anyhow!("{e}")))
}

/// Hide a micro-credential from the catalogue; enrolments and work stay.
pub async fn set_archived(db: &DatabaseConnection, slug: &str, archived: bool, actor: i64) -> Result<()> {
    let entry = by_slug(db, slug).await?;
    let status = if archived { STATUS_ARCHIVED } else { STATUS_ACTIVE };
    credential::Entity::update_many()
        .col_expr(credential::Column::Status, Expr::value(status))
        .col_expr(credential::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(credential::Column::Id.eq(entry.credential_id))
        .exec(db)
        .await?;
    audit::record(
        db,
        Some(actor),
        if archived { "credential.archived" } else { "credential.restored" },
        "credential",
        entry.credential_id,
        None,
        serde_json::json!({"slug": slug}),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MicroCredential {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/catalogue/formative-assessment.toml");
        let text = std::fs::read_to_string(path).expect("sample catalogue file");
        Catalogue::from_toml_str(&text).expect("sample catalogue").micro_credentials.remove(0)
    }

    fn json(definition: &MicroCredential) -> String {
        serde_json::to_string(definition).expect("JSON")
    }

    #[test]
    fn parse_definition_keeps_one_parse_per_fingerprint() {
        let mut definition = sample();
        definition.title = "Parsed once".to_string();
        let fingerprint = definition.fingerprint().as_str().to_string();
        assert!(kept_definition(&fingerprint).is_none());
        // Two versions with the same content, as two databases would store them.
        let first = parse_definition(1, &fingerprint, &json(&definition)).expect("first");
        let kept = kept_definition(&fingerprint).expect("the parse is kept under its fingerprint");
        assert!(Arc::ptr_eq(&first, &kept));
        assert_eq!(*first, definition);
    }

    #[test]
    fn parse_definition_does_not_keep_a_mismatched_row() {
        let mut original = sample();
        original.title = "Original title".to_string();
        let fingerprint = original.fingerprint().as_str().to_string();
        let mut edited = original.clone();
        edited.title = "Edited in the database".to_string();

        // The edited row claims the original's fingerprint: it is read as
        // stored and not kept under a fingerprint that is not its own.
        let read = parse_definition(2, &fingerprint, &json(&edited)).expect("edited");
        assert_eq!(read.title, "Edited in the database");
        assert!(kept_definition(&fingerprint).is_none());
        let original_read = parse_definition(3, &fingerprint, &json(&original)).expect("original");
        assert_eq!(original_read.title, "Original title");
        let kept = kept_definition(&fingerprint).expect("the original is kept");
        assert!(Arc::ptr_eq(&original_read, &kept));
    }

    #[test]
    fn parse_definition_reports_unreadable_json() {
        let error = parse_definition(6, &"0".repeat(64), "{not json").expect_err("unreadable");
        assert!(error.to_string().contains("version 6"), "{error}");
    }
}
