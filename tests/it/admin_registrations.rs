//! The Registrations admin pages over real HTTP: the list grouped by
//! issuer, one registration's page, approving, disabling and removing
//! registrations and deployments, adding one by hand, and who may use them.
//! Launches go through real test platforms, so each status change is
//! checked by the launch it allows or rejects.

use microcred::platforms::PlatformInput;
use microcred::store::entities::{attempt, context, enrollment, platform, user};
use microcred::store::platforms::{self as platform_store, NewPlatform};
use microcred::workflow::catalogue;
use microcred_testkit::{role, Browser, LaunchSpec, Method, Page, PlatformOptions, StatusCode, TestPlatform};
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::assessor_pages::{form_to, launch_as, submit_work, test_catalogue, Person, SLUG, TITLE};
use crate::support::describe;
use crate::support::TestApp;

const LIST: &str = "/app/admin/platforms";
const MANAGERS_MESSAGE: &str = "microcred platform add --manages-registrations";

/// Escapes `text` as the templates do, slashes included.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

fn registration(platform: &TestPlatform, manages_registrations: bool) -> PlatformInput {
    PlatformInput { manages_registrations, ..crate::support::registration(platform) }
}

/// Starts a test platform that accepts the app's redirect URI, without registering it.
async fn serve(app: &TestApp, options: PlatformOptions) -> TestPlatform {
    let platform = TestPlatform::start(options).await;
    platform.allow_redirect_uri(&app.launch_url());
    platform
}

/// Starts microcred with the test micro-credential and a home platform
/// whose registration manages registrations.
async fn start() -> (TestApp, TestPlatform) {
    let app = TestApp::spawn().await;
    let home = serve(&app, PlatformOptions::default()).await;
    app.register(registration(&home, true)).await;
    catalogue::import_text(&app.state.db, &test_catalogue(SLUG, TITLE), false, None)
        .await
        .expect("import the test catalogue");
    (app, home)
}

async fn admin(app: &TestApp, platform: &TestPlatform) -> Person {
    launch_as(app, platform, "root", "Rosa", "Admin", "admin-course", &[role::ADMINISTRATOR]).await
}

async fn learner(app: &TestApp, platform: &TestPlatform, sub: &str) -> Person {
    launch_as(app, platform, sub, "Lee", "Learner", "course-1", &[role::LEARNER]).await
}

/// Runs a learner's launch that microcred must reject, and checks its status and error code.
async fn assert_launch_rejected(app: &TestApp, platform: &TestPlatform, code: &str) {
    let claims = platform.resource_link_claims(&app.launch_url());
    let page = platform.launch(&Browser::new(), &app.login_url(), LaunchSpec::new(claims)).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", describe(&page));
    assert!(page.body.contains(&format!("Error code <code>{code}</code>")), "expected {code}: {}", describe(&page));
}

async fn stored(app: &TestApp, platform: &TestPlatform) -> platform::Model {
    platform_store::find(&app.state.db, platform.issuer(), platform.client_id())
        .await
        .expect("read the registration")
        .expect("the registration exists")
}

async fn platform_count(app: &TestApp) -> u64 {
    platform::Entity::find().count(&app.state.db).await.expect("count registrations")
}

/// Stores a registration as LTI Dynamic Registration will: pending, with its deployment active.
async fn insert_pending(app: &TestApp, platform: &TestPlatform) -> platform::Model {
    let row = platform_store::insert(
        &app.state.db,
        NewPlatform {
            issuer: platform.issuer().to_string(),
            client_id: platform.client_id().to_string(),
            auth_url: platform.auth_url(),
            token_url: platform.token_url(),
            jwks_url: platform.jwks_url(),
            token_audience: None,
            status: platform_store::STATUS_PENDING,
            source: platform_store::SOURCE_DYNAMIC,
            product_family: Some("canvas".to_string()),
            display_name: Some("Riverside District".to_string()),
            manages_registrations: false,
        },
    )
    .await
    .expect("insert the pending registration");
    platform_store::ensure_deployment(&app.state.db, row.id, platform.deployment_id(), platform_store::STATUS_ACTIVE)
        .await
        .expect("add the deployment");
    row
}

