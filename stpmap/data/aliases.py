"""Footprints by the names people use.

The alias table ``geodata/aliases.csv`` (shipped as ``stpmap/geodata``) lists,
for each footprint code and the vintages it holds in, the names and codes it
goes by: the ONS name of each vintage, the NHS ODS code (``Q..``), the ICB
name of July 2022, names from NHS papers, short names and abbreviations, each
with its source. CCG ODS codes (``02M``) are read from the atlas of the
vintage, so that they always agree with its CCG layer.

:func:`resolve_footprint` turns what a user typed into a footprint:

>>> resolve_footprint("Cambridge and Peterborough", 2017).code
'E54000021'
>>> resolve_footprint("BLMK", 2021).name
'Bedfordshire, Luton and Milton Keynes'

Matching ignores case, punctuation, '&'/'and', 'the' and the words that only
say what kind of body a name is ('NHS', 'STP', 'ICS', 'ICB', 'Integrated Care
Board', 'Health and Care Partnership'...). An exact alias wins; otherwise a
fuzzy match (rapidfuzz) is used only when one footprint is a clear winner,
and it is always reported with a :class:`FootprintNameWarning`.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field, replace
from functools import lru_cache

from rapidfuzz import fuzz

from stpmap.data.names import normalise
from stpmap.data.registry import REGISTRY_FILE, registry
from stpmap.errors import ChoiceError, DataError, InputError

#: The alias table, beside the data-source registry.
ALIASES_FILE = REGISTRY_FILE.with_name("aliases.csv")
COLUMNS = ("code", "vintages", "kind", "alias", "source")
#: Kinds of alias, in the order an exact match prefers them.
KINDS = ("ons_name", "icb_name", "nhs_name", "ics_name", "ods_code", "short_name", "abbreviation")
#: Kinds that are names: the only ones a fuzzy match may use.
NAME_KINDS = ("ons_name", "icb_name", "nhs_name", "ics_name")
#: Kinds that give a footprint's official name in a vintage.
OFFICIAL_KINDS = ("ons_name", "icb_name")
#: A fuzzy match needs this score (0-100) ...
FUZZY_THRESHOLD = 85.0
#: ... and this lead over the best other footprint.
FUZZY_MARGIN = 8.0
#: An unknown name's "did you mean" lists names scoring at least this.
SUGGEST_THRESHOLD = 55.0

_CODE = re.compile(r"^E54\d{6}$")
# A CCG's ODS code (3 to 5 letters and digits, at least one digit: 02M, X2C4Y) or GSS code.
_CCG = re.compile(r"^(?:(?=[A-Z]*\d)[A-Z0-9]{3,5}|E38\d{6})$")
# Words that say what kind of body a name is, not which one (normalised form).
_FILLER = re.compile(
    r"\b(?:integrated care (?:board|system|partnership)s?"
    r"|sustainability and transformation (?:partnerships?|plans?)?"
    r"|health and (?:social )?care partnership|and social care partnership"
    r"|nhs|stp|ics|icb|icp|footprint)\b"
)
_TRAILING = re.compile(r"\bhealth and care$")
_DROP = {"and", "the"}
#: The usual short forms of county names, read as the full name.
COUNTY_SHORT_FORMS = {
    "beds": "bedfordshire", "berks": "berkshire", "bucks": "buckinghamshire", "cambs": "cambridgeshire",
    "derbys": "derbyshire", "glos": "gloucestershire", "hants": "hampshire", "herts": "hertfordshire",
    "lancs": "lancashire", "leics": "leicestershire", "lincs": "lincolnshire", "northants": "northamptonshire",
    "notts": "nottinghamshire", "oxon": "oxfordshire", "staffs": "staffordshire", "warks": "warwickshire",
    "wilts": "wiltshire", "worcs": "worcestershire", "yorks": "yorkshire",
}


def footprint_key(text) -> str:
    """The form names are compared in.

    >>> footprint_key("NHS Bedfordshire, Luton & Milton Keynes Integrated Care Board")
    'bedfordshire luton milton keynes'
    >>> footprint_key("West Yorkshire and Harrogate (Health and Care Partnership)")
    'west yorkshire harrogate'
    """
    s = _FILLER.sub(" ", normalise(text))
    s = _TRAILING.sub(" ", " ".join(s.split()))
    return " ".join(COUNTY_SHORT_FORMS.get(w, w) for w in s.split() if w not in _DROP)


def key_rules() -> dict:
    """The rules of :func:`footprint_key` as data, for a port in another
    language (the search box of the HTML maps): ``filler`` and ``trailing``
    are regular expressions that JavaScript reads the same way (ASCII word
    boundaries on text :func:`~stpmap.data.names.normalise` has lowered),
    ``drop`` the words left out, ``short_forms`` the county short forms."""
    return {"filler": _FILLER.pattern, "trailing": _TRAILING.pattern, "drop": sorted(_DROP),
            "short_forms": dict(COUNTY_SHORT_FORMS)}


def _compact(key: str) -> str:
    return key.replace(" ", "")


def parse_vintages(text: str) -> tuple[int, ...]:
    """'2017;2019-2021' -> (2017, 2019, 2020, 2021)."""
    years: set[int] = set()
    for part in str(text).split(";"):
        a, dash, b = part.strip().partition("-")
        lo, hi = int(a), int(b) if dash else int(a)
        if not 2000 < lo <= hi < 2100:
            raise ValueError(f"bad vintage range {part!r}")
        years.update(range(lo, hi + 1))
    return tuple(sorted(years))


def format_vintages(years) -> str:
    """(2017, 2018, 2021) -> '2017-2018;2021'."""
    years = sorted(set(years))
    runs: list[list[int]] = []
    for y in years:
        if runs and y == runs[-1][1] + 1:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    return ";".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


@dataclass(frozen=True)
class Alias:
    """One row of the alias table."""

    code: str
    vintages: tuple[int, ...]
    kind: str
    alias: str
    source: str
    key: str = field(compare=False)


@lru_cache(maxsize=1)
def aliases() -> tuple[Alias, ...]:
    """Every row of the alias table, checked (a malformed row is a DataError)."""
    try:
        with open(ALIASES_FILE, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise DataError(f"{ALIASES_FILE}: columns must be {', '.join(COLUMNS)}, not {reader.fieldnames}.")
            rows = list(reader)
    except OSError as exc:
        raise DataError(f"Cannot read the alias table {ALIASES_FILE}: {exc.strerror}. Reinstall stpmap.") from exc
    out = []
    for n, r in enumerate(rows, start=2):
        where = f"{ALIASES_FILE} line {n}"
        if not _CODE.match(r["code"] or "") or r["kind"] not in KINDS or not (r["alias"] or "").strip():
            raise DataError(f"{where}: needs an E54 code, a kind among {', '.join(KINDS)} and an alias.")
        if not (r["source"] or "").strip():
            raise DataError(f"{where}: alias {r['alias']!r} has no source; every alias must say where it comes from.")
        try:
            years = parse_vintages(r["vintages"])
        except ValueError as exc:
            raise DataError(f"{where}: vintages {r['vintages']!r}: {exc}; write e.g. 2017 or 2018-2021 or 2017;2021.") from None
        alias = r["alias"].strip()
        out.append(Alias(r["code"], years, r["kind"], alias, r["source"].strip(), footprint_key(alias)))
    return tuple(out)


@lru_cache(maxsize=1)
def _official() -> dict[tuple[str, int], str]:
    """(code, vintage) -> official name, for every vintage of the table."""
    return {(a.code, y): a.alias for a in aliases() if a.kind in OFFICIAL_KINDS for y in a.vintages}


def table_vintages() -> list[int]:
    """Every vintage the alias table knows (stpmap's own and others, e.g. 2022)."""
    return sorted({y for _c, y in _official()})


def codes(vintage: int) -> list[str]:
    """The footprint codes of a vintage, from the alias table."""
    return sorted(c for c, y in _official() if y == vintage)


def official_name(code: str, vintage: int | None = None) -> str:
    """The ONS name of ``code`` in ``vintage`` (or in its latest vintage)."""
    names = _official()
    if vintage is not None and (code, vintage) in names:
        return names[(code, vintage)]
    years = code_vintages(code)
    return names[(code, years[-1])] if years else code


def code_vintages(code: str) -> tuple[int, ...]:
    return tuple(sorted(y for c, y in _official() if c == code))


# ------------------------------------------------------------ resolving


class FootprintNameError(ChoiceError):
    """A footprint name, abbreviation or code that is not known (or is
    ambiguous) for the vintage; ``choices`` are the closest names."""

    def __init__(self, value, vintage: int, suggestions, message: str):
        Exception.__init__(self, message)
        self.what, self.value, self.choices, self.vintage = "footprint", value, list(suggestions), vintage


class FootprintVintageError(InputError):
    """A footprint of another vintage, whose code is not one of this vintage's."""

    def __init__(self, message: str, resolution: "Resolution"):
        super().__init__(message)
        self.resolution = resolution


class FootprintNameWarning(UserWarning):
    """A footprint found by a fuzzy match: says what it was matched to."""


@dataclass(frozen=True)
class Resolution:
    """What :func:`resolve_footprint` found.

    ``code`` is the footprint; ``in_vintage`` says whether it is a footprint of
    the vintage asked for (a name of another vintage may name a code that is
    not, e.g. a 2022 ICB: then ``note`` says what it was in the vintage asked,
    and ``overlaps`` lists that vintage's footprints holding its population).
    ``matched_by`` is ``code``, ``ccg_code``, ``ccg_ods_code``, an alias kind
    (``ons_name``, ``ods_code``, ``abbreviation``...) or ``fuzzy``.
    """

    query: str
    vintage: int
    code: str
    name: str
    matched_by: str
    alias: str
    in_vintage: bool = True
    score: float | None = None
    note: str = ""
    overlaps: tuple[tuple[str, str, float], ...] = ()

    def describe(self) -> str:
        how = f"fuzzy match, score {self.score:.0f}" if self.matched_by == "fuzzy" else self.matched_by
        text = f"{self.query!r} -> {self.code} {self.name} ({how})"
        return f"{text}. {self.note}" if self.note else text


def resolve_footprint(text, vintage=None, *, warn: bool = True) -> Resolution:
    """The footprint that ``text`` (a code, ODS code, CCG ODS code, name,
    short name or abbreviation) names in ``vintage`` (default: the default
    vintage).

    Raises :class:`FootprintNameError` (a ChoiceError) for an unknown or
    ambiguous name, listing the closest names. A fuzzy match warns with a
    :class:`FootprintNameWarning`, unless ``warn`` is False for a caller that
    reports ``matched_by`` itself (the web service, in its answer).
    """
    v = registry().check_vintage(vintage)
    raw = str(text).strip()
    if not raw:
        raise FootprintNameError(text, v, [], "A footprint name or code is empty: give a name, abbreviation or code.")
    if not codes(v):  # a vintage added to the registry but not to the alias table
        raise DataError(f"The alias table {ALIASES_FILE} has no footprint names for vintage {v}: add its ONS "
                        "names and ODS codes (see geodata/README.md).")
    return _resolve_exact(raw, v) or _fuzzy(raw, v, warn)


def _resolve_exact(raw: str, v: int) -> Resolution | None:
    """A footprint code, an alias (ignoring case, punctuation and filler
    words) or a CCG code; None if ``raw`` is none of these."""
    up = raw.upper()
    if _CODE.match(up):
        if up in codes(v):
            return Resolution(raw, v, up, official_name(up, v), "code", up)
        if code_vintages(up):
            return _other_vintage(raw, v, [(up, code_vintages(up), up, "code")])
        raise FootprintNameError(raw, v, [], f"{raw!r} is not a footprint code of any vintage "
                                 f"({', '.join(map(str, table_vintages()))}). `stpmap names` lists them.")
    hit = _exact(raw, v)
    if hit is None and _CCG.match(up):
        hit = _ccg(raw, v)
    return hit


def _exact(raw: str, v: int) -> Resolution | None:
    key = footprint_key(raw)
    if not key:
        return None
    hits = [a for a in aliases() if a.key == key or _compact(a.key) == _compact(key)]
    inside = sorted((a for a in hits if v in a.vintages), key=lambda a: (a.key != key, KINDS.index(a.kind)))
    if inside:
        a = inside[0]
        return Resolution(raw, v, a.code, official_name(a.code, v), a.kind, a.alias)
    if hits:
        return _other_vintage(raw, v, [(a.code, a.vintages, a.alias, a.kind) for a in hits])
    return None


def _ccg(raw: str, v: int) -> Resolution | None:
    """A CCG's ODS or GSS code: the footprint holding that CCG in ``v``, or
    (from another vintage's atlas, if built) what it was then."""
    from stpmap.data import atlas as _atlas

    up = raw.upper()

    for w in [v, *[x for x in registry().vintages if x != v]]:
        if w != v and not _atlas.is_current(w):
            continue  # never build another vintage just to look a code up
        t = _atlas.table("ccg", w, columns=["code", "ods_code", "name", "stp_code"])
        row = t[(t["ods_code"].str.upper() == up) | (t["code"] == up)]
        if row.empty:
            continue
        r = row.iloc[0]
        how = "ccg_ods_code" if str(r["ods_code"]).upper() == up else "ccg_code"
        if w == v:
            note = f"{r['name']} ({r['ods_code']}) is a CCG of {v} in this footprint."
            return Resolution(raw, v, r["stp_code"], official_name(r["stp_code"], v), how, up, note=note)
        res = _other_vintage(raw, v, [(r["stp_code"], (w,), up, how)])
        return replace(res, note=f"{r['name']} ({r['ods_code']}) is a CCG of {w}, not of {v}. " + res.note)
    return None


def _other_vintage(raw: str, v: int, hits) -> Resolution:
    """``raw`` names footprint(s) of other vintages only: ``hits`` are (code,
    vintages, alias, kind). Prefer a code that is also a footprint of ``v`` (a
    code keeps its area), then a vintage stpmap has, then the nearest one."""
    stp_vintages = set(registry().vintages)

    def nearest(years):
        return min(years, key=lambda y: (abs(y - v), -y))

    def rank(h):
        code, years, _alias, _kind = h
        return (v not in code_vintages(code), not (set(years) & stp_vintages), abs(nearest(years) - v), -nearest(years))

    code, years, alias, kind = min(hits, key=rank)
    others = sorted({f"{c} ({format_vintages(y)})" for c, y, _a, _k in hits if c != code})
    also = f" The same name was also used for {', '.join(others)}." if others else ""
    if v in code_vintages(code):
        name_v = official_name(code, v)
        note = (f"{alias!r} is a name of {code} in {format_vintages(years)}; in {v} the same footprint "
                f"(same code, same area) is called {name_v!r}.{also}")
        return Resolution(raw, v, code, name_v, kind, alias, note=note)
    held = code_vintages(code)
    own = official_name(code, nearest(set(years) & set(held) or held))
    note = f"{raw!r} is not a footprint of {v}: it is {code} {own!r}, a footprint of {format_vintages(held)}"
    if not set(held) & stp_vintages:
        note += " (stpmap has no vintage of it yet)"
    note += "." + also
    overlaps = _overlaps(code, v)
    if overlaps:
        parts = ", ".join(f"{c} {n!r} ({s:.0%})" for c, n, s in overlaps)
        note += f" In {v} its population was in {len(overlaps)} footprint{'s' if len(overlaps) > 1 else ''}: {parts}."
    else:
        note += _ods_bridge(code, v)
    return Resolution(raw, v, code, own, kind, alias, in_vintage=False, note=note, overlaps=overlaps)


def _ods_bridge(code: str, v: int) -> str:
    """For a code stpmap has no vintage of (a 2022 ICB): the footprint of
    ``v`` that had the same ODS code, if any."""
    for a in aliases():
        if a.kind != "ods_code" or a.code != code:
            continue
        for b in aliases():
            if b.kind == "ods_code" and b.alias == a.alias and b.code != code and v in code_vintages(b.code):
                return (f" Its ODS code {a.alias} was that of {b.code} {official_name(b.code, v)!r} in "
                        f"{format_vintages(b.vintages)}, a footprint of {v} with a different boundary.")
    return ""


def _overlaps(code: str, v: int) -> tuple[tuple[str, str, float], ...]:
    """The footprints of ``v`` holding the population of ``code`` (a footprint
    of another stpmap vintage), from the two vintages' official LSOA lookups;
    empty when they are not on this machine."""
    from stpmap.data import overlap as _overlap

    for w in code_vintages(code):
        if w in registry().vintages and w != v:
            shares = _overlap.shares(w, v).get(code, ())
            return tuple((c, official_name(c, v), s) for c, s in shares)
    return ()


def _score(a: str, b: str, **_kw) -> float:
    # WRatio alone rates substrings highly ('hampshire' in 'nottinghamshire');
    # the token-set ratio keeps the match to whole words.
    return min(fuzz.WRatio(a, b), fuzz.token_set_ratio(a, b))


def _ranked(key: str, pool: list[Alias]) -> list[tuple[float, Alias]]:
    """The best score of each footprint code in ``pool``, best first."""
    from rapidfuzz import process

    best: dict[str, tuple[float, Alias]] = {}
    for _choice, score, i in process.extract(key, [a.key for a in pool], scorer=_score, limit=None):
        if score > best.get(pool[i].code, (-1.0, None))[0]:
            best[pool[i].code] = (score, pool[i])
    return sorted(best.values(), key=lambda sa: (-sa[0], sa[1].code))


def _named_elsewhere(key: str, a: Alias, ranked, pool) -> list:
    """Footprints other than ``a`` that a word of ``key`` names and ``a``'s
    names do not: 'Sussex and Kent' scores 90 on Sussex alone (the token-set
    ratio forgives extra words), but it names Kent and Medway too."""
    own = {w for b in pool if b.code == a.code for w in b.key.split()}
    extra = {w for w in key.split() if len(w) >= 4 and w not in own}
    if not extra:
        return []
    score_of = {b.code: s for s, b in ranked}
    named = {b.code: b for b in pool if b.code != a.code and extra & set(b.key.split())}
    return [(score_of.get(code, 0.0), b) for code, b in sorted(named.items())]


def _fuzzy(raw: str, v: int, warn: bool = True) -> Resolution:
    """A clear fuzzy winner among the names of ``v``, else of other vintages."""
    key = footprint_key(raw)
    suggestions = _ranked(key or normalise(raw), [a for a in aliases() if a.kind in NAME_KINDS and v in a.vintages])
    for inside in (True, False):
        pool = [a for a in aliases() if a.kind in NAME_KINDS and (v in a.vintages) == inside]
        ranked = suggestions if inside else _ranked(key, pool)
        if len(_compact(key)) < 4 or not ranked or ranked[0][0] < FUZZY_THRESHOLD:
            continue
        score, a = ranked[0]
        # one name held by several codes over the years is one candidate
        rivals = [(s, b) for s, b in ranked[1:] if s > score - FUZZY_MARGIN and b.key != a.key]
        rivals += _named_elsewhere(key, a, ranked, pool)
        if rivals:
            top = [ranked[0], *rivals]
            listed = "; ".join(f"{official_name(b.code, v)} ({b.code}, score {s:.0f})" for s, b in top)
            raise FootprintNameError(
                raw, v, [official_name(b.code, v) for _s, b in top],
                f"{raw!r} matches several footprints of {v} about equally well: {listed}. "
                "Give more of the name, an abbreviation or the code (`stpmap names` lists them).",
            )
        if inside:
            res = Resolution(raw, v, a.code, official_name(a.code, v), "fuzzy", a.alias, score=score)
        else:
            same = [(b.code, b.vintages, b.alias, b.kind) for b in pool if b.key == a.key]
            res = replace(_other_vintage(raw, v, same), matched_by="fuzzy", score=score)
        if not warn:
            return res
        via = f" (on the name {a.alias!r} of {format_vintages(a.vintages)})" if a.alias != res.name else ""
        warnings.warn(FootprintNameWarning(
            f"Matched {raw!r} to {res.name!r} ({res.code}) by a fuzzy match (score {score:.0f}){via}. "
            "Give the exact name, an abbreviation or the code to silence this."), stacklevel=3)
        return res
    close = [a for s, a in suggestions[:3] if s >= SUGGEST_THRESHOLD]
    names = [f"{official_name(a.code, v)!r} ({a.code})" for a in close]
    hint = (f" Did you mean {', '.join(names[:-1])} or {names[-1]}?" if len(names) > 1 else
            f" Did you mean {names[0]}?" if names else f" No footprint name of {v} is close to it.")
    raise FootprintNameError(
        raw, v, [official_name(a.code, v) for a in close],
        f"Unknown footprint {raw!r} for vintage {v}.{hint} "
        f"`stpmap names --vintage {v}` lists every name, abbreviation and code.",
    )


def footprint_code(text, vintage) -> str:
    """The code of the footprint of ``vintage`` that ``text`` names; a
    :class:`FootprintVintageError` when it names a footprint of another
    vintage whose code is not one of this vintage's."""
    res = resolve_footprint(text, vintage)
    if not res.in_vintage:
        theirs = [str(y) for y in registry().vintages if y in code_vintages(res.code)]
        fix = " Give one of the codes of " + str(res.vintage) if res.overlaps else (
            f" `stpmap names --vintage {res.vintage}` lists the footprints of {res.vintage}")
        fix += f", or use vintage {' or '.join(theirs)}." if theirs else "."
        raise FootprintVintageError(res.note + fix, res)
    return res.code


# ------------------------------------------------------------ listing

ROW_COLUMNS = ("code", "name", "vintages", "kind", "alias", "source")


def _ccg_rows(vintage: int) -> list[dict]:
    """The ODS codes of the vintage's CCGs, from its atlas."""
    from stpmap.data import atlas as _atlas

    title = registry().dataset(vintage, "ccg_stp_lookup").title
    t = _atlas.table("ccg", vintage, columns=["ods_code", "name", "stp_code"])
    return [{"code": c, "name": official_name(c, vintage), "vintages": str(vintage), "kind": "ccg_ods_code",
             "alias": o, "source": f"ONS: {title} ({n})"} for o, n, c in zip(t["ods_code"], t["name"], t["stp_code"])]


def search(query=None, vintage=None) -> tuple[list[dict], list[str]]:
    """Rows of the alias table (``ROW_COLUMNS``), and notes to show with them.

    ``vintage`` keeps the names of that vintage and adds the ODS codes of its
    CCGs. ``query`` keeps the footprint(s) it names exactly, else those whose
    names contain it, else the one a fuzzy match finds
    (:func:`resolve_footprint`).
    """
    v = registry().check_vintage(vintage) if vintage is not None else None
    every = [{"code": a.code, "name": official_name(a.code, v if v in a.vintages else a.vintages[-1]),
              "vintages": format_vintages(a.vintages), "kind": a.kind, "alias": a.alias, "source": a.source}
             for a in aliases()]
    rows = [r for r, a in zip(every, aliases()) if v is None or v in a.vintages]
    if v is not None:
        rows += _ccg_rows(v)
    notes: list[str] = []
    if query is not None and str(query).strip():
        raw = str(query).strip()
        key, up = _compact(footprint_key(raw)), raw.upper()
        if v is None:
            wanted = {r["code"] for r in rows if r["code"] == up or (key and _compact(footprint_key(r["alias"])) == key)}
            res = None
        else:
            res = _resolve_exact(raw, v)
            wanted = set()
        if res is None and not wanted:
            wanted = {r["code"] for r in rows if key and key in _compact(footprint_key(r["alias"]))}
            if not wanted:
                res = resolve_footprint(raw, v)
        if res is not None:
            wanted = {res.code} if res.in_vintage else {c for c, _n, _s in res.overlaps} or {res.code}
            notes += [res.describe()] if res.note else []
            if res.code not in {r["code"] for r in rows}:  # a code of another vintage: show its own names
                rows += [r for r in every if r["code"] == res.code]
        rows = [r for r in rows if r["code"] in wanted]
    order = {k: i for i, k in enumerate((*KINDS, "ccg_ods_code"))}
    rows.sort(key=lambda r: (r["code"], order[r["kind"]], r["vintages"], r["alias"]))
    return rows, notes


def rows_text(rows: list[dict], fmt: str = "table") -> str:
    """``rows`` of :func:`search` as an aligned table, CSV or JSON."""
    if fmt == "json":
        import json

        return json.dumps(rows, indent=1, ensure_ascii=False) + "\n"
    if fmt == "csv":
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, ROW_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    cols = ("code", "vintages", "kind", "alias", "source")
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in cols[:-1]}
    lines = ["  ".join(c.ljust(widths[c]) if c in widths else c for c in cols)]
    lines += ["  ".join(r[c].ljust(widths[c]) if c in widths else r[c] for c in cols) for r in rows]
    return "\n".join(lines) + f"\n{len(rows)} names\n"
