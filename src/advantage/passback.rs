//! Durable grade passback.
//!
//! Each change of a participant's state writes the score to send into
//! `score_outbox` in the same transaction as the change itself. A worker
//! sends pending scores, retrying with exponential backoff on network
//! errors, 5xx and 429, refreshing the token once on a 401, and parking a
//! score as failed on any other 4xx with the platform's answer. A newer
//! score for an enrolment supersedes older unsent ones, so an older score
//! never overwrites a newer one. On PostgreSQL, instances claim rows with
//! `FOR UPDATE SKIP LOCKED`, so several share the work and each score is
//! sent once.

use chrono::{DateTime, Duration, Utc};
use microcred_lti::advantage::{
    ags_timestamp, create_line_item, find_line_items, post_score, LineItem, Score, ServiceError, SCOPE_LINEITEM,
    SCOPE_SCORE,
};
use microcred_lti::claims::AgsEndpointClaim;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{Condition, 
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use super::ServiceClient;
use crate::metrics::SendFailure;
use crate::store::entities::{enrollment, line_item, link_service, platform, resource_link, score_outbox, user};
use crate::workflow::participation::{StateChange, StateChangeHook};
use crate::workflow::{catalogue, Result as WorkflowResult, WorkflowError};

pub const STATUS_PENDING: &str = "pending";
pub const STATUS_SENDING: &str = "sending";
pub const STATUS_SENT: &str = "sent";
pub const STATUS_FAILED: &str = "failed";
pub const STATUS_SUPERSEDED: &str = "superseded";

/// Tag the tool puts on its line items, to find them again.
pub const LINE_ITEM_TAG: &str = "microcred";

/// Seconds a claimed row stays locked before another worker may take it over.
const LOCK_SECS: i64 = 120;
/// Maximum wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 3600;

/// Remember the grade services a launch offered for its resource link.
pub async fn record_link_services<C: ConnectionTrait>(
    db: &C,
    platform_id: i64,
    resource_link_pk: i64,
    ags: &AgsEndpointClaim,
) -> Result<(), sea_orm::DbErr> {
    db.execute(link_services_upsert(db.get_database_backend(), platform_id, resource_link_pk, ags)).await?;
    Ok(())
}

/// Return a launch's services claim as the JSON that `link_services` stores.
pub fn services_json(ags: &AgsEndpointClaim) -> String {
    serde_json::to_string(ags).unwrap_or_else(|_| "{}".to_string())
}

/// Build the statement that [`record_link_services`] runs.
pub fn link_services_upsert(
    backend: DbBackend,
    platform_id: i64,
    resource_link_pk: i64,
    ags: &AgsEndpointClaim,
) -> Statement {
    let values = [platform_id.into(), services_json(ags).into(), Utc::now().into()];
    crate::store::launches::link_services_query(backend, &values, SimpleExpr::Value(resource_link_pk.into()), None)
}

/// Build the score for a state change.
pub fn score_for(change: StateChange, user_subject: &str, ceus: f64, at: DateTime<Utc>) -> Score {
    let timestamp = ags_timestamp(at);
    match change {
        StateChange::Submitted => Score {
            user_id: user_subject.to_string(),
            score_given: None,
            score_maximum: None,
            comment: "Submitted for assessment.".to_string(),
            timestamp,
            activity_progress: "Submitted".to_string(),
            grading_progress: "PendingManual".to_string(),
        },
        StateChange::Assessed { mastered_count, component_count } => Score {
            user_id: user_subject.to_string(),
            score_given: None,
            score_maximum: None,
            comment: format!("{mastered_count} of {component_count} components mastered."),
            timestamp,
            activity_progress: "InProgress".to_string(),
            grading_progress: "Pending".to_string(),
        },
        StateChange::Earned { ceus: awarded } => Score {
            user_id: user_subject.to_string(),
            score_given: Some(awarded),
            score_maximum: Some(ceus),
            comment: format!("Micro-credential earned: {awarded} CEUs."),
            timestamp,
            activity_progress: "Completed".to_string(),
            grading_progress: "FullyGraded".to_string(),
        },
    }
}

/// The state-change hook that queues scores.
pub struct PassbackHook;

#[async_trait::async_trait]
impl StateChangeHook for PassbackHook {
    async fn on_change(
        &self,
        txn: &DatabaseTransaction,
        enrollment: &enrollment::Model,
        change: StateChange,
    ) -> WorkflowResult<()> {
        let Some(link_pk) = enrollment.resource_link_pk else { return Ok(()) };
        let Some(services) = link_service::Entity::find_by_id(link_pk).one(txn).await? else { return Ok(()) };
        let ags: AgsEndpointClaim = match serde_json::from_str(&services.ags) {
            Ok(ags) => ags,
            Err(_) => return Ok(()),
        };
        if !ags.scope.iter().any(|s| s == SCOPE_SCORE) || (ags.lineitem.is_none() && ags.lineitems.is_none()) {
            return Ok(());
        }
        let subject = user::Entity::find_by_id(enrollment.user_id)
            .one(txn)
            .await?
            .map(|u| u.subject)
            .ok_or_else(|| WorkflowError::NotFound("The participant's user record is missing.".into()))?;
        let entry = catalogue::version(txn, enrollment.credential_version_id).await?;
        let now = Utc::now();
        let score = score_for(change, &subject, entry.definition.ceus, now);
        score_outbox::Entity::update_many()
            .col_expr(score_outbox::Column::Status, Expr::value(STATUS_SUPERSEDED))
            .col_expr(score_outbox::Column::UpdatedAt, Expr::value(now))
            .filter(score_outbox::Column::EnrollmentId.eq(enrollment.id))
            .filter(score_outbox::Column::Status.is_in([STATUS_PENDING, STATUS_FAILED]))
            .exec(txn)
            .await?;
        score_outbox::ActiveModel {
            platform_id: Set(services.platform_id),
            enrollment_id: Set(enrollment.id),
            resource_link_pk: Set(link_pk),
            user_subject: Set(subject),
            score: Set(serde_json::to_string(&score).map_err(|e| WorkflowError::Internal(e.into()))?),
            score_maximum: Set(entry.definition.ceus),
            label: Set(entry.definition.title.clone()),
            tag: Set(LINE_ITEM_TAG.to_string()),
            status: Set(STATUS_PENDING.to_string()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            locked_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            sent_at: Set(None),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        Ok(())
    }
}

/// Claim up to `limit` due rows for this worker.
pub async fn claim(db: &DatabaseConnection, limit: u64) -> Result<Vec<score_outbox::Model>, sea_orm::DbErr> {
    let now = Utc::now();
    // Look before claiming: the claiming UPDATE takes SQLite's write lock even
    // when no row is due, which would hold up every other writer once per poll.
    let due = Condition::any()
        .add(score_outbox::Column::Status.eq(STATUS_PENDING).and(score_outbox::Column::NextAttemptAt.lte(now)))
        .add(score_outbox::Column::Status.eq(STATUS_SENDING).and(score_outbox::Column::LockedUntil.lt(now)));
    if score_outbox::Entity::find().filter(due).one(db).await?.is_none() {
        return Ok(Vec::new());
    }
    let locked_until = now + Duration::seconds(LOCK_SECS);
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE score_outbox SET status = 'sending', locked_until = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id IN (SELECT id FROM score_outbox \
               WHERE (status = 'pending' AND next_attempt_at <= $2) OR (status = 'sending' AND locked_until < $2) \
               ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING *"
        }
        _ => {
            "UPDATE score_outbox SET status = 'sending', locked_until = ?, attempts = attempts + 1, updated_at = ? \
             WHERE id IN (SELECT id FROM score_outbox \
               WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND locked_until < ?) \
               ORDER BY id LIMIT ?) \
             RETURNING *"
        }
    };
    let values: Vec<sea_orm::Value> = match backend {
        DbBackend::Postgres => vec![locked_until.into(), now.into(), (limit as i64).into()],
        _ => vec![locked_until.into(), now.into(), now.into(), now.into(), (limit as i64).into()],
    };
    let mut rows =
        score_outbox::Model::find_by_statement(Statement::from_sql_and_values(backend, sql, values)).all(db).await?;
    rows.sort_by_key(|row| row.id);
    Ok(rows)
}

fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 12) as u32;
    Duration::seconds((2_i64.pow(exponent)).min(MAX_BACKOFF_SECS))
}

