"""The errors of ``stpmap serve`` and how they are answered.

Every error is JSON ``{"error": CODE, "message": TEXT, ...}``, never a
traceback: routing errors (404, 405), bodies that are not JSON (400),
unknown keys in a body (400, naming the allowed ones), parameters of the
wrong type (422), too many postcodes (413), an unknown footprint (404 in
the path, 422 as ``?footprint=``, listing the closest names) and stpmap's
own errors (400, or 503 when data cannot be loaded). Anything
unexpected (500), over-large requests (413, 414, 431) are answered by
:mod:`stpmap.serve.middleware`, requests the HTTP parser refuses by
:mod:`stpmap.serve.protocol`.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from stpmap.errors import ChoiceError, DataError, StpmapError
from stpmap.serve.responses import json_response
from stpmap.serve.schemas import MAX_POSTCODES


class FootprintNotFound(Exception):
    """A footprint name or code that names no footprint of the vintage: a 404
    when it is the path (``/footprints/{code}``), a 422 when it is a
    parameter (``?footprint=``). ``body`` is the answer: ``error``
    (``not_found``, or ``other_vintage`` for a footprint of other vintages),
    ``message``, and ``did_you_mean`` (the closest names) or what the
    footprint is and which vintages have it."""

    def __init__(self, body: dict, status: int = 404):
        super().__init__(body["message"])
        self.body, self.status = body, status


class TooManyPostcodes(Exception):
    """More than ``MAX_POSTCODES`` postcodes in one request (a 413); the argument is how many."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "error"


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    code = exc.status_code
    if code == 404:
        body = {"error": "not_found", "message": f"Nothing at {request.url.path}. The API is described at /docs."}
    elif code == 405:
        allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow") or ""
        body = {"error": "method_not_allowed",
                "message": f"{request.method} is not allowed on {request.url.path}"
                           + (f"; use {allowed}." if allowed else ".")}
    elif code == 400:  # e.g. a body that is not JSON
        detail = exc.detail if isinstance(exc.detail, str) else "Bad request"
        body = {"error": "bad_request",
                "message": f"{detail.rstrip('.')}. Send JSON such as {{\"postcodes\": [\"NG1 5DT\"]}} "
                           "with Content-Type: application/json. See /docs."}
    else:
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
        body = {"error": _slug(detail), "message": detail}
    return json_response(body, code, exc.headers)


def _body_keys(request: Request) -> list[str]:
    """The keys the body of the route answering ``request`` may have (its pydantic model's fields)."""
    field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(field, "field_info", None), "annotation", None)
    return list(getattr(model, "model_fields", ()))


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    unknown = [str(e["loc"][-1]) for e in errors if e.get("type") == "extra_forbidden" and e.get("loc")]
    allowed = _body_keys(request) if unknown else []
    if unknown and len(unknown) == len(errors):  # nothing else wrong: a 400 that says what to send
        return json_response({
            "error": "bad_request",
            "message": f"Unknown key{'s' if len(unknown) > 1 else ''} in the body: {_and([repr(k) for k in unknown])}. "
                       f"The keys allowed are {_and(allowed)}. See /docs.",
            "unknown": unknown, "allowed": allowed}, 400)
    problems = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        where = f"{loc[0]} {'.'.join(loc[1:])}".strip() if loc else "request"
        problem = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden" and allowed:
            problem = f"unknown key; the keys allowed are {_and(allowed)}"
        problems.append({"where": where, "problem": problem})
    text = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:5]) or "invalid request"
    return json_response({"error": "invalid_request", "message": f"Invalid request: {text}. See /docs.",
                          "errors": problems[:50]}, 422)


async def too_many_postcodes(request: Request, exc: TooManyPostcodes) -> Response:
    n = exc.args[0]
    return json_response({"error": "too_many_postcodes",
                          "message": f"{n:,} postcodes sent; the limit is {MAX_POSTCODES:,} per request. "
                                     "Split the list, or use `stpmap lookup --input FILE` for whole files.",
                          "limit": MAX_POSTCODES}, 413)


async def footprint_not_found(request: Request, exc: FootprintNotFound) -> Response:
    return json_response(exc.body, exc.status)


async def stpmap_error(request: Request, exc: StpmapError) -> Response:
    if isinstance(exc, DataError):
        return json_response({"error": "data_unavailable", "message": str(exc)}, 503)
    body = {"error": "bad_request", "message": str(exc)}
    if isinstance(exc, ChoiceError):
        body["valid"] = [str(c) for c in exc.choices]
    return json_response(body, 400)


def add_exception_handlers(app: FastAPI) -> None:
    """Answer the errors raised by the routes of ``app`` as JSON (unexpected
    ones are left to :class:`~stpmap.serve.middleware.InternalErrorMiddleware`)."""
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(TooManyPostcodes, too_many_postcodes)
    app.add_exception_handler(FootprintNotFound, footprint_not_found)
    app.add_exception_handler(StpmapError, stpmap_error)
