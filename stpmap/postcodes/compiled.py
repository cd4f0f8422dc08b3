"""The loops of the bulk postcode lookup, compiled by numba: reading postcode text,
finding each postcode's row of the index and its placement, and gathering its
coordinates; for :func:`stpmap.postcodes.lookup.lookup_many` of a million
postcodes and more (the NumPy code of parse and lookup gives the same answers).

Reading is one pass over the text that also writes the canonical postcodes; the
lookups are a few simple passes, each waiting on one read from memory a row
(see below). The loops are
compiled on their first call and the machine code is cached on disk
(``cache=True``), so a new process loads it instead of compiling again (loading
numba itself still costs about half a second of CPU, once in a process).
Imported only by bulk work: a single lookup never loads numba.
"""

from __future__ import annotations

import numba
import numpy as np

# Each byte's class: a letter or digit, white space, another ASCII byte (never in a
# postcode), or a byte of a character beyond ASCII (white space or not: looked at closer).
_ALNUM, _SPACE, _OTHER, _WIDE = 0, 1, 2, 3
_CLASS = np.full(256, _OTHER, dtype=np.uint8)
_CLASS[48:58] = _CLASS[65:91] = _CLASS[97:123] = _ALNUM
_CLASS[[9, 10, 12, 13, 32]] = _SPACE
_CLASS[128:] = _WIDE
#: Each byte in upper case (ASCII letters only).
_UPPER = np.arange(256, dtype=np.uint8)
_UPPER[97:123] -= 32
#: Each byte's base-37 value (``parse.ALPHABET``): digits 1-10, letters 11-36, 0 for others.
_B37 = np.zeros(256, dtype=np.int32)
_B37[48:58] = np.arange(1, 11)
_B37[65:91] = _B37[97:123] = np.arange(11, 37)
_INWARD_SPACE = 10 * 26 * 26
_MOST = 7  # characters of the longest postcode (AA9A 9AA) without its space
_GIR_NPT = 2  # in _SHAPE_OK: three letters, a postcode only as GIR or NPT


def _shape_table() -> np.ndarray:
    """``(count << 7) | letters`` -> 1 when ``count`` characters with ``letters``
    (bit ``m`` set where character ``m`` is a letter, clear where a digit) have the
    shape of a postcode; :data:`_GIR_NPT` for three letters then an inward code; 0 otherwise."""
    table = np.zeros(8 << 7, dtype=np.uint8)
    for outward in ("LD", "LDD", "LDL", "LLD", "LLDD", "LLDL", "LLL"):
        shape = outward + "DLL"
        letters = sum(1 << m for m, ch in enumerate(shape) if ch == "L")
        table[(len(shape) << 7) | letters] = _GIR_NPT if outward == "LLL" else 1
    return table


_SHAPE_OK = _shape_table()


@numba.njit(cache=True, nogil=True, inline="always")
def _space_bytes(data, j, end):
    """How many bytes of white space start at ``data[j]`` (0 for none): what the
    pattern ``[\\s\\p{Z}]`` matches, i.e. tab, line feed, form feed, carriage return,
    space, and the Unicode separators (no-break space, the en/em spaces, ideographic space...)."""
    c = data[j]
    if _CLASS[c] == _SPACE:
        return 1
    if c == 0xC2:
        return 2 if j + 1 < end and data[j + 1] == 0xA0 else 0  # U+00A0
    if j + 2 >= end:
        return 0
    c1, c2 = data[j + 1], data[j + 2]
    if c == 0xE1:
        return 3 if c1 == 0x9A and c2 == 0x80 else 0  # U+1680
    if c == 0xE2:
        if c1 == 0x80 and (c2 <= 0x8A or c2 == 0xA8 or c2 == 0xA9 or c2 == 0xAF):  # U+2000-200A, 2028, 2029, 202F
            return 3
        return 3 if c1 == 0x81 and c2 == 0x9F else 0  # U+205F
    if c == 0xE3:
        return 3 if c1 == 0x80 and c2 == 0x80 else 0  # U+3000
    return 0


@numba.njit(cache=True, nogil=True, inline="always")
def _squeeze_wide(data, start, end, chars):
    """The letters and digits of a text with characters beyond ASCII into ``chars``
    (upper case): their count, and the letter bits (see :func:`_shape_table`);
    a count over :data:`_MOST` where it cannot be a postcode."""
    k = 0
    letters = 0
    j = start
    while j < end:
        c = data[j]
        cls = _CLASS[c]
        if cls == _ALNUM:
            if k == _MOST:
                return _MOST + 1, 0
            chars[k] = _UPPER[c]
            letters |= (1 if c >= 65 else 0) << k
            k += 1
            j += 1
            continue
        width = _space_bytes(data, j, end)
        if width == 0:
            return _MOST + 1, 0
        j += width
    return k, letters


