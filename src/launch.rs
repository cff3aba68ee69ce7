//! The LTI login and launch flow with its storage: the OIDC login
//! initiation, then the id_token post that ends in a session.
//!
//! Checks run in this order so that each rejection names the first thing
//! wrong: the form, the state (issued, unused, bound to this browser), the
//! token (signature, issuer, audience, times), the nonce and the message
//! claims. Then, in the transaction that records the launch, one statement
//! uses the state up if its registration is still active, and reads the
//! deployment, which must be active too. A concurrent post of the same
//! state, or a registration switched off since the login, is rejected there.

use chrono::{Duration, Utc};
use microcred_lti::claims::IdTokenClaims;
use microcred_lti::login::{AuthorizationRequest, LoginInitiation};
use microcred_lti::verify::check_message;
use microcred_lti::{verify_id_token, ExpectedPlatform, LaunchError, MessageType, RoleSet, VerifyOptions};
use openidconnect::{CsrfToken, Nonce};
use sea_orm::{ConnectionTrait, DbBackend};
use serde::Deserialize;
use url::Url;

use crate::advantage::passback::link_services_upsert;
use crate::config::UnknownDeploymentPolicy;
use crate::sessions::{self, NewSession};
use crate::state::AppState;
use crate::handoff::Handoff;
use crate::login_token::{Carried, MAX_TOKEN_LEN};
pub use crate::login_token::state_id;
use crate::store::direct::{self, DirectWriter};
use crate::store::entities::{context, login_state, platform, resource_link, user};
use crate::store::launches::{self as launch_store, ContextRecord, LaunchRows, ResourceLinkRecord, StateUse, UserRecord};
use crate::store::platforms::{self as platform_store, STATUS_ACTIVE, STATUS_PENDING};
use crate::workflow::access::Viewer;
use crate::workflow::participation::{self, Overview};
use crate::workflow::WorkflowError;

/// Prefix of the cookie that binds a login state to the browser that began it.
pub const STATE_COOKIE_PREFIX: &str = "microcred_state_";

/// Name of the state cookie for one login. Each login gets its own cookie
/// so that launches in two tabs do not overwrite each other's state.
pub fn state_cookie_name(state: &str) -> String {
    let short: String = state_id(state).chars().take(16).collect();
    format!("{STATE_COOKIE_PREFIX}{short}")
}

/// A rejected login or launch with what is known about where it came from.
#[derive(Debug)]
pub struct LaunchFailure {
    pub error: LaunchError,
    pub platform_id: Option<i64>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub deployment_id: Option<String>,
}

impl From<LaunchError> for LaunchFailure {
    fn from(error: LaunchError) -> Self {
        Self { error, platform_id: None, issuer: None, client_id: None, deployment_id: None }
    }
}

impl LaunchFailure {
    fn from_platform(error: LaunchError, platform: &platform::Model) -> Self {
        Self {
            error,
            platform_id: Some(platform.id),
            issuer: Some(platform.issuer.clone()),
            client_id: Some(platform.client_id.clone()),
            deployment_id: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("launch rejected: {}", .0.error)]
    Rejected(LaunchFailure),
    #[error("the browser must prove the login state another way")]
    BrowserCheck(BrowserCheck),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<LaunchFailure> for FlowError {
    fn from(failure: LaunchFailure) -> Self {
        Self::Rejected(failure)
    }
}

impl From<LaunchError> for FlowError {
    fn from(error: LaunchError) -> Self {
        Self::Rejected(error.into())
    }
}

impl From<sea_orm::DbErr> for FlowError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Internal(error.into())
    }
}

/// The response to a login initiation.
pub struct LoginRedirect {
    pub location: Url,
    pub state: String,
    pub nonce: String,
    pub platform_id: i64,
    /// The platform frame for LTI client-side storage, when the platform offered one.
    pub storage_target: Option<String>,
    /// Origin of the platform's authorization endpoint, the only origin accepted for storage responses.
    pub platform_origin: String,
}

