//! A test LMS for the browser tests: a course page that embeds microcred in
//! an iframe, with the platform side of LTI client-side storage, in front of
//! a `TestPlatform`.
//!
//! Usage:
//!
//! ```text
//! test-lms --tool-url http://localhost:8123 --client-id CLIENT --deployment-id DEPLOYMENT [--port PORT]
//! ```
//!
//! It serves everything on one origin, `http://127.0.0.1:PORT` (a free port
//! by default): the course page, the storage frame, and, proxied to the
//! `TestPlatform`, the platform's OIDC authorization endpoint, key set and
//! launch links. One origin matters because the tool sends its storage
//! messages to the origin of the authorization endpoint, so the page that
//! handles them must be on that origin. The issuer is the same URL.
//!
//! Once listening, it prints one JSON line on stdout with its URLs (see
//! [`Announcement`]). It stops when its standard input closes or on Ctrl-C,
//! so a test runner that dies does not leave it behind.
//!
//! `GET /course` starts a new launch each time it is loaded. Query parameters:
//! - `role`: `learner` (default), `instructor` or `admin`;
//! - `storage`: `frame` (default: a sibling iframe named
//!   `post_message_forwarding` handles storage messages), `parent` (the page
//!   itself handles them, `lti_storage_target=_parent`) or `none` (no
//!   `lti_storage_target` in the login initiation);
//! - `user`, `given`, `family`: the user's `sub` (which also makes the email
//!   `{sub}@example.edu`) and names (defaults per role);
//! - `context`: the course (context) id;
//! - `credential`: the custom parameter `microcredential`, a catalogue slug.
//!
//! `GET /register-tool` is an LMS admin's page that registers the tool with
//! a second platform, one that the tool does not know yet, by LTI Dynamic
//! Registration. It embeds the tool's `/lti/register` in an iframe, with a
//! fresh registration token on each load, and shows "Registration window
//! closed" once the frame sends `org.imsglobal.lti.close`. The second
//! platform is another `TestPlatform` on its own port, with its own issuer
//! (its base URL), client id and deployment. This server forwards
//! `/second-platform/...` to it, and the `openid_configuration` parameter
//! points there, because the tool lets the origin of the configuration URL
//! frame its registration page. The issuer and registration endpoint stay on
//! the second platform's port: the tool compares their host, 127.0.0.1, with
//! the configuration URL's host and ignores the port. Query parameter:
//! - `reject`: `1` makes the second platform's registration endpoint
//!   respond with status 400 and a JSON error instead of a client id.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use microcred_testkit::{claim, role, LaunchSpec, PlatformOptions, TestPlatform, TestUser};
use serde::Serialize;
use tokio::io::AsyncReadExt;

/// Name of the sibling iframe that handles storage messages in `storage=frame` mode.
const STORAGE_FRAME_NAME: &str = "post_message_forwarding";

/// Path prefix under which this server forwards requests to the second platform.
const SECOND_PLATFORM_PREFIX: &str = "/second-platform";

/// Body of the second platform's registration error for `/register-tool?reject=1`.
const REJECTION_BODY: &str = r#"{"error":"invalid_client_metadata","error_description":"the test LMS rejects every registration on request (reject=1)"}"#;

const COURSE_TITLE: &str = "Professional Development 101";

/// Command-line arguments.
struct Args {
    tool_url: String,
    client_id: String,
    deployment_id: String,
    port: u16,
}

const USAGE: &str =
    "usage: test-lms --tool-url URL --client-id ID --deployment-id ID [--port PORT]";

fn parse_args() -> Result<Args, String> {
    let mut values: HashMap<String, String> = HashMap::new();
    let mut raw = std::env::args().skip(1);
    while let Some(name) = raw.next() {
        if name == "--help" || name == "-h" {
            return Err(USAGE.to_owned());
        }
        let Some(key) = name.strip_prefix("--") else {
            return Err(format!("unexpected argument {name:?}\n{USAGE}"));
        };
        let value = raw
            .next()
            .ok_or_else(|| format!("the option {name} needs a value\n{USAGE}"))?;
        values.insert(key.to_owned(), value);
    }
    let mut take = |key: &str| {
        values
            .remove(key)
            .ok_or_else(|| format!("the option --{key} is missing\n{USAGE}"))
    };
    let tool_url = take("tool-url")?.trim_end_matches('/').to_owned();
    let client_id = take("client-id")?;
    let deployment_id = take("deployment-id")?;
    let port = match values.remove("port") {
        Some(port) => port
            .parse()
            .map_err(|_| format!("--port must be a port number, got {port:?}"))?,
        None => 0,
    };
    if let Some(unknown) = values.keys().next() {
        return Err(format!("unknown option --{unknown}\n{USAGE}"));
    }
    if url::Url::parse(&tool_url).is_err() {
        return Err(format!(
            "--tool-url must be an absolute URL, got {tool_url:?}"
        ));
    }
    Ok(Args {
        tool_url,
        client_id,
        deployment_id,
        port,
    })
}

