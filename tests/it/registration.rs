//! LTI Dynamic Registration and several registrations: the test platform
//! hands microcred its OpenID configuration, microcred registers itself,
//! an admin approves, and the platform launches it. Also two registrations
//! under one issuer, and platform key rotation during a stream of launches.

use microcred::config::{Settings, UnknownDeploymentPolicy};
use microcred::platforms::{self, PlatformInput};
use microcred::store::entities::{deployment, platform, session, user};
use microcred_testkit::{Browser, LaunchSpec, Page, PlatformOptions, StatusCode, TestKey, TestPlatform, TestUser};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::launch::{assert_launched, assert_rejected, claims, claims_for, launch, numbered_user};
use crate::support::describe;
use crate::support::TestApp;

const TOOL_CONFIGURATION: &str = "https://purl.imsglobal.org/spec/lti-tool-configuration";

/// A platform not yet known to the tool; its client id and deployment are
/// what it hands out at registration.
async fn unregistered_platform(client_id: &str) -> TestPlatform {
    TestPlatform::start(
        PlatformOptions::default().with_client_id(client_id).with_deployment_id(&format!("{client_id}-deployment")),
    )
    .await
}

/// The LMS admin's browser opens the tool's registration URL as the LMS hands it over.
async fn register_through(app: &TestApp, platform: &TestPlatform) -> Page {
    Browser::new().get(&platform.registration_start_url(&app.url("/lti/register"))).await
}

async fn stored_platforms(app: &TestApp) -> Vec<platform::Model> {
    platform::Entity::find().all(&app.state.db).await.expect("read platforms")
}

async fn stored_deployments(app: &TestApp) -> u64 {
    deployment::Entity::find().count(&app.state.db).await.expect("count deployments")
}

#[tokio::test]
async fn dynamic_registration_waits_for_approval_then_launches() {
    let app = TestApp::spawn().await;
    let platform = unregistered_platform("dynamic-client-1").await;

    let page = register_through(&app, &platform).await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains("dynamic-client-1"), "{}", describe(&page));
    assert!(page.body.contains("waits for approval"), "{}", describe(&page));
    assert!(page.body.contains("data-lti-close"), "the page offers no way back to the LMS: {}", describe(&page));
    assert!(page.body.contains("/static/lti-register.js"), "{}", describe(&page));
    let csp = page.header("content-security-policy").expect("a content security policy");
    assert!(csp.contains(&format!("frame-ancestors 'self' {}", platform.base_url())), "{csp}");

    // The tool sent the registration token with both requests.
    let authorizations = platform.configuration_request_authorizations();
    assert_eq!(authorizations.len(), 1);
    assert!(authorizations[0].as_deref().is_some_and(|a| a.starts_with("Bearer testkit-registration-")));
    let accepted = platform.accepted_registrations();
    assert_eq!(accepted.len(), 1, "requests: {:?}", platform.registration_requests());
    let request = &accepted[0];
    assert_eq!(request["initiate_login_uri"], app.login_url());
    assert_eq!(request["redirect_uris"], json!([app.launch_url()]));
    assert_eq!(request["jwks_uri"], app.url("/.well-known/jwks.json"));
    assert_eq!(request["logo_uri"], app.url("/static/logo.svg"));
    let scope = request["scope"].as_str().expect("a scope string");
    for wanted in [
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
    ] {
        assert!(scope.split(' ').any(|s| s == wanted), "{wanted} missing from {scope}");
    }
    let messages: Vec<&str> = request[TOOL_CONFIGURATION]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["type"].as_str())
        .collect();
    assert_eq!(messages, ["LtiResourceLinkRequest", "LtiDeepLinkingRequest", "LtiSubmissionReviewRequest"]);
    assert_eq!(request[TOOL_CONFIGURATION]["target_link_uri"], app.launch_url());

    // Stored as pending, with its deployment; the logo it named is served.
    let stored = stored_platforms(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, "pending");
    assert_eq!(stored[0].source, "dynamic");
    assert_eq!(stored[0].client_id, "dynamic-client-1");
    assert_eq!(stored[0].issuer, platform.issuer());
    assert_eq!(stored[0].auth_url, platform.auth_url());
    assert_eq!(stored[0].product_family.as_deref(), Some("microcred-testkit"));
    assert_eq!(stored_deployments(&app).await, 1);
    let logo = Browser::new().get(&app.url("/static/logo.svg")).await;
    assert_eq!(logo.status, StatusCode::OK);
    assert_eq!(logo.header("content-type"), Some("image/svg+xml"));

    // Launches are refused until an admin approves.
    let refused = launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await;
    let failure = assert_rejected(&app, &refused, StatusCode::BAD_REQUEST, "registration_pending").await;
    assert_eq!(failure.client_id.as_deref(), Some("dynamic-client-1"));
    assert!(refused.body.contains("microcred platform approve"), "{}", describe(&refused));

    let found = platforms::find(&app.state.db, platform.issuer(), "dynamic-client-1").await.expect("stored");
    platforms::approve(&app.state.db, found).await.expect("approve");

    let page = launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await;
    assert_launched(&page);
}

