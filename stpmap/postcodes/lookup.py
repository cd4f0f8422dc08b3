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
postcode (all declared in :mod:`stpmap.postcodes.results`). The postcode index
(see :mod:`stpmap.postcodes.index`) is built into the cache the first time a
vintage is used (about 10 s), and memory-mapped afterwards.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np

from stpmap.data.registry import registry
from stpmap.errors import InputError
from stpmap.postcodes import index as _pcindex
from stpmap.postcodes import parse as _parse
from stpmap.postcodes.results import METHODS, RESULT_KEYS, STATUSES  # noqa: F401  (re-exported)

#: Above this many postcodes, lookup_many reads the index into memory (once).
BULK_IN_MEMORY = 20_000

#: From this many postcodes at once, lookup_many uses the compiled loops
#: (:mod:`stpmap.postcodes.compiled`): they save some 60 ns a postcode, and loading
#: numba costs about half a second of CPU once in a process, which calls this big
#: repay after a few. Files are looked up a chunk at a time in a process of their
#: own, with NumPy (see :func:`answers`).
COMPILED_FROM = 1_000_000

#: A point farther than this from every footprint is outside England.
NEAREST_MAX_M = 1000.0

_PSEUDO_OKEY = _parse.outward_key(_parse.PSEUDO_OUTWARD)


def _vintage(vintage) -> int:
    return registry().check_vintage(vintage)


def index(vintage=None) -> "_pcindex.VintageIndex":
    """Build (first time) or load the postcode index of ``vintage``.

    Call it to pay the one-off cost up front, e.g. before serving requests.
    """
    return _pcindex.vintage_index(vintage)


@functools.lru_cache(maxsize=4)
def _pseudo_reasons(reasons) -> dict[int, int]:
    """Inward code of each known pseudo-postcode -> its reason's position."""
    return {_parse.inward_code(pc.split()[1]): position for pc, position in reasons.pseudo.items()}


# ---------------------------------------------------------------- one postcode


def _number(x) -> float | None:
    """A float, None for NaN."""
    x = float(x)
    return None if math.isnan(x) else x


def _record(postcode, reason: int, placements: "_pcindex.VintageIndex", combo=None, row=-1) -> dict:
    """The answer for one postcode: its reason, and where the index placed its directory row."""
    rec = dict.fromkeys(RESULT_KEYS)
    _, status, method, message = placements.reasons[reason]
    rec.update(postcode=postcode, status=status, message=message, method=method)
    if combo is not None:
        s, c, l, g = (int(placements.combo_stp[combo]), int(placements.combo_ccg[combo]),
                      int(placements.combo_lad[combo]), int(placements.combo_region[combo]))
        if s >= 0:
            rec.update(footprint_code=placements.stp_codes[s], footprint_name=placements.stp_names[s])
        if c >= 0:
            rec.update(ccg_code=placements.ccg_codes[c], ccg_ods_code=placements.ccg_ods[c],
                       ccg_name=placements.ccg_names[c])
        if l >= 0:
            rec.update(lad_code=placements.lad_codes[l], lad_name=placements.lad_names[l])
        if g >= 0:
            rec["region"] = placements.regions[g]
        rec["distance_m"] = _number(placements.distance[row])
    if row >= 0:
        directory = placements.directory
        rec.update(easting=_number(directory.easting[row]), northing=_number(directory.northing[row]),
                   latitude=_number(directory.latitude[row]), longitude=_number(directory.longitude[row]))
    return rec


