"""Word and PowerPoint reports: opened again with python-docx and
python-pptx, their pictures, alternative text, tables and notes checked."""

from __future__ import annotations

import re

import pytest

NUMBER = re.compile(r"^\d{1,3}(,\d{3})*$")


@pytest.fixture(scope="module")
def east_docx(atlas_cache, cli, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "east.docx"
    out = cli("report", "--group", "East of England", "--colour-by", "population", "-o", str(path), "--dpi", "80")
    assert "Wrote" in out.output
    return path


@pytest.fixture(scope="module")
def two_pptx(atlas_cache, cli, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "two.pptx"
    cli("report", "-f", "E54000021", "-f", "E54000022", "--colour-by", "population", "--per-footprint",
        "-o", str(path), "--dpi", "80")
    return path


def test_docx_has_map_with_alt_text_sized_to_the_page(east_docx):
    import docx

    doc = docx.Document(str(east_docx))
    pictures = doc.inline_shapes
    assert len(pictures) == 1
    assert abs(pictures[0].width.cm - 16.0) < 0.01 and pictures[0].height.cm <= 22.01
    descr = pictures[0]._inline.docPr.get("descr")
    assert "East of England" in descr and "April 2017" in descr and "population" in descr


def test_docx_table_one_row_per_area_with_readable_numbers(east_docx):
    import docx

    doc = docx.Document(str(east_docx))
    (table,) = doc.tables
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert rows[0] == ["Name", "Code", "Population (people)"]
    assert len(rows) == 1 + 6
    assert {r[1] for r in rows[1:]} == {f"E5400002{i}" for i in range(1, 7)}
    values = [r[2] for r in rows[1:]]
    assert all(NUMBER.match(v) for v in values)
    ints = [int(v.replace(",", "")) for v in values]
    assert ints == sorted(ints, reverse=True) and ints[0] > 1_000_000
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "ONS mid-2017" in text  # the year of the figures
    assert "Open Government Licence" in text and "Crown copyright" in text
    assert "April 2017" in text


def test_pptx_slides_pictures_alt_text_and_tables(two_pptx):
    import pptx
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    prs = pptx.Presentation(str(two_pptx))
    assert round(prs.slide_width.inches, 2) == 13.33 and prs.slide_height.inches == 7.5
    pictures, tables, texts = [], [], []
    for slide in prs.slides:
        for sh in slide.shapes:
            if sh.shape_type == MSO_SHAPE_TYPE.PICTURE:
                pictures.append(sh)
                assert sh.left + sh.width <= prs.slide_width and sh.top + sh.height <= prs.slide_height
            elif sh.has_table:
                tables.append(sh.table)
            elif sh.has_text_frame:
                texts.append(sh.text_frame.text)
    assert len(pictures) == 3  # the two footprints together, then each
    for pic in pictures:
        descr = pic._element.nvPicPr.cNvPr.get("descr")
        assert descr.startswith("Map of ") and "April 2017" in descr
    assert "Cambridgeshire and Peterborough" in pictures[1]._element.nvPicPr.cNvPr.get("descr")
    first = tables[0]
    assert [c.text for c in first.rows[0].cells] == ["Name", "Code", "Population (people)"]
    assert len(first.rows) == 3 and all(NUMBER.match(first.cell(i, 2).text) for i in (1, 2))
    ccg_names = [first_cell.text for t in tables[1:] for first_cell in [t.cell(i, 0) for i in range(1, len(t.rows))]]
    assert any("CCG" in n for n in ccg_names)  # each footprint's CCGs are named
    assert any(t.cell(0, 0).text == "Name" and len(t.rows) > 3 for t in tables[1:])
    assert any("Open Government Licence" in t for t in texts)


def test_report_rejects_unknown_suffix(atlas_cache, cli, tmp_path):
    out = cli("report", "--group", "London", "-o", str(tmp_path / "x.odt"), code=2)
    assert "docx" in out.stderr and "pptx" in out.stderr
    assert not (tmp_path / "x.odt").exists()


def test_public_api_report(atlas_cache, tmp_path):
    import docx

    import stpmap

    path = stpmap.report(tmp_path / "london.docx", group="London", dpi=60)
    doc = docx.Document(str(path))
    assert len(doc.tables[0].rows) == 1 + 5
    assert "London" in doc.inline_shapes[0]._inline.docPr.get("descr")
