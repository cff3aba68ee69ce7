//! LTI endpoints: login initiation, launch, the tool's key set, health.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use cookie::{Cookie, SameSite};
use microcred_lti::LoginInitiation;

use crate::error::AppError;
use crate::launch::{self, BrowserCheck, FlowError, LaunchFailure, LaunchForm, StateProof};
use crate::web::templates;
use crate::sessions::SESSION_COOKIE;
use crate::state::AppState;
use crate::store::launches::{self as launch_store, FailureRecord};
use crate::{keys, telemetry};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lti/login", get(login_get).post(login_post))
        .route("/lti/launch", axum::routing::post(launch_post).get(launch_get))
        .route("/lti/relaunch", get(relaunch))
        .route("/static/lti-storage.js", get(storage_script))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/healthz", get(health))
}

/// A cookie usable inside an LMS iframe: sent on cross-site requests, only
/// over HTTPS (browsers treat http://localhost as secure), never to scripts,
/// and partitioned by the embedding site where the browser supports it.
pub fn iframe_cookie(name: String, value: String, path: &str, max_age_secs: i64) -> Cookie<'static> {
    let mut cookie = Cookie::new(name, value);
    cookie.set_path(path.to_string());
    cookie.set_http_only(true);
    cookie.set_secure(true);
    cookie.set_same_site(SameSite::None);
    cookie.set_partitioned(true);
    cookie.set_max_age(cookie::time::Duration::seconds(max_age_secs));
    cookie
}

fn parse_form<T: serde::de::DeserializeOwned + Default>(body: &[u8], what: &str) -> Result<T, AppError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|e| AppError::BadRequest(format!("the {what} form could not be read: {e}")))
}

