"""The examples (examples/): the notebook and the Quarto report's Python run
in a Jupyter kernel against the offline mirror, as a reader would run them.

The kernel is a separate process: it gets the session's cache and mirror
through the environment, and the tests' network block (tests/conftest.py) is
installed in it before the first cell, so an example can no more reach the
internet than a test can.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

import stpmap

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NOTEBOOK = EXAMPLES / "east-of-england.ipynb"
QUARTO = EXAMPLES / "report.qmd"
CLOSED_PORT_URL = "http://127.0.0.1:9/arcgis/rest/services"

# Run first in the kernel: the same socket guard as the tests' own.
GUARD = f"""\
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
import conftest
conftest.pytest_configure(None)
sys.path.pop(0)
"""

# Run last: the guard still holds after the example ran.
PROBE = """\
import socket
try:
    socket.create_connection(("192.0.2.1", 80), timeout=1)
except Exception as exc:
    print("network:", type(exc).__name__)
"""


def _run(nb, workdir: Path):
    """Execute ``nb`` in a fresh python3 kernel started in ``workdir``."""
    env = dict(os.environ)
    assert env.get("STPMAP_CACHE") and env.get("STPMAP_MIRROR")  # set for the session by conftest
    env["STPMAP_ARCGIS_URL"] = CLOSED_PORT_URL
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])  # this stpmap
    env.pop("MPLBACKEND", None)  # the kernel's own (inline) backend, as a reader has it
    nb.cells.insert(0, new_code_cell(GUARD))
    nb.cells.append(new_code_cell(PROBE))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    client.execute(env=env)
    return nb


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _data(cell, mime: str) -> list:
    return [o["data"][mime] for o in cell.outputs if o.output_type in ("execute_result", "display_data")
            and mime in o.get("data", {})]


def _cell(nb, fragment: str):
    """The code cell whose source holds ``fragment``."""
    found = [c for c in nb.cells if c.cell_type == "code" and fragment in c.source]
    assert len(found) == 1, fragment
    return found[0]


@pytest.fixture(scope="module")
def notebook(atlas_cache, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("notebook")
    return _run(nbformat.read(NOTEBOOK, as_version=4), workdir), workdir


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


@pytest.mark.parametrize("path", [NOTEBOOK, QUARTO], ids=["notebook", "quarto"])
def test_examples_use_only_the_public_api(path):
    text = path.read_text(encoding="utf-8")
    used = set(re.findall(r"\bstpmap\.(\w+)", text))
    assert used and used <= set(stpmap.__all__), used - set(stpmap.__all__)
    assert not re.search(r"from stpmap\.|import stpmap\.", text)


def test_notebook_runs_offline(notebook):
    nb, _ = notebook
    assert _text(nb.cells[-1]).strip() == "network: NetworkBlocked"
    assert _text(_cell(nb, "stpmap.attribution()")).startswith("Source: Office for National Statistics")


def test_notebook_group_has_six_footprints(notebook):
    nb, _ = notebook
    cell = _cell(nb, 'east = stpmap.footprints(2017, group="East of England")')
    assert "6 footprints, vintage 2017" in _text(cell)
    table = _data(cell, "text/html")[0]
    assert table.count("E54") == 6 and "Cambridgeshire and Peterborough" in table


def test_notebook_maps_show_inline_with_alt_text(notebook):
    nb, _ = notebook
    expected = {
        "data=older": "Map of the 6 East of England STP footprints, April 2017",
        "national = stpmap.plot(2017)": "Map of the 44 STP footprints of England, April 2017",
        "group_map = stpmap.plot": "shaded by population from 883,569 to 1,465,789",
    }
    for fragment, alt in expected.items():
        cell = _cell(nb, fragment)
        assert alt in _text(cell)
        pngs = _data(cell, "image/png")
        assert len(pngs) == 1  # shown once: no second copy from pyplot
        assert base64.b64decode(pngs[0])[:8] == b"\x89PNG\r\n\x1a\n"


def test_notebook_explore_shows_a_leaflet_map(notebook):
    nb, _ = notebook
    html = _data(_cell(nb, "stpmap.explore("), "text/html")
    assert len(html) == 1 and "leaflet" in html[0].lower()


def test_notebook_crosswalk_and_lookup(notebook):
    nb, _ = notebook
    line = _text(_cell(nb, "stpmap.crosswalk(")).strip()
    m = re.fullmatch(r"([\d,]+) people in 42 footprints \(2018\) -> ([\d,]+) in 42 ICBs \(2022\)", line)
    assert m and m.group(1) == m.group(2), line  # everyone carried over
    assert _text(_cell(nb, "stpmap.lookup(")).strip().startswith(
        "CB2 0QQ -> Cambridgeshire and Peterborough (E54000021)")


def test_notebook_writes_a_word_report_with_its_map(notebook):
    import docx

    _, workdir = notebook
    doc = docx.Document(str(workdir / "east-of-england.docx"))
    assert len(doc.inline_shapes) == 1
    assert doc.inline_shapes[0]._inline.docPr.get("descr").startswith("Map of the 6 East of England")
    assert "Hertfordshire and West Essex" in "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)


def _quarto_notebook(path: Path):
    """The Python chunks of a Quarto document as a notebook, as Quarto runs them."""
    chunks = re.findall(r"^```\{python\}\n(.*?)^```$", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    return nbformat.v4.new_notebook(cells=[new_code_cell(c.rstrip("\n")) for c in chunks])


def test_quarto_report_places_the_map_with_its_alt_text(atlas_cache, tmp_path):
    nb = _run(_quarto_notebook(QUARTO), tmp_path)
    markdown = "".join(_text(c) for c in nb.cells[1:-1])
    figure = re.search(r"!\[[^\]]+\]\(([^)]+)\)\{fig-alt=\"([^\"]+)\"\}", markdown)
    assert figure, markdown
    assert (tmp_path / figure.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure.group(2).startswith("Map of the 6 East of England STP footprints, April 2017")
    assert len(re.findall(r"^\| .+ \| E54\d{6} \| [\d,]+ \|$", markdown, flags=re.M)) == 6
    assert _text(nb.cells[-1]).strip() == "network: NetworkBlocked"
