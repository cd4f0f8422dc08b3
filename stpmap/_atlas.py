"""Loading the built atlas from the cache, building it on first use."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from . import _settings
from ._errors import ChoiceError
from ._registry import registry

SPATIAL_LAYERS = ("stp", "ccg", "lad", "region", "nhs_region", "nhs_local_office")
TABLE_LAYERS = ("stp_lad", "stp_region", "ccg_lad")
#: Bumped when the atlas gains or changes a layer, so that older caches are rebuilt.
ATLAS_FORMAT = 2

_lock = threading.Lock()
_memo: dict[tuple, object] = {}


def _atlas_dir(vintage: int) -> Path:
    return _settings.cache_dir() / "atlas" / f"v{vintage}"


def manifest(vintage: int) -> dict | None:
    path = _atlas_dir(vintage) / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_current(vintage: int) -> bool:
    m = manifest(vintage)
    return bool(m) and m.get("registry") == registry().fingerprint() and m.get("format") == ATLAS_FORMAT


def ensure(vintage=None, progress: bool = True) -> Path:
    """The folder of the vintage's atlas, building it first if needed."""
    reg = registry()
    vintage = reg.check_vintage(vintage if vintage is not None else _settings.default_vintage)
    with _lock:
        if not is_current(vintage):
            from ._build import build

            build(vintage, progress=progress)
            _memo.clear()
    return _atlas_dir(vintage)


def available_layers(vintage: int) -> list[str]:
    folder = ensure(vintage)
    return [n for n in SPATIAL_LAYERS + TABLE_LAYERS if (folder / f"{n}.parquet").exists()]


def _path(name: str, vintage) -> Path:
    folder = ensure(vintage)
    path = folder / f"{name}.parquet"
    if not path.exists():
        raise ChoiceError("layer", name, available_layers(int(vintage)), f"for vintage {vintage}")
    return path


def layer(name: str, vintage=None):
    """One layer as a GeoDataFrame (spatial) or DataFrame (table); a fresh copy."""
    vintage = registry().check_vintage(vintage if vintage is not None else _settings.default_vintage)
    key = ("layer", name, vintage)
    if key not in _memo:
        path = _path(name, vintage)
        if name in SPATIAL_LAYERS:
            import geopandas as gpd

            _memo[key] = gpd.read_parquet(path)
        else:
            import pandas as pd

            _memo[key] = pd.read_parquet(path)
    return _memo[key].copy()


def table(name: str, vintage=None, columns=None):
    """A layer's attributes without geometry, read with pyarrow only (fast start-up)."""
    import pyarrow.parquet as pq

    vintage = registry().check_vintage(vintage if vintage is not None else _settings.default_vintage)
    path = _path(name, vintage)
    schema = pq.read_schema(path)
    cols = [c for c in (columns or schema.names) if c != "geometry"]
    return pq.read_table(path, columns=cols).to_pandas()