async fn login_get(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = match parse_form::<LoginInitiation>(query.unwrap_or_default().as_bytes(), "login") {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    login(state, params).await
}

async fn login_post(State(state): State<AppState>, body: Bytes) -> Response {
    let params = match parse_form::<LoginInitiation>(&body, "login") {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    login(state, params).await
}

async fn login(state: AppState, params: LoginInitiation) -> Response {
    match launch::begin_login(&state, params).await {
        Ok(redirect) => {
            let cookie = iframe_cookie(
                launch::state_cookie_name(&redirect.state),
                launch::state_id(&redirect.state).to_string(),
                "/lti",
                state.settings.lti.state_ttl_secs as i64,
            );
            let jar = CookieJar::new().add(cookie);
            if let Some(target) = &redirect.storage_target {
                // Keep state and nonce with the platform too, for browsers that drop the cookie.
                let page = templates::render(
                    "lti/storage_login.html",
                    minijinja::context! {
                        target => target,
                        origin => redirect.platform_origin,
                        state => launch::state_id(&redirect.state),
                        nonce => redirect.nonce,
                        next => redirect.location.as_str(),
                    },
                );
                return match page {
                    Ok(html) => (jar, html).into_response(),
                    Err(error) => AppError::Internal(error).into_response(),
                };
            }
            let mut response = (jar, Redirect::to(redirect.location.as_str())).into_response();
            *response.status_mut() = StatusCode::FOUND;
            response
        }
        Err(error) => rejected(&state, error).await,
    }
}

async fn launch_get() -> AppError {
    AppError::BadRequest(
        "The launch URL accepts only the form the LMS posts after login. Open the tool from your course.".into(),
    )
}

async fn launch_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form: LaunchForm = match parse_form(&body, "launch") {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let jar = CookieJar::from_headers(&headers);
    let cookie_state = form
        .state
        .as_deref()
        .and_then(|s| jar.get(&launch::state_cookie_name(s)))
        .map(|c| c.value().to_string());
    let continuation = form.continuation.clone().filter(|c| !c.is_empty());
    let proof = match (&cookie_state, &continuation) {
        (None, Some(token)) => StateProof::Storage(token),
        _ => StateProof::Cookie(cookie_state.as_deref()),
    };
    match launch::complete_launch(&state, form, proof).await {
        Ok(done) => {
            let session_max_age = state.settings.session.max_hours * 3600;
            let page_token = state
                .page_tokens
                .issue(&crate::sessions::hash_token(&done.session_token), state.settings.session.idle_minutes * 60);
            let path = match done.message_type {
                microcred_lti::MessageType::LtiDeepLinkingRequest => "/app/deep-link",
                microcred_lti::MessageType::LtiSubmissionReviewRequest => "/app/review",
                microcred_lti::MessageType::LtiResourceLinkRequest => "/app",
            };
            let landing = format!("{path}?{}", serde_urlencoded::to_string([("_s", page_token)]).unwrap_or_default());
            let session_cookie = iframe_cookie(SESSION_COOKIE.to_string(), done.session_token, "/", session_max_age);
            let spent_state = iframe_cookie(launch::state_cookie_name(&done.state), String::new(), "/lti", 0);
            let jar = CookieJar::new().add(session_cookie).add(spent_state);
            if let Some(overview) = done.landing {
                state.fresh_overviews.put(done.session.id.clone(), overview);
            }
            state.fresh_sessions.put(done.session.id.clone(), done.session);
            state.metrics.launch_completed();
            tracing::info!(user_id = done.user_id, role = done.roles.primary().as_str(), message_type = done.message_type.as_str(), "launch accepted");
            (jar, Redirect::to(&landing)).into_response()
        }
        Err(error) => rejected(&state, error).await,
    }
}

/// Log, count and record a rejected login or launch, then render its error page.
async fn rejected(state: &AppState, error: FlowError) -> Response {
    let failure: LaunchFailure = match error {
        FlowError::Rejected(failure) => failure,
        FlowError::Internal(error) => {
            state.metrics.launch_failed(crate::metrics::INTERNAL_ERROR_REASON);
            return AppError::Internal(error).into_response();
        }
        FlowError::BrowserCheck(BrowserCheck::NewWindow { state: login_state }) => {
            // The launch cannot finish in this frame; record it like a rejection and offer a new window.
            let failure = LaunchFailure::from(microcred_lti::LaunchError::StateFromAnotherBrowser);
            record_failure(state, &failure).await;
            return browser_check_page(BrowserCheck::NewWindow { state: login_state });
        }
        FlowError::BrowserCheck(check) => return browser_check_page(check),
    };
    record_failure(state, &failure).await;
    AppError::Launch(failure).into_response()
}

async fn record_failure(state: &AppState, failure: &LaunchFailure) {
    state.metrics.launch_failed(failure.error.code());
    let request_id = telemetry::current_request_id();
    tracing::warn!(
        reason = failure.error.code(),
        detail = %failure.error,
        issuer = failure.issuer.as_deref().unwrap_or("-"),
        client_id = failure.client_id.as_deref().unwrap_or("-"),
        deployment_id = failure.deployment_id.as_deref().unwrap_or("-"),
        "launch rejected"
    );
    let record = FailureRecord {
        platform_id: failure.platform_id,
        issuer: failure.issuer.clone(),
        client_id: failure.client_id.clone(),
        deployment_id: failure.deployment_id.clone(),
        reason: failure.error.code().to_string(),
        detail: failure.error.to_string(),
        request_id,
    };
    if let Err(error) = launch_store::insert_failure(&state.db, record).await {
        tracing::error!(error = %error, "could not record a launch failure");
    }
}

/// The page that finishes a launch without a state cookie.
fn browser_check_page(check: BrowserCheck) -> Response {
    let page = match check {
        BrowserCheck::PlatformStorage { id_token, state, continuation, storage_target, platform_origin } => {
            templates::render(
                "lti/storage_launch.html",
                minijinja::context! {
                    id_token => id_token,
                    state => state,
                    state_id => crate::launch::state_id(&state),
                    continuation => continuation,
                    target => storage_target,
                    origin => platform_origin,
                },
            )
        }
        BrowserCheck::NewWindow { state } => {
            let relaunch = format!("/lti/relaunch?{}", serde_urlencoded::to_string([("state", state)]).unwrap_or_default());
            let page = templates::render(
                "lti/new_window.html",
                minijinja::context! {
                    relaunch => relaunch,
                    code => microcred_lti::LaunchError::StateFromAnotherBrowser.code(),
                    request_id => telemetry::current_request_id(),
                },
            );
            return match page {
                Ok(html) => (StatusCode::BAD_REQUEST, html).into_response(),
                Err(error) => AppError::Internal(error).into_response(),
            };
        }
    };
    match page {
        Ok(html) => html.into_response(),
        Err(error) => AppError::Internal(error).into_response(),
    }
}

#[derive(serde::Deserialize, Default)]
struct RelaunchQuery {
    #[serde(default)]
    state: Option<String>,
}

/// Start the login again in a new, top-level window.
async fn relaunch(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params: RelaunchQuery = match parse_form(query.unwrap_or_default().as_bytes(), "relaunch") {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let Some(login_state) = params.state.filter(|s| !s.is_empty()) else {
        return AppError::from(microcred_lti::LaunchError::MissingState).into_response();
    };
    match launch::restart_login(&state, &login_state).await {
        Ok(redirect) => {
            let cookie = iframe_cookie(
                launch::state_cookie_name(&redirect.state),
                launch::state_id(&redirect.state).to_string(),
                "/lti",
                state.settings.lti.state_ttl_secs as i64,
            );
            let mut response = (CookieJar::new().add(cookie), Redirect::to(redirect.location.as_str())).into_response();
            *response.status_mut() = StatusCode::FOUND;
            response
        }
        Err(error) => rejected(&state, error).await,
    }
}

async fn storage_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/lti-storage.js"),
    )
        .into_response()
}

async fn jwks(State(state): State<AppState>) -> Result<Response, AppError> {
    let body = keys::jwks(&state.db).await?;
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}

async fn health(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "database unreachable"})))
                .into_response()
        }
    }
}
