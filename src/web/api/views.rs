//! The JSON shapes the API returns. Stored rows keep some values as JSON
//! text (links, ratings, audit details), and these views return them as
//! JSON values. They leave out what clients must not see (file storage keys).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use microcred_domain::{Component, LearningCourse, MicroCredential, SelfCheckOutcome};
use serde::Serialize;

use crate::store::entities::{assessment, attempt, attempt_file, audit_entry, enrollment};
use crate::workflow::catalogue::{serialize_definition, Entry};
use crate::workflow::participation::{self, Overview};

/// A list in a JSON object, so that fields can be added next to it later.
#[derive(Debug, Serialize)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// A micro-credential in the catalogue list.
#[derive(Debug, Serialize)]
pub struct CatalogueItem {
    pub slug: String,
    pub title: String,
    pub status: String,
    pub version: i32,
    pub competency: String,
    pub ceus: f64,
    pub estimated_hours: u32,
    pub component_count: usize,
    pub course: Option<LearningCourse>,
}

impl From<&Entry> for CatalogueItem {
    fn from(entry: &Entry) -> Self {
        let definition = &entry.definition;
        Self {
            slug: entry.slug.clone(),
            title: definition.title.clone(),
            status: entry.status.clone(),
            version: entry.version,
            competency: definition.competency.clone(),
            ceus: definition.ceus,
            estimated_hours: definition.estimated_hours,
            component_count: definition.components.len(),
            course: definition.course.clone(),
        }
    }
}

/// A micro-credential with its whole definition at one version.
#[derive(Debug, Serialize)]
pub struct CredentialView {
    pub slug: String,
    pub status: String,
    pub version: i32,
    #[serde(serialize_with = "serialize_definition")]
    pub definition: Arc<MicroCredential>,
}

impl From<Entry> for CredentialView {
    fn from(entry: Entry) -> Self {
        Self { slug: entry.slug, status: entry.status, version: entry.version, definition: entry.definition }
    }
}

/// An enrolment, with the micro-credential version it began with.
#[derive(Debug, Serialize)]
pub struct EnrollmentView {
    pub id: i64,
    pub user_id: i64,
    pub credential_slug: String,
    pub credential_title: String,
    pub version: i32,
    pub enrolled_at: DateTime<Utc>,
    pub self_check: Vec<String>,
    pub earned_at: Option<DateTime<Utc>>,
    pub ceus_awarded: Option<f64>,
}

impl EnrollmentView {
    pub fn new(row: &enrollment::Model, entry: &Entry) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            credential_slug: entry.slug.clone(),
            credential_title: entry.definition.title.clone(),
            version: entry.version,
            enrolled_at: row.enrolled_at,
            self_check: ticked_items(row),
            earned_at: row.earned_at,
            ceus_awarded: row.ceus_awarded,
        }
    }
}

/// Reads the self-check items an enrolment has ticked.
pub fn ticked_items(row: &enrollment::Model) -> Vec<String> {
    serde_json::from_str(&row.self_check).unwrap_or_default()
}

/// The result of a self-check: what is unticked, and whether to take the
/// linked learning course first.
#[derive(Debug, Serialize)]
pub struct SelfCheckView {
    pub ticked: Vec<String>,
    pub unticked: Vec<String>,
    pub recommend_course: bool,
    pub course: Option<LearningCourse>,
}

impl SelfCheckView {
    pub fn new(definition: &MicroCredential, ticked: Vec<String>) -> Self {
        // Stored ticks passed the check when they were saved; an item that a
        // later edit of the definition removed simply counts as not ticked.
        let known: Vec<String> =
            ticked.into_iter().filter(|key| definition.self_check_items.iter().any(|item| &item.key == key)).collect();
        let outcome = definition.evaluate_self_check(&known).unwrap_or_else(|_| SelfCheckOutcome {
            unticked: definition.self_check_items.iter().map(|item| item.key.clone()).collect(),
            recommend_course: definition.course.is_some(),
        });
        Self {
            ticked: known,
            unticked: outcome.unticked,
            course: definition.course.clone().filter(|_| outcome.recommend_course),
            recommend_course: outcome.recommend_course,
        }
    }
}

