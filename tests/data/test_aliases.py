"""Footprints by the names people use: the alias table and the resolver."""

from __future__ import annotations

import csv
import warnings
from collections import defaultdict

import pytest

import stpmap
from stpmap.data import aliases as A
from stpmap.data.aliases import FootprintNameError, FootprintNameWarning, FootprintVintageError, resolve_footprint
from stpmap.errors import ChoiceError, DataError, InputError


@pytest.fixture(scope="module")
def atlas(atlas_cache):
    return atlas_cache


# ------------------------------------------------------------ the table


def test_every_row_has_a_kind_vintages_and_a_source():
    with open(A.ALIASES_FILE, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(A.aliases()) > 200
    for r in rows:
        assert r["source"].strip(), r
        assert r["kind"] in A.KINDS, r
        assert A.parse_vintages(r["vintages"]), r
    kinds = {r["kind"] for r in rows}
    assert {"ons_name", "icb_name", "nhs_name", "ics_name", "ods_code", "short_name", "abbreviation"} <= kinds
    # each kind cites the kind of source it comes from
    for r in rows:
        if r["kind"] in ("ons_name", "icb_name", "ods_code"):
            assert r["source"].startswith("ONS: "), r
        if r["kind"] == "short_name":
            assert "nhs-icb-2022.hexjson" in r["source"], r


@pytest.mark.parametrize("vintage", [2017, 2021])
def test_every_footprint_of_the_atlas_has_its_ons_name(atlas, vintage):
    t = stpmap.footprints(vintage)
    ons = {a.code: a.alias for a in A.aliases() if a.kind == "ons_name" and vintage in a.vintages}
    assert ons == dict(zip(t["code"], t["name"]))
    assert A.codes(vintage) == sorted(t["code"])


def test_the_42_icbs_of_july_2022_have_a_name_and_an_ods_code():
    icbs = {a.code for a in A.aliases() if a.kind == "icb_name" and 2022 in a.vintages}
    ods = {a.code: a.alias for a in A.aliases() if a.kind == "ods_code" and 2022 in a.vintages}
    assert len(icbs) == 42 and set(ods) == icbs
    assert all(o.startswith("Q") and len(o) == 3 for o in ods.values())


def test_no_alias_names_two_footprints_in_one_vintage():
    seen = defaultdict(set)
    for a in A.aliases():
        for y in a.vintages:
            seen[(y, a.key.replace(" ", ""))].add(a.code)
    clashes = {k: v for k, v in seen.items() if len(v) > 1}
    assert clashes == {}


def test_a_row_without_a_source_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "aliases.csv"
    bad.write_text("code,vintages,kind,alias,source\nE54000021,2017,nhs_name,Cambridge and Peterborough,\n")
    monkeypatch.setattr(A, "ALIASES_FILE", bad)
    A.aliases.cache_clear()
    try:
        with pytest.raises(DataError, match="line 2.*no source"):
            A.aliases()
    finally:
        A.aliases.cache_clear()


def test_vintage_ranges_read_and_written():
    assert A.parse_vintages("2017;2019-2021") == (2017, 2019, 2020, 2021)
    assert A.format_vintages([2021, 2017, 2018]) == "2017-2018;2021"
    with pytest.raises(ValueError):
        A.parse_vintages("2021-2017")


def test_key_ignores_what_kind_of_body_a_name_is():
    k = A.footprint_key
    assert k("NHS Bedfordshire, Luton & Milton Keynes Integrated Care Board") == k("Bedfordshire, Luton and Milton Keynes")
    assert k("Cornwall and the Isles of Scilly Health and Social Care Partnership") == k("Cornwall & Isles of Scilly")
    assert k("Leicester, Leicestershire and Rutland STP") == k("leicester leicestershire rutland")
    assert k("Herts and West Essex ICS") == k("Hertfordshire and West Essex")
    assert k("Mid and South Essex") != k("South Essex")


# ------------------------------------------------------------ resolving


@pytest.mark.parametrize(
    "text, vintage, code, matched_by",
    [
        # the six East of England systems as named in 2016 (Health Education England)
        ("Cambridge and Peterborough", 2017, "E54000021", "nhs_name"),
        ("Bedford, Milton Keynes and Luton", 2017, "E54000024", "nhs_name"),
        ("Nottingham and Nottinghamshire", 2017, "E54000014", "nhs_name"),
        # ONS names of each vintage, whatever their punctuation and filler words
        ("Milton Keynes, Bedfordshire and Luton", 2017, "E54000024", "ons_name"),
        ("Bedfordshire, Luton & Milton Keynes", 2021, "E54000024", "ons_name"),
        ("Leicester Leicestershire & Rutland STP", 2017, "E54000015", "ons_name"),
        ("West Yorkshire and Harrogate Health and Care Partnership", 2021, "E54000054", "ons_name"),
        ("NHS Frimley Integrated Care Board", 2021, "E54000034", "ons_name"),
        ("Herts and West Essex", 2017, "E54000025", "ons_name"),
        # codes: GSS, NHS ODS (Q..), CCG ODS
        ("e54000021", 2017, "E54000021", "code"),
        ("QHG", 2021, "E54000024", "ods_code"),
        ("02M", 2017, "E54000048", "ccg_ods_code"),
        ("X2C4Y", 2021, "E54000054", "ccg_ods_code"),
        # Open Innovations short names, partnership names, abbreviations
        ("BLMK", 2021, "E54000024", "short_name"),
        ("bnssg", 2021, "E54000039", "short_name"),
        ("Together We're Better", 2021, "E54000010", "ics_name"),
        ("LLR", 2017, "E54000015", "abbreviation"),
        ("SY&B", 2017, "E54000009", "abbreviation"),
        ("SYB", 2021, "E54000009", "abbreviation"),
    ],
)
def test_names_from_each_source_and_vintage(atlas, text, vintage, code, matched_by):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FootprintNameWarning)  # exact: no fuzzy warning
        r = resolve_footprint(text, vintage)
    assert (r.code, r.matched_by, r.in_vintage) == (code, matched_by, True)
    assert r.name == A.official_name(code, vintage)


