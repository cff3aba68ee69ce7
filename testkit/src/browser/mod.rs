//! A browser-like HTTP client: redirects followed by hand and recorded hop by
//! hop, a Chromium-like cookie store, and HTML form submission.
//!
//! The browser only sends requests to loopback addresses (127.0.0.0/8, ::1,
//! `localhost`). A request or redirect to any other host fails.

mod cookies;
mod form;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use url::Url;

pub use cookies::{RejectedCookie, SameSite, StoredCookie};
pub use form::HtmlForm;

pub(crate) use cookies::is_loopback;
use cookies::{CookieContext, CookieJar};

/// Browsers give up after 20 redirects (the Fetch standard's limit).
const MAX_REDIRECTS: usize = 20;

const USER_AGENT: &str = concat!(
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ",
    "Chrome/131.0.0.0 Safari/537.36 microcred-testkit/",
    env!("CARGO_PKG_VERSION")
);

/// Per-request timeout, so a hung server fails the test instead of hanging it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A browser with its own cookie store. Clones share the store and settings,
/// like tabs of one browser; [`Browser::new`] starts a new browser with no
/// cookies.
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    state: Arc<Mutex<BrowserState>>,
}

#[derive(Default)]
struct BrowserState {
    jar: CookieJar,
    /// Top-level page URL when pages load in an iframe, as an LTI tool does.
    top_level: Option<Url>,
    ports_as_sites: bool,
    block_third_party_cookies: bool,
}

/// One request and its response.
#[derive(Clone, Debug)]
pub struct Hop {
    pub method: Method,
    pub url: Url,
    /// Form fields sent as an `application/x-www-form-urlencoded` body.
    pub form: Option<Vec<(String, String)>>,
    /// The `Cookie` header sent with the request, if any.
    pub cookie_header: Option<String>,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Hop {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Returns the value of the form field `name` sent with this request.
    pub fn form_field(&self, name: &str) -> Option<&str> {
        self.form
            .as_ref()?
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// Tells whether the request carried a cookie called `name`.
    pub fn sent_cookie(&self, name: &str) -> bool {
        self.cookie_header.as_deref().is_some_and(|header| {
            header
                .split("; ")
                .any(|pair| pair.split('=').next() == Some(name))
        })
    }

    /// Returns the `Set-Cookie` header values of the response.
    pub fn set_cookies(&self) -> Vec<&str> {
        header_values(&self.headers, "set-cookie")
    }
}

/// The response a navigation ended on, with every hop on the way.
#[derive(Clone, Debug)]
pub struct Page {
    pub url: Url,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// Every request made, in order. The last hop is this page's own request.
    pub hops: Vec<Hop>,
    /// The request a browser makes next when this page is a redirect.
    continuation: Option<Navigation>,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Returns the `Set-Cookie` header values of this response.
    pub fn set_cookies(&self) -> Vec<&str> {
        header_values(&self.headers, "set-cookie")
    }

    /// Returns the `Location` header resolved against the page URL.
    pub fn location(&self) -> Option<Url> {
        let location = self.header("location")?;
        self.url.join(location).ok()
    }

    /// Returns a query parameter of the `Location` URL, such as `state` in
    /// the tool's redirect to the authorization endpoint.
    pub fn location_param(&self, name: &str) -> Option<String> {
        let location = self.location()?;
        location
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// Tells whether the status is a redirect that has a `Location` header.
    pub fn is_redirect(&self) -> bool {
        self.continuation.is_some()
    }

    /// Returns every form in the body, in document order.
    pub fn forms(&self) -> Vec<HtmlForm> {
        form::parse_forms(&self.body, &self.url)
    }

    /// Returns the first form in the body.
    pub fn form(&self) -> Option<HtmlForm> {
        self.forms().into_iter().next()
    }

    /// Returns the first hop whose URL path is `path`.
    pub fn hop_to(&self, path: &str) -> Option<&Hop> {
        self.hops.iter().find(|hop| hop.url.path() == path)
    }

    /// Describes the page for assertion messages: status, URL and the start
    /// of the body.
    pub fn summary(&self) -> String {
        let excerpt: String = self.body.chars().take(400).collect();
        format!("{} {} {}", self.status, self.url, excerpt)
    }
}

/// One navigation request, before cookies are attached.
#[derive(Clone, Debug)]
struct Navigation {
    method: Method,
    url: Url,
    form: Option<Vec<(String, String)>>,
    /// The page that started the navigation. `None` means the user typed the
    /// URL, which browsers treat as same-site.
    initiator: Option<Url>,
    /// URLs already visited in this redirect chain.
    redirect_chain: Vec<Url>,
    /// Extra headers, for the first request only.
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Builder for a request with full control over initiator, headers and
/// redirect following. Start one with [`Browser::navigate`] or
/// [`Browser::form_request`].
pub struct NavigationBuilder<'a> {
    browser: &'a Browser,
    navigation: anyhow::Result<Navigation>,
    follow_redirects: bool,
}

impl NavigationBuilder<'_> {
    /// Sends `fields` as an `application/x-www-form-urlencoded` body.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        let fields = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        if let Ok(navigation) = &mut self.navigation {
            navigation.form = Some(fields);
        }
        self
    }

