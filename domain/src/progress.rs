//! Attempts, component state, resubmission rules and credential progress.
//!
//! An educator works on each component through attempts, oldest first. An attempt is a
//! draft until submitted, read-only once submitted, and assessed once by an assessor. A new
//! attempt may start only when there is none yet or the latest one was assessed not yet
//! mastered. So in a valid history every attempt but the latest is assessed not yet
//! mastered. The micro-credential is earned when all five components are mastered.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalogue::MicroCredential;
use crate::limits::COMPONENT_COUNT;
use crate::rubric::Decision;

/// Summary of one stored attempt, with the fields that progress needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptSummary {
    /// When the attempt was created.
    pub started_at: DateTime<Utc>,
    /// Current status.
    pub status: AttemptStatus,
}

/// Status of one attempt, with the timestamps that status implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Editable by the educator.
    Draft,
    /// Read-only, awaiting assessment.
    Submitted {
        /// When the educator submitted it.
        submitted_at: DateTime<Utc>,
    },
    /// Read-only, with a decision.
    Assessed {
        /// When the educator submitted it.
        submitted_at: DateTime<Utc>,
        /// When the assessor recorded the decision.
        assessed_at: DateTime<Utc>,
        /// The decision.
        decision: Decision,
    },
}

impl AttemptStatus {
    /// Returns whether the educator may still change the attempt, which is true only for a
    /// draft.
    pub fn is_editable(&self) -> bool {
        matches!(self, AttemptStatus::Draft)
    }
}

/// State of one component for one educator, derived from its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ComponentState {
    /// No attempt yet.
    NotStarted,
    /// The latest attempt is a draft.
    Draft,
    /// The latest attempt is submitted and awaits assessment.
    Submitted,
    /// The latest attempt was assessed not yet mastered; the educator may resubmit.
    NotYetMastered,
    /// The latest attempt was assessed mastered.
    Mastered {
        /// When the assessor recorded mastery.
        mastered_at: DateTime<Utc>,
    },
}

/// An action on a component that the attempt rules forbid in its current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AttemptRuleError {
    /// A new attempt was requested while a draft is open.
    #[error("a draft attempt is already open: continue editing it instead of starting a new one")]
    DraftOpen,
    /// A new attempt was requested while the latest one awaits assessment.
    #[error("the latest attempt is awaiting assessment: wait for the assessor's decision before starting a new attempt")]
    AwaitingAssessment,
    /// A new attempt was requested after mastery.
    #[error("this component is already mastered: no further attempts are needed")]
    AlreadyMastered,
    /// An assessment was requested but no attempt is submitted.
    #[error(
        "no submitted attempt is awaiting assessment: the educator must submit an attempt first"
    )]
    NothingToAssess,
    /// An assessment was requested for an attempt that already has a decision.
    #[error("the latest attempt is already assessed: an assessment cannot be changed, so wait for a resubmission")]
    AlreadyAssessed,
}

impl ComponentState {
    /// Checks that the educator may start a new attempt: only when no attempt exists or the
    /// latest was assessed not yet mastered.
    pub fn check_new_attempt(&self) -> Result<(), AttemptRuleError> {
        match self {
            ComponentState::NotStarted | ComponentState::NotYetMastered => Ok(()),
            ComponentState::Draft => Err(AttemptRuleError::DraftOpen),
            ComponentState::Submitted => Err(AttemptRuleError::AwaitingAssessment),
            ComponentState::Mastered { .. } => Err(AttemptRuleError::AlreadyMastered),
        }
    }

    /// Checks that an assessor may assess the latest attempt: only when it is submitted.
    pub fn check_assessment(&self) -> Result<(), AttemptRuleError> {
        match self {
            ComponentState::Submitted => Ok(()),
            ComponentState::NotStarted | ComponentState::Draft => {
                Err(AttemptRuleError::NothingToAssess)
            }
            ComponentState::NotYetMastered | ComponentState::Mastered { .. } => {
                Err(AttemptRuleError::AlreadyAssessed)
            }
        }
    }

    /// Returns whether the component is mastered.
    pub fn is_mastered(&self) -> bool {
        matches!(self, ComponentState::Mastered { .. })
    }
}

/// A stored attempt history that the attempt rules could not have produced.
///
/// Positions start at 1, oldest attempt first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AttemptHistoryError {
    /// An attempt follows one that was mastered.
    #[error("attempt {position} follows a mastered attempt: no attempt may start after mastery")]
    AttemptAfterMastery {
        /// Position of the offending attempt.
        position: usize,
    },
    /// An attempt follows one that is still a draft or awaiting assessment.
    #[error("attempt {position} follows an attempt that was never assessed: a new attempt may start only after the previous one is assessed")]
    AttemptAfterOpenAttempt {
        /// Position of the offending attempt.
        position: usize,
    },
    /// An attempt's timestamps are out of order, within it or against the previous one.
    #[error("attempt {position} has timestamps out of order: it must start after the previous attempt was assessed, and be submitted after it started and assessed after it was submitted")]
    TimestampsOutOfOrder {
        /// Position of the offending attempt.
        position: usize,
    },
}

