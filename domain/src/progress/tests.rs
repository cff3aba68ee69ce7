use std::collections::BTreeMap;

use super::{
    component_state, credential_progress, AttemptHistoryError, AttemptRuleError, AttemptStatus,
    AttemptSummary, Award, ComponentState, ProgressError,
};
use crate::rubric::Decision;
use crate::test_support::{credential, day};

fn draft(started: u32) -> AttemptSummary {
    AttemptSummary {
        started_at: day(started),
        status: AttemptStatus::Draft,
    }
}

fn submitted(started: u32, submitted: u32) -> AttemptSummary {
    AttemptSummary {
        started_at: day(started),
        status: AttemptStatus::Submitted {
            submitted_at: day(submitted),
        },
    }
}

fn assessed(started: u32, submitted: u32, assessed: u32, decision: Decision) -> AttemptSummary {
    AttemptSummary {
        started_at: day(started),
        status: AttemptStatus::Assessed {
            submitted_at: day(submitted),
            assessed_at: day(assessed),
            decision,
        },
    }
}

fn mastered(started: u32, assessed_on: u32) -> AttemptSummary {
    assessed(started, started, assessed_on, Decision::Mastered)
}

fn not_yet(started: u32, assessed_on: u32) -> AttemptSummary {
    assessed(started, started, assessed_on, Decision::NotYetMastered)
}

// Component state

#[test]
fn state_without_attempts_not_started() {
    assert_eq!(component_state(&[]), Ok(ComponentState::NotStarted));
}

#[test]
fn state_with_draft_is_draft() {
    assert_eq!(component_state(&[draft(1)]), Ok(ComponentState::Draft));
}

#[test]
fn state_with_submitted_is_submitted() {
    assert_eq!(
        component_state(&[submitted(1, 2)]),
        Ok(ComponentState::Submitted)
    );
}

#[test]
fn state_after_not_yet_mastered() {
    assert_eq!(
        component_state(&[not_yet(1, 3)]),
        Ok(ComponentState::NotYetMastered)
    );
}

#[test]
fn state_after_mastery_has_date() {
    assert_eq!(
        component_state(&[mastered(1, 4)]),
        Ok(ComponentState::Mastered {
            mastered_at: day(4)
        })
    );
}

#[test]
fn state_resubmission_draft_is_draft() {
    assert_eq!(
        component_state(&[not_yet(1, 3), draft(5)]),
        Ok(ComponentState::Draft)
    );
}

#[test]
fn state_mastered_on_second_attempt() {
    assert_eq!(
        component_state(&[not_yet(1, 3), mastered(5, 7)]),
        Ok(ComponentState::Mastered {
            mastered_at: day(7)
        })
    );
}

#[test]
fn state_new_attempt_same_instant_as_assessment_accepted() {
    assert_eq!(
        component_state(&[not_yet(1, 3), draft(3)]),
        Ok(ComponentState::Draft)
    );
}

#[test]
fn history_attempt_after_mastery_rejected() {
    assert_eq!(
        component_state(&[mastered(1, 2), draft(3)]),
        Err(AttemptHistoryError::AttemptAfterMastery { position: 2 })
    );
}

#[test]
fn history_attempt_after_draft_rejected() {
    assert_eq!(
        component_state(&[draft(1), draft(2)]),
        Err(AttemptHistoryError::AttemptAfterOpenAttempt { position: 2 })
    );
}

#[test]
fn history_attempt_after_submitted_rejected() {
    assert_eq!(
        component_state(&[not_yet(1, 2), submitted(3, 4), draft(5)]),
        Err(AttemptHistoryError::AttemptAfterOpenAttempt { position: 3 })
    );
}

#[test]
fn history_submitted_before_started_rejected() {
    assert_eq!(
        component_state(&[submitted(5, 4)]),
        Err(AttemptHistoryError::TimestampsOutOfOrder { position: 1 })
    );
}

