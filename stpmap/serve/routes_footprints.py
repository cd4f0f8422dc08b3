"""Routes of ``stpmap serve`` that describe the footprints themselves.

``GET /footprints``, ``/footprints.geojson``, ``/footprints/{code}.geojson``
and ``/footprints/{code}``. JSON bodies carry an ``attribution`` field;
GeoJSON is gzipped for clients that accept it.

A footprint is named in the path or as ``?footprint=`` by anything a user
would type, read by the resolver every stpmap tool uses
(:func:`stpmap.data.aliases.resolve_footprint`): a code, ODS code, CCG ODS
code, name of any year, short name or abbreviation. Every answer says how
each was matched (``match``/``matches`` in JSON, the ``X-Footprint-Match``
and ``X-Footprint-Note`` headers), so a fuzzy match is never silent; a name
that names no footprint of the vintage is an error listing the closest names.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Path as PathParam, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from stpmap.errors import InputError
from stpmap.serve.errors import FootprintNotFound
from stpmap.serve.responses import GEOJSON_TYPE, json_response
from stpmap.serve.schemas import (
    MATCH_HEADERS, FeatureCollection, FootprintDetail, FootprintList, error_responses, footprint_error_responses,
    vintage_query,
)
from stpmap.serve.state import WEB_TOLERANCE_M, VintageData, ascii_header, service_state

router = APIRouter(default_response_class=Response)

GROUP_QUERY = Query(None, max_length=200, description='A named group, e.g. "East of England" or "nhs_region:London"; '
                                                      "an unknown one is a 400 listing the valid ones.")
FOOTPRINT_QUERY = Query(
    None, description='Only these footprints (repeat it for several): a code, ODS code, CCG ODS code, name of any '
                      'year, short name or abbreviation, e.g. "BNSSG", "NHS Frimley ICB", "QHG", "02M". How each was '
                      "matched is in the X-Footprint-Match header (and `matches` in JSON); one that names no "
                      "footprint of the vintage is a 422 listing the closest names. Not with ?group=.")
FULL_QUERY = Query(False, description=f"Atlas resolution instead of the web geometry (simplified at {WEB_TOLERANCE_M:.0f} m)")
_CODE_DESCRIPTION = ("A footprint code (E54...), ODS code, CCG ODS code, name of any year, short name or "
                     "abbreviation, in any case, e.g. E54000039, BNSSG, NHS Frimley ICB, QHG")
_GEOJSON_HEADERS = {"Cache-Control": "public, max-age=3600"}


def _vintage_data(request: Request, vintage: str | None) -> VintageData:
    """What the vintage asked for serves from."""
    state = service_state(request)
    return state.data[state.resolve_vintage(vintage)]


async def _resolution(data: VintageData, text: str, status: int = 404):
    """The :class:`~stpmap.data.aliases.Resolution` of a footprint named
    ``text``; :class:`FootprintNotFound` (answered with ``status``) if it
    names no footprint of the vintage."""
    hit = data.cached_resolution(text)
    if hit is None:  # the first time, the resolver may read the atlas (CCG codes) or the LSOA lookups
        hit = await run_in_threadpool(data.resolve, text)
    if isinstance(hit, dict):
        raise FootprintNotFound(hit, status)
    return hit


def _match(res) -> dict:
    """A Resolution as the API shows it (schemas.FootprintMatch)."""
    return {"query": res.query, "code": res.code, "name": res.name, "matched_by": res.matched_by,
            "alias": res.alias, "score": None if res.score is None else round(res.score, 1), "note": res.note}


def _match_headers(resolutions) -> dict:
    """The ``X-Footprint-Match`` header, and ``X-Footprint-Note`` for fuzzy matches and notes."""
    headers = {"X-Footprint-Match": ", ".join(r.matched_by for r in resolutions)}
    notes = [r.describe() for r in resolutions if r.matched_by == "fuzzy" or r.note]
    if notes:
        headers["X-Footprint-Note"] = ascii_header(" | ".join(notes))
    return headers


async def _selection(data: VintageData, group: str | None, footprints: list[str] | None):
    """The codes of the footprints asked for by ``group`` or ``footprints``,
    in code order (None: all), and the resolutions of ``footprints``."""
    if group is not None and footprints:
        raise InputError("Give ?group= or ?footprint=, not both: ?footprint= may be repeated for several footprints.")
    if footprints:
        found = [await _resolution(data, text, 422) for text in footprints]
        wanted = {r.code for r in found}
        return tuple(c for c in data.footprint_by_code if c in wanted), found
    if group is None:
        return None, None
    from stpmap.data import groups as _groups

    wanted = set(_groups.resolve(group, data.vintage, None).codes)
    return tuple(c for c in data.footprint_by_code if c in wanted), None


def _geojson_response(request: Request, pair: tuple[bytes, bytes], headers: dict | None = None) -> Response:
    """GeoJSON bytes, gzipped when the client accepts gzip."""
    body, packed = pair
    headers = {**_GEOJSON_HEADERS, **(headers or {}), "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, 200, {**headers, "Content-Encoding": "gzip"}, GEOJSON_TYPE)
    return Response(body, 200, headers, GEOJSON_TYPE)


@router.get("/footprints", tags=["footprints"], summary="The footprints of a vintage (no geometry)",
            response_model=None,
            responses={200: {"model": FootprintList, "headers": MATCH_HEADERS},
                       **error_responses(400), **footprint_error_responses(in_query=True)})
async def list_footprints(request: Request, vintage: Optional[str] = vintage_query(),
                          group: Optional[str] = GROUP_QUERY, footprint: Optional[list[str]] = FOOTPRINT_QUERY):
    data = _vintage_data(request, vintage)
    codes, found = await _selection(data, group, footprint)
    rows = data.footprints if codes is None else [data.footprint_by_code[c] for c in codes]
    body = {"vintage": data.vintage, "count": len(rows), "group": group, "attribution": data.attribution,
            "population_source": data.population_source}
    if found is not None:
        body["matches"] = [_match(r) for r in found]
    return json_response({**body, "footprints": rows}, headers=_match_headers(found) if found else None)


@router.get("/footprints.geojson", tags=["footprints"], summary="Every footprint as GeoJSON (WGS84)",
            response_model=None,
            responses={200: {"model": FeatureCollection, "content": {GEOJSON_TYPE: {}}, "headers": MATCH_HEADERS},
                       **error_responses(400), **footprint_error_responses(in_query=True)})
async def all_geojson(request: Request, vintage: Optional[str] = vintage_query(),
                      group: Optional[str] = GROUP_QUERY, footprint: Optional[list[str]] = FOOTPRINT_QUERY,
                      full: bool = FULL_QUERY):
    data = _vintage_data(request, vintage)
    codes, found = await _selection(data, group, footprint)
    headers = _match_headers(found) if found else None
    if full:  # projecting the atlas geometry takes a while the first time
        return _geojson_response(request, await run_in_threadpool(data.geojson_collection, codes, True), headers)
    return _geojson_response(request, data.geojson_collection(codes), headers)


# Before /footprints/{code}, which would otherwise take "E54000014.geojson" for a code.
@router.get("/footprints/{code}.geojson", tags=["footprints"], summary="One footprint as GeoJSON (WGS84)",
            response_model=None,
            responses={200: {"model": FeatureCollection, "content": {GEOJSON_TYPE: {}}, "headers": MATCH_HEADERS},
                       **footprint_error_responses(400, 404, 422)})
async def one_geojson(request: Request, code: str = PathParam(description=_CODE_DESCRIPTION),
                      vintage: Optional[str] = vintage_query(), full: bool = FULL_QUERY):
    data = _vintage_data(request, vintage)
    res = await _resolution(data, code)
    if full:
        return _geojson_response(request, await run_in_threadpool(data.geojson_collection, (res.code,), True),
                                 _match_headers([res]))
    return _geojson_response(request, data.geojson_collection((res.code,)), _match_headers([res]))


@router.get("/footprints/{code}", tags=["footprints"], summary="One footprint with its CCGs and local authorities",
            response_model=None,
            responses={200: {"model": FootprintDetail, "headers": MATCH_HEADERS},
                       **footprint_error_responses(400, 404, 422)})
async def one_footprint(request: Request, code: str = PathParam(description=_CODE_DESCRIPTION),
                        vintage: Optional[str] = vintage_query()):
    data = _vintage_data(request, vintage)
    res = await _resolution(data, code)
    c = res.code
    return json_response({**data.footprint_by_code[c], "attribution": data.attribution,
                          "population_source": data.population_source, "bbox": data.bbox_by_code[c],
                          "ccgs": data.ccgs_by_footprint.get(c, []),
                          "local_authorities": data.local_authorities_by_footprint.get(c, []),
                          "match": _match(res)}, headers=_match_headers([res]))
