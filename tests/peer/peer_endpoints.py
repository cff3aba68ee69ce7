"""HTTP endpoints of the peer platform, independent of the HTTP server that calls them.

Each handler takes an HttpRequest and returns an HttpResponse. route() maps a
method and path to a handler.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import typing as t
import urllib.parse
from dataclasses import dataclass, field

import jwt
from lti1p3platform.exceptions import (
    InvalidKeySetUrl,
    LtiDeepLinkingResponseException,
    LtiException,
    MissingRequiredClaim,
    PreflightRequestValidationException,
    UnsupportedGrantType,
)
from lti1p3platform.response import Response, generate_next_link

from peer_advantage import (
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    AdvantageStore,
    PeerAgsService,
    PeerNrpsService,
)
from peer_lti import (
    CLAIM_PREFIX,
    MESSAGE_TYPES,
    PeerMessageLaunch,
    PeerOIDCLogin,
    PeerPlatformConf,
    PendingLaunch,
    PlatformSettings,
    ServiceUrls,
    make_request,
    parse_roles,
    render_auto_submit_form,
)

logger = logging.getLogger("peer_platform")

# Time a tool has to send its authentication request after the login initiation.
PENDING_LAUNCH_TTL_SECONDS = 600
# Time a tool has to send its deep linking response after the launch.
DEEP_LINK_REQUEST_TTL_SECONDS = 3600

JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
LINEITEM_MEDIA_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"

DEEP_LINKING_CLAIM_PREFIX = "https://purl.imsglobal.org/spec/lti-dl/claim/"

LAUNCH_PARAMETERS = frozenset(
    {
        "user", "role", "course", "course_title", "resource_link", "title",
        "name", "email", "message", "for_user",
    }
)
LINEITEMS_QUERY_PARAMETERS = frozenset({"page", "limit", "resource_link_id", "resource_id", "tag"})
RESULTS_QUERY_PARAMETERS = frozenset({"page", "limit", "user_id"})
MEMBERSHIPS_QUERY_PARAMETERS = frozenset({"page", "limit", "role", "rlid", "since"})


@dataclass
class HttpRequest:
    """An HTTP request. headers must look names up case-insensitively, as
    http.server's message object does, because the package reads "Authorization"."""

    method: str
    path: str
    query_string: str
    headers: t.Mapping[str, str]
    body: bytes = b""

    @property
    def media_type(self) -> str:
        """Content-Type without parameters, in lower case."""
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: t.Dict[str, str] = field(default_factory=dict)


class BadRequest(Exception):
    """Invalid client input, sent back with status 400 and the exception's message."""

    status = 400


class UnsupportedMediaType(BadRequest):
    """Request body with the wrong Content-Type, sent back with status 415."""

    status = 415


def text_response(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, (message + "\n").encode("utf-8"))


