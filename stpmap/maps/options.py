"""What a map is asked to show: its options, checked once, and the
footprints they select, resolved once.

:class:`MapOptions` holds every option of one map (the parameters of
:func:`stpmap.plot` and :func:`stpmap.explore` that say what the map shows,
and the keys a recipe may set); building one checks each option and names
the valid choices of a wrong one. :func:`select` turns its group and
footprints into a :class:`Selection`, which the renderers and
:func:`stpmap.maps.prepare.prepare` share, so a group is looked up once a map.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, fields

from stpmap.errors import ChoiceError, InputError
from stpmap.maps.colours import DEFAULT_PALETTE, PALETTE_RAMPS, check_palette

LAYERS = ("stp", "ccg", "lad")
OVERLAYS = ("ccg", "lad")
LABELS = ("name", "code", "none")
#: What each area is drawn as: its boundary ("map") or one hexagon of a hex cartogram ("hex").
SHAPES = ("map", "hex")

#: Classification schemes for numbers, by the names geopandas uses (mapclassify's, with underscores).
SCHEMES = ("quantiles", "natural_breaks", "equal_interval", "fisher_jenks", "fisher_jenks_sampled", "headtail_breaks",
           "jenks_caspall", "jenks_caspall_forced", "jenks_caspall_sampled", "max_p", "maximum_breaks", "box_plot",
           "percentiles", "prettybreaks", "std_mean", "user_defined")
DEFAULT_SCHEME = "quantiles"
_SCHEME_ALIASES = {"naturalbreaks": "natural_breaks", "equalinterval": "equal_interval", "fisherjenks": "fisher_jenks",
                   "headtailbreaks": "headtail_breaks", "pretty_breaks": "prettybreaks", "boxplot": "box_plot",
                   "maximumbreaks": "maximum_breaks", "stdmean": "std_mean", "userdefined": "user_defined",
                   "jenks": "natural_breaks", "quantile": "quantiles"}
MAX_CLASSES = 12  # more cannot be told apart on a map
MAX_PANELS = 6  # small multiples: more maps in one figure are too small to read


def check_scheme(scheme: str | None) -> str | None:
    """The scheme's name as in :data:`SCHEMES` (spelling variants allowed), or
    a :class:`ChoiceError` listing them."""
    if scheme is None:
        return None
    s = str(scheme).strip().lower().replace("-", "_").replace(" ", "_")
    s = _SCHEME_ALIASES.get(s, s)
    if s not in SCHEMES:
        raise ChoiceError("scheme", scheme, SCHEMES)
    return s


@dataclass(frozen=True)
class MapOptions:
    """The options of one map, checked when it is made.

    See :func:`stpmap.plot` for what each means. ``vintage`` becomes an int
    (``None``: the default vintage), ``scheme`` its name in :data:`SCHEMES`,
    ``labels`` one of :data:`LABELS`, ``k`` an int, ``bins`` a list of numbers
    (a string "X,Y,..." is read as one), ``palette`` one of
    :data:`stpmap.maps.colours.PALETTES` (``None``: ``nhs``), ``ramp`` the
    palette's ramp when ``None``. ``data_encoding`` is the text encoding of a CSV ``data`` file
    (``None``: UTF-8, with or without a byte-order mark). ``data_vintage`` is
    the vintage of the codes or names in ``data`` (``None``: found from them);
    when ``vintage`` is not given, the map takes the data's vintage
    (:func:`stpmap.maps.userdata.vintage_to_map`), and ``data_vintage`` says it.
    ``facet`` (columns) and ``facet_vintages`` (ints) ask for small multiples, 2 to
    :data:`MAX_PANELS` maps on one scale; a string "a,b" is read as a list.
    """

    vintage: int | None = None
    group: str | None = None
    footprint: object = None  # a code or name, or a list of them
    groups_file: object = None
    layer: str = "stp"
    overlay: str | None = None
    colour_by: str | None = None
    data: object = None  # a CSV/XLSX path or a DataFrame
    join_on: str | None = None
    value: str | None = None
    aggregate: str | None = None
    data_encoding: str | None = None
    data_vintage: int | None = None
    scheme: str | None = None
    k: int = 5
    bins: object = None
    ramp: str | None = None  # None: the palette's
    palette: str | None = DEFAULT_PALETTE
    labels: str | None = "name"
    title: str | None = None
    shape: str = "map"
    facet: object = None  # columns to map side by side: of ``data``, else of the layer
    facet_vintages: object = None  # vintages to map side by side, each on its own boundaries

    def __post_init__(self):
        from stpmap.data.registry import registry

        vintage_given = self.vintage is not None
        self._set("vintage", registry().check_vintage(self.vintage))
        if self.layer not in LAYERS:
            raise ChoiceError("layer", self.layer, LAYERS)
        if self.overlay is not None and self.overlay not in OVERLAYS:
            raise ChoiceError("overlay", self.overlay, OVERLAYS)
        labels = "none" if self.labels is None else str(self.labels).lower()
        if labels not in LABELS:
            raise ChoiceError("labels", labels, LABELS)
        self._set("labels", labels)
        self._set("scheme", check_scheme(self.scheme))
        self._set("k", _check_k(self.k))
        self._set("bins", _check_bins(self.bins))
        self._set("palette", check_palette(self.palette))
        if self.ramp is None:
            self._set("ramp", PALETTE_RAMPS[self.palette])
        if (self.join_on or self.value or self.aggregate) and self.data is None:
            raise InputError("--join-on, --value and --aggregate describe a data file: give it with --data FILE.")
        _check_encoding(self.data_encoding, self.data)
        self._set("shape", _check_shape(self))
        self._set("facet", _check_facet(self.facet, "--facet", str))
        self._set("facet_vintages", _check_facet(self.facet_vintages, "--facet-vintages", registry().check_vintage))
        _check_facet_with(self)
        if self.data_vintage is not None and self.data is None:
            raise InputError("--data-vintage describes a data file: give it with --data FILE.")
        if self.data_vintage is not None:
            self._set("data_vintage", registry().check_vintage(self.data_vintage))
        if self.data is not None and not vintage_given:
            self._map_the_data_vintage()

    def _map_the_data_vintage(self):
        """With no vintage given, map the data on their own vintage's boundaries."""
        from stpmap.maps.userdata import vintage_to_map

        found = vintage_to_map(self.data, join_on=self.join_on, layer=self.layer, data_vintage=self.data_vintage,
                               encoding=self.data_encoding)
        if found is not None:
            self._set("vintage", found)
            self._set("data_vintage", found)  # so the map says which vintage the data are of

    def _set(self, name, value):
        object.__setattr__(self, name, value)  # frozen: only __post_init__ tidies the values given

    @property
    def drawn_overlay(self) -> str | None:
        """The overlay to draw: none when it is the layer itself."""
        return None if self.overlay == self.layer else self.overlay