/// The line printed on stdout once the LMS listens.
#[derive(Serialize)]
struct Announcement {
    /// Base URL of the LMS, also its issuer.
    lms_url: String,
    /// The course page; add the query parameters listed in the module docs.
    course_url: String,
    issuer: String,
    client_id: String,
    deployment_id: String,
    auth_url: String,
    jwks_url: String,
    token_url: String,
    /// The tool's login initiation and launch (redirect) URLs, as the LMS uses them.
    tool_login_url: String,
    tool_launch_url: String,
    /// Origin that storage messages are accepted from.
    tool_origin: String,
    /// The page that registers the tool with the second platform.
    register_tool_url: String,
    /// Identity of the second platform, which the tool does not know until
    /// it registers there.
    second_issuer: String,
    second_client_id: String,
    second_deployment_id: String,
}

struct Lms {
    platform: TestPlatform,
    /// The platform that `/register-tool` registers the tool with.
    second_platform: TestPlatform,
    lms_url: String,
    tool_url: String,
    tool_origin: String,
    http: reqwest::Client,
}

type Shared = Arc<Lms>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("test-lms: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("test-lms: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    let lms_url = format!("http://{}", listener.local_addr()?);
    let tool_launch_url = format!("{}/lti/launch", args.tool_url);
    let platform = TestPlatform::start(
        PlatformOptions::default()
            .with_issuer(&lms_url)
            .with_client_id(&args.client_id)
            .with_deployment_id(&args.deployment_id)
            .with_redirect_uri(&tool_launch_url),
    )
    .await;
    let second_platform = TestPlatform::start(
        PlatformOptions::default()
            .with_client_id(&format!("{}-second", args.client_id))
            .with_deployment_id(&format!("{}-second", args.deployment_id)),
    )
    .await;
    let tool_origin = url::Url::parse(&args.tool_url)?
        .origin()
        .ascii_serialization();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // The platform's endpoints, reached through this server's origin.
    let on_lms = |platform_url: String| platform_url.replacen(platform.base_url(), &lms_url, 1);
    let announcement = Announcement {
        lms_url: lms_url.clone(),
        course_url: format!("{lms_url}/course"),
        issuer: platform.issuer().to_owned(),
        client_id: platform.client_id().to_owned(),
        deployment_id: platform.deployment_id().to_owned(),
        auth_url: on_lms(platform.auth_url()),
        jwks_url: on_lms(platform.jwks_url()),
        token_url: on_lms(platform.token_url()),
        tool_login_url: format!("{}/lti/login", args.tool_url),
        tool_launch_url,
        tool_origin: tool_origin.clone(),
        register_tool_url: format!("{lms_url}/register-tool"),
        second_issuer: second_platform.issuer().to_owned(),
        second_client_id: second_platform.client_id().to_owned(),
        second_deployment_id: second_platform.deployment_id().to_owned(),
    };

    let lms = Arc::new(Lms {
        platform,
        second_platform,
        lms_url,
        tool_url: args.tool_url,
        tool_origin,
        http,
    });
    let router = Router::new()
        .route("/course", get(course_page))
        .route("/lms/storage-frame", get(storage_frame_page))
        .route("/lms/storage.js", get(|| async { javascript(STORAGE_JS) }))
        .route("/lms/course.js", get(|| async { javascript(COURSE_JS) }))
        .route("/register-tool", get(register_tool_page))
        .route(
            "/lms/register-tool.js",
            get(|| async { javascript(REGISTER_TOOL_JS) }),
        )
        .route(
            &format!("{SECOND_PLATFORM_PREFIX}/{{*path}}"),
            axum::routing::any(proxy_to_second_platform),
        )
        .route("/lms/lms.css", get(stylesheet))
        .fallback(proxy_to_platform)
        .with_state(lms);

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::to_string(&announcement)?)?;
    stdout.flush()?;
    drop(stdout);

    axum::serve(listener, router)
        .with_graceful_shutdown(stop_signal())
        .await?;
    Ok(())
}

