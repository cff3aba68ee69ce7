//! The platform's authorization endpoint, driven directly with crafted
//! authentication requests.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use microcred_testkit::{
    AuthErrorMode, AuthorizationOutcome, Browser, LaunchTemplate, Method, NonceChoice, Page,
    PlatformOptions, SigningChoice, StatusCode, TestPlatform,
};
use serde_json::Value;
use url::Url;

/// A redirect URI nothing listens on; the tests never follow it.
const REDIRECT_URI: &str = "http://127.0.0.1:9/lti/launch";
const LOGIN_HINT: &str = "user-42";
const MESSAGE_HINT: &str = "message-7";

async fn platform_with_template() -> TestPlatform {
    let platform =
        TestPlatform::start(PlatformOptions::default().with_redirect_uri(REDIRECT_URI)).await;
    let claims = platform
        .resource_link_claims(REDIRECT_URI)
        .with(&["sub"], LOGIN_HINT);
    platform.register_launch(LaunchTemplate {
        login_hint: LOGIN_HINT.to_owned(),
        lti_message_hint: Some(MESSAGE_HINT.to_owned()),
        claims,
        signing: SigningChoice::CurrentKey,
        nonce: NonceChoice::FromRequest,
    });
    platform
}

fn valid_params(platform: &TestPlatform) -> Vec<(String, String)> {
    [
        ("scope", "openid"),
        ("response_type", "id_token"),
        ("response_mode", "form_post"),
        ("prompt", "none"),
        ("client_id", platform.client_id()),
        ("redirect_uri", REDIRECT_URI),
        ("login_hint", LOGIN_HINT),
        ("lti_message_hint", MESSAGE_HINT),
        ("state", "state-abc"),
        ("nonce", "nonce-xyz"),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect()
}

fn set_param(params: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    params.retain(|(key, _)| key != name);
    if let Some(value) = value {
        params.push((name.to_owned(), value.to_owned()));
    }
}

async fn send_get(browser: &Browser, platform: &TestPlatform, params: &[(String, String)]) -> Page {
    let mut url = Url::parse(&platform.auth_url()).expect("the platform auth URL is valid");
    url.query_pairs_mut().extend_pairs(params.iter());
    browser
        .navigate(Method::GET, url.as_str())
        .follow_redirects(false)
        .send()
        .await
}

async fn send_post(
    browser: &Browser,
    platform: &TestPlatform,
    params: &[(String, String)],
) -> Page {
    let fields: Vec<(&str, &str)> = params
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    browser
        .navigate(Method::POST, &platform.auth_url())
        .form(&fields)
        .follow_redirects(false)
        .send()
        .await
}

async fn verify_with_published_jwks(
    browser: &Browser,
    platform: &TestPlatform,
    token: &str,
) -> Value {
    let jwks_page = browser.get(&platform.jwks_url()).await;
    let jwks: JwkSet =
        serde_json::from_str(&jwks_page.body).expect("the JWKS response is not a valid JWK set");
    let kid = jsonwebtoken::decode_header(token)
        .expect("the id_token header does not decode")
        .kid
        .expect("the id_token has no kid");
    let jwk = jwks
        .find(&kid)
        .expect("the JWKS does not publish the token's kid");
    let key = DecodingKey::from_jwk(jwk).expect("the published JWK is not a usable RSA key");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[platform.client_id()]);
    validation.set_issuer(&[platform.issuer()]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("the id_token does not verify with the published JWKS")
        .claims
}

#[tokio::test]
async fn valid_get_request_posts_signed_id_token() {
    let platform = platform_with_template().await;
    let browser = Browser::new();

    let page = send_get(&browser, &platform, &valid_params(&platform)).await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.summary());
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let form = page.form().expect("the authorization response has no form");
    assert_eq!(form.method, Method::POST);
    assert_eq!(form.action.as_str(), REDIRECT_URI);
    assert_eq!(form.field("state"), Some("state-abc"));
    let id_token = form.field("id_token").expect("the form has no id_token");
    let claims = verify_with_published_jwks(&browser, &platform, id_token).await;
    assert_eq!(claims["nonce"], "nonce-xyz");
    assert_eq!(claims["sub"], LOGIN_HINT);
    assert_eq!(claims["aud"], platform.client_id());
    assert_eq!(platform.last_id_token().as_deref(), Some(id_token));
}