/// Returns the page followed after a form submission, checking it is the registration page.
async fn submit(person: &Person, page: &Page, action: &str) -> Page {
    let answer = person.browser.submit_form(&form_to(page, action)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", describe(&answer));
    answer
}

#[tokio::test]
async fn list_groups_registrations_by_issuer() {
    let (app, home) = start().await;
    let district =
        serve(&app, PlatformOptions::default().with_issuer(home.issuer()).with_client_id("district-2")).await;
    app.register(registration(&district, false)).await;
    let other = serve(&app, PlatformOptions::default().with_client_id("other-client")).await;
    app.register(registration(&other, false)).await;
    learner(&app, &district, "lee").await;
    let rosa = admin(&app, &home).await;

    let page = rosa.get(&app, LIST).await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    let shared = format!("Issuer <code>{}</code>", html(home.issuer()));
    assert_eq!(page.body.matches(&shared).count(), 1, "one heading for the shared issuer: {}", describe(&page));
    let shared_at = page.body.find(&shared).expect("the shared issuer's heading");
    let other_at = page.body.find(&format!("Issuer <code>{}</code>", html(other.issuer()))).expect("the other heading");
    let group = if shared_at < other_at { &page.body[shared_at..other_at] } else { &page.body[shared_at..] };
    assert!(group.contains(&format!("<code>{}</code>", home.client_id())), "{group}");
    assert!(group.contains("<code>district-2</code>"), "{group}");
    assert!(group.contains("2 registrations of issuer"), "{group}");
    assert!(!group.contains("<code>other-client</code>"), "{group}");
    assert!(page.body.contains("Added by hand"), "{}", describe(&page));
    assert!(page.body.contains("<span class=\"state state-active\">Active</span>"), "{}", describe(&page));
    assert!(page.body.contains("Manages registrations"), "{}", describe(&page));
    assert!(page.body.contains(&format!("<code>{}</code>: Active", district.deployment_id())), "{}", describe(&page));
    let district_id = stored(&app, &district).await.id;
    let district_row = &page.body[page.body.find(&format!("/app/admin/platforms/{district_id}?")).expect("its link")..];
    let counts = &district_row[..district_row.find("</tr>").expect("the end of its row")];
    assert!(counts.contains("<td class=\"number\">1</td>\n        <td class=\"number\">1</td>"), "{counts}");
    assert!(!page.body.contains("Waiting for approval"), "nothing waits: {}", describe(&page));
    assert!(page.body.contains("href=\"/app/admin/platforms?_s="), "the nav links to Registrations");
}

#[tokio::test]
async fn pending_registration_approved_then_launches() {
    let (app, home) = start().await;
    let district = serve(&app, PlatformOptions::default().with_client_id("district-pending")).await;
    let pending = insert_pending(&app, &district).await;
    assert_launch_rejected(&app, &district, "registration_pending").await;
    let rosa = admin(&app, &home).await;

    let page = rosa.get(&app, LIST).await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains("Waiting for approval"), "{}", describe(&page));
    assert!(page.body.contains("Riverside District"), "{}", describe(&page));
    assert!(page.body.contains("Dynamic registration"), "{}", describe(&page));
    let approve_path = format!("/app/admin/platforms/{}/approve", pending.id);
    let waiting_at = page.body.find("Waiting for approval").expect("the waiting section");
    let approve_at = page.body.find(&approve_path).expect("the Approve button");
    let all_at = page.body.find("All registrations").expect("the list of every registration");
    assert!(waiting_at < approve_at, "the Approve button is in the waiting section");
    assert!(approve_at < all_at, "the Approve button comes before the full list");
    assert!(page.body.contains("Approve<span class=\"visually-hidden\"> registration Riverside District</span>"));
    let detail = rosa.get(&app, &format!("/app/admin/platforms/{}", pending.id)).await;
    assert!(detail.body.contains("<code>registration_pending</code>"), "the failure is listed: {}", describe(&detail));

    let approved = submit(&rosa, &page, &approve_path).await;

    assert_eq!(approved.url.path(), LIST);
    assert!(approved.body.contains("Riverside District is active."), "{}", describe(&approved));
    assert!(!approved.body.contains("Waiting for approval"), "{}", describe(&approved));
    assert_eq!(stored(&app, &district).await.status, platform_store::STATUS_ACTIVE);
    learner(&app, &district, "lee").await;
}

