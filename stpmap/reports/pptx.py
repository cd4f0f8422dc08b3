"""PowerPoint reports (python-pptx): 16:9 slides (13.33 x 7.5 in), each
with a title, the map as a picture (with its alternative text) on the left
and the table of its figures on the right; long tables go on to further
slides. The last slide gives the source, attribution and vintage."""

from __future__ import annotations

import io
from pathlib import Path

SLIDE_IN = (13.333, 7.5)
MARGIN_IN = 0.4
TITLE_IN = 0.9  # the title's band
MAP_IN = (7.4, SLIDE_IN[1] - TITLE_IN - MARGIN_IN)  # the map's box, left of the table
ROWS_PER_SLIDE = 16
FONT = "Arial"


def _text(frame, text, size, bold=False, colour=None) -> None:
    from pptx.dml.color import RGBColor
    from pptx.util import Pt

    frame.word_wrap = True
    p = frame.paragraphs[0]
    p.text = ""
    run = p.add_run()
    run.text = text
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = FONT
    if colour:
        run.font.color.rgb = RGBColor.from_string(colour)


def _slide(prs, title: str):
    from pptx.util import Inches

    slide = prs.slides.add_slide(prs.slide_layouts[6])  # blank
    box = slide.shapes.add_textbox(Inches(MARGIN_IN), Inches(0.25), Inches(SLIDE_IN[0] - 2 * MARGIN_IN), Inches(0.6))
    _text(box.text_frame, title, 24, bold=True, colour="003087")
    return slide


def add_picture(slide, png: bytes, alt_text: str, size_in, box_in=MAP_IN, left_in=MARGIN_IN, top_in=TITLE_IN):
    """The map, as large as fits ``box_in``, with ``alt_text`` as the
    picture's description (cNvPr ``descr``)."""
    from pptx.util import Inches

    w, h = size_in
    scale = min(box_in[0] / w, box_in[1] / h)
    pic = slide.shapes.add_picture(io.BytesIO(png), Inches(left_in), Inches(top_in), Inches(w * scale), Inches(h * scale))
    c_nv_pr = pic._element.nvPicPr.cNvPr
    c_nv_pr.set("descr", alt_text)
    c_nv_pr.set("title", alt_text.split(",")[0])
    return pic, w * scale


def add_table(slide, table, rows, left_in: float, top_in: float, width_in: float) -> None:
    """A plain table: header row bold on a dark blue band, numbers right-aligned."""
    from pptx.dml.color import RGBColor
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Inches, Pt

    size = 12 if len(rows) <= 10 else 10
    shape = slide.shapes.add_table(len(rows) + 1, len(table.header), Inches(left_in), Inches(top_in),
                                   Inches(width_in), Inches(0.3 * (len(rows) + 1)))
    t = shape.table
    name_share = 0.5 if len(table.header) > 2 else 0.65
    t.columns[0].width = Inches(width_in * name_share)
    for j in range(1, len(table.header)):
        t.columns[j].width = Inches(width_in * (1 - name_share) / (len(table.header) - 1))
    for i, row in enumerate([table.header, *rows]):
        for j, text in enumerate(row):
            cell = t.cell(i, j)
            cell.text = ""
            run = cell.text_frame.paragraphs[0].add_run()
            run.text = text
            run.font.size = Pt(size)
            run.font.name = FONT
            run.font.bold = i == 0
            if i == 0:
                cell.fill.solid()
                cell.fill.fore_color.rgb = RGBColor.from_string("003087")
                run.font.color.rgb = RGBColor.from_string("FFFFFF")
            else:
                cell.fill.solid()
                cell.fill.fore_color.rgb = RGBColor.from_string("FFFFFF" if i % 2 else "E8EDEE")
                run.font.color.rgb = RGBColor.from_string("231F20")
            if table.numeric[j]:
                cell.text_frame.paragraphs[0].alignment = PP_ALIGN.RIGHT


def _caption(slide, text: str, left_in: float, top_in: float, width_in: float) -> None:
    from pptx.util import Inches

    box = slide.shapes.add_textbox(Inches(left_in), Inches(top_in), Inches(width_in), Inches(0.6))
    _text(box.text_frame, text, 9, colour="425563")


def _section(prs, s) -> None:
    slide = _slide(prs, s.heading)
    _, map_w = add_picture(slide, s.png, s.alt_text, s.size_in)
    left = MARGIN_IN + map_w + 0.3
    width = SLIDE_IN[0] - MARGIN_IN - left
    for table in s.tables:
        chunks = [table.rows[i:i + ROWS_PER_SLIDE] for i in range(0, len(table.rows), ROWS_PER_SLIDE)] or [[]]
        for n, rows in enumerate(chunks):
            if n or table is not s.tables[0]:
                more = f" ({n + 1} of {len(chunks)})" if len(chunks) > 1 else ""
                slide = _slide(prs, f"{s.heading}: {table.title or 'figures'}{more}")
                left, width = MARGIN_IN, SLIDE_IN[0] - 2 * MARGIN_IN
            add_table(slide, table, rows, left, TITLE_IN, width)
            _caption(slide, table.caption, left, min(TITLE_IN + 0.3 * (len(rows) + 1) + 0.15, SLIDE_IN[1] - 0.7), width)


def write(path, title: str, sections, footer: list) -> Path:
    """Write the deck: a slide a section (more for long tables), then the
    source, attribution and vintage."""
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(SLIDE_IN[0]), Inches(SLIDE_IN[1])
    prs.core_properties.title = title
    prs.core_properties.author = "stpmap"
    for s in sections:
        _section(prs, s)
    slide = _slide(prs, "Source")
    box = slide.shapes.add_textbox(Inches(MARGIN_IN), Inches(TITLE_IN), Inches(SLIDE_IN[0] - 2 * MARGIN_IN), Inches(4))
    _text(box.text_frame, "\n".join(footer), 14)
    path = Path(path)
    prs.save(path)
    return path
