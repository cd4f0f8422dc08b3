"""Finding, fetching and reading the official source files.

A dataset is found, in this order: by its official file name anywhere under
the mirror folder (``--mirror`` or ``STPMAP_MIRROR``), then in the download
cache; otherwise it is downloaded from the ONS ArcGIS REST service.
Reading returns the registry's canonical column names, whatever the case or
vintage suffix of the file's own field names.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pandas as pd

from stpmap import _cache
from stpmap import settings as _settings
from stpmap.errors import DataError
from stpmap.data.registry import Dataset, registry

#: Population columns by age: name -> (first, last) year of age; the ONS table stops at 90+.
AGE_BANDS = {
    "pop_0_17": (0, 17),
    "pop_18_64": (18, 64),
    "pop_65_plus": (65, 200),
    "pop_85_plus": (85, 200),
}


def _how_to_get(ds: Dataset) -> str:
    if ds.service:
        return (
            f"Run `stpmap data fetch --vintage {ds.vintage}` to download it from the ONS Open Geography "
            f"Portal, or point --mirror / STPMAP_MIRROR at a folder holding {ds.files[0]}."
        )
    return (
        f"It is not served by the ONS ArcGIS services: download it from {ds.download_page} "
        f"and put {ds.files[0]} in your mirror folder (--mirror / STPMAP_MIRROR)."
    )


@lru_cache(maxsize=8)
def _mirror_index(folder: str) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for root, _dirs, files in os.walk(folder):
        for f in files:
            index.setdefault(f.lower(), Path(root) / f)
    return index


def find_in_mirror(ds: Dataset, mirror: Path) -> Path | None:
    """The dataset's file under ``mirror`` (any depth), or None."""
    index = _mirror_index(str(Path(mirror).resolve()))
    for name in ds.files:
        if name.lower() in index:
            return index[name.lower()]
    return None


def download_path(ds: Dataset) -> Path:
    ext = ".geojson" if ds.is_spatial else ".csv"
    return _cache.downloads_folder() / f"{ds.id}{ext}"


def find_source(ds: Dataset, mirror: Path | None = None) -> Path | None:
    """Where the dataset's file is on this machine, or None."""
    mirror = Path(mirror) if mirror else _settings.mirror_folder()
    if mirror is not None:
        if Path(mirror).is_file():
            raise DataError(
                f"Mirror {mirror} is a file, not a folder. Give the folder that holds the ONS files "
                "(--mirror DIR / STPMAP_MIRROR), or unset it to download from the ONS Open Geography Portal."
            )
        if not Path(mirror).is_dir():
            raise DataError(
                f"Mirror folder {mirror} does not exist. Fix --mirror / STPMAP_MIRROR, "
                "or unset it to download from the ONS Open Geography Portal."
            )
        found = find_in_mirror(ds, mirror)
        if found:
            return found
    cached = download_path(ds)
    return cached if cached.exists() else None


def fetch(vintage=None, mirror: Path | None = None, progress: bool = True) -> dict[str, Path]:
    """Make every dataset of ``vintage`` available locally; return role -> path.

    With a mirror, each file is looked up there by its official name; a
    dataset missing from the mirror is an error (nothing is downloaded behind
    the user's back when they asked for a mirror). Without one, missing
    datasets are downloaded from the ONS ArcGIS REST service.
    """
    reg = registry()
    vintage = reg.check_vintage(vintage)
    mirror = Path(mirror) if mirror else _settings.mirror_folder()
    found = {role: find_source(ds, mirror) for role, ds in reg.for_vintage(vintage).items()}
    # Say everything that cannot be downloaded before downloading anything.
    for role, path in found.items():
        ds = reg.dataset(vintage, role)
        if path is None and mirror is not None:
            raise DataError(
                f"Dataset {ds.id} ({ds.title}) is not in the mirror {mirror}: no file named "
                f"{' or '.join(ds.files)}. Add it to the mirror, or unset --mirror/STPMAP_MIRROR "
                "to download it from the ONS Open Geography Portal."
            )
        if path is None and not ds.service:
            raise DataError(f"Dataset {ds.id} ({ds.title}) is missing. {_how_to_get(ds)}")
    paths: dict[str, Path] = {}
    for role, path in found.items():
        if path is None:
            from stpmap.data.arcgis import download_dataset

            ds = reg.dataset(vintage, role)
            path = download_dataset(ds, download_path(ds), progress=progress)
        paths[role] = path
    return paths


