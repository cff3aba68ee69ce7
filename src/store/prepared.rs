//! The SQL text of queries that every launch runs, built once.
//!
//! sea-query writes a statement's SQL anew on every call, quoting each of
//! its columns. In a profile of the launch benchmark, building the SQL of a
//! launch's queries took about 7 % of the tool's CPU. A [`SqlText`] keeps the
//! text per database and binds the new values to it. [`returned_rows`] sends
//! several such statements to SQLite in one call.

use std::sync::OnceLock;

use sea_orm::sea_query::{Alias, Expr, Func, IntoIden, OnConflict, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, StatementBuilder, Value, Values};

/// Placeholder values the text is first built with: distinct, so that the
/// order in which the statement takes them can be checked.
const PROBE_BASE: i64 = -7_300_000_000;

/// The SQL text of one query for each database, built on first use.
pub struct SqlText {
    sqlite: OnceLock<Option<String>>,
    postgres: OnceLock<Option<String>>,
}

impl SqlText {
    pub const fn new() -> Self {
        Self { sqlite: OnceLock::new(), postgres: OnceLock::new() }
    }

    /// Return the statement for `values`. `build` must make the query from the
    /// values it is given, each used once, and bind nothing else (a `LIMIT`
    /// is a bound value too).
    /// If the built statement does not take the values in the order given,
    /// the text is not kept and every call builds the statement anew.
    pub fn statement(&self, backend: DbBackend, values: Vec<Value>, build: impl Fn(&[Value]) -> Statement) -> Statement {
        let slot = match backend {
            DbBackend::Sqlite => &self.sqlite,
            DbBackend::Postgres => &self.postgres,
            DbBackend::MySql => return build(&values),
        };
        let text = slot.get_or_init(|| {
            let probes: Vec<Value> = (0..values.len() as i64).map(|i| Value::BigInt(Some(PROBE_BASE + i))).collect();
            let probe = build(&probes);
            let in_order = probe.values.as_ref().is_some_and(|Values(bound)| *bound == probes);
            in_order.then_some(probe.sql)
        });
        match text {
            Some(sql) => Statement::from_sql_and_values(backend, sql.clone(), values),
            None => build(&values),
        }
    }
}

/// Build an `INSERT` of one row into `table`: `values[i]` goes into
/// `columns[i]`, then `on_conflict` and `RETURNING *` when `returning`.
pub fn insert_row<T, C>(
    backend: DbBackend,
    table: T,
    columns: &[C],
    values: &[Value],
    on_conflict: Option<OnConflict>,
    returning: bool,
) -> Statement
where
    T: IntoIden + 'static,
    C: IntoIden + Copy + 'static,
{
    let exprs = values.iter().cloned().map(SimpleExpr::Value).collect();
    insert_exprs(backend, table, columns, exprs, on_conflict, returning, None)
}

/// Build an `INSERT` of one row like [`insert_row`], with an expression,
/// such as a subquery, for each column. With `only_if`, the row is
/// inserted by `INSERT ... SELECT ... WHERE only_if`, so that nothing is
/// inserted when the condition is false.
pub fn insert_exprs<T, C>(
    backend: DbBackend,
    table: T,
    columns: &[C],
    exprs: Vec<SimpleExpr>,
    on_conflict: Option<OnConflict>,
    returning: bool,
    only_if: Option<SimpleExpr>,
) -> Statement
where
    T: IntoIden + 'static,
    C: IntoIden + Copy + 'static,
{
    let mut insert = Query::insert();
    insert.into_table(table).columns(columns.iter().copied());
    match only_if {
        Some(condition) => {
            let select = Query::select().exprs(exprs).and_where(condition).to_owned();
            insert.select_from(select).expect("one expression for each column");
        }
        None => {
            insert.values_panic(exprs);
        }
    }
    if let Some(on_conflict) = on_conflict {
        insert.on_conflict(on_conflict);
    }
    if returning {
        insert.returning_all();
    }
    StatementBuilder::build(&insert, &backend)
}

