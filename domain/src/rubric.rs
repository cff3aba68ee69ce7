//! Rubrics and their assessment.
//!
//! The decision is strict: a component is mastered only when every criterion is rated at
//! or above its mastery level. Levels are ordered lowest first, so "at or above" compares
//! positions in that list.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::limits::{MAX_COMMENT_CHARS, MAX_FEEDBACK_CHARS};

/// The criteria an assessor rates a submission on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    /// Criteria in display order.
    #[serde(rename = "criterion")]
    pub criteria: Vec<Criterion>,
}

/// One rubric criterion with its ordered levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Stable identifier, unique within the rubric.
    pub key: String,
    /// Title shown to assessors and educators.
    pub title: String,
    /// Key of the lowest level that counts as mastery.
    pub mastery_level: String,
    /// Levels, lowest first.
    #[serde(rename = "level")]
    pub levels: Vec<Level>,
}

/// One performance level of a criterion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Stable identifier, unique within the criterion.
    pub key: String,
    /// Short label, for example `Proficient`.
    pub label: String,
    /// Description of work at this level.
    pub description: String,
}

impl Criterion {
    /// Returns the position of a level, lowest first.
    pub fn level_position(&self, level_key: &str) -> Option<usize> {
        self.levels.iter().position(|level| level.key == level_key)
    }
}

/// Outcome of an assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Every criterion is at or above its mastery level.
    Mastered,
    /// At least one criterion is below its mastery level.
    NotYetMastered,
}

/// An assessor's ratings, feedback and comment on one submitted attempt.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssessmentInput {
    /// Chosen level key per criterion key.
    pub ratings: BTreeMap<String, String>,
    /// Feedback per criterion key. Required for every criterion rated below mastery.
    pub feedback: BTreeMap<String, String>,
    /// Comment on the submission as a whole; may be empty.
    pub overall_comment: String,
}

/// Result of a valid assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentOutcome {
    /// The decision.
    pub decision: Decision,
    /// Criteria rated below their mastery level, in rubric order; empty when mastered.
    pub shortfalls: Vec<Shortfall>,
}

/// A criterion rated below its mastery level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    /// Criterion key.
    pub criterion: String,
    /// Level the assessor chose.
    pub level: String,
    /// Level needed for mastery.
    pub mastery_level: String,
}

/// One reason an assessment cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AssessmentProblem {
    /// A criterion has no rating.
    #[error("criterion \"{criterion}\" is not rated: choose one of its levels")]
    MissingRating {
        /// Criterion key.
        criterion: String,
    },
    /// A rating names a criterion the rubric does not have.
    #[error("criterion \"{criterion}\" is not in this rubric: rate only the rubric's criteria")]
    UnknownCriterion {
        /// The unknown key.
        criterion: String,
    },
    /// A rating names a level the criterion does not have.
    #[error(
        "level \"{level}\" is not a level of criterion \"{criterion}\": choose one of its levels"
    )]
    UnknownLevel {
        /// Criterion key.
        criterion: String,
        /// The unknown level key.
        level: String,
    },
    /// The rubric names a mastery level that is not one of the criterion's levels.
    #[error("criterion \"{criterion}\" has mastery level \"{mastery_level}\", which is not one of its levels: fix the micro-credential definition")]
    UndefinedMasteryLevel {
        /// Criterion key.
        criterion: String,
        /// The mastery level key in the definition.
        mastery_level: String,
    },
    /// Feedback is given for a criterion the rubric does not have.
    #[error(
        "feedback is given for criterion \"{criterion}\", which is not in this rubric: remove it"
    )]
    FeedbackForUnknownCriterion {
        /// The unknown key.
        criterion: String,
    },
    /// A criterion below mastery has no feedback.
    #[error("feedback on criterion \"{criterion}\" is missing: it is rated below mastery, so tell the educator what to change")]
    MissingFeedback {
        /// Criterion key.
        criterion: String,
    },
    /// Feedback on a criterion is too long.
    #[error("feedback on criterion \"{criterion}\" has {chars} characters, more than the maximum of {max}: shorten it")]
    FeedbackTooLong {
        /// Criterion key.
        criterion: String,
        /// Length in characters.
        chars: usize,
        /// Maximum length.
        max: usize,
    },
    /// The overall comment is too long.
    #[error(
        "the overall comment has {chars} characters, more than the maximum of {max}: shorten it"
    )]
    CommentTooLong {
        /// Length in characters.
        chars: usize,
        /// Maximum length.
        max: usize,
    },
}

