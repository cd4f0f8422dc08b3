"""Joining the user's own figures (CSV or Excel) to footprints, CCGs or districts.

A row is matched by, in this order of preference:

* a footprint code (E54...), or its ODS code (from 2020, e.g. ``QE1``);
* a CCG code: GSS (E38...) or ODS (e.g. ``02N``);
* a local authority district code (E06/E07/E08/E09);
* a footprint name, through the one resolver,
  :func:`stpmap.data.aliases.resolve_footprint`: the ONS name of any
  vintage, the NHS and ICB names ("NHS Frimley Integrated Care Board"), short
  names and abbreviations (BLMK, BNSSG) and ODS codes, ignoring case,
  punctuation and words such as 'NHS' or 'ICB'. A fuzzy match is used only
  when it is unambiguous, and every one is listed in :attr:`Joined.messages`;
  a name that is no footprint's is an error naming the closest names;
* a CCG or district name, normalised (case, '&' and 'and', punctuation, and
  for CCGs the 'NHS' prefix and 'CCG' suffix do not matter).

The join column may be named as in any vintage's official files, in any case
(``STP17CD``, ``stp21cd``, ``ICB22CD``, ``CCG17CDH``...), or given explicitly.
CCG figures can be combined into footprints (``aggregate="sum"`` for counts,
``"mean"`` for a population-weighted mean of rates); district figures are
shared out by the population each district has in each footprint.

**Data of another vintage.** Footprint and CCG codes and names belong to
vintages: E54000049 is a footprint of 2018 and 2019 only, and the ODS code
QUA names one area in 2020-2021 and another in 2022. When the keys are not
all of the map's vintage, the vintages that hold them all are found
(:class:`DataVintage`), and the figures are

* mapped on that vintage's boundaries, when no vintage was asked for
  (:func:`vintage_to_map`, which :class:`~stpmap.maps.options.MapOptions`
  asks), or
* carried to the map's vintage, LSOA by LSOA, by the population-weighted
  crosswalk (:func:`stpmap.data.crosswalk.crosswalk`): ``aggregate="sum"``
  splits counts by population share, ``aggregate="mean"`` takes
  population-weighted means. One of the two must be given: a figure cannot
  be carried across a boundary change without knowing which it is.

Either way the map says so (:attr:`Joined.vintage_note`). Keys that fit
several vintages in which they name different areas are an error asking for
the data's vintage (``data_vintage``, ``--data-vintage YEAR``); when they name
the same areas in each, the year in the column's header (``STP18CD``) picks
one, else the earliest. Keys that fit the map's own vintage are joined as
they are, and nothing more is said. District codes and CCG names are matched
in the map's vintage only.

Nothing is dropped silently: rows that match nothing, repeated keys, values
that are not numbers and footprints left incomplete are all listed in
:attr:`Joined.messages`.

>>> import pandas as pd
>>> from stpmap.maps.userdata import join
>>> df = pd.DataFrame({"STP17CD": ["E54000005", "E99999999"], "beds": [10, 3]})
>>> j = join(df, 2017)                        # doctest: +SKIP
>>> j.values["E54000005"], j.unmatched        # doctest: +SKIP
(10.0, ['E99999999'])
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from stpmap.data import aliases as _aliases
from stpmap.data import atlas as _atlas
from stpmap.data.names import normalise, normalise_ccg
from stpmap.data.registry import registry
from stpmap.errors import ChoiceError, InputError
from stpmap.files.read import read_table
from stpmap.maps.words import as_of, layer_words

AGGREGATES = ("sum", "mean")
LEVEL_WORDS = {"stp": "footprint", "ccg": "CCG", "lad": "local authority district"}

# Header names that say what a column holds, any vintage, any case.
_HEADER_PATTERNS = [
    ("stp", "code", re.compile(r"^(stp|icb|ics)\d{0,2}[ _]?(cd|code)$|^footprint[ _]?code$|^e54[ _]?code$")),
    ("stp", "ods", re.compile(r"^(stp|icb|ics)\d{0,2}[ _]?(cdh|ods|ods[ _]code|nhs[ _]code)$")),
    ("ccg", "code", re.compile(r"^(ccg|sicbl|loc)\d{0,2}[ _]?(cd|code)$")),
    ("ccg", "ods", re.compile(r"^(ccg|sicbl|loc)\d{0,2}[ _]?(cdh|ods|ods[ _]code|nhs[ _]code)$|^ods[ _]code$|^org[ _]?code$")),
    ("lad", "code", re.compile(r"^(lad|ltla|la|utla)\d{0,2}[ _]?(cd|code)$|^local[ _]authority[ _]code$")),
    ("stp", "name", re.compile(r"^(stp|icb|ics)\d{0,2}[ _]?(nm|name)$|^footprint([ _]name)?$|^stp$")),
    ("ccg", "name", re.compile(r"^(ccg|sicbl|loc)\d{0,2}[ _]?(nm|name)$|^ccg$")),
    ("lad", "name", re.compile(r"^(lad|ltla|la|utla)\d{0,2}[ _]?(nm|name)$|^local[ _]authority([ _]name)?$")),
    (None, None, re.compile(r"^(code|area[ _]?code|geography[ _]code|name|area|area[ _]name|geography)$")),
]

#: Kinds of key, (level, kind), in the order a tie prefers them.
KEY_KINDS = (("stp", "code"), ("ccg", "code"), ("ccg", "ods"), ("lad", "code"), ("stp", "ods"),
             ("stp", "name"), ("ccg", "name"), ("lad", "name"))
#: Kinds of key looked for in every vintage (districts and CCG names: in the map's vintage only).
VINTAGED_KINDS = (("stp", "code"), ("stp", "ods"), ("stp", "name"), ("ccg", "code"), ("ccg", "ods"))
# What a CCG code of another vintage looks like: only such values make other vintages' CCGs be read.
_CCG_SHAPES = {"code": re.compile(r"^E38\d{6}$"), "ods": re.compile(r"^(?!Q[A-Z0-9]{2}$)(?=[A-Z]*\d)[A-Z0-9]{3,5}$")}
_KIND_WORDS = {"code": "GSS code", "ods": "ODS code", "name": "name"}
_YEAR_IN_HEADER = re.compile(r"(?<!\d)(\d{2})(?!\d)")  # STP18CD -> 18


@dataclass
class Joined:
    """The user's figures, matched to the areas of one map layer.

    Attributes
    ----------
    values : pandas.Series
        One value per area of ``layer``, indexed by the area's code (areas with
        no value are absent).
    layer : str
        ``stp``, ``ccg`` or ``lad``: the areas ``values`` belong to.
    level : str
        The areas the user's rows were matched to (``ccg`` when CCG figures
        were combined into footprints).
    matched_by : str
        What the join column held, e.g. "CCG ODS code".
    join_column, value_column : str
        The user's column names.
    unmatched : list
        Values of the join column that matched no area, as written.
    vintage, data_vintage : int
        The map's vintage, and the vintage whose areas the rows name; they
        differ when the figures were carried (:attr:`carried`).
    vintage_note : str
        What the map says of the data's vintage, e.g. "figures given for April
        2018 STP footprints, carried to July 2022 Integrated Care Boards by
        population share"; empty when the data are of the map's vintage.
    fuzzy : list
        (name given, name matched, code, score) of each name found by a fuzzy match.
    """

    values: pd.Series
    layer: str
    level: str
    matched_by: str
    join_column: str
    value_column: str
    source: str = "data"
    rows: int = 0
    unmatched: list = field(default_factory=list)
    blank_keys: int = 0
    non_numeric: list = field(default_factory=list)
    incomplete: dict = field(default_factory=dict)
    aggregate: str | None = None
    numeric: bool = True
    vintage: int | None = None
    data_vintage: int | None = None
    vintage_note: str = ""
    vintage_message: str = ""
    fuzzy: list = field(default_factory=list)

    @property
    def carried(self) -> bool:
        """Whether the figures were carried from the data's vintage to the map's."""
        return self.data_vintage is not None and self.vintage is not None and self.data_vintage != self.vintage

    @property
    def messages(self) -> list[str]:
        """Everything a user should know about the join, one sentence each."""
        out = [self.vintage_message] if self.vintage_message else []
        word = LEVEL_WORDS[self.level]
        if self.fuzzy:
            n = len(self.fuzzy)
            shown = "; ".join(f"{g!r} -> {m!r} ({c}, score {s:.0f})" for g, m, c, s in self.fuzzy[:12])
            out.append(
                f"{n} name{'s' if n > 1 else ''} in {self.join_column!r} {'were' if n > 1 else 'was'} matched by a "
                f"fuzzy match; check {'them' if n > 1 else 'it'}: {shown}{' ...' if n > 12 else ''}. Give the exact "
                "name, an abbreviation or the code to silence this."
            )
        if self.unmatched:
            shown = ", ".join(repr(v) for v in self.unmatched[:12]) + (" ..." if len(self.unmatched) > 12 else "")
            out.append(
                f"{len(self.unmatched)} of {self.rows} rows of {self.source} matched no {word} "
                f"by column {self.join_column!r} ({self.matched_by}): {shown}. They are not on the map; "
                "check the spelling or the vintage."
            )
        if self.blank_keys:
            out.append(f"{self.blank_keys} rows of {self.source} have an empty {self.join_column!r}; they are not on the map.")
        if self.non_numeric:
            shown = ", ".join(f"{k!r}: {v!r}" for k, v in self.non_numeric[:8]) + (" ..." if len(self.non_numeric) > 8 else "")
            out.append(f"{len(self.non_numeric)} values of {self.value_column!r} are not numbers and count as missing: {shown}.")
        if self.incomplete:
            out.append(self._incomplete_message())
        return out

    def _incomplete_message(self) -> str:
        shown = "; ".join(f"{k}: {v}" for k, v in list(self.incomplete.items())[:8]) + (" ..." if len(self.incomplete) > 8 else "")
        n = len(self.incomplete)
        if self.carried:
            return (f"{n} footprint{'s are' if n > 1 else ' is'} not wholly covered by the {LEVEL_WORDS[self.level]}s "
                    f"of {self.data_vintage} in the data and {'are' if n > 1 else 'is'} shown as no data: {shown}.")
        return (f"{n} footprint{'s lack' if n > 1 else ' lacks'} a value for some of {'their' if n > 1 else 'its'} "
                f"{'CCGs' if self.level == 'ccg' else 'districts'} and {'are' if n > 1 else 'is'} shown as no data: {shown}.")

    def summary(self) -> str:
        if self.carried:
            agg = f", carried from {self.data_vintage} ({self.aggregate} by population share)"
        else:
            agg = f", {self.aggregate} of {LEVEL_WORDS[self.level]}s" if self.aggregate else ""
        return f"{self.value_column!r} from {self.source} by {self.matched_by}{agg}"


# ---------------------------------------------------------------- the keys


class _Keys:
    """The keys of each vintage's areas, looked up once per join: for a
    (level, kind) of :data:`KEY_KINDS` and a vintage, a dict normalised key
    -> area code.

    Footprint codes and ODS codes come from the alias table (no atlas is
    read for them); CCG and district keys from the vintage's atlas; footprint
    names from the resolver, for the join column's own values (``names``),
    keeping what it found (``resolved``) and what it did not (``unknown``:
    name -> why) for each vintage."""

    def __init__(self):
        self._memo: dict = {}
        self.names: list[str] = []
        self.resolved: dict[int, dict] = {}
        self.unknown: dict[int, dict] = {}

    def table(self, level: str, kind: str, vintage: int) -> dict[str, str]:
        key = (level, kind, vintage)
        if key not in self._memo:
            self._memo[key] = self._build(level, kind, vintage)
        return self._memo[key]

    def _build(self, level: str, kind: str, v: int) -> dict[str, str]:
        if (level, kind) == ("stp", "code"):
            return {c: c for c in _aliases.codes(v)}
        if (level, kind) == ("stp", "ods"):
            return {a.alias.upper(): a.code for a in _aliases.aliases() if a.kind == "ods_code" and v in a.vintages}
        if (level, kind) == ("stp", "name"):
            self._resolve(v)
            return {n: r.code for n, r in self.resolved[v].items() if r.in_vintage}
        if level == "ccg":
            t = _atlas.table("ccg", v, columns=["code", "ods_code", "name"])
            if kind == "ods":
                return {str(o).upper(): c for c, o in zip(t["code"], t["ods_code"]) if isinstance(o, str)}
            return {c.upper(): c for c in t["code"]} if kind == "code" else {normalise_ccg(n): c for c, n in zip(t["code"], t["name"])}
        t = _atlas.table("lad", v, columns=["code", "name"])
        return {c.upper(): c for c in t["code"]} if kind == "code" else {normalise(n): c for c, n in zip(t["code"], t["name"])}

    def _resolve(self, v: int) -> None:
        found, unknown = {}, {}
        for name in self.names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", _aliases.FootprintNameWarning)  # said together, in Joined.messages
                try:
                    res = _aliases.resolve_footprint(name, v)
                except _aliases.FootprintNameError as exc:
                    close = [repr(c) for c in exc.choices[:3]]
                    unknown[name] = f"did you mean {' or '.join(close)}?" if close else "no footprint name is close to it"
                    continue
            if res.matched_by in ("ccg_code", "ccg_ods_code"):
                unknown[name] = "a CCG's code, not a footprint's: give CCG figures in a column of their own"
                continue
            found[name] = res
        self.resolved[v], self.unknown[v] = found, unknown


def _norm(level: str, kind: str, value) -> str:
    s = str(value).strip()
    if kind == "name":
        return s if level == "stp" else normalise_ccg(s) if level == "ccg" else normalise(s)
    return s.upper()


def _footprint_alias_keys() -> tuple[set, set]:
    """Every alias of the alias table in the resolver's form, and without spaces."""
    keys = {a.key for a in _aliases.aliases()}
    return keys, {k.replace(" ", "") for k in keys}


