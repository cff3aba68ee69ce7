//! Who may see and change what. Every rule is checked on the server for
//! every request, pages, API and file downloads alike:
//! - a participant sees only their own work;
//! - an assessor sees only the work of their own course, and never
//!   assesses their own submission;
//! - a catalogue admin manages the catalogue and sees reports of their own
//!   platform registration;
//! - a user from another platform or course sees nothing.

use microcred_lti::{Role, RoleSet};

use super::{Result, WorkflowError};
use crate::sessions::Session;
use crate::store::entities::enrollment;

/// The user behind a request, as the access rules need it.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: i64,
    pub platform_id: i64,
    pub context_pk: Option<i64>,
    pub resource_link_pk: Option<i64>,
    pub roles: RoleSet,
}

impl From<&Session> for Viewer {
    fn from(session: &Session) -> Self {
        Self {
            user_id: session.user_id,
            platform_id: session.platform_id,
            context_pk: session.context_pk,
            resource_link_pk: session.resource_link_pk,
            roles: session.roles,
        }
    }
}

impl Viewer {
    pub fn context(&self) -> Result<i64> {
        self.context_pk
            .ok_or_else(|| WorkflowError::Forbidden("This launch has no course. Open microcred from a course page.".into()))
    }

    pub fn require(&self, role: Role) -> Result<()> {
        if self.roles.has(role) {
            return Ok(());
        }
        let needed = match role {
            Role::Participant => "a participant",
            Role::Assessor => "an instructor or teaching assistant of this course",
            Role::Admin => "an administrator",
        };
        Err(WorkflowError::Forbidden(format!("Only {needed} may do this.")))
    }

    /// Whether the viewer may read an enrolment's work.
    pub fn can_read(&self, enrollment: &enrollment::Model) -> bool {
        if enrollment.platform_id != self.platform_id {
            return false;
        }
        if enrollment.user_id == self.user_id {
            return true;
        }
        self.roles.has(Role::Assessor) && self.context_pk == Some(enrollment.context_pk)
    }

    /// Check read access; the error does not reveal whether the work exists.
    pub fn check_read(&self, enrollment: &enrollment::Model) -> Result<()> {
        if self.can_read(enrollment) {
            Ok(())
        } else {
            Err(WorkflowError::NotFound("No such work, or it belongs to someone else.".into()))
        }
    }

    /// Check that the viewer owns the enrolment (only owners change work).
    pub fn check_owner(&self, enrollment: &enrollment::Model) -> Result<()> {
        if enrollment.user_id == self.user_id && enrollment.platform_id == self.platform_id {
            Ok(())
        } else {
            Err(WorkflowError::NotFound("No such work, or it belongs to someone else.".into()))
        }
    }

    /// Check that the viewer may assess work of this enrolment.
    pub fn check_assessor(&self, enrollment: &enrollment::Model) -> Result<()> {
        self.check_read(enrollment)?;
        self.require(Role::Assessor)?;
        if enrollment.user_id == self.user_id {
            return Err(WorkflowError::Forbidden("You cannot assess your own submission. Ask another assessor of this course.".into()));
        }
        if self.context_pk != Some(enrollment.context_pk) {
            return Err(WorkflowError::NotFound("No such work in this course.".into()));
        }
        Ok(())
    }
}
