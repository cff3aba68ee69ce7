//! Login states carried by the platform as signed tokens.
//!
//! The state a login hands to the platform comes back with the id_token.
//! When it is a token, it contains the login's details itself: its id, the
//! nonce, the registration, the times and the login's parameters, under an
//! HMAC. A login then writes nothing to the database. The launch stores the
//! id when it uses the state up, so a second launch with the same state
//! finds the id used and is rejected. The state cookie contains only the id.
//!
//! A token is `id` + `.` + `base64url(details as JSON)` + `.` +
//! `base64url(HMAC-SHA256 over the id and the encoded details)`. Its key is
//! derived from the page token key, so a tag made for one kind of token
//! never verifies as the other. A state without a dot is the id of a row
//! stored at login: the form used when the details would make the token
//! too long for the platform's authorization URL.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::Mac;
use serde::{Deserialize, Serialize};

use crate::page_token::{keyed_hmac, HmacSha256, PageTokenKey};
use crate::store::entities::login_state;

/// Maximum length of a state issued as a token. A login whose token would
/// be longer stores its state as a row instead, so that the authorization
/// URL stays well within what web servers accept. The login's parameters,
/// which the platform chooses, make up most of a token's length.
/// NOTE: 2,048 is an estimate of what web servers in front of an LMS accept,
/// not a limit that an LMS documents.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Maximum length of a state that a launch reads. A longer one is rejected unread.
const MAX_STATE_LEN: usize = 4096;

/// Label mixed into the key derivation, so that this key differs from the page token key.
const PURPOSE: &str = "login state";

/// The key that signs login state tokens.
#[derive(Clone)]
pub struct LoginStateKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for LoginStateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginStateKey(***)")
    }
}

/// A login's details as a token carries them, under short names.
#[derive(Serialize, Deserialize)]
struct Details {
    #[serde(rename = "n")]
    nonce: String,
    #[serde(rename = "p")]
    platform_id: i64,
    #[serde(rename = "c")]
    created_at: i64,
    #[serde(rename = "e")]
    expires_at: i64,
    #[serde(rename = "t")]
    target_link_uri: String,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    storage_target: Option<String>,
    /// The login parameters, without the ones that were absent.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    login_params: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A state as a launch received it.
#[derive(Debug, PartialEq, Eq)]
pub enum Carried {
    /// A token whose tag verified, with the details it carries. It is
    /// unused and has no continuation, as far as the token can tell.
    Token(login_state::Model),
    /// The id of a state stored at login.
    Stored(String),
}

/// Reason a state is not a token that this tool issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the login state is not in the form this tool issues")]
    Malformed,
    #[error("the login state's signature does not verify")]
    BadSignature,
}

/// Return the id of a state: the whole state when it was stored, the part
/// before the first dot when it is a token.
pub fn state_id(state: &str) -> &str {
    state.split('.').next().unwrap_or(state)
}

impl LoginStateKey {
    /// Derive the key from the page token key.
    pub fn derive_from(page_key: &PageTokenKey) -> Self {
        Self { key: page_key.derive(PURPOSE) }
    }

    fn mac(&self, id: &str, details: &str) -> HmacSha256 {
        let mut mac = keyed_hmac(&self.key);
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(details.as_bytes());
        mac
    }