def _rates(raw: list, keys: _Keys, vintage: int) -> dict[tuple[str, str], int]:
    """How many of a column's distinct values (``raw``) each kind of key
    matches: footprint codes, ODS codes and names of any vintage; CCG and
    district keys of ``vintage``."""
    alias_keys, compact = _footprint_alias_keys()
    every_ods = {a.alias.upper() for a in _aliases.aliases() if a.kind == "ods_code"}
    rates = {}
    for level, kind in KEY_KINDS:
        if (level, kind) == ("stp", "code"):
            n = sum(bool(re.fullmatch(r"E54\d{6}", s) and _aliases.code_vintages(s)) for s in (_norm(level, kind, v) for v in raw))
        elif (level, kind) == ("stp", "ods"):
            n = sum(_norm(level, kind, v) in every_ods for v in raw)
        elif (level, kind) == ("stp", "name"):
            n = sum(k in alias_keys or k.replace(" ", "") in compact for k in (_aliases.footprint_key(v) for v in raw) if k)
        else:
            table = keys.table(level, kind, vintage)
            n = sum(_norm(level, kind, v) in table for v in raw)
        rates[(level, kind)] = int(n)
    return rates


def _ccg_rates_elsewhere(raw: list, keys: _Keys, vintage: int) -> dict[tuple[str, str], int]:
    """How many values are CCG codes of a vintage other than ``vintage`` (only
    values shaped like CCG codes make the other vintages' CCGs be read)."""
    rates = {}
    for kind, shape in _CCG_SHAPES.items():
        shaped = {s for s in (_norm("ccg", kind, v) for v in raw) if shape.match(s)}
        if shaped:
            known = set().union(*(keys.table("ccg", kind, w) for w in registry().vintages if w != vintage))
            rates[("ccg", kind)] = len(shaped & known)
    return rates


