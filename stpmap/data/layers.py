"""The public frames: GeoDataFrames of footprints, CCGs, local authorities,
regions and groups, in British National Grid (EPSG:27700).

Every frame carries ``attrs["vintage"]``, ``attrs["attribution"]`` and
``attrs["population_source"]``.
"""

from __future__ import annotations

import geopandas as gpd

from stpmap.data import atlas as _atlas
from stpmap.data import groups as _groups
from stpmap.data.selection import select_codes
from stpmap.errors import ChoiceError
from stpmap.data.registry import registry

#: The kinds of region :func:`regions` gives, and the atlas layer of each.
REGION_LAYERS = {"ons": "region", "nhs_region": "nhs_region", "nhs_local_office": "nhs_local_office"}
REGION_KINDS = tuple(REGION_LAYERS)


def _vintage(vintage) -> int:
    return registry().check_vintage(vintage)


def _with_attrs(df, vintage: int, **attrs):
    """``df`` carrying its vintage, attribution and population source in ``attrs``."""
    reg = registry()
    df.attrs.update({"vintage": vintage, "attribution": reg.attribution(),
                     "population_source": reg.population_note(vintage), **attrs})
    return df


def footprints(vintage=None, group=None, *, footprint=None, groups_file=None) -> gpd.GeoDataFrame:
    """The STP footprints of a vintage, one row each, sorted by code.

    Parameters
    ----------
    vintage : int, default 2017
        2017 (44 footprints), 2018 (42), 2019, 2020, 2021 (42 each) or 2022
        (the 42 Integrated Care Boards of 1 July 2022); every vintage is
        drawn from the April 2017 CCGs through the official LSOA lookups.
    group : str, optional
        Keep only the footprints of a named group: an ONS region ("East of
        England"), an NHS England region or local office, or a group from
        ``groups_file``. ``kind:name`` picks one kind ("nhs_region:London").
    footprint : str or list of str, optional
        Footprint codes or names to keep.
    groups_file : path, optional
        TOML or JSON file of the user's own groups (name -> codes or names).

    Returns
    -------
    GeoDataFrame with columns ``code`` (E54), ``name``, ``population`` (ONS
    mid-2017), ``pop_0_17``, ``pop_18_64``, ``pop_65_plus``, ``pop_85_plus``,
    ``region`` and ``region_code`` (the ONS region holding most of the
    population), ``region_share``, ``regions`` (every region with its share),
    ``nhs_region``, ``nhs_region_code``, ``nhs_local_office`` (2017, 2018),
    ``ods_code`` (2020 to 2022: the ICB's ODS code, e.g. ``QJ2``; the 2022
    ``name`` is the board's, "NHS Derby and Derbyshire Integrated Care
    Board"), ``ccg_count``, ``lad_count``, ``vintage`` and ``geometry``
    (EPSG:27700).

    Examples
    --------
    >>> import stpmap
    >>> east = stpmap.footprints(2017, group="East of England")
    >>> len(east)
    6
    >>> icb = stpmap.footprints(2022).set_index("ods_code")
    >>> icb.loc["QJ2", ["code", "name", "nhs_region"]].tolist()
    ['E54000058', 'NHS Derby and Derbyshire Integrated Care Board', 'Midlands']
    """
    v = _vintage(vintage)
    gdf = _atlas.layer("stp", v)
    codes = select_codes(v, group, groups_file, footprint)
    if codes is not None:
        gdf = gdf[gdf["code"].isin(codes)].reset_index(drop=True)
    return _with_attrs(gdf, v, group=group)


def ccgs(vintage=None, group=None, *, footprint=None, groups_file=None) -> gpd.GeoDataFrame:
    """The CCGs of a vintage (207 in 2017, 195, 191, 135, 106 in 2021), or the
    106 sub-ICB locations of July 2022, with their footprint.

    Columns: ``code`` (E38), ``ods_code`` (e.g. ``02M``), ``name``,
    ``stp_code``, ``stp_name``, population columns as in :func:`footprints`,
    ``region``, ``region_code``, NHS England region (and local office, 2017
    and 2018), ``vintage``, ``geometry``.

    >>> len(stpmap.ccgs(2017, footprint="E54000021"))
    1
    """
    v = _vintage(vintage)
    gdf = _atlas.layer("ccg", v)
    codes = select_codes(v, group, groups_file, footprint)
    if codes is not None:
        gdf = gdf[gdf["stp_code"].isin(codes)].reset_index(drop=True)
    return _with_attrs(gdf, v)


