"""Word reports (python-docx): an A4 document with a title, the map as a
picture 16 cm wide (A4's text width) with its alternative text, the table
of its figures, and the source, attribution and vintage; a section a
footprint with ``per_footprint``."""

from __future__ import annotations

import io
from pathlib import Path

TEXT_WIDTH_CM = 16.0  # A4 (21 cm) less 2.5 cm margins
FONT = "Arial"


def _plain_styles(doc) -> None:
    from docx.shared import Pt, RGBColor

    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(11)
    for name, size in (("Title", 22), ("Heading 1", 16), ("Heading 2", 13), ("Caption", 9)):
        st = doc.styles[name]
        st.font.name = FONT
        st.font.size = Pt(size)
        st.font.color.rgb = RGBColor(0x00, 0x30, 0x87) if name != "Caption" else RGBColor(0x42, 0x55, 0x63)


def _a4(doc) -> None:
    from docx.shared import Cm

    for s in doc.sections:
        s.page_width, s.page_height = Cm(21.0), Cm(29.7)
        s.left_margin = s.right_margin = Cm(2.5)
        s.top_margin = s.bottom_margin = Cm(2.0)


def add_picture(doc, png: bytes, alt_text: str, width_in: float, height_in: float, max_height_cm: float = 22.0):
    """The map as a picture at most the text's width, with ``alt_text`` as
    its description (the docPr ``descr`` screen readers read)."""
    from docx.shared import Cm, Inches

    width = Cm(TEXT_WIDTH_CM)
    if height_in / width_in * TEXT_WIDTH_CM > max_height_cm:  # a tall map keeps to the page
        width = Inches(width_in * Cm(max_height_cm) / Inches(height_in))
    shape = doc.add_picture(io.BytesIO(png), width=width)
    doc_pr = shape._inline.docPr
    doc_pr.set("descr", alt_text)
    doc_pr.set("title", alt_text.split(",")[0])
    return shape


def add_table(doc, table) -> None:
    """A plain table: bold header repeated on each page, numbers right-aligned."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    if table.title:
        doc.add_heading(table.title, level=2)
    t = doc.add_table(rows=1, cols=len(table.header))
    t.style = doc.styles["Table Grid"]
    t.alignment = WD_TABLE_ALIGNMENT.LEFT
    head_row = t.rows[0]
    tr_pr = head_row._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    tr_pr.append(repeat)
    for i, text in enumerate(table.header):
        _cell(head_row.cells[i], text, bold=True, right=table.numeric[i], align=WD_ALIGN_PARAGRAPH, size=Pt(10))
    for row in table.rows:
        cells = t.add_row().cells
        for i, text in enumerate(row):
            _cell(cells[i], text, bold=False, right=table.numeric[i], align=WD_ALIGN_PARAGRAPH, size=Pt(10))
    if table.caption:
        doc.add_paragraph(table.caption, style="Caption")


def _cell(cell, text, bold, right, align, size) -> None:
    p = cell.paragraphs[0]
    run = p.add_run(text)
    run.bold = bold
    run.font.size = size
    if right:
        p.alignment = align.RIGHT


def write(path, title: str, sections, footer: list) -> Path:
    """Write the report: ``sections`` are :class:`stpmap.reports.Section`,
    each from a new page after the first; ``footer`` lines close the report
    (source, attribution, vintage)."""
    from docx import Document
    from docx.enum.section import WD_SECTION

    doc = Document()
    _a4(doc)
    _plain_styles(doc)
    doc.core_properties.title = title
    doc.core_properties.author = "stpmap"
    doc.add_heading(title, level=0)
    for i, s in enumerate(sections):
        if i:
            doc.add_section(WD_SECTION.NEW_PAGE)
        if s.heading != title:
            doc.add_heading(s.heading, level=1)
        if s.intro:
            doc.add_paragraph(s.intro)
        add_picture(doc, s.png, s.alt_text, *s.size_in)
        for table in s.tables:
            add_table(doc, table)
        for line in s.notes:
            doc.add_paragraph(line, style="Caption")
    doc.add_heading("Source", level=1)
    for line in footer:
        doc.add_paragraph(line)
    path = Path(path)
    doc.save(path)
    return path
