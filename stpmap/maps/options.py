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
    (``None``: UTF-8, with or without a byte-order mark).
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
    scheme: str | None = None
    k: int = 5
    bins: object = None
    ramp: str | None = None  # None: the palette's
    palette: str | None = DEFAULT_PALETTE
    labels: str | None = "name"
    title: str | None = None

    def __post_init__(self):
        from stpmap.data.registry import registry

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
