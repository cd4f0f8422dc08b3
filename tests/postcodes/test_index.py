"""The postcode index in the cache: reasons recorded by name, and what is kept in memory."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

from stpmap import _cache
from stpmap.postcodes import index as _pcindex
from stpmap.postcodes import lookup as _lookup
from stpmap.postcodes import results as _results

# one of each reason that does not come from the index, and some that do
SAMPLE = ["NG1 5DT", "SK13 8LY", "EH1 1YZ", "CF10 1EP", "BT1 1AA", "GY1 1AA", "IM1 1AA", "JE2 3AA", "", None,
          "not a postcode", "NG1 9ZZ", "ZZ99 3VZ", "ZZ99 3WZ", "ZZ99 9ZZ"]


@pytest.fixture(scope="module")
def idx(atlas_cache):
    _lookup.index(2017)
    return atlas_cache


def _reason_names(placements) -> list[str]:
    return [placements.reasons[r].name for r in placements.combo_reason]


def _as_objects(df):
    return df.astype(object).where(df.notna(), None)


def test_the_manifest_records_reason_names_in_a_fixed_order(idx):
    meta = json.loads((_pcindex._vintage_folder(2017) / _cache.MANIFEST).read_text())
    assert meta["reasons"] == sorted(r.name for r in _results.DECLARED)
    assert max(meta["combos"]["reason"]) < len(meta["reasons"])
    names = set(_reason_names(_lookup.index(2017)))
    assert {"ok.lad", "ok.point_in_polygon", "ok.nearest", "no_coordinates", "outside_england.scotland"} <= names


def test_a_reordered_reason_list_reads_the_cache_the_same(idx, monkeypatch):
    before = _lookup.index(2017)
    names_before = _reason_names(before)
    one_before = [_lookup.lookup(pc, vintage=2017) for pc in SAMPLE]
    many_before = _lookup.lookup_many(SAMPLE, vintage=2017)
    manifest = (_pcindex._vintage_folder(2017) / _cache.MANIFEST).read_text()
    reordered = _results.Reasons(reversed(_results.DECLARED))
    assert [reordered.lad, reordered.empty, reordered.not_found] != [_results.REASONS.lad, _results.REASONS.empty,
                                                                     _results.REASONS.not_found]
    try:
        with monkeypatch.context() as patch:
            patch.setattr(_results, "REASONS", reordered)
            _pcindex.clear_memo()
            after = _lookup.index(2017)
            assert after.reasons is reordered and after is not before
            # read from the cache as it was (not rebuilt), and every placement means the same
            assert (_pcindex._vintage_folder(2017) / _cache.MANIFEST).read_text() == manifest
            assert not np.array_equal(after.combo_reason, before.combo_reason)
            assert _reason_names(after) == names_before
            assert [_lookup.lookup(pc, vintage=2017) for pc in SAMPLE] == one_before
            many_after = _lookup.lookup_many(SAMPLE, vintage=2017)
            assert _as_objects(many_after).equals(_as_objects(many_before))
    finally:
        _pcindex.clear_memo()
    assert _lookup.index(2017).reasons is _results.REASONS


def test_other_reason_names_make_the_cache_stale(idx, tmp_path):
    folder = _pcindex._vintage_folder(2017)
    directory = _pcindex.directory()
    reordered = _results.Reasons(reversed(_results.DECLARED))
    assert _cache.is_current(folder, _pcindex._vintage_expected(2017, directory, reordered))
    more = _results.Reasons([*_results.DECLARED, _results.Reason("not_found.terminated", "not_found", None, "Gone.")])
    assert not _cache.is_current(folder, _pcindex._vintage_expected(2017, directory, more))
    # a cache that names a reason this list lacks
    meta = json.loads((folder / _cache.MANIFEST).read_text())
    meta["reasons"] = sorted(["ok.closest" if n == "ok.nearest" else n for n in meta["reasons"]])
    (tmp_path / _cache.MANIFEST).write_text(json.dumps(meta))
    assert not _cache.is_current(tmp_path, _pcindex._vintage_expected(2017, directory, _results.REASONS))


def test_reason_names_are_unique_and_complete():
    assert len({r.name for r in _results.DECLARED}) == len(_results.DECLARED)
    with pytest.raises(ValueError, match="same name"):
        _results.Reasons([*_results.DECLARED, _results.DECLARED[0]])
    reasons = _results.REASONS
    assert {reasons[i].status for i in range(len(reasons))} == set(_results.STATUSES)
    assert {reasons[i].method for i in range(len(reasons))} - {None} == set(_results.METHODS)
    assert reasons[reasons.pseudo["ZZ99 3VZ"]].message.startswith("ZZ99 3VZ is an NHS pseudo-postcode")


# ---------------------------------------------------------------- kept in memory


def test_a_loaded_index_is_kept_until_its_cache_is_rebuilt(idx):
    first = _pcindex.vintage_index(2017)
    assert _pcindex.vintage_index(2017) is first and _pcindex.directory() is first.directory
    # a new manifest file (as every build writes) is a rebuilt cache: loaded again, without clear_memo
    manifest = _pcindex._vintage_folder(2017) / _cache.MANIFEST
    fresh = manifest.with_name("manifest.new")
    fresh.write_text(manifest.read_text())
    os.replace(fresh, manifest)
    again = _pcindex.vintage_index(2017)
    assert again is not first and again.meta == first.meta
    assert _pcindex.vintage_index(2017) is again
    # so is a rebuilt directory, for the index that uses it
    manifest = _cache.postcodes_folder("directory") / _cache.MANIFEST
    fresh = manifest.with_name("manifest.new")
    fresh.write_text(manifest.read_text())
    os.replace(fresh, manifest)
    third = _pcindex.vintage_index(2017)
    assert third is not again and third.directory is not again.directory
    assert third.directory is _pcindex.directory()


def test_another_cache_folder_is_not_answered_from_memory(idx, tmp_path, monkeypatch):
    first = _pcindex.vintage_index(2017)
    answer = _lookup.lookup("NG1 5DT", vintage=2017)
    # the same files seen through another cache folder
    (tmp_path / "postcodes").mkdir()
    (tmp_path / "atlas").symlink_to(idx / "atlas")
    for name in ("directory", "v2017"):
        (tmp_path / "postcodes" / name).symlink_to(idx / "postcodes" / name)
    monkeypatch.setenv("STPMAP_CACHE", str(tmp_path))
    other = _pcindex.vintage_index(2017)
    assert other is not first and other.directory is not first.directory
    assert other.directory is _pcindex.directory()
    assert (tmp_path / "postcodes" / "v2017").is_symlink()  # loaded, not rebuilt
    assert _lookup.lookup("NG1 5DT", vintage=2017) == answer
    monkeypatch.undo()
    assert _pcindex.vintage_index(2017) is first


def test_loading_from_threads_at_once(idx):
    _pcindex.clear_memo()
    manifest = (_pcindex._vintage_folder(2017) / _cache.MANIFEST).read_text()
    expected = _lookup.lookup("SK13 8LY", vintage=2017)
    _pcindex.clear_memo()
    answers, errors = [], []

    def ask():
        try:
            answers.append(_lookup.lookup("SK13 8LY", vintage=2017))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and answers == [expected] * 6
    assert (_pcindex._vintage_folder(2017) / _cache.MANIFEST).read_text() == manifest  # loaded, not rebuilt