#[tokio::test]
async fn disabled_registration_rejects_launches() {
    let (app, home) = start().await;
    let district = serve(&app, PlatformOptions::default().with_client_id("district-off")).await;
    app.register(registration(&district, false)).await;
    let id = stored(&app, &district).await.id;
    let rosa = admin(&app, &home).await;
    let path = format!("/app/admin/platforms/{id}");
    let page = rosa.get(&app, &path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains(&format!("<code>{}</code>", html(&district.auth_url()))), "{}", describe(&page));
    assert!(page.body.contains(&format!("<code>{}</code>", html(&district.token_url()))), "{}", describe(&page));
    assert!(page.body.contains(&format!("<code>{}</code>", html(&district.jwks_url()))), "{}", describe(&page));

    let disabled = submit(&rosa, &page, &format!("{path}/disable")).await;

    assert_eq!(disabled.url.path(), path);
    assert!(disabled.body.contains("is disabled. Its launches are rejected"), "{}", describe(&disabled));
    assert!(disabled.body.contains("<span class=\"state state-disabled\">Disabled</span>"), "{}", describe(&disabled));
    assert_launch_rejected(&app, &district, "registration_disabled").await;

    let enabled = submit(&rosa, &disabled, &format!("{path}/approve")).await;

    assert!(enabled.body.contains("is active."), "{}", describe(&enabled));
    learner(&app, &district, "lee").await;
}

#[tokio::test]
async fn remove_hides_registration_and_keeps_records() {
    let (app, home) = start().await;
    let district = serve(&app, PlatformOptions::default().with_client_id("district-gone")).await;
    app.register(registration(&district, false)).await;
    let lee = learner(&app, &district, "lee").await;
    submit_work(&app, &lee, "norms", "Our class norms.").await;
    let id = stored(&app, &district).await.id;
    let db = &app.state.db;
    let users = user::Entity::find().count(db).await.expect("count users");
    let contexts = context::Entity::find().count(db).await.expect("count courses");
    let enrollments = enrollment::Entity::find().count(db).await.expect("count enrolments");
    let attempts = attempt::Entity::find().count(db).await.expect("count attempts");
    assert_eq!(attempts, 1);
    let rosa = admin(&app, &home).await;
    let path = format!("/app/admin/platforms/{id}");
    let page = rosa.get(&app, &path).await;
    let users = users + 1; // Rosa's launch adds her.
    let contexts = contexts + 1;

    let removed = submit(&rosa, &page, &format!("{path}/remove")).await;

    assert_eq!(removed.url.path(), LIST);
    assert!(removed.body.contains("Client district-gone is removed."), "{}", describe(&removed));
    assert!(!removed.body.contains(&format!("/app/admin/platforms/{id}?")), "hidden: {}", describe(&removed));
    assert!(removed.body.contains("Show removed registrations (1)"), "{}", describe(&removed));
    assert_eq!(user::Entity::find().count(db).await.expect("count users"), users);
    assert_eq!(context::Entity::find().count(db).await.expect("count courses"), contexts);
    assert_eq!(enrollment::Entity::find().count(db).await.expect("count enrolments"), enrollments);
    assert_eq!(attempt::Entity::find().count(db).await.expect("count attempts"), attempts);
    assert_eq!(stored(&app, &district).await.status, platform_store::STATUS_REMOVED);
    assert_launch_rejected(&app, &district, "registration_disabled").await;
    let with_removed = rosa.get(&app, &format!("{LIST}?removed=1")).await;
    assert!(with_removed.body.contains(&format!("/app/admin/platforms/{id}?")), "{}", describe(&with_removed));
    assert!(with_removed.body.contains("<span class=\"state state-removed\">Removed</span>"));

    let form = rosa.get(&app, "/app/admin/platforms/new").await;
    let filled = form_to(&form, "/app/admin/platforms/new")
        .with_field("issuer", district.issuer())
        .with_field("client_id", district.client_id())
        .with_field("deployment_ids", district.deployment_id())
        .with_field("auth_url", &district.auth_url())
        .with_field("token_url", &district.token_url())
        .with_field("jwks_url", &district.jwks_url());
    let added = rosa.browser.submit_form(&filled).await;

    assert_eq!(added.status, StatusCode::OK, "{}", describe(&added));
    assert_eq!(added.url.path(), path, "the same registration is back");
    assert!(added.body.contains("Client district-gone is saved and active."), "{}", describe(&added));
    assert_eq!(stored(&app, &district).await.status, platform_store::STATUS_ACTIVE);
    learner(&app, &district, "lee").await;
    assert_eq!(user::Entity::find().count(db).await.expect("count users"), users, "Lee is the same user");
    assert_eq!(attempt::Entity::find().count(db).await.expect("count attempts"), attempts);
}