def json_response(status: int, payload: t.Any, content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(status, json.dumps(payload).encode("utf-8"), content_type)


def html_response(status: int, page: str) -> HttpResponse:
    return HttpResponse(status, page.encode("utf-8"), "text/html; charset=utf-8")


def oauth_error(status: int, error: str, description: str) -> HttpResponse:
    """Error response of the token endpoint, as RFC 6749 section 5.2 defines it."""
    logger.warning("Token request rejected: %s: %s", error, description)
    response = json_response(status, {"error": error, "error_description": description})
    response.headers["Cache-Control"] = "no-store"
    return response


def parse_single_values(encoded: str) -> t.Dict[str, str]:
    """Parse a query string or form body. Raises BadRequest on a repeated parameter."""
    values: t.Dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(encoded, keep_blank_values=True):
        if name in values:
            raise BadRequest(f"parameter {name!r} is repeated")
        values[name] = value
    return values


def parse_form(request: HttpRequest) -> t.Dict[str, str]:
    if request.media_type != FORM_MEDIA_TYPE:
        raise BadRequest(f"Content-Type must be {FORM_MEDIA_TYPE}, not {request.media_type!r}")
    try:
        return parse_single_values(request.body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise BadRequest(f"form body is not UTF-8: {error}") from error


def parse_json_object(request: HttpRequest, media_type: str) -> t.Dict[str, t.Any]:
    if request.media_type != media_type:
        raise UnsupportedMediaType(f"Content-Type must be {media_type}, not {request.media_type!r}")
    try:
        payload = json.loads(request.body)
    except ValueError as error:
        raise BadRequest(f"body is not valid JSON: {error}") from error
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object")
    return payload


def reject_unknown_parameters(params: t.Mapping[str, str], allowed: t.AbstractSet[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BadRequest(
            f"unknown parameter(s) {', '.join(unknown)}. Allowed: {', '.join(sorted(allowed))}"
        )


def audience_contains(claims: t.Mapping[str, t.Any], expected: str) -> bool:
    audience = claims.get("aud")
    if isinstance(audience, str):
        return audience == expected
    return isinstance(audience, list) and expected in audience


class PeerPlatform:
    """Settings and in-memory state shared by all request threads."""

    def __init__(self, settings: PlatformSettings, store: AdvantageStore) -> None:
        self.settings = settings
        self.store = store
        self._lock = threading.Lock()
        self._pending_launches: t.Dict[str, PendingLaunch] = {}
        # `data` value of a deep linking request -> (launch, time the request was sent)
        self._deep_link_requests: t.Dict[str, t.Tuple[PendingLaunch, float]] = {}
        self._deep_link_responses: t.List[t.Dict[str, t.Any]] = []
        # jti of accepted client assertions -> their exp, kept until they expire
        self._used_assertion_ids: t.Dict[str, float] = {}

    def new_conf(self) -> PeerPlatformConf:
        return PeerPlatformConf(settings=self.settings)

    def add_pending_launch(self, launch: PendingLaunch) -> None:
        with self._lock:
            now = time.monotonic()
            expired = [
                hint
                for hint, pending in self._pending_launches.items()
                if now - pending.created_at > PENDING_LAUNCH_TTL_SECONDS
            ]
            for hint in expired:
                del self._pending_launches[hint]
            self._pending_launches[launch.hint] = launch

    def take_pending_launch(self, hint: str) -> t.Optional[PendingLaunch]:
        """Remove and return a pending launch, so that two requests cannot use it at once."""
        with self._lock:
            launch = self._pending_launches.pop(hint, None)
            if launch is None or time.monotonic() - launch.created_at > PENDING_LAUNCH_TTL_SECONDS:
                return None
            return launch

    def restore_pending_launch(self, launch: PendingLaunch) -> None:
        with self._lock:
            self._pending_launches[launch.hint] = launch

    def add_deep_link_request(self, launch: PendingLaunch) -> None:
        with self._lock:
            self._deep_link_requests[launch.hint] = (launch, time.monotonic())

    def take_deep_link_request(self, data: str) -> t.Optional[PendingLaunch]:
        with self._lock:
            entry = self._deep_link_requests.pop(data, None)
            if entry is None or time.monotonic() - entry[1] > DEEP_LINK_REQUEST_TTL_SECONDS:
                return None
            return entry[0]

    def add_deep_link_response(self, record: t.Dict[str, t.Any]) -> None:
        with self._lock:
            self._deep_link_responses.append(record)

    def list_deep_link_responses(self) -> t.List[t.Dict[str, t.Any]]:
        with self._lock:
            return list(self._deep_link_responses)

    def use_assertion_id(self, jti: str, expires_at: float) -> bool:
        """Record a client assertion's jti. Returns False when it was already used."""
        with self._lock:
            now = time.time()
            for old_jti in [key for key, exp in self._used_assertion_ids.items() if exp < now]:
                del self._used_assertion_ids[old_jti]
            if jti in self._used_assertion_ids:
                return False
            self._used_assertion_ids[jti] = expires_at
            return True


# --- Launch: GET /launch and the OIDC authorization endpoint -------------------


def handle_jwks(platform: PeerPlatform, request: HttpRequest) -> HttpResponse:
    return json_response(200, platform.new_conf().get_jwks())


def handle_launch(platform: PeerPlatform, request: HttpRequest) -> HttpResponse:
    """Start a launch as an LMS does: redirect the browser to the tool's login initiation."""
    params = parse_single_values(request.query_string)
    custom = {name[len("custom_"):]: value for name, value in params.items() if name.startswith("custom_")}
    reject_unknown_parameters(
        {name: value for name, value in params.items() if not name.startswith("custom_")},
        LAUNCH_PARAMETERS,
    )

    message = params.get("message", "resource")
    if message not in MESSAGE_TYPES:
        raise BadRequest(f"message must be one of {', '.join(MESSAGE_TYPES)}, not {message!r}")
    for required in ["user", "course"]:
        if not params.get(required):
            raise BadRequest(f"parameter {required!r} is required")
    if message in ("resource", "review") and not params.get("resource_link"):
        raise BadRequest(f"parameter 'resource_link' is required for message={message}")
    if message == "review" and not params.get("for_user"):
        raise BadRequest("parameter 'for_user' is required for message=review")
    try:
        roles = parse_roles(params.get("role", "Learner"))
    except ValueError as error:
        raise BadRequest(str(error)) from error

    launch = PendingLaunch(
        hint=secrets.token_urlsafe(24),
        message=message,
        user_id=params["user"],
        roles=roles,
        context_id=params["course"],
        context_title=params.get("course_title") or f"Course {params['course']}",
        # A deep linking request has no resource link, so the parameter is ignored there.
        resource_link_id=params.get("resource_link") if message != "deeplink" else None,
        resource_link_title=params.get("title"),
        name=params.get("name") or None,
        email=params.get("email") or None,
        for_user=params.get("for_user"),
        custom=custom,
    )
    launch.line_item_id = platform.store.record_launch(launch)
    platform.add_pending_launch(launch)

    login = PeerOIDCLogin(make_request("GET", request.path, query=params), platform.new_conf())
    login.set_lti_message_hint(lti_message_hint=launch.hint)
    if message == "deeplink":
        login.set_deeplinking_launch_url()
    login_url = login.initiate_login(launch.user_id)

    logger.info(
        "Launch %s started: message=%s user=%s course=%s resource_link=%s",
        launch.hint, message, launch.user_id, launch.context_id, launch.resource_link_id,
    )
    return HttpResponse(302, b"", headers={"Location": login_url, "Cache-Control": "no-store"})


def handle_authorize(platform: PeerPlatform, request: HttpRequest) -> HttpResponse:
    """Validate the tool's authentication request and return a form that posts the signed id_token."""
    if request.method == "POST":
        params = parse_form(request)
        package_request = make_request("POST", request.path, form=params)
    else:
        params = parse_single_values(request.query_string)
        package_request = make_request("GET", request.path, query=params)

    hint = params.get("lti_message_hint")
    if not hint:
        raise BadRequest("lti_message_hint is missing")
    launch = platform.take_pending_launch(hint)
    if launch is None:
        raise BadRequest("lti_message_hint is unknown, expired or already used")

    service_urls = ServiceUrls(
        lineitems_url=platform.store.urls.lineitems_url(launch.context_id),
        lineitem_url=(
            platform.store.urls.lineitem_url(launch.context_id, launch.line_item_id)
            if launch.line_item_id is not None
            else None
        ),
        context_memberships_url=platform.store.urls.memberships_url(launch.context_id),
    )
    message_launch = PeerMessageLaunch(
        package_request, platform.new_conf(), platform.settings, launch, service_urls
    )
    try:
        page = message_launch.lti_launch()
    except PreflightRequestValidationException as error:
        # The launch stays pending, so the tool can retry with a corrected request.
        platform.restore_pending_launch(launch)
        reason = str(error) or "the request failed the package's checks"
        logger.warning("Authentication request for launch %s rejected: %s", hint, reason)
        return text_response(400, f"Invalid authentication request: {reason}")

    if launch.message == "deeplink":
        platform.add_deep_link_request(launch)
    logger.info("Launch %s sent to %s", hint, params.get("redirect_uri"))
    response = html_response(200, page)
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_launch_return(platform: PeerPlatform, request: HttpRequest) -> HttpResponse:
    """Landing page of the launch_presentation return_url."""
    params = urllib.parse.parse_qs(request.query_string)
    logger.info("Tool returned the user: %s", params)
    return text_response(200, "Returned from the tool.")


# --- OAuth 2 token endpoint -----------------------------------------------------


def handle_token(platform: PeerPlatform, request: HttpRequest) -> HttpResponse:
    """Issue an access token for a client credentials grant with a JWT client assertion."""
    try:
        form = parse_form(request)
    except BadRequest as error:
        return oauth_error(400, "invalid_request", str(error))

    conf = platform.new_conf()
    try:
        token = conf.get_access_token(form)
        claims = conf.tool_validate_and_decode(form["client_assertion"])
    except MissingRequiredClaim as error:
        return oauth_error(400, "invalid_request", str(error))
    except UnsupportedGrantType:
        return oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    except (LtiException, InvalidKeySetUrl, jwt.PyJWTError) as error:
        return oauth_error(401, "invalid_client", f"client_assertion is invalid: {error}")

    # The package verifies only the assertion's signature and expiry. The
    # 1EdTech security framework also requires iss and sub to be the client_id,
    # aud to name the token endpoint, and a jti, which is accepted only once.
    settings = platform.settings
    if form["client_assertion_type"] != JWT_BEARER_ASSERTION_TYPE:
        return oauth_error(400, "invalid_request", f"client_assertion_type must be {JWT_BEARER_ASSERTION_TYPE}")
    for claim in ["iss", "sub"]:
        if claims.get(claim) != settings.client_id:
            return oauth_error(401, "invalid_client", f"client_assertion {claim} must be the client_id")
    if not audience_contains(claims, settings.token_url):
        return oauth_error(401, "invalid_client", f"client_assertion aud must contain {settings.token_url}")
    if not isinstance(claims.get("exp"), (int, float)):
        return oauth_error(401, "invalid_client", "client_assertion exp is missing")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        return oauth_error(401, "invalid_client", "client_assertion jti is missing")
    if not platform.use_assertion_id(jti, float(claims["exp"])):
        return oauth_error(401, "invalid_client", "client_assertion jti was already used")
    if not token["scope"]:
        return oauth_error(400, "invalid_scope", f"none of the requested scopes is supported: {form['scope']}")

    logger.info("Access token issued for scopes %s", token["scope"])
    response = json_response(200, token)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Deep linking response ------------------------------------------------------


def handle_deep_link_return(platform: PeerPlatform, request: HttpRequest) -> HttpResponse:
    """Accept the tool's deep linking response and store its content items."""
    form = parse_form(request)
    response_jwt = form.get("JWT")
    if not response_jwt:
        raise BadRequest("form field JWT is missing")

    conf = platform.new_conf()
    try:
        content_items = conf.validate_deeplinking_resp({"JWT": response_jwt})
        claims = conf.tool_validate_and_decode(response_jwt)
    except (LtiDeepLinkingResponseException, LtiException, InvalidKeySetUrl, jwt.PyJWTError) as error:
        raise BadRequest(f"deep linking response is invalid: {error}") from error
    except (KeyError, TypeError) as error:
        raise BadRequest(f"deep linking response has a malformed content item: {error!r}") from error

    # The package checks only the signature, the message type and the item
    # types. LTI Deep Linking 2.0 also requires the claims checked below, and
    # the data value of the request echoed back.
    settings = platform.settings
    expected = {
        "iss": settings.client_id,
        CLAIM_PREFIX + "deployment_id": settings.deployment_id,
        CLAIM_PREFIX + "version": "1.3.0",
    }
    for claim, value in expected.items():
        if claims.get(claim) != value:
            raise BadRequest(f"deep linking response claim {claim} must be {value!r}, not {claims.get(claim)!r}")
    if not audience_contains(claims, settings.issuer):
        raise BadRequest(f"deep linking response aud must contain {settings.issuer}")
    if not claims.get("nonce"):
        raise BadRequest("deep linking response nonce is missing")
    data = claims.get(DEEP_LINKING_CLAIM_PREFIX + "data")
    launch = platform.take_deep_link_request(data) if isinstance(data, str) else None
    if launch is None:
        raise BadRequest("deep linking response data does not match an open deep linking request")

    record = {
        "received_at": time.time(),
        "user_id": launch.user_id,
        "context_id": launch.context_id,
        "content_items": content_items,
    }
    for name in ["msg", "log", "errormsg", "errorlog"]:
        value = claims.get(DEEP_LINKING_CLAIM_PREFIX + name)
        if value is not None:
            record[name] = value
    platform.add_deep_link_response(record)
    logger.info("Deep linking response received with %d content item(s)", len(content_items))
    return text_response(200, f"Received {len(content_items)} content item(s).")


# --- Test-only views of what the platform received ------------------------------


def handle_list_scores(platform: PeerPlatform, request: HttpRequest) -> HttpResponse:
    return json_response(200, platform.store.list_received_scores())


def handle_list_deep_links(platform: PeerPlatform, request: HttpRequest) -> HttpResponse:
    return json_response(200, platform.list_deep_link_responses())


# --- AGS and NRPS ---------------------------------------------------------------


def parse_paging(params: t.Dict[str, t.Any]) -> None:
    """Convert page and limit to int in place, since the package adds 1 to page."""
    for name in ["page", "limit"]:
        if name in params:
            try:
                params[name] = int(params[name])
            except ValueError as error:
                raise BadRequest(f"{name} must be an integer, not {params[name]!r}") from error
            if params[name] < 1:
                raise BadRequest(f"{name} must be at least 1")


def service_response(response: Response) -> HttpResponse:
    """Convert a package Response to HTTP the way the package's Django adapter does."""
    if not 200 <= response.code < 300:
        logger.warning("Service request rejected: %s %s", response.code, response.message)
        return json_response(response.code, {"error": response.message})

    result = response.result
    headers: t.Dict[str, str] = {}
    if isinstance(result, dict) and result.get("next"):
        headers["Link"] = generate_next_link(result["next"])
    if isinstance(result, dict) and "content" in result:
        result = result["content"]
    if result is None:
        return HttpResponse(response.code, b"", response.media_type, headers)
    http_response = json_response(response.code, result, response.media_type)
    http_response.headers.update(headers)
    return http_response


def run_service(call: t.Callable[[], Response]) -> HttpResponse:
    try:
        return service_response(call())
    except (LtiException, jwt.PyJWTError) as error:
        # The package's token check raises these instead of a 401 response.
        logger.warning("Service request rejected: invalid access token: %s", error)
        return json_response(401, {"error": f"Invalid access token: {error}"})


def method_not_allowed(allowed: t.List[str]) -> HttpResponse:
    response = text_response(405, f"Method not allowed; use {', '.join(allowed)}")
    response.headers["Allow"] = ", ".join(allowed)
    return response


def handle_ags(platform: PeerPlatform, request: HttpRequest, context_id: str, rest: t.List[str]) -> HttpResponse:
    """Dispatch /ags/contexts/{context}/lineitems[/{item}[/scores|/results]]."""
    if not platform.store.has_context(context_id):
        return json_response(404, {"error": f"Context {context_id} not found"})
    params: t.Dict[str, t.Any] = parse_single_values(request.query_string)
    parse_paging(params)
    store = platform.store

    def service(line_item_id: t.Optional[str], scopes: t.List[str], body: t.Any = None) -> PeerAgsService:
        package_request = make_request(
            request.method, request.path, query=params, headers=request.headers,
            json_body=body, content_type=request.media_type,
        )
        return PeerAgsService(package_request, platform.new_conf(), store, context_id, line_item_id, scopes)

    read_scopes = [SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY]
    if not rest:
        if request.method == "GET":
            reject_unknown_parameters(params, LINEITEMS_QUERY_PARAMETERS)
            ags = service(None, read_scopes)
            return run_service(lambda: ags.handle_resp(ags.handle_get_lineitems))
        if request.method == "POST":
            ags = service(None, [SCOPE_LINEITEM], parse_json_object(request, LINEITEM_MEDIA_TYPE))
            return run_service(lambda: ags.handle_resp(ags.handle_create_lineitem))
        return method_not_allowed(["GET", "POST"])

    line_item_id = rest[0]
    if len(rest) == 1:
        if request.method == "GET":
            ags = service(line_item_id, read_scopes)
            return run_service(lambda: ags.handle_resp(ags.handle_get_lineitem, line_item_id=line_item_id))
        if request.method == "PUT":
            ags = service(line_item_id, [SCOPE_LINEITEM], parse_json_object(request, LINEITEM_MEDIA_TYPE))
            return run_service(lambda: ags.handle_resp(ags.handle_update_lineitem, line_item_id=line_item_id))
        if request.method == "DELETE":
            ags = service(line_item_id, [SCOPE_LINEITEM])
            return run_service(lambda: ags.handle_resp(ags.handle_delete_lineitem, line_item_id=line_item_id))
        return method_not_allowed(["GET", "PUT", "DELETE"])

    if rest[1:] == ["scores"]:
        if request.method != "POST":
            return method_not_allowed(["POST"])
        ags = service(line_item_id, [SCOPE_SCORE], parse_json_object(request, SCORE_MEDIA_TYPE))
        return run_service(lambda: ags.handle_resp(ags.handle_update_score, line_item_id=line_item_id))

    if rest[1:] == ["results"]:
        if request.method != "GET":
            return method_not_allowed(["GET"])
        reject_unknown_parameters(params, RESULTS_QUERY_PARAMETERS)
        ags = service(line_item_id, [SCOPE_RESULT_READONLY])
        return run_service(lambda: ags.handle_resp(ags.handle_get_results, line_item_id=line_item_id))

    return text_response(404, f"Not found: {request.path}")


def handle_nrps(platform: PeerPlatform, request: HttpRequest, context_id: str) -> HttpResponse:
    if request.method != "GET":
        return method_not_allowed(["GET"])
    if not platform.store.has_context(context_id):
        return json_response(404, {"error": f"Context {context_id} not found"})
    params: t.Dict[str, t.Any] = parse_single_values(request.query_string)
    parse_paging(params)
    reject_unknown_parameters(params, MEMBERSHIPS_QUERY_PARAMETERS)
    package_request = make_request("GET", request.path, query=params, headers=request.headers)
    nrps = PeerNrpsService(package_request, platform.new_conf(), platform.store, context_id)
    return run_service(lambda: nrps.handle_resp(nrps.handle_get_members))


# --- Routing --------------------------------------------------------------------

Handler = t.Callable[[PeerPlatform, HttpRequest], HttpResponse]

ROUTES: t.Dict[t.Tuple[str, str], Handler] = {
    ("GET", "/jwks"): handle_jwks,
    ("GET", "/launch"): handle_launch,
    ("GET", "/authorize"): handle_authorize,
    ("POST", "/authorize"): handle_authorize,
    ("GET", "/return"): handle_launch_return,
    ("POST", "/token"): handle_token,
    ("POST", "/deep_links/return"): handle_deep_link_return,
    ("GET", "/deep_links"): handle_list_deep_links,
    ("GET", "/scores"): handle_list_scores,
}


def route(platform: PeerPlatform, request: HttpRequest) -> HttpResponse:
    """Call the handler for the request's method and path, and turn BadRequest into its status."""
    try:
        return dispatch(platform, request)
    except BadRequest as error:
        logger.warning("%s %s rejected: %s", request.method, request.path, error)
        return text_response(error.status, f"Bad request: {error}")


def dispatch(platform: PeerPlatform, request: HttpRequest) -> HttpResponse:
    handler = ROUTES.get((request.method, request.path))
    if handler is not None:
        return handler(platform, request)

    segments = [urllib.parse.unquote(segment) for segment in request.path.strip("/").split("/")]
    if len(segments) >= 4 and segments[:2] == ["ags", "contexts"] and segments[3] == "lineitems":
        if len(segments) <= 6:
            return handle_ags(platform, request, segments[2], segments[4:])
    if len(segments) == 4 and segments[:2] == ["nrps", "contexts"] and segments[3] == "memberships":
        return handle_nrps(platform, request, segments[2])

    allowed = sorted(method for method, path in ROUTES if path == request.path)
    if allowed:
        return method_not_allowed(allowed)
    return text_response(404, f"Not found: {request.path}")
