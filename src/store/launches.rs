//! Login states and the records every launch leaves: users, contexts,
//! resource links, and failed launches.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Keyword, OnConflict, SimpleExpr};
use std::collections::HashMap;
use std::sync::LazyLock;

use sea_orm::query::{SelectA, SelectB};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, IdenStatic, JoinType,
    Iterable, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Set, Statement, Value, Values,
};

use super::entities::{context, launch_failure, link_service, login_state, platform, resource_link, session, user};
use super::direct::{self, ColumnTypes};
use super::prepared::{insert_exprs, insert_row, keep_stored, key_of, returned_rows, SqlText};

/// Build the insert of a login state's row, for a state too long to be carried as a token.
pub fn login_state_insert(backend: DbBackend, row: login_state::Model) -> Statement {
    use login_state::Column as Col;
    static SQL: SqlText = SqlText::new();
    let columns = [
        Col::State,
        Col::Nonce,
        Col::PlatformId,
        Col::TargetLinkUri,
        Col::CreatedAt,
        Col::ExpiresAt,
        Col::UsedAt,
        Col::LoginParams,
        Col::StorageTarget,
        Col::Continuation,
    ];
    let values = vec![
        row.state.into(),
        row.nonce.into(),
        row.platform_id.into(),
        row.target_link_uri.into(),
        row.created_at.into(),
        row.expires_at.into(),
        row.used_at.into(),
        row.login_params.into(),
        row.storage_target.into(),
        row.continuation.into(),
    ];
    SQL.statement(backend, values, |values| insert_row(backend, login_state::Entity, &columns, values, None, false))
}

/// Find a login state together with the registration it was issued for,
/// in one query. The registration is `None` when its row is gone.
pub async fn find_login_state_with_platform<C: ConnectionTrait>(
    db: &C,
    state: &str,
) -> Result<Option<(login_state::Model, Option<platform::Model>)>, DbErr> {
    static SQL: SqlText = SqlText::new();
    let backend = db.get_database_backend();
    let statement = SQL.statement(backend, vec![state.into()], |values| login_state_query(backend, values));
    let Some(row) = db.query_one(statement).await? else {
        return Ok(None);
    };
    Ok(Some((
        login_state::Model::from_query_result(&row, SelectA.as_str())?,
        platform::Model::from_query_result_optional(&row, SelectB.as_str())?,
    )))
}

/// Build the select of the login state `values[0]` with its registration.
fn login_state_query(backend: DbBackend, values: &[Value]) -> Statement {
    let issued_for = login_state::Entity::belongs_to(platform::Entity)
        .from(login_state::Column::PlatformId)
        .to(platform::Column::Id)
        .into();
    login_state::Entity::find()
        .filter(login_state::Column::State.eq(values[0].clone()))
        .select_also(platform::Entity)
        .join(JoinType::LeftJoin, issued_for)
        .build(backend)
}

/// Store the hash of a continuation token for the unused state `login`.
/// A state carried as a token gets its row here. Returns false when the
/// state was used already.
pub async fn set_continuation<C: ConnectionTrait>(db: &C, login: &login_state::Model, hash: &str) -> Result<bool, DbErr> {
    upsert_unused_state(db, login, None, Some(hash)).await
}

/// Mark the state `login` used, storing its row if it has none. Returns
/// false when it was already used, so that of two concurrent requests with
/// one state only one goes on.
pub async fn consume_login_state<C: ConnectionTrait>(db: &C, login: &login_state::Model) -> Result<bool, DbErr> {
    upsert_unused_state(db, login, Some(Utc::now()), None).await
}

/// Insert the row of the state `login`, or update the stored row while it
/// is unused: set its `used_at` and, when given, its continuation hash.
async fn upsert_unused_state<C: ConnectionTrait>(
    db: &C,
    login: &login_state::Model,
    used_at: Option<DateTime<Utc>>,
    continuation: Option<&str>,
) -> Result<bool, DbErr> {
    const SQL: &str = r#"INSERT INTO "login_states"
 ("state", "nonce", "platform_id", "target_link_uri", "created_at", "expires_at", "used_at", "storage_target", "continuation")
 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
 ON CONFLICT ("state") DO UPDATE SET "used_at" = excluded."used_at",
 "continuation" = COALESCE(excluded."continuation", "login_states"."continuation")
 WHERE "login_states"."used_at" IS NULL"#;
    static POSTGRES: LazyLock<String> = LazyLock::new(|| numbered_placeholders_dollar(SQL));
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => POSTGRES.as_str(),
        _ => SQL,
    };
    let values: Vec<Value> = vec![
        login.state.clone().into(),
        login.nonce.clone().into(),
        login.platform_id.into(),
        login.target_link_uri.clone().into(),
        login.created_at.into(),
        login.expires_at.into(),
        used_at.into(),
        login.storage_target.clone().into(),
        continuation.map(str::to_string).into(),
    ];
    Ok(db.execute(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected() == 1)
}

/// Outcome of [`use_login_state`].
#[derive(Debug, PartialEq, Eq)]
pub enum StateUse {
    /// The state was unused and its registration active, and is now used.
    /// `deployment_pk` is the key of the launch's deployment when that
    /// deployment is registered and active.
    Used { deployment_pk: Option<i64> },
    /// Nothing changed: the state is used already, or its registration is
    /// no longer active.
    NotUsed,
}

/// Use up the login state `login` for a launch from deployment
/// `deployment_id`, in one statement: the state must be unused and its
/// registration active at this moment, so a registration switched off
/// after the login opens no session. A state carried as a token gets its
/// row here, already used; a stored one is marked used. The deployment's
/// key comes back when the deployment is active.
pub async fn use_login_state<C: ConnectionTrait>(
    db: &C,
    login: &login_state::Model,
    deployment_id: &str,
) -> Result<StateUse, DbErr> {
    static SQLITE: LazyLock<String> = LazyLock::new(|| state_use_sql(false));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| numbered_placeholders_dollar(&state_use_sql(false)));
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => POSTGRES.as_str(),
        _ => SQLITE.as_str(),
    };
    let statement = Statement::from_sql_and_values(backend, sql, state_use_values(login, deployment_id));
    match db.query_one(statement).await? {
        Some(row) => Ok(StateUse::Used { deployment_pk: row.try_get::<Option<i64>>("", "deployment_pk")? }),
        None => Ok(StateUse::NotUsed),
    }
}

