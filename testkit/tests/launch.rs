//! Full launches from the test platform into a minimal tool, over real HTTP.

mod common;

use common::{
    default_state_cookie_attributes, ToyTool, ToyToolConfig, SESSION_COOKIE, STATE_COOKIE,
};
use microcred_testkit::{
    Browser, LaunchSpec, LaunchStage, LoginMethod, Method, NonceChoice, PlatformOptions,
    SigningChoice, StatusCode, TestPlatform,
};

async fn platform_and_tool(state_cookie_attributes: &str) -> (TestPlatform, ToyTool) {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let tool = ToyTool::start(ToyToolConfig {
        issuer: platform.issuer().to_owned(),
        client_id: platform.client_id().to_owned(),
        auth_url: platform.auth_url(),
        jwks_url: platform.jwks_url(),
        state_cookie_attributes: state_cookie_attributes.to_owned(),
    })
    .await;
    platform.allow_redirect_uri(&tool.launch_url());
    (platform, tool)
}

fn hop_paths(page: &microcred_testkit::Page) -> Vec<String> {
    page.hops
        .iter()
        .map(|hop| hop.url.path().to_owned())
        .collect()
}

#[tokio::test]
async fn full_launch_reaches_tool_page() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let browser = Browser::new();
    let claims = platform.resource_link_claims(&tool.launch_url());

    let page = platform
        .launch(&browser, &tool.login_url(), LaunchSpec::new(claims))
        .await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.summary());
    assert!(
        page.body.contains("Welcome testkit-user-ada"),
        "{}",
        page.summary()
    );
    let paths = hop_paths(&page);
    assert_eq!(paths.len(), 5, "{paths:?}");
    assert!(paths[0].starts_with("/launches/"), "{paths:?}");
    assert_eq!(
        &paths[1..],
        ["/lti/login", "/oidc/authorize", "/lti/launch", "/home"]
    );

    let login = &page.hops[1];
    assert_eq!(login.method, Method::GET);
    assert_eq!(login.status, StatusCode::FOUND);
    let launch = page.hop_to("/lti/launch").expect("no launch hop");
    assert_eq!(launch.method, Method::POST);
    assert!(
        launch.sent_cookie(STATE_COOKIE),
        "the launch POST must carry the state cookie"
    );
    assert!(launch.form_field("id_token").is_some());
    assert_eq!(launch.header("location"), Some("/home"));
    assert!(browser.cookie(SESSION_COOKIE).is_some());

    let records = platform.authorization_requests();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].param("redirect_uri"),
        Some(tool.launch_url().as_str())
    );
}

#[tokio::test]
async fn login_initiation_carries_spec_parameters() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let claims = platform.resource_link_claims(&tool.launch_url());
    let spec = LaunchSpec::new(claims)
        .lti_message_hint(Some("hint-1"))
        .stop_after(LaunchStage::LoginInitiation);

    let page = platform
        .launch(&Browser::new(), &tool.login_url(), spec)
        .await;

    let login = &page.hops[1];
    let params: std::collections::HashMap<String, String> =
        login.url.query_pairs().into_owned().collect();
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(platform.issuer())
    );
    assert_eq!(
        params.get("login_hint").map(String::as_str),
        Some("testkit-user-ada")
    );
    assert_eq!(params.get("target_link_uri"), Some(&tool.launch_url()));
    assert_eq!(
        params.get("lti_message_hint").map(String::as_str),
        Some("hint-1")
    );
    assert_eq!(
        params.get("client_id").map(String::as_str),
        Some(platform.client_id())
    );
    assert_eq!(
        params.get("lti_deployment_id").map(String::as_str),
        Some(platform.deployment_id())
    );

    assert_eq!(page.status, StatusCode::FOUND);
    assert!(page
        .location()
        .is_some_and(|url| url.as_str().starts_with(&platform.auth_url())));
    assert!(page.location_param("state").is_some());
    assert!(page.location_param("nonce").is_some());
    assert_eq!(page.hops.len(), 2);
}

#[tokio::test]
async fn post_login_initiation_works() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let claims = platform.resource_link_claims(&tool.launch_url());
    let spec = LaunchSpec::new(claims).login_method(LoginMethod::Post);

    let page = platform
        .launch(&Browser::new(), &tool.login_url(), spec)
        .await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.summary());
    let login = page.hop_to("/lti/login").expect("no login hop");
    assert_eq!(login.method, Method::POST);
    assert_eq!(login.form_field("iss"), Some(platform.issuer()));
}

