//! The browser's cookie store and redirect handling, against a small server
//! that sets cookies on request and echoes what it receives.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{header, HeaderMap, Method as HttpMethod, StatusCode as HttpStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use microcred_testkit::{Browser, Method, SameSite, StatusCode};
use tokio::task::JoinHandle;

/// Test server: `/set?cookie=...` responds with that `Set-Cookie` header,
/// `/redirect?status=...&to=...` redirects, `/loop` redirects to itself, and
/// every other path echoes the method, the `Cookie` header and the body.
struct EchoServer {
    base_url: String,
    server: JoinHandle<()>,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl EchoServer {
    async fn start() -> EchoServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the echo server to 127.0.0.1 failed");
        let port = listener
            .local_addr()
            .expect("reading the echo server address failed")
            .port();
        let router = Router::new()
            .route("/set", any(set_cookie))
            .route("/app/set", any(set_cookie))
            .route("/redirect", any(redirect))
            .route("/loop", any(redirect_to_self))
            .fallback(echo);
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the echo server failed");
        });
        EchoServer {
            base_url: format!("http://127.0.0.1:{port}"),
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn set_url(&self, cookie: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("cookie", cookie)
            .finish();
        self.url(&format!("/set?{query}"))
    }
}

async fn set_cookie(Query(params): Query<HashMap<String, String>>) -> Response {
    let cookie = params.get("cookie").cloned().unwrap_or_default();
    (HttpStatus::OK, [(header::SET_COOKIE, cookie)], "set").into_response()
}

async fn redirect(Query(params): Query<HashMap<String, String>>) -> Response {
    let status: u16 = params
        .get("status")
        .and_then(|status| status.parse().ok())
        .unwrap_or(302);
    let to = params.get("to").cloned().unwrap_or_else(|| "/".to_owned());
    let status = HttpStatus::from_u16(status).expect("the test passed a valid status");
    (status, [(header::LOCATION, to)]).into_response()
}

async fn redirect_to_self() -> Response {
    (HttpStatus::FOUND, [(header::LOCATION, "/loop")]).into_response()
}

async fn echo(method: HttpMethod, headers: HeaderMap, body: Bytes) -> String {
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    format!(
        "method={method}\ncookie={cookies}\nbody={}",
        String::from_utf8_lossy(&body)
    )
}

fn echoed_cookies(body: &str) -> &str {
    body.lines()
        .find_map(|line| line.strip_prefix("cookie="))
        .expect("the echo response has a cookie line")
}

#[tokio::test]
async fn cookie_path_limits_where_it_is_sent() {
    let server = EchoServer::start().await;
    let browser = Browser::new();

    browser.get(&server.set_url("scoped=1; Path=/app")).await;
    browser.get(&server.set_url("everywhere=2; Path=/")).await;

    let inside = browser.get(&server.url("/app/page")).await;
    let outside = browser.get(&server.url("/application")).await;
    assert_eq!(
        echoed_cookies(&inside.body),
        "scoped=1; everywhere=2",
        "longer paths come first"
    );
    assert_eq!(echoed_cookies(&outside.body), "everywhere=2");
}

#[tokio::test]
async fn cookie_default_path_is_request_directory() {
    let server = EchoServer::start().await;
    let browser = Browser::new();

    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("cookie", "defaulted=1")
        .finish();
    browser.get(&server.url(&format!("/app/set?{query}"))).await;

    let stored = browser
        .cookie("defaulted")
        .expect("the cookie was not stored");
    assert_eq!(stored.path, "/app");
    assert!(stored.host_only);
    assert_eq!(stored.domain, "127.0.0.1");
}

#[tokio::test]
async fn max_age_expires_cookie() {
    let server = EchoServer::start().await;
    let browser = Browser::new();

    browser.get(&server.set_url("short=1; Max-Age=60")).await;
    let before = browser.get(&server.url("/page")).await;
    browser.advance_clock(Duration::from_secs(61));
    let after = browser.get(&server.url("/page")).await;

    assert_eq!(echoed_cookies(&before.body), "short=1");
    assert_eq!(echoed_cookies(&after.body), "");
    assert!(browser.cookie("short").is_none());
}

