"""The one error type for bad input: it always names the file, the place in it, and the problem."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Malformed or inconsistent input.

    ``where`` is a line number (int, 1-based) or a record description (str), e.g. ``"test[17]"``.
    """

    def __init__(self, path: str | Path, problem: str, where: int | str | None = None):
        self.path = str(path)
        self.problem = problem
        self.where = where
        if where is None:
            location = self.path
        elif isinstance(where, int):
            location = f"{self.path}, line {where}"
        else:
            location = f"{self.path}, record {where}"
        super().__init__(f"{location}: {problem}")
