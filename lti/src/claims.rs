//! The claims of an LTI 1.3 id_token, as the tool reads them.
//!
//! Unknown claims are ignored; optional claims stay `Option` so that a
//! platform that withholds names or emails for privacy still launches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const CLAIM_MESSAGE_TYPE: &str = "https://purl.imsglobal.org/spec/lti/claim/message_type";
pub const CLAIM_VERSION: &str = "https://purl.imsglobal.org/spec/lti/claim/version";
pub const CLAIM_DEPLOYMENT_ID: &str = "https://purl.imsglobal.org/spec/lti/claim/deployment_id";
pub const CLAIM_TARGET_LINK_URI: &str = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri";
pub const CLAIM_RESOURCE_LINK: &str = "https://purl.imsglobal.org/spec/lti/claim/resource_link";
pub const CLAIM_ROLES: &str = "https://purl.imsglobal.org/spec/lti/claim/roles";
pub const CLAIM_CONTEXT: &str = "https://purl.imsglobal.org/spec/lti/claim/context";
pub const CLAIM_TOOL_PLATFORM: &str = "https://purl.imsglobal.org/spec/lti/claim/tool_platform";
pub const CLAIM_LAUNCH_PRESENTATION: &str = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation";
pub const CLAIM_CUSTOM: &str = "https://purl.imsglobal.org/spec/lti/claim/custom";
pub const CLAIM_FOR_USER: &str = "https://purl.imsglobal.org/spec/lti/claim/for_user";
pub const CLAIM_AGS_ENDPOINT: &str = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint";
pub const CLAIM_NRPS: &str = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice";
pub const CLAIM_DEEP_LINKING_SETTINGS: &str =
    "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings";

/// LTI message types the tool accepts at its launch URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageType {
    LtiResourceLinkRequest,
    LtiDeepLinkingRequest,
    LtiSubmissionReviewRequest,
}

impl MessageType {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "LtiResourceLinkRequest" => Some(Self::LtiResourceLinkRequest),
            "LtiDeepLinkingRequest" => Some(Self::LtiDeepLinkingRequest),
            "LtiSubmissionReviewRequest" => Some(Self::LtiSubmissionReviewRequest),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LtiResourceLinkRequest => "LtiResourceLinkRequest",
            Self::LtiDeepLinkingRequest => "LtiDeepLinkingRequest",
            Self::LtiSubmissionReviewRequest => "LtiSubmissionReviewRequest",
        }
    }
}

/// The `aud` claim: a single string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, client_id: &str) -> bool {
        match self {
            Self::One(aud) => aud == client_id,
            Self::Many(auds) => auds.iter().any(|aud| aud == client_id),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Many(auds) => auds.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLinkClaim {
    /// Empty when the platform left it out; checked by `check_message`.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextClaim {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, rename = "type")]
    pub types: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolPlatformClaim {
    #[serde(default)]
    pub guid: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub product_family_code: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchPresentationClaim {
    #[serde(default)]
    pub document_target: Option<String>,
    #[serde(default)]
    pub return_url: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
}

/// Assignment and Grade Services endpoint claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgsEndpointClaim {
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub lineitems: Option<String>,
    #[serde(default)]
    pub lineitem: Option<String>,
}

/// Names and Role Provisioning Services claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NrpsClaim {
    pub context_memberships_url: String,
    #[serde(default)]
    pub service_versions: Vec<String>,
}

/// Deep Linking 2.0 settings claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeepLinkingSettingsClaim {
    pub deep_link_return_url: String,
    #[serde(default)]
    pub accept_types: Vec<String>,
    #[serde(default)]
    pub accept_presentation_document_targets: Vec<String>,
    #[serde(default)]
    pub accept_media_types: Option<String>,
    #[serde(default)]
    pub accept_multiple: Option<bool>,
    #[serde(default)]
    pub accept_lineitem: Option<bool>,
    #[serde(default)]
    pub auto_create: Option<bool>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
}

/// The user a submission review request is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForUserClaim {
    pub user_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Claims of a verified id_token. Field presence is checked by
/// [`crate::verify::verify_id_token`]; everything optional in the
/// specification is optional here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    #[serde(default)]
    pub sub: Option<String>,
    pub aud: Audience,
    #[serde(default)]
    pub azp: Option<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/message_type")]
    pub message_type: Option<String>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/version")]
    pub version: Option<String>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/deployment_id")]
    pub deployment_id: Option<String>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri")]
    pub target_link_uri: Option<String>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/resource_link")]
    pub resource_link: Option<ResourceLinkClaim>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/roles")]
    pub roles: Option<Vec<String>>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/context")]
    pub context: Option<ContextClaim>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/tool_platform")]
    pub tool_platform: Option<ToolPlatformClaim>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation")]
    pub launch_presentation: Option<LaunchPresentationClaim>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/custom")]
    pub custom: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti/claim/for_user")]
    pub for_user: Option<ForUserClaim>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint")]
    pub ags: Option<AgsEndpointClaim>,
    #[serde(default, rename = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice")]
    pub nrps: Option<NrpsClaim>,
    #[serde(
        default,
        rename = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
    )]
    pub deep_linking_settings: Option<DeepLinkingSettingsClaim>,
}

impl IdTokenClaims {
    /// A display name from whichever name claims the platform sent.
    pub fn display_name(&self) -> Option<String> {
        if let Some(name) = self.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            return Some(name.to_string());
        }
        let parts: Vec<&str> = [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// A custom parameter as a string, whatever JSON type the platform used.
    pub fn custom_str(&self, key: &str) -> Option<String> {
        let value = self.custom.as_ref()?.get(key)?;
        match value {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}