# ---------------------------------------------------------------- reading


def _canonical_columns(ds: Dataset, df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The registry's fields of ``df`` (and its geometry) under their canonical
    names, whatever the file's case, surrounding spaces or vintage suffix."""
    lower = {str(c).strip().lower(): c for c in df.columns}
    mapping = {}
    for canonical, aliases in ds.fields.items():
        hit = next((lower[a.lower()] for a in aliases if a.lower() in lower), None)
        if hit is None:
            raise DataError(
                f"Dataset {ds.id} ({ds.title}): file {path} has no field {' or '.join(aliases)} "
                f"(it has {', '.join(map(str, df.columns[:12]))}). The file is not the one expected. "
                + _how_to_get(ds)
            )
        mapping[hit] = canonical
    keep = list(mapping) + (["geometry"] if "geometry" in df.columns else [])
    return df[keep].rename(columns=mapping)


def _check_count(ds: Dataset, n: int, path: Path) -> None:
    if n != ds.count:
        raise DataError(
            f"Dataset {ds.id} ({ds.title}): file {path} has {n} rows, the registry expects "
            f"{ds.count}. The file is truncated or of another edition. " + _how_to_get(ds)
        )


def read(ds: Dataset, path: Path) -> pd.DataFrame:
    """Read one dataset's file with canonical column names, checked against the registry."""
    path = Path(path)
    try:
        if ds.is_spatial:
            import geopandas as gpd

            df = gpd.read_file(path)
            if df.crs is None:
                df = df.set_crs(ds.crs or "EPSG:27700")
        else:
            df = pd.read_csv(path, dtype=str, encoding_errors="replace", low_memory=False)
    except DataError:
        raise
    except Exception as exc:  # unreadable: say which dataset and how to get a good copy
        raise DataError(
            f"Dataset {ds.id} ({ds.title}): could not read {path}: {exc}. " + _how_to_get(ds)
        ) from exc
    _check_count(ds, len(df), path)
    if ds.kind == "population":
        return _population(ds, df, path)
    out = _canonical_columns(ds, df, path)
    for c in out.columns:
        if c != "geometry":
            out[c] = out[c].astype(str).str.strip()
    if ds.is_spatial:
        out = out.to_crs(27700)
    return out


def _population(ds: Dataset, df: pd.DataFrame, path: Path) -> pd.DataFrame:
    base = _canonical_columns(ds, df, path)
    ages = {}
    for c in df.columns:
        key = str(c).strip().replace("+", "")
        if key.isdigit():
            ages[int(key)] = c
    if sorted(ages) != list(range(91)):
        raise DataError(
            f"Dataset {ds.id} ({ds.title}): file {path} lacks single-year-of-age columns 0 to 90+. "
            + _how_to_get(ds)
        )
    num = df[[ages[a] for a in range(91)]]
    try:
        num = num.astype("float64")
    except (TypeError, ValueError):  # some count is not a number: find which below
        num = num.apply(pd.to_numeric, errors="coerce")
    if num.isna().any().any():
        raise DataError(f"Dataset {ds.id}: file {path} has non-numeric population counts. " + _how_to_get(ds))
    num.columns = list(range(91))
    out = pd.DataFrame({"lsoa_code": base["lsoa_code"].astype(str).str.strip()})
    out["population"] = num.sum(axis=1).round().astype("int64")
    for band, (lo, hi) in AGE_BANDS.items():
        out[band] = num.loc[:, lo : min(hi, 90)].sum(axis=1).round().astype("int64")
    total = pd.to_numeric(base["total"], errors="coerce").round()
    bad = (total != out["population"]).sum()
    if bad:
        raise DataError(
            f"Dataset {ds.id}: in {path}, {bad} rows' ages do not add up to their total. " + _how_to_get(ds)
        )
    return out
