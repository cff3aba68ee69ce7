//! The admin pages over real HTTP: the catalogue with editing, archiving,
//! import and export, the CEU report and its CSV, and the audit log.

use microcred::store::entities::{credential_version, enrollment};
use microcred::workflow::catalogue;
use microcred::workflow::participation;
use microcred_domain::Catalogue;
use microcred_testkit::{role, StatusCode, TestPlatform};
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::assessor_pages::{
    assessor, form_to, launch_as, participant, start, submit_work, test_catalogue, Person, COMPONENTS, MASTERED, SLUG,
    TITLE,
};
use crate::support::{describe, TestApp};

async fn admin(app: &TestApp, platform: &TestPlatform) -> Person {
    launch_as(app, platform, "root", "Rosa", "Admin", "admin-course", &[role::ADMINISTRATOR]).await
}

async fn version_count(app: &TestApp) -> u64 {
    credential_version::Entity::find().count(&app.state.db).await.expect("count versions")
}

/// Builds a client for multipart uploads that does not follow redirects.
fn upload_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("build the upload client")
}

// The catalogue and editing.

#[tokio::test]
async fn catalogue_lists_and_archives() {
    let (app, platform) = start().await;
    let rosa = admin(&app, &platform).await;

    let page = rosa.get(&app, "/app/admin").await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains(TITLE), "{}", describe(&page));
    assert!(page.body.contains(&format!("href=\"/app/admin/credentials/{SLUG}/edit?_s=")));
    assert!(page.body.contains(&format!("href=\"/app/admin/credentials/{SLUG}/export.toml?_s=")));
    assert!(page.body.contains("href=\"/app/admin/import?_s="));
    assert!(page.body.contains("href=\"/app/admin/ceu-report?_s="));
    assert!(page.body.contains("href=\"/app/admin/audit?_s="));

    let archived = rosa.browser.submit_form(&form_to(&page, &format!("/app/admin/credentials/{SLUG}/archive"))).await;

    assert_eq!(archived.status, StatusCode::OK, "{}", describe(&archived));
    assert_eq!(archived.url.path(), "/app/admin");
    assert!(archived.body.contains(&format!("{TITLE} is archived")), "{}", describe(&archived));
    assert!(archived.body.contains("<td>Archived</td>"), "{}", describe(&archived));
    let active = catalogue::list(&app.state.db).await.expect("list the catalogue");
    assert!(active.iter().all(|entry| entry.slug != SLUG), "an archived micro-credential leaves the catalogue");

    let restored =
        rosa.browser.submit_form(&form_to(&archived, &format!("/app/admin/credentials/{SLUG}/restore"))).await;

    assert_eq!(restored.status, StatusCode::OK, "{}", describe(&restored));
    assert!(restored.body.contains(&format!("{TITLE} is back in the catalogue")), "{}", describe(&restored));
    let active = catalogue::list(&app.state.db).await.expect("list the catalogue");
    assert!(active.iter().any(|entry| entry.slug == SLUG));
}

