"""Joining the user's own figures (CSV or Excel) to footprints, CCGs or districts.

A row is matched by, in this order of preference:

* a footprint code (E54...), or its ODS code (2021, e.g. ``QE1``);
* a CCG code: GSS (E38...) or ODS (e.g. ``02N``);
* a local authority district code (E06/E07/E08/E09);
* a name, normalised (case, '&' and 'and', punctuation, and for CCGs the
  'NHS' prefix and 'CCG' suffix do not matter).

The join column may be named as in any vintage's official files, in any case
(``STP17CD``, ``stp21cd``, ``ICB22CD``, ``CCG17CDH``...), or given explicitly.
CCG figures can be combined into footprints (``aggregate="sum"`` for counts,
``"mean"`` for a population-weighted mean of rates); district figures are
shared out by the population each district has in each footprint.

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

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from stpmap.data import atlas as _atlas
from stpmap.errors import ChoiceError, InputError
from stpmap.data.names import normalise, normalise_ccg

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

    @property
    def messages(self) -> list[str]:
        """Everything a user should know about the join, one sentence each."""
        out = []
        word = LEVEL_WORDS[self.level]
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
            shown = "; ".join(f"{k}: {v}" for k, v in list(self.incomplete.items())[:8]) + (" ..." if len(self.incomplete) > 8 else "")
            n = len(self.incomplete)
            out.append(
                f"{n} footprint{'s lack' if n > 1 else ' lacks'} a value for some of {'their' if n > 1 else 'its'} "
                f"{'CCGs' if self.level == 'ccg' else 'districts'} and {'are' if n > 1 else 'is'} shown as no data: {shown}."
            )
        return out

    def summary(self) -> str:
        agg = f", {self.aggregate} of {LEVEL_WORDS[self.level]}s" if self.aggregate else ""
        return f"{self.value_column!r} from {self.source} by {self.matched_by}{agg}"


# ------------------------------------------------------------------ reading


def read_table(path, sheet=None, *, encoding=None, encoding_option: str = "--encoding") -> pd.DataFrame:
    """Read a CSV (leading ``#`` comment lines skipped, as in stpmap's own CSV
    output; the delimiter taken from the header line) or an XLSX workbook as
    text columns, empty cells missing.

    Text is UTF-8 (with or without BOM) unless ``encoding`` says otherwise
    (e.g. "cp1252"); ``encoding_option`` is how the error for a file that does
    not decode names the way to give it (the CLI flag). Raises
    :class:`InputError` naming the file and the problem.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from stpmap.files import read as _read

    path = Path(path)
    if not path.exists():
        raise InputError(f"Data file {path} does not exist. Give the path of a CSV or XLSX file.")
    source = _read.open_figures(path, encoding=encoding, sheet=sheet, encoding_option=encoding_option)
    table = pa.concat_tables([source.schema.empty_table(), *source.tables(1 << 20)])
    missing = pa.scalar(None, pa.string())
    columns = [pc.if_else(pc.equal(c, ""), missing, c) for c in table.columns]  # empty cells are missing
    df = pa.Table.from_arrays(columns, names=table.column_names).to_pandas()
    if df.empty or len(df.columns) == 0:
        raise InputError(f"Data file {path} has no rows. It needs a header row and one row per area.")
    df.columns = [str(c).strip() for c in df.columns]
    return df


# ---------------------------------------------------------------- the keys


def _keys(vintage: int) -> dict[tuple[str, str], dict[str, str]]:
    """For each (level, kind), a map normalised key -> area code."""
    stp = _atlas.table("stp", vintage)
    ccg = _atlas.table("ccg", vintage, columns=["code", "ods_code", "name"])
    lad = _atlas.table("lad", vintage, columns=["code", "name"])
    keys = {
        ("stp", "code"): {c.upper(): c for c in stp["code"]},
        ("stp", "name"): {normalise(n): c for c, n in zip(stp["code"], stp["name"])},
        ("ccg", "code"): {c.upper(): c for c in ccg["code"]},
        ("ccg", "ods"): {str(o).upper(): c for c, o in zip(ccg["code"], ccg["ods_code"]) if isinstance(o, str)},
        ("ccg", "name"): {normalise_ccg(n): c for c, n in zip(ccg["code"], ccg["name"])},
        ("lad", "code"): {c.upper(): c for c in lad["code"]},
        ("lad", "name"): {normalise(n): c for c, n in zip(lad["code"], lad["name"])},
    }
    if "ods_code" in stp:
        keys[("stp", "ods")] = {str(o).upper(): c for c, o in zip(stp["code"], stp["ods_code"]) if isinstance(o, str)}
    return keys


_KIND_WORDS = {"code": "GSS code", "ods": "ODS code", "name": "name"}


