"""What ``stpmap serve`` answers from, loaded once when the app starts.

:class:`ServiceState` (``app.state.stpmap``) holds, for every vintage, a
:class:`VintageData`: the footprint records, their web geometry (simplified,
WGS84) with the GeoJSON built from it, the member CCGs and local
authorities, and what each footprint name asked for resolved to (kept, so
that the resolver runs once per name); besides, the postcode index of each
vintage and the map page.
Routes reach it with :func:`service_state`.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import threading
import time
from pathlib import Path

from fastapi import Request

from stpmap.data.registry import registry
from stpmap.errors import ChoiceError
from stpmap.serve.responses import dumps
from stpmap.serve.schemas import MAX_POSTCODES

log = logging.getLogger("stpmap.serve")

#: Tolerance (metres, British National Grid) of the web footprint geometry.
WEB_TOLERANCE_M = 200.0
#: Decimal places of longitude/latitude in served GeoJSON (5 is about 1 m).
WEB_DECIMALS = 5
#: The footprint columns served, in order (those a vintage has).
FOOTPRINT_FIELDS = (
    "code", "name", "ods_code", "population", "pop_0_17", "pop_18_64", "pop_65_plus", "pop_85_plus",
    "region", "region_code", "region_share", "regions", "nhs_region", "nhs_region_code",
    "nhs_local_office", "nhs_local_office_code", "ccg_count", "lad_count", "vintage",
)
#: The properties of each served GeoJSON feature.
GEOJSON_PROPERTIES = ("code", "name", "population", "region", "nhs_region", "ccg_count", "lad_count")
#: At most this many GeoJSON documents (per group and resolution) are kept per vintage.
_GEOJSON_CACHE_SIZE = 256
#: At most this many footprint names asked for (and their answers) are kept per vintage.
_RESOLUTION_CACHE_SIZE = 4096
_GSS_CODE = re.compile(r"^E\d{8}$")

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
#: The map page (index.html) and its script and stylesheet.
PAGE_DIR = ASSETS_DIR / "serve"


class VintageData:
    """What one vintage serves from, loaded once."""

    def __init__(self, vintage: int):
        import geopandas as gpd
        import shapely

        from stpmap.data import atlas as _atlas

        reg = registry()
        self.vintage = vintage
        self.attribution = reg.attribution()
        self.population_source = reg.population_note(vintage)
        stp = _atlas.layer("stp", vintage).sort_values("code").reset_index(drop=True)
        cols = [c for c in FOOTPRINT_FIELDS if c in stp.columns]
        #: One record per footprint, in code order.
        self.footprints: list[dict] = json.loads(stp[cols].to_json(orient="records"))
        self.footprint_by_code = {r["code"]: r for r in self.footprints}
        #: What each footprint name or code asked for resolved to (a Resolution, or the body of a refusal).
        self._resolutions: dict[str, object] = {}
        geoms = stp.geometry.values
        try:
            web = shapely.coverage_simplify(geoms, WEB_TOLERANCE_M)
        except Exception:  # not a clean coverage: simplify each, keeping it valid
            web = shapely.simplify(geoms, WEB_TOLERANCE_M, preserve_topology=True)
        self._atlas_geometry_bng = geoms
        self._atlas_geometry_wgs84: dict | None = None  # projected on first use (?full=true)
        self._atlas_geometry_lock = threading.Lock()
        web84 = gpd.GeoSeries(web, crs=stp.crs).to_crs(4326).values
        web84 = shapely.make_valid(shapely.set_precision(web84, 10 ** -WEB_DECIMALS))
        self.web_geometry = dict(zip(stp["code"], web84))
        self.bbox_by_code = {c: [round(float(x), WEB_DECIMALS) for x in shapely.bounds(g)]
                             for c, g in self.web_geometry.items()}
        ccg = _atlas.table("ccg", vintage, columns=["code", "ods_code", "name", "stp_code", "population"])
        self.ccgs_by_footprint = {c: json.loads(g.drop(columns="stp_code").sort_values("name").to_json(orient="records"))
                                  for c, g in ccg.groupby("stp_code")}
        parts = _atlas.layer("stp_lad", vintage).rename(columns={"lad_code": "code", "lad_name": "name"})
        self.local_authorities_by_footprint = {
            c: json.loads(g[["code", "name", "population", "share_of_lad"]].sort_values("name").to_json(orient="records"))
            for c, g in parts.groupby("stp_code")
        }
        self._geojson_cache: dict = {}
        self.geojson_collection(None)  # the whole web GeoJSON, built and kept now

    def cached_resolution(self, text: str):
        """What :meth:`resolve` answered for ``text`` before, or None."""
        return self._resolutions.get(text)

    def resolve(self, text: str):
        """The footprint of this vintage that ``text`` names (a code, ODS
        code, CCG ODS code, name, short name or abbreviation), through
        :func:`stpmap.data.aliases.resolve_footprint`: a
        :class:`~stpmap.data.aliases.Resolution`, or, when it names none of
        this vintage's footprints, the body of the error answer (a dict with
        ``error``, ``message`` and the closest names or the vintages of the
        footprint it names). Kept per text, so that asking again is a lookup."""
        hit = self._resolutions.get(text)
        if hit is None:
            hit = self._resolve(text)
            if len(self._resolutions) >= _RESOLUTION_CACHE_SIZE:  # bounded, whatever clients send
                self._resolutions.clear()
            self._resolutions[text] = hit
        return hit

    def _resolve(self, text: str):
        from stpmap.data.aliases import FootprintNameError, code_vintages, resolve_footprint

        v = self.vintage
        listing = f"GET /footprints?vintage={v} lists the footprints of {v} with their names and codes."
        try:
            res = resolve_footprint(text, v, warn=False)
        except FootprintNameError as exc:
            message = str(exc)
            if _GSS_CODE.match(str(text).strip().upper()):  # a code: say which codes there are
                message += f" The footprint codes of {v}: {', '.join(self.footprint_by_code)}."
            return {"error": "not_found", "message": f"{message} {listing}", "did_you_mean": list(exc.choices)}
        if not res.in_vintage or res.code not in self.footprint_by_code:
            served = [y for y in code_vintages(res.code) if y in registry().vintages]
            there = f" It is served with {' or '.join(f'?vintage={y}' for y in served)}." if served else ""
            message = f"{res.note or f'{res.code} is not a footprint of {v}.'}{there} {listing}"
            return {"error": "other_vintage", "message": message,
                    "code": res.code, "name": res.name, "vintages": served,
                    "overlaps": [{"code": c, "name": n, "share": round(s, 4)} for c, n, s in res.overlaps]}
        if res.matched_by == "fuzzy":
            log.info("stpmap serve: %s", res.describe())
        return res

    def feature(self, code: str, full: bool = False) -> dict:
        """One footprint as a GeoJSON feature: web geometry, or the atlas's if ``full``."""
        import shapely

        geom = self._atlas_geometry(code) if full else self.web_geometry[code]
        props = {k: self.footprint_by_code[code].get(k) for k in GEOJSON_PROPERTIES}
        return {"type": "Feature", "id": code, "properties": props, "geometry": json.loads(shapely.to_geojson(geom))}

    def _atlas_geometry(self, code: str):
        with self._atlas_geometry_lock:
            if self._atlas_geometry_wgs84 is None:
                import geopandas as gpd
                import shapely

                g = gpd.GeoSeries(self._atlas_geometry_bng, crs=27700).to_crs(4326).values
                g = shapely.set_precision(g, 1e-6)
                self._atlas_geometry_wgs84 = dict(zip(self.footprint_by_code, g))
        return self._atlas_geometry_wgs84[code]

    def geojson_collection(self, codes: tuple | None, full: bool = False) -> tuple[bytes, bytes]:
        """A GeoJSON FeatureCollection of ``codes`` (None: every footprint) as bytes and their gzip, memoised."""
        key = (codes, full)
        hit = self._geojson_cache.get(key)
        if hit is None:
            doc = {
                "type": "FeatureCollection",
                "vintage": self.vintage,
                "attribution": self.attribution,
                "population_source": self.population_source,
                "simplified_m": None if full else WEB_TOLERANCE_M,
                "features": [self.feature(c, full) for c in (codes if codes is not None else self.footprint_by_code)],
            }
            body = dumps(doc)
            hit = (body, gzip.compress(body, 6))
            if len(self._geojson_cache) < _GEOJSON_CACHE_SIZE:
                self._geojson_cache[key] = hit
        return hit


