"""Compile the atlas of one vintage into GeoParquet layers in the cache.

Layers (British National Grid, EPSG:27700):

``stp``
    footprints: dissolved from CCGs through the official lookup (2017), or the
    official STP boundaries (2021); population, age bands, regions.
``ccg``, ``lad``, ``region``
    the CCGs, English local authority districts and the 9 ONS regions
    (dissolved from the districts so that the layers agree).
``nhs_region``, ``nhs_local_office``
    NHS England regions and local offices (2017), dissolved from CCGs.
``stp_lad``, ``stp_region``, ``ccg_lad`` (tables)
    population of each district and ONS region inside each footprint, and of
    each district inside each CCG (from the official LSOA lookup).

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
from stpmap.data import checks as _validate
from stpmap import _cache
from stpmap.data.registry import registry

ENGLAND_LAD_PREFIXES = ("E06", "E07", "E08", "E09")
POP_COLUMNS = ["population", *_sources.AGE_BANDS]
SPATIAL_LAYERS = ("stp", "ccg", "lad", "region", "nhs_region", "nhs_local_office")
TABLE_LAYERS = ("stp_lad", "stp_region", "ccg_lad")
#: Bumped when the atlas gains or changes a layer, so that older caches are rebuilt.
ATLAS_FORMAT = 2


def expected_manifest() -> dict:
    """What an atlas built now records: a cache whose manifest differs is stale."""
    return {"registry": registry().fingerprint(), "format": ATLAS_FORMAT}


def _dissolve(gdf: gpd.GeoDataFrame, by: str) -> gpd.GeoDataFrame:
    """Union polygons per group. The ONS generalised layers share exact vertices
    along common borders, so a plain union keeps neighbouring borders identical."""
    parts = []
    for key, grp in gdf.groupby(by, sort=True):
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
    sets = reg.for_vintage(vintage)
    data = {role: _sources.read(sets[role], path) for role, path in paths.items()}
    layers = assemble(vintage, data)
    _validate.atlas(vintage, layers, data)

    manifest = {
        "vintage": vintage,
        **expected_manifest(),
        "built": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seconds": round(time.perf_counter() - t0, 2),
        "sources": {
            role: {"dataset": sets[role].id, "path": str(p), "bytes": p.stat().st_size}
            for role, p in paths.items()
        },
        "layers": {name: len(df) for name, df in layers.items()},
        "attribution": reg.attribution(),
    }
    target = _cache.atlas_folder(vintage)
    with _cache.writing(target, manifest) as tmp:
        for name, df in layers.items():
            if isinstance(df, gpd.GeoDataFrame):
                df.to_parquet(tmp / f"{name}.parquet", index=False, write_covering_bbox=False)
            else:
                df.to_parquet(tmp / f"{name}.parquet", index=False)
    return target


def assemble(vintage: int, data: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Turn the datasets read from the sources into the atlas layers."""
    lsoa = data["lsoa_lookup"].merge(data["population"], on="lsoa_code", how="left", validate="one_to_one")
    _validate.population_complete(lsoa, data)
    regions = data["lad_region_lookup"][["lad_code", "region_code", "region"]]
    lsoa = lsoa.merge(regions, on="lad_code", how="left", validate="many_to_one")
    _validate.all_matched(lsoa, "region_code", "lsoa_code", "LAD to region lookup", "lad_code")

    lk = data["ccg_stp_lookup"]
    nhs = data.get("ccg_nhs_region_lookup")
    if nhs is not None:
        lsoa = lsoa.merge(nhs.drop(columns=[c for c in nhs.columns if c == "ccg_name"]), on="ccg_code", how="left")

    # ---- CCGs
    ccg = data["ccg_boundaries"].rename(columns={"code": "ccg_code_b"})
    ccg = ccg.merge(lk, left_on="ccg_code_b", right_on="ccg_code", how="left", validate="one_to_one")
    _validate.all_matched(ccg, "stp_code", "ccg_code_b", "CCG to STP lookup", "ccg_code_b")
    ccg = ccg.drop(columns=["ccg_code_b"])
    ccg = ccg.rename(columns={"ccg_code": "code", "ccg_ods": "ods_code", "ccg_name": "lookup_name"})
    ccg["name"] = ccg["lookup_name"].where(ccg["lookup_name"].notna(), ccg["name"])
    ccg = ccg.drop(columns=["lookup_name"])
    ccg_pop = lsoa.groupby("ccg_code")[POP_COLUMNS].sum()
    ccg = ccg.merge(ccg_pop, left_on="code", right_index=True, how="left")
    ccg_reg = _majority(_shares(lsoa, "ccg_code", "region_code", "region"), "ccg_code", "region_code", "region", "region")
    ccg = ccg.merge(ccg_reg[["region", "region_code"]], left_on="code", right_index=True, how="left")
    if nhs is not None:
        ccg = ccg.merge(nhs.drop(columns=[c for c in nhs.columns if c == "ccg_name"]), left_on="code", right_on="ccg_code", how="left").drop(columns=["ccg_code"])

    # ---- footprints
    if "stp_boundaries" in data:
        stp = data["stp_boundaries"].rename(columns={"code": "stp_code", "name": "official_name"})
    else:
        stp = _dissolve(ccg.rename(columns={"stp_code": "stp_key"}), "stp_key").rename(columns={"stp_key": "stp_code"})
    names = lk.drop_duplicates("stp_code").set_index("stp_code")
    stp["name"] = stp["stp_code"].map(names["stp_name"])
    if "stp_ods" in names:
        stp["ods_code"] = stp["stp_code"].map(names["stp_ods"])
    stp = stp.drop(columns=[c for c in ("official_name",) if c in stp])
    stp = stp.merge(lsoa.groupby("stp_code")[POP_COLUMNS].sum(), left_on="stp_code", right_index=True, how="left")
    stp_region = _shares(lsoa, "stp_code", "region_code", "region")
    stp = stp.merge(_majority(stp_region, "stp_code", "region_code", "region", "region"), left_on="stp_code", right_index=True, how="left")
    if nhs is not None:
        for key, label in (("nhs_region_code", "nhs_region"), ("nhs_local_office_code", "nhs_local_office")):
            sh = _shares(lsoa, "stp_code", key, label)
            maj = _majority(sh, "stp_code", key, label, label)[[label, f"{label}_code"]]
            stp = stp.merge(maj, left_on="stp_code", right_index=True, how="left")
    else:
        stp["nhs_region"] = pd.NA
        stp["nhs_region_code"] = pd.NA
    stp["ccg_count"] = stp["stp_code"].map(ccg.groupby("stp_code").size()).astype("int64")
    stp["lad_count"] = stp["stp_code"].map(lsoa.groupby("stp_code")["lad_code"].nunique()).astype("int64")
    stp["vintage"] = vintage
    stp = stp.rename(columns={"stp_code": "code"}).sort_values("code", ignore_index=True)
    first = ["code", "name", *POP_COLUMNS, "region", "region_code", "region_share", "regions", "nhs_region", "nhs_region_code"]
    stp = stp[[c for c in first if c in stp] + [c for c in stp.columns if c not in first and c != "geometry"] + ["geometry"]]
    ccg["vintage"] = vintage
    ccg = ccg.sort_values("code", ignore_index=True)
    ccg = ccg[["code", "ods_code", "name", "stp_code", "stp_name", *POP_COLUMNS] + [c for c in ccg.columns if c not in {"code", "ods_code", "name", "stp_code", "stp_name", "geometry", *POP_COLUMNS}] + ["geometry"]]

    # ---- local authority districts (England)
    lad = data["lad_boundaries"]
    lad = lad[lad["code"].str.startswith(ENGLAND_LAD_PREFIXES)].copy()
    lad = lad.merge(regions, left_on="code", right_on="lad_code", how="left").drop(columns=["lad_code"])
    _validate.all_matched(lad, "region_code", "code", "LAD to region lookup", "code")
    lad = lad.merge(lsoa.groupby("lad_code")[POP_COLUMNS].sum(), left_on="code", right_index=True, how="left")
    stp_lad = _shares(lsoa.merge(stp[["code", "name"]].rename(columns={"code": "stp_code", "name": "stp_name"}), on="stp_code"), "lad_code", "stp_code", "stp_name")
    maj = _majority(stp_lad, "lad_code", "stp_code", "stp_name", "stp")
    lad = lad.merge(maj.rename(columns={"stp": "stp_name", "stps": "stp_shares"}), left_on="code", right_index=True, how="left")
    lad["vintage"] = vintage
    lad = lad.sort_values("code", ignore_index=True)
    lad = lad[[c for c in lad.columns if c != "geometry"] + ["geometry"]]

    # ---- ONS regions, dissolved from the districts so that the layers agree
    region = _dissolve(lad[["region_code", "geometry"]], "region_code").rename(columns={"region_code": "code"})
    region["name"] = region["code"].map(regions.drop_duplicates("region_code").set_index("region_code")["region"])
    region = region.merge(lsoa.groupby("region_code")[POP_COLUMNS].sum(), left_on="code", right_index=True, how="left")
    region["stp_count"] = region["code"].map(stp.groupby("region_code").size()).fillna(0).astype("int64")
    region["vintage"] = vintage
    region = region[["code", "name", *POP_COLUMNS, "stp_count", "vintage", "geometry"]]

    # ---- tables of parts
    lad_names = lsoa.drop_duplicates("lad_code").set_index("lad_code")["lad_name"]
    t = lsoa.groupby(["stp_code", "lad_code"], as_index=False)[POP_COLUMNS[0]].sum()
    t["lad_name"] = t["lad_code"].map(lad_names)
    t["share_of_lad"] = (t["population"] / t["lad_code"].map(lsoa.groupby("lad_code")["population"].sum())).round(6)
    stp_lad_table = t.sort_values(["stp_code", "population"], ascending=[True, False], ignore_index=True)
    stp_region_table = stp_region.rename(columns={"share": "share_of_stp"})
    c = lsoa.groupby(["ccg_code", "lad_code"], as_index=False)["population"].sum()
    c["lsoa_count"] = c.set_index(["ccg_code", "lad_code"]).index.map(lsoa.groupby(["ccg_code", "lad_code"]).size()).to_numpy()
    ccg_lad_table = c.sort_values(["ccg_code", "lad_code"], ignore_index=True)

    layers = {"stp": stp, "ccg": ccg, "lad": lad, "region": region}
    if nhs is not None:
        for key, label in (("nhs_region_code", "nhs_region"), ("nhs_local_office_code", "nhs_local_office")):
            g = _dissolve(ccg[[key, "geometry"]], key).rename(columns={key: "code"})
            g["name"] = g["code"].map(nhs.drop_duplicates(key).set_index(key)[label])
            g = g.merge(lsoa.groupby(key)[POP_COLUMNS].sum(), left_on="code", right_index=True, how="left")
            g["stp_count"] = g["code"].map(stp.groupby(f"{label}_code").size()).fillna(0).astype("int64")
            g["vintage"] = vintage
            layers[label] = g[["code", "name", *POP_COLUMNS, "stp_count", "vintage", "geometry"]]
    layers["stp_lad"] = stp_lad_table
    layers["stp_region"] = stp_region_table
    layers["ccg_lad"] = ccg_lad_table
    return layers
