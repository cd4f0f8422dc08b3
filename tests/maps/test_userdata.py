"""Joining the user's CSV/XLSX figures to footprints, CCGs and districts."""

from __future__ import annotations

import pandas as pd
import pytest

from stpmap.data import atlas as _atlas
from stpmap.errors import ChoiceError, InputError
from stpmap.files.read import read_table
from stpmap.maps.userdata import join


@pytest.fixture(scope="module")
def stp(atlas_cache):
    return _atlas.table("stp", 2017)


@pytest.fixture(scope="module")
def ccg(atlas_cache):
    return _atlas.table("ccg", 2017)


# ------------------------------------------------------------------ reading


def test_reads_csv_with_comment_lines_and_cp1252(tmp_path):
    p = tmp_path / "data.csv"
    p.write_bytes("# made by stpmap\n# Source: ONS\ncode,name,value\nE54000005,Café & co,1\n".encode("cp1252"))
    with pytest.raises(InputError, match=r"not valid utf-8.*--encoding cp1252"):  # UTF-8 unless told otherwise
        read_table(p)
    df = read_table(p, encoding="cp1252")
    assert list(df.columns) == ["code", "name", "value"]
    assert df.loc[0, "name"] == "Café & co"
    assert df.loc[0, "code"] == "E54000005"  # kept as text


def test_reads_xlsx(tmp_path):
    p = tmp_path / "data.xlsx"
    pd.DataFrame({"STP17CD": ["E54000005"], "beds": [12]}).to_excel(p, index=False)
    df = read_table(p)
    assert df.loc[0, "STP17CD"] == "E54000005" and df.loc[0, "beds"] == "12"


