"""A damaged or unwritable cache, and what killed processes leave behind (issue 18, caches).

These tests damage a copy of the session cache (never the session cache
itself): every cache file zeroed after its header, overwritten with random
bytes or truncated must be found before an answer is given, and rebuilt; a
cache that cannot be written is a named error. Tests run as root, so a
read-only cache is simulated by making the cache writer's folder creation
fail with EROFS (``_cache._new_temp_folder``), which is where a read-only
folder first fails.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from stpmap import _cache
from stpmap.data import atlas as _atlas
from stpmap.data import build as _build
from stpmap.data import layout as _layout
from stpmap.errors import CacheError
from stpmap.files import write as _write
from stpmap.postcodes import index as _pcindex
from stpmap.postcodes import lookup as _lookup

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ["CB2 0QQ", "NG1 5DT", "SK13 8LY", "LS1 4AP", "TR18 4AA", "EH1 1YZ", "NG1 9ZZ"]


@pytest.fixture(scope="module")
def pristine(atlas_cache):
    """The session cache with the 2017 postcode index built, and its answers for SAMPLE."""
    _lookup.index(2017)
    return atlas_cache, [_lookup.lookup(pc, 2017) for pc in SAMPLE]


@pytest.fixture(scope="module")
def copy(pristine, tmp_path_factory):
    """A copy of the session cache that these tests damage (and repair)."""
    folder = tmp_path_factory.mktemp("integrity") / "cache"
    shutil.copytree(pristine[0], folder, ignore=shutil.ignore_patterns("downloads", "v2021"))
    shutil.copytree(pristine[0] / "atlas" / "v2021", folder / "atlas" / "v2021")
    return folder


@pytest.fixture
def cache(copy, monkeypatch):
    """The damaged copy in force, nothing of it kept in memory."""
    monkeypatch.setenv("STPMAP_CACHE", str(copy))
    _pcindex.clear_memo()
    yield copy
    _pcindex.clear_memo()


# ------------------------------------------------------------------ damage


def _data_offset(path: Path) -> int:
    """Where an .npy file's data starts (after its header), 0 for other files."""
    if path.suffix != ".npy":
        return 0
    return np.load(path, mmap_mode="r").offset


