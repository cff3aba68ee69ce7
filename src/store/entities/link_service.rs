//! `link_services` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "link_services")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub resource_link_pk: i64,
    pub platform_id: i64,
    /// The launch's Assignment and Grade Services claim, as JSON.
    #[sea_orm(column_type = "Text")]
    pub ags: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
