"""A restricted unpickler for P5's ``exp_splits.pkl``: pickles are untrusted input.

Only plain containers and scalars may come out. Protocol 2+ pickles encode dict, list, tuple,
str, int, float, bool and None with opcodes of their own; the only globals such data may need are
the builtin set types, so every other global (and any persistent id) is refused.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from peapod.errors import InputError

# Protocol 2 pickles name the builtins module "__builtin__" (Python 2 spelling).
_ALLOWED_GLOBALS = {
    (module, name) for module in ("builtins", "__builtin__") for name in ("set", "frozenset", "bytearray")
}


class RefusedPickle(pickle.UnpicklingError):
    """The pickle asks for something other than plain data."""


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise RefusedPickle(
            f"refers to {module}.{name}; only plain containers and scalars are allowed"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickle("uses persistent ids; only plain containers and scalars are allowed")


def load_plain_pickle(path: str | Path) -> Any:
    """Load a pickle that may hold only containers and scalars; anything else is an InputError."""
    data = Path(path).read_bytes()
    if not data:
        raise InputError(path, "file is empty")
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except RefusedPickle as exc:
        raise InputError(path, f"refused pickle: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise InputError(path, f"not a readable pickle ({type(exc).__name__}: {exc})") from None
