"""Sentiment JSON Lines landing: ``{dir}/{SYMBOL}/{YYYY-MM-DD}.jsonl``.

Returns the lines of the files whose date lies in the window, with lineage, for
:func:`lakehouse_assets.core.sentiment.parse_snapshot_lines`. The extension is matched in
any case (``.JSONL``). Folder names are symbols, never paths. Nothing is skipped without a
word: :func:`landing_problems` reports every file and folder no run will read (a name that
is not a date, a date outside the calendar, a folder that is not a symbol).

Lines are UTF-8. A byte-order mark at the start of a file is dropped; a line that is not
UTF-8 is not repaired but handed on with ``problem`` = ``not UTF-8: ...`` and its bytes
escaped (``caf\\xe9``) as ``text``, so that it is quarantined with what was delivered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.core.ohlcv import OUTSIDE_CALENDAR
from lakehouse_assets.core.symbols import check_symbol
from lakehouse_assets.sources.ohlcv import FileProblem, folder_problems

LINES_SCHEMA = {"symbol": pl.String, "file_date": pl.Date, "text": pl.String, "file": pl.String, "line": pl.Int64}
READ_SCHEMA = {**LINES_SCHEMA, "problem": pl.String}
"""The lines :func:`landed_lines` returns: ``problem`` (optional for the parser) is why a
line was rejected while reading it (``not UTF-8: ...``), else null."""
SUFFIX = ".jsonl"
BOM = b"\xef\xbb\xbf"


def snapshot_date(name: str) -> dt.date | None:
    """The date a file name ``YYYY-MM-DD.jsonl`` (extension in any case) stands for, else None."""
    if not name.lower().endswith(SUFFIX) or len(name) != len("YYYY-MM-DD") + len(SUFFIX):
        return None
    try:
        return dt.date.fromisoformat(name[: -len(SUFFIX)])
    except ValueError:
        return None


def landed_lines(
    directory: str | Path, symbols: Iterable[str], start: dt.date, end: dt.date
) -> tuple[pl.DataFrame, list[str]]:
    """Non-blank lines of the symbols' snapshot files dated in ``[start, end]``.

    Returns ``(lines, files)``: ``files`` are the files read (paths relative to the landing
    directory, as in the ``file`` column). Files not named ``YYYY-MM-DD.jsonl`` are not
    read; :func:`landing_problems` reports them. Raises ValueError for a symbol that is
    not one (a path such as ``../x`` is never read).
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"sentiment landing directory not found: {root}")
    rows: list[tuple[str, dt.date, str, str, int, str | None]] = []
    files: list[str] = []
    for symbol in symbols:
        folder = root / check_symbol(symbol, "sentiment landing symbol")
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            day = snapshot_date(path.name) if path.is_file() else None
            if day is None or not start <= day <= end:
                continue
            file = path.relative_to(root).as_posix()
            files.append(file)
            rows.extend((symbol, day, text, file, number, problem) for number, text, problem in read_lines(path))
    return pl.DataFrame(rows, schema=READ_SCHEMA, orient="row"), files


def read_lines(path: Path) -> list[tuple[int, str, str | None]]:
    """``(number, text, problem)`` of each non-blank line of a file, ``text`` stripped.

    A UTF-8 byte-order mark before the first line is dropped. A line that is not UTF-8
    comes with ``problem`` ``not UTF-8: ...`` and its bytes escaped in ``text``.
    """
    out: list[tuple[int, str, str | None]] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            data = raw.removeprefix(BOM) if number == 1 else raw
            try:
                text, problem = data.decode("utf-8"), None
            except UnicodeDecodeError as exc:
                text = data.decode("utf-8", errors="backslashreplace")
                problem = f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}"
            if text.strip():
                out.append((number, text.strip(), problem))
    return out


def landing_problems(directory: str | Path, symbols: Iterable[str], calendar: TradingCalendar) -> list[FileProblem]:
    """What the sentiment landing holds that no run will read, each with its reason.

    Reported: a folder whose name is not a symbol; a file outside any symbol folder; and,
    in the folders of ``symbols``, a file not named ``YYYY-MM-DD.jsonl`` or one dated
    outside the calendar's range (before its first session or beyond its horizon), where
    no partition will ever read it. Reasons read ``rule: detail`` and do not change from
    day to day, so a re-run quarantines nothing new.
    """
    root = Path(directory)
    problems = [p for p, _ in folder_problems(root, "{SYMBOL}/YYYY-MM-DD.jsonl") if p is not None]
    for symbol in symbols:
        folder = root / check_symbol(symbol, "sentiment landing symbol")
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            file = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
            day = snapshot_date(path.name) if path.is_file() else None
            if day is None:
                problems.append(FileProblem(symbol, file, "misnamed sentiment file: expected YYYY-MM-DD.jsonl"))
            elif day < calendar.first_session:
                reason = f"{OUTSIDE_CALENDAR}: {day} is before the {calendar.code} calendar's first session "
                problems.append(FileProblem(symbol, file, reason + str(calendar.first_session)))
            elif day > calendar.last_session:
                reason = f"{OUTSIDE_CALENDAR}: {day} is beyond the {calendar.code} calendar's horizon"
                problems.append(FileProblem(symbol, file, reason))
    return problems
