//! Fills the database with a large generated data set: users, courses,
//! enrolments, submitted and assessed attempts, with multi-row INSERTs in
//! transactions. Column lists follow the tables in `migrations/src/`.
//!
//! Rows get explicit ids above the current maximum. On PostgreSQL the id
//! sequences are then moved past them, so the tool's own inserts go on
//! working.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde::Serialize;

/// Rows in one INSERT statement.
const ROWS_PER_STATEMENT: usize = 500;
/// Statements in one transaction.
const STATEMENTS_PER_TRANSACTION: usize = 100;
/// Users per seeded course.
const USERS_PER_COURSE: u64 = 100;
/// Timestamp of every seeded row.
const SEEDED_AT: &str = "'2026-01-05T09:00:00+00:00'";

/// Row counts and duration of one seeding.
#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    pub users: u64,
    pub courses: u64,
    pub enrollments: u64,
    pub submissions: u64,
    pub assessments: u64,
    pub seconds: f64,
}

/// A micro-credential in the catalogue with its current version and component keys.
struct CatalogueEntry {
    id: i64,
    version_id: i64,
    components: Vec<String>,
}

/// Seed `users` users and `submissions` attempts. Users are named
/// `bench-u-{n}` under `issuer`, so that launches of the same subjects
/// update seeded rows.
pub async fn seed(database_url: &str, issuer: &str, users: u64, submissions: u64) -> anyhow::Result<SeedReport> {
    let started = Instant::now();
    let db = Database::connect(database_url).await?;
    let backend = db.get_database_backend();
    let platform_id = scalar(&db, &format!("SELECT id FROM platforms WHERE issuer = {}", quote(issuer)))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the platform {issuer} is not registered"))?;
    let catalogue = catalogue(&db).await?;
    if users == 0 {
        anyhow::bail!("seeding submissions needs at least one user");
    }

    let mut writer = Writer::new(&db);
    let first_user = next_id(&db, "users").await?;
    let mut rows = Vec::new();
    for n in 0..users {
        rows.push(format!(
            "({}, {platform_id}, {}, 'bench-u-{n}', 'Seeded User {n}', 'bench-u-{n}@bench.example.edu', {SEEDED_AT}, {SEEDED_AT})",
            first_user + n as i64,
            quote(issuer)
        ));
        writer.flush_if_full("users (id, platform_id, issuer, subject, name, email, created_at, last_launch_at)", &mut rows).await?;
    }
    writer.flush("users (id, platform_id, issuer, subject, name, email, created_at, last_launch_at)", &mut rows).await?;

    let courses = users.div_ceil(USERS_PER_COURSE).max(1);
    let first_context = next_id(&db, "contexts").await?;
    let first_link = next_id(&db, "resource_links").await?;
    let context_columns = "contexts (id, platform_id, issuer, context_id, label, title, created_at, updated_at)";
    for c in 0..courses {
        rows.push(format!(
            "({}, {platform_id}, {}, 'seed-course-{c}', 'S{c}', 'Seeded course {c}', {SEEDED_AT}, {SEEDED_AT})",
            first_context + c as i64,
            quote(issuer)
        ));
        writer.flush_if_full(context_columns, &mut rows).await?;
    }
    writer.flush(context_columns, &mut rows).await?;
    let link_columns =
        "resource_links (id, platform_id, context_pk, issuer, resource_link_id, title, credential_slug, created_at, updated_at)";
    for c in 0..courses {
        rows.push(format!(
            "({}, {platform_id}, {}, {}, 'seed-link-{c}', 'Micro-credential', NULL, {SEEDED_AT}, {SEEDED_AT})",
            first_link + c as i64,
            first_context + c as i64,
            quote(issuer)
        ));
        writer.flush_if_full(link_columns, &mut rows).await?;
    }
    writer.flush(link_columns, &mut rows).await?;

    // Enrolment e belongs to user e % users. A user's later enrolments take
    // the next micro-credential, then the next course, so the unique
    // (user, micro-credential, course) key is never repeated.
    let per_enrollment = catalogue.iter().map(|entry| entry.components.len()).min().unwrap_or(1).max(1) as u64;
    let enrollments = submissions.div_ceil(per_enrollment);
    if enrollments > users * catalogue.len() as u64 * courses {
        anyhow::bail!("{submissions} submissions need more users or courses than {users} users give");
    }
    let first_enrollment = next_id(&db, "enrollments").await?;
    let first_attempt = next_id(&db, "attempts").await?;
    let first_assessment = next_id(&db, "assessments").await?;
    let enrollment_columns = "enrollments (id, user_id, credential_id, credential_version_id, context_pk, resource_link_pk, \
         platform_id, self_check, enrolled_at, earned_at, ceus_awarded, updated_at)";
    let attempt_columns = "attempts (id, enrollment_id, component_key, number, status, text, reflection, links, \
         created_at, updated_at, submitted_at, assessed_at, decision, revision)";
    let assessment_columns =
        "assessments (id, attempt_id, assessor_user_id, ratings, feedback, overall_comment, decision, created_at)";
    let mut attempt_rows = Vec::new();
    let mut assessment_rows = Vec::new();
    let mut attempts_made = 0u64;
    let mut assessments_made = 0u64;
    for e in 0..enrollments {
        let user = e % users;
        let slot = e / users;
        let entry = &catalogue[(slot % catalogue.len() as u64) as usize];
        let course = (user / USERS_PER_COURSE + slot / catalogue.len() as u64) % courses;
        let enrollment_id = first_enrollment + e as i64;
        rows.push(format!(
            "({enrollment_id}, {}, {}, {}, {}, {}, {platform_id}, '[]', {SEEDED_AT}, NULL, NULL, {SEEDED_AT})",
            first_user + user as i64,
            entry.id,
            entry.version_id,
            first_context + course as i64,
            first_link + course as i64,
        ));
        for (j, key) in entry.components.iter().enumerate() {
            if attempts_made == submissions {
                break;
            }
            let attempt_id = first_attempt + attempts_made as i64;
            // One in five is still waiting for an assessor; the rest are mastered.
            let waiting = (e + j as u64) % 5 == 0;
            let (status, assessed_at, decision) =
                if waiting { ("submitted", "NULL", "NULL") } else { ("assessed", SEEDED_AT, "'mastered'") };
            attempt_rows.push(format!(
                "({attempt_id}, {enrollment_id}, {}, 1, '{status}', 'Seeded text.', 'Seeded reflection.', '[]', \
                 {SEEDED_AT}, {SEEDED_AT}, {SEEDED_AT}, {assessed_at}, {decision}, 1)",
                quote(key)
            ));
            attempts_made += 1;
            if !waiting {
                let assessor = first_user + ((user + 1) % users) as i64;
                assessment_rows.push(format!(
                    "({}, {attempt_id}, {assessor}, '{{}}', '{{}}', 'Seeded.', 'mastered', {SEEDED_AT})",
                    first_assessment + assessments_made as i64
                ));
                assessments_made += 1;
            }
        }
        // Parents before children, for the foreign keys.
        if attempt_rows.len() >= ROWS_PER_STATEMENT {
            writer.flush(enrollment_columns, &mut rows).await?;
            writer.flush(attempt_columns, &mut attempt_rows).await?;
            writer.flush(assessment_columns, &mut assessment_rows).await?;
        }
    }
    writer.flush(enrollment_columns, &mut rows).await?;
    writer.flush(attempt_columns, &mut attempt_rows).await?;
    writer.flush(assessment_columns, &mut assessment_rows).await?;
    writer.commit().await?;

    if backend == DbBackend::Postgres {
        for table in ["users", "contexts", "resource_links", "enrollments", "attempts", "assessments"] {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .await?;
        }
        // Autovacuum would analyze the new rows soon after a real bulk load.
        db.execute_unprepared("ANALYZE").await?;
    }
    db.close().await?;
    Ok(SeedReport {
        users,
        courses,
        enrollments,
        submissions: attempts_made,
        assessments: assessments_made,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Buffers statements and commits them in transactions of
/// `STATEMENTS_PER_TRANSACTION`.
struct Writer<'a> {
    db: &'a DatabaseConnection,
    pending: Vec<String>,
    last_report: Instant,
    written: u64,
}

impl<'a> Writer<'a> {
    fn new(db: &'a DatabaseConnection) -> Self {
        Self { db, pending: Vec::new(), last_report: Instant::now(), written: 0 }
    }

    async fn flush_if_full(&mut self, table: &str, rows: &mut Vec<String>) -> anyhow::Result<()> {
        if rows.len() >= ROWS_PER_STATEMENT {
            self.flush(table, rows).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, table: &str, rows: &mut Vec<String>) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.written += rows.len() as u64;
        self.pending.push(format!("INSERT INTO {table} VALUES {}", rows.join(",")));
        rows.clear();
        if self.pending.len() >= STATEMENTS_PER_TRANSACTION {
            self.commit().await?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin().await?;
        for statement in self.pending.drain(..) {
            txn.execute_unprepared(&statement).await?;
        }
        txn.commit().await?;
        if self.last_report.elapsed() > Duration::from_secs(5) {
            eprintln!("  seeded {} rows", self.written);
            self.last_report = Instant::now();
        }
        Ok(())
    }
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> anyhow::Result<Option<i64>> {
    let row = db.query_one(Statement::from_string(db.get_database_backend(), sql.to_string())).await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<Option<i64>>(0)?,
        None => None,
    })
}

async fn next_id(db: &DatabaseConnection, table: &str) -> anyhow::Result<i64> {
    Ok(scalar(db, &format!("SELECT MAX(id) FROM {table}")).await?.unwrap_or(0) + 1)
}

/// Reads each micro-credential's current version and its component keys
/// from the stored JSON definition.
async fn catalogue(db: &DatabaseConnection) -> anyhow::Result<Vec<CatalogueEntry>> {
    let sql = "SELECT c.id, v.id, v.definition FROM credentials c \
               JOIN credential_versions v ON v.id = c.current_version_id ORDER BY c.id";
    let rows = db.query_all(Statement::from_string(db.get_database_backend(), sql.to_string())).await?;
    let mut entries = Vec::new();
    for row in rows {
        let definition: String = row.try_get_by_index(2)?;
        let definition: serde_json::Value = serde_json::from_str(&definition)?;
        let components = definition["component"]
            .as_array()
            .map(|list| list.iter().filter_map(|c| c["key"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        entries.push(CatalogueEntry { id: row.try_get_by_index(0)?, version_id: row.try_get_by_index(1)?, components });
    }
    entries.retain(|entry: &CatalogueEntry| !entry.components.is_empty());
    if entries.is_empty() {
        anyhow::bail!("the catalogue is empty; seeding needs the sample micro-credentials loaded");
    }
    Ok(entries)
}

/// Quote `value` as a SQL string literal.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_doubles_single_quotes() {
        assert_eq!(quote("it's"), "'it''s'");
        assert_eq!(quote("http://127.0.0.1:80"), "'http://127.0.0.1:80'");
    }
}