#[tokio::test]
async fn max_age_zero_and_past_expires_delete() {
    let server = EchoServer::start().await;
    let browser = Browser::new();
    browser.get(&server.set_url("first=1")).await;
    browser.get(&server.set_url("second=2")).await;

    browser.get(&server.set_url("first=gone; Max-Age=0")).await;
    browser
        .get(&server.set_url("second=gone; Expires=Thu, 01 Jan 1970 00:00:01 GMT"))
        .await;

    assert!(browser.cookies().is_empty(), "{:?}", browser.cookies());
}

#[tokio::test]
async fn max_age_wins_over_expires() {
    let server = EchoServer::start().await;
    let browser = Browser::new();

    browser
        .get(&server.set_url("both=1; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:01 GMT"))
        .await;

    assert!(browser.cookie("both").is_some());
}

#[tokio::test]
async fn attributes_are_recorded() {
    let server = EchoServer::start().await;
    let browser = Browser::new();

    browser
        .get(&server.set_url("state=s1; Path=/; SameSite=None; Secure; HttpOnly; Partitioned"))
        .await;

    let cookie = browser
        .cookie("state")
        .expect("a Secure cookie from 127.0.0.1 must be accepted");
    assert!(cookie.secure);
    assert!(cookie.http_only);
    assert_eq!(cookie.same_site, SameSite::None);
    assert_eq!(cookie.partition_key.as_deref(), Some("http://127.0.0.1"));
    assert!(
        cookie.expires.is_none(),
        "no Max-Age or Expires makes a session cookie"
    );
    let sent = browser.get(&server.url("/page")).await;
    assert_eq!(echoed_cookies(&sent.body), "state=s1");
}

#[tokio::test]
async fn invalid_cookies_are_rejected() {
    let server = EchoServer::start().await;
    let browser = Browser::new();
    let cases = [
        (
            "none_without_secure=1; SameSite=None",
            "SameSite=None requires the Secure attribute",
        ),
        (
            "partitioned_without_secure=1; Partitioned",
            "the Partitioned attribute requires the Secure attribute",
        ),
        (
            "__Host-a=1; Secure; Path=/app",
            "a __Host- cookie requires Secure, Path=/ and no Domain attribute",
        ),
        (
            "__Secure-b=1",
            "a __Secure- cookie requires the Secure attribute",
        ),
        (
            "foreign=1; Domain=example.com",
            "the Domain attribute \"example.com\" does not match the host \"127.0.0.1\"",
        ),
    ];

    for (set_cookie, _) in cases {
        browser.get(&server.set_url(set_cookie)).await;
    }

    assert!(browser.cookies().is_empty(), "{:?}", browser.cookies());
    let rejected = browser.rejected_cookies();
    assert_eq!(rejected.len(), cases.len());
    for ((set_cookie, reason), record) in cases.iter().zip(&rejected) {
        assert_eq!(record.set_cookie, *set_cookie);
        assert_eq!(record.reason, *reason, "{set_cookie}");
    }
}

#[tokio::test]
async fn blocked_host_gets_no_cookies() {
    let server = EchoServer::start().await;
    let browser = Browser::new();
    browser.get(&server.set_url("before=1")).await;

    browser.block_cookies_for("127.0.0.1");
    browser.get(&server.set_url("during=2")).await;
    let blocked = browser.get(&server.url("/page")).await;

    assert_eq!(
        echoed_cookies(&blocked.body),
        "",
        "a blocked host must receive no cookies"
    );
    assert!(
        browser.cookie("during").is_none(),
        "a blocked host must not set cookies"
    );
    assert_eq!(blocked.hops[0].cookie_header, None);

    browser.unblock_cookies_for("127.0.0.1");
    let unblocked = browser.get(&server.url("/page")).await;

    assert_eq!(echoed_cookies(&unblocked.body), "before=1");
}

#[tokio::test]
async fn block_by_port_spares_other_ports() {
    let blocked_server = EchoServer::start().await;
    let other_server = EchoServer::start().await;
    let browser = Browser::new();
    browser.get(&other_server.set_url("shared=1")).await;

    browser.block_cookies_for(&blocked_server.base_url);
    let blocked = browser.get(&blocked_server.url("/page")).await;
    let other = browser.get(&other_server.url("/page")).await;

    assert_eq!(echoed_cookies(&blocked.body), "");
    assert_eq!(
        echoed_cookies(&other.body),
        "shared=1",
        "cookies ignore ports, as in browsers"
    );
}

