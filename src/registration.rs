//! LTI Dynamic Registration: the platform hands the tool its OpenID
//! configuration, the tool checks it, posts its own client registration,
//! and stores the registration the platform answers with.
//!
//! Nothing is stored unless the platform accepted the registration. A new
//! registration waits for an admin's approval unless
//! `registration.auto_approve` is set.

use microcred_lti::registration::{
    self as protocol, CheckedConfiguration, RegistrationError, ToolDescription,
};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use url::Url;

use crate::config::RegistrationSettings;
use crate::state::AppState;
use crate::store::entities::{deployment, platform};
use crate::store::platforms::{self as platform_store, NewPlatform};

/// Maximum number of bytes read from a platform's configuration or registration response.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Maximum number of characters of a platform's response shown to the admin.
const SHOWN_ANSWER_CHARS: usize = 2000;

/// Reasons a dynamic registration failed. Nothing is stored in any of them.
#[derive(Debug, thiserror::Error)]
pub enum DynamicRegistrationError {
    #[error("dynamic registration is switched off in this installation (registration.enabled)")]
    Disabled,
    #[error(transparent)]
    Protocol(#[from] RegistrationError),
    #[error(
        "the host {host} is not among the hosts allowed to register (registration.allowed_hosts)"
    )]
    HostNotAllowed { host: String },
    #[error(
        "{count} registrations are already waiting for approval; approve or remove them on the \
         Registrations admin page before registering more"
    )]
    TooManyPending { count: u64 },
    #[error("the platform at {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the platform answered {status} when asked for its configuration")]
    ConfigurationRefused { status: u16, answer: String },
    #[error("the platform refused the registration with status {status}")]
    PlatformRefused { status: u16, answer: String },
    #[error(
        "client {client_id} of {issuer} is registered already; manage it on the Registrations admin page"
    )]
    AlreadyRegistered { issuer: String, client_id: String },
    #[error("the registration could not be stored: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl DynamicRegistrationError {
    /// Returns the platform's own response body, when it sent one.
    pub fn platform_answer(&self) -> Option<&str> {
        match self {
            Self::ConfigurationRefused { answer, .. } | Self::PlatformRefused { answer, .. } => {
                Some(answer)
            }
            _ => None,
        }
    }

    /// The HTTP status of the result page: 400 for a request the tool will
    /// not act on, 409 for a conflict with what is stored, 502 when the
    /// platform's side failed, 500 when the tool's database did.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Protocol(
                RegistrationError::MissingConfigurationUrl | RegistrationError::InsecureUrl { .. },
            )
            | Self::HostNotAllowed { .. }
            | Self::Disabled => 400,
            Self::TooManyPending { .. } | Self::AlreadyRegistered { .. } => 409,
            Self::Database(_) => 500,
            _ => 502,
        }
    }
}

/// A stored registration and what was registered.
#[derive(Debug, Clone)]
pub struct Registered {
    pub platform: platform::Model,
    pub deployment: Option<deployment::Model>,
    pub configuration: CheckedConfiguration,
    /// The scopes the platform says it granted, else those requested.
    pub scopes: Vec<String>,
}

/// Checks whether `host` matches one of the allowed patterns: exact, or `*.suffix`.
pub fn host_allowed(settings: &RegistrationSettings, host: &str) -> bool {
    if settings.allowed_hosts.is_empty() {
        return true;
    }
    let host = host.to_ascii_lowercase();
    settings
        .allowed_hosts
        .iter()
        .map(|p| p.trim().to_ascii_lowercase())
        .any(|pattern| match pattern.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => host == pattern,
        })
}

fn shown(answer: &str) -> String {
    let trimmed = answer.trim();
    if trimmed.chars().count() <= SHOWN_ANSWER_CHARS {
        return trimmed.to_string();
    }
    let cut: String = trimmed.chars().take(SHOWN_ANSWER_CHARS).collect();
    format!("{cut}…")
}

async fn read_limited(
    url: &str,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, DynamicRegistrationError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_ANSWER_BYTES {
                    return Err(DynamicRegistrationError::Unreachable {
                        url: url.to_string(),
                        reason: format!("its answer is larger than {} KB", MAX_ANSWER_BYTES / 1024),
                    });
                }
            }
            Ok(None) => return Ok(body),
            Err(error) => {
                return Err(DynamicRegistrationError::Unreachable {
                    url: url.to_string(),
                    reason: error.to_string(),
                })
            }
        }
    }
}

fn unreachable(url: &str, error: reqwest::Error) -> DynamicRegistrationError {
    let reason = if error.is_timeout() {
        "it did not answer in time".to_string()
    } else if error.is_connect() {
        "the connection was refused or failed".to_string()
    } else {
        error.without_url().to_string()
    };
    DynamicRegistrationError::Unreachable {
        url: url.to_string(),
        reason,
    }
}

/// Builds the tool's description for platforms.
pub fn tool_description(app: &AppState) -> ToolDescription {
    ToolDescription {
        name: app.settings.registration.tool_name.clone(),
        description: "Educator micro-credentials: demonstrate a skill, get it assessed, earn CEUs."
            .to_string(),
        base_url: app.public_url.clone(),
        login_path: "/lti/login".to_string(),
        launch_path: "/lti/launch".to_string(),
        jwks_path: "/.well-known/jwks.json".to_string(),
        logo_path: Some("/static/logo.svg".to_string()),
    }
}

