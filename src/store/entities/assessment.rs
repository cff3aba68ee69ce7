//! `assessments` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "assessments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique: an attempt has at most one assessment, which makes the first save win.
    pub attempt_id: i64,
    pub assessor_user_id: i64,
    /// Criterion key to level key, as a JSON object.
    #[sea_orm(column_type = "Text")]
    pub ratings: String,
    /// Criterion key to feedback, as a JSON object.
    #[sea_orm(column_type = "Text")]
    pub feedback: String,
    #[sea_orm(column_type = "Text")]
    pub overall_comment: String,
    pub decision: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
