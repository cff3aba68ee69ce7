//! A stand-in LTI 1.3 platform (LMS) and a browser-like HTTP client, for
//! end-to-end tests of the microcred tool over real HTTP on 127.0.0.1.
//!
//! The platform is written from the 1EdTech specifications, independently
//! of the tool's code, so the tests check the tool against the
//! specifications rather than against itself: LTI Core 1.3, Security
//! Framework 1.0, Deep Linking 2.0, Assignment and Grade Services 2.0 and
//! Names and Role Provisioning Services 2.0.
//!
//! ```no_run
//! use microcred_testkit::{Browser, LaunchSpec, PlatformOptions, TestPlatform};
//!
//! # async fn example(tool_base: &str) {
//! let platform = TestPlatform::start(
//!     PlatformOptions::default().with_redirect_uri(&format!("{tool_base}/lti/launch")),
//! )
//! .await;
//! // ... configure the tool with platform.issuer(), client_id(), deployment_id(),
//! // auth_url(), jwks_url() and token_url() ...
//! // For LTI Advantage, tell the platform where the tool's keys are:
//! platform.set_tool_jwks_url(&format!("{tool_base}/.well-known/jwks.json"));
//! let browser = Browser::new();
//! let claims = platform.resource_link_claims(&format!("{tool_base}/lti/launch"));
//! let page = platform
//!     .launch(&browser, &format!("{tool_base}/lti/login"), LaunchSpec::new(claims))
//!     .await;
//! assert_eq!(page.status, 200, "{}", page.summary());
//! # }
//! ```
//!
//! Everything here is test code: it panics with a message on misuse, and the
//! keys in `testkit/keys/` are public.

pub mod browser;
pub mod claims;
mod html;
pub mod jwt;
pub mod keys;
pub mod platform;

pub use browser::{
    Browser, Hop, HtmlForm, NavigationBuilder, Page, RejectedCookie, SameSite, StoredCookie,
};
pub use claims::{
    ags_scope, claim, message_type, nrps_scope, role, LaunchClaims, PlatformIdentity, TestUser,
};
pub use jwt::{decode_header_unverified, decode_payload_unverified, SigningChoice};
pub use keys::TestKey;
pub use platform::{
    validate_score, AuthErrorMode, AuthorizationOutcome, AuthorizationRecord, DeepLinkingResult,
    InjectedFailure, LaunchSpec, LaunchStage, LaunchTemplate, LineItemSpec, LoginMethod,
    NonceChoice, PlatformOptions, PreparedLaunch, ReceivedScore, ServiceEndpoint,
    ServiceRequestRecord, TestPlatform, TokenOutcome, TokenRequestRecord, ACTIVITY_PROGRESS_VALUES,
    CLIENT_ASSERTION_TYPE, DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS, GRADING_PROGRESS_VALUES,
    LINE_ITEM_CONTAINER_MEDIA_TYPE, LINE_ITEM_MEDIA_TYPE, MEMBERSHIP_CONTAINER_MEDIA_TYPE,
    SCORE_MEDIA_TYPE,
};

/// Re-exported so tests can name methods and status codes without their own
/// `reqwest` dependency.
pub use reqwest::{Method, StatusCode};
