//! LTI Advantage pages: the deep linking picker, submission review
//! launches, the course roster and the admin view of grade passback.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use microcred_lti::deep_linking::{acceptance, sign_response, ResourceLinkItem, ResponseInput};
use microcred_lti::{MessageType, Role};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use crate::advantage::{passback, roster};
use crate::error::AppError;
use crate::launch::CUSTOM_CREDENTIAL;
use crate::state::AppState;
use crate::store::entities::{platform, user};
use crate::web::page;
use crate::web::session::CurrentSession;
use crate::workflow::access::Viewer;
use crate::workflow::catalogue;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/deep-link", get(picker).post(place))
        .route("/app/review", get(review))
        .route("/app/roster", get(roster_page))
        .route("/app/admin/passbacks", get(passbacks))
        .route("/app/admin/passbacks/{id}/retry", post(retry_passback))
        .route("/static/autosubmit.js", get(autosubmit_script))
}

fn with_token(path: &str, token: &str) -> String {
    format!("{path}?{}", serde_urlencoded::to_string([("_s", token)]).unwrap_or_default())
}

async fn session_platform(state: &AppState, platform_id: i64) -> Result<platform::Model, AppError> {
    platform::Entity::find_by_id(platform_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("session names missing platform {platform_id}")))
}

fn require_deep_linking(current: &CurrentSession) -> Result<&microcred_lti::claims::DeepLinkingSettingsClaim, AppError> {
    let session = &current.session;
    if session.message_type != MessageType::LtiDeepLinkingRequest {
        return Err(AppError::BadRequest(
            "This page belongs to a deep linking launch. Use the LMS's \"add content\" or \"external tool\" button to place a micro-credential."
                .into(),
        ));
    }
    if !session.roles.has(Role::Assessor) {
        return Err(AppError::Forbidden("Only instructors and administrators can place micro-credentials.".into()));
    }
    session
        .details
        .deep_linking
        .as_ref()
        .ok_or_else(|| AppError::BadRequest("The LMS sent no deep linking settings; launch again from the LMS.".into()))
}

async fn picker(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    let settings = require_deep_linking(&current)?;
    let accept = acceptance(settings);
    let entries = catalogue::list(&state.db).await?;
    let base = page::base(&state, &current).await?;
    let html = page::render(
        "advantage/deep_link.html",
        &base,
        minijinja::context! {
            entries => entries,
            accepts_links => accept.resource_links,
            multiple => accept.multiple,
            line_items => accept.line_items,
            auto_create => settings.auto_create.unwrap_or(false),
            request_title => settings.title,
        },
    )?;
    Ok(html.into_response())
}

#[derive(Deserialize)]
struct PlaceForm {
    #[serde(default)]
    slug: Vec<String>,
}

