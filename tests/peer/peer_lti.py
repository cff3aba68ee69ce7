"""Adapters that plug the lti1p3platform package into the peer platform's HTTP server.

The package leaves the web framework, the storage and the HTML to its user. This
module fills those gaps with plain dictionaries and the standard library, and adds
the OpenID Connect checks that the package's launch validation does not make.
"""

from __future__ import annotations

import html
import ipaddress
import json
import time
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from lti1p3platform.exceptions import LtiException, PreflightRequestValidationException
from lti1p3platform.ltiplatform import JWKS, LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest

LIS_VOCABULARY = "http://purl.imsglobal.org/vocab/lis/v2/"

# Short role names accepted by GET /launch, mapped to the LIS role URIs of LTI 1.3.
ROLE_URIS: t.Dict[str, t.List[str]] = {
    "Learner": [LIS_VOCABULARY + "membership#Learner"],
    "Instructor": [LIS_VOCABULARY + "membership#Instructor"],
    "Administrator": [
        LIS_VOCABULARY + "institution/person#Administrator",
        LIS_VOCABULARY + "system/person#Administrator",
    ],
}

COURSE_OFFERING_TYPE = LIS_VOCABULARY + "course#CourseOffering"

CLAIM_PREFIX = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE_CLAIM = CLAIM_PREFIX + "message_type"
FOR_USER_CLAIM = CLAIM_PREFIX + "for_user"
TOOL_PLATFORM_CLAIM = CLAIM_PREFIX + "tool_platform"

# Values of the `message` query parameter of GET /launch, mapped to LTI message types.
MESSAGE_TYPES = {
    "resource": "LtiResourceLinkRequest",
    "deeplink": "LtiDeepLinkingRequest",
    "review": "LtiSubmissionReviewRequest",
}

TOOL_JWKS_TIMEOUT_SECONDS = 5
MAX_TOOL_JWKS_BYTES = 1024 * 1024


@dataclass(frozen=True)
class PlatformSettings:
    """Registration of the one tool this platform serves, and the platform's own URLs."""

    issuer: str
    client_id: str
    deployment_id: str
    base_url: str
    tool_login_url: str
    tool_launch_url: str
    tool_deep_link_url: str
    tool_jwks_url: str
    private_key_pem: str
    public_key_pem: str

    @property
    def auth_url(self) -> str:
        return self.base_url + "/authorize"

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def jwks_url(self) -> str:
        return self.base_url + "/jwks"

    @property
    def deep_link_return_url(self) -> str:
        return self.base_url + "/deep_links/return"

    @property
    def launch_return_url(self) -> str:
        return self.base_url + "/return"

    @property
    def redirect_uris(self) -> t.FrozenSet[str]:
        """Redirect URIs the tool registered, which /authorize accepts."""
        return frozenset({self.tool_launch_url, self.tool_deep_link_url})


@dataclass
class PendingLaunch:
    """A launch started by GET /launch that waits for the tool's authentication request.

    `hint` is both the lti_message_hint sent to the tool and the key of the launch.
    """

    hint: str
    message: str
    user_id: str
    roles: t.List[str]
    context_id: str
    context_title: str
    resource_link_id: t.Optional[str]
    resource_link_title: t.Optional[str]
    name: t.Optional[str] = None
    email: t.Optional[str] = None
    for_user: t.Optional[str] = None
    custom: t.Dict[str, str] = field(default_factory=dict)
    line_item_id: t.Optional[str] = None
    created_at: float = field(default_factory=time.monotonic)


def parse_roles(value: str) -> t.List[str]:
    """Convert a comma-separated list of short role names or role URIs to role URIs.

    Raises ValueError on an unknown short name or an empty list.
    """
    roles: t.List[str] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith(("http://", "https://")):
            roles.append(item)
        elif item in ROLE_URIS:
            roles.extend(ROLE_URIS[item])
        else:
            known = ", ".join(sorted(ROLE_URIS))
            raise ValueError(f"unknown role {item!r}: use one of {known} or a full role URI")
    if not roles:
        raise ValueError("role is empty")
    return roles


