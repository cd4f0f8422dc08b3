"""The cache folder: the one owner of every cache stpmap builds.

Three caches live under :func:`root` (``STPMAP_CACHE``, else the user cache
folder): the atlas of each vintage (``atlas/v2017``), the postcode index
(``postcodes/directory``, ``postcodes/v2017``) and the simplified map
geometry (``maps/v2017``). Downloads live in ``downloads/``.

Each cache folder is written whole into a temporary folder beside it and
then swapped into place (:func:`writing`), so a reader never sees a
half-written folder, and carries a ``manifest.json`` that says what it was
built from; :func:`is_current` compares that with what the caller expects
now, which is the single staleness check every cache uses.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from stpmap import settings

MANIFEST = "manifest.json"


def root() -> Path:
    """The cache folder in force now (it can change between calls in tests)."""
    return settings.cache_dir()


def atlas_folder(vintage: int) -> Path:
    return root() / "atlas" / f"v{vintage}"


def postcodes_folder(name: str) -> Path:
    return root() / "postcodes" / name


def mapgeom_folder(vintage: int) -> Path:
    return root() / "maps" / f"v{vintage}"


def downloads_folder() -> Path:
    return root() / "downloads"


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest, or None when it is missing or unreadable."""
    try:
        m = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) else None


def is_current(folder: Path, expected: dict) -> bool:
    """Whether ``folder`` holds a finished cache whose manifest has every
    key of ``expected`` with the same value: the one staleness check."""
    m = read_manifest(folder)
    return m is not None and all(m.get(k) == v for k, v in expected.items())


@contextmanager
def writing(target: Path, manifest: dict):
    """Yield an empty temporary folder beside ``target``; on success write
    ``manifest`` into it and swap it into place, on any failure remove it.

    The manifest dict may be filled in by the caller inside the block.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield tmp
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        replace_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_folder(tmp: Path, target: Path) -> None:
    """Move the finished folder ``tmp`` to ``target``, replacing any older one,
    so that readers never see a half-written cache folder; if the move fails,
    the older one is put back."""
    old = None
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        target.rename(old)
    try:
        tmp.rename(target)
    except BaseException:
        if old is not None:
            old.rename(target)  # keep the previous cache rather than none
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
