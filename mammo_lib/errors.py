"""The project's user-facing error.

Raise :class:`MammoError` (or a subclass) for bad input that a user can fix: the ``mammo`` command prints
its message as one line and exits non-zero, without a traceback. Programming errors stay ordinary
exceptions. Subclasses of ``ValueError`` so that library callers can catch either.
"""
from __future__ import annotations


class MammoError(ValueError):
    """A problem with the user's input, configuration or data, explained in the message."""