#[tokio::test]
async fn valid_post_request_posts_id_token() {
    let platform = platform_with_template().await;
    let browser = Browser::new();

    let page = send_post(&browser, &platform, &valid_params(&platform)).await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.summary());
    let form = page.form().expect("the authorization response has no form");
    assert!(
        form.field("id_token").is_some(),
        "no id_token in {:?}",
        form.fields
    );
    let records = platform.authorization_requests();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].method, "POST");
    assert_eq!(records[0].param("nonce"), Some("nonce-xyz"));
}

#[tokio::test]
async fn template_found_by_login_hint_without_message_hint() {
    let platform =
        TestPlatform::start(PlatformOptions::default().with_redirect_uri(REDIRECT_URI)).await;
    platform.register_launch(LaunchTemplate {
        login_hint: LOGIN_HINT.to_owned(),
        lti_message_hint: None,
        claims: platform.resource_link_claims(REDIRECT_URI),
        signing: SigningChoice::CurrentKey,
        nonce: NonceChoice::FromRequest,
    });
    let mut params = valid_params(&platform);
    set_param(&mut params, "lti_message_hint", None);

    let page = send_get(&Browser::new(), &platform, &params).await;

    assert!(
        page.form()
            .and_then(|form| form.field("id_token").map(str::to_owned))
            .is_some(),
        "{}",
        page.summary()
    );
}

/// What the endpoint must do with a bad request.
enum Expected {
    /// A 400 page, because the client or redirect URI cannot be trusted.
    ErrorPage,
    /// An auto-posted error form to the redirect URI with this error code.
    FormPost(&'static str),
    /// A 302 to the redirect URI with this error code in the query.
    Redirect(&'static str),
}

#[tokio::test]
async fn bad_requests_are_rejected() {
    let platform = platform_with_template().await;
    let browser = Browser::new();
    type Change = (&'static str, Option<&'static str>);
    let cases: Vec<(&str, Vec<Change>, Expected)> = vec![
        (
            "missing client_id",
            vec![("client_id", None)],
            Expected::ErrorPage,
        ),
        (
            "unknown client_id",
            vec![("client_id", Some("someone-else"))],
            Expected::ErrorPage,
        ),
        (
            "missing redirect_uri",
            vec![("redirect_uri", None)],
            Expected::ErrorPage,
        ),
        (
            "unregistered redirect_uri",
            vec![("redirect_uri", Some("http://127.0.0.1:9/elsewhere"))],
            Expected::ErrorPage,
        ),
        (
            "missing scope",
            vec![("scope", None)],
            Expected::FormPost("invalid_request"),
        ),
        (
            "scope without openid",
            vec![("scope", Some("profile"))],
            Expected::FormPost("invalid_scope"),
        ),
        (
            "response_type code",
            vec![("response_type", Some("code"))],
            Expected::FormPost("unsupported_response_type"),
        ),
        (
            "response_mode query",
            vec![("response_mode", Some("query"))],
            Expected::Redirect("invalid_request"),
        ),
        (
            "missing response_mode",
            vec![("response_mode", None)],
            Expected::Redirect("invalid_request"),
        ),
        (
            "prompt login",
            vec![("prompt", Some("login"))],
            Expected::FormPost("invalid_request"),
        ),
        (
            "missing prompt",
            vec![("prompt", None)],
            Expected::FormPost("invalid_request"),
        ),
        (
            "missing login_hint",
            vec![("login_hint", None)],
            Expected::FormPost("invalid_request"),
        ),
        (
            "missing nonce",
            vec![("nonce", None)],
            Expected::FormPost("invalid_request"),
        ),
        (
            "unknown lti_message_hint",
            vec![("lti_message_hint", Some("no-such-launch"))],
            Expected::FormPost("login_required"),
        ),
        (
            "login_hint of another user",
            vec![("login_hint", Some("user-43"))],
            Expected::FormPost("login_required"),
        ),
    ];

    for (name, changes, expected) in cases {
        let mut params = valid_params(&platform);
        for (param, value) in changes {
            set_param(&mut params, param, value);
        }

        let page = send_get(&browser, &platform, &params).await;

        match expected {
            Expected::ErrorPage => {
                assert_eq!(
                    page.status,
                    StatusCode::BAD_REQUEST,
                    "{name}: {}",
                    page.summary()
                );
                assert!(
                    page.form().is_none(),
                    "{name}: an error page must not post to the tool"
                );
                assert!(
                    page.location().is_none(),
                    "{name}: an error page must not redirect"
                );
            }
            Expected::FormPost(code) => {
                assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.summary());
                let form = page
                    .form()
                    .unwrap_or_else(|| panic!("{name}: no error form in {}", page.summary()));
                assert_eq!(form.action.as_str(), REDIRECT_URI, "{name}");
                assert_eq!(form.field("error"), Some(code), "{name}");
                assert_eq!(
                    form.field("state"),
                    Some("state-abc"),
                    "{name}: state must be echoed"
                );
                assert!(
                    form.field("id_token").is_none(),
                    "{name}: an error must carry no id_token"
                );
                assert!(form.field("error_description").is_some(), "{name}");
            }
            Expected::Redirect(code) => {
                assert_eq!(page.status, StatusCode::FOUND, "{name}: {}", page.summary());
                let location = page.location().expect("the error redirect has no Location");
                assert!(
                    location.as_str().starts_with(REDIRECT_URI),
                    "{name}: redirected to {location}"
                );
                assert_eq!(
                    page.location_param("error").as_deref(),
                    Some(code),
                    "{name}"
                );
                assert_eq!(
                    page.location_param("state").as_deref(),
                    Some("state-abc"),
                    "{name}"
                );
            }
        }
    }

    let records = platform.authorization_requests();
    assert!(
        records
            .iter()
            .all(|record| matches!(record.outcome, AuthorizationOutcome::Error { .. })),
        "every bad request must be recorded as an error"
    );
    assert!(
        platform.last_id_token().is_none(),
        "no id_token may be issued for a bad request"
    );
}

#[tokio::test]
async fn duplicated_parameter_is_rejected() {
    let platform = platform_with_template().await;
    let mut params = valid_params(&platform);
    params.push(("nonce".to_owned(), "second-nonce".to_owned()));

    let page = send_get(&Browser::new(), &platform, &params).await;

    let form = page.form().expect("no error form");
    assert_eq!(form.field("error"), Some("invalid_request"));
}

#[tokio::test]
async fn post_with_wrong_content_type_is_rejected() {
    let platform = platform_with_template().await;

    let page = Browser::new()
        .navigate(Method::POST, &platform.auth_url())
        .header("content-type", "application/json")
        .follow_redirects(false)
        .send()
        .await;

    assert_eq!(
        page.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        page.summary()
    );
}

#[tokio::test]
async fn error_page_mode_keeps_errors_from_tool() {
    let platform = platform_with_template().await;
    platform.set_auth_error_mode(AuthErrorMode::ErrorPage);
    let mut params = valid_params(&platform);
    set_param(&mut params, "scope", Some("profile"));

    let page = send_get(&Browser::new(), &platform, &params).await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.summary());
    assert!(page.body.contains("invalid_scope"), "{}", page.summary());
    let records = platform.authorization_requests();
    assert!(matches!(
        records[0].outcome,
        AuthorizationOutcome::Error {
            sent_to_tool: false,
            ..
        }
    ));
}