def ascii_header(text: str) -> str:
    """``text`` as an HTTP header value (ASCII only)."""
    return text.replace("©", "(c)").encode("ascii", "replace").decode("ascii")


class ServiceState:
    """Everything the service answers from (``app.state.stpmap``); :meth:`load` fills it."""

    def __init__(self, vintage, lookup_module):
        reg = registry()
        self.default_vintage: int = reg.check_vintage(vintage)
        self.vintages: list[int] = reg.vintages
        self._vintage_by_text = {str(v): v for v in self.vintages}
        #: :mod:`stpmap.postcodes.lookup`, or a stand-in with the same functions (tests).
        self.lookup_module = lookup_module
        #: Vintage -> what it serves from.
        self.data: dict[int, VintageData] = {}
        #: Vintage -> whether its postcode index is ready.
        self.indexed: dict[int, bool] = {v: False for v in self.vintages}
        self._index_lock = threading.Lock()
        self.page_html: bytes = b""
        self.postcode_attribution = reg.attribution(postcodes=True)
        #: Sent with every postcode and point answer (HTTP headers are ASCII).
        self.attribution_header = {"X-Attribution": ascii_header(self.postcode_attribution)}
        self.startup_seconds = 0.0
        self.loaded = False

    def load(self):
        """Load everything the service answers from (once)."""
        if self.loaded:
            return
        t = time.perf_counter()
        for v in self.vintages:
            self.data[v] = VintageData(v)
        if self.lookup_module is None:
            from stpmap.postcodes import lookup as _lookup

            self.lookup_module = _lookup
        for v in self.vintages:
            self.ensure_index(v)
        self.page_html = _render_page(self)
        self.startup_seconds = time.perf_counter() - t
        self.loaded = True
        log.info("stpmap serve: loaded vintages %s in %.2f s", self.vintages, self.startup_seconds)

    def prepare(self):
        """Build or check the caches (atlas and postcode index of every
        vintage) without loading what the service answers from: what a
        server with several workers does once, before they start."""
        from stpmap.data import atlas as _atlas

        lookup = self.lookup_module
        if lookup is None:
            from stpmap.postcodes import lookup
        for v in self.vintages:
            _atlas.ensure(v, progress=False)
            lookup.index(v)

    def ensure_index(self, vintage: int):
        """Build or open the postcode index of ``vintage`` (once)."""
        if self.indexed.get(vintage):
            return
        with self._index_lock:
            if not self.indexed.get(vintage):
                index = getattr(self.lookup_module, "index", None)
                if index is not None:
                    index(vintage)
                self.indexed[vintage] = True

    def resolve_vintage(self, text: str | None) -> int:
        """The vintage a ``?vintage=`` value asks for (None: the default); :class:`ChoiceError` if unknown."""
        if text is None:
            return self.default_vintage
        hit = self._vintage_by_text.get(text)
        if hit is None:
            raise ChoiceError("vintage", text, self.vintages)
        return hit


def _render_page(state: ServiceState) -> bytes:
    """The map page with the service's settings written into it."""
    html = (PAGE_DIR / "index.html").read_text(encoding="utf-8")
    config = {
        "vintage": state.default_vintage,
        "vintages": state.vintages,
        "attribution": state.postcode_attribution,
        "maxPostcodes": MAX_POSTCODES,
    }
    # JSON inside <script>: no character may close the element or start a comment
    text = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return html.replace("{{CONFIG}}", text).encode("utf-8")


def service_state(request: Request) -> ServiceState:
    """The :class:`ServiceState` of the app answering ``request``."""
    return request.app.state.stpmap
