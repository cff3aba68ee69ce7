//! The micro-credential workflow: catalogue versions, enrolments, attempts,
//! files, assessments, the audit log, and server secrets.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000002_workflow"
    }
}

#[derive(DeriveIden)]
enum Credentials {
    Table,
    Id,
    Slug,
    CurrentVersionId,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CredentialVersions {
    Table,
    Id,
    CredentialId,
    Version,
    Fingerprint,
    Title,
    Definition,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Enrollments {
    Table,
    Id,
    UserId,
    CredentialId,
    CredentialVersionId,
    ContextPk,
    ResourceLinkPk,
    PlatformId,
    SelfCheck,
    EnrolledAt,
    EarnedAt,
    CeusAwarded,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Attempts {
    Table,
    Id,
    EnrollmentId,
    ComponentKey,
    Number,
    Status,
    Text,
    Reflection,
    Links,
    CreatedAt,
    UpdatedAt,
    SubmittedAt,
    AssessedAt,
    Decision,
    Revision,
}

#[derive(DeriveIden)]
enum AttemptFiles {
    Table,
    Id,
    AttemptId,
    StorageKey,
    OriginalName,
    ContentType,
    SizeBytes,
    Sha256,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Assessments {
    Table,
    Id,
    AttemptId,
    AssessorUserId,
    Ratings,
    Feedback,
    OverallComment,
    Decision,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Secrets {
    Table,
    Name,
    Value,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorUserId,
    Action,
    SubjectType,
    SubjectId,
    ContextPk,
    Detail,
}

fn id_column<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().auto_increment().primary_key().to_owned()
}

fn timestamp<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().not_null().to_owned()
}

fn timestamp_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().null().to_owned()
}

fn index<T: IntoIden + 'static>(name: &str, table: T, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(name).table(table);
    for column in columns {
        statement.col(Alias::new(*column));
    }
    if unique {
        statement.unique();
    }
    statement.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Credentials::Table)
                    .col(id_column(Credentials::Id))
                    .col(ColumnDef::new(Credentials::Slug).string().not_null().unique_key())
                    .col(ColumnDef::new(Credentials::CurrentVersionId).big_integer().null())
                    .col(ColumnDef::new(Credentials::Status).string().not_null())
                    .col(timestamp(Credentials::CreatedAt))
                    .col(timestamp(Credentials::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CredentialVersions::Table)
                    .col(id_column(CredentialVersions::Id))
                    .col(ColumnDef::new(CredentialVersions::CredentialId).big_integer().not_null())
                    .col(ColumnDef::new(CredentialVersions::Version).integer().not_null())
                    .col(ColumnDef::new(CredentialVersions::Fingerprint).string().not_null())
                    .col(ColumnDef::new(CredentialVersions::Title).string().not_null())
                    .col(ColumnDef::new(CredentialVersions::Definition).text().not_null())
                    .col(timestamp(CredentialVersions::CreatedAt))
                    .col(ColumnDef::new(CredentialVersions::CreatedBy).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(CredentialVersions::Table, CredentialVersions::CredentialId)
                            .to(Credentials::Table, Credentials::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ux_credential_versions_credential_version",
                CredentialVersions::Table,
                &["credential_id", "version"],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Enrollments::Table)
                    .col(id_column(Enrollments::Id))
                    .col(ColumnDef::new(Enrollments::UserId).big_integer().not_null())
                    .col(ColumnDef::new(Enrollments::CredentialId).big_integer().not_null())
                    .col(ColumnDef::new(Enrollments::CredentialVersionId).big_integer().not_null())
                    .col(ColumnDef::new(Enrollments::ContextPk).big_integer().not_null())
                    .col(ColumnDef::new(Enrollments::ResourceLinkPk).big_integer().null())
                    .col(ColumnDef::new(Enrollments::PlatformId).big_integer().not_null())
                    .col(ColumnDef::new(Enrollments::SelfCheck).text().not_null())
                    .col(timestamp(Enrollments::EnrolledAt))
                    .col(timestamp_null(Enrollments::EarnedAt))
                    .col(ColumnDef::new(Enrollments::CeusAwarded).double().null())
                    .col(timestamp(Enrollments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Enrollments::Table, Enrollments::CredentialVersionId)
                            .to(CredentialVersions::Table, CredentialVersions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ux_enrollments_user_credential_context",
                Enrollments::Table,
                &["user_id", "credential_id", "context_pk"],
                true,
            ))
            .await?;
        manager
            .create_index(index("ix_enrollments_context", Enrollments::Table, &["context_pk"], false))
            .await?;
        manager
            .create_index(index("ix_enrollments_earned_at", Enrollments::Table, &["earned_at"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Attempts::Table)
                    .col(id_column(Attempts::Id))
                    .col(ColumnDef::new(Attempts::EnrollmentId).big_integer().not_null())
                    .col(ColumnDef::new(Attempts::ComponentKey).string().not_null())
                    .col(ColumnDef::new(Attempts::Number).integer().not_null())
                    .col(ColumnDef::new(Attempts::Status).string().not_null())
                    .col(ColumnDef::new(Attempts::Text).text().not_null())
                    .col(ColumnDef::new(Attempts::Reflection).text().not_null())
                    .col(ColumnDef::new(Attempts::Links).text().not_null())
                    .col(timestamp(Attempts::CreatedAt))
                    .col(timestamp(Attempts::UpdatedAt))
                    .col(timestamp_null(Attempts::SubmittedAt))
                    .col(timestamp_null(Attempts::AssessedAt))
                    .col(ColumnDef::new(Attempts::Decision).string().null())
                    .col(ColumnDef::new(Attempts::Revision).integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Attempts::Table, Attempts::EnrollmentId)
                            .to(Enrollments::Table, Enrollments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ux_attempts_enrollment_component_number",
                Attempts::Table,
                &["enrollment_id", "component_key", "number"],
                true,
            ))
            .await?;
        manager
            .create_index(index("ix_attempts_status_submitted", Attempts::Table, &["status", "submitted_at"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AttemptFiles::Table)
                    .col(id_column(AttemptFiles::Id))
                    .col(ColumnDef::new(AttemptFiles::AttemptId).big_integer().not_null())
                    .col(ColumnDef::new(AttemptFiles::StorageKey).string().not_null().unique_key())
                    .col(ColumnDef::new(AttemptFiles::OriginalName).string().not_null())
                    .col(ColumnDef::new(AttemptFiles::ContentType).string().not_null())
                    .col(ColumnDef::new(AttemptFiles::SizeBytes).big_integer().not_null())
                    .col(ColumnDef::new(AttemptFiles::Sha256).string().not_null())
                    .col(timestamp(AttemptFiles::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AttemptFiles::Table, AttemptFiles::AttemptId)
                            .to(Attempts::Table, Attempts::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_attempt_files_attempt", AttemptFiles::Table, &["attempt_id"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Assessments::Table)
                    .col(id_column(Assessments::Id))
                    .col(ColumnDef::new(Assessments::AttemptId).big_integer().not_null().unique_key())
                    .col(ColumnDef::new(Assessments::AssessorUserId).big_integer().not_null())
                    .col(ColumnDef::new(Assessments::Ratings).text().not_null())
                    .col(ColumnDef::new(Assessments::Feedback).text().not_null())
                    .col(ColumnDef::new(Assessments::OverallComment).text().not_null())
                    .col(ColumnDef::new(Assessments::Decision).string().not_null())
                    .col(timestamp(Assessments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assessments::Table, Assessments::AttemptId)
                            .to(Attempts::Table, Attempts::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(id_column(AuditLog::Id))
                    .col(timestamp(AuditLog::At))
                    .col(ColumnDef::new(AuditLog::ActorUserId).big_integer().null())
                    .col(ColumnDef::new(AuditLog::Action).string().not_null())
                    .col(ColumnDef::new(AuditLog::SubjectType).string().not_null())
                    .col(ColumnDef::new(AuditLog::SubjectId).big_integer().not_null())
                    .col(ColumnDef::new(AuditLog::ContextPk).big_integer().null())
                    .col(ColumnDef::new(AuditLog::Detail).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_audit_log_at", AuditLog::Table, &["at"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table(Secrets::Table)
                    .col(ColumnDef::new(Secrets::Name).string().not_null().primary_key())
                    .col(ColumnDef::new(Secrets::Value).string().not_null())
                    .col(timestamp(Secrets::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Secrets::Table.into_iden(),
            AuditLog::Table.into_iden(),
            Assessments::Table.into_iden(),
            AttemptFiles::Table.into_iden(),
            Attempts::Table.into_iden(),
            Enrollments::Table.into_iden(),
            CredentialVersions::Table.into_iden(),
            Credentials::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
