"""The wheel works outside the repository.

A wheel is built from the checkout and installed into a new virtual
environment (which borrows the already-installed dependencies, so no network
is needed), then the command line is run from an empty folder: every standard
map recipe, and each command once. This catches files that exist in the
repository but are not shipped (recipes, the registry, assets).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory, atlas_cache):
    tmp = tmp_path_factory.mktemp("wheel")
    # nothing of the checkout may leak in: no PYTHONPATH, and the run starts outside the repository
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["STPMAP_CACHE"] = str(atlas_cache)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp / "dist"), str(ROOT)], check=True, capture_output=True, text=True, env=env)
    wheels = list((tmp / "dist").glob("stpmap-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = tmp / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    py = env_dir / "bin" / "python"
    # --force-reinstall: the development install of stpmap is visible through the system site-packages
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--force-reinstall",
                    str(wheels[0])], check=True, capture_output=True, text=True, env=env)
    work = tmp / "elsewhere"
    work.mkdir()
    return {"python": py, "stpmap": env_dir / "bin" / "stpmap", "cwd": work, "env": env, "venv": env_dir}


def _run(wheel_env, *args, code=0):
    out = subprocess.run([str(wheel_env["stpmap"]), *args], cwd=wheel_env["cwd"], env=wheel_env["env"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == code, f"stpmap {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out


def test_the_wheel_is_what_runs(wheel_env):
    out = subprocess.run([str(wheel_env["python"]), "-c", "import stpmap; print(stpmap.__file__)"],
                         cwd=wheel_env["cwd"], env=wheel_env["env"], capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()).is_relative_to(wheel_env["venv"]), out.stdout


def test_every_standard_recipe_renders_from_the_wheel(wheel_env):
    _run(wheel_env, "map", "--recipe", "all")
    written = sorted(p.name for p in (wheel_env["cwd"] / "maps").iterdir())
    recipes = sorted(p.stem for p in (ROOT / "stpmap" / "recipes").glob("*.toml"))
    assert recipes, "no standard recipes in the package"
    for name in recipes:
        assert any(w.startswith(name + ".") for w in written), f"recipe {name} wrote nothing: {written}"
    assert all((wheel_env["cwd"] / "maps" / w).stat().st_size > 1000 for w in written)


def test_every_command_runs_from_the_wheel(wheel_env):
    assert "footprints" in _run(wheel_env, "--help").stdout
    assert "E54000005" in _run(wheel_env, "footprints", "--format", "csv").stdout
    assert "East of England" in _run(wheel_env, "groups").stdout
    info = json.loads(_run(wheel_env, "data", "info", "--format", "json").stdout)
    assert set(map(str, info["vintages"])) >= {"2017", "2021"}
    record = json.loads(_run(wheel_env, "lookup", "NG1", "5DT", "--format", "json").stdout)
    assert record[0]["footprint_code"] == "E54000014"
    _run(wheel_env, "map", "--group", "London", "--format", "html", "-o", "london.html")
    assert (wheel_env["cwd"] / "london.html").stat().st_size > 10_000
    assert "--port" in _run(wheel_env, "serve", "--help").stdout
    _run(wheel_env, "map", "--recipe", "no-such-recipe", code=2)
