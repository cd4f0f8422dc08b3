"""The request body limit of ``stpmap serve`` (an ASGI middleware)."""

from __future__ import annotations

from stpmap.serve.responses import dumps
from stpmap.serve.schemas import MAX_POSTCODES

#: Default request body limit in bytes (10,000 postcodes take about 120 kB).
MAX_BODY_BYTES = 1_048_576


class BodyLimitMiddleware:
    """Answer 413 (JSON) to a request whose body is larger than ``max_bytes``.

    A declared ``Content-Length`` is checked before anything is read; a body
    without one (chunked) is read up to the limit, then handed on.
    """

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = chunked = None
        for k, val in scope.get("headers") or ():
            if k == b"content-length":
                length = val
            elif k == b"transfer-encoding" and b"chunked" in val.lower():
                chunked = True
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                return await _send_json(send, 400, {"error": "bad_request", "message": "The Content-Length header is not a number."})
            if n > self.max_bytes:
                return await _send_json(send, 413, self._too_large(n))
            return await self.app(scope, receive, send)
        if not chunked:
            return await self.app(scope, receive, send)
        messages, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                return await _send_json(send, 413, self._too_large(None))
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
            "message": f"The request body is {size}; the limit is {self.max_bytes:,} bytes. "
                       f"Send at most {MAX_POSTCODES:,} postcodes per request and split larger lists.",
            "limit_bytes": self.max_bytes,
        }


async def _send_json(send, status: int, body: dict):
    data = dumps(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})
