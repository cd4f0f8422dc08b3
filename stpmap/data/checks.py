"""Checks run while building the atlas. A failure names the dataset and the fix."""

from __future__ import annotations

import pandas as pd
import shapely

from stpmap.errors import DataError
from stpmap.data.registry import registry

#: Overlap or gap between footprints tolerated, in square metres (float noise).
AREA_TOLERANCE_M2 = 1.0

#: A built footprint sharing less of its area than this with the official
#: boundary of its code is not the same area. The official files are coarser
#: (the July 2022 ICBs among the sources are simplified far beyond 500 m:
#: London's small ICBs share 70 to 90 % with them).
MIN_OVERLAP = 0.6

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


def lookups_agree(vintage: int, data: dict) -> None:
    """Each LSOA is listed once, and where two official files of the vintage
    say the same thing (a CCG's footprint, a code's name) they agree."""
    lsoa, ccg_stp = data["lsoa_lookup"], data["ccg_stp_lookup"]
    if lsoa["lsoa_code"].duplicated().any():
        _fail(vintage, f"LSOAs listed twice in the LSOA lookup: {sorted(lsoa.loc[lsoa['lsoa_code'].duplicated(), 'lsoa_code'])[:5]}.")
    if ccg_stp["ccg_code"].duplicated().any():
        _fail(vintage, "a CCG appears more than once in the CCG to STP lookup.")
    if set(lsoa["ccg_code"]) != set(ccg_stp["ccg_code"]):
        odd = sorted(set(lsoa["ccg_code"]) ^ set(ccg_stp["ccg_code"]))
        _fail(vintage, f"the LSOA lookup and the CCG to STP lookup list different CCGs: {odd[:10]}.")
    for key, value in (("ccg_code", "stp_code"), ("ccg_code", "ccg_name"), ("stp_code", "stp_name")):
        if value in lsoa and value in ccg_stp and key in lsoa:
            said = dict(zip(ccg_stp[key], ccg_stp[value]))
            differ = lsoa.loc[lsoa[key].map(said) != lsoa[value], [key, value]].drop_duplicates()
            if len(differ):
                k, v = differ.iloc[0]
                _fail(vintage, f"the LSOA lookup gives {key} {k} the {value} {v!r}, the CCG to STP lookup {said.get(k)!r} "
                               f"({len(differ)} such).")


def _partition(vintage: int, layers: dict, data: dict) -> None:
    """Every LSOA once, with a CCG, footprint, district and region that are
    all features of their layers, and each layer's features all have LSOAs."""
    lsoa = layers["lsoa"]
    expected = registry().dataset(vintage, "lsoa_lookup").count
    if len(lsoa) != expected or lsoa["lsoa_code"].duplicated().any():
        _fail(vintage, f"the LSOA table has {len(lsoa)} rows ({lsoa['lsoa_code'].nunique()} LSOAs), expected {expected} LSOAs once each.")
    for column, name in (("ccg_code", "ccg"), ("stp_code", "stp"), ("lad_code", "lad"), ("region_code", "region")):
        if lsoa[column].isna().any():
            _fail(vintage, f"{int(lsoa[column].isna().sum())} LSOAs have no {column}.")
        odd = sorted(set(lsoa[column]) ^ set(layers[name]["code"]))
        if odd:
            _fail(vintage, f"the LSOAs' {column}s and the {name} layer's codes differ: {odd[:10]}.")


def _names_as_published(vintage: int, layers: dict, data: dict) -> None:
    """Each feature's name is the one the vintage's lookup gives its code."""
    ccg_stp = data["ccg_stp_lookup"]
    published = {
        "stp": dict(zip(ccg_stp["stp_code"], ccg_stp["stp_name"])),
        "ccg": dict(zip(ccg_stp["ccg_code"], ccg_stp["ccg_name"])),
        "lad": dict(zip(data["lsoa_lookup"]["lad_code"], data["lsoa_lookup"]["lad_name"])),
        "region": dict(zip(data["lad_region_lookup"]["region_code"], data["lad_region_lookup"]["region"])),
    }
    for name, said in published.items():
        df = layers[name]
        differ = df.loc[df["code"].map(said) != df["name"], ["code", "name"]]
        if len(differ):
            c, n = differ.iloc[0]
            _fail(vintage, f"layer {name} calls {c} {n!r}, the lookup {said.get(c)!r}.")


def atlas(vintage: int, layers: dict, data: dict) -> None:
    """Counts as published, unique codes, valid geometry, every LSOA in
    exactly one area, names as published, England's total on every layer,
    and footprints that tile England."""
    reg = registry()
    counts = reg.counts(vintage)
    stp, ccg = layers["stp"], layers["ccg"]
    for name in (set(layers) - set(counts)) & {"nhs_region", "nhs_local_office"}:
        _fail(vintage, f"layer {name} was built, but the vintage has none.")
    for name, n in counts.items():
        df = layers.get(name)
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
    if set(ccg["stp_code"]) != set(stp["code"]):
        _fail(vintage, f"footprints and CCGs disagree: {sorted(set(ccg['stp_code']) ^ set(stp['code']))}.")
    _partition(vintage, layers, data)
    _names_as_published(vintage, layers, data)

    # totals
    england = int(layers["lsoa"]["population"].sum())
    expected = reg.dataset(vintage, "population").england_total
    if expected is not None and england != expected:
        _fail(vintage, f"England's LSOAs add up to {england:,} people, the population table's England {expected:,}.")
    for name in counts:
        total = int(layers[name]["population"].sum())
        if total != england:
            _fail(vintage, f"layer {name} population adds to {total:,}, England's LSOAs to {england:,}.")

    # footprints tile England: no overlap between neighbours, and together
    # exactly their CCGs' area (pairs of neighbours: far cheaper than England's union)
    geoms = stp.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms)
    pairs = left < right
    overlap = float(shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]])).sum())
    gap = float(shapely.area(ccg.geometry.values).sum() - shapely.area(geoms).sum())
    if abs(overlap) > AREA_TOLERANCE_M2 or abs(gap) > AREA_TOLERANCE_M2:
        _fail(vintage, f"footprints overlap by {overlap:.1f} m² or leave {gap:.1f} m² of CCG area uncovered.")


def against_official(vintage: int, stp, official) -> dict:
    """How closely the built footprints match the official (generalised)
    boundaries of the same codes: each one's area in common over the area of
    either (1 is a perfect match), with its lowest and median. Fails when the
    codes differ or a footprint matches below :data:`MIN_OVERLAP`."""
    odd = sorted(set(stp["code"]) ^ set(official["code"]))
    if odd:
        _fail(vintage, f"the footprints and the official footprint boundaries have different codes: {odd[:10]}.")
    theirs = official.set_index("code").geometry.map(shapely.make_valid)
    ratios = {}
    for code, mine in zip(stp["code"], stp.geometry.values):
        common = shapely.area(shapely.intersection(mine, theirs.values))
        best = theirs.index[common.argmax()]
        if best != code:
            _fail(vintage, f"footprint {code} lies mostly in the official boundary of {best}, not its own.")
        ratios[code] = float(common.max() / shapely.union(mine, theirs[code]).area)
    low = min(ratios, key=ratios.get)
    if ratios[low] < MIN_OVERLAP:
        _fail(vintage, f"footprint {low} shares only {ratios[low]:.1%} of its area with the official boundary.")
    ordered = sorted(ratios.values())
    return {"lowest": round(ratios[low], 4), "lowest_code": low, "median": round(ordered[len(ordered) // 2], 4),
            "by_code": {c: round(r, 4) for c, r in sorted(ratios.items())}}
