//! Assignment and Grade Services 2.0: the line items container of each
//! course, its line items, and their scores endpoints.
//!
//! URLs: `/ags/contexts/{context_id}/lineitems` (GET lists with the
//! `resource_link_id`, `resource_id`, `tag`, `limit` and `page`
//! parameters, POST creates), `.../lineitems/{n}` (GET) and
//! `.../lineitems/{n}/scores` (POST). A line item may carry a query string
//! in its URL, as some platforms' do; its scores URL then needs the same
//! query after `/scores`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::services::{
    error_json, json_with_media_type, media_type, page_of, paging, query_pairs, with_next_link,
    ServiceEndpoint,
};
use super::{lock, PlatformState, SharedState};
use crate::claims::ags_scope;

pub const LINE_ITEM_MEDIA_TYPE: &str = "application/vnd.ims.lis.v2.lineitem+json";
pub const LINE_ITEM_CONTAINER_MEDIA_TYPE: &str =
    "application/vnd.ims.lis.v2.lineitemcontainer+json";
pub const SCORE_MEDIA_TYPE: &str = "application/vnd.ims.lis.v1.score+json";

/// `activityProgress` values that AGS 2.0 defines.
pub const ACTIVITY_PROGRESS_VALUES: [&str; 5] = [
    "Initialized",
    "Started",
    "InProgress",
    "Submitted",
    "Completed",
];
/// `gradingProgress` values that AGS 2.0 defines.
pub const GRADING_PROGRESS_VALUES: [&str; 5] = [
    "FullyGraded",
    "Pending",
    "PendingManual",
    "Failed",
    "NotReady",
];

/// A line item a test puts into a course, as an instructor would create it
/// in the gradebook.
#[derive(Clone, Debug, PartialEq)]
pub struct LineItemSpec {
    pub label: String,
    pub score_maximum: f64,
    pub resource_link_id: Option<String>,
    pub resource_id: Option<String>,
    pub tag: Option<String>,
    /// Query string of the line item's URL, without the `?`.
    pub query: Option<String>,
}

impl LineItemSpec {
    pub fn new(label: &str, score_maximum: f64) -> LineItemSpec {
        LineItemSpec {
            label: label.to_owned(),
            score_maximum,
            resource_link_id: None,
            resource_id: None,
            tag: None,
            query: None,
        }
    }

    pub fn with_resource_link_id(mut self, resource_link_id: &str) -> LineItemSpec {
        self.resource_link_id = Some(resource_link_id.to_owned());
        self
    }

    pub fn with_resource_id(mut self, resource_id: &str) -> LineItemSpec {
        self.resource_id = Some(resource_id.to_owned());
        self
    }

    pub fn with_tag(mut self, tag: &str) -> LineItemSpec {
        self.tag = Some(tag.to_owned());
        self
    }

    pub fn with_query(mut self, query: &str) -> LineItemSpec {
        self.query = Some(query.trim_start_matches('?').to_owned());
        self
    }

    fn to_body(&self) -> Value {
        let mut body = Map::new();
        body.insert("label".into(), Value::from(self.label.clone()));
        body.insert("scoreMaximum".into(), Value::from(self.score_maximum));
        let optional = [
            ("resourceLinkId", &self.resource_link_id),
            ("resourceId", &self.resource_id),
            ("tag", &self.tag),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                body.insert(name.into(), Value::from(value.clone()));
            }
        }
        Value::Object(body)
    }
}

/// A line item as the platform keeps it.
#[derive(Clone, Debug)]
pub(super) struct StoredLineItem {
    pub context_id: String,
    pub number: u64,
    pub query: Option<String>,
    /// The line item as the API returns it, `id` included.
    pub body: Value,
}

/// A score the scores endpoint accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedScore {
    pub context_id: String,
    /// The `id` of the line item, its URL with any query string.
    pub line_item_url: String,
    /// Path the score was posted to.
    pub path: String,
    /// Query string the score was posted with.
    pub query: Option<String>,
    /// The bearer token of the request.
    pub access_token: String,
    /// The score as posted.
    pub score: Value,
    pub received_at: DateTime<Utc>,
}

