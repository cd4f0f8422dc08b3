"""Checking every cache folder in full (``stpmap data verify``), and rebuilding the damaged ones.

It sits beside :mod:`stpmap._cache`, above ``data`` and ``postcodes``, because it
checks the folders of both (``data`` never imports ``postcodes``).

Each atlas vintage and postcode index folder has its files checked against
the sizes and checksums its manifest recorded at build (see
:mod:`stpmap._cache`); the simplified map geometry (``maps/``), kept as
single files without a manifest, is read whole. Every folder is then
:data:`~stpmap._cache.OK`, :data:`~stpmap._cache.MISSING` (built at first
use), :data:`~stpmap._cache.STALE` (rebuilt at next use) or
:data:`~stpmap._cache.DAMAGED`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stpmap import _cache


@dataclass
class Finding:
    """The state of one cache folder: what it is, where, its state, what is wrong and the fix."""

    what: str
    folder: Path
    state: str
    problems: list[str] = field(default_factory=list)
    fix: str = ""
    rebuild: object = field(default=None, repr=False)


def _atlas_findings() -> list[Finding]:
    from stpmap.data import atlas as _atlas
    from stpmap.data import build as _build
    from stpmap.data import layout as _layout
    from stpmap.data.registry import registry

    out = []
    for vintage in registry().vintages:
        folder = _cache.atlas_folder(vintage)
        state, problems = _cache.state(folder, _layout.expected_manifest(), full=True)
        out.append(Finding(f"atlas {vintage}", folder, state, problems, _atlas.fix(vintage),
                           lambda v=vintage: _build.build(v, progress=False)))
    return out


def _postcode_findings() -> list[Finding]:
    from stpmap.postcodes import index as _pcindex

    out = []
    for what, folder, expected, build in _pcindex.cache_folders():
        state, problems = _cache.state(folder, expected, full=True)
        out.append(Finding(what, folder, state, problems, "Remove the folder (it is rebuilt at the next lookup), "
                           "or run `stpmap data verify --repair`.", build))
    return out


def _mapgeom_findings() -> list[Finding]:
    """The map geometry files of each vintage: those of the atlas in force must
    read whole (they carry no checksum); those of earlier atlas builds are stale."""
    import pyarrow.parquet as pq

    from stpmap.data import atlas as _atlas
    from stpmap.data.registry import registry

    out = []
    for vintage in registry().vintages:
        folder = _cache.mapgeom_folder(vintage)
        files = sorted(folder.glob("*.parquet"))
        if not files:
            out.append(Finding(f"map geometry {vintage}", folder, _cache.MISSING))
            continue
        built = str((_atlas.manifest(vintage) or {}).get("built", ""))
        stamp = "".join(ch for ch in built if ch.isalnum())
        damaged, stale = [], []
        for path in files:
            if not stamp or not path.name.endswith(f"-{stamp}.parquet"):
                stale.append(path)
                continue
            try:
                pq.read_table(path)
            except Exception as exc:  # pyarrow's errors for a damaged file
                damaged.append((path, f"{path.name} cannot be read ({str(exc).splitlines()[0]})"))
        state = _cache.DAMAGED if damaged else _cache.STALE if stale and len(stale) == len(files) else _cache.OK
        problems = [p for _, p in damaged] + ([f"{len(stale)} file(s) of an earlier atlas build"] if stale else [])
        out.append(Finding(f"map geometry {vintage}", folder, state, problems,
                           "Remove the damaged files (they are made again by the next map), or run "
                           "`stpmap data verify --repair`.",
                           lambda paths=[p for p, _ in damaged] + stale: [p.unlink(missing_ok=True) for p in paths]))
    return out


def verify(repair: bool = False) -> list[Finding]:
    """Every cache folder checked in full; with ``repair``, the damaged ones
    are rebuilt (map geometry files removed) and checked again."""
    findings = _atlas_findings() + _postcode_findings() + _mapgeom_findings()
    if not repair or not any(f.state == _cache.DAMAGED for f in findings):
        return findings
    for f in findings:
        if f.state == _cache.DAMAGED:
            f.rebuild()
    from stpmap.postcodes import index as _pcindex

    _pcindex.clear_memo()
    return _atlas_findings() + _postcode_findings() + _mapgeom_findings()
