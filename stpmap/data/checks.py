"""Checks run while building the atlas. A failure names the dataset and the fix."""

from __future__ import annotations

import pandas as pd
import shapely

from stpmap.errors import DataError
from stpmap.data.registry import registry

#: Overlap or gap between footprints tolerated, in square metres (float noise).
AREA_TOLERANCE_M2 = 1.0

#: What to do when a check fails, said after every failure.
HOW_TO_FIX = "Fetch fresh copies with `stpmap data fetch --vintage {v}` (or check the mirror), then `stpmap data build --vintage {v}`."


def _fail(vintage: int, msg: str):
    """Stop the build, saying what is wrong and how to fix it."""
    raise DataError(f"Building the {vintage} atlas failed: {msg} " + HOW_TO_FIX.format(v=vintage))


def all_matched(df: pd.DataFrame, column: str, what: str, shown: str) -> None:
    """Every row of ``df`` found a ``column`` in the lookup ``what``; else
    name (by their ``shown`` column) the rows that did not."""
    missing = df[df[column].isna()]
    if len(missing):
        vals = ", ".join(sorted(map(str, missing[shown].unique()))[:10])
        raise DataError(
            f"{len(missing)} rows found no match in the {what} (codes: {vals}). The files are of "
            "different vintages or one is incomplete: use the datasets the registry names for this vintage."
        )


def population_complete(lsoa: pd.DataFrame) -> None:
    """Every LSOA of the lookup has a population."""
    missing = lsoa[lsoa["population"].isna()]
    if len(missing):
        raise DataError(
            f"{len(missing)} LSOAs of the lookup have no population (e.g. {', '.join(missing['lsoa_code'][:5])}). "
            "The population file is incomplete or of another LSOA edition: use the ONS mid-2017 LSOA 2011 table."
        )


def atlas(vintage: int, layers: dict, data: dict) -> None:
    """Counts, unique codes, valid geometry, partition of CCGs and totals."""
    reg = registry()
    expected = reg.vintage_info[vintage]["stp_count"]
    stp, ccg, lad, region = layers["stp"], layers["ccg"], layers["lad"], layers["region"]
    sets = reg.for_vintage(vintage)

    checks = [
        ("stp", stp, expected),
        ("ccg", ccg, sets["ccg_boundaries"].count),
        ("lad", lad, sets["lad_boundaries"].england_count),
        ("region", region, 9),
    ]
    if vintage == 2017:
        checks += [("nhs_region", layers.get("nhs_region"), 4), ("nhs_local_office", layers.get("nhs_local_office"), 14)]
    for name, df, n in checks:
        if df is None or len(df) != n:
            _fail(vintage, f"layer {name} has {0 if df is None else len(df)} features, expected {n}.")
        if df["code"].duplicated().any():
            _fail(vintage, f"layer {name} has duplicate codes: {sorted(df.loc[df['code'].duplicated(), 'code'])}.")
        if "geometry" in df:
            bad = df.loc[~df.geometry.is_valid | df.geometry.is_empty, "code"].tolist()
            if bad:
                _fail(vintage, f"layer {name} has invalid or empty geometries: {bad[:10]}.")
        if df["population"].isna().any():
            _fail(vintage, f"layer {name} has features without population: {df.loc[df['population'].isna(), 'code'].tolist()[:10]}.")

    # every CCG in exactly one footprint, every footprint has CCGs
    lk = data["ccg_stp_lookup"]
    if lk["ccg_code"].duplicated().any():
        _fail(vintage, "a CCG appears more than once in the CCG to STP lookup.")
    if set(ccg["stp_code"]) != set(stp["code"]):
        _fail(vintage, f"footprints and CCGs disagree: {sorted(set(ccg['stp_code']) ^ set(stp['code']))}.")

    # totals
    england = int(data["lsoa_lookup"].merge(data["population"], on="lsoa_code")["population"].sum())
    for name in ("stp", "ccg", "lad", "region"):
        total = int(layers[name]["population"].sum())
        if total != england:
            _fail(vintage, f"layer {name} population adds to {total:,}, England's LSOAs to {england:,}.")

    # footprints tile England: no overlap, no gap between neighbours
    if "stp_boundaries" not in data:
        geoms = stp.geometry.values
        union = shapely.union_all(geoms)
        overlap = float(sum(g.area for g in geoms) - union.area)
        ccg_union = shapely.union_all(ccg.geometry.values)
        gap = float(ccg_union.area - union.area)
        if abs(overlap) > AREA_TOLERANCE_M2 or abs(gap) > AREA_TOLERANCE_M2:
            _fail(vintage, f"footprints overlap by {overlap:.1f} m² or leave {gap:.1f} m² of CCG area uncovered.")
