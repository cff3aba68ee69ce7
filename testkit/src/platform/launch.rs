//! Platform-initiated launches: the platform's launch link, the third-party
//! login initiation, the authorization request and the form_post to the tool.

use anyhow::Context;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use reqwest::Method;
use url::Url;

use super::{lock, LaunchTemplate, NonceChoice, TestPlatform, COURSE_PATH, LAUNCH_START_PATH};
use crate::browser::{Browser, Hop, Page};
use crate::claims::LaunchClaims;
use crate::html;
use crate::jwt::SigningChoice;

/// HTTP method of the login initiation request the platform makes the
/// browser send. The Security Framework allows both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoginMethod {
    /// A 302 redirect with the parameters in the query.
    #[default]
    Get,
    /// An auto-submitting form that posts the parameters.
    Post,
}

/// The hop after which [`TestPlatform::launch`] stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum LaunchStage {
    /// Stop at the tool's response to login initiation (normally a 302 to the
    /// authorization endpoint, with the state cookie set).
    LoginInitiation,
    /// Stop at the platform's authorization response (normally the
    /// auto-submitting form with `id_token` and `state`, read it with
    /// `Page::form`).
    Authorization,
    /// Stop at the tool's response to the form_post (normally a 303).
    ToolLaunch,
    /// Follow the tool's redirects to the page the user lands on.
    #[default]
    Complete,
}

/// Everything about one launch: the id_token template, the login initiation
/// parameters and where to stop.
#[derive(Clone, Debug)]
pub struct LaunchSpec {
    pub claims: LaunchClaims,
    pub signing: SigningChoice,
    pub nonce: NonceChoice,
    /// The `login_hint`; `None` means the claim set's `sub`.
    pub login_hint: Option<String>,
    /// The `lti_message_hint`; [`LaunchSpec::new`] sets a fresh random one.
    pub lti_message_hint: Option<String>,
    pub login_method: LoginMethod,
    /// Changes to the login initiation parameters, applied in order: `Some`
    /// sets a parameter (replacing it), `None` removes it.
    pub login_param_overrides: Vec<(String, Option<String>)>,
    pub stop_after: LaunchStage,
}

impl LaunchSpec {
    pub fn new(claims: LaunchClaims) -> LaunchSpec {
        LaunchSpec {
            claims,
            signing: SigningChoice::CurrentKey,
            nonce: NonceChoice::FromRequest,
            login_hint: None,
            lti_message_hint: Some(format!("testkit-message-{}", uuid::Uuid::new_v4())),
            login_method: LoginMethod::Get,
            login_param_overrides: Vec::new(),
            stop_after: LaunchStage::Complete,
        }
    }

    pub fn signing(mut self, signing: SigningChoice) -> LaunchSpec {
        self.signing = signing;
        self
    }

    pub fn nonce(mut self, nonce: NonceChoice) -> LaunchSpec {
        self.nonce = nonce;
        self
    }

    pub fn login_hint(mut self, login_hint: &str) -> LaunchSpec {
        self.login_hint = Some(login_hint.to_owned());
        self
    }

    /// Sets the `lti_message_hint`, or sends none with `None` (the template
    /// is then found by `login_hint`).
    pub fn lti_message_hint(mut self, hint: Option<&str>) -> LaunchSpec {
        self.lti_message_hint = hint.map(str::to_owned);
        self
    }

    pub fn login_method(mut self, method: LoginMethod) -> LaunchSpec {
        self.login_method = method;
        self
    }

    /// Sets a login initiation parameter, replacing the platform's value.
    pub fn login_param(mut self, name: &str, value: &str) -> LaunchSpec {
        self.login_param_overrides
            .push((name.to_owned(), Some(value.to_owned())));
        self
    }

    /// Leaves a login initiation parameter out.
    pub fn without_login_param(mut self, name: &str) -> LaunchSpec {
        self.login_param_overrides.push((name.to_owned(), None));
        self
    }

