"""Reading the built atlas from the cache, building it on first use.

Layers read from disk are kept in memory, keyed by the file's path, inode,
size and modification time, so a rebuilt atlas (or another cache folder) is
never answered from an older copy. An atlas whose files do not match the
checksums of its manifest (see :func:`stpmap._cache.damage`) is rebuilt
before anything is read from it; where it cannot be, that is a
:class:`~stpmap.errors.CacheError` saying how to rebuild it.
"""

from __future__ import annotations

import logging
import threading
from functools import cache
from pathlib import Path

from stpmap import _cache
from stpmap.data.layout import SPATIAL_LAYERS, TABLE_LAYERS, expected_manifest, layer_file
from stpmap.data.registry import registry
from stpmap.errors import CacheError, ChoiceError

log = logging.getLogger("stpmap.data")

#: One build at a time: threads asking for a missing atlas wait for the first one's build.
_build_lock = threading.Lock()


def manifest(vintage: int) -> dict | None:
    """The manifest of the vintage's atlas in the cache, or None when it is not built."""
    return _cache.read_manifest(_cache.atlas_folder(vintage))


def is_current(vintage: int) -> bool:
    """Whether the cache holds the vintage's atlas, built from the registry in force."""
    return _cache.is_current(_cache.atlas_folder(vintage), expected_manifest())


def fix(vintage: int) -> str:
    """How to rebuild the vintage's atlas by hand."""
    return (f"Rebuild it with `stpmap data build --vintage {vintage}` where the cache can be written, or remove "
            f"the folder, or choose another cache folder (STPMAP_CACHE).")


def ensure(vintage=None, progress: bool = True) -> Path:
    """The folder of the vintage's atlas, building it first if needed (also when
    its files do not match the checksums of its manifest)."""
    vintage = registry().check_vintage(vintage)
    folder = _cache.atlas_folder(vintage)
    with _build_lock:
        state, problems = _cache.state(folder, expected_manifest())
        if state in (_cache.MISSING, _cache.STALE):
            _cache.require_writable(folder)
            log.info("Building the %s atlas from the official ONS files (once; about 10 s)...", vintage)
            _build(vintage, progress=progress)
        elif state == _cache.DAMAGED:
            _rebuild_damaged(vintage, folder, problems, progress)
    return folder


def _rebuild_damaged(vintage: int, folder: Path, problems: list[str], progress: bool) -> None:
    what = "; ".join(problems)
    _cache.log.warning("The atlas in %s is damaged (%s); rebuilding it.", folder, what)
    try:
        _cache.require_writable(folder)
        _build(vintage, progress=progress)
    except CacheError as exc:
        raise CacheError(f"The atlas in {folder} is damaged ({what}) and cannot be rebuilt there: {exc} "
                         f"{fix(vintage)}") from None


def available_layers(vintage: int) -> list[str]:
    """The names of the layers the vintage has (NHS England local offices end in 2018)."""
    folder = ensure(vintage)
    return [n for n in SPATIAL_LAYERS + TABLE_LAYERS if layer_file(folder, n).exists()]


def _layer_path(name: str, vintage) -> Path:
    path = layer_file(ensure(vintage), name)
    if not path.exists():
        raise ChoiceError("layer", name, available_layers(int(vintage)), f"for vintage {vintage}")
    return path


@cache
def _read(path: Path, spatial: bool, identity: tuple):
    """One layer file, read once for each version of the file (``identity``)."""
    if spatial:
        import geopandas as gpd

        return gpd.read_parquet(path)
    import pandas as pd

    return pd.read_parquet(path)


def _checked_read(name: str, vintage: int, read):
    """``read(path)`` of the layer's file. A file that cannot be read although
    the stamp said the atlas was intact makes the atlas be checked in full,
    rebuilt if damaged and read again; a damaged atlas is never a reader's
    traceback (ArrowInvalid...), but rebuilt or a :class:`CacheError`."""
    path = _layer_path(name, vintage)
    try:
        return read(path)
    except Exception as first:
        before = _file_identity(path)
        _cache.forget_verified(path.parent)
        path = _layer_path(name, vintage)  # checks the atlas in full; rebuilds a damaged one
        if _file_identity(path) == before:
            raise  # the file is as built: not damage
        try:
            return read(path)
        except Exception:
            raise CacheError(f"Cannot read the layer {name!r} of the {vintage} atlas from {path} ({first}). "
                             f"{fix(vintage)}") from None


def _file_identity(path: Path):
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def layer(name: str, vintage=None):
    """One layer as a GeoDataFrame (spatial) or DataFrame (table); a fresh copy."""
    vintage = registry().check_vintage(vintage)

    def read(path):
        return _read(path, name in SPATIAL_LAYERS, _file_identity(path))

    return _checked_read(name, vintage, read).copy()


def table(name: str, vintage=None, columns=None):
    """A layer's attributes without geometry, read with pyarrow only (fast start-up)."""
    import pyarrow.parquet as pq

    vintage = registry().check_vintage(vintage)

    def read(path):
        schema = pq.read_schema(path)
        cols = [c for c in (columns or schema.names) if c != "geometry"]
        return pq.read_table(path, columns=cols).to_pandas()

    return _checked_read(name, vintage, read)


def _build(vintage: int, progress: bool) -> None:
    """Build the atlas (imported here: building needs geopandas, reading does not)."""
    from stpmap.data.build import build

    build(vintage, progress=progress)
