//! Building and running the application: database, keys, HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use microcred_lti::jwks::CachePolicy;
use microcred_lti::{HttpKeySetFetcher, KeySetCache};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use url::Url;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::state::{AppState, Inner};
use crate::web::headers::FrameOrigins;
use crate::advantage::passback::{self, PassbackHook};
use crate::advantage::ServiceClient;
use crate::workflow::catalogue;
use microcred_lti::advantage::TokenCache;
use crate::workflow::files::LocalFileStore;
use crate::{keys, store, web};

/// A built application, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

/// An HTTP client for calls to platforms: a timeout, no proxy from the
/// environment, and no redirects (a platform endpoint answers directly).
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("microcred/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Open the database, apply migrations when configured, ensure a signing key.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    open_database(settings, Samples::Skip).await
}

/// Whether [`open_database`] loads the sample catalogue into an empty catalogue.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Samples {
    Load,
    Skip,
}

/// Describe why the database did not open, with what to change where the
/// driver's message does not say it.
fn explain_open_error(error: sea_orm::DbErr, url: &str) -> String {
    use sea_orm::sqlx::Error;
    use sea_orm::{DbErr, RuntimeErr};
    match error {
        DbErr::Custom(message) => message,
        DbErr::Conn(RuntimeErr::SqlxError(Error::Configuration(cause))) => {
            format!("{cause}; {}", crate::config::DATABASE_URL_FORMS)
        }
        DbErr::Conn(RuntimeErr::SqlxError(Error::Database(cause)))
            if url.starts_with("sqlite:") && cause.code().as_deref() == Some("14") && !url.contains("mode=rwc") =>
        {
            format!("{cause}; add ?mode=rwc to database.url so that microcred creates the file")
        }
        other => other.to_string(),
    }
}

/// Open the database and set it up in one transaction under the setup
/// lock: migrations when configured, the first signing key, and, with
/// `Samples::Load` and `catalogue.load_samples_when_empty`, the samples.
/// Instances that start together on one database do this one at a time.
async fn open_database(settings: &Settings, samples: Samples) -> anyhow::Result<DatabaseConnection> {
    let url = &settings.database.url;
    let cannot_open = |cause: String| {
        let cause = crate::config::redact_password(&cause, url);
        anyhow::anyhow!("cannot open the database {}: {cause}", crate::config::redact_url(url))
    };
    crate::config::check_database_url(url).map_err(cannot_open)?;
    let db = store::connect(&settings.database).await.map_err(|e| cannot_open(explain_open_error(e, url)))?;
    let setup = store::begin_setup(&db)
        .await
        .map_err(|e| anyhow::anyhow!("cannot lock the database for the start-up setup: {e}"))?;
    if settings.database.migrate_on_start {
        store::apply_migrations(&setup).await?;
    }
    keys::ensure_signing_key(&setup).await?;
    if samples == Samples::Load && settings.catalogue.load_samples_when_empty {
        catalogue::load_samples_if_empty(&setup, &settings.catalogue.samples_path)
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the sample catalogue: {e}"))?;
    }
    setup.commit().await?;
    Ok(db)
}

impl Application {
    /// Bind the listener and prepare everything the server needs.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        crate::web::templates::check()?;
        let listener = TcpListener::bind(settings.server.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.bind))?;
        let local = listener.local_addr()?;
        let public_url = public_url(&settings, local)?;
        let db = open_database(&settings, Samples::Load).await?;
        let http = http_client(Duration::from_secs(settings.lti.http_timeout_secs))?;
        let policy = CachePolicy {
            default_ttl: Duration::from_secs(settings.lti.jwks_default_ttl_secs),
            refetch_interval: Duration::from_secs(settings.lti.jwks_refetch_interval_secs),
            ..CachePolicy::default()
        };
        let platform_keys = KeySetCache::new(Arc::new(HttpKeySetFetcher::new(http.clone())), policy);
        let files = Arc::new(LocalFileStore::new(&settings.storage.path)?);
        let page_tokens = crate::page_token::PageTokenKey::load_or_create(&db).await?;
        let metrics = Metrics::new();
        let services = ServiceClient {
            db: db.clone(),
            http: http.clone(),
            tokens: Arc::new(TokenCache::default()),
            metrics: metrics.clone(),
        };
        let state = AppState::new(Inner {
            writer: crate::store::writer::Writer::new(db.clone(), Some(metrics.write_batch_observer())),
            db,
            settings,
            public_url,
            platform_keys,
            login_registrations: Default::default(),
            fresh_sessions: crate::sessions::fresh_sessions(),
            fresh_overviews: crate::workflow::participation::fresh_overviews(),
            fresh_logins: crate::launch::fresh_logins(),
            http,
            frame_origins: FrameOrigins::default(),
            files,
            login_tokens: crate::login_token::LoginStateKey::derive_from(&page_tokens),
            page_tokens,
            hook: Some(Arc::new(PassbackHook)),
            services,
            metrics,
        });
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serve until the process receives Ctrl-C or SIGTERM.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serve until `shutdown` completes.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let app = web::router(self.state.clone());
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let passback_worker = self.state.settings.passback.enabled.then(|| {
            let interval = Duration::from_millis(self.state.settings.passback.poll_interval_ms.max(50));
            tokio::spawn(passback::worker(self.state.services.clone(), interval))
        });
        tracing::info!(address = %self.local_addr(), public_url = %self.state.public_url, "microcred is listening");
        let result = axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await;
        housekeeping.abort();
        if let Some(worker) = passback_worker {
            worker.abort();
        }
        tracing::info!("microcred stopped");
        Ok(result?)
    }
}

fn public_url(settings: &Settings, local: SocketAddr) -> anyhow::Result<Url> {
    let raw = settings.server.public_url.trim();
    let raw = if raw.is_empty() { format!("http://{local}") } else { raw.to_string() };
    let url = Url::parse(&raw).map_err(|e| anyhow::anyhow!("server.public_url {raw:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        anyhow::bail!("server.public_url {raw:?} must be an http or https URL with a host");
    }
    Ok(url)
}

/// Periodic clean-up of expired login states and sessions.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        let now = chrono::Utc::now();
        if let Err(error) = store::launches::purge_login_states(&state.db, now - chrono::Duration::hours(1)).await {
            tracing::warn!(error = %error, "could not purge expired login states");
        }
        if let Err(error) = store::sessions::purge_expired(&state.db, now).await {
            tracing::warn!(error = %error, "could not purge expired sessions");
        }
        match crate::keys::retire_expired(&state.db).await {
            Ok(retired) => {
                for kid in retired {
                    tracing::info!(kid = %kid, "retired a signing key whose tokens have all expired");
                }
            }
            Err(error) => tracing::warn!(error = %error, "could not retire expired signing keys"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