def lookup(postcode, vintage=None) -> dict:
    """The footprint, CCG, local authority and region of one postcode.

    Parameters
    ----------
    postcode : str
        Any case and spacing: ``"NG1 5DT"``, ``"ng15dt"``.
    vintage : int, default 2017
        Geography to answer in: 2017 (44 footprints), 2018 to 2021 (42) or 2022 (the 42 ICBs).

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
    placements = index(vintage)
    reasons = placements.reasons
    text = _parse.compact(postcode)
    if not text:
        shown = None if postcode is None or isinstance(postcode, float) else str(postcode)
        return _record(shown, reasons.empty, placements)
    canon = _parse.canonical_postcode(text)
    if canon is None:
        return _record(str(postcode), reasons.invalid, placements)
    okey, icode = _parse.index_keys(canon)
    if okey == _PSEUDO_OKEY:
        return _record(canon, _pseudo_reasons(reasons).get(icode, reasons.pseudo_other), placements)
    row = placements.directory.row(okey, icode)
    if row < 0:
        return _record(canon, reasons.not_found, placements)
    combo = int(placements.assign[row])
    return _record(canon, int(placements.combo_reason[combo]), placements, combo, row)


# ---------------------------------------------------------------- many

#: The result keys that are text from a small table (categorical; dictionary-encoded in files).
CODED_KEYS = ("status", "message", "footprint_code", "footprint_name", "ccg_code", "ccg_ods_code", "ccg_name",
              "lad_code", "lad_name", "region", "method")
#: The result keys that are numbers, and the column of the directory's coordinates each is.
COORDINATE_KEYS = {"easting": 0, "northing": 1, "latitude": 2, "longitude": 3}


@functools.lru_cache(maxsize=4)
def _pseudo_table(reasons) -> np.ndarray:
    """Inward code -> the reason of the pseudo-postcode ``ZZ99`` with it."""
    table = np.full(_parse.INWARD_SPACE, reasons.pseudo_other, dtype=np.int16)
    for icode, position in _pseudo_reasons(reasons).items():
        table[icode] = position
    return table


@functools.lru_cache(maxsize=8)
def _combo_tables(placements: "_pcindex.VintageIndex") -> dict:
    """The index's combination columns, each with a last entry for "no combination" (position -1)."""
    missing = np.array([-1], dtype=np.int16)
    return {"reason": placements.combo_reason.astype(np.int16),
            "stp": np.concatenate([placements.combo_stp, missing]), "ccg": np.concatenate([placements.combo_ccg, missing]),
            "lad": np.concatenate([placements.combo_lad, missing]),
            "region": np.concatenate([placements.combo_region, missing])}


def _unique_labels(codes: np.ndarray, labels) -> tuple[np.ndarray, list]:
    """Codes into a list of distinct labels (a table may name two things alike)."""
    labels = list(labels)
    if len(set(labels)) == len(labels):
        return codes, labels
    first: dict = {}
    remap = np.array([first.setdefault(label, len(first)) for label in labels] + [-1], dtype=np.int16)
    return remap[codes], list(first)


def _smallest(codes: np.ndarray, labels: list) -> np.ndarray:
    """Codes as int8 when there are few labels (as pandas keeps a categorical's codes), else int16."""
    return codes.astype(np.int8 if len(labels) < 128 else np.int16)


@functools.lru_cache(maxsize=8)
def _label_tables(placements: "_pcindex.VintageIndex") -> dict[str, tuple[np.ndarray, list]]:
    """For each key of :data:`CODED_KEYS`, a table from a row's reason (``status``,
    ``method``, ``message``) or combination (the others; the last entry for none) to
    the position of its label among distinct labels (-1 for none), and those labels:
    a column is then one gather from a small table."""
    p, reasons = placements, placements.reasons
    tables = {"status": (reasons.status_codes, list(STATUSES)), "method": (reasons.method_codes, list(METHODS)),
              "message": _unique_labels(np.arange(len(reasons)), reasons.messages)}
    combos = _combo_tables(p)
    for key, (part, labels) in {
        "footprint_code": ("stp", p.stp_codes), "footprint_name": ("stp", p.stp_names),
        "ccg_code": ("ccg", p.ccg_codes), "ccg_ods_code": ("ccg", p.ccg_ods), "ccg_name": ("ccg", p.ccg_names),
        "lad_code": ("lad", p.lad_codes), "lad_name": ("lad", p.lad_names), "region": ("region", p.regions),
    }.items():
        tables[key] = _unique_labels(combos[part], labels)
    return {key: (_smallest(codes, labels), labels) for key, (codes, labels) in tables.items()}