def _require_column(df: pd.DataFrame, name: str, what: str) -> str:
    wanted = str(name).strip().lower()
    for c in df.columns:
        if c.lower() == wanted:
            return c
    raise ChoiceError(f"{what} column", name, list(df.columns), "in the data file")


def _distinct(col: pd.Series) -> list:
    """The column's distinct values that are not blank, in order."""
    return [v for v in col.dropna().unique() if str(v).strip()]


def _guess_join_column(df: pd.DataFrame, keys: _Keys, vintage: int) -> str:
    cols = list(df.columns)
    for level, kind, pattern in _HEADER_PATTERNS:
        for c in cols:
            if pattern.match(c.strip().lower()):
                return c
    best, best_n = None, 0
    for c in cols:
        n = max(_rates(_distinct(df[c]), keys, vintage).values())
        if n > best_n:
            best, best_n = c, n
    if best is None:
        raise InputError(
            "Cannot tell which column of the data names the areas: no column is called like a code or name "
            "(STP17CD, CCG17CDH, name...) and none holds footprint, CCG or district codes or names. Columns: "
            + ", ".join(repr(c) for c in cols) + ". Give it with --join-on COLUMN."
        )
    return best


def _guess_value_column(df: pd.DataFrame, join_column: str) -> str:
    numeric = []
    for c in df.columns:
        if c == join_column:
            continue
        v = _to_number(df[c])
        if v.notna().sum() >= max(1, 0.5 * df[c].notna().sum()):
            numeric.append(c)
    others = [c for c in df.columns if c != join_column]
    if len(numeric) == 1:
        return numeric[0]
    if not numeric and len(others) == 1:  # one column of categories
        return others[0]
    raise InputError(
        ("The data have several numeric columns" if numeric else "The data have no numeric column")
        + f"; say which to map with --value COLUMN (one of: {', '.join(repr(c) for c in others)})."
    )