/// Build the statement that uses up a login state, with the values of
/// [`state_use_values`]. It inserts the state's row already used, or
/// marks the stored row used while it is unused, and only when the
/// registration is active and, with `require_deployment`, the deployment
/// too. It returns the deployment's key, or `NULL` when the deployment is
/// not registered and active, and no row when nothing changed.
fn state_use_sql(require_deployment: bool) -> String {
    let deployment = r#"SELECT "deployments"."id" FROM "deployments" WHERE "deployments"."platform_id" = ?7
 AND "deployments"."deployment_id" = ?4 AND "deployments"."status" = ?5"#;
    let deployment_active = match require_deployment {
        true => format!("\n AND EXISTS ({deployment})"),
        false => String::new(),
    };
    format!(
        r#"INSERT INTO "login_states" ("state", "nonce", "platform_id", "target_link_uri", "created_at", "expires_at", "used_at")
 SELECT ?2, ?6, ?7, ?8, ?9, ?10, ?1
 WHERE EXISTS (SELECT 1 FROM "platforms" WHERE "platforms"."id" = ?7 AND "platforms"."status" = ?3){deployment_active}
 ON CONFLICT ("state") DO UPDATE SET "used_at" = ?1
 WHERE "login_states"."used_at" IS NULL AND "login_states"."platform_id" = ?7
 RETURNING ({deployment}) AS "deployment_pk""#
    )
}

/// The statement of [`state_use_sql`] that requires an active deployment, on SQLite.
static USE_STATE_OF_ACTIVE_DEPLOYMENT: LazyLock<String> = LazyLock::new(|| state_use_sql(true));

/// Return the values that [`state_use_sql`]'s statements bind, in order.
fn state_use_values(login: &login_state::Model, deployment_id: &str) -> Vec<Value> {
    vec![
        Utc::now().into(),
        login.state.clone().into(),
        super::platforms::STATUS_ACTIVE.into(),
        deployment_id.into(),
        super::platforms::STATUS_ACTIVE.into(),
        login.nonce.clone().into(),
        login.platform_id.into(),
        login.target_link_uri.clone().into(),
        login.created_at.into(),
        login.expires_at.into(),
    ]
}

/// The number of values of [`state_use_values`].
const STATE_USE_VALUES: usize = 10;

/// On the launch writer's SQLite connection, use up the login state
/// `login` as [`use_login_state`] does, but only when deployment
/// `deployment_id` is registered and active as well, and return its key.
/// `None` means nothing changed: the state, its registration or the
/// deployment needs [`use_login_state`] and the checks that follow it.
pub fn use_state_of_active_deployment(
    connection: &rusqlite::Connection,
    login: &login_state::Model,
    deployment_id: &str,
) -> Result<Option<i64>, DbErr> {
    let statement = Statement::from_sql_and_values(
        DbBackend::Sqlite,
        USE_STATE_OF_ACTIVE_DEPLOYMENT.as_str(),
        state_use_values(login, deployment_id),
    );
    let rows = direct::query(connection, &statement, &ColumnTypes::default())?;
    rows.first().map(|row| row.try_get::<i64>("", "deployment_pk")).transpose()
}

/// Delete login states that expired before `before`.
pub async fn purge_login_states<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = login_state::Entity::delete_many()
        .filter(login_state::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// What a launch says about its user.
pub struct UserRecord<'a> {
    pub platform_id: i64,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
}

/// Build the insert or refresh of a user, keyed by issuer and subject. A
/// launch without a name or email keeps the ones stored earlier.
fn user_upsert(backend: DbBackend, record: &UserRecord<'_>) -> Statement {
    static SQL: SqlText = SqlText::new();
    SQL.statement(backend, user_values(record, Utc::now()), |values| user_upsert_query(backend, values, None))
}

/// Return the values of [`user_upsert`], in the order of its columns.
fn user_values(record: &UserRecord<'_>, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        record.platform_id.into(),
        record.issuer.into(),
        record.subject.into(),
        record.name.map(str::to_string).into(),
        record.email.map(str::to_string).into(),
        now.into(),
        now.into(),
    ]
}

/// Build [`user_upsert`] from the values that [`user_values`] lists.
fn user_upsert_query(backend: DbBackend, values: &[Value], only_if: Option<SimpleExpr>) -> Statement {
    use user::Column as Col;
    let columns = [Col::PlatformId, Col::Issuer, Col::Subject, Col::Name, Col::Email, Col::CreatedAt, Col::LastLaunchAt];
    // A user is one person per issuer (LTI's `sub` is stable within the
    // issuer). The row keeps the registration that first launched them, so
    // a second registration under the same issuer never takes it over, and
    // a launch without a name or email keeps the ones stored earlier.
    let on_conflict = OnConflict::columns([Col::Issuer, Col::Subject])
        .update_column(Col::LastLaunchAt)
        .value(Col::Name, keep_stored(user::Entity, Col::Name))
        .value(Col::Email, keep_stored(user::Entity, Col::Email))
        .to_owned();
    let exprs = values.iter().cloned().map(SimpleExpr::Value).collect();
    insert_exprs(backend, user::Entity, &columns, exprs, Some(on_conflict), true, only_if)
}

/// Run an `INSERT ... RETURNING *` of one row and read the row.
async fn returned_row<C: ConnectionTrait, M: FromQueryResult>(db: &C, statement: Statement) -> Result<M, DbErr> {
    let row = db.query_one(statement).await?.ok_or_else(|| DbErr::RecordNotInserted)?;
    M::from_query_result(&row, "")
}

pub struct ContextRecord<'a> {
    pub platform_id: i64,
    pub issuer: &'a str,
    pub context_id: &'a str,
    pub label: Option<&'a str>,
    pub title: Option<&'a str>,
}

/// Insert or refresh a course, keyed by issuer and context id. A launch
/// without a label or title keeps the ones stored earlier.
pub async fn upsert_context<C: ConnectionTrait>(db: &C, record: ContextRecord<'_>) -> Result<context::Model, DbErr> {
    returned_row(db, context_upsert(db.get_database_backend(), &record)).await
}

/// Build the upsert of [`upsert_context`].
fn context_upsert(backend: DbBackend, record: &ContextRecord<'_>) -> Statement {
    static SQL: SqlText = SqlText::new();
    SQL.statement(backend, context_values(record, Utc::now()), |values| context_upsert_query(backend, values, None))
}

