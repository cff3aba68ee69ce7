//! Assessors' work: the queue of submitted attempts in their course, and
//! assessments against the rubric.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use microcred_domain::{AssessmentInput, Decision};
use microcred_lti::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::Serialize;

use super::access::Viewer;
use super::participation::{
    self, decision_str, StateChange, StateChangeHook, ATTEMPT_ASSESSED, ATTEMPT_SUBMITTED,
};
use super::{audit, catalogue, Result, WorkflowError};
use crate::store::entities::{assessment, attempt, enrollment, user};

/// One submitted attempt waiting for assessment.
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    pub attempt_id: i64,
    pub participant: String,
    pub credential_slug: String,
    pub credential_title: String,
    pub component_key: String,
    pub component_title: String,
    pub number: i32,
    pub submitted_at: DateTime<Utc>,
    pub waiting: String,
}

/// How long something has waited, in words.
pub fn waiting_label(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    match minutes {
        0 => "less than a minute".to_string(),
        1..=59 => format!("{minutes} min"),
        60..=1439 => format!("{} h", minutes / 60),
        _ => {
            let days = minutes / 1440;
            if days == 1 { "1 day".to_string() } else { format!("{days} days") }
        }
    }
}

pub fn display_name(user: &user::Model) -> String {
    user.name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| user.email.clone())
        .unwrap_or_else(|| format!("User {}", user.id))
}

/// Filters of the queue.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct QueueFilter {
    #[serde(default)]
    pub credential: Option<String>,
    #[serde(default)]
    pub component: Option<String>,
}

