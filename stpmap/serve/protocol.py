"""The HTTP protocol ``stpmap serve`` runs uvicorn with: uvicorn's httptools
protocol, changed so that the requests it refuses are answered in JSON too.

uvicorn answers some requests itself, before the app sees them, with a
``text/plain`` 400 "Invalid HTTP request received.": anything httptools cannot
parse, and any URL longer than 65,535 bytes (httptools' URL parser keeps
offsets in 16 bits). This protocol:

* stops keeping a URL past :data:`~stpmap.serve.middleware.MAX_URL_BYTES` and
  hands the request to the app with the path ``/`` and the URL's real length
  in the scope (:data:`~stpmap.serve.middleware.OVERSIZE_EXTENSION`), so that
  the app answers its JSON 414 with the CORS and security headers (a URL is
  never held whole, however long);
* refuses a request head (request line and headers) larger than
  :data:`MAX_HEAD_BYTES` as soon as it has read that much, with a JSON 431,
  instead of buffering it whole;
* writes its own 400 for unparseable requests as JSON, with the security
  headers. Those two answers carry no CORS header: the request's ``Origin``
  may not have been read, and such a request never comes from a browser's
  ``fetch``.

Without httptools (it is in the ``serve`` extra) uvicorn falls back to its h11
protocol, whose refusals stay ``text/plain``.
"""

from __future__ import annotations

from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stpmap.serve.middleware import MAX_URL_BYTES, OVERSIZE_EXTENSION
from stpmap.serve.responses import dumps
from stpmap.serve.security import API_POLICY, SECURITY_HEADERS

#: Most bytes read of one request head (request line and headers) before it is refused (431).
MAX_HEAD_BYTES = 1_048_576

_MALFORMED = {"error": "bad_request",
              "message": "The request is not valid HTTP/1.1 and could not be read. See /docs for the API."}
_HEAD_TOO_LARGE = {"error": "headers_too_large",
                   "message": f"The request line and headers exceed {MAX_HEAD_BYTES:,} bytes. "
                              "Send a shorter URL and fewer or shorter headers.",
                   "limit_bytes": MAX_HEAD_BYTES}


class JSONHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, whose own refusals are JSON (see the module)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._head_bytes = 0   # bytes read while a request head is open
        self._in_head = True
        self._url_bytes = 0
        self._refusal: tuple[int, dict] | None = None

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self.logger.warning("Request head over %d bytes refused.", MAX_HEAD_BYTES)
                self._refusal = (431, _HEAD_TOO_LARGE)
                self.send_400_response("")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._url_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes <= MAX_URL_BYTES:
            super().on_url(url)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._url_bytes > MAX_URL_BYTES:  # the app answers 414 from the length alone
            self.url = b"/"
            self.scope.setdefault("extensions", {})[OVERSIZE_EXTENSION] = {"part": "url", "bytes": self._url_bytes}
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._head_bytes = True, 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """Answer a request uvicorn refuses (400, or 431 for a head too large) in JSON, and close."""
        status, body = self._refusal or (400, _MALFORMED)
        data = dumps(body)
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode("ascii")]
        headers = [*self.server_state.default_headers, (b"content-type", b"application/json"),
                   (b"content-length", str(len(data)).encode("ascii")), (b"connection", b"close"),
                   *SECURITY_HEADERS, (b"content-security-policy", API_POLICY.encode("ascii"))]
        lines += [name + b": " + value for name, value in headers]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + data)
        self.transport.close()

