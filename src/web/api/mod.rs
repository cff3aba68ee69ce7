//! The JSON API under `/api/v1`, and its OpenAPI document at
//! `/api/openapi.json`.
//!
//! The API does what the pages do, through the same `workflow` services,
//! so the same access rules apply. A request authenticates with the page
//! token of a launch, sent as `Authorization: Bearer <token>` or
//! `x-session-token: <token>`. Every response that succeeds carries a fresh
//! token in the `x-session-token` header. Errors are JSON objects with an
//! `error` code, a `message` and the `request_id`.

mod admin;
mod assessor;
pub mod openapi;
mod participant;
mod support;
mod views;

use axum::handler::Handler;
use axum::routing::{any, on, MethodFilter};
use axum::Router;

use crate::state::AppState;

pub use support::{ApiContext, ApiError};

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Delete => MethodFilter::DELETE,
        }
    }

    /// The lowercase name that OpenAPI uses for the method.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Put => "put",
            Verb::Delete => "delete",
        }
    }
}

/// One route of the API: method and path in axum's (and OpenAPI's) `{name}` syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteEntry {
    pub verb: Verb,
    pub path: &'static str,
}

/// Builds the router and records every route it adds, so that tests can
/// compare the routes with the OpenAPI document.
struct Routes {
    router: Router<AppState>,
    table: Vec<RouteEntry>,
}

impl Routes {
    fn new() -> Self {
        Self { router: Router::new(), table: Vec::new() }
    }

    fn add<H, T>(mut self, verb: Verb, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(verb.filter(), handler));
        self.table.push(RouteEntry { verb, path });
        self
    }
}

fn routes() -> Routes {
    use Verb::{Delete, Get, Post, Put};

    Routes::new()
        .add(Get, "/api/openapi.json", openapi::serve)
        .add(Get, "/api/v1/session", participant::session)
        // Catalogue and enrolments.
        .add(Get, "/api/v1/catalogue", participant::catalogue)
        .add(Get, "/api/v1/catalogue/{slug}", participant::credential)
        .add(Post, "/api/v1/catalogue/{slug}/enrollment", participant::enroll)
        .add(Get, "/api/v1/enrollments", participant::enrollments)
        .add(Get, "/api/v1/enrollments/{id}", participant::enrollment)
        .add(Put, "/api/v1/enrollments/{id}/self-check", participant::self_check)
        // Attempts and files.
        .add(Post, "/api/v1/enrollments/{id}/components/{key}/attempts", participant::open_draft)
        .add(Get, "/api/v1/attempts/{id}", participant::attempt)
        .add(Put, "/api/v1/attempts/{id}/draft", participant::save_draft)
        .add(Post, "/api/v1/attempts/{id}/files", participant::upload)
        .add(Post, "/api/v1/attempts/{id}/submit", participant::submit)
        .add(Get, "/api/v1/files/{id}", participant::download)
        .add(Delete, "/api/v1/files/{id}", participant::remove_file)
        .add(Get, "/api/v1/transcript", participant::transcript)
        // Assessors.
        .add(Get, "/api/v1/queue", assessor::queue)
        .add(Post, "/api/v1/attempts/{id}/assessment", assessor::assess)
        .add(Get, "/api/v1/participants/{user_id}", assessor::participant)
        // Catalogue admins.
        .add(Get, "/api/v1/admin/catalogue", admin::catalogue)
        .add(Post, "/api/v1/admin/catalogue/import", admin::import)
        .add(Get, "/api/v1/admin/catalogue/export", admin::export)
        // NOTE: the two fixed paths above win over `{slug}`, so the micro-credentials
        // with the slugs `import` and `export` cannot be edited through the API.
        .add(Put, "/api/v1/admin/catalogue/{slug}", admin::update)
        .add(Put, "/api/v1/admin/catalogue/{slug}/archived", admin::set_archived)
        .add(Get, "/api/v1/admin/ceu-report", admin::ceu_report)
        .add(Get, "/api/v1/admin/ceu-report.csv", admin::ceu_csv)
        .add(Get, "/api/v1/admin/audit", admin::audit)
}

/// Lists every route of the API, in the order the router adds them.
pub fn route_table() -> Vec<RouteEntry> {
    routes().table
}

pub fn router() -> Router<AppState> {
    routes()
        .router
        // Unknown paths under /api get a JSON 404 instead of an empty body.
        .route("/api", any(support::no_such_endpoint))
        .route("/api/{*rest}", any(support::no_such_endpoint))
        .method_not_allowed_fallback(support::method_not_allowed)
}