/// Return the values of [`context_upsert`], in the order of its columns.
fn context_values(record: &ContextRecord<'_>, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        record.platform_id.into(),
        record.issuer.into(),
        record.context_id.into(),
        record.label.map(str::to_string).into(),
        record.title.map(str::to_string).into(),
        now.into(),
        now.into(),
    ]
}

/// Build [`context_upsert`] from the values that [`context_values`] lists.
fn context_upsert_query(backend: DbBackend, values: &[Value], only_if: Option<SimpleExpr>) -> Statement {
    use context::Column as Col;
    let columns = [Col::PlatformId, Col::Issuer, Col::ContextId, Col::Label, Col::Title, Col::CreatedAt, Col::UpdatedAt];
    let on_conflict = OnConflict::columns([Col::Issuer, Col::ContextId])
        .update_column(Col::UpdatedAt)
        .value(Col::Label, keep_stored(context::Entity, Col::Label))
        .value(Col::Title, keep_stored(context::Entity, Col::Title))
        .to_owned();
    let exprs = values.iter().cloned().map(SimpleExpr::Value).collect();
    insert_exprs(backend, context::Entity, &columns, exprs, Some(on_conflict), true, only_if)
}

/// A launch's resource link. The link's course is the launch's course.
pub struct ResourceLinkRecord<'a> {
    pub resource_link_id: &'a str,
    pub title: Option<&'a str>,
    /// Set only when the launch names a micro-credential; a launch without
    /// one keeps what deep linking placed earlier.
    pub credential_slug: Option<&'a str>,
}

/// Build the upsert of a resource link, keyed by issuer and link id, in the
/// course of `course`. Its course is always the launch's. A launch without
/// a title or a micro-credential keeps the ones stored earlier.
fn resource_link_upsert(backend: DbBackend, course: &ContextRecord<'_>, record: &ResourceLinkRecord<'_>) -> Statement {
    static SQL: SqlText = SqlText::new();
    let mut values = link_values(course, record, Utc::now());
    values.splice(1..1, [course.issuer.into(), course.context_id.into()]);
    SQL.statement(backend, values, |values| resource_link_in_course(backend, values))
}

/// Return the values of a resource link's upsert other than its course's
/// key, in the order of its columns.
fn link_values(course: &ContextRecord<'_>, record: &ResourceLinkRecord<'_>, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        course.platform_id.into(),
        course.issuer.into(),
        record.resource_link_id.into(),
        record.title.map(str::to_string).into(),
        record.credential_slug.map(str::to_string).into(),
        now.into(),
        now.into(),
    ]
}

/// Build the upsert of a resource link from the values that
/// [`resource_link_upsert`] lists: [`link_values`] with the course's issuer
/// and id after the first, by which the course's key is found.
fn resource_link_in_course(backend: DbBackend, values: &[Value]) -> Statement {
    let course_key = key_of(
        context::Entity,
        context::Column::Id,
        &[(context::Column::Issuer, values[1].clone()), (context::Column::ContextId, values[2].clone())],
    );
    let mut rest = vec![values[0].clone()];
    rest.extend_from_slice(&values[3..]);
    resource_link_query(backend, &rest, course_key, None)
}

/// Build the upsert of a resource link from the values that [`link_values`]
/// lists, with `course_key` for the key of its course.
fn resource_link_query(
    backend: DbBackend,
    values: &[Value],
    course_key: SimpleExpr,
    only_if: Option<SimpleExpr>,
) -> Statement {
    use resource_link::Column as Col;
    let columns = [
        Col::PlatformId,
        Col::ContextPk,
        Col::Issuer,
        Col::ResourceLinkId,
        Col::Title,
        Col::CredentialSlug,
        Col::CreatedAt,
        Col::UpdatedAt,
    ];
    let mut exprs: Vec<SimpleExpr> = values.iter().cloned().map(SimpleExpr::Value).collect();
    exprs.insert(1, course_key);
    let on_conflict = OnConflict::columns([Col::Issuer, Col::ResourceLinkId])
        .update_columns([Col::UpdatedAt, Col::ContextPk])
        .value(Col::Title, keep_stored(resource_link::Entity, Col::Title))
        .value(Col::CredentialSlug, keep_stored(resource_link::Entity, Col::CredentialSlug))
        .to_owned();
    insert_exprs(backend, resource_link::Entity, &columns, exprs, Some(on_conflict), true, only_if)
}

/// The user, course, resource link and session rows of a launch.
pub struct LaunchRows {
    pub user: user::Model,
    pub context: context::Model,
    pub resource_link: Option<resource_link::Model>,
    /// The stored session, when one was given to store.
    pub session: Option<session::Model>,
}

/// Insert or refresh the user, course and resource link of a launch, as
/// [`user_upsert`] and [`upsert_context`] describe, and insert `session` when
/// given, in one round trip: on SQLite as several statements in one call,
/// on PostgreSQL as one statement ([`postgres_launch_rows`]). The session's
/// user, course and link keys are those of the rows stored with it,
/// whatever `session` holds.
pub async fn upsert_launch_rows<C: ConnectionTrait>(
    db: &C,
    user: UserRecord<'_>,
    course: ContextRecord<'_>,
    link: Option<ResourceLinkRecord<'_>>,
    session: Option<session::Model>,
) -> Result<LaunchRows, DbErr> {
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        let with_link = link.is_some();
        let with_session = session.is_some();
        let statement = postgres_launch_rows(&user, &course, link.as_ref(), session);
        let row = db.query_one(statement).await?.ok_or(DbErr::RecordNotInserted)?;
        return postgres_rows_of(&row, with_link, with_session);
    }
    let with_session = session.is_some();
    let statements = sqlite_launch_rows(&user, &course, link.as_ref(), session);
    let rows = returned_rows(db, statements).await?;
    launch_rows_from(rows, link.is_some(), with_session)
}

/// Read the rows that [`postgres_launch_statement`]'s statement returned.
fn postgres_rows_of(row: &QueryResult, with_link: bool, with_session: bool) -> Result<LaunchRows, DbErr> {
    Ok(LaunchRows {
        user: user::Model::from_query_result(row, USER_PART.prefix)?,
        context: context::Model::from_query_result(row, COURSE_PART.prefix)?,
        resource_link: match with_link {
            true => Some(resource_link::Model::from_query_result(row, LINK_PART.prefix)?),
            false => None,
        },
        session: match with_session {
            true => Some(session::Model::from_query_result(row, SESSION_PART.prefix)?),
            false => None,
        },
    })
}