#[tokio::test]
async fn clear_cookies_empties_store() {
    let server = EchoServer::start().await;
    let browser = Browser::new();
    browser.get(&server.set_url("a=1")).await;
    let tab = browser.clone();

    tab.clear_cookies();

    assert!(
        browser.cookies().is_empty(),
        "clones share one cookie store"
    );
    assert!(Browser::new().cookies().is_empty());
}

#[tokio::test]
async fn redirect_codes_change_method_as_browsers_do() {
    let server = EchoServer::start().await;
    let browser = Browser::new();
    let cases = [
        (301, "GET", ""),
        (302, "GET", ""),
        (303, "GET", ""),
        (307, "POST", "field=value"),
        (308, "POST", "field=value"),
    ];

    for (status, method, body) in cases {
        let url = server.url(&format!("/redirect?status={status}&to=/landing"));

        let page = browser.post_form(&url, &[("field", "value")]).await;

        assert_eq!(page.status, StatusCode::OK, "{status}");
        assert_eq!(page.url.path(), "/landing", "{status}");
        assert!(
            page.body.contains(&format!("method={method}\n")),
            "{status}: {}",
            page.body
        );
        assert!(
            page.body.ends_with(&format!("body={body}")),
            "{status}: {}",
            page.body
        );
        assert_eq!(page.hops.len(), 2, "{status}");
        assert_eq!(page.hops[0].method, Method::POST);
        assert_eq!(page.hops[0].status.as_u16(), status);
    }
}

#[tokio::test]
async fn redirect_chain_keeps_every_hop() {
    let server = EchoServer::start().await;
    let browser = Browser::new();
    let inner =
        url::form_urlencoded::byte_serialize(b"/redirect?status=302&to=/end").collect::<String>();

    let page = browser
        .get(&server.url(&format!("/redirect?status=301&to={inner}")))
        .await;

    let paths: Vec<&str> = page.hops.iter().map(|hop| hop.url.path()).collect();
    assert_eq!(paths, ["/redirect", "/redirect", "/end"]);
    assert_eq!(page.url.path(), "/end");
}

#[tokio::test]
async fn no_follow_stops_at_redirect() {
    let server = EchoServer::start().await;
    let browser = Browser::new();

    let page = browser
        .navigate(Method::GET, &server.url("/redirect?status=302&to=/next"))
        .follow_redirects(false)
        .send()
        .await;
    let followed = browser.follow(&page).await;

    assert_eq!(page.status, StatusCode::FOUND);
    assert!(page.is_redirect());
    assert_eq!(
        page.location().map(|url| url.path().to_owned()).as_deref(),
        Some("/next")
    );
    assert_eq!(followed.url.path(), "/next");
    assert_eq!(followed.hops.len(), 2);
}

#[tokio::test]
async fn redirect_loop_fails() {
    let server = EchoServer::start().await;
    let browser = Browser::new();

    let result = browser.try_get(&server.url("/loop")).await;

    let error = result.expect_err("an endless redirect loop must fail");
    assert!(
        error.to_string().contains("more than 20 redirects"),
        "{error:#}"
    );
}

#[tokio::test]
async fn non_loopback_url_is_refused() {
    let browser = Browser::new();

    let result = browser.try_get("http://example.com/").await;

    let error = result.expect_err("the browser must refuse non-loopback hosts");
    assert!(
        error
            .to_string()
            .contains("only contacts loopback addresses"),
        "{error:#}"
    );
}

