//! `attempts` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub enrollment_id: i64,
    pub component_key: String,
    /// 1 for the first attempt at a component, then 2, 3, ...
    pub number: i32,
    /// `draft`, `submitted` or `assessed`.
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    #[sea_orm(column_type = "Text")]
    pub reflection: String,
    /// Links as a JSON array of strings.
    #[sea_orm(column_type = "Text")]
    pub links: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub submitted_at: Option<DateTimeUtc>,
    pub assessed_at: Option<DateTimeUtc>,
    /// `mastered` or `not_yet_mastered` once assessed.
    pub decision: Option<String>,
    /// Incremented by every draft save. Saves are last-write-wins; the count only tells that a draft changed.
    pub revision: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