    /// Seal a login state into a token. The state's `used_at` and
    /// `continuation` are not carried: a new state has neither.
    pub fn seal(&self, login: &login_state::Model) -> String {
        let login_params = login
            .login_params
            .as_deref()
            .and_then(|json| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).ok())
            .map(|mut params| {
                params.retain(|_, value| !value.is_null());
                params
            });
        let details = Details {
            nonce: login.nonce.clone(),
            platform_id: login.platform_id,
            created_at: login.created_at.timestamp(),
            expires_at: login.expires_at.timestamp(),
            target_link_uri: login.target_link_uri.clone(),
            storage_target: login.storage_target.clone(),
            login_params,
        };
        // serde_json fails only on a map with keys that are not strings or on a
        // failing `Serialize` impl, and `Details` has neither.
        let json = serde_json::to_vec(&details).unwrap_or_default();
        let encoded = URL_SAFE_NO_PAD.encode(json);
        let tag = self.mac(&login.state, &encoded).finalize().into_bytes();
        format!("{}.{encoded}.{}", login.state, URL_SAFE_NO_PAD.encode(tag))
    }

    /// Read a state that a launch received. Expiry is left to the caller,
    /// which checks it for stored states too.
    pub fn open(&self, state: &str) -> Result<Carried, StateError> {
        if state.len() > MAX_STATE_LEN || state.is_empty() {
            return Err(StateError::Malformed);
        }
        let mut parts = state.split('.');
        let (id, encoded, tag) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(id), None, None, None) => return Ok(Carried::Stored(id.to_string())),
            (Some(id), Some(encoded), Some(tag), None) if !id.is_empty() => (id, encoded, tag),
            _ => return Err(StateError::Malformed),
        };
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| StateError::Malformed)?;
        self.mac(id, encoded).verify_slice(&tag).map_err(|_| StateError::BadSignature)?;
        let json = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| StateError::Malformed)?;
        let details: Details = serde_json::from_slice(&json).map_err(|_| StateError::Malformed)?;
        let time = |secs: i64| DateTime::<Utc>::from_timestamp(secs, 0).ok_or(StateError::Malformed);
        Ok(Carried::Token(login_state::Model {
            state: id.to_string(),
            nonce: details.nonce,
            platform_id: details.platform_id,
            target_link_uri: details.target_link_uri,
            created_at: time(details.created_at)?,
            expires_at: time(details.expires_at)?,
            used_at: None,
            login_params: details.login_params.map(|params| serde_json::Value::Object(params).to_string()),
            storage_target: details.storage_target,
            continuation: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> LoginStateKey {
        LoginStateKey::derive_from(&PageTokenKey::from_bytes(vec![byte; 32]))
    }

    fn login() -> login_state::Model {
        let created_at = DateTime::<Utc>::from_timestamp(1_780_000_000, 0).unwrap();
        login_state::Model {
            state: "Zq3vN0aW2c5x8uY1mE7pTg".into(),
            nonce: "nonce-1".into(),
            platform_id: 42,
            target_link_uri: "https://tool.example/lti/launch".into(),
            created_at,
            expires_at: created_at + chrono::Duration::seconds(600),
            used_at: None,
            login_params: Some(r#"{"iss":"https://lms.example","login_hint":"u1","lti_message_hint":null}"#.into()),
            storage_target: Some("post_message_forwarding".into()),
            continuation: None,
        }
    }

    #[test]
    fn token_carries_the_login() {
        let key = key(7);
        let token = key.seal(&login());
        assert_eq!(state_id(&token), "Zq3vN0aW2c5x8uY1mE7pTg");
        let expected = login_state::Model {
            login_params: Some(r#"{"iss":"https://lms.example","login_hint":"u1"}"#.into()),
            ..login()
        };
        assert_eq!(key.open(&token), Ok(Carried::Token(expected)));
    }

    #[test]
    fn state_without_dots_names_a_stored_row() {
        assert_eq!(key(7).open("Zq3vN0aW2c5x8uY1mE7pTg"), Ok(Carried::Stored("Zq3vN0aW2c5x8uY1mE7pTg".into())));
        assert_eq!(state_id("Zq3vN0aW2c5x8uY1mE7pTg"), "Zq3vN0aW2c5x8uY1mE7pTg");
    }

    #[test]
    fn changed_details_do_not_verify() {
        let key = key(7);
        let token = key.seal(&login());
        let (id, rest) = token.split_once('.').unwrap();
        let tag = rest.split_once('.').unwrap().1;
        let forged = key.seal(&login_state::Model { platform_id: 43, ..login() });
        let forged_details = forged.split('.').nth(1).unwrap();
        assert_eq!(key.open(&format!("{id}.{forged_details}.{tag}")), Err(StateError::BadSignature));
    }

    #[test]
    fn another_id_does_not_verify() {
        let key = key(7);
        let token = key.seal(&login());
        let rest = token.split_once('.').unwrap().1;
        assert_eq!(key.open(&format!("AnotherIdOfTheSameSize.{rest}")), Err(StateError::BadSignature));
    }

    #[test]
    fn token_of_another_installation_does_not_verify() {
        let token = key(1).seal(&login());
        assert_eq!(key(7).open(&token), Err(StateError::BadSignature));
    }

    #[test]
    fn key_differs_from_the_page_token_key() {
        let page_key = PageTokenKey::from_bytes(vec![7; 32]);
        assert_ne!(LoginStateKey::derive_from(&page_key).key, vec![7; 32]);
        assert_ne!(LoginStateKey::derive_from(&page_key).key, page_key.derive("another purpose"));
    }

    #[test]
    fn malformed_states_are_rejected() {
        let key = key(7);
        let token = key.seal(&login());
        for state in [
            String::new(),
            "a.b".to_string(),
            ".details.tag".to_string(),
            format!("{token}.extra"),
            format!("{}!", token),
            "x".repeat(MAX_STATE_LEN + 1),
        ] {
            assert!(key.open(&state).is_err(), "{state:?} was accepted");
        }
    }
}