async fn finish(db: &DatabaseConnection, id: i64, status: &str, error: Option<String>, retry_in: Option<Duration>) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let mut update = score_outbox::Entity::update_many()
        .col_expr(score_outbox::Column::Status, Expr::value(status))
        .col_expr(score_outbox::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(score_outbox::Column::LastError, Expr::value(error))
        .col_expr(score_outbox::Column::UpdatedAt, Expr::value(now))
        .filter(score_outbox::Column::Id.eq(id))
        .filter(score_outbox::Column::Status.eq(STATUS_SENDING));
    if status == STATUS_SENT {
        update = update.col_expr(score_outbox::Column::SentAt, Expr::value(now));
    }
    if let Some(delay) = retry_in {
        update = update.col_expr(score_outbox::Column::NextAttemptAt, Expr::value(now + delay));
    }
    update.exec(db).await?;
    Ok(())
}

/// Check whether a newer score for the same enrolment exists, which makes this one obsolete.
async fn superseded(db: &DatabaseConnection, row: &score_outbox::Model) -> Result<bool, sea_orm::DbErr> {
    let newer = score_outbox::Entity::find()
        .filter(score_outbox::Column::EnrollmentId.eq(row.enrollment_id))
        .filter(score_outbox::Column::Id.gt(row.id))
        .filter(score_outbox::Column::Status.is_in([STATUS_PENDING, STATUS_SENDING, STATUS_SENT]))
        .one(db)
        .await?;
    Ok(newer.is_some())
}

