//! LTI Dynamic Registration 1.0, tool side: reading and checking a
//! platform's OpenID configuration, building the tool's client
//! registration request, and reading the platform's answer.
//!
//! Nothing here talks to the network; the caller fetches and posts.

use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use crate::advantage::{
    SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_NRPS, SCOPE_RESULT_READONLY, SCOPE_SCORE,
};

/// The key of the LTI section in a platform's OpenID configuration.
pub const PLATFORM_CONFIGURATION_KEY: &str =
    "https://purl.imsglobal.org/spec/lti-platform-configuration";
/// The key of the LTI section in a client registration.
pub const TOOL_CONFIGURATION_KEY: &str = "https://purl.imsglobal.org/spec/lti-tool-configuration";

pub const MESSAGE_RESOURCE_LINK: &str = "LtiResourceLinkRequest";
pub const MESSAGE_DEEP_LINKING: &str = "LtiDeepLinkingRequest";
pub const MESSAGE_SUBMISSION_REVIEW: &str = "LtiSubmissionReviewRequest";

/// Scopes the tool requests, when the platform offers them.
pub const WANTED_SCOPES: [&str; 5] = [
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_SCORE,
    SCOPE_RESULT_READONLY,
    SCOPE_NRPS,
];

/// Claims the tool requests in the platform's id_tokens.
pub const WANTED_CLAIMS: [&str; 6] = ["iss", "sub", "name", "given_name", "family_name", "email"];

/// Reasons a registration could not go ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("the openid_configuration parameter is missing; start the registration from the LMS's tool registration page")]
    MissingConfigurationUrl,
    #[error(
        "{field} {value:?} is not an https URL on a public host; addresses on this machine or on a private \
         network are accepted only while microcred itself runs on this machine for a trial"
    )]
    InsecureUrl { field: &'static str, value: String },
    #[error("{field} {value} is not on the host of the configuration URL ({host})")]
    EndpointHostMismatch { field: &'static str, value: String, host: String },
    #[error("the platform's OpenID configuration could not be read: {0}")]
    UnreadableConfiguration(String),
    #[error("the platform's OpenID configuration lacks {0}")]
    MissingField(&'static str),
    #[error(
        "the issuer {issuer} is not on the host of the configuration URL ({host}); \
         a platform's configuration must come from its own issuer's host"
    )]
    IssuerHostMismatch { issuer: String, host: String },
    #[error("the platform does not sign id_tokens with RS256 (it offers {offered})")]
    NoRs256 { offered: String },
    #[error("the platform does not offer the id_token response type (it offers {offered})")]
    NoIdTokenResponse { offered: String },
    #[error("the platform does not support LTI resource link launches")]
    NoResourceLinkLaunch,
    #[error("the platform's registration answer could not be read: {0}")]
    UnreadableResponse(String),
}

/// The LTI section of a platform's OpenID configuration.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LtiPlatformConfiguration {
    #[serde(default)]
    pub product_family_code: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub messages_supported: Vec<SupportedMessage>,
    #[serde(default)]
    pub variables: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SupportedMessage {
    #[serde(rename = "type")]
    pub message_type: String,
    #[serde(default)]
    pub placements: Vec<String>,
}

/// A platform's OpenID configuration as published. Every field is optional
/// here so that a missing one is reported by name in [`check_configuration`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PlatformConfiguration {
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub registration_endpoint: Option<String>,
    pub authorization_server: Option<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub claims_supported: Vec<String>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti-platform-configuration")]
    pub lti: Option<LtiPlatformConfiguration>,
}

/// A configuration that passed every check, with what the tool will ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedConfiguration {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub registration_endpoint: String,
    /// The `aud` of client assertions when it is not the token endpoint.
    pub authorization_server: Option<String>,
    pub product_family_code: Option<String>,
    /// The scopes to request: the tool's wanted scopes the platform offers.
    pub scopes: Vec<String>,
    /// The message types to register: resource link, plus deep linking and
    /// submission review when the platform supports them.
    pub messages: Vec<String>,
    /// The claims to request.
    pub claims: Vec<String>,
}

