//! `platforms` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "platforms")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub issuer: String,
    pub client_id: String,
    pub auth_url: String,
    pub token_url: String,
    pub jwks_url: String,
    pub token_audience: Option<String>,
    /// `active`, `disabled` or `pending` (awaiting an admin).
    pub status: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
