//! Launches from an LTI 1.3 platform the project did not write: the Python
//! peer in `tests/peer`, built on the PyPI package `lti1p3platform`.
//!
//! Each test starts microcred and its own peer process, and registers the
//! peer as `microcred platform add` would. The testkit browser then goes
//! through the whole OIDC flow: the peer's `/launch`, the tool's
//! `/lti/login`, the peer's `/authorize`, its auto-submitted form to the
//! tool's `/lti/launch`, and the redirect to `/app`.
//!
//! The peer runs from the virtualenv that `scripts/test` installs
//! (`.venv-peer`). `MICROCRED_PEER_PYTHON` selects another interpreter.

use microcred::launch::STATE_COOKIE_PREFIX;
use microcred_testkit::{Browser, Page, StatusCode};

use crate::peer_process::PeerProcess;
use crate::support::TestApp;

const CLIENT_ID: &str = "microcred-peer-client";
const DEPLOYMENT_ID: &str = "peer-deployment-1";

/// Starts microcred and a peer platform, and registers the peer in microcred.
async fn start_with_peer() -> (TestApp, PeerProcess) {
    let app = TestApp::spawn().await;
    let peer = PeerProcess::start(&app.base, CLIENT_ID, DEPLOYMENT_ID);
    assert_eq!(peer.endpoints.client_id, CLIENT_ID);
    assert_eq!(peer.endpoints.deployment_id, DEPLOYMENT_ID);
    app.register(peer.registration()).await;
    (app, peer)
}

/// Creates a browser that treats each port as its own site, so the peer and
/// the tool are cross-site, as an LMS and a tool are in production.
fn cross_site_browser() -> Browser {
    let browser = Browser::new();
    browser.set_ports_as_sites(true);
    browser
}

/// Runs the peer's `/launch` up to its authorization response: the page
/// whose form posts the id_token to the tool.
async fn open_authorization_page(browser: &Browser, peer: &PeerProcess, params: &[(&str, &str)]) -> Page {
    let page = browser.get(&peer.launch_url(params)).await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "authorization page: {}\npeer log:\n{}",
        page.summary(),
        peer.log()
    );
    assert_eq!(
        page.url.path(),
        "/authorize",
        "the flow should end at the peer's /authorize: {}",
        page.summary()
    );

    let login = page
        .hop_to("/lti/login")
        .unwrap_or_else(|| panic!("no hop to the tool's /lti/login: {:?}", page.hops));
    assert_eq!(
        login.status,
        StatusCode::FOUND,
        "the tool's login response: {}",
        login.body
    );

    let form = page
        .form()
        .unwrap_or_else(|| panic!("the authorization page has no form: {}", page.summary()));
    assert!(
        form.action.as_str().ends_with("/lti/launch"),
        "form action {}",
        form.action
    );
    assert!(
        form.field("id_token").is_some_and(|token| !token.is_empty()),
        "the form has no id_token"
    );
    assert!(
        form.field("state").is_some_and(|state| !state.is_empty()),
        "the form has no state"
    );
    page
}

/// Runs a whole launch and returns the page the browser ends on.
async fn launch(browser: &Browser, peer: &PeerProcess, params: &[(&str, &str)]) -> Page {
    let authorization = open_authorization_page(browser, peer, params).await;
    browser.submit_auto_form(&authorization).await
}

/// Asserts that `page` is the tool's home page after an accepted launch.
fn assert_launched(page: &Page, peer: &PeerProcess) {
    assert_eq!(
        page.status,
        StatusCode::OK,
        "final page: {}\npeer log:\n{}",
        page.summary(),
        peer.log()
    );
    assert_eq!(page.url.path(), "/app", "final page: {}", page.summary());

    let launch_hop = page
        .hop_to("/lti/launch")
        .expect("the browser posted to the tool's /lti/launch");
    assert_eq!(
        launch_hop.status,
        StatusCode::SEE_OTHER,
        "launch response: {}",
        launch_hop.body
    );
    assert!(
        launch_hop
            .cookie_header
            .as_deref()
            .is_some_and(|cookies| cookies.contains(STATE_COOKIE_PREFIX)),
        "the launch post carried no state cookie: {:?}",
        launch_hop.cookie_header
    );
}

