"""A footprint through every vintage: its code, name and people each year,
and what changed from one vintage to the next.

The footprint is followed from the vintage where the name or code given
names it: forwards, to the footprint of the next vintage that took most of
its people; backwards, to the footprint of the previous vintage that gave
most of its people. Between two consecutive vintages, the change is read
from :func:`stpmap.data.lineage.lineage`:

* **merged**: another footprint went wholly or mostly into this one;
* **split**: another footprint came wholly or mostly out of this one;
* **gained** / **lost**: a part of another footprint (people who mostly
  stayed elsewhere) came in, or a part of this one went to another;
* **renamed**: the ONS name changed;
* **renumbered**: the code changed, the area (the same LSOAs) did not;
* **new code**: the code changed along with the area;
* **unchanged**: none of these.

>>> import stpmap
>>> h = stpmap.history("E54000047", vintages=[2017, 2021])
>>> h[["vintage", "code", "change", "merged_with"]].values.tolist()
[[2017, 'E54000047', '', ''], [2021, 'E54000050', 'merged, renamed, new code', 'E54000045; E54000046']]
"""

from __future__ import annotations

import re
import warnings

import pandas as pd

from stpmap.data import atlas as _atlas
from stpmap.data.lineage import lineage
from stpmap.data.registry import registry
from stpmap.errors import InputError, StpmapError

_CODE = re.compile(r"^E54\d{6}$")
COLUMNS = ["vintage", "code", "name", "population", "change", "merged_with", "split_into", "gained_from",
           "lost_to", "details"]


def resolve(footprint, vintages=None) -> tuple[int, str]:
    """The (vintage, code) that ``footprint`` names among ``vintages``
    (default: every vintage).

    A footprint code (E54...) is taken in the oldest vintage that has it.
    Anything else is resolved by :func:`stpmap.data.selection.select_codes`
    in each vintage in turn: the oldest vintage where it names a footprint
    exactly wins; a near match (which warns) is used only when no vintage
    knows the name exactly. A name known nowhere is an InputError saying
    why, vintage by vintage."""
    from stpmap.data.selection import select_codes

    vintages = check_vintages(vintages)
    code = str(footprint).strip().upper()
    if _CODE.match(code):
        for v in vintages:
            if code in set(_atlas.table("stp", v, columns=["code"])["code"]):
                return v, code
    found, failures = [], {}
    for v in vintages:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                code = select_codes(v, None, None, [footprint])[0]
            except StpmapError as exc:  # not a footprint of this vintage (or no names for it)
                failures[v] = str(exc)
                continue
        found.append((v, code, [w for w in caught if issubclass(w.category, UserWarning)]))
    if not found:
        said = " ".join(f"{v}: {msg}" for v, msg in failures.items())
        raise InputError(f"{str(footprint)!r} names no footprint of any vintage "
                         f"({', '.join(map(str, vintages))}). {said}")
    exact = [f for f in found if not f[2]]
    v, code, caught = (exact or found)[0]
    for w in caught:  # the near match that was used, said once
        warnings.warn(w.message, w.category, stacklevel=3)
    return v, code


def check_vintages(vintages=None) -> list[int]:
    """``vintages`` (default: every vintage) checked, sorted, each once."""
    reg = registry()
    if vintages is None:
        return reg.vintages
    chosen = sorted({reg.check_vintage(v) for v in ([vintages] if isinstance(vintages, (int, str)) else vintages)})
    if not chosen:
        raise InputError(f"No vintage given: give some of {', '.join(map(str, reg.vintages))}, or None for all.")
    return chosen


def _successor(links: pd.DataFrame, side: str, code: str) -> str:
    """The area on the other side of ``links`` that shares most people with
    ``code`` (on ``side``, ``from`` or ``to``); the lower code on a tie."""
    other = "to" if side == "from" else "from"
    mine = links[links[f"{side}_code"] == code]
    return mine.sort_values(["population", f"{other}_code"], ascending=[False, True])[f"{other}_code"].iloc[0]


def main_links(links: pd.DataFrame) -> tuple[dict, dict]:
    """For every from-area the to-area that took most of its people, and for
    every to-area the from-area that gave most of its people."""
    ranked = links.sort_values(["population", "from_code", "to_code"], ascending=[False, True, True])
    forward = ranked.drop_duplicates("from_code").set_index("from_code")["to_code"].to_dict()
    backward = ranked.drop_duplicates("to_code").set_index("to_code")["from_code"].to_dict()
    return forward, backward


def _chain(vintages: list[int], start_vintage: int, start_code: str, links: dict) -> dict[int, str]:
    """The footprint of each of ``vintages``, followed from ``start_code``."""
    chain = {start_vintage: start_code}
    i = vintages.index(start_vintage)
    for prev, nxt in zip(vintages[i:], vintages[i + 1:]):
        chain[nxt] = _successor(links[prev, nxt], "from", chain[prev])
    for prev, nxt in reversed(list(zip(vintages[:i], vintages[1:i + 1]))):
        chain[prev] = _successor(links[prev, nxt], "to", chain[nxt])
    return chain