/// An enrolment and its self-check, as enrolling returns them.
#[derive(Debug, Serialize)]
pub struct EnrolledView {
    pub enrollment: EnrollmentView,
    pub self_check: SelfCheckView,
}

/// An attempt without its text, for lists.
#[derive(Debug, Serialize)]
pub struct AttemptBrief {
    pub id: i64,
    pub number: i32,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub assessed_at: Option<DateTime<Utc>>,
    pub decision: Option<String>,
}

impl From<&attempt::Model> for AttemptBrief {
    fn from(row: &attempt::Model) -> Self {
        Self {
            id: row.id,
            number: row.number,
            status: row.status.clone(),
            created_at: row.created_at,
            submitted_at: row.submitted_at,
            assessed_at: row.assessed_at,
            decision: row.decision.clone(),
        }
    }
}

/// One attempt with everything the educator entered.
#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub id: i64,
    pub enrollment_id: i64,
    pub component_key: String,
    pub number: i32,
    /// `draft`, `submitted` or `assessed`.
    pub status: String,
    pub text: String,
    pub reflection: String,
    pub links: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub assessed_at: Option<DateTime<Utc>>,
    /// `mastered` or `not_yet_mastered` once assessed.
    pub decision: Option<String>,
    pub revision: i32,
}

impl From<&attempt::Model> for AttemptView {
    fn from(row: &attempt::Model) -> Self {
        Self {
            id: row.id,
            enrollment_id: row.enrollment_id,
            component_key: row.component_key.clone(),
            number: row.number,
            status: row.status.clone(),
            text: row.text.clone(),
            reflection: row.reflection.clone(),
            links: participation::links_of(row),
            created_at: row.created_at,
            updated_at: row.updated_at,
            submitted_at: row.submitted_at,
            assessed_at: row.assessed_at,
            decision: row.decision.clone(),
            revision: row.revision,
        }
    }
}

/// An uploaded file.
#[derive(Debug, Serialize)]
pub struct FileView {
    pub id: i64,
    pub attempt_id: i64,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    /// Path of the download endpoint.
    pub download: String,
}

impl From<&attempt_file::Model> for FileView {
    fn from(row: &attempt_file::Model) -> Self {
        Self {
            id: row.id,
            attempt_id: row.attempt_id,
            name: row.original_name.clone(),
            content_type: row.content_type.clone(),
            size_bytes: row.size_bytes,
            sha256: row.sha256.clone(),
            created_at: row.created_at,
            download: format!("/api/v1/files/{}", row.id),
        }
    }
}

/// An assessor's assessment of one attempt.
#[derive(Debug, Serialize)]
pub struct AssessmentView {
    pub id: i64,
    pub attempt_id: i64,
    pub assessor_user_id: i64,
    pub ratings: BTreeMap<String, String>,
    pub feedback: BTreeMap<String, String>,
    pub overall_comment: String,
    pub decision: String,
    pub created_at: DateTime<Utc>,
}

impl From<&assessment::Model> for AssessmentView {
    fn from(row: &assessment::Model) -> Self {
        Self {
            id: row.id,
            attempt_id: row.attempt_id,
            assessor_user_id: row.assessor_user_id,
            ratings: serde_json::from_str(&row.ratings).unwrap_or_default(),
            feedback: serde_json::from_str(&row.feedback).unwrap_or_default(),
            overall_comment: row.overall_comment.clone(),
            decision: row.decision.clone(),
            created_at: row.created_at,
        }
    }
}

/// One attempt with its files, its assessment, and the definition of its component.
#[derive(Debug, Serialize)]
pub struct AttemptDetailView {
    pub attempt: AttemptView,
    pub files: Vec<FileView>,
    pub assessment: Option<AssessmentView>,
    pub participant_user_id: i64,
    pub credential_slug: String,
    pub credential_title: String,
    pub version: i32,
    /// The component's definition at the enrolment's version: prompt, submission requirements, rubric.
    pub component: Option<Component>,
}