def is_loopback_url(url: str) -> bool:
    """Return whether url is http(s) on localhost or a loopback address (127.0.0.0/8, ::1)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    if parsed.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parsed.hostname).is_loopback
    except ValueError:
        return False


class _RejectRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


# Proxies from the environment are ignored and redirects are not followed, so
# that a fetch can only reach the loopback URL that was checked.
_LOOPBACK_OPENER = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _RejectRedirects()
)


def fetch_json_from_loopback(url: str) -> t.Any:
    """Fetch and parse a JSON document from a loopback URL.

    Raises LtiException when the URL is not loopback, the request fails or the
    body is not JSON.
    """
    if not is_loopback_url(url):
        raise LtiException(f"Fetch of {url} rejected: only loopback URLs are allowed")
    try:
        with _LOOPBACK_OPENER.open(url, timeout=TOOL_JWKS_TIMEOUT_SECONDS) as response:
            body = response.read(MAX_TOOL_JWKS_BYTES + 1)
    except (urllib.error.URLError, OSError) as error:
        raise LtiException(f"Fetching {url} failed: {error}") from error
    if len(body) > MAX_TOOL_JWKS_BYTES:
        raise LtiException(f"Response from {url} is larger than {MAX_TOOL_JWKS_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError as error:
        raise LtiException(f"Response from {url} is not JSON: {error}") from error


class PeerPlatformConf(LTI1P3PlatformConfAbstract):
    """Platform configuration with one registration, built from PlatformSettings.

    The package keeps per-call JWT state on this object, so create one per request
    and never share it between threads.
    """

    def init_platform_config(self, **kwargs: t.Any) -> None:
        settings: PlatformSettings = kwargs["settings"]
        self._registration = (
            Registration()
            .set_iss(settings.issuer)
            .set_client_id(settings.client_id)
            .set_deployment_id(settings.deployment_id)
            .set_oidc_login_url(settings.tool_login_url)
            .set_launch_url(settings.tool_launch_url)
            .set_deeplink_launch_url(settings.tool_deep_link_url)
            .set_tool_key_set_url(settings.tool_jwks_url)
            .set_platform_private_key(settings.private_key_pem)
            .set_platform_public_key(settings.public_key_pem)
        )

    def get_registration_by_params(self, **kwargs: t.Any) -> Registration:
        assert self._registration is not None
        return self._registration

    def fetch_public_key(self, key_set_url: str) -> JWKS:
        # The package fetches with `requests`, which honours proxy variables and
        # follows redirects. This replacement only talks to loopback addresses.
        key_set = fetch_json_from_loopback(key_set_url)
        if not isinstance(key_set, dict) or not isinstance(key_set.get("keys"), list):
            raise LtiException(f"Tool key set at {key_set_url} has no 'keys' array")
        return t.cast(JWKS, key_set)


class PeerRequest(Request):
    """Request adapter that takes the request fields as a ready dictionary."""

    def build_metadata(self, request: t.Any) -> TRequest:
        return t.cast(TRequest, request)


def make_request(
    method: str,
    path: str,
    query: t.Optional[t.Dict[str, t.Any]] = None,
    form: t.Optional[t.Dict[str, str]] = None,
    headers: t.Optional[t.Mapping[str, str]] = None,
    json_body: t.Any = None,
    content_type: t.Optional[str] = None,
) -> PeerRequest:
    return PeerRequest(
        {
            "method": method,
            "path": path,
            "get_data": query or {},
            "form_data": form or {},
            "headers": headers or {},
            "json": json_body,
            "content_type": content_type,
        }
    )


class PeerOIDCLogin(OIDCLoginAbstract):
    """Third-party login initiation that returns the tool's login URL instead of a response."""

    def set_lti_message_hint(self, **kwargs: t.Any) -> None:
        self._lti_message_hint = kwargs["lti_message_hint"]

    def get_redirect(self, url: str) -> str:
        return url


@dataclass(frozen=True)
class ServiceUrls:
    """LTI Advantage service URLs that a launch advertises in its claims."""

    lineitems_url: str
    lineitem_url: t.Optional[str]
    context_memberships_url: str


