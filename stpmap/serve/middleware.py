"""The ASGI middlewares of ``stpmap serve``, from the outside in.

* :class:`SecurityHeadersMiddleware`: ``nosniff``, frame and referrer
  protection and a Content-Security-Policy on every answer.
* CORS (Starlette's, when origins are given): outside everything below, so that
  a browser can read every error, 413, 414, 431 and 500 included.
* :class:`RequestLimitsMiddleware`: over-long URLs (414), over-large headers
  (431) and bodies (413) are answered in JSON before the request is read.
* :class:`InternalErrorMiddleware`: anything unexpected is a JSON 500 (the
  details go to the log only).

The app adds them in :func:`stpmap.serve.app.create_app`; FastAPI's exception
handlers (:mod:`stpmap.serve.errors`) sit inside all of them.
"""

from __future__ import annotations

import logging

from stpmap.serve.responses import dumps
from stpmap.serve.schemas import MAX_POSTCODES
from stpmap.serve.security import API_POLICY, SECURITY_HEADERS

log = logging.getLogger("stpmap.serve")

#: Default request body limit in bytes (10,000 postcodes take about 120 kB).
MAX_BODY_BYTES = 1_048_576
#: Longest URL (path and query) answered; longer is a 414.
MAX_URL_BYTES = 8_192
#: Most bytes of request headers (names and values) answered; more is a 431.
MAX_HEADER_BYTES = 32_768
#: The ASGI scope extension in which the server tells the app that it cut a
#: request short: ``{"part": "url", "bytes": N}`` (see :mod:`stpmap.serve.protocol`).
OVERSIZE_EXTENSION = "stpmap.oversize"


class SecurityHeadersMiddleware:
    """Add :data:`~stpmap.serve.security.SECURITY_HEADERS` and a default
    Content-Security-Policy to every answer; a header the answer already has
    (e.g. the map page's own policy) is kept."""

    def __init__(self, app, policy: str = API_POLICY):
        self.app = app
        self._headers = (*SECURITY_HEADERS, (b"content-security-policy", policy.encode("ascii")))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or ())
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in self._headers if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestLimitsMiddleware:
    """Answer in JSON, before the request is read: 414 for a URL longer than
    ``max_url_bytes``, 431 for headers larger than ``max_header_bytes``, 413
    for a body larger than ``max_body_bytes``.

    A declared ``Content-Length`` is checked before anything is read; a body
    without one (chunked) is read up to the limit, then handed on. A URL too
    long for the HTTP parser itself is cut short by stpmap's uvicorn protocol,
    which says so in the :data:`OVERSIZE_EXTENSION` of the scope.
    """

    def __init__(self, app, max_body_bytes: int = MAX_BODY_BYTES, max_url_bytes: int = MAX_URL_BYTES,
                 max_header_bytes: int = MAX_HEADER_BYTES):
        self.app = app
        self.max_body_bytes = int(max_body_bytes)
        self.max_url_bytes = int(max_url_bytes)
        self.max_header_bytes = int(max_header_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        oversize = (scope.get("extensions") or {}).get(OVERSIZE_EXTENSION)
        url_bytes = oversize["bytes"] if oversize else len(scope.get("raw_path") or b"") + len(scope["query_string"])
        if url_bytes > self.max_url_bytes:
            return await send_json(send, 414, self._url_too_long(url_bytes))
        length = chunked = None
        header_bytes = 0
        for k, val in scope["headers"]:
            header_bytes += len(k) + len(val)
            if k == b"content-length":
                length = val
            elif k == b"transfer-encoding" and b"chunked" in val.lower():
                chunked = True
        if header_bytes > self.max_header_bytes:
            return await send_json(send, 431, self._headers_too_large(header_bytes))
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                return await send_json(send, 400, {"error": "bad_request", "message": "The Content-Length header is not a number."})
            if n > self.max_body_bytes:
                return await send_json(send, 413, self._too_large(n))
            return await self.app(scope, receive, send)
        if not chunked:
            return await self.app(scope, receive, send)
        return await self._chunked(scope, receive, send)

    async def _chunked(self, scope, receive, send):
        messages, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            total += len(message.get("body", b""))
            if total > self.max_body_bytes:
                return await send_json(send, 413, self._too_large(None))
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay():
            if messages:
                return messages.pop(0)
            return await receive()

        return await self.app(scope, replay, send)

    def _too_large(self, n):
        size = f"{n:,} bytes" if n is not None else "more than that"
        return {
            "error": "request_too_large",
            "message": f"The request body is {size}; the limit is {self.max_body_bytes:,} bytes. "
                       f"Send at most {MAX_POSTCODES:,} postcodes per request and split larger lists.",
            "limit_bytes": self.max_body_bytes,
        }

    def _url_too_long(self, n):
        return {
            "error": "url_too_long",
            "message": f"The URL is {n:,} bytes; the limit is {self.max_url_bytes:,} bytes. "
                       "Send many postcodes in the body of POST /postcodes, not in the URL. See /docs.",
            "limit_bytes": self.max_url_bytes,
        }

    def _headers_too_large(self, n):
        return {
            "error": "headers_too_large",
            "message": f"The request headers are {n:,} bytes; the limit is {self.max_header_bytes:,} bytes. "
                       "Send fewer or shorter headers (large cookies?).",
            "limit_bytes": self.max_header_bytes,
        }


class InternalErrorMiddleware:
    """Answer an unexpected exception with a JSON 500 and log it; the body
    names nothing of the server's internals.

    It sits inside CORS and the security headers (Starlette's own 500 handler
    sits outside every middleware, so its answers would lack them).
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("stpmap serve: error answering %s %s", scope.get("method"), scope.get("path"))
            if started:  # too late for an answer: the server closes the connection
                raise
            await send_json(send, 500, {"error": "internal_error",
                                        "message": "The server failed to answer this request; the details are in its log."},
                            close=False)


async def send_json(send, status: int, body: dict, close: bool = True):
    """Send ``body`` as a whole JSON answer; ``close``: the connection closes
    after it (the request body, if any, is left unread)."""
    data = dumps(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