/// Find the registration for a login initiation, in the short-lived cache
/// first.
async fn find_platform(
    app: &AppState,
    issuer: &str,
    client_id: Option<&str>,
) -> Result<platform::Model, FlowError> {
    if let Some(cached) = client_id.and_then(|client_id| app.login_registrations.get(issuer, client_id)) {
        return Ok(cached);
    }
    let found = match client_id {
        Some(client_id) => match platform_store::find(&app.db, issuer, client_id).await? {
            Some(platform) => platform,
            None => {
                let known_issuer = !platform_store::by_issuer(&app.db, issuer).await?.is_empty();
                let error = if known_issuer {
                    LaunchError::UnknownClient { issuer: issuer.to_string(), client_id: client_id.to_string() }
                } else {
                    LaunchError::UnknownIssuer { issuer: issuer.to_string() }
                };
                return Err(LaunchFailure {
                    error,
                    platform_id: None,
                    issuer: Some(issuer.to_string()),
                    client_id: Some(client_id.to_string()),
                    deployment_id: None,
                }
                .into());
            }
        },
        None => {
            let mut candidates = platform_store::by_issuer(&app.db, issuer).await?;
            candidates.retain(|p| !platform_store::is_switched_off(&p.status));
            match candidates.len() {
                0 => {
                    return Err(LaunchFailure {
                        issuer: Some(issuer.to_string()),
                        ..LaunchError::UnknownIssuer { issuer: issuer.to_string() }.into()
                    }
                    .into())
                }
                1 => candidates.remove(0),
                _ => {
                    return Err(LaunchFailure {
                        issuer: Some(issuer.to_string()),
                        ..LaunchError::AmbiguousClient { issuer: issuer.to_string() }.into()
                    }
                    .into())
                }
            }
        }
    };
    if found.status != STATUS_ACTIVE {
        let error = if found.status == platform_store::STATUS_PENDING {
            LaunchError::RegistrationPending { issuer: found.issuer.clone(), client_id: found.client_id.clone() }
        } else {
            LaunchError::RegistrationDisabled { client_id: found.client_id.clone() }
        };
        return Err(LaunchFailure::from_platform(error, &found).into());
    }
    if client_id.is_some() {
        app.login_registrations.put(&found);
    }
    Ok(found)
}

/// Handle a login initiation: issue a new state and nonce and build the
/// redirect to the platform's authorization endpoint. The state is a token
/// that carries the login, so nothing is stored. When the token would be
/// too long, the state is the id of a stored row instead.
pub async fn begin_login(app: &AppState, params: LoginInitiation) -> Result<LoginRedirect, FlowError> {
    let saved_params = params.clone();
    let issuer_for_failure = params.iss.clone();
    let client_for_failure = params.client_id.clone();
    let login = params.check(&app.public_url).map_err(|error| LaunchFailure {
        error,
        platform_id: None,
        issuer: issuer_for_failure,
        client_id: client_for_failure,
        deployment_id: None,
    })?;
    let platform = find_platform(app, &login.issuer, login.client_id.as_deref()).await?;
    let auth_endpoint = Url::parse(&platform.auth_url)
        .map_err(|e| anyhow::anyhow!("stored auth URL of platform {} is invalid: {e}", platform.id))?;

    let id = CsrfToken::new_random().secret().clone();
    let nonce = Nonce::new_random().secret().clone();
    let expires_at = Utc::now() + Duration::seconds(app.settings.lti.state_ttl_secs as i64);
    let row = login_state::Model {
        state: id.clone(),
        nonce: nonce.clone(),
        platform_id: platform.id,
        target_link_uri: login.target_link_uri.to_string(),
        created_at: Utc::now(),
        expires_at,
        used_at: None,
        login_params: serde_json::to_string(&saved_params).ok(),
        storage_target: login.storage_target.clone(),
        continuation: None,
    };
    let token = app.login_tokens.seal(&row);
    let state = if token.len() <= MAX_TOKEN_LEN {
        token
    } else {
        app.writer.execute(launch_store::login_state_insert(app.db.get_database_backend(), row.clone())).await?;
        id
    };
    app.fresh_logins.put(state.clone(), FreshLogin { login: row, platform: platform.clone() });

    let redirect_uri = app.url("/lti/launch");
    let location = AuthorizationRequest {
        client_id: &platform.client_id,
        redirect_uri: &redirect_uri,
        login_hint: &login.login_hint,
        lti_message_hint: login.lti_message_hint.as_deref(),
        state: &state,
        nonce: &nonce,
    }
    .to_url(&auth_endpoint);
    let platform_origin = auth_endpoint.origin().ascii_serialization();
    Ok(LoginRedirect {
        location,
        state,
        nonce,
        platform_id: platform.id,
        storage_target: login.storage_target,
        platform_origin,
    })
}

/// How long a login state issued here waits for its id_token post.
const FRESH_LOGIN_SECS: u64 = 10;

