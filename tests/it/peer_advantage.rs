//! LTI Advantage against a platform the project did not write: the Python
//! peer in `tests/peer`, built on the PyPI package `lti1p3platform`. Its
//! token endpoint checks the tool's client assertions, its AGS and NRPS
//! endpoints serve the launch's course, its deep linking return endpoint
//! verifies the tool's response, and the test-only `GET /scores` and
//! `GET /deep_links` list what it received.
//!
//! The peer runs from the virtualenv that `scripts/test` installs
//! (`.venv-peer`); `MICROCRED_PEER_PYTHON` selects another interpreter.

use std::time::Duration;

use microcred::platforms::PlatformInput;
use microcred::workflow::catalogue;
use microcred_testkit::{Browser, Method, StatusCode};
use serde_json::{json, Value};

use crate::advantage::{
    assert_ags_timestamp, assess, catalogue_toml, fast_worker, submit, Person, CEUS, COMPONENTS, SLUG, TITLE, WAIT,
};
use crate::peer_process::PeerProcess;
use crate::support::{describe, session_of, text_between, TestApp};

const CLIENT_ID: &str = "microcred-peer-advantage";
const DEPLOYMENT_ID: &str = "peer-advantage-deployment";
const COURSE: &str = "peer-course";
const LINK: &str = "peer-link";

/// The running peer and a client for its inspection endpoints.
struct Peer {
    process: PeerProcess,
    http: reqwest::Client,
}

impl Peer {
    /// Start the peer for the tool at `tool_base` and wait for its ready line.
    fn start(tool_base: &str) -> Peer {
        let process = PeerProcess::start(tool_base, CLIENT_ID, DEPLOYMENT_ID);
        let http = reqwest::Client::builder().no_proxy().build().expect("build an HTTP client");
        Peer { process, http }
    }

    fn log(&self) -> String {
        self.process.log()
    }

    fn registration(&self) -> PlatformInput {
        self.process.registration()
    }

    fn launch_url(&self, params: &[(&str, &str)]) -> String {
        self.process.launch_url(params)
    }

    async fn get_json(&self, path: &str) -> Vec<Value> {
        let url = format!("{}{path}", self.process.endpoints.base_url);
        let response = self.http.get(&url).send().await.unwrap_or_else(|error| panic!("GET {url} failed: {error}"));
        assert_eq!(response.status(), StatusCode::OK, "GET {url}");
        response.json().await.unwrap_or_else(|error| panic!("GET {url} returned no JSON list: {error}"))
    }

    /// Returns every score the peer accepted: its line item and the score as posted.
    async fn scores(&self) -> Vec<Value> {
        self.get_json("/scores").await
    }

    /// Waits until the peer has accepted at least `count` scores, and returns them.
    async fn wait_for_scores(&self, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let scores = self.scores().await;
            if scores.len() >= count {
                return scores;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the peer received {} of {count} scores within {WAIT:?}: {scores:#?}\nPeer log:\n{}",
                scores.len(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Starts microcred with a fast passback worker and the test
/// micro-credential, and a peer registered with it.
async fn start() -> (TestApp, Peer) {
    let app = TestApp::spawn_with(fast_worker).await;
    let peer = Peer::start(&app.base);
    app.register(peer.registration()).await;
    catalogue::import_text(&app.state.db, &catalogue_toml(), false, None).await.expect("import the test catalogue");
    (app, peer)
}

/// Runs a launch from the peer in a browser that treats each port as its
/// own site, as an LMS and a tool are in production. Returns the person on
/// the page the launch ends on.
async fn launch(app: &TestApp, peer: &Peer, params: &[(&str, &str)]) -> Person {
    let browser = Browser::new();
    browser.set_ports_as_sites(true);
    let authorization = browser.get(&peer.launch_url(params)).await;
    assert_eq!(authorization.status, StatusCode::OK, "{}\nPeer log:\n{}", authorization.summary(), peer.log());
    assert_eq!(authorization.url.path(), "/authorize", "{}", authorization.summary());
    let page = browser.submit_auto_form(&authorization).await;
    let token =
        page.url.query_pairs().find(|(name, _)| name == "_s").map(|(_, value)| value.into_owned()).unwrap_or_else(
            || panic!("the launch ended without a page token: {}\nPeer log:\n{}", describe(&page), peer.log()),
        );
    let session = session_of(app, &token).await;
    Person { browser, token, session, page }
}

fn learner_params<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("user", "ada"),
        ("name", "Ada Lovelace"),
        ("role", "Learner"),
        ("course", COURSE),
        ("resource_link", LINK),
        ("title", TITLE),
        ("custom_microcredential", SLUG),
    ]
}

fn instructor_params<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("user", "coach"),
        ("name", "Carol Coach"),
        ("role", "Instructor"),
        ("course", COURSE),
        ("resource_link", "peer-coach-link"),
    ]
}

fn score_field<'a>(record: &'a Value, name: &str) -> &'a Value {
    &record["score"][name]
}

