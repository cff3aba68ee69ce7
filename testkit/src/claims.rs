//! Builders for LTI 1.3 id_token claim sets (LTI Core 1.3, Deep Linking 2.0
//! and Submission Review 1.0 messages).

use serde::Serialize;
use serde_json::{json, Map, Value};

/// Claim names defined by the LTI specifications.
pub mod claim {
    pub const MESSAGE_TYPE: &str = "https://purl.imsglobal.org/spec/lti/claim/message_type";
    pub const VERSION: &str = "https://purl.imsglobal.org/spec/lti/claim/version";
    pub const DEPLOYMENT_ID: &str = "https://purl.imsglobal.org/spec/lti/claim/deployment_id";
    pub const TARGET_LINK_URI: &str = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri";
    pub const RESOURCE_LINK: &str = "https://purl.imsglobal.org/spec/lti/claim/resource_link";
    pub const ROLES: &str = "https://purl.imsglobal.org/spec/lti/claim/roles";
    pub const ROLE_SCOPE_MENTOR: &str =
        "https://purl.imsglobal.org/spec/lti/claim/role_scope_mentor";
    pub const CONTEXT: &str = "https://purl.imsglobal.org/spec/lti/claim/context";
    pub const TOOL_PLATFORM: &str = "https://purl.imsglobal.org/spec/lti/claim/tool_platform";
    pub const LAUNCH_PRESENTATION: &str =
        "https://purl.imsglobal.org/spec/lti/claim/launch_presentation";
    pub const CUSTOM: &str = "https://purl.imsglobal.org/spec/lti/claim/custom";
    pub const LIS: &str = "https://purl.imsglobal.org/spec/lti/claim/lis";
    pub const FOR_USER: &str = "https://purl.imsglobal.org/spec/lti/claim/for_user";
    pub const DEEP_LINKING_SETTINGS: &str =
        "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings";
    pub const AGS_ENDPOINT: &str = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint";
    pub const NAMES_ROLE_SERVICE: &str =
        "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice";
    /// Claims of an `LtiDeepLinkingResponse`, which the tool signs.
    pub const DEEP_LINKING_CONTENT_ITEMS: &str =
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items";
    pub const DEEP_LINKING_DATA: &str = "https://purl.imsglobal.org/spec/lti-dl/claim/data";
    pub const DEEP_LINKING_MESSAGE: &str = "https://purl.imsglobal.org/spec/lti-dl/claim/msg";
}

/// Values of the `message_type` claim.
pub mod message_type {
    pub const RESOURCE_LINK: &str = "LtiResourceLinkRequest";
    pub const DEEP_LINKING: &str = "LtiDeepLinkingRequest";
    pub const SUBMISSION_REVIEW: &str = "LtiSubmissionReviewRequest";
    /// The message the tool sends back to the deep linking return URL.
    pub const DEEP_LINKING_RESPONSE: &str = "LtiDeepLinkingResponse";
}

/// Role URIs from the LIS vocabulary that LTI 1.3 uses.
pub mod role {
    pub const LEARNER: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner";
    pub const INSTRUCTOR: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor";
    pub const ADMINISTRATOR: &str =
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator";
    pub const CONTENT_DEVELOPER: &str =
        "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper";
    pub const MENTOR: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor";
    pub const TEACHING_ASSISTANT: &str =
        "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant";
    pub const INSTITUTION_STUDENT: &str =
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student";
    pub const INSTITUTION_FACULTY: &str =
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty";
    pub const INSTITUTION_INSTRUCTOR: &str =
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor";
    pub const INSTITUTION_ADMINISTRATOR: &str =
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator";
    pub const INSTITUTION_STAFF: &str =
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Staff";
    pub const SYSTEM_ADMINISTRATOR: &str =
        "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator";
}

/// Context type URI for a course offering.
pub const COURSE_OFFERING: &str = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering";

/// Assignment and Grade Services scopes, for the `AGS_ENDPOINT` claim.
pub mod ags_scope {
    pub const LINE_ITEM: &str = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem";
    pub const LINE_ITEM_READONLY: &str =
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly";
    pub const RESULT_READONLY: &str =
        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly";
    pub const SCORE: &str = "https://purl.imsglobal.org/spec/lti-ags/scope/score";
}

