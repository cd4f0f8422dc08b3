"""A map's options, checked once, and its selection, resolved once; the
simplified-geometry cache, which follows the atlas it was made from."""

from __future__ import annotations

import dataclasses

import pytest

from stpmap.errors import ChoiceError, InputError
from stpmap.maps.options import OPTION_NAMES, SCHEMES, MapOptions, select


# ------------------------------------------------------------------ options


@pytest.mark.parametrize("given, message", [
    ({"layer": "msoa"}, "Unknown layer 'msoa'. Valid choices: stp, ccg, lad."),
    ({"overlay": "stp"}, "Unknown overlay 'stp'. Valid choices: ccg, lad."),
    ({"labels": "Both"}, "Unknown labels 'both'. Valid choices: name, code, none."),
    ({"scheme": "jenkz"}, "Unknown scheme 'jenkz'. Valid choices: " + ", ".join(SCHEMES) + "."),
    ({"vintage": 2016}, "Unknown vintage 2016. Valid choices: 2017, 2018, 2019, 2020, 2021, 2022."),
])
def test_an_unknown_choice_names_the_valid_ones(given, message):
    with pytest.raises(ChoiceError) as caught:
        MapOptions(**given)
    assert str(caught.value) == message


@pytest.mark.parametrize("given, message", [
    ({"k": 40}, "--k 40: give between 1 and 12 classes (more cannot be told apart on a map)."),
    ({"k": 0}, "--k 0: give between 1 and 12 classes"),
    ({"k": "many"}, "--k must be a whole number of classes, not 'many'."),
    ({"bins": "100,lots"}, "--bins '100,lots': give numbers separated by commas"),
    ({"value": "beds"}, "--join-on, --value and --aggregate describe a data file: give it with --data FILE."),
    ({"data_encoding": "cp1252"}, "--data-encoding describes a data file: give it with --data FILE."),
    ({"data": "x.csv", "data_encoding": "klingon"}, "--data-encoding 'klingon' is not a text encoding"),
])
def test_bad_values_say_what_to_give(given, message):
    with pytest.raises(InputError) as caught:
        MapOptions(**given)
    assert str(caught.value).startswith(message)


def test_options_are_tidied_once():
    o = MapOptions("2021", scheme="Natural Breaks", labels=None, k="4", bins="5, 10,15", ramp=None)
    assert (o.vintage, o.scheme, o.labels, o.k, o.bins) == (2021, "natural_breaks", "none", 4, [5.0, 10.0, 15.0])
    assert o.ramp == "nhs_blues"
    assert MapOptions(scheme="jenks").scheme == "natural_breaks" and MapOptions().vintage == 2017
    assert MapOptions(layer="ccg", overlay="ccg").drawn_overlay is None  # an overlay of the layer itself is not drawn
    assert MapOptions(overlay="lad").drawn_overlay == "lad"
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.layer = "lad"


def test_recipe_keys_are_the_option_names():
    from stpmap.maps import recipes

    assert recipes.MAP_KEYS == tuple(f.name for f in dataclasses.fields(MapOptions)) == OPTION_NAMES
    assert "data_encoding" in recipes.RECIPE_KEYS and "formats" in recipes.RECIPE_KEYS


# ---------------------------------------------------------------- selection


def test_selection_names_what_it_keeps(atlas_cache):
    national = select(MapOptions())
    assert national.national and national.codes is None and national.name is None and national.extent() is None
    east = select(MapOptions(group="east of england"))
    assert east.name == "East of England" and len(east.codes) == 6 and not east.national
    two = select(MapOptions(footprint=["E54000005", "humber, coast and vale"]))
    assert two.codes == ["E54000005", "E54000006"] and two.name == "West Yorkshire; Humber, Coast and Vale"
    assert 50_000 < two.extent() < 300_000  # metres
    neither = select(MapOptions(group="East of England", footprint="E54000005"))
    assert neither.codes == [] and neither.name == "East of England"
    with pytest.raises(ChoiceError, match="Unknown footprint 'Atlantis'"):
        select(MapOptions(footprint="Atlantis"))


