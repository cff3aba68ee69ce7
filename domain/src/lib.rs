//! Micro-credential rules, free of web, database and LTI code.
//!
//! - [`catalogue`]: the definition types, read from and written to TOML or JSON.
//! - [`Catalogue::validate`] and [`MicroCredential::validate`]: the checks on a definition,
//!   which report every problem with its path and a fix.
//! - [`rubric`]: rubric assessment and the strict mastery decision.
//! - [`submission`]: checks on an educator's draft or submission, and word counting.
//! - [`progress`]: component state from attempts, resubmission rules and the award.
//! - [`self_check`]: the prior-knowledge self-check.
//! - [`fingerprint`]: a content fingerprint that distinguishes versions of a definition.
//! - [`limits`]: the size limits that the checks enforce.
//! - [`error`]: which error type each operation returns.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

pub mod catalogue;
pub mod error;
pub mod fingerprint;
pub mod limits;
pub mod progress;
pub mod rubric;
pub mod self_check;
pub mod submission;
mod validate;

#[cfg(test)]
mod test_support;

pub use catalogue::{
    Catalogue, Citation, Component, LearningCourse, MicroCredential, ResearchBasis, SelfCheckItem,
};
pub use error::{CatalogueError, Problem, ValidationError};
pub use fingerprint::Fingerprint;
pub use progress::{
    component_state, credential_progress, AttemptHistoryError, AttemptRuleError, AttemptStatus,
    AttemptSummary, Award, ComponentProgress, ComponentState, CredentialProgress, ProgressError,
};
pub use rubric::{
    AssessmentError, AssessmentInput, AssessmentOutcome, AssessmentProblem, Criterion, Decision,
    Level, Rubric, Shortfall,
};
pub use self_check::{SelfCheckError, SelfCheckOutcome};
pub use submission::{
    count_words, FileRequirement, LinkProblem, LinkRequirement, Part, ReflectionRequirement,
    Submission, SubmissionError, SubmissionProblem, SubmissionRequirements, TextRequirement,
};
