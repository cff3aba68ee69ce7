#!/usr/bin/env python3
"""Run an LTI 1.3 platform (an LMS stand-in) built on lti1p3platform, for integration tests.

The platform serves one tool registration on 127.0.0.1. When it is ready it prints
one line of JSON to stdout with its issuer, client_id, deployment_id and endpoint
URLs. Logs go to stderr. It stops on SIGTERM or SIGINT, and when stdin is a pipe,
also when that pipe closes, so a test harness that dies takes the platform with it.

Endpoints:
  GET  /jwks                 platform public keys
  GET  /launch?user=..       start a launch (302 to the tool's login initiation URL)
  GET|POST /authorize        OIDC authorization endpoint (auto-submitting id_token form)
  POST /token                OAuth 2 client credentials grant with a JWT assertion
  POST /deep_links/return    deep linking response from the tool
  /ags/contexts/{context}/lineitems[/{item}[/scores|/results]]   AGS
  GET  /nrps/contexts/{context}/memberships                      NRPS
  GET  /scores, GET /deep_links   test-only: what the tool sent so far, as JSON
  GET  /return               launch_presentation return_url landing page
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import stat
import sys
import threading
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from peer_advantage import AdvantageStore, AdvantageUrls
from peer_endpoints import HttpRequest, HttpResponse, PeerPlatform, route, text_response
from peer_lti import PlatformSettings, is_loopback_url

logger = logging.getLogger("peer_platform")

MAX_REQUEST_BODY_BYTES = 1024 * 1024
RSA_KEY_BITS = 2048


class PeerHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    platform: PeerPlatform


class PeerRequestHandler(BaseHTTPRequestHandler):
    server: PeerHttpServer
    server_version = "microcred-peer-platform"

    def do_GET(self) -> None:
        self.handle_request()

    def do_POST(self) -> None:
        self.handle_request()

    def do_PUT(self) -> None:
        self.handle_request()

    def do_DELETE(self) -> None:
        self.handle_request()

    def handle_request(self) -> None:
        path, _, query_string = self.path.partition("?")
        try:
            response = self.read_and_route(path, query_string)
        except Exception:  # pylint: disable=broad-except
            logger.exception("%s %s failed", self.command, path)
            response = text_response(500, "Internal error in the peer platform; see its log")
        self.send_http_response(response)

    def read_and_route(self, path: str, query_string: str) -> HttpResponse:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return text_response(411, "Chunked request bodies are not supported; send Content-Length")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return text_response(400, "Content-Length is not an integer")
        if length < 0 or length > MAX_REQUEST_BODY_BYTES:
            return text_response(413, f"Request body must be 0 to {MAX_REQUEST_BODY_BYTES} bytes")
        body = self.rfile.read(length) if length else b""

        request = HttpRequest(
            method=self.command,
            path=path,
            query_string=query_string,
            headers=self.headers,
            body=body,
        )
        return route(self.server.platform, request)

    def send_http_response(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: t.Any) -> None:  # pylint: disable=redefined-builtin
        logger.info("%s %s", self.address_string(), format % args)


def load_or_generate_key(key_file: t.Optional[Path]) -> t.Tuple[str, str]:
    """Return the platform's RSA key pair as (private PEM, public PEM).

    Loads key_file when it exists. Otherwise generates a key, and saves it to
    key_file (mode 0600) when a path is given, so later runs reuse it.
    """
    if key_file is not None and key_file.exists():
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{key_file} does not contain an RSA private key")
        logger.info("Loaded platform key from %s", key_file)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)

    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )

    if key_file is not None and not key_file.exists():
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as output:
            output.write(private_pem)
        logger.info("Generated platform key and saved it to %s", key_file)

    return private_pem.decode("ascii"), public_pem.decode("ascii")


def parse_args(argv: t.Optional[t.List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run an LTI 1.3 test platform built on lti1p3platform, on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port to listen on, or 0 for a free port (default: 0)")
    parser.add_argument("--tool-base-url", required=True, help="base URL of the tool on a loopback address, for example http://127.0.0.1:8080")
    parser.add_argument("--client-id", required=True, help="client_id of the tool's registration")
    parser.add_argument("--deployment-id", required=True, help="deployment_id of the tool's registration")
    parser.add_argument("--issuer", help="issuer (iss) of the platform (default: its own base URL)")
    parser.add_argument("--tool-login-url", help="tool's login initiation URL (default: {tool}/lti/login)")
    parser.add_argument("--tool-launch-url", help="tool's launch and redirect URL (default: {tool}/lti/launch)")
    parser.add_argument("--tool-deep-link-url", help="tool's deep linking launch URL (default: the launch URL)")
    parser.add_argument("--tool-jwks-url", help="tool's public key set URL (default: {tool}/.well-known/jwks.json)")
    parser.add_argument("--key-file", type=Path, help="PEM file of the platform's RSA private key, created when missing (default: a new key each run)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level on stderr (default: INFO)")
    return parser.parse_args(argv)


def build_settings(args: argparse.Namespace, base_url: str, private_pem: str, public_pem: str) -> PlatformSettings:
    tool_base_url = args.tool_base_url.rstrip("/")
    launch_url = args.tool_launch_url or tool_base_url + "/lti/launch"
    return PlatformSettings(
        issuer=args.issuer or base_url,
        client_id=args.client_id,
        deployment_id=args.deployment_id,
        base_url=base_url,
        tool_login_url=args.tool_login_url or tool_base_url + "/lti/login",
        tool_launch_url=launch_url,
        tool_deep_link_url=args.tool_deep_link_url or launch_url,
        tool_jwks_url=args.tool_jwks_url or tool_base_url + "/.well-known/jwks.json",
        private_key_pem=private_pem,
        public_key_pem=public_pem,
    )


def check_tool_urls(args: argparse.Namespace) -> t.Optional[str]:
    """Return an error message when a tool URL is not http(s) on a loopback address."""
    options = {
        "--tool-base-url": args.tool_base_url,
        "--tool-login-url": args.tool_login_url,
        "--tool-launch-url": args.tool_launch_url,
        "--tool-deep-link-url": args.tool_deep_link_url,
        "--tool-jwks-url": args.tool_jwks_url,
    }
    for option, url in options.items():
        if url is not None and not is_loopback_url(url):
            return f"{option} {url!r} must be an http(s) URL on localhost, 127.0.0.0/8 or [::1]"
    return None


def is_stdin_a_pipe() -> bool:
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def watch_stdin(stop: threading.Event) -> None:
    """Set stop when stdin reaches end of file, which happens when the parent closes the pipe or dies."""
    # os.read holds no lock of sys.stdin, so the interpreter can exit while
    # this daemon thread is still blocked here after a signal.
    descriptor = sys.stdin.fileno()
    while os.read(descriptor, 4096):
        pass
    logger.info("stdin closed, stopping")
    stop.set()


def main(argv: t.Optional[t.List[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    url_error = check_tool_urls(args)
    if url_error:
        logger.error("%s", url_error)
        return 2

    try:
        private_pem, public_pem = load_or_generate_key(args.key_file)
    except (OSError, ValueError) as error:
        logger.error("Loading the platform key from %s failed: %s", args.key_file, error)
        return 1

    try:
        server = PeerHttpServer(("127.0.0.1", args.port), PeerRequestHandler)
    except OSError as error:
        logger.error("Binding 127.0.0.1:%d failed: %s", args.port, error)
        return 1

    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    settings = build_settings(args, base_url, private_pem, public_pem)
    server.platform = PeerPlatform(settings, AdvantageStore(AdvantageUrls(base_url)))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())

    server_thread = threading.Thread(target=server.serve_forever, name="http-server", daemon=True)
    server_thread.start()
    logger.info(
        "Listening on %s for tool %s (login %s, launch %s)",
        base_url, args.tool_base_url, settings.tool_login_url, settings.tool_launch_url,
    )

    ready = {
        "issuer": settings.issuer,
        "client_id": settings.client_id,
        "deployment_id": settings.deployment_id,
        "auth_url": settings.auth_url,
        "token_url": settings.token_url,
        "jwks_url": settings.jwks_url,
        "base_url": base_url,
    }
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()

    if is_stdin_a_pipe():
        threading.Thread(target=watch_stdin, args=(stop,), name="stdin-watch", daemon=True).start()

    # A timed wait lets the main thread run the signal handlers promptly.
    while not stop.wait(0.5):
        pass

    server.shutdown()
    server.server_close()
    logger.info("Stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
