//! The tool's signing keys: the states a rotation step moves them through,
//! and rotation steps run by several instances at once.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use microcred::keys::{self, RotationTimes};
use microcred::store::entities::tool_key;
use microcred_testkit::{Browser, StatusCode};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::support::TestApp;

async fn states(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let mut by_state: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in tool_key::Entity::find().all(&app.state.db).await.expect("read keys") {
        by_state.entry(key.status).or_default().push(key.kid);
    }
    by_state
}

async fn published_kids(app: &TestApp) -> Vec<String> {
    let page = Browser::new().get(&app.url("/.well-known/jwks.json")).await;
    assert_eq!(page.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&page.body).expect("JSON");
    body["keys"].as_array().expect("keys").iter().filter_map(|k| k["kid"].as_str().map(str::to_string)).collect()
}

fn count(states: &BTreeMap<String, Vec<String>>, state: &str) -> usize {
    states.get(state).map_or(0, Vec::len)
}

/// Make every key look `age` old, as if the tool had been running that long.
async fn age_keys(app: &TestApp, age: Duration) {
    tool_key::Entity::update_many()
        .col_expr(tool_key::Column::CreatedAt, Expr::value(Utc::now() - age))
        .filter(tool_key::Column::Id.gt(0))
        .exec(&app.state.db)
        .await
        .expect("age the keys");
}

#[tokio::test]
async fn first_start_publishes_a_next_key_beside_the_signing_key() {
    let app = TestApp::spawn().await;

    let states = states(&app).await;

    assert_eq!(count(&states, "active"), 1, "{states:?}");
    assert_eq!(count(&states, "next"), 1, "{states:?}");
    let published = published_kids(&app).await;
    assert!(published.contains(&states["next"][0]), "the next key is not published: {published:?}");
}

#[tokio::test]
async fn a_young_next_key_waits_and_an_old_one_signs() {
    let app = TestApp::spawn().await;
    let times = RotationTimes { retire_after: Duration::hours(24), min_published: Duration::hours(1) };
    let before = states(&app).await;

    let waiting = keys::rotate(&app.state.db, times).await.expect("rotate");
    assert!(waiting.activated.is_none(), "{waiting:?}");
    assert_eq!(waiting.waiting.as_ref().map(|(kid, _)| kid), Some(&before["next"][0]));
    assert_eq!(states(&app).await, before, "a waiting step changed the keys");

    age_keys(&app, Duration::hours(2)).await;
    let promoted = keys::rotate(&app.state.db, times).await.expect("rotate");
    assert_eq!(promoted.activated.as_ref(), Some(&before["next"][0]));
    assert_eq!(promoted.retiring, before["active"]);
    let after = states(&app).await;
    assert_eq!(after["active"], before["next"]);
    assert_eq!(after["retiring"], before["active"]);
    assert_eq!(count(&after, "next"), 1);
    let signing = keys::signing_key(&app.state.db).await.expect("a signing key");
    assert_eq!(signing.kid, before["next"][0]);
    // The retiring key stays published for tokens it signed.
    assert!(published_kids(&app).await.contains(&before["active"][0]));
}

#[tokio::test]
async fn retiring_key_leaves_the_key_set_when_its_time_has_passed() {
    let app = TestApp::spawn().await;
    let before = states(&app).await;
    age_keys(&app, Duration::hours(2)).await;
    let times = RotationTimes { retire_after: Duration::seconds(-1), min_published: Duration::hours(1) };
    keys::rotate(&app.state.db, times).await.expect("rotate");
    let old = &before["active"][0];

    assert!(!published_kids(&app).await.contains(old), "a key past its retiring time is still published");
    // Housekeeping may have retired it first; either way it ends retired.
    let retired = keys::retire_expired(&app.state.db).await.expect("retire");
    assert!(retired.is_empty() || retired == before["active"], "{retired:?}");
    assert_eq!(states(&app).await["retired"], before["active"]);
}

/// Four instances run a rotation step at the same moment: one promotes,
/// the others find the fresh next key too young and wait.
#[tokio::test]
async fn simultaneous_rotations_promote_one_key() {
    let app = TestApp::spawn().await;
    age_keys(&app, Duration::hours(2)).await;
    let times = RotationTimes { retire_after: Duration::hours(24), min_published: Duration::hours(1) };

    let steps = (0..4).map(|_| {
        let db = app.state.db.clone();
        tokio::spawn(async move { keys::rotate(&db, times).await })
    });
    let reports: Vec<_> = futures::future::join_all(steps).await;

    let mut promoted = 0;
    for report in reports {
        let report = report.expect("the task").expect("a rotation step");
        if report.activated.is_some() {
            promoted += 1;
        } else {
            assert!(report.waiting.is_some(), "{report:?}");
        }
    }
    assert_eq!(promoted, 1);
    let after = states(&app).await;
    assert_eq!((count(&after, "active"), count(&after, "next"), count(&after, "retiring")), (1, 1, 1), "{after:?}");
}
