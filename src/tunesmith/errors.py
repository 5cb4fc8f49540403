"""One exception family for everything a user can get wrong.

The CLI turns any ``TunesmithError`` into one line, ``tunesmith: error: PATH: reason``,
and exit code 2; anything else is a bug in tunesmith and keeps its traceback.
"""
from __future__ import annotations

import os


class TunesmithError(Exception):
    """Base class: a user-facing failure with an optional file path and a reason."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None):
        self.reason = " ".join(str(reason).split())  # always one line
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)


class ReadError(TunesmithError):
    """A music file could not be read (missing, unsupported, corrupt)."""


class WriteError(TunesmithError):
    """An output could not be written, or would overwrite an existing file."""


class TokenizerError(TunesmithError):
    """A tokenizer config or token sequence is invalid."""


class RequestError(TunesmithError):
    """A generation or render request is malformed or impossible."""


class ModelError(TunesmithError):
    """A model folder or checkpoint is missing, incomplete or unsafe."""


class DataError(TunesmithError):
    """A prepared corpus is missing or inconsistent."""