/// Derives a component's state from its attempts, oldest first.
///
/// Returns an error when the history breaks the attempt rules, which means the stored
/// data is inconsistent.
pub fn component_state(attempts: &[AttemptSummary]) -> Result<ComponentState, AttemptHistoryError> {
    let mut previous_assessed_at: Option<DateTime<Utc>> = None;
    for (index, attempt) in attempts.iter().enumerate() {
        let position = index + 1;
        if !timestamps_in_order(attempt, previous_assessed_at) {
            return Err(AttemptHistoryError::TimestampsOutOfOrder { position });
        }
        let is_latest = position == attempts.len();
        match attempt.status {
            AttemptStatus::Assessed {
                decision: Decision::NotYetMastered,
                assessed_at,
                ..
            } => previous_assessed_at = Some(assessed_at),
            AttemptStatus::Assessed {
                decision: Decision::Mastered,
                ..
            } if !is_latest => {
                return Err(AttemptHistoryError::AttemptAfterMastery {
                    position: position + 1,
                })
            }
            AttemptStatus::Draft | AttemptStatus::Submitted { .. } if !is_latest => {
                return Err(AttemptHistoryError::AttemptAfterOpenAttempt {
                    position: position + 1,
                })
            }
            _ => {}
        }
    }

    let state = match attempts.last().map(|attempt| attempt.status) {
        None => ComponentState::NotStarted,
        Some(AttemptStatus::Draft) => ComponentState::Draft,
        Some(AttemptStatus::Submitted { .. }) => ComponentState::Submitted,
        Some(AttemptStatus::Assessed {
            decision: Decision::NotYetMastered,
            ..
        }) => ComponentState::NotYetMastered,
        Some(AttemptStatus::Assessed {
            decision: Decision::Mastered,
            assessed_at,
            ..
        }) => ComponentState::Mastered {
            mastered_at: assessed_at,
        },
    };
    Ok(state)
}

fn timestamps_in_order(
    attempt: &AttemptSummary,
    previous_assessed_at: Option<DateTime<Utc>>,
) -> bool {
    if previous_assessed_at.is_some_and(|assessed_at| attempt.started_at < assessed_at) {
        return false;
    }
    match attempt.status {
        AttemptStatus::Draft => true,
        AttemptStatus::Submitted { submitted_at } => submitted_at >= attempt.started_at,
        AttemptStatus::Assessed {
            submitted_at,
            assessed_at,
            ..
        } => submitted_at >= attempt.started_at && assessed_at >= submitted_at,
    }
}

/// State of one component within a credential's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentProgress {
    /// Component key.
    pub key: String,
    /// Derived state.
    pub state: ComponentState,
    /// Number of attempts so far.
    pub attempt_count: usize,
}

/// The award of an earned micro-credential.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Award {
    /// CEUs awarded, from the definition version the educator started.
    pub ceus: f64,
    /// When the last of the five components was mastered.
    pub earned_at: DateTime<Utc>,
}

/// One educator's progress on one micro-credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialProgress {
    /// Components in definition order.
    pub components: Vec<ComponentProgress>,
    /// Number of mastered components.
    pub mastered_count: usize,
    /// Number of components in the definition (five in a valid one).
    pub component_count: usize,
    /// Mastered components as a whole percentage, rounded down.
    pub percent_complete: u8,
    /// Present once every component is mastered.
    pub award: Option<Award>,
}

impl CredentialProgress {
    /// Returns whether the micro-credential is earned.
    pub fn is_earned(&self) -> bool {
        self.award.is_some()
    }
}

/// A credential's attempts that cannot be turned into progress.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProgressError {
    /// Attempts are given for a component key the definition does not have, which
    /// usually means they belong to another version of the definition.
    #[error("attempts are given for component \"{key}\", which this version of the micro-credential does not have: load the definition version the educator started")]
    UnknownComponent {
        /// The unknown key.
        key: String,
    },
    /// A component's attempt history breaks the attempt rules.
    #[error("component \"{key}\": {source}")]
    InvalidHistory {
        /// Component key.
        key: String,
        /// The rule the history breaks.
        source: AttemptHistoryError,
    },
}

/// Derives an educator's progress on a micro-credential from the attempts on each
/// component, keyed by component key, oldest attempt first. A component missing from the
/// map has no attempts.
///
/// The award is present only when the definition has exactly five components and all are
/// mastered. Its date is the latest of the five mastery dates.
pub fn credential_progress(
    credential: &MicroCredential,
    attempts: &BTreeMap<String, Vec<AttemptSummary>>,
) -> Result<CredentialProgress, ProgressError> {
    if let Some(key) = attempts
        .keys()
        .find(|key| credential.component(key).is_none())
    {
        return Err(ProgressError::UnknownComponent { key: key.clone() });
    }

    let mut components = Vec::with_capacity(credential.components.len());
    let mut mastered_dates = Vec::new();
    for component in &credential.components {
        let component_attempts = attempts
            .get(&component.key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let state = component_state(component_attempts).map_err(|source| {
            ProgressError::InvalidHistory {
                key: component.key.clone(),
                source,
            }
        })?;
        if let ComponentState::Mastered { mastered_at } = state {
            mastered_dates.push(mastered_at);
        }
        components.push(ComponentProgress {
            key: component.key.clone(),
            state,
            attempt_count: component_attempts.len(),
        });
    }

    let mastered_count = mastered_dates.len();
    let component_count = components.len();
    let percent_complete = (mastered_count * 100)
        .checked_div(component_count)
        .map_or(0, |percent| u8::try_from(percent).unwrap_or(100));
    let all_mastered = component_count == COMPONENT_COUNT && mastered_count == component_count;
    let award = if all_mastered {
        mastered_dates.iter().max().map(|earned_at| Award {
            ceus: credential.ceus,
            earned_at: *earned_at,
        })
    } else {
        None
    };

    Ok(CredentialProgress {
        components,
        mastered_count,
        component_count,
        percent_complete,
        award,
    })
}

#[cfg(test)]
mod tests;