#[tokio::test]
async fn deployment_approve_and_disable() {
    let (app, home) = start().await;
    let district = serve(&app, PlatformOptions::default().with_client_id("district-dep").with_deployment_id("dep-new"))
        .await;
    app.register(PlatformInput { deployment_ids: Vec::new(), ..registration(&district, false) }).await;
    let id = stored(&app, &district).await.id;
    let waiting =
        platform_store::ensure_deployment(&app.state.db, id, "dep-new", platform_store::STATUS_PENDING)
            .await
            .expect("add the pending deployment");
    assert_launch_rejected(&app, &district, "deployment_pending").await;
    let rosa = admin(&app, &home).await;
    let page = rosa.get(&app, LIST).await;
    assert!(page.body.contains("Deployments waiting for approval"), "{}", describe(&page));
    let approve_path = format!("/app/admin/platforms/{id}/deployments/{}/approve", waiting.id);

    let approved = submit(&rosa, &page, &approve_path).await;

    assert_eq!(approved.url.path(), LIST);
    assert!(approved.body.contains("Deployment dep-new of Client district-dep is active."), "{}", describe(&approved));
    assert!(!approved.body.contains("Deployments waiting for approval"), "{}", describe(&approved));
    learner(&app, &district, "lee").await;

    let detail = rosa.get(&app, &format!("/app/admin/platforms/{id}")).await;
    let disable_path = format!("/app/admin/platforms/{id}/deployments/{}/disable", waiting.id);
    let disabled = submit(&rosa, &detail, &disable_path).await;

    assert_eq!(disabled.url.path(), format!("/app/admin/platforms/{id}"));
    let notice = "Deployment dep-new of Client district-dep is disabled.";
    assert!(disabled.body.contains(notice), "{}", describe(&disabled));
    assert_launch_rejected(&app, &district, "deployment_disabled").await;
}

#[tokio::test]
async fn add_form_rejects_bad_url() {
    let (app, home) = start().await;
    let rosa = admin(&app, &home).await;
    let page = rosa.get(&app, "/app/admin/platforms/new").await;
    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    let count = platform_count(&app).await;
    let form = form_to(&page, "/app/admin/platforms/new")
        .with_field("issuer", "https://lms.example.org")
        .with_field("client_id", "10000000000001")
        .with_field("deployment_ids", "1:abc\n2:def")
        .with_field("auth_url", "lms.example.org/authorize")
        .with_field("token_url", "https://lms.example.org/token")
        .with_field("jwks_url", "ftp://lms.example.org/jwks")
        .with_field("token_audience", "lms-audience");

    let answer = rosa.browser.submit_form(&form).await;

    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", describe(&answer));
    assert!(answer.body.contains("Nothing was saved"), "{}", describe(&answer));
    let auth_problem = html("Auth URL \"lms.example.org/authorize\" is not an absolute http or https URL");
    assert!(answer.body.contains(&auth_problem), "{}", describe(&answer));
    assert!(answer.body.contains("JWKS URL"), "{}", describe(&answer));
    assert!(answer.body.contains("<div id=\"auth_url-problem\">"), "the problem sits at its field");
    let kept = form_to(&answer, "/app/admin/platforms/new");
    assert_eq!(kept.field("issuer"), Some("https://lms.example.org"));
    assert_eq!(kept.field("client_id"), Some("10000000000001"));
    assert_eq!(kept.field("deployment_ids"), Some("1:abc\n2:def"));
    assert_eq!(kept.field("auth_url"), Some("lms.example.org/authorize"));
    assert_eq!(kept.field("jwks_url"), Some("ftp://lms.example.org/jwks"));
    assert_eq!(kept.field("token_audience"), Some("lms-audience"));
    assert_eq!(platform_count(&app).await, count, "nothing is stored");
}

