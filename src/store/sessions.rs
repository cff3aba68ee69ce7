//! Sessions, stored by the SHA-256 of their token.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::query::{SelectA, SelectB, SelectC};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, IdenStatic, JoinType,
    QueryFilter, QuerySelect, QueryTrait, RelationDef, Statement, Value,
};

use super::entities::{context, session, user};
use super::prepared::{insert_row, SqlText};

/// The columns of a session row, in the order its inserts list them.
pub(super) const COLUMNS: [session::Column; 12] = [
    session::Column::Id,
    session::Column::UserId,
    session::Column::PlatformId,
    session::Column::DeploymentPk,
    session::Column::ContextPk,
    session::Column::ResourceLinkPk,
    session::Column::Roles,
    session::Column::MessageType,
    session::Column::Launch,
    session::Column::CreatedAt,
    session::Column::ExpiresAt,
    session::Column::LastSeenAt,
];

pub async fn insert<C: ConnectionTrait>(db: &C, row: session::Model) -> Result<(), DbErr> {
    static SQL: SqlText = SqlText::new();
    let backend = db.get_database_backend();
    let values = vec![
        row.id.into(),
        row.user_id.into(),
        row.platform_id.into(),
        row.deployment_pk.into(),
        row.context_pk.into(),
        row.resource_link_pk.into(),
        row.roles.into(),
        row.message_type.into(),
        row.launch.into(),
        row.created_at.into(),
        row.expires_at.into(),
        row.last_seen_at.into(),
    ];
    let statement =
        SQL.statement(backend, values, |values| insert_row(backend, session::Entity, &COLUMNS, values, None, false));
    db.execute(statement).await?;
    Ok(())
}

/// A session with its user and course, as every page shows them.
pub type SessionRows = (session::Model, Option<user::Model>, Option<context::Model>);

/// Find a session together with its user and course, in one query.
pub async fn find_with_user_and_course<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<SessionRows>, DbErr> {
    static SQL: SqlText = SqlText::new();
    let backend = db.get_database_backend();
    let statement = SQL.statement(backend, vec![id.into()], |values| session_query(backend, values));
    let Some(row) = db.query_one(statement).await? else {
        return Ok(None);
    };
    Ok(Some((
        session::Model::from_query_result(&row, SelectA.as_str())?,
        user::Model::from_query_result_optional(&row, SelectB.as_str())?,
        context::Model::from_query_result_optional(&row, SelectC.as_str())?,
    )))
}

/// Build the select of the session with id `values[0]` and its user and course.
fn session_query(backend: DbBackend, values: &[Value]) -> Statement {
    let of_user: RelationDef =
        session::Entity::belongs_to(user::Entity).from(session::Column::UserId).to(user::Column::Id).into();
    let of_course: RelationDef =
        session::Entity::belongs_to(context::Entity).from(session::Column::ContextPk).to(context::Column::Id).into();
    session::Entity::find()
        .filter(session::Column::Id.eq(values[0].clone()))
        .select_also(user::Entity)
        .select_also(context::Entity)
        .join(JoinType::LeftJoin, of_user)
        .join(JoinType::LeftJoin, of_course)
        .build(backend)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_query_text_is_kept() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            assert!(SqlText::new().keeps(backend, 1, |values| session_query(backend, values)), "{backend:?}");
        }
    }
}
