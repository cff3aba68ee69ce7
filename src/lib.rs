//! microcred: an LTI 1.3 tool that runs educator micro-credentials inside a
//! school district's LMS.
//!
//! Layout: `microcred_lti` (the protocol) and `microcred_domain` (the rules
//! of micro-credentials) are crates of their own; this crate holds storage
//! (`store`), the services that join protocol, rules and storage (`launch`,
//! `sessions`, `keys`, `platforms`), and the web layer (`web`).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod advantage;
pub mod config;
pub mod error;
pub mod handoff;
pub mod keys;
pub mod launch;
pub mod login_token;
pub mod metrics;
pub mod page_token;
pub mod platforms;
pub mod registration;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod workflow;

pub use microcred_domain as domain;
pub use microcred_lti as lti;
