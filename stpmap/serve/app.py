"""``stpmap serve``: a postcode API and a searchable footprint map (FastAPI).

This module makes the app (:func:`create_app`) and runs it (:func:`serve`).

Everything the service answers from is loaded once, when the app starts (the
lifespan): the footprint tables and web GeoJSON of every vintage, member CCGs
and local authorities, the page, and the postcode index of each vintage.

Endpoints (the API ones take ``?vintage=``; see ``/docs`` for the OpenAPI description):

* ``GET /postcodes/{postcode}``: one lookup record (the keys of
  ``stpmap lookup --format json``); 404 for ``not_found``, 400 for ``invalid``,
  200 for every other status (``ok``, ``outside_england``, ``no_coordinates``,
  ``pseudo``).
* ``POST /postcodes`` with ``{"postcodes": [...]}``: up to 10,000 records in
  input order; more is a 413.
* ``GET /points?lat=..&lon=..`` (or ``easting``/``northing`` in British National
  Grid metres, or ``x``/``y`` with ``crs``).
* ``GET /footprints``, ``/footprints/{code}``, ``/footprints/{code}.geojson``
  and ``/footprints.geojson``; ``{code}`` and ``?footprint=`` take any name or
  code of a footprint (:mod:`stpmap.serve.routes_footprints`).
* ``GET /`` the map page, ``GET /health``, ``/docs`` and ``/openapi.json``.

Attribution: the JSON bodies of the footprint endpoints and of ``POST
/postcodes`` carry an ``attribution`` field; every response from the postcode
and point endpoints carries the licence text in the ``X-Attribution`` header
(ASCII: "(c)" for the copyright sign), so that a single record keeps exactly
the keys of ``stpmap lookup --format json``.

Every error is JSON ``{"error": CODE, "message": TEXT, ...}``, never a
traceback. Postcode errors (404, 400) are the lookup record plus ``error``.
Every answer carries the security headers of :mod:`stpmap.serve.security`,
and the CORS headers when origins are given (the order of the middlewares:
:mod:`stpmap.serve.middleware`). ``serve`` runs uvicorn with
:mod:`stpmap.serve.protocol`, so that even the requests uvicorn refuses
(not HTTP, a URL or headers too large) are answered in JSON.
"""

from __future__ import annotations

import functools
import json
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from stpmap.serve import routes_footprints, routes_pages, routes_postcodes
from stpmap.serve.errors import add_exception_handlers
from stpmap.serve.middleware import (
    MAX_BODY_BYTES, InternalErrorMiddleware, RequestLimitsMiddleware, SecurityHeadersMiddleware,
)
from stpmap.serve.schemas import MAX_POSTCODES, describe_vintages
from stpmap.serve.state import ServiceState

__all__ = ["create_app", "serve", "worker_app", "MAX_POSTCODES", "MAX_BODY_BYTES"]

# The routers' routes are handed to the app as they are, in this order (it
# decides which of two paths that both match wins, and the order of /docs).
# include_router would keep each router as a branch matched on every
# request, which costs time on every lookup.
_ROUTERS = (routes_postcodes, routes_footprints, routes_pages)


@asynccontextmanager
async def _lifespan(app: FastAPI):
    state: ServiceState = app.state.stpmap
    if not state.loaded:
        await run_in_threadpool(state.load)
    yield


def _openapi(app: FastAPI) -> dict:
    """The app's OpenAPI document, with its vintages and default in every ``?vintage=`` parameter."""
    if app.openapi_schema is None:
        state: ServiceState = app.state.stpmap
        describe_vintages(FastAPI.openapi(app), state.vintages, state.default_vintage)
    return app.openapi_schema


