//! `sessions` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// SHA-256 of the session token, hex; the token itself is never stored.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: i64,
    pub platform_id: i64,
    pub deployment_pk: i64,
    pub context_pk: Option<i64>,
    pub resource_link_pk: Option<i64>,
    pub roles: String,
    pub message_type: String,
    /// Launch details later requests need (service endpoints, return URL), as JSON.
    pub launch: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
