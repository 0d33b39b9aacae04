"""What a symbol may be: a name, never a path.

A symbol becomes a landing folder name, a Delta partition value and a file name in
reports, so it must not carry a path separator, a ``..`` component, white space or a
control character. The pattern admits the tickers the field writes: ``MSFT``, ``BRK.B``,
``BRK-B``, ``^GSPC`` (an index), ``EURUSD=X``, ``CL=F``, ``SIM0001``: an optional ``^``,
a letter or digit, then up to 19 letters, digits, ``.``, ``-``, ``_`` or ``=``.
"""

from __future__ import annotations

import re

SYMBOL_PATTERN = r"\^?[A-Za-z0-9][A-Za-z0-9._=-]{0,19}"
"""The documented pattern (also in docs/operations.md)."""

_SYMBOL = re.compile(SYMBOL_PATTERN)


def is_symbol(value: str) -> bool:
    """True when ``value`` is a whole symbol (no path, no space, at most 21 characters)."""
    return _SYMBOL.fullmatch(value) is not None and ".." not in value


def check_symbol(value: str, where: str) -> str:
    """``value`` if it is a symbol, else ``ValueError`` naming ``where`` it came from."""
    if not is_symbol(value):
        raise ValueError(
            f"{where}: {value!r} is not a symbol (expected {SYMBOL_PATTERN}: a ticker such as MSFT, BRK.B "
            "or ^GSPC, not a path)"
        )
    return value