/// A POST path with its form fields.
type Post = (String, Vec<(&'static str, &'static str)>);

/// Lists every page and action of the Registrations admin, with the form fields each action needs.
fn every_request(id: i64, deployment: i64) -> (Vec<String>, Vec<Post>) {
    let pages = vec![
        LIST.to_string(),
        format!("{LIST}?removed=1"),
        format!("{LIST}/new"),
        format!("{LIST}/{id}"),
    ];
    let posts = vec![
        (format!("{LIST}/{id}/approve"), vec![]),
        (format!("{LIST}/{id}/disable"), vec![]),
        (format!("{LIST}/{id}/remove"), vec![]),
        (format!("{LIST}/{id}/deployments/{deployment}/approve"), vec![]),
        (format!("{LIST}/{id}/deployments/{deployment}/disable"), vec![]),
        (
            format!("{LIST}/new"),
            vec![
                ("issuer", "https://sneaky.example.org"),
                ("client_id", "sneaky"),
                ("auth_url", "https://sneaky.example.org/auth"),
                ("token_url", "https://sneaky.example.org/token"),
                ("jwks_url", "https://sneaky.example.org/jwks"),
            ],
        ),
    ];
    (pages, posts)
}

/// Checks that `person` gets 403 with the message on who may manage
/// registrations on every page and action, and that nothing changed.
async fn assert_forbidden_everywhere(app: &TestApp, person: &Person, target: &platform::Model) {
    let deployment = platform_store::deployments(&app.state.db, target.id).await.expect("read deployments")[0].id;
    let (pages, posts) = every_request(target.id, deployment);
    let count = platform_count(app).await;
    for path in &pages {
        let page = person.get(app, path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "GET {path} as {}: {}", person.name, describe(&page));
        assert!(page.body.contains(MANAGERS_MESSAGE), "GET {path}: {}", describe(&page));
    }
    for (path, fields) in &posts {
        let page = person.post(app, path, fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "POST {path} as {}: {}", person.name, describe(&page));
        assert!(page.body.contains(MANAGERS_MESSAGE), "POST {path}: {}", describe(&page));
    }
    assert_eq!(platform_count(app).await, count);
    let after = platform::Entity::find_by_id(target.id).one(&app.state.db).await.expect("read").expect("exists");
    assert_eq!(after.status, target.status);
    let after_deployment = platform_store::deployments(&app.state.db, target.id).await.expect("read deployments");
    assert_eq!(after_deployment[0].status, platform_store::STATUS_ACTIVE);
}

#[tokio::test]
async fn admin_without_manage_right_is_forbidden() {
    let (app, home) = start().await;
    let district = serve(&app, PlatformOptions::default().with_client_id("district-admin")).await;
    app.register(registration(&district, false)).await;
    let dana = launch_as(&app, &district, "dana", "Dana", "Admin", "district-course", &[role::ADMINISTRATOR]).await;
    let target = stored(&app, &home).await;

    assert_forbidden_everywhere(&app, &dana, &target).await;

    let catalogue = dana.get(&app, "/app/admin").await;
    assert_eq!(catalogue.status, StatusCode::OK, "{}", describe(&catalogue));
    assert!(!catalogue.body.contains("/app/admin/platforms"), "no Registrations link: {}", describe(&catalogue));
    let rosa = admin(&app, &home).await;
    let own = rosa.get(&app, "/app/admin").await;
    assert!(own.body.contains("href=\"/app/admin/platforms?_s="), "a manager sees the link: {}", describe(&own));
}