/// On PostgreSQL, use up the login state `state` as
/// [`use_state_of_active_deployment`] does, and only then store the rows
/// of a launch and its session, in one statement that runs on its own, as
/// its own transaction. The session's deployment key is that of
/// deployment `deployment_id`, whatever `session` holds. `None` means that
/// nothing changed: the state, its registration or the deployment needs
/// [`use_login_state`] and the checks that follow it.
///
/// With `services` (the platform's key and the services claim as JSON),
/// it stores the link's services too, when there is a link.
/// With `landing`, a select of at most one row that takes the user's and
/// the course's keys from [`stored_user_key`] and [`stored_course_key`], the
/// statement's row also contains that select's columns, left-joined and
/// read before the statement's writes. That row is returned with the
/// launch's rows.
#[allow(clippy::too_many_arguments)]
pub async fn use_state_and_store_launch<C: ConnectionTrait>(
    db: &C,
    login: &login_state::Model,
    deployment_id: &str,
    user: UserRecord<'_>,
    course: ContextRecord<'_>,
    link: Option<ResourceLinkRecord<'_>>,
    session: session::Model,
    services: Option<(i64, String)>,
    landing: Option<&Statement>,
) -> Result<Option<(LaunchRows, QueryResult)>, DbErr> {
    let with_link = link.is_some();
    let state_use = Some((login, deployment_id));
    let statement = postgres_launch_statement(state_use, &user, &course, link.as_ref(), Some(session), services, landing);
    match db.query_one(statement).await? {
        Some(row) => Ok(Some((postgres_rows_of(&row, with_link, true)?, row))),
        None => Ok(None),
    }
}

/// Return the key of the user that [`use_state_and_store_launch`] stores, for its `landing` select.
pub fn stored_user_key() -> SimpleExpr {
    part_key(&USER_PART)
}

/// Return the key of the course that [`use_state_and_store_launch`] stores, for its `landing` select.
pub fn stored_course_key() -> SimpleExpr {
    part_key(&COURSE_PART)
}

