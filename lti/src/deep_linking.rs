//! Deep Linking 2.0: the response that places content items in the platform.

use chrono::Utc;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{json, Map, Value};

use crate::advantage::{ServiceError, ToolSigner};
use crate::claims::DeepLinkingSettingsClaim;

pub const CONTENT_TYPE_RESOURCE_LINK: &str = "ltiResourceLink";

/// A resource link to place.
#[derive(Debug, Clone)]
pub struct ResourceLinkItem {
    pub title: String,
    pub text: String,
    /// Launch URL; the platform's default (the tool's target link URI) when `None`.
    pub url: Option<String>,
    pub custom: Map<String, Value>,
    /// Grade column: (scoreMaximum, label, resourceId, tag).
    pub line_item: Option<(f64, String, String, String)>,
}

/// What the platform's settings allow.
pub struct Acceptance {
    pub resource_links: bool,
    pub multiple: bool,
    pub line_items: bool,
}

/// Read the platform's deep linking settings. `accept_lineitem` absent
/// means the platform did not say, which the specification reads as accepted.
pub fn acceptance(settings: &DeepLinkingSettingsClaim) -> Acceptance {
    Acceptance {
        resource_links: settings.accept_types.iter().any(|t| t == CONTENT_TYPE_RESOURCE_LINK),
        multiple: settings.accept_multiple.unwrap_or(false),
        line_items: settings.accept_lineitem.unwrap_or(true),
    }
}

fn item_json(item: &ResourceLinkItem, with_line_item: bool) -> Value {
    let mut value = json!({
        "type": CONTENT_TYPE_RESOURCE_LINK,
        "title": item.title,
        "text": item.text,
    });
    if let Some(url) = &item.url {
        value["url"] = json!(url);
    }
    if !item.custom.is_empty() {
        value["custom"] = Value::Object(item.custom.clone());
    }
    if let (true, Some((maximum, label, resource_id, tag))) = (with_line_item, &item.line_item) {
        value["lineItem"] = json!({"scoreMaximum": maximum, "label": label, "resourceId": resource_id, "tag": tag});
    }
    value
}

/// Everything the signed response carries.
pub struct ResponseInput<'a> {
    pub client_id: &'a str,
    pub platform_issuer: &'a str,
    pub deployment_id: &'a str,
    pub settings: &'a DeepLinkingSettingsClaim,
    pub items: &'a [ResourceLinkItem],
    pub message: Option<&'a str>,
}

/// Sign an `LtiDeepLinkingResponse` with the tool's current key.
pub fn sign_response(input: ResponseInput<'_>, signer: &ToolSigner) -> Result<String, ServiceError> {
    let accept = acceptance(input.settings);
    let items: Vec<Value> = input.items.iter().map(|item| item_json(item, accept.line_items)).collect();
    let now = Utc::now().timestamp();
    let mut claims = json!({
        "iss": input.client_id,
        "aud": input.platform_issuer,
        "iat": now,
        "exp": now + 300,
        "nonce": uuid::Uuid::new_v4().to_string(),
        "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiDeepLinkingResponse",
        "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": input.deployment_id,
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": items,
    });
    if let Some(data) = &input.settings.data {
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] = json!(data);
    }
    if let Some(message) = input.message {
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/msg"] = json!(message);
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(signer.kid.clone());
    jsonwebtoken::encode(&header, &claims, &signer.key).map_err(|e| ServiceError::Signing(e.to_string()))
}
