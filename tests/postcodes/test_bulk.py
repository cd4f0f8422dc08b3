"""The bulk lookup, both ways (NumPy over whole arrays, and the compiled loops), against a
straightforward reference: a regular expression per postcode, then the single lookup.

The inputs are a few thousand of every kind: postcodes of the directory in England,
Scotland, Wales, Northern Ireland... (rebuilt from the index, which stores no text),
with messy spacing and case, pseudo-postcodes, postcodes not in the directory,
non-postcodes, blanks, nulls and non-strings.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from stpmap.postcodes import lookup as _lookup
from stpmap.postcodes import parse as P
from stpmap.postcodes.results import RESULT_KEYS

#: What bulk parsing takes out as white space: the pattern ``[\s\p{Z}]`` of RE2 (see
#: test_white_space_is_that_of_the_arrow_pattern), written out for Python's re.
WHITE = re.compile("[\t\n\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
SHAPE = re.compile(r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR|NPT)[0-9][A-Z]{2}")


def reference(value) -> tuple[str | None, str | None, bool]:
    """The text given (None for a missing value), its canonical postcode (None when not
    one) and whether it is empty, the plain way."""
    if value is None or (isinstance(value, float) and value != value):
        return None, None, True
    text = value if isinstance(value, str) else str(value)
    squeezed = WHITE.sub("", text)
    if not squeezed.isascii():
        return text, None, False
    squeezed = squeezed.upper()  # ASCII only: no "ß" -> "SS"
    if not SHAPE.fullmatch(squeezed):
        return text, None, not squeezed
    return text, f"{squeezed[:-3]} {squeezed[-3:]}", False


@pytest.fixture(scope="module")
def idx(atlas_cache):
    for v in (2017, 2021):
        _lookup.index(v)
    return atlas_cache


def _directory_postcodes(rng: np.random.Generator, per_country: int) -> list[str]:
    """Postcodes of the directory, ``per_country`` of each country code: their text
    rebuilt from the index's keys (outward key -> slot, slot x inward code -> row)."""
    d = _lookup.index(2017).directory
    table = np.asarray(d.table)
    positions = np.flatnonzero(table >= 0)
    rows = table[positions]
    outward_of_slot = np.full(int(np.max(d.out_slot)) + 1, -1, dtype=np.int64)
    out_slot = np.asarray(d.out_slot)
    keys = np.flatnonzero(out_slot >= 0)
    outward_of_slot[out_slot[keys]] = keys
    country = np.asarray(d.country)[rows]
    chosen = np.concatenate([rng.choice(np.flatnonzero(country == c), min(per_country, int((country == c).sum())),
                                        replace=False) for c in np.unique(country)])
    texts = []
    for p in positions[chosen]:
        key, icode = int(outward_of_slot[p // P.INWARD_SPACE]), int(p % P.INWARD_SPACE)
        outward = "".join(P.ALPHABET[(key // 37 ** k) % 37] for k in (3, 2, 1, 0)).strip()
        inward = f"{icode // 676}{chr(65 + icode // 26 % 26)}{chr(65 + icode % 26)}"
        texts.append(f"{outward} {inward}")
    return texts


SPACES = [" ", "  ", "\t", "\n", "\r", "\f", "\v", "\u00a0", "\u2003", "\u3000", "\u200b", "\x85", "\u205f", "\u2028",
          "\u180e", "\x00"]
OTHERS = ["", " ", "\t\n", "NA", "N/A", "not a postcode", "ZZ99 3VZ", "zz993wz", "ZZ99 9ZZ", "zz99 3cz", "GIR 0AA",
          "npt0ad", "ABC 1AA", "ß1 1AA", "ﬀ1 1AA", "Ñg1 5dt", "NG1 5DTX", "ng1-5dt", "é", "💩NG15DT", "=SUM(A1)",
          "NG1 9ZZ", "XX1 1XX", "Q1 1AA", "NG15 5DT", "SW1AA1AA", "1G1 5DT", "NG1 5D1", "N 5DT", 12345, 1.5, True,
          float("nan"), None, "SW1A 1AA" * 3, "  ng1\u00a05dt  ", "NG1 5DT\u200b"]


def _mixed(n: int = 4000, seed: int = 2017) -> list:
    """``n`` inputs of every kind, messy and clean, in random order."""
    rng = random.Random(seed)
    real = _directory_postcodes(np.random.default_rng(seed), 400)
    shaped = [f"{rng.choice('ABNSWEM')}{rng.choice('ABCDEFGHJK')}{rng.randint(1, 99)} "
              f"{rng.randint(0, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
              for _ in range(200)]  # postcode-shaped, mostly not in the directory

    def messy(text: str) -> str:
        out = []
        for ch in text.replace(" ", ""):
            if rng.random() < 0.25:
                out.append(rng.choice(SPACES))
            out.append(ch.lower() if rng.random() < 0.5 else ch)
        return "".join(out) + (rng.choice(SPACES) if rng.random() < 0.3 else "")

    values = []
    for _ in range(n):
        r = rng.random()
        if r < 0.45:
            values.append(rng.choice(real))
        elif r < 0.7:
            values.append(messy(rng.choice(real + shaped)))
        elif r < 0.8:
            values.append(rng.choice(shaped))
        else:
            values.append(rng.choice(OTHERS))
    return values


def _expected(values, vintage: int) -> list[dict]:
    """The record of each input the plain way: the single lookup of its canonical
    postcode, or an invalid record echoing the text given."""
    empty, invalid = _lookup.lookup(None, vintage=vintage), _lookup.lookup("?", vintage=vintage)
    out = []
    for value in values:
        text, canonical, is_empty = reference(value)
        if canonical is not None:
            out.append(_lookup.lookup(canonical, vintage=vintage))
        else:
            out.append({**(empty if is_empty else invalid), "postcode": text})
    return out


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()}
            for rec in df.astype(object).to_dict("records")]


def test_white_space_is_that_of_the_arrow_pattern():
    points = [c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    squeezed = pc.replace_substring_regex(pa.array([chr(c) for c in points]), r"[\s\p{Z}]+", "")
    removed = {chr(points[i]) for i in np.flatnonzero(np.asarray(pc.utf8_length(squeezed)) == 0)}
    assert removed == {chr(c) for c in points if WHITE.fullmatch(chr(c))}


@pytest.mark.parametrize("compiled", [False, True])
def test_parse_agrees_with_the_reference(compiled):
    values = _mixed(3000, seed=1) + OTHERS + SPACES
    parsed = P.parse(values, compiled=compiled)
    got = parsed.postcodes().to_pylist()
    for i, value in enumerate(values):
        text, canonical, is_empty = reference(value)
        assert bool(parsed.valid[i]) == (canonical is not None), repr(value)
        assert bool(parsed.empty[i]) == is_empty, repr(value)
        assert got[i] == (canonical if canonical is not None else text), repr(value)
        if canonical is not None:
            assert (int(parsed.outward_key[i]), int(parsed.inward_code[i])) == P.index_keys(canonical), repr(value)
        else:
            assert parsed.outward_key[i] == 0 and parsed.inward_code[i] == 0


@pytest.mark.parametrize("make", [lambda v: pa.array(v).slice(3), lambda v: pa.chunked_array([v[:7], v[7:]]),
                                  lambda v: pd.Series(v, dtype="category"), lambda v: pd.Series(v, dtype="string"),
                                  np.array])
def test_both_ways_read_every_array_type_alike(make):
    values = [v for v in _mixed(500, seed=2) if v is None or isinstance(v, str)]
    plain, fast = P.parse(make(values)), P.parse(make(values), compiled=True)
    for name in ("valid", "empty", "outward_key", "inward_code"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(fast, name), err_msg=name)
    assert plain.postcodes().equals(fast.postcodes()) and plain.canonical.equals(fast.canonical)


def test_canonical_input_comes_back_as_given_both_ways():
    values = pa.array(["NG1 5DT", "SW1A 1AA", "not one", None])
    assert P.parse(values, compiled=True).postcodes() is values
    assert P.parse(values).postcodes() is values


@pytest.mark.parametrize("compiled_from", [0, 10 ** 9], ids=["compiled", "arrays"])
def test_lookup_many_agrees_with_the_single_lookup(idx, monkeypatch, compiled_from):
    monkeypatch.setattr(_lookup, "COMPILED_FROM", compiled_from)
    values = _mixed()
    for vintage in (2017, 2021):
        df = _lookup.lookup_many(values, vintage=vintage)
        assert list(df.columns) == list(RESULT_KEYS) and df.index.equals(pd.RangeIndex(len(values)))
        expected = _expected(values, vintage)
        for i, (got, want) in enumerate(zip(_records(df), expected)):
            assert got == want, (i, values[i])
        statuses = set(df["status"])
        assert statuses == {"ok", "invalid", "not_found", "outside_england", "pseudo", "no_coordinates"}, statuses


def test_both_ways_give_the_same_frame_and_file_columns(idx, monkeypatch):
    from stpmap.files import kernel

    values = _mixed(3000, seed=3)
    monkeypatch.setattr(_lookup, "COMPILED_FROM", 0)
    fast = _lookup.lookup_many(values, vintage=2017)
    monkeypatch.setattr(_lookup, "COMPILED_FROM", 10 ** 9)
    plain = _lookup.lookup_many(values, vintage=2017)
    pd.testing.assert_frame_equal(fast, plain)
    for key in _lookup.CODED_KEYS:
        assert fast[key].cat.codes.dtype == plain[key].cat.codes.dtype, key
    assert fast.attrs == plain.attrs
    a, b = _lookup.answers(values, 2017, compiled=True), _lookup.answers(values, 2017)
    for x, y in zip(kernel.result_arrays(a), kernel.result_arrays(b)):
        assert x.equals(y) and x.type == y.type


@pytest.mark.parametrize("space", SPACES)
def test_one_postcode_and_millions_read_white_space_alike(idx, space):
    """The single lookup and the bulk paths take out the same white space, so
    one text gets one answer however it is looked up (\\v, \\x85 and the
    separators \\x1c-\\x1f are not white space to either)."""
    texts = [f"ng1{space}5dt", f"{space}SW1A 1AA{space}", f"N{space}G1 5DT"]
    one = [_lookup.lookup(t)["status"] for t in texts]
    assert list(_lookup.lookup_many(texts)["status"].astype(str)) == one
    assert P.compact(texts[0]) == (WHITE.sub("", texts[0])).upper()