/// Maximum number of login states kept for their id_token post.
const FRESH_LOGIN_LIMIT: usize = 4096;

/// A login state just issued, with the registration it was issued for.
pub struct FreshLogin {
    pub login: login_state::Model,
    pub platform: platform::Model,
}

/// Login states that logins on this instance just issued, kept for the
/// id_token post that the platform usually sends back at once. That post
/// then neither opens the token nor reads the registration. A state
/// changes only when it is used, which the launch's statement checks
/// again, or when it gets a continuation token, and a post with a
/// continuation token reads the row. The registration's status is checked
/// again when the state is used.
pub type FreshLogins = Handoff<FreshLogin>;

/// Create the map of fresh login states with its age and size limits.
pub fn fresh_logins() -> FreshLogins {
    FreshLogins::new(std::time::Duration::from_secs(FRESH_LOGIN_SECS), FRESH_LOGIN_LIMIT)
}

/// The form a platform posts to the launch URL.
#[derive(Debug, Default, Deserialize)]
pub struct LaunchForm {
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// Present when the tool's own page re-posts the launch after checking platform storage.
    #[serde(default)]
    pub continuation: Option<String>,
}

/// Proof that the browser began the login.
pub enum StateProof<'a> {
    /// The value of the state cookie set at login, if the browser sent it.
    Cookie(Option<&'a str>),
    /// A continuation token issued after the tool's page found the state in
    /// the platform's client-side storage.
    Storage(&'a str),
}

/// The step the browser must take when it sent no state cookie.
#[derive(Debug)]
pub enum BrowserCheck {
    /// Read the state back from the platform's storage, then post again with the continuation token.
    PlatformStorage {
        id_token: String,
        state: String,
        continuation: String,
        storage_target: String,
        platform_origin: String,
    },
    /// Neither a cookie nor platform storage: offer to finish the launch in a new window.
    NewWindow { state: String },
}

fn hash_hex(value: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

/// A successful launch.
pub struct CompletedLaunch {
    pub session_token: String,
    /// The opened session, for the first request of its browser.
    pub session: sessions::Session,
    pub message_type: MessageType,
    pub roles: RoleSet,
    pub user_id: i64,
    pub state: String,
    /// The overview of the micro-credential a participant lands on, read
    /// with the launch, for the first page.
    pub landing: Option<Overview>,
}

/// Start a login again from the parameters that `state` carries or was
/// stored with, for a launch that is finished in a new window where
/// first-party cookies work.
pub async fn restart_login(app: &AppState, state: &str) -> Result<LoginRedirect, FlowError> {
    let (login, _) = open_login(app, state, false).await?;
    if login.used_at.is_some() {
        return Err(LaunchError::StateAlreadyUsed.into());
    }
    if login.expires_at < Utc::now() {
        return Err(LaunchError::UnknownState.into());
    }
    let params: LoginInitiation = login
        .login_params
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .ok_or(LaunchError::UnknownState)?;
    if !launch_store::consume_login_state(&app.db, &login).await? {
        return Err(LaunchError::StateAlreadyUsed.into());
    }
    // The new window is a top-level page: no platform frame answers storage messages there.
    let params = LoginInitiation { lti_storage_target: None, ..params };
    begin_login(app, params).await
}

/// Verify a launch and open a session for it.
pub async fn complete_launch(
    app: &AppState,
    form: LaunchForm,
    proof: StateProof<'_>,
) -> Result<CompletedLaunch, FlowError> {
    let id_token = form.id_token.filter(|t| !t.is_empty()).ok_or(LaunchError::MissingIdToken)?;
    let state = form.state.filter(|s| !s.is_empty()).ok_or(LaunchError::MissingState)?;

    // The state and its registration as the login left them here, when
    // the browser proves the state with its cookie. Otherwise they come
    // from the token, or from the stored row.
    let fresh = match proof {
        StateProof::Cookie(Some(cookie)) if cookie == state_id(&state) => app.fresh_logins.take(&state),
        _ => None,
    };
    let (login, platform) = match fresh {
        Some(FreshLogin { login, platform }) => (login, platform),
        // Without the cookie, the row is read too, so that a state used
        // already is rejected as such rather than sent to the browser check.
        None => open_login(app, &state, !matches!(proof, StateProof::Cookie(Some(_)))).await?,
    };
    let fail = |error: LaunchError| FlowError::Rejected(LaunchFailure::from_platform(error, &platform));
    if login.used_at.is_some() {
        return Err(fail(LaunchError::StateAlreadyUsed));
    }
    if login.expires_at < Utc::now() {
        return Err(fail(LaunchError::UnknownState));
    }
    match proof {
        StateProof::Cookie(value) if value == Some(state_id(&state)) => {}
        StateProof::Cookie(Some(_)) => return Err(fail(LaunchError::StateFromAnotherBrowser)),
        StateProof::Cookie(None) => {
            // No cookie: try the platform's storage, else a new window.
            let check = match (&login.storage_target, &login.login_params) {
                (Some(target), _) => {
                    let continuation = CsrfToken::new_random().secret().clone();
                    if !launch_store::set_continuation(&app.db, &login, &hash_hex(&continuation)).await? {
                        return Err(fail(LaunchError::StateAlreadyUsed));
                    }
                    let origin = Url::parse(&platform.auth_url)
                        .map(|u| u.origin().ascii_serialization())
                        .unwrap_or_default();
                    BrowserCheck::PlatformStorage {
                        id_token,
                        state,
                        continuation,
                        storage_target: target.clone(),
                        platform_origin: origin,
                    }
                }
                (None, Some(_)) => BrowserCheck::NewWindow { state },
                (None, None) => return Err(fail(LaunchError::StateFromAnotherBrowser)),
            };
            return Err(FlowError::BrowserCheck(check));
        }
        StateProof::Storage(continuation) => {
            let matches = login.continuation.as_deref().is_some_and(|stored| stored == hash_hex(continuation));
            if !matches {
                return Err(fail(LaunchError::StateFromAnotherBrowser));
            }
        }
    }
    if platform.status == platform_store::STATUS_PENDING {
        let error = LaunchError::RegistrationPending { issuer: platform.issuer.clone(), client_id: platform.client_id.clone() };
        return Err(fail(error));
    }
    if platform.status != STATUS_ACTIVE {
        return Err(fail(LaunchError::RegistrationDisabled { client_id: platform.client_id.clone() }));
    }

    let expected = ExpectedPlatform {
        issuer: &platform.issuer,
        client_id: &platform.client_id,
        jwks_url: &platform.jwks_url,
    };
    let options = VerifyOptions {
        exp_leeway_secs: app.settings.lti.exp_leeway_secs,
        iat_future_secs: app.settings.lti.iat_future_secs,
    };
    let claims = verify_id_token(&id_token, expected, &app.platform_keys, options, Utc::now().timestamp())
        .await
        .map_err(fail)?;
    if claims.nonce.as_deref() != Some(login.nonce.as_str()) {
        return Err(fail(LaunchError::NonceMismatch));
    }

    let deployment_id = claims.deployment_id.clone().unwrap_or_default();
    let message_type = check_message(&claims).map_err(|error| with_deployment(error, &platform, &deployment_id))?;

    // A launch from an active deployment stores its rows on the launch
    // writer's connection on a SQLite file, and with the statement that uses
    // its state up on PostgreSQL. A launch that needs more than that
    // statement (an unknown or inactive deployment, a state that cannot be
    // used, a session whose micro-credential deep linking stored) takes the
    // general path below.
    let recorded = match app.writer.sqlite() {
        Some(sqlite) => record_on_sqlite(app, sqlite, &login, platform, claims, message_type).await?,
        None if app.db.get_database_backend() == DbBackend::Postgres => {
            record_on_postgres(app, &login, platform, claims, message_type).await?
        }
        None => Err((platform, claims)),
    };
    let (platform, claims) = match recorded {
        Ok(done) => return Ok(CompletedLaunch { state, ..done }),
        Err(not_recorded) => not_recorded,
    };

    // The state is used up in the same transaction that checks the
    // registration and the deployment and records the launch, so that of
    // two posts of one state only one opens a session, and a registration
    // or deployment switched off after the login opens none.
    let max_hours = app.settings.session.max_hours;
    let policy = app.settings.lti.unknown_deployment;
    let used_state = login;
    let recorded = app
        .writer
        .write(move |txn| {
            Box::pin(async move {
                let deployment_pk = match launch_store::use_login_state(txn, &used_state, &deployment_id).await? {
                    StateUse::Used { deployment_pk: Some(pk) } => pk,
                    StateUse::Used { deployment_pk: None } => check_deployment(txn, policy, &platform, &deployment_id)
                        .await
                        .map_err(|e| match e {
                            FlowError::Rejected(failure) => with_deployment(failure.error, &platform, &deployment_id),
                            other => other,
                        })?,
                    StateUse::NotUsed => return Err(rejection_of_unused_state(txn, &platform).await),
                };
                let mut done = record_launch(txn, max_hours, &platform, deployment_pk, &claims, message_type).await?;
                // Read the landing page's overview on the connection that
                // contains the launch's rows. A micro-credential that is not
                // found is left to the page, which explains it. Any other
                // failure fails the launch, because on PostgreSQL a failed
                // statement aborts the transaction and its COMMIT rolls back.
                if message_type == MessageType::LtiResourceLinkRequest {
                    if let Some(slug) = done.session.landing_credential() {
                        let viewer = Viewer::from(&done.session);
                        done.landing = match participation::overview(txn, &viewer, slug).await {
                            Ok(overview) => Some(overview),
                            Err(WorkflowError::NotFound(_)) => None,
                            Err(error) => return Err(anyhow::anyhow!("reading the landing overview of {slug:?} failed: {error}").into()),
                        };
                    }
                }
                Ok(done)
            })
        })
        .await??;
    Ok(CompletedLaunch { state, ..recorded })
}

/// Build the rejection of a state that passed the checks but was not used
/// up: its registration was switched off since, or a concurrent post used it.
/// The registration and claims of a launch that [`record_on_sqlite`] left to the general path.
type NotRecorded = (platform::Model, IdTokenClaims);

/// Record a launch on the SQLite launch writer's connection: use its state
/// up, store its rows and session, and read its landing overview's row, in
/// one job of a batch. This happens only when the state is unused, the
/// registration and the deployment are active, and the session's
/// micro-credential is known before the rows are stored. Otherwise nothing
/// is stored, and the registration and the claims come back.
async fn record_on_sqlite(
    app: &AppState,
    sqlite: &DirectWriter,
    login: &login_state::Model,
    platform: platform::Model,
    claims: IdTokenClaims,
    message_type: MessageType,
) -> Result<Result<CompletedLaunch, NotRecorded>, FlowError> {
    let inputs = LaunchInputs::from_claims(&claims);
    if !inputs.credential_known() {
        return Ok(Err((platform, claims)));
    }
    let max_hours = app.settings.session.max_hours;
    let login = login.clone();
    let stored = sqlite
        .run(move |connection| -> Result<Result<_, NotRecorded>, FlowError> {
            let deployment_id = claims.deployment_id.as_deref().unwrap_or_default();
            let Some(deployment_pk) = launch_store::use_state_of_active_deployment(connection, &login, deployment_id)? else {
                return Ok(Err((platform, claims)));
            };
            let details = launch_details(&claims, inputs.credential.clone());
            let new = new_session(&platform, deployment_pk, &inputs, message_type, details, None);
            let (token, row) = sessions::new_row(max_hours, new)?;
            let (user, course, link) = (inputs.user(&platform), inputs.course(&platform), inputs.link());
            let rows = launch_store::launch_rows_on(connection, user, course, link, row)?;
            if let (Some(ags), Some(link)) = (&claims.ags, &rows.resource_link) {
                let upsert = link_services_upsert(DbBackend::Sqlite, platform.id, link.id, ags);
                direct::execute(connection, &upsert)?;
            }
            let done = completed(token, rows, inputs.roles.clone(), message_type)?;
            // The landing overview's row, read on the connection that wrote the launch's rows.
            let landing = match (message_type, done.session.landing_credential()) {
                (MessageType::LtiResourceLinkRequest, Some(slug)) => {
                    let viewer = Viewer::from(&done.session);
                    match participation::landing_statement(DbBackend::Sqlite, &viewer, slug) {
                        Some(statement) => {
                            direct::query(connection, &statement, participation::landing_columns())?.into_iter().next()
                        }
                        None => None,
                    }
                }
                _ => None,
            };
            Ok(Ok((done, landing)))
        })
        .await??;
    let (mut done, landing) = match stored {
        Ok(stored) => stored,
        Err(not_recorded) => return Ok(Err(not_recorded)),
    };
    if let Some(row) = landing {
        done.landing = landing_or_none(participation::overview_from_row(&app.db, &row).await);
    }
    Ok(Ok(done))
}

/// Record a launch on PostgreSQL in one statement that uses its state up,
/// stores its rows, session and link services, and reads the row of the
/// landing overview of the micro-credential it names, under the same
/// conditions as [`record_on_sqlite`]. Otherwise nothing is stored, and
/// the registration and the claims come back.
async fn record_on_postgres(
    app: &AppState,
    login: &login_state::Model,
    platform: platform::Model,
    claims: IdTokenClaims,
    message_type: MessageType,
) -> Result<Result<CompletedLaunch, NotRecorded>, FlowError> {
    let inputs = LaunchInputs::from_claims(&claims);
    if !inputs.credential_known() {
        return Ok(Err((platform, claims)));
    }

    let deployment_id = claims.deployment_id.as_deref().unwrap_or_default();
    let details = launch_details(&claims, inputs.credential.clone());
    // The statement stores the key of the deployment it finds active, so 0 is only a placeholder here.
    let new = new_session(&platform, 0, &inputs, message_type, details, None);
    let (token, row) = sessions::new_row(app.settings.session.max_hours, new)?;
    let (user, course, link) = (inputs.user(&platform), inputs.course(&platform), inputs.link());

    // The micro-credential that a participant of this launch lands on. The
    // statement reads its row before it writes, which a launch does not change.
    let landing_slug = match message_type {
        MessageType::LtiResourceLinkRequest => inputs.credential.as_deref(),
        _ => None,
    };
    let landing = landing_slug.map(|slug| {
        let (user_key, course_key) = (launch_store::stored_user_key(), launch_store::stored_course_key());
        participation::landing_query_for(DbBackend::Postgres, user_key, course_key, slug.into())
    });
    let services = claims.ags.as_ref().map(|ags| (platform.id, crate::advantage::passback::services_json(ags)));
    let stored = launch_store::use_state_and_store_launch(
        &app.db,
        login,
        deployment_id,
        user,
        course,
        link,
        row,
        services,
        landing.as_ref(),
    )
    .await?;
    let Some((rows, landing_row)) = stored else {
        return Ok(Err((platform, claims)));
    };

    let mut done = completed(token, rows, inputs.roles.clone(), message_type)?;
    if message_type == MessageType::LtiResourceLinkRequest {
        if let Some(slug) = done.session.landing_credential() {
            let read = match landing_slug == Some(slug) {
                true => participation::overview_from_joined_row(&app.db, &landing_row, slug).await,
                false => participation::overview(&app.db, &Viewer::from(&done.session), slug).await,
            };
            done.landing = landing_or_none(read);
        }
    }
    Ok(Ok(done))
}

/// Keep a landing overview that was read, and leave one that is not found
/// or failed to the first page, which reads it again and explains.
fn landing_or_none(read: Result<Overview, WorkflowError>) -> Option<Overview> {
    match read {
        Ok(overview) => Some(overview),
        Err(WorkflowError::NotFound(_)) => None,
        Err(error) => {
            tracing::warn!(%error, "reading the landing overview after a launch failed; the first page reads it");
            None
        }
    }
}

/// Find the login state that `state` names, with its registration: as the
/// token carries it when the state is a token, else as stored. With
/// `stored`, a token's row is read too when there is one, for what changed
/// since the login (its continuation, its use).
async fn open_login(app: &AppState, state: &str, stored: bool) -> Result<(login_state::Model, platform::Model), FlowError> {
    let carried = app.login_tokens.open(state).map_err(|error| {
        tracing::debug!(%error, "a launch posted a state that is not a login state of this tool");
        LaunchError::UnknownState
    })?;
    let found = match carried {
        Carried::Token(login) => {
            let row = match stored {
                true => launch_store::find_login_state_with_platform(&app.db, &login.state).await?,
                false => None,
            };
            match row {
                Some(found) => Some(found),
                None => {
                    let platform = platform_store::by_id(&app.db, login.platform_id).await?;
                    Some((login, platform))
                }
            }
        }
        Carried::Stored(id) => launch_store::find_login_state_with_platform(&app.db, &id).await?,
    };
    let (login, platform) = found.ok_or(LaunchError::UnknownState)?;
    Ok((login, platform.ok_or(LaunchError::UnknownState)?))
}

async fn rejection_of_unused_state<C: ConnectionTrait>(db: &C, platform: &platform::Model) -> FlowError {
    let current = match platform_store::by_id(db, platform.id).await {
        Ok(current) => current,
        Err(error) => return error.into(),
    };
    let error = match current.map(|p| p.status) {
        Some(status) if status == STATUS_PENDING => {
            LaunchError::RegistrationPending { issuer: platform.issuer.clone(), client_id: platform.client_id.clone() }
        }
        Some(status) if status == STATUS_ACTIVE => LaunchError::StateAlreadyUsed,
        _ => LaunchError::RegistrationDisabled { client_id: platform.client_id.clone() },
    };
    FlowError::Rejected(LaunchFailure::from_platform(error, platform))
}

/// Reject a launch of `platform` that names `deployment_id`.
fn with_deployment(error: LaunchError, platform: &platform::Model, deployment_id: &str) -> FlowError {
    let mut failure = LaunchFailure::from_platform(error, platform);
    failure.deployment_id = Some(deployment_id.to_string()).filter(|d| !d.is_empty());
    FlowError::Rejected(failure)
}

async fn check_deployment<C: ConnectionTrait>(
    db: &C,
    policy: UnknownDeploymentPolicy,
    platform: &platform::Model,
    deployment_id: &str,
) -> Result<i64, FlowError> {
    let unknown = || LaunchError::UnknownDeployment {
        deployment_id: deployment_id.to_string(),
        client_id: platform.client_id.clone(),
    };
    match platform_store::find_deployment(db, platform.id, deployment_id).await? {
        Some(row) if row.status == STATUS_ACTIVE => Ok(row.id),
        Some(row) if row.status == STATUS_PENDING => Err(LaunchError::DeploymentPending {
            deployment_id: deployment_id.to_string(),
            client_id: platform.client_id.clone(),
        }
        .into()),
        Some(_) => Err(LaunchError::DeploymentDisabled {
            deployment_id: deployment_id.to_string(),
            client_id: platform.client_id.clone(),
        }
        .into()),
        None => {
            if policy == UnknownDeploymentPolicy::Pending {
                platform_store::ensure_deployment(db, platform.id, deployment_id, STATUS_PENDING).await?;
                return Err(LaunchError::DeploymentPending {
                    deployment_id: deployment_id.to_string(),
                    client_id: platform.client_id.clone(),
                }
                .into());
            }
            Err(unknown().into())
        }
    }
}

/// Custom parameter that names the micro-credential a resource link shows.
pub const CUSTOM_CREDENTIAL: &str = "microcredential";

/// Launch details that later requests of the session need.
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
pub struct LaunchDetails {
    pub deployment_id: String,
    pub ags: Option<microcred_lti::claims::AgsEndpointClaim>,
    pub nrps: Option<microcred_lti::claims::NrpsClaim>,
    pub deep_linking: Option<microcred_lti::claims::DeepLinkingSettingsClaim>,
    pub for_user: Option<microcred_lti::claims::ForUserClaim>,
    pub return_url: Option<String>,
    pub credential: Option<String>,
    pub platform_name: Option<String>,
}

/// The user, course and link values that a launch stores, read from its claims.
struct LaunchInputs {
    subject: String,
    name: Option<String>,
    email: Option<String>,
    context_id: String,
    context_label: Option<String>,
    context_title: Option<String>,
    link: Option<(String, Option<String>)>,
    credential: Option<String>,
    roles: RoleSet,
}

impl LaunchInputs {
    fn from_claims(claims: &IdTokenClaims) -> Self {
        // A launch without a course is recorded in a per-deployment stand-in
        // course, so that work done there still has a course to belong to.
        let (context_id, context_label, context_title) = match &claims.context {
            Some(context) if !context.id.trim().is_empty() => {
                (context.id.clone(), context.label.clone(), context.title.clone())
            }
            _ => (format!("(no course) deployment {}", claims.deployment_id.as_deref().unwrap_or_default()), None, None),
        };
        Self {
            subject: claims.sub.clone().unwrap_or_default(),
            name: claims.display_name(),
            email: claims.email.clone().filter(|e| !e.trim().is_empty()),
            context_id,
            context_label,
            context_title,
            link: match &claims.resource_link {
                Some(link) if !link.id.trim().is_empty() => Some((link.id.clone(), link.title.clone())),
                _ => None,
            },
            credential: claims.custom_str(CUSTOM_CREDENTIAL).filter(|slug| !slug.trim().is_empty()),
            roles: RoleSet::from_claim(claims.roles.as_deref().unwrap_or_default()),
        }
    }

    /// Report whether the session's micro-credential is known before the
    /// rows are stored: the launch names one, or it has no link. Else it is
    /// the one deep linking stored with the link.
    fn credential_known(&self) -> bool {
        self.credential.is_some() || self.link.is_none()
    }

    fn user<'a>(&'a self, platform: &'a platform::Model) -> UserRecord<'a> {
        UserRecord {
            platform_id: platform.id,
            issuer: &platform.issuer,
            subject: &self.subject,
            name: self.name.as_deref(),
            email: self.email.as_deref(),
        }
    }

    fn course<'a>(&'a self, platform: &'a platform::Model) -> ContextRecord<'a> {
        ContextRecord {
            platform_id: platform.id,
            issuer: &platform.issuer,
            context_id: &self.context_id,
            label: self.context_label.as_deref(),
            title: self.context_title.as_deref(),
        }
    }

    fn link(&self) -> Option<ResourceLinkRecord<'_>> {
        self.link.as_ref().map(|(id, title)| ResourceLinkRecord {
            resource_link_id: id,
            title: title.as_deref(),
            credential_slug: self.credential.as_deref(),
        })
    }
}

/// Collect the details that a session keeps from its launch's claims.
fn launch_details(claims: &IdTokenClaims, credential: Option<String>) -> LaunchDetails {
    LaunchDetails {
        deployment_id: claims.deployment_id.clone().unwrap_or_default(),
        ags: claims.ags.clone(),
        nrps: claims.nrps.clone(),
        deep_linking: claims.deep_linking_settings.clone(),
        for_user: claims.for_user.clone(),
        return_url: claims.launch_presentation.as_ref().and_then(|p| p.return_url.clone()),
        credential,
        platform_name: claims.tool_platform.as_ref().and_then(|p| p.name.clone()),
    }
}

/// Describe a launch's new session; its user, course and link keys come
/// from `ids` or, when the session is stored with those rows, from them.
fn new_session(
    platform: &platform::Model,
    deployment_pk: i64,
    inputs: &LaunchInputs,
    message_type: MessageType,
    details: LaunchDetails,
    ids: Option<(&user::Model, &context::Model, Option<&resource_link::Model>)>,
) -> NewSession {
    NewSession {
        user_id: ids.map(|(user, _, _)| user.id).unwrap_or_default(),
        platform_id: platform.id,
        deployment_pk,
        context_pk: ids.map(|(_, course, _)| course.id),
        resource_link_pk: ids.and_then(|(_, _, link)| link.map(|l| l.id)),
        roles: inputs.roles.clone(),
        message_type,
        details,
    }
}

/// Build the completed launch from its stored rows.
fn completed(session_token: String, rows: LaunchRows, roles: RoleSet, message_type: MessageType) -> Result<CompletedLaunch, FlowError> {
    let LaunchRows { user, context, resource_link: _, session } = rows;
    let row = session.ok_or(sea_orm::DbErr::RecordNotInserted)?;
    let user_id = user.id;
    let session = sessions::Session::from_rows(row, Some(user), Some(context));
    Ok(CompletedLaunch { session_token, session, message_type, roles, user_id, state: String::new(), landing: None })
}

async fn record_launch<C: ConnectionTrait>(
    db: &C,
    max_session_hours: i64,
    platform: &platform::Model,
    deployment_pk: i64,
    claims: &IdTokenClaims,
    message_type: MessageType,
) -> Result<CompletedLaunch, FlowError> {
    let inputs = LaunchInputs::from_claims(claims);
    let (user, course, link) = (inputs.user(platform), inputs.course(platform), inputs.link());
    // Unless the session's micro-credential is the one deep linking stored
    // with the link, the session goes to the database with the other rows.
    let (session_token, rows) = if inputs.credential_known() {
        let details = launch_details(claims, inputs.credential.clone());
        let new = new_session(platform, deployment_pk, &inputs, message_type, details, None);
        let (token, row) = sessions::new_row(max_session_hours, new)?;
        (token, launch_store::upsert_launch_rows(db, user, course, link, Some(row)).await?)
    } else {
        let rows = launch_store::upsert_launch_rows(db, user, course, link, None).await?;
        let stored = rows.resource_link.as_ref().and_then(|l| l.credential_slug.clone());
        let ids = Some((&rows.user, &rows.context, rows.resource_link.as_ref()));
        let new = new_session(platform, deployment_pk, &inputs, message_type, launch_details(claims, stored), ids);
        let (token, row) = sessions::create(db, max_session_hours, new).await?;
        (token, LaunchRows { session: Some(row), ..rows })
    };
    if let (Some(ags), Some(link)) = (&claims.ags, &rows.resource_link) {
        crate::advantage::passback::record_link_services(db, platform.id, link.id, ags).await?;
    }
    completed(session_token, rows, inputs.roles.clone(), message_type)
}
