//! LTI 1.3 protocol pieces for the tool side: login initiation, id_token
//! verification, claims and roles, and the platform key set cache.
//!
//! Nothing here touches a database or a web framework. The caller supplies
//! the registration a launch belongs to and stores state, nonces and users.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod advantage;
pub mod claims;
pub mod deep_linking;
pub mod error;
pub mod jwks;
pub mod login;
pub mod registration;
pub mod roles;
pub mod verify;

pub use claims::{IdTokenClaims, MessageType};
pub use error::LaunchError;
pub use jwks::{HttpKeySetFetcher, KeySetCache, KeySetFetcher};
pub use login::{AuthorizationRequest, LoginInitiation};
pub use roles::{Role, RoleSet};
pub use verify::{verify_id_token, ExpectedPlatform, VerifyOptions};
