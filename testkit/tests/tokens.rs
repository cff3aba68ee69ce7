//! Minted id_tokens, signing choices, the JWKS endpoint and key rotation.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use microcred_testkit::jwt::{TAMPERED_SUB_SUFFIX, UNKNOWN_KID};
use microcred_testkit::{
    claim, decode_header_unverified, decode_payload_unverified, message_type, role, Browser,
    LaunchClaims, PlatformOptions, SigningChoice, StatusCode, TestKey, TestPlatform,
};
use serde_json::Value;

const TARGET: &str = "http://127.0.0.1:9/lti/launch";

async fn fetch_jwks(browser: &Browser, platform: &TestPlatform) -> JwkSet {
    let page = browser.get(&platform.jwks_url()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.summary());
    serde_json::from_str(&page.body).expect("the JWKS response is not a valid JWK set")
}

/// Verifies `token` the way a careful tool does: RS256 only, key chosen by
/// kid from the published JWKS, audience and issuer checked.
fn verify(platform: &TestPlatform, jwks: &JwkSet, token: &str) -> Result<Value, String> {
    // jsonwebtoken cannot even parse a header with alg "none".
    let header = jsonwebtoken::decode_header(token).map_err(|_| "unreadable header".to_owned())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not published"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|error| error.to_string())?;
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[platform.client_id()]);
    validation.set_issuer(&[platform.issuer()]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|error| match error.kind() {
            ErrorKind::InvalidSignature => "invalid signature".to_owned(),
            ErrorKind::InvalidAlgorithm => "invalid algorithm".to_owned(),
            other => format!("{other:?}"),
        })
}

#[tokio::test]
async fn minted_token_verifies_with_published_jwks() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let browser = Browser::new();
    let claims = platform.resource_link_claims(TARGET).with_nonce("n-1");

    let token = platform.mint_id_token(&claims, SigningChoice::CurrentKey);

    let jwks = fetch_jwks(&browser, &platform).await;
    let verified =
        verify(&platform, &jwks, &token).expect("a token signed with the current key must verify");
    assert_eq!(verified, claims.to_value());
    let header = decode_header_unverified(&token).expect("the header does not decode");
    assert_eq!(header["kid"], platform.signing_key().kid());
    assert_eq!(header["alg"], "RS256");
}

#[tokio::test]
async fn broken_signing_choices_fail_verification() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let browser = Browser::new();
    let claims = platform.resource_link_claims(TARGET);
    let jwks = fetch_jwks(&browser, &platform).await;
    let cases = [
        ("no kid", SigningChoice::NoKid, "no kid".to_owned()),
        (
            "unknown kid",
            SigningChoice::UnknownKid,
            format!("kid {UNKNOWN_KID} not published"),
        ),
        (
            "alg none",
            SigningChoice::AlgNone,
            "unreadable header".to_owned(),
        ),
        (
            "HS256 secret",
            SigningChoice::Hs256 {
                secret: b"shared-secret".to_vec(),
            },
            "invalid algorithm".to_owned(),
        ),
        (
            "HS256 public key",
            SigningChoice::Hs256WithPublicKey,
            "invalid algorithm".to_owned(),
        ),
        (
            "unpublished key",
            SigningChoice::UnpublishedKey,
            "invalid signature".to_owned(),
        ),
        (
            "tampered payload",
            SigningChoice::TamperedPayload,
            "invalid signature".to_owned(),
        ),
    ];

    for (name, choice, expected) in cases {
        let token = platform.mint_id_token(&claims, choice);

        let result = verify(&platform, &jwks, &token);

        assert_eq!(result, Err(expected), "{name}");
    }
}

#[tokio::test]
async fn broken_tokens_have_expected_shape() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let claims = platform.resource_link_claims(TARGET);
    let current_kid = platform.signing_key().kid().to_owned();

    let unsigned = platform.mint_id_token(&claims, SigningChoice::AlgNone);
    assert!(
        unsigned.ends_with('.'),
        "an alg none token has an empty signature: {unsigned}"
    );
    assert_eq!(
        decode_header_unverified(&unsigned).expect("header")["alg"],
        "none"
    );

    let hs256 = platform.mint_id_token(
        &claims,
        SigningChoice::Hs256 {
            secret: b"s".to_vec(),
        },
    );
    let header = decode_header_unverified(&hs256).expect("header");
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["kid"], current_kid.as_str());

    let unpublished = platform.mint_id_token(&claims, SigningChoice::UnpublishedKey);
    assert_eq!(
        decode_header_unverified(&unpublished).expect("header")["kid"],
        current_kid.as_str()
    );

    let tampered = platform.mint_id_token(&claims, SigningChoice::TamperedPayload);
    let payload = decode_payload_unverified(&tampered).expect("payload");
    let expected_sub = format!(
        "{}{TAMPERED_SUB_SUFFIX}",
        claims.sub().expect("claims have a sub")
    );
    assert_eq!(payload["sub"], expected_sub.as_str());
}