#: The option names, in order: a recipe's map keys.
OPTION_NAMES = tuple(f.name for f in fields(MapOptions))


def _check_k(k) -> int:
    if k is None:
        return 5
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise InputError(f"--k must be a whole number of classes, not {k!r}.") from None
    if not 1 <= k <= MAX_CLASSES:
        raise InputError(f"--k {k}: give between 1 and {MAX_CLASSES} classes (more cannot be told apart on a map).")
    return k


def _check_bins(bins):
    if not isinstance(bins, str):
        return bins
    try:
        return [float(b) for b in bins.split(",") if b.strip()] or None
    except ValueError:
        raise InputError(f"--bins {bins!r}: give numbers separated by commas, e.g. 100000,500000,1000000.") from None


def _check_shape(options: "MapOptions") -> str:
    """The shape, checked against the layer and overlay it is drawn with."""
    shape = "map" if options.shape is None else str(options.shape).strip().lower()
    if shape not in SHAPES:
        raise ChoiceError("shape", options.shape, SHAPES)
    if shape == "hex":
        from stpmap.maps.hexes import LAYERS as HEX_LAYERS

        if options.layer not in HEX_LAYERS:
            raise InputError(f"--shape hex draws one hexagon per footprint or CCG; the {options.layer} layer has no "
                             f"hex layout: give --layer {' or --layer '.join(HEX_LAYERS)}, or --shape map.")
        if options.drawn_overlay is not None:
            raise InputError(f"--overlay {options.overlay} cannot be drawn on a hex cartogram: its hexagons are not "
                             "where the areas are, so no other boundaries line up with them. Leave out --overlay, or "
                             "draw the geographic map (--shape map).")
    return shape