#[tokio::test]
async fn stages_stop_the_launch() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let cases = [
        (LaunchStage::LoginInitiation, StatusCode::FOUND, 2),
        (LaunchStage::Authorization, StatusCode::OK, 3),
        (LaunchStage::ToolLaunch, StatusCode::SEE_OTHER, 4),
        (LaunchStage::Complete, StatusCode::OK, 5),
    ];

    for (stage, status, hops) in cases {
        let claims = platform.resource_link_claims(&tool.launch_url());
        let spec = LaunchSpec::new(claims).stop_after(stage);

        let page = platform
            .launch(&Browser::new(), &tool.login_url(), spec)
            .await;

        assert_eq!(page.status, status, "{stage:?}: {}", page.summary());
        assert_eq!(page.hops.len(), hops, "{stage:?}");
    }
}

#[tokio::test]
async fn authorization_stage_allows_replay() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let browser = Browser::new();
    let claims = platform.resource_link_claims(&tool.launch_url());
    let spec = LaunchSpec::new(claims).stop_after(LaunchStage::Authorization);

    let authorization = platform.launch(&browser, &tool.login_url(), spec).await;
    let form = authorization
        .form()
        .expect("the authorization response has no form");
    let id_token = form.field("id_token").expect("no id_token").to_owned();
    let state = form.field("state").expect("no state").to_owned();
    let first = browser.submit_form(&form).await;
    let direct = browser
        .post_form(
            &tool.launch_url(),
            &[("id_token", &id_token), ("state", &state)],
        )
        .await;

    assert_eq!(first.status, StatusCode::OK, "{}", first.summary());
    // The toy tool has no replay protection; the point is that the test can
    // post the same id_token and state again.
    assert_eq!(
        direct.hops[0].form_field("id_token"),
        Some(id_token.as_str())
    );
}

#[tokio::test]
async fn bad_signatures_are_rejected_by_tool() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let cases = [
        (SigningChoice::NoKid, "the token has no kid"),
        (SigningChoice::UnknownKid, "is not in the JWKS"),
        (SigningChoice::AlgNone, "bad header"),
        (SigningChoice::Hs256WithPublicKey, "the id_token is invalid"),
        (SigningChoice::UnpublishedKey, "InvalidSignature"),
        (SigningChoice::TamperedPayload, "InvalidSignature"),
    ];

    for (choice, reason) in cases {
        let claims = platform.resource_link_claims(&tool.launch_url());
        let spec = LaunchSpec::new(claims).signing(choice.clone());

        let page = platform
            .launch(&Browser::new(), &tool.login_url(), spec)
            .await;

        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{choice:?}: {}",
            page.summary()
        );
        assert!(page.body.contains(reason), "{choice:?}: {}", page.summary());
    }
}

#[tokio::test]
async fn wrong_nonce_is_rejected_by_tool() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let claims = platform.resource_link_claims(&tool.launch_url());
    let spec = LaunchSpec::new(claims).nonce(NonceChoice::Fixed("not-the-tool-nonce".to_owned()));

    let page = platform
        .launch(&Browser::new(), &tool.login_url(), spec)
        .await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("the nonce does not match"),
        "{}",
        page.summary()
    );
}

#[tokio::test]
async fn platform_error_is_posted_to_tool() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let claims = platform.resource_link_claims(&tool.launch_url());
    let spec = LaunchSpec::new(claims).login_param("login_hint", "someone-else");

    let page = platform
        .launch(&Browser::new(), &tool.login_url(), spec)
        .await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.summary());
    assert!(
        page.body.contains("the platform returned login_required"),
        "{}",
        page.summary()
    );
}

#[tokio::test]
async fn tool_rejection_of_login_stops_launch() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let claims = platform.resource_link_claims(&tool.launch_url());
    let spec = LaunchSpec::new(claims).without_login_param("target_link_uri");

    let page = platform
        .launch(&Browser::new(), &tool.login_url(), spec)
        .await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        page.hops.len(),
        2,
        "the launch stops at the tool's error page"
    );
    assert!(page.body.contains("target_link_uri is missing"));
}

#[tokio::test]
async fn partitioned_state_cookie_survives_third_party_blocking() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let browser = Browser::new();
    browser.set_ports_as_sites(true);
    browser.set_top_level_page(Some(&platform.course_page_url()));
    browser.set_block_third_party_cookies(true);
    let claims = platform.resource_link_claims(&tool.launch_url());

    let page = platform
        .launch(&browser, &tool.login_url(), LaunchSpec::new(claims))
        .await;

    // The session cookie is not partitioned, so the browser rejects it and the
    // tool page gets no session, but the launch itself succeeded.
    let launch = page.hop_to("/lti/launch").expect("no launch hop");
    assert_eq!(launch.status, StatusCode::SEE_OTHER, "{}", page.summary());
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(browser
        .rejected_cookies()
        .iter()
        .any(|rejected| rejected.set_cookie.starts_with(SESSION_COOKIE)));
}