#[tokio::test]
async fn unpublished_key_with_all_fixed_published() {
    let options = PlatformOptions::default()
        .with_extra_key(TestKey::fixed(2))
        .with_extra_key(TestKey::fixed(3));
    let platform = TestPlatform::start(options).await;
    let jwks = fetch_jwks(&Browser::new(), &platform).await;
    let claims = platform.resource_link_claims(TARGET);

    let token = platform.mint_id_token(&claims, SigningChoice::UnpublishedKey);

    assert_eq!(
        verify(&platform, &jwks, &token),
        Err("invalid signature".to_owned())
    );
}

#[tokio::test]
async fn key_rotation_publishes_then_drops_keys() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let browser = Browser::new();
    let claims = platform.resource_link_claims(TARGET);
    let old_key = platform.signing_key();
    let new_key = TestKey::fixed(2);

    platform.rotate_to(new_key.clone());
    let during = fetch_jwks(&browser, &platform).await;
    let token = platform.mint_id_token(&claims, SigningChoice::CurrentKey);
    let old_token = platform.mint_id_token(&claims, SigningChoice::Key(old_key.clone()));

    assert_eq!(during.keys.len(), 2);
    assert!(
        during.find(old_key.kid()).is_some(),
        "the old key stays published during rotation"
    );
    assert_eq!(
        decode_header_unverified(&token).expect("header")["kid"],
        new_key.kid()
    );
    assert!(verify(&platform, &during, &token).is_ok());
    assert!(verify(&platform, &during, &old_token).is_ok());

    let removed = platform.remove_key(old_key.kid());
    let after = fetch_jwks(&browser, &platform).await;

    assert_eq!(removed.kid(), old_key.kid());
    assert_eq!(after.keys.len(), 1);
    assert!(verify(&platform, &after, &token).is_ok());
    assert_eq!(
        verify(&platform, &after, &old_token),
        Err(format!("kid {} not published", old_key.kid()))
    );
}

#[tokio::test]
#[should_panic(expected = "it is the signing key")]
async fn removing_signing_key_panics() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let kid = platform.signing_key().kid().to_owned();

    platform.remove_key(&kid);
}

#[tokio::test]
async fn jwks_endpoint_counts_fetches_and_sets_cache_control() {
    let platform =
        TestPlatform::start(PlatformOptions::default().with_jwks_cache_control(Some("max-age=60")))
            .await;
    let browser = Browser::new();

    let first = browser.get(&platform.jwks_url()).await;
    browser.get(&platform.jwks_url()).await;

    assert_eq!(platform.jwks_fetch_count(), 2);
    assert_eq!(first.header("cache-control"), Some("max-age=60"));
    assert!(first
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/json")));

    platform.set_jwks_cache_control(None);
    platform.reset_jwks_fetch_count();
    let uncached = browser.get(&platform.jwks_url()).await;

    assert_eq!(uncached.header("cache-control"), None);
    assert_eq!(platform.jwks_fetch_count(), 1);
}

#[tokio::test]
async fn jwks_failure_returns_status() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let browser = Browser::new();

    platform.set_jwks_failure(Some(503));
    let failed = browser.get(&platform.jwks_url()).await;
    platform.set_jwks_failure(None);
    let recovered = browser.get(&platform.jwks_url()).await;

    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(recovered.status, StatusCode::OK);
    assert_eq!(platform.jwks_fetch_count(), 2);
}

#[tokio::test]
async fn jwks_publishes_rsa_signing_keys() {
    let platform =
        TestPlatform::start(PlatformOptions::default().with_extra_key(TestKey::fixed(3))).await;

    let jwks = platform.jwks();

    let keys = jwks["keys"].as_array().expect("the JWKS has a keys array");
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["e"], "AQAB");
        assert!(
            key["n"].as_str().is_some_and(|n| n.len() > 300),
            "a 2048-bit modulus is 342 base64url characters"
        );
        assert!(
            key.get("d").is_none(),
            "the JWKS must not leak the private exponent"
        );
    }
}

#[test]
fn generated_key_signs_and_verifies() {
    let key = TestKey::generate();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &serde_json::json!({ "sub": "x", "exp": 4_000_000_000u64 }),
        key.encoding_key(),
    )
    .expect("signing with a generated key failed");

    let decoded = jsonwebtoken::decode::<Value>(
        &token,
        key.decoding_key(),
        &Validation::new(jsonwebtoken::Algorithm::RS256),
    );

    assert!(decoded.is_ok(), "{decoded:?}");
    assert!(key.kid().starts_with("testkit-generated-"));
    assert!(!key.same_material_as(&TestKey::fixed(1)));
}

#[test]
fn fixed_keys_are_distinct() {
    let keys: Vec<TestKey> = (1..=3).map(TestKey::fixed).collect();

    assert!(!keys[0].same_material_as(&keys[1]));
    assert!(!keys[1].same_material_as(&keys[2]));
    assert_eq!(keys[0].kid(), "testkit-fixed-1");
    assert!(keys[0].with_kid("other").same_material_as(&keys[0]));
}