/// Resolves when standard input reaches its end or Ctrl-C arrives.
async fn stop_signal() {
    let stdin_closed = async {
        let mut stdin = tokio::io::stdin();
        let mut buffer = [0u8; 256];
        loop {
            match stdin.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        _ = stdin_closed => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Escapes text for HTML content and double-quoted attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn javascript(source: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        source,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], LMS_CSS).into_response()
}

fn bad_request(message: String) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Bad request</title></head>\
         <body><h1>Bad request</h1><p>{}</p></body></html>\n",
        escape(&message)
    );
    (StatusCode::BAD_REQUEST, Html(page)).into_response()
}

/// The LMS side of LTI client-side storage offered in the login initiation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StorageMode {
    Frame,
    Parent,
    None,
}

async fn course_page(
    State(lms): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    };

    let (role_uri, default_user) = match param("role").unwrap_or("learner") {
        "learner" => (
            role::LEARNER,
            TestUser::new(
                "lms-learner-1",
                "Grace",
                "Hopper",
                "grace.hopper@example.edu",
            ),
        ),
        "instructor" => (
            role::INSTRUCTOR,
            TestUser::new(
                "lms-instructor-1",
                "Alan",
                "Turing",
                "alan.turing@example.edu",
            ),
        ),
        "admin" => (
            role::ADMINISTRATOR,
            TestUser::new("lms-admin-1", "Ada", "Lovelace", "ada.lovelace@example.edu"),
        ),
        other => {
            return bad_request(format!(
                "role must be learner, instructor or admin, got {other:?}"
            ))
        }
    };
    let storage = match param("storage").unwrap_or("frame") {
        "frame" => StorageMode::Frame,
        "parent" => StorageMode::Parent,
        "none" => StorageMode::None,
        other => {
            return bad_request(format!(
                "storage must be frame, parent or none, got {other:?}"
            ))
        }
    };
    let sub = param("user").unwrap_or(&default_user.sub);
    let given = param("given").unwrap_or(&default_user.given_name);
    let family = param("family").unwrap_or(&default_user.family_name);
    let email = match param("user") {
        Some(sub) => format!("{sub}@example.edu"),
        None => default_user.email.clone(),
    };
    let user = TestUser::new(sub, given, family, &email);

    let tool_launch_url = format!("{}/lti/launch", lms.tool_url);
    let mut claims = lms
        .platform
        .resource_link_claims(&tool_launch_url)
        .with_user(&user)
        .with_roles([role_uri])
        .with(&[claim::CONTEXT, "title"], COURSE_TITLE);
    if let Some(context) = param("context") {
        claims = claims.with(&[claim::CONTEXT, "id"], context);
    }
    if let Some(credential) = param("credential") {
        claims = claims.with_custom("microcredential", credential);
    }
    let mut spec = LaunchSpec::new(claims);
    spec = match storage {
        StorageMode::Frame => spec.login_param("lti_storage_target", STORAGE_FRAME_NAME),
        StorageMode::Parent => spec.login_param("lti_storage_target", "_parent"),
        StorageMode::None => spec,
    };
    let prepared = lms
        .platform
        .prepare_launch(&format!("{}/lti/login", lms.tool_url), &spec);
    // The launch link, on this server's origin like every platform URL the browser loads.
    let launch_path = prepared.start_url.replacen(lms.platform.base_url(), "", 1);

    let storage_frame = match storage {
        StorageMode::Frame => format!(
            "<iframe id=\"lti-storage-frame\" name=\"{STORAGE_FRAME_NAME}\" src=\"/lms/storage-frame\" \
             title=\"LTI storage\" hidden></iframe>\n"
        ),
        _ => String::new(),
    };
    let page_storage_script = match storage {
        StorageMode::Parent => "<script src=\"/lms/storage.js\"></script>\n",
        _ => "",
    };
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\" data-tool-origin=\"{tool_origin}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · Test LMS</title>\n<link rel=\"stylesheet\" href=\"/lms/lms.css\">\n{page_storage_script}</head>\n\
         <body>\n<header class=\"lms-header\"><p class=\"lms-course\">{title}</p>\
         <p class=\"lms-user\">{name} · {role}</p></header>\n\
         {storage_frame}<iframe id=\"tool-frame\" name=\"microcred\" title=\"microcred\" class=\"lms-tool\" \
         data-launch=\"{launch}\" data-storage=\"{storage_attr}\"></iframe>\n\
         <script src=\"/lms/course.js\"></script>\n</body>\n</html>\n",
        tool_origin = escape(&lms.tool_origin),
        title = escape(COURSE_TITLE),
        name = escape(&user.name()),
        role = escape(param("role").unwrap_or("learner")),
        launch = escape(&launch_path),
        storage_attr = match storage {
            StorageMode::Frame => "frame",
            StorageMode::Parent => "parent",
            StorageMode::None => "none",
        },
    );
    let mut response = Html(page).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn storage_frame_page(State(lms): State<Shared>) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\" data-tool-origin=\"{}\">\n<head><meta charset=\"utf-8\">\
         <title>LTI storage</title><script src=\"/lms/storage.js\"></script></head>\n<body></body>\n</html>\n",
        escape(&lms.tool_origin)
    ))
}