/// Names and Role Provisioning Services scope, for the `NAMES_ROLE_SERVICE` claim.
pub mod nrps_scope {
    pub const CONTEXT_MEMBERSHIP_READONLY: &str =
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly";
}

/// Default lifetime of a built id_token, in seconds.
pub const DEFAULT_LIFETIME_SECONDS: i64 = 300;

/// The platform values that every claim set repeats: `iss`, `aud` and the
/// deployment id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformIdentity {
    pub issuer: String,
    pub client_id: String,
    pub deployment_id: String,
}

/// A test user for the `sub`, name and email claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestUser {
    pub sub: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
}

impl TestUser {
    pub fn new(sub: &str, given_name: &str, family_name: &str, email: &str) -> TestUser {
        TestUser {
            sub: sub.to_owned(),
            given_name: given_name.to_owned(),
            family_name: family_name.to_owned(),
            email: email.to_owned(),
        }
    }

    /// Returns the user that claim sets get unless a test sets another.
    pub fn default_learner() -> TestUser {
        TestUser::new(
            "testkit-user-ada",
            "Ada",
            "Lovelace",
            "ada.lovelace@example.edu",
        )
    }

    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// An id_token claim set, kept as a JSON object so a test can set or remove
/// any claim.
///
/// Claim paths are slices of object keys, because LTI claim names contain dots
/// and slashes: `&[claim::CONTEXT, "id"]` is the `id` member of the context
/// claim. The builders set `iss`, `aud`, `sub`, `iat` and `exp`, but no
/// `nonce`: the test platform fills that in from the authentication request
/// (see `NonceChoice`), and tests that post a token directly set it with
/// [`LaunchClaims::with_nonce`].
#[derive(Clone, Debug, PartialEq)]
pub struct LaunchClaims {
    claims: Map<String, Value>,
}

impl LaunchClaims {
    /// Builds a complete `LtiResourceLinkRequest` claim set for the default
    /// learner, in a default course.
    pub fn resource_link(identity: &PlatformIdentity, target_link_uri: &str) -> LaunchClaims {
        let mut claims =
            LaunchClaims::common(identity, target_link_uri, message_type::RESOURCE_LINK);
        claims.set(
            &[claim::RESOURCE_LINK],
            json!({
                "id": "testkit-resource-link-1",
                "title": "Micro-credential: Formative Assessment",
                "description": "Earn the formative assessment micro-credential.",
            }),
        );
        claims
    }

    /// Builds an `LtiDeepLinkingRequest` claim set for an instructor, with a
    /// deep linking settings claim that accepts LTI resource links.
    pub fn deep_linking(
        identity: &PlatformIdentity,
        target_link_uri: &str,
        deep_link_return_url: &str,
    ) -> LaunchClaims {
        let mut claims =
            LaunchClaims::common(identity, target_link_uri, message_type::DEEP_LINKING);
        claims.set(&[claim::ROLES], json!([role::INSTRUCTOR]));
        claims.set(
            &[claim::DEEP_LINKING_SETTINGS],
            json!({
                "deep_link_return_url": deep_link_return_url,
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": true,
                "auto_create": true,
                "title": "Add a micro-credential",
                "text": "Choose the micro-credential to add to this course.",
                "data": "testkit-deep-linking-data",
            }),
        );
        claims
    }