def test_a_name_of_another_vintage_with_the_same_code_resolves_with_a_note():
    r = resolve_footprint("BLMK", 2017)
    assert r.code == "E54000024" and r.in_vintage
    assert r.name == "Milton Keynes, Bedfordshire and Luton"
    assert "2021" in r.note and "same code" in r.note


def test_an_icb_name_of_2022_resolves_with_a_note():
    same = resolve_footprint("NHS North East and North Cumbria ICB", 2021)
    assert (same.code, same.matched_by, same.in_vintage) == ("E54000050", "icb_name", True)
    assert "2022" in same.note and "Cumbria and North East" in same.note
    moved = resolve_footprint("NHS South Yorkshire Integrated Care Board", 2021)
    assert (moved.code, moved.in_vintage) == ("E54000061", False)
    assert "a footprint of 2022" in moved.note
    assert "E54000009" in moved.note and "(100%)" in moved.note  # where its people were in 2021
    with pytest.raises(FootprintVintageError, match="E54000061") as exc:
        A.footprint_code("NHS South Yorkshire Integrated Care Board", 2021)
    assert isinstance(exc.value, InputError) and exc.value.resolution.code == "E54000061"


def test_a_2021_footprint_asked_for_in_2017_names_the_footprints_it_was_then(atlas):
    r = resolve_footprint("Cumbria and North East", 2017)
    # the ONS name of the merged footprint from 2018 (E54000049; renumbered E54000050 in 2020)
    assert r.code in ("E54000049", "E54000050") and not r.in_vintage
    assert {c for c, _n, _s in r.overlaps} == {"E54000045", "E54000046", "E54000047"}
    assert sum(s for _c, _n, s in r.overlaps) == pytest.approx(1, abs=0.01)
    assert "3 footprints" in r.note and "West, North and East Cumbria" in r.note
    with pytest.raises(InputError, match="Northumberland, Tyne and Wear and North Durham"):
        stpmap.footprints(2017, footprint="Cumbria and North East")


