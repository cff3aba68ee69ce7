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
    /// `active`, `pending` (awaiting an admin), `disabled` or `removed`
    /// (disabled and hidden; its data kept).
    pub status: String,
    pub created_at: DateTimeUtc,
    /// `manual` (CLI or admin page) or `dynamic` (LTI Dynamic Registration).
    pub source: String,
    /// The platform's `product_family_code`, e.g. `canvas` or `moodle`.
    pub product_family: Option<String>,
    /// A name for admins, e.g. the LMS's own name for itself.
    pub display_name: Option<String>,
    /// Whether this registration's LMS administrators may manage every
    /// registration of the installation.
    pub manages_registrations: bool,
    pub updated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