class PeerMessageLaunch(LTIAdvantageMessageLaunchAbstract):
    """Message launch that builds and signs the id_token of one PendingLaunch."""

    def __init__(
        self,
        request: PeerRequest,
        platform_config: PeerPlatformConf,
        settings: PlatformSettings,
        launch: PendingLaunch,
        service_urls: ServiceUrls,
    ) -> None:
        super().__init__(request, platform_config)
        self._settings = settings
        self._launch = launch
        self._service_urls = service_urls

    def validate_preflight_response(self, preflight_response: t.Dict[str, t.Any]) -> None:
        # The package checks only that nonce, state and redirect_uri are present
        # and that client_id matches. These checks add the other parameter rules
        # of the LTI 1.3 authentication request, with a message for each failure.
        # prompt may be absent, as the 1EdTech reference platform allows.
        def require(condition: bool, message: str) -> None:
            if not condition:
                raise PreflightRequestValidationException(message)

        scopes = str(preflight_response.get("scope", "")).split()
        require("openid" in scopes, "scope must contain 'openid'")
        require(preflight_response.get("response_type") == "id_token", "response_type must be 'id_token'")
        require(preflight_response.get("response_mode") == "form_post", "response_mode must be 'form_post'")
        require(preflight_response.get("prompt") in (None, "none"), "prompt must be 'none' or absent")
        require(
            preflight_response.get("client_id") == self._settings.client_id,
            f"client_id must be {self._settings.client_id!r}",
        )
        require(
            preflight_response.get("login_hint") == self._launch.user_id,
            "login_hint does not match the user of the launch",
        )
        require(bool(preflight_response.get("nonce")), "nonce is missing")
        require(bool(preflight_response.get("state")), "state is missing")
        redirect_uri = preflight_response.get("redirect_uri")
        registered = ", ".join(sorted(self._settings.redirect_uris))
        require(
            redirect_uri in self._settings.redirect_uris,
            f"redirect_uri {redirect_uri!r} is not registered (registered: {registered})",
        )

        super().validate_preflight_response(preflight_response)

    def prepare_launch(self, preflight_response: t.Dict[str, t.Any]) -> None:
        launch = self._launch

        self.set_user_data(launch.user_id, launch.roles, full_name=launch.name, email_address=launch.email)
        self.set_launch_context_claim(
            launch.context_id,
            context_types=[COURSE_OFFERING_TYPE],
            context_title=launch.context_title,
            context_label=launch.context_id,
        )
        self.set_launch_presentation_claim(
            document_target="iframe", return_url=self._settings.launch_return_url
        )
        if launch.custom:
            self.set_custom_parameters_claim(launch.custom)
        self.set_extra_claims(
            {
                TOOL_PLATFORM_CLAIM: {
                    "guid": self._settings.issuer,
                    "name": "microcred peer platform",
                    "product_family_code": "lti1p3platform",
                }
            }
        )

        if launch.message == "deeplink":
            # The `data` value is echoed back by the tool's deep linking response,
            # which ties the response to this request.
            self.set_dl(
                self._settings.deep_link_return_url,
                title=launch.context_title,
                description="Select content for " + launch.context_title,
                extra_data=t.cast(t.Dict[str, t.Any], launch.hint),
            )
            return

        assert launch.resource_link_id is not None
        self.set_resource_link_claim(launch.resource_link_id, title=launch.resource_link_title)
        self.set_ags(self._service_urls.lineitems_url, self._service_urls.lineitem_url)
        self.set_nrps(self._service_urls.context_memberships_url)

        if launch.message == "review":
            # The package has no submission review support. Extra claims are
            # merged last, so they replace the default message type.
            self.set_extra_claims(
                {
                    MESSAGE_TYPE_CLAIM: MESSAGE_TYPES["review"],
                    FOR_USER_CLAIM: {"user_id": launch.for_user},
                }
            )

    def render_launch_form(self, launch_data: t.Dict[str, t.Any], **kwargs: t.Any) -> str:
        return render_auto_submit_form(
            launch_data["launch_url"],
            {"id_token": launch_data["id_token"], "state": launch_data["state"]},
            title="LTI launch",
        )


def render_auto_submit_form(action: str, fields: t.Mapping[str, str], title: str) -> str:
    """Render an HTML page whose form POSTs fields to action as soon as it loads."""
    inputs = "\n".join(
        f'      <input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}" />'
        for name, value in fields.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>{html.escape(title)}</title>
  </head>
  <body>
    <form id="launch-form" method="POST" action="{html.escape(action)}">
{inputs}
      <noscript><button type="submit">Continue</button></noscript>
    </form>
    <script>document.getElementById("launch-form").submit();</script>
  </body>
</html>
"""