def damage(path: Path, how: str, keep_identity: bool = False) -> None:
    """Zero the data after the header, overwrite the middle with random bytes,
    or cut the file in half; ``keep_identity`` puts the modification time back."""
    st = path.stat()
    start = _data_offset(path)
    if how == "truncate":
        os.truncate(path, st.st_size // 2)
    else:
        size = st.st_size - start
        if how == "random":
            start, size = start + size // 4, max(size // 2, 1)
        data = bytes(size) if how == "zero" else np.random.default_rng(18).bytes(size)
        with open(path, "r+b") as fh:
            fh.seek(start)
            fh.write(data)
    if keep_identity:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


class Rebuilt(Exception):
    """Raised instead of a build, to show that one was asked for."""


def _refuse(*args, **kwargs):
    raise Rebuilt


def _restore(pristine_root: Path, copy_root: Path, relative: str) -> None:
    shutil.copy2(pristine_root / relative, copy_root / relative)


NPY = [f"postcodes/directory/{n}.npy" for n in _pcindex.DIRECTORY_ARRAYS] + \
      [f"postcodes/v2017/{n}.npy" for n in _pcindex.VINTAGE_ARRAYS]
PARQUET = [f"atlas/v2017/{n}.parquet" for n in _layout.SPATIAL_LAYERS + _layout.TABLE_LAYERS]


@pytest.mark.parametrize("how", ["zero", "random", "truncate"])
@pytest.mark.parametrize("relative", NPY)
def test_damaged_postcode_index_files_are_never_answered_from(cache, pristine, monkeypatch, relative, how):
    damage(cache / relative, how)
    monkeypatch.setattr(_pcindex, "build_directory", _refuse)
    monkeypatch.setattr(_pcindex, "build_vintage", _refuse)
    try:
        state, problems = _cache.state((cache / relative).parent, {})
        assert state == _cache.DAMAGED and Path(relative).name in problems[0]
        with pytest.raises(Rebuilt):  # a rebuild is asked for before any answer
            _lookup.lookup("CB2 0QQ", 2017)
    finally:
        _restore(pristine[0], cache, relative)
    _pcindex.clear_memo()
    assert _lookup.lookup("CB2 0QQ", 2017) == pristine[1][0]


@pytest.mark.parametrize("how", ["zero", "random", "truncate"])
@pytest.mark.parametrize("relative", PARQUET)
def test_damaged_atlas_layers_are_never_read(cache, pristine, monkeypatch, relative, how):
    damage(cache / relative, how)
    monkeypatch.setattr(_build, "build", _refuse)
    try:
        assert _cache.state((cache / relative).parent, _layout.expected_manifest())[0] == _cache.DAMAGED
        with pytest.raises(Rebuilt):
            _atlas.table("stp", 2017)
    finally:
        _restore(pristine[0], cache, relative)
    assert len(_atlas.table("stp", 2017)) == 44


def test_zeroed_assignments_are_rebuilt_and_answer_right(cache, pristine, caplog):
    """The reported case: assign.npy zeroed, header intact (West Yorkshire for
    CB2 0QQ, status ok). Its modification time is put back, so only the
    known postcodes looked up again on load can notice."""
    assert _cache.damage(cache / "postcodes/v2017") == []  # checked once, and the check recorded
    damage(cache / "postcodes/v2017/assign.npy", "zero", keep_identity=True)
    assert _cache.damage(cache / "postcodes/v2017") == []  # the record is fooled: same size, time and inode
    with caplog.at_level("WARNING", logger="stpmap.postcodes"):
        rec = _lookup.lookup("CB2 0QQ", 2017)
    assert (rec["status"], rec["footprint_code"]) == ("ok", "E54000021")
    assert rec["footprint_name"] == "Cambridgeshire and Peterborough"
    assert [_lookup.lookup(pc, 2017) for pc in SAMPLE] == pristine[1]
    many = _lookup.lookup_many(SAMPLE, vintage=2017)
    assert many["footprint_code"].astype(object).where(many["footprint_code"].notna(), None).tolist() == \
        [r["footprint_code"] for r in pristine[1]]
    assert "damaged" in caplog.text and "assign.npy" in caplog.text
    assert _cache.damage(cache / "postcodes/v2017", full=True) == []


def test_damaged_directory_is_rebuilt_and_answers_right(cache, pristine):
    """table.npy randomised and out_slot.npy zeroed (valid postcodes
    answered outside_england, or an IndexError, before)."""
    damage(cache / "postcodes/directory/table.npy", "random")
    damage(cache / "postcodes/directory/out_slot.npy", "zero")
    assert [_lookup.lookup(pc, 2017) for pc in SAMPLE] == pristine[1]
    assert _cache.damage(cache / "postcodes/directory", full=True) == []


def test_a_damaged_layer_is_rebuilt_not_an_arrow_traceback(cache, cli):
    """Random bytes in the middle of a Parquet file (an ArrowInvalid traceback
    from `stpmap footprints`, and `stpmap serve` dying at start-up, before)."""
    layer = cache / "atlas/v2021/stp.parquet"
    damage(layer, "random")
    out = cli("footprints", "--vintage", "2021", "--format", "csv").output
    assert sum(line.startswith("E54") for line in out.splitlines()) == 42
    assert _cache.damage(layer.parent, full=True) == []


def test_a_layer_that_cannot_be_read_is_checked_again_in_full(cache, pristine, monkeypatch):
    """A layer damaged without a change of size, time or inode passes the
    quick check; reading it fails, so the atlas is checked in full and rebuilt."""
    layer = cache / "atlas/v2017/nhs_region.parquet"
    assert _cache.damage(layer.parent) == []
    damage(layer, "zero", keep_identity=True)
    assert _cache.damage(layer.parent) == []  # only reading it can tell
    _atlas._read.cache_clear()
    monkeypatch.setattr(_build, "build", _refuse)
    try:
        with pytest.raises(Rebuilt):
            _atlas.layer("nhs_region", 2017)
    finally:
        _restore(pristine[0], cache, "atlas/v2017/nhs_region.parquet")
    assert len(_atlas.layer("nhs_region", 2017)) == 4


# ------------------------------------------------------------------ unwritable


def _read_only(target):
    raise OSError(errno.EROFS, "Read-only file system", str(Path(target).parent))


def test_a_damaged_read_only_index_is_a_named_error(cache, pristine, monkeypatch, cli):
    damage(cache / "postcodes/v2017/distance.npy", "truncate")
    monkeypatch.setattr(_cache, "_new_temp_folder", _read_only)
    try:
        with pytest.raises(CacheError, match="damaged.*distance.npy.*Read-only file system.*STPMAP_CACHE"):
            _lookup.lookup("CB2 0QQ", 2017)
        out = cli("lookup", "CB2 0QQ", code=2)
        assert "Error: The postcode index in" in out.stderr and "Traceback" not in out.output + out.stderr
    finally:
        _restore(pristine[0], cache, "postcodes/v2017/distance.npy")


def test_a_damaged_read_only_atlas_says_how_to_rebuild(cache, pristine, monkeypatch):
    damage(cache / "atlas/v2017/lad.parquet", "zero")
    monkeypatch.setattr(_cache, "_new_temp_folder", _read_only)
    try:
        with pytest.raises(CacheError, match=r"damaged.*lad\.parquet.*`stpmap data build --vintage 2017`"):
            _atlas.layer("lad", 2017)
    finally:
        _restore(pristine[0], cache, "atlas/v2017/lad.parquet")


def test_building_into_a_read_only_cache_is_a_named_error(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("STPMAP_CACHE", str(tmp_path / "shared"))
    monkeypatch.setattr(_cache, "_new_temp_folder", _read_only)
    with pytest.raises(CacheError, match="Cannot write the cache folder .*shared.*Read-only file system.*STPMAP_CACHE"):
        with _cache.writing(_cache.atlas_folder(2017), {}):
            pass
    # a first lookup, which builds the postcode index, fails before the build's work, naming the folder
    out = cli("lookup", "CB2 0QQ", code=2)
    assert f"Cannot write the cache folder {tmp_path / 'shared'}" in out.stderr and "STPMAP_CACHE" in out.stderr
    assert "Traceback" not in out.stderr


# ------------------------------------------------------------------ stpmap data verify


def test_data_verify_finds_damage_and_repairs_it(cache, pristine, cli):
    out = cli("data", "verify").output
    assert "OK       atlas 2017" in out and "OK       postcode index 2017" in out
    assert "DAMAGED" not in out

    damage(cache / "postcodes/v2017/distance.npy", "random", keep_identity=True)
    built = "".join(ch for ch in _atlas.manifest(2017)["built"] if ch.isalnum())
    geometry = cache / "maps/v2017" / f"ccg-500m-{built}.parquet"
    geometry.parent.mkdir(parents=True, exist_ok=True)
    geometry.write_bytes(b"PAR1 not really PAR1")
    out = cli("data", "verify", code=1).output
    assert "DAMAGED  postcode index 2017" in out and "distance.npy does not match its sha256 checksum" in out
    assert "DAMAGED  map geometry 2017" in out and "ccg-500m" in out
    assert out.count("Fix: ") == 2 and "OK       postcode directory" in out

    out = cli("data", "verify", "--repair").output
    assert "DAMAGED" not in out and "OK       postcode index 2017" in out
    assert not geometry.exists()
    assert [_lookup.lookup(pc, 2017) for pc in SAMPLE] == pristine[1]


def test_data_verify_says_what_is_stale_or_missing(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("STPMAP_CACHE", str(tmp_path))
    folder = _cache.atlas_folder(2021)
    with _cache.writing(folder, {"format": -1}) as tmp:
        (tmp / "stp.parquet").write_bytes(b"old")
    out = cli("data", "verify").output
    assert "MISSING  atlas 2017" in out and "STALE    atlas 2021" in out and "MISSING  postcode directory" in out


# ------------------------------------------------------------------ leftovers


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (then, then))


def test_a_killed_bulk_write_is_cleaned_up_by_the_next_one(tmp_path):
    dead, live = _dead_pid(), os.getppid()
    dead_old = tmp_path / f".out.csv.{dead}.stpmap-tmp"
    dead_new = tmp_path / f".other.parquet.{dead}.stpmap-tmp"
    live_old = tmp_path / f".out.csv.{live}.stpmap-tmp"
    folder_old = tmp_path / f".parts.{dead}.stpmap-tmp"  # a folder output's
    for p in (dead_old, dead_new, live_old):
        p.write_bytes(b"half")
    folder_old.mkdir()
    (folder_old / "part.0.parquet").write_bytes(b"half")
    for p in (dead_old, live_old, folder_old):
        _age(p, 600)
    mine = tmp_path / "out.csv"
    with _write.replaced_at_end(mine) as tmp:
        tmp.write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([dead_new.name, live_old.name, "out.csv"])


def test_sigterm_during_a_bulk_write_leaves_nothing(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from stpmap.files.write import replaced_at_end
        with replaced_at_end(Path({str(tmp_path / 'out.csv')!r})) as tmp:
            tmp.write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, capture_output=True)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_killed_build_is_cleaned_up_by_the_next_one(tmp_path):
    dead, live = _dead_pid(), os.getppid()
    parent = tmp_path / "postcodes"
    parent.mkdir()
    left = {
        f".directory-{dead}-0a1b2c3d": (600, False),  # a dead process's, a minute old: removed
        f".directory-{dead}-4e5f6a7b": (5, True),  # a dead process's, but just now: kept
        f".directory-{live}-8c9d0e1f": (600, True),  # a running process's: kept
        f".old-directory-{dead}": (600, False),  # a swap cut short
        ".directory-k2x_9abc": (2 * 86400, False),  # an older stpmap's (no process id), two days old
        ".directory-q7w_1xyz": (600, True),  # an older stpmap's, ten minutes old
        f".v2017-{dead}-0a1b2c3d": (600, True),  # another cache folder's: left to its own writes
    }
    for name, (age, _) in left.items():
        (parent / name).mkdir()
        (parent / name / "table.npy").write_bytes(b"85 MB")
        _age(parent / name, age)
    with _cache.writing(parent / "directory", {"format": 1}) as tmp:
        (tmp / "table.npy").write_bytes(b"new")
    kept = sorted(name for name, (_, keep) in left.items() if keep)
    assert sorted(p.name for p in parent.iterdir()) == sorted([*kept, "directory"])


def test_a_build_killed_with_sigkill_is_cleaned_up(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from stpmap import _cache
        with _cache.writing(Path({str(tmp_path / 'directory')!r}), {{}}) as tmp:
            (tmp / "table.npy").write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(f".directory-{proc.pid}-")
    _age(left, 120)
    with _cache.writing(tmp_path / "directory", {}) as tmp:
        (tmp / "table.npy").write_bytes(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["directory"]


# ------------------------------------------------------------------ umask


@pytest.mark.parametrize("umask, folder_mode, file_mode", [(0o022, 0o755, 0o644), (0o002, 0o775, 0o664)],
                         ids=["umask-022", "umask-002"])
def test_cache_folders_follow_the_umask(tmp_path, umask, folder_mode, file_mode):
    import pandas as pd

    old = os.umask(umask)
    try:
        target = tmp_path / "cache" / "postcodes" / "v2017"
        with _cache.writing(target, {"format": 1}) as tmp:
            np.save(tmp / "assign.npy", np.arange(10))
            pd.DataFrame({"a": [1]}).to_parquet(tmp / "stp.parquet")
    finally:
        os.umask(old)
    for folder in (target, target.parent, target.parent.parent):
        assert folder.stat().st_mode & 0o777 == folder_mode, folder
    files = list(target.iterdir())
    assert {p.name for p in files} == {"assign.npy", "stp.parquet", _cache.MANIFEST, _cache.VERIFIED}
    for p in files:
        assert p.stat().st_mode & 0o777 == file_mode, p


def test_the_manifest_records_every_file(tmp_path):
    target = tmp_path / "v2017"
    with _cache.writing(target, {"format": 1}) as tmp:
        (tmp / "stp.parquet").write_bytes(b"layer")
    files = json.loads((target / _cache.MANIFEST).read_text())["files"]
    assert files == {"stp.parquet": {"bytes": 5, "sha256": _cache._digest(target / "stp.parquet")}}