/// Every problem found in an assessment; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct AssessmentError {
    /// The problems, criteria in rubric order first.
    pub problems: Vec<AssessmentProblem>,
}

impl fmt::Display for AssessmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid assessment:")?;
        for problem in &self.problems {
            write!(f, "\n- {problem}")?;
        }
        Ok(())
    }
}

impl Rubric {
    /// Returns the criterion with this key.
    pub fn criterion(&self, key: &str) -> Option<&Criterion> {
        self.criteria.iter().find(|criterion| criterion.key == key)
    }

    /// Validates an assessment against this rubric and computes the decision.
    ///
    /// Every criterion needs a rating that names one of its levels, and every criterion
    /// rated below mastery needs non-blank feedback. Ratings and feedback for criteria the
    /// rubric lacks are rejected, as are feedback and comments over
    /// [`MAX_FEEDBACK_CHARS`] and [`MAX_COMMENT_CHARS`].
    pub fn assess(&self, input: &AssessmentInput) -> Result<AssessmentOutcome, AssessmentError> {
        let mut problems = Vec::new();
        let mut shortfalls = Vec::new();

        for criterion in &self.criteria {
            let key = &criterion.key;
            if let Some(shortfall) = rate_criterion(criterion, input, &mut problems) {
                let has_feedback = input
                    .feedback
                    .get(key)
                    .is_some_and(|feedback| !feedback.trim().is_empty());
                if !has_feedback {
                    problems.push(AssessmentProblem::MissingFeedback {
                        criterion: key.clone(),
                    });
                }
                shortfalls.push(shortfall);
            }
        }

        for criterion in input.ratings.keys() {
            if self.criterion(criterion).is_none() {
                problems.push(AssessmentProblem::UnknownCriterion {
                    criterion: criterion.clone(),
                });
            }
        }
        for (criterion, feedback) in &input.feedback {
            if self.criterion(criterion).is_none() {
                problems.push(AssessmentProblem::FeedbackForUnknownCriterion {
                    criterion: criterion.clone(),
                });
            }
            let chars = feedback.chars().count();
            if chars > MAX_FEEDBACK_CHARS {
                problems.push(AssessmentProblem::FeedbackTooLong {
                    criterion: criterion.clone(),
                    chars,
                    max: MAX_FEEDBACK_CHARS,
                });
            }
        }
        let comment_chars = input.overall_comment.chars().count();
        if comment_chars > MAX_COMMENT_CHARS {
            problems.push(AssessmentProblem::CommentTooLong {
                chars: comment_chars,
                max: MAX_COMMENT_CHARS,
            });
        }

        if !problems.is_empty() {
            return Err(AssessmentError { problems });
        }
        let decision = if shortfalls.is_empty() {
            Decision::Mastered
        } else {
            Decision::NotYetMastered
        };
        Ok(AssessmentOutcome {
            decision,
            shortfalls,
        })
    }
}

/// Checks one criterion's rating and returns a shortfall when it is below mastery.
fn rate_criterion(
    criterion: &Criterion,
    input: &AssessmentInput,
    problems: &mut Vec<AssessmentProblem>,
) -> Option<Shortfall> {
    let key = &criterion.key;
    let Some(level) = input.ratings.get(key) else {
        problems.push(AssessmentProblem::MissingRating {
            criterion: key.clone(),
        });
        return None;
    };
    let Some(chosen) = criterion.level_position(level) else {
        problems.push(AssessmentProblem::UnknownLevel {
            criterion: key.clone(),
            level: level.clone(),
        });
        return None;
    };
    let Some(mastery) = criterion.level_position(&criterion.mastery_level) else {
        problems.push(AssessmentProblem::UndefinedMasteryLevel {
            criterion: key.clone(),
            mastery_level: criterion.mastery_level.clone(),
        });
        return None;
    };
    (chosen < mastery).then(|| Shortfall {
        criterion: key.clone(),
        level: level.clone(),
        mastery_level: criterion.mastery_level.clone(),
    })
}

#[cfg(test)]
mod tests;
