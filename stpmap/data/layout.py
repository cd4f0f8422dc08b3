"""What an atlas folder holds: its layers, their files, and what a current one records.

Kept apart from :mod:`stpmap.data.build`, which needs geopandas, so that
reading the atlas (and the postcode lookups that check it is current) start
without importing geopandas.
"""

from __future__ import annotations

from pathlib import Path

from stpmap.data.registry import registry

#: The atlas's layers with geometry, and its tables, in the order they are listed.
SPATIAL_LAYERS = ("stp", "ccg", "lad", "region", "nhs_region", "nhs_local_office")
TABLE_LAYERS = ("stp_lad", "stp_region", "ccg_lad", "lsoa")
#: Bumped when the atlas gains or changes a layer, so that older caches are rebuilt.
ATLAS_FORMAT = 5


def layer_file(folder: Path, name: str) -> Path:
    """Where the layer ``name`` is kept in an atlas folder."""
    return folder / f"{name}.parquet"


def expected_manifest() -> dict:
    """What an atlas built now records: a cache whose manifest differs is stale."""
    return {"registry": registry().fingerprint(), "format": ATLAS_FORMAT}
