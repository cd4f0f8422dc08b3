"""Normalising names and codes so that users' spellings match the official ones."""

from __future__ import annotations

import re

_PUNCT = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


def normalise(name) -> str:
    """Lower case, '&' as 'and', punctuation dropped, spaces folded.

    >>> normalise("Milton Keynes,  Bedfordshire & Luton")
    'milton keynes bedfordshire and luton'
    """
    s = str(name).lower().replace("&", " and ")
    s = _PUNCT.sub(" ", s)
    return _SPACES.sub(" ", s).strip()


def normalise_ccg(name) -> str:
    """As :func:`normalise`, also dropping the 'NHS' prefix and 'CCG' suffix.

    >>> normalise_ccg("NHS Airedale, Wharfedale & Craven CCG")
    'airedale wharfedale and craven'
    """
    s = normalise(name)
    s = re.sub(r"^nhs ", "", s)
    s = re.sub(r" (ccg|clinical commissioning group)$", "", s)
    return s
