//! The prior-knowledge self-check.
//!
//! The educator ticks the statements that are true for them. Any unticked statement means
//! prior knowledge may be missing, so the UI recommends the linked course. Nothing in this
//! crate makes starting a micro-credential depend on the result.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalogue::MicroCredential;

/// Result of a self-check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfCheckOutcome {
    /// Keys of the statements left unticked, in definition order.
    pub unticked: Vec<String>,
    /// Whether to recommend the linked course: prior knowledge is missing and the
    /// micro-credential links a course.
    pub recommend_course: bool,
}

impl SelfCheckOutcome {
    /// Returns whether any statement is unticked.
    pub fn prior_knowledge_missing(&self) -> bool {
        !self.unticked.is_empty()
    }
}

/// Ticked items that do not match the definition.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SelfCheckError {
    /// A ticked key is not one of the self-check's statements.
    #[error("self-check item \"{key}\" is not in this micro-credential: tick only its listed statements")]
    UnknownItem {
        /// The unknown key.
        key: String,
    },
}

impl MicroCredential {
    /// Evaluates the self-check from the keys of the ticked statements. Ticking a key
    /// twice counts once.
    pub fn evaluate_self_check<S: AsRef<str>>(
        &self,
        ticked: &[S],
    ) -> Result<SelfCheckOutcome, SelfCheckError> {
        let ticked: BTreeSet<&str> = ticked.iter().map(AsRef::as_ref).collect();
        if let Some(unknown) = ticked
            .iter()
            .find(|key| !self.self_check_items.iter().any(|item| item.key == **key))
        {
            return Err(SelfCheckError::UnknownItem {
                key: (*unknown).to_owned(),
            });
        }

        let unticked: Vec<String> = self
            .self_check_items
            .iter()
            .filter(|item| !ticked.contains(item.key.as_str()))
            .map(|item| item.key.clone())
            .collect();
        let recommend_course = !unticked.is_empty() && self.course.is_some();
        Ok(SelfCheckOutcome {
            unticked,
            recommend_course,
        })
    }
}

#[cfg(test)]
mod tests;
