//! Verification of a launch's id_token against the registration that the
//! login state names.
//!
//! The registration comes from the state the tool stored at login, never
//! from the token itself, so the token is only ever read after its
//! signature has been checked with that registration's keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};

use crate::claims::{Audience, IdTokenClaims, MessageType};
use crate::error::LaunchError;
use crate::jwks::KeySetCache;

/// The platform registration a launch must come from.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedPlatform<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub jwks_url: &'a str,
}

/// Clock tolerances.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Seconds of clock skew tolerated on `exp`.
    pub exp_leeway_secs: u64,
    /// Seconds an `iat` may lie in the future (platform clocks run ahead).
    pub iat_future_secs: i64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self { exp_leeway_secs: 60, iat_future_secs: 60 }
    }
}

/// Verify the signature and the registration-bound claims of an id_token:
/// RS256 with a `kid` from the platform's key set, `iss`, `aud` and `azp`,
/// `exp` and `iat`. Message-level claims are checked by [`check_message`].
pub async fn verify_id_token(
    token: &str,
    expected: ExpectedPlatform<'_>,
    keys: &KeySetCache,
    options: VerifyOptions,
    now_unix: i64,
) -> Result<IdTokenClaims, LaunchError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| header_error(token))?;
    if header.alg != Algorithm::RS256 {
        return Err(LaunchError::UnsupportedAlgorithm { alg: format!("{:?}", header.alg) });
    }
    let kid = header.kid.filter(|kid| !kid.is_empty()).ok_or(LaunchError::MissingKid)?;
    let key = keys.key(expected.jwks_url, &kid).await?;

    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = options.exp_leeway_secs;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).map_err(|e| {
        match e.kind() {
            ErrorKind::InvalidSignature => LaunchError::BadSignature,
            ErrorKind::ExpiredSignature => LaunchError::Expired,
            ErrorKind::MissingRequiredClaim(_) => LaunchError::MissingClaim { claim: "exp" },
            other => LaunchError::MalformedToken { detail: format!("{other:?}") },
        }
    })?;

    let payload = data.claims;
    for claim in ["iss", "aud", "iat"] {
        if payload.get(claim).is_none() {
            return Err(LaunchError::MissingClaim { claim: static_claim(claim) });
        }
    }
    let claims: IdTokenClaims = serde_json::from_value(payload)
        .map_err(|e| LaunchError::InvalidClaim { claim: "payload", detail: e.to_string() })?;

    if claims.iss != expected.issuer {
        return Err(LaunchError::WrongIssuer { expected: expected.issuer.to_string(), found: claims.iss });
    }
    check_audience(&claims, expected.client_id)?;
    if claims.iat > now_unix + options.iat_future_secs {
        return Err(LaunchError::IssuedInFuture);
    }
    Ok(claims)
}

fn static_claim(name: &str) -> &'static str {
    match name {
        "iss" => "iss",
        "aud" => "aud",
        "iat" => "iat",
        _ => "unknown",
    }
}

/// Name the problem with a header that jsonwebtoken could not read; an
/// `alg` of `none` is the common one.
fn header_error(token: &str) -> LaunchError {
    let alg = token
        .split('.')
        .next()
        .and_then(|part| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|header| header.get("alg").and_then(|alg| alg.as_str()).map(str::to_string));
    match alg {
        Some(alg) => LaunchError::UnsupportedAlgorithm { alg },
        None => LaunchError::MalformedToken { detail: "the header is not a JWT header".to_string() },
    }
}

fn check_audience(claims: &IdTokenClaims, client_id: &str) -> Result<(), LaunchError> {
    if !claims.aud.contains(client_id) {
        return Err(LaunchError::WrongAudience { client_id: client_id.to_string() });
    }
    let several = matches!(&claims.aud, Audience::Many(auds) if auds.len() > 1);
    match claims.azp.as_deref() {
        Some(azp) if azp != client_id => {
            Err(LaunchError::WrongAuthorizedParty { client_id: client_id.to_string() })
        }
        None if several => Err(LaunchError::WrongAuthorizedParty { client_id: client_id.to_string() }),
        _ => Ok(()),
    }
}

