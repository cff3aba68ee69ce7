//! sea-orm entities, one per table. Logic that uses them lives in the
//! `store` submodules and the services, never here.

pub mod assessment;
pub mod attempt;
pub mod attempt_file;
pub mod audit_entry;
pub mod context;
pub mod credential;
pub mod credential_version;
pub mod deployment;
pub mod enrollment;
pub mod launch_failure;
pub mod line_item;
pub mod link_service;
pub mod login_state;
pub mod platform;
pub mod resource_link;
pub mod score_outbox;
pub mod secret;
pub mod session;
pub mod tool_key;
pub mod user;
