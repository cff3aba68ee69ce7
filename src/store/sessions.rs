//! Sessions, stored by the SHA-256 of their token.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationDef,
};

use super::entities::{context, session, user};

pub async fn insert<C: ConnectionTrait>(db: &C, row: session::Model) -> Result<(), DbErr> {
    // Every field is set by the caller, so all of them are inserted.
    let active: session::ActiveModel = row.into();
    active.reset_all().insert(db).await?;
    Ok(())
}

/// A session with its user and course, as every page shows them.
pub type SessionRows = (session::Model, Option<user::Model>, Option<context::Model>);

/// Find a session together with its user and course, in one query.
pub async fn find_with_user_and_course<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<SessionRows>, DbErr> {
    let of_user: RelationDef =
        session::Entity::belongs_to(user::Entity).from(session::Column::UserId).to(user::Column::Id).into();
    let of_course: RelationDef =
        session::Entity::belongs_to(context::Entity).from(session::Column::ContextPk).to(context::Column::Id).into();
    session::Entity::find_by_id(id.to_string())
        .select_also(user::Entity)
        .select_also(context::Entity)
        .join(JoinType::LeftJoin, of_user)
        .join(JoinType::LeftJoin, of_course)
        .one(db)
        .await
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
