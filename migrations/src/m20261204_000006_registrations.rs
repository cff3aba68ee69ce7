//! Registrations remember how they were made (by hand or by LTI Dynamic
//! Registration), what the platform calls itself, and whether its
//! administrators may manage every registration of the installation.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000006_registrations"
    }
}

#[derive(DeriveIden)]
enum Platforms {
    Table,
    Source,
    ProductFamily,
    DisplayName,
    ManagesRegistrations,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        for column in [
            ColumnDef::new(Platforms::Source).string().not_null().default("manual").to_owned(),
            ColumnDef::new(Platforms::ProductFamily).string().null().to_owned(),
            ColumnDef::new(Platforms::DisplayName).string().null().to_owned(),
            ColumnDef::new(Platforms::ManagesRegistrations).boolean().not_null().default(false).to_owned(),
            ColumnDef::new(Platforms::UpdatedAt).timestamp_with_time_zone().null().to_owned(),
        ] {
            let mut column = column;
            manager.alter_table(Table::alter().table(Platforms::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Platforms::UpdatedAt,
            Platforms::ManagesRegistrations,
            Platforms::DisplayName,
            Platforms::ProductFamily,
            Platforms::Source,
        ] {
            manager.alter_table(Table::alter().table(Platforms::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