#[test]
fn history_assessed_before_submitted_rejected() {
    assert_eq!(
        component_state(&[assessed(1, 5, 4, Decision::Mastered)]),
        Err(AttemptHistoryError::TimestampsOutOfOrder { position: 1 })
    );
}

#[test]
fn history_started_before_previous_assessed_rejected() {
    assert_eq!(
        component_state(&[not_yet(1, 6), draft(5)]),
        Err(AttemptHistoryError::TimestampsOutOfOrder { position: 2 })
    );
}

#[test]
fn history_error_message_names_position() {
    assert_eq!(
        AttemptHistoryError::AttemptAfterMastery { position: 2 }.to_string(),
        "attempt 2 follows a mastered attempt: no attempt may start after mastery"
    );
}

#[test]
fn attempt_editable_only_as_draft() {
    assert!(draft(1).status.is_editable());
    assert!(!submitted(1, 2).status.is_editable());
    assert!(!not_yet(1, 2).status.is_editable());
    assert!(!mastered(1, 2).status.is_editable());
}

// Resubmission and assessment rules

#[test]
fn new_attempt_allowed_when_not_started() {
    assert_eq!(ComponentState::NotStarted.check_new_attempt(), Ok(()));
}

#[test]
fn new_attempt_allowed_after_not_yet_mastered() {
    assert_eq!(ComponentState::NotYetMastered.check_new_attempt(), Ok(()));
}

#[test]
fn new_attempt_rejected_while_draft_open() {
    assert_eq!(
        ComponentState::Draft.check_new_attempt(),
        Err(AttemptRuleError::DraftOpen)
    );
}

#[test]
fn new_attempt_rejected_while_awaiting_assessment() {
    let error = ComponentState::Submitted.check_new_attempt().unwrap_err();
    assert_eq!(error, AttemptRuleError::AwaitingAssessment);
    assert_eq!(
        error.to_string(),
        "the latest attempt is awaiting assessment: wait for the assessor's decision before starting a new attempt"
    );
}

#[test]
fn new_attempt_rejected_after_mastery() {
    let state = ComponentState::Mastered {
        mastered_at: day(2),
    };
    assert_eq!(
        state.check_new_attempt(),
        Err(AttemptRuleError::AlreadyMastered)
    );
}

#[test]
fn assessment_allowed_when_submitted() {
    assert_eq!(ComponentState::Submitted.check_assessment(), Ok(()));
}

#[test]
fn assessment_rejected_for_draft() {
    assert_eq!(
        ComponentState::Draft.check_assessment(),
        Err(AttemptRuleError::NothingToAssess)
    );
}

#[test]
fn assessment_rejected_when_not_started() {
    assert_eq!(
        ComponentState::NotStarted.check_assessment(),
        Err(AttemptRuleError::NothingToAssess)
    );
}

#[test]
fn assessment_rejected_when_already_assessed() {
    assert_eq!(
        ComponentState::NotYetMastered.check_assessment(),
        Err(AttemptRuleError::AlreadyAssessed)
    );
    let mastered_state = ComponentState::Mastered {
        mastered_at: day(2),
    };
    assert_eq!(
        mastered_state.check_assessment(),
        Err(AttemptRuleError::AlreadyAssessed)
    );
}

// Credential progress

fn attempts(entries: &[(&str, Vec<AttemptSummary>)]) -> BTreeMap<String, Vec<AttemptSummary>> {
    entries
        .iter()
        .map(|(key, list)| ((*key).to_owned(), list.clone()))
        .collect()
}

#[test]
fn progress_without_attempts_is_zero() {
    let progress = credential_progress(&credential("checks"), &BTreeMap::new()).unwrap();
    assert_eq!(progress.mastered_count, 0);
    assert_eq!(progress.component_count, 5);
    assert_eq!(progress.percent_complete, 0);
    assert_eq!(progress.award, None);
    assert!(!progress.is_earned());
    let keys: Vec<&str> = progress.components.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, vec!["c1", "c2", "c3", "c4", "c5"]);
    assert!(progress
        .components
        .iter()
        .all(|component| component.state == ComponentState::NotStarted
            && component.attempt_count == 0));
}

