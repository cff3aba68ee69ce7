//! The web layer: routes, handlers, templates and sessions. Handlers parse
//! the request, call a service, and render; rules live in the services and
//! the domain crate.

pub mod admin;
pub mod admin_platforms;
pub mod advantage;
pub mod api;
pub mod assessor;
pub mod headers;
pub mod lti;
pub mod metrics;
pub mod page;
pub mod pages;
pub mod participant;
pub mod registration;
pub mod session;
pub mod templates;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::Router;

use crate::state::AppState;
use crate::telemetry;

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let body_limit = (state.settings.server.max_body_mb as usize).saturating_mul(1024 * 1024);
    let mut router = Router::new();
    if state.settings.metrics.enabled {
        router = router.merge(metrics::router());
    }
    router
        .merge(lti::router())
        .merge(registration::router())
        .merge(pages::router())
        .merge(participant::router())
        .merge(assessor::router())
        .merge(admin::router())
        .merge(admin_platforms::router())
        .merge(api::router())
        .merge(advantage::router())
        .layer(middleware::from_fn_with_state(state.clone(), headers::security_headers))
        .layer(middleware::from_fn_with_state(state.metrics.clone(), telemetry::request_context))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
