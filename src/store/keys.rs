//! The tool's own signing keys.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use super::entities::tool_key;

pub const STATUS_NEXT: &str = "next";
pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_RETIRING: &str = "retiring";
pub const STATUS_RETIRED: &str = "retired";

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    kid: &str,
    private_key_pem: &str,
    public_jwk: &str,
    status: &str,
) -> Result<tool_key::Model, DbErr> {
    let now = Utc::now();
    tool_key::ActiveModel {
        kid: Set(kid.to_string()),
        private_key_pem: Set(private_key_pem.to_string()),
        public_jwk: Set(public_jwk.to_string()),
        status: Set(status.to_string()),
        created_at: Set(now),
        activated_at: Set((status == STATUS_ACTIVE).then_some(now)),
        retire_after: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<tool_key::Model>, DbErr> {
    tool_key::Entity::find().order_by_asc(tool_key::Column::Id).all(db).await
}

/// Keys that the JWKS publishes: the next, the active and the retiring ones
/// whose time has not yet passed.
pub async fn published<C: ConnectionTrait>(db: &C) -> Result<Vec<tool_key::Model>, DbErr> {
    let retiring_in_time = tool_key::Column::Status
        .eq(STATUS_RETIRING)
        .and(tool_key::Column::RetireAfter.is_null().or(tool_key::Column::RetireAfter.gt(Utc::now())));
    tool_key::Entity::find()
        .filter(tool_key::Column::Status.is_in([STATUS_NEXT, STATUS_ACTIVE]).or(retiring_in_time))
        .order_by_asc(tool_key::Column::Id)
        .all(db)
        .await
}

/// The signing key: the most recently activated active key.
pub async fn signing<C: ConnectionTrait>(db: &C) -> Result<Option<tool_key::Model>, DbErr> {
    tool_key::Entity::find()
        .filter(tool_key::Column::Status.eq(STATUS_ACTIVE))
        .order_by_desc(tool_key::Column::ActivatedAt)
        .order_by_desc(tool_key::Column::Id)
        .one(db)
        .await
}

pub async fn set_status<C: ConnectionTrait>(
    db: &C,
    id: i64,
    status: &str,
    activated_at: Option<DateTime<Utc>>,
    retire_after: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let mut update = tool_key::Entity::update_many()
        .col_expr(tool_key::Column::Status, Expr::value(status))
        .filter(tool_key::Column::Id.eq(id));
    if let Some(at) = activated_at {
        update = update.col_expr(tool_key::Column::ActivatedAt, Expr::value(at));
    }
    if let Some(at) = retire_after {
        update = update.col_expr(tool_key::Column::RetireAfter, Expr::value(at));
    }
    update.exec(db).await?;
    Ok(())
}
