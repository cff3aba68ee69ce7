//! Typed settings, read in layers: `config/default.toml` (built into the
//! binary), then an optional file given with `--config`, then environment
//! variables `MICROCRED__SECTION__KEY`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The built-in defaults, the same text as `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub storage: StorageSettings,
    pub lti: LtiSettings,
    pub session: SessionSettings,
    pub keys: KeySettings,
    pub registration: RegistrationSettings,
    pub passback: PassbackSettings,
    pub catalogue: CatalogueSettings,
    pub metrics: MetricsSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ServerSettings {
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// Base of the URLs given to the LMS; empty means `http://{bind}`.
    pub public_url: String,
    /// Largest request body, in megabytes.
    pub max_body_mb: u64,
}

#[derive(Clone, Deserialize, Serialize)]
pub struct DatabaseSettings {
    /// sea-orm connection URL; may hold a password, so `Debug` hides it.
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

/// Return a connection URL with any password replaced by `***`, also when
/// the URL is malformed in other ways.
pub fn redact_url(raw: &str) -> String {
    match password_span(raw) {
        Some(span) if !span.is_empty() => format!("{}***{}", &raw[..span.start], &raw[span.end..]),
        _ => raw.to_string(),
    }
}

/// Replace the password of the connection URL `url` in `text` with `***`,
/// as it is typed in the URL and percent-decoded. Error messages of the
/// database drivers may repeat the URL or the password they were given.
pub fn redact_password(text: &str, url: &str) -> String {
    let Some(span) = password_span(url).filter(|span| !span.is_empty()) else {
        return text.to_string();
    };
    let typed = &url[span];
    let mut redacted = text.replace(url, &redact_url(url)).replace(typed, "***");
    if let Ok(decoded) = percent_encoding::percent_decode_str(typed).decode_utf8() {
        if !decoded.is_empty() {
            redacted = redacted.replace(decoded.as_ref(), "***");
        }
    }
    redacted
}

/// Return the byte range of the password in `scheme://user:password@host...`, if the URL has one.
fn password_span(raw: &str) -> Option<std::ops::Range<usize>> {
    let start = raw.find("://")? + 3;
    let rest = &raw[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    Some(start + colon + 1..start + at)
}

/// The forms of `database.url` that microcred accepts, for error messages.
pub const DATABASE_URL_FORMS: &str =
    "use sqlite://PATH?mode=rwc or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE in database.url";

/// Check that `database.url` is a URL of a database microcred supports.
/// The message of an error names what is wrong, but not the URL.
pub fn check_database_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|e| format!("the URL is malformed ({e}); {DATABASE_URL_FORMS}"))?;
    match url.scheme() {
        "sqlite" | "postgres" | "postgresql" => Ok(()),
        other => Err(format!("microcred does not support {other:?} databases; {DATABASE_URL_FORMS}")),
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StorageSettings {
    /// Folder for uploaded files.
    pub path: PathBuf,
    /// Largest uploaded file, in megabytes.
    pub max_file_mb: u64,
    /// Content types accepted for uploads.
    pub allowed_types: Vec<String>,
}

/// Policy for a launch from an unknown deployment of a known client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownDeploymentPolicy {
    Reject,
    Pending,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LtiSettings {
    pub state_ttl_secs: u64,
    pub exp_leeway_secs: u64,
    pub iat_future_secs: i64,
    pub unknown_deployment: UnknownDeploymentPolicy,
    pub jwks_default_ttl_secs: u64,
    pub jwks_refetch_interval_secs: u64,
    pub http_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SessionSettings {
    pub idle_minutes: i64,
    pub max_hours: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct KeySettings {
    pub retire_after_hours: i64,
    /// Seconds a new key is published before it may sign.
    pub min_published_secs: i64,
}

impl KeySettings {
    pub fn rotation_times(&self) -> crate::keys::RotationTimes {
        crate::keys::RotationTimes {
            retire_after: chrono::Duration::hours(self.retire_after_hours),
            min_published: chrono::Duration::seconds(self.min_published_secs),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RegistrationSettings {
    /// Accept LTI Dynamic Registration at `/lti/register`.
    pub enabled: bool,
    /// Activate dynamic registrations at once instead of waiting for an admin.
    pub auto_approve: bool,
    /// Hosts allowed to register, exact (`lms.district.org`) or by suffix
    /// (`*.instructure.com`); empty allows any https host.
    pub allowed_hosts: Vec<String>,
    /// Maximum number of registrations waiting for approval at once.
    pub max_pending: u64,
    /// The tool's name as the LMS shows it.
    pub tool_name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PassbackSettings {
    /// Run the worker that sends scores from the outbox.
    pub enabled: bool,
    /// Milliseconds between two looks at the outbox.
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CatalogueSettings {
    pub samples_path: PathBuf,
    pub load_samples_when_empty: bool,
}

#[derive(Clone, Deserialize, Serialize)]
pub struct MetricsSettings {
    /// Serve Prometheus metrics at `GET /metrics`.
    pub enabled: bool,
    /// Bearer token that `/metrics` requires; `None` or empty serves it to
    /// anyone who can reach the server. `Debug` and serialization leave it out.
    #[serde(default, skip_serializing)]
    pub token: Option<String>,
}

impl MetricsSettings {
    /// Returns the configured token without surrounding blanks, or `None` when it is missing or blank.
    pub fn required_token(&self) -> Option<&str> {
        self.token.as_deref().map(str::trim).filter(|token| !token.is_empty())
    }
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("enabled", &self.enabled)
            .field("token", &self.required_token().map(|_| "***"))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

impl Settings {
    /// Read all three layers.
    pub fn load(config_file: Option<&Path>) -> Result<Self, figment::Error> {
        let mut figment = Figment::new().merge(Toml::string(DEFAULT_TOML));
        if let Some(path) = config_file {
            if !path.exists() {
                return Err(figment::Error::from(format!(
                    "the configuration file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment.merge(Env::prefixed("MICROCRED__").split("__")).extract()
    }

    /// Read the built-in defaults alone, ignoring files and the environment.
    pub fn defaults() -> Result<Self, figment::Error> {
        Figment::new().merge(Toml::string(DEFAULT_TOML)).extract()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let settings = Settings::defaults().unwrap();
        assert_eq!(settings.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.lti.unknown_deployment, UnknownDeploymentPolicy::Reject);
    }

    #[test]
    fn metrics_default_is_enabled_without_token() {
        let settings = Settings::defaults().unwrap();
        assert!(settings.metrics.enabled);
        assert_eq!(settings.metrics.required_token(), None);
    }

    #[test]
    fn metrics_debug_hides_token() {
        let settings = MetricsSettings { enabled: true, token: Some("s3cret-scrape-token".into()) };
        let printed = format!("{settings:?}");
        assert!(!printed.contains("s3cret-scrape-token"), "{printed}");
        assert!(printed.contains("***"), "{printed}");
    }

    #[test]
    fn blank_metrics_token_is_no_token() {
        let settings = MetricsSettings { enabled: true, token: Some("  ".into()) };
        assert_eq!(settings.required_token(), None);
    }

    #[test]
    fn redact_hides_password() {
        assert_eq!(redact_url("postgres://app:s3cret@db/microcred"), "postgres://app:***@db/microcred");
    }

    #[test]
    fn redact_hides_password_of_malformed_url() {
        assert_eq!(redact_url("postgres://app:s3cret@db:badport/x"), "postgres://app:***@db:badport/x");
        assert_eq!(redact_url("postgres://app:s3cret@/x"), "postgres://app:***@/x");
        assert_eq!(redact_url("mysql://app:p@ss@db/x"), "mysql://app:***@db/x");
        assert_eq!(redact_url("postgres://app@db/x?password=no"), "postgres://app@db/x?password=no");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn redact_password_in_driver_message() {
        let url = "postgres://app:p%40ss%3Aword@db:badport/x";
        let message = format!("the connection string '{url}' failed; p@ss:word was rejected");
        let redacted = redact_password(&message, url);
        assert_eq!(redacted, "the connection string 'postgres://app:***@db:badport/x' failed; *** was rejected");
        assert_eq!(redact_password("no password here", "postgres://app@db/x"), "no password here");
    }

    #[test]
    fn database_url_checked() {
        assert_eq!(check_database_url("sqlite://data/microcred.db?mode=rwc"), Ok(()));
        assert_eq!(check_database_url("postgres://app:pw@127.0.0.1:5432/microcred"), Ok(()));
        let unsupported = check_database_url("mysql://app:pw@db/x").unwrap_err();
        assert!(unsupported.starts_with("microcred does not support \"mysql\" databases; use sqlite://"), "{unsupported}");
        let malformed = check_database_url("postgres://app:pw@db:badport/x").unwrap_err();
        assert!(malformed.starts_with("the URL is malformed (invalid port number)"), "{malformed}");
        let no_server = check_database_url("postgres://app:pw@/x").unwrap_err();
        assert!(no_server.starts_with("the URL is malformed (empty host)"), "{no_server}");
        // The server may be named in the query, as a socket folder.
        assert_eq!(check_database_url("postgres:///microcred?host=/run/postgresql"), Ok(()));
        let not_url = check_database_url("not a url").unwrap_err();
        assert!(not_url.contains("postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"), "{not_url}");
        assert!(!format!("{unsupported}{malformed}{no_server}").contains("pw"), "no message repeats the URL");
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let err = Settings::load(Some(Path::new("/nonexistent/microcred.toml"))).unwrap_err();
        assert!(err.to_string().contains("does not exist"));
    }
}