/// Submitted attempts in the viewer's course, oldest first.
pub async fn queue(db: &DatabaseConnection, viewer: &Viewer, filter: &QueueFilter) -> Result<Vec<QueueItem>> {
    viewer.require(Role::Assessor)?;
    let context_pk = viewer.context()?;
    let enrollments = enrollment::Entity::find()
        .filter(enrollment::Column::ContextPk.eq(context_pk))
        .filter(enrollment::Column::PlatformId.eq(viewer.platform_id))
        .all(db)
        .await?;
    let by_id: BTreeMap<i64, enrollment::Model> = enrollments.into_iter().map(|e| (e.id, e)).collect();
    if by_id.is_empty() {
        return Ok(Vec::new());
    }
    // Every attempt of the course's enrolments, filtered and sorted here.
    // With the status in the query, SQLite used the index on
    // (status, submitted_at), which lists the waiting attempts of every
    // course, and took 0.2 s per request with 200,000 of them.
    let mut attempts: Vec<attempt::Model> = attempt::Entity::find()
        .filter(attempt::Column::EnrollmentId.is_in(by_id.keys().copied().collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .filter(|row| row.status == ATTEMPT_SUBMITTED)
        .collect();
    attempts.sort_by_key(|row| (row.submitted_at, row.id));
    let now = Utc::now();
    let mut items = Vec::new();
    let mut versions: BTreeMap<i64, catalogue::Entry> = BTreeMap::new();
    let mut users: BTreeMap<i64, String> = BTreeMap::new();
    for row in attempts {
        let Some(enrollment) = by_id.get(&row.enrollment_id) else { continue };
        if !versions.contains_key(&enrollment.credential_version_id) {
            let entry = catalogue::version(db, enrollment.credential_version_id).await?;
            versions.insert(enrollment.credential_version_id, entry);
        }
        let Some(entry) = versions.get(&enrollment.credential_version_id) else { continue };
        if filter.credential.as_deref().is_some_and(|slug| !slug.is_empty() && slug != entry.slug) {
            continue;
        }
        if filter.component.as_deref().is_some_and(|key| !key.is_empty() && key != row.component_key) {
            continue;
        }
        if !users.contains_key(&enrollment.user_id) {
            let name = user::Entity::find_by_id(enrollment.user_id)
                .one(db)
                .await?
                .map(|u| display_name(&u))
                .unwrap_or_else(|| format!("User {}", enrollment.user_id));
            users.insert(enrollment.user_id, name);
        }
        let submitted_at = row.submitted_at.unwrap_or(row.updated_at);
        items.push(QueueItem {
            attempt_id: row.id,
            participant: users.get(&enrollment.user_id).cloned().unwrap_or_default(),
            credential_slug: entry.slug.clone(),
            credential_title: entry.definition.title.clone(),
            component_title: entry
                .definition
                .component(&row.component_key)
                .map(|c| c.title.clone())
                .unwrap_or_else(|| row.component_key.clone()),
            component_key: row.component_key,
            number: row.number,
            waiting: waiting_label(submitted_at, now),
            submitted_at,
        });
    }
    Ok(items)
}

/// The result of an assessment.
#[derive(Debug, Clone, Serialize)]
pub struct AssessmentResult {
    pub assessment: assessment::Model,
    pub mastered: bool,
    pub shortfalls: Vec<String>,
    pub mastered_count: usize,
    pub component_count: usize,
    pub earned: bool,
}

/// Record an assessment. The first save for an attempt wins; a second one
/// gets a conflict and changes nothing.
pub async fn assess(
    db: &DatabaseConnection,
    hook: Option<&dyn StateChangeHook>,
    viewer: &Viewer,
    attempt_id: i64,
    input: AssessmentInput,
) -> Result<AssessmentResult> {
    let row = participation::attempt_by_id(db, attempt_id).await?;
    let enrollment = participation::enrollment_by_id(db, row.enrollment_id).await?;
    viewer.check_assessor(&enrollment)?;
    let conflict = || {
        WorkflowError::Conflict(
            "Another assessor saved an assessment of this attempt first. Their assessment stands; \
             reload the page to read it."
                .into(),
        )
    };
    if row.status == ATTEMPT_ASSESSED {
        return Err(conflict());
    }
    if row.status != ATTEMPT_SUBMITTED {
        return Err(WorkflowError::Conflict("This attempt is a draft and has not been submitted yet.".into()));
    }
    let entry = catalogue::version(db, enrollment.credential_version_id).await?;
    let component = entry
        .definition
        .component(&row.component_key)
        .ok_or_else(|| WorkflowError::NotFound(format!("No component {:?}.", row.component_key)))?;
    let outcome = component
        .rubric
        .assess(&input)
        .map_err(|e| WorkflowError::Invalid(e.problems.iter().map(|p| p.to_string()).collect()))?;
    let mastered = outcome.decision == Decision::Mastered;
    let now = Utc::now();

    let _turn = crate::store::write_turn(db).await;
    let txn = db.begin().await?;
    let inserted = assessment::ActiveModel {
        attempt_id: Set(row.id),
        assessor_user_id: Set(viewer.user_id),
        ratings: Set(serde_json::to_string(&input.ratings).unwrap_or_else(|_| "{}".into())),
        feedback: Set(serde_json::to_string(&input.feedback).unwrap_or_else(|_| "{}".into())),
        overall_comment: Set(input.overall_comment.clone()),
        decision: Set(decision_str(outcome.decision).to_string()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let saved = match inserted {
        Ok(saved) => saved,
        Err(_) => return Err(conflict()),
    };
    let updated = attempt::Entity::update_many()
        .col_expr(attempt::Column::Status, Expr::value(ATTEMPT_ASSESSED))
        .col_expr(attempt::Column::AssessedAt, Expr::value(now))
        .col_expr(attempt::Column::Decision, Expr::value(decision_str(outcome.decision)))
        .col_expr(attempt::Column::UpdatedAt, Expr::value(now))
        .filter(attempt::Column::Id.eq(row.id))
        .filter(attempt::Column::Status.eq(ATTEMPT_SUBMITTED))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(conflict());
    }
    audit::record(
        &txn,
        Some(viewer.user_id),
        "attempt.assessed",
        "attempt",
        row.id,
        Some(enrollment.context_pk),
        serde_json::json!({
            "component": row.component_key,
            "number": row.number,
            "decision": decision_str(outcome.decision),
            "ratings": input.ratings,
        }),
    )
    .await?;

    let attempts = participation::attempts_of(&txn, enrollment.id).await?;
    let progress = participation::progress(&entry.definition, &attempts)?;
    let mut earned = false;
    if let Some(award) = progress.award.as_ref().filter(|_| enrollment.earned_at.is_none()) {
        enrollment::Entity::update_many()
            .col_expr(enrollment::Column::EarnedAt, Expr::value(award.earned_at))
            .col_expr(enrollment::Column::CeusAwarded, Expr::value(award.ceus))
            .col_expr(enrollment::Column::UpdatedAt, Expr::value(now))
            .filter(enrollment::Column::Id.eq(enrollment.id))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            Some(viewer.user_id),
            "enrollment.earned",
            "enrollment",
            enrollment.id,
            Some(enrollment.context_pk),
            serde_json::json!({"slug": entry.slug, "ceus": award.ceus}),
        )
        .await?;
        earned = true;
        if let Some(hook) = hook {
            hook.on_change(&txn, &enrollment, StateChange::Earned { ceus: award.ceus }).await?;
        }
    } else if let Some(hook) = hook {
        let change = StateChange::Assessed {
            mastered_count: progress.mastered_count,
            component_count: progress.component_count,
        };
        hook.on_change(&txn, &enrollment, change).await?;
    }
    txn.commit().await?;
    Ok(AssessmentResult {
        assessment: saved,
        mastered,
        shortfalls: outcome.shortfalls.iter().map(|s| s.criterion.clone()).collect(),
        mastered_count: progress.mastered_count,
        component_count: progress.component_count,
        earned,
    })
}

/// A participant's history in the viewer's course: every enrolment with its
/// attempts and progress.
pub async fn participant_history(
    db: &DatabaseConnection,
    viewer: &Viewer,
    participant_user_id: i64,
) -> Result<(user::Model, Vec<participation::Overview>)> {
    viewer.require(Role::Assessor)?;
    let context_pk = viewer.context()?;
    let participant = user::Entity::find_by_id(participant_user_id)
        .one(db)
        .await?
        .filter(|u| u.platform_id == viewer.platform_id || u.issuer.is_empty())
        .ok_or_else(|| WorkflowError::NotFound("No such participant in this course.".into()))?;
    let enrollments = enrollment::Entity::find()
        .filter(enrollment::Column::UserId.eq(participant.id))
        .filter(enrollment::Column::ContextPk.eq(context_pk))
        .order_by_asc(enrollment::Column::EnrolledAt)
        .all(db)
        .await?;
    if enrollments.is_empty() {
        return Err(WorkflowError::NotFound("No such participant in this course.".into()));
    }
    let mut overviews = Vec::new();
    for enrollment in enrollments {
        viewer.check_read(&enrollment)?;
        let entry = catalogue::version(db, enrollment.credential_version_id).await?;
        let attempts = participation::attempts_of(db, enrollment.id).await?;
        overviews.push(participation::overview_of(entry, Some(enrollment), attempts)?);
    }
    Ok((participant, overviews))
}
