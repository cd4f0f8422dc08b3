"""Missing, corrupt or mismatched source files fail clearly and never leave a half-built cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stpmap.data import build as _build
from stpmap.data import sources as _sources
from stpmap.errors import ChoiceError, DataError
from stpmap.data.registry import registry


def make_mirror(real: Path, dest: Path, skip: str | None = None, replace: dict | None = None) -> Path:
    """A mirror of symlinks to the 2017 files, minus or replacing some."""
    dest.mkdir()
    for role, ds in registry().for_vintage(2017).items():
        if role == skip:
            continue
        src = _sources.find_in_mirror(ds, real)
        target = dest / src.name
        if replace and role in replace:
            target.write_text(replace[role])
            continue
        os.symlink(src, target)
        if src.suffix == ".shp":
            for sidecar in src.parent.glob(src.stem + ".*"):
                if sidecar != src:
                    os.symlink(sidecar, dest / sidecar.name)
    return dest


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STPMAP_CACHE", str(tmp_path / "cache"))
    yield tmp_path / "cache"


def test_missing_file_names_dataset_file_and_fix(mirror, tmp_path, fresh_cache):
    m = make_mirror(mirror, tmp_path / "m", skip="ccg_stp_lookup")
    with pytest.raises(DataError) as err:
        _build.build(2017, mirror=m, progress=False)
    msg = str(err.value)
    assert "ccg17_stp17_lookup" in msg and "CCG17_STP17_EN_LU_v3.csv" in msg
    assert "unset --mirror/STPMAP_MIRROR" in msg
    assert not (fresh_cache / "atlas" / "v2017").exists()


def test_truncated_file_is_reported_with_the_counts(mirror, tmp_path, fresh_cache):
    real = _sources.find_in_mirror(registry().dataset(2017, "ccg_stp_lookup"), mirror)
    lines = real.read_text().splitlines()[:100]
    m = make_mirror(mirror, tmp_path / "m", replace={"ccg_stp_lookup": "\n".join(lines) + "\n"})
    with pytest.raises(DataError, match=r"has 99 rows, the registry expects 207.*truncated"):
        _build.build(2017, mirror=m, progress=False)
    assert not (fresh_cache / "atlas").exists() or not any((fresh_cache / "atlas").iterdir())


def test_wrong_file_is_reported_by_missing_field(mirror, tmp_path, fresh_cache):
    body = "a,b\n" + "".join(f"{i},{i}\n" for i in range(207))
    m = make_mirror(mirror, tmp_path / "m", replace={"ccg_stp_lookup": body})
    with pytest.raises(DataError, match=r"has no field ccg17cd.*not the one expected"):
        _build.build(2017, mirror=m, progress=False)


def test_unreadable_boundary_file(mirror, tmp_path, fresh_cache):
    m = make_mirror(mirror, tmp_path / "m", skip="ccg_boundaries")
    ds = registry().dataset(2017, "ccg_boundaries")
    (m / ds.files[0]).write_bytes(b"not a shapefile")
    with pytest.raises(DataError, match=r"ccg17_bgc.*could not read"):
        _build.build(2017, mirror=m, progress=False)


def test_failed_rebuild_keeps_the_previous_atlas(mirror, tmp_path, fresh_cache):
    _build.build(2017, mirror=mirror, progress=False)
    before = (fresh_cache / "atlas" / "v2017" / "manifest.json").read_text()
    m = make_mirror(mirror, tmp_path / "m", skip="population")
    with pytest.raises(DataError):
        _build.build(2017, mirror=m, progress=False)
    assert (fresh_cache / "atlas" / "v2017" / "manifest.json").read_text() == before
    assert sorted(p.name for p in (fresh_cache / "atlas").iterdir()) == ["v2017"]


def test_missing_mirror_folder(tmp_path, fresh_cache):
    with pytest.raises(DataError, match="does not exist"):
        _sources.fetch(2017, mirror=tmp_path / "nowhere", progress=False)


def test_unknown_vintage_lists_valid_ones():
    with pytest.raises(ChoiceError, match=r"Unknown vintage 2016. Valid choices: 2017, 2018, 2019, 2020, 2021, 2022"):
        registry().check_vintage(2016)


def test_a_mirror_that_is_a_file_says_so(tmp_path, fresh_cache, monkeypatch):
    f = tmp_path / "geodata.zip"
    f.write_bytes(b"PK")
    monkeypatch.setenv("STPMAP_MIRROR", str(f))
    with pytest.raises(DataError, match=r"is a file, not a folder\. Give the folder that holds the ONS files"):
        _sources.fetch(2017, progress=False)


def test_the_first_build_is_announced_on_stderr(mirror, fresh_cache, monkeypatch):
    """A first command builds the atlas (seconds of work): the CLI says so."""
    from click.testing import CliRunner

    from stpmap.cli import main

    monkeypatch.setenv("STPMAP_MIRROR", str(mirror))
    result = CliRunner().invoke(main, ["footprints", "--format", "csv"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Building the 2017 atlas from the official ONS files" in result.stderr
    again = CliRunner().invoke(main, ["footprints", "--format", "csv"], catch_exceptions=False)
    assert "Building" not in again.stderr
