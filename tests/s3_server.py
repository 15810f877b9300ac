"""A local S3 for the tests: moto in server mode, plus what moto does not check.

moto serves presigned URLs without looking at their signature or their lifetime, so
:class:`PresignedUrlCheck` does what S3 does before moto sees the request: it recomputes
the SigV4 query signature with botocore's own signer and the secret of the access key,
and refuses a URL whose signature does not match the request (another key, another
bucket, a changed parameter) or whose ``X-Amz-Expires`` is over. Requests signed in the
Authorization header (boto3's own calls) go straight to moto.

Also here: servers that fail the way S3 can, for the fault tests (every answer a 500;
a connection that is accepted and never answered).

moto (about a second to import) is imported when a :class:`LocalS3` starts, not with
this module: every xdist worker collects the S3 tests, one runs them.
"""

from __future__ import annotations

import hmac
import logging
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "tessera-test-key"
SECRET_KEY = "tessera-test-secret"
REGION = "eu-west-1"
MAX_EXPIRES = 7 * 24 * 3600  # S3 refuses presigned URLs that claim more than a week
# How often the servers' threads look for a stop: stopping one waits this long at most
# (socketserver's default poll, 0.5 s, cost every fault test half a second).
STOP_POLL_SECONDS = 0.05


def _error(start_response, code: str, message: str) -> list[bytes]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    start_response(
        "403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )
    return [body]


class PresignedUrlCheck:
    """WSGI middleware: S3's checks of a presigned URL, in front of moto."""

    def __init__(self, app, secrets: dict[str, str]):
        self.app = app
        self.secrets = secrets

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING", "")
        if "X-Amz-Signature=" in query:
            problem = self.problem(environ, query)
            if problem is not None:
                return _error(start_response, *problem)
        return self.app(environ, start_response)

    def problem(self, environ, query: str) -> tuple[str, str] | None:
        params = {key: values[0] for key, values in parse_qs(query, True).items()}
        try:
            access_key, _, region, service, _ = params["X-Amz-Credential"].split("/")
            timestamp = params["X-Amz-Date"]
            expires = int(params["X-Amz-Expires"])
            signed_headers = params["X-Amz-SignedHeaders"].split(";")
            signature = params["X-Amz-Signature"]
            signed_at = datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except (KeyError, ValueError):
            return ("AuthorizationQueryParametersError", "Malformed presigned URL.")
        secret = self.secrets.get(access_key)
        if secret is None:
            return ("InvalidAccessKeyId", "The AWS Access Key Id does not exist.")
        if not 0 < expires <= MAX_EXPIRES:
            return ("AuthorizationQueryParametersError", "X-Amz-Expires is out of range.")
        # The query as sent (already canonically encoded by the signer), less the signature.
        unsigned_query = "&".join(
            part for part in query.split("&") if not part.startswith("X-Amz-Signature=")
        )
        raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"]
        raw_path = raw_path.split("?", 1)[0]
        host = environ.get("HTTP_HOST", "")
        headers = {"host": host}
        for name in signed_headers:
            if name != "host":
                headers[name] = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
        request = AWSRequest(
            method=environ["REQUEST_METHOD"],
            url=f"http://{host}{raw_path}?{unsigned_query}",
            headers=headers,
        )
        request.context["timestamp"] = timestamp
        signer = S3SigV4QueryAuth(Credentials(access_key, secret), service, region, expires)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, signature):
            return (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if datetime.now(UTC) > signed_at + timedelta(seconds=expires):
            return ("AccessDenied", "Request has expired")
        return None


def free_port(preferred: int) -> int:
    """``preferred`` when nothing listens there, else a port the system picks: another
    suite on the same machine may hold the preferred one."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalS3:
    """moto's S3 in server mode on 127.0.0.1:``port``, behind :class:`PresignedUrlCheck`,
    in a thread (what moto's ``ThreadedMotoServer`` does, with a failed bind reported
    instead of waited on forever)."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
        app = PresignedUrlCheck(
            DomainDispatcherApplication(create_backend_app), {ACCESS_KEY: SECRET_KEY}
        )
        try:
            self._server = make_server(
                "127.0.0.1", self._port, app, True, request_handler=MotoRequestHandler
            )
        except Exception as exc:
            raise RuntimeError(f"the local S3 could not listen on {self.url}") from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(STOP_POLL_SECONDS,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()


class _Always500(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"  # noqa: E501
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(500)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

    def log_message(self, format, *args):
        pass


class FailingS3:
    """An endpoint that answers every request with S3's 500 InternalError."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Always500)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(STOP_POLL_SECONDS,), daemon=True
        )

    def __enter__(self) -> FailingS3:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class SilentS3:
    """An endpoint that accepts connections and never answers (a hung S3): only the
    client's read timeout ends the wait."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self._socket.listen(64)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self._socket.settimeout(STOP_POLL_SECONDS)
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)

    def __enter__(self) -> SilentS3:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self._held:
            connection.close()
        self._socket.close()


def closed_port_url(port: int) -> str:
    """The URL of a port nothing listens on (checked): connections are refused."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} was meant to be closed, but something listens")
    return f"http://127.0.0.1:{port}"
