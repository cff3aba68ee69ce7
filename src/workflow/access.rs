//! Who may see and change what. Every rule is checked on the server for
//! every request, pages, API and file downloads alike:
//! - a participant sees only their own work;
//! - an assessor sees only the work of their own course, and never
//!   assesses their own submission;
//! - a catalogue admin manages the catalogue and sees reports of their own
//!   platform registration;
//! - an admin launched through an active registration that manages
//!   registrations manages every registration of the installation;
//! - a user from another platform or course sees nothing.

use microcred_lti::{Role, RoleSet};

use super::{Result, WorkflowError};
use crate::sessions::Session;
use crate::store::entities::{enrollment, platform};
use crate::store::platforms::STATUS_ACTIVE;

/// The message of a rejected request, naming who may manage registrations.
pub const REGISTRATION_MANAGERS: &str = "Only administrators of an LMS whose registration manages registrations may \
    manage the registrations of microcred. Whoever runs microcred gives a registration this right with \
    microcred platform add --manages-registrations.";

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

    /// Returns whether the viewer may manage every registration of the installation.
    /// `own` is the viewer's registration as stored now: it must be active
    /// and manage registrations, and the viewer must be its administrator.
    pub fn can_manage_registrations(&self, own: Option<&platform::Model>) -> bool {
        let Some(own) = own else { return false };
        self.roles.has(Role::Admin)
            && own.id == self.platform_id
            && own.status == STATUS_ACTIVE
            && own.manages_registrations
    }

    /// Check that the viewer may manage every registration; see [`Viewer::can_manage_registrations`].
    pub fn check_registration_manager(&self, own: Option<&platform::Model>) -> Result<()> {
        if self.can_manage_registrations(own) {
            Ok(())
        } else {
            Err(WorkflowError::Forbidden(REGISTRATION_MANAGERS.to_string()))
        }
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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn viewer(admin: bool) -> Viewer {
        Viewer {
            user_id: 1,
            platform_id: 7,
            context_pk: None,
            resource_link_pk: None,
            roles: RoleSet { participant: true, assessor: false, admin },
        }
    }

    fn registration(id: i64, status: &str, manages_registrations: bool) -> platform::Model {
        platform::Model {
            id,
            issuer: "https://lms.example.org".into(),
            client_id: "client".into(),
            auth_url: "https://lms.example.org/auth".into(),
            token_url: "https://lms.example.org/token".into(),
            jwks_url: "https://lms.example.org/jwks".into(),
            token_audience: None,
            status: status.into(),
            created_at: Utc::now(),
            source: "manual".into(),
            product_family: None,
            display_name: None,
            manages_registrations,
            updated_at: None,
        }
    }

    #[test]
    fn registration_manager_needs_admin_and_flag() {
        assert!(viewer(true).can_manage_registrations(Some(&registration(7, "active", true))));
        assert!(!viewer(false).can_manage_registrations(Some(&registration(7, "active", true))), "not an admin");
        assert!(!viewer(true).can_manage_registrations(Some(&registration(7, "active", false))), "no flag");
        assert!(!viewer(true).can_manage_registrations(Some(&registration(8, "active", true))), "another registration");
        assert!(!viewer(true).can_manage_registrations(Some(&registration(7, "disabled", true))), "disabled");
        assert!(!viewer(true).can_manage_registrations(Some(&registration(7, "removed", true))), "removed");
        assert!(!viewer(true).can_manage_registrations(None), "registration missing");
    }

    #[test]
    fn refused_manager_learns_who_may() {
        let error = viewer(false).check_registration_manager(None).expect_err("refused");
        assert!(error.to_string().contains("--manages-registrations"), "{error}");
    }
}
