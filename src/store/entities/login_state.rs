//! `login_states` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state: String,
    pub nonce: String,
    pub platform_id: i64,
    pub target_link_uri: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    /// The login initiation's parameters as JSON, to start the login again in a new window.
    #[sea_orm(column_type = "Text", nullable)]
    pub login_params: Option<String>,
    /// The platform frame that answers LTI client-side storage messages, when the platform named one.
    pub storage_target: Option<String>,
    /// SHA-256 of the one-time token that lets a launch prove its state through platform storage.
    pub continuation: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