#[tokio::test]
async fn learner_launch() {
    let (_app, peer) = start_with_peer().await;
    let browser = cross_site_browser();

    let page = launch(
        &browser,
        &peer,
        &[
            ("user", "learner-1"),
            ("role", "Learner"),
            ("course", "course-7sci"),
            ("course_title", "Grade 7 Science Teaching"),
            ("resource_link", "link-1"),
            ("name", "Amara Okafor"),
        ],
    )
    .await;

    assert_launched(&page, &peer);
    assert!(
        page.body.contains("Amara Okafor"),
        "the page should name the user: {}",
        page.body
    );
    assert!(
        page.body.contains("Grade 7 Science Teaching"),
        "the page should name the course: {}",
        page.body
    );
    assert!(
        page.body.contains("Participant"),
        "the page should show the role: {}",
        page.body
    );
}

#[tokio::test]
async fn instructor_launch_shows_assessor() {
    let (_app, peer) = start_with_peer().await;
    let browser = cross_site_browser();

    let page = launch(
        &browser,
        &peer,
        &[
            ("user", "instructor-1"),
            ("role", "Instructor"),
            ("course", "course-math"),
            ("course_title", "Algebra Coaching Cohort"),
            ("resource_link", "link-2"),
            ("name", "Jun Park"),
        ],
    )
    .await;

    assert_launched(&page, &peer);
    assert!(
        page.body.contains("Jun Park"),
        "the page should name the user: {}",
        page.body
    );
    assert!(
        page.body.contains("Algebra Coaching Cohort"),
        "the page should name the course: {}",
        page.body
    );
    assert!(
        page.body.contains("Assessor"),
        "an Instructor should be an Assessor: {}",
        page.body
    );
}

#[tokio::test]
async fn administrator_launch() {
    let (_app, peer) = start_with_peer().await;
    let browser = cross_site_browser();

    let page = launch(
        &browser,
        &peer,
        &[
            ("user", "admin-1"),
            ("role", "Administrator"),
            ("course", "course-pd"),
            ("course_title", "District Professional Learning"),
            ("resource_link", "link-3"),
            ("name", "Rosa Delgado"),
        ],
    )
    .await;

    assert_launched(&page, &peer);
    assert!(
        page.body.contains("Rosa Delgado"),
        "the page should name the user: {}",
        page.body
    );
    assert!(
        page.body.contains("District Professional Learning"),
        "the page should name the course: {}",
        page.body
    );
    assert!(
        page.body.contains("Administrator"),
        "the page should show the role: {}",
        page.body
    );
}

#[tokio::test]
async fn launch_without_name_renders() {
    let (_app, peer) = start_with_peer().await;
    let browser = cross_site_browser();

    // No `name` parameter: the id_token carries no name claims, as with an
    // LMS whose privacy settings withhold them.
    let page = launch(
        &browser,
        &peer,
        &[
            ("user", "anonymous-1"),
            ("role", "Learner"),
            ("course", "course-ela"),
            ("course_title", "Reading Workshop Practice"),
            ("resource_link", "link-4"),
        ],
    )
    .await;

    assert_launched(&page, &peer);
    assert!(
        page.body.contains("Reading Workshop Practice"),
        "the page should name the course: {}",
        page.body
    );
    assert!(
        page.body.contains("Participant"),
        "the page should show the role: {}",
        page.body
    );
}

#[tokio::test]
async fn replayed_id_token_is_rejected() {
    let (_app, peer) = start_with_peer().await;
    let browser = cross_site_browser();

    let authorization = open_authorization_page(
        &browser,
        &peer,
        &[
            ("user", "learner-2"),
            ("role", "Learner"),
            ("course", "course-7sci"),
            ("resource_link", "link-1"),
            ("name", "Amara Okafor"),
        ],
    )
    .await;
    let form = authorization.form().expect("the authorization page has a form");

    let first = browser.submit_form(&form).await;
    assert_launched(&first, &peer);

    // The same id_token and state again, as a reload or a replay would post them.
    let second = browser.submit_form(&form).await;
    assert_eq!(
        second.status,
        StatusCode::BAD_REQUEST,
        "second post: {}",
        second.summary()
    );
    assert_eq!(
        second.url.path(),
        "/lti/launch",
        "the second post should not redirect: {}",
        second.summary()
    );
    assert!(
        second.body.contains("<code>state_already_used</code>"),
        "the error page should carry the code state_already_used: {}",
        second.body
    );
}
