"""UK postcode text: its canonical form, checking the shape, and packing into integers.

A postcode is an *outward* code (``NG1``, ``SW1A``: one or two letters, a
digit, then a letter or digit or nothing) and an *inward* code (``5DT``: a
digit and two letters). Input in any case and spacing is accepted::

    >>> canonical_postcode(" ng15dt ")
    'NG1 5DT'
    >>> canonical_postcode("not a postcode") is None
    True

For speed in bulk, :func:`parse` works on whole arrays, with NumPy or with a
compiled loop (numba, for millions at once): each postcode becomes an *outward
key* (its outward code, padded to four characters, read as a base-37 number:
``0 <= key < 37**4``) and an *inward code* (``0 <= code < 6760``). These two
integers address the postcode index directly, with no hashing or string comparison.

NHS pseudo-postcodes (``ZZ99 3VZ`` no fixed abode, ``ZZ99 3WZ`` address not
known...) have the shape of a postcode but no place: :func:`pseudo_meaning`
says what each stands for.
"""

from __future__ import annotations

import re

import numpy as np

from stpmap.errors import InputError

#: Characters of a packed outward code: space (padding), digits, letters.
ALPHABET = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
OUTWARD_SPACE = 37 ** 4
INWARD_SPACE = 10 * 26 * 26

