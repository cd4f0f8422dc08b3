"""Carrying a table of figures by footprint (or CCG) of one vintage to the
footprints of another.

Each input row gives figures for one footprint (E54 code) or CCG (E38 code)
of ``from_vintage``. Its people are followed, LSOA by LSOA, into the
footprints of ``to_vintage`` (:func:`stpmap.data.lineage.parts`), and

* a **sum** (counts: beds, patients, spend) is shared out in proportion to
  the people: a footprint of which 10% of the people went elsewhere sends
  10% of its count with them;
* a **mean** (rates, percentages) becomes the population-weighted mean of
  the parts each to-footprint is made of.

``coverage`` says, for each to-footprint, the share of its people that the
input rows cover: 1 when every part of it had a row, less when the input
leaves some out (its sum then counts only the parts covered; its mean is
the mean of those parts), 0 (and the values missing) when none.

Missing values (empty cells, NaN, or the words NA, N/A, NaN, null, None)
are left out of sums and means; when a column has some, a column
``coverage_<value>`` gives the share of each to-footprint's people covered by
rows with a value, and a :class:`CrosswalkWarning` says so. Nothing else is
dropped: a code that is not a footprint (or CCG) of ``from_vintage``, an
empty code, a repeated code and a value that is not a number are errors
naming the rows.

``weights`` replaces the population by the user's own LSOA weights (e.g.
registered patients): a table with columns ``lsoa_code`` and ``weight``.

>>> import pandas as pd, stpmap
>>> beds = pd.DataFrame({"stp17cd": ["E54000045", "E54000046", "E54000047"], "beds": [100, 200, 50]})
>>> out = stpmap.crosswalk(beds, 2017, 2021, value="beds")   # warns: the other 41 footprints have no row
>>> out.loc[out["code"] == "E54000050", ["beds", "coverage"]].round(2).values.tolist()
[[336.08, 1.0]]
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stpmap.data import atlas as _atlas
from stpmap.data.lineage import LEVEL_WORDS, check_level, names, parts
from stpmap.data.registry import registry
from stpmap.errors import ChoiceError, InputError

HOWS = ("sum", "mean")
#: Footprint (E54) and CCG (E38) codes, and the level each names.
CODE_PATTERN = re.compile(r"^E(54|38)\d{6}$")
CODE_LEVELS = {"54": "stp", "38": "ccg"}
#: Cells read as missing values, compared ignoring case.
MISSING_WORDS = ("", "na", "n/a", "nan", "null", "none")
_NUMBER_JUNK = re.compile(r"[,£$€%\s]")
_SHOWN = 8  # rows named in an error message


class CrosswalkWarning(UserWarning):
    """Something about a crosswalk the user should know: missing values,
    footprints the input leaves out, LSOAs the weights leave out."""


# ------------------------------------------------------------------ reading


def read_data(path, *, encoding=None, sheet=None, encoding_option: str = "--encoding") -> pd.DataFrame:
    """A CSV (UTF-8 unless ``encoding`` says otherwise), XLSX or Parquet file
    as a DataFrame: CSV and XLSX cells as text, empty cells missing."""
    from stpmap.files.read import read_table

    path = Path(path)
    if not path.is_file():
        raise InputError(f"Data file {path} does not exist. Give the path of a CSV, XLSX or Parquet file.")
    if not path.name.lower().endswith(".parquet"):
        return read_table(path, sheet, encoding=encoding, encoding_option=encoding_option)
    if encoding is not None or sheet is not None:
        raise InputError(f"{path.name} is Parquet, which records its own types: drop the encoding and sheet.")
    import pyarrow as pa

    from stpmap.files.read import open_input

    source = open_input(path)
    return pa.concat_tables([source.schema.empty_table(), *source.tables(1 << 20)]).to_pandas()


@dataclass(frozen=True)
class Source:
    """How messages name an input and its rows: ``row 5`` in a file (the
    header is row 1, as a spreadsheet shows it), ``index 3`` in a DataFrame."""

    name: str
    labels: tuple[str, ...]

    def __str__(self) -> str:
        return self.name

    def rows(self, positions) -> str:
        """The rows at ``positions`` (0 for the first data row), the first few named."""
        positions = list(positions)
        return ", ".join(self.labels[i] for i in positions[:_SHOWN]) + (" ..." if len(positions) > _SHOWN else "")


def _frame(data, encoding, sheet, what: str = "data") -> tuple[pd.DataFrame, Source]:
    """The input as a DataFrame indexed by row position, and how messages name it."""
    if isinstance(data, pd.DataFrame):
        source = Source(f"the {what}", tuple(f"index {i!r}" for i in data.index))
        df = data.reset_index(drop=True)
    elif isinstance(data, (str, Path)):
        df = read_data(data, encoding=encoding, sheet=sheet)
        source = Source(Path(data).name, tuple(f"row {i + 2}" for i in range(len(df))))
    else:
        raise InputError(f"{what} must be a pandas DataFrame or the path of a CSV, XLSX or Parquet file, "
                         f"not {type(data).__name__}.")
    if df.empty:
        raise InputError(f"There are no rows in {source}: it needs one row per footprint or CCG"
                         f"{' (lsoa_code, weight: one row per LSOA)' if what == 'weights' else ''}.")
    return df, source


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _column(df: pd.DataFrame, name, what: str, source) -> str:
    """The column of ``df`` called ``name`` (ignoring case and spaces at the ends)."""
    if name in df.columns:
        return name
    hits = [c for c in df.columns if str(c).strip().casefold() == str(name).strip().casefold()]
    if len(hits) != 1:
        raise ChoiceError(f"{what} column", name, [str(c) for c in df.columns], f"in {source}")
    return hits[0]


def _codes(series: pd.Series) -> pd.Series:
    """Codes as compared: text, upper case, no spaces at the ends; missing stays missing."""
    return series.astype("string").str.strip().str.upper()


def find_code_column(df: pd.DataFrame, source="the data") -> str:
    """The one column of ``df`` whose values are mostly E54 or E38 codes."""
    scores = {}
    for c in df.columns:
        values = _codes(df[c]).dropna()
        if len(values) and not pd.api.types.is_numeric_dtype(df[c]):
            hits = int(values.str.fullmatch(CODE_PATTERN.pattern).sum())
            if hits and hits >= len(values) / 2:
                scores[c] = hits
    if len(scores) == 1:
        return next(iter(scores))
    if not scores:
        raise InputError(f"No column of {source} holds footprint (E54...) or CCG (E38...) codes. Name the column "
                         f"of codes with code= (--code COLUMN); columns: {', '.join(map(str, df.columns))}.")
    raise InputError(f"Several columns of {source} hold footprint or CCG codes: {', '.join(map(str, scores))}. "
                     "Choose one with code= (--code COLUMN).")


# ------------------------------------------------------------------ checking


def _level(codes: pd.Series, layer, column: str, source) -> str:
    """``layer``, or the level the codes name (E54: footprints, E38: CCGs)."""
    if layer is not None:
        return check_level(layer)
    kinds = {CODE_LEVELS[m] for m in codes.dropna().str.extract(CODE_PATTERN.pattern)[0].dropna()}
    if len(kinds) == 1:
        return kinds.pop()
    if not kinds:
        raise InputError(f"The column {column!r} of {source} holds no footprint (E54...) or CCG (E38...) code. "
                         "Choose the column of codes with code= (--code COLUMN).")
    raise InputError(f"The column {column!r} of {source} mixes footprint (E54) and CCG (E38) codes. Give one "
                     "table per level.")


def _other_vintages(codes, level: str, vintage: int) -> str:
    """Where codes unknown in ``vintage`` are known (vintages already built)."""
    said = []
    for w in registry().vintages:
        if w != vintage and _atlas.is_current(w):
            known = sorted(set(codes) & set(names(w, level).index))
            if known:
                said.append(f"{', '.join(known[:4])}{' ...' if len(known) > 4 else ''} "
                            f"{'is a code' if len(known) == 1 else 'are codes'} of {w}")
    return f" ({'; '.join(said)}: is the data of another vintage?)" if said else ""


def check_codes(codes: pd.Series, level: str, vintage: int, column: str, source: Source) -> None:
    """Every row has a code of ``level`` in ``vintage``, once; else an error naming the rows."""
    word = LEVEL_WORDS[level]
    blank = codes.index[codes.isna() | (codes == "")]
    if len(blank):
        raise InputError(f"{len(blank)} rows of {source} have no code in {column!r} ({source.rows(blank)}). "
                         f"Give every row a {word} code, or remove the rows; nothing was carried over.")
    unknown = codes[~codes.isin(names(vintage, level).index)]
    if len(unknown):
        shown = ", ".join(f"{c!r} ({source.labels[i]})" for i, c in list(unknown.items())[:_SHOWN])
        raise InputError(f"{len(unknown)} rows of {source} have a {column!r} that is not a {word} code of "
                         f"{vintage}: {shown}{' ...' if len(unknown) > _SHOWN else ''}"
                         f"{_other_vintages(unknown, level, vintage)}. Correct or remove those rows, or give the "
                         "vintage the codes are from; nothing was carried over.")
    repeated = codes[codes.duplicated(keep=False)]
    if len(repeated):
        shown = "; ".join(f"{c} ({source.rows(g.index)})" for c, g in list(repeated.groupby(repeated, sort=True))[:_SHOWN])
        raise InputError(f"{repeated.nunique()} {word} codes appear more than once in {source}: {shown}. Combine "
                         f"them into one row per {word} first; nothing was carried over.")


def numbers(series: pd.Series, column: str, source: Source) -> pd.Series:
    """A column as floats: numbers as they are, text read as numbers
    (thousands separators, currency and % signs ignored), the words of
    :data:`MISSING_WORDS` missing; any other text is an error naming the rows."""
    if pd.api.types.is_bool_dtype(series):
        raise InputError(f"The column {column!r} of {source} holds true/false, not numbers. Give a column of numbers.")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    text = series.astype("string").str.strip()
    missing = text.isna() | text.str.lower().isin(MISSING_WORDS)
    values = pd.to_numeric(text.where(~missing).str.replace(_NUMBER_JUNK, "", regex=True), errors="coerce")
    bad = text[values.isna() & ~missing]
    if len(bad):
        shown = ", ".join(f"{v!r} ({source.labels[i]})" for i, v in list(bad.items())[:_SHOWN])
        raise InputError(f"{len(bad)} values of {column!r} in {source} are not numbers: {shown}"
                         f"{' ...' if len(bad) > _SHOWN else ''}. Correct them, or empty the cells to count them as "
                         "missing (left out of sums and means).")
    return values.astype(float)


def read_weights(weights, vintage, *, encoding=None) -> pd.Series:
    """The user's LSOA weights (a DataFrame or file with columns ``lsoa_code``
    and ``weight``) as a Series indexed by LSOA code, checked: every code an
    LSOA, once; every weight a number, not negative."""
    df, source = _frame(weights, encoding, None, "weights")
    code_col, weight_col = _column(df, "lsoa_code", "LSOA code", source), _column(df, "weight", "weight", source)
    codes = _codes(df[code_col])
    values = numbers(df[weight_col], weight_col, source)
    known = set(_atlas.layer("lsoa", vintage)["lsoa_code"])
    problems = [(codes.isna(), "have no LSOA code"), (~codes.isin(known) & codes.notna(), "are not LSOA 2011 codes"),
                (codes.duplicated(keep=False) & codes.notna(), "repeat an LSOA code"),
                (values.isna(), "have no weight"), (values < 0, "have a negative weight")]
    for mask, what in problems:
        if mask.any():
            shown = ", ".join(f"{c!r}" for c in codes[mask].fillna("").head(_SHOWN))
            raise InputError(f"{int(mask.sum())} rows of {source} {what} ({source.rows(np.flatnonzero(mask))}: {shown}). "
                             "The weights need one row per LSOA 2011 code (E01...) with a number of at least 0.")
    absent = len(known) - len(codes)
    if absent:
        warnings.warn(CrosswalkWarning(f"No row of {source} is for {absent:,} of England's {len(known):,} LSOAs: "
                                       "they weigh 0."), stacklevel=3)
    return pd.Series(values.to_numpy(), index=codes.to_numpy())


# ------------------------------------------------------------------ carrying


def _carry(links: pd.DataFrame, values: pd.DataFrame, how: str) -> dict[str, pd.Series]:
    """Each value column carried along ``links`` (from_code, to_code, weight)
    into the to-areas; also ``coverage`` and, for columns with missing
    values, ``coverage_<column>``."""
    to = links["to_code"]
    whole_to = links.groupby("to_code")["weight"].sum()
    whole_from = links["from_code"].map(links.groupby("from_code")["weight"].sum())
    present = links["from_code"].isin(values.index)
    out = {"coverage": links["weight"].where(present, 0).groupby(to).sum() / whole_to}
    for col in values.columns:
        x = links["from_code"].map(values[col])
        held = links["weight"].where(x.notna(), 0).groupby(to).sum()
        if how == "sum":  # multiplied before dividing: a count equal to the weights is carried exactly
            result = (x * links["weight"] / whole_from).groupby(to).sum(min_count=1)
        else:
            result = (x * links["weight"]).groupby(to).sum(min_count=1) / held.replace(0, np.nan)
        out[col] = result.where(held > 0)
        if values[col].isna().any():
            out[f"coverage_{col}"] = held / whole_to
    return out


def crosswalk(data, from_vintage, to_vintage, *, code=None, value=None, how: str = "sum", weights=None,
              layer=None, encoding=None, sheet=None) -> pd.DataFrame:
    """Carry figures by footprint (or CCG) of ``from_vintage`` to the
    footprints of ``to_vintage`` (see the module docstring for the rules).

    Parameters
    ----------
    data : DataFrame or path
        One row per footprint or CCG of ``from_vintage``: a DataFrame, or a
        CSV (``encoding``, default UTF-8), XLSX (``sheet``) or Parquet file.
    from_vintage, to_vintage : int
        Any two vintages (``registry().vintages``), either way round.
    code : str, optional
        The column of codes (E54 footprints or E38 CCGs). Default: the one
        column whose values are such codes.
    value : str or list of str
        The column(s) of figures to carry.
    how : "sum" or "mean"
        Share counts out by population (``sum``), or take the
        population-weighted mean of rates (``mean``).
    weights : DataFrame or path, optional
        LSOA weights (columns ``lsoa_code``, ``weight``; a file is read as
        UTF-8) used instead of the population, for shares, means and coverage.
    layer : "stp" or "ccg", optional
        What the codes are; default: from the codes (E54 or E38).

    Returns
    -------
    DataFrame, one row per footprint of ``to_vintage`` sorted by code:
    ``code``, ``name``, the value columns, ``coverage`` (and
    ``coverage_<value>`` for value columns with missing values). ``attrs``
    carries the vintages, ``layer``, ``how``, ``code_column``,
    ``value_columns``, ``weights``, ``attribution`` and ``population_source``.
    """
    reg = registry()
    a, b = reg.check_vintage(from_vintage), reg.check_vintage(to_vintage)
    if how not in HOWS:
        raise ChoiceError("how", how, HOWS, "(sum for counts, mean for rates)")
    df, source = _frame(data, encoding, sheet)
    column = find_code_column(df, source) if code is None else _column(df, code, "code", source)
    value_columns = _value_columns(df, value, column, source)
    codes = _codes(df[column])
    level = _level(codes, layer, column, source)
    check_codes(codes, level, a, column, source)
    values = pd.DataFrame({c: numbers(df[c], c, source) for c in value_columns}).set_index(pd.Index(codes))
    w = None if weights is None else read_weights(weights, a)
    links = parts(a, b, level, "stp", weights=w)
    _check_weights(links, values, how, level)
    _warn_gaps(values, links, level, a, source)
    carried = _carry(links, values, how)
    to_names = names(b, "stp")
    out = pd.DataFrame({"code": to_names.index, "name": to_names.to_numpy()})
    for key, series in carried.items():
        out[key] = out["code"].map(series).astype(float)
    out = out[["code", "name", *value_columns, *[k for k in carried if k.startswith("coverage")]]]
    out.attrs.update({"from_vintage": a, "to_vintage": b, "layer": level, "how": how, "code_column": column,
                      "value_columns": value_columns, "weights": "population" if w is None else "user LSOA weights",
                      "attribution": reg.attribution(), "population_source": reg.population_note(b)})
    return out


def _value_columns(df: pd.DataFrame, value, code_column: str, source: Source) -> list[str]:
    """The value columns asked for, checked against the header and the output's own columns."""
    if value is None or (not isinstance(value, str) and not list(value)):
        numeric = [str(c) for c in df.columns if c != code_column and _is_numbers(df[c], source)]
        raise InputError(f"Say which columns of {source} to carry over: value='beds' (--value beds)"
                         f"{'; columns of numbers: ' + ', '.join(numeric) if numeric else ''}.")
    wanted = [value] if isinstance(value, str) else list(value)
    columns = list(dict.fromkeys(_column(df, v, "value", source) for v in wanted))
    for c in columns:
        if c == code_column:
            raise InputError(f"{c!r} is the column of codes; it cannot also be a value to carry over.")
        if str(c) in ("code", "name", "coverage") or str(c).startswith("coverage_"):
            raise InputError(f"The value column {c!r} has the name of a column of the result (code, name, "
                             "coverage...): rename it first.")
    return columns


