//! `enrollments` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "enrollments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub credential_id: i64,
    /// The version the educator began with; it never changes.
    pub credential_version_id: i64,
    pub context_pk: i64,
    pub resource_link_pk: Option<i64>,
    pub platform_id: i64,
    /// Ticked self-check item keys, as a JSON array.
    #[sea_orm(column_type = "Text")]
    pub self_check: String,
    pub enrolled_at: DateTimeUtc,
    pub earned_at: Option<DateTimeUtc>,
    pub ceus_awarded: Option<f64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
