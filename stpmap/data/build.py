"""Compile the atlas of one vintage into GeoParquet layers in the cache.

Vintages 2017 to 2022 (the ICBs of July 2022) are built the same way. The
lookups are first completed into the same tables for every vintage
(:mod:`stpmap.data.lookups`), and the vintage's CCGs and districts drawn from
the April 2017 geometry (:mod:`stpmap.data.geometry`). Layers (British
National Grid, EPSG:27700):

``stp``
    footprints (ICBs in 2022), dissolved from their CCGs through the official
    lookup: population, age bands, ONS and NHS England regions, and the ODS
    code where published (2020 to 2022).
``ccg``, ``lad``, ``region``
    the CCGs (sub-ICB locations in 2022), English local authority districts
    and the 9 ONS regions (dissolved from the districts so that the layers
    agree).
``nhs_region``, ``nhs_local_office``
    NHS England regions (every vintage) and local offices (2017, 2018),
    dissolved from CCGs.
``stp_lad``, ``stp_region``, ``ccg_lad``, ``lsoa`` (tables)
    population of each district and ONS region inside each footprint, and of
    each district inside each CCG (from the official LSOA lookup); and every
    LSOA with its areas and population.

Where the vintage has official footprint boundaries (2021; the coarse ICBs of
July 2022), the built footprints are checked against them and the agreement
recorded in the manifest (``official_agreement``), with the splits the
geometry needed (``approximations``).

The build happens in a temporary folder beside the target and is renamed into
place only once every check in :mod:`stpmap.data.checks` has passed.
"""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from stpmap.data import sources as _sources
from stpmap.data import checks as _checks
from stpmap.data import geometry as _geometry
from stpmap.data import lookups as _lookups
from stpmap import _cache
from stpmap.data.layout import expected_manifest, layer_file
from stpmap.data.registry import registry

#: Code prefixes of England's districts (unitary, non-metropolitan, metropolitan, London).
ENGLAND_LAD_PREFIXES = ("E06", "E07", "E08", "E09")
#: The population columns every spatial layer carries: the total, then the age bands.
POP_COLUMNS = ["population", *_sources.AGE_BANDS]
#: NHS England's two levels (local offices 2017 and 2018 only): the code column and the name column of each.
NHS_LEVELS = (("nhs_region_code", "nhs_region"), ("nhs_local_office_code", "nhs_local_office"))


def _nhs_levels(nhs_lookup: pd.DataFrame) -> list[tuple[str, str]]:
    """The levels of :data:`NHS_LEVELS` that the vintage's NHS England lookup has."""
    return [(key, label) for key, label in NHS_LEVELS if key in nhs_lookup]


def _dissolve(gdf: gpd.GeoDataFrame, by: str, coverage: bool = False) -> gpd.GeoDataFrame:
    """Union polygons per group. The ONS generalised layers share exact vertices
    along common borders, so a plain union keeps neighbouring borders identical.
    ``coverage``: the polygons are an exact coverage (the layers drawn by
    :mod:`stpmap.data.geometry`), which a coverage union merges several times
    faster."""
    parts = []
    for key, grp in gdf.groupby(by, sort=True):
        geom = shapely.coverage_union_all(grp.geometry.values) if coverage else None
        if geom is None or not geom.is_valid:
            geom = shapely.union_all(grp.geometry.values)
        parts.append((key, shapely.make_valid(geom) if not geom.is_valid else geom))
    keys, geoms = zip(*parts)
    return gpd.GeoDataFrame({by: list(keys)}, geometry=list(geoms), crs=gdf.crs)


def _shares(lsoa: pd.DataFrame, unit: str, other: str, name: str) -> pd.DataFrame:
    """Population of each ``other`` inside each ``unit``, with the share."""
    t = lsoa.groupby([unit, other, name], as_index=False)["population"].sum()
    t["share"] = t["population"] / t.groupby(unit)["population"].transform("sum")
    return t.sort_values([unit, "population"], ascending=[True, False], ignore_index=True)


def _majority(shares: pd.DataFrame, unit: str, other: str, name: str, prefix: str) -> pd.DataFrame:
    """For each ``unit`` of :func:`_shares`, the ``other`` holding most of its
    people: columns ``{prefix}``, ``{prefix}_code``, ``{prefix}_share`` and
    ``{prefix}s`` (every ``other`` with its share, largest first)."""
    top = shares.drop_duplicates(unit, keep="first").set_index(unit)
    out = pd.DataFrame(
        {
            prefix: top[name],
            f"{prefix}_code": top[other],
            f"{prefix}_share": top["share"].round(4),
        }
    )
    desc = shares.groupby(unit).apply(
        lambda g: "; ".join(f"{n} {s:.1%}" for n, s in zip(g[name], g["share"])), include_groups=False
    )
    out[f"{prefix}s"] = desc
    return out


