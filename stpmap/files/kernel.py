"""The lookup of a file's postcodes, shared by the file and folder lookups:
choosing the postcode column, naming and typing the result columns, looking up
one chunk of postcodes and turning the answers into Arrow arrays (files) or
plain pandas columns (dask partitions).
"""

from __future__ import annotations

import warnings

import pyarrow as pa

from stpmap.errors import InputError, StpmapWarning
from stpmap.files.read import fold_case
from stpmap.postcodes import results as _results
from stpmap.postcodes.results import RESULT_KEYS

#: Words in a header that say a column holds postcodes (for guessing the column).
POSTCODE_HINTS = ("postcode", "pcd")

#: The Arrow type of each result column, as stpmap.postcodes.results declares it.
RESULT_TYPES = {field.name: field.type for field in _results.result_schema()}


# ------------------------------------------------------------------ columns


def _quoted_list(names) -> str:
    return ", ".join(repr(str(c)) for c in names) if len(names) else "(none)"


def column_index(columns, column, where: str = "the input") -> int:
    """Position of ``column`` in ``columns``: the exact name, else the one name
    equal to it ignoring case and surrounding spaces. Errors list the columns.

    >>> column_index(["id", "Postcode"], "postcode")
    1
    """
    columns = [str(c) if c is not None else "" for c in columns]
    exact = [i for i, c in enumerate(columns) if c == column]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise InputError(f"The column {column!r} appears {len(exact)} times in {where}. "
                         "Rename the copies so that each header is unique.")
    loose = [i for i, c in enumerate(columns) if fold_case(c) == fold_case(column)]
    if len(loose) == 1:
        return loose[0]
    if len(loose) > 1:
        raise InputError(f"Several columns of {where} match {column!r} ignoring case: "
                         f"{_quoted_list([columns[i] for i in loose])}. Give the exact name.")
    raise InputError(f"No column {column!r} in {where}. Its columns are: {_quoted_list(columns)}. "
                     "Give one of them with --column NAME.")