#[tokio::test]
async fn auto_approved_registration_launches_at_once() {
    let app = TestApp::spawn_with(|s: &mut Settings| s.registration.auto_approve = true).await;
    let platform = unregistered_platform("dynamic-client-2").await;

    let page = register_through(&app, &platform).await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains("The registration is active"), "{}", describe(&page));
    let launched = launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await;
    assert_launched(&launched);
}

#[tokio::test]
async fn platform_refusal_is_shown_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let platform = unregistered_platform("dynamic-client-3").await;
    platform.set_registration_failure(Some((
        400,
        r#"{"error":"invalid_client_metadata","error_description":"district policy forbids new tools"}"#,
    )));

    let page = register_through(&app, &platform).await;

    assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{}", describe(&page));
    assert!(page.body.contains("refused the registration with status 400"), "{}", describe(&page));
    assert!(page.body.contains("district policy forbids new tools"), "{}", describe(&page));
    assert!(page.body.contains("Nothing was stored"), "{}", describe(&page));
    assert!(stored_platforms(&app).await.is_empty());
    assert_eq!(stored_deployments(&app).await, 0);
}

#[tokio::test]
async fn wrong_registration_token_is_refused_by_the_platform() {
    let app = TestApp::spawn().await;
    let platform = unregistered_platform("dynamic-client-4").await;
    platform.issue_registration_token();
    let url = format!(
        "{}?openid_configuration={}&registration_token=not-the-token",
        app.url("/lti/register"),
        urlencode(&platform.openid_configuration_url())
    );

    let page = Browser::new().get(&url).await;

    assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{}", describe(&page));
    assert!(page.body.contains("status 401"), "{}", describe(&page));
    assert!(page.body.contains("invalid_token"), "{}", describe(&page));
    assert!(stored_platforms(&app).await.is_empty());
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Serves a changed configuration and checks the registration fails with
/// `expected` on the page, posts nothing to the platform and stores nothing.
async fn assert_configuration_refused(change: impl FnOnce(&mut Value, &TestPlatform), expected: &str) {
    let app = TestApp::spawn().await;
    let platform = unregistered_platform("dynamic-client-5").await;
    let mut document = platform.openid_configuration();
    change(&mut document, &platform);
    platform.set_openid_configuration(Some(document));

    let page = register_through(&app, &platform).await;

    assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{}", describe(&page));
    assert!(page.body.contains(expected), "expected {expected:?}: {}", describe(&page));
    assert!(platform.registration_requests().is_empty(), "the tool posted a registration");
    assert!(stored_platforms(&app).await.is_empty());
}

#[tokio::test]
async fn configuration_with_issuer_on_another_host_is_refused() {
    assert_configuration_refused(
        |doc, platform| doc["issuer"] = json!(platform.base_url().replace("127.0.0.1", "localhost")),
        "is not on the host of the configuration URL",
    )
    .await;
}

#[tokio::test]
async fn configuration_without_registration_endpoint_is_refused() {
    assert_configuration_refused(
        |doc, _| {
            doc.as_object_mut().expect("an object").remove("registration_endpoint");
        },
        "lacks registration_endpoint",
    )
    .await;
}

#[tokio::test]
async fn configuration_without_lti_section_is_refused() {
    assert_configuration_refused(
        |doc, _| {
            doc.as_object_mut().expect("an object").remove("https://purl.imsglobal.org/spec/lti-platform-configuration");
        },
        "lti-platform-configuration",
    )
    .await;
}

#[tokio::test]
async fn configuration_without_rs256_is_refused() {
    assert_configuration_refused(
        |doc, _| doc["id_token_signing_alg_values_supported"] = json!(["HS256"]),
        "does not sign id_tokens with RS256",
    )
    .await;
}

#[tokio::test]
async fn configuration_that_is_not_json_is_refused() {
    assert_configuration_refused(|doc, _| *doc = json!("not a configuration"), "could not be read").await;
}

#[tokio::test]
async fn registration_page_needs_the_configuration_url() {
    let app = TestApp::spawn().await;

    let page = Browser::new().get(&app.url("/lti/register")).await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", describe(&page));
    assert!(page.body.contains("openid_configuration parameter is missing"), "{}", describe(&page));
    let plain = Browser::new()
        .get(&app.url("/lti/register?openid_configuration=http%3A%2F%2Flms.district.example%2Fconfig"))
        .await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST, "{}", describe(&plain));
    assert!(plain.body.contains("is not an https URL"), "{}", describe(&plain));
    assert!(stored_platforms(&app).await.is_empty());
}