#[tokio::test]
async fn non_admin_is_forbidden() {
    let (app, home) = start().await;
    let lee = learner(&app, &home, "lee").await;
    let coach = launch_as(&app, &home, "coach", "Carol", "Coach", "course-1", &[role::INSTRUCTOR]).await;
    let target = stored(&app, &home).await;

    for person in [&lee, &coach] {
        assert_forbidden_everywhere(&app, person, &target).await;
    }
}

#[tokio::test]
async fn own_registration_cannot_be_switched_off() {
    let (app, home) = start().await;
    let rosa = admin(&app, &home).await;
    let id = stored(&app, &home).await.id;
    let page = rosa.get(&app, &format!("{LIST}/{id}")).await;
    assert!(page.body.contains("You are signed in through this registration"), "{}", describe(&page));
    assert!(!page.body.contains(&format!("{LIST}/{id}/disable")), "no Disable button: {}", describe(&page));

    for action in ["disable", "remove"] {
        let answer = rosa.post(&app, &format!("{LIST}/{id}/{action}"), &[]).await;

        assert_eq!(answer.status, StatusCode::CONFLICT, "{action}: {}", describe(&answer));
        assert!(answer.body.contains(&format!("microcred platform {action}")), "{}", describe(&answer));
    }
    assert_eq!(stored(&app, &home).await.status, platform_store::STATUS_ACTIVE);
}

#[tokio::test]
async fn post_without_page_token_is_rejected() {
    let (app, home) = start().await;
    let district = serve(&app, PlatformOptions::default().with_client_id("district-csrf")).await;
    app.register(registration(&district, false)).await;
    let id = stored(&app, &district).await.id;
    let rosa = admin(&app, &home).await;
    // The browser has Rosa's session cookie, as a cross-site form would send it.
    let page = rosa.browser.get(&app.url(LIST)).await;
    assert_eq!(page.status, StatusCode::OK, "the cookie alone opens the page: {}", describe(&page));

    let without = rosa
        .browser
        .navigate(Method::POST, &app.url(&format!("{LIST}/{id}/disable")))
        .form(&[])
        .follow_redirects(false)
        .send()
        .await;
    let forged = rosa
        .browser
        .navigate(Method::POST, &app.url(&format!("{LIST}/{id}/disable?_s=not-a-token")))
        .form(&[])
        .follow_redirects(false)
        .send()
        .await;

    assert_eq!(without.status, StatusCode::FORBIDDEN, "{}", describe(&without));
    assert!(without.body.contains("page token"), "{}", describe(&without));
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{}", describe(&forged));
    assert_eq!(stored(&app, &district).await.status, platform_store::STATUS_ACTIVE);
}

/// The whole registration of a new LMS: it registers microcred through LTI
/// Dynamic Registration, an administrator approves it on this page, and its
/// users launch; the admin's approval is the only manual step.
#[tokio::test]
async fn dynamic_registration_approved_on_the_page_then_launches() {
    let (app, home) = start().await;
    let district = TestPlatform::start(
        PlatformOptions::default().with_client_id("district-dynamic").with_deployment_id("district-dynamic-1"),
    )
    .await;
    let registered = Browser::new().get(&district.registration_start_url(&app.url("/lti/register"))).await;
    assert_eq!(registered.status, StatusCode::OK, "{}", describe(&registered));
    let pending = stored(&app, &district).await;
    assert_eq!(pending.status, platform_store::STATUS_PENDING);
    assert_launch_rejected(&app, &district, "registration_pending").await;
    let rosa = admin(&app, &home).await;

    let page = rosa.get(&app, LIST).await;
    let approved = submit(&rosa, &page, &format!("/app/admin/platforms/{}/approve", pending.id)).await;

    assert_eq!(approved.url.path(), LIST);
    assert_eq!(stored(&app, &district).await.status, platform_store::STATUS_ACTIVE);
    learner(&app, &district, "lee").await;
}