#[tokio::test]
async fn unpartitioned_state_cookie_fails_under_blocking() {
    let (platform, tool) = platform_and_tool("Path=/lti; SameSite=None; Secure; HttpOnly").await;
    let browser = Browser::new();
    browser.set_ports_as_sites(true);
    browser.set_top_level_page(Some(&platform.course_page_url()));
    browser.set_block_third_party_cookies(true);
    let claims = platform.resource_link_claims(&tool.launch_url());

    let page = platform
        .launch(&browser, &tool.login_url(), LaunchSpec::new(claims))
        .await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("the state cookie does not match"),
        "{}",
        page.summary()
    );
}

#[tokio::test]
async fn lax_state_cookie_fails_across_sites() {
    let (platform, tool) = platform_and_tool("Path=/lti; SameSite=Lax; HttpOnly").await;
    let claims = platform.resource_link_claims(&tool.launch_url());
    let strict_browser = Browser::new();
    strict_browser.set_ports_as_sites(true);
    let chromium_browser = Browser::new();

    let cross_site = platform
        .launch(
            &strict_browser,
            &tool.login_url(),
            LaunchSpec::new(claims.clone()),
        )
        .await;
    let one_site = platform
        .launch(
            &chromium_browser,
            &tool.login_url(),
            LaunchSpec::new(claims),
        )
        .await;

    assert_eq!(
        cross_site.status,
        StatusCode::BAD_REQUEST,
        "{}",
        cross_site.summary()
    );
    assert_eq!(one_site.status, StatusCode::OK, "{}", one_site.summary());
}

#[tokio::test]
async fn blocked_tool_cookies_fail_launch() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let browser = Browser::new();
    browser.block_cookies_for(&tool.base_url);
    let claims = platform.resource_link_claims(&tool.launch_url());

    let page = platform
        .launch(&browser, &tool.login_url(), LaunchSpec::new(claims))
        .await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("the state cookie does not match"),
        "{}",
        page.summary()
    );
}

#[tokio::test]
async fn unregistered_redirect_uri_shows_platform_error() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let tool = ToyTool::start(ToyToolConfig {
        issuer: platform.issuer().to_owned(),
        client_id: platform.client_id().to_owned(),
        auth_url: platform.auth_url(),
        jwks_url: platform.jwks_url(),
        state_cookie_attributes: default_state_cookie_attributes(),
    })
    .await;
    let claims = platform.resource_link_claims(&tool.launch_url());

    let page = platform
        .launch(&Browser::new(), &tool.login_url(), LaunchSpec::new(claims))
        .await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        page.url.path(),
        "/oidc/authorize",
        "the error stays on the platform"
    );
    assert!(
        page.body.contains("is not registered"),
        "{}",
        page.summary()
    );
}

#[tokio::test]
async fn deep_linking_launch_succeeds() {
    let (platform, tool) = platform_and_tool(&default_state_cookie_attributes()).await;
    let claims = platform.deep_linking_claims(&tool.launch_url());
    let spec = LaunchSpec::new(claims).login_hint("instructor-1");

    let page = platform
        .launch(&Browser::new(), &tool.login_url(), spec)
        .await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.summary());
    let token = platform.last_id_token().expect("no id_token was issued");
    let payload = microcred_testkit::decode_payload_unverified(&token).expect("payload");
    assert_eq!(
        payload[microcred_testkit::claim::MESSAGE_TYPE],
        "LtiDeepLinkingRequest"
    );
}

#[tokio::test]
async fn refused_tool_is_reported() {
    let platform = TestPlatform::start(PlatformOptions::default()).await;
    let closed_port = {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("binding a probe port failed");
        listener
            .local_addr()
            .expect("reading the probe port failed")
            .port()
    };
    let tool_base = format!("http://127.0.0.1:{closed_port}");
    let claims = platform.resource_link_claims(&format!("{tool_base}/lti/launch"));

    let result = platform
        .try_launch(
            &Browser::new(),
            &format!("{tool_base}/lti/login"),
            LaunchSpec::new(claims),
        )
        .await;

    let error = result.expect_err("a launch into a closed port must fail");
    assert!(
        format!("{error:#}").contains("login initiation"),
        "{error:#}"
    );
}
