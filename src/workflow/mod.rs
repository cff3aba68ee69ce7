//! The micro-credential workflow: catalogue, participation, assessment and
//! reports. These services join the rules of `microcred_domain` with
//! storage; every access rule is checked here, so pages and the JSON API
//! share them.

pub mod access;
pub mod assessing;
pub mod audit;
pub mod catalogue;
pub mod files;
pub mod participation;
pub mod reports;

use crate::error::AppError;

/// Why a workflow operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// The input breaks a rule; each line says what and how to fix it.
    #[error("{}", .0.join(" "))]
    Invalid(Vec<String>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl WorkflowError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(vec![message.into()])
    }
}

impl From<WorkflowError> for AppError {
    fn from(error: WorkflowError) -> Self {
        match error {
            WorkflowError::NotFound(m) => AppError::NotFound(m),
            WorkflowError::Forbidden(m) => AppError::Forbidden(m),
            WorkflowError::Invalid(problems) => AppError::BadRequest(problems.join(" ")),
            WorkflowError::Conflict(m) => AppError::Conflict(m),
            WorkflowError::TooLarge(m) => AppError::TooLarge(m),
            WorkflowError::Database(e) => AppError::Internal(e.into()),
            WorkflowError::Internal(e) => AppError::Internal(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, WorkflowError>;
