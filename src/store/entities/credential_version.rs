//! `credential_versions` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "credential_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub credential_id: i64,
    pub version: i32,
    pub fingerprint: String,
    pub title: String,
    /// The whole definition as JSON (`microcred_domain::MicroCredential`).
    #[sea_orm(column_type = "Text")]
    pub definition: String,
    pub created_at: DateTimeUtc,
    pub created_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