_SHAPE = re.compile(r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR|NPT)[0-9][A-Z]{2}")
#: White space in postcode text, the same for one postcode as for millions: what
#: RE2's ``[\s\p{Z}]`` (the bulk path, in pyarrow) removes, written out for
#: Python's re, whose own ``\s`` would also take \v, \x1c-\x1f and \x85.
_SPACE = re.compile("[\t\n\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_ORD = {ch: i for i, ch in enumerate(ALPHABET)}

#: NHS pseudo-postcodes (NHS Data Dictionary) and what each stands for.
PSEUDO = {
    "ZZ99 3VZ": "no fixed abode",
    "ZZ99 3WZ": "address not known",
    "ZZ99 3CZ": "England, address not otherwise specified",
    "ZZ99 3GZ": "Wales, address not otherwise specified",
    "ZZ99 1WZ": "Scotland, address not otherwise specified",
    "ZZ99 2WZ": "Northern Ireland, address not otherwise specified",
}
PSEUDO_OUTWARD = "ZZ99"

#: Postcode areas wholly outside England, and the country each lies in. Areas
#: that cross the border (TD, CA, CH, SY, LD, NP, HR, GL...) are not listed:
#: for those only the directory's local authority can tell.
AREA_COUNTRY = {
    **{a: "Scotland" for a in ("AB", "DD", "DG", "EH", "FK", "G", "HS", "IV", "KA", "KW", "KY", "ML", "PA", "PH", "ZE")},
    **{a: "Wales" for a in ("CF", "SA", "LL")},
    "BT": "Northern Ireland",
    "GY": "the Channel Islands",
    "JE": "the Channel Islands",
    "IM": "the Isle of Man",
}


# ------------------------------------------------------------------ one at a time


def compact(text) -> str:
    """Upper case with every space removed; ``''`` for None or NaN."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    return _SPACE.sub("", str(text)).upper()


def canonical_postcode(text) -> str | None:
    """The postcode in its canonical form (``'NG1 5DT'``), or None if it is not
    the shape of a UK postcode.

    >>> canonical_postcode("sw1a1aa")
    'SW1A 1AA'
    """
    s = compact(text)
    if not _SHAPE.fullmatch(s):
        return None
    return f"{s[:-3]} {s[-3:]}"


def outward_key(outward: str) -> int:
    """The outward code as a number (``0 <= key < 37**4``)."""
    key = 0
    for ch in outward.ljust(4):
        key = key * 37 + _ORD[ch]
    return key


def inward_code(inward: str) -> int:
    """The inward code as a number (``0 <= code < 6760``)."""
    return (ord(inward[0]) - 48) * 676 + (ord(inward[1]) - 65) * 26 + (ord(inward[2]) - 65)


def index_keys(postcode: str) -> tuple[int, int]:
    """Outward key and inward code of a canonical postcode (they address the postcode index)."""
    out, inw = postcode.split(" ")
    return outward_key(out), inward_code(inw)


def area(postcode: str) -> str:
    """The postcode area: the leading letters (``'NG'``, ``'B'``)."""
    return re.match(r"[A-Z]*", postcode).group(0)


def pseudo_meaning(postcode: str) -> str:
    """What an NHS pseudo-postcode (``ZZ99 ...``) stands for."""
    return PSEUDO.get(postcode, "a code with no geographic location")


# ------------------------------------------------------------------ arrays
#
# In bulk a postcode is read as 8 bytes, right-aligned (" NG1 5DT", "  ng15dt"), so that each row
# is one 64-bit word and its bytes pairs of 16 bits. Small tables indexed by byte pairs give each
# row's *shape* (the class of each byte: other, letter, digit, space) and the base-37 values; one
# table of shapes says whether the row is a postcode and where its outward code starts. pyarrow
# pads the text and NumPy does the rest over whole arrays. Only the rare texts that do not read
# so (tabs, spaces inside a code, longer than 8 bytes...) are squeezed with a regular expression
# and read again.

_WIDTH = 8
_OTHER, _LET, _DIG, _SPC = 0, 1, 2, 3
_THREE_LETTERS = 64  # flag in the shape table: an outward code of three letters (GIR, NPT)
_SPACE_BYTE = 32


def _byte_tables():
    """Per byte: class, base-37 value (either case, space 0), digit value, letter value."""
    cls = np.zeros(256, dtype=np.uint16)
    cls[65:91] = cls[97:123] = _LET
    cls[48:58] = _DIG
    cls[32] = _SPC
    b37 = np.zeros(256, dtype=np.int32)
    for i, ch in enumerate(ALPHABET):
        b37[ord(ch)] = b37[ord(ch.lower())] = i
    digit = np.clip(b37 - 1, 0, 9)
    letter = np.clip(b37 - 11, 0, 25)
    return cls, b37, digit, letter


def _pair_tables():
    """Tables indexed by two bytes as a little-endian 16-bit number (first byte low): the
    classes (4 bits), the base-37 value (two digits) and the value of two inward letters."""
    cls, b37, _, letter = _byte_tables()
    lo, hi = np.arange(1 << 16) & 255, np.arange(1 << 16) >> 8
    return (cls[lo] | (cls[hi] << 2)).astype(np.uint16), (b37[lo] * 37 + b37[hi]).astype(np.int32), \
        (letter[lo] * 26 + letter[hi]).astype(np.int32)


_CLASS, _B37, _DIGIT, _LETTER = _byte_tables()
_PAIR_CLASS, _PAIR_B37, _PAIR_LETTERS = _pair_tables()
#: Outward codes by the classes of their characters (three letters only as GIR or NPT).
_OUTWARD_SHAPES = ("LD", "LDD", "LDL", "LLD", "LLDD", "LLDL", "LLL")


def _shape_table() -> np.ndarray:
    """Shape (2 bits a byte, first byte lowest) -> ``1 + start`` of the outward code, plus
    ``8 * length`` and the three-letter flag, for a postcode right-aligned in 8 bytes: spaces,
    the outward code, spaces, the inward code (digit, letter, letter); 0 for other shapes."""
    table = np.zeros(1 << 16, dtype=np.uint8)
    cls = {"L": _LET, "D": _DIG, " ": _SPC}
    for outward in _OUTWARD_SHAPES:
        for start in range(0, 6 - len(outward)):
            text = " " * start + outward + " " * (5 - start - len(outward)) + "DLL"
            shape = sum(cls[ch] << (2 * j) for j, ch in enumerate(text))
            table[shape] = 1 + start + 8 * len(outward) + (_THREE_LETTERS if outward == "LLL" else 0)
    return table


_SHAPES = _shape_table()


# ------------------------------------------------------------------ Arrow arrays from NumPy
#
# Made from buffers: pyarrow.array(), pyarrow.scalar() and compute functions given Python scalars
# import pandas (pyarrow checks for pandas objects), a quarter of a second that a file lookup,
# which needs no pandas, would pay in every process.


def _bitmap(mask: np.ndarray):
    import pyarrow as pa

    return pa.py_buffer(np.packbits(mask, bitorder="little"))


def fixed_array(values: np.ndarray, kind, valid: np.ndarray | None = None):
    """A pyarrow array of ``kind`` (fixed width, as ``values``' dtype) of NumPy
    ``values``; null where ``valid`` is False."""
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    nulls = None if valid is None or valid.all() else _bitmap(valid)
    return pa.Array.from_buffers(kind, len(values), [nulls, pa.py_buffer(values)])


def bool_array(mask: np.ndarray):
    """A pyarrow boolean array of a NumPy one."""
    import pyarrow as pa

    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, _bitmap(np.asarray(mask, dtype=bool))])


def text_array(texts, valid: np.ndarray | None = None):
    """A pyarrow string array of Python strings (null where ``valid`` is False)."""
    import pyarrow as pa

    data = [t.encode() for t in texts]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    nulls = None if valid is None or valid.all() else _bitmap(valid)
    return pa.Array.from_buffers(pa.string(), len(data), [nulls, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def blank_texts(n: int, null: bool = False):
    """``n`` empty strings (or nulls), as a pyarrow string array."""
    import pyarrow as pa

    nulls = _bitmap(np.zeros(n, dtype=bool)) if null else None
    return pa.Array.from_buffers(pa.string(), n, [nulls, pa.py_buffer(np.zeros(n + 1, np.int32)), pa.py_buffer(b"")])


def valid_of(array) -> np.ndarray:
    """Which entries of a pyarrow array are not null, as a NumPy array."""
    n = len(array)
    if not array.null_count:
        return np.ones(n, dtype=bool)
    bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little", count=array.offset + n)[array.offset:].astype(bool)


def true_of(array) -> np.ndarray:
    """Which entries of a pyarrow boolean array are true (null counts as false)."""
    n = len(array)
    bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little", count=array.offset + n)[array.offset:].astype(bool) & valid_of(array)


def text_lengths(text) -> np.ndarray:
    """The length in bytes of each string of a pyarrow string array (0 where null)."""
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=n + 1, offset=text.offset * 4)
    return np.where(valid_of(text), np.diff(offsets), 0)


# ------------------------------------------------------------------ reading in bulk


def string_array(values):
    """Anything list-like of text as one pyarrow string array (nulls kept)."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        arr = values
    else:
        try:
            import pandas as pd

            if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
                values = values.astype(object)
            arr = pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            # numbers or other objects among the values: their text
            arr = pa.array([None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values],
                           type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _right_aligned(text) -> np.ndarray:
    """Each string of at most 8 bytes right-aligned in 8 bytes, as one little-endian 64-bit
    word a row; longer or missing ones as 8 spaces."""
    import pyarrow.compute as pc

    n = len(text)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    fits = valid_of(text) & (text_lengths(text) <= _WIDTH)
    if not fits.all():
        text = pc.if_else(bool_array(fits), text, blank_texts(n))
    padded = pc.ascii_lpad(text, _WIDTH, " ")
    data = padded.buffers()[2]
    start = padded.offset * _WIDTH
    if data is None or data.size < start + n * _WIDTH:  # pragma: no cover - pyarrow lays padded text out densely
        raise RuntimeError("unexpected layout of padded postcodes")
    words = np.frombuffer(data, dtype="<u8", count=n, offset=start)
    return words.astype(np.uint64, copy=False)


_POW37 = np.array([37 ** k for k in range(4)], dtype=np.int64)
_LOW, _HIGH = 0x0101010101010101, 0x8080808080808080
_SPACES = 0x2020202020202020


def _lower_case(words: np.ndarray) -> np.ndarray:
    """0x80 in each byte of the words that is a lower-case ASCII letter (bit tricks: one pass)."""
    low7 = words & np.uint64(_LOW * 127)
    return (np.uint64(_LOW * (127 + 0x7B)) - low7) & ~words & (low7 + np.uint64(_LOW * (127 - 0x60))) \
        & np.uint64(_HIGH)


def _upper(words: np.ndarray) -> np.ndarray:
    return words - (_lower_case(words) >> np.uint64(2))


_SPECIAL_KEYS = None  # outward keys of GIR and NPT, set below


def _read(words: np.ndarray):
    """Shape code (see :func:`_shape_table`), outward key and inward code of each
    right-aligned row; it is a postcode where ``code > 0`` (keys are 0 elsewhere)."""
    pairs = words.view("<u2").reshape(-1, 4)
    shape = (_PAIR_CLASS[pairs[:, 0]] | (_PAIR_CLASS[pairs[:, 1]] << 4) | (_PAIR_CLASS[pairs[:, 2]] << 8)
             | (_PAIR_CLASS[pairs[:, 3]] << 12))
    code = _SHAPES[shape]
    start = (code & 7).astype(np.intp) - 1
    head = (_PAIR_B37[pairs[:, 0]] * 1369 + _PAIR_B37[pairs[:, 1]]) * 37 + _B37[pairs[:, 2] & 255]
    okey = ((head.astype(np.int64) * _POW37[np.clip(start, 0, 3)]) // 37).astype(np.int32)
    icode = _DIGIT[pairs[:, 2] >> 8] * 676 + _PAIR_LETTERS[pairs[:, 3]]
    three = np.flatnonzero(code & _THREE_LETTERS)
    if len(three):  # three letters: only GIR (Girobank) and NPT (Newport) are postcodes
        code[three[~np.isin(okey[three], _SPECIAL_KEYS)]] = 0
    invalid = code == 0
    okey[invalid] = 0
    icode[invalid] = 0
    return code, okey, icode


def _canonical_words(words: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Each valid row as ``OUT INW`` right-aligned in 8 upper-case bytes (a 64-bit word)."""
    words = _upper(words)
    start = (code & 7).astype(np.int64) - 1
    end = start + ((code >> 3) & 7)
    shift = (end - 4) * 8  # bytes to move the outward code by, so that it ends at byte 4
    moved = np.where(shift >= 0, words >> np.maximum(shift, 0).astype(np.uint64),
                     words << np.maximum(-shift, 0).astype(np.uint64))
    fill = np.where(shift < 0, (np.uint64(1) << np.maximum(-shift, 0).astype(np.uint64)) - np.uint64(1), 0)
    outward = (moved & np.uint64(0xFFFFFFFF)) | (np.uint64(_SPACES) & fill.astype(np.uint64))
    return outward | np.uint64(0x20 << 32) | (words & np.uint64(0xFFFFFF << 40))


def _canonical(words: np.ndarray, code: np.ndarray):
    """Arrow strings 'OUT INW' for the valid rows (null elsewhere)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(words)
    fixed = _canonical_words(words, code).astype("<u8", copy=False)
    offsets = np.arange(0, (n + 1) * _WIDTH, _WIDTH, dtype=np.int32)
    valid = np.packbits(code > 0, bitorder="little")
    array = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(fixed), pa.py_buffer(valid))
    return pc.utf8_ltrim(array, " ")


def _squeezed(text):
    """The texts without any white space (a regular expression: slow, for the few that need it)."""
    import pyarrow.compute as pc

    if text.null_count:
        text = pc.if_else(bool_array(valid_of(text)), text, blank_texts(len(text)))
    return pc.replace_substring_regex(text, r"[\s\p{Z}]+", "")


def _respelt(text, words: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Which valid rows are not written in their canonical form (upper case, one space)."""

    one_space = ((code & 7) - 1 + ((code >> 3) & 7)) == 4  # the outward code ends at byte 4
    length = text_lengths(text)
    bare = length == ((code >> 3) & 7) + 4  # no spaces around
    return (code > 0) & ~(one_space & bare & (_lower_case(words) == 0))


def _read_arrays(text) -> Parsed:
    """:func:`parse` with NumPy over whole arrays (see the comment above :func:`_byte_tables`)."""
    import pyarrow as pa

    words = _right_aligned(text)
    code, okey, icode = _read(words)
    empty = np.zeros(len(code), dtype=bool)
    bad = np.flatnonzero(code == 0)
    if len(bad):
        # the few others, squeezed of all white space and read again; and which are empty
        sub = _squeezed(text.take(fixed_array(bad.astype(np.int64), pa.int64())))
        empty[bad] = text_lengths(sub) == 0
        retry = _right_aligned(sub)
        code2, okey2, icode2 = _read(retry)
        if (code2 > 0).any():
            words = words.copy()
            words[bad], code[bad], okey[bad], icode[bad] = retry, code2, okey2, icode2
    respelt = _respelt(text, words, code)
    return Parsed(text, code > 0, empty, okey, icode, lambda: _respelt_postcodes(text, words, code, respelt))


def _respelt_postcodes(text, words: np.ndarray, code: np.ndarray, respelt: np.ndarray):
    """The text with the ``respelt`` rows in canonical form."""
    import pyarrow.compute as pc

    rows = np.flatnonzero(respelt)
    if not len(rows):  # every postcode is written in its canonical form already
        return text
    if len(rows) == len(text):  # every one respelt
        return _canonical(words, code)
    return pc.replace_with_mask(text, bool_array(respelt), _canonical(words[rows], code[rows]))


_SPECIAL_KEYS = np.array([outward_key("GIR"), outward_key("NPT")], dtype=np.int32)


# ------------------------------------------------------------------ either way


class Parsed:
    """Postcodes parsed in bulk (see :func:`parse`): the input ``text`` (a pyarrow
    string array), and NumPy arrays ``valid``, ``empty``, ``outward_key``, ``inward_code``."""

    __slots__ = ("text", "valid", "empty", "outward_key", "inward_code", "_postcodes")

    def __init__(self, text, valid, empty, okey, icode, postcodes):
        self.text, self.valid, self.empty = text, valid, empty
        self.outward_key, self.inward_code = okey, icode
        self._postcodes = postcodes  # what postcodes() gives, or a function making it when first asked

    def __len__(self):
        return len(self.valid)

    @property
    def canonical(self):
        """The canonical postcode of each valid row, null for the others (pyarrow strings)."""
        import pyarrow.compute as pc

        return pc.if_else(bool_array(self.valid), self.postcodes(), blank_texts(len(self), null=True))

    def postcodes(self):
        """The canonical postcode of each valid row, the input text of the others
        (null where the input was missing), as a pyarrow string array (the input
        itself, no copy, when every postcode is written in canonical form)."""
        if callable(self._postcodes):
            self._postcodes = self._postcodes()
        return self._postcodes


def parse(values, compiled: bool = False) -> Parsed:
    """Parse many postcodes at once (list, NumPy or pandas or pyarrow array).

    A string is a postcode when, with all white space taken out (what the pattern
    ``[\\s\\p{Z}]`` matches: spaces, tabs, line breaks, the no-break and other
    Unicode spaces), it has the shape of one, in ASCII letters of either case.
    ``compiled`` reads with a compiled loop (:mod:`stpmap.postcodes.compiled`,
    numba): the same answers, about three times as fast, once numba is loaded
    (some 0.5 s of CPU, once in a process).

    >>> p = parse(["ng1 5dt", "NG15DT", "nonsense", None])
    >>> p.valid.tolist()
    [True, True, False, False]
    >>> p.postcodes().to_pylist()
    ['NG1 5DT', 'NG1 5DT', 'nonsense', None]
    """
    text = string_array(values)
    return _read_compiled(text) if compiled else _read_arrays(text)


# ------------------------------------------------------------------ compiled


def _buffers(text) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The offsets, bytes and null bitmap (empty when nothing is null) of a pyarrow
    string array, as NumPy views (no copy)."""
    n = len(text)
    validity, offsets, data = text.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int32, count=n + 1, offset=text.offset * 4) if n else \
        np.zeros(1, dtype=np.int32)
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    nulls = np.frombuffer(validity, dtype=np.uint8) if text.null_count else np.zeros(0, dtype=np.uint8)
    return offsets, data, nulls


def _read_compiled(text) -> Parsed:
    """:func:`parse` with the compiled loop (:func:`stpmap.postcodes.compiled.read_postcodes`)."""
    import pyarrow as pa

    from stpmap.postcodes import compiled

    n = len(text)
    offsets, data, nulls = _buffers(text)
    # a canonical postcode is at most one byte longer than its text; 8 bytes more: the loop writes 8 at a time
    size = int(offsets[-1]) - int(offsets[0]) + n + 8
    if size >= 2 ** 31:
        raise InputError(f"{n:,} postcodes of {size:,} bytes of text in one array are too many at once: "
                         "look them up in parts of at most a few million.")
    okey, icode = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32)
    valid, empty = np.empty(n, dtype=bool), np.empty(n, dtype=bool)
    out_offsets, out_data = np.empty(n + 1, dtype=np.int32), np.empty(size, dtype=np.uint8)
    written, respelt = compiled.read_postcodes(offsets, data, nulls, text.offset, _THREE_LETTER_KEYS[0],
                                               _THREE_LETTER_KEYS[1], okey, icode, valid, empty, out_offsets, out_data)
    if text.null_count:
        bitmap = text.buffers()[0] if text.offset == 0 else _bitmap(valid_of(text))
    else:
        bitmap = None
    out = pa.StringArray.from_buffers(n, pa.py_buffer(out_offsets), pa.py_buffer(out_data[:written]), bitmap,
                                      text.null_count)
    return Parsed(text, valid, empty, okey, icode, out if respelt else text)


#: The outward codes of three letters that are postcodes (Girobank, Newport), as the
#: base-37 number of their three characters.
_THREE_LETTER_KEYS = (outward_key("GIR") // 37, outward_key("NPT") // 37)
