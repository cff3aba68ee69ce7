//! LIS roles as platforms send them, mapped to the tool's three kinds of user.
//!
//! Platforms send full URIs (`http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor`),
//! sub-roles (`...membership/Instructor#TeachingAssistant`) or short names
//! (`Instructor`). Unknown roles are ignored; an empty list or `[""]` gives a
//! participant with no extra rights.

use serde::{Deserialize, Serialize};

/// A role the tool acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An educator working toward a micro-credential (LIS Learner).
    Participant,
    /// Assesses submissions (LIS Instructor, TeachingAssistant, Mentor).
    Assessor,
    /// Manages the catalogue (LIS Administrator, ContentDeveloper).
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Participant => "participant",
            Self::Assessor => "assessor",
            Self::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "participant" => Some(Self::Participant),
            "assessor" => Some(Self::Assessor),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// The roles a launch grants, derived from the `roles` claim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSet {
    pub participant: bool,
    pub assessor: bool,
    pub admin: bool,
}

impl RoleSet {
    /// Map a `roles` claim. Every launched user may at least work as a participant.
    pub fn from_claim<S: AsRef<str>>(roles: &[S]) -> Self {
        let mut set = RoleSet { participant: true, ..RoleSet::default() };
        for role in roles {
            match lis_role_name(role.as_ref()).as_deref() {
                Some("Instructor" | "TeachingAssistant" | "Mentor") => set.assessor = true,
                Some("Administrator" | "ContentDeveloper" | "SysAdmin") => set.admin = true,
                _ => {}
            }
        }
        set
    }

    /// The most capable role, which picks the first page after launch.
    pub fn primary(&self) -> Role {
        if self.admin {
            Role::Admin
        } else if self.assessor {
            Role::Assessor
        } else {
            Role::Participant
        }
    }

    pub fn has(&self, role: Role) -> bool {
        match role {
            Role::Participant => self.participant,
            Role::Assessor => self.assessor || self.admin,
            Role::Admin => self.admin,
        }
    }

    /// Compact form for storage, e.g. `participant,assessor`.
    pub fn to_storage(&self) -> String {
        let mut parts = Vec::new();
        if self.participant {
            parts.push("participant");
        }
        if self.assessor {
            parts.push("assessor");
        }
        if self.admin {
            parts.push("admin");
        }
        parts.join(",")
    }

    pub fn from_storage(value: &str) -> Self {
        let mut set = RoleSet::default();
        for part in value.split(',') {
            match Role::parse(part.trim()) {
                Some(Role::Participant) => set.participant = true,
                Some(Role::Assessor) => set.assessor = true,
                Some(Role::Admin) => set.admin = true,
                None => {}
            }
        }
        set
    }
}

/// The LIS role name in a role value: the last `#` fragment of a URI that
/// belongs to a known LIS vocabulary, or the whole value when it is a short
/// name. Sub-roles (`.../membership/Instructor#TeachingAssistant`) give the
/// sub-role name.
fn lis_role_name(role: &str) -> Option<String> {
    let role = role.trim();
    if role.is_empty() {
        return None;
    }
    const LIS_PREFIXES: [&str; 6] = [
        "http://purl.imsglobal.org/vocab/lis/v2/membership",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person",
        "http://purl.imsglobal.org/vocab/lis/v2/system/person",
        "http://purl.imsglobal.org/vocab/lti/system/person",
        "http://purl.imsglobal.org/vocab/lis/v2/person",
        "urn:lti:role:ims/lis",
    ];
    if role.contains(':') {
        if !LIS_PREFIXES.iter().any(|prefix| role.starts_with(prefix)) {
            return None;
        }
        let fragment = role.rsplit(['#', '/']).next()?;
        return (!fragment.is_empty()).then(|| fragment.to_string());
    }
    Some(role.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBERSHIP: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#";

    #[test]
    fn learner_uri_is_participant_only() {
        let set = RoleSet::from_claim(&[format!("{MEMBERSHIP}Learner")]);
        assert_eq!(set.primary(), Role::Participant);
        assert!(!set.assessor);
        assert!(!set.admin);
    }

    #[test]
    fn short_instructor_is_assessor() {
        let set = RoleSet::from_claim(&["Instructor"]);
        assert!(set.assessor);
        assert_eq!(set.primary(), Role::Assessor);
    }

    #[test]
    fn teaching_assistant_subrole_is_assessor() {
        let set = RoleSet::from_claim(&[
            "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
        ]);
        assert!(set.assessor);
    }

    #[test]
    fn mentor_is_assessor() {
        assert!(RoleSet::from_claim(&[format!("{MEMBERSHIP}Mentor")]).assessor);
    }

    #[test]
    fn institution_administrator_is_admin() {
        let set = RoleSet::from_claim(&[
            "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
        ]);
        assert!(set.admin);
        assert_eq!(set.primary(), Role::Admin);
    }

    #[test]
    fn content_developer_is_admin() {
        assert!(RoleSet::from_claim(&[format!("{MEMBERSHIP}ContentDeveloper")]).admin);
    }

    #[test]
    fn system_administrator_is_admin() {
        let set =
            RoleSet::from_claim(&["http://purl.imsglobal.org/vocab/lis/v2/system/person#SysAdmin"]);
        assert!(set.admin);
    }

    #[test]
    fn empty_string_role_is_participant() {
        let set = RoleSet::from_claim(&[""]);
        assert_eq!(set, RoleSet { participant: true, assessor: false, admin: false });
    }

    #[test]
    fn unknown_roles_are_ignored() {
        let set = RoleSet::from_claim(&[
            "http://example.com/vocab#Instructor",
            "Wizard",
            "urn:custom:Administrator",
        ]);
        assert_eq!(set.primary(), Role::Participant);
    }

    #[test]
    fn several_roles_combine() {
        let set = RoleSet::from_claim(&[
            format!("{MEMBERSHIP}Learner"),
            format!("{MEMBERSHIP}Instructor"),
        ]);
        assert!(set.participant);
        assert!(set.assessor);
    }

    #[test]
    fn storage_round_trip() {
        let set = RoleSet { participant: true, assessor: true, admin: false };
        assert_eq!(RoleSet::from_storage(&set.to_storage()), set);
    }
}