def build(vintage=None, mirror=None, progress: bool = True) -> Path:
    """Build the atlas of ``vintage`` into the cache and return its folder."""
    reg = registry()
    vintage = reg.check_vintage(vintage)
    t0 = time.perf_counter()
    paths = _sources.fetch(vintage, mirror=mirror, progress=progress)
    datasets = reg.for_vintage(vintage)
    data = _lookups.complete(vintage, {role: _sources.read(datasets[role], path) for role, path in paths.items()})
    data, approximations = _geometry.draw(vintage, data)
    layers = assemble(vintage, data)
    _checks.atlas(vintage, layers, data)
    agreement = None
    if "stp_boundaries" in data:
        agreement = {"dataset": datasets["stp_boundaries"].id,
                     **_checks.against_official(vintage, layers["stp"], data["stp_boundaries"])}

    manifest = {
        "vintage": vintage,
        **expected_manifest(),
        "built": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seconds": round(time.perf_counter() - t0, 2),
        "sources": {
            role: {"dataset": datasets[role].id, "path": str(p), "bytes": p.stat().st_size}
            for role, p in paths.items()
        },
        "layers": {name: len(df) for name, df in layers.items()},
        "approximations": approximations,
        "official_agreement": agreement,
        "attribution": reg.attribution(),
    }
    target = _cache.atlas_folder(vintage)
    with _cache.writing(target, manifest) as tmp:
        for name, df in layers.items():
            if isinstance(df, gpd.GeoDataFrame):
                df.to_parquet(layer_file(tmp, name), index=False, write_covering_bbox=False)
            else:
                df.to_parquet(layer_file(tmp, name), index=False)
    return target


