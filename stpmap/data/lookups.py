"""Completing a vintage's lookups into the same tables for every vintage.

The official files of each year say the same things in different places:
the LSOA lookups of April 2019 and 2020 have no footprint (their CCG to STP
lookups give it); in July 2022 the LSOA lookup is the only source of the
sub-ICB locations' and ICBs' names and ODS codes; NHS England regions are
published by CCG (2017, 2018: regions and local offices) or by footprint
(2019 to 2021), and for July 2022 not at all among the sources.

:func:`complete` turns them into, for every vintage:

``lsoa_lookup``
    ``lsoa_code``, ``ccg_code``, ``stp_code``, ``lad_code``, ``lad_name``;
``ccg_stp_lookup``
    each CCG's ``ccg_ods``, ``ccg_name``, ``stp_code``, ``stp_name`` (and
    ``stp_ods`` where published: 2020 to 2022);
``ccg_nhs_region_lookup``
    each CCG's ``nhs_region_code`` and ``nhs_region`` (and the NHS England
    local office in 2017 and 2018).

For July 2022 each ICB takes the NHS England region of 2021 that holds most
of its people (through the April 2021 LSOA lookup), under the region codes of
July 2022 that the registry lists for the vintage (``nhs_regions``): ONS
re-coded the regions whose borders moved with the ICBs.
"""

from __future__ import annotations

import pandas as pd

from stpmap.data import checks as _checks
from stpmap.data.registry import registry
from stpmap.errors import DataError

#: The columns of ``lsoa_lookup`` once completed.
LSOA_COLUMNS = ["lsoa_code", "ccg_code", "stp_code", "lad_code", "lad_name"]
#: The columns a CCG to footprint table may have, in order.
CCG_STP_COLUMNS = ["ccg_code", "ccg_ods", "ccg_name", "stp_code", "stp_ods", "stp_name"]


def complete(vintage: int, data: dict) -> dict:
    """``data`` (role -> frame, as read) with the three tables of the module docstring."""
    data = dict(data)
    lsoa = data["lsoa_lookup"]
    if "ccg_stp_lookup" not in data:
        data["ccg_stp_lookup"] = _ccg_stp_from_lsoas(vintage, lsoa)
    _checks.lookups_agree(vintage, data)
    if "stp_code" not in lsoa:
        lsoa = lsoa.merge(data["ccg_stp_lookup"][["ccg_code", "stp_code"]], on="ccg_code", how="left")
        _checks.all_matched(lsoa, "stp_code", "CCG to STP lookup", "ccg_code")
    data["lsoa_lookup"] = lsoa[LSOA_COLUMNS]
    nhs = _nhs_regions(vintage, data)
    if nhs is not None:
        data["ccg_nhs_region_lookup"] = nhs
    return data


def _ccg_stp_from_lsoas(vintage: int, lsoa: pd.DataFrame) -> pd.DataFrame:
    """The CCG (sub-ICB location) to footprint (ICB) table of an LSOA lookup
    that carries both: one row per CCG, which must lie in one footprint."""
    t = lsoa[[c for c in CCG_STP_COLUMNS if c in lsoa]].drop_duplicates(ignore_index=True)
    twice = t.loc[t["ccg_code"].duplicated(), "ccg_code"].tolist()
    if twice:
        raise DataError(
            f"In the {vintage} LSOA lookup, {', '.join(twice[:5])} appear with more than one footprint, "
            "name or ODS code. The file is damaged or not the official one: use the one the registry names."
        )
    return t.sort_values("ccg_code", ignore_index=True)


def _nhs_regions(vintage: int, data: dict) -> pd.DataFrame | None:
    """Each CCG's NHS England region (and local office where published), or
    None when the vintage has no NHS region source."""
    if "ccg_nhs_region_lookup" in data:
        return data["ccg_nhs_region_lookup"].drop(columns=["ccg_name"], errors="ignore")
    if "stp_nhs_region_lookup" not in data:
        return None
    by_stp = data["stp_nhs_region_lookup"]
    if "nhs_region_names" in data:
        by_stp = by_stp.drop(columns=["nhs_region"], errors="ignore").merge(
            data["nhs_region_names"], on="nhs_region_code", how="left")
        _checks.all_matched(by_stp, "nhs_region", "NHS England region names and codes", "nhs_region_code")
    if "nhs_region_lsoa_lookup" in data:
        by_stp = _regions_through_lsoas(vintage, data, by_stp)
    ccg = data["ccg_stp_lookup"][["ccg_code", "stp_code"]]
    out = ccg.merge(by_stp[["stp_code", "nhs_region_code", "nhs_region"]], on="stp_code", how="left",
                    validate="many_to_one")
    _checks.all_matched(out, "nhs_region_code", "footprint to NHS England region lookup", "stp_code")
    return out.drop(columns=["stp_code"])


def _regions_through_lsoas(vintage: int, data: dict, earlier_by_stp: pd.DataFrame) -> pd.DataFrame:
    """Each footprint's NHS England region: the region that the earlier
    footprints of most of its people were in, under this vintage's codes."""
    earlier = data["nhs_region_lsoa_lookup"][["lsoa_code", "stp_code"]].rename(columns={"stp_code": "earlier"})
    regions = earlier_by_stp[["stp_code", "nhs_region"]].rename(columns={"stp_code": "earlier"})
    lsoa = data["lsoa_lookup"][["lsoa_code", "stp_code"]].merge(earlier, on="lsoa_code", how="left",
                                                                 validate="one_to_one")
    lsoa = lsoa.merge(regions, on="earlier", how="left").merge(data["population"], on="lsoa_code", how="left")
    _checks.all_matched(lsoa, "nhs_region", "earlier LSOA and NHS England region lookups", "lsoa_code")
    people = lsoa.groupby(["stp_code", "nhs_region"], as_index=False)["population"].sum()
    top = people.sort_values(["stp_code", "population"], ascending=[True, False]).drop_duplicates("stp_code")
    codes = {name: code for code, name in registry().vintage_info[vintage]["nhs_regions"].items()}
    unknown = sorted(set(top["nhs_region"]) - set(codes))
    if unknown:
        raise DataError(f"The NHS England regions {unknown} have no {vintage} code in the registry "
                        "(vintage nhs_regions): add them.")
    return top.assign(nhs_region_code=top["nhs_region"].map(codes))[["stp_code", "nhs_region_code", "nhs_region"]]