#[tokio::test]
async fn edit_creates_version_and_keeps_enrolments() {
    let (app, platform) = start().await;
    let rosa = admin(&app, &platform).await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let first = participation::enroll(&app.state.db, &ada.viewer(), SLUG, &["open-questions".to_string()])
        .await
        .expect("enrol Ada");
    let version_one = catalogue::by_slug(&app.state.db, SLUG).await.expect("the micro-credential");
    let path = format!("/app/admin/credentials/{SLUG}/edit");
    let page = rosa.get(&app, &path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    let form = form_to(&page, &path);
    let text = form.field("toml").expect("the definition textarea").to_string();
    assert!(text.contains(&format!("slug = \"{SLUG}\"")), "{text}");
    let revised = text.replace(TITLE, "Test Talk Routines, Revised");
    assert_ne!(revised, text);

    let saved = rosa.browser.submit_form(&form.clone().with_field("toml", &revised)).await;

    assert_eq!(saved.status, StatusCode::OK, "{}", describe(&saved));
    assert_eq!(saved.url.path(), path);
    assert!(
        saved.body.contains("Version 2 created; participants who started earlier stay on their versions."),
        "{}",
        describe(&saved)
    );
    let current = catalogue::by_slug(&app.state.db, SLUG).await.expect("the micro-credential");
    assert_eq!(current.version, 2);
    assert_eq!(current.definition.title, "Test Talk Routines, Revised");
    let stored = enrollment::Entity::find_by_id(first.id)
        .one(&app.state.db)
        .await
        .expect("read the enrolment")
        .expect("the enrolment exists");
    assert_eq!(stored.credential_version_id, version_one.version_id, "Ada stays on version 1");
    let overview = participation::overview(&app.state.db, &ada.viewer(), SLUG).await.expect("Ada's overview");
    assert_eq!(overview.entry.version, 1);
    assert_eq!(overview.entry.definition.title, TITLE);
    let bea = participant(&app, &platform, "bea", "Bea", "course-1").await;
    let later = participation::enroll(&app.state.db, &bea.viewer(), SLUG, &["open-questions".to_string()])
        .await
        .expect("enrol Bea");
    assert_eq!(later.credential_version_id, current.version_id, "a new enrolment starts on version 2");

    let again = rosa.browser.submit_form(&form_to(&saved, &path)).await;

    assert_eq!(again.status, StatusCode::OK, "{}", describe(&again));
    assert!(again.body.contains("Nothing changed"), "{}", describe(&again));
    assert_eq!(catalogue::by_slug(&app.state.db, SLUG).await.expect("the micro-credential").version, 2);
}

#[tokio::test]
async fn invalid_edit_lists_problems() {
    let (app, platform) = start().await;
    let rosa = admin(&app, &platform).await;
    let path = format!("/app/admin/credentials/{SLUG}/edit");
    let page = rosa.get(&app, &path).await;
    let form = form_to(&page, &path);
    let text = form.field("toml").expect("the definition textarea").to_string();
    let broken = text.replace("ceus = 2.0", "ceus = 0.0").replace("estimated_hours = 20", "estimated_hours = 0");
    assert_ne!(broken, text);
    let versions_before = version_count(&app).await;

    let answer = rosa.browser.submit_form(&form.clone().with_field("toml", &broken)).await;

    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", describe(&answer));
    assert!(answer.body.contains("Nothing was saved"), "{}", describe(&answer));
    assert!(answer.body.contains("2 problems"), "{}", describe(&answer));
    assert!(answer.body.contains("ceus"), "{}", describe(&answer));
    assert!(answer.body.contains("estimated_hours"), "{}", describe(&answer));
    assert!(answer.body.matches("Fix: ").count() >= 2, "each problem says how to fix it: {}", describe(&answer));
    assert_eq!(form_to(&answer, &path).field("toml"), Some(broken.as_str()), "the text is kept");
    assert_eq!(version_count(&app).await, versions_before);

    let unparsable = rosa.browser.submit_form(&form.clone().with_field("toml", "[[micro_credential]]\nslug = ")).await;

    assert_eq!(unparsable.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", describe(&unparsable));
    assert!(unparsable.body.contains("Nothing was saved"), "{}", describe(&unparsable));
    assert_eq!(version_count(&app).await, versions_before);
    let current = catalogue::by_slug(&app.state.db, SLUG).await.expect("the micro-credential");
    assert_eq!(current.version, 1);
    assert_eq!(current.definition.ceus, 2.0);
}

// Import and export.

#[tokio::test]
async fn import_and_export_round_trip() {
    let (app, platform) = start().await;
    let rosa = admin(&app, &platform).await;
    let active = catalogue::list(&app.state.db).await.expect("list the catalogue").len();

    let export = rosa.get(&app, "/app/admin/export.toml").await;

    assert_eq!(export.status, StatusCode::OK, "{}", describe(&export));
    assert_eq!(export.header("content-disposition"), Some("attachment; filename=\"microcred-catalogue.toml\""));
    let exported = Catalogue::from_toml_str(&export.body).expect("the export parses as a catalogue");
    assert_eq!(exported.micro_credentials.len(), active);

    // Importing the export changes nothing.
    let page = rosa.get(&app, "/app/admin/import").await;
    let form = form_to(&page, "/app/admin/import").with_field("text", &export.body);
    let versions_before = version_count(&app).await;
    let unchanged = rosa.browser.submit_form(&form).await;

    assert_eq!(unchanged.status, StatusCode::OK, "{}", describe(&unchanged));
    assert!(unchanged.body.contains("Import finished"), "{}", describe(&unchanged));
    assert!(unchanged.body.contains("Unchanged, so no new version"), "{}", describe(&unchanged));
    assert!(!unchanged.body.contains("Created:"), "{}", describe(&unchanged));
    assert_eq!(version_count(&app).await, versions_before);

    // A file upload with one changed and one new micro-credential.
    let revised = format!(
        "{}\n{}",
        test_catalogue(SLUG, "Test Talk Routines, Revised"),
        test_catalogue("second-talk", "Second Talk Routines")
    );
    let upload = reqwest::multipart::Form::new().text("text", "").part(
        "file",
        reqwest::multipart::Part::bytes(revised.into_bytes())
            .file_name("catalogue.toml")
            .mime_str("application/toml")
            .expect("a MIME type"),
    );
    let answer = upload_client()
        .post(rosa.url(&app, "/app/admin/import"))
        .multipart(upload)
        .send()
        .await
        .expect("upload the catalogue file");

    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let location = answer.headers().get("location").and_then(|v| v.to_str().ok()).expect("a Location header");
    let report = rosa.browser.get(&app.url(location)).await;
    assert!(report.body.contains("Second Talk Routines"), "{}", describe(&report));
    assert!(
        report.body.contains("Test Talk Routines, Revised (<code>test-talk</code>): version 2"),
        "{}",
        describe(&report)
    );
    assert_eq!(catalogue::by_slug(&app.state.db, "second-talk").await.expect("the new one").version, 1);
    assert_eq!(catalogue::by_slug(&app.state.db, SLUG).await.expect("the changed one").version, 2);

    // A JSON file of the current definition is unchanged.
    let current = catalogue::by_slug(&app.state.db, SLUG).await.expect("the changed one");
    let json = Catalogue { micro_credentials: vec![current.definition.as_ref().clone()] }.to_json_string().expect("JSON");
    let upload = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(json.into_bytes()).file_name("catalogue.json"));
    let answer = upload_client()
        .post(rosa.url(&app, "/app/admin/import"))
        .multipart(upload)
        .send()
        .await
        .expect("upload the JSON file");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let location = answer.headers().get("location").and_then(|v| v.to_str().ok()).expect("a Location header");
    assert!(location.contains("unchanged=test-talk"), "{location}");
}

#[tokio::test]
async fn invalid_import_stores_nothing() {
    let (app, platform) = start().await;
    let rosa = admin(&app, &platform).await;
    let page = rosa.get(&app, "/app/admin/import").await;
    // The first definition is valid; the second breaks two rules. Neither may be stored.
    let text = format!(
        "{}\n{}",
        test_catalogue("fresh-talk", "Fresh Talk"),
        test_catalogue("broken-talk", "Broken Talk").replace("ceus = 2.0", "ceus = -1.0").replace(
            "mastery_level = \"proficient\"\n\n[[micro_credential.component.rubric.criterion.level]]\nkey = \"beginning\"",
            "mastery_level = \"missing\"\n\n[[micro_credential.component.rubric.criterion.level]]\nkey = \"beginning\""
        )
    );
    let versions_before = version_count(&app).await;

    let answer = rosa.browser.submit_form(&form_to(&page, "/app/admin/import").with_field("text", &text)).await;

    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", describe(&answer));
    assert!(answer.body.contains("Nothing was imported"), "{}", describe(&answer));
    assert!(answer.body.contains("ceus"), "{}", describe(&answer));
    assert!(answer.body.contains("mastery"), "{}", describe(&answer));
    assert_eq!(form_to(&answer, "/app/admin/import").field("text"), Some(text.as_str()), "the text is kept");
    assert_eq!(version_count(&app).await, versions_before);
    assert!(catalogue::by_slug(&app.state.db, "fresh-talk").await.is_err(), "the valid part is not stored either");

    let empty = rosa.browser.submit_form(&form_to(&page, "/app/admin/import")).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", describe(&empty));
    assert!(empty.body.contains("Nothing to import"), "{}", describe(&empty));
}

// Reports.

#[tokio::test]
async fn ceu_csv_lists_earned_credentials() {
    let (app, platform) = start().await;
    let rosa = admin(&app, &platform).await;
    let formula = launch_as(&app, &platform, "formula", "=SUM(A1)", "Teacher", "course-1", &[role::LEARNER]).await;
    let coach = assessor(&app, &platform, "coach", "Carol", "course-1").await;
    for component in COMPONENTS {
        let attempt_id = submit_work(&app, &formula, component, "My work.").await;
        let saved = coach.post(&app, &format!("/app/assess/attempts/{attempt_id}"), MASTERED).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", describe(&saved));
    }
    // A participant who has not finished earns nothing.
    let ben = participant(&app, &platform, "ben", "Ben", "course-1").await;
    submit_work(&app, &ben, "norms", "My work.").await;

    let page = rosa.get(&app, "/app/admin/ceu-report").await;
    let csv = rosa.get(&app, "/app/admin/ceu-report.csv").await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    assert!(page.body.contains("=SUM(A1) Teacher"), "{}", describe(&page));
    assert!(page.body.contains("1 micro-credential earned, 2.0 CEUs in total"), "{}", describe(&page));
    assert!(page.body.contains("href=\"/app/admin/ceu-report.csv?_s="));
    assert_eq!(csv.status, StatusCode::OK, "{}", describe(&csv));
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv.header("content-disposition").is_some_and(|v| v.starts_with("attachment")));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one earned micro-credential: {}", csv.body);
    assert!(lines[0].starts_with("participant,email,micro_credential"), "{}", lines[0]);
    assert!(lines[1].starts_with("'=SUM(A1) Teacher,formula@example.edu,"), "{}", lines[1]);
    assert!(lines[1].contains(TITLE), "{}", lines[1]);
    assert!(lines[1].contains("Course course-1"), "{}", lines[1]);
    assert!(lines[1].contains(",2.00,"), "{}", lines[1]);
}