def _check_encoding(encoding, data) -> None:
    if encoding is None:
        return
    if data is None:
        raise InputError("--data-encoding describes a data file: give it with --data FILE.")
    try:
        codecs.lookup(str(encoding))
    except LookupError:
        raise InputError(f"--data-encoding {encoding!r} is not a text encoding: give e.g. utf-8, cp1252 or "
                         "latin-1 (what the file was saved as).") from None


def _check_facet(given, option: str, each) -> list | None:
    """The panels of a small multiple as a list (``each`` checks one), from
    a list or a string "a,b,c" (or a list of such); ``None`` when none."""
    if given is None:
        return None
    parts = [given] if isinstance(given, (str, int)) else list(given)
    items = [p.strip() for part in parts for p in str(part).split(",") if p.strip()]
    if not items:
        return None
    items = [each(i) for i in items]
    twice = sorted({str(i) for i in items if items.count(i) > 1})
    if twice:
        raise InputError(f"{option} names {', '.join(twice)} more than once: give each panel once.")
    if not 2 <= len(items) <= MAX_PANELS:
        raise InputError(f"{option} gives {len(items)} map{'s' if len(items) != 1 else ''}; small multiples hold 2 to "
                         f"{MAX_PANELS} side by side (more are too small to read): "
                         + ("for one, map it on its own." if len(items) < 2 else "split them over several figures."))
    return items


def _check_facet_with(options: MapOptions) -> None:
    """Small multiples over columns or over vintages, not both; the columns
    are what is coloured, so no --colour-by or --value besides them."""
    if options.facet is None:
        return
    if options.facet_vintages is not None:
        raise InputError("--facet and --facet-vintages both ask for small multiples: give one of them "
                         "(--facet-vintages with --colour-by COLUMN maps one column over several vintages).")
    if options.colour_by is not None:
        raise InputError("--facet names the columns to colour by, one map each: drop --colour-by.")
    if options.value is not None:
        raise InputError("--facet names the columns of --data to map, one map each: drop --value.")


# ------------------------------------------------------------------ selection


@dataclass(frozen=True)
class Selection:
    """The footprints a map's options select, resolved once a map.

    ``codes`` are the footprint codes kept (``None``: every footprint, a
    national map); ``name`` says which: the group's official name, the
    footprints' names (up to three), or ``None`` on a national map.
    """

    vintage: int
    codes: list | None
    name: str | None

    @property
    def national(self) -> bool:
        return self.codes is None

    def extent(self) -> float | None:
        """The larger side, in metres, of the box around the selected
        footprints (``None`` on a national map)."""
        if self.codes is None:
            return None
        from stpmap.data import atlas as _atlas

        stp = _atlas.layer("stp", self.vintage)
        b = stp[stp["code"].isin(self.codes)].total_bounds
        return max(b[2] - b[0], b[3] - b[1])


def select(options: MapOptions) -> Selection:
    """The footprints ``options`` select: its group (looked up once) and
    footprints (codes or names), as :func:`stpmap.data.selection.select_codes`
    reads them; an unknown one is a :class:`ChoiceError`."""
    from stpmap.data import groups as _groups
    from stpmap.data.selection import select_codes

    v = options.vintage
    group = _groups.resolve(options.group, v, options.groups_file) if options.group is not None else None
    codes = list(group.codes) if group is not None else None
    if options.footprint:
        picked = select_codes(v, None, None, options.footprint)
        codes = picked if codes is None else [c for c in codes if c in picked]
    if group is not None or codes is None:
        return Selection(v, codes, group.name if group is not None else None)
    from stpmap.data import atlas as _atlas

    stp_names = _atlas.table("stp", v, columns=["code", "name"]).set_index("code")["name"]
    name = "; ".join(stp_names[c] for c in codes) if len(codes) <= 3 else f"{len(codes)} footprints"
    return Selection(v, codes, name)