impl ReceivedScore {
    pub fn user_id(&self) -> Option<&str> {
        self.field_str("userId")
    }

    /// Returns a member of the posted score, `None` when it is absent.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.score.get(name)
    }

    pub fn field_str(&self, name: &str) -> Option<&str> {
        self.score.get(name).and_then(Value::as_str)
    }
}

/// Percent-encodes one path segment.
pub(super) fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

pub(super) fn line_items_url(base_url: &str, context_id: &str) -> String {
    format!(
        "{base_url}/ags/contexts/{}/lineitems",
        encode_segment(context_id)
    )
}

fn line_item_url(base_url: &str, context_id: &str, number: u64, query: Option<&str>) -> String {
    let url = format!("{}/{number}", line_items_url(base_url, context_id));
    match query {
        Some(query) => format!("{url}?{query}"),
        None => url,
    }
}

impl PlatformState {
    /// Stores a line item and returns its URL.
    pub(super) fn add_line_item(
        &mut self,
        context_id: &str,
        body: Value,
        query: Option<String>,
    ) -> Value {
        let number = self.services.next_line_item_number;
        self.services.next_line_item_number += 1;
        let url = line_item_url(&self.base_url, context_id, number, query.as_deref());
        let mut body = match body {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        body.insert("id".into(), Value::from(url));
        let body = Value::Object(body);
        self.services.line_items.push(StoredLineItem {
            context_id: context_id.to_owned(),
            number,
            query,
            body: body.clone(),
        });
        body
    }

    pub(super) fn add_line_item_from_spec(
        &mut self,
        context_id: &str,
        spec: &LineItemSpec,
    ) -> String {
        let body = self.add_line_item(context_id, spec.to_body(), spec.query.clone());
        body["id"].as_str().unwrap_or_default().to_owned()
    }

    fn find_line_item(
        &self,
        context_id: &str,
        number: &str,
        query: Option<&str>,
    ) -> Option<&StoredLineItem> {
        let number: u64 = number.parse().ok()?;
        self.services.line_items.iter().find(|item| {
            item.context_id == context_id
                && item.number == number
                && match &item.query {
                    // A platform that routes by query string does not find
                    // the line item without it.
                    Some(expected) => query == Some(expected.as_str()),
                    None => true,
                }
        })
    }
}

/// Runs `serve` unless an injected failure matches the request, and logs the request.
fn serve_logged(
    state: &SharedState,
    endpoint: ServiceEndpoint,
    method: &str,
    uri: &Uri,
    user_id: Option<&str>,
    serve: impl FnOnce(&mut PlatformState) -> Response,
) -> Response {
    let mut state = lock(state);
    let (response, injected) = match state.services.take_failure(endpoint, user_id) {
        Some(response) => (response, true),
        None => (serve(&mut state), false),
    };
    state.services.record(
        endpoint,
        method,
        uri.path(),
        uri.query(),
        &response,
        injected,
    );
    response
}

pub(super) async fn list_line_items(
    State(state): State<SharedState>,
    Path(context_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve_logged(
        &state,
        ServiceEndpoint::LineItems,
        "GET",
        &uri,
        None,
        |state| {
            if let Err(response) = state.services.check_bearer(
                &headers,
                &[ags_scope::LINE_ITEM, ags_scope::LINE_ITEM_READONLY],
            ) {
                return response;
            }
            let params = query_pairs(uri.query());
            let (page, limit) = match paging(&params, state.services.line_items_page_size) {
                Ok(paging) => paging,
                Err(reason) => {
                    return error_json(StatusCode::BAD_REQUEST, "invalid_request", &reason)
                }
            };
            let filter = |name: &str| {
                params
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.as_str())
            };
            let filters = [
                ("resourceLinkId", filter("resource_link_id")),
                ("resourceId", filter("resource_id")),
                ("tag", filter("tag")),
            ];
            let apply_filters = state.services.filter_line_items;
            let items: Vec<Value> = state
                .services
                .line_items
                .iter()
                .filter(|item| item.context_id == context_id)
                .filter(|item| {
                    !apply_filters
                        || filters.iter().all(|(name, wanted)| match wanted {
                            None => true,
                            Some(wanted) => {
                                item.body.get(*name).and_then(Value::as_str) == Some(*wanted)
                            }
                        })
                })
                .map(|item| item.body.clone())
                .collect();
            let base = line_items_url(&state.base_url, &context_id);
            let (items, next) = page_of(&items, page, limit, &base, &params);
            let response = json_with_media_type(
                StatusCode::OK,
                LINE_ITEM_CONTAINER_MEDIA_TYPE,
                &Value::Array(items),
            );
            with_next_link(response, next)
        },
    )
}

pub(super) async fn create_line_item(
    State(state): State<SharedState>,
    Path(context_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_logged(
        &state,
        ServiceEndpoint::LineItems,
        "POST",
        &uri,
        None,
        |state| {
            if let Err(response) = state
                .services
                .check_bearer(&headers, &[ags_scope::LINE_ITEM])
            {
                return response;
            }
            if media_type(&headers) != LINE_ITEM_MEDIA_TYPE {
                return error_json(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "invalid_request",
                    &format!("a new line item must be sent as {LINE_ITEM_MEDIA_TYPE}"),
                );
            }
            let item = match serde_json::from_slice::<Value>(&body) {
                Ok(item) => item,
                Err(error) => {
                    return error_json(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        &format!("the line item is not valid JSON: {error}"),
                    )
                }
            };
            if let Err(reason) = validate_line_item(&item) {
                return error_json(StatusCode::BAD_REQUEST, "invalid_request", &reason);
            }
            let query = state.services.new_line_item_query.clone();
            let stored = state.add_line_item(&context_id, item, query);
            json_with_media_type(StatusCode::CREATED, LINE_ITEM_MEDIA_TYPE, &stored)
        },
    )
}

pub(super) async fn get_line_item(
    State(state): State<SharedState>,
    Path((context_id, number)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve_logged(
        &state,
        ServiceEndpoint::LineItem,
        "GET",
        &uri,
        None,
        |state| {
            if let Err(response) = state.services.check_bearer(
                &headers,
                &[ags_scope::LINE_ITEM, ags_scope::LINE_ITEM_READONLY],
            ) {
                return response;
            }
            match state.find_line_item(&context_id, &number, uri.query()) {
                Some(item) => {
                    json_with_media_type(StatusCode::OK, LINE_ITEM_MEDIA_TYPE, &item.body)
                }
                None => line_item_not_found(&context_id, &number),
            }
        },
    )
}

pub(super) async fn post_score(
    State(state): State<SharedState>,
    Path((context_id, number)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body);
    let user_id = parsed
        .as_ref()
        .ok()
        .and_then(|score| score.get("userId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    serve_logged(
        &state,
        ServiceEndpoint::Scores,
        "POST",
        &uri,
        user_id.as_deref(),
        |state| {
            let access_token = match state.services.check_bearer(&headers, &[ags_scope::SCORE]) {
                Ok(token) => token,
                Err(response) => return response,
            };
            if media_type(&headers) != SCORE_MEDIA_TYPE {
                return error_json(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "invalid_request",
                    &format!("a score must be sent as {SCORE_MEDIA_TYPE}"),
                );
            }
            let Some(line_item_url) = state
                .find_line_item(&context_id, &number, uri.query())
                .and_then(|item| {
                    item.body
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
            else {
                return line_item_not_found(&context_id, &number);
            };
            let score = match parsed {
                Ok(score) => score,
                Err(error) => {
                    return error_json(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        &format!("the score is not valid JSON: {error}"),
                    )
                }
            };
            if let Err(reason) = validate_score(&score) {
                return error_json(StatusCode::BAD_REQUEST, "invalid_request", &reason);
            }
            state.services.scores.push(ReceivedScore {
                context_id: context_id.clone(),
                line_item_url,
                path: uri.path().to_owned(),
                query: uri.query().map(str::to_owned),
                access_token,
                score,
                received_at: Utc::now(),
            });
            StatusCode::NO_CONTENT.into_response()
        },
    )
}

fn line_item_not_found(context_id: &str, number: &str) -> Response {
    error_json(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("course {context_id:?} has no line item {number:?} at this URL"),
    )
}

/// Checks a new line item against AGS 2.0: a non-empty `label`, a
/// `scoreMaximum` above 0, and string `resourceLinkId`, `resourceId` and
/// `tag` when present.
pub(super) fn validate_line_item(item: &Value) -> Result<(), String> {
    let Some(object) = item.as_object() else {
        return Err("a line item must be a JSON object".to_owned());
    };
    match object.get("label").and_then(Value::as_str) {
        Some(label) if !label.trim().is_empty() => {}
        _ => return Err("label is required and must be a non-empty string".to_owned()),
    }
    match object.get("scoreMaximum").and_then(Value::as_f64) {
        Some(maximum) if maximum > 0.0 && maximum.is_finite() => {}
        _ => return Err("scoreMaximum is required and must be a number above 0".to_owned()),
    }
    for name in ["resourceLinkId", "resourceId", "tag"] {
        if let Some(value) = object.get(name) {
            if !value.is_string() {
                return Err(format!("{name} must be a string, got {value}"));
            }
        }
    }
    Ok(())
}

/// Checks a score against the AGS 2.0 score publish service: `userId`, a
/// `timestamp` in RFC 3339 with a zone, known `activityProgress` and
/// `gradingProgress` values, a `scoreMaximum` above 0 whenever `scoreGiven`
/// is present, and a string `comment`.
pub fn validate_score(score: &Value) -> Result<(), String> {
    let Some(object) = score.as_object() else {
        return Err("a score must be a JSON object".to_owned());
    };
    match object.get("userId").and_then(Value::as_str) {
        Some(user_id) if !user_id.is_empty() => {}
        _ => return Err("userId is required and must be a non-empty string".to_owned()),
    }
    match object.get("timestamp").and_then(Value::as_str) {
        Some(timestamp) => {
            DateTime::parse_from_rfc3339(timestamp).map_err(|error| {
                format!(
                    "timestamp {timestamp:?} is not an RFC 3339 date and time with a zone: {error}"
                )
            })?;
        }
        None => return Err("timestamp is required and must be a string".to_owned()),
    }
    let activity = object.get("activityProgress").and_then(Value::as_str);
    if !activity.is_some_and(|value| ACTIVITY_PROGRESS_VALUES.contains(&value)) {
        return Err(format!(
            "activityProgress must be one of {ACTIVITY_PROGRESS_VALUES:?}, got {activity:?}"
        ));
    }
    let grading = object.get("gradingProgress").and_then(Value::as_str);
    if !grading.is_some_and(|value| GRADING_PROGRESS_VALUES.contains(&value)) {
        return Err(format!(
            "gradingProgress must be one of {GRADING_PROGRESS_VALUES:?}, got {grading:?}"
        ));
    }
    if let Some(given) = object.get("scoreGiven") {
        match given.as_f64() {
            Some(given) if given >= 0.0 && given.is_finite() => {}
            _ => {
                return Err(format!(
                    "scoreGiven must be a number of at least 0, got {given}"
                ))
            }
        }
        match object.get("scoreMaximum").and_then(Value::as_f64) {
            Some(maximum) if maximum > 0.0 && maximum.is_finite() => {}
            _ => {
                return Err(
                    "scoreMaximum is required with scoreGiven and must be a number above 0"
                        .to_owned(),
                )
            }
        }
    }
    if let Some(comment) = object.get("comment") {
        if !comment.is_string() && !comment.is_null() {
            return Err(format!("comment must be a string, got {comment}"));
        }
    }
    Ok(())
}
