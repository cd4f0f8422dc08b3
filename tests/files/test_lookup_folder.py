"""The dask engine (stpmap.files.lookup_folder.lookup_folder) on a local cluster of two
worker processes: the same answers as lookup_many, row for row, every input
column untouched, errors before any work."""

from __future__ import annotations

import random

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from stpmap.files import kernel
from stpmap.files import lookup_folder as _bulk_dask
from stpmap.errors import ChoiceError, InputError
from stpmap.data.registry import attribution

POSTCODES = ["NG1 5DT", "ng15dt", "EH1 1YZ", "CF10 1EP", "ZZ99 3VZ", "", "not a postcode", "LS1 4AP", "SW1A 1AA",
             "B1 1BB", "M1 1AE", "XX1 1XX", "  sk13 8ly ", "BT1 1AA", "NA"]


@pytest.fixture(scope="module")
def lk(atlas_cache):
    from stpmap.postcodes import lookup as _lookup

    _lookup.index(2017)
    return _lookup


@pytest.fixture(scope="module")
def client(lk):
    """Two worker processes; they inherit STPMAP_CACHE from os.environ (set by conftest)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def make_rows(n, seed):
    rnd = random.Random(seed)
    return {
        "id": [f"{seed:02d}{i:05d}" for i in range(n)],
        "pcd": [rnd.choice(POSTCODES) for _ in range(n)],
        "note": [rnd.choice(["", "NA", "007", "a, b", 'say "hi"', "two\nlines"]) for _ in range(n)],
    }


@pytest.fixture
def parquet_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    parts = []
    for k, n in enumerate([700, 1, 1300]):
        rows = make_rows(n, k)
        pq.write_table(pa.table(rows), folder / f"part-{k}.parquet")
        parts.append(pd.DataFrame(rows))
    return folder, pd.concat(parts, ignore_index=True)


@pytest.fixture
def csv_folder(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    parts = []
    for k, n in enumerate([500, 900]):
        rows = make_rows(n, 10 + k)
        pacsv.write_csv(pa.table(rows), folder / f"{k}.csv")
        parts.append(pd.DataFrame(rows))
    (folder / "README.md").write_text("not data")  # other files are ignored
    return folder, pd.concat(parts, ignore_index=True)


def check_output(lk, out, expected: pd.DataFrame, prefix="", vintage=2017, fields=kernel.DEFAULT_FIELDS):
    got = pd.read_parquet(out)
    assert len(got) == len(expected)
    assert list(got.columns) == list(expected.columns) + [prefix + k for k in fields]
    for c in expected.columns:  # untouched, in order
        assert got[c].astype(object).tolist() == expected[c].tolist(), c
    ref = lk.lookup_many(expected["pcd"].tolist(), vintage=vintage)
    ref["message"] = ref["message"].astype(object).where(ref["status"] != "ok", None)  # only where not ok
    for key in fields:
        a, b = got[prefix + key], ref[key]
        if b.dtype.kind == "f":
            pd.testing.assert_series_equal(a.astype("float64"), b.astype("float64"), check_names=False)
        else:
            norm = lambda s: [None if (x is None or x != x) else str(x) for x in s.astype(object).tolist()]  # noqa: E731
            assert norm(a) == norm(b), key
    md = pq.read_schema(sorted(out.glob("*.parquet"))[0]).metadata
    assert md[b"stpmap.attribution"].decode() == attribution(postcodes=True)
    assert md[b"stpmap.vintage"] == str(vintage).encode()
    return got


def test_parquet_folder_on_a_local_cluster(lk, client, parquet_folder, tmp_path):
    folder, expected = parquet_folder
    out = tmp_path / "out"
    s = _bulk_dask.lookup_folder(folder, "PCD", out, prefix="stp_")
    assert s["files"] == 3 and s["rows"] == len(expected) and s["column"] == "pcd"
    assert set(client.scheduler_info()["workers"])  # the cluster is the one in use
    check_output(lk, out, expected, prefix="stp_")
    ref = lk.lookup_many(expected["pcd"].tolist())["status"].value_counts()
    assert s["statuses"] == {st: int(ref.get(st, 0)) for st in lk.STATUSES}
    assert s["statuses"]["pseudo"] > 0 and s["statuses"]["outside_england"] > 0


def test_csv_glob_keeps_text_untouched(lk, client, csv_folder, tmp_path):
    folder, expected = csv_folder
    out = tmp_path / "csv-out"
    s = _bulk_dask.lookup_folder(str(folder / "*.csv"), None, out, prefix="x_", vintage=2021,  # column guessed
                                 fields="all")
    assert s["files"] == 2 and s["vintage"] == 2021 and s["fields"] == list(lk.RESULT_KEYS)
    got = check_output(lk, out, expected, prefix="x_", vintage=2021, fields=lk.RESULT_KEYS)
    assert "007" in set(got["note"]) and "NA" in set(got["pcd"]) and "two\nlines" in set(got["note"])


def test_default_scheduler_without_a_cluster(lk, parquet_folder, tmp_path):
    folder, expected = parquet_folder
    out = tmp_path / "sync"
    _bulk_dask.lookup_folder(folder, "pcd", out, prefix="p_", scheduler="sync")
    check_output(lk, out, expected, prefix="p_")


def test_errors_before_work(lk, parquet_folder, csv_folder, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("the lookup started before the error was found")

    monkeypatch.setattr(lk, "lookup_many", boom)
    monkeypatch.setattr(lk, "index", boom)
    folder, _ = parquet_folder
    with pytest.raises(InputError, match=r"No column 'postcode'.*'id', 'pcd', 'note'"):
        _bulk_dask.lookup_folder(folder, "postcode", tmp_path / "o1")
    with pytest.raises(InputError, match=r"'postcode'.*--prefix"):
        pq.write_table(pa.table({"id": ["1"], "postcode": ["NG1 5DT"]}), tmp_path / "clash.parquet")
        _bulk_dask.lookup_folder(tmp_path / "clash.parquet", "id", tmp_path / "o2", prefix="")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match=r"already exists and is not an empty folder"):
        _bulk_dask.lookup_folder(folder, "pcd", full)
    assert (full / "keep.txt").read_text() == "mine"
    with pytest.raises(InputError, match=r"inside, or holds, the input folder"):
        _bulk_dask.lookup_folder(folder, "pcd", folder / "out")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    pq.write_table(pa.table({"pcd": ["NG1 5DT"]}), mixed / "a.parquet")
    (mixed / "b.csv").write_text("pcd\nNG1 5DT\n")
    with pytest.raises(InputError, match=r"mixes file formats"):
        _bulk_dask.lookup_folder(mixed, "pcd", tmp_path / "o3")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"No Parquet or CSV files"):
        _bulk_dask.lookup_folder(empty, "pcd", tmp_path / "o4")
    with pytest.raises(ChoiceError, match=r"2017, 2018, 2019, 2020, 2021, 2022"):
        _bulk_dask.lookup_folder(folder, "pcd", tmp_path / "o5", vintage=1999)
    pq.write_table(pa.table({"pcd": [1, 2]}), tmp_path / "numbers.parquet")
    with pytest.raises(InputError, match=r"not text"):
        _bulk_dask.lookup_folder(tmp_path / "numbers.parquet", "pcd", tmp_path / "o6")
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 7))


def test_csv_encoding_bom_and_errors(lk, tmp_path):
    folder = tmp_path / "enc"
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"\xef\xbb\xbfPostcode,name\nNG1 5DT,Caf\xc3\xa9\n")  # Excel's CSV UTF-8
    out = tmp_path / "enc-out"
    s = _bulk_dask.lookup_folder(folder, "postcode", out, prefix="s_", scheduler="sync")
    got = pd.read_parquet(out)
    assert s["column"] == "Postcode" and got["name"].tolist() == ["Café"] and got["s_status"].tolist() == ["ok"]
    (folder / "b.csv").write_bytes("Postcode,name\nLS1 4AP,Zoë\n".encode("cp1252"))
    with pytest.raises(InputError, match=r"not UTF-8 text.*--encoding cp1252"):
        _bulk_dask.lookup_folder(folder, "postcode", tmp_path / "enc-out2", prefix="s_", scheduler="sync")
    assert not (tmp_path / "enc-out2").exists()
    assert [p.name for p in tmp_path.iterdir() if "stpmap-tmp" in p.name] == []
