"""stpmap: England's STP footprints from official ONS data.

>>> import stpmap
>>> fp = stpmap.footprints(2017)            # 44 footprints, GeoDataFrame
>>> east = stpmap.footprints(group="East of England")
>>> stpmap.lookup("NG1 5DT")["footprint_code"]   # which footprint covers a postcode
'E54000014'
>>> stpmap.resolve_footprint("BLMK", 2021).code  # names, abbreviations, ODS codes
'E54000024'

The names below are imported on first use, so that ``import stpmap`` (and the
command line) start quickly.
"""

from __future__ import annotations

import importlib

from stpmap import settings
from stpmap.errors import ChoiceError, DataError, InputError, StpmapError

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first use).
_LAZY = {
    "footprints": "stpmap.data.layers",
    "ccgs": "stpmap.data.layers",
    "local_authorities": "stpmap.data.layers",
    "regions": "stpmap.data.layers",
    "groups": "stpmap.data.layers",
    "attribution": "stpmap.data.layers",
    "resolve_footprint": "stpmap.data.aliases",
    "fetch": "stpmap.data.manage",
    "build": "stpmap.data.manage",
    "info": "stpmap.data.manage",
    "lineage": "stpmap.data.lineage",
    "history": "stpmap.data.history",
    "crosswalk": "stpmap.data.crosswalk",
    "changes": "stpmap.maps.changes",
    "lookup": "stpmap.postcodes.lookup",
    "lookup_many": "stpmap.postcodes.lookup",
    "locate": "stpmap.postcodes.lookup",
    "lookup_file": "stpmap.files.lookup_file",
    "lookup_folder": "stpmap.files.lookup_folder",
    "plot": "stpmap.maps.static",
    "explore": "stpmap.maps.html",
    "hexes": "stpmap.maps.hexes",
    "report": "stpmap.reports",
    "serve": "stpmap.serve.app",
    "create_app": "stpmap.serve.app",
}

__all__ = ["settings", "StpmapError", "DataError", "ChoiceError", "InputError", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stpmap' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
