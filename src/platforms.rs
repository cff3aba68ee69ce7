//! Registering platforms (LMS instances) and their deployments. The
//! `manage` module builds the Registrations admin pages on top of this.

pub mod manage;

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
    /// Lets this registration's LMS administrators manage every registration.
    pub manages_registrations: bool,
}

/// A field of [`PlatformInput`], for problems that name the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Issuer,
    ClientId,
    DeploymentIds,
    AuthUrl,
    TokenUrl,
    JwksUrl,
}

impl Field {
    /// Returns the name of the field in forms, such as `auth_url`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Issuer => "issuer",
            Self::ClientId => "client_id",
            Self::DeploymentIds => "deployment_ids",
            Self::AuthUrl => "auth_url",
            Self::TokenUrl => "token_url",
            Self::JwksUrl => "jwks_url",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Issuer => "issuer",
            Self::ClientId => "client id",
            Self::DeploymentIds => "deployment id",
            Self::AuthUrl => "auth URL",
            Self::TokenUrl => "token URL",
            Self::JwksUrl => "JWKS URL",
        }
    }
}

/// The reason one field of a registration is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    #[error("{} is empty; give the value from the LMS's tool registration", .field.label())]
    Empty { field: Field },
    #[error("{} {value:?} is not an absolute http or https URL", .field.label())]
    BadUrl { field: Field, value: String },
}

impl FieldProblem {
    pub fn field(&self) -> Field {
        match self {
            Self::Empty { field } | Self::BadUrl { field, .. } => *field,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Every invalid field of the input; nothing was stored.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldProblem>),
    #[error("no registration for issuer {issuer} and client id {client_id}")]
    NotFound { issuer: String, client_id: String },
    #[error("no registration with id {id}")]
    NoSuchId { id: i64 },
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

/// Collects the problems of a check, keeping the checked value when there is none.
fn collect<T>(problems: &mut Vec<FieldProblem>, checked: Result<T, FieldProblem>) -> Option<T> {
    match checked {
        Ok(value) => Some(value),
        Err(problem) => {
            problems.push(problem);
            None
        }
    }
}

fn check_url(field: Field, value: &str) -> Result<String, FieldProblem> {
    let trimmed = value.trim();
    match Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(trimmed.to_string()),
        _ if trimmed.is_empty() => Err(FieldProblem::Empty { field }),
        _ => Err(FieldProblem::BadUrl { field, value: value.to_string() }),
    }
}

fn check_text(field: Field, value: &str) -> Result<String, FieldProblem> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldProblem::Empty { field });
    }
    Ok(trimmed.to_string())
}

/// Checks every field of `input` and returns the registration to store
/// with its deployment ids, or every problem found.
fn check_input(input: &PlatformInput) -> Result<(NewPlatform, Vec<String>), PlatformError> {
    let mut problems = Vec::new();
    let issuer = collect(&mut problems, check_text(Field::Issuer, &input.issuer));
    let client_id = collect(&mut problems, check_text(Field::ClientId, &input.client_id));
    let mut deployment_ids = Vec::new();
    for id in &input.deployment_ids {
        if let Some(id) = collect(&mut problems, check_text(Field::DeploymentIds, id)) {
            deployment_ids.push(id);
        }
    }
    let auth_url = collect(&mut problems, check_url(Field::AuthUrl, &input.auth_url));
    let token_url = collect(&mut problems, check_url(Field::TokenUrl, &input.token_url));
    let jwks_url = collect(&mut problems, check_url(Field::JwksUrl, &input.jwks_url));
    let (Some(issuer), Some(client_id), Some(auth_url), Some(token_url), Some(jwks_url), true) =
        (issuer, client_id, auth_url, token_url, jwks_url, problems.is_empty())
    else {
        return Err(PlatformError::Invalid(problems));
    };
    let new = NewPlatform {
        issuer,
        client_id,
        auth_url,
        token_url,
        jwks_url,
        token_audience: input.token_audience.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_string),
        status: platform_store::STATUS_ACTIVE,
        source: platform_store::SOURCE_MANUAL,
        product_family: None,
        display_name: None,
        manages_registrations: input.manages_registrations,
    };
    Ok((new, deployment_ids))
}

/// Store a registration, or update the URLs of an existing one with the same
/// issuer and client id, and add its deployments. An existing registration
/// becomes active again, removed and disabled ones included. Returns the
/// stored rows; nothing is stored when a field is invalid.
pub async fn add(
    db: &DatabaseConnection,
    input: PlatformInput,
) -> Result<(platform::Model, Vec<deployment::Model>), PlatformError> {
    let (new, deployment_ids) = check_input(&input)?;
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

/// Find a registration by its id.
pub async fn by_id(db: &DatabaseConnection, id: i64) -> Result<platform::Model, PlatformError> {
    platform_store::by_id(db, id).await?.ok_or(PlatformError::NoSuchId { id })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PlatformInput {
        PlatformInput {
            issuer: " https://lms.example.org ".into(),
            client_id: "10000000000001".into(),
            deployment_ids: vec!["1:abc".into()],
            auth_url: "https://lms.example.org/auth".into(),
            token_url: "https://lms.example.org/token".into(),
            jwks_url: "https://lms.example.org/jwks".into(),
            token_audience: Some("  ".into()),
            manages_registrations: false,
        }
    }

    #[test]
    fn check_input_trims_values() {
        let (new, deployments) = check_input(&input()).expect("valid input");
        assert_eq!(new.issuer, "https://lms.example.org");
        assert_eq!(new.token_audience, None, "a blank audience means the token URL");
        assert_eq!(deployments, vec!["1:abc".to_string()]);
    }

    #[test]
    fn check_input_lists_every_problem() {
        let bad = PlatformInput {
            issuer: " ".into(),
            deployment_ids: vec!["".into()],
            auth_url: "lms.example.org/auth".into(),
            jwks_url: "ftp://lms.example.org/jwks".into(),
            token_url: String::new(),
            ..input()
        };
        let Err(PlatformError::Invalid(problems)) = check_input(&bad) else { panic!("the input is invalid") };
        let fields: Vec<Field> = problems.iter().map(FieldProblem::field).collect();
        assert_eq!(fields, vec![Field::Issuer, Field::DeploymentIds, Field::AuthUrl, Field::TokenUrl, Field::JwksUrl]);
        assert_eq!(problems[3], FieldProblem::Empty { field: Field::TokenUrl });
        assert_eq!(
            problems[2].to_string(),
            "auth URL \"lms.example.org/auth\" is not an absolute http or https URL"
        );
    }
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
mod login_cache_tests {
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
            source: platform_store::SOURCE_MANUAL.into(),
            product_family: None,
            display_name: None,
            manages_registrations: false,
            updated_at: None,
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