    pub fn stop_after(mut self, stage: LaunchStage) -> LaunchSpec {
        self.stop_after = stage;
        self
    }

    fn effective_login_hint(&self) -> String {
        self.login_hint
            .clone()
            .or_else(|| self.claims.sub().map(str::to_owned))
            .unwrap_or_else(|| "testkit-login-hint".to_owned())
    }
}

/// A launch the platform is ready to start.
#[derive(Clone, Debug)]
pub struct PreparedLaunch {
    /// The platform's launch link. A browser that GETs it is sent on to the
    /// tool's login initiation.
    pub start_url: String,
    pub login_method: LoginMethod,
    /// The login initiation parameters, after the spec's overrides.
    pub login_params: Vec<(String, String)>,
    pub login_hint: String,
    pub lti_message_hint: Option<String>,
}

/// Target and parameters of one launch link, stored under its id.
#[derive(Clone, Debug)]
pub(super) struct LoginStart {
    method: LoginMethod,
    login_url: Url,
    params: Vec<(String, String)>,
}

impl IntoResponse for LoginStart {
    fn into_response(self) -> Response {
        match self.method {
            LoginMethod::Get => {
                let mut location = self.login_url;
                location.query_pairs_mut().extend_pairs(self.params.iter());
                match HeaderValue::from_str(location.as_str()) {
                    Ok(location) => {
                        (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
                    }
                    Err(_) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the login URL is not a valid header value",
                    )
                        .into_response(),
                }
            }
            LoginMethod::Post => {
                let page = html::auto_submit_form(
                    "Starting the launch",
                    self.login_url.as_str(),
                    &self.params,
                );
                Html(page).into_response()
            }
        }
    }
}

impl TestPlatform {
    /// Registers the id_token template of `spec` and a launch link that sends
    /// the browser to `tool_login_url` with the login initiation parameters:
    /// `iss`, `login_hint`, `target_link_uri`, `lti_message_hint`,
    /// `client_id` and `lti_deployment_id`.
    ///
    /// `target_link_uri` and `lti_deployment_id` come from the claim set, so
    /// a test that changes those claims changes the login initiation too.
    ///
    /// # Panics
    /// If `tool_login_url` is not a valid URL.
    pub fn prepare_launch(&self, tool_login_url: &str, spec: &LaunchSpec) -> PreparedLaunch {
        let login_url = Url::parse(tool_login_url)
            .unwrap_or_else(|error| panic!("invalid tool login URL {tool_login_url:?}: {error}"));
        let login_hint = spec.effective_login_hint();

        self.register_launch(LaunchTemplate {
            login_hint: login_hint.clone(),
            lti_message_hint: spec.lti_message_hint.clone(),
            claims: spec.claims.clone(),
            signing: spec.signing.clone(),
            nonce: spec.nonce.clone(),
        });

        let mut params = vec![
            ("iss".to_owned(), self.issuer().to_owned()),
            ("login_hint".to_owned(), login_hint.clone()),
        ];
        if let Some(target) = spec.claims.target_link_uri() {
            params.push(("target_link_uri".to_owned(), target.to_owned()));
        }
        if let Some(hint) = &spec.lti_message_hint {
            params.push(("lti_message_hint".to_owned(), hint.clone()));
        }
        params.push(("client_id".to_owned(), self.client_id().to_owned()));
        let deployment_id = spec.claims.deployment_id().unwrap_or(self.deployment_id());
        params.push(("lti_deployment_id".to_owned(), deployment_id.to_owned()));
        for (name, value) in &spec.login_param_overrides {
            apply_override(&mut params, name, value.as_deref());
        }

        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.state).login_starts.insert(
            id.clone(),
            LoginStart {
                method: spec.login_method,
                login_url,
                params: params.clone(),
            },
        );

