//! `tool_keys` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tool_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kid: String,
    pub private_key_pem: String,
    pub public_jwk: String,
    /// `next` (published, not yet signing), `active` (signing), `retiring`
    /// (published until `retire_after`) or `retired`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub activated_at: Option<DateTimeUtc>,
    pub retire_after: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
