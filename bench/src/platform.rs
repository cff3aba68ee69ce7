//! The LMS side: a signing key, its key set served on 127.0.0.1, and the
//! authorization endpoint's work (check the request, sign the id_token).
//!
//! The generator handles the browser's hop to the authorization endpoint in
//! process: it reads the tool's redirect, checks it as a platform would,
//! and signs the id_token that the platform's auto-submitting form would
//! carry. No HTTP request is made for that hop, so the generator spends its
//! CPU on signing, not on serving a page to itself.
//!
//! The id_token is signed with aws-lc-rs, which signs with an RSA 2048 key
//! in about half the time ring takes on the benchmark machine. The
//! generator shares the tool's two cores, so every microsecond it saves is
//! one the tool can use.

use std::net::SocketAddr;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rsa::pkcs8::EncodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use url::Url;

use crate::stats::ErrorKind;

pub const CLIENT_ID: &str = "microcred-bench";
pub const DEPLOYMENT_ID: &str = "bench-deployment-1";
const KID: &str = "microcred-bench-1";

pub const LEARNER: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner";
pub const INSTRUCTOR: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor";

const LTI: &str = "https://purl.imsglobal.org/spec/lti/claim/";

/// The generator acting as an LMS.
pub struct Platform {
    /// `http://127.0.0.1:PORT`, the issuer and the base of every platform URL.
    pub base: String,
    key: RsaKeyPair,
    random: SystemRandom,
    /// The id_token's header, encoded once: `{"alg":"RS256","typ":"JWT","kid":...}`.
    encoded_header: String,
    server: tokio::task::JoinHandle<()>,
}

/// The user of a launch, with the course and link.
pub struct LaunchUser<'a> {
    pub sub: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub course: &'a str,
    /// The micro-credential the course link shows (custom parameter `microcredential`).
    pub credential: &'a str,
}