    /// Sets the page that started the navigation, which decides SameSite
    /// handling, `Origin` and `Sec-Fetch-Site`.
    pub fn initiator(mut self, page_url: &str) -> Self {
        let parsed =
            Url::parse(page_url).with_context(|| format!("invalid initiator URL {page_url:?}"));
        self.navigation = self.navigation.and_then(|mut navigation| {
            navigation.initiator = Some(parsed?);
            Ok(navigation)
        });
        self
    }

    /// Adds a header to the first request (not to redirected ones).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let header = HeaderName::try_from(name)
            .with_context(|| format!("invalid header name {name:?}"))
            .and_then(|name| {
                let value = HeaderValue::try_from(value)
                    .with_context(|| format!("invalid value for header {name}"))?;
                Ok((name, value))
            });
        self.navigation = self.navigation.and_then(|mut navigation| {
            navigation.headers.push(header?);
            Ok(navigation)
        });
        self
    }

    /// Follows redirects (the default) or stops at the first response.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// Sends the request.
    ///
    /// # Panics
    /// If the request cannot be sent (bad URL, non-loopback host, server not
    /// reachable, too many redirects). Use [`NavigationBuilder::try_send`] to
    /// handle that.
    pub async fn send(self) -> Page {
        let description = self.describe();
        self.try_send()
            .await
            .unwrap_or_else(|error| panic!("browser request {description} failed: {error:#}"))
    }

    pub async fn try_send(self) -> anyhow::Result<Page> {
        let navigation = self.navigation?;
        self.browser
            .run(navigation, self.follow_redirects, Vec::new())
            .await
    }

    fn describe(&self) -> String {
        match &self.navigation {
            Ok(navigation) => format!("{} {}", navigation.method, navigation.url),
            Err(error) => format!("(not built: {error})"),
        }
    }
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    /// Starts a browser with an empty cookie store, as a top-level window,
    /// with Chromium's notion of a site (scheme and host, so every port of
    /// 127.0.0.1 is one site).
    pub fn new() -> Browser {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("building the browser's HTTP client failed");
        Browser {
            client,
            state: Arc::new(Mutex::new(BrowserState::default())),
        }
    }

    /// GETs `url` as if typed in the address bar and follows redirects.
    ///
    /// # Panics
    /// If a request cannot be sent. See [`Browser::try_get`].
    pub async fn get(&self, url: &str) -> Page {
        self.navigate(Method::GET, url).send().await
    }

    pub async fn try_get(&self, url: &str) -> anyhow::Result<Page> {
        self.navigate(Method::GET, url).try_send().await
    }

    /// POSTs `fields` as a form to `url` with no initiator page and follows
    /// redirects.
    ///
    /// # Panics
    /// If a request cannot be sent. See [`Browser::try_post_form`].
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Page {
        self.navigate(Method::POST, url).form(fields).send().await
    }

    pub async fn try_post_form(&self, url: &str, fields: &[(&str, &str)]) -> anyhow::Result<Page> {
        self.navigate(Method::POST, url)
            .form(fields)
            .try_send()
            .await
    }

    /// Starts a request with full control; see [`NavigationBuilder`].
    pub fn navigate(&self, method: Method, url: &str) -> NavigationBuilder<'_> {
        let navigation = Url::parse(url)
            .with_context(|| format!("invalid URL {url:?}"))
            .map(|url| Navigation {
                method,
                url,
                form: None,
                initiator: None,
                redirect_chain: Vec::new(),
                headers: Vec::new(),
            });
        NavigationBuilder {
            browser: self,
            navigation,
            follow_redirects: true,
        }
    }

    /// Starts the submission of `form` from its page, without sending it yet.
    pub fn form_request(&self, form: &HtmlForm) -> NavigationBuilder<'_> {
        let navigation = if form.method == Method::POST {
            Navigation {
                method: Method::POST,
                url: form.action.clone(),
                form: Some(form.fields.clone()),
                initiator: Some(form.page_url.clone()),
                redirect_chain: Vec::new(),
                headers: Vec::new(),
            }
        } else {
            let mut url = form.action.clone();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(form.fields.iter());
            Navigation {
                method: Method::GET,
                url,
                form: None,
                initiator: Some(form.page_url.clone()),
                redirect_chain: Vec::new(),
                headers: Vec::new(),
            }
        };
        NavigationBuilder {
            browser: self,
            navigation: Ok(navigation),
            follow_redirects: true,
        }
    }

    /// Submits `form` from its page and follows redirects.
    ///
    /// # Panics
    /// If a request cannot be sent.
    pub async fn submit_form(&self, form: &HtmlForm) -> Page {
        self.form_request(form).send().await
    }

    /// Submits the first form of `page`, as its `onload` script would, and
    /// follows redirects.
    ///
    /// # Panics
    /// If `page` has no form or a request cannot be sent.
    pub async fn submit_auto_form(&self, page: &Page) -> Page {
        let form = page
            .form()
            .unwrap_or_else(|| panic!("the page has no form to submit: {}", page.summary()));
        self.submit_form(&form).await
    }

    /// Follows the redirects that remain from `page`. The result's hops
    /// continue `page`'s hops. A page that is no redirect comes back as is.
    ///
    /// # Panics
    /// If a request cannot be sent.
    pub async fn follow(&self, page: &Page) -> Page {
        self.try_follow(page, true).await.unwrap_or_else(|error| {
            panic!("following the redirect from {} failed: {error:#}", page.url)
        })
    }

    /// Follows one redirect from `page`, like [`Browser::follow`] but stopping
    /// at the next response.
    pub async fn follow_once(&self, page: &Page) -> Page {
        self.try_follow(page, false).await.unwrap_or_else(|error| {
            panic!("following the redirect from {} failed: {error:#}", page.url)
        })
    }

    pub async fn try_follow(&self, page: &Page, all_redirects: bool) -> anyhow::Result<Page> {
        match &page.continuation {
            Some(next) => {
                self.run(next.clone(), all_redirects, page.hops.clone())
                    .await
            }
            None => Ok(page.clone()),
        }
    }

    /// Drops every cookie, as a new browser profile would have none.
    pub fn clear_cookies(&self) {
        self.lock().jar.clear();
    }

    /// Blocks cookies for a host (`"127.0.0.1"`), a host and port
    /// (`"127.0.0.1:8080"`) or the host and port of a URL: responses from it
    /// set none and requests to it carry none, as in a browser that blocks
    /// that site's cookies.
    pub fn block_cookies_for(&self, target: &str) {
        self.lock().jar.block(target);
    }

    /// Lifts a block made with the same `target` string form.
    pub fn unblock_cookies_for(&self, target: &str) {
        self.lock().jar.unblock(target);
    }

    /// Loads later pages inside an iframe of the page at `top_level_url`
    /// (an LMS course page), or as top-level pages again with `None`. In an
    /// iframe, SameSite=Lax and Strict cookies of another site are not sent,
    /// and partitioned cookies are keyed by the top-level site.
    ///
    /// # Panics
    /// If `top_level_url` is not a valid URL.
    pub fn set_top_level_page(&self, top_level_url: Option<&str>) {
        let parsed = top_level_url.map(|url| {
            Url::parse(url).unwrap_or_else(|error| panic!("invalid top-level URL {url:?}: {error}"))
        });
        self.lock().top_level = parsed;
    }

    /// In an iframe of another site, blocks unpartitioned cookies (both
    /// directions), as browsers that block third-party cookies do.
    pub fn set_block_third_party_cookies(&self, block: bool) {
        self.lock().block_third_party_cookies = block;
    }

    /// Treats every host and port pair as its own site. Chromium ignores
    /// ports, so all of 127.0.0.1 is one site. In production the LMS and the
    /// tool are different sites, and this setting makes SameSite rules apply
    /// between test servers on different ports as they would there.
    pub fn set_ports_as_sites(&self, ports_as_sites: bool) {
        self.lock().ports_as_sites = ports_as_sites;
    }

    /// Moves the browser's cookie clock forward, so Max-Age and Expires can be
    /// tested without sleeping.
    pub fn advance_clock(&self, by: Duration) {
        self.lock().jar.advance_clock(by);
    }

    /// Returns the stored cookies that have not expired.
    pub fn cookies(&self) -> Vec<StoredCookie> {
        self.lock().jar.live_cookies()
    }

    /// Returns the first unexpired stored cookie called `name`.
    pub fn cookie(&self, name: &str) -> Option<StoredCookie> {
        self.cookies()
            .into_iter()
            .find(|cookie| cookie.name == name)
    }

    /// Returns every `Set-Cookie` header this browser ignored, with the reason.
    pub fn rejected_cookies(&self) -> Vec<RejectedCookie> {
        self.lock().jar.rejected().to_vec()
    }

    /// Stores a cookie as if `url` had sent `set_cookie` in a top-level
    /// response, for tests that plant a cookie.
    ///
    /// # Panics
    /// If `url` is invalid.
    pub fn add_cookie(&self, url: &str, set_cookie: &str) {
        let url =
            Url::parse(url).unwrap_or_else(|error| panic!("invalid cookie URL {url:?}: {error}"));
        let navigation = Navigation {
            method: Method::GET,
            url: url.clone(),
            form: None,
            initiator: None,
            redirect_chain: Vec::new(),
            headers: Vec::new(),
        };
        let mut state = self.lock();
        let context = state.cookie_context(&navigation);
        state.jar.store(set_cookie, &context);
    }

    /// Returns the `Cookie` header a typed-in GET of `url` would carry.
    ///
    /// # Panics
    /// If `url` is invalid.
    pub fn cookie_header_for(&self, url: &str) -> Option<String> {
        let url = Url::parse(url).unwrap_or_else(|error| panic!("invalid URL {url:?}: {error}"));
        let navigation = Navigation {
            method: Method::GET,
            url,
            form: None,
            initiator: None,
            redirect_chain: Vec::new(),
            headers: Vec::new(),
        };
        let state = self.lock();
        let context = state.cookie_context(&navigation);
        state.jar.header_for(&context)
    }

    fn lock(&self) -> MutexGuard<'_, BrowserState> {
        self.state
            .lock()
            .expect("the browser state lock was poisoned by a panic in another test thread")
    }

    /// Sends `first` and, when `follow` is set, the redirects after it,
    /// appending each hop to `hops`.
    async fn run(
        &self,
        first: Navigation,
        follow: bool,
        mut hops: Vec<Hop>,
    ) -> anyhow::Result<Page> {
        let mut navigation = first;
        for _ in 0..=MAX_REDIRECTS {
            let (hop, continuation) = self.send_one(&navigation).await?;
            hops.push(hop.clone());
            match continuation {
                Some(next) if follow => navigation = next,
                _ => {
                    return Ok(Page {
                        url: hop.url,
                        status: hop.status,
                        headers: hop.headers,
                        body: hop.body,
                        hops,
                        continuation,
                    })
                }
            }
        }
        bail!(
            "more than {MAX_REDIRECTS} redirects, the last to {}",
            navigation.url
        )
    }

    async fn send_one(&self, navigation: &Navigation) -> anyhow::Result<(Hop, Option<Navigation>)> {
        let url = &navigation.url;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("unsupported URL scheme in {url}: the test browser speaks http and https only");
        }
        if !is_loopback(url) {
            bail!(
                "rejected the request to {url}: the test browser only contacts loopback addresses"
            );
        }

        let (cookie_header, fetch_headers) = {
            let state = self.lock();
            let context = state.cookie_context(navigation);
            (
                state.jar.header_for(&context),
                state.fetch_metadata(navigation),
            )
        };

        let mut request = self
            .client
            .request(navigation.method.clone(), url.clone())
            .header("user-agent", USER_AGENT)
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .header("accept-language", "en-US,en;q=0.9");
        for (name, value) in fetch_headers {
            request = request.header(name, value);
        }
        if let Some(cookies) = &cookie_header {
            request = request.header("cookie", cookies);
        }
        if let Some(fields) = &navigation.form {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields.iter())
                .finish();
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        for (name, value) in &navigation.headers {
            request = request.header(name, value);
        }

        let response = request.send().await.with_context(|| {
            format!(
                "{} {url} failed (is the server running?)",
                navigation.method
            )
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.with_context(|| {
            format!(
                "reading the response body of {} {url} failed",
                navigation.method
            )
        })?;
        let body = String::from_utf8_lossy(&body).into_owned();

        {
            let mut state = self.lock();
            let context = state.cookie_context(navigation);
            for set_cookie in header_values(&headers, "set-cookie") {
                state.jar.store(set_cookie, &context);
            }
        }

        let continuation = redirect_target(navigation, status, &headers);
        let hop = Hop {
            method: navigation.method.clone(),
            url: url.clone(),
            form: navigation.form.clone(),
            cookie_header,
            status,
            headers,
            body,
        };
        Ok((hop, continuation))
    }
}