/// Forwards a request to the `TestPlatform` and returns its response unchanged.
async fn proxy_to_platform(
    State(lms): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = format!("{}{path_and_query}", lms.platform.base_url());
    forward(&lms.http, method, target, &headers, body).await
}

/// Forwards a request under `/second-platform/` to the second platform,
/// without the prefix, and returns its response unchanged.
async fn proxy_to_second_platform(
    State(lms): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let rest = path_and_query
        .strip_prefix(SECOND_PLATFORM_PREFIX)
        .unwrap_or(path_and_query);
    let target = format!("{}{rest}", lms.second_platform.base_url());
    forward(&lms.http, method, target, &headers, body).await
}

/// Sends a request to `target` with the `Content-Type` and `Authorization`
/// headers of `headers`, and returns the status, body and the headers a
/// browser or the tool needs from the response.
async fn forward(
    http: &reqwest::Client,
    method: Method,
    target: String,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = http.request(method, &target).body(body);
    for name in [header::CONTENT_TYPE, header::AUTHORIZATION] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    let upstream = match request.send().await {
        Ok(upstream) => upstream,
        Err(error) => {
            let message =
                format!("the test platform behind the LMS did not respond to {target}: {error}");
            return (StatusCode::BAD_GATEWAY, message).into_response();
        }
    };
    let status = upstream.status();
    let mut copied = HeaderMap::new();
    for name in [
        header::CONTENT_TYPE,
        header::LOCATION,
        header::CACHE_CONTROL,
    ] {
        if let Some(value) = upstream.headers().get(&name) {
            copied.insert(name, value.clone());
        }
    }
    match upstream.bytes().await {
        Ok(bytes) => (status, copied, bytes).into_response(),
        Err(error) => {
            let message =
                format!("reading the test platform's response to {target} failed: {error}");
            (StatusCode::BAD_GATEWAY, message).into_response()
        }
    }
}