    /// Builds an `LtiSubmissionReviewRequest` claim set: an instructor reviews
    /// the submission of the user `for_user_id`. It carries the resource link,
    /// an Assignment and Grade Services endpoint claim with the line item, and
    /// the `for_user` claim.
    pub fn submission_review(
        identity: &PlatformIdentity,
        target_link_uri: &str,
        for_user_id: &str,
    ) -> LaunchClaims {
        let mut claims =
            LaunchClaims::common(identity, target_link_uri, message_type::SUBMISSION_REVIEW);
        let issuer = identity.issuer.trim_end_matches('/');
        claims.set(&[claim::ROLES], json!([role::INSTRUCTOR]));
        claims.set(
            &[claim::RESOURCE_LINK],
            json!({
                "id": "testkit-resource-link-1",
                "title": "Micro-credential: Formative Assessment",
            }),
        );
        claims.set(
            &[claim::AGS_ENDPOINT],
            json!({
                "scope": [ags_scope::LINE_ITEM, ags_scope::RESULT_READONLY, ags_scope::SCORE],
                "lineitems": format!("{issuer}/ags/contexts/testkit-course-1/lineitems"),
                "lineitem": format!("{issuer}/ags/contexts/testkit-course-1/lineitems/1"),
            }),
        );
        claims.set(
            &[claim::FOR_USER],
            json!({
                "user_id": for_user_id,
                "given_name": "Grace",
                "family_name": "Hopper",
                "name": "Grace Hopper",
                "email": "grace.hopper@example.edu",
                "roles": [role::LEARNER],
            }),
        );
        claims.with_user(&TestUser::new(
            "testkit-user-instructor",
            "Alan",
            "Turing",
            "alan.turing@example.edu",
        ))
    }

    /// Wraps an arbitrary JSON object as a claim set.
    ///
    /// # Panics
    /// If `value` is not a JSON object.
    pub fn from_value(value: Value) -> LaunchClaims {
        match value {
            Value::Object(claims) => LaunchClaims { claims },
            other => panic!("a claim set must be a JSON object, got {other}"),
        }
    }

    fn common(identity: &PlatformIdentity, target_link_uri: &str, message: &str) -> LaunchClaims {
        let issuer = identity.issuer.trim_end_matches('/');
        let now = chrono::Utc::now().timestamp();
        let mut claims = LaunchClaims { claims: Map::new() };
        claims.set(&["iss"], json!(identity.issuer));
        claims.set(&["aud"], json!(identity.client_id));
        claims.set(&["iat"], json!(now));
        claims.set(&["exp"], json!(now + DEFAULT_LIFETIME_SECONDS));

        claims.set(&[claim::MESSAGE_TYPE], json!(message));
        claims.set(&[claim::VERSION], json!("1.3.0"));
        claims.set(&[claim::DEPLOYMENT_ID], json!(identity.deployment_id));
        claims.set(&[claim::TARGET_LINK_URI], json!(target_link_uri));
        claims.set(&[claim::ROLES], json!([role::LEARNER]));

        claims.set(
            &[claim::CONTEXT],
            json!({
                "id": "testkit-course-1",
                "label": "PD101",
                "title": "Professional Development 101",
                "type": [COURSE_OFFERING],
            }),
        );
        claims.set(
            &[claim::TOOL_PLATFORM],
            json!({
                "guid": "testkit-platform",
                "name": "Testkit LMS",
                "product_family_code": "microcred-testkit",
                "version": env!("CARGO_PKG_VERSION"),
            }),
        );
        claims.set(
            &[claim::LAUNCH_PRESENTATION],
            json!({
                "document_target": "iframe",
                "return_url": format!("{issuer}/return"),
                "locale": "en-US",
            }),
        );
        claims.set(&[claim::CUSTOM], json!({}));

        claims.with_user(&TestUser::default_learner())
    }