/// Return the subquery `(SELECT id FROM table WHERE keys[0] = ... AND ...)`
/// that finds a row's key by a unique combination of columns.
pub fn key_of<T, C>(table: T, id: C, keys: &[(C, Value)]) -> SimpleExpr
where
    T: IntoIden + Copy + 'static,
    C: IntoIden + Copy + 'static,
{
    let mut select = Query::select();
    select.column((table, id)).from(table);
    for (column, value) in keys {
        select.and_where(Expr::col((table, *column)).eq(value.clone()));
    }
    SimpleExpr::SubQuery(None, Box::new(select.to_owned().into_sub_query_statement()))
}

/// Run statements that each return one row, and return the rows in order.
/// On SQLite they go to the connection as one multi-statement query, so
/// they take one round trip to its thread instead of one each.
pub async fn returned_rows<C: ConnectionTrait>(db: &C, statements: Vec<Statement>) -> Result<Vec<QueryResult>, DbErr> {
    let expected = statements.len();
    let rows = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let mut sql = String::new();
            let mut values = Vec::new();
            for statement in statements {
                if !sql.is_empty() {
                    sql.push_str(";\n");
                }
                sql.push_str(&statement.sql);
                values.extend(statement.values.map(|Values(bound)| bound).unwrap_or_default());
            }
            db.query_all(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)).await?
        }
        _ => {
            let mut rows = Vec::with_capacity(expected);
            for statement in statements {
                rows.extend(db.query_one(statement).await?);
            }
            rows
        }
    };
    if rows.len() != expected {
        return Err(DbErr::Custom(format!("expected {expected} returned rows, got {}", rows.len())));
    }
    Ok(rows)
}

/// Return the expression that keeps the stored value of `column` when the row
/// being upserted has none: `COALESCE(excluded.column, table.column)`.
pub fn keep_stored<T, C>(table: T, column: C) -> SimpleExpr
where
    T: IntoIden + 'static,
    C: IntoIden + Copy + 'static,
{
    Func::coalesce([Expr::col((Alias::new("excluded"), column)).into(), Expr::col((table, column)).into()]).into()
}

#[cfg(test)]
impl SqlText {
    /// Report whether the text that `build` makes for `count` values is kept.
    pub fn keeps(&self, backend: DbBackend, count: usize, build: impl Fn(&[Value]) -> Statement) -> bool {
        let values: Vec<Value> = (0..count as i64).map(|i| Value::BigInt(Some(i))).collect();
        self.statement(backend, values, build);
        let slot = if backend == DbBackend::Sqlite { &self.sqlite } else { &self.postgres };
        slot.get().is_some_and(Option::is_some)
    }
}

impl Default for SqlText {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_filters(values: &[Value]) -> Statement {
        let query = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("notes"))
            .and_where(Expr::col(Alias::new("author")).eq(values[0].clone()))
            .and_where(Expr::col(Alias::new("body")).eq(values[1].clone()))
            .to_owned();
        StatementBuilder::build(&query, &DbBackend::Postgres)
    }

    #[test]
    fn kept_text_binds_new_values() {
        let text = SqlText::new();
        let first = text.statement(DbBackend::Postgres, vec![7i64.into(), "a".into()], two_filters);
        let second = text.statement(DbBackend::Postgres, vec![8i64.into(), "b".into()], two_filters);

        assert_eq!(first.sql, two_filters(&[7i64.into(), "a".into()]).sql);
        assert_eq!(second.sql, first.sql);
        assert_eq!(second.values, Some(Values(vec![8i64.into(), "b".into()])));
    }

    #[test]
    fn reordered_values_build_anew() {
        let reversed = |values: &[Value]| two_filters(&[values[1].clone(), values[0].clone()]);
        let text = SqlText::new();
        let statement = text.statement(DbBackend::Postgres, vec!["b".into(), 8i64.into()], reversed);

        assert_eq!(statement.values, Some(Values(vec![8i64.into(), "b".into()])));
        assert!(text.postgres.get().is_some_and(Option::is_none), "a text that reorders values must not be kept");
    }
}
