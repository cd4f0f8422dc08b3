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

The manifest also records the size and SHA-256 of every file written
(``files``), so that a damaged cache is found before it answers anything:
:func:`damage` checks them in full once for each version of the files
(inode, size, modification time) and records that in a small stamp
(``.verified.json``), so that later loads only look at the files' sizes and
times. :func:`state` says whether a folder is ok, missing, stale or damaged.

Temporary folders carry the writer's process id (``.v2017-<pid>-<random>``),
so that those of a process that died are removed by the next write beside
them (:func:`remove_leftovers`). Folders and files follow the umask, so that
a cache can be shared.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from stpmap import settings
from stpmap.errors import CacheError

MANIFEST = "manifest.json"
#: The stamp saying which version of a folder's files was last checked in full.
VERIFIED = ".verified.json"
#: The checksum recorded for each cache file (hashlib's name).
CHECKSUM = "sha256"
#: The states of a cache folder (:func:`state`).
OK, MISSING, STALE, DAMAGED = "ok", "missing", "stale", "damaged"
#: Seconds a dead process's temporary file must have been left alone before it is removed.
LEFTOVER_AGE = 60.0
#: Temporary folders named by the older stpmap (no process id) are removed after a day.
UNNAMED_LEFTOVER_AGE = 86400.0

log = logging.getLogger("stpmap.cache")


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


def stamp(folder: Path) -> str:
    """When the folder's cache was built (its manifest's ``built``), or ''."""
    return str((read_manifest(folder) or {}).get("built", ""))


def unwritable(folder: Path, exc: OSError) -> CacheError:
    """The error for a cache folder that cannot be written, saying how to choose another."""
    return CacheError(f"Cannot write the cache folder {folder} ({exc.strerror or exc}). Make it writable, or choose "
                      "another cache folder: set STPMAP_CACHE (or stpmap.settings.cache_folder).")


@contextmanager
def writing(target: Path, manifest: dict):
    """Yield an empty temporary folder beside ``target``; on success record
    the size and checksum of every file in it in ``manifest`` (``files``),
    write the manifest into it and swap it into place; on any failure remove it.

    The manifest dict may be filled in by the caller inside the block. A
    cache folder that cannot be written is a :class:`CacheError`.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(target.parent, target.name)
        tmp = _new_temp_folder(target)
    except OSError as exc:
        raise unwritable(target.parent, exc) from None
    try:
        yield tmp
        manifest["files"] = checksums(tmp)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        replace_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # the files were checksummed as written: later loads only compare their identities
    _write_stamp(target, _identities(target, [MANIFEST, *manifest["files"]]))


def require_writable(target: Path) -> None:
    """Raise the :class:`CacheError` of :func:`unwritable` unless the cache
    folder ``target`` can be written (a temporary folder beside it is made and
    removed), so that a build that would fail does so before its work."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _new_temp_folder(target).rmdir()
    except OSError as exc:
        raise unwritable(target.parent, exc) from None


def _new_temp_folder(target: Path) -> Path:
    """A new empty folder beside ``target`` named with this process's id; made
    with mode 0o777 less the umask (unlike ``tempfile.mkdtemp``'s 0o700), so
    that the finished cache folder can be shared."""
    while True:
        tmp = target.with_name(f".{target.name}-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            tmp.mkdir(0o777)
            return tmp
        except FileExistsError:
            continue


def replace_folder(tmp: Path, target: Path) -> None:
    """Move the finished folder ``tmp`` to ``target``, replacing any older one,
    so that readers never see a half-written cache folder; if the move fails,
    the older one is put back."""
    old = None
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}-{secrets.token_hex(4)}")
        target.rename(old)
    try:
        tmp.rename(target)
    except BaseException:
        if old is not None:
            old.rename(target)  # keep the previous cache rather than none
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- leftovers


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one we may not signal counts)."""
    if pid <= 0:
        return True  # not a process id we wrote: never treat as dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. another user's process
    return True


def _last_change(path: Path) -> float:
    """The latest modification time of ``path`` and, for a folder, of what it holds."""
    latest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for entry in os.scandir(path):
            latest = max(latest, entry.stat(follow_symlinks=False).st_mtime)
    return latest


def remove_dead_temps(folder: Path, pattern: re.Pattern, unnamed_age: float | None = None) -> list[Path]:
    """Remove the entries of ``folder`` whose names match ``pattern`` and that
    a dead process left: the pattern's group ``pid`` is not a running
    process, and nothing in them changed for :data:`LEFTOVER_AGE` seconds.
    A match without a process id is removed after ``unnamed_age`` seconds
    (never when None). Returns what was removed; errors are ignored (a
    read-only folder keeps its leftovers)."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    now = time.time()
    for path in entries:
        m = pattern.fullmatch(path.name)
        if m is None:
            continue
        pid = m.groupdict().get("pid")
        if pid is None and unnamed_age is None:
            continue
        if pid is not None and (int(pid) == os.getpid() or pid_alive(int(pid))):
            continue
        try:
            if now - _last_change(path) < (LEFTOVER_AGE if pid is not None else unnamed_age):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def remove_leftovers(parent: Path, name: str) -> list[Path]:
    """Remove the temporary and old folders of the cache folder ``name`` that
    dead processes left in ``parent`` (see :func:`remove_dead_temps`)."""
    n = re.escape(name)
    removed = remove_dead_temps(parent, re.compile(rf"\.{n}-(?P<pid>\d+)-[0-9a-f]+"))
    removed += remove_dead_temps(parent, re.compile(rf"\.old-{n}-(?P<pid>\d+)(?:-[0-9a-f]+)?"))
    # tempfile.mkdtemp's names, from an older stpmap: no process id, so only once a day old
    unnamed = re.compile(rf"\.{n}-[a-z0-9_]{{8}}")
    return removed + remove_dead_temps(parent, unnamed, unnamed_age=UNNAMED_LEFTOVER_AGE)


