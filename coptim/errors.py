"""Errors that the CLI turns into exit code 2 with one clear line."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input: a malformed file, an invalid instance or an invalid argument.

    Parameters
    ----------
    message
        One sentence saying what is wrong.
    path
        The file the problem was found in, if any.
    line
        The 1-based line number in ``path``, if known.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path + (f":{self.line}" if self.line is not None else "") + ": "
        return where + self.message
