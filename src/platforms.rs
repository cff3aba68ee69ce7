//! Registering platforms (LMS instances) and their deployments.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Disable a registration: its launches are refused from now on, and every
/// user, course and piece of work recorded under it is kept.
pub async fn remove(db: &DatabaseConnection, issuer: &str, client_id: &str) -> Result<platform::Model, PlatformError> {
    let existing = platform_store::find(db, issuer, client_id)
        .await?
        .ok_or_else(|| PlatformError::NotFound { issuer: issuer.to_string(), client_id: client_id.to_string() })?;
    platform_store::set_status(db, existing.id, platform_store::STATUS_DISABLED).await?;
    Ok(platform::Model { status: platform_store::STATUS_DISABLED.to_string(), ..existing })
}

/// How long a login initiation may reuse a registration read earlier.
pub const LOGIN_REGISTRATION_TTL: Duration = Duration::from_secs(5);

/// Active registrations found by issuer and client id, kept for
/// [`LOGIN_REGISTRATION_TTL`] so that login initiations skip a database
/// read.
///
/// Only the login uses it. The launch reads the registration again from the
/// database, so a registration disabled with `microcred platform remove`
/// opens no session from that moment, although its logins may still be
/// redirected to the platform for up to the TTL.
#[derive(Debug, Default)]
pub struct LoginRegistrations {
    entries: Mutex<HashMap<(String, String), (Instant, platform::Model)>>,
}

/// Entries kept at most; the map is emptied when it would grow past this,
/// which only a deployment with this many registrations reaches.
const MAX_CACHED_REGISTRATIONS: usize = 1024;

impl LoginRegistrations {
    /// Return the cached active registration for `issuer` and `client_id`
    /// when it was read less than the TTL ago.
    pub fn get(&self, issuer: &str, client_id: &str) -> Option<platform::Model> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (read_at, platform) = entries.get(&(issuer.to_string(), client_id.to_string()))?;
        (read_at.elapsed() < LOGIN_REGISTRATION_TTL).then(|| platform.clone())
    }

    /// Keep `platform` when it is active; any other status is read again at every login.
    pub fn put(&self, platform: &platform::Model) {
        if platform.status != platform_store::STATUS_ACTIVE {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_CACHED_REGISTRATIONS {
            entries.clear();
        }
        entries.insert((platform.issuer.clone(), platform.client_id.clone()), (Instant::now(), platform.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(status: &str) -> platform::Model {
        platform::Model {
            id: 1,
            issuer: "https://lms.example.edu".into(),
            client_id: "client-1".into(),
            auth_url: "https://lms.example.edu/auth".into(),
            token_url: "https://lms.example.edu/token".into(),
            jwks_url: "https://lms.example.edu/jwks".into(),
            token_audience: None,
            status: status.into(),
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn login_cache_keeps_active_registration() {
        let cache = LoginRegistrations::default();
        cache.put(&registration(platform_store::STATUS_ACTIVE));
        assert_eq!(cache.get("https://lms.example.edu", "client-1").map(|p| p.id), Some(1));
        assert!(cache.get("https://lms.example.edu", "client-2").is_none());
    }

    #[test]
    fn login_cache_skips_disabled_registration() {
        let cache = LoginRegistrations::default();
        cache.put(&registration(platform_store::STATUS_DISABLED));
        assert!(cache.get("https://lms.example.edu", "client-1").is_none());
    }
}