#[tokio::test]
async fn host_outside_the_allow_list_is_refused_before_any_request() {
    let app = TestApp::spawn_with(|s: &mut Settings| s.registration.allowed_hosts = vec!["lms.district.example".into()])
        .await;
    let platform = unregistered_platform("dynamic-client-6").await;

    let page = register_through(&app, &platform).await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", describe(&page));
    assert!(page.body.contains("not among the hosts allowed to register"), "{}", describe(&page));
    assert!(platform.configuration_request_authorizations().is_empty(), "the tool fetched the configuration");
    assert!(stored_platforms(&app).await.is_empty());
}

#[tokio::test]
async fn switched_off_registration_refuses() {
    let app = TestApp::spawn_with(|s: &mut Settings| s.registration.enabled = false).await;
    let platform = unregistered_platform("dynamic-client-7").await;

    let page = register_through(&app, &platform).await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", describe(&page));
    assert!(page.body.contains("switched off"), "{}", describe(&page));
    assert!(platform.configuration_request_authorizations().is_empty());
}

#[tokio::test]
async fn registering_a_known_client_again_is_refused() {
    let app = TestApp::spawn().await;
    let platform = unregistered_platform("dynamic-client-8").await;
    assert_eq!(register_through(&app, &platform).await.status, StatusCode::OK);

    let again = register_through(&app, &platform).await;

    assert_eq!(again.status, StatusCode::CONFLICT, "{}", describe(&again));
    assert!(again.body.contains("is registered already"), "{}", describe(&again));
    assert_eq!(stored_platforms(&app).await.len(), 1);
}

#[tokio::test]
async fn pending_registrations_are_capped() {
    let app = TestApp::spawn_with(|s: &mut Settings| s.registration.max_pending = 1).await;
    let first = unregistered_platform("dynamic-client-9").await;
    let second = unregistered_platform("dynamic-client-10").await;
    assert_eq!(register_through(&app, &first).await.status, StatusCode::OK);

    let page = register_through(&app, &second).await;

    assert_eq!(page.status, StatusCode::CONFLICT, "{}", describe(&page));
    assert!(page.body.contains("already waiting for approval"), "{}", describe(&page));
    assert!(second.configuration_request_authorizations().is_empty());
    assert_eq!(stored_platforms(&app).await.len(), 1);
}

#[tokio::test]
async fn registration_without_deployment_follows_the_deployment_policy() {
    let app = TestApp::spawn_with(|s: &mut Settings| {
        s.registration.auto_approve = true;
        s.lti.unknown_deployment = UnknownDeploymentPolicy::Reject;
    })
    .await;
    let platform = unregistered_platform("dynamic-client-11").await;
    platform.omit_deployment_in_registration(true);

    let page = register_through(&app, &platform).await;
    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains("the LMS names it at the first launch"), "{}", describe(&page));
    assert_eq!(stored_deployments(&app).await, 0);

    let refused = launch(&app, &platform, LaunchSpec::new(claims(&app, &platform))).await;
    assert_rejected(&app, &refused, StatusCode::BAD_REQUEST, "unknown_deployment").await;
    let deployment = platform.deployment_id();
    assert!(refused.body.contains(deployment), "the page does not name the deployment: {}", describe(&refused));
    assert!(refused.body.contains("dynamic-client-11"), "the page does not name the client: {}", describe(&refused));
}