def _norm(level: str, kind: str, value) -> str:
    s = str(value).strip()
    if kind == "name":
        return normalise_ccg(s) if level == "ccg" else normalise(s)
    return s.upper()


def _match_rate(series: pd.Series, level: str, kind: str, keys: dict) -> int:
    table = keys.get((level, kind), {})
    return int(sum(_norm(level, kind, v) in table for v in series.dropna().unique()))


def _require_column(df: pd.DataFrame, name: str, what: str) -> str:
    wanted = str(name).strip().lower()
    for c in df.columns:
        if c.lower() == wanted:
            return c
    raise ChoiceError(f"{what} column", name, list(df.columns), "in the data file")


def _guess_join_column(df: pd.DataFrame, keys: dict) -> str:
    cols = list(df.columns)
    for level, kind, pattern in _HEADER_PATTERNS:
        for c in cols:
            if pattern.match(c.strip().lower()):
                return c
    best, best_n = None, 0
    for c in cols:
        n = max(_match_rate(df[c], lv, k, keys) for (lv, k) in keys)
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


# -------------------------------------------------------------------- join


def join(data, vintage, layer: str = "stp", join_on: str | None = None, value: str | None = None,
         aggregate: str | None = None, sheet=None, areas=None, encoding: str | None = None) -> Joined:
    """Match the user's rows to the areas of ``layer`` and return one value per area.

    Parameters
    ----------
    data : path or DataFrame
        CSV or XLSX file (or a DataFrame) with one row per footprint, CCG or
        district.
    vintage : int
        The vintage (2017 to 2022): which footprints, CCGs and districts to match against.
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
        ``layer="stp"``: ``"sum"`` for counts, ``"mean"`` for the
        population-weighted mean (for rates and percentages). Required then.
    sheet : str or int, optional
        The sheet of an Excel file (default: the first).
    encoding : str, optional
        The encoding of a CSV file (default: UTF-8, with or without a
        byte-order mark).

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
    df, source = _data_frame(data, sheet, encoding)
    keys = _keys(vintage)
    jcol = _require_column(df, join_on, "join") if join_on else _guess_join_column(df, keys)
    vcol = _require_column(df, value, "value") if value else _guess_value_column(df, jcol)
    if vcol == jcol:
        raise InputError(f"--value and --join-on are the same column ({jcol!r}); the value must be another column.")
    level, kind = _what_the_column_holds(df[jcol], jcol, keys, vintage)
    word = LEVEL_WORDS[level]
    numbers = _to_number(df[vcol])
    numeric = bool(numbers.notna().sum() >= max(1, 0.5 * df[vcol].notna().sum()))
    out = Joined(values=pd.Series(dtype=float), layer=layer, level=level, matched_by=f"{word} {_KIND_WORDS[kind]}",
                 join_column=jcol, value_column=vcol, source=source, rows=len(df), numeric=numeric)
    frame = _matched_rows(df, out, keys[(level, kind)], kind, numbers)
    per_area = _one_value_per_area(frame, word, source)
    if level == layer:
        out.values = per_area.dropna()
        return out
    _check_can_combine(out, aggregate)
    out.aggregate = aggregate
    out.values = _aggregate(per_area, level, vintage, aggregate, out, areas)
    return out


def _data_frame(data, sheet, encoding) -> tuple[pd.DataFrame, str]:
    """The user's rows, and what to call them in messages."""
    if isinstance(data, pd.DataFrame):
        df = data.copy()
        df.columns = [str(c).strip() for c in df.columns]
        return df, "the data"
    # only what was given is passed on, so the reader's own defaults apply otherwise
    given = {name: v for name, v in (("sheet", sheet), ("encoding", encoding)) if v is not None}
    return read_table(data, **given, encoding_option="--data-encoding"), Path(data).name


def _what_the_column_holds(col: pd.Series, jcol: str, keys: dict, vintage) -> tuple[str, str]:
    """The (level, kind) of key that matches most of the column's distinct values."""
    rates = {lk: _match_rate(col, *lk, keys) for lk in keys}
    order = [("stp", "code"), ("ccg", "code"), ("ccg", "ods"), ("lad", "code"), ("stp", "ods"),
             ("stp", "name"), ("ccg", "name"), ("lad", "name")]
    best = max((lk for lk in order if lk in rates), key=lambda lk: (rates[lk], -order.index(lk)))
    if rates[best] == 0:
        sample = ", ".join(repr(v) for v in col.dropna().unique()[:5])
        raise InputError(
            f"No value of column {jcol!r} ({sample}) is a footprint, CCG or district code or name of vintage {vintage}. "
            "Check --join-on and --vintage; codes look like E54000005 (footprint), E38000001 or 02N (CCG), E06000001 (district)."
        )
    return best


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
