"""The lookup of a file's postcodes, shared by the file and folder lookups:
choosing the postcode column and the result fields, naming and typing the result
columns, and looking up one chunk of postcodes straight into Arrow arrays (no
pandas on the way).

The result columns are compact: text from a small table (status, message,
codes and names) is dictionary-encoded, and ``message`` is given only where
the status is not ``ok`` (null, an empty cell, elsewhere). Which columns are
added is chosen with *fields* (``--fields``): :data:`DEFAULT_FIELDS` unless
told otherwise, ``"all"`` for every key of :data:`RESULT_KEYS`.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pyarrow as pa

from stpmap.errors import ChoiceError, InputError, StpmapWarning
from stpmap.files.read import fold_case
from stpmap.postcodes import parse as _parse
from stpmap.postcodes import results as _results
from stpmap.postcodes.lookup import CODED_KEYS  # text columns from a small table: dictionary-encoded
from stpmap.postcodes.results import RESULT_KEYS

#: Words in a header that say a column holds postcodes (for guessing the column).
POSTCODE_HINTS = ("postcode", "pcd")

#: The value type of each result column, as stpmap.postcodes.results declares it.
RESULT_TYPES = {field.name: field.type for field in _results.result_schema()}

#: The result columns added unless ``fields`` says otherwise: the postcode as
#: read, what happened to it, and where it is (codes, and the footprint's name).
DEFAULT_FIELDS = ("postcode", "status", "message", "footprint_code", "footprint_name", "ccg_code", "lad_code")
_CODED_TYPE = pa.dictionary(pa.int16(), pa.string())


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


def choose_fields(fields=None) -> tuple[str, ...]:
    """The result keys to add: ``None`` for :data:`DEFAULT_FIELDS`; ``"all"`` for
    every key; else names (a list, or text separated by commas), in the order
    given, where ``"default"`` stands for the default ones. Names are matched
    ignoring case and spaces; unknown ones are a :class:`ChoiceError` listing them.

    >>> choose_fields("status, footprint_code")
    ('status', 'footprint_code')
    >>> choose_fields("all") == RESULT_KEYS
    True
    """
    if fields is None:
        return DEFAULT_FIELDS
    names = fields.split(",") if isinstance(fields, str) else [str(f) for f in fields]
    names = [fold_case(n) for n in names if str(n).strip()]
    if not names:
        raise InputError("No fields given. Name the result columns to add (e.g. --fields status,footprint_code), "
                         "or give --fields all.")
    unknown = [n for n in names if n not in RESULT_KEYS and n not in ("all", "default")]
    if unknown:
        raise ChoiceError("field" if len(unknown) == 1 else "fields", ", ".join(unknown),
                          ["all", "default", *RESULT_KEYS])
    chosen: dict[str, None] = {}
    for n in names:
        chosen.update(dict.fromkeys({"all": RESULT_KEYS, "default": DEFAULT_FIELDS}.get(n, (n,))))
    return tuple(chosen)


def result_names(prefix: str = "", fields=RESULT_KEYS) -> list[str]:
    """Names of the columns the lookup adds: ``fields`` with ``prefix``."""
    return [f"{prefix}{key}" for key in fields]


def arrow_type(key: str) -> pa.DataType:
    """The Arrow type of a result column in files: dictionary-encoded text for
    :data:`CODED_KEYS`, else the declared type (``postcode`` text, numbers float64)."""
    return _CODED_TYPE if key in CODED_KEYS else RESULT_TYPES[key]


def result_fields(prefix: str = "", fields=RESULT_KEYS) -> list[pa.Field]:
    """The Arrow fields of the added columns."""
    return [pa.field(f"{prefix}{key}", arrow_type(key)) for key in fields]


#: Put before the added column names when one would take the name of an input
#: column and no prefix was given (then ``stpmap2_``, ``stpmap3_``... if that clashes too).
DEFAULT_PREFIX = "stpmap_"


def _clashes(columns, prefix: str, fields=RESULT_KEYS) -> list[str]:
    taken = {str(c) for c in columns}
    return [n for n in result_names(prefix, fields) if n in taken]


def _free_prefix(columns, fields=RESULT_KEYS) -> str:
    """:data:`DEFAULT_PREFIX`, or the first of ``stpmap2_``, ``stpmap3_``... that clashes with no column."""
    n, prefix = 1, DEFAULT_PREFIX
    while _clashes(columns, prefix, fields):
        n += 1
        prefix = f"{DEFAULT_PREFIX[:-1]}{n}_"
    return prefix


def check_collisions(columns, prefix: str, where: str = "the input", fields=RESULT_KEYS) -> None:
    """Error if a result column (of ``fields``) named with ``prefix`` would take the name of an input column."""
    clash = _clashes(columns, prefix, fields)
    if clash:
        free = _free_prefix(columns, fields)
        raise InputError(f"The lookup adds column(s) named {_quoted_list(clash)}, which {where} already has. "
                         f"Give another prefix, e.g. --prefix {free} (prefix={free!r} in Python), or leave "
                         "--prefix out: stpmap then prefixes the added columns only when their names clash.")


def result_prefix(columns, prefix: str | None, where: str = "the input", fields=RESULT_KEYS) -> str:
    """The prefix of the added columns (those of ``fields``). ``None``: none, unless
    a name clashes with an input column; then :data:`DEFAULT_PREFIX` (said in a
    StpmapWarning), so that the input's columns keep their names. A prefix given
    (even ``""``) is used as it is, and an error if a name still clashes.

    >>> result_prefix(["id", "pcd"], None), result_prefix(["id", "pcd"], "stp_")
    ('', 'stp_')
    """
    if prefix is not None:
        check_collisions(columns, str(prefix), where, fields)
        return str(prefix)
    clash = _clashes(columns, "", fields)
    if not clash:
        return ""
    chosen = _free_prefix(columns, fields)
    named = ", ".join(chosen + key for key in fields[:2]) + ("..." if len(fields) > 2 else "")
    warnings.warn(f"{where} already has column(s) named {_quoted_list(clash)}, which the lookup adds: so that "
                  f"yours keep their names, the added columns are named {named} "
                  "(give --prefix P, prefix='P' in Python, to name them otherwise).",
                  StpmapWarning, stacklevel=4)  # the caller of lookup_file or lookup_folder
    return chosen


# ------------------------------------------------------------------ lookups


def look_up(postcodes, vintage: int):
    """The lookup's answers (:class:`stpmap.postcodes.lookup.Answers`) for a chunk of
    postcodes, checked to have one row per postcode."""
    from stpmap.postcodes import lookup as _lookup

    found = _lookup.answers(postcodes, vintage=vintage)
    if len(found) != len(postcodes):  # never lose or reorder rows silently
        raise RuntimeError(f"the lookup returned {len(found)} rows for {len(postcodes)} postcodes")
    return found


@functools.lru_cache(maxsize=64)
def _labels(labels: tuple) -> pa.Array:
    return _parse.text_array(labels)


def _dictionary(codes: np.ndarray, labels: list) -> pa.DictionaryArray:
    indices = _parse.fixed_array(codes.astype(np.int16, copy=False), pa.int16(), valid=codes >= 0)
    return pa.DictionaryArray.from_arrays(indices, _labels(tuple(labels)))


def _postcodes(found) -> pa.Array:
    """The ``postcode`` column, which echoes the text of invalid postcodes: never text
    that a spreadsheet would run as a formula (such a postcode is left empty)."""
    import pyarrow.compute as pc

    from stpmap.files.write import FORMULA_PATTERN

    postcodes = found.postcodes()
    invalid = np.flatnonzero(~found.parsed.valid)
    if not len(invalid):
        return postcodes
    echoed = postcodes.take(_parse.fixed_array(invalid.astype(np.int64), pa.int64()))
    risky = _parse.true_of(pc.match_substring_regex(echoed, "^" + FORMULA_PATTERN))
    if not risky.any():
        return postcodes
    keep = np.ones(len(postcodes), dtype=bool)
    keep[invalid[risky]] = False
    return pc.if_else(_parse.bool_array(keep), postcodes, _parse.blank_texts(len(postcodes), null=True))


def result_arrays(found, fields=RESULT_KEYS) -> list[pa.Array]:
    """The result columns of :func:`look_up`'s answers as Arrow arrays of :func:`arrow_type`
    (missing values null; ``message`` only where the status is not ``ok``; ``postcode``
    never formula-like)."""
    arrays = []
    for key in fields:
        if key == "postcode":
            arrays.append(_postcodes(found))
        elif key in CODED_KEYS:
            codes, labels = found.codes(key)
            if key == "message":
                codes = np.where(found.status_codes() == _results.STATUSES.index("ok"), -1, codes)
            arrays.append(_dictionary(codes, labels))
        else:
            values = found.numbers(key)
            arrays.append(_parse.fixed_array(values, pa.float64(), valid=~np.isnan(values)))
    return arrays
