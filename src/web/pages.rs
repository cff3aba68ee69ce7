//! The pages outside a session: the root page and the stylesheet. The
//! landing page after a launch (`/app`) is in `participant.rs`.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/static/app.css", get(stylesheet))
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>microcred</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main><h1>microcred</h1>\
         <p>microcred runs inside your LMS. Open it from a link on your course page.</p></main></body></html>",
    )
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/app.css"),
    )
        .into_response()
}
