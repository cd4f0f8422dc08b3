"""Routes of ``stpmap serve`` that describe the footprints themselves.

``GET /footprints``, ``/footprints.geojson``, ``/footprints/{code}.geojson``
and ``/footprints/{code}``. JSON bodies carry an ``attribution`` field;
GeoJSON is gzipped for clients that accept it.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Path as PathParam, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from stpmap.serve.responses import GEOJSON_TYPE, json_response
from stpmap.serve.schemas import FeatureCollection, FootprintDetail, FootprintList, error_responses, vintage_query
from stpmap.serve.state import WEB_TOLERANCE_M, VintageData, service_state

router = APIRouter(default_response_class=Response)

GROUP_QUERY = Query(None, max_length=200, description='A named group, e.g. "East of England" or "nhs_region:London"; '
                                                      "an unknown one is a 400 listing the valid ones.")
FULL_QUERY = Query(False, description=f"Atlas resolution instead of the web geometry (simplified at {WEB_TOLERANCE_M:.0f} m)")
_CODE_DESCRIPTION = "Footprint code (E54...) or ODS code"
_GEOJSON_HEADERS = {"Cache-Control": "public, max-age=3600"}


def _vintage_data(request: Request, vintage: str | None) -> VintageData:
    """What the vintage asked for serves from."""
    state = service_state(request)
    return state.data[state.resolve_vintage(vintage)]


def _group_codes(data: VintageData, group: str | None) -> tuple | None:
    """The codes of the footprints in ``group``, in code order (None: no group asked for)."""
    if group is None:
        return None
    from stpmap.data import groups as _groups

    return tuple(c for c in data.footprint_by_code if c in set(_groups.resolve(group, data.vintage, None).codes))


def _geojson_response(request: Request, pair: tuple[bytes, bytes]) -> Response:
    """GeoJSON bytes, gzipped when the client accepts gzip."""
    body, packed = pair
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, 200, {**_GEOJSON_HEADERS, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}, GEOJSON_TYPE)
    return Response(body, 200, {**_GEOJSON_HEADERS, "Vary": "Accept-Encoding"}, GEOJSON_TYPE)


@router.get("/footprints", tags=["footprints"], summary="The footprints of a vintage (no geometry)",
            response_model=None, responses={200: {"model": FootprintList}, **error_responses(400, 422)})
async def list_footprints(request: Request, vintage: Optional[str] = vintage_query(),
                          group: Optional[str] = GROUP_QUERY):
    data = _vintage_data(request, vintage)
    codes = _group_codes(data, group)
    rows = data.footprints if codes is None else [data.footprint_by_code[c] for c in codes]
    return json_response({"vintage": data.vintage, "count": len(rows), "group": group, "attribution": data.attribution,
                          "population_source": data.population_source, "footprints": rows})


@router.get("/footprints.geojson", tags=["footprints"], summary="Every footprint as GeoJSON (WGS84)",
            response_model=None, responses={200: {"model": FeatureCollection, "content": {GEOJSON_TYPE: {}}}, **error_responses(400, 422)})
async def all_geojson(request: Request, vintage: Optional[str] = vintage_query(),
                      group: Optional[str] = GROUP_QUERY, full: bool = FULL_QUERY):
    data = _vintage_data(request, vintage)
    codes = _group_codes(data, group)
    if full:  # projecting the atlas geometry takes a while the first time
        return _geojson_response(request, await run_in_threadpool(data.geojson_collection, codes, True))
    return _geojson_response(request, data.geojson_collection(codes))


# Before /footprints/{code}, which would otherwise take "E54000014.geojson" for a code.
@router.get("/footprints/{code}.geojson", tags=["footprints"], summary="One footprint as GeoJSON (WGS84)",
            response_model=None, responses={200: {"model": FeatureCollection, "content": {GEOJSON_TYPE: {}}}, **error_responses(400, 404, 422)})
async def one_geojson(request: Request, code: str = PathParam(description=_CODE_DESCRIPTION),
                      vintage: Optional[str] = vintage_query(), full: bool = FULL_QUERY):
    data = _vintage_data(request, vintage)
    c = data.resolve_code(code)
    if full:
        return _geojson_response(request, await run_in_threadpool(data.geojson_collection, (c,), True))
    return _geojson_response(request, data.geojson_collection((c,)))


@router.get("/footprints/{code}", tags=["footprints"], summary="One footprint with its CCGs and local authorities",
            response_model=None, responses={200: {"model": FootprintDetail}, **error_responses(400, 404, 422)})
async def one_footprint(request: Request, code: str = PathParam(description=_CODE_DESCRIPTION),
                        vintage: Optional[str] = vintage_query()):
    data = _vintage_data(request, vintage)
    c = data.resolve_code(code)
    return json_response({**data.footprint_by_code[c], "attribution": data.attribution,
                          "population_source": data.population_source, "bbox": data.bbox_by_code[c],
                          "ccgs": data.ccgs_by_footprint.get(c, []),
                          "local_authorities": data.local_authorities_by_footprint.get(c, [])})