/// Check the LTI message claims: version, message type and the claims that
/// type requires. Returns the message type.
pub fn check_message(claims: &IdTokenClaims) -> Result<MessageType, LaunchError> {
    let version = claims.version.as_deref().ok_or(LaunchError::MissingClaim { claim: "version" })?;
    if version != "1.3.0" {
        return Err(LaunchError::UnsupportedVersion { version: version.to_string() });
    }
    let raw_type = claims.message_type.as_deref().ok_or(LaunchError::MissingMessageType)?;
    let message_type = MessageType::parse(raw_type)
        .ok_or_else(|| LaunchError::UnsupportedMessageType { message_type: raw_type.to_string() })?;
    if claims.sub.as_deref().is_none_or(|sub| sub.trim().is_empty()) {
        return Err(LaunchError::MissingClaim { claim: "sub" });
    }
    if claims.roles.is_none() {
        return Err(LaunchError::MissingClaim { claim: "roles" });
    }
    if claims.deployment_id.as_deref().is_none_or(|d| d.trim().is_empty()) {
        return Err(LaunchError::MissingClaim { claim: "deployment_id" });
    }
    match message_type {
        MessageType::LtiResourceLinkRequest => {
            if claims.resource_link.as_ref().is_none_or(|link| link.id.trim().is_empty()) {
                return Err(LaunchError::MissingClaim { claim: "resource_link.id" });
            }
        }
        MessageType::LtiDeepLinkingRequest => {
            if claims.deep_linking_settings.is_none() {
                return Err(LaunchError::MissingClaim { claim: "deep_linking_settings" });
            }
        }
        MessageType::LtiSubmissionReviewRequest => {
            if claims.resource_link.as_ref().is_none_or(|link| link.id.trim().is_empty()) {
                return Err(LaunchError::MissingClaim { claim: "resource_link.id" });
            }
            if claims.for_user.is_none() {
                return Err(LaunchError::MissingClaim { claim: "for_user" });
            }
        }
    }
    Ok(message_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(value: serde_json::Value) -> IdTokenClaims {
        serde_json::from_value(value).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "iss": "https://lms.example.org", "aud": "c1", "exp": 2000000000, "iat": 1000, "sub": "u1",
            "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
            "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
            "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "d1",
            "https://purl.imsglobal.org/spec/lti/claim/roles": [],
            "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "r1"}
        })
    }

    #[test]
    fn audience_array_needs_azp() {
        let mut value = base();
        value["aud"] = serde_json::json!(["c1", "other"]);
        let err = check_audience(&claims(value.clone()), "c1").unwrap_err();
        assert_eq!(err.code(), "wrong_azp");
        value["azp"] = serde_json::json!("c1");
        assert!(check_audience(&claims(value), "c1").is_ok());
    }

    #[test]
    fn audience_single_array_without_azp() {
        let mut value = base();
        value["aud"] = serde_json::json!(["c1"]);
        assert!(check_audience(&claims(value), "c1").is_ok());
    }

    #[test]
    fn message_accepts_resource_link() {
        assert_eq!(check_message(&claims(base())).unwrap(), MessageType::LtiResourceLinkRequest);
    }

    #[test]
    fn message_rejects_version_1_2() {
        let mut value = base();
        value["https://purl.imsglobal.org/spec/lti/claim/version"] = serde_json::json!("1.2.0");
        assert_eq!(check_message(&claims(value)).unwrap_err().code(), "unsupported_version");
    }

    #[test]
    fn message_rejects_missing_resource_link() {
        let mut value = base();
        value.as_object_mut().unwrap().remove("https://purl.imsglobal.org/spec/lti/claim/resource_link");
        let err = check_message(&claims(value)).unwrap_err();
        assert_eq!(err, LaunchError::MissingClaim { claim: "resource_link.id" });
    }

    #[test]
    fn header_error_names_alg_none() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let token = format!("{header}.e30.");
        assert_eq!(header_error(&token), LaunchError::UnsupportedAlgorithm { alg: "none".into() });
    }
}
