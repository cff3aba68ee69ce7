//! Sessions, stored by the SHA-256 of their token.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::entities::session;

pub async fn insert<C: ConnectionTrait>(db: &C, row: session::Model) -> Result<(), DbErr> {
    // Every field is set by the caller, so all of them are inserted.
    let active: session::ActiveModel = row.into();
    active.reset_all().insert(db).await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<session::Model>, DbErr> {
    session::Entity::find_by_id(id.to_string()).one(db).await
}

pub async fn touch<C: ConnectionTrait>(db: &C, id: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    session::Entity::update_many()
        .col_expr(session::Column::LastSeenAt, Expr::value(now))
        .filter(session::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn purge_expired<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = session::Entity::delete_many().filter(session::Column::ExpiresAt.lt(now)).exec(db).await?;
    Ok(result.rows_affected)
}
