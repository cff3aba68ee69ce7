//! Compact JWS minting, including deliberately broken tokens for rejection tests.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Map, Value};

use crate::keys::TestKey;

/// The kid that [`SigningChoice::UnknownKid`] puts in the header. No platform
/// publishes it.
pub const UNKNOWN_KID: &str = "testkit-kid-not-in-jwks";

/// Suffix that [`SigningChoice::TamperedPayload`] appends to the `sub` claim.
pub const TAMPERED_SUB_SUFFIX: &str = "-tampered";

/// Signing method for an id_token, including deliberately broken ones.
///
/// Only [`SigningChoice::CurrentKey`] and a [`SigningChoice::Key`] whose key
/// the JWKS publishes produce a token that a correct tool accepts.
#[derive(Clone, Debug, Default)]
pub enum SigningChoice {
    /// RS256 with the platform's current signing key, `kid` in the header.
    #[default]
    CurrentKey,
    /// RS256 with this key and its kid, whether the JWKS publishes it or not
    /// (for example a key that was rotated out).
    Key(TestKey),
    /// RS256 with the current signing key, but no `kid` header.
    NoKid,
    /// RS256 with the current signing key, with kid [`UNKNOWN_KID`].
    UnknownKid,
    /// An unsigned token: header `{"alg":"none"}` and an empty signature.
    AlgNone,
    /// HS256 keyed with this secret, with the current key's kid.
    Hs256 { secret: Vec<u8> },
    /// HS256 keyed with the current key's public PEM, the classic algorithm
    /// confusion attack on verifiers that take `alg` from the token.
    Hs256WithPublicKey,
    /// RS256 with a key the JWKS does not publish, under the current key's
    /// kid, so the signature does not verify.
    UnpublishedKey,
    /// A correct RS256 signature over the claims, after which the payload is
    /// replaced by the same claims with [`TAMPERED_SUB_SUFFIX`] appended to
    /// `sub` (or `"tampered": true` added when there is no string `sub`).
    TamperedPayload,
}

/// Keys a minting call can draw on.
pub(crate) struct MintingKeys<'a> {
    pub signing: &'a TestKey,
    /// A key whose material the JWKS does not publish, for `UnpublishedKey`.
    pub unpublished: &'a TestKey,
}

/// Encodes and signs `claims` as a compact JWS with the method `choice` selects.
pub(crate) fn mint(claims: &Value, choice: &SigningChoice, keys: &MintingKeys<'_>) -> String {
    let signing = keys.signing;
    match choice {
        SigningChoice::CurrentKey => sign_rs256(claims, signing, Some(signing.kid())),
        SigningChoice::Key(key) => sign_rs256(claims, key, Some(key.kid())),
        SigningChoice::NoKid => sign_rs256(claims, signing, None),
        SigningChoice::UnknownKid => sign_rs256(claims, signing, Some(UNKNOWN_KID)),
        SigningChoice::AlgNone => {
            let header = json!({ "alg": "none", "typ": "JWT" });
            format!("{}.{}.", encode_segment(&header), encode_segment(claims))
        }
        SigningChoice::Hs256 { secret } => {
            sign_hs256(claims, &EncodingKey::from_secret(secret), signing.kid())
        }
        SigningChoice::Hs256WithPublicKey => {
            let secret = EncodingKey::from_secret(signing.public_key_pem().as_bytes());
            sign_hs256(claims, &secret, signing.kid())
        }
        SigningChoice::UnpublishedKey => sign_rs256(claims, keys.unpublished, Some(signing.kid())),
        SigningChoice::TamperedPayload => {
            let token = sign_rs256(claims, signing, Some(signing.kid()));
            let mut segments: Vec<&str> = token.split('.').collect();
            let tampered = encode_segment(&tamper(claims));
            segments[1] = &tampered;
            segments.join(".")
        }
    }
}

fn sign_rs256(claims: &Value, key: &TestKey, kid: Option<&str>) -> String {
    let mut header = Map::new();
    header.insert("alg".into(), json!("RS256"));
    header.insert("typ".into(), json!("JWT"));
    if let Some(kid) = kid {
        header.insert("kid".into(), json!(kid));
    }
    sign(
        &Value::Object(header),
        claims,
        key.encoding_key(),
        Algorithm::RS256,
    )
}

fn sign_hs256(claims: &Value, key: &EncodingKey, kid: &str) -> String {
    let header = json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
    sign(&header, claims, key, Algorithm::HS256)
}

fn sign(header: &Value, claims: &Value, key: &EncodingKey, algorithm: Algorithm) -> String {
    let signing_input = format!("{}.{}", encode_segment(header), encode_segment(claims));
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, algorithm)
        .expect("signing a test id_token failed");
    format!("{signing_input}.{signature}")
}

fn tamper(claims: &Value) -> Value {
    let mut tampered = claims.clone();
    if let Some(object) = tampered.as_object_mut() {
        match object.get("sub").and_then(Value::as_str) {
            Some(sub) => {
                let changed = format!("{sub}{TAMPERED_SUB_SUFFIX}");
                object.insert("sub".into(), Value::String(changed));
            }
            None => {
                object.insert("tampered".into(), Value::Bool(true));
            }
        }
    }
    tampered
}

fn encode_segment(value: &Value) -> String {
    let bytes = serde_json::to_vec(value).expect("serializing a JSON value cannot fail");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes the payload of a compact JWS without checking anything, for tests
/// that want to read or change a minted token.
///
/// Returns `None` when `token` has no second segment or it is not base64url
/// JSON.
pub fn decode_payload_unverified(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Decodes the header of a compact JWS without checking anything.
pub fn decode_header_unverified(token: &str) -> Option<Value> {
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    serde_json::from_slice(&bytes).ok()
}
