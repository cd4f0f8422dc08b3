"""The cache folder's owner: where caches live, the atomic folder swap and the staleness check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stpmap import _cache
from stpmap import settings as _settings


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


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
    assert names(target) == ["manifest.json", "stp.parquet"]
    assert json.loads((target / _cache.MANIFEST).read_text()) == {"format": 1}
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
    assert names(target) == ["manifest.json", "new.parquet"]
    assert _cache.read_manifest(target) == {"format": 2, "built": "2025-01-01T00:00:00"}
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
