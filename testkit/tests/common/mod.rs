//! A minimal LTI tool for exercising the test platform end to end. It does
//! only what a launch needs and is no model for the real tool.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;
use tokio::task::JoinHandle;
use url::Url;

pub const STATE_COOKIE: &str = "toy_lti_state";
pub const SESSION_COOKIE: &str = "toy_session";

/// Platform details the toy tool is configured with.
#[derive(Clone)]
pub struct ToyToolConfig {
    pub issuer: String,
    pub client_id: String,
    pub auth_url: String,
    pub jwks_url: String,
    /// Cookie attributes of the state cookie, after `name=value`.
    pub state_cookie_attributes: String,
}

struct ToyToolState {
    config: ToyToolConfig,
    base_url: String,
    /// Nonce of each state value the tool handed out.
    nonces: HashMap<String, String>,
}

type Shared = Arc<Mutex<ToyToolState>>;

pub struct ToyTool {
    pub base_url: String,
    server: JoinHandle<()>,
}

impl Drop for ToyTool {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ToyTool {
    pub async fn start(config: ToyToolConfig) -> ToyTool {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the toy tool to 127.0.0.1 failed");
        let port = listener
            .local_addr()
            .expect("reading the toy tool address failed")
            .port();
        let base_url = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(Mutex::new(ToyToolState {
            config,
            base_url: base_url.clone(),
            nonces: HashMap::new(),
        }));
        let router = Router::new()
            .route("/lti/login", get(login_get).post(login_post))
            .route("/lti/launch", axum::routing::post(launch))
            .route("/home", get(home))
            .with_state(shared);
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the toy tool server failed");
        });
        ToyTool { base_url, server }
    }

    pub fn login_url(&self) -> String {
        format!("{}/lti/login", self.base_url)
    }

    pub fn launch_url(&self) -> String {
        format!("{}/lti/launch", self.base_url)
    }
}

pub fn default_state_cookie_attributes() -> String {
    "Path=/lti; SameSite=None; Secure; HttpOnly; Partitioned".to_owned()
}

async fn login_get(
    State(shared): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    login(shared, params)
}

async fn login_post(
    State(shared): State<Shared>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    login(shared, params)
}

fn login(shared: Shared, params: HashMap<String, String>) -> Response {
    let mut state = shared.lock().expect("toy tool lock poisoned");
    if params.get("iss") != Some(&state.config.issuer) {
        return rejection(format!("unknown issuer {:?}", params.get("iss")));
    }
    let Some(login_hint) = params.get("login_hint") else {
        return rejection("login_hint is missing".to_owned());
    };
    if !params.contains_key("target_link_uri") {
        return rejection("target_link_uri is missing".to_owned());
    }

    let state_value = uuid::Uuid::new_v4().to_string();
    let nonce = uuid::Uuid::new_v4().to_string();
    state.nonces.insert(state_value.clone(), nonce.clone());

    let mut location =
        Url::parse(&state.config.auth_url).expect("the toy tool's auth URL is valid");
    {
        let mut query = location.query_pairs_mut();
        query
            .append_pair("scope", "openid")
            .append_pair("response_type", "id_token")
            .append_pair("response_mode", "form_post")
            .append_pair("prompt", "none")
            .append_pair("client_id", &state.config.client_id)
            .append_pair("redirect_uri", &format!("{}/lti/launch", state.base_url))
            .append_pair("login_hint", login_hint)
            .append_pair("state", &state_value)
            .append_pair("nonce", &nonce);
        if let Some(hint) = params.get("lti_message_hint") {
            query.append_pair("lti_message_hint", hint);
        }
    }
    let cookie = format!(
        "{STATE_COOKIE}={state_value}; {}",
        state.config.state_cookie_attributes
    );
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location.to_string()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

async fn launch(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let (config, expected_nonce) = {
        let state = shared.lock().expect("toy tool lock poisoned");
        let nonce = fields
            .get("state")
            .and_then(|value| state.nonces.get(value).cloned());
        (state.config.clone(), nonce)
    };
    if let Some(error) = fields.get("error") {
        return rejection(format!("the platform returned {error}"));
    }
    let Some(state_value) = fields.get("state") else {
        return rejection("state is missing".to_owned());
    };
    if cookie_value(&headers, STATE_COOKIE).as_deref() != Some(state_value.as_str()) {
        return rejection("the state cookie does not match".to_owned());
    }
    let Some(expected_nonce) = expected_nonce else {
        return rejection("unknown state".to_owned());
    };
    let Some(id_token) = fields.get("id_token") else {
        return rejection("id_token is missing".to_owned());
    };

    let claims = match verify(&config, id_token).await {
        Ok(claims) => claims,
        Err(reason) => return rejection(reason),
    };
    if claims.get("nonce").and_then(Value::as_str) != Some(expected_nonce.as_str()) {
        return rejection("the nonce does not match".to_owned());
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let session = format!("{SESSION_COOKIE}={sub}; Path=/; SameSite=None; Secure; HttpOnly");
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/home".to_owned()),
            (header::SET_COOKIE, session),
        ],
    )
        .into_response()
}

async fn verify(config: &ToyToolConfig, id_token: &str) -> Result<Value, String> {
    let header =
        jsonwebtoken::decode_header(id_token).map_err(|error| format!("bad header: {error}"))?;
    let kid = header.kid.ok_or("the token has no kid")?;
    let jwks: JwkSet = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|error| error.to_string())?
        .get(&config.jwks_url)
        .send()
        .await
        .map_err(|error| format!("fetching the JWKS failed: {error}"))?
        .json()
        .await
        .map_err(|error| format!("the JWKS is not valid JSON: {error}"))?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} is not in the JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|error| error.to_string())?;
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&config.client_id]);
    validation.set_issuer(&[&config.issuer]);
    let data = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .map_err(|error| format!("the id_token is invalid: {error}"))?;
    Ok(data.claims)
}

async fn home(headers: HeaderMap) -> Response {
    match cookie_value(&headers, SESSION_COOKIE) {
        Some(user) => Html(format!("<h1>Welcome {user}</h1>")).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Html("<h1>No session</h1>".to_owned()),
        )
            .into_response(),
    }
}

fn rejection(reason: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!("<h1>Launch rejected</h1><p>{reason}</p>")),
    )
        .into_response()
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let header = headers.get(header::COOKIE)?.to_str().ok()?;
    header.split("; ").find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}