/// The line item URL for a row: the launch's `lineitem`, a stored one, or
/// one found (or created) in the launch's `lineitems` container.
async fn line_item_url(
    client: &ServiceClient,
    platform: &platform::Model,
    row: &score_outbox::Model,
) -> Result<String, ServiceError> {
    let db = &client.db;
    let missing = |what: &str| ServiceError::Rejected { status: 0, body: format!("no {what} for this resource link") };
    let services = link_service::Entity::find_by_id(row.resource_link_pk)
        .one(db)
        .await
        .map_err(|e| ServiceError::Network(e.to_string()))?
        .ok_or_else(|| missing("grade services"))?;
    let ags: AgsEndpointClaim = serde_json::from_str(&services.ags).map_err(|e| ServiceError::BadResponse(e.to_string()))?;
    if let Some(url) = ags.lineitem.filter(|u| !u.is_empty()) {
        return Ok(url);
    }
    if let Some(stored) = line_item::Entity::find()
        .filter(line_item::Column::ResourceLinkPk.eq(row.resource_link_pk))
        .one(db)
        .await
        .map_err(|e| ServiceError::Network(e.to_string()))?
    {
        return Ok(stored.url);
    }
    let container = ags.lineitems.filter(|u| !u.is_empty()).ok_or_else(|| missing("line item or line items URL"))?;
    let link = resource_link::Entity::find_by_id(row.resource_link_pk)
        .one(db)
        .await
        .map_err(|e| ServiceError::Network(e.to_string()))?
        .ok_or_else(|| missing("resource link"))?;
    if !ags.scope.iter().any(|s| s == SCOPE_LINEITEM) {
        return Err(ServiceError::Rejected {
            status: 0,
            body: "the platform gave no line item for this link and did not offer the scope to create one".into(),
        });
    }
    let token = client.token(platform, &[SCOPE_LINEITEM]).await?;
    let found = find_line_items(&client.http, &token, &container, &link.resource_link_id, &row.tag).await?;
    let url = match found.into_iter().find_map(|item| item.id) {
        Some(url) => url,
        None => {
            let created = create_line_item(
                &client.http,
                &token,
                &container,
                &LineItem {
                    id: None,
                    score_maximum: row.score_maximum,
                    label: row.label.clone(),
                    resource_id: Some(link.credential_slug.clone().unwrap_or_else(|| link.resource_link_id.clone())),
                    tag: Some(row.tag.clone()),
                    resource_link_id: Some(link.resource_link_id.clone()),
                },
            )
            .await?;
            created.id.ok_or_else(|| ServiceError::BadResponse("the created line item has no id".into()))?
        }
    };
    let stored = line_item::ActiveModel {
        platform_id: Set(platform.id),
        resource_link_pk: Set(row.resource_link_pk),
        url: Set(url.clone()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await;
    if stored.is_err() {
        tracing::debug!(resource_link_pk = row.resource_link_pk, "another worker stored the line item first");
    }
    Ok(url)
}

async fn send_once(client: &ServiceClient, platform: &platform::Model, row: &score_outbox::Model) -> Result<(), ServiceError> {
    let lineitem = line_item_url(client, platform, row).await?;
    let score: Score = serde_json::from_str(&row.score).map_err(|e| ServiceError::BadResponse(e.to_string()))?;
    let token = client.token(platform, &[SCOPE_SCORE]).await?;
    match post_score(&client.http, &token, &lineitem, &score).await {
        Err(ServiceError::Unauthorized { .. }) => {
            client.forget_token(platform, &[SCOPE_SCORE]);
            let token = client.token(platform, &[SCOPE_SCORE]).await?;
            post_score(&client.http, &token, &lineitem, &score).await
        }
        other => other,
    }
}

/// Send one claimed row and record the outcome.
pub async fn deliver(client: &ServiceClient, row: score_outbox::Model) -> Result<(), sea_orm::DbErr> {
    let db = &client.db;
    if superseded(db, &row).await? {
        return finish(db, row.id, STATUS_SUPERSEDED, None, None).await;
    }
    let Some(platform) = platform::Entity::find_by_id(row.platform_id).one(db).await? else {
        client.metrics.passback_send_failed(SendFailure::Parked);
        return finish(db, row.id, STATUS_FAILED, Some("the platform registration is gone".into()), None).await;
    };
    match send_once(client, &platform, &row).await {
        Ok(()) => {
            tracing::info!(outbox_id = row.id, enrollment_id = row.enrollment_id, "score sent");
            finish(db, row.id, STATUS_SENT, None, None).await
        }
        Err(error) if error.is_retryable() || matches!(error, ServiceError::Unauthorized { .. }) => {
            client.metrics.passback_send_failed(SendFailure::Retried);
            let delay = backoff(row.attempts);
            tracing::warn!(outbox_id = row.id, attempts = row.attempts, retry_in_secs = delay.num_seconds(), error = %error, "score not sent; will retry");
            finish(db, row.id, STATUS_PENDING, Some(error.to_string()), Some(delay)).await
        }
        Err(error) => {
            client.metrics.passback_send_failed(SendFailure::Parked);
            tracing::warn!(outbox_id = row.id, error = %error, "score rejected by the platform; parked as failed");
            finish(db, row.id, STATUS_FAILED, Some(error.to_string()), None).await
        }
    }
}

/// Send everything due now; returns how many rows were handled.
pub async fn run_once(client: &ServiceClient) -> Result<usize, sea_orm::DbErr> {
    let rows = claim(&client.db, 20).await?;
    let count = rows.len();
    for row in rows {
        deliver(client, row).await?;
    }
    Ok(count)
}

/// Run the worker loop: poll every `interval` until the task is dropped.
pub async fn worker(client: ServiceClient, interval: std::time::Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match run_once(&client).await {
                Ok(0) => break,
                Ok(_) => continue,
                Err(error) => {
                    tracing::error!(error = %error, "grade passback worker could not read the outbox");
                    break;
                }
            }
        }
    }
}