/// Run a dynamic registration from the parameters the platform sent.
pub async fn register(
    app: &AppState,
    openid_configuration: Option<&str>,
    registration_token: Option<&str>,
) -> Result<Registered, DynamicRegistrationError> {
    let settings = &app.settings.registration;
    if !settings.enabled {
        return Err(DynamicRegistrationError::Disabled);
    }
    // Loopback platforms are accepted only while the tool itself runs on
    // loopback, for a trial on one machine.
    let local_trial = protocol::is_loopback_url(&app.public_url);
    let configuration_url: Url =
        protocol::check_configuration_url(openid_configuration, local_trial)?;
    let host = configuration_url.host_str().unwrap_or_default().to_string();
    if !host_allowed(settings, &host) {
        return Err(DynamicRegistrationError::HostNotAllowed { host });
    }
    let pending = platform::Entity::find()
        .filter(platform::Column::Status.eq(platform_store::STATUS_PENDING))
        .count(&app.db)
        .await?;
    if !settings.auto_approve && pending >= settings.max_pending {
        return Err(DynamicRegistrationError::TooManyPending { count: pending });
    }
    let token = registration_token.map(str::trim).filter(|t| !t.is_empty());

    let mut request = app
        .http
        .get(configuration_url.clone())
        .header(ACCEPT, "application/json");
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = request
        .send()
        .await
        .map_err(|e| unreachable(configuration_url.as_str(), e))?;
    let status = response.status();
    let body = read_limited(configuration_url.as_str(), response).await?;
    if !status.is_success() {
        return Err(DynamicRegistrationError::ConfigurationRefused {
            status: status.as_u16(),
            answer: shown(&String::from_utf8_lossy(&body)),
        });
    }
    let configuration = protocol::parse_configuration(&body)?;
    let checked = protocol::check_configuration(&configuration, &configuration_url, local_trial)?;

    let registration = protocol::registration_request(&tool_description(app), &checked);
    let mut request = app
        .http
        .post(&checked.registration_endpoint)
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/json")
        .body(registration.to_string());
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = request
        .send()
        .await
        .map_err(|e| unreachable(&checked.registration_endpoint, e))?;
    let status = response.status();
    let body = read_limited(&checked.registration_endpoint, response).await?;
    if !status.is_success() {
        return Err(DynamicRegistrationError::PlatformRefused {
            status: status.as_u16(),
            answer: shown(&String::from_utf8_lossy(&body)),
        });
    }
    let answer = protocol::parse_registration_response(&body)?;

    let txn = app.db.begin().await?;
    if platform_store::find(&txn, &checked.issuer, &answer.client_id)
        .await?
        .is_some()
    {
        return Err(DynamicRegistrationError::AlreadyRegistered {
            issuer: checked.issuer.clone(),
            client_id: answer.client_id,
        });
    }
    let status = if settings.auto_approve {
        platform_store::STATUS_ACTIVE
    } else {
        platform_store::STATUS_PENDING
    };
    let display_name = checked
        .product_family_code
        .as_deref()
        .map(|family| format!("{family} at {host}"))
        .unwrap_or_else(|| host.clone());
    let stored = platform_store::insert(
        &txn,
        NewPlatform {
            issuer: checked.issuer.clone(),
            client_id: answer.client_id.clone(),
            auth_url: checked.authorization_endpoint.clone(),
            token_url: checked.token_endpoint.clone(),
            jwks_url: checked.jwks_uri.clone(),
            token_audience: checked.authorization_server.clone(),
            status,
            source: platform_store::SOURCE_DYNAMIC,
            product_family: checked.product_family_code.clone(),
            display_name: Some(display_name),
            manages_registrations: false,
        },
    )
    .await?;
    let deployment = match &answer.deployment_id {
        Some(id) => Some(
            platform_store::ensure_deployment(&txn, stored.id, id, platform_store::STATUS_ACTIVE)
                .await?,
        ),
        None => None,
    };
    txn.commit().await?;
    tracing::info!(
        platform_id = stored.id,
        issuer = %stored.issuer,
        client_id = %stored.client_id,
        status = %stored.status,
        "stored a dynamic registration"
    );
    let scopes = match &answer.scope {
        Some(scope) => scope.split_whitespace().map(str::to_string).collect(),
        None => checked.scopes.clone(),
    };
    Ok(Registered {
        platform: stored,
        deployment,
        configuration: checked,
        scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hosts: &[&str]) -> RegistrationSettings {
        RegistrationSettings {
            enabled: true,
            auto_approve: false,
            allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            max_pending: 5,
            tool_name: "microcred".into(),
        }
    }

    #[test]
    fn empty_allow_list_allows_any_host() {
        assert!(host_allowed(&settings(&[]), "lms.example.test"));
    }

    #[test]
    fn allow_list_matches_exact_hosts_and_suffixes() {
        let s = settings(&["lms.district.test", "*.cloud.test"]);
        assert!(host_allowed(&s, "lms.district.test"));
        assert!(host_allowed(&s, "LMS.District.Test"));
        assert!(host_allowed(&s, "east.cloud.test"));
        assert!(!host_allowed(&s, "cloud.test"));
        assert!(!host_allowed(&s, "evilcloud.test"));
        assert!(!host_allowed(&s, "lms.district.test.evil.test"));
    }

    #[test]
    fn long_answers_are_cut() {
        let long = "x".repeat(SHOWN_ANSWER_CHARS + 10);
        assert_eq!(shown(&long).chars().count(), SHOWN_ANSWER_CHARS + 1);
        assert_eq!(shown("  short  "), "short");
    }
}
