//! Names and Role Provisioning Services 2.0: the membership container of
//! each course at `/nrps/contexts/{context_id}/memberships`, with the
//! `role`, `limit` and `page` parameters and `Link: rel="next"` paging.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::ags::encode_segment;
use super::services::{
    error_json, json_with_media_type, page_of, paging, query_pairs, with_next_link, ServiceEndpoint,
};
use super::{lock, PlatformState, SharedState};
use crate::claims::{nrps_scope, TestUser};

pub const MEMBERSHIP_CONTAINER_MEDIA_TYPE: &str =
    "application/vnd.ims.lti-nrps.v2.membershipcontainer+json";

pub(super) fn memberships_url(base_url: &str, context_id: &str) -> String {
    format!(
        "{base_url}/nrps/contexts/{}/memberships",
        encode_segment(context_id)
    )
}

/// Builds the membership entry of `user` with `roles`.
pub(super) fn member_json(user: &TestUser, roles: &[&str]) -> Value {
    json!({
        "status": "Active",
        "user_id": user.sub,
        "name": user.name(),
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        "roles": roles,
    })
}

/// Tells whether a `role` filter, a full role URI or a short name such as
/// `Learner`, matches one of the member's roles.
fn role_matches(filter: &str, member: &Value) -> bool {
    let roles = member.get("roles").and_then(Value::as_array);
    roles.is_some_and(|roles| {
        roles.iter().filter_map(Value::as_str).any(|role| {
            role == filter
                || role
                    .rsplit_once('#')
                    .is_some_and(|(_, short)| short == filter)
        })
    })
}

pub(super) async fn list_memberships(
    State(state): State<SharedState>,
    Path(context_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&state);
    let (response, injected) = match state
        .services
        .take_failure(ServiceEndpoint::Memberships, None)
    {
        Some(response) => (response, true),
        None => (
            serve_memberships(&state, &context_id, &uri, &headers),
            false,
        ),
    };
    state.services.record(
        ServiceEndpoint::Memberships,
        "GET",
        uri.path(),
        uri.query(),
        &response,
        injected,
    );
    response
}

fn serve_memberships(
    state: &PlatformState,
    context_id: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    if let Err(response) = state
        .services
        .check_bearer(headers, &[nrps_scope::CONTEXT_MEMBERSHIP_READONLY])
    {
        return response;
    }
    let params = query_pairs(uri.query());
    let (page, limit) = match paging(&params, state.services.memberships_page_size) {
        Ok(paging) => paging,
        Err(reason) => return error_json(StatusCode::BAD_REQUEST, "invalid_request", &reason),
    };
    let role = params
        .iter()
        .find(|(key, _)| key == "role")
        .map(|(_, value)| value.as_str());

    let members: Vec<Value> = state
        .services
        .members
        .iter()
        .filter(|(context, _)| context == context_id)
        .map(|(_, member)| member)
        .filter(|member| role.is_none_or(|role| role_matches(role, member)))
        .cloned()
        .collect();
    let base = memberships_url(&state.base_url, context_id);
    let (members, next) = page_of(&members, page, limit, &base, &params);

    let body = json!({
        "id": format!("{}{uri}", state.base_url),
        "context": { "id": context_id },
        "members": members,
    });
    let response = json_with_media_type(StatusCode::OK, MEMBERSHIP_CONTAINER_MEDIA_TYPE, &body);
    with_next_link(response, next)
}