/// Decides whether a URL may carry registration traffic: https to a public
/// host, or any loopback URL while the tool itself runs on loopback
/// (`local_trial`). IP literals of private networks are refused, so that a
/// registration request cannot make the tool call services inside its network.
/// A host name that resolves to a private address is not caught here:
/// `registration.allowed_hosts` closes that gap.
pub fn acceptable_url(value: &str, local_trial: bool) -> bool {
    let Ok(url) = Url::parse(value) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return false;
    }
    if is_loopback_url(&url) {
        return local_trial;
    }
    url.scheme() == "https" && !is_private_address(&url)
}

/// Tells whether a URL names this machine: 127.0.0.0/8, ::1 or localhost.
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            let name = name.to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

/// Tells whether a URL's host is an IP literal of a private, link-local,
/// shared or unspecified network.
fn is_private_address(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            let shared = ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64;
            ip.is_private() || ip.is_link_local() || ip.is_unspecified() || ip.is_broadcast() || shared
        }
        Some(url::Host::Ipv6(ip)) => {
            let first = ip.segments()[0];
            let mapped_private = ip
                .to_ipv4_mapped()
                .is_some_and(|v4| v4.is_private() || v4.is_loopback() || v4.is_link_local());
            ip.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 || mapped_private
        }
        _ => false,
    }
}

/// Check the `openid_configuration` URL the platform handed over.
pub fn check_configuration_url(
    value: Option<&str>,
    local_trial: bool,
) -> Result<Url, RegistrationError> {
    let value = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(RegistrationError::MissingConfigurationUrl)?;
    if !acceptable_url(value, local_trial) {
        return Err(RegistrationError::InsecureUrl {
            field: "openid_configuration",
            value: value.to_string(),
        });
    }
    Url::parse(value).map_err(|_| RegistrationError::InsecureUrl {
        field: "openid_configuration",
        value: value.to_string(),
    })
}

/// Parse the configuration document.
pub fn parse_configuration(body: &[u8]) -> Result<PlatformConfiguration, RegistrationError> {
    serde_json::from_slice(body)
        .map_err(|e| RegistrationError::UnreadableConfiguration(e.to_string()))
}

fn required_url(
    field: &'static str,
    value: &Option<String>,
    local_trial: bool,
) -> Result<String, RegistrationError> {
    let value = value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(RegistrationError::MissingField(field))?;
    if !acceptable_url(value, local_trial) {
        return Err(RegistrationError::InsecureUrl {
            field,
            value: value.to_string(),
        });
    }
    Ok(value.to_string())
}