/// Serves the LMS admin's page that registers the tool with the second
/// platform (see the module docs). Each load issues a new registration
/// token, and sets whether the registration endpoint rejects (`reject=1`)
/// or accepts the next registration.
async fn register_tool_page(
    State(lms): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let reject = match query.get("reject").map(String::as_str) {
        None | Some("") | Some("0") => false,
        Some("1") => true,
        Some(other) => return bad_request(format!("reject must be 0 or 1, got {other:?}")),
    };
    let platform = &lms.second_platform;
    platform.set_registration_failure(reject.then_some((400, REJECTION_BODY)));
    let token = platform.issue_registration_token();
    let configuration_url = platform.openid_configuration_url().replacen(
        platform.base_url(),
        &format!("{}{SECOND_PLATFORM_PREFIX}", lms.lms_url),
        1,
    );
    let mut register_url = match url::Url::parse(&format!("{}/lti/register", lms.tool_url)) {
        Ok(url) => url,
        Err(error) => return bad_request(format!("the tool URL is not a URL: {error}")),
    };
    register_url
        .query_pairs_mut()
        .append_pair("openid_configuration", &configuration_url)
        .append_pair("registration_token", &token);

    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\" data-tool-origin=\"{tool_origin}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Register a tool · Test LMS</title>\n<link rel=\"stylesheet\" href=\"/lms/lms.css\">\n\
         <script src=\"/lms/register-tool.js\" defer></script>\n</head>\n\
         <body>\n<header class=\"lms-header\"><p class=\"lms-course\">Register a tool</p>\
         <p class=\"lms-user\">Issuer {issuer}</p></header>\n\
         <p id=\"registration-status\" class=\"lms-status\" role=\"status\">Registration in progress</p>\n\
         <iframe id=\"tool-frame\" name=\"microcred\" title=\"microcred registration\" class=\"lms-tool\" \
         src=\"{src}\"></iframe>\n</body>\n</html>\n",
        tool_origin = escape(&lms.tool_origin),
        issuer = escape(platform.issuer()),
        src = escape(register_url.as_str()),
    );
    let mut response = Html(page).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The platform side of LTI client-side storage (1EdTech "LTI Client Side
/// postMessages"): `lti.capabilities`, `lti.put_data` and `lti.get_data`.
/// It responds only to messages from the tool's origin, sends responses to
/// that origin only, and keeps values per origin. Every message is logged in
/// `window.ltiStorageLog` for the tests to read.
const STORAGE_JS: &str = r#""use strict";
(function () {
  var toolOrigin = document.documentElement.getAttribute("data-tool-origin");
  var values = new Map();
  var log = [];
  window.ltiStorageLog = log;

  function reply(event, message) {
    event.source.postMessage(message, event.origin);
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || typeof data !== "object" || typeof data.subject !== "string" || data.subject.indexOf("lti.") !== 0) {
      return;
    }
    var entry = { origin: event.origin, subject: data.subject, key: data.key, answered: false };
    log.push(entry);
    if (event.origin !== toolOrigin || !event.source) {
      entry.ignored = "origin " + event.origin + " is not the tool's origin " + toolOrigin;
      return;
    }
    var base = { subject: data.subject + ".response", message_id: data.message_id };
    var storeKey = event.origin + " " + data.key;
    entry.answered = true;
    if (data.subject === "lti.capabilities") {
      base.supported_messages = [
        { subject: "lti.capabilities" },
        { subject: "lti.put_data" },
        { subject: "lti.get_data" }
      ];
      reply(event, base);
    } else if (data.subject === "lti.put_data") {
      if (typeof data.key !== "string" || data.key === "") {
        base.error = { code: "bad_request", message: "put_data needs a key" };
      } else {
        values.set(storeKey, data.value);
        base.key = data.key;
        base.value = data.value;
      }
      reply(event, base);
    } else if (data.subject === "lti.get_data") {
      base.key = data.key;
      if (values.has(storeKey)) {
        base.value = values.get(storeKey);
      } else {
        base.error = { code: "bad_request", message: "no value is stored under the key " + data.key };
      }
      reply(event, base);
    } else {
      base.error = { code: "unsupported_subject", message: "the test LMS does not support " + data.subject };
      reply(event, base);
    }
  });
  window.ltiStorageReady = true;
})();
"#;

/// Starts the launch in the tool frame once the storage frame (if any)
/// listens, so the tool's first storage message cannot arrive too early.
const COURSE_JS: &str = r#""use strict";
(function () {
  var tool = document.getElementById("tool-frame");
  var storage = document.getElementById("lti-storage-frame");
  var started = false;

  function start() {
    if (started) {
      return;
    }
    started = true;
    tool.src = tool.getAttribute("data-launch");
  }

  function storageReady() {
    try {
      return Boolean(storage.contentWindow && storage.contentWindow.ltiStorageReady);
    } catch (error) {
      return false;
    }
  }

  if (!storage || storageReady()) {
    start();
    return;
  }
  storage.addEventListener("load", function () {
    if (storageReady()) {
      start();
    }
  });
})();
"#;

/// Closes the registration frame when the tool's page sends
/// `org.imsglobal.lti.close` (LTI Dynamic Registration 1.0). Only messages
/// from the tool's origin, sent by the registration frame, count. Every
/// close message is logged in `window.ltiCloseLog` for the tests to read.
const REGISTER_TOOL_JS: &str = r#""use strict";
(function () {
  var toolOrigin = document.documentElement.getAttribute("data-tool-origin");
  var frame = document.getElementById("tool-frame");
  var status = document.getElementById("registration-status");
  var log = [];
  window.ltiCloseLog = log;

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || typeof data !== "object" || data.subject !== "org.imsglobal.lti.close") {
      return;
    }
    var entry = { origin: event.origin, subject: data.subject, accepted: false };
    log.push(entry);
    if (event.origin !== toolOrigin || event.source !== frame.contentWindow) {
      entry.ignored = "origin " + event.origin + " is not the registration frame of the tool's origin " + toolOrigin;
      return;
    }
    entry.accepted = true;
    frame.hidden = true;
    status.textContent = "Registration window closed";
  });
})();
"#;

const LMS_CSS: &str = r#"
body { margin: 0; font-family: sans-serif; background: #f3f3f3; }
.lms-header { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0 1rem;
  padding: 0.5rem 1rem; background: #2d3b45; color: #fff; }
.lms-header p { margin: 0; }
.lms-course { font-weight: bold; }
.lms-status { margin: 0; padding: 0.5rem 1rem; }
.lms-tool { display: block; width: 100%; height: 720px; border: 0; background: #fff; }
.lms-tool[hidden] { display: none; }
"#;