def test_a_fuzzy_match_is_used_only_with_a_warning():
    with pytest.warns(FootprintNameWarning, match=r"'Cambridge & Peterboro' to 'Cambridgeshire and Peterborough' \(E54000021\) by a fuzzy match \(score \d+\)"):
        r = resolve_footprint("Cambridge & Peterboro", 2017)
    assert (r.code, r.matched_by) == ("E54000021", "fuzzy") and r.score >= A.FUZZY_THRESHOLD
    with pytest.warns(FootprintNameWarning, match="Staffordshire and Stoke on Trent"):
        assert resolve_footprint("Staffs and Stoke", 2021).code == "E54000010"


@pytest.mark.parametrize("text, vintage", [("London", 2017), ("Essex", 2017), ("Birmingham", 2021)])
def test_an_ambiguous_fuzzy_match_is_refused(text, vintage):
    with pytest.raises(FootprintNameError, match="several footprints") as exc:
        resolve_footprint(text, vintage)
    assert isinstance(exc.value, ChoiceError) and len(exc.value.choices) >= 2
    assert all(not c.startswith("E54") for c in exc.value.choices)


def test_an_unknown_name_suggests_names_not_codes():
    with pytest.raises(FootprintNameError, match="Did you mean 'Cambridgeshire and Peterborough'") as exc:
        resolve_footprint("Peterborough and Norfolk", 2017)
    assert isinstance(exc.value, ChoiceError)
    assert "Cambridgeshire and Peterborough" in exc.value.choices and len(exc.value.choices) <= 3
    assert "E54000005, E54000006" not in str(exc.value)
    with pytest.raises(FootprintNameError, match="No footprint name of 2017 is close"):
        resolve_footprint("Atlantis", 2017)
    with pytest.raises(FootprintNameError, match="not a footprint code of any vintage"):
        resolve_footprint("E54000099", 2017)


# ------------------------------------------------------------ through the API


def test_footprints_by_name_abbreviation_and_ods_code(atlas):
    assert list(stpmap.footprints(2017, footprint="Cambridge and Peterborough")["code"]) == ["E54000021"]
    assert list(stpmap.footprints(2017, footprint="02M")["code"]) == ["E54000048"]
    t = stpmap.footprints(2021, footprint=["BLMK", "QHG", "Cambridgeshire and Peterborough"])
    assert list(t["code"]) == ["E54000021", "E54000024"]
    assert stpmap.resolve_footprint("BLMK", 2021).code == "E54000024"
    with pytest.raises(ChoiceError, match="Did you mean"):
        stpmap.ccgs(2017, footprint="Peterborough and Norfolk")


def test_groups_file_members_by_the_names_people_use(atlas, tmp_path):
    f = tmp_path / "east.toml"
    f.write_text('"Three" = ["BLMK", "Cambridge and Peterborough", "06L"]\n')
    g = stpmap.groups(2017, groups_file=f)
    row = g[g["qualified_name"] == "user:Three"].iloc[0]
    assert row["footprint_codes"] == "E54000024;E54000021;E54000023"
    bad = tmp_path / "bad.toml"
    bad.write_text('"Oops" = ["Peterborough and Norfolk"]\n')
    with pytest.raises(InputError, match="Group 'Oops'.*Did you mean 'Cambridgeshire and Peterborough'"):
        stpmap.groups(2017, groups_file=bad)


def test_a_name_naming_two_footprints_is_not_matched_to_one(atlas_cache):
    """'Sussex and Kent' scores high on Sussex alone (extra words are forgiven
    by the token-set ratio), but Kent names another footprint: it is an error
    listing both, not a silent half-match."""
    with pytest.raises(FootprintNameError) as e:
        resolve_footprint("Sussex and Kent", 2022)
    assert "Sussex" in str(e.value) and "Kent and Medway" in str(e.value)
    with pytest.warns(FootprintNameWarning):
        assert resolve_footprint("Cambrige and Peterboro", 2017).code == "E54000021"
