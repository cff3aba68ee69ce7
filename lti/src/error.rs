//! Reasons a login or launch is rejected.
//!
//! Each variant names one check. `code()` is a stable machine name used in
//! logs, metrics and tests; `message()` is the plain sentence shown to the
//! user; `admin_hint()` says what an LMS admin can check.

use thiserror::Error;

/// A rejected login initiation or launch.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum LaunchError {
    #[error("the login request has no issuer (iss)")]
    MissingIssuer,
    #[error("the login request has no login_hint")]
    MissingLoginHint,
    #[error("the login request has no target_link_uri")]
    MissingTargetLinkUri,
    #[error("issuer {issuer} is not registered")]
    UnknownIssuer { issuer: String },
    #[error("client {client_id} is not registered for issuer {issuer}")]
    UnknownClient { issuer: String, client_id: String },
    #[error("issuer {issuer} has several registrations and the login request names no client_id")]
    AmbiguousClient { issuer: String },
    #[error("registration for client {client_id} is disabled")]
    RegistrationDisabled { client_id: String },
    #[error("the registration of client {client_id} for issuer {issuer} waits for an admin's approval")]
    RegistrationPending { issuer: String, client_id: String },
    #[error("target_link_uri {uri} does not belong to this tool")]
    ForeignTargetLinkUri { uri: String },
    #[error("the launch has no id_token")]
    MissingIdToken,
    #[error("the launch has no state")]
    MissingState,
    #[error("the state was never issued by this tool or has expired")]
    UnknownState,
    #[error("the launch was already used")]
    StateAlreadyUsed,
    #[error("the state does not belong to this browser")]
    StateFromAnotherBrowser,
    #[error("the id_token is not a well-formed JWT: {detail}")]
    MalformedToken { detail: String },
    #[error("the id_token is signed with {alg}; only RS256 is accepted")]
    UnsupportedAlgorithm { alg: String },
    #[error("the id_token header has no kid")]
    MissingKid,
    #[error("no key with kid {kid} in the platform's key set at {jwks_url}")]
    UnknownKid { kid: String, jwks_url: String },
    #[error("the platform's key set at {jwks_url} could not be fetched: {detail}")]
    KeySetUnavailable { jwks_url: String, detail: String },
    #[error("the id_token signature does not verify")]
    BadSignature,
    #[error("the id_token has expired")]
    Expired,
    #[error("the id_token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("the id_token issuer {found} does not match the registration's issuer {expected}")]
    WrongIssuer { expected: String, found: String },
    #[error("the id_token audience does not include client {client_id}")]
    WrongAudience { client_id: String },
    #[error("the id_token has several audiences and azp is not client {client_id}")]
    WrongAuthorizedParty { client_id: String },
    #[error("the id_token nonce was not issued for this login")]
    NonceMismatch,
    #[error("deployment {deployment_id} is not registered for client {client_id}")]
    UnknownDeployment { deployment_id: String, client_id: String },
    #[error("deployment {deployment_id} of client {client_id} waits for an admin's approval")]
    DeploymentPending { deployment_id: String, client_id: String },
    #[error("deployment {deployment_id} of client {client_id} is disabled")]
    DeploymentDisabled { deployment_id: String, client_id: String },
    #[error("LTI version {version} is not supported; expected 1.3.0")]
    UnsupportedVersion { version: String },
    #[error("the id_token has no message_type claim")]
    MissingMessageType,
    #[error("message type {message_type} is not supported")]
    UnsupportedMessageType { message_type: String },
    #[error("the id_token has no {claim} claim")]
    MissingClaim { claim: &'static str },
    #[error("the id_token claim {claim} is invalid: {detail}")]
    InvalidClaim { claim: &'static str, detail: String },
}

impl LaunchError {
    /// Stable name of the failed check, for logs, metrics and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingIssuer => "missing_issuer",
            Self::MissingLoginHint => "missing_login_hint",
            Self::MissingTargetLinkUri => "missing_target_link_uri",
            Self::UnknownIssuer { .. } => "unknown_issuer",
            Self::UnknownClient { .. } => "unknown_client",
            Self::AmbiguousClient { .. } => "ambiguous_client",
            Self::RegistrationDisabled { .. } => "registration_disabled",
            Self::RegistrationPending { .. } => "registration_pending",
            Self::ForeignTargetLinkUri { .. } => "foreign_target_link_uri",
            Self::MissingIdToken => "missing_id_token",
            Self::MissingState => "missing_state",
            Self::UnknownState => "unknown_state",
            Self::StateAlreadyUsed => "state_already_used",
            Self::StateFromAnotherBrowser => "state_from_another_browser",
            Self::MalformedToken { .. } => "malformed_token",
            Self::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Self::MissingKid => "missing_kid",
            Self::UnknownKid { .. } => "unknown_kid",
            Self::KeySetUnavailable { .. } => "key_set_unavailable",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongIssuer { .. } => "wrong_issuer",
            Self::WrongAudience { .. } => "wrong_audience",
            Self::WrongAuthorizedParty { .. } => "wrong_azp",
            Self::NonceMismatch => "nonce_mismatch",
            Self::UnknownDeployment { .. } => "unknown_deployment",
            Self::DeploymentPending { .. } => "deployment_pending",
            Self::DeploymentDisabled { .. } => "deployment_disabled",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::MissingMessageType => "missing_message_type",
            Self::UnsupportedMessageType { .. } => "unsupported_message_type",
            Self::MissingClaim { .. } => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
        }
    }

    /// Plain sentence for the person who clicked the link.
    pub fn message(&self) -> String {
        match self {
            Self::StateAlreadyUsed | Self::UnknownState | Self::NonceMismatch => {
                "This launch link has already been used or has expired. This happens after a page reload, \
                 a second tab or the browser's Back button. Open the tool again from your course."
                    .to_string()
            }
            Self::StateFromAnotherBrowser => {
                "Your browser did not keep the login cookie this tool set a moment ago, so the launch could not \
                 be matched to your browser. Open the tool again from your course; if this repeats, your \
                 browser may block cookies inside the course page."
                    .to_string()
            }
            Self::Expired | Self::IssuedInFuture => format!(
                "The launch could not be accepted because {self}. Check that this computer's clock is right \
                 and open the tool again from your course."
            ),
            _ => format!(
                "The tool could not start because {self}. Open the tool again from your course; \
                 if it fails again, send this page to your LMS administrator."
            ),
        }
    }

    /// What an LMS admin can check, when the fault is likely in the registration.
    pub fn admin_hint(&self) -> Option<String> {
        let hint = match self {
            Self::UnknownIssuer { issuer } => format!(
                "Register the platform with issuer {issuer} in microcred (microcred platform add --issuer {issuer} ...)."
            ),
            Self::UnknownClient { issuer, client_id } => format!(
                "Register client id {client_id} for issuer {issuer}, or check the client id the LMS sends."
            ),
            Self::AmbiguousClient { issuer } => format!(
                "Issuer {issuer} has several client ids registered; configure the LMS to send client_id in the login request."
            ),
            Self::RegistrationDisabled { client_id } => {
                format!("Enable the registration for client {client_id} in microcred's admin pages.")
            }
            Self::RegistrationPending { issuer, client_id } => format!(
                "Approve the registration of client {client_id} for issuer {issuer} on microcred's Registrations \
                 admin page, or with microcred platform approve --issuer {issuer} --client-id {client_id}."
            ),
            Self::ForeignTargetLinkUri { .. } => {
                "The tool's launch URL in the LMS must start with microcred's public URL (server.public_url).".to_string()
            }
            Self::UnknownDeployment { deployment_id, client_id } => format!(
                "Deployment {deployment_id} is not registered for client {client_id}: add it with \
                 microcred platform add --client-id {client_id} --deployment-id {deployment_id} ..."
            ),
            Self::DeploymentPending { deployment_id, client_id } => format!(
                "Approve deployment {deployment_id} of client {client_id} in microcred's admin pages."
            ),
            Self::DeploymentDisabled { deployment_id, client_id } => format!(
                "Deployment {deployment_id} of client {client_id} was disabled; approve it again on microcred's \
                 Registrations admin page if its launches should be accepted."
            ),
            Self::UnknownKid { jwks_url, .. } | Self::KeySetUnavailable { jwks_url, .. } => {
                format!("Check that the platform's key set URL {jwks_url} is correct and reachable from microcred.")
            }
            Self::BadSignature => {
                "Check that the key set URL registered for this platform is the platform's own.".to_string()
            }
            Self::WrongIssuer { .. } | Self::WrongAudience { .. } | Self::WrongAuthorizedParty { .. } => {
                "Check the issuer and client id registered in microcred against the LMS's tool settings.".to_string()
            }
            Self::StateFromAnotherBrowser => {
                "Browsers that block third-party cookies need the LMS to support LTI client-side storage, \
                 or the tool opened in a new window."
                    .to_string()
            }
            _ => return None,
        };
        Some(hint)
    }

    /// Whether the user can fix this by launching again, as opposed to a setup problem.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::KeySetUnavailable { .. })
    }
}
