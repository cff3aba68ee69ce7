//! sea-orm entities, one per table. Logic that uses them lives in the
//! `store` submodules and the services, never here.

pub mod context;
pub mod deployment;
pub mod launch_failure;
pub mod login_state;
pub mod platform;
pub mod resource_link;
pub mod session;
pub mod tool_key;
pub mod user;
