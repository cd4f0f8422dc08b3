"""UK postcode text: its canonical form, checking the shape, and packing into integers.

A postcode is an *outward* code (``NG1``, ``SW1A``: one or two letters, a
digit, then a letter or digit or nothing) and an *inward* code (``5DT``: a
digit and two letters). Input in any case and spacing is accepted::

    >>> canonical_postcode(" ng15dt ")
    'NG1 5DT'
    >>> canonical_postcode("not a postcode") is None
    True

For speed in bulk, :func:`parse` works on whole arrays with NumPy: each
postcode becomes an *outward key* (its outward code, padded to four
characters, read as a base-37 number: ``0 <= key < 37**4``) and an *inward
code* (``0 <= code < 6760``). These two integers address the postcode index
directly, with no hashing or string comparison.

NHS pseudo-postcodes (``ZZ99 3VZ`` no fixed abode, ``ZZ99 3WZ`` address not
known...) have the shape of a postcode but no place: :func:`pseudo_meaning`
says what each stands for.
"""

from __future__ import annotations

import re

import numpy as np

#: Characters of a packed outward code: space (padding), digits, letters.
ALPHABET = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
OUTWARD_SPACE = 37 ** 4
INWARD_SPACE = 10 * 26 * 26

_SHAPE = re.compile(r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR|NPT)[0-9][A-Z]{2}")
_SPACE = re.compile(r"\s+")
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


_UPPER = np.arange(256, dtype=np.uint8)
_UPPER[97:123] -= 32
_LET, _DIG = 1, 2
_CLASS = np.zeros(256, dtype=np.uint8)
_CLASS[65:91] = _LET
_CLASS[97:123] = _LET
_CLASS[48:58] = _DIG
_B37 = np.zeros(256, dtype=np.int32)
for _i, _ch in enumerate(ALPHABET):
    _B37[ord(_ch)] = _i
_SPACE_BYTE = 32


def _string_array(values):
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
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _pack(arr):
    """Each string of 5 to 7 bytes as 8 upper-case bytes ``OUT_ INW`` (outward
    padded to 4), with the outward length (0 for other strings)."""
    n = len(arr)
    bufs = arr.buffers()
    offs = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4) if n else np.zeros(1, np.int32)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    lo = int(offs[0]) if n else 0
    data = _UPPER[data[lo:int(offs[-1]) if n else 0]]
    data = np.concatenate([data, np.full(8, _SPACE_BYTE, np.uint8)])
    length = np.diff(offs)
    if arr.null_count:
        length = np.where(np.asarray(arr.is_null()), 0, length)
    fits = (length >= 5) & (length <= 7)
    outlen = np.where(fits, length - 3, 0).astype(np.int32)
    start = np.where(fits, offs[:-1] - lo, len(data) - 8)
    m = np.empty((n, 8), dtype=np.uint8)
    for j in range(4):
        m[:, j] = np.where(j < outlen, data[start + j], _SPACE_BYTE)
    m[:, 4] = _SPACE_BYTE
    tail = start + outlen
    for j in range(3):
        m[:, 5 + j] = data[tail + j]
    return m, outlen


def _valid(m, outlen):
    c = _CLASS[m]
    let, dig = c == _LET, c == _DIG
    inward = dig[:, 5] & let[:, 6] & let[:, 7]
    alnum = c[:, 3] != 0
    out = let[:, 0] & (
        ((outlen == 2) & dig[:, 1])
        | ((outlen == 3) & ((dig[:, 1] & (c[:, 2] != 0)) | (let[:, 1] & dig[:, 2])))
        | ((outlen == 4) & let[:, 1] & dig[:, 2] & alnum)
    )
    # two historical outward codes of three letters: GIR 0AA (Girobank) and NPT (Newport)
    three = (outlen == 3) & let[:, 1] & let[:, 2]
    if three.any():
        w = m[three, :3].copy().view("S3").ravel()
        out[three] = (w == b"GIR") | (w == b"NPT")
    return inward & out


def _canonical(m, outlen, valid):
    """Arrow strings 'OUT INW' for the valid rows ('' elsewhere)."""
    import pyarrow as pa

    keep = np.empty(m.shape, dtype=bool)
    for j in range(4):
        keep[:, j] = j < outlen
    keep[:, 4:] = True
    keep &= valid[:, None]
    size = np.where(valid, outlen + 4, 0)
    offsets = np.zeros(len(size) + 1, dtype=np.int32)
    np.cumsum(size, out=offsets[1:])
    out = m[keep]
    return pa.StringArray.from_buffers(len(size), pa.py_buffer(offsets), pa.py_buffer(out))


class Parsed:
    """Postcodes parsed in bulk (see :func:`parse`)."""

    __slots__ = ("text", "canonical", "valid", "empty", "outward_key", "inward_code")

    def __init__(self, text, canonical, valid, empty, okey, icode):
        self.text, self.canonical, self.valid, self.empty = text, canonical, valid, empty
        self.outward_key, self.inward_code = okey, icode

    def __len__(self):
        return len(self.valid)

    def postcodes(self):
        """The canonical postcode of each valid row, the input text of the others
        (null where the input was missing), as a pyarrow string array."""
        import pyarrow.compute as pc

        return pc.if_else(self.valid, self.canonical, self.text)


def parse(values) -> Parsed:
    """Parse many postcodes at once (list, NumPy or pandas or pyarrow array).

    >>> p = parse(["ng1 5dt", "NG15DT", "nonsense", None])
    >>> p.valid.tolist()
    [True, True, False, False]
    >>> p.postcodes().to_pylist()
    ['NG1 5DT', 'NG1 5DT', 'nonsense', None]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _string_array(values)
    squeezed = pc.replace_substring(text, " ", "")
    m, outlen = _pack(squeezed)
    valid = _valid(m, outlen)
    empty = np.zeros(len(valid), dtype=bool)
    bad = np.flatnonzero(~valid)
    if len(bad):
        # rare: other white space (tabs, no-break spaces, new lines); and which are empty
        sub = pc.replace_substring_regex(squeezed.take(pa.array(bad)), r"[\s\p{Z}]+", "")
        m2, outlen2 = _pack(sub)
        ok2 = _valid(m2, outlen2)
        m[bad], outlen[bad], valid[bad] = m2, outlen2, ok2
        empty[bad] = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(sub), 0), True))
    okey = np.zeros(len(valid), dtype=np.int32)
    for j in range(4):
        okey = okey * 37 + _B37[m[:, j]]
    icode = (m[:, 5].astype(np.int32) - 48) * 676 + (m[:, 6].astype(np.int32) - 65) * 26 + (m[:, 7].astype(np.int32) - 65)
    okey[~valid] = 0
    icode[~valid] = 0
    return Parsed(text, _canonical(m, outlen, valid), valid, empty, okey, icode)