class Answers:
    """What the lookup finds for many postcodes, as NumPy arrays: the kernel shared by
    :func:`lookup_many` (a pandas frame) and the file lookups (Arrow columns).

    ``reason`` is each row's position in ``placements.reasons``, ``row`` its directory
    row (-1 where not in the directory) and ``combo`` its row of the index's combination
    table (-1 for none). :meth:`codes` and :meth:`numbers` give the result columns.
    """

    def __init__(self, parsed: "_parse.Parsed", placements: "_pcindex.VintageIndex", reason, row, combo,
                 compiled: bool = False):
        self.parsed, self.placements = parsed, placements
        self.reason, self.row, self.combo = reason, row, combo
        self.compiled = compiled  # gather the numbers with the compiled loops too
        self._coords = None

    def __len__(self) -> int:
        return len(self.reason)

    def status_codes(self) -> np.ndarray:
        """Each row's status as a position in :data:`STATUSES`."""
        return self.placements.reasons.status_codes[self.reason]

    def status_counts(self) -> dict[str, int]:
        """How many rows have each status (every status, in :data:`STATUSES` order)."""
        counts = np.bincount(self.status_codes(), minlength=len(STATUSES))
        return {status: int(n) for status, n in zip(STATUSES, counts)}

    def codes(self, key: str) -> tuple[np.ndarray, list]:
        """A text column of :data:`CODED_KEYS` as codes (-1 where missing) into a list of
        distinct labels."""
        table, labels = _label_tables(self.placements)[key]
        return np.take(table, self.reason if key in ("status", "method", "message") else self.combo), list(labels)

    def numbers(self, key: str) -> np.ndarray:
        """A number column (float64, NaN where missing): a coordinate or ``distance_m``."""
        if self.compiled:
            return self._numbers_compiled(key)
        found = self.row >= 0
        every = bool(found.all())
        safe = self.row if every else np.where(found, self.row, 0)
        if key == "distance_m":
            values = np.take(self.placements.distance, safe).astype(np.float64)
        else:
            if self._coords is None:  # the four of a row at once (one memory read), then column by column
                self._coords = np.ascontiguousarray(np.take(self.placements.directory.coords, safe, axis=0).T)
            values = self._coords[COORDINATE_KEYS[key]]
        if not every:
            values[~found] = np.nan
        return values

    def _numbers_compiled(self, key: str) -> np.ndarray:
        from stpmap.postcodes import compiled

        if key == "distance_m":
            values = np.empty(len(self), dtype=np.float64)
            compiled.gather(self.row, self.placements.distance, values)
            return values
        if self._coords is None:
            self._coords = np.empty((len(COORDINATE_KEYS), len(self)), dtype=np.float64)
            compiled.gather_coordinates(self.row, self.placements.directory.coords, self._coords)
        return self._coords[COORDINATE_KEYS[key]]

    def postcodes(self):
        """The canonical postcode of each valid row, the text given for the others (pyarrow strings)."""
        return self.parsed.postcodes()


def _placed_compiled(parsed: "_parse.Parsed", placements: "_pcindex.VintageIndex"):
    """Each row's directory row, combination and reason, with the compiled loops."""
    from stpmap.postcodes import compiled

    n, directory, reasons = len(parsed), placements.directory, placements.reasons
    row, combo, reason = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int16)
    compiled.find_rows(parsed.outward_key, parsed.inward_code, parsed.valid, directory.out_slot, directory.table, row)
    compiled.place(row, parsed.valid, parsed.empty, parsed.outward_key, parsed.inward_code, placements.assign,
                   _combo_tables(placements)["reason"], _PSEUDO_OKEY, _pseudo_table(reasons), reasons.not_found,
                   reasons.empty, reasons.invalid, combo, reason)
    return row, combo, reason


def _placed_arrays(parsed: "_parse.Parsed", placements: "_pcindex.VintageIndex"):
    """Each row's directory row, combination and reason, with NumPy over whole arrays."""
    directory, reasons = placements.directory, placements.reasons
    valid, okey, icode = parsed.valid, parsed.outward_key, parsed.inward_code
    slot = np.take(directory.out_slot, okey)
    flat = slot.astype(np.int64)  # the position in the table (slot -1, no such outward code: ignored below)
    flat *= _parse.INWARD_SPACE
    flat += icode
    np.maximum(flat, 0, out=flat)
    row = np.take(directory.table, flat)
    lost = (slot < 0) | ~valid
    row[lost] = -1
    combo = np.take(placements.assign, row)
    lost |= row < 0
    combo[lost] = -1
    reason = np.take(_combo_tables(placements)["reason"], combo)  # rows without a combination: set below
    missing = np.flatnonzero(lost)
    if len(missing):
        not_placed = np.where(okey[missing] == _PSEUDO_OKEY, _pseudo_table(reasons)[icode[missing]], reasons.not_found)
        reason[missing] = np.where(valid[missing], not_placed,
                                   np.where(parsed.empty[missing], reasons.empty, reasons.invalid))
    return row, combo, reason


def answers(postcodes, vintage=None, compiled: bool | None = False) -> Answers:
    """Look up many postcodes at once, as arrays (see :class:`Answers`); one row per
    input, in input order. :func:`lookup_many` makes a frame of them.

    ``compiled``: with the compiled loops (:mod:`stpmap.postcodes.compiled`), or
    with NumPy over whole arrays: the same answers. The loops are about twice as
    fast, once numba is loaded (some half a second of CPU, once in a process);
    None chooses them from :data:`COMPILED_FROM` postcodes on."""
    placements = index(vintage)
    text = _parse.string_array(postcodes)
    compiled = len(text) >= COMPILED_FROM if compiled is None else bool(compiled)
    parsed = _parse.parse(text, compiled)
    if len(text) > BULK_IN_MEMORY:
        placements.materialise()
    row, combo, reason = (_placed_compiled if compiled else _placed_arrays)(parsed, placements)
    return Answers(parsed, placements, reason, row, combo, compiled)