#[tokio::test]
async fn peer_deep_linking_round_trip() {
    let (app, peer) = start().await;
    let params = [("user", "coach"), ("role", "Instructor"), ("course", COURSE), ("message", "deeplink")];

    let instructor = launch(&app, &peer, &params).await;
    assert_eq!(instructor.page.url.path(), "/app/deep-link", "{}", describe(&instructor.page));
    let mut form = instructor
        .page
        .forms()
        .into_iter()
        .find(|form| form.action.path() == "/app/deep-link")
        .unwrap_or_else(|| panic!("the picker has no form: {}", describe(&instructor.page)));
    form.set_field("slug", SLUG);
    let placement = instructor.browser.submit_form(&form).await;
    assert_eq!(placement.status, StatusCode::OK, "{}", describe(&placement));
    let return_form = placement
        .forms()
        .into_iter()
        .find(|form| form.action.path() == "/deep_links/return")
        .unwrap_or_else(|| panic!("the tool's response page has no form to the peer: {}", describe(&placement)));
    let returned = instructor.browser.submit_form(&return_form).await;

    assert_eq!(returned.status, StatusCode::OK, "{}\nPeer log:\n{}", returned.body, peer.log());
    assert_eq!(returned.url.path(), "/deep_links/return");
    let responses = peer.get_json("/deep_links").await;
    assert_eq!(responses.len(), 1, "{responses:#?}");
    assert_eq!(responses[0]["context_id"], COURSE);
    let items = responses[0]["content_items"].as_array().expect("the peer lists content items");
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0]["type"], "ltiResourceLink");
    assert_eq!(items[0]["title"], TITLE);
    assert_eq!(items[0]["custom"], json!({ "microcredential": SLUG }));
    assert_eq!(items[0]["lineItem"]["scoreMaximum"], json!(CEUS));
    assert_eq!(items[0]["lineItem"]["resourceId"], SLUG);

    // A launch of the placed link carries the item's custom parameter.
    let custom = items[0]["custom"]["microcredential"].as_str().expect("the item names a micro-credential");
    let learner = launch(
        &app,
        &peer,
        &[("user", "ada"), ("course", COURSE), ("resource_link", "placed"), ("custom_microcredential", custom)],
    )
    .await;
    assert_eq!(learner.page.status, StatusCode::OK, "{}", describe(&learner.page));
    assert!(learner.page.body.contains(&format!("<h1>{TITLE}</h1>")), "{}", describe(&learner.page));
}

#[tokio::test]
async fn peer_receives_submission_scores() {
    let (app, peer) = start().await;
    let learner = launch(&app, &peer, &learner_params()).await;

    submit(&app, &learner, "norms").await;
    peer.wait_for_scores(1).await;
    submit(&app, &learner, "plan").await;
    let scores = peer.wait_for_scores(2).await;

    for record in &scores {
        assert_eq!(score_field(record, "userId"), "ada", "{record}");
        assert_eq!(score_field(record, "activityProgress"), "Submitted", "{record}");
        assert_eq!(score_field(record, "gradingProgress"), "PendingManual", "{record}");
        assert!(score_field(record, "scoreGiven").is_null(), "{record}");
        assert!(score_field(record, "comment").as_str().is_some_and(|comment| !comment.is_empty()), "{record}");
        assert_ags_timestamp(score_field(record, "timestamp").as_str().unwrap_or_default());
        assert_eq!(record["context_id"], COURSE);
    }
    assert_eq!(scores[0]["line_item_url"], scores[1]["line_item_url"], "both go to the launch's line item");
}