/// Two districts on one cloud LMS: one issuer, two client ids, each with
/// its own keys and users.
#[tokio::test]
async fn two_registrations_under_one_issuer_launch_their_own_users() {
    let app = TestApp::spawn().await;
    const ISSUER: &str = "https://cloud-lms.example";
    let east = TestPlatform::start(
        PlatformOptions::default()
            .with_issuer(ISSUER)
            .with_client_id("east-district")
            .with_deployment_id("east-1")
            .with_redirect_uri(&app.launch_url()),
    )
    .await;
    let west = TestPlatform::start(
        PlatformOptions::default()
            .with_issuer(ISSUER)
            .with_client_id("west-district")
            .with_deployment_id("west-1")
            .with_signing_key(TestKey::fixed(2))
            .with_redirect_uri(&app.launch_url()),
    )
    .await;
    for platform in [&east, &west] {
        app.register(PlatformInput { issuer: ISSUER.to_string(), ..crate::support::registration(platform) })
        .await;
    }
    let east_teacher = TestUser::new("east-7", "Ada", "East", "ada@east.example");
    let west_teacher = TestUser::new("west-7", "Grace", "West", "grace@west.example");

    let east_page = launch(&app, &east, LaunchSpec::new(claims_for(&app, &east, &east_teacher, 1))).await;
    let west_page = launch(&app, &west, LaunchSpec::new(claims_for(&app, &west, &west_teacher, 2))).await;

    assert_launched(&east_page);
    assert_launched(&west_page);
    assert!(east_page.body.contains("Ada East"), "{}", describe(&east_page));
    assert!(west_page.body.contains("Grace West"), "{}", describe(&west_page));
    let east_row = platforms::find(&app.state.db, ISSUER, "east-district").await.expect("east");
    let west_row = platforms::find(&app.state.db, ISSUER, "west-district").await.expect("west");
    let owner = |subject: &'static str| {
        let db = app.state.db.clone();
        async move {
            let found = user::Entity::find().filter(user::Column::Subject.eq(subject)).one(&db).await.expect("read");
            found.map(|u| u.platform_id)
        }
    };
    assert_eq!(owner("east-7").await, Some(east_row.id));
    assert_eq!(owner("west-7").await, Some(west_row.id));
    let sessions = |platform_id: i64| {
        let db = app.state.db.clone();
        async move {
            session::Entity::find().filter(session::Column::PlatformId.eq(platform_id)).count(&db).await.expect("count")
        }
    };
    assert_eq!(sessions(east_row.id).await, 1);
    assert_eq!(sessions(west_row.id).await, 1);

    // LTI's sub is stable within an issuer: the same sub through the west
    // registration is the same person, whose record stays with the
    // registration that first launched them, while the session records
    // the registration of this launch.
    let again = launch(&app, &west, LaunchSpec::new(claims_for(&app, &west, &east_teacher, 3))).await;
    assert_launched(&again);
    assert_eq!(owner("east-7").await, Some(east_row.id));
    assert_eq!(sessions(west_row.id).await, 2);
}

/// The platform rotates its signing key several times while launches keep
/// coming; every launch succeeds and the tool fetches the key set about
/// once per new key, not once per launch.
#[tokio::test]
async fn platform_key_rotation_during_launches_fails_none() {
    let app = TestApp::spawn().await;
    let platform = TestPlatform::start(
        PlatformOptions::default()
            .with_redirect_uri(&app.launch_url())
            .with_jwks_cache_control(Some("public, max-age=300")),
    )
    .await;
    app.register(crate::support::registration(&platform)).await;
    let new_keys = [TestKey::fixed(2), TestKey::fixed(3), TestKey::generate()];

    let mut failures = Vec::new();
    let mut launched = 0;
    for round in 0..=new_keys.len() {
        if round > 0 {
            platform.rotate_to(new_keys[round - 1].clone());
        }
        let mut tasks = Vec::new();
        for n in 0..4 {
            let spec = LaunchSpec::new(claims_for(&app, &platform, &numbered_user(round * 10 + n), n));
            tasks.push(launch(&app, &platform, spec));
        }
        for page in futures::future::join_all(tasks).await {
            launched += 1;
            if page.status != StatusCode::OK {
                failures.push(describe(&page));
            }
        }
    }

    assert!(failures.is_empty(), "{} of {launched} launches failed: {failures:#?}", failures.len());
    assert_eq!(launched, 16);
    let fetches = platform.jwks_fetch_count();
    assert!(fetches <= 1 + new_keys.len() * 2, "{fetches} key set fetches for {} rotations", new_keys.len());
}

/// A tool serving the public must not fetch addresses on its own machine or
/// network for whoever opens the registration URL.
#[tokio::test]
async fn public_tool_refuses_loopback_platforms() {
    let app =
        TestApp::spawn_with(|s: &mut Settings| s.server.public_url = "https://microcred.district.example".into()).await;
    let platform = unregistered_platform("dynamic-client-12").await;

    let page = register_through(&app, &platform).await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", describe(&page));
    assert!(page.body.contains("is not an https URL on a public host"), "{}", describe(&page));
    assert!(platform.configuration_request_authorizations().is_empty(), "the tool fetched a loopback URL");
    let private = Browser::new()
        .get(&app.url("/lti/register?openid_configuration=https%3A%2F%2F10.0.0.7%2Fconfig"))
        .await;
    assert_eq!(private.status, StatusCode::BAD_REQUEST, "{}", describe(&private));
    assert!(stored_platforms(&app).await.is_empty());
}
