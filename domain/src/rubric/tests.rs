use std::collections::BTreeMap;

use super::{AssessmentInput, AssessmentProblem, Decision, Shortfall};
use crate::test_support::rubric;

/// Builds an assessment of the test rubric (criteria "alignment" and "evidence").
fn input(ratings: &[(&str, &str)], feedback: &[(&str, &str)]) -> AssessmentInput {
    let to_map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    };
    AssessmentInput {
        ratings: to_map(ratings),
        feedback: to_map(feedback),
        overall_comment: String::new(),
    }
}

fn problems(assessment: &AssessmentInput) -> Vec<AssessmentProblem> {
    rubric().assess(assessment).unwrap_err().problems
}

#[test]
fn assess_all_at_mastery_is_mastered() {
    let outcome = rubric()
        .assess(&input(
            &[("alignment", "proficient"), ("evidence", "proficient")],
            &[],
        ))
        .unwrap();
    assert_eq!(outcome.decision, Decision::Mastered);
    assert_eq!(outcome.shortfalls, Vec::new());
}

#[test]
fn assess_all_above_mastery_is_mastered() {
    let outcome = rubric()
        .assess(&input(
            &[("alignment", "exemplary"), ("evidence", "exemplary")],
            &[],
        ))
        .unwrap();
    assert_eq!(outcome.decision, Decision::Mastered);
}

#[test]
fn assess_one_below_mastery_is_not_yet_mastered() {
    let outcome = rubric()
        .assess(&input(
            &[("alignment", "exemplary"), ("evidence", "developing")],
            &[("evidence", "Quote the student work behind each claim.")],
        ))
        .unwrap();
    assert_eq!(outcome.decision, Decision::NotYetMastered);
    assert_eq!(
        outcome.shortfalls,
        vec![Shortfall {
            criterion: "evidence".into(),
            level: "developing".into(),
            mastery_level: "proficient".into(),
        }]
    );
}

#[test]
fn assess_lists_every_shortfall_in_rubric_order() {
    let outcome = rubric()
        .assess(&input(
            &[("alignment", "emerging"), ("evidence", "developing")],
            &[
                ("alignment", "Name the goal."),
                ("evidence", "Add samples."),
            ],
        ))
        .unwrap();
    let keys: Vec<&str> = outcome
        .shortfalls
        .iter()
        .map(|shortfall| shortfall.criterion.as_str())
        .collect();
    assert_eq!(keys, vec!["alignment", "evidence"]);
}

#[test]
fn assess_feedback_on_mastered_criterion_allowed() {
    let mut assessment = input(
        &[("alignment", "proficient"), ("evidence", "exemplary")],
        &[("alignment", "Clear goal.")],
    );
    assessment.overall_comment = "Well done.".into();
    assert_eq!(
        rubric().assess(&assessment).unwrap().decision,
        Decision::Mastered
    );
}

#[test]
fn assess_missing_rating_rejected() {
    assert_eq!(
        problems(&input(&[("alignment", "proficient")], &[])),
        vec![AssessmentProblem::MissingRating {
            criterion: "evidence".into()
        }]
    );
}

#[test]
fn assess_unknown_criterion_rejected() {
    assert_eq!(
        problems(&input(
            &[
                ("alignment", "proficient"),
                ("evidence", "proficient"),
                ("style", "proficient")
            ],
            &[]
        )),
        vec![AssessmentProblem::UnknownCriterion {
            criterion: "style".into()
        }]
    );
}

#[test]
fn assess_unknown_level_rejected() {
    assert_eq!(
        problems(&input(
            &[("alignment", "proficient"), ("evidence", "excellent")],
            &[]
        )),
        vec![AssessmentProblem::UnknownLevel {
            criterion: "evidence".into(),
            level: "excellent".into(),
        }]
    );
}

