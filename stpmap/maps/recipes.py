"""Writing maps to files, and the standard set of maps kept as recipe files.

A recipe is a small TOML file naming the options of one map and the formats
to write it in. The standard set ships inside the package (``stpmap/recipes/``)
and your own can sit in ``./maps``; ``stpmap map --recipe all`` renders every
recipe, ``--recipe national`` one of them, ``--recipe path/to/my.toml`` any
file. Maps are written to ``./maps`` unless told otherwise::

    # stpmap/recipes/national.toml
    description = "The 44 STP footprints of April 2017, coloured by ONS region"
    formats = ["png", "html"]
    vintage = 2017
    colour_by = "region"

Keys are the map's options (:class:`stpmap.maps.options.MapOptions`, the
parameters of :func:`stpmap.plot` / :func:`stpmap.explore`: ``vintage``,
``group``, ``footprint``, ``groups_file``, ``layer``, ``overlay``,
``colour_by``, ``data``, ``join_on``, ``value``, ``aggregate``,
``data_encoding``, ``scheme``, ``k``, ``bins``, ``ramp``, ``palette``, ``labels``,
``title``, ``shape``, ``facet``, ``facet_vintages``), plus ``formats``, ``offline``, ``dpi``, ``size``, ``output`` (file
stem; default the recipe's name) and ``description``.

A recipe describes a report too: put ``"docx"`` (Word) and/or ``"pptx"``
(PowerPoint) in its ``formats`` (see :mod:`stpmap.reports`), and
``per_footprint = true`` for a page or slide per footprint::

    formats = ["png", "docx", "pptx"]
    group = "East of England"
    colour_by = "population"
    per_footprint = true
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from stpmap.errors import ChoiceError, InputError
from stpmap.maps.options import OPTION_NAMES, MapOptions

FORMATS = ("png", "html", "svg", "pdf")
REPORT_FORMATS = ("docx", "pptx")  # a recipe's formats may name reports too
DEFAULT_FORMAT = "png"
DEFAULT_DPI = 200
MAP_KEYS = OPTION_NAMES
RECIPE_KEYS = (*MAP_KEYS, "formats", "offline", "dpi", "size", "output", "description", "per_footprint")
PACKAGE_RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def slug(text) -> str:
    """File-name-safe lower-case words joined by hyphens.

    >>> slug("East of England")
    'east-of-england'
    """
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "map"


def default_name(options: MapOptions) -> str:
    """A file stem that says what the map shows, e.g. ``footprints-2017-east-of-england``."""
    parts = [{"stp": "footprints", "ccg": "ccgs", "lad": "local-authorities"}[options.layer], str(options.vintage)]
    if options.shape == "hex":  # never the same file as the geographic map
        parts.insert(0, "hex")
    if options.group:
        parts.append(slug(str(options.group).split(":")[-1]))
    fp = options.footprint
    if fp:
        fps = [fp] if isinstance(fp, str) else list(fp)
        parts.append(slug("-".join(fps)) if len(fps) <= 2 else f"{len(fps)}-footprints")
    if options.data is not None:
        parts.append(slug(options.value or Path(str(options.data)).stem))
    elif options.colour_by and options.colour_by not in ("region",):
        parts.append(slug(options.colour_by))
    if options.overlay:
        parts.append(f"with-{options.overlay}")
    if options.facet or options.facet_vintages:  # small multiples never overwrite a single map's file
        parts.append("facet-" + slug("-".join(str(f) for f in options.facet or options.facet_vintages)))
    return "-".join(parts)


def check_format(fmt) -> str:
    f = str(fmt).lower().lstrip(".")
    if f not in FORMATS:
        raise ChoiceError("format", fmt, FORMATS)
    return f


def write_map(path, fmt: str | None = None, options: MapOptions | None = None, *, offline: bool = False,
              dpi: float | None = None, size=None, describe=None) -> Path:
    """Write the map of ``options`` (default: the national map). ``fmt`` is
    taken from the file's suffix when not given.

    HTML maps are made as :func:`stpmap.explore` makes them, the others as
    :func:`stpmap.plot` does. Warnings (e.g. rows of the user's data that
    matched nothing) are raised as :class:`UserWarning`. ``describe``, when
    given, is called with the map's alternative text.
    """
    path = Path(path)
    fmt = check_format(fmt or path.suffix or DEFAULT_FORMAT)
    if path.suffix.lower() != f".{fmt}":
        path = path.with_name(path.name + f".{fmt}") if not path.suffix else path.with_suffix(f".{fmt}")
    options = options if options is not None else MapOptions()
    if fmt == "html" and (options.facet or options.facet_vintages):
        from stpmap.maps.static.facet import HTML_ERROR

        raise InputError(HTML_ERROR)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    if fmt == "html":
        from stpmap.maps.html import folium_map, save

        m = folium_map(options, offline=offline)
        save(m, tmp)
        if describe is not None:
            describe(m.stpmap_alt_text)
    else:
        from stpmap.maps.static import map_figure, save

        # laid out at the resolution it is written at; a small map lowers its own dpi (see stpmap.plot)
        fig = map_figure(options, size=size, dpi=dpi or DEFAULT_DPI)
        save(fig, tmp, fmt, dpi=fig.dpi)
        if describe is not None:
            describe(fig.alt_text)
    tmp.replace(path)
    return path


# ------------------------------------------------------------------ recipes


@dataclass
class Recipe:
    name: str
    path: Path
    options: dict  # the map's options as the file gives them, checked when the map is made
    formats: tuple[str, ...] = (DEFAULT_FORMAT,)
    offline: bool = False
    dpi: float | None = None
    size: object = None
    output: str | None = None
    description: str = ""
    per_footprint: bool = False  # reports: a page (slide) per footprint
    files: list = field(default_factory=list)


def recipe_folders() -> list[Path]:
    """Where named recipes are looked for: ``./maps`` then the standard set shipped with stpmap."""
    out = []
    for folder in (Path.cwd() / "maps", PACKAGE_RECIPES):
        if folder.is_dir() and folder.resolve() not in [f.resolve() for f in out]:
            out.append(folder)
    return out


def available() -> dict[str, Path]:
    """Recipe name -> file, from :func:`recipe_folders` (the first wins)."""
    found: dict[str, Path] = {}
    for folder in recipe_folders():
        for p in sorted(folder.glob("*.toml")):
            found.setdefault(p.stem, p)
    return found


def load(path) -> Recipe:
    """Read and check one recipe file."""
    import tomllib

    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"Cannot read recipe {path}: {exc.strerror}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"Recipe {path} is not valid TOML: {exc}. See {PACKAGE_RECIPES / 'national.toml'} for an example.") from exc
    for key in raw:
        if key not in RECIPE_KEYS:
            raise ChoiceError("recipe key", key, RECIPE_KEYS, f"in {path}")
    formats = raw.get("formats", [DEFAULT_FORMAT])
    if isinstance(formats, str):
        formats = [formats]
    formats = tuple(f if str(f).lower() in REPORT_FORMATS else check_format(f) for f in (str(x).lower() for x in formats))
    options = {k: raw[k] for k in MAP_KEYS if k in raw}
    for key in ("data", "groups_file"):
        if key in options and not Path(options[key]).is_absolute():
            options[key] = str((path.parent / options[key]).resolve())
    return Recipe(name=path.stem, path=path, options=options, formats=formats, offline=bool(raw.get("offline", False)),
                  dpi=raw.get("dpi"), size=raw.get("size"), output=raw.get("output"),
                  description=str(raw.get("description", "")), per_footprint=bool(raw.get("per_footprint", False)))


def resolve(name: str) -> list[Recipe]:
    """``all``, a recipe name, or a path to a recipe file -> recipes."""
    p = Path(name)
    if p.suffix.lower() == ".toml" or p.exists():
        if not p.exists():
            raise InputError(f"Recipe file {p} does not exist.")
        return [load(p)]
    recipes = available()
    if name == "all":
        if not recipes:
            raise InputError(f"No recipes found: put *.toml recipe files in ./maps (see the standard set in {PACKAGE_RECIPES}).")
        return [load(p) for p in recipes.values()]
    if name not in recipes:
        raise ChoiceError("recipe", name, ["all", *recipes])
    return [load(recipes[name])]


def render(recipe: Recipe, folder=None, on_file=None) -> list[Path]:
    """Write every format of a recipe into ``folder`` (default ``./maps``)."""
    folder = Path(folder) if folder is not None else Path.cwd() / "maps"
    stem = recipe.output or recipe.name
    out = []
    for fmt in recipe.formats:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if fmt in REPORT_FORMATS:
                from stpmap.reports import write_report

                path = write_report(folder / f"{stem}.{fmt}", MapOptions(**recipe.options),
                                    per_footprint=recipe.per_footprint)
            else:
                path = write_map(folder / f"{stem}.{fmt}", fmt, MapOptions(**recipe.options), offline=recipe.offline,
                                 dpi=recipe.dpi, size=recipe.size)
        out.append(path)
        if on_file is not None:
            on_file(path, [str(w.message) for w in caught if issubclass(w.category, UserWarning)])
    return out
