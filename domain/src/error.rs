//! Error types, and which operation returns which.
//!
//! - Reading or writing a catalogue returns [`CatalogueError`]. A catalogue that parses
//!   but breaks the rules gives [`CatalogueError::Invalid`], which contains a
//!   [`ValidationError`].
//! - Validating a definition that is already in memory returns [`ValidationError`]: every
//!   [`Problem`] found, each with a path and a fix, so an editor can show them all at once.
//! - Assessing a rubric returns [`crate::AssessmentError`], checking a submission
//!   [`crate::SubmissionError`]; both list every problem found.
//! - Deriving progress returns [`crate::ProgressError`] or [`crate::AttemptHistoryError`]
//!   when the stored attempts contradict the attempt rules, which points to a storage bug.
//! - Starting an attempt or an assessment that the rules forbid returns
//!   [`crate::AttemptRuleError`]; its message can be shown to the user as it is.
//! - Answering the self-check with an unknown item returns [`crate::SelfCheckError`].

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One broken rule in a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Location of the problem, for example
    /// `micro_credential "exit-tickets" > component "plan" > rubric > criterion "alignment"`.
    pub path: String,
    /// Description of what is wrong, without a closing period.
    pub message: String,
    /// Change that fixes the problem, without a closing period.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}. Fix: {}.", self.message, self.fix)
        } else {
            write!(f, "{}: {}. Fix: {}.", self.path, self.message, self.fix)
        }
    }
}

/// Every problem found in a definition or catalogue; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct ValidationError {
    /// The problems in the order found, which follows the order of the definition.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(
            f,
            "invalid micro-credential definition, {count} {noun} found:"
        )?;
        for problem in &self.problems {
            write!(f, "\n- {problem}")?;
        }
        Ok(())
    }
}

/// Failure to read, parse, validate or write a catalogue.
#[derive(Debug, Error)]
pub enum CatalogueError {
    /// The file or folder could not be read.
    #[error("failed to read catalogue {path}: {source}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has an extension other than `.toml` or `.json`.
    #[error("unsupported catalogue file {path}: use a .toml or .json file")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
    },
    /// The text is not valid TOML or does not have the catalogue's shape.
    #[error("invalid TOML catalogue{}: {source}", in_file(.path))]
    Toml {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// The parser's error, with line and column.
        source: toml::de::Error,
    },
    /// The text is not valid JSON or does not have the catalogue's shape.
    #[error("invalid JSON catalogue{}: {source}", in_file(.path))]
    Json {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// The parser's error, with line and column.
        source: serde_json::Error,
    },
    /// The catalogue parsed but breaks the rules.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The catalogue could not be written as TOML.
    #[error("failed to write catalogue as TOML: {0}")]
    WriteToml(#[from] toml::ser::Error),
    /// The catalogue could not be written as JSON.
    #[error("failed to write catalogue as JSON: {0}")]
    WriteJson(#[source] serde_json::Error),
}

fn in_file(path: &Option<PathBuf>) -> String {
    match path {
        Some(path) => format!(" in {}", path.display()),
        None => String::new(),
    }
}