#[test]
fn progress_three_of_five_is_sixty_percent() {
    let map = attempts(&[
        ("c1", vec![mastered(1, 2)]),
        ("c2", vec![not_yet(1, 2), mastered(3, 4)]),
        ("c3", vec![mastered(1, 5)]),
        ("c4", vec![submitted(1, 2)]),
    ]);
    let progress = credential_progress(&credential("checks"), &map).unwrap();
    assert_eq!(progress.mastered_count, 3);
    assert_eq!(progress.percent_complete, 60);
    assert_eq!(progress.award, None);
    assert_eq!(progress.components[1].attempt_count, 2);
    assert_eq!(progress.components[3].state, ComponentState::Submitted);
    assert_eq!(progress.components[4].state, ComponentState::NotStarted);
}

#[test]
fn progress_four_mastered_has_no_award() {
    let map = attempts(&[
        ("c1", vec![mastered(1, 2)]),
        ("c2", vec![mastered(1, 2)]),
        ("c3", vec![mastered(1, 2)]),
        ("c4", vec![mastered(1, 2)]),
        ("c5", vec![not_yet(1, 2)]),
    ]);
    let progress = credential_progress(&credential("checks"), &map).unwrap();
    assert_eq!(progress.percent_complete, 80);
    assert_eq!(progress.award, None);
}

#[test]
fn progress_all_mastered_awards_on_last_mastery() {
    let map = attempts(&[
        ("c1", vec![mastered(1, 2)]),
        ("c2", vec![mastered(1, 9)]),
        ("c3", vec![not_yet(1, 3), mastered(4, 6)]),
        ("c4", vec![mastered(1, 5)]),
        ("c5", vec![mastered(1, 8)]),
    ]);
    let progress = credential_progress(&credential("checks"), &map).unwrap();
    assert_eq!(progress.mastered_count, 5);
    assert_eq!(progress.percent_complete, 100);
    assert_eq!(
        progress.award,
        Some(Award {
            ceus: 2.0,
            earned_at: day(9),
        })
    );
    assert!(progress.is_earned());
}

#[test]
fn progress_award_uses_definition_ceus() {
    let mut definition = credential("checks");
    definition.ceus = 1.5;
    let keys = ["c1", "c2", "c3", "c4", "c5"];
    let map: BTreeMap<String, Vec<AttemptSummary>> = keys
        .iter()
        .map(|key| ((*key).to_owned(), vec![mastered(1, 2)]))
        .collect();
    let award = credential_progress(&definition, &map)
        .unwrap()
        .award
        .unwrap();
    assert_eq!(award.ceus, 1.5);
}

#[test]
fn progress_unknown_component_rejected() {
    let map = attempts(&[("c9", vec![draft(1)])]);
    let error = credential_progress(&credential("checks"), &map).unwrap_err();
    assert_eq!(error, ProgressError::UnknownComponent { key: "c9".into() });
}

#[test]
fn progress_invalid_history_names_component() {
    let map = attempts(&[("c2", vec![mastered(1, 2), draft(3)])]);
    let error = credential_progress(&credential("checks"), &map).unwrap_err();
    assert_eq!(
        error,
        ProgressError::InvalidHistory {
            key: "c2".into(),
            source: AttemptHistoryError::AttemptAfterMastery { position: 2 },
        }
    );
    assert_eq!(
        error.to_string(),
        "component \"c2\": attempt 2 follows a mastered attempt: no attempt may start after mastery"
    );
}

#[test]
fn progress_invalid_definition_never_earned() {
    let mut four = credential("checks");
    four.components.pop();
    let map: BTreeMap<String, Vec<AttemptSummary>> = ["c1", "c2", "c3", "c4"]
        .iter()
        .map(|key| ((*key).to_owned(), vec![mastered(1, 2)]))
        .collect();
    let progress = credential_progress(&four, &map).unwrap();
    assert_eq!(progress.percent_complete, 100);
    assert_eq!(progress.award, None);
}