@numba.njit(cache=True, nogil=True)
def read_postcodes(offsets, data, nulls, null_offset, gir, npt, okey, icode, valid, empty, out_offsets, out_data):
    """Read each string (``offsets`` into ``data``; null where its bit of ``nulls``
    is 0, unless ``nulls`` is empty) as a postcode, in any case and spacing.

    Writes each row's outward key and inward code (0 where not a postcode), whether
    it is a postcode (``valid``) and whether it is empty, white space or null
    (``empty``), and the output text: the canonical postcode where valid, the
    text as given elsewhere (``out_offsets`` into ``out_data``). Returns the bytes
    written and how many valid rows were not written in canonical form. ``gir``
    and ``npt`` are the base-37 numbers of the three-letter outward codes allowed."""
    n = len(okey)
    chars = np.zeros(16, dtype=np.uint8)
    pos = 0
    respelt = 0
    has_nulls = len(nulls) > 0
    out_offsets[0] = 0
    for i in range(n):
        if has_nulls:
            bit = null_offset + i
            if not (nulls[bit >> 3] >> (bit & 7)) & 1:
                okey[i] = 0
                icode[i] = 0
                valid[i] = False
                empty[i] = True
                out_offsets[i + 1] = pos
                continue
        start, end = offsets[i], offsets[i + 1]
        k = 0
        letters = 0
        seen = 0  # the classes met, one bit each
        if end - start <= 15:
            # branch-free: every byte is stored, and counted only when a letter or digit
            for j in range(start, end):
                c = data[j]
                cls = _CLASS[c]
                seen |= 1 << cls
                chars[k] = _UPPER[c]
                letters |= (1 if c >= 65 else 0) << k
                k += 1 if cls == _ALNUM else 0
        else:
            seen = 1 << _WIDE
        if seen & (1 << _WIDE):
            k, letters = _squeeze_wide(data, start, end, chars)
        elif seen & (1 << _OTHER):
            k = _MOST + 1
        shape = _SHAPE_OK[(k << 7) | (letters & 127)] if k <= _MOST else 0
        if shape == _GIR_NPT:
            key = (_B37[chars[0]] * 37 + _B37[chars[1]]) * 37 + _B37[chars[2]]
            if key != gir and key != npt:
                shape = 0
        if shape:
            n_out = k - 3
            key = 0
            for m in range(4):
                key = key * 37 + (_B37[chars[m]] if m < n_out else 0)
            okey[i] = key
            icode[i] = (chars[k - 3] - 48) * 676 + (chars[k - 2] - 65) * 26 + (chars[k - 1] - 65)
            valid[i] = True
            empty[i] = False
            # the canonical form, 8 bytes written whatever its length (no branch to mispredict;
            # the bytes past its end are overwritten by the next row's)
            diff = 0 if end - start == k + 1 else 1
            for m in range(8):
                byte = chars[m] if m < n_out else (32 if m == n_out else chars[(m - 1) & 15])
                out_data[pos + m] = byte
                diff |= (data[min(start + m, end - 1)] ^ byte) if m <= k else 0
            pos += k + 1
            respelt += 1 if diff else 0
        else:
            okey[i] = 0
            icode[i] = 0
            valid[i] = False
            empty[i] = k == 0
            for j in range(start, end):
                out_data[pos] = data[j]
                pos += 1
        out_offsets[i + 1] = pos
    return pos, respelt


# The lookups below take a few simple passes rather than one: in a pass whose every
# step waits on the one before (key, then slot, then row, then placement), the
# processor overlaps far fewer reads from memory, and runs several times slower.


@numba.njit(cache=True, nogil=True)
def find_rows(okey, icode, valid, out_slot, table, row):
    """Each postcode's directory row: ``table[out_slot[okey] * INWARD_SPACE + icode]``,
    -1 where not a postcode or not in the directory. ``row`` holds the positions in
    ``table`` on the way."""
    flat = row  # the positions fit in int32: the table has fewer than 2**31 entries (checked by the caller)
    for i in range(len(okey)):
        slot = np.int64(out_slot[okey[i]]) if valid[i] else -1
        flat[i] = slot * _INWARD_SPACE + icode[i] if slot >= 0 else -1
    for i in range(len(okey)):
        f = flat[i]
        row[i] = table[f] if f >= 0 else -1


@numba.njit(cache=True, nogil=True)
def place(row, valid, empty, okey, icode, assign, combo_reason, pseudo_okey, pseudo_reason, not_found, empty_reason,
          invalid_reason, combo, reason):
    """Each row's combination (``assign[row]``; -1 where not in the directory) and
    reason: the combination's where found, else that of the pseudo-postcode
    (``pseudo_reason`` by inward code, where the outward key is ``pseudo_okey``),
    not found, empty or invalid."""
    for i in range(len(row)):
        r = row[i]
        c = assign[r] if r >= 0 else -1
        combo[i] = c
        if c >= 0:
            reason[i] = combo_reason[c]
        elif not valid[i]:
            reason[i] = empty_reason if empty[i] else invalid_reason
        elif okey[i] == pseudo_okey:
            reason[i] = pseudo_reason[icode[i]]
        else:
            reason[i] = not_found


@numba.njit(cache=True, nogil=True)
def gather_coordinates(row, coords, out):
    """``out[k, i] = coords[row[i], k]`` for the four columns of ``coords`` (NaN where
    ``row[i] < 0``): each row's four read at once (one memory read), written column by column."""
    for i in range(len(row)):
        r = row[i]
        if r >= 0:
            out[0, i], out[1, i], out[2, i], out[3, i] = coords[r, 0], coords[r, 1], coords[r, 2], coords[r, 3]
        else:
            out[0, i] = out[1, i] = out[2, i] = out[3, i] = np.nan


@numba.njit(cache=True, nogil=True)
def gather(row, values, out):
    """``out[i] = values[row[i]]`` (NaN where ``row[i] < 0``)."""
    for i in range(len(row)):
        r = row[i]
        out[i] = values[r] if r >= 0 else np.nan
