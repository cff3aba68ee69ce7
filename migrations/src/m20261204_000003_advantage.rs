//! LTI Advantage: the services each resource link offers, the line items
//! the tool uses, and the durable outbox of scores to send.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000003_advantage"
    }
}

#[derive(DeriveIden)]
enum LinkServices {
    Table,
    ResourceLinkPk,
    PlatformId,
    Ags,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LineItems {
    Table,
    Id,
    PlatformId,
    ResourceLinkPk,
    Url,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScoreOutbox {
    Table,
    Id,
    PlatformId,
    EnrollmentId,
    ResourceLinkPk,
    UserSubject,
    Score,
    ScoreMaximum,
    Label,
    Tag,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LinkServices::Table)
                    .col(ColumnDef::new(LinkServices::ResourceLinkPk).big_integer().not_null().primary_key())
                    .col(ColumnDef::new(LinkServices::PlatformId).big_integer().not_null())
                    .col(ColumnDef::new(LinkServices::Ags).text().not_null())
                    .col(ColumnDef::new(LinkServices::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LineItems::Table)
                    .col(ColumnDef::new(LineItems::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(LineItems::PlatformId).big_integer().not_null())
                    .col(ColumnDef::new(LineItems::ResourceLinkPk).big_integer().not_null().unique_key())
                    .col(ColumnDef::new(LineItems::Url).text().not_null())
                    .col(ColumnDef::new(LineItems::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScoreOutbox::Table)
                    .col(ColumnDef::new(ScoreOutbox::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(ScoreOutbox::PlatformId).big_integer().not_null())
                    .col(ColumnDef::new(ScoreOutbox::EnrollmentId).big_integer().not_null())
                    .col(ColumnDef::new(ScoreOutbox::ResourceLinkPk).big_integer().not_null())
                    .col(ColumnDef::new(ScoreOutbox::UserSubject).string().not_null())
                    .col(ColumnDef::new(ScoreOutbox::Score).text().not_null())
                    .col(ColumnDef::new(ScoreOutbox::ScoreMaximum).double().not_null())
                    .col(ColumnDef::new(ScoreOutbox::Label).string().not_null())
                    .col(ColumnDef::new(ScoreOutbox::Tag).string().not_null())
                    .col(ColumnDef::new(ScoreOutbox::Status).string().not_null())
                    .col(ColumnDef::new(ScoreOutbox::Attempts).integer().not_null())
                    .col(ColumnDef::new(ScoreOutbox::NextAttemptAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ScoreOutbox::LockedUntil).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(ScoreOutbox::LastError).text().null())
                    .col(ColumnDef::new(ScoreOutbox::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ScoreOutbox::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ScoreOutbox::SentAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_score_outbox_status_next")
                    .table(ScoreOutbox::Table)
                    .col(ScoreOutbox::Status)
                    .col(ScoreOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_score_outbox_enrollment")
                    .table(ScoreOutbox::Table)
                    .col(ScoreOutbox::EnrollmentId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [ScoreOutbox::Table.into_iden(), LineItems::Table.into_iden(), LinkServices::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