#[tokio::test]
async fn non_admin_is_forbidden_on_admin_pages() {
    let (app, platform) = start().await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let coach = assessor(&app, &platform, "coach", "Carol", "course-1").await;
    let pages = [
        "/app/admin".to_string(),
        format!("/app/admin/credentials/{SLUG}/edit"),
        format!("/app/admin/credentials/{SLUG}/export.toml"),
        "/app/admin/import".to_string(),
        "/app/admin/export.toml".to_string(),
        "/app/admin/ceu-report".to_string(),
        "/app/admin/ceu-report.csv".to_string(),
        "/app/admin/audit".to_string(),
    ];
    let posts = [
        (format!("/app/admin/credentials/{SLUG}/edit"), vec![("toml", test_catalogue(SLUG, "Hijacked"))]),
        (format!("/app/admin/credentials/{SLUG}/archive"), vec![]),
        (format!("/app/admin/credentials/{SLUG}/restore"), vec![]),
        ("/app/admin/import".to_string(), vec![("text", test_catalogue("sneaky", "Sneaky"))]),
    ];
    let versions_before = version_count(&app).await;

    for person in [&ada, &coach] {
        for path in &pages {
            let page = person.get(&app, path).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "GET {path} as {}: {}", person.name, describe(&page));
        }
        for (path, fields) in &posts {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
            let page = person.post(&app, path, &fields).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "POST {path} as {}: {}", person.name, describe(&page));
        }
    }

    assert_eq!(version_count(&app).await, versions_before);
    let entry = catalogue::by_slug(&app.state.db, SLUG).await.expect("the micro-credential");
    assert_eq!(entry.status, catalogue::STATUS_ACTIVE);
    assert_eq!(entry.definition.title, TITLE);
}

