"""``stpmap serve``: a postcode API and a searchable footprint map (FastAPI).

Everything the service answers from is loaded once, when the app starts (the
lifespan): the footprint tables and web GeoJSON of every vintage, member CCGs
and local authorities, the page, and the postcode index of each vintage.

Endpoints (all take ``?vintage=``; see ``/docs`` for the OpenAPI description):

* ``GET /postcodes/{postcode}``: one lookup record (the keys of
  ``stpmap lookup --format json``); 404 for ``not_found``, 400 for ``invalid``,
  200 for every other status (``ok``, ``outside_england``, ``no_coordinates``,
  ``pseudo``).
* ``POST /postcodes`` with ``{"postcodes": [...]}``: up to 10,000 records in
  input order; more is a 413.
* ``GET /points?lat=..&lon=..`` (or ``easting``/``northing`` in British National
  Grid metres, or ``x``/``y`` with ``crs``).
* ``GET /footprints``, ``/footprints/{code}``, ``/footprints/{code}.geojson``
  and ``/footprints.geojson``.
* ``GET /`` the map page, ``GET /health``, ``/docs`` and ``/openapi.json``.

Attribution: the JSON bodies of the footprint endpoints and of ``POST
/postcodes`` carry an ``attribution`` field; every response from the postcode
and point endpoints carries the licence text in the ``X-Attribution`` header
(ASCII: "(c)" for the copyright sign), so that a single record keeps exactly
the keys of ``stpmap lookup --format json``.

Every error is JSON ``{"error": CODE, "message": TEXT, ...}``, never a
traceback. Postcode errors (404, 400) are the lookup record plus ``error``.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, Optional, Union

import orjson
from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from stpmap import settings as _settings
from stpmap.errors import ChoiceError, DataError, InputError, StpmapError
from stpmap.data.registry import registry

log = logging.getLogger("stpmap.serve")

#: Most postcodes one ``POST /postcodes`` may ask for.
MAX_POSTCODES = 10_000
#: Default request body limit in bytes (10,000 postcodes take about 120 kB).
MAX_BODY_BYTES = 1_048_576
#: Tolerance (metres, British National Grid) of the web footprint geometry.
WEB_TOLERANCE_M = 200.0
#: Decimal places of longitude/latitude in served GeoJSON (5 is about 1 m).
WEB_DECIMALS = 5

ASSETS = Path(__file__).resolve().parents[1] / "assets"
PAGE_DIR = ASSETS / "serve"
LEAFLET_DIR = ASSETS / "leaflet"


def _swagger_ui_dir() -> Path:
    """Swagger UI's files (bundle and stylesheet) from the ``fastapi-offline``
    package, a dependency of the ``serve`` extra: ``/docs`` needs no CDN."""
    from importlib.resources import files

    return Path(str(files("fastapi_offline") / "static"))

STATUSES = ("ok", "invalid", "not_found", "outside_england", "no_coordinates", "pseudo")
FOOTPRINT_FIELDS = (
    "code", "name", "ods_code", "population", "pop_0_17", "pop_18_64", "pop_65_plus", "pop_85_plus",
    "region", "region_code", "region_share", "regions", "nhs_region", "nhs_region_code",
    "nhs_local_office", "nhs_local_office_code", "ccg_count", "lad_count", "vintage",
)
GEOJSON_PROPERTIES = ("code", "name", "population", "region", "nhs_region", "ccg_count", "lad_count")

_JSON = "application/json"
_GEOJSON = "application/geo+json"
_ORJSON_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(obj):
    if hasattr(obj, "item"):  # numpy / pandas scalars
        return obj.item()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def dumps(obj) -> bytes:
    """JSON bytes (orjson; NaN and infinities become null)."""
    return orjson.dumps(obj, default=_default, option=_ORJSON_OPTS)


def _ascii(text: str) -> str:
    return text.replace("©", "(c)").encode("ascii", "replace").decode("ascii")


# ---------------------------------------------------------------- schemas
# Used for the OpenAPI description (and so for schemathesis); responses are
# written directly as JSON bytes for speed, not validated through these.


class PostcodeResult(BaseModel):
    """One lookup record: the keys of ``stpmap lookup --format json``."""

    postcode: Optional[str] = Field(None, description="The postcode normalised (upper case, one space), or the input if invalid")
    status: Literal["ok", "invalid", "not_found", "outside_england", "no_coordinates", "pseudo"]
    message: str = Field(description="What the status means for this postcode, in words")
    footprint_code: Optional[str] = Field(None, description="STP footprint code (E54...)")
    footprint_name: Optional[str] = None
    ccg_code: Optional[str] = Field(None, description="CCG code (E38...)")
    ccg_ods_code: Optional[str] = Field(None, description="CCG ODS code (e.g. 04K)")
    ccg_name: Optional[str] = None
    lad_code: Optional[str] = Field(None, description="Local authority district code")
    lad_name: Optional[str] = None
    region: Optional[str] = Field(None, description="ONS region")
    easting: Optional[float] = Field(None, description="British National Grid, metres")
    northing: Optional[float] = None
    latitude: Optional[float] = Field(None, description="WGS84 degrees")
    longitude: Optional[float] = None
    method: Optional[str] = Field(None, description="How the footprint was found")
    distance_m: Optional[float] = Field(None, description="Distance to the footprint when assigned to the nearest one")


class PostcodeError(PostcodeResult):
    """A lookup record for a postcode that is ``invalid`` (400) or ``not_found`` (404)."""

    error: str = Field(description="The status: invalid or not_found")


class ErrorBody(BaseModel):
    """Every error: a short code and a message saying what is wrong and what to do."""

    model_config = ConfigDict(extra="allow")
    error: str
    message: str


class PostcodesIn(BaseModel):
    postcodes: list[Optional[str]] = Field(
        description=f"Up to {MAX_POSTCODES:,} postcodes, any case and spacing",
        examples=[["NG1 5DT", "sw1a1aa"]],
    )


class PostcodesOut(BaseModel):
    vintage: int
    count: int
    statuses: dict[str, int] = Field(description="How many results have each status")
    attribution: str
    results: list[PostcodeResult] = Field(description="One record per input postcode, in input order")


class Footprint(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    population: Optional[int] = None
    region: Optional[str] = None
    nhs_region: Optional[str] = None
    ccg_count: Optional[int] = None
    lad_count: Optional[int] = None


class FootprintList(BaseModel):
    vintage: int
    count: int
    group: Optional[str] = None
    attribution: str
    population_source: str
    footprints: list[Footprint]


class Member(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    population: Optional[int] = None


class FootprintDetail(Footprint):
    attribution: str
    population_source: str
    bbox: list[float] = Field(description="[west, south, east, north] in WGS84 degrees")
    ccgs: list[Member]
    local_authorities: list[Member] = Field(description="Districts with people in the footprint; population is the part inside it")


class FeatureCollection(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]
    attribution: str
    vintage: int


class Health(BaseModel):
    status: str
    vintage: int
    vintages: list[int]
    postcode_index: dict[str, bool]
    startup_seconds: float


def _err(*codes):
    names = {400: "Bad request (e.g. an unknown vintage or group; the message lists the valid ones)",
             404: "Not found", 413: "Request too large", 422: "A parameter or the body is not of the right type",
             503: "The data could not be loaded"}
    return {c: {"model": ErrorBody, "description": names[c]} for c in codes}


# ---------------------------------------------------------------- data


class _Vintage:
    """What one vintage serves from, loaded once."""

    def __init__(self, v: int):
        import shapely

        from stpmap.data import atlas as _atlas

        reg = registry()
        self.v = v
        self.attribution = reg.attribution()
        self.population_source = reg.population_note(v)
        stp = _atlas.layer("stp", v).sort_values("code").reset_index(drop=True)
        cols = [c for c in FOOTPRINT_FIELDS if c in stp.columns]
        self.records: list[dict] = json.loads(stp[cols].to_json(orient="records"))
        self.by_code = {r["code"]: r for r in self.records}
        self.alias = {r["code"].upper(): r["code"] for r in self.records}
        for r in self.records:
            if r.get("ods_code"):
                self.alias.setdefault(str(r["ods_code"]).upper(), r["code"])
        # geometry: the atlas (full) and simplified for the web, both WGS84
        geoms = stp.geometry.values
        try:
            web = shapely.coverage_simplify(geoms, WEB_TOLERANCE_M)
        except Exception:  # not a clean coverage: simplify each, keeping it valid
            web = shapely.simplify(geoms, WEB_TOLERANCE_M, preserve_topology=True)
        import geopandas as gpd

        self._full_bng = geoms
        web84 = gpd.GeoSeries(web, crs=stp.crs).to_crs(4326).values
        web84 = shapely.make_valid(shapely.set_precision(web84, 10 ** -WEB_DECIMALS))
        self.web = dict(zip(stp["code"], web84))
        self.bbox = {c: [round(float(x), WEB_DECIMALS) for x in shapely.bounds(g)] for c, g in self.web.items()}
        self._full84: dict | None = None
        self._lock = threading.Lock()
        # members
        ccg = _atlas.table("ccg", v, columns=["code", "ods_code", "name", "stp_code", "population"])
        self.ccgs = {c: json.loads(g.drop(columns="stp_code").sort_values("name").to_json(orient="records"))
                     for c, g in ccg.groupby("stp_code")}
        parts = _atlas.layer("stp_lad", v)
        parts = parts.rename(columns={"lad_code": "code", "lad_name": "name"})
        self.lads = {c: json.loads(g[["code", "name", "population", "share_of_lad"]].sort_values("name").to_json(orient="records"))
                     for c, g in parts.groupby("stp_code")}
        self._collections: dict = {}
        self.collection(None)  # the whole web GeoJSON, built and kept now

    def code(self, value: str) -> str:
        c = self.alias.get(str(value).strip().upper())
        if c is None:
            raise _NotFound(
                f"Unknown footprint {value!r} for vintage {self.v}. Valid codes: {', '.join(self.by_code)}. "
                f"GET /footprints?vintage={self.v} lists them with names."
            )
        return c

    def feature(self, code: str, full: bool = False) -> dict:
        import shapely

        geom = self._full(code) if full else self.web[code]
        props = {k: self.by_code[code].get(k) for k in GEOJSON_PROPERTIES}
        return {"type": "Feature", "id": code, "properties": props, "geometry": json.loads(shapely.to_geojson(geom))}

    def _full(self, code: str):
        with self._lock:
            if self._full84 is None:
                import geopandas as gpd
                import shapely

                g = gpd.GeoSeries(self._full_bng, crs=27700).to_crs(4326).values
                g = shapely.set_precision(g, 1e-6)
                self._full84 = dict(zip(self.by_code, g))
        return self._full84[code]

    def collection(self, codes: tuple | None, full: bool = False) -> tuple[bytes, bytes]:
        """GeoJSON FeatureCollection bytes and their gzip, memoised."""
        key = (codes, full)
        hit = self._collections.get(key)
        if hit is None:
            doc = {
                "type": "FeatureCollection",
                "vintage": self.v,
                "attribution": self.attribution,
                "population_source": self.population_source,
                "simplified_m": None if full else WEB_TOLERANCE_M,
                "features": [self.feature(c, full) for c in (codes if codes is not None else self.by_code)],
            }
            body = dumps(doc)
            hit = (body, gzip.compress(body, 6))
            if len(self._collections) < 256:
                self._collections[key] = hit
        return hit


class _NotFound(Exception):
    pass


class _TooMany(Exception):
    pass


class _State:
    def __init__(self, vintage, lookup_module):
        reg = registry()
        self.vintage = reg.check_vintage(vintage)
        self.vintages = reg.vintages
        self.vintage_strs = {str(v): v for v in self.vintages}
        self.lookup = lookup_module
        self.data: dict[int, _Vintage] = {}
        self.indexed: dict[int, bool] = {v: False for v in self.vintages}
        self._index_lock = threading.Lock()
        self.page: bytes = b""
        self.attribution = reg.attribution()
        self.postcode_attribution = reg.attribution(postcodes=True)
        self.header = {"X-Attribution": _ascii(self.postcode_attribution)}
        self.startup_seconds = 0.0
        self.loaded = False

    def load(self):
        """Load everything the service answers from (once)."""
        if self.loaded:
            return
        t = time.perf_counter()
        for v in self.vintages:
            self.data[v] = _Vintage(v)
        if self.lookup is None:
            from stpmap.postcodes import lookup as _lookup

            self.lookup = _lookup
        for v in self.vintages:
            self.ensure_index(v)
        self.page = _page(self)
        self.startup_seconds = time.perf_counter() - t
        self.loaded = True
        log.info("stpmap serve: loaded vintages %s in %.2f s", self.vintages, self.startup_seconds)

    def ensure_index(self, v: int):
        if self.indexed.get(v):
            return
        with self._index_lock:
            if not self.indexed.get(v):
                index = getattr(self.lookup, "index", None)
                if index is not None:
                    index(v)
                self.indexed[v] = True

    def v(self, vintage: str | None) -> int:
        if vintage is None:
            return self.vintage
        hit = self.vintage_strs.get(vintage)
        if hit is None:
            raise ChoiceError("vintage", vintage, self.vintages)
        return hit


def _page(state: _State) -> bytes:
    html = (PAGE_DIR / "index.html").read_text(encoding="utf-8")
    config = {
        "vintage": state.vintage,
        "vintages": state.vintages,
        "attribution": state.postcode_attribution,
        "maxPostcodes": MAX_POSTCODES,
    }
    # JSON inside <script>: no character may close the element or start a comment
    text = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return html.replace("{{CONFIG}}", text).encode("utf-8")


# ---------------------------------------------------------------- middleware


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


# ---------------------------------------------------------------- app


def create_app(vintage=None, cors_origins=None, max_body_bytes: int = MAX_BODY_BYTES, *,
               lookup_module=None, _state: "_State | None" = None) -> FastAPI:
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
    state = _state if _state is not None else _State(vintage, lookup_module)
    vintage_choices = [str(v) for v in state.vintages]

    @asynccontextmanager
    async def lifespan(app):
        if not state.loaded:
            await run_in_threadpool(state.load)
        yield

    app = FastAPI(
        title="stpmap",
        version=_version(),
        description=(
            "Which STP footprint covers a postcode or a point, and the footprints themselves, from official "
            f"ONS data. Vintages: {', '.join(vintage_choices)} (default {state.vintage}).\n\n"
            "Attribution: footprint responses carry an `attribution` field; postcode and point responses carry "
            "the `X-Attribution` header. " + state.postcode_attribution
        ),
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # served below from the vendored Swagger UI: no CDN
        redoc_url=None,
        default_response_class=Response,
    )
    app.state.stpmap = state
    app.router.redirect_slashes = False

    def VintageQuery():
        return Query(
            None,
            description=f"Vintage of the geography: {' or '.join(vintage_choices)} (default {state.vintage}). "
                        "An unknown one is a 400 that lists the valid ones.",
            json_schema_extra={"enum": vintage_choices},
        )

    def ok(body, *, headers=None, media_type=_JSON, status=200):
        return Response(dumps(body), status_code=status, media_type=media_type, headers=headers)

    # ---- postcodes

    def answer(record: dict) -> Response:
        status = record.get("status")
        if status == "not_found":
            return Response(dumps({**record, "error": "not_found"}), 404, state.header, _JSON)
        if status == "invalid":
            return Response(dumps({**record, "error": "invalid"}), 400, state.header, _JSON)
        return Response(dumps(record), 200, state.header, _JSON)

    @app.get(
        "/postcodes/{postcode}", tags=["postcodes"], summary="Look up one postcode",
        responses={200: {"model": PostcodeResult, "description": "A record; `status` is ok, outside_england, no_coordinates or pseudo",
                         "headers": {"X-Attribution": {"schema": {"type": "string"}, "description": "Licence attribution"}}},
                   400: {"model": Union[PostcodeError, ErrorBody],
                         "description": "Not a postcode (status invalid: the record), or an unknown vintage"},
                   404: {"model": PostcodeError, "description": "A valid postcode that is not in the directory (status not_found)"},
                   422: {"model": ErrorBody, "description": "Invalid parameters"}},
    )
    async def get_postcode(postcode: str = PathParam(description="A UK postcode in any case or spacing, e.g. NG1 5DT"),
                           vintage: Optional[str] = VintageQuery()):
        v = state.v(vintage) if vintage is not None else state.vintage
        if not state.indexed[v]:
            await run_in_threadpool(state.ensure_index, v)
        return answer(state.lookup.lookup(postcode, vintage=v))

    @app.post(
        "/postcodes", tags=["postcodes"], summary=f"Look up up to {MAX_POSTCODES:,} postcodes",
        responses={200: {"model": PostcodesOut, "description": "One record per postcode, in input order",
                         "headers": {"X-Attribution": {"schema": {"type": "string"}}}},
                   **_err(400, 413, 422)},
    )
    async def post_postcodes(body: PostcodesIn, vintage: Optional[str] = VintageQuery()):
        v = state.v(vintage)
        pcs = body.postcodes
        if len(pcs) > MAX_POSTCODES:
            raise _TooMany(len(pcs))
        if not state.indexed[v]:
            await run_in_threadpool(state.ensure_index, v)
        if len(pcs) > 200:
            data = await run_in_threadpool(_bulk, state, pcs, v)
        else:
            data = _bulk(state, pcs, v)
        return Response(data, 200, state.header, _JSON)

    # ---- points

    @app.get(
        "/points", tags=["postcodes"], summary="The footprint at a point",
        description="Give `lat` and `lon` (WGS84 degrees), or `easting` and `northing` (British National Grid metres), "
                    "or `x` and `y` with `crs` (any CRS pyproj knows, e.g. EPSG:3857).",
        responses={200: {"model": PostcodeResult, "description": "A record for the point (postcode is null)",
                         "headers": {"X-Attribution": {"schema": {"type": "string"}}}},
                   **_err(400, 422)},
    )
    async def get_point(
        lat: Optional[float] = Query(None, ge=-90, le=90, allow_inf_nan=False, description="Latitude, WGS84 degrees"),
        lon: Optional[float] = Query(None, ge=-180, le=180, allow_inf_nan=False, description="Longitude, WGS84 degrees"),
        easting: Optional[float] = Query(None, ge=-1e7, le=1e7, allow_inf_nan=False, description="British National Grid easting, metres"),
        northing: Optional[float] = Query(None, ge=-1e7, le=1e7, allow_inf_nan=False, description="British National Grid northing, metres"),
        x: Optional[float] = Query(None, ge=-1e9, le=1e9, allow_inf_nan=False, description="X in `crs`"),
        y: Optional[float] = Query(None, ge=-1e9, le=1e9, allow_inf_nan=False, description="Y in `crs`"),
        crs: Optional[str] = Query(None, max_length=200, description="CRS of x and y, e.g. EPSG:3857"),
        vintage: Optional[str] = VintageQuery(),
    ):
        v = state.v(vintage)
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
            record = state.lookup.locate(**kw, vintage=v)
        except StpmapError:
            raise
        except Exception as exc:  # e.g. pyproj refusing a CRS: the caller's input
            if "crs" in kw:
                raise InputError(f"Cannot use crs {crs!r}: {exc}. Give an EPSG code such as EPSG:3857.") from None
            raise
        return Response(dumps(record), 200, state.header, _JSON)

    # ---- footprints

    def group_codes(d: _Vintage, group: str | None):
        if group is None:
            return None
        from stpmap.data import groups as _groups

        return tuple(c for c in d.by_code if c in set(_groups.resolve(group, d.v, None).codes))

    GroupQuery = Query(None, max_length=200, description='A named group, e.g. "East of England" or "nhs_region:London"; '
                                                         "an unknown one is a 400 listing the valid ones.")

    @app.get("/footprints", tags=["footprints"], summary="The footprints of a vintage (no geometry)",
             response_model=None, responses={200: {"model": FootprintList}, **_err(400, 422)})
    async def list_footprints(vintage: Optional[str] = VintageQuery(), group: Optional[str] = GroupQuery):
        d = state.data[state.v(vintage)]
        codes = group_codes(d, group)
        rows = d.records if codes is None else [d.by_code[c] for c in codes]
        return ok({"vintage": d.v, "count": len(rows), "group": group, "attribution": d.attribution,
                   "population_source": d.population_source, "footprints": rows})

    geo_headers = {"Cache-Control": "public, max-age=3600"}

    def geo(request: Request, pair: tuple[bytes, bytes]) -> Response:
        body, packed = pair
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(packed, 200, {**geo_headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}, _GEOJSON)
        return Response(body, 200, {**geo_headers, "Vary": "Accept-Encoding"}, _GEOJSON)

    FullQuery = Query(False, description=f"Atlas resolution instead of the web geometry (simplified at {WEB_TOLERANCE_M:.0f} m)")

    @app.get("/footprints.geojson", tags=["footprints"], summary="Every footprint as GeoJSON (WGS84)",
             response_model=None,
             responses={200: {"model": FeatureCollection, "content": {_GEOJSON: {}}}, **_err(400, 422)})
    async def all_geojson(request: Request, vintage: Optional[str] = VintageQuery(),
                          group: Optional[str] = GroupQuery, full: bool = FullQuery):
        d = state.data[state.v(vintage)]
        codes = group_codes(d, group)
        if full:
            return geo(request, await run_in_threadpool(d.collection, codes, True))
        return geo(request, d.collection(codes))

    @app.get("/footprints/{code}.geojson", tags=["footprints"], summary="One footprint as GeoJSON (WGS84)",
             response_model=None,
             responses={200: {"model": FeatureCollection, "content": {_GEOJSON: {}}}, **_err(400, 404, 422)})
    async def one_geojson(request: Request, code: str = PathParam(description="Footprint code (E54...) or ODS code"),
                          vintage: Optional[str] = VintageQuery(), full: bool = FullQuery):
        d = state.data[state.v(vintage)]
        c = d.code(code)
        if full:
            return geo(request, await run_in_threadpool(d.collection, (c,), True))
        return geo(request, d.collection((c,)))

    @app.get("/footprints/{code}", tags=["footprints"], summary="One footprint with its CCGs and local authorities",
             response_model=None, responses={200: {"model": FootprintDetail}, **_err(400, 404, 422)})
    async def one_footprint(code: str = PathParam(description="Footprint code (E54...) or ODS code"),
                            vintage: Optional[str] = VintageQuery()):
        d = state.data[state.v(vintage)]
        c = d.code(code)
        return ok({**d.by_code[c], "attribution": d.attribution, "population_source": d.population_source,
                   "bbox": d.bbox[c], "ccgs": d.ccgs.get(c, []), "local_authorities": d.lads.get(c, [])})

    # ---- page, health

    @app.get("/", include_in_schema=False)
    async def page():
        return Response(state.page, 200, {"Cache-Control": "no-cache"}, "text/html; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request):
        from fastapi.openapi.docs import get_swagger_ui_html

        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url, title="stpmap API",
            swagger_js_url=root + "/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=root + "/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="data:,",
            swagger_ui_parameters={"validatorUrl": None, "defaultModelsExpandDepth": 0},
        )

    @app.get("/health", tags=["service"], summary="Whether the service is ready", response_model=None,
             responses={200: {"model": Health}})
    async def health():
        return ok({"status": "ok", "vintage": state.vintage, "vintages": state.vintages,
                   "postcode_index": {str(k): bool(val) for k, val in state.indexed.items()},
                   "startup_seconds": round(state.startup_seconds, 3)})

    app.mount("/static/leaflet", StaticFiles(directory=LEAFLET_DIR, check_dir=False), name="leaflet")
    app.mount("/static/serve", StaticFiles(directory=PAGE_DIR, check_dir=False), name="page-assets")
    app.mount("/static/swagger-ui", StaticFiles(directory=_swagger_ui_dir(), check_dir=False), name="swagger-ui")

    # ---- errors: always JSON with a message

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
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
        return Response(dumps(body), code, exc.headers, _JSON)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ())]
            where = f"{loc[0]} {'.'.join(loc[1:])}".strip() if loc else "request"
            problems.append({"where": where, "problem": e.get("msg", "invalid")})
        text = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:5]) or "invalid request"
        return Response(dumps({"error": "invalid_request", "message": f"Invalid request: {text}. See /docs.",
                               "errors": problems[:50]}), 422, None, _JSON)

    @app.exception_handler(_TooMany)
    async def too_many(request: Request, exc: _TooMany):
        n = exc.args[0]
        return Response(dumps({"error": "too_many_postcodes",
                               "message": f"{n:,} postcodes sent; the limit is {MAX_POSTCODES:,} per request. "
                                          "Split the list, or use `stpmap lookup --input FILE` for whole files.",
                               "limit": MAX_POSTCODES}), 413, None, _JSON)

    @app.exception_handler(_NotFound)
    async def not_found(request: Request, exc: _NotFound):
        return Response(dumps({"error": "not_found", "message": str(exc)}), 404, None, _JSON)

    @app.exception_handler(StpmapError)
    async def stpmap_error(request: Request, exc: StpmapError):
        if isinstance(exc, DataError):
            return Response(dumps({"error": "data_unavailable", "message": str(exc)}), 503, None, _JSON)
        body = {"error": "bad_request", "message": str(exc)}
        if isinstance(exc, ChoiceError):
            body["valid"] = [str(c) for c in exc.choices]
        return Response(dumps(body), 400, None, _JSON)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("stpmap serve: error answering %s %s", request.method, request.url.path)
        return Response(dumps({"error": "internal_error",
                               "message": "The server failed to answer this request; the details are in its log."}),
                        500, None, _JSON)

    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], expose_headers=["X-Attribution"], max_age=600)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    return app


def _bulk(state: _State, postcodes: list, v: int) -> bytes:
    """The body of a POST /postcodes answer: records in input order, as JSON bytes."""
    keys = list(state.lookup.RESULT_KEYS)
    df = state.lookup.lookup_many(list(postcodes), vintage=v)
    if len(df) != len(postcodes):  # never lose or reorder rows silently
        raise RuntimeError(f"lookup_many returned {len(df)} rows for {len(postcodes)} postcodes")
    df = df[keys]
    counts = {str(k): int(n) for k, n in df["status"].value_counts().items()}
    results = df.to_json(orient="records", double_precision=7, force_ascii=False).encode("utf-8") if len(df) else b"[]"
    head = dumps({"vintage": v, "count": len(df), "statuses": counts, "attribution": state.postcode_attribution})
    return head[:-1] + b',"results":' + results + b"}"


@functools.lru_cache(maxsize=64)
def _check_crs(crs: str) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(crs)
    except (CRSError, TypeError, ValueError) as exc:
        raise InputError(f"Unknown crs {crs!r} ({exc}). Give one pyproj knows, such as EPSG:3857 or EPSG:27700.") from None
    return crs


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "error"


def _version() -> str:
    from stpmap import __version__

    return __version__


def serve(host: str = "127.0.0.1", port: int = 8000, vintage=None, cors_origins=None, *,
          access_log: bool = False, log_level: str = "info") -> None:
    """Run the service with uvicorn until interrupted (``stpmap serve``).

    Examples
    --------
    >>> import stpmap
    >>> stpmap.serve(port=8000, vintage=2017)  # doctest: +SKIP
    """
    import uvicorn

    app = create_app(vintage, cors_origins=cors_origins)
    app.state.stpmap.load()  # before listening: a data problem is a clear error, not a half-started server
    uvicorn.run(app, host=host, port=int(port), log_level=log_level, access_log=access_log,
                loop="auto", http="auto", timeout_keep_alive=30)
