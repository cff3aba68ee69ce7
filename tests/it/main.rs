//! microcred's integration tests: one binary, each test with its own
//! database and its own server on 127.0.0.1.

mod launch;
mod peer;
mod support;