async fn place(State(state): State<AppState>, current: CurrentSession, body: axum::body::Bytes) -> Result<Response, AppError> {
    let settings = require_deep_linking(&current)?.clone();
    let accept = acceptance(&settings);
    if !accept.resource_links {
        return Err(AppError::BadRequest("This LMS did not ask for links, so microcred has nothing to place.".into()));
    }
    // Repeated `slug` fields arrive when several boxes are ticked.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
    let form = PlaceForm { slug: pairs.into_iter().filter(|(k, _)| k == "slug").map(|(_, v)| v).collect() };
    if form.slug.is_empty() {
        return Err(AppError::BadRequest("Choose at least one micro-credential to place, then press Place.".into()));
    }
    if form.slug.len() > 1 && !accept.multiple {
        return Err(AppError::BadRequest("This LMS accepts one item at a time. Choose one micro-credential.".into()));
    }
    let mut items = Vec::new();
    for slug in &form.slug {
        let entry = catalogue::by_slug(&state.db, slug).await?;
        let mut custom = serde_json::Map::new();
        custom.insert(CUSTOM_CREDENTIAL.to_string(), serde_json::Value::String(entry.slug.clone()));
        items.push(ResourceLinkItem {
            title: entry.definition.title.clone(),
            text: entry.definition.competency.trim().to_string(),
            url: Some(state.url("/lti/launch")),
            custom,
            line_item: Some((
                entry.definition.ceus,
                format!("{} (CEUs)", entry.definition.title),
                entry.slug.clone(),
                passback::LINE_ITEM_TAG.to_string(),
            )),
        });
    }
    let platform = session_platform(&state, current.session.platform_id).await?;
    let signer = state.services.signer().await.map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    let jwt = sign_response(
        ResponseInput {
            client_id: &platform.client_id,
            platform_issuer: &platform.issuer,
            deployment_id: &current.session.details.deployment_id,
            settings: &settings,
            items: &items,
            message: Some(&format!("Placed {} micro-credential(s).", items.len())),
        },
        &signer,
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    tracing::info!(items = items.len(), "deep linking response signed");
    let base = page::base(&state, &current).await?;
    let html = page::render(
        "advantage/deep_link_return.html",
        &base,
        minijinja::context! {
            return_url => settings.deep_link_return_url,
            jwt => jwt,
            titles => items.iter().map(|i| i.title.clone()).collect::<Vec<_>>(),
        },
    )?;
    Ok(html.into_response())
}

async fn review(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    let session = &current.session;
    let Some(for_user) = session.details.for_user.as_ref() else {
        return Ok(Redirect::to(&with_token("/app", &current.page_token)).into_response());
    };
    let platform = session_platform(&state, session.platform_id).await?;
    let reviewed = user::Entity::find()
        .filter(user::Column::Issuer.eq(&platform.issuer))
        .filter(user::Column::Subject.eq(&for_user.user_id))
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("This participant has not opened microcred yet, so there is no work to review.".into()))?;
    if session.roles.has(Role::Assessor) && reviewed.id != session.user_id {
        let path = format!("/app/assess/participants/{}", reviewed.id);
        return Ok(Redirect::to(&with_token(&path, &current.page_token)).into_response());
    }
    if reviewed.id == session.user_id {
        return Ok(Redirect::to(&with_token("/app", &current.page_token)).into_response());
    }
    Err(AppError::NotFound("No such work, or it belongs to someone else.".into()))
}

async fn roster_page(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    viewer.require(Role::Assessor)?;
    let context_pk = viewer.context()?;
    let base = page::base(&state, &current).await?;
    let (rows, problem) = match current.session.details.nrps.as_ref() {
        None => (Vec::new(), Some("The LMS did not offer its roster in this launch. Launch microcred again from the course; if the roster still does not appear, ask your LMS administrator to allow Names and Role Provisioning Services for microcred.".to_string())),
        Some(nrps) => {
            let platform = session_platform(&state, current.session.platform_id).await?;
            match roster::roster(&state.services, &platform, nrps, context_pk).await {
                Ok(rows) => (rows, None),
                Err(error) => {
                    tracing::warn!(error = %error, "roster could not be fetched");
                    (Vec::new(), Some(format!("The roster could not be loaded because {error}. Try again in a minute.")))
                }
            }
        }
    };
    Ok(page::render("advantage/roster.html", &base, minijinja::context! { rows => rows, problem => problem })?.into_response())
}

async fn passbacks(State(state): State<AppState>, current: CurrentSession) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    viewer.require(Role::Admin)?;
    let rows = passback::unsent(&state.db, viewer.platform_id, 200).await?;
    let base = page::base(&state, &current).await?;
    Ok(page::render("advantage/passbacks.html", &base, minijinja::context! { rows => rows })?.into_response())
}

async fn retry_passback(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<i64>,
    Form(_): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let viewer = Viewer::from(&current.session);
    viewer.require(Role::Admin)?;
    if !passback::retry(&state.db, viewer.platform_id, id).await? {
        return Err(AppError::NotFound(format!("Passback {id} is not a failed passback of this platform.")));
    }
    Ok(Redirect::to(&with_token("/app/admin/passbacks", &current.page_token)).into_response())
}

async fn autosubmit_script() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/autosubmit.js"),
    )
        .into_response()
}