_NUMBER_JUNK = re.compile(r"[,£$€%\s]")


def _to_number(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(float)
    return pd.to_numeric(s.astype("string").str.replace(_NUMBER_JUNK, "", regex=True), errors="coerce").astype(float)


def _what_the_column_holds(raw: list, jcol: str, keys: _Keys, vintage: int) -> tuple[str, str]:
    """The (level, kind) of key that matches most of the column's distinct values (``raw``)."""
    rates = _rates(raw, keys, vintage)
    if max(rates.values()) == 0:
        rates.update(_ccg_rates_elsewhere(raw, keys, vintage))
    best = max(KEY_KINDS, key=lambda lk: (rates[lk], -KEY_KINDS.index(lk)))
    if rates[best] == 0:
        sample = ", ".join(repr(v) for v in raw[:5])
        raise InputError(
            f"No value of column {jcol!r} ({sample}) is a footprint code, ODS code or name (of any vintage), or a CCG "
            f"or district code or name of vintage {vintage}. Check --join-on and --vintage; codes look like E54000005 "
            "or QE1 (footprint), E38000001 or 02N (CCG), E06000001 (district)."
        )
    return best


def _check_names(keys: _Keys, vintage: int, column: str, source: str) -> None:
    """Every name of the column names a footprint, else an error listing the closest names."""
    keys.table("stp", "name", vintage)
    unknown = keys.unknown[vintage]
    if not unknown:
        return
    n = len(unknown)
    shown = "; ".join(f"{k!r} ({why})" for k, why in list(unknown.items())[:8]) + (" ..." if n > 8 else "")
    raise InputError(
        f"{n} name{'s' if n > 1 else ''} in {column!r} of {source} {'are' if n > 1 else 'is'} no footprint's: "
        f"{shown}. Correct {'them' if n > 1 else 'it'}, give a code or abbreviation instead (`stpmap names` lists "
        "every name, abbreviation and code), or remove the rows; nothing was mapped."
    )


# ------------------------------------------------------------ the data's vintage


@dataclass(frozen=True)
class DataVintage:
    """The vintage whose areas a data file's keys name (``data``) and the
    map's (``map``).

    ``fits`` are the vintages in which every key names an area, when they
    were looked for (not when the keys fit the map's vintage, nor when the
    data's vintage was given: ``stated``).
    """

    data: int
    map: int
    fits: tuple[int, ...] = ()
    stated: bool = False

    @property
    def carried(self) -> bool:
        """The figures must be carried from the data's vintage to the map's."""
        return self.data != self.map


def _words(level: str, kind: str) -> str:
    return f"{LEVEL_WORDS[level]} {_KIND_WORDS[kind]}s"


def _and(years) -> str:
    years = [str(y) for y in years]
    return years[0] if len(years) == 1 else f"{', '.join(years[:-1])} and {years[-1]}"


def _spans(found: list, level: str, kind: str, keys: _Keys) -> str:
    """Each key with the vintages it names an area in, e.g. "'E54000049' (2018-2019)"."""
    out = []
    for k in found:
        years = [w for w in registry().vintages if k in keys.table(level, kind, w)]
        out.append(f"{k!r} ({_aliases.format_vintages(years) if years else 'no vintage'})")
    return ", ".join(out)


def _which_vintage(values: list, level: str, kind: str, keys: _Keys, vintage: int, data_vintage, *, given: bool,
                   layer: str, column: str) -> DataVintage:
    """The vintage the column's keys (``values``, normalised) are of.

    ``vintage`` is the map's; ``given`` says whether the user chose it (else
    it is the default, and the keys' own vintage is to be mapped). Keys that
    name no area of any vintage are left out (they are reported as
    unmatched); the others must all fit one vintage."""
    if data_vintage is not None:
        wrong = [k for k in values if k not in keys.table(level, kind, data_vintage)
                 and any(k in keys.table(level, kind, w) for w in registry().vintages)]
        if wrong:
            raise InputError(
                f"{len(wrong)} of the {_words(level, kind)} in {column!r} {'is not a' if len(wrong) == 1 else 'are not'} "
                f"{LEVEL_WORDS[level]}{'' if len(wrong) == 1 else 's'} of {data_vintage}, the vintage given for the data (--data-vintage {data_vintage}): {_spans(wrong[:6], level, kind, keys)}"
                f"{' ...' if len(wrong) > 6 else ''}. Give the vintage the data are of, or leave --data-vintage out to "
                "have it found from the codes."
            )
        return DataVintage(data_vintage, vintage, stated=True)
    outside = [k for k in values if k not in keys.table(level, kind, vintage)]
    if level == "ccg":  # only what looks like a CCG code makes the other vintages' CCGs be read
        outside = [k for k in outside if _CCG_SHAPES[kind].match(k)]
    if not outside:
        return DataVintage(vintage, vintage)
    every = registry().vintages
    known = [k for k in values if any(k in keys.table(level, kind, w) for w in every)]
    fits = tuple(w for w in every if all(k in keys.table(level, kind, w) for k in known))
    if not known or vintage in fits:
        return DataVintage(vintage, vintage)  # the rest matches nothing: said as unmatched rows
    if not fits:
        _no_vintage_fits(known, level, kind, keys, column)
    if len(fits) > 1:
        differ = _differences(known, level, kind, keys, fits, None if given else layer)
        if differ:
            raise InputError(
                f"The {_words(level, kind)} in {column!r} all name {LEVEL_WORDS[level]}s of {_and(fits)}, but not "
                f"the same areas in each ({'; '.join(differ[:4])}), so which vintage the data are of matters. "
                f"Say it with --data-vintage YEAR (data_vintage=YEAR in Python)"
                + (", or map them on one of those vintages' boundaries with --vintage YEAR." if not given else ".")
            )
    return DataVintage(_pick(fits, column), vintage, fits)


def _no_vintage_fits(known: list, level: str, kind: str, keys: _Keys, column: str):
    """Raise: the keys are not all of one vintage; list those that do not fit the likeliest one."""
    every = registry().vintages
    counts = {w: sum(k in keys.table(level, kind, w) for k in known) for w in every}
    best = max(every, key=lambda w: (counts[w], w))
    odd = [k for k in known if k not in keys.table(level, kind, best)]
    raise InputError(
        f"The {_words(level, kind)} in {column!r} are not all of one vintage: {counts[best]} of {len(known)} name "
        f"{LEVEL_WORDS[level]}s of {best}, but {_spans(odd[:6], level, kind, keys)}{' ...' if len(odd) > 6 else ''} "
        f"{'do' if len(odd) > 1 else 'does'} not. A map takes the data of one vintage: correct those rows, or remove "
        "the rows of the other vintage."
    )


def _pick(fits: tuple, column: str) -> int:
    """Of vintages in which the keys name the same areas: the one the header names (STP18CD), else the earliest."""
    for yy in _YEAR_IN_HEADER.findall(column):
        if 2000 + int(yy) in fits:
            return 2000 + int(yy)
    return fits[0]


def _signatures(vintage: int, level: str) -> dict[str, int]:
    """Each area of ``level`` in ``vintage``, as a hash of its LSOAs: equal hashes, equal areas."""
    lsoa = _atlas.layer("lsoa", vintage)
    return {code: hash(tuple(sorted(g))) for code, g in lsoa.groupby(f"{level}_code")["lsoa_code"]}


def _differences(known: list, level: str, kind: str, keys: _Keys, fits: tuple, layer: str | None) -> list[str]:
    """How the vintages ``fits`` differ for the data: keys naming different
    areas in them and, with ``layer``, the map's areas themselves."""
    signatures = {w: _signatures(w, level) for w in fits}
    out = []
    for k in known:
        codes = {w: keys.table(level, kind, w)[k] for w in fits}
        if len({signatures[w].get(codes[w]) for w in fits}) > 1:
            by_code: dict[str, list] = {}
            for w in fits:
                by_code.setdefault(codes[w], []).append(w)
            said = ", ".join(f"{c} in {_aliases.format_vintages(ys)}" for c, ys in by_code.items())
            out.append(f"{k!r} is {said}" if len(by_code) > 1 else f"{k!r} ({codes[fits[0]]}) changed area")
    if layer in ("stp", "ccg") and not out:
        shapes = {w: frozenset((_signatures(w, layer) if layer != level else signatures[w]).values()) for w in fits}
        if len(set(shapes.values())) > 1:
            out.append(f"the {layer_words(layer, fits[0])[1]} to map them on differ")
    return out


def vintage_to_map(data, *, join_on=None, layer: str = "stp", data_vintage=None, encoding=None, sheet=None) -> int | None:
    """The vintage to map ``data`` on when the map's vintage is not given.

    ``data_vintage`` when given; else the vintage the data's footprint or CCG
    keys are found to be of, when they do not fit the default vintage; else
    ``None`` (the default vintage). Keys that fit several vintages in which
    they name different areas (or whose maps differ) are an
    :class:`InputError` asking for ``data_vintage``.
    """
    reg = registry()
    if data_vintage is not None:
        return reg.check_vintage(data_vintage)
    default = reg.check_vintage(None)
    df, source = _data_frame(data, sheet, encoding)
    keys = _Keys()
    jcol = _require_column(df, join_on, "join") if join_on else _guess_join_column(df, keys, default)
    raw = _distinct(df[jcol])
    level, kind = _what_the_column_holds(raw, jcol, keys, default)
    if (level, kind) not in VINTAGED_KINDS:
        return None
    values = list(dict.fromkeys(_norm(level, kind, v) for v in raw))
    if kind == "name":
        keys.names = values
        _check_names(keys, default, jcol, source)
    found = _which_vintage(values, level, kind, keys, default, None, given=False, layer=layer, column=jcol)
    return None if found.data == default else found.data


def _say_vintage(out: Joined, found: DataVintage, kind: str) -> None:
    """What the map says of the data's vintage (nothing when it is the map's own, found so)."""
    if not found.carried and not found.stated:
        return
    w, m, level = found.data, found.map, out.level
    data_areas = f"{as_of(w)} {layer_words(level, w)[1]}"
    if not found.carried:
        out.vintage_message = (f"The {_words(level, kind)} in {out.join_column!r} are those of the {data_areas}: the "
                               f"map shows them on {as_of(w)} boundaries.")
        out.vintage_note = f"figures given for {data_areas}"
        return
    map_areas = f"{as_of(m)} {layer_words('stp', m)[1]}"
    others = [str(y) for y in found.fits if y != w]
    also = f" (and of {_and(others)}, the same areas)" if others else ""
    how = "counts split by population share" if out.aggregate == "sum" else "population-weighted means"
    out.vintage_message = (f"The {_words(level, kind)} in {out.join_column!r} are those of the {data_areas}{also}, not "
                           f"of {as_of(m)}: the figures are carried to the {map_areas}, LSOA by LSOA ({how}).")
    out.vintage_note = f"figures given for {data_areas}, carried to {map_areas} by population share"


# -------------------------------------------------------------------- join


def join(data, vintage, layer: str = "stp", join_on: str | None = None, value: str | None = None,
         aggregate: str | None = None, sheet=None, areas=None, encoding: str | None = None,
         data_vintage: int | None = None) -> Joined:
    """Match the user's rows to the areas of ``layer`` and return one value per area.

    Parameters
    ----------
    data : path or DataFrame
        CSV or XLSX file (or a DataFrame) with one row per footprint, CCG or
        district.
    vintage : int
        The map's vintage (2017 to 2022): the footprints, CCGs and districts
        the values are wanted for.
    layer : {"stp", "ccg", "lad"}
        The areas the values are wanted for.
    join_on : str, optional
        The column naming the areas (case-insensitive). Default: a column
        named like an official code or name field (``STP17CD``, ``ccg21cdh``,
        ``name``...), else the column whose values match the most areas.
    value : str, optional
        The column to map. Default: the only numeric column.
    aggregate : {"sum", "mean"}, optional
        How CCG (or district) figures become footprint figures when
        ``layer="stp"``, and how figures of another vintage are carried to
        ``vintage``: ``"sum"`` for counts (split by population share),
        ``"mean"`` for the population-weighted mean (for rates and
        percentages). Required then.
    sheet : str or int, optional
        The sheet of an Excel file (default: the first).
    encoding : str, optional
        The encoding of a CSV file (default: UTF-8, with or without a
        byte-order mark).
    data_vintage : int, optional
        The vintage of the data's codes or names. Default: ``vintage`` when
        they fit it, else the one vintage they fit (see the module's doc).

    Returns
    -------
    Joined

    Examples
    --------
    >>> j = join("beds.csv", 2017, join_on="CCG", value="Beds", aggregate="sum")  # doctest: +SKIP
    >>> for line in j.messages: print(line)                                       # doctest: +SKIP
    """
    if layer not in LEVEL_WORDS:
        raise ChoiceError("layer", layer, list(LEVEL_WORDS))
    if aggregate is not None and aggregate not in AGGREGATES:
        raise ChoiceError("aggregate", aggregate, AGGREGATES)
    m = registry().check_vintage(vintage)
    dv = None if data_vintage is None else registry().check_vintage(data_vintage)
    df, source = _data_frame(data, sheet, encoding)
    keys = _Keys()
    jcol = _require_column(df, join_on, "join") if join_on else _guess_join_column(df, keys, dv or m)
    vcol = _require_column(df, value, "value") if value else _guess_value_column(df, jcol)
    if vcol == jcol:
        raise InputError(f"--value and --join-on are the same column ({jcol!r}); the value must be another column.")
    raw = _distinct(df[jcol])
    level, kind = _what_the_column_holds(raw, jcol, keys, dv or m)
    found = _the_data_vintage(raw, level, kind, keys, m, dv, layer, jcol, source)
    word = LEVEL_WORDS[level]
    numbers = _to_number(df[vcol])
    numeric = bool(numbers.notna().sum() >= max(1, 0.5 * df[vcol].notna().sum()))
    out = Joined(values=pd.Series(dtype=float), layer=layer, level=level, matched_by=f"{word} {_KIND_WORDS[kind]}",
                 join_column=jcol, value_column=vcol, source=source, rows=len(df), numeric=numeric, vintage=m,
                 data_vintage=found.data)
    if kind == "name" and level == "stp":
        resolved = keys.resolved[found.data]
        out.fuzzy = [(n, r.name, r.code, r.score) for n, r in resolved.items() if r.matched_by == "fuzzy"]
    frame = _matched_rows(df, out, keys.table(level, kind, found.data), kind, numbers)
    per_area = _one_value_per_area(frame, word, source)
    if found.carried:
        out.values = _carry(per_area, out, found, aggregate, areas)
        _say_vintage(out, found, kind)
        return out
    _say_vintage(out, found, kind)
    if level == layer:
        out.values = per_area.dropna()
        return out
    _check_can_combine(out, aggregate)
    out.aggregate = aggregate
    out.values = _aggregate(per_area, level, m, aggregate, out, areas)
    return out


def _the_data_vintage(raw: list, level: str, kind: str, keys: _Keys, vintage: int, data_vintage, layer: str,
                      column: str, source: str) -> DataVintage:
    """The vintage the column's keys are of (:func:`_which_vintage`), for a map of ``vintage``."""
    if (level, kind) not in VINTAGED_KINDS:
        if data_vintage not in (None, vintage):
            raise InputError(
                f"The data are by {_words(level, kind)}, which are matched in the map's vintage only: leave out "
                f"--data-vintage, or map them with --vintage {data_vintage}."
            )
        return DataVintage(vintage, vintage)
    values = list(dict.fromkeys(_norm(level, kind, v) for v in raw))
    if kind == "name":
        keys.names = values
        _check_names(keys, data_vintage or vintage, column, source)
    return _which_vintage(values, level, kind, keys, vintage, data_vintage, given=True, layer=layer, column=column)


def _data_frame(data, sheet, encoding) -> tuple[pd.DataFrame, str]:
    """The user's rows, and what to call them in messages."""
    if isinstance(data, pd.DataFrame):
        df = data.copy()
        df.columns = [str(c).strip() for c in df.columns]
        return df, "the data"
    path = Path(data)
    try:
        st = path.stat()
    except OSError:  # read_table says what is wrong with the path
        return _read_file(str(path), None, sheet, encoding).copy(), path.name
    # a map reads its file twice (its vintage is found before the join): read once, while the file is unchanged
    return _read_file(str(path.resolve()), (st.st_ino, st.st_size, st.st_mtime_ns), sheet, encoding).copy(), path.name


@functools.lru_cache(maxsize=8)
def _read_file(path: str, identity, sheet, encoding) -> pd.DataFrame:
    # only what was given is passed on, so the reader's own defaults apply otherwise
    given = {name: v for name, v in (("sheet", sheet), ("encoding", encoding)) if v is not None}
    return read_table(path, **given, encoding_option="--data-encoding")


def _matched_rows(df: pd.DataFrame, out: Joined, table: dict, kind: str, numbers: pd.Series) -> pd.DataFrame:
    """Each row's area code, value and key, for the rows that match an area.
    Blank keys, keys that match nothing and values that are not numbers are
    counted in ``out``."""
    col, raw_values = df[out.join_column], df[out.value_column]
    codes = []
    for key in col:
        if key is None or (isinstance(key, float) and np.isnan(key)) or str(key).strip() == "":
            out.blank_keys += 1
            codes.append(None)
            continue
        code = table.get(_norm(out.level, kind, key))
        if code is None:
            out.unmatched.append(key)
        codes.append(code)
    if out.numeric:
        vals = numbers
        bad = raw_values.notna() & numbers.isna() & raw_values.astype("string").str.strip().ne("")
        out.non_numeric = [(k, v) for k, v in zip(col[bad], raw_values[bad])]
    else:
        vals = raw_values.where(raw_values.notna(), None)
    return pd.DataFrame({"code": codes, "value": vals.values, "key": col.values}).dropna(subset=["code"])


def _one_value_per_area(frame: pd.DataFrame, word: str, source: str) -> pd.Series:
    """The value of each area; the same area twice is fine if the values agree, an error otherwise."""
    dup = frame[frame["code"].duplicated(keep=False)]
    if len(dup):
        clash = dup.groupby("code")["value"].nunique(dropna=False)
        clash = clash[clash > 1]
        if len(clash):
            shown = "; ".join(
                f"{c}: " + ", ".join(f"{k!r}={v!r}" for k, v in zip(dup.loc[dup.code == c, "key"], dup.loc[dup.code == c, "value"]))
                for c in clash.index[:6]
            )
            raise InputError(
                f"{len(clash)} {word}s appear more than once in {source} with different values ({shown}). "
                "Keep one row per area, or add the rows up first."
            )
    return frame.drop_duplicates("code").set_index("code")["value"]


def _check_can_combine(out: Joined, aggregate) -> None:
    """Values of CCGs or districts can be combined into footprints, if numbers and told how."""
    word, layer, level, jcol = LEVEL_WORDS[out.level], out.layer, out.level, out.join_column
    if layer != "stp" or level == "stp":
        raise InputError(
            f"The data are by {word} ({out.matched_by} in {jcol!r}) but the map shows {LEVEL_WORDS[layer]}s. "
            f"Use --layer {level} to map them{', or --layer stp with --aggregate' if level != 'stp' else ''}."
        )
    if not out.numeric:
        raise InputError(f"Column {out.value_column!r} is not numeric, so {word} values cannot be combined into "
                         f"footprints. Use --layer {level}.")
    if aggregate is None:
        raise InputError(
            f"The data are by {word} ({out.matched_by} in {jcol!r}); the map shows footprints. Say how to combine them: "
            f"--aggregate sum (counts: beds, patients) or --aggregate mean (population-weighted, for rates and "
            f"percentages), or map them as they are with --layer {level}."
        )


def _aggregate(per_area: pd.Series, level: str, vintage: int, how: str, out: Joined, areas=None) -> pd.Series:
    """CCG or district values combined into footprint values."""
    if level == "ccg":
        parts = _atlas.table("ccg", vintage, columns=["code", "stp_code", "population"]).rename(columns={"code": "area"})
        parts["weight"] = 1.0
    else:  # districts, shared out by the population each has in each footprint
        parts = _atlas.layer("stp_lad", vintage).rename(columns={"lad_code": "area"})
        parts["weight"] = parts["share_of_lad"].astype(float)
    parts["value"] = parts["area"].map(per_area)
    if areas is not None:
        parts = parts[parts["stp_code"].isin(set(areas))]
    result = {}
    names = _atlas.table("stp", vintage, columns=["code", "name"]).set_index("code")["name"]
    for stp_code, g in parts.groupby("stp_code", sort=True):
        missing = int(g["value"].isna().sum())
        if missing:
            out.incomplete[f"{names.get(stp_code, stp_code)} ({stp_code})"] = f"{missing} of {len(g)} missing"
            continue
        if how == "sum":
            result[stp_code] = float((g["value"] * g["weight"]).sum())
        else:
            pop = g["population"].astype(float)
            result[stp_code] = float((g["value"] * pop).sum() / pop.sum()) if pop.sum() > 0 else float(g["value"].mean())
    return pd.Series(result, dtype=float)


def _carry(per_area: pd.Series, out: Joined, found: DataVintage, how, areas=None) -> pd.Series:
    """Values of the areas of the data's vintage carried to the footprints of
    the map's, by the population-weighted crosswalk; footprints not wholly
    covered by the data are listed in ``out.incomplete``, not mapped."""
    from stpmap.data.crosswalk import CrosswalkWarning, crosswalk

    w, m, word = found.data, found.map, LEVEL_WORDS[out.level]
    own = f"map them on their own boundaries with --vintage {w}"
    if out.layer != "stp":
        raise InputError(f"The data are by {word}s of {w}, not of {m}: they can be carried to the footprints of {m} "
                         f"(--layer stp, with --aggregate), or {own}.")
    if not out.numeric:
        raise InputError(f"Column {out.value_column!r} is not numeric, so its values cannot be carried from the {word}s "
                         f"of {w} to the footprints of {m}: {own}.")
    if how is None:
        raise InputError(
            f"The data are by {word}s of {w} ({out.matched_by} in {out.join_column!r}); the map shows the footprints of "
            f"{m}, whose boundaries differ. Say how to carry the figures across: --aggregate sum (counts: beds, "
            "patients; split by population share) or --aggregate mean (rates and percentages; population-weighted), "
            f"or {own}."
        )
    out.aggregate = how
    table = pd.DataFrame({"code": list(per_area.index), "value": per_area.to_numpy(dtype=float)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CrosswalkWarning)  # what the map lacks is said in Joined.messages
        res = crosswalk(table, w, m, code="code", value="value", how=how, layer=out.level)
    cover = res["coverage_value" if "coverage_value" in res else "coverage"]
    keep = res["code"].isin(set(areas)) if areas is not None else pd.Series(True, index=res.index)
    full = keep & (cover >= 1 - 1e-9)
    part = keep & ~full
    for code, name, share in zip(res.loc[part, "code"], res.loc[part, "name"], cover[part]):
        out.incomplete[f"{name} ({code})"] = f"{np.floor(share * 1000) / 10:g}% of its people covered"
    return pd.Series(res.loc[full, "value"].to_numpy(dtype=float), index=res.loc[full, "code"].to_numpy()).dropna()
