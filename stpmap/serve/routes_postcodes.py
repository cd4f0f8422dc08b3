"""Routes of ``stpmap serve`` that place postcodes and points in footprints.

``GET /postcodes/{postcode}``, ``POST /postcodes`` and ``GET /points``. Every
answer carries the licence text in the ``X-Attribution`` header, so that a
single record keeps exactly the keys of ``stpmap lookup --format json``.
"""

from __future__ import annotations

import functools
from typing import Optional, Union

from fastapi import APIRouter, Path as PathParam, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from stpmap.errors import InputError, StpmapError
from stpmap.serve.errors import TooManyPostcodes
from stpmap.serve.responses import JSON_TYPE, dumps
from stpmap.serve.schemas import (
    MAX_POSTCODES, ErrorBody, PostcodeError, PostcodeResult, PostcodesIn, PostcodesOut, error_responses, vintage_query,
)
from stpmap.serve.state import ServiceState, service_state

router = APIRouter(default_response_class=Response)

#: POST /postcodes with more postcodes than this are looked up in a worker thread.
_INLINE_POSTCODES = 200


def _record_response(state: ServiceState, record: dict) -> Response:
    """A lookup record: 404 for ``not_found``, 400 for ``invalid`` (with ``error``), else 200."""
    status = record.get("status")
    if status == "not_found":
        return Response(dumps({**record, "error": "not_found"}), 404, state.attribution_header, JSON_TYPE)
    if status == "invalid":
        return Response(dumps({**record, "error": "invalid"}), 400, state.attribution_header, JSON_TYPE)
    return Response(dumps(record), 200, state.attribution_header, JSON_TYPE)


@router.get(
    "/postcodes/{postcode}", tags=["postcodes"], summary="Look up one postcode",
    responses={200: {"model": PostcodeResult, "description": "A record; `status` is ok, outside_england, no_coordinates or pseudo",
                     "headers": {"X-Attribution": {"schema": {"type": "string"}, "description": "Licence attribution"}}},
               400: {"model": Union[PostcodeError, ErrorBody],
                     "description": "Not a postcode (status invalid: the record), or an unknown vintage"},
               404: {"model": PostcodeError, "description": "A valid postcode that is not in the directory (status not_found)"},
               422: {"model": ErrorBody, "description": "Invalid parameters"}},
)
async def get_postcode(request: Request,
                       postcode: str = PathParam(description="A UK postcode in any case or spacing, e.g. NG1 5DT"),
                       vintage: Optional[str] = vintage_query()):
    # Documents the route; requests are answered by _fast_get_postcode (see fast_routes).
    return await _answer_postcode(request, postcode, vintage)


async def _answer_postcode(request: Request, postcode: str, vintage: str | None) -> Response:
    state = service_state(request)
    v = state.resolve_vintage(vintage)
    if not state.indexed[v]:
        await run_in_threadpool(state.ensure_index, v)
    return _record_response(state, state.lookup_module.lookup(postcode, vintage=v))


async def _fast_get_postcode(request: Request) -> Response:
    # Its two parameters are plain strings, read as FastAPI reads them (the last ?vintage= wins).
    return await _answer_postcode(request, request.path_params["postcode"], request.query_params.get("vintage"))


def fast_routes() -> list[Route]:
    """``GET /postcodes/{postcode}`` as a plain Starlette route, matched before
    the FastAPI one, which only documents it: the same answers without
    FastAPI's parameter solving, a third of the time of a single lookup."""
    route = Route("/postcodes/{postcode}", _fast_get_postcode, methods=["GET"], include_in_schema=False)
    route.methods = {"GET"}  # as the FastAPI route: HEAD is a 405, not an empty 200
    return [route]


@router.post(
    "/postcodes", tags=["postcodes"], summary=f"Look up up to {MAX_POSTCODES:,} postcodes",
    description='The body is `{"postcodes": [...]}`, with the vintage as `?vintage=` or as `"vintage"` in the body '
                "(both given and different: a 400). Any other key is a 400 that names the allowed ones.",
    responses={200: {"model": PostcodesOut, "description": "One record per postcode, in input order",
                     "headers": {"X-Attribution": {"schema": {"type": "string"}}}},
               **error_responses(400, 413, 422)},
)
async def post_postcodes(request: Request, body: PostcodesIn, vintage: Optional[str] = vintage_query()):
    state = service_state(request)
    v = _bulk_vintage(state, body.vintage, vintage)
    postcodes = body.postcodes
    if len(postcodes) > MAX_POSTCODES:
        raise TooManyPostcodes(len(postcodes))
    if not state.indexed[v]:
        await run_in_threadpool(state.ensure_index, v)
    if len(postcodes) > _INLINE_POSTCODES:
        data = await run_in_threadpool(_bulk_body, state, postcodes, v)
    else:
        data = _bulk_body(state, postcodes, v)
    return Response(data, 200, state.attribution_header, JSON_TYPE)