#[tokio::test]
async fn redirect_mode_sends_error_in_query() {
    let platform = platform_with_template().await;
    platform.set_auth_error_mode(AuthErrorMode::Redirect);
    let mut params = valid_params(&platform);
    set_param(&mut params, "prompt", Some("consent"));

    let page = send_get(&Browser::new(), &platform, &params).await;

    assert_eq!(page.status, StatusCode::FOUND, "{}", page.summary());
    assert_eq!(
        page.location_param("error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(page.location_param("state").as_deref(), Some("state-abc"));
}

#[tokio::test]
async fn nonce_choices_shape_the_token() {
    let platform =
        TestPlatform::start(PlatformOptions::default().with_redirect_uri(REDIRECT_URI)).await;
    let browser = Browser::new();
    let cases = [
        (NonceChoice::FromRequest, Some("nonce-xyz")),
        (
            NonceChoice::Fixed("stale-nonce".to_owned()),
            Some("stale-nonce"),
        ),
        (NonceChoice::Omit, None),
    ];

    for (choice, expected) in cases {
        platform.register_launch(LaunchTemplate {
            login_hint: LOGIN_HINT.to_owned(),
            lti_message_hint: Some(MESSAGE_HINT.to_owned()),
            claims: platform.resource_link_claims(REDIRECT_URI),
            signing: SigningChoice::CurrentKey,
            nonce: choice.clone(),
        });

        let page = send_get(&browser, &platform, &valid_params(&platform)).await;

        let form = page.form().expect("no form in the authorization response");
        let id_token = form.field("id_token").expect("no id_token");
        let claims = microcred_testkit::decode_payload_unverified(id_token)
            .expect("the payload does not decode");
        assert_eq!(
            claims.get("nonce").and_then(Value::as_str),
            expected,
            "{choice:?}"
        );
    }
}
