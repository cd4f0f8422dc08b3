"""Exceptions and warnings. Every message names the problem and the fix."""

from __future__ import annotations


class StpmapError(Exception):
    """Base class of stpmap's errors; the CLI prints these without a traceback."""


class DataError(StpmapError):
    """A source file is missing, unreadable or not what the registry says."""


class CacheError(DataError):
    """A cache folder cannot be written, or is damaged and cannot be rebuilt where it is."""


class ChoiceError(StpmapError, ValueError):
    """A value that must be one of a known set (vintage, group, layer...) is not."""

    def __init__(self, what: str, value, choices, context: str = ""):
        self.what, self.value, self.choices = what, value, list(choices)
        shown = ", ".join(str(c) for c in self.choices)
        where = f" {context}" if context else ""
        super().__init__(f"Unknown {what} {value!r}{where}. Valid choices: {shown}.")


class InputError(StpmapError, ValueError):
    """The user's input (a file, a column, a value) cannot be used as given."""


class StpmapWarning(UserWarning):
    """Something done that the user should know of (a name chosen for them, a
    cell cut short); the CLI prints these on standard error."""