impl Platform {
    /// Generate an RSA 2048 key and serve its key set at `/jwks` on 127.0.0.1.
    pub async fn start() -> anyhow::Result<Self> {
        let private = tokio::task::spawn_blocking(|| RsaPrivateKey::new(&mut rand::thread_rng(), 2048)).await??;
        let der = private.to_pkcs8_der()?;
        let key = RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|error| anyhow::anyhow!("aws-lc-rs rejected the generated RSA key as invalid: {error}"))?;
        let jwks = json!({"keys": [{
            "kty": "RSA",
            "kid": KID,
            "use": "sig",
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
        }]})
        .to_string();

        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = Router::new().route(
            "/jwks",
            get(move || {
                let body = jwks.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "max-age=300")],
                        body,
                    )
                        .into_response()
                }
            }),
        );
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("the platform's key set server stopped: {error}");
            }
        });
        let encoded_header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT", "kid": KID}).to_string());
        Ok(Self { base, key, random: SystemRandom::new(), encoded_header, server })
    }

    pub fn issuer(&self) -> &str {
        &self.base
    }

    pub fn auth_url(&self) -> String {
        format!("{}/auth", self.base)
    }

    /// Registered as the token endpoint. The launches carry no Advantage
    /// service claims, so the tool never calls it.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    /// Login initiation parameters for `user`, as the LMS sends them.
    pub fn login_query(&self, tool_base: &str, user: &LaunchUser<'_>, message_hint: &str) -> String {
        let target = format!("{tool_base}/lti/launch");
        let mut url = Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!("a fixed URL parses"));
        url.query_pairs_mut()
            .append_pair("iss", &self.base)
            .append_pair("login_hint", user.sub)
            .append_pair("target_link_uri", &target)
            .append_pair("lti_message_hint", message_hint)
            .append_pair("client_id", CLIENT_ID)
            .append_pair("lti_deployment_id", DEPLOYMENT_ID);
        url.query().unwrap_or_default().to_string()
    }

    /// Handle the authorization request in `location` as the LMS would:
    /// check it, then return the `state` and a signed id_token for `user`.
    pub fn authorize(
        &self,
        location: &str,
        tool_base: &str,
        user: &LaunchUser<'_>,
        message_hint: &str,
    ) -> Result<(String, String), ErrorKind> {
        let request = Url::parse(location).map_err(|_| ErrorKind::Protocol("redirect is not a URL"))?;
        if !location.starts_with(&self.auth_url()) {
            return Err(ErrorKind::Protocol("redirect is not to the authorization endpoint"));
        }
        let mut state = None;
        let mut nonce = None;
        let redirect_uri = format!("{tool_base}/lti/launch");
        for (name, value) in request.query_pairs() {
            let ok = match name.as_ref() {
                "state" => {
                    state = Some(value.into_owned());
                    true
                }
                "nonce" => {
                    nonce = Some(value.into_owned());
                    true
                }
                "client_id" => value == CLIENT_ID,
                "redirect_uri" => value == redirect_uri.as_str(),
                "login_hint" => value == user.sub,
                "lti_message_hint" => value == message_hint,
                "response_type" => value == "id_token",
                "response_mode" => value == "form_post",
                "scope" => value == "openid",
                "prompt" => value == "none",
                _ => true,
            };
            if !ok {
                return Err(ErrorKind::Protocol("authorization request parameter mismatch"));
            }
        }
        let state = state.ok_or(ErrorKind::Protocol("authorization request without state"))?;
        let nonce = nonce.ok_or(ErrorKind::Protocol("authorization request without nonce"))?;
        let claims = self.claims(tool_base, user, &nonce);
        let id_token = self.sign(&claims).ok_or(ErrorKind::Protocol("signing the id_token failed"))?;
        Ok((state, id_token))
    }

    /// Encode `claims` as a JWT signed with RS256 (RFC 7515, compact form).
    fn sign(&self, claims: &Value) -> Option<String> {
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut token = String::with_capacity(self.encoded_header.len() + payload.len() + 346);
        token.push_str(&self.encoded_header);
        token.push('.');
        token.push_str(&payload);
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key.sign(&RSA_PKCS1_SHA256, &self.random, token.as_bytes(), &mut signature).ok()?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Some(token)
    }

    /// Build an `LtiResourceLinkRequest` claim set (LTI Core 1.3) for `user`.
    fn claims(&self, tool_base: &str, user: &LaunchUser<'_>, nonce: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.base,
            "aud": CLIENT_ID,
            "sub": user.sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": user.name,
            "email": format!("{}@bench.example.edu", user.sub),
            format!("{LTI}message_type"): "LtiResourceLinkRequest",
            format!("{LTI}version"): "1.3.0",
            format!("{LTI}deployment_id"): DEPLOYMENT_ID,
            format!("{LTI}target_link_uri"): format!("{tool_base}/lti/launch"),
            format!("{LTI}roles"): [user.role],
            format!("{LTI}resource_link"): {"id": format!("link-{}", user.course), "title": "Micro-credential"},
            format!("{LTI}context"): {
                "id": user.course,
                "label": user.course,
                "title": format!("Course {}", user.course),
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            },
            format!("{LTI}tool_platform"): {"guid": "microcred-bench", "name": "Bench LMS"},
            format!("{LTI}launch_presentation"): {"document_target": "iframe", "locale": "en-US"},
            format!("{LTI}custom"): {"microcredential": user.credential},
        })
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> LaunchUser<'static> {
        LaunchUser { sub: "u-1", name: "Pat", role: LEARNER, course: "c-1", credential: "exit-tickets" }
    }

    #[tokio::test]
    async fn authorize_checks_request() {
        let platform = Platform::start().await.expect("platform starts");
        let tool = "http://127.0.0.1:9";
        let good = format!(
            "{}?scope=openid&response_type=id_token&response_mode=form_post&prompt=none&client_id={CLIENT_ID}\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Flti%2Flaunch&login_hint=u-1&lti_message_hint=h&state=S&nonce=N",
            platform.auth_url()
        );
        let (state, token) = platform.authorize(&good, tool, &user(), "h").expect("a valid request");
        assert_eq!(state, "S");

        // The token verifies with the key set the platform serves.
        let jwks: jsonwebtoken::jwk::JwkSet =
            reqwest::get(platform.jwks_url()).await.expect("key set").json().await.expect("key set JSON");
        let jwk = jwks.find(KID).expect("the signing key is in the key set");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("an RSA key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[CLIENT_ID]);
        validation.set_issuer(&[platform.issuer()]);
        let decoded = jsonwebtoken::decode::<Value>(&token, &key, &validation).expect("the id_token verifies");
        assert_eq!(decoded.header.kid.as_deref(), Some(KID));
        assert_eq!(decoded.claims["nonce"], "N");
        assert_eq!(decoded.claims["sub"], "u-1");
        let mut tampered = token.clone();
        tampered.insert_str(token.find('.').expect("a dot") + 1, "e30");
        assert!(jsonwebtoken::decode::<Value>(&tampered, &key, &validation).is_err());

        let wrong_client = good.replace(CLIENT_ID, "other");
        assert!(platform.authorize(&wrong_client, tool, &user(), "h").is_err());
        let no_nonce = good.replace("&nonce=N", "");
        assert!(platform.authorize(&no_nonce, tool, &user(), "h").is_err());
        assert!(platform.authorize("http://127.0.0.1:1/elsewhere?state=S&nonce=N", tool, &user(), "h").is_err());
    }
}