        PreparedLaunch {
            start_url: self.url(&format!("{LAUNCH_START_PATH}/{id}")),
            login_method: spec.login_method,
            login_params: params,
            login_hint,
            lti_message_hint: spec.lti_message_hint.clone(),
        }
    }

    /// Runs a launch in `browser` the way a user's browser does, and returns
    /// the page it stopped on, whose `hops` list every request:
    ///
    /// 1. GET the platform's launch link (clicked on the course page);
    /// 2. the tool's login initiation at `tool_login_url` (a redirect, or a
    ///    form post with [`LoginMethod::Post`]);
    /// 3. the tool's redirect to the authorization endpoint;
    /// 4. the form_post of `id_token` and `state` to the redirect URI;
    /// 5. the tool's redirects to its page.
    ///
    /// It stops after [`LaunchSpec::stop_after`], or earlier when a response
    /// is not what the next hop needs (a tool error page, say). The returned
    /// page is then that response.
    ///
    /// # Panics
    /// If a request cannot be sent at all (server down, non-loopback URL).
    /// See [`TestPlatform::try_launch`].
    pub async fn launch(&self, browser: &Browser, tool_login_url: &str, spec: LaunchSpec) -> Page {
        self.try_launch(browser, tool_login_url, spec)
            .await
            .unwrap_or_else(|error| {
                panic!("the LTI launch through the test platform failed: {error:#}")
            })
    }

    pub async fn try_launch(
        &self,
        browser: &Browser,
        tool_login_url: &str,
        spec: LaunchSpec,
    ) -> anyhow::Result<Page> {
        let stop_after = spec.stop_after;
        let prepared = self.prepare_launch(tool_login_url, &spec);
        let course_page = self.url(COURSE_PATH);

        let launch_link = browser
            .navigate(Method::GET, &prepared.start_url)
            .initiator(&course_page)
            .follow_redirects(false)
            .try_send()
            .await
            .context("opening the platform's launch link failed")?;

        let login = if launch_link.is_redirect() {
            browser.try_follow(&launch_link, false).await
        } else {
            let form = launch_link
                .form()
                .context("the platform's launch link returned neither a redirect nor a form")?;
            submit_without_following(browser, &launch_link, &form).await
        }
        .context("sending the login initiation to the tool failed")?;
        if stop_after == LaunchStage::LoginInitiation || !login.is_redirect() {
            return Ok(login);
        }

        let authorization = browser
            .try_follow(&login, false)
            .await
            .context("following the tool's redirect to the authorization endpoint failed")?;
        if stop_after == LaunchStage::Authorization {
            return Ok(authorization);
        }
        if authorization.is_redirect() {
            // An error sent back to the tool as a redirect (AuthErrorMode::Redirect).
            return browser
                .try_follow(&authorization, true)
                .await
                .context("following the platform's error redirect to the tool failed");
        }
        let Some(form) = authorization.form() else {
            return Ok(authorization);
        };

        let tool_launch = submit_without_following(browser, &authorization, &form)
            .await
            .context("posting the id_token to the tool failed")?;
        if stop_after == LaunchStage::ToolLaunch {
            return Ok(tool_launch);
        }

        browser
            .try_follow(&tool_launch, true)
            .await
            .context("following the tool's redirects after the launch failed")
    }
}

/// Submits `form` from `page` without following redirects, keeping the
/// hops of `page` in front of the new one.
async fn submit_without_following(
    browser: &Browser,
    page: &Page,
    form: &crate::browser::HtmlForm,
) -> anyhow::Result<Page> {
    let mut submitted = browser
        .form_request(form)
        .follow_redirects(false)
        .try_send()
        .await?;
    let mut hops: Vec<Hop> = page.hops.clone();
    hops.append(&mut submitted.hops);
    submitted.hops = hops;
    Ok(submitted)
}

fn apply_override(params: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    match value {
        Some(value) => match params.iter_mut().find(|(key, _)| key == name) {
            Some(param) => param.1 = value.to_owned(),
            None => params.push((name.to_owned(), value.to_owned())),
        },
        None => params.retain(|(key, _)| key != name),
    }
}