def test_missing_and_unreadable_files_say_what_to_do(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    bad = tmp_path / "data.json"
    bad.write_text("{}")
    with pytest.raises(InputError, match="CSV or XLSX"):
        read_table(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("code,value\n")
    with pytest.raises(InputError, match="no rows"):
        read_table(empty)


# ------------------------------------------------------------------ joining


@pytest.mark.parametrize("header", ["STP17CD", "stp17cd", "STP21CD", "stp_code", "ICB22CD", "Footprint code"])
def test_footprint_code_under_any_vintage_field_name(stp, header):
    df = pd.DataFrame({header: list(stp["code"]), "beds": range(len(stp))})
    j = join(df, 2017)
    assert j.level == "stp" and j.join_column == header
    assert j.values[stp["code"][3]] == 3
    assert not j.unmatched and not j.messages


def test_footprint_names_are_normalised(stp):
    shouty = [n.upper().replace(" and ", " & ").replace(",", "") for n in stp["name"]]
    df = pd.DataFrame({"Area": shouty, "rate": [str(i / 10) for i in range(len(stp))]})
    j = join(df, 2017)
    assert j.matched_by == "footprint name"
    assert len(j.values) == len(stp)
    mk = stp.loc[stp["name"] == "Milton Keynes, Bedfordshire and Luton", "code"].item()
    assert j.values[mk] == pytest.approx(stp.index[stp["code"] == mk][0] / 10)


def test_unmatched_rows_are_reported_by_value_not_dropped_silently(stp):
    df = pd.DataFrame({"stp17cd": [*stp["code"][:5], "E54999999", "Atlantis"], "v": [1, 2, 3, 4, 5, 6, 7]})
    j = join(df, 2017)
    assert j.unmatched == ["E54999999", "Atlantis"]
    assert len(j.values) == 5
    msg = " ".join(j.messages)
    assert "'E54999999'" in msg and "'Atlantis'" in msg and "2 of 7 rows" in msg


def test_ccg_gss_ods_and_names_with_aggregation(ccg):
    sub = ccg[ccg["stp_code"] == "E54000005"]  # West Yorkshire: 11 CCGs
    values = {c: float(i + 1) for i, c in enumerate(sub["code"])}
    pops = dict(zip(sub["code"], sub["population"]))
    expect_sum = sum(values.values())
    expect_mean = sum(values[c] * pops[c] for c in values) / sum(pops.values())
    by_gss = pd.DataFrame({"CCG17CD": list(values), "x": list(values.values())})
    by_ods = pd.DataFrame({"CCG17CDH": list(sub["ods_code"]), "x": list(values.values())})
    by_name = pd.DataFrame({"CCG name": [n.replace("NHS ", "").replace(" CCG", "").replace(" and ", " & ").lower()
                                         for n in sub["name"]], "x": list(values.values())})
    for df, how in ((by_gss, "CCG GSS code"), (by_ods, "CCG ODS code"), (by_name, "CCG name")):
        j = join(df, 2017, aggregate="sum")
        assert j.matched_by == how
        assert j.values["E54000005"] == pytest.approx(expect_sum)
        # other footprints have no CCG values at all: reported, not invented
        assert "E54000007" not in j.values.index
        assert len(j.incomplete) == 43
        jm = join(df, 2017, aggregate="mean")
        assert jm.values["E54000005"] == pytest.approx(expect_mean)
    # CCGs mapped as CCGs need no aggregation
    jc = join(by_ods, 2017, layer="ccg")
    assert jc.values.to_dict() == values


def test_ccg_data_on_footprints_needs_an_aggregate(ccg):
    df = pd.DataFrame({"ccg_code": list(ccg["code"]), "x": range(len(ccg))})
    with pytest.raises(InputError, match="--aggregate sum .* --aggregate mean"):
        join(df, 2017)
    with pytest.raises(ChoiceError, match="Valid choices: sum, mean"):
        join(df, 2017, aggregate="median")


def test_full_ccg_sum_adds_up_to_england(ccg):
    df = pd.DataFrame({"ccg": list(ccg["code"]), "people": list(ccg["population"])})
    j = join(df, 2017, join_on="CCG", value="PEOPLE", aggregate="sum")  # column names any case
    stp = _atlas.table("stp", 2017).set_index("code")["population"]
    assert j.values.sum() == pytest.approx(55_619_430)
    assert (j.values.sort_index() == stp.sort_index().astype(float)).all()


def test_district_values_are_shared_out_by_population(atlas_cache):
    lad = _atlas.table("lad", 2017)
    df = pd.DataFrame({"LAD17CD": list(lad["code"]), "n": [1000.0] * len(lad)})
    j = join(df, 2017, aggregate="sum")
    assert j.level == "lad"
    assert j.values.sum() == pytest.approx(1000.0 * len(lad))  # nothing lost or doubled


def test_duplicates_conflicting_is_an_error_identical_is_fine(stp):
    codes = list(stp["code"][:3])
    same = pd.DataFrame({"code": codes + codes[:1], "v": [1, 2, 3, 1]})
    assert join(same, 2017).values[codes[0]] == 1
    clash = pd.DataFrame({"code": codes + codes[:1], "v": [1, 2, 3, 9]})
    with pytest.raises(InputError, match="more than once"):
        join(clash, 2017)


def test_non_numeric_values_are_listed(stp):
    df = pd.DataFrame({"code": list(stp["code"][:4]), "v": ["1,200", "£3", "n/a", "7%"]})
    j = join(df, 2017, value="v")
    assert j.values.to_dict() == {stp["code"][0]: 1200.0, stp["code"][1]: 3.0, stp["code"][3]: 7.0}
    assert j.non_numeric == [(stp["code"][2], "n/a")]
    assert "not numbers" in " ".join(j.messages)


def test_categories_are_kept_as_text(stp):
    df = pd.DataFrame({"STP name": list(stp["name"]), "Rating": ["Good", "<script>x</script>"] * 22})
    j = join(df, 2017)
    assert not j.numeric and j.value_column == "Rating"
    assert j.values[stp["code"][1]] == "<script>x</script>"


def test_bad_columns_list_the_choices(stp):
    df = pd.DataFrame({"code": list(stp["code"]), "a": 1, "b": 2})
    with pytest.raises(ChoiceError, match="Unknown join column 'nope'.*Valid choices: code, a, b"):
        join(df, 2017, join_on="nope")
    with pytest.raises(InputError, match="several numeric columns.*--value"):
        join(df, 2017)
    nothing = pd.DataFrame({"x": ["foo", "bar"], "v": [1, 2]})
    with pytest.raises(InputError, match="Cannot tell which column|No value of column"):
        join(nothing, 2017)


def test_input_frame_is_not_changed(stp):
    df = pd.DataFrame({"code": list(reversed(stp["code"])), "v": range(44)})
    before = df.copy()
    join(df, 2017)
    pd.testing.assert_frame_equal(df, before)


def test_footprint_data_cannot_be_spread_over_ccgs(stp):
    df = pd.DataFrame({"code": list(stp["code"]), "v": range(44)})
    with pytest.raises(InputError, match="--layer stp"):
        join(df, 2017, layer="ccg")


def test_2021_ods_codes(atlas_cache):
    s21 = _atlas.table("stp", 2021)
    df = pd.DataFrame({"ICB code": list(s21["ods_code"]), "v": range(len(s21))})
    j = join(df, 2021, join_on="icb code")
    assert j.matched_by == "footprint ODS code" and len(j.values) == 42


# ------------------------------------------------------------------ encodings


@pytest.fixture
def cp1252_ratings(stp, tmp_path):
    """A CSV saved by Excel on Windows: cp1252, with a name that is not ASCII."""
    path = tmp_path / "ratings.csv"
    rows = "".join(f"{c},{'Café' if i % 2 else 'Good'}\n" for i, c in enumerate(stp["code"]))
    path.write_bytes(("STP17CD,Rating\n" + rows).encode("cp1252"))
    return path


def test_data_encoding_reads_a_cp1252_file(cp1252_ratings, tmp_path, cli):
    out = tmp_path / "ratings.html"
    cli("map", "--data", str(cp1252_ratings), "--data-encoding", "cp1252", "--format", "html", "-o", str(out))
    text = out.read_text(encoding="utf-8")
    assert "Café" in text and "Caf\ufffd" not in text and "CafÃ©" not in text


def test_a_cp1252_file_is_refused_by_default_naming_data_encoding(cp1252_ratings, tmp_path, cli):
    result = cli("map", "--data", str(cp1252_ratings), "--format", "html", "-o", str(tmp_path / "r.html"), code=2)
    assert "--data-encoding" in result.output
    assert not (tmp_path / "r.html").exists()