@functools.lru_cache(maxsize=64)
def _category_type(labels: tuple):
    import pandas as pd

    return pd.CategoricalDtype(list(labels))


def _categorical(codes: np.ndarray, labels: list):
    import pandas as pd

    return pd.Categorical.from_codes(codes, dtype=_category_type(tuple(labels)), validate=False)


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
        Columns :data:`RESULT_KEYS` (text columns are categorical, but
        ``postcode``), a RangeIndex, exactly ``len(postcodes)`` rows in input
        order. ``attrs`` carries the vintage and the attribution to print with the data.

    Examples
    --------
    >>> df = lookup_many(["NG1 5DT", "not a postcode", None])    # doctest: +SKIP
    >>> df["status"].tolist()                                   # doctest: +SKIP
    ['ok', 'invalid', 'invalid']
    """
    import pandas as pd

    v = _vintage(vintage)
    found = answers(postcodes, v, compiled=None)
    columns = {}
    for key in RESULT_KEYS:
        if key == "postcode":
            text = found.postcodes()
            columns[key] = pd.array(text, dtype=pd.StringDtype("pyarrow", na_value=np.nan)) if len(found) \
                else pd.array([], dtype="string")
        elif key in CODED_KEYS:
            columns[key] = _categorical(*found.codes(key))
        else:
            columns[key] = found.numbers(key)
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

    def __init__(self, placements: "_pcindex.VintageIndex"):
        import shapely

        from stpmap.data import atlas as _atlas

        vintage = placements.vintage
        ccg = _atlas.layer("ccg", vintage).set_index("code").loc[placements.ccg_codes]
        lad = _atlas.layer("lad", vintage).set_index("code").loc[placements.lad_codes]
        self.ccg = ccg.geometry.to_numpy()
        self.lad = lad.geometry.to_numpy()
        shapely.prepare(self.ccg)
        shapely.prepare(self.lad)
        self.ccg_tree = shapely.STRtree(self.ccg)
        self.lad_tree = shapely.STRtree(self.lad)
        stp_pos = {c: i for i, c in enumerate(placements.stp_codes)}
        self.ccg_stp = np.array([stp_pos[c] for c in ccg["stp_code"]])
        self.lad_region = np.array([placements.regions.index(r) if isinstance(r, str) else -1 for r in lad["region"]])

    @staticmethod
    def of(placements: "_pcindex.VintageIndex") -> "_Shapes":
        """The shapes for an index, prepared once for each loaded index (so a
        rebuilt one gets its own), even when asked from several threads at once."""
        with _shapes_lock:
            return _prepared_shapes(placements)

    @staticmethod
    def find(tree, geoms, point) -> tuple[int, float]:
        hits = tree.query(point, predicate="intersects")
        if len(hits):
            return int(hits.min()), 0.0
        i, dist = tree.query_nearest(point, return_distance=True)
        return int(i[0]), float(dist[0])


_shapes_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _prepared_shapes(placements: "_pcindex.VintageIndex") -> _Shapes:
    return _Shapes(placements)


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
    placements = index(v)
    shapes = _Shapes.of(placements)
    pt = shapely.points(e, n)
    c, dist = shapes.find(shapes.ccg_tree, shapes.ccg, pt)
    s = int(shapes.ccg_stp[c])
    if dist > NEAREST_MAX_M:
        rec.update(status="outside_england",
                   message=f"The point is not in England: the nearest footprint, {placements.stp_names[s]}, is "
                           f"{dist / 1000:,.1f} km away. STP footprints cover England only.")
        return rec
    l, _ = shapes.find(shapes.lad_tree, shapes.lad, pt)
    g = int(shapes.lad_region[l])
    rec.update(
        status="ok", footprint_code=placements.stp_codes[s], footprint_name=placements.stp_names[s],
        ccg_code=placements.ccg_codes[c], ccg_ods_code=placements.ccg_ods[c], ccg_name=placements.ccg_names[c],
        lad_code=placements.lad_codes[l], lad_name=placements.lad_names[l],
        region=placements.regions[g] if g >= 0 else None,
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
