"""The examples in the data modules' docstrings hold, run as doctests on the built atlas."""

from __future__ import annotations

import doctest

import pytest

import stpmap
from stpmap.data import layers, names, registry


@pytest.mark.parametrize("module", [layers, names, registry], ids=lambda m: m.__name__)
def test_docstring_examples_hold(module, atlas_cache):
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [t for t in finder.find(module, globs={"stpmap": stpmap, **vars(module)}) if t.examples]
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