def _is_numbers(series: pd.Series, source: Source) -> bool:
    try:
        return bool(numbers(series, "", source).notna().any())
    except InputError:
        return False


def _check_weights(links: pd.DataFrame, values: pd.DataFrame, how: str, level: str) -> None:
    """With weights, a from-area of weight 0 cannot share out a sum."""
    whole = links.groupby("from_code")["weight"].sum()
    empty = [c for c in values.index if whole.get(c, 0) == 0 and values.loc[c].notna().any()]
    if empty and how == "sum":
        raise InputError(f"The weights give {len(empty)} {LEVEL_WORDS[level]}s a total weight of 0, so their sums "
                         f"cannot be shared out: {', '.join(empty[:_SHOWN])}. Give weights to their LSOAs.")


def _warn_gaps(values: pd.DataFrame, links: pd.DataFrame, level: str, vintage: int, source: Source) -> None:
    """Say which areas the input leaves out, and which values are missing."""
    word = LEVEL_WORDS[level]
    absent = sorted(set(links["from_code"]) - set(values.index))
    if absent:
        warnings.warn(CrosswalkWarning(
            f"No row of {source} is for {_count(len(absent), word)} of {vintage}: {', '.join(absent[:_SHOWN])}"
            f"{' ...' if len(absent) > _SHOWN else ''}. The footprints their people are in have coverage below 1."),
            stacklevel=3)
    for col in values.columns:
        gaps = list(values.index[values[col].isna()])
        if gaps:
            one = len(gaps) == 1
            warnings.warn(CrosswalkWarning(
                f"{_count(len(gaps), 'value')} of {col!r} {'is' if one else 'are'} missing ({', '.join(gaps[:_SHOWN])}"
                f"{' ...' if len(gaps) > _SHOWN else ''}): {'it is' if one else 'they are'} left out of the result, "
                f"and coverage_{col} gives the share of each footprint's people the values cover."), stacklevel=3)