#[tokio::test]
async fn peer_receives_earned_score() {
    let (app, peer) = start().await;
    let learner = launch(&app, &peer, &learner_params()).await;
    let coach = launch(&app, &peer, &instructor_params()).await;

    let mut expected = 0;
    for component in COMPONENTS {
        let attempt = submit(&app, &learner, component).await;
        expected += 1;
        peer.wait_for_scores(expected).await;
        assess(&app, &coach, attempt, true).await;
        expected += 1;
        peer.wait_for_scores(expected).await;
    }

    let scores = peer.scores().await;
    assert_eq!(scores.len(), 10);
    assert_eq!(score_field(&scores[1], "activityProgress"), "InProgress");
    assert_eq!(score_field(&scores[1], "gradingProgress"), "Pending");
    assert_eq!(score_field(&scores[1], "comment"), "1 of 5 components mastered.");
    let earned = &scores[9];
    assert_eq!(score_field(earned, "activityProgress"), "Completed");
    assert_eq!(score_field(earned, "gradingProgress"), "FullyGraded");
    assert_eq!(score_field(earned, "scoreGiven"), &json!(CEUS));
    assert_eq!(score_field(earned, "scoreMaximum"), &json!(CEUS));
}

#[tokio::test]
async fn peer_roster_includes_absent_member() {
    let (app, peer) = start().await;
    let learner = launch(&app, &peer, &learner_params()).await;
    submit(&app, &learner, "norms").await;
    // The peer adds a member to the course when a launch starts; this one
    // never reaches the tool.
    let absent = [("user", "grace"), ("name", "Grace Hopper"), ("course", COURSE), ("resource_link", LINK)];
    let started = Browser::new().navigate(Method::GET, &peer.launch_url(&absent)).follow_redirects(false).send().await;
    assert_eq!(started.status, StatusCode::FOUND, "{}", started.summary());
    let instructor = launch(&app, &peer, &instructor_params()).await;

    let page = instructor.get(&app, "/app/roster").await;

    assert_eq!(page.status, StatusCode::OK, "{}\nPeer log:\n{}", describe(&page), peer.log());
    let grace_row = text_between(&page.body, "Grace Hopper", "</tr>")
        .unwrap_or_else(|| panic!("the roster misses Grace: {}", describe(&page)));
    assert!(grace_row.contains("Has not opened microcred yet"), "{grace_row}");
    let ada_row = text_between(&page.body, "Ada Lovelace", "</tr>")
        .unwrap_or_else(|| panic!("the roster misses Ada: {}", describe(&page)));
    assert!(ada_row.contains(&format!("{TITLE}: 0 of 5 mastered")), "{ada_row}");
    assert!(page.body.contains("Carol Coach"), "{}", describe(&page));
}

#[tokio::test]
async fn peer_submission_review_as_assessor() {
    let (app, peer) = start().await;
    let learner = launch(&app, &peer, &learner_params()).await;
    submit(&app, &learner, "norms").await;
    let review = [
        ("user", "coach"),
        ("name", "Carol Coach"),
        ("role", "Instructor"),
        ("course", COURSE),
        ("resource_link", LINK),
        ("message", "review"),
        ("for_user", "ada"),
    ];

    let reviewer = launch(&app, &peer, &review).await;

    assert!(reviewer.page.hop_to("/app/review").is_some(), "the launch lands on /app/review");
    let history = format!("/app/assess/participants/{}", learner.session.user_id);
    assert_eq!(reviewer.page.url.path(), history, "{}", describe(&reviewer.page));
    assert_eq!(reviewer.page.status, StatusCode::OK, "{}", describe(&reviewer.page));
}
