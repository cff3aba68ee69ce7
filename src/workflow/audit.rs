//! The audit log: one row for every state change, with who, what and when.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use serde_json::Value;

use crate::store::entities::audit_entry;

/// Append one entry; call it in the transaction that makes the change.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor_user_id: Option<i64>,
    action: &str,
    subject_type: &str,
    subject_id: i64,
    context_pk: Option<i64>,
    detail: Value,
) -> Result<(), DbErr> {
    audit_entry::ActiveModel {
        at: Set(Utc::now()),
        actor_user_id: Set(actor_user_id),
        action: Set(action.to_string()),
        subject_type: Set(subject_type.to_string()),
        subject_id: Set(subject_id),
        context_pk: Set(context_pk),
        detail: Set(detail.to_string()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