    /// Sets the claim at `path`, creating parent objects as needed (and
    /// replacing a parent that is not an object).
    ///
    /// # Panics
    /// If `path` is empty.
    pub fn set(&mut self, path: &[&str], value: impl Serialize) -> &mut LaunchClaims {
        let value =
            serde_json::to_value(value).expect("a claim value could not be serialized to JSON");
        let (last, parents) = path
            .split_last()
            .expect("a claim path needs at least one key");
        let mut object = &mut self.claims;
        for key in parents {
            let entry = object
                .entry((*key).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            object = entry
                .as_object_mut()
                .expect("the entry was just made an object");
        }
        object.insert((*last).to_owned(), value);
        self
    }

    /// Removes the claim at `path` and returns it, if it was there.
    pub fn remove(&mut self, path: &[&str]) -> Option<Value> {
        let (last, parents) = path.split_last()?;
        let mut object = &mut self.claims;
        for key in parents {
            object = object.get_mut(*key)?.as_object_mut()?;
        }
        object.remove(*last)
    }

    pub fn get(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut value = self.claims.get(*first)?;
        for key in rest {
            value = value.as_object()?.get(*key)?;
        }
        Some(value)
    }

    /// Returns the claim at `path` if it is a string.
    pub fn get_str(&self, path: &[&str]) -> Option<&str> {
        self.get(path).and_then(Value::as_str)
    }

    /// Consuming form of [`LaunchClaims::set`], for chaining.
    pub fn with(mut self, path: &[&str], value: impl Serialize) -> LaunchClaims {
        self.set(path, value);
        self
    }

    /// Consuming form of [`LaunchClaims::remove`], for chaining.
    pub fn without(mut self, path: &[&str]) -> LaunchClaims {
        self.remove(path);
        self
    }

    /// Replaces the roles claim.
    pub fn with_roles<I, S>(self, roles: I) -> LaunchClaims
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        self.with(&[claim::ROLES], roles)
    }

    /// Sets `sub`, `name`, `given_name`, `family_name` and `email`.
    pub fn with_user(self, user: &TestUser) -> LaunchClaims {
        self.with(&["sub"], &user.sub)
            .with(&["name"], user.name())
            .with(&["given_name"], &user.given_name)
            .with(&["family_name"], &user.family_name)
            .with(&["email"], &user.email)
    }

    /// Sets one custom parameter in the custom claim.
    pub fn with_custom(self, name: &str, value: &str) -> LaunchClaims {
        self.with(&[claim::CUSTOM, name], value)
    }

    /// Sets the Assignment and Grade Services endpoint claim, for example to
    /// `TestPlatform::ags_claim`.
    pub fn with_ags(self, endpoint: Value) -> LaunchClaims {
        self.with(&[claim::AGS_ENDPOINT], endpoint)
    }

    /// Sets the Names and Role Provisioning Services claim, for example to
    /// `TestPlatform::nrps_claim`.
    pub fn with_nrps(self, service: Value) -> LaunchClaims {
        self.with(&[claim::NAMES_ROLE_SERVICE], service)
    }

    /// Returns the `id` of the context claim.
    pub fn context_id(&self) -> Option<&str> {
        self.get_str(&[claim::CONTEXT, "id"])
    }

    /// Returns the `id` of the resource link claim.
    pub fn resource_link_id(&self) -> Option<&str> {
        self.get_str(&[claim::RESOURCE_LINK, "id"])
    }

    /// Sets the `nonce` claim, for tokens a test mints and posts itself.
    pub fn with_nonce(self, nonce: &str) -> LaunchClaims {
        self.with(&["nonce"], nonce)
    }

    /// Makes `aud` an array and sets `azp` to the first audience, as the
    /// Security Framework requires when `aud` has several values.
    ///
    /// # Panics
    /// If `audiences` is empty.
    pub fn with_audiences(self, audiences: &[&str]) -> LaunchClaims {
        let first = *audiences
            .first()
            .expect("with_audiences needs at least one audience");
        self.with(&["aud"], audiences).with(&["azp"], first)
    }

    /// Sets `iat` and `exp` (seconds since the Unix epoch).
    pub fn with_times(self, issued_at: i64, expires_at: i64) -> LaunchClaims {
        self.with(&["iat"], issued_at).with(&["exp"], expires_at)
    }

    /// Makes the token expired: issued an hour and a minute ago, expired a
    /// minute ago.
    pub fn expired(self) -> LaunchClaims {
        let now = chrono::Utc::now().timestamp();
        self.with_times(now - 3660, now - 60)
    }

    pub fn sub(&self) -> Option<&str> {
        self.get_str(&["sub"])
    }

    pub fn message_type(&self) -> Option<&str> {
        self.get_str(&[claim::MESSAGE_TYPE])
    }

    pub fn target_link_uri(&self) -> Option<&str> {
        self.get_str(&[claim::TARGET_LINK_URI])
    }

    pub fn deployment_id(&self) -> Option<&str> {
        self.get_str(&[claim::DEPLOYMENT_ID])
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.claims
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.claims.clone())
    }
}