impl From<participation::AttemptDetail> for AttemptDetailView {
    fn from(detail: participation::AttemptDetail) -> Self {
        Self {
            attempt: AttemptView::from(&detail.attempt),
            files: detail.files.iter().map(FileView::from).collect(),
            assessment: detail.assessment.as_ref().map(AssessmentView::from),
            participant_user_id: detail.enrollment.user_id,
            component: detail.entry.definition.component(&detail.attempt.component_key).cloned(),
            credential_slug: detail.entry.slug,
            credential_title: detail.entry.definition.title.clone(),
            version: detail.entry.version,
        }
    }
}

/// One component of an enrolment with its state and attempts.
#[derive(Debug, Serialize)]
pub struct ComponentStateView {
    pub key: String,
    pub title: String,
    /// `not_started`, `draft`, `submitted`, `not_yet_mastered` or `mastered`.
    pub state: &'static str,
    pub state_label: &'static str,
    pub attempts: Vec<AttemptBrief>,
}

/// How far an enrolment has come.
#[derive(Debug, Serialize)]
pub struct ProgressView {
    pub mastered_count: usize,
    pub component_count: usize,
    pub percent_complete: u8,
}

/// An enrolment with its components, progress and award.
#[derive(Debug, Serialize)]
pub struct OverviewView {
    pub enrollment: EnrollmentView,
    pub progress: ProgressView,
    pub components: Vec<ComponentStateView>,
    pub earned: bool,
    pub earned_at: Option<DateTime<Utc>>,
    pub ceus: Option<f64>,
    pub self_check: SelfCheckView,
    /// The definition at the enrolment's version, which may be older than the catalogue's.
    #[serde(serialize_with = "serialize_definition")]
    pub definition: Arc<MicroCredential>,
}

impl OverviewView {
    /// Builds the view of an overview that has an enrolment, or returns `None` without one.
    pub fn new(overview: Overview) -> Option<Self> {
        let enrollment = overview.enrollment.as_ref()?;
        let components = overview
            .components
            .iter()
            .map(|component| ComponentStateView {
                key: component.key.clone(),
                title: component.title.clone(),
                state: component.state,
                state_label: component.state_label,
                attempts: component.attempts.iter().map(AttemptBrief::from).collect(),
            })
            .collect();
        Some(Self {
            enrollment: EnrollmentView::new(enrollment, &overview.entry),
            progress: ProgressView {
                mastered_count: overview.mastered_count,
                component_count: overview.component_count,
                percent_complete: overview.percent_complete,
            },
            components,
            earned: overview.earned_at.is_some(),
            earned_at: overview.earned_at,
            ceus: overview.ceus,
            self_check: SelfCheckView::new(&overview.entry.definition, ticked_items(enrollment)),
            definition: overview.entry.definition,
        })
    }
}

/// An enrolment in the list of the viewer's enrolments.
#[derive(Debug, Serialize)]
pub struct EnrollmentSummary {
    pub enrollment: EnrollmentView,
    pub progress: ProgressView,
    pub earned: bool,
}

impl From<OverviewView> for EnrollmentSummary {
    fn from(view: OverviewView) -> Self {
        Self { enrollment: view.enrollment, progress: view.progress, earned: view.earned }
    }
}

/// An audit log entry, with its details as a JSON object.
#[derive(Debug, Serialize)]
pub struct AuditEntryView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: i64,
    pub context_pk: Option<i64>,
    pub detail: serde_json::Value,
}

impl From<&audit_entry::Model> for AuditEntryView {
    fn from(row: &audit_entry::Model) -> Self {
        Self {
            id: row.id,
            at: row.at,
            actor_user_id: row.actor_user_id,
            action: row.action.clone(),
            subject_type: row.subject_type.clone(),
            subject_id: row.subject_id,
            context_pk: row.context_pk,
            detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}