def local_authorities(vintage=None, group=None, *, footprint=None, groups_file=None) -> gpd.GeoDataFrame:
    """English local authority districts (326 in 2017 and 2018, 317, 314, 309
    in 2021 and 2022), with region and footprint.

    Columns: ``code`` (E06/E07/E08/E09), ``name``, ``region``,
    ``region_code``, population columns, ``stp_code`` and ``stp_name`` (the
    footprint holding most of the district's people), ``stp_share``,
    ``stp_shares`` (every footprint with its share), ``vintage``, ``geometry``.
    With ``group``/``footprint``, districts with any population in the
    selected footprints are kept.

    >>> high_peak = stpmap.local_authorities(2017).set_index("name").loc["High Peak"]
    >>> high_peak["stp_name"], high_peak["stp_shares"]  # Glossop is in Greater Manchester's
    ('Derbyshire', 'Derbyshire 63.8%; Greater Manchester 36.2%')
    >>> len(stpmap.local_authorities(2017, footprint="E54000024"))  # with Aylesbury Vale's part
    5
    """
    v = _vintage(vintage)
    gdf = _atlas.layer("lad", v)
    codes = select_codes(v, group, groups_file, footprint)
    if codes is not None:
        parts = _atlas.layer("stp_lad", v)
        lads = set(parts.loc[parts["stp_code"].isin(codes), "lad_code"])
        gdf = gdf[gdf["code"].isin(lads)].reset_index(drop=True)
    return _with_attrs(gdf, v)


def regions(vintage=None, kind: str = "ons") -> gpd.GeoDataFrame:
    """Regions: the 9 ONS regions (``kind="ons"``, dissolved from districts),
    or the NHS England regions (``"nhs_region"``: 4 in 2017, 5 in 2018, 7
    from 2019) or local offices (``"nhs_local_office"``, 14 in 2017 and
    2018), dissolved from CCGs.

    Columns: ``code``, ``name``, population columns, ``stp_count`` (footprints
    whose majority lies in the region), ``vintage``, ``geometry``.

    >>> len(stpmap.regions(2017))
    9
    >>> nhs = stpmap.regions(2017, kind="nhs_region")
    >>> dict(zip(nhs["name"], nhs["stp_count"].tolist()))
    {'North of England': 9, 'Midlands and East of England': 17, 'London': 5, 'South of England': 13}
    """
    v = _vintage(vintage)
    if kind not in REGION_KINDS:
        raise ChoiceError("region kind", kind, REGION_KINDS)
    available = _atlas.available_layers(v)
    if REGION_LAYERS[kind] not in available:
        offered = [k for k, name in REGION_LAYERS.items() if name in available]
        raise ChoiceError("region kind", kind, offered, f"for vintage {v}")
    return _with_attrs(_atlas.layer(REGION_LAYERS[kind], v), v)


def groups(vintage=None, *, groups_file=None) -> gpd.GeoDataFrame:
    """Every named group of footprints, one row each, with the union geometry.

    Columns: ``name``, ``kind`` (``region``, ``nhs_region``,
    ``nhs_local_office`` or ``user``), ``qualified_name`` (``kind:name``),
    ``footprint_count``, ``footprint_codes`` and ``footprint_names``
    (semicolon-separated), ``population``, ``geometry``.

    >>> g = stpmap.groups(2017)
    >>> g.loc[g.qualified_name == "region:East of England", "footprint_count"].item()
    6
    """
    import shapely

    v = _vintage(vintage)
    stp = _atlas.layer("stp", v).set_index("code")
    rows = []
    for g in _groups.all_groups(v, groups_file):
        sub = stp.loc[list(g.codes)]
        rows.append(
            {
                "name": g.name,
                "kind": g.kind,
                "qualified_name": g.qualified,
                "footprint_count": len(g.codes),
                "footprint_codes": ";".join(g.codes),
                "footprint_names": ";".join(sub["name"]),
                "population": int(sub["population"].sum()),
                "geometry": shapely.union_all(sub.geometry.values),
            }
        )
    return _with_attrs(gpd.GeoDataFrame(rows, geometry="geometry", crs=27700), v)


def attribution(*, postcodes: bool = False) -> str:
    """The licence attribution to print with any map or table made from stpmap."""
    return registry().attribution(postcodes=postcodes)
