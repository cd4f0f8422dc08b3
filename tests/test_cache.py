"""The cache folder's owner: where caches live, the atomic folder swap and the staleness check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from stpmap import _cache
from stpmap import settings as _settings


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


#: What the manifest records of a file holding "new": its size and SHA-256.
FILES = {"new": {"stp.parquet": {"bytes": 3, "sha256": hashlib.sha256(b"new").hexdigest()}}}


def test_cache_folders_follow_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("STPMAP_CACHE", str(tmp_path / "env"))
    assert _cache.atlas_folder(2017) == tmp_path / "env" / "atlas" / "v2017"
    monkeypatch.setattr(_settings, "cache_folder", str(tmp_path / "attr"))  # the attribute wins
    assert _cache.postcodes_folder("directory") == tmp_path / "attr" / "postcodes" / "directory"
    assert _cache.mapgeom_folder(2021) == tmp_path / "attr" / "maps" / "v2021"
    assert _cache.downloads_folder() == tmp_path / "attr" / "downloads"


def test_writing_shows_nothing_until_the_folder_is_finished(tmp_path):
    target = tmp_path / "atlas" / "v2017"
    with _cache.writing(target, {"format": 1}) as tmp:
        (tmp / "stp.parquet").write_text("new")
        assert not target.exists()
    assert names(target) == [_cache.VERIFIED, "manifest.json", "stp.parquet"]
    assert json.loads((target / _cache.MANIFEST).read_text()) == {"format": 1, "files": FILES["new"]}
    assert names(target.parent) == ["v2017"]


def test_writing_replaces_an_old_folder_whole(tmp_path):
    target = tmp_path / "v2017"
    target.mkdir()
    (target / "old.parquet").write_text("old")
    (target / _cache.MANIFEST).write_text('{"format": 1}')
    manifest = {"format": 2}
    with _cache.writing(target, manifest) as tmp:
        (tmp / "new.parquet").write_text("new")
        assert names(target) == ["manifest.json", "old.parquet"]  # readers still see the old one
        manifest["built"] = "2025-01-01T00:00:00"  # the caller may fill the manifest in
    assert names(target) == [_cache.VERIFIED, "manifest.json", "new.parquet"]
    assert _cache.read_manifest(target) == {"format": 2, "built": "2025-01-01T00:00:00",
                                            "files": {"new.parquet": FILES["new"]["stp.parquet"]}}
    assert names(tmp_path) == ["v2017"]  # neither the temporary nor the old folder is left


def test_writing_leaves_no_temporary_folder_after_an_exception(tmp_path):
    target = tmp_path / "v2017"
    with pytest.raises(RuntimeError, match="half way"):
        with _cache.writing(target, {"format": 1}) as tmp:
            (tmp / "stp.parquet").write_text("half")
            raise RuntimeError("half way")
    assert names(tmp_path) == []


def test_failed_writing_keeps_the_old_folder(tmp_path):
    target = tmp_path / "v2017"
    target.mkdir()
    (target / "old.parquet").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with _cache.writing(target, {"format": 2}) as tmp:
            (tmp / "new.parquet").write_text("new")
            raise KeyboardInterrupt
    assert names(tmp_path) == ["v2017"]
    assert names(target) == ["old.parquet"]


def test_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "v2017"
    target.mkdir()
    (target / "old.parquet").write_text("old")
    real_rename = Path.rename

    def rename(self, dest):
        if Path(dest) == target and self.name.startswith(".v2017-"):
            raise OSError("disk full")
        return real_rename(self, dest)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="disk full"):
        with _cache.writing(target, {"format": 2}) as tmp:
            (tmp / "new.parquet").write_text("new")
    assert names(tmp_path) == ["v2017"]
    assert names(target) == ["old.parquet"]


EXPECTED = {"registry": "abc123", "format": 2}


@pytest.mark.parametrize(
    "manifest, current",
    [
        (None, False),  # no manifest: an unfinished or foreign folder
        ("{not json", False),
        ("[1, 2]", False),  # JSON, but not a manifest
        ('{"registry": "abc123", "format": 1}', False),  # built by another format
        ('{"registry": "abc123"}', False),  # says nothing of the format
        ('{"registry": "abc123", "format": 2, "built": "2025-01-01"}', True),
    ],
    ids=["missing", "not-json", "not-a-dict", "different", "incomplete", "matching"],
)
def test_is_current_compares_the_manifest(tmp_path, manifest, current):
    tmp_path.joinpath("cache").mkdir()
    if manifest is not None:
        tmp_path.joinpath("cache", _cache.MANIFEST).write_text(manifest)
    assert _cache.is_current(tmp_path / "cache", EXPECTED) is current


def test_is_current_is_false_for_a_missing_folder_or_an_unreadable_manifest(tmp_path):
    assert _cache.is_current(tmp_path / "nowhere", EXPECTED) is False
    (tmp_path / _cache.MANIFEST).mkdir()  # reading it fails with an OSError
    assert _cache.is_current(tmp_path, EXPECTED) is False
    assert _cache.read_manifest(tmp_path) is None


# ---------------------------------------------------------------- integrity


def _built(tmp_path: Path) -> Path:
    target = tmp_path / "v2017"
    with _cache.writing(target, {"format": 1}) as tmp:
        (tmp / "stp.parquet").write_text("new")
        (tmp / "ccg.parquet").write_text("older")
    return target


def test_damage_checks_each_version_of_each_file_once(tmp_path, monkeypatch):
    target = _built(tmp_path)
    hashed = []
    real = _cache._digest
    monkeypatch.setattr(_cache, "_digest", lambda path: hashed.append(path.name) or real(path))
    assert _cache.damage(target) == [] and hashed == []  # checked as written, and recorded so
    assert _cache.damage(target, full=True) == [] and sorted(hashed) == ["ccg.parquet", "stp.parquet"]
    (target / "stp.parquet").write_text("NEW")  # same size, a new modification time
    hashed.clear()
    assert _cache.damage(target) == ["stp.parquet does not match its sha256 checksum"]
    assert _cache.damage(target) == ["stp.parquet does not match its sha256 checksum"]  # found every time
    assert hashed == ["stp.parquet", "stp.parquet"]  # only the file that changed
    (target / "stp.parquet").write_text("new")
    assert _cache.damage(target) == []
    hashed.clear()
    assert _cache.damage(target) == [] and hashed == []
    manifest = (target / _cache.MANIFEST).read_text()
    (target / _cache.MANIFEST).write_text(manifest)  # another version of the manifest: every file again
    assert _cache.damage(target) == [] and sorted(hashed) == ["ccg.parquet", "stp.parquet"]
    (target / "ccg.parquet").unlink()
    (target / "stp.parquet").write_text("newer")
    assert _cache.damage(target) == ["ccg.parquet is missing", "stp.parquet has 5 bytes, not 3"]


def test_forgetting_the_check_checks_again(tmp_path, monkeypatch):
    target = _built(tmp_path)
    hashed = []
    real = _cache._digest
    monkeypatch.setattr(_cache, "_digest", lambda path: hashed.append(path.name) or real(path))
    _cache.forget_verified(target)
    assert not (target / _cache.VERIFIED).exists()
    assert _cache.damage(target) == [] and len(hashed) == 2
    assert (target / _cache.VERIFIED).exists()


def test_state_of_a_cache_folder(tmp_path):
    assert _cache.state(tmp_path / "nowhere", {"format": 1}) == (_cache.MISSING, [])
    target = _built(tmp_path)
    assert _cache.state(target, {"format": 1}) == (_cache.OK, [])
    assert _cache.state(target, {"format": 2})[0] == _cache.STALE
    (target / "ccg.parquet").write_text("damaged")
    assert _cache.state(target, {"format": 1}) == (_cache.DAMAGED, ["ccg.parquet has 7 bytes, not 5"])
    (target / _cache.MANIFEST).write_text('{"format": 1}')  # from an older stpmap: no checksums
    assert _cache.state(target, {"format": 1})[0] == _cache.STALE
    (target / _cache.MANIFEST).write_text('{"format": 1, "fil\0es": {}}')
    assert _cache.state(target, {"format": 1})[0] == _cache.DAMAGED


def test_pid_alive(tmp_path):
    import os
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert _cache.pid_alive(os.getpid()) and _cache.pid_alive(os.getppid())
    assert not _cache.pid_alive(proc.pid)