def _people(n) -> str:
    return f"{int(round(n)):,} people"


def _sentence(parts: list[str]) -> str:
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else ""


def change(t: pd.DataFrame, a: str, b: str) -> dict:
    """What changed from footprint ``a`` (earlier vintage) to ``b`` (next)."""
    forward, backward = main_links(t)
    into_b = t[(t["to_code"] == b) & (t["from_code"] != a)]
    out_of_a = t[(t["from_code"] == a) & (t["to_code"] != b)]
    merged = into_b[into_b["from_code"].map(forward) == b]
    gained = into_b[into_b["from_code"].map(forward) != b]
    split = out_of_a[out_of_a["to_code"].map(backward) == a]
    lost = out_of_a[out_of_a["to_code"].map(backward) != a]
    pair = t[(t["from_code"] == a) & (t["to_code"] == b)]
    same_area = len(pair) == 1 and pair["from_share"].iloc[0] == 1 and pair["to_share"].iloc[0] == 1
    a_name = t.loc[t["from_code"] == a, "from_name"].iloc[0]
    b_name = t.loc[t["to_code"] == b, "to_name"].iloc[0]
    kinds, details = [], []
    for kind, rows, words in (
        ("merged", merged, lambda r: f"merged with {r.from_code} {r.from_name!r} ({_people(r.population)}, "
                                     f"{r.from_share:.0%} of it)"),
        ("split", split, lambda r: f"split into this and {r.to_code} {r.to_name!r} ({_people(r.population)}, "
                                   f"{r.from_share:.0%} of {a})"),
        ("gained", gained, lambda r: f"gained {_people(r.population)} from {r.from_code} {r.from_name!r} "
                                     f"({r.from_share:.1%} of it)"),
        ("lost", lost, lambda r: f"lost {_people(r.population)} to {r.to_code} {r.to_name!r} "
                                 f"({r.from_share:.1%} of {a})"),
    ):
        if len(rows):
            kinds.append(kind)
            details += [words(r) for r in rows.itertuples()]
    if a_name != b_name:
        kinds.append("renamed")
        details.append(f"renamed from {a_name!r}")
    if a != b:
        kinds.append("renumbered" if same_area else "new code")
        details.append(f"{'renumbered' if same_area else 'new code'} (was {a})")
    return {
        "change": ", ".join(kinds) or "unchanged",
        "merged_with": "; ".join(merged["from_code"]),
        "split_into": "; ".join(split["to_code"]),
        "gained_from": "; ".join(gained["from_code"]),
        "lost_to": "; ".join(lost["to_code"]),
        "details": _sentence(details),
    }


def history(footprint, vintages=None) -> pd.DataFrame:
    """The footprint that ``footprint`` (a code or a name of any vintage)
    names, through every vintage stpmap knows (or through ``vintages``: a
    list of them; changes are then read between those given).

    Returns
    -------
    DataFrame, one row per vintage, oldest first: ``vintage``, ``code``,
    ``name``, ``population`` (ONS mid-2017, as in the atlas), ``change``
    (from the vintage before: ``unchanged`` or some of ``merged``,
    ``split``, ``gained``, ``lost``, ``renamed``, ``renumbered``,
    ``new code``; empty for the first vintage), ``merged_with``,
    ``split_into``, ``gained_from``, ``lost_to`` (codes of the previous
    vintage, or of this one for ``split_into`` and ``lost_to``, separated by
    "; ") and ``details`` (the same in words, with people counts).

    ``attrs`` carries ``query``, ``resolved_vintage``, ``resolved_code``,
    ``attribution`` and ``population_source``.

    Examples
    --------
    >>> import stpmap
    >>> h = stpmap.history("Surrey Heartlands", vintages=[2017, 2021])
    >>> h[["vintage", "code", "change", "gained_from"]].values.tolist()
    [[2017, 'E54000035', '', ''], [2021, 'E54000052', 'gained, renamed, new code', 'E54000033']]
    """
    reg = registry()
    vintages = check_vintages(vintages)
    start_vintage, start_code = resolve(footprint, vintages)
    links = {(p, n): lineage(p, n) for p, n in zip(vintages, vintages[1:])}
    chain = _chain(vintages, start_vintage, start_code, links)
    rows = []
    for i, v in enumerate(vintages):
        code = chain[v]
        own = _atlas.table("stp", v, columns=["code", "name", "population"]).set_index("code").loc[code]
        row = {"vintage": v, "code": code, "name": own["name"], "population": int(own["population"])}
        row.update(change(links[vintages[i - 1], v], chain[vintages[i - 1]], code) if i else
                   dict.fromkeys(COLUMNS[4:], ""))
        rows.append(row)
    out = pd.DataFrame(rows, columns=COLUMNS)
    out.attrs.update({"query": str(footprint), "resolved_vintage": start_vintage, "resolved_code": start_code,
                      "attribution": reg.attribution(),
                      "population_source": "\n".join(dict.fromkeys(reg.population_note(v) for v in vintages))})
    return out
