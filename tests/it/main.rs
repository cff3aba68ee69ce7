//! microcred's integration tests: one binary, each test with its own
//! database and its own server on 127.0.0.1.

mod admin_pages;
mod admin_registrations;
mod advantage;
mod api;
mod assessor_pages;
mod instances;
mod keys;
mod launch;
mod metrics;
mod participant_pages;
mod peer;
mod peer_advantage;
mod peer_process;
mod registration;
mod support;
