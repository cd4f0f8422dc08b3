"""Reading the built atlas from the cache, building it on first use.

Layers read from disk are kept in memory, keyed by the file's path, inode,
size and modification time, so a rebuilt atlas (or another cache folder) is
never answered from an older copy.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

from stpmap import _cache
from stpmap.data import build as _build
from stpmap.data.build import SPATIAL_LAYERS, TABLE_LAYERS, layer_file
from stpmap.data.registry import registry
from stpmap.errors import ChoiceError

#: One build at a time: threads asking for a missing atlas wait for the first one's build.
_build_lock = threading.Lock()


def manifest(vintage: int) -> dict | None:
    """The manifest of the vintage's atlas in the cache, or None when it is not built."""
    return _cache.read_manifest(_cache.atlas_folder(vintage))


def is_current(vintage: int) -> bool:
    """Whether the cache holds the vintage's atlas, built from the registry in force."""
    return _cache.is_current(_cache.atlas_folder(vintage), _build.expected_manifest())


def ensure(vintage=None, progress: bool = True) -> Path:
    """The folder of the vintage's atlas, building it first if needed."""
    vintage = registry().check_vintage(vintage)
    with _build_lock:
        if not is_current(vintage):
            _build.build(vintage, progress=progress)
    return _cache.atlas_folder(vintage)


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


def layer(name: str, vintage=None):
    """One layer as a GeoDataFrame (spatial) or DataFrame (table); a fresh copy."""
    vintage = registry().check_vintage(vintage)
    path = _layer_path(name, vintage)
    st = path.stat()
    return _read(path, name in SPATIAL_LAYERS, (st.st_ino, st.st_size, st.st_mtime_ns)).copy()


def table(name: str, vintage=None, columns=None):
    """A layer's attributes without geometry, read with pyarrow only (fast start-up)."""
    import pyarrow.parquet as pq

    vintage = registry().check_vintage(vintage)
    path = _layer_path(name, vintage)
    schema = pq.read_schema(path)
    cols = [c for c in (columns or schema.names) if c != "geometry"]
    return pq.read_table(path, columns=cols).to_pandas()