def _bulk_vintage(state: ServiceState, in_body, in_query: str | None) -> int:
    """The vintage of a POST /postcodes: the body's ``vintage`` or ``?vintage=``, each checked as ``?vintage=`` is."""
    if in_body is None:
        return state.resolve_vintage(in_query)
    v = state.resolve_vintage(str(in_body))
    if in_query is not None and state.resolve_vintage(in_query) != v:
        raise InputError(f"The body asks for vintage {in_body} and the query (?vintage=) for {in_query}. "
                         "Give the vintage once, in either place.")
    return v


def _bulk_body(state: ServiceState, postcodes: list, vintage: int) -> bytes:
    """The body of a POST /postcodes answer: records in input order, as JSON bytes."""
    keys = list(state.lookup_module.RESULT_KEYS)
    df = state.lookup_module.lookup_many(list(postcodes), vintage=vintage)
    if len(df) != len(postcodes):  # never lose or reorder rows silently
        raise RuntimeError(f"lookup_many returned {len(df)} rows for {len(postcodes)} postcodes")
    df = df[keys]
    counts = {str(k): int(n) for k, n in df["status"].value_counts().items()}
    results = df.to_json(orient="records", double_precision=7, force_ascii=False).encode("utf-8") if len(df) else b"[]"
    head = dumps({"vintage": vintage, "count": len(df), "statuses": counts, "attribution": state.postcode_attribution})
    return head[:-1] + b',"results":' + results + b"}"


@router.get(
    "/points", tags=["postcodes"], summary="The footprint at a point",
    description="Give `lat` and `lon` (WGS84 degrees), or `easting` and `northing` (British National Grid metres), "
                "or `x` and `y` with `crs` (any CRS pyproj knows, e.g. EPSG:3857).",
    responses={200: {"model": PostcodeResult, "description": "A record for the point (postcode is null)",
                     "headers": {"X-Attribution": {"schema": {"type": "string"}}}},
               **error_responses(400, 422)},
)
async def get_point(
    request: Request,
    lat: Optional[float] = Query(None, ge=-90, le=90, allow_inf_nan=False, description="Latitude, WGS84 degrees"),
    lon: Optional[float] = Query(None, ge=-180, le=180, allow_inf_nan=False, description="Longitude, WGS84 degrees"),
    easting: Optional[float] = Query(None, ge=-1e7, le=1e7, allow_inf_nan=False, description="British National Grid easting, metres"),
    northing: Optional[float] = Query(None, ge=-1e7, le=1e7, allow_inf_nan=False, description="British National Grid northing, metres"),
    x: Optional[float] = Query(None, ge=-1e9, le=1e9, allow_inf_nan=False, description="X in `crs`"),
    y: Optional[float] = Query(None, ge=-1e9, le=1e9, allow_inf_nan=False, description="Y in `crs`"),
    crs: Optional[str] = Query(None, max_length=200, description="CRS of x and y, e.g. EPSG:3857"),
    vintage: Optional[str] = vintage_query(),
):
    state = service_state(request)
    v = state.resolve_vintage(vintage)
    given = {k for k, val in (("lat", lat), ("lon", lon), ("easting", easting), ("northing", northing),
                              ("x", x), ("y", y), ("crs", crs)) if val is not None}
    if given == {"lat", "lon"}:
        kw = {"lat": lat, "lon": lon}
    elif given == {"easting", "northing"}:
        kw = {"easting": easting, "northing": northing}
    elif given == {"x", "y", "crs"}:
        kw = {"x": x, "y": y, "crs": _check_crs(crs)}
    else:
        raise InputError(
            "Give exactly one of: lat and lon (WGS84 degrees); easting and northing (British National Grid "
            f"metres); or x, y and crs. Got: {', '.join(sorted(given)) or 'nothing'}."
        )
    if not state.indexed[v]:
        await run_in_threadpool(state.ensure_index, v)
    try:
        record = state.lookup_module.locate(**kw, vintage=v)
    except StpmapError:
        raise
    except Exception as exc:  # e.g. pyproj refusing a CRS: the caller's input
        if "crs" in kw:
            raise InputError(f"Cannot use crs {crs!r}: {exc}. Give an EPSG code such as EPSG:3857.") from None
        raise
    return Response(dumps(record), 200, state.attribution_header, JSON_TYPE)


@functools.lru_cache(maxsize=64)
def _check_crs(crs: str) -> str:
    """``crs`` if pyproj knows it, else an :class:`InputError` saying what to give."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(crs)
    except (CRSError, TypeError, ValueError) as exc:
        raise InputError(f"Unknown crs {crs!r} ({exc}). Give one pyproj knows, such as EPSG:3857 or EPSG:27700.") from None
    return crs
