//! Registering platforms (LMS instances) and their deployments.

use sea_orm::DatabaseConnection;
use url::Url;

use crate::store::entities::{deployment, platform};
use crate::store::platforms::{self as platform_store, NewPlatform};

/// A registration as an admin enters it.
#[derive(Debug, Clone)]
pub struct PlatformInput {
    pub issuer: String,
    pub client_id: String,
    pub deployment_ids: Vec<String>,
    pub auth_url: String,
    pub token_url: String,
    pub jwks_url: String,
    pub token_audience: Option<String>,
    /// Lets this registration's LMS administrators manage every registration.
    pub manages_registrations: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("{field} is empty; give the value from the LMS's tool registration")]
    Empty { field: &'static str },
    #[error("{field} {value:?} is not an absolute http or https URL")]
    BadUrl { field: &'static str, value: String },
    #[error("no registration for issuer {issuer} and client id {client_id}")]
    NotFound { issuer: String, client_id: String },
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

fn check_url(field: &'static str, value: &str) -> Result<String, PlatformError> {
    let trimmed = value.trim();
    match Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(trimmed.to_string()),
        _ => Err(PlatformError::BadUrl { field, value: value.to_string() }),
    }
}

fn check_text(field: &'static str, value: &str) -> Result<String, PlatformError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(PlatformError::Empty { field });
    }
    Ok(trimmed.to_string())
}

/// Store a registration, or update the URLs of an existing one with the same
/// issuer and client id, and add its deployments. Returns the stored rows.
pub async fn add(
    db: &DatabaseConnection,
    input: PlatformInput,
) -> Result<(platform::Model, Vec<deployment::Model>), PlatformError> {
    let new = NewPlatform {
        issuer: check_text("issuer", &input.issuer)?,
        client_id: check_text("client id", &input.client_id)?,
        auth_url: check_url("auth URL", &input.auth_url)?,
        token_url: check_url("token URL", &input.token_url)?,
        jwks_url: check_url("JWKS URL", &input.jwks_url)?,
        token_audience: input.token_audience.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_string),
        status: platform_store::STATUS_ACTIVE,
        source: platform_store::SOURCE_MANUAL,
        product_family: None,
        display_name: None,
        manages_registrations: input.manages_registrations,
    };
    let mut deployment_ids = Vec::new();
    for id in &input.deployment_ids {
        deployment_ids.push(check_text("deployment id", id)?);
    }
    let stored = match platform_store::find(db, &new.issuer, &new.client_id).await? {
        Some(existing) => platform_store::update_urls(db, existing, &new).await?,
        None => platform_store::insert(db, new).await?,
    };
    for id in &deployment_ids {
        platform_store::ensure_deployment(db, stored.id, id, platform_store::STATUS_ACTIVE).await?;
    }
    let deployments = platform_store::deployments(db, stored.id).await?;
    Ok((stored, deployments))
}

/// Every registration with its deployments.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<(platform::Model, Vec<deployment::Model>)>, PlatformError> {
    let mut out = Vec::new();
    for platform in platform_store::all(db).await? {
        let deployments = platform_store::deployments(db, platform.id).await?;
        out.push((platform, deployments));
    }
    Ok(out)
}

/// Find a registration by issuer and client id.
pub async fn find(db: &DatabaseConnection, issuer: &str, client_id: &str) -> Result<platform::Model, PlatformError> {
    platform_store::find(db, issuer, client_id)
        .await?
        .ok_or_else(|| PlatformError::NotFound { issuer: issuer.to_string(), client_id: client_id.to_string() })
}

/// Set a registration's status and return it as stored.
async fn set_status(
    db: &DatabaseConnection,
    existing: platform::Model,
    status: &'static str,
) -> Result<platform::Model, PlatformError> {
    platform_store::set_status(db, existing.id, status).await?;
    Ok(platform::Model { status: status.to_string(), ..existing })
}

/// Disable a registration: its launches are refused from now on, and every
/// user, course and piece of work recorded under it is kept.
pub async fn disable(db: &DatabaseConnection, existing: platform::Model) -> Result<platform::Model, PlatformError> {
    set_status(db, existing, platform_store::STATUS_DISABLED).await
}

/// Approve a pending registration, or enable a disabled or removed one.
pub async fn approve(db: &DatabaseConnection, existing: platform::Model) -> Result<platform::Model, PlatformError> {
    set_status(db, existing, platform_store::STATUS_ACTIVE).await
}

/// Remove a registration from the admin list. Nothing is deleted: it is
/// disabled, hidden, and every record made under it is kept; registering
/// the same issuer and client id again brings it back.
pub async fn remove(db: &DatabaseConnection, existing: platform::Model) -> Result<platform::Model, PlatformError> {
    set_status(db, existing, platform_store::STATUS_REMOVED).await
}