/// Return the key of the row that a part of the launch statement stores.
fn part_key(part: &Part) -> SimpleExpr {
    SimpleExpr::Custom(format!(r#"(SELECT "id" FROM "{}")"#, part.name))
}

/// Build the SQLite statements that store a launch's rows, each returning
/// its row: the user, the course, the link when given, the session when given.
fn sqlite_launch_rows(
    user: &UserRecord<'_>,
    course: &ContextRecord<'_>,
    link: Option<&ResourceLinkRecord<'_>>,
    session: Option<session::Model>,
) -> Vec<Statement> {
    let backend = DbBackend::Sqlite;
    let mut statements = vec![user_upsert(backend, user), context_upsert(backend, course)];
    if let Some(link) = link {
        statements.push(resource_link_upsert(backend, course, link));
    }
    if let Some(session) = session {
        statements.push(session_insert(backend, user, course, link, session));
    }
    statements
}

/// On the launch writer's SQLite connection, store the rows of a launch
/// and its session as [`upsert_launch_rows`] does.
pub fn launch_rows_on(
    connection: &rusqlite::Connection,
    user: UserRecord<'_>,
    course: ContextRecord<'_>,
    link: Option<ResourceLinkRecord<'_>>,
    session: session::Model,
) -> Result<LaunchRows, DbErr> {
    let with_link = link.is_some();
    let statements = sqlite_launch_rows(&user, &course, link.as_ref(), Some(session));
    static USER: LazyLock<ColumnTypes> = LazyLock::new(|| ColumnTypes::default().entity::<user::Entity>(""));
    static COURSE: LazyLock<ColumnTypes> = LazyLock::new(|| ColumnTypes::default().entity::<context::Entity>(""));
    static LINK: LazyLock<ColumnTypes> = LazyLock::new(|| ColumnTypes::default().entity::<resource_link::Entity>(""));
    static SESSION: LazyLock<ColumnTypes> = LazyLock::new(|| ColumnTypes::default().entity::<session::Entity>(""));
    let mut types: Vec<&ColumnTypes> = vec![&USER, &COURSE];
    if with_link {
        types.push(&LINK);
    }
    types.push(&SESSION);
    let mut rows = Vec::with_capacity(statements.len());
    for (statement, types) in statements.iter().zip(types) {
        rows.push(direct::query(connection, statement, types)?.into_iter().next().ok_or(DbErr::RecordNotInserted)?);
    }
    launch_rows_from(rows, with_link, true)
}

/// Read the rows the launch's statements returned, in their order.
fn launch_rows_from(rows: Vec<QueryResult>, with_link: bool, with_session: bool) -> Result<LaunchRows, DbErr> {
    let mut rows = rows.into_iter();
    let mut next = || rows.next().ok_or(DbErr::RecordNotInserted);
    let user = user::Model::from_query_result(&next()?, "")?;
    let context = context::Model::from_query_result(&next()?, "")?;
    let resource_link = match with_link {
        true => Some(resource_link::Model::from_query_result(&next()?, "")?),
        false => None,
    };
    let session = match with_session {
        true => Some(session::Model::from_query_result(&next()?, "")?),
        false => None,
    };
    Ok(LaunchRows { user, context, resource_link, session })
}

/// Build the insert of a launch's session whose user, course and link keys
/// are found by their natural keys, so that it can go with their upserts.
fn session_insert(
    backend: DbBackend,
    user: &UserRecord<'_>,
    course: &ContextRecord<'_>,
    link: Option<&ResourceLinkRecord<'_>>,
    row: session::Model,
) -> Statement {
    static WITH_LINK: SqlText = SqlText::new();
    static WITHOUT_LINK: SqlText = SqlText::new();
    // The values of the row, with the natural keys of its user after its
    // id, and those of its course and link after its deployment.
    let mut values = session_values(row);
    values.splice(1..1, [user.issuer.into(), user.subject.into()]);
    let mut keys: Vec<Value> = vec![course.issuer.into(), course.context_id.into()];
    if let Some(link) = link {
        keys.extend([course.issuer.into(), link.resource_link_id.into()]);
    }
    values.splice(5..5, keys);
    match link {
        Some(_) => WITH_LINK.statement(backend, values, |values| session_query(backend, values, true)),
        None => WITHOUT_LINK.statement(backend, values, |values| session_query(backend, values, false)),
    }
}

/// Build the session insert from the values that [`session_insert`] lists.
fn session_query(backend: DbBackend, values: &[Value], with_link: bool) -> Statement {
    let user_key =
        key_of(user::Entity, user::Column::Id, &[(user::Column::Issuer, values[1].clone()), (user::Column::Subject, values[2].clone())]);
    let course_key = key_of(
        context::Entity,
        context::Column::Id,
        &[(context::Column::Issuer, values[5].clone()), (context::Column::ContextId, values[6].clone())],
    );
    let (link_key, rest) = match with_link {
        true => (
            key_of(
                resource_link::Entity,
                resource_link::Column::Id,
                &[
                    (resource_link::Column::Issuer, values[7].clone()),
                    (resource_link::Column::ResourceLinkId, values[8].clone()),
                ],
            ),
            9,
        ),
        false => (SimpleExpr::Keyword(Keyword::Null), 7),
    };
    let mut row = vec![values[0].clone(), values[3].clone(), values[4].clone()];
    row.extend_from_slice(&values[rest..]);
    session_row_query(backend, &row, [user_key, course_key, link_key])
}

/// Return the values of a session's insert other than its user's, course's
/// and link's keys, in the order of its columns.
fn session_values(row: session::Model) -> Vec<Value> {
    vec![
        row.id.into(),
        row.platform_id.into(),
        row.deployment_pk.into(),
        row.roles.into(),
        row.message_type.into(),
        row.launch.into(),
        row.created_at.into(),
        row.expires_at.into(),
        row.last_seen_at.into(),
    ]
}

/// Build a session's insert from the values that [`session_values`] lists
/// and the expressions for its user's, course's and link's keys.
fn session_row_query(backend: DbBackend, values: &[Value], keys: [SimpleExpr; 3]) -> Statement {
    session_insert_of(backend, values, keys, false)
}

/// Build a session's insert like [`session_row_query`]. With `from_used`,
/// `values` lacks the deployment's key, which comes from the query named
/// `used` of [`launch_rows_query`], and the row is inserted only when that
/// query returned one.
fn session_insert_of(
    backend: DbBackend,
    values: &[Value],
    [user_key, course_key, link_key]: [SimpleExpr; 3],
    from_used: bool,
) -> Statement {
    let value = |i: usize| SimpleExpr::Value(values[i].clone());
    let (deployment_key, rest, only_if) = match from_used {
        false => (value(2), 3, None),
        true => (SimpleExpr::Custom(r#"(SELECT "deployment_pk" FROM "used")"#.to_string()), 2, Some(state_was_used())),
    };
    let mut exprs = vec![value(0), user_key, value(1), deployment_key, course_key, link_key];
    exprs.extend((rest..values.len()).map(value));
    insert_exprs(backend, session::Entity, &super::sessions::COLUMNS, exprs, None, true, only_if)
}

/// Return the condition that the query named `used` of [`launch_rows_query`] returned a row.
fn state_was_used() -> SimpleExpr {
    SimpleExpr::Custom(r#"EXISTS (SELECT 1 FROM "used")"#.to_string())
}

/// One part of the PostgreSQL statement that stores a launch's rows: the
/// name of its `WITH` query, and the prefix of its columns in the row the
/// statement returns.
struct Part {
    name: &'static str,
    prefix: &'static str,
}

const USER_PART: Part = Part { name: "launch_user", prefix: "u_" };
const COURSE_PART: Part = Part { name: "launch_course", prefix: "c_" };
const LINK_PART: Part = Part { name: "launch_link", prefix: "l_" };
const SESSION_PART: Part = Part { name: "launch_session", prefix: "s_" };

/// Build the statement that stores a launch's rows on PostgreSQL in one
/// round trip, as [`upsert_launch_rows`] describes. Each upsert is a `WITH`
/// query. A `WITH` query does not see the rows that another one in the same
/// statement writes, so the link and the session take their keys from the
/// rows that the queries before them return. The statement returns one row
/// holding every stored row's columns, each under its part's prefix.
fn postgres_launch_rows(
    user: &UserRecord<'_>,
    course: &ContextRecord<'_>,
    link: Option<&ResourceLinkRecord<'_>>,
    session: Option<session::Model>,
) -> Statement {
    postgres_launch_statement(None, user, course, link, session, None, None)
}

/// Build [`postgres_launch_rows`]'s statement. With `state_use` (the state
/// and the deployment id of the launch), the statement first uses the
/// login state up as [`use_state_of_active_deployment`] does, and stores
/// the rows only when it did. The session's deployment key is then the
/// one found there, whatever `session` holds. `services` (the platform's
/// key and the services claim as JSON) are stored for the link, and
/// `landing` is left-joined to the returned row, as
/// [`use_state_and_store_launch`] describes.
fn postgres_launch_statement(
    state_use: Option<(&login_state::Model, &str)>,
    user: &UserRecord<'_>,
    course: &ContextRecord<'_>,
    link: Option<&ResourceLinkRecord<'_>>,
    session: Option<session::Model>,
    services: Option<(i64, String)>,
    landing: Option<&Statement>,
) -> Statement {
    /// One kept text for each shape, by [`Shape::index`]. The landing
    /// select's text is the same for every launch, and only its values change.
    static TEXTS: [SqlText; 32] = [const { SqlText::new() }; 32];
    let now = Utc::now();
    let mut values = match state_use {
        Some((login, deployment_id)) => state_use_values(login, deployment_id),
        None => Vec::new(),
    };
    values.extend(user_values(user, now));
    values.extend(context_values(course, now));
    if let Some(link) = link {
        values.extend(link_values(course, link, now));
    }
    let with_session = session.is_some();
    if let Some(row) = session {
        let mut row_values = session_values(row);
        if state_use.is_some() {
            row_values.remove(2);
        }
        values.extend(row_values);
    }
    // Services belong to a link, so a launch without one stores none.
    let services = services.filter(|_| link.is_some());
    let with_services = services.is_some();
    if let Some((platform_id, ags)) = services {
        values.extend([platform_id.into(), ags.into(), now.into()]);
    }
    let landing_values = landing.and_then(|landing| landing.values.clone()).map(|Values(values)| values).unwrap_or_default();
    let shape = Shape {
        uses_state: state_use.is_some(),
        with_link: link.is_some(),
        with_session,
        with_services,
        landing: landing.map(|landing| (landing.sql.as_str(), landing_values.len())),
    };
    values.extend(landing_values);
    TEXTS[shape.index()].statement(DbBackend::Postgres, values, |values| launch_rows_query(values, shape))
}

/// The parts of a PostgreSQL launch statement besides the user and the course.
#[derive(Clone, Copy)]
struct Shape<'a> {
    /// The statement uses the login state up first, and stores nothing when it cannot.
    uses_state: bool,
    with_link: bool,
    with_session: bool,
    /// The link's services, stored with the link.
    with_services: bool,
    /// The text of a select left-joined to the returned row, and the number of its values.
    landing: Option<(&'a str, usize)>,
}

impl Shape<'_> {
    /// Return a distinct number below 32 for each shape, counting only whether there is a landing select.
    fn index(&self) -> usize {
        [self.uses_state, self.with_link, self.with_session, self.with_services, self.landing.is_some()]
            .iter()
            .enumerate()
            .map(|(bit, on)| usize::from(*on) << bit)
            .sum()
    }
}

/// Build [`postgres_launch_statement`]'s statement from its values, in
/// this order. The state's use takes 10, the user 7 and the course 7. The
/// link takes 7, the session 9 (8 when the state is used), the services 3,
/// and the landing select the number its shape names, each only when the
/// shape has that part.
fn launch_rows_query(values: &[Value], shape: Shape<'_>) -> Statement {
    let backend = DbBackend::Postgres;
    let key_from = part_key;
    let uses_state = shape.uses_state;
    let landing_count = shape.landing.map_or(0, |(_, count)| count);
    let (values, landing_values) = values.split_at(values.len() - landing_count);
    let (mut sql, mut bound, mut next) = match uses_state {
        true => {
            let used = numbered_placeholders_dollar(&USE_STATE_OF_ACTIVE_DEPLOYMENT);
            (format!(r#"WITH "used" AS ({used}), "#), values[..STATE_USE_VALUES].to_vec(), STATE_USE_VALUES)
        }
        false => (String::from("WITH "), Vec::with_capacity(values.len()), 0),
    };
    let only_if = || uses_state.then(state_was_used);
    let mut parts = vec![
        (&USER_PART, column_names::<user::Entity>(), user_upsert_query(backend, &values[next..next + 7], only_if())),
        (&COURSE_PART, column_names::<context::Entity>(), context_upsert_query(backend, &values[next + 7..next + 14], only_if())),
    ];
    next += 14;
    if shape.with_link {
        let statement = resource_link_query(backend, &values[next..next + 7], key_from(&COURSE_PART), only_if());
        parts.push((&LINK_PART, column_names::<resource_link::Entity>(), statement));
        next += 7;
    }
    if shape.with_session {
        let link_key = if shape.with_link { key_from(&LINK_PART) } else { SimpleExpr::Keyword(Keyword::Null) };
        let keys = [key_from(&USER_PART), key_from(&COURSE_PART), link_key];
        let count = if uses_state { 8 } else { 9 };
        let statement = session_insert_of(backend, &values[next..next + count], keys, uses_state);
        parts.push((&SESSION_PART, column_names::<session::Entity>(), statement));
        next += count;
    }

    let mut columns = Vec::new();
    let mut names = Vec::new();
    for (part, part_columns, statement) in parts {
        if !names.is_empty() {
            sql.push_str(", ");
        }
        sql.push_str(&format!(r#""{}" AS ({})"#, part.name, shift_placeholders(&statement.sql, bound.len())));
        bound.extend(statement.values.map(|Values(values)| values).unwrap_or_default());
        columns.extend(part_columns.iter().map(|column| format!(r#""{}"."{column}" AS "{}{column}""#, part.name, part.prefix)));
        names.push(format!(r#""{}""#, part.name));
    }
    if shape.with_services {
        // A data-modifying WITH query runs whether or not the select reads it.
        let statement = link_services_query(backend, &values[next..next + 3], key_from(&LINK_PART), only_if());
        sql.push_str(&format!(r#", "launch_services" AS ({})"#, shift_placeholders(&statement.sql, bound.len())));
        bound.extend(statement.values.map(|Values(values)| values).unwrap_or_default());
    }
    let mut from = names.join(" CROSS JOIN ");
    if let Some((landing, _)) = shape.landing {
        from.push_str(&format!(r#" LEFT JOIN LATERAL ({}) AS "landing" ON TRUE"#, shift_placeholders(landing, bound.len())));
        bound.extend_from_slice(landing_values);
        columns.push(r#""landing".*"#.to_string());
    }
    sql.push_str(&format!(" SELECT {} FROM {}", columns.join(", "), from));
    Statement::from_sql_and_values(backend, sql, bound)
}

/// Build the upsert of a link's services from `values` (the platform's
/// key, the services claim as JSON, the time), for the link whose key
/// `link_key` computes, run only when `only_if` is true.
pub fn link_services_query(backend: DbBackend, values: &[Value], link_key: SimpleExpr, only_if: Option<SimpleExpr>) -> Statement {
    use link_service::Column as Col;
    let columns = [Col::ResourceLinkPk, Col::PlatformId, Col::Ags, Col::UpdatedAt];
    let mut exprs = vec![link_key];
    exprs.extend(values.iter().cloned().map(SimpleExpr::Value));
    let on_conflict = OnConflict::column(Col::ResourceLinkPk).update_columns([Col::Ags, Col::UpdatedAt]).to_owned();
    insert_exprs(backend, link_service::Entity, &columns, exprs, Some(on_conflict), false, only_if)
}

/// Turn SQLite's numbered placeholders `?1`, `?2` and so on into
/// PostgreSQL's `$1`, `$2`. `sql` must hold no `?` other than placeholders.
fn numbered_placeholders_dollar(sql: &str) -> String {
    sql.replace('?', "$")
}

/// Return the names of an entity's columns.
fn column_names<E: EntityTrait>() -> Vec<String> {
    E::Column::iter().map(|column| column.as_str().to_string()).collect()
}

/// Add `by` to the number of every `$n` placeholder in `sql`, which must
/// hold no `$` other than placeholders.
fn shift_placeholders(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(number) => out.push_str(&(number + by).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

pub async fn user_by_id<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).one(db).await
}

pub async fn resource_link_by_id<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<resource_link::Model>, DbErr> {
    resource_link::Entity::find_by_id(id).one(db).await
}

/// A failed login or launch, as admins see it.
pub struct FailureRecord {
    pub platform_id: Option<i64>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub deployment_id: Option<String>,
    pub reason: String,
    pub detail: String,
    pub request_id: String,
}

pub async fn insert_failure<C: ConnectionTrait>(db: &C, record: FailureRecord) -> Result<(), DbErr> {
    launch_failure::ActiveModel {
        platform_id: Set(record.platform_id),
        issuer: Set(record.issuer),
        client_id: Set(record.client_id),
        deployment_id: Set(record.deployment_id),
        reason: Set(record.reason),
        detail: Set(record.detail),
        request_id: Set(record.request_id),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn recent_failures<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<launch_failure::Model>, DbErr> {
    launch_failure::Entity::find()
        .order_by_desc(launch_failure::Column::CreatedAt)
        .order_by_desc(launch_failure::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// List the newest failed logins and launches of one registration.
pub async fn recent_failures_of_platform<C: ConnectionTrait>(
    db: &C,
    platform_id: i64,
    limit: u64,
) -> Result<Vec<launch_failure::Model>, DbErr> {
    launch_failure::Entity::find()
        .filter(launch_failure::Column::PlatformId.eq(platform_id))
        .order_by_desc(launch_failure::Column::CreatedAt)
        .order_by_desc(launch_failure::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// List the courses of one registration, the most recently launched first.
pub async fn recent_contexts_of_platform<C: ConnectionTrait>(
    db: &C,
    platform_id: i64,
    limit: u64,
) -> Result<Vec<context::Model>, DbErr> {
    context::Entity::find()
        .filter(context::Column::PlatformId.eq(platform_id))
        .order_by_desc(context::Column::UpdatedAt)
        .order_by_desc(context::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn count_contexts_of_platform<C: ConnectionTrait>(db: &C, platform_id: i64) -> Result<u64, DbErr> {
    context::Entity::find().filter(context::Column::PlatformId.eq(platform_id)).count(db).await
}

pub async fn count_users_of_platform<C: ConnectionTrait>(db: &C, platform_id: i64) -> Result<u64, DbErr> {
    user::Entity::find().filter(user::Column::PlatformId.eq(platform_id)).count(db).await
}

#[derive(Debug, FromQueryResult)]
struct PlatformCount {
    platform_id: i64,
    count: i64,
}

fn count_map(rows: Vec<PlatformCount>) -> HashMap<i64, u64> {
    rows.into_iter().map(|row| (row.platform_id, u64::try_from(row.count).unwrap_or(0))).collect()
}

/// Count the courses of each registration, by platform id. A registration
/// without courses is missing from the map.
pub async fn context_counts_by_platform<C: ConnectionTrait>(db: &C) -> Result<HashMap<i64, u64>, DbErr> {
    let rows = context::Entity::find()
        .select_only()
        .column(context::Column::PlatformId)
        .column_as(context::Column::Id.count(), "count")
        .group_by(context::Column::PlatformId)
        .into_model::<PlatformCount>()
        .all(db)
        .await?;
    Ok(count_map(rows))
}

/// Count the users of each registration, by platform id. A user belongs to
/// the registration of their latest launch.
pub async fn user_counts_by_platform<C: ConnectionTrait>(db: &C) -> Result<HashMap<i64, u64>, DbErr> {
    let rows = user::Entity::find()
        .select_only()
        .column(user::Column::PlatformId)
        .column_as(user::Column::Id.count(), "count")
        .group_by(user::Column::PlatformId)
        .into_model::<PlatformCount>()
        .all(db)
        .await?;
    Ok(count_map(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_state_query_text_is_kept() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            assert!(SqlText::new().keeps(backend, 1, |values| login_state_query(backend, values)), "{backend:?}");
        }
    }

    #[test]
    fn resource_link_query_text_is_kept() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            assert!(SqlText::new().keeps(backend, 9, |values| resource_link_in_course(backend, values)), "{backend:?}");
        }
    }

    #[test]
    fn resource_link_query_finds_course_key() {
        let values: Vec<Value> = (0..9i64).map(Into::into).collect();
        let statement = resource_link_in_course(DbBackend::Sqlite, &values);
        let subquery = r#"(SELECT "contexts"."id" FROM "contexts" WHERE "contexts"."issuer" = ? AND "contexts"."context_id" = ?)"#;
        assert!(statement.sql.contains(subquery), "{}", statement.sql);
    }

    #[test]
    fn session_query_text_is_kept() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            assert!(SqlText::new().keeps(backend, 15, |values| session_query(backend, values, true)), "{backend:?}");
            assert!(SqlText::new().keeps(backend, 13, |values| session_query(backend, values, false)), "{backend:?}");
        }
    }

    #[test]
    fn postgres_launch_rows_text_is_kept() {
        for (with_link, with_session, count) in [(true, true, 30), (false, true, 23), (true, false, 21), (false, false, 14)] {
            let kept = SqlText::new().keeps(DbBackend::Postgres, count, |values| {
                launch_rows_query(values, Shape { uses_state: false, with_link, with_session, with_services: false, landing: None })
            });
            assert!(kept, "link {with_link}, session {with_session}");
            let kept = SqlText::new().keeps(DbBackend::Postgres, count + STATE_USE_VALUES - usize::from(with_session), |values| {
                launch_rows_query(values, Shape { uses_state: true, with_link, with_session, with_services: false, landing: None })
            });
            assert!(kept, "with the state's use: link {with_link}, session {with_session}");
        }
    }

    #[test]
    fn postgres_launch_stores_rows_only_after_state_use() {
        let values: Vec<Value> = (0..39i64).map(Into::into).collect();
        let statement = launch_rows_query(&values, Shape { uses_state: true, with_link: true, with_session: true, with_services: false, landing: None });
        let sql = &statement.sql;

        assert!(sql.starts_with(r#"WITH "used" AS (INSERT INTO "login_states" ("state", "nonce", "platform_id", "target_link_uri", "created_at", "expires_at", "used_at")
 SELECT $2, $6, $7, $8, $9, $10, $1"#), "{sql}");
        assert!(!sql.contains('?'), "{sql}");
        assert_eq!(sql.matches(r#"WHERE EXISTS (SELECT 1 FROM "used")"#).count(), 4, "{sql}");
        assert!(sql.contains(r#"(SELECT "deployment_pk" FROM "used")"#), "{sql}");
        assert!(!sql.contains(" VALUES "), "every row must wait for the state's use: {sql}");
        assert!(sql.contains("$39"), "{sql}");
        assert!(!sql.contains("$40"), "{sql}");
        assert_eq!(statement.values.map(|Values(bound)| bound.len()), Some(39));
    }

    #[test]
    fn postgres_launch_joins_landing_last() {
        let slug = Value::from("exit-tickets");
        let landing = crate::workflow::participation::landing_query_for(
            DbBackend::Postgres,
            stored_user_key(),
            stored_course_key(),
            slug.clone(),
        );
        assert_eq!(landing.values.clone().map(|Values(bound)| bound), Some(vec![slug.clone()]), "{}", landing.sql);
        let mut values: Vec<Value> = (0..39i64).map(Into::into).collect();
        values.push(slug.clone());

        let statement = launch_rows_query(&values, Shape { uses_state: true, with_link: true, with_session: true, with_services: false, landing: Some((&landing.sql, 1)) });
        let sql = &statement.sql;

        assert!(sql.contains(r#" FROM "launch_user" CROSS JOIN "launch_course" CROSS JOIN "launch_link" CROSS JOIN "launch_session" LEFT JOIN LATERAL (SELECT "#), "{sql}");
        assert!(sql.ends_with(r#" AS "landing" ON TRUE"#), "{sql}");
        assert!(sql.contains(r#", "landing".* FROM "#), "{sql}");
        assert!(sql.contains(r#""enrollments"."user_id" = ((SELECT "id" FROM "launch_user"))"#), "the stored user: {sql}");
        assert!(sql.contains(r#""enrollments"."context_pk" = ((SELECT "id" FROM "launch_course"))"#), "the stored course: {sql}");
        assert!(sql.contains(r#""credentials"."slug" = $40"#), "{sql}");
        assert!(!sql.contains("$41"), "{sql}");
        assert_eq!(statement.values.map(|Values(bound)| bound.last().cloned()), Some(Some(slug)));
        for (with_link, count) in [(true, 40), (false, 33)] {
            let kept = SqlText::new().keeps(DbBackend::Postgres, count, |values| {
                launch_rows_query(values, Shape { uses_state: true, with_link, with_session: true, with_services: false, landing: Some((&landing.sql, 1)) })
            });
            assert!(kept, "link {with_link}");
        }
    }

    #[test]
    fn postgres_launch_stores_services_of_link() {
        let values: Vec<Value> = (0..42i64).map(Into::into).collect();
        let shape = Shape { uses_state: true, with_link: true, with_session: true, with_services: true, landing: None };

        let statement = launch_rows_query(&values, shape);
        let sql = &statement.sql;

        let services = r#", "launch_services" AS (INSERT INTO "link_services" ("resource_link_pk", "platform_id", "ags", "updated_at") SELECT (SELECT "id" FROM "launch_link"), $40, $41, $42 WHERE EXISTS (SELECT 1 FROM "used") ON CONFLICT ("resource_link_pk") DO UPDATE SET "ags" = "excluded"."ags", "updated_at" = "excluded"."updated_at") SELECT "#;
        assert!(sql.contains(services), "{sql}");
        assert!(!sql.contains("$43"), "{sql}");
        assert_eq!(statement.values.map(|Values(bound)| bound.len()), Some(42));
        for landing in [None, Some((r#"SELECT 1 AS "x" WHERE $1 = 1"#, 1))] {
            let shape = Shape { landing, ..shape };
            let count = 42 + usize::from(landing.is_some());
            assert!(SqlText::new().keeps(DbBackend::Postgres, count, |values| launch_rows_query(values, shape)), "{landing:?}");
        }
        let indexes: std::collections::HashSet<usize> = (0..32)
            .map(|bits: usize| Shape {
                uses_state: bits & 1 != 0,
                with_link: bits & 2 != 0,
                with_session: bits & 4 != 0,
                with_services: bits & 8 != 0,
                landing: (bits & 16 != 0).then_some(("", 0)),
            })
            .map(|shape| shape.index())
            .collect();
        assert_eq!(indexes.len(), 32, "each shape keeps a text of its own");
        assert!(indexes.iter().all(|index| *index < 32));
    }

    #[test]
    fn postgres_launch_rows_take_keys_from_earlier_parts() {
        let values: Vec<Value> = (0..30i64).map(Into::into).collect();
        let statement = launch_rows_query(&values, Shape { uses_state: false, with_link: true, with_session: true, with_services: false, landing: None });
        let sql = &statement.sql;
        assert!(sql.starts_with(r#"WITH "launch_user" AS (INSERT INTO "users""#), "{sql}");
        assert!(sql.contains(r#"(SELECT "id" FROM "launch_course")"#), "{sql}");
        assert!(sql.contains(r#"(SELECT "id" FROM "launch_link")"#), "{sql}");
        assert!(sql.contains(r#""launch_session"."user_id" AS "s_user_id""#), "{sql}");
        assert!(sql.contains("$30"), "{sql}");
        assert!(!sql.contains("$31"), "{sql}");
        assert!(!sql.contains(r#"FROM "contexts""#), "a part must not look for a row written in the same statement: {sql}");
    }

    #[test]
    fn shift_placeholders_renumbers_each() {
        assert_eq!(shift_placeholders("a = $1 AND b = $12", 3), "a = $4 AND b = $15");
        assert_eq!(shift_placeholders("no placeholders", 3), "no placeholders");
    }

    #[test]
    fn upsert_keeps_stored_name_sql() {
        let values: Vec<sea_orm::Value> = (0..7i64).map(Into::into).collect();
        let on_conflict = OnConflict::columns([user::Column::Issuer, user::Column::Subject])
            .value(user::Column::Name, keep_stored(user::Entity, user::Column::Name))
            .to_owned();
        let columns = [
            user::Column::PlatformId,
            user::Column::Issuer,
            user::Column::Subject,
            user::Column::Name,
            user::Column::Email,
            user::Column::CreatedAt,
            user::Column::LastLaunchAt,
        ];
        let statement = insert_row(DbBackend::Sqlite, user::Entity, &columns, &values, Some(on_conflict), true);

        assert!(
            statement.sql.contains(r#""name" = COALESCE("excluded"."name", "users"."name")"#),
            "{}",
            statement.sql
        );
        assert!(statement.sql.ends_with("RETURNING *"), "{}", statement.sql);
    }
}
