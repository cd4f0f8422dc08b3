"""What a lookup answers, as declared: the keys and the types of the result columns."""

from __future__ import annotations

import pyarrow as pa

from stpmap.postcodes import lookup as _lookup
from stpmap.postcodes import results as _results


def test_the_lookup_keeps_the_declared_names():
    assert _lookup.RESULT_KEYS is _results.RESULT_KEYS
    assert _lookup.STATUSES is _results.STATUSES and _lookup.METHODS is _results.METHODS
    assert set(_results.RESULT_TYPES.values()) == {"string", "float"}


def test_result_schema_is_declared_with_a_prefix():
    schema = _results.result_schema("stp_")
    assert schema.names == [f"stp_{k}" for k in _results.RESULT_KEYS]
    assert schema.field("stp_latitude").type == pa.float64() and schema.field("stp_ccg_code").type == pa.string()


def test_the_declared_types_are_what_lookups_give(atlas_cache):
    df = _lookup.lookup_many(["NG1 5DT", "EH1 1YZ", "bad", None], vintage=2017)
    assert list(df.columns) == list(_results.RESULT_KEYS)
    for name, kind in _results.RESULT_TYPES.items():
        assert (df[name].dtype.kind == "f") == (kind == "float"), name
    rec = _lookup.lookup("NG1 5DT", vintage=2017)
    assert all(isinstance(rec[k], float if kind == "float" else str) for k, kind in _results.RESULT_TYPES.items()
               if rec[k] is not None)
    for field in _results.result_schema():  # each column is of its declared arrow type, text or float64
        arr = pa.Array.from_pandas(df[field.name])
        arr = arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr
        assert arr.type == field.type or (pa.types.is_large_string(arr.type) and field.type == pa.string()), field


def test_file_writers_get_the_declared_types():
    import pyarrow as pa

    from stpmap.files import kernel

    arrow = {"string": pa.string(), "float": pa.float64()}
    assert kernel.RESULT_TYPES == {name: arrow[kind] for name, kind in _results.RESULT_TYPES.items()}
