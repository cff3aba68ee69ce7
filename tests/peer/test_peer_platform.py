"""Tests of peer_platform.py against a fake tool, over HTTP on 127.0.0.1.

Run with the peer virtualenv's python (see setup.sh):
    .venv-peer/bin/python tests/peer/test_peer_platform.py
The fake tool redirects the login initiation to the authorization endpoint as an
LTI 1.3 tool does, and the tests follow each redirect by hand, as a browser would.
"""

from __future__ import annotations

import html.parser
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import unittest
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK

PEER_SCRIPT = Path(__file__).resolve().parent / "peer_platform.py"
CLIENT_ID = "microcred-client"
DEPLOYMENT_ID = "deployment-1"
READY_TIMEOUT_SECONDS = 30
EXIT_TIMEOUT_SECONDS = 10

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LTI_DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
LTI_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
LTI_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_MEDIA_TYPE = "application/vnd.ims.lis.v2.lineitem+json"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


# No proxies and no automatic redirects, so every hop goes to a loopback URL
# that the test checked, and each redirect reaches the test.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


class HttpResult(t.NamedTuple):
    status: int
    headers: t.Any
    body: bytes

    def json(self) -> t.Any:
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8")


def http(
    method: str,
    url: str,
    body: t.Optional[bytes] = None,
    headers: t.Optional[t.Dict[str, str]] = None,
) -> HttpResult:
    host = urllib.parse.urlsplit(url).hostname
    assert host == "127.0.0.1", f"test tried to reach a non-loopback URL: {url}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with OPENER.open(request, timeout=10) as response:
            return HttpResult(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, error.headers, error.read())


def post_form(url: str, fields: t.Dict[str, str], headers: t.Optional[t.Dict[str, str]] = None) -> HttpResult:
    all_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    all_headers.update(headers or {})
    return http("POST", url, urllib.parse.urlencode(fields).encode("ascii"), all_headers)


def query_of(url: str) -> t.Dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))


def replace_query(url: str, changes: t.Dict[str, t.Optional[str]]) -> str:
    """Return url with query parameters replaced. A None value removes the parameter."""
    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(params)))


