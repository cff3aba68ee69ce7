//! Sessions opened by a launch. The browser holds a random token; the
//! database holds its SHA-256, the user, course, roles and launch details.
//! A session ends after `session.idle_minutes` without use or
//! `session.max_hours` after the launch, whichever comes first.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use microcred_lti::{MessageType, Role, RoleSet};
use rand::RngCore;
use sea_orm::ConnectionTrait;
use sha2::{Digest, Sha256};

use crate::launch::LaunchDetails;
use crate::state::AppState;
use crate::store::entities::{context, session, user};
use crate::store::sessions as session_store;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "microcred_session";

/// Writes to `last_seen_at` are skipped when the previous one is this recent.
const TOUCH_INTERVAL_SECS: i64 = 60;

pub struct NewSession {
    pub user_id: i64,
    pub platform_id: i64,
    pub deployment_pk: i64,
    pub context_pk: Option<i64>,
    pub resource_link_pk: Option<i64>,
    pub roles: RoleSet,
    pub message_type: MessageType,
    pub details: LaunchDetails,
}

/// A live session, as handlers see it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub platform_id: i64,
    pub deployment_pk: i64,
    pub context_pk: Option<i64>,
    pub resource_link_pk: Option<i64>,
    pub roles: RoleSet,
    pub message_type: MessageType,
    pub details: LaunchDetails,
    pub expires_at: DateTime<Utc>,
    /// The user's row, read with the session. `None` only if the user was deleted.
    pub user: Option<user::Model>,
    /// The course's row, read with the session.
    pub course: Option<context::Model>,
}

/// The id a session is stored under: the SHA-256 of its token, in hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Open a session that ends `max_hours` from now and return its token with
/// the stored row. `db` may be a transaction, so that the session is stored
/// with the rest of a launch.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    max_hours: i64,
    new: NewSession,
) -> anyhow::Result<(String, session::Model)> {
    let (token, row) = new_row(max_hours, new)?;
    session_store::insert(db, row.clone()).await?;
    Ok((token, row))
}

/// Make the token and the row, not yet stored, of a session that ends
/// `max_hours` from now.
pub fn new_row(max_hours: i64, new: NewSession) -> anyhow::Result<(String, session::Model)> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let now = Utc::now();
    let row = session::Model {
        id: hash_token(&token),
        user_id: new.user_id,
        platform_id: new.platform_id,
        deployment_pk: new.deployment_pk,
        context_pk: new.context_pk,
        resource_link_pk: new.resource_link_pk,
        roles: new.roles.to_storage(),
        message_type: new.message_type.as_str().to_string(),
        launch: serde_json::to_string(&new.details)?,
        created_at: now,
        expires_at: now + Duration::hours(max_hours),
        last_seen_at: now,
    };
    Ok((token, row))
}

/// Find the live session for a token, refreshing its idle timer.
pub async fn resolve(app: &AppState, token: &str) -> anyhow::Result<Option<Session>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    resolve_by_id(app, &hash_token(token)).await
}

/// Find the live session stored under `id` (the hash of its token),
/// refreshing its idle timer.
pub async fn resolve_by_id(app: &AppState, id: &str) -> anyhow::Result<Option<Session>> {
    if id.len() != 64 {
        return Ok(None);
    }
    if let Some(session) = app.fresh_sessions.take(id).filter(|session| session.expires_at > Utc::now()) {
        return Ok(Some(session));
    }
    let id = id.to_string();
    let Some((row, user, course)) = session_store::find_with_user_and_course(&app.db, &id).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let idle_limit = row.last_seen_at + Duration::minutes(app.settings.session.idle_minutes);
    if row.expires_at <= now || idle_limit <= now {
        return Ok(None);
    }
    if (now - row.last_seen_at).num_seconds() >= TOUCH_INTERVAL_SECS {
        session_store::touch(&app.db, &id, now).await?;
    }
    Ok(Some(Session::from_rows(row, user, course)))
}

impl Session {
    /// Build the session that `row` stores, with its user's and course's rows.
    pub fn from_rows(row: session::Model, user: Option<user::Model>, course: Option<context::Model>) -> Self {
        let message_type = MessageType::parse(&row.message_type).unwrap_or(MessageType::LtiResourceLinkRequest);
        Self {
            user_id: row.user_id,
            platform_id: row.platform_id,
            deployment_pk: row.deployment_pk,
            context_pk: row.context_pk,
            resource_link_pk: row.resource_link_pk,
            roles: RoleSet::from_storage(&row.roles),
            message_type,
            details: serde_json::from_str(&row.launch).unwrap_or_default(),
            expires_at: row.expires_at,
            id: row.id,
            user,
            course,
        }
    }

    /// Return the micro-credential whose overview the session's landing
    /// page shows: the one its launch names, when the user takes part as a
    /// participant.
    pub fn landing_credential(&self) -> Option<&str> {
        match self.roles.primary() {
            Role::Participant => self.details.credential.as_deref(),
            _ => None,
        }
    }
}

/// How long a session opened by a launch waits here for its first request.
pub const FRESH_SESSION_SECS: u64 = 10;

/// Maximum number of sessions kept for their first request. A launch whose first request
/// goes to another instance leaves its session here until it is pruned.
pub const FRESH_SESSION_LIMIT: usize = 2048;

/// Sessions that launches on this instance just opened, kept for the first
/// request of each, which a launch's redirect sends right away. Every later
/// request reads the session's row, and so does a first request on another
/// instance. A session row changes only when it is used or when it
/// expires, hours later, so the kept copy is the stored row.
pub type FreshSessions = crate::handoff::Handoff<Session>;

/// Create the map of fresh sessions with its age and size limits.
pub fn fresh_sessions() -> FreshSessions {
    FreshSessions::new(std::time::Duration::from_secs(FRESH_SESSION_SECS), FRESH_SESSION_LIMIT)
}