/// Check a platform's configuration against the URL it came from, and work
/// out which scopes, messages and claims to register.
pub fn check_configuration(
    config: &PlatformConfiguration,
    configuration_url: &Url,
    local_trial: bool,
) -> Result<CheckedConfiguration, RegistrationError> {
    let issuer = required_url("issuer", &config.issuer, local_trial)?;
    let issuer_host = Url::parse(&issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let config_host = configuration_url
        .host_str()
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if issuer_host.as_deref() != Some(config_host.as_str()) {
        return Err(RegistrationError::IssuerHostMismatch {
            issuer,
            host: config_host,
        });
    }
    let authorization_endpoint =
        required_url("authorization_endpoint", &config.authorization_endpoint, local_trial)?;
    let token_endpoint = required_url("token_endpoint", &config.token_endpoint, local_trial)?;
    let jwks_uri = required_url("jwks_uri", &config.jwks_uri, local_trial)?;
    let registration_endpoint = required_url(
        "registration_endpoint",
        &config.registration_endpoint,
        local_trial,
    )?;
    // The tool posts its registration and shows the answer, so it posts
    // only to the host the configuration came from.
    let registration_host = Url::parse(&registration_endpoint)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    if registration_host.as_deref() != Some(config_host.as_str()) {
        return Err(RegistrationError::EndpointHostMismatch {
            field: "registration_endpoint",
            value: registration_endpoint,
            host: config_host,
        });
    }
    if !config.id_token_signing_alg_values_supported.is_empty()
        && !config
            .id_token_signing_alg_values_supported
            .iter()
            .any(|a| a == "RS256")
    {
        return Err(RegistrationError::NoRs256 {
            offered: config.id_token_signing_alg_values_supported.join(", "),
        });
    }
    if !config.response_types_supported.is_empty()
        && !config
            .response_types_supported
            .iter()
            .any(|r| r == "id_token")
    {
        return Err(RegistrationError::NoIdTokenResponse {
            offered: config.response_types_supported.join(", "),
        });
    }
    let lti = config
        .lti
        .as_ref()
        .ok_or(RegistrationError::MissingField(PLATFORM_CONFIGURATION_KEY))?;
    let offered: Vec<&str> = lti
        .messages_supported
        .iter()
        .map(|m| m.message_type.as_str())
        .collect();
    let messages: Vec<String> = if offered.is_empty() {
        // A platform that lists no messages still launches resource links.
        vec![MESSAGE_RESOURCE_LINK.to_string()]
    } else {
        if !offered.contains(&MESSAGE_RESOURCE_LINK) {
            return Err(RegistrationError::NoResourceLinkLaunch);
        }
        [
            MESSAGE_RESOURCE_LINK,
            MESSAGE_DEEP_LINKING,
            MESSAGE_SUBMISSION_REVIEW,
        ]
        .into_iter()
        .filter(|m| offered.contains(m))
        .map(str::to_string)
        .collect()
    };
    let scopes = WANTED_SCOPES
        .into_iter()
        .filter(|s| config.scopes_supported.iter().any(|offered| offered == s))
        .map(str::to_string)
        .collect();
    let claims = WANTED_CLAIMS
        .into_iter()
        .filter(|c| {
            matches!(*c, "iss" | "sub")
                || config.claims_supported.is_empty()
                || config.claims_supported.iter().any(|o| o == c)
        })
        .map(str::to_string)
        .collect();
    let authorization_server = config
        .authorization_server
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != token_endpoint)
        .map(str::to_string);
    Ok(CheckedConfiguration {
        issuer,
        authorization_endpoint,
        token_endpoint,
        jwks_uri,
        registration_endpoint,
        authorization_server,
        product_family_code: lti
            .product_family_code
            .clone()
            .filter(|c| !c.trim().is_empty()),
        scopes,
        messages,
        claims,
    })
}

/// The tool's own description in a registration.
#[derive(Debug, Clone)]
pub struct ToolDescription {
    pub name: String,
    pub description: String,
    /// The tool's public base URL, e.g. `https://microcred.district.org`.
    pub base_url: Url,
    pub login_path: String,
    pub launch_path: String,
    pub jwks_path: String,
    pub logo_path: Option<String>,
}

impl ToolDescription {
    fn url(&self, path: &str) -> String {
        self.base_url
            .join(path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("{}{path}", self.base_url))
    }
}

/// Builds the client registration request the tool posts to the platform.
pub fn registration_request(tool: &ToolDescription, platform: &CheckedConfiguration) -> Value {
    let launch = tool.url(&tool.launch_path);
    let domain = tool
        .base_url
        .host_str()
        .map(|host| match tool.base_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        });
    let messages: Vec<Value> = platform
        .messages
        .iter()
        .map(|message_type| {
            let mut message = json!({ "type": message_type, "target_link_uri": launch });
            if message_type == MESSAGE_DEEP_LINKING {
                message["label"] = json!(format!("{}: add a micro-credential", tool.name));
            }
            message
        })
        .collect();
    let mut request = json!({
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": tool.url(&tool.login_path),
        "redirect_uris": [launch],
        "client_name": tool.name,
        "jwks_uri": tool.url(&tool.jwks_path),
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": platform.scopes.join(" "),
        TOOL_CONFIGURATION_KEY: {
            "domain": domain,
            "description": tool.description,
            "target_link_uri": launch,
            "claims": platform.claims,
            "messages": messages,
        },
    });
    if let Some(logo) = &tool.logo_path {
        request["logo_uri"] = json!(tool.url(logo));
    }
    request
}