class FormParser(html.parser.HTMLParser):
    """Collect the action, method and hidden fields of the first form of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.action: t.Optional[str] = None
        self.method: t.Optional[str] = None
        self.fields: t.Dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: t.List[t.Tuple[str, t.Optional[str]]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action")
            self.method = (attributes.get("method") or "").upper()
        elif tag == "input" and attributes.get("name"):
            self.fields[t.cast(str, attributes["name"])] = attributes.get("value") or ""


def parse_form_page(page: str) -> FormParser:
    parser = FormParser()
    parser.feed(page)
    return parser


class ToolKey:
    """RSA key pair of the fake tool, with its public JWK."""

    def __init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = "tool-key-" + secrets.token_hex(4)
        self.public_jwk = json.loads(JWK.from_pem(public_pem).export_public())
        self.public_jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})

    def sign(self, claims: t.Dict[str, t.Any], kid: t.Optional[str] = None) -> str:
        return jwt.encode(claims, self.private_pem, algorithm="RS256", headers={"kid": kid or self.kid})


class FakeTool:
    """Tool side of the launch: login initiation, launch URL and public key set."""

    def __init__(self) -> None:
        self.key = ToolKey()
        self.auth_url = ""
        self.login_requests: t.List[t.Dict[str, str]] = []
        self.launches: t.List[t.Dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def authentication_request(self, login: t.Dict[str, str]) -> str:
        """Build the authentication request URL an LTI tool sends after a login initiation."""
        params = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": login.get("client_id", CLIENT_ID),
            "redirect_uri": login["target_link_uri"],
            "login_hint": login["login_hint"],
            "lti_message_hint": login["lti_message_hint"],
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
        }
        return self.auth_url + "?" + urllib.parse.urlencode(params)

    def _handler_class(self) -> t.Type[BaseHTTPRequestHandler]:
        tool = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path == "/lti/login":
                    login = dict(urllib.parse.parse_qsl(query))
                    tool.login_requests.append(login)
                    self.reply(302, b"", {"Location": tool.authentication_request(login)})
                elif path == "/.well-known/jwks.json":
                    body = json.dumps({"keys": [tool.key.public_jwk]}).encode("utf-8")
                    self.reply(200, body, {"Content-Type": "application/json"})
                else:
                    self.reply(404, b"not found", {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8")))
                if self.path == "/lti/launch":
                    tool.launches.append(form)
                    self.reply(200, b"launched", {})
                else:
                    self.reply(404, b"not found", {})

            def reply(self, status: int, body: bytes, headers: t.Dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: t.Any) -> None:  # pylint: disable=redefined-builtin
                pass

        return Handler


class PeerProcess:
    """peer_platform.py running as a child process, as the Rust integration test runs it."""

    def __init__(self, tool_base_url: str, extra_args: t.Sequence[str] = ()) -> None:
        self.log_file = tempfile.NamedTemporaryFile(prefix="peer-platform-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [
                sys.executable, str(PEER_SCRIPT), "--port", "0",
                "--tool-base-url", tool_base_url,
                "--client-id", CLIENT_ID,
                "--deployment-id", DEPLOYMENT_ID,
                *extra_args,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log_file,
        )

    def read_ready_line(self) -> t.Dict[str, str]:
        lines: t.List[bytes] = []
        reader = threading.Thread(target=lambda: lines.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(READY_TIMEOUT_SECONDS)
        if not lines or not lines[0]:
            self.kill()
            raise AssertionError(f"peer platform printed no ready line; log:\n{self.log()}")
        return json.loads(lines[0])

    def close_stdin_and_wait(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(EXIT_TIMEOUT_SECONDS)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(EXIT_TIMEOUT_SECONDS)

    def log(self) -> str:
        return Path(self.log_file.name).read_text(encoding="utf-8", errors="replace")

    def cleanup(self) -> None:
        self.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.log_file.close()
        os.unlink(self.log_file.name)


class PeerPlatformTest(unittest.TestCase):
    tool: FakeTool
    peer: PeerProcess
    ready: t.Dict[str, str]

    @classmethod
    def setUpClass(cls) -> None:
        cls.tool = FakeTool()
        cls.tool.start()
        cls.peer = PeerProcess(cls.tool.base_url)
        cls.ready = cls.peer.read_ready_line()
        cls.tool.auth_url = cls.ready["auth_url"]
        cls.base_url = cls.ready["base_url"]

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            exit_code = cls.peer.close_stdin_and_wait()
            if exit_code != 0:
                raise AssertionError(f"peer platform exited with {exit_code}; log:\n{cls.peer.log()}")
        finally:
            cls.peer.cleanup()
            cls.tool.stop()

    # --- helpers ---

    def begin_launch(self, **params: str) -> t.Tuple[t.Dict[str, str], str]:
        """Run GET /launch and the tool's login initiation. Returns (login params, authorize URL)."""
        start = http("GET", self.base_url + "/launch?" + urllib.parse.urlencode(params))
        self.assertEqual(start.status, 302, start.text())
        login_url = start.headers["Location"]
        self.assertTrue(login_url.startswith(self.tool.base_url + "/lti/login?"), login_url)

        login = http("GET", login_url)
        self.assertEqual(login.status, 302, login.text())
        authorize_url = login.headers["Location"]
        self.assertTrue(authorize_url.startswith(self.ready["auth_url"] + "?"), authorize_url)
        return query_of(login_url), authorize_url

    def verify_id_token(self, token: str) -> t.Dict[str, t.Any]:
        keys = http("GET", self.ready["jwks_url"]).json()["keys"]
        kid = jwt.get_unverified_header(token)["kid"]
        matching = [key for key in keys if key["kid"] == kid]
        self.assertEqual(len(matching), 1, f"no JWKS key with kid {kid}")
        return jwt.decode(
            token,
            jwt.PyJWK(matching[0]).key,
            algorithms=["RS256"],
            audience=CLIENT_ID,
            issuer=self.ready["issuer"],
            options={"require": ["exp", "iat", "iss", "aud", "nonce", "sub"]},
        )

    def launch(self, **params: str) -> t.Tuple[t.Dict[str, t.Any], FormParser, t.Dict[str, str]]:
        """Run a whole launch. Returns (verified id_token claims, launch form, authentication request)."""
        _, authorize_url = self.begin_launch(**params)
        answer = http("GET", authorize_url)
        self.assertEqual(answer.status, 200, answer.text())
        form = parse_form_page(answer.text())
        claims = self.verify_id_token(form.fields["id_token"])
        return claims, form, query_of(authorize_url)

    def client_assertion(self, **overrides: t.Any) -> str:
        """Sign a client assertion with the tool key. An override of None removes the claim."""
        now = int(time.time())
        claims = {
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": self.ready["token_url"],
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_hex(16),
        }
        claims.update(overrides)
        return self.tool.key.sign({name: value for name, value in claims.items() if value is not None})

    def request_token(self, scopes: t.List[str], assertion: t.Optional[str] = None) -> HttpResult:
        return post_form(
            self.ready["token_url"],
            {
                "grant_type": "client_credentials",
                "client_assertion_type": JWT_BEARER,
                "client_assertion": assertion or self.client_assertion(),
                "scope": " ".join(scopes),
            },
        )

    def access_token(self, scopes: t.List[str]) -> str:
        result = self.request_token(scopes)
        self.assertEqual(result.status, 200, result.text())
        return result.json()["access_token"]

    def post_score(self, url: str, token: str, score: t.Dict[str, t.Any], media_type: str = SCORE_MEDIA_TYPE) -> HttpResult:
        headers = {"Authorization": "Bearer " + token, "Content-Type": media_type}
        return http("POST", url + "/scores", json.dumps(score).encode("utf-8"), headers)

    # --- ready line and keys ---

    def test_ready_line_fields(self) -> None:
        base_url = self.ready["base_url"]
        self.assertRegex(base_url, r"^http://127\.0\.0\.1:\d+$")
        self.assertEqual(self.ready["issuer"], base_url)
        self.assertEqual(self.ready["client_id"], CLIENT_ID)
        self.assertEqual(self.ready["deployment_id"], DEPLOYMENT_ID)
        self.assertEqual(self.ready["auth_url"], base_url + "/authorize")
        self.assertEqual(self.ready["token_url"], base_url + "/token")
        self.assertEqual(self.ready["jwks_url"], base_url + "/jwks")
        self.assertEqual(
            set(self.ready),
            {"issuer", "client_id", "deployment_id", "auth_url", "token_url", "jwks_url", "base_url"},
        )

    def test_jwks_publishes_rsa_signing_key(self) -> None:
        result = http("GET", self.ready["jwks_url"])
        self.assertEqual(result.status, 200)
        keys = result.json()["keys"]
        self.assertEqual(len(keys), 1)
        key = keys[0]
        self.assertEqual(key["kty"], "RSA")
        self.assertEqual(key["alg"], "RS256")
        self.assertEqual(key["use"], "sig")
        self.assertTrue(key["kid"])
        self.assertNotIn("d", key, "JWKS leaks the private exponent")

    # --- resource link launches ---

    def test_login_initiation_parameters(self) -> None:
        login, _ = self.begin_launch(user="u-login", course="c-login", resource_link="rl-login")
        self.assertEqual(login["iss"], self.ready["issuer"])
        self.assertEqual(login["login_hint"], "u-login")
        self.assertEqual(login["target_link_uri"], self.tool.base_url + "/lti/launch")
        self.assertTrue(login["lti_message_hint"])
        self.assertEqual(login["client_id"], CLIENT_ID)
        self.assertEqual(login["lti_deployment_id"], DEPLOYMENT_ID)

    def test_resource_launch_claims(self) -> None:
        claims, form, auth_request = self.launch(
            user="u-1", role="Learner", course="c-1", resource_link="rl-1",
            name="Ada Lovelace", email="ada@example.test", title="Badge quiz",
        )
        launch_url = self.tool.base_url + "/lti/launch"

        self.assertEqual(form.method, "POST")
        self.assertEqual(form.action, launch_url)
        self.assertEqual(form.fields["state"], auth_request["state"])
        self.assertEqual(claims["nonce"], auth_request["nonce"])
        self.assertEqual(claims["iss"], self.ready["issuer"])
        self.assertEqual(claims["aud"], CLIENT_ID)
        self.assertEqual(claims["azp"], CLIENT_ID)
        self.assertGreater(claims["exp"], claims["iat"])
        self.assertEqual(claims["sub"], "u-1")
        self.assertEqual(claims["name"], "Ada Lovelace")
        self.assertEqual(claims["email"], "ada@example.test")
        self.assertEqual(claims[LTI + "message_type"], "LtiResourceLinkRequest")
        self.assertEqual(claims[LTI + "version"], "1.3.0")
        self.assertEqual(claims[LTI + "deployment_id"], DEPLOYMENT_ID)
        self.assertEqual(claims[LTI + "target_link_uri"], launch_url)
        self.assertEqual(claims[LTI + "roles"], [LIS + "membership#Learner"])
        self.assertEqual(claims[LTI + "context"]["id"], "c-1")
        self.assertEqual(claims[LTI + "context"]["type"], [LIS + "course#CourseOffering"])
        self.assertEqual(claims[LTI + "resource_link"], {"id": "rl-1", "title": "Badge quiz"})
        self.assertEqual(claims[LTI + "launch_presentation"]["return_url"], self.base_url + "/return")

        ags = claims[LTI_AGS]
        self.assertEqual(ags["lineitems"], self.base_url + "/ags/contexts/c-1/lineitems")
        self.assertTrue(ags["lineitem"].startswith(ags["lineitems"] + "/"))
        self.assertIn(AGS_SCOPE + "score", ags["scope"])
        nrps = claims[LTI_NRPS]
        self.assertEqual(nrps["context_memberships_url"], self.base_url + "/nrps/contexts/c-1/memberships")
        self.assertEqual(nrps["service_versions"], ["2.0"])

        delivered = post_form(t.cast(str, form.action), form.fields)
        self.assertEqual(delivered.status, 200)
        self.assertEqual(self.tool.launches[-1]["id_token"], form.fields["id_token"])

    def test_launch_roles_as_lis_uris(self) -> None:
        cases = [
            ("Instructor", [LIS + "membership#Instructor"]),
            ("Administrator", [LIS + "institution/person#Administrator", LIS + "system/person#Administrator"]),
            ("Learner,Instructor", [LIS + "membership#Learner", LIS + "membership#Instructor"]),
            (LIS + "membership/Instructor#TeachingAssistant", [LIS + "membership/Instructor#TeachingAssistant"]),
        ]
        for role, expected in cases:
            with self.subTest(role=role):
                claims, _, _ = self.launch(user="u-roles", role=role, course="c-roles", resource_link="rl-roles")
                self.assertEqual(claims[LTI + "roles"], expected)

    def test_launch_custom_parameters(self) -> None:
        claims, _, _ = self.launch(user="u-c", course="c-custom", resource_link="rl-c", custom_badge="b-7")
        self.assertEqual(claims[LTI + "custom"], {"badge": "b-7"})

    def test_launch_without_name_and_email(self) -> None:
        claims, _, _ = self.launch(user="u-anon", course="c-anon", resource_link="rl-anon")
        self.assertNotIn("name", claims)
        self.assertNotIn("email", claims)

    def test_authorize_accepts_post(self) -> None:
        _, authorize_url = self.begin_launch(user="u-post", course="c-post", resource_link="rl-post")
        answer = post_form(self.ready["auth_url"], query_of(authorize_url))
        self.assertEqual(answer.status, 200, answer.text())
        claims = self.verify_id_token(parse_form_page(answer.text()).fields["id_token"])
        self.assertEqual(claims["nonce"], query_of(authorize_url)["nonce"])

    # --- deep linking and submission review ---

    def test_deep_linking_round_trip(self) -> None:
        claims, form, _ = self.launch(user="u-dl", role="Instructor", course="c-dl", message="deeplink")
        self.assertEqual(claims[LTI + "message_type"], "LtiDeepLinkingRequest")
        self.assertEqual(claims[LTI + "target_link_uri"], self.tool.base_url + "/lti/launch")
        self.assertEqual(form.action, self.tool.base_url + "/lti/launch")
        self.assertNotIn(LTI + "resource_link", claims)
        settings = claims[LTI_DL + "deep_linking_settings"]
        self.assertEqual(settings["deep_link_return_url"], self.base_url + "/deep_links/return")
        self.assertIn("ltiResourceLink", settings["accept_types"])
        self.assertIsInstance(settings["data"], str)

        now = int(time.time())
        response_claims = {
            "iss": CLIENT_ID,
            "aud": self.ready["issuer"],
            "iat": now,
            "exp": now + 300,
            "nonce": secrets.token_hex(8),
            LTI + "deployment_id": DEPLOYMENT_ID,
            LTI + "message_type": "LtiDeepLinkingResponse",
            LTI + "version": "1.3.0",
            LTI_DL + "data": settings["data"],
            LTI_DL + "msg": "One badge added",
            LTI_DL + "content_items": [
                {"type": "ltiResourceLink", "title": "Badge", "url": self.tool.base_url + "/lti/launch"}
            ],
        }
        returned = post_form(settings["deep_link_return_url"], {"JWT": self.tool.key.sign(response_claims)})
        self.assertEqual(returned.status, 200, returned.text())

        received = http("GET", self.base_url + "/deep_links").json()
        record = [item for item in received if item["context_id"] == "c-dl"][-1]
        self.assertEqual(record["user_id"], "u-dl")
        self.assertEqual(record["msg"], "One badge added")
        self.assertEqual(record["content_items"][0]["title"], "Badge")

        replay = post_form(settings["deep_link_return_url"], {"JWT": self.tool.key.sign(response_claims)})
        self.assertEqual(replay.status, 400, "a deep linking request must be answered only once")

    def test_deep_linking_response_rejections(self) -> None:
        claims, _, _ = self.launch(user="u-dl2", role="Instructor", course="c-dl2", message="deeplink")
        data = claims[LTI_DL + "deep_linking_settings"]["data"]
        return_url = self.base_url + "/deep_links/return"
        now = int(time.time())
        valid = {
            "iss": CLIENT_ID,
            "aud": self.ready["issuer"],
            "iat": now,
            "exp": now + 300,
            "nonce": "n",
            LTI + "deployment_id": DEPLOYMENT_ID,
            LTI + "message_type": "LtiDeepLinkingResponse",
            LTI + "version": "1.3.0",
            LTI_DL + "data": data,
            LTI_DL + "content_items": [],
        }
        cases = {
            "wrong audience": {"aud": "https://other.example.test"},
            "wrong issuer": {"iss": "someone-else"},
            "wrong deployment": {LTI + "deployment_id": "other"},
            "unknown data": {LTI_DL + "data": "not-issued"},
            "wrong message type": {LTI + "message_type": "LtiResourceLinkRequest"},
            "unsupported item type": {LTI_DL + "content_items": [{"type": "video"}]},
            "expired": {"exp": now - 60},
        }
        for name, change in cases.items():
            with self.subTest(case=name):
                result = post_form(return_url, {"JWT": self.tool.key.sign({**valid, **change})})
                self.assertEqual(result.status, 400, result.text())
        with self.subTest(case="unknown key id"):
            result = post_form(return_url, {"JWT": self.tool.key.sign(valid, kid="unknown-kid")})
            self.assertEqual(result.status, 400, result.text())

    def test_submission_review_launch_claims(self) -> None:
        claims, _, _ = self.launch(
            user="u-teacher", role="Instructor", course="c-review", resource_link="rl-review",
            message="review", for_user="u-student",
        )
        self.assertEqual(claims[LTI + "message_type"], "LtiSubmissionReviewRequest")
        self.assertEqual(claims[LTI + "for_user"], {"user_id": "u-student"})
        self.assertEqual(claims[LTI + "resource_link"]["id"], "rl-review")
        self.assertIn("lineitem", claims[LTI_AGS])

    # --- rejected requests ---

    def test_launch_rejects_bad_parameters(self) -> None:
        cases = {
            "missing user": {"course": "c", "resource_link": "r"},
            "missing course": {"user": "u", "resource_link": "r"},
            "missing resource link": {"user": "u", "course": "c"},
            "unknown role": {"user": "u", "course": "c", "resource_link": "r", "role": "Janitor"},
            "unknown message": {"user": "u", "course": "c", "resource_link": "r", "message": "other"},
            "review without for_user": {"user": "u", "course": "c", "resource_link": "r", "message": "review"},
            "unknown parameter": {"user": "u", "course": "c", "resource_link": "r", "colour": "red"},
        }
        for name, params in cases.items():
            with self.subTest(case=name):
                result = http("GET", self.base_url + "/launch?" + urllib.parse.urlencode(params))
                self.assertEqual(result.status, 400, result.text())

    def test_authorize_rejects_invalid_requests(self) -> None:
        _, authorize_url = self.begin_launch(user="u-bad", course="c-bad", resource_link="rl-bad")
        cases: t.Dict[str, t.Dict[str, t.Optional[str]]] = {
            "wrong client_id": {"client_id": "other-client"},
            "unregistered redirect_uri": {"redirect_uri": self.tool.base_url + "/elsewhere"},
            "missing nonce": {"nonce": None},
            "missing state": {"state": None},
            "login_hint of another user": {"login_hint": "u-other"},
            "wrong response_type": {"response_type": "code"},
            "scope without openid": {"scope": "profile"},
            "wrong response_mode": {"response_mode": "query"},
            "prompt other than none": {"prompt": "login"},
            "unknown lti_message_hint": {"lti_message_hint": "not-issued"},
        }
        for name, change in cases.items():
            with self.subTest(case=name):
                result = http("GET", replace_query(authorize_url, change))
                self.assertEqual(result.status, 400, result.text())

        # A rejected request leaves the launch pending, but a used one cannot be
        # replayed. prompt may be absent.
        first = http("GET", replace_query(authorize_url, {"prompt": None}))
        self.assertEqual(first.status, 200, first.text())
        replay = http("GET", replace_query(authorize_url, {"prompt": None}))
        self.assertEqual(replay.status, 400, replay.text())

    def test_unknown_path_not_found(self) -> None:
        self.assertEqual(http("GET", self.base_url + "/nothing-here").status, 404)
        self.assertEqual(http("POST", self.base_url + "/jwks", b"", {}).status, 405)

    # --- token endpoint ---

    def test_token_grant_issues_access_token(self) -> None:
        result = self.request_token([AGS_SCOPE + "score", NRPS_SCOPE, "https://example.test/unknown"])
        self.assertEqual(result.status, 200, result.text())
        body = result.json()
        self.assertEqual(body["token_type"], "bearer")
        self.assertEqual(body["expires_in"], 3600)
        self.assertEqual(body["scope"].split(), [AGS_SCOPE + "score", NRPS_SCOPE])
        self.assertEqual(result.headers["Cache-Control"], "no-store")
        self.assertTrue(body["access_token"])

    def test_token_grant_rejections(self) -> None:
        other_key = ToolKey()
        replayed = self.client_assertion()
        self.assertEqual(self.request_token([AGS_SCOPE + "score"], replayed).status, 200)
        cases = {
            "replayed jti": (replayed, 401, "invalid_client"),
            "wrong audience": (self.client_assertion(aud="https://other.example.test/token"), 401, "invalid_client"),
            "wrong issuer": (self.client_assertion(iss="other-client"), 401, "invalid_client"),
            "wrong subject": (self.client_assertion(sub="other-client"), 401, "invalid_client"),
            "missing jti": (self.client_assertion(jti=None), 401, "invalid_client"),
            "expired": (self.client_assertion(exp=int(time.time()) - 60), 401, "invalid_client"),
            "signed by another key": (other_key.sign(jwt.decode(self.client_assertion(), options={"verify_signature": False}), kid=self.tool.key.kid), 401, "invalid_client"),
        }
        for name, (assertion, status, error) in cases.items():
            with self.subTest(case=name):
                result = self.request_token([AGS_SCOPE + "score"], assertion)
                self.assertEqual(result.status, status, result.text())
                self.assertEqual(result.json()["error"], error)

        with self.subTest(case="unsupported scopes only"):
            result = self.request_token(["https://example.test/unknown"])
            self.assertEqual(result.status, 400, result.text())
            self.assertEqual(result.json()["error"], "invalid_scope")
        with self.subTest(case="wrong grant type"):
            result = post_form(
                self.ready["token_url"],
                {"grant_type": "password", "client_assertion_type": JWT_BEARER,
                 "client_assertion": self.client_assertion(), "scope": AGS_SCOPE + "score"},
            )
            self.assertEqual(result.status, 400, result.text())
            self.assertEqual(result.json()["error"], "unsupported_grant_type")
        with self.subTest(case="missing client_assertion"):
            result = post_form(
                self.ready["token_url"],
                {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "scope": AGS_SCOPE + "score"},
            )
            self.assertEqual(result.status, 400, result.text())
            self.assertEqual(result.json()["error"], "invalid_request")
        with self.subTest(case="JSON body"):
            result = http("POST", self.ready["token_url"], b"{}", {"Content-Type": "application/json"})
            self.assertEqual(result.status, 400, result.text())

    # --- assignment and grade services ---

    def test_ags_scores_stored(self) -> None:
        claims, _, _ = self.launch(user="u-score", course="c-score", resource_link="rl-score")
        lineitem_url = claims[LTI_AGS]["lineitem"]
        token = self.access_token([AGS_SCOPE + "score"])
        score = {
            "userId": "u-score",
            "scoreGiven": 7,
            "scoreMaximum": 10,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "timestamp": "2026-01-01T10:00:00.000+00:00",
            "comment": "Well done",
        }

        created = self.post_score(lineitem_url, token, score)
        self.assertEqual(created.status, 201, created.text())
        newer = self.post_score(lineitem_url, token, {**score, "scoreGiven": 9, "timestamp": "2026-01-01T11:00:00.000Z"})
        self.assertEqual(newer.status, 200, newer.text())
        older = self.post_score(lineitem_url, token, {**score, "scoreGiven": 1, "timestamp": "2025-12-31T10:00:00.000Z"})
        self.assertEqual(older.status, 409, older.text())
        nanoseconds = self.post_score(lineitem_url, token, {**score, "scoreGiven": 10, "timestamp": "2026-01-01T12:00:00.123456789Z"})
        self.assertEqual(nanoseconds.status, 200, nanoseconds.text())

        received = [item for item in http("GET", self.base_url + "/scores").json() if item["context_id"] == "c-score"]
        self.assertEqual([item["score"]["scoreGiven"] for item in received], [7, 9, 10])
        self.assertEqual(received[0]["line_item_url"], lineitem_url)
        self.assertEqual(received[0]["score"]["comment"], "Well done")

    def test_ags_score_rejections(self) -> None:
        claims, _, _ = self.launch(user="u-reject", course="c-reject", resource_link="rl-reject")
        lineitem_url = claims[LTI_AGS]["lineitem"]
        token = self.access_token([AGS_SCOPE + "score"])
        nrps_token = self.access_token([NRPS_SCOPE])
        valid = {
            "userId": "u-reject",
            "activityProgress": "Submitted",
            "gradingProgress": "Pending",
            "timestamp": "2026-01-01T10:00:00.000Z",
        }
        invalid_scores = {
            "missing userId": {key: value for key, value in valid.items() if key != "userId"},
            "missing timestamp": {key: value for key, value in valid.items() if key != "timestamp"},
            "timestamp without offset": {**valid, "timestamp": "2026-01-01T10:00:00"},
            "unknown activityProgress": {**valid, "activityProgress": "Done"},
            "scoreGiven without scoreMaximum": {**valid, "scoreGiven": 3},
            "negative scoreGiven": {**valid, "scoreGiven": -1, "scoreMaximum": 10},
        }
        for name, score in invalid_scores.items():
            with self.subTest(case=name):
                result = self.post_score(lineitem_url, token, score)
                self.assertEqual(result.status, 400, result.text())

        with self.subTest(case="wrong Content-Type"):
            self.assertEqual(self.post_score(lineitem_url, token, valid, "application/json").status, 415)
        with self.subTest(case="no token"):
            result = http("POST", lineitem_url + "/scores", json.dumps(valid).encode(), {"Content-Type": SCORE_MEDIA_TYPE})
            self.assertEqual(result.status, 401, result.text())
        with self.subTest(case="token without score scope"):
            self.assertEqual(self.post_score(lineitem_url, nrps_token, valid).status, 401)
        with self.subTest(case="forged token"):
            forged = self.tool.key.sign({"iss": self.ready["issuer"], "sub": CLIENT_ID, "scopes": AGS_SCOPE + "score"})
            self.assertEqual(self.post_score(lineitem_url, forged, valid).status, 401)
        with self.subTest(case="unknown line item"):
            self.assertEqual(self.post_score(lineitem_url + "-missing", token, valid).status, 404)
        with self.subTest(case="valid score after rejections"):
            self.assertEqual(self.post_score(lineitem_url, token, valid).status, 201)

    def test_ags_line_item_lifecycle(self) -> None:
        claims, _, _ = self.launch(user="u-li", course="c-li", resource_link="rl-li")
        lineitems_url = claims[LTI_AGS]["lineitems"]
        token = self.access_token(
            [AGS_SCOPE + "lineitem", AGS_SCOPE + "result.readonly", AGS_SCOPE + "score"]
        )
        auth = {"Authorization": "Bearer " + token}
        json_headers = {**auth, "Content-Type": LINEITEM_MEDIA_TYPE}

        new_item = {"label": "Extra badge", "scoreMaximum": 50, "resourceLinkId": "rl-li", "tag": "badge"}
        created = http("POST", lineitems_url, json.dumps(new_item).encode(), json_headers)
        self.assertEqual(created.status, 201, created.text())
        item = created.json()
        self.assertTrue(item["id"].startswith(lineitems_url + "/"))
        self.assertEqual(item["label"], "Extra badge")

        listed = http("GET", lineitems_url, headers=auth)
        self.assertEqual(listed.status, 200, listed.text())
        self.assertEqual(listed.headers["Content-Type"], "application/vnd.ims.lis.v2.lineitemcontainer+json")
        self.assertEqual(len(listed.json()), 2)
        tagged = http("GET", lineitems_url + "?tag=badge", headers=auth).json()
        self.assertEqual([entry["id"] for entry in tagged], [item["id"]])
        first_page = http("GET", lineitems_url + "?limit=1", headers=auth)
        self.assertEqual(len(first_page.json()), 1)
        self.assertIn("rel=next", first_page.headers["Link"])

        updated = http("PUT", item["id"], json.dumps({**new_item, "label": "Renamed"}).encode(), json_headers)
        self.assertEqual(updated.status, 200, updated.text())
        self.assertEqual(http("GET", item["id"], headers=auth).json()["label"], "Renamed")

        score = {
            "userId": "u-li", "scoreGiven": 40, "scoreMaximum": 50, "activityProgress": "Completed",
            "gradingProgress": "FullyGraded", "timestamp": "2026-02-01T00:00:00.000Z",
        }
        self.assertEqual(self.post_score(item["id"], token, score).status, 201)
        results = http("GET", item["id"] + "/results", headers=auth)
        self.assertEqual(results.status, 200, results.text())
        self.assertEqual(results.json()[0]["userId"], "u-li")
        self.assertEqual(results.json()[0]["resultScore"], 40)

        invalid = http("POST", lineitems_url, json.dumps({"label": "No maximum"}).encode(), json_headers)
        self.assertEqual(invalid.status, 400, invalid.text())
        foreign_link = http("POST", lineitems_url, json.dumps({**new_item, "resourceLinkId": "rl-other"}).encode(), json_headers)
        self.assertEqual(foreign_link.status, 400, foreign_link.text())

        self.assertEqual(http("DELETE", item["id"], headers=auth).status, 204)
        self.assertEqual(http("GET", item["id"], headers=auth).status, 404)
        self.assertEqual(http("GET", self.base_url + "/ags/contexts/no-such-course/lineitems", headers=auth).status, 404)

    def test_ags_read_only_token_cannot_create(self) -> None:
        claims, _, _ = self.launch(user="u-ro", course="c-ro", resource_link="rl-ro")
        token = self.access_token([AGS_SCOPE + "lineitem.readonly"])
        headers = {"Authorization": "Bearer " + token, "Content-Type": LINEITEM_MEDIA_TYPE}
        listed = http("GET", claims[LTI_AGS]["lineitems"], headers=headers)
        self.assertEqual(listed.status, 200, listed.text())
        created = http("POST", claims[LTI_AGS]["lineitems"], json.dumps({"label": "x", "scoreMaximum": 1}).encode(), headers)
        self.assertEqual(created.status, 401, created.text())

    # --- names and role provisioning ---

    def test_nrps_lists_launched_members(self) -> None:
        claims, _, _ = self.launch(user="u-m1", role="Learner", course="c-nrps", resource_link="rl-n", name="Mia")
        self.launch(user="u-m2", role="Instructor", course="c-nrps", resource_link="rl-n")
        url = claims[LTI_NRPS]["context_memberships_url"]
        auth = {"Authorization": "Bearer " + self.access_token([NRPS_SCOPE])}

        result = http("GET", url, headers=auth)
        self.assertEqual(result.status, 200, result.text())
        self.assertEqual(result.headers["Content-Type"], "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
        body = result.json()
        self.assertEqual(body["id"], url)
        self.assertEqual(body["context"]["id"], "c-nrps")
        members = {member["user_id"]: member for member in body["members"]}
        self.assertEqual(set(members), {"u-m1", "u-m2"})
        self.assertEqual(members["u-m1"]["roles"], [LIS + "membership#Learner"])
        self.assertEqual(members["u-m1"]["name"], "Mia")
        self.assertEqual(members["u-m1"]["status"], "Active")

        learners = http("GET", url + "?role=Learner", headers=auth).json()["members"]
        self.assertEqual([member["user_id"] for member in learners], ["u-m1"])
        paged = http("GET", url + "?limit=1", headers=auth)
        self.assertEqual(len(paged.json()["members"]), 1)
        self.assertIn("rel=next", paged.headers["Link"])
        self.assertEqual(http("GET", url + "?rlid=rl-unknown", headers=auth).status, 403)

        ags_token = self.access_token([AGS_SCOPE + "score"])
        self.assertEqual(http("GET", url, headers={"Authorization": "Bearer " + ags_token}).status, 401)
        self.assertEqual(http("GET", url).status, 401)


class PeerLifecycleTest(unittest.TestCase):
    """Start-up checks and the ways the peer platform stops."""

    def start_peer(self, tool_base_url: str = "http://127.0.0.1:9", extra_args: t.Sequence[str] = ()) -> PeerProcess:
        peer = PeerProcess(tool_base_url, extra_args)
        self.addCleanup(peer.cleanup)
        return peer

    def test_sigterm_stops_platform(self) -> None:
        peer = self.start_peer()
        peer.read_ready_line()
        peer.process.send_signal(signal.SIGTERM)
        self.assertEqual(peer.process.wait(EXIT_TIMEOUT_SECONDS), 0, peer.log())

    def test_stdin_close_stops_platform(self) -> None:
        peer = self.start_peer()
        peer.read_ready_line()
        self.assertEqual(peer.close_stdin_and_wait(), 0, peer.log())
        self.assertIn("stdin closed", peer.log())

    def test_non_loopback_tool_rejected(self) -> None:
        peer = self.start_peer("http://192.0.2.10:8080")
        self.assertEqual(peer.process.wait(EXIT_TIMEOUT_SECONDS), 2)
        self.assertIn("must be an http(s) URL on localhost", peer.log())

    def test_key_file_reused(self) -> None:
        with tempfile.TemporaryDirectory() as directory:
            key_file = Path(directory) / "platform-key.pem"
            kids = []
            for _ in range(2):
                peer = self.start_peer(extra_args=["--key-file", str(key_file)])
                ready = peer.read_ready_line()
                kids.append(http("GET", ready["jwks_url"]).json()["keys"][0]["kid"])
                self.assertEqual(peer.close_stdin_and_wait(), 0, peer.log())
            self.assertEqual(kids[0], kids[1])
            self.assertEqual(key_file.stat().st_mode & 0o777, 0o600)

    def test_custom_issuer(self) -> None:
        peer = self.start_peer(extra_args=["--issuer", "https://lms.example.test"])
        ready = peer.read_ready_line()
        self.assertEqual(ready["issuer"], "https://lms.example.test")
        self.assertEqual(peer.close_stdin_and_wait(), 0, peer.log())


if __name__ == "__main__":
    unittest.main()
