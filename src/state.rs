//! Shared application state handed to every handler.

use std::sync::Arc;

use microcred_lti::KeySetCache;
use sea_orm::DatabaseConnection;
use url::Url;

use crate::advantage::ServiceClient;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::page_token::PageTokenKey;
use crate::web::headers::FrameOrigins;
use crate::workflow::files::FileStore;
use crate::workflow::participation::StateChangeHook;

/// Cheap to clone; everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: DatabaseConnection,
    /// Writer that commits the writes of concurrent launches together on SQLite.
    pub writer: crate::store::writer::Writer,
    pub settings: Settings,
    /// Base of the tool's URLs as the LMS sees them, without a trailing slash in its path.
    pub public_url: Url,
    pub platform_keys: KeySetCache,
    /// Sessions just opened by launches here, kept for their first request.
    pub fresh_sessions: crate::sessions::FreshSessions,
    /// Overviews read by launches here, kept for the first page of their sessions.
    pub fresh_overviews: crate::workflow::participation::FreshOverviews,
    /// Login states just issued here, kept for the id_token post that follows.
    pub fresh_logins: crate::launch::FreshLogins,
    /// Registrations recently read by login initiations.
    pub login_registrations: crate::platforms::LoginRegistrations,
    pub http: reqwest::Client,
    /// Origins allowed to frame the tool, from the registered platforms.
    pub frame_origins: FrameOrigins,
    /// Signs the page tokens that carry the session in links and forms.
    pub page_tokens: PageTokenKey,
    /// Signs the login states that the platform carries from login to launch.
    pub login_tokens: crate::login_token::LoginStateKey,
    /// Store for uploaded files.
    pub files: Arc<dyn FileStore>,
    /// Runs in the transaction of every participant state change (grade passback).
    pub hook: Option<Arc<dyn StateChangeHook>>,
    /// LTI Advantage service calls (grades, rosters) with their token cache.
    pub services: ServiceClient,
    /// This instance's Prometheus metrics, served at `/metrics`.
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// The hook to pass to `submit` and `assess`.
    pub fn state_hook(&self) -> Option<&dyn StateChangeHook> {
        self.hook.as_deref()
    }

    /// Build the tool's absolute URL for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
