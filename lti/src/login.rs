//! Third-party login initiation and the OIDC authorization request that
//! answers it.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::LaunchError;

/// The parameters a platform sends to the tool's login initiation URL, by
/// GET query or POST form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LoginInitiation {
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub login_hint: Option<String>,
    #[serde(default)]
    pub target_link_uri: Option<String>,
    #[serde(default)]
    pub lti_message_hint: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub lti_deployment_id: Option<String>,
    /// Name of the platform frame that answers LTI client-side storage messages.
    #[serde(default)]
    pub lti_storage_target: Option<String>,
}

/// A login initiation with its required parameters present.
#[derive(Debug, Clone)]
pub struct CheckedLogin {
    pub issuer: String,
    pub login_hint: String,
    pub target_link_uri: Url,
    pub lti_message_hint: Option<String>,
    pub client_id: Option<String>,
    pub deployment_id: Option<String>,
    pub storage_target: Option<String>,
}

impl LoginInitiation {
    /// Check the required parameters and that `target_link_uri` points into
    /// the tool, whose public base URL is `tool_base`.
    pub fn check(self, tool_base: &Url) -> Result<CheckedLogin, LaunchError> {
        let issuer = non_empty(self.iss).ok_or(LaunchError::MissingIssuer)?;
        let login_hint = non_empty(self.login_hint).ok_or(LaunchError::MissingLoginHint)?;
        let target = non_empty(self.target_link_uri).ok_or(LaunchError::MissingTargetLinkUri)?;
        let target_link_uri = Url::parse(&target)
            .ok()
            .filter(|url| belongs_to(url, tool_base))
            .ok_or(LaunchError::ForeignTargetLinkUri { uri: target })?;
        Ok(CheckedLogin {
            issuer,
            login_hint,
            target_link_uri,
            lti_message_hint: non_empty(self.lti_message_hint),
            client_id: non_empty(self.client_id),
            deployment_id: non_empty(self.lti_deployment_id),
            storage_target: non_empty(self.lti_storage_target),
        })
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Whether `url` has the same origin as `base` and a path under `base`'s path.
pub fn belongs_to(url: &Url, base: &Url) -> bool {
    if url.scheme() != base.scheme()
        || url.host_str() != base.host_str()
        || url.port_or_known_default() != base.port_or_known_default()
    {
        return false;
    }
    let base_path = base.path().trim_end_matches('/');
    let path = url.path();
    path == base_path || path.starts_with(&format!("{base_path}/")) || base_path.is_empty()
}

/// The OIDC authorization request the tool sends the browser to.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub login_hint: &'a str,
    pub lti_message_hint: Option<&'a str>,
    pub state: &'a str,
    pub nonce: &'a str,
}

impl AuthorizationRequest<'_> {
    /// The platform's authorization URL with the request's parameters added
    /// to any query string it already has. Parameters of the same name that
    /// the URL already carries are replaced, never duplicated.
    pub fn to_url(&self, auth_endpoint: &Url) -> Url {
        let ours = [
            "scope",
            "response_type",
            "response_mode",
            "prompt",
            "client_id",
            "redirect_uri",
            "login_hint",
            "lti_message_hint",
            "state",
            "nonce",
        ];
        let kept: Vec<(String, String)> = auth_endpoint
            .query_pairs()
            .filter(|(name, _)| !ours.contains(&name.as_ref()))
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        let mut url = auth_endpoint.clone();
        url.set_query(None);
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in &kept {
                query.append_pair(name, value);
            }
            query
                .append_pair("scope", "openid")
                .append_pair("response_type", "id_token")
                .append_pair("response_mode", "form_post")
                .append_pair("prompt", "none")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("login_hint", self.login_hint)
                .append_pair("state", self.state)
                .append_pair("nonce", self.nonce);
            if let Some(hint) = self.lti_message_hint {
                query.append_pair("lti_message_hint", hint);
            }
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://tool.example.org/").unwrap()
    }

    fn login() -> LoginInitiation {
        LoginInitiation {
            iss: Some("https://lms.example.org".into()),
            login_hint: Some("u1".into()),
            target_link_uri: Some("https://tool.example.org/lti/launch".into()),
            ..Default::default()
        }
    }

    #[test]
    fn check_accepts_complete_login() {
        let checked = login().check(&base()).unwrap();
        assert_eq!(checked.issuer, "https://lms.example.org");
        assert_eq!(checked.client_id, None);
    }

    #[test]
    fn check_rejects_missing_issuer() {
        let err = LoginInitiation { iss: Some("  ".into()), ..login() }.check(&base()).unwrap_err();
        assert_eq!(err, LaunchError::MissingIssuer);
    }

    #[test]
    fn check_rejects_foreign_target() {
        let err = LoginInitiation { target_link_uri: Some("https://evil.example.com/lti/launch".into()), ..login() }
            .check(&base())
            .unwrap_err();
        assert_eq!(err.code(), "foreign_target_link_uri");
    }

    #[test]
    fn check_rejects_target_on_other_port() {
        let err = LoginInitiation { target_link_uri: Some("https://tool.example.org:8443/lti/launch".into()), ..login() }
            .check(&base())
            .unwrap_err();
        assert_eq!(err.code(), "foreign_target_link_uri");
    }

    #[test]
    fn belongs_to_respects_base_path() {
        let base = Url::parse("https://host.example.org/microcred").unwrap();
        assert!(belongs_to(&Url::parse("https://host.example.org/microcred/lti/launch").unwrap(), &base));
        assert!(!belongs_to(&Url::parse("https://host.example.org/microcredx/launch").unwrap(), &base));
        assert!(!belongs_to(&Url::parse("https://host.example.org/other").unwrap(), &base));
    }

    #[test]
    fn authorization_url_keeps_existing_query() {
        let endpoint = Url::parse("https://lms.example.org/auth?tenant=7&state=stale").unwrap();
        let request = AuthorizationRequest {
            client_id: "c1",
            redirect_uri: "https://tool.example.org/lti/launch",
            login_hint: "u1",
            lti_message_hint: Some("m1"),
            state: "s1",
            nonce: "n1",
        };
        let url = request.to_url(&endpoint);
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("tenant".into(), "7".into())));
        assert_eq!(pairs.iter().filter(|(k, _)| k == "state").count(), 1);
        assert!(pairs.contains(&("state".into(), "s1".into())));
        assert!(pairs.contains(&("lti_message_hint".into(), "m1".into())));
        assert!(pairs.contains(&("prompt".into(), "none".into())));
        assert_eq!(url.path(), "/auth");
    }
}