@pytest.fixture
def resolve_calls(monkeypatch):
    """Every call of stpmap.data.groups.resolve, by the group asked for."""
    from stpmap.data import groups as _groups

    calls = []
    real = _groups.resolve

    def counting(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(_groups, "resolve", counting)
    return calls


def test_a_group_is_resolved_once_a_map(atlas_cache, resolve_calls, tmp_path, cli):
    import stpmap
    from stpmap.maps.html import save

    fig = stpmap.plot(group="East of England", labels="none")
    assert resolve_calls == ["East of England"]
    assert any(t.get_text().startswith("East of England: STP footprints") for t in fig.texts)
    resolve_calls.clear()
    text = save(stpmap.explore(group="East of England", layer="ccg"), tmp_path / "e.html").read_text()
    assert resolve_calls == ["East of England"] and "East of England: CCGs" in text
    resolve_calls.clear()
    cli("map", "--group", "East of England", "--labels", "none", "-o", str(tmp_path / "e.png"))
    assert resolve_calls == ["East of England"]


# ------------------------------------------------------- simplified geometry


def test_simplified_geometry_cache_follows_the_atlas(atlas_cache):
    from stpmap import _cache
    from stpmap.data import atlas as _atlas
    from stpmap.maps import prepare as _prepare

    folder = _cache.mapgeom_folder(2017)
    expected = {"atlas_built": _atlas.manifest(2017)["built"]}
    _prepare._simplified.cache_clear()
    first = _prepare.simplified("ccg", 2017, 321.0)
    assert _cache.is_current(folder, expected) and (folder / "ccg-321m.parquet").exists()
    # a folder made from an earlier build of the atlas is emptied, then filled again
    (folder / _cache.MANIFEST).write_text('{"atlas_built": "an earlier build"}')
    (folder / "stp-7m.parquet").write_text("from the earlier build")
    _prepare._simplified.cache_clear()
    again = _prepare.simplified("ccg", 2017, 321.0)
    assert _cache.is_current(folder, expected)
    assert not (folder / "stp-7m.parquet").exists() and (folder / "ccg-321m.parquet").exists()
    assert again.geometry.geom_equals_exact(first.geometry, tolerance=0).all()


def test_an_unwritable_geometry_cache_is_recomputed(atlas_cache, tmp_path, monkeypatch):
    from stpmap import _cache
    from stpmap.maps import prepare as _prepare

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(_cache, "mapgeom_folder", lambda vintage: blocked / "maps" / f"v{vintage}")
    _prepare._simplified.cache_clear()
    stp = _prepare.simplified("stp", 2017, 321.0)
    assert len(stp) == 44 and stp.geometry.is_valid.all()
    _prepare._simplified.cache_clear()


def test_a_damaged_geometry_file_is_recomputed_not_trusted(atlas_cache):
    """Bytes changed inside a data page still parse; the page checksum catches them."""
    from stpmap import _cache
    from stpmap.maps import prepare as _prepare

    _prepare._simplified.cache_clear()
    first = _prepare.simplified("ccg", 2017, 123.0)
    path = _cache.mapgeom_folder(2017) / "ccg-123m.parquet"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    _prepare._simplified.cache_clear()
    assert _prepare._from_disk("ccg", 2017, 123.0) is None  # refused, not read
    again = _prepare.simplified("ccg", 2017, 123.0)
    assert again.geometry.geom_equals_exact(first.geometry, tolerance=0).all()
    assert list(again["code"]) == list(first["code"])


def _in_a_child(code: str) -> list[str]:
    """The lines ``code`` prints, run by a new Python (a fresh import state,
    and a hang fails at the timeout instead of stalling the suite)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_every_scheme_classes_a_map_of_44_areas_and_ends():
    """mapclassify's sampled schemes take 10 % of the values by default: 4 of
    44 footprints, fewer than the classes, and jenks_caspall_sampled then
    loops for ever."""
    code = ("import numpy as np, pandas as pd\n"
            "from stpmap.maps.prepare import classify\n"
            "y = pd.Series(np.random.default_rng(1).lognormal(13, 0.4, 44))\n"
            "for s in ('jenks_caspall_sampled', 'fisher_jenks_sampled', 'jenks_caspall', 'max_p'):\n"
            "    fills, entries = classify(y, s, 5)\n"
            "    print(s, len(entries), sum(int(e[0].rsplit('(', 1)[1].rstrip(')')) for e in entries))\n")
    rows = [line.split() for line in _in_a_child(code)]
    assert [r[0] for r in rows] == ["jenks_caspall_sampled", "fisher_jenks_sampled", "jenks_caspall", "max_p"]
    assert all(int(r[1]) >= 2 and int(r[2]) == 44 for r in rows), rows


def test_shading_a_map_does_not_compile_numba_kernels():
    """mapclassify compiles a numba kernel at import when numba is there (it
    is: the postcode reader uses it), 2.5 s of CPU for every shaded map; it
    is imported with numba hidden, and numba stays usable afterwards."""
    code = ("import sys, numpy as np, pandas as pd\n"
            "import numba\n"
            "from stpmap.maps.prepare import classify\n"
            "classify(pd.Series(np.arange(44.0)), 'fisher_jenks', 5)\n"
            "import mapclassify.classifiers as c\n"
            "print(type(c._fisher_jenks_means).__module__.split('.')[0], sys.modules['numba'] is numba)\n")
    assert _in_a_child(code) == ["builtins True"]
