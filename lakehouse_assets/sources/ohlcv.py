"""Where daily bars come from: the bundled real data, or a CSV landing directory.

Both return *raw* deliveries: the OHLCV columns as delivered plus lineage (symbol,
source, file, line), ready for :func:`lakehouse_assets.core.ohlcv.parse_bars`. Files that
cannot be read at all come back as :class:`FileProblem` records, never silently skipped.

Landing layout: ``{dir}/{SYMBOL}/1day/*.csv`` or ``*.csv.gz``. Files are read in name
order and rows in file order, which is the order "the last duplicate wins" refers to.
A file named like ``2024-01-15.csv``, ``2024-01-01_to_2024-01-31.csv`` or
``2024-01_to_2024-03.csv`` is skipped when its dates lie wholly outside the window.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import polars as pl

from lakehouse_assets.core.ohlcv import (
    LINEAGE,
    REQUIRED,
    MissingColumnError,
    normalize_columns,
    parse_bars,
    source_column,
)


def _load_sp500() -> pd.DataFrame:
    import arch.data.sp500

    return arch.data.sp500.load().reset_index()


def _load_nasdaq() -> pd.DataFrame:
    import arch.data.nasdaq

    return arch.data.nasdaq.load().reset_index()


def _load_msft() -> pd.DataFrame:
    from pmdarima.datasets import load_msft

    return load_msft()


# dataset name (config/universe.yaml) -> (source lineage, file lineage, loader): the one registry
BUNDLED_SOURCES: dict[str, tuple[str, str, Callable[[], pd.DataFrame]]] = {
    "arch.sp500": ("arch.data.sp500", "arch/data/sp500/sp500.csv.gz", _load_sp500),
    "arch.nasdaq": ("arch.data.nasdaq", "arch/data/nasdaq/nasdaq.csv.gz", _load_nasdaq),
    "pmdarima.msft": ("pmdarima.datasets.load_msft", "pmdarima/datasets/data/msft.tar.gz", _load_msft),
}
LANDING_SOURCE = "csv_landing"
RAW_SCHEMA = {
    **{c: pl.String for c in REQUIRED},
    "symbol": pl.String,
    "source": pl.String,
    "file": pl.String,
    "line": pl.Int64,
}


@dataclass(frozen=True)
class FileProblem:
    """A landed file that could not be read; ``column`` is set for a missing column."""

    symbol: str
    file: str
    reason: str
    column: str | None = None
    header: str = ""


def load_bundled(dataset: str, symbol: str) -> pl.DataFrame:
    """One bundled dataset as a raw delivery (text columns, like a CSV)."""
    if dataset not in BUNDLED_SOURCES:
        raise ValueError(f"unknown bundled dataset {dataset!r}")
    source, file, load = BUNDLED_SOURCES[dataset]
    pdf = load()
    pdf = pdf.assign(Date=pd.to_datetime(pdf["Date"]).dt.strftime("%Y-%m-%d"))
    frame = pl.from_pandas(pdf[["Date", "Open", "High", "Low", "Close", "Volume"]])
    return _raw(normalize_columns(frame), symbol, source, file)


def bundled_bars(datasets: Iterable[tuple[str, str]], timezone: str) -> pl.DataFrame:
    """Typed bars (symbol, date, open, high, low, close, volume) of ``(dataset, symbol)`` pairs,
    whole history, sorted; for scripts that want the bundled data without the lake."""
    raw = pl.concat([load_bundled(dataset, symbol) for dataset, symbol in datasets])
    bars, _rejected = parse_bars(raw, timezone)
    return bars.select("symbol", "date", "open", "high", "low", "close", "volume").sort("symbol", "date")


def landing_symbols(directory: str | Path) -> list[str]:
    """Symbols with a ``1day`` folder under a landing directory, sorted."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"OHLCV landing directory not found: {root}")
    return sorted(p.name for p in root.iterdir() if (p / "1day").is_dir())


def landing_files(directory: str | Path, symbol: str, start: dt.date, end: dt.date) -> list[Path]:
    """The symbol's CSV files whose name does not rule out ``[start, end]``, in name order."""
    folder = Path(directory) / symbol / "1day"
    files = sorted(p for p in folder.glob("*") if p.name.endswith((".csv", ".csv.gz")))
    keep = []
    for path in files:
        span = file_date_span(path.name)
        if span is None or (span[0] <= end and span[1] >= start):
            keep.append(path)
    return keep


def read_landing_file(root: str | Path, path: Path, symbol: str) -> pl.DataFrame | FileProblem:
    """One landed CSV as a raw delivery, or the reason it cannot be read.

    The ``file`` lineage is the path relative to the landing directory, so moving the
    directory does not make the same rows look like a new delivery. The ``source`` lineage
    is the file's own ``source`` column where it has one and the row's value is not blank
    (e.g. ``simulated``), else ``csv_landing``.
    """
    file = path.relative_to(root).as_posix()
    try:
        frame = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=False)
    except Exception as exc:  # polars raises several error types for unreadable files
        return FileProblem(symbol, file, f"unreadable CSV: {str(exc).splitlines()[0]}")
    try:
        normalized = normalize_columns(frame)
    except MissingColumnError as exc:
        return FileProblem(symbol, file, str(exc), exc.column, ",".join(frame.columns))
    raw = _raw(normalized, symbol, LANDING_SOURCE, file)
    column = source_column(frame.columns)
    if column is None:
        return raw
    delivered = frame.get_column(column).str.strip_chars()
    return raw.with_columns(
        pl.when(delivered.str.len_chars() > 0).then(delivered).otherwise(pl.lit(LANDING_SOURCE)).alias("source")
    )


def file_date_span(name: str) -> tuple[dt.date, dt.date] | None:
    """Dates a file covers judging by its name, or None when the name says nothing."""
    stem = re.sub(r"\.csv(\.gz)?$", "", name)
    parts = stem.split("_to_")
    if len(parts) > 2:
        return None
    first = _parse_name_date(parts[0], last=False)
    last = _parse_name_date(parts[-1], last=True)
    if first is None or last is None:
        return None
    return first, last


def _parse_name_date(text: str, last: bool) -> dt.date | None:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            year, month = map(int, text.split("-"))
            return dt.date(year, month, calendar.monthrange(year, month)[1] if last else 1)
    except ValueError:
        return None
    return None


def _raw(frame: pl.DataFrame, symbol: str, source: str, file: str) -> pl.DataFrame:
    return frame.with_columns(
        *[pl.col(c).cast(pl.String) for c in REQUIRED],
        pl.lit(symbol).alias("symbol"),
        pl.lit(source).alias("source"),
        pl.lit(file).alias("file"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("line"),  # line 1 is the header
    ).select(*REQUIRED, *LINEAGE)


def empty_raw() -> pl.DataFrame:
    return pl.DataFrame(schema=RAW_SCHEMA).select(*REQUIRED, *LINEAGE)