#[tokio::test]
async fn submit_auto_form_posts_hidden_fields() {
    let server = EchoServer::start().await;
    let browser = Browser::new();
    let platform = microcred_testkit::TestPlatform::start(
        microcred_testkit::PlatformOptions::default().with_redirect_uri(&server.url("/launch")),
    )
    .await;
    let page = browser
        .get(&format!(
            "{}?response_mode=form_post&client_id={}&redirect_uri={}",
            platform.auth_url(),
            platform.client_id(),
            url::form_urlencoded::byte_serialize(server.url("/launch").as_bytes())
                .collect::<String>()
        ))
        .await;

    let result = browser.submit_auto_form(&page).await;

    // The request lacks scope and more, so the platform posts an error back.
    assert!(result.body.contains("method=POST"), "{}", result.body);
    assert!(
        result.body.contains("error=invalid_request"),
        "{}",
        result.body
    );
    assert_eq!(
        result.hops.last().and_then(|hop| hop.form_field("error")),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn lax_cookie_skips_cross_site_post() {
    let tool = EchoServer::start().await;
    let platform = EchoServer::start().await;
    let browser = Browser::new();
    browser.set_ports_as_sites(true);
    browser.get(&tool.set_url("lax=1; SameSite=Lax")).await;
    browser
        .get(&tool.set_url("strict=2; SameSite=Strict"))
        .await;
    browser
        .get(&tool.set_url("none=3; SameSite=None; Secure"))
        .await;
    browser.get(&tool.set_url("unspecified=4")).await;

    let cross_site_post = browser
        .navigate(Method::POST, &tool.url("/launch"))
        .form(&[("id_token", "x")])
        .initiator(&platform.url("/authorize"))
        .send()
        .await;
    let cross_site_get = browser
        .navigate(Method::GET, &tool.url("/page"))
        .initiator(&platform.url("/course"))
        .send()
        .await;
    let same_site_post = browser
        .navigate(Method::POST, &tool.url("/form"))
        .form(&[("a", "b")])
        .initiator(&tool.url("/page"))
        .send()
        .await;

    assert_eq!(echoed_cookies(&cross_site_post.body), "none=3");
    assert_eq!(
        echoed_cookies(&cross_site_get.body),
        "lax=1; none=3; unspecified=4"
    );
    assert_eq!(
        echoed_cookies(&same_site_post.body),
        "lax=1; strict=2; none=3; unspecified=4"
    );
}

#[tokio::test]
async fn chromium_treats_ports_as_one_site() {
    let tool = EchoServer::start().await;
    let platform = EchoServer::start().await;
    let browser = Browser::new();
    browser.get(&tool.set_url("lax=1; SameSite=Lax")).await;

    let post = browser
        .navigate(Method::POST, &tool.url("/launch"))
        .form(&[("id_token", "x")])
        .initiator(&platform.url("/authorize"))
        .send()
        .await;

    assert_eq!(echoed_cookies(&post.body), "lax=1");
}

#[tokio::test]
async fn partitioned_cookie_is_keyed_by_top_level_site() {
    let tool = EchoServer::start().await;
    let lms_a = EchoServer::start().await;
    let lms_b = EchoServer::start().await;
    let browser = Browser::new();
    browser.set_ports_as_sites(true);
    browser.set_block_third_party_cookies(true);

    browser.set_top_level_page(Some(&lms_a.url("/course")));
    browser
        .get(&tool.set_url("chips=1; SameSite=None; Secure; Partitioned; Path=/"))
        .await;
    browser
        .get(&tool.set_url("plain=2; SameSite=None; Secure; Path=/"))
        .await;
    let in_a = browser.get(&tool.url("/page")).await;
    browser.set_top_level_page(Some(&lms_b.url("/course")));
    let in_b = browser.get(&tool.url("/page")).await;

    assert_eq!(echoed_cookies(&in_a.body), "chips=1");
    assert_eq!(
        echoed_cookies(&in_b.body),
        "",
        "a partitioned cookie stays in its top-level site"
    );
    let rejected = browser.rejected_cookies();
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0]
            .reason
            .contains("third-party cookies are blocked"),
        "{:?}",
        rejected[0]
    );
}

#[tokio::test]
async fn add_cookie_plants_cookie() {
    let server = EchoServer::start().await;
    let browser = Browser::new();

    browser.add_cookie(&server.url("/"), "planted=1; Path=/");
    let page = browser.get(&server.url("/page")).await;

    assert_eq!(echoed_cookies(&page.body), "planted=1");
    assert_eq!(
        browser.cookie_header_for(&server.url("/x")).as_deref(),
        Some("planted=1")
    );
    assert!(page.hops[0].sent_cookie("planted"));
}
