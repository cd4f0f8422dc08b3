"""Downloads from the ONS ArcGIS REST API, against a local fake on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket

import pandas as pd
import pytest
import urllib3.util.retry

from arcgis_fake import FakeArcGIS
from stpmap.data import arcgis as _http
from stpmap import settings as _settings
from stpmap.data import sources as _sources
from stpmap.errors import DataError
from stpmap.data.registry import registry


@pytest.fixture
def arcgis(mirror, monkeypatch):
    with FakeArcGIS(mirror) as fake:
        monkeypatch.setenv("STPMAP_ARCGIS_URL", fake.url)
        monkeypatch.setattr(_settings, "backoff", 0.0)
        monkeypatch.setattr(_settings, "timeout", 5.0)
        yield fake


def ds(role, vintage=2017):
    return registry().dataset(vintage, role)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_table_download_pages_until_the_server_says_stop(arcgis, mirror, tmp_path, monkeypatch):
    monkeypatch.setattr(_settings, "page_size", 50)
    d = ds("ccg_stp_lookup")
    out = _http.download_dataset(d, tmp_path / "lu.csv", progress=False)
    offsets = [int(r["resultOffset"]) for r in arcgis.requests if "resultOffset" in r]
    assert offsets == [0, 50, 100, 150, 200]
    got = _sources.read(d, out)
    want = _sources.read(d, _sources.find_in_mirror(d, mirror))
    pd.testing.assert_frame_equal(got.sort_values("ccg_code").reset_index(drop=True),
                                  want.sort_values("ccg_code").reset_index(drop=True))


def test_boundary_download_is_geojson_with_the_same_shapes(arcgis, mirror, tmp_path):
    d = ds("ccg_boundaries")
    out = _http.download_dataset(d, tmp_path / "ccg.geojson", progress=False)
    got = _sources.read(d, out).sort_values("code").reset_index(drop=True)
    want = _sources.read(d, _sources.find_in_mirror(d, mirror)).sort_values("code").reset_index(drop=True)
    assert list(got["code"]) == list(want["code"])
    assert got.crs.to_epsg() == 27700
    rel = abs(got.area.sum() - want.area.sum()) / want.area.sum()
    assert rel < 1e-4


def test_server_page_cap_smaller_than_requested_is_followed(arcgis, tmp_path, monkeypatch):
    arcgis.max_page = 64  # the server sends fewer than asked, as ArcGIS does
    d = ds("ccg_stp_lookup")
    out = _http.download_dataset(d, tmp_path / "lu.csv", progress=False)
    assert len(pd.read_csv(out)) == 207
    assert [int(r["resultOffset"]) for r in arcgis.requests if "resultOffset" in r] == [0, 64, 128, 192]


def test_transient_failures_are_retried(arcgis, tmp_path):
    arcgis.fail_first = 2
    arcgis.error_body_first = 3  # then one ArcGIS error body with HTTP 200
    out = _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)
    assert len(pd.read_csv(out)) == 207
    assert len(arcgis.requests) >= 4


def test_persistent_failure_gives_up_with_a_clear_error_and_no_file(arcgis, tmp_path, monkeypatch):
    monkeypatch.setattr(_settings, "retries", 2)
    arcgis.fail_first = 10**6
    with pytest.raises(DataError, match=r"gave up after 3 attempts \(HTTP 503\).*--mirror"):
        _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)
    assert len(arcgis.requests) == 3
    assert leftovers(tmp_path) == []


@pytest.fixture
def sleeps(monkeypatch):
    """The waits the retry policy asks for, recorded instead of slept."""
    asked: list[float] = []
    monkeypatch.setattr(urllib3.util.retry.time, "sleep", asked.append)
    return asked


def test_rate_limit_waits_as_long_as_the_server_says(arcgis, tmp_path, sleeps):
    arcgis.fail_status, arcgis.fail_first, arcgis.retry_after = 429, 1, "7"
    out = _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)
    assert len(pd.read_csv(out)) == 207
    assert sleeps == [7]


def test_backoff_grows_from_the_setting(arcgis, tmp_path, monkeypatch, sleeps):
    monkeypatch.setattr(_settings, "backoff", 0.5)
    arcgis.fail_first = 4  # four 503s without Retry-After: retried at once, then after 1, 2 and 4 s
    out = _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)
    assert len(pd.read_csv(out)) == 207
    assert sleeps == [1.0, 2.0, 4.0]


def test_answer_that_is_not_json_is_asked_for_again(arcgis, tmp_path, monkeypatch):
    arcgis.garbage_first = 2
    out = _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)
    assert len(pd.read_csv(out)) == 207
    monkeypatch.setattr(_settings, "retries", 1)
    arcgis.requests.clear()
    arcgis.garbage_first = 10**6
    with pytest.raises(DataError, match=r"gave up after 2 attempts \(the answer was not JSON\)"):
        _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "again.csv", progress=False)
    assert len(arcgis.requests) == 2


def test_arcgis_error_body_is_named_when_it_persists(arcgis, tmp_path, monkeypatch):
    monkeypatch.setattr(_settings, "retries", 1)
    arcgis.error_body_first = 10**6
    with pytest.raises(DataError, match=r"gave up after 2 attempts \(ArcGIS error 500: Error performing query"):
        _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)
    assert len(arcgis.requests) == 2


def test_client_error_is_not_retried(arcgis, tmp_path):
    arcgis.fail_status, arcgis.fail_first = 404, 10**6
    with pytest.raises(DataError, match=r"the server answered HTTP 404 for http://127\.0\.0\.1"):
        _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)
    assert len(arcgis.requests) == 1


def test_refused_connection_is_named(tmp_path, monkeypatch):
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("STPMAP_ARCGIS_URL", f"http://127.0.0.1:{port}/arcgis/rest/services")
    monkeypatch.setattr(_settings, "backoff", 0.0)
    monkeypatch.setattr(_settings, "retries", 1)
    with pytest.raises(DataError, match=r"gave up after 2 attempts \(ConnectionError: .*refused"):
        _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)
    assert leftovers(tmp_path) == []


def test_interrupted_download_leaves_no_file_that_looks_complete(arcgis, tmp_path, monkeypatch):
    monkeypatch.setattr(_settings, "page_size", 50)
    monkeypatch.setattr(_settings, "retries", 1)
    arcgis.fail_after = 3  # count, page 1, page 2, then the server goes down
    with pytest.raises(DataError, match="gave up"):
        _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)
    assert leftovers(tmp_path) == []


def test_short_download_is_refused(arcgis, tmp_path, monkeypatch):
    monkeypatch.setattr(_settings, "page_size", 50)
    arcgis.drop_last_page = True
    with pytest.raises(DataError, match="downloaded 200 features, expected 207"):
        _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)
    assert leftovers(tmp_path) == []


def test_count_differing_from_the_registry_is_refused(arcgis, tmp_path):
    arcgis.count_offset = -1
    with pytest.raises(DataError, match="reports 206 features, the registry expects 207"):
        _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)


def test_timeout_is_applied(arcgis, tmp_path, monkeypatch):
    monkeypatch.setattr(_settings, "timeout", 0.2)
    monkeypatch.setattr(_settings, "retries", 1)
    arcgis.delay = 1.0
    with pytest.raises(DataError, match="ReadTimeout"):
        _http.download_dataset(ds("ccg_stp_lookup"), tmp_path / "lu.csv", progress=False)


def test_fetch_and_build_without_a_mirror_downloads_everything(arcgis, mirror, tmp_path, monkeypatch):
    """The whole 2017 atlas from the (fake) ONS service gives the same numbers."""
    from stpmap.data import atlas as _atlas
    from stpmap.data import build as _build

    monkeypatch.delenv("STPMAP_MIRROR")
    monkeypatch.setenv("STPMAP_CACHE", str(tmp_path))
    # Population is not on the ArcGIS services: the user downloads it by hand.
    pop = ds("population")
    with pytest.raises(DataError, match="not served by the ONS ArcGIS services: download it from https://www.ons.gov.uk"):
        _sources.fetch(2017, progress=False)
    assert arcgis.requests == []  # refused before downloading anything
    dest = _sources.download_path(pop)
    dest.parent.mkdir(parents=True)
    shutil.copy(_sources.find_in_mirror(pop, mirror), dest)

    paths = _sources.fetch(2017, progress=False)
    services = {r["path"].split("/")[-4] for r in arcgis.requests}
    assert services == {d.service for d in registry().for_vintage(2017).values() if d.service}
    assert all(str(p).startswith(str(tmp_path)) for p in paths.values())
    n = len(arcgis.requests)
    _sources.fetch(2017, progress=False)
    assert len(arcgis.requests) == n  # cached: nothing downloaded twice

    _build.build(2017, progress=False)
    stp = _atlas.layer("stp", 2017)
    assert len(stp) == 44
    assert stp["population"].sum() == 55_619_430