#[test]
fn assess_level_keys_are_case_sensitive() {
    assert_eq!(
        problems(&input(
            &[("alignment", "Proficient"), ("evidence", "proficient")],
            &[]
        )),
        vec![AssessmentProblem::UnknownLevel {
            criterion: "alignment".into(),
            level: "Proficient".into(),
        }]
    );
}

#[test]
fn assess_shortfall_without_feedback_rejected() {
    assert_eq!(
        problems(&input(
            &[("alignment", "developing"), ("evidence", "proficient")],
            &[]
        )),
        vec![AssessmentProblem::MissingFeedback {
            criterion: "alignment".into()
        }]
    );
}

#[test]
fn assess_shortfall_with_blank_feedback_rejected() {
    assert_eq!(
        problems(&input(
            &[("alignment", "developing"), ("evidence", "proficient")],
            &[("alignment", "  \n ")]
        )),
        vec![AssessmentProblem::MissingFeedback {
            criterion: "alignment".into()
        }]
    );
}

#[test]
fn assess_feedback_for_unknown_criterion_rejected() {
    assert_eq!(
        problems(&input(
            &[("alignment", "proficient"), ("evidence", "proficient")],
            &[("style", "Nice layout.")]
        )),
        vec![AssessmentProblem::FeedbackForUnknownCriterion {
            criterion: "style".into()
        }]
    );
}

#[test]
fn assess_feedback_too_long_rejected() {
    let long = "f".repeat(5001);
    assert_eq!(
        problems(&input(
            &[("alignment", "proficient"), ("evidence", "proficient")],
            &[("evidence", &long)]
        )),
        vec![AssessmentProblem::FeedbackTooLong {
            criterion: "evidence".into(),
            chars: 5001,
            max: 5000,
        }]
    );
}

#[test]
fn assess_feedback_at_limit_accepted() {
    let at_limit = "é".repeat(5000);
    let assessment = input(
        &[("alignment", "proficient"), ("evidence", "proficient")],
        &[("evidence", &at_limit)],
    );
    assert!(rubric().assess(&assessment).is_ok());
}

#[test]
fn assess_comment_too_long_rejected() {
    let mut assessment = input(
        &[("alignment", "proficient"), ("evidence", "proficient")],
        &[],
    );
    assessment.overall_comment = "c".repeat(10_001);
    assert_eq!(
        problems(&assessment),
        vec![AssessmentProblem::CommentTooLong {
            chars: 10_001,
            max: 10_000,
        }]
    );
}

#[test]
fn assess_undefined_mastery_level_rejected() {
    let mut broken = rubric();
    broken.criteria[0].mastery_level = "competent".into();
    let error = broken
        .assess(&input(
            &[("alignment", "proficient"), ("evidence", "proficient")],
            &[],
        ))
        .unwrap_err();
    assert_eq!(
        error.problems,
        vec![AssessmentProblem::UndefinedMasteryLevel {
            criterion: "alignment".into(),
            mastery_level: "competent".into(),
        }]
    );
}

#[test]
fn assess_reports_all_problems() {
    let mut assessment = input(&[("evidence", "excellent"), ("style", "proficient")], &[]);
    assessment.overall_comment = "c".repeat(10_001);
    assert_eq!(
        problems(&assessment),
        vec![
            AssessmentProblem::MissingRating {
                criterion: "alignment".into()
            },
            AssessmentProblem::UnknownLevel {
                criterion: "evidence".into(),
                level: "excellent".into(),
            },
            AssessmentProblem::UnknownCriterion {
                criterion: "style".into()
            },
            AssessmentProblem::CommentTooLong {
                chars: 10_001,
                max: 10_000,
            },
        ]
    );
}

#[test]
fn assessment_error_display_lists_problems() {
    let error = rubric()
        .assess(&input(&[("alignment", "developing")], &[]))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid assessment:\n\
         - feedback on criterion \"alignment\" is missing: it is rated below mastery, so tell the educator what to change\n\
         - criterion \"evidence\" is not rated: choose one of its levels"
    );
}
