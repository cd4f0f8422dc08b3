"""Alternative text for maps: one or two sentences, worked out from what a
map shows (:class:`stpmap.maps.prepare.MapData`), that say what areas it
covers, of when, what the colours mean and, for numbers, their range and
the highest and lowest areas.

Public-sector accessibility rules ask that every image has a text
alternative; stpmap puts this one in PNG metadata ("Description"), as the
SVG's ``<title>``/``<desc>``, as the HTML map's accessible description, as
the pictures' description in Word and PowerPoint reports, and on the
Figure :func:`stpmap.plot` returns (``fig.alt_text``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Categories listed by name, at most; more are summarised.
MAX_LISTED = 8


def number(x: float, integer: bool | None = None) -> str:
    """``x`` written for reading: thousands separators, no needless decimals.

    >>> number(1234567.0)
    '1,234,567'
    >>> number(0.4567)
    '0.457'
    """
    from stpmap.maps.prepare import _fmt_number

    if integer is None:
        integer = float(x) % 1 == 0
    return _fmt_number(float(x), bool(integer))


def _where(md) -> str:
    """The areas the map covers, e.g. "the 6 East of England STP footprints"."""
    from stpmap.maps.words import layer_words

    one, many = layer_words(md.layer, md.vintage or None)
    n = len(md.gdf)
    if md.national:
        return f"the {n} {many} of England"
    place = md.selection
    if n == 1:
        name = str(md.gdf["name"].iloc[0])
        return f"the {one} {name}" if place in (None, name) else f"the {one} {name} ({place})"
    if not place:
        return f"{n} {many}"
    if ";" in place or place.endswith("footprints"):  # a list of footprints, not a group's name
        return f"the {n} {many} of {place}"
    return f"the {n} {place} {many}"


def _numbers(md) -> str:
    values = pd.to_numeric(md.gdf["value"], errors="coerce")
    ok = values.notna().to_numpy()
    if not ok.any():
        return f"shaded by {md.colour_by}, with no figures for any area"
    v = values[ok].to_numpy(dtype=float)
    integer = bool(np.all(np.mod(v, 1) == 0))
    names = md.gdf["name"].astype(str).to_numpy()[ok]
    hi, lo = int(np.argmax(v)), int(np.argmin(v))
    out = f"shaded by {md.colour_by} from {number(v.min(), integer)} to {number(v.max(), integer)}"
    if len(v) > 1:
        out += (f"; highest {names[hi]} ({number(v[hi], integer)}), "
                f"lowest {names[lo]} ({number(v[lo], integer)})")
    return out


def _categories(md) -> str:
    from stpmap.maps import colours as _colours

    known = md.gdf[md.gdf["fill"] != _colours.MISSING]
    key = "value" if known["value"].notna().any() else ("stp_name" if "stp_name" in known else "name")
    counts = known[key].astype(str).value_counts(sort=False)
    order = [str(label) for label, _ in md.legend.entries if str(label) in counts.index] or list(counts.index)
    parts = [f"{c} ({counts[c]})" for c in order[:MAX_LISTED]]
    if len(order) > MAX_LISTED:
        parts.append(f"and {len(order) - MAX_LISTED} more")
    word = "category" if len(order) == 1 else "categories"
    return f"coloured by {md.colour_by}, {len(order)} {word} (areas in each): {', '.join(parts)}"


def _identity(md) -> str:
    from stpmap.maps.words import layer_words

    if md.layer != "stp":
        return "coloured by footprint"
    names = md.gdf["name"].astype(str).tolist()
    listed = "; ".join(names[:MAX_LISTED]) + (f"; and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")
    return f"each {layer_words('stp', md.vintage or None)[0]} in its own colour: {listed}"


def alt_text(md) -> str:
    """The alternative text of the map ``md`` shows (see the module's doc).

    E.g. "Map of the 6 East of England STP footprints, April 2017, shaded by
    population from 1,012,345 to 1,634,567; highest ... (1,634,567), lowest
    ... (1,012,345)." A hex cartogram's says so: "Hex cartogram (one hexagon
    of the same size per STP footprint, ...) of the 44 STP footprints ...".
    """
    from stpmap.maps.words import as_of, capital, layer_words

    head = f"Map of {_where(md)}"
    if md.shape == "hex":
        one = layer_words(md.layer, md.vintage or None)[0]
        head = f"Hex cartogram (one hexagon of the same size per {one}, placed roughly as on a map; not to scale) of {_where(md)}"
    if md.vintage:
        head += f", {as_of(md.vintage)}"
    kind = md.legend.kind
    if kind == "classes":
        body = _numbers(md)
    elif kind == "categories":
        body = _categories(md)
    else:
        body = _identity(md)
    text = f"{head}, {body}."
    note = getattr(getattr(md, "joined", None), "vintage_note", "")
    if note:  # the user's figures are of another vintage than the map
        text += f" {capital(note)}."
    missing = int((md.gdf["fill"].astype(str) == _missing()).sum())
    if missing:
        text += f" {missing} {'area has' if missing == 1 else 'areas have'} no data."
    if md.overlay_layer:
        text += f" {capital(layer_words(md.overlay_layer, md.vintage or None)[1])} outlined."
    return text


def _missing() -> str:
    from stpmap.maps import colours as _colours

    return _colours.MISSING
