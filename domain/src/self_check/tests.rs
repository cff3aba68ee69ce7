use super::SelfCheckError;
use crate::test_support::credential;

#[test]
fn self_check_all_ticked_nothing_missing() {
    let outcome = credential("checks")
        .evaluate_self_check(&["goals", "criteria"])
        .unwrap();
    assert!(!outcome.prior_knowledge_missing());
    assert_eq!(outcome.unticked, Vec::<String>::new());
    assert!(!outcome.recommend_course);
}

#[test]
fn self_check_one_unticked_recommends_course() {
    let outcome = credential("checks")
        .evaluate_self_check(&["criteria"])
        .unwrap();
    assert!(outcome.prior_knowledge_missing());
    assert_eq!(outcome.unticked, vec!["goals".to_owned()]);
    assert!(outcome.recommend_course);
}

#[test]
fn self_check_none_ticked_lists_all_in_order() {
    let outcome = credential("checks")
        .evaluate_self_check::<&str>(&[])
        .unwrap();
    assert_eq!(
        outcome.unticked,
        vec!["goals".to_owned(), "criteria".to_owned()]
    );
}

#[test]
fn self_check_duplicate_tick_counts_once() {
    let outcome = credential("checks")
        .evaluate_self_check(&["goals".to_owned(), "goals".to_owned()])
        .unwrap();
    assert_eq!(outcome.unticked, vec!["criteria".to_owned()]);
}

#[test]
fn self_check_without_course_recommends_nothing() {
    let mut definition = credential("checks");
    definition.course = None;
    let outcome = definition.evaluate_self_check(&["goals"]).unwrap();
    assert!(outcome.prior_knowledge_missing());
    assert!(!outcome.recommend_course);
}

#[test]
fn self_check_unknown_item_rejected() {
    let error = credential("checks")
        .evaluate_self_check(&["goals", "typing"])
        .unwrap_err();
    assert_eq!(
        error,
        SelfCheckError::UnknownItem {
            key: "typing".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "self-check item \"typing\" is not in this micro-credential: tick only its listed statements"
    );
}
