"""Fetching the source files, building the atlas, and saying what is where."""

from __future__ import annotations

from stpmap import _cache
from stpmap import settings as _settings
from stpmap.data import atlas as _atlas
from stpmap.data.registry import registry


def fetch(vintage=None, mirror=None, progress: bool = True) -> dict:
    """Find (in a mirror) or download the vintage's source files; role -> path."""
    from stpmap.data.sources import fetch as _fetch

    return _fetch(registry().check_vintage(vintage), mirror=mirror, progress=progress)


def build(vintage=None, mirror=None, progress: bool = True):
    """Compile the vintage's atlas into the cache; returns its folder."""
    from stpmap.data.build import build as _build

    return _build(registry().check_vintage(vintage), mirror=mirror, progress=progress)


def info() -> dict:
    """Datasets, vintages, sources, cache state and licence, as a dict."""
    from stpmap.data.sources import find_source

    reg = registry()
    out = {"cache": str(_cache.root()), "mirror": str(_settings.mirror_folder() or ""), "vintages": {}}
    for v in reg.vintages:
        out["vintages"][v] = {
            "description": reg.vintage_info[v]["description"],
            "atlas": _atlas_state(v),
            "datasets": {
                role: {
                    "id": ds.id,
                    "title": ds.title,
                    "service": ds.service,
                    "files": list(ds.files),
                    "count": ds.count,
                    "licence": reg.licences[ds.licence]["name"],
                    "found": str(find_source(ds) or ""),
                }
                for role, ds in reg.for_vintage(v).items()
            },
        }
    out["attribution"] = reg.attribution(postcodes=True)
    return out


def _atlas_state(vintage: int) -> str:
    """'not built', 'built <when>', or 'built <when> (stale: registry changed)'."""
    m = _atlas.manifest(vintage)
    if not m:
        return "not built"
    return "built " + m["built"] + ("" if _atlas.is_current(vintage) else " (stale: registry changed)")