/// Pending and failed passbacks, newest first, for admins.
pub async fn unsent(db: &DatabaseConnection, platform_id: i64, limit: u64) -> Result<Vec<score_outbox::Model>, sea_orm::DbErr> {
    score_outbox::Entity::find()
        .filter(score_outbox::Column::PlatformId.eq(platform_id))
        .filter(score_outbox::Column::Status.is_in([STATUS_PENDING, STATUS_SENDING, STATUS_FAILED]))
        .order_by_desc(score_outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Count the outbox rows in each of `statuses`. A status without rows is left out.
pub async fn count_by_status(db: &DatabaseConnection, statuses: &[&str]) -> Result<Vec<(String, i64)>, sea_orm::DbErr> {
    score_outbox::Entity::find()
        .select_only()
        .column(score_outbox::Column::Status)
        .column_as(Expr::col(score_outbox::Column::Id).count(), "count")
        .filter(score_outbox::Column::Status.is_in(statuses.iter().copied()))
        .group_by(score_outbox::Column::Status)
        .into_tuple()
        .all(db)
        .await
}

/// Queue a failed passback again now. Returns false when it was not failed
/// or belongs to another platform.
pub async fn retry(db: &DatabaseConnection, platform_id: i64, id: i64) -> Result<bool, sea_orm::DbErr> {
    let now = Utc::now();
    let result = score_outbox::Entity::update_many()
        .col_expr(score_outbox::Column::Status, Expr::value(STATUS_PENDING))
        .col_expr(score_outbox::Column::NextAttemptAt, Expr::value(now))
        .col_expr(score_outbox::Column::Attempts, Expr::value(0))
        .col_expr(score_outbox::Column::UpdatedAt, Expr::value(now))
        .filter(score_outbox::Column::Id.eq(id))
        .filter(score_outbox::Column::PlatformId.eq(platform_id))
        .filter(score_outbox::Column::Status.eq(STATUS_FAILED))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submitted_score_has_no_grade() {
        let score = score_for(StateChange::Submitted, "u1", 2.0, Utc::now());
        assert_eq!(score.activity_progress, "Submitted");
        assert_eq!(score.grading_progress, "PendingManual");
        assert!(score.score_given.is_none());
    }

    #[test]
    fn assessed_score_comments_progress() {
        let change = StateChange::Assessed { mastered_count: 3, component_count: 5 };
        let score = score_for(change, "u1", 2.0, Utc::now());
        assert_eq!(score.comment, "3 of 5 components mastered.");
        assert!(score.score_given.is_none());
        assert_eq!(score.grading_progress, "Pending");
    }

    #[test]
    fn earned_score_gives_ceus_with_maximum() {
        let score = score_for(StateChange::Earned { ceus: 2.0 }, "u1", 2.0, Utc::now());
        assert_eq!(score.score_given, Some(2.0));
        assert_eq!(score.score_maximum, Some(2.0));
        assert_eq!(score.activity_progress, "Completed");
        assert_eq!(score.grading_progress, "FullyGraded");
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1).num_seconds(), 2);
        assert_eq!(backoff(3).num_seconds(), 8);
        assert_eq!(backoff(40).num_seconds(), MAX_BACKOFF_SECS);
    }
}