def create_app(vintage=None, cors_origins=None, max_body_bytes: int = MAX_BODY_BYTES, *,
               lookup_module=None, _state: ServiceState | None = None) -> FastAPI:
    """The stpmap web service as a FastAPI (ASGI) app.

    Parameters
    ----------
    vintage : int, default 2017
        The vintage answered when a request gives no ``?vintage=``. Every
        vintage is loaded and can be asked for.
    cors_origins : list of str, optional
        Origins allowed to call the API from a browser (``["*"]`` for any).
        None (the default) sends no CORS headers.
    max_body_bytes : int, default 1 MiB
        Larger request bodies get a 413 JSON answer before they are read.
    lookup_module : module, optional
        Anything with ``lookup``, ``lookup_many``, ``locate``, ``index`` and
        ``RESULT_KEYS`` as :mod:`stpmap.postcodes.lookup` has (the default); for tests.

    Returns
    -------
    fastapi.FastAPI
        Data are loaded when the app starts (its lifespan), not here.

    Examples
    --------
    >>> from stpmap.serve.app import create_app
    >>> app = create_app(2017, cors_origins=["https://intranet.example.nhs.uk"])
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    state = _state if _state is not None else ServiceState(vintage, lookup_module)
    app = FastAPI(
        title="stpmap",
        version=_version(),
        description=(
            "Which STP footprint covers a postcode or a point, and the footprints themselves, from official "
            f"ONS data. Vintages: {', '.join(str(v) for v in state.vintages)} (default {state.default_vintage}).\n\n"
            "Attribution: footprint responses carry an `attribution` field; postcode and point responses carry "
            "the `X-Attribution` header. " + state.postcode_attribution
        ),
        routes=[*routes_postcodes.fast_routes(), *(route for module in _ROUTERS for route in module.router.routes)],
        lifespan=_lifespan,
        redirect_slashes=False,
        docs_url=None,  # routes_pages serves /docs with Swagger UI from this server, not a CDN
        redoc_url=None,
        default_response_class=Response,
    )
    app.state.stpmap = state
    app.openapi = functools.partial(_openapi, app)
    routes_pages.mount_static(app)
    add_exception_handlers(app)
    # add_middleware puts each one outside those added before it: CORS must
    # wrap the limits and the 500s, so that a browser can read those errors.
    app.add_middleware(InternalErrorMiddleware)
    app.add_middleware(RequestLimitsMiddleware, max_body_bytes=max_body_bytes)
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], max_age=600,
                           expose_headers=["X-Attribution", "X-Footprint-Match", "X-Footprint-Note"])
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def _version() -> str:
    from stpmap import __version__

    return __version__


def serve(host: str = "127.0.0.1", port: int = 8000, vintage=None, cors_origins=None, *, workers: int = 1,
          access_log: bool = False, log_level: str = "info") -> None:
    """Run the service with uvicorn until interrupted (``stpmap serve``).

    With ``workers`` above 1, uvicorn runs that many processes on one socket,
    each loading everything the service answers from (as long, and as much
    memory, as one server); the caches are built or checked once, before.

    Examples
    --------
    >>> import stpmap
    >>> stpmap.serve(port=8000, vintage=2017, workers=2)  # doctest: +SKIP
    """
    import uvicorn

    options = dict(host=host, port=int(port), log_level=log_level, access_log=access_log,
                   loop="auto", http=_http_protocol(), ws="none", timeout_keep_alive=30)  # no WebSocket routes
    if int(workers) <= 1:
        app = create_app(vintage, cors_origins=cors_origins)
        app.state.stpmap.load()  # before listening: a data problem is a clear error, not a half-started server
        uvicorn.run(app, **options)
        return
    default = _prepare_elsewhere(vintage)  # the caches once, not raced by every worker
    # The workers are new processes (spawned): they learn the settings from the environment.
    os.environ[WORKER_SETTINGS] = json.dumps({"vintage": default, "cors_origins": list(cors_origins or ())})
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=int(workers), **options)


def _prepare(vintage) -> int:
    state = ServiceState(vintage, None)
    state.prepare()
    return state.default_vintage


def _prepare_elsewhere(vintage) -> int:
    """Build or check the caches in a process of its own, which then ends: the
    parent of the workers only watches them, and need not hold the libraries
    and data that preparing takes (about 150 MB). Its errors are raised here."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_prepare, vintage).result()


#: The environment variable through which ``serve`` gives its workers their settings.
WORKER_SETTINGS = "STPMAP_SERVE_WORKER_SETTINGS"


def worker_app() -> FastAPI:
    """The app of one worker of ``stpmap serve --workers N`` (a uvicorn app
    factory); it loads its data when it starts (its lifespan)."""
    settings = json.loads(os.environ.get(WORKER_SETTINGS) or "{}")
    return create_app(settings.get("vintage"), cors_origins=settings.get("cors_origins") or None)


def _http_protocol():
    """uvicorn's ``http`` setting: stpmap's protocol, whose refusals are JSON
    (httptools is in the ``serve`` extra), else uvicorn's own choice."""
    try:
        from stpmap.serve.protocol import JSONHttpToolsProtocol
    except ImportError:
        return "auto"
    return JSONHttpToolsProtocol
