//! `launch_failures` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "launch_failures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub platform_id: Option<i64>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub deployment_id: Option<String>,
    pub reason: String,
    pub detail: String,
    pub request_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