#[tokio::test]
async fn resource_link_claims_are_complete() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;

    let claims = platform.resource_link_claims(TARGET);

    assert_eq!(claims.get_str(&["iss"]), Some(platform.issuer()));
    assert_eq!(claims.get_str(&["aud"]), Some(platform.client_id()));
    assert_eq!(claims.message_type(), Some(message_type::RESOURCE_LINK));
    assert_eq!(claims.get_str(&[claim::VERSION]), Some("1.3.0"));
    assert_eq!(claims.deployment_id(), Some(platform.deployment_id()));
    assert_eq!(claims.target_link_uri(), Some(TARGET));
    assert!(claims.get_str(&[claim::RESOURCE_LINK, "id"]).is_some());
    assert_eq!(
        claims.get(&[claim::ROLES]),
        Some(&serde_json::json!([role::LEARNER]))
    );
    assert!(claims.get_str(&[claim::CONTEXT, "id"]).is_some());
    assert!(claims.get(&[claim::TOOL_PLATFORM, "guid"]).is_some());
    assert!(claims
        .get(&[claim::LAUNCH_PRESENTATION, "return_url"])
        .is_some());
    assert!(claims.get(&[claim::CUSTOM]).is_some_and(Value::is_object));
    for name in ["sub", "name", "given_name", "family_name", "email"] {
        assert!(claims.get_str(&[name]).is_some(), "missing {name}");
    }
    let issued = claims.get(&["iat"]).and_then(Value::as_i64).expect("iat");
    let expires = claims.get(&["exp"]).and_then(Value::as_i64).expect("exp");
    assert!(expires > issued);
    assert!(
        claims.get(&["nonce"]).is_none(),
        "the platform fills in the nonce"
    );
    assert!(claims.get(&["azp"]).is_none());
}

#[tokio::test]
async fn claims_overrides_by_path() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;

    let claims = platform
        .resource_link_claims(TARGET)
        .with(&[claim::CONTEXT, "id"], "course-9")
        .with(&[claim::LIS, "person_sourcedid"], "sis-1")
        .without(&[claim::RESOURCE_LINK, "title"])
        .without(&["email"])
        .with_roles([role::INSTRUCTOR, role::INSTITUTION_FACULTY])
        .with_custom("badge_id", "b-7")
        .with_audiences(&[platform.client_id(), "another-client"]);

    assert_eq!(claims.get_str(&[claim::CONTEXT, "id"]), Some("course-9"));
    assert_eq!(claims.get_str(&[claim::CONTEXT, "label"]), Some("PD101"));
    assert_eq!(
        claims.get_str(&[claim::LIS, "person_sourcedid"]),
        Some("sis-1")
    );
    assert!(claims.get(&[claim::RESOURCE_LINK, "title"]).is_none());
    assert!(claims.get(&[claim::RESOURCE_LINK, "id"]).is_some());
    assert!(claims.get(&["email"]).is_none());
    assert_eq!(
        claims.get(&[claim::ROLES]),
        Some(&serde_json::json!([
            role::INSTRUCTOR,
            role::INSTITUTION_FACULTY
        ]))
    );
    assert_eq!(claims.get_str(&[claim::CUSTOM, "badge_id"]), Some("b-7"));
    assert_eq!(
        claims.get(&["aud"]),
        Some(&serde_json::json!([platform.client_id(), "another-client"]))
    );
    assert_eq!(claims.get_str(&["azp"]), Some(platform.client_id()));
}

#[tokio::test]
async fn deep_linking_and_submission_review_claims() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;

    let deep_linking = platform.deep_linking_claims(TARGET);
    let review = platform.submission_review_claims(TARGET, "learner-5");

    assert_eq!(
        deep_linking.message_type(),
        Some(message_type::DEEP_LINKING)
    );
    assert_eq!(
        deep_linking.get_str(&[claim::DEEP_LINKING_SETTINGS, "deep_link_return_url"]),
        Some(platform.deep_linking_return_url().as_str())
    );
    assert!(deep_linking
        .get(&[claim::DEEP_LINKING_SETTINGS, "accept_types"])
        .is_some());
    assert!(deep_linking
        .get(&[
            claim::DEEP_LINKING_SETTINGS,
            "accept_presentation_document_targets"
        ])
        .is_some());
    assert!(deep_linking.get(&[claim::RESOURCE_LINK]).is_none());

    assert_eq!(review.message_type(), Some(message_type::SUBMISSION_REVIEW));
    assert_eq!(
        review.get_str(&[claim::FOR_USER, "user_id"]),
        Some("learner-5")
    );
    assert!(review.get_str(&[claim::AGS_ENDPOINT, "lineitem"]).is_some());
    assert!(review.get_str(&[claim::RESOURCE_LINK, "id"]).is_some());
    assert_ne!(
        review.sub(),
        Some("learner-5"),
        "the reviewer is not the reviewed user"
    );
}

#[test]
fn expired_claims_lie_in_past() {
    let identity = microcred_testkit::PlatformIdentity {
        issuer: "http://127.0.0.1:9".to_owned(),
        client_id: "c".to_owned(),
        deployment_id: "d".to_owned(),
    };
    let now = chrono::Utc::now().timestamp();

    let claims = LaunchClaims::resource_link(&identity, TARGET).expired();

    let expires = claims.get(&["exp"]).and_then(Value::as_i64).expect("exp");
    assert!(expires < now);
}