def assemble(vintage: int, data: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Turn the datasets read from the sources into the atlas layers."""
    region_lookup = data["lad_region_lookup"][["lad_code", "region_code", "region"]]
    nhs_lookup = data.get("ccg_nhs_region_lookup")
    lsoa = _lsoas(data, region_lookup, nhs_lookup)
    stp_region = _shares(lsoa, "stp_code", "region_code", "region")
    coverage = _geometry.is_drawn(data)
    ccg = _ccgs(data, lsoa, nhs_lookup)
    stp = _footprints(vintage, data, ccg, lsoa, stp_region, nhs_lookup, coverage)
    ccg = _ordered_ccgs(vintage, ccg)
    lad = _districts(vintage, data["lad_boundaries"], region_lookup, lsoa, stp)
    layers = {"stp": stp, "ccg": ccg, "lad": lad, "region": _regions(vintage, lad, region_lookup, lsoa, stp, coverage)}
    if nhs_lookup is not None:
        layers.update(_nhs_regions(vintage, ccg, nhs_lookup, lsoa, stp, coverage))
    layers.update(_tables(lsoa, stp_region))
    return layers


def _lsoas(data: dict, region_lookup: pd.DataFrame, nhs_lookup: pd.DataFrame | None) -> pd.DataFrame:
    """Every LSOA with its population, CCG, footprint, district, ONS region
    and NHS England region (and local office, 2017 and 2018): the table every
    figure of the atlas is added up from."""
    lsoa = data["lsoa_lookup"].merge(data["population"], on="lsoa_code", how="left", validate="one_to_one")
    _checks.population_complete(lsoa)
    lsoa = lsoa.merge(region_lookup, on="lad_code", how="left", validate="many_to_one")
    _checks.all_matched(lsoa, "region_code", "LAD to region lookup", "lad_code")
    if nhs_lookup is not None:
        lsoa = lsoa.merge(nhs_lookup, on="ccg_code", how="left")
    return lsoa


def _ccgs(data: dict, lsoa: pd.DataFrame, nhs_lookup: pd.DataFrame | None) -> gpd.GeoDataFrame:
    """The CCG boundaries with their footprint (from the lookup), population,
    majority ONS region and NHS England region, in the boundary file's order."""
    ccg = data["ccg_boundaries"].rename(columns={"code": "ccg_code_b"})
    ccg = ccg.merge(data["ccg_stp_lookup"], left_on="ccg_code_b", right_on="ccg_code", how="left", validate="one_to_one")
    _checks.all_matched(ccg, "stp_code", "CCG to STP lookup", "ccg_code_b")
    ccg = ccg.drop(columns=["ccg_code_b"])
    ccg = ccg.rename(columns={"ccg_code": "code", "ccg_ods": "ods_code", "ccg_name": "lookup_name"})
    ccg["name"] = ccg["lookup_name"].where(ccg["lookup_name"].notna(), ccg["name"])
    ccg = ccg.drop(columns=["lookup_name"])
    ccg = ccg.merge(lsoa.groupby("ccg_code")[POP_COLUMNS].sum(), left_on="code", right_index=True, how="left")
    region = _majority(_shares(lsoa, "ccg_code", "region_code", "region"), "ccg_code", "region_code", "region", "region")
    ccg = ccg.merge(region[["region", "region_code"]], left_on="code", right_index=True, how="left")
    if nhs_lookup is not None:
        ccg = ccg.merge(nhs_lookup, left_on="code", right_on="ccg_code", how="left").drop(columns=["ccg_code"])
    return ccg


def _ordered_ccgs(vintage: int, ccg: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The ``ccg`` layer: sorted by code, its columns in the documented order."""
    ccg["vintage"] = vintage
    ccg = ccg.sort_values("code", ignore_index=True)
    first = ["code", "ods_code", "name", "stp_code", "stp_name", *POP_COLUMNS]
    return ccg[first + [c for c in ccg.columns if c not in {*first, "geometry"}] + ["geometry"]]


def _footprints(vintage: int, data: dict, ccg: gpd.GeoDataFrame, lsoa: pd.DataFrame, stp_region: pd.DataFrame,
                nhs_lookup: pd.DataFrame | None, coverage: bool = False) -> gpd.GeoDataFrame:
    """The ``stp`` layer: the union of each footprint's CCGs, with names,
    population, regions and counts."""
    # Dissolved from the CCGs in the boundary file's order (the union's vertices follow it).
    stp = _dissolve(ccg, "stp_code", coverage)
    names = data["ccg_stp_lookup"].drop_duplicates("stp_code").set_index("stp_code")
    stp["name"] = stp["stp_code"].map(names["stp_name"])
    if "stp_ods" in names:
        stp["ods_code"] = stp["stp_code"].map(names["stp_ods"])
    stp = stp.merge(lsoa.groupby("stp_code")[POP_COLUMNS].sum(), left_on="stp_code", right_index=True, how="left")
    region = _majority(stp_region, "stp_code", "region_code", "region", "region")
    stp = stp.merge(region, left_on="stp_code", right_index=True, how="left")
    if nhs_lookup is not None:
        for key, label in _nhs_levels(nhs_lookup):
            top = _majority(_shares(lsoa, "stp_code", key, label), "stp_code", key, label, label)
            stp = stp.merge(top[[label, f"{label}_code"]], left_on="stp_code", right_index=True, how="left")
    else:
        stp["nhs_region"] = pd.NA
        stp["nhs_region_code"] = pd.NA
    stp["ccg_count"] = stp["stp_code"].map(ccg.groupby("stp_code").size()).astype("int64")
    stp["lad_count"] = stp["stp_code"].map(lsoa.groupby("stp_code")["lad_code"].nunique()).astype("int64")
    stp["vintage"] = vintage
    stp = stp.rename(columns={"stp_code": "code"}).sort_values("code", ignore_index=True)
    first = ["code", "name", *POP_COLUMNS, "region", "region_code", "region_share", "regions", "nhs_region", "nhs_region_code"]
    return stp[[c for c in first if c in stp] + [c for c in stp.columns if c not in first and c != "geometry"] + ["geometry"]]


def _districts(vintage: int, boundaries: gpd.GeoDataFrame, region_lookup: pd.DataFrame, lsoa: pd.DataFrame,
               stp: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The ``lad`` layer: England's districts with region, population and the
    footprint holding most of their people (and every footprint's share)."""
    lad = boundaries[boundaries["code"].str.startswith(ENGLAND_LAD_PREFIXES)].copy()
    lad = lad.merge(region_lookup, left_on="code", right_on="lad_code", how="left").drop(columns=["lad_code"])
    _checks.all_matched(lad, "region_code", "LAD to region lookup", "code")
    lad = lad.merge(lsoa.groupby("lad_code")[POP_COLUMNS].sum(), left_on="code", right_index=True, how="left")
    stp_names = stp[["code", "name"]].rename(columns={"code": "stp_code", "name": "stp_name"})
    shares = _shares(lsoa.merge(stp_names, on="stp_code"), "lad_code", "stp_code", "stp_name")
    top = _majority(shares, "lad_code", "stp_code", "stp_name", "stp")
    lad = lad.merge(top.rename(columns={"stp": "stp_name", "stps": "stp_shares"}), left_on="code", right_index=True, how="left")
    lad["vintage"] = vintage
    lad = lad.sort_values("code", ignore_index=True)
    return lad[[c for c in lad.columns if c != "geometry"] + ["geometry"]]


def _regions(vintage: int, lad: gpd.GeoDataFrame, region_lookup: pd.DataFrame, lsoa: pd.DataFrame,
             stp: gpd.GeoDataFrame, coverage: bool = False) -> gpd.GeoDataFrame:
    """The ``region`` layer: the ONS regions, dissolved from the districts so
    that the two layers agree."""
    region = _dissolve(lad[["region_code", "geometry"]], "region_code", coverage).rename(columns={"region_code": "code"})
    region["name"] = region["code"].map(region_lookup.drop_duplicates("region_code").set_index("region_code")["region"])
    region = region.merge(lsoa.groupby("region_code")[POP_COLUMNS].sum(), left_on="code", right_index=True, how="left")
    region["stp_count"] = region["code"].map(stp.groupby("region_code").size()).fillna(0).astype("int64")
    region["vintage"] = vintage
    return region[["code", "name", *POP_COLUMNS, "stp_count", "vintage", "geometry"]]


def _nhs_regions(vintage: int, ccg: gpd.GeoDataFrame, nhs_lookup: pd.DataFrame, lsoa: pd.DataFrame,
                 stp: gpd.GeoDataFrame, coverage: bool = False) -> dict[str, gpd.GeoDataFrame]:
    """The ``nhs_region`` layer (and ``nhs_local_office``, 2017 and 2018), dissolved from the CCGs."""
    layers = {}
    for key, label in _nhs_levels(nhs_lookup):
        g = _dissolve(ccg[[key, "geometry"]], key, coverage).rename(columns={key: "code"})
        g["name"] = g["code"].map(nhs_lookup.drop_duplicates(key).set_index(key)[label])
        g = g.merge(lsoa.groupby(key)[POP_COLUMNS].sum(), left_on="code", right_index=True, how="left")
        g["stp_count"] = g["code"].map(stp.groupby(f"{label}_code").size()).fillna(0).astype("int64")
        g["vintage"] = vintage
        layers[label] = g[["code", "name", *POP_COLUMNS, "stp_count", "vintage", "geometry"]]
    return layers


def _tables(lsoa: pd.DataFrame, stp_region: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The tables of parts: each district and ONS region inside each
    footprint (``stp_lad``, ``stp_region``: from :func:`_shares`) and each
    district inside each CCG (``ccg_lad``), by population; and every LSOA
    with its areas and population (``lsoa``), from which lineage between
    vintages is worked out exactly."""
    lad_names = lsoa.drop_duplicates("lad_code").set_index("lad_code")["lad_name"]
    stp_lad = lsoa.groupby(["stp_code", "lad_code"], as_index=False)["population"].sum()
    stp_lad["lad_name"] = stp_lad["lad_code"].map(lad_names)
    lad_population = stp_lad["lad_code"].map(lsoa.groupby("lad_code")["population"].sum())
    stp_lad["share_of_lad"] = (stp_lad["population"] / lad_population).round(6)
    ccg_lad = lsoa.groupby(["ccg_code", "lad_code"], as_index=False)["population"].sum()
    lsoa_counts = lsoa.groupby(["ccg_code", "lad_code"]).size()
    ccg_lad["lsoa_count"] = ccg_lad.set_index(["ccg_code", "lad_code"]).index.map(lsoa_counts).to_numpy()
    return {
        "stp_lad": stp_lad.sort_values(["stp_code", "population"], ascending=[True, False], ignore_index=True),
        "stp_region": stp_region.rename(columns={"share": "share_of_stp"}),
        "ccg_lad": ccg_lad.sort_values(["ccg_code", "lad_code"], ignore_index=True),
        "lsoa": lsoa[["lsoa_code", "ccg_code", "stp_code", "lad_code", "region_code", *POP_COLUMNS]]
        .sort_values("lsoa_code", ignore_index=True),
    }