impl BrowserState {
    /// Site of a URL: scheme and host, plus the port when ports count as sites.
    fn site(&self, url: &Url) -> String {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if self.ports_as_sites {
            let port = url.port_or_known_default().unwrap_or_default();
            format!("{}://{host}:{port}", url.scheme())
        } else {
            format!("{}://{host}", url.scheme())
        }
    }

    fn cookie_context<'a>(&self, navigation: &'a Navigation) -> CookieContext<'a> {
        let url = &navigation.url;
        let target_site = self.site(url);
        let same_site_with_initiator = match &navigation.initiator {
            None => true,
            Some(initiator) => {
                let initiator_site = self.site(initiator);
                initiator_site == target_site
                    && navigation
                        .redirect_chain
                        .iter()
                        .all(|visited| self.site(visited) == initiator_site)
            }
        };
        let top_level_site = self.top_level.as_ref().map(|top| self.site(top));
        let same_site_with_top = top_level_site
            .as_ref()
            .is_none_or(|top| *top == target_site);

        CookieContext {
            url,
            same_site: same_site_with_initiator && same_site_with_top,
            top_level_navigation: self.top_level.is_none(),
            safe_method: matches!(navigation.method, Method::GET | Method::HEAD),
            partition_key: top_level_site.unwrap_or(target_site),
            third_party: !same_site_with_top,
            block_third_party: self.block_third_party_cookies,
        }
    }

    /// Builds the `Sec-Fetch-*` and `Origin` headers Chromium sends on a
    /// navigation.
    fn fetch_metadata(&self, navigation: &Navigation) -> Vec<(&'static str, String)> {
        let url = &navigation.url;
        let fetch_site = match &navigation.initiator {
            None => "none",
            Some(initiator) => {
                let every_url = navigation.redirect_chain.iter().chain(std::iter::once(url));
                let mut relation = "same-origin";
                for visited in every_url {
                    if visited.origin() != initiator.origin() {
                        let same_site =
                            site_ignoring_ports(visited) == site_ignoring_ports(initiator);
                        relation = if same_site && relation != "cross-site" {
                            "same-site"
                        } else {
                            "cross-site"
                        };
                    }
                }
                relation
            }
        };
        let destination = if self.top_level.is_some() {
            "iframe"
        } else {
            "document"
        };
        let mut headers = vec![
            ("sec-fetch-site", fetch_site.to_owned()),
            ("sec-fetch-mode", "navigate".to_owned()),
            ("sec-fetch-dest", destination.to_owned()),
        ];

        let unsafe_method = !matches!(navigation.method, Method::GET | Method::HEAD);
        if let (true, Some(initiator)) = (unsafe_method, &navigation.initiator) {
            // The Fetch standard sends "null" once a redirect has crossed origins.
            let tainted = navigation
                .redirect_chain
                .iter()
                .any(|visited| visited.origin() != initiator.origin());
            let origin = if tainted {
                "null".to_owned()
            } else {
                initiator.origin().ascii_serialization()
            };
            headers.push(("origin", origin));
        }
        headers
    }
}

/// Sec-Fetch-Site follows the real browser, which ignores ports for sites.
fn site_ignoring_ports(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default())
}

/// Computes the request a browser makes after a redirect response: 301 and
/// 302 turn POST into GET (as browsers do), 303 turns everything but HEAD into
/// GET, and 307 and 308 repeat the method and body.
fn redirect_target(
    navigation: &Navigation,
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<Navigation> {
    let code = status.as_u16();
    if !matches!(code, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = headers.get("location")?.to_str().ok()?;
    let target = navigation.url.join(location).ok()?;

    let (method, form) = match code {
        301 | 302 if navigation.method == Method::POST => (Method::GET, None),
        303 if navigation.method != Method::HEAD => (Method::GET, None),
        303 => (Method::HEAD, None),
        _ => (navigation.method.clone(), navigation.form.clone()),
    };
    let mut redirect_chain = navigation.redirect_chain.clone();
    redirect_chain.push(navigation.url.clone());
    Some(Navigation {
        method,
        url: target,
        form,
        initiator: navigation.initiator.clone(),
        redirect_chain,
        headers: Vec::new(),
    })
}

fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect()
}