# ---------------------------------------------------------------- integrity


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, CHECKSUM).hexdigest()


def checksums(folder: Path) -> dict:
    """Size and checksum of every file in ``folder`` (and below), by relative name."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, CHECKSUM: _digest(p)}
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _identities(folder: Path, names) -> dict:
    """Inode, size and modification time of each file (None for a missing one)."""
    out = {}
    for name in names:
        try:
            st = os.stat(Path(folder) / name)
        except OSError:
            out[name] = None
            continue
        out[name] = [st.st_ino, st.st_size, st.st_mtime_ns]
    return out


def _read_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / VERIFIED).read_text())
    except (OSError, ValueError):
        return None


def _write_stamp(folder: Path, identities: dict) -> None:
    """Record that the files with these identities were checked in full; a
    cache that cannot be written is checked again next time instead."""
    if None in identities.values():
        return
    folder = Path(folder)
    remove_dead_temps(folder, re.compile(rf"{re.escape(VERIFIED)}\.(?P<pid>\d+)\.\d+\.tmp"))
    tmp = folder / f"{VERIFIED}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        tmp.write_text(json.dumps(identities))
        os.replace(tmp, folder / VERIFIED)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def forget_verified(folder: Path) -> None:
    """Drop the folder's stamp, so that the next load checks its files in full."""
    try:
        (Path(folder) / VERIFIED).unlink(missing_ok=True)
    except OSError:
        pass


def _file_damage(path: Path, want: dict) -> str | None:
    try:
        size = path.stat().st_size
    except OSError:
        return f"{path.name} is missing"
    if not isinstance(want, dict) or size != want.get("bytes"):
        return f"{path.name} has {size} bytes, not {want.get('bytes') if isinstance(want, dict) else '?'}"
    if _digest(path) != want.get(CHECKSUM):
        return f"{path.name} does not match its {CHECKSUM} checksum"
    return None


def damage(folder: Path, full: bool = False) -> list[str]:
    """What is wrong with the files of a finished cache folder, as its
    manifest records them: empty when every file is intact.

    A file is checked in full (size and checksum) unless the stamp says that
    this very file (same inode, size and modification time, under the same
    manifest) was checked before; ``full`` checks every file regardless.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        return [f"its {MANIFEST} is missing or unreadable"]
    files = manifest.get("files")
    if not isinstance(files, dict):
        return [f"its {MANIFEST} records no checksums (built by an older stpmap)"]
    now = _identities(folder, [MANIFEST, *files])
    stamp = None if full else _read_stamp(folder)
    if not isinstance(stamp, dict) or stamp.get(MANIFEST) != now[MANIFEST]:
        stamp = {}  # another manifest: every file is checked against it
    problems = [p for p in (_file_damage(folder / name, want) for name, want in files.items()
                            if stamp.get(name) != now[name]) if p]
    if not problems and stamp != now:
        _write_stamp(folder, now)
    return problems
def state(folder: Path, expected: dict, full: bool = False) -> tuple[str, list[str]]:
    """The folder's state (:data:`OK`, :data:`MISSING`, :data:`STALE` or
    :data:`DAMAGED`) and what is wrong with it. A folder holds a finished
    cache or nothing, so one without a readable manifest is damaged."""
    folder = Path(folder)
    if not folder.is_dir():
        return MISSING, []
    manifest = read_manifest(folder)
    if manifest is None:
        return DAMAGED, [f"its {MANIFEST} is missing or unreadable"]
    if not all(manifest.get(k) == v for k, v in expected.items()):
        return STALE, ["built from other sources or by another format"]
    if not isinstance(manifest.get("files"), dict):
        return STALE, [f"its {MANIFEST} records no checksums (built by an older stpmap)"]
    problems = damage(folder, full=full)
    return (DAMAGED, problems) if problems else (OK, [])
