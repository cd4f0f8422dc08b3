"""Which footprint covers a postcode or a point: one, or millions at once.

>>> import stpmap
>>> r = stpmap.lookup("NG1 5DT")                                   # doctest: +SKIP
>>> r["footprint_code"], r["footprint_name"]                        # doctest: +SKIP
('E54000020', 'Nottinghamshire')
>>> df = stpmap.lookup_many(["ng15dt", "ZZ99 3VZ", "EH1 1YZ"])        # doctest: +SKIP
>>> df["status"].tolist()                                           # doctest: +SKIP
['ok', 'pseudo', 'outside_england']
>>> stpmap.locate(lat=52.95, lon=-1.15)["footprint_code"]           # doctest: +SKIP
'E54000020'

Every answer is a record with the keys :data:`RESULT_KEYS`; ``status`` is one
of :data:`STATUSES` and ``message`` says in words what it means for that
postcode. The postcode index (see :mod:`._pcindex`) is built into the cache
the first time a vintage is used (about 10 s), and memory-mapped afterwards.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np

from stpmap.postcodes import index as _pcindex
from stpmap.postcodes import parse as _postcodes
from stpmap import settings as _settings
from stpmap.errors import InputError
from stpmap.data.registry import registry

RESULT_KEYS = (
    "postcode", "status", "message", "footprint_code", "footprint_name", "ccg_code", "ccg_ods_code", "ccg_name",
    "lad_code", "lad_name", "region", "easting", "northing", "latitude", "longitude", "method", "distance_m",
)
STATUSES = ("ok", "invalid", "not_found", "outside_england", "no_coordinates", "pseudo")
METHODS = ("lad", "point_in_polygon", "nearest")

#: Above this many postcodes, lookup_many reads the index into memory (once).
BULK_IN_MEMORY = 20_000

#: A point farther than this from every footprint is outside England.
NEAREST_MAX_M = 1000.0

_REASON_STATUS = np.array([STATUSES.index(s) for s, _, _ in _pcindex.REASONS], dtype=np.int8)
_REASON_METHOD = np.array([METHODS.index(m) if m else -1 for _, m, _ in _pcindex.REASONS], dtype=np.int8)
_MESSAGES = [m for _, _, m in _pcindex.REASONS]
_PSEUDO_OKEY = _postcodes.outward_key(_postcodes.PSEUDO_OUTWARD)
_PSEUDO_ICODES = {_postcodes.inward_code(pc.split()[1]): r for pc, r in _pcindex.R_PSEUDO.items()}


def _vintage(vintage) -> int:
    return registry().check_vintage(vintage)


def index(vintage=None) -> "_pcindex.VintageIndex":
    """Build (first time) or load the postcode index of ``vintage``.

    Call it to pay the one-off cost up front, e.g. before serving requests.
    """
    return _pcindex.vintage_index(_vintage(vintage))


# ---------------------------------------------------------------- one postcode


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _record(postcode, reason: int, vi=None, combo=None, d=None, row=-1) -> dict:
    rec = dict.fromkeys(RESULT_KEYS)
    status, method, message = _pcindex.REASONS[reason]
    rec.update(postcode=postcode, status=status, message=message, method=method)
    if combo is not None:
        s, c, l, g = (int(vi.combo_stp[combo]), int(vi.combo_ccg[combo]), int(vi.combo_lad[combo]),
                      int(vi.combo_region[combo]))
        if s >= 0:
            rec.update(footprint_code=vi.stp_codes[s], footprint_name=vi.stp_names[s])
        if c >= 0:
            rec.update(ccg_code=vi.ccg_codes[c], ccg_ods_code=vi.ccg_ods[c], ccg_name=vi.ccg_names[c])
        if l >= 0:
            rec.update(lad_code=vi.lad_codes[l], lad_name=vi.lad_names[l])
        if g >= 0:
            rec["region"] = vi.regions[g]
        rec["distance_m"] = _num(vi.distance[row])
    if row >= 0:
        rec.update(easting=_num(d.easting[row]), northing=_num(d.northing[row]),
                   latitude=_num(d.latitude[row]), longitude=_num(d.longitude[row]))
    return rec


def lookup(postcode, vintage=None) -> dict:
    """The footprint, CCG, local authority and region of one postcode.

    Parameters
    ----------
    postcode : str
        Any case and spacing: ``"NG1 5DT"``, ``"ng15dt"``.
    vintage : int, default 2017
        Geography to answer in: 2017 (44 footprints) or 2021 (42).

    Returns
    -------
    dict
        The keys of :data:`RESULT_KEYS`; missing values are None. ``status`` is
        ``ok``, ``invalid``, ``not_found``, ``outside_england``,
        ``no_coordinates`` or ``pseudo``.

    Examples
    --------
    >>> rec = lookup("sk13 8ly")                              # doctest: +SKIP
    >>> rec["postcode"], rec["lad_name"], rec["footprint_name"]  # doctest: +SKIP
    ('SK13 8LY', 'High Peak', 'Greater Manchester')
    """
    vi = index(vintage)
    d = _pcindex.directory()
    s = _postcodes.compact(postcode)
    if not s:
        return _record(None if postcode is None or isinstance(postcode, float) else str(postcode), _pcindex.R_EMPTY)
    canon = _postcodes.normalise(s)
    if canon is None:
        return _record(str(postcode), _pcindex.R_INVALID)
    okey, icode = _postcodes.keys(canon)
    if okey == _PSEUDO_OKEY:
        return _record(canon, _PSEUDO_ICODES.get(icode, _pcindex.R_PSEUDO_OTHER))
    row = d.row(okey, icode)
    if row < 0:
        return _record(canon, _pcindex.R_NOT_FOUND)
    combo = int(vi.assign[row])
    return _record(canon, int(vi.combo_reason[combo]), vi, combo, d, row)


# ---------------------------------------------------------------- many


def _categorical(codes: np.ndarray, labels: list):
    import pandas as pd

    if len(set(labels)) == len(labels):
        return pd.Categorical.from_codes(codes, categories=labels)
    values = np.array(list(labels) + [None], dtype=object)
    return values[np.where(codes < 0, len(labels), codes)]


def lookup_many(postcodes, vintage=None):
    """Look up many postcodes at once: one row per input, in input order.

    Parameters
    ----------
    postcodes : list, NumPy array, pandas Series or pyarrow array of str
        Any case and spacing; None and NaN give status ``invalid``.
    vintage : int, default 2017

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESULT_KEYS` (text columns are categorical), a
        RangeIndex, exactly ``len(postcodes)`` rows in input order. ``attrs``
        carries the vintage and the attribution to print with the data.

    Examples
    --------
    >>> df = lookup_many(["NG1 5DT", "not a postcode", None])    # doctest: +SKIP
    >>> df["status"].tolist()                                   # doctest: +SKIP
    ['ok', 'invalid', 'invalid']
    """
    import pandas as pd

    v = _vintage(vintage)
    vi = index(v)
    d = _pcindex.directory()
    p = _postcodes.parse(postcodes)
    n = len(p)
    if n > BULK_IN_MEMORY:
        d.materialise()
        vi.materialise()
    reason = np.where(p.empty, _pcindex.R_EMPTY, _pcindex.R_INVALID).astype(np.int16)
    row = np.full(n, -1, dtype=np.int32)
    valid = np.flatnonzero(p.valid)
    row[valid] = d.rows(p.outward_key[valid], p.inward_code[valid])
    found = np.flatnonzero(row >= 0)
    reason[p.valid] = _pcindex.R_NOT_FOUND
    pseudo = np.flatnonzero(p.valid & (p.outward_key == _PSEUDO_OKEY))
    if len(pseudo):
        reason[pseudo] = [_PSEUDO_ICODES.get(int(i), _pcindex.R_PSEUDO_OTHER) for i in p.inward_code[pseudo]]

    stp = np.full(n, -1, dtype=np.int16)
    ccg, lad, region = stp.copy(), stp.copy(), stp.copy()
    fr = row[found]
    combo = np.take(vi.assign, fr) if len(found) else np.zeros(0, np.int32)
    reason[found] = vi.combo_reason[combo]
    stp[found] = vi.combo_stp[combo]
    ccg[found] = vi.combo_ccg[combo]
    lad[found] = vi.combo_lad[combo]
    region[found] = vi.combo_region[combo]

    missing = len(found) < n
    safe = np.where(row >= 0, row, 0) if missing else row
    coords = np.take(d.coords, safe, axis=0)
    dist = np.take(vi.distance, safe).astype(np.float64)
    if missing:
        coords[row < 0] = np.nan
        dist[row < 0] = np.nan

    columns = {
        "postcode": pd.array(p.postcodes(), dtype=pd.StringDtype("pyarrow", na_value=np.nan)) if n else pd.array([], dtype="string"),
        "status": _categorical(_REASON_STATUS[reason], list(STATUSES)),
        "message": _categorical(reason, _MESSAGES),
        "footprint_code": _categorical(stp, vi.stp_codes),
        "footprint_name": _categorical(stp, vi.stp_names),
        "ccg_code": _categorical(ccg, vi.ccg_codes),
        "ccg_ods_code": _categorical(ccg, vi.ccg_ods),
        "ccg_name": _categorical(ccg, vi.ccg_names),
        "lad_code": _categorical(lad, vi.lad_codes),
        "lad_name": _categorical(lad, vi.lad_names),
        "region": _categorical(region, vi.regions),
        "easting": coords[:, 0],
        "northing": coords[:, 1],
        "latitude": coords[:, 2],
        "longitude": coords[:, 3],
        "method": _categorical(_REASON_METHOD[reason], list(METHODS)),
        "distance_m": dist,
    }
    df = pd.DataFrame(columns, copy=False)
    df.attrs.update(vintage=v, attribution=registry().attribution(postcodes=True))
    return df


# ---------------------------------------------------------------- points


@functools.lru_cache(maxsize=16)
def _to_bng(crs: str):
    from pyproj import Transformer

    return Transformer.from_crs(crs, 27700, always_xy=True)


class _Shapes:
    """The vintage's CCG and district polygons, prepared, for points."""

    _lock = threading.Lock()
    _cache: dict = {}

    def __init__(self, vintage: int):
        import shapely

        from stpmap.data import atlas as _atlas

        vi = index(vintage)
        ccg = _atlas.layer("ccg", vintage).set_index("code").loc[vi.ccg_codes]
        lad = _atlas.layer("lad", vintage).set_index("code").loc[vi.lad_codes]
        self.ccg = ccg.geometry.to_numpy()
        self.lad = lad.geometry.to_numpy()
        shapely.prepare(self.ccg)
        shapely.prepare(self.lad)
        self.ccg_tree = shapely.STRtree(self.ccg)
        self.lad_tree = shapely.STRtree(self.lad)
        stp_pos = {c: i for i, c in enumerate(vi.stp_codes)}
        self.ccg_stp = np.array([stp_pos[c] for c in ccg["stp_code"]])
        self.lad_region = np.array([vi.regions.index(r) if isinstance(r, str) else -1 for r in lad["region"]])

    @classmethod
    def of(cls, vintage: int) -> "_Shapes":
        with cls._lock:
            key = (vintage, id(_pcindex.vintage_index(vintage)))
            if key not in cls._cache:
                cls._cache[key] = cls(vintage)
            return cls._cache[key]

    @staticmethod
    def find(tree, geoms, point) -> tuple[int, float]:
        hits = tree.query(point, predicate="intersects")
        if len(hits):
            return int(hits.min()), 0.0
        i, dist = tree.query_nearest(point, return_distance=True)
        return int(i[0]), float(dist[0])


def locate(lat=None, lon=None, *, easting=None, northing=None, x=None, y=None, crs=None, vintage=None) -> dict:
    """The footprint at a point: WGS84 ``lat``/``lon``, British National Grid
    ``easting``/``northing``, or ``x``/``y`` in any ``crs`` pyproj knows.

    A point just off the generalised coastline (within 1 km) is placed in the
    nearest footprint (``method`` ``nearest``, ``distance_m``); one farther away
    has status ``outside_england``.

    >>> locate(lat=53.4808, lon=-2.2426)["footprint_name"]      # doctest: +SKIP
    'Greater Manchester'
    >>> locate(easting=457000, northing=340000)["status"]       # doctest: +SKIP
    'ok'
    """
    import shapely

    v = _vintage(vintage)
    given = {k for k, val in (("lat", lat), ("lon", lon), ("easting", easting), ("northing", northing),
                              ("x", x), ("y", y), ("crs", crs)) if val is not None}
    try:
        if given == {"lat", "lon"}:
            lat, lon = float(lat), float(lon)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise InputError(f"lat {lat} / lon {lon} are not WGS84 degrees (lat -90..90, lon -180..180). "
                                 "For grid references use easting= and northing=.")
            e, n = _to_bng("EPSG:4326").transform(lon, lat)
        elif given == {"easting", "northing"}:
            e, n = float(easting), float(northing)
        elif given == {"x", "y", "crs"}:
            e, n = _to_bng(str(crs)).transform(float(x), float(y))
        else:
            raise InputError("Give exactly one of: lat and lon (WGS84 degrees); easting and northing (British National "
                             f"Grid metres); or x, y and crs. Got: {', '.join(sorted(given)) or 'nothing'}.")
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"The coordinates must be numbers ({exc}).") from None
    rec = dict.fromkeys(RESULT_KEYS)
    if not (math.isfinite(e) and math.isfinite(n)):
        rec.update(status="outside_england", message="The point is far outside Great Britain: STP footprints cover "
                                                     "England only.")
        return rec
    lon_, lat_ = _to_wgs84().transform(e, n)
    rec.update(easting=round(e, 2), northing=round(n, 2), latitude=round(lat_, 6), longitude=round(lon_, 6))
    vi = index(v)
    sh = _Shapes.of(v)
    pt = shapely.points(e, n)
    c, dist = sh.find(sh.ccg_tree, sh.ccg, pt)
    s = int(sh.ccg_stp[c])
    if dist > NEAREST_MAX_M:
        rec.update(status="outside_england",
                   message=f"The point is not in England: the nearest footprint, {vi.stp_names[s]}, is "
                           f"{dist / 1000:,.1f} km away. STP footprints cover England only.")
        return rec
    l, _ = sh.find(sh.lad_tree, sh.lad, pt)
    g = int(sh.lad_region[l])
    rec.update(
        status="ok", footprint_code=vi.stp_codes[s], footprint_name=vi.stp_names[s],
        ccg_code=vi.ccg_codes[c], ccg_ods_code=vi.ccg_ods[c], ccg_name=vi.ccg_names[c],
        lad_code=vi.lad_codes[l], lad_name=vi.lad_names[l], region=vi.regions[g] if g >= 0 else None,
    )
    if dist > 0:
        rec.update(method="nearest", distance_m=round(dist, 1),
                   message=f"Just outside the generalised boundaries; placed in the nearest footprint, "
                           f"{dist:,.0f} m away.")
    else:
        rec.update(method="point_in_polygon", message="Placed by point-in-polygon in the CCG boundaries.")
    return rec


@functools.lru_cache(maxsize=1)
def _to_wgs84():
    from pyproj import Transformer

    return Transformer.from_crs(27700, 4326, always_xy=True)
