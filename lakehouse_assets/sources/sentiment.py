"""Sentiment JSON Lines landing: ``{dir}/{SYMBOL}/{YYYY-MM-DD}.jsonl``.

Returns the lines of the files whose date lies in the window, with lineage, for
:func:`lakehouse_assets.core.sentiment.parse_snapshot_lines`. Files whose name is not a
date are reported so that nothing is skipped without a word.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import polars as pl

LINES_SCHEMA = {"symbol": pl.String, "file_date": pl.Date, "text": pl.String, "file": pl.String, "line": pl.Int64}


def landed_lines(
    directory: str | Path, symbols: Iterable[str], start: dt.date, end: dt.date
) -> tuple[pl.DataFrame, list[str], list[str]]:
    """Non-blank lines of the symbols' snapshot files dated in ``[start, end]``.

    Returns ``(lines, files, misnamed)``: ``files`` are the files read (paths relative to
    the landing directory, as in the ``file`` column) and ``misnamed`` the ``.jsonl`` files
    whose name is not ``YYYY-MM-DD.jsonl``.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"sentiment landing directory not found: {root}")
    rows: list[tuple[str, dt.date, str, str, int]] = []
    files: list[str] = []
    misnamed: list[str] = []
    for symbol in symbols:
        for path in sorted((root / symbol).glob("*.jsonl")):
            try:
                day = dt.date.fromisoformat(path.stem)
            except ValueError:
                misnamed.append(str(path))
                continue
            if not start <= day <= end:
                continue
            file = path.relative_to(root).as_posix()
            files.append(file)
            with path.open(encoding="utf-8", errors="replace") as handle:
                for number, text in enumerate(handle, start=1):
                    if text.strip():
                        rows.append((symbol, day, text.strip(), file, number))
    return pl.DataFrame(rows, schema=LINES_SCHEMA, orient="row"), files, misnamed
