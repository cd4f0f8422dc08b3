"""Canonical postcode text: property-based (hypothesis), scalar and bulk agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from stpmap.postcodes import parse as P

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
letter, digit = st.sampled_from(LETTERS), st.sampled_from(DIGITS)

outward = st.one_of(
    st.tuples(letter, digit).map("".join),                                             # A9
    st.tuples(letter, digit, digit).map("".join),                                      # A99
    st.tuples(letter, digit, letter).map("".join),                                     # A9A
    st.tuples(letter, letter, digit).map("".join),                                     # AA9
    st.tuples(letter, letter, digit, digit).map("".join),                              # AA99
    st.tuples(letter, letter, digit, letter).map("".join),                             # AA9A
)
inward = st.tuples(digit, letter, letter).map("".join)
postcode = st.tuples(outward, inward).map(" ".join)
space = st.sampled_from(["", " ", "  ", "\t", "\u00a0", "\n"])


@st.composite
def messy(draw):
    """A valid postcode in random case with random white space, and its standard form."""
    pc = draw(postcode)
    chars = []
    for ch in pc.replace(" ", ""):
        chars.append(draw(space) if draw(st.booleans()) else "")
        chars.append(ch.lower() if draw(st.booleans()) else ch)
    chars.append(draw(space))
    return "".join(chars), pc


@given(messy())
def test_any_case_and_spacing_gives_the_standard_form(case):
    text, pc = case
    assert P.canonical_postcode(text) == pc
    parsed = P.parse([text])
    assert parsed.valid.tolist() == [True]
    assert parsed.postcodes().to_pylist() == [pc]


@given(postcode)
def test_standard_form_is_a_fixed_point_with_one_space(pc):
    assert P.canonical_postcode(pc) == pc
    assert P.canonical_postcode(P.canonical_postcode(pc.lower())) == pc
    assert pc.count(" ") == 1 and len(pc.split(" ")[1]) == 3


@settings(max_examples=300)
@given(st.lists(st.one_of(st.text(max_size=10), st.text(alphabet=LETTERS + DIGITS + " ab", max_size=9), postcode,
                          st.none()), max_size=30))
def test_bulk_agrees_with_one_at_a_time_on_any_text(values):
    parsed = P.parse(values)
    assert len(parsed) == len(values)
    got = parsed.postcodes().to_pylist()
    for v, ok, out, okey, icode in zip(values, parsed.valid, got, parsed.outward_key, parsed.inward_code):
        expected = P.canonical_postcode(v)
        assert bool(ok) == (expected is not None), v
        if ok:
            assert out == expected
            assert (int(okey), int(icode)) == P.index_keys(expected)
        else:
            assert out == v  # the input comes back as given


@given(postcode, postcode)
def test_keys_are_unique_and_ordered_like_the_padded_text(a, b):
    ka, kb = P.index_keys(a), P.index_keys(b)
    assert (ka == kb) == (a == b)
    pad = lambda pc: pc.split(" ")[0].ljust(4) + pc.split(" ")[1]  # noqa: E731
    assert (ka < kb) == (pad(a) < pad(b))


@pytest.mark.parametrize("text", ["", "   ", "NG1", "NG1 5D", "NG1 5DTT", "1G1 5DT", "NGG1 5DT", "NG1 DT5", "N 5DT",
                                  "ÑG1 5DT", "NG1-5DT", "NG1 5D1", "SW1AA 1AA"])
def test_not_postcode_shapes(text):
    assert P.canonical_postcode(text) is None
    assert P.parse([text]).valid.tolist() == [False]


def test_historical_three_letter_outward_codes():
    assert P.canonical_postcode("gir0aa") == "GIR 0AA"
    assert P.canonical_postcode("npt 0ad") == "NPT 0AD"
    assert P.canonical_postcode("ABC 1AA") is None


def test_empty_and_missing_are_flagged_empty():
    parsed = P.parse(["", "  ", None, np.nan, "x", "NG1 5DT"])
    assert parsed.empty.tolist() == [True, True, True, True, False, False]
    assert parsed.postcodes().to_pylist()[:3] == ["", "  ", None]


@pytest.mark.parametrize("make", [list, np.array, pd.Series, lambda v: pd.Series(v, dtype="category"),
                                  lambda v: pa.array(v), lambda v: pa.chunked_array([v[:2], v[2:]])])
def test_every_array_type(make):
    values = ["ng1 5dt", "SW1A1AA", "bad", "b1 1aa"]
    parsed = P.parse(make(values))
    assert parsed.postcodes().to_pylist() == ["NG1 5DT", "SW1A 1AA", "bad", "B1 1AA"]


def test_numbers_and_objects_are_read_as_text():
    parsed = P.parse([12345, 1.5, "NG1 5DT", None])
    assert parsed.valid.tolist() == [False, False, True, False]
    assert parsed.postcodes().to_pylist() == ["12345", "1.5", "NG1 5DT", None]


def test_pseudo_postcodes_have_meanings():
    assert P.pseudo_meaning("ZZ99 3VZ") == "no fixed abode"
    assert P.pseudo_meaning("ZZ99 3WZ") == "address not known"
    assert "no geographic location" in P.pseudo_meaning("ZZ99 9ZZ")


TRICKY = ["B1  1BB", "b11bb", " NG1 5DT", "NG1 5DT ", "  ng15dt", "SW1A  1AA", "sw1a1aa", "EC1A 1BB", "W1A 0AX",
          "GIR 0AA", "gir0aa", "npt 0ad", "ABC 1AA", "abc1aa", "NG1 5DTX", "NG1  5DT  ", "A1    1AA", "AB1C 1AA",
          "ng 15dt", "N G15DT", "ÑG1 5DT", "\u00a0NG1 5DT", "NG1\t5DT", "12345678", "        ", "zz993vz", "Z", "",
          None, "NG1 5D1", "1G1 5DT", "N 5DT", "SW1AA1AA", "CR2 6XH", "DN551PT", "M1 1AE", "m1  1ae"]


def test_bulk_reads_every_spacing_and_case_as_one_at_a_time():
    parsed = P.parse(TRICKY)
    got = parsed.postcodes().to_pylist()
    for text, ok, out, okey, icode in zip(TRICKY, parsed.valid, got, parsed.outward_key, parsed.inward_code):
        expected = P.canonical_postcode(text)
        assert bool(ok) == (expected is not None), text
        assert out == (expected if ok else text), text
        if ok:
            assert (int(okey), int(icode)) == P.index_keys(expected), text
    assert parsed.canonical.to_pylist()[:3] == ["B1 1BB", "B1 1BB", "NG1 5DT"]  # null where not a postcode
    assert parsed.canonical.to_pylist()[14] is None


def test_canonical_input_comes_back_as_given():
    values = pa.array(["NG1 5DT", "SW1A 1AA", "not one", None])
    assert P.parse(values).postcodes() is values  # nothing to respell: no copy
    assert P.parse(pa.array(["ng1 5dt", "NG1 5DT"])).postcodes().to_pylist() == ["NG1 5DT", "NG1 5DT"]
