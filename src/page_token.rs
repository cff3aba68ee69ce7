//! Signed page tokens: every page, link and form carries one, so that a
//! session works inside an LMS iframe whose browser keeps no cookie, and so
//! that every form post proves it came from a page the tool rendered
//! (protection against cross-site request forgery).
//!
//! A token is `base64url(session id hash ‖ expiry)` + `.` + `base64url(HMAC-SHA256)`,
//! keyed with a random secret stored in the database and shared by every
//! instance. It names the session, which holds the user, course and roles;
//! each rendered page gets a fresh token, so the token renews while in use.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, DatabaseConnection, DbErr, EntityTrait, Set};
use sha2::Sha256;

use crate::store::entities::secret;

pub(crate) type HmacSha256 = Hmac<Sha256>;

const SECRET_NAME: &str = "page_token_key";

/// The key that signs page tokens.
#[derive(Clone)]
pub struct PageTokenKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for PageTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokenKey(***)")
    }
}

impl PageTokenKey {
    /// Load the shared key, creating it on first start. When instances
    /// start together, the first insert wins and everyone reads it back.
    pub async fn load_or_create(db: &DatabaseConnection) -> Result<Self, DbErr> {
        if let Some(row) = secret::Entity::find_by_id(SECRET_NAME.to_string()).one(db).await? {
            return Self::decode(&row.value);
        }
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let inserted = secret::ActiveModel {
            name: Set(SECRET_NAME.to_string()),
            value: Set(URL_SAFE_NO_PAD.encode(bytes)),
            created_at: Set(Utc::now()),
        }
        .insert(db)
        .await;
        if inserted.is_err() {
            tracing::debug!("another instance created the page token key first");
        }
        let row = secret::Entity::find_by_id(SECRET_NAME.to_string())
            .one(db)
            .await?
            .ok_or_else(|| DbErr::Custom("the page token key could not be stored".into()))?;
        Self::decode(&row.value)
    }

    fn decode(value: &str) -> Result<Self, DbErr> {
        let key = URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|_| DbErr::Custom("the stored page token key is not base64url".into()))?;
        Ok(Self { key })
    }

    #[cfg(test)]
    fn for_tests() -> Self {
        Self { key: vec![7; 32] }
    }

    #[cfg(test)]
    pub(crate) fn from_bytes(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// Derive a key for another purpose from this one. A tag made with the
    /// derived key never verifies as a page token, and the reverse.
    pub fn derive(&self, purpose: &str) -> Vec<u8> {
        let mut mac = self.mac(b"microcred derived key: ");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = keyed_hmac(&self.key);
        mac.update(payload);
        mac
    }

    /// Issue a token for a session (by the hash stored as its id) valid for `ttl_secs`.
    pub fn issue(&self, session_id: &str, ttl_secs: i64) -> String {
        let expires = Utc::now().timestamp() + ttl_secs;
        let payload = format!("{session_id}:{expires}");
        let tag = self.mac(payload.as_bytes()).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
    }

    /// Check a token; returns the session id it names.
    pub fn verify(&self, token: &str) -> Result<String, TokenError> {
        if token.len() > 512 {
            return Err(TokenError::Malformed);
        }
        let (payload_b64, tag_b64) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag_b64).map_err(|_| TokenError::Malformed)?;
        self.mac(&payload).verify_slice(&tag).map_err(|_| TokenError::BadSignature)?;
        let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
        let (session_id, expires) = payload.rsplit_once(':').ok_or(TokenError::Malformed)?;
        let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        if expires < Utc::now().timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(session_id.to_string())
    }
}

/// Start an HMAC-SHA256 with `key`.
pub(crate) fn keyed_hmac(key: &[u8]) -> HmacSha256 {
    // `Hmac::new_from_slice` fails only for MACs with a fixed key size, and HMAC takes keys of any length.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC-SHA256 takes keys of any length"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the page token is malformed")]
    Malformed,
    #[error("the page token's signature does not verify")]
    BadSignature,
    #[error("the page token has expired")]
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip() {
        let key = PageTokenKey::for_tests();
        let token = key.issue("abc123", 60);
        assert_eq!(key.verify(&token).unwrap(), "abc123");
    }

    #[test]
    fn token_expired() {
        let key = PageTokenKey::for_tests();
        let token = key.issue("abc123", -5);
        assert_eq!(key.verify(&token).unwrap_err(), TokenError::Expired);
    }

    #[test]
    fn token_tampered() {
        let key = PageTokenKey::for_tests();
        let token = key.issue("abc123", 60);
        let forged_payload = URL_SAFE_NO_PAD.encode("other:9999999999");
        let tag = token.split_once('.').unwrap().1;
        assert_eq!(key.verify(&format!("{forged_payload}.{tag}")).unwrap_err(), TokenError::BadSignature);
    }

    #[test]
    fn token_from_other_key() {
        let token = PageTokenKey { key: vec![1; 32] }.issue("abc123", 60);
        assert_eq!(PageTokenKey::for_tests().verify(&token).unwrap_err(), TokenError::BadSignature);
    }

    #[test]
    fn token_malformed() {
        assert_eq!(PageTokenKey::for_tests().verify("nodot").unwrap_err(), TokenError::Malformed);
    }
}