#[tokio::test]
async fn audit_log_shows_state_changes() {
    let (app, platform) = start().await;
    let rosa = admin(&app, &platform).await;
    let ada = participant(&app, &platform, "ada", "Ada", "course-1").await;
    let coach = assessor(&app, &platform, "coach", "Carol", "course-1").await;
    let attempt_id = submit_work(&app, &ada, "norms", "Our norms.").await;
    let saved = coach.post(&app, &format!("/app/assess/attempts/{attempt_id}"), MASTERED).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", describe(&saved));
    let archived = rosa.post(&app, &format!("/app/admin/credentials/{SLUG}/archive"), &[]).await;
    assert_eq!(archived.status, StatusCode::SEE_OTHER, "{}", describe(&archived));

    let page = rosa.get(&app, "/app/admin/audit").await;

    assert_eq!(page.status, StatusCode::OK, "{}", describe(&page));
    for action in [
        "credential.created",
        "enrollment.created",
        "attempt.started",
        "attempt.submitted",
        "attempt.assessed",
        "credential.archived",
    ] {
        assert!(page.body.contains(&format!("<code>{action}</code>")), "{action} is missing: {}", describe(&page));
    }
    assert!(page.body.contains("Ada Teacher"), "{}", describe(&page));
    assert!(page.body.contains("Carol Coach"), "{}", describe(&page));
    assert!(page.body.contains("Rosa Admin"), "{}", describe(&page));
    assert!(page.body.contains(&format!("attempt {attempt_id}")), "{}", describe(&page));
    assert!(page.body.contains("<dt>decision</dt><dd>mastered</dd>"), "{}", describe(&page));
    let archived_at = page.body.find("<code>credential.archived</code>").expect("the archive entry");
    let assessed_at = page.body.find("<code>attempt.assessed</code>").expect("the assessment entry");
    assert!(archived_at < assessed_at, "the newest entry comes first");
}
