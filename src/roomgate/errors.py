"""The exceptions roomgate raises on purpose.

Every error a user can cause is a :class:`RoomgateError`; each subclass also inherits the builtin
that fits it, so ``except ValueError`` keeps working for callers who do not know roomgate.
Messages give the expected and the actual value and name the file or preset key.
The command line turns these into one line on stderr and exit code 2.
"""

from __future__ import annotations


class RoomgateError(Exception):
    """Base class of every error roomgate raises on purpose."""


class ConfigError(RoomgateError, ValueError):
    """A preset, a ``--set`` override or a keyword setting is invalid (names the key)."""


class AudioInputError(RoomgateError, ValueError):
    """An audio file or array cannot be used (names the file, or shows the shape)."""


class AudioFileNotFoundError(AudioInputError, FileNotFoundError):
    """An audio file that is not there: an :class:`AudioInputError` that ``except FileNotFoundError``
    (and ``except OSError``) also catches, as for any missing file in Python."""


class OutputError(RoomgateError, OSError):
    """An output cannot be written where asked (names the path)."""


class MissingDependencyError(RoomgateError, RuntimeError):
    """An optional piece (a Python extra or a system library) is not installed; says how to install it."""


class RoomgateWarning(UserWarning):
    """Something was repaired or assumed on the user's behalf (a downmix, a recomputed cache entry)."""
