//! Login states remember the login request and the platform storage frame,
//! for launches in browsers that drop the state cookie.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000004_login_storage"
    }
}

#[derive(DeriveIden)]
enum LoginStates {
    Table,
    LoginParams,
    StorageTarget,
    Continuation,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        for column in [
            ColumnDef::new(LoginStates::LoginParams).text().null().to_owned(),
            ColumnDef::new(LoginStates::StorageTarget).string().null().to_owned(),
            ColumnDef::new(LoginStates::Continuation).string().null().to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(Table::alter().table(LoginStates::Table).add_column(&mut column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [LoginStates::Continuation, LoginStates::StorageTarget, LoginStates::LoginParams] {
            manager.alter_table(Table::alter().table(LoginStates::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
