//! Platform registrations and their deployments.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::entities::{deployment, platform};

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_DISABLED: &str = "disabled";
pub const STATUS_PENDING: &str = "pending";
/// Disabled and hidden from the admin list; every record made under it is kept.
pub const STATUS_REMOVED: &str = "removed";

/// Checks whether a registration with this status is switched off (disabled or removed).
pub fn is_switched_off(status: &str) -> bool {
    status == STATUS_DISABLED || status == STATUS_REMOVED
}

pub const SOURCE_MANUAL: &str = "manual";
pub const SOURCE_DYNAMIC: &str = "dynamic";

/// A registration to store.
#[derive(Debug, Clone)]
pub struct NewPlatform {
    pub issuer: String,
    pub client_id: String,
    pub auth_url: String,
    pub token_url: String,
    pub jwks_url: String,
    pub token_audience: Option<String>,
    pub status: &'static str,
    pub source: &'static str,
    pub product_family: Option<String>,
    pub display_name: Option<String>,
    pub manages_registrations: bool,
}

pub async fn insert<C: ConnectionTrait>(db: &C, new: NewPlatform) -> Result<platform::Model, DbErr> {
    platform::ActiveModel {
        issuer: Set(new.issuer),
        client_id: Set(new.client_id),
        auth_url: Set(new.auth_url),
        token_url: Set(new.token_url),
        jwks_url: Set(new.jwks_url),
        token_audience: Set(new.token_audience),
        status: Set(new.status.to_string()),
        created_at: Set(Utc::now()),
        source: Set(new.source.to_string()),
        product_family: Set(new.product_family),
        display_name: Set(new.display_name),
        manages_registrations: Set(new.manages_registrations),
        updated_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn update_urls<C: ConnectionTrait>(
    db: &C,
    existing: platform::Model,
    new: &NewPlatform,
) -> Result<platform::Model, DbErr> {
    let mut active: platform::ActiveModel = existing.into();
    active.auth_url = Set(new.auth_url.clone());
    active.token_url = Set(new.token_url.clone());
    active.jwks_url = Set(new.jwks_url.clone());
    active.token_audience = Set(new.token_audience.clone());
    active.status = Set(new.status.to_string());
    if new.product_family.is_some() {
        active.product_family = Set(new.product_family.clone());
    }
    if new.display_name.is_some() {
        active.display_name = Set(new.display_name.clone());
    }
    if new.manages_registrations {
        active.manages_registrations = Set(true);
    }
    active.updated_at = Set(Some(Utc::now()));
    active.update(db).await
}

pub async fn set_status(db: &DatabaseConnection, id: i64, status: &str) -> Result<(), DbErr> {
    platform::Entity::update_many()
        .col_expr(platform::Column::Status, sea_orm::sea_query::Expr::value(status))
        .col_expr(platform::Column::UpdatedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(platform::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(db: &C, issuer: &str, client_id: &str) -> Result<Option<platform::Model>, DbErr> {
    platform::Entity::find()
        .filter(platform::Column::Issuer.eq(issuer))
        .filter(platform::Column::ClientId.eq(client_id))
        .one(db)
        .await
}

pub async fn by_id<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<platform::Model>, DbErr> {
    platform::Entity::find_by_id(id).one(db).await
}

pub async fn by_issuer(db: &DatabaseConnection, issuer: &str) -> Result<Vec<platform::Model>, DbErr> {
    platform::Entity::find()
        .filter(platform::Column::Issuer.eq(issuer))
        .order_by_asc(platform::Column::Id)
        .all(db)
        .await
}

pub async fn all(db: &DatabaseConnection) -> Result<Vec<platform::Model>, DbErr> {
    platform::Entity::find().order_by_asc(platform::Column::Id).all(db).await
}

pub async fn deployments(db: &DatabaseConnection, platform_id: i64) -> Result<Vec<deployment::Model>, DbErr> {
    deployment::Entity::find()
        .filter(deployment::Column::PlatformId.eq(platform_id))
        .order_by_asc(deployment::Column::Id)
        .all(db)
        .await
}

pub async fn find_deployment<C: ConnectionTrait>(
    db: &C,
    platform_id: i64,
    deployment_id: &str,
) -> Result<Option<deployment::Model>, DbErr> {
    deployment::Entity::find()
        .filter(deployment::Column::PlatformId.eq(platform_id))
        .filter(deployment::Column::DeploymentId.eq(deployment_id))
        .one(db)
        .await
}

/// Add a deployment unless it exists; returns the stored row either way.
pub async fn ensure_deployment<C: ConnectionTrait>(
    db: &C,
    platform_id: i64,
    deployment_id: &str,
    status: &str,
) -> Result<deployment::Model, DbErr> {
    if let Some(existing) = find_deployment(db, platform_id, deployment_id).await? {
        return Ok(existing);
    }
    let row = deployment::ActiveModel {
        platform_id: Set(platform_id),
        deployment_id: Set(deployment_id.to_string()),
        status: Set(status.to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    // Another instance may insert it between the read and this write. The
    // conflict clause keeps that from failing the statement, which on
    // PostgreSQL would also abort a surrounding transaction.
    deployment::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([deployment::Column::PlatformId, deployment::Column::DeploymentId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    find_deployment(db, platform_id, deployment_id)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("deployment {deployment_id} could not be stored")))
}

/// List every deployment of every registration, in insertion order.
pub async fn all_deployments(db: &DatabaseConnection) -> Result<Vec<deployment::Model>, DbErr> {
    deployment::Entity::find().order_by_asc(deployment::Column::Id).all(db).await
}

pub async fn deployment_by_id(db: &DatabaseConnection, id: i64) -> Result<Option<deployment::Model>, DbErr> {
    deployment::Entity::find_by_id(id).one(db).await
}

pub async fn set_deployment_status(db: &DatabaseConnection, id: i64, status: &str) -> Result<(), DbErr> {
    deployment::Entity::update_many()
        .col_expr(deployment::Column::Status, sea_orm::sea_query::Expr::value(status))
        .filter(deployment::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