/// The parts of the platform's answer the tool keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationResponse {
    pub client_id: String,
    pub deployment_id: Option<String>,
    /// The scopes the platform granted, when its response lists them.
    pub scope: Option<String>,
}

/// Read the platform's answer to the registration request.
pub fn parse_registration_response(body: &[u8]) -> Result<RegistrationResponse, RegistrationError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| RegistrationError::UnreadableResponse(format!("not JSON ({e})")))?;
    let client_id = match value.get("client_id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(RegistrationError::UnreadableResponse(
                "it has no client_id".to_string(),
            ))
        }
    };
    let deployment_id = value
        .get(TOOL_CONFIGURATION_KEY)
        .and_then(|c| c.get("deployment_id"))
        .and_then(|d| match d {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|d| !d.is_empty());
    let scope = value
        .get("scope")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(RegistrationResponse {
        client_id,
        deployment_id,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> PlatformConfiguration {
        parse_configuration(
            json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/auth"),
                "token_endpoint": format!("{base}/token"),
                "jwks_uri": format!("{base}/jwks"),
                "registration_endpoint": format!("{base}/register"),
                "scopes_supported": ["openid", SCOPE_SCORE, SCOPE_NRPS, "https://example.test/other"],
                "response_types_supported": ["id_token"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": ["iss", "sub", "name", "email"],
                PLATFORM_CONFIGURATION_KEY: {
                    "product_family_code": "moodle",
                    "messages_supported": [{"type": MESSAGE_RESOURCE_LINK}, {"type": MESSAGE_DEEP_LINKING}]
                }
            })
            .to_string()
            .as_bytes(),
        )
        .expect("the sample parses")
    }

    fn url(value: &str) -> Url {
        Url::parse(value).expect("a URL")
    }

    #[test]
    fn asks_only_for_offered_scopes_messages_and_claims() {
        let checked = check_configuration(
            &config("https://lms.example.test"),
            &url("https://lms.example.test/.well-known/openid-configuration"),
            false,
        )
        .expect("accepted");
        assert_eq!(
            checked.scopes,
            vec![SCOPE_SCORE.to_string(), SCOPE_NRPS.to_string()]
        );
        assert_eq!(
            checked.messages,
            vec![
                MESSAGE_RESOURCE_LINK.to_string(),
                MESSAGE_DEEP_LINKING.to_string()
            ]
        );
        assert_eq!(checked.claims, vec!["iss", "sub", "name", "email"]);
        assert_eq!(checked.product_family_code.as_deref(), Some("moodle"));
    }

    #[test]
    fn rejects_issuer_on_another_host() {
        let error = check_configuration(
            &config("https://lms.example.test"),
            &url("https://elsewhere.example.test/config"),
            false,
        )
        .expect_err("refused");
        assert!(
            matches!(error, RegistrationError::IssuerHostMismatch { .. }),
            "{error}"
        );
    }

    #[test]
    fn rejects_plain_http_off_this_machine() {
        assert!(acceptable_url("http://127.0.0.1:9000/x", true));
        assert!(acceptable_url("http://localhost/x", true));
        assert!(!acceptable_url("http://127.0.0.1:9000/x", false));
        assert!(!acceptable_url("https://localhost/x", false));
        assert!(acceptable_url("https://lms.example.test/x", false));
        assert!(!acceptable_url("http://lms.example.test/x", true));
        assert!(!acceptable_url("file:///etc/passwd", true));
        assert!(!acceptable_url("https://10.1.2.3/x", false));
        assert!(!acceptable_url("https://192.168.0.9/x", true));
        assert!(!acceptable_url("https://169.254.169.254/latest", false));
        assert!(!acceptable_url("https://[fd00::1]/x", false));
        assert!(!acceptable_url("https://[::ffff:10.0.0.1]/x", false));
        assert!(acceptable_url("https://93.184.216.34/x", false));
        assert!(matches!(
            check_configuration_url(Some("http://lms.example.test/config"), true),
            Err(RegistrationError::InsecureUrl { .. })
        ));
        assert_eq!(
            check_configuration_url(Some("  "), true),
            Err(RegistrationError::MissingConfigurationUrl)
        );
    }

    #[test]
    fn names_a_missing_field() {
        let mut sample = config("https://lms.example.test");
        sample.registration_endpoint = None;
        let error =
            check_configuration(&sample, &url("https://lms.example.test/c"), false).expect_err("refused");
        assert_eq!(
            error,
            RegistrationError::MissingField("registration_endpoint")
        );
        let mut sample = config("https://lms.example.test");
        sample.lti = None;
        let error =
            check_configuration(&sample, &url("https://lms.example.test/c"), false).expect_err("refused");
        assert_eq!(
            error,
            RegistrationError::MissingField(PLATFORM_CONFIGURATION_KEY)
        );
    }

    #[test]
    fn rejects_registration_endpoint_on_another_host() {
        let mut sample = config("https://lms.example.test");
        sample.registration_endpoint = Some("https://internal.example.test/register".into());
        let error = check_configuration(&sample, &url("https://lms.example.test/c"), false)
            .expect_err("refused");
        assert!(matches!(error, RegistrationError::EndpointHostMismatch { .. }), "{error}");
    }

    #[test]
    fn rejects_platform_without_rs256() {
        let mut sample = config("https://lms.example.test");
        sample.id_token_signing_alg_values_supported = vec!["HS256".into()];
        let error =
            check_configuration(&sample, &url("https://lms.example.test/c"), false).expect_err("refused");
        assert!(matches!(error, RegistrationError::NoRs256 { .. }));
    }

    #[test]
    fn request_names_the_tool_urls() {
        let checked = check_configuration(
            &config("https://lms.example.test"),
            &url("https://lms.example.test/c"),
            false,
        )
        .expect("accepted");
        let tool = ToolDescription {
            name: "microcred".into(),
            description: "Micro-credentials".into(),
            base_url: url("https://tool.example.test"),
            login_path: "/lti/login".into(),
            launch_path: "/lti/launch".into(),
            jwks_path: "/.well-known/jwks.json".into(),
            logo_path: Some("/static/logo.svg".into()),
        };
        let request = registration_request(&tool, &checked);
        assert_eq!(
            request["initiate_login_uri"],
            "https://tool.example.test/lti/login"
        );
        assert_eq!(
            request["redirect_uris"][0],
            "https://tool.example.test/lti/launch"
        );
        assert_eq!(
            request["jwks_uri"],
            "https://tool.example.test/.well-known/jwks.json"
        );
        assert_eq!(
            request["logo_uri"],
            "https://tool.example.test/static/logo.svg"
        );
        assert_eq!(request["scope"], format!("{SCOPE_SCORE} {SCOPE_NRPS}"));
        assert_eq!(
            request[TOOL_CONFIGURATION_KEY]["domain"],
            "tool.example.test"
        );
        assert_eq!(
            request[TOOL_CONFIGURATION_KEY]["messages"][1]["type"],
            MESSAGE_DEEP_LINKING
        );
    }

    #[test]
    fn reads_client_and_deployment_from_the_answer() {
        let answer =
            json!({"client_id": "abc", TOOL_CONFIGURATION_KEY: {"deployment_id": "7"}}).to_string();
        let parsed = parse_registration_response(answer.as_bytes()).expect("read");
        assert_eq!(parsed.client_id, "abc");
        assert_eq!(parsed.deployment_id.as_deref(), Some("7"));
        assert!(parse_registration_response(b"{}").is_err());
        assert!(parse_registration_response(b"<html>").is_err());
    }
}
