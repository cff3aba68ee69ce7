//! The tool's RSA key pairs: generated on first start, published in the
//! JWKS, rotated by `microcred keys rotate`.
//!
//! Rotation moves each key through `next` (published, not signing),
//! `active` (signing), `retiring` (published until every token it signed
//! has expired) and `retired`. One rotation step promotes the `next` key,
//! moves the old active key to `retiring`, retires keys past their time and
//! creates a new `next` key, so a key is always published before it signs.
//!
//! A `next` key signs only after it has been published for
//! `keys.min_published_secs`, so platforms that cache the tool's key set
//! know it before they see a token it signed. Steps run one at a time
//! across every instance (a write lock on SQLite, an advisory lock on
//! PostgreSQL), so running `microcred keys rotate` on several machines at
//! once is safe: a second step finds a fresh `next` key and waits.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::EncodingKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::store::entities::tool_key;
use crate::store::keys as key_store;

/// A key ready to sign.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub key: EncodingKey,
}

/// Generate an RSA 2048 key pair; returns its kid, PKCS#8 PEM and public JWK.
pub fn generate() -> anyhow::Result<(String, String, String)> {
    let mut rng = rand::thread_rng();
    let private = RsaPrivateKey::new(&mut rng, 2048)?;
    let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
    // RFC 7638 thumbprint: SHA-256 of the required members in lexical order.
    let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
    let jwk = json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": n, "e": e});
    let pem = private.to_pkcs8_pem(LineEnding::LF)?.to_string();
    Ok((kid, pem, jwk.to_string()))
}

/// Make sure a signing key exists, creating the first one on first start,
/// with a `next` key published beside it for the first rotation. Run it
/// inside the transaction of `store::begin_setup`, so that instances
/// starting together create one key.
pub async fn ensure_signing_key<C: ConnectionTrait>(db: &C) -> anyhow::Result<()> {
    if key_store::signing(db).await?.is_some() {
        return Ok(());
    }
    let (active, next) = (generate()?, generate()?);
    key_store::insert(db, &active.0, &active.1, &active.2, key_store::STATUS_ACTIVE).await?;
    key_store::insert(db, &next.0, &next.1, &next.2, key_store::STATUS_NEXT).await?;
    tracing::info!(kid = %active.0, "created the tool's first signing key");
    Ok(())
}

/// Take the rotation lock for the rest of the transaction.
async fn lock_rotation<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    match txn.get_database_backend() {
        DbBackend::Postgres => {
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7340032001)").await?;
        }
        _ => {
            // Any write takes SQLite's single write lock until commit.
            txn.execute_unprepared("UPDATE tool_keys SET status = status WHERE id < 0").await?;
        }
    }
    Ok(())
}

/// The current signing key.
pub async fn signing_key(db: &DatabaseConnection) -> anyhow::Result<SigningKey> {
    let row = key_store::signing(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the tool has no active signing key; run `microcred keys rotate`"))?;
    let key = EncodingKey::from_rsa_pem(row.private_key_pem.as_bytes())?;
    Ok(SigningKey { kid: row.kid, key })
}

/// The public key set published at `/.well-known/jwks.json`.
pub async fn jwks(db: &DatabaseConnection) -> Result<serde_json::Value, DbErr> {
    let keys: Vec<serde_json::Value> = key_store::published(db)
        .await?
        .iter()
        .filter_map(|row| serde_json::from_str(&row.public_jwk).ok())
        .collect();
    Ok(json!({ "keys": keys }))
}

/// What one rotation step changed.
#[derive(Debug, Default)]
pub struct RotationReport {
    pub activated: Option<String>,
    pub retiring: Vec<String>,
    pub retired: Vec<String>,
    pub created_next: Option<String>,
    /// A `next` key too recently published to sign, and when it may.
    pub waiting: Option<(String, DateTime<Utc>)>,
}

/// How long keys stay in each state.
#[derive(Debug, Clone, Copy)]
pub struct RotationTimes {
    /// How long a key stays published after it stops signing.
    pub retire_after: Duration,
    /// How long a key must have been published before it signs.
    pub min_published: Duration,
}

/// Run one rotation step (see the module docs). Safe to run while the tool
/// serves launches, and on several instances at once: every step is one
/// transaction under the rotation lock, and the signer reads the active key
/// per use.
pub async fn rotate(db: &DatabaseConnection, times: RotationTimes) -> anyhow::Result<RotationReport> {
    let fresh = generate()?;
    let txn = db.begin().await?;
    lock_rotation(&txn).await?;
    let now = Utc::now();
    let mut report = RotationReport::default();
    let keys = key_store::all(&txn).await?;
    for key in keys.iter().filter(|k| k.status == key_store::STATUS_RETIRING) {
        if key.retire_after.is_some_and(|at| at <= now) {
            key_store::set_status(&txn, key.id, key_store::STATUS_RETIRED, None, None).await?;
            report.retired.push(key.kid.clone());
        }
    }
    let next: Vec<&tool_key::Model> = keys.iter().filter(|k| k.status == key_store::STATUS_NEXT).collect();
    let ready = next.iter().rev().find(|k| k.created_at + times.min_published <= now);
    match (ready, next.last()) {
        (Some(promoted), _) => {
            for key in keys.iter().filter(|k| k.status == key_store::STATUS_ACTIVE) {
                let until = Some(now + times.retire_after);
                key_store::set_status(&txn, key.id, key_store::STATUS_RETIRING, None, until).await?;
                report.retiring.push(key.kid.clone());
            }
            key_store::set_status(&txn, promoted.id, key_store::STATUS_ACTIVE, Some(now), None).await?;
            report.activated = Some(promoted.kid.clone());
            key_store::insert(&txn, &fresh.0, &fresh.1, &fresh.2, key_store::STATUS_NEXT).await?;
            report.created_next = Some(fresh.0);
        }
        (None, Some(young)) => {
            report.waiting = Some((young.kid.clone(), young.created_at + times.min_published));
        }
        (None, None) => {
            key_store::insert(&txn, &fresh.0, &fresh.1, &fresh.2, key_store::STATUS_NEXT).await?;
            report.created_next = Some(fresh.0);
        }
    }
    txn.commit().await?;
    Ok(report)
}

/// Retire keys whose retiring time has passed; run by housekeeping, so a
/// key leaves the key set on time without another rotation.
pub async fn retire_expired(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let now = Utc::now();
    let mut retired = Vec::new();
    for key in key_store::all(db).await? {
        if key.status == key_store::STATUS_RETIRING && key.retire_after.is_some_and(|at| at <= now) {
            key_store::set_status(db, key.id, key_store::STATUS_RETIRED, None, None).await?;
            retired.push(key.kid);
        }
    }
    Ok(retired)
}