def guess_postcode_column(columns, where: str = "the input") -> int:
    """Position of the one column whose header mentions postcodes ("postcode", "pcd").

    >>> guess_postcode_column(["id", "Patient Post Code", "gp"])
    1
    """
    columns = [str(c) if c is not None else "" for c in columns]
    keys = [fold_case(c).replace(" ", "").replace("_", "").replace("-", "") for c in columns]
    hits = [i for i, k in enumerate(keys) if any(h in k for h in POSTCODE_HINTS)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise InputError(f"No column of {where} looks like postcodes (a header containing 'postcode' or 'pcd'). "
                         f"Its columns are: {_quoted_list(columns)}. Say which with --column NAME.")
    raise InputError(f"Several columns of {where} could hold the postcodes: "
                     f"{_quoted_list([columns[i] for i in hits])}. Say which with --column NAME.")


def postcode_column(columns, column, where: str) -> int:
    """``column`` found in ``columns``, or the one guessed when it is ``None``."""
    return column_index(columns, column, where) if column is not None else guess_postcode_column(columns, where)


def result_names(prefix: str = "") -> list[str]:
    """Names of the columns the lookup adds, ``RESULT_KEYS`` with ``prefix``."""
    return [f"{prefix}{key}" for key in RESULT_KEYS]


def result_fields(prefix: str = "") -> list[pa.Field]:
    """The Arrow fields of the added columns."""
    return [pa.field(f"{prefix}{key}", kind) for key, kind in RESULT_TYPES.items()]


#: Put before the added column names when one would take the name of an input
#: column and no prefix was given (then ``stpmap2_``, ``stpmap3_``... if that clashes too).
DEFAULT_PREFIX = "stpmap_"


def _clashes(columns, prefix: str) -> list[str]:
    taken = {str(c) for c in columns}
    return [n for n in result_names(prefix) if n in taken]


def _free_prefix(columns) -> str:
    """:data:`DEFAULT_PREFIX`, or the first of ``stpmap2_``, ``stpmap3_``... that clashes with no column."""
    n, prefix = 1, DEFAULT_PREFIX
    while _clashes(columns, prefix):
        n += 1
        prefix = f"{DEFAULT_PREFIX[:-1]}{n}_"
    return prefix


def check_collisions(columns, prefix: str, where: str = "the input") -> None:
    """Error if a result column named with ``prefix`` would take the name of an input column."""
    clash = _clashes(columns, prefix)
    if clash:
        free = _free_prefix(columns)
        raise InputError(f"The lookup adds column(s) named {_quoted_list(clash)}, which {where} already has. "
                         f"Give another prefix, e.g. --prefix {free} (prefix={free!r} in Python), or leave "
                         "--prefix out: stpmap then prefixes the added columns only when their names clash.")


def result_prefix(columns, prefix: str | None, where: str = "the input") -> str:
    """The prefix of the added columns. ``None``: none, unless a name clashes with
    an input column; then :data:`DEFAULT_PREFIX` (said in a StpmapWarning), so
    that the input's columns keep their names. A prefix given (even ``""``)
    is used as it is, and an error if a name still clashes.

    >>> result_prefix(["id", "pcd"], None), result_prefix(["id", "pcd"], "stp_")
    ('', 'stp_')
    """
    if prefix is not None:
        check_collisions(columns, str(prefix), where)
        return str(prefix)
    clash = _clashes(columns, "")
    if not clash:
        return ""
    chosen = _free_prefix(columns)
    warnings.warn(f"{where} already has column(s) named {_quoted_list(clash)}, which the lookup adds: so that "
                  f"yours keep their names, the added columns are named {chosen}postcode, {chosen}status... "
                  "(give --prefix P, prefix='P' in Python, to name them otherwise).",
                  StpmapWarning, stacklevel=4)  # the caller of lookup_file or lookup_folder
    return chosen


# ------------------------------------------------------------------ lookups


def lookup_frame(postcodes, vintage: int):
    """``lookup_many``'s frame for ``postcodes``, checked to have one row per postcode."""
    from stpmap.postcodes import lookup as _lookup

    frame = _lookup.lookup_many(postcodes, vintage=vintage)
    if len(frame) != len(postcodes):  # never lose or reorder rows silently
        raise RuntimeError(f"lookup_many returned {len(frame)} rows for {len(postcodes)} postcodes")
    return frame


def status_counts(frame) -> dict[str, int]:
    """How many rows of a lookup frame have each status."""
    return {str(status): int(n) for status, n in frame["status"].value_counts().items()}


def result_arrays(frame) -> list[pa.Array]:
    """The result columns of a lookup frame as Arrow arrays of :data:`RESULT_TYPES`
    (missing values null), converted once each."""
    arrays = []
    for key, kind in RESULT_TYPES.items():
        array = pa.Array.from_pandas(frame[key])
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        arrays.append(array.cast(kind))
    return arrays


def results_frame(frame, prefix: str = "", index=None):
    """A lookup frame with plain dtypes (text as pandas "str", numbers float64)
    and prefixed names, for pandas and dask outputs."""
    import pandas as pd

    columns = {}
    for key, kind in RESULT_TYPES.items():
        s = frame[key]
        if kind == pa.float64():
            columns[f"{prefix}{key}"] = s.to_numpy(dtype="float64", na_value=float("nan"))
        else:
            columns[f"{prefix}{key}"] = s.astype("str").array
    return pd.DataFrame(columns, index=index if index is not None else frame.index)


def empty_results_frame(prefix: str = ""):
    """:func:`results_frame` of no rows: the dtypes of the added columns."""
    import pandas as pd

    empty = pd.DataFrame({key: pd.Series([], dtype="float64" if kind == pa.float64() else "object")
                          for key, kind in RESULT_TYPES.items()})
    return results_frame(empty, prefix)
