"""Where daily bars come from: the bundled real data, or a CSV landing directory.

Both return *raw* deliveries: the OHLCV columns as delivered plus lineage (symbol,
source, file, line), ready for :func:`lakehouse_assets.core.ohlcv.parse_bars`. Files that
cannot be read at all come back as :class:`FileProblem` records, never silently skipped.

Landing layout: ``{dir}/{SYMBOL}/1day/*.csv`` or ``*.csv.gz`` (extensions in any case:
``.CSV``, ``.csv.GZ``). Files are read in name order and rows in file order, which is the
order "the last duplicate wins" refers to. A file named like ``2024-01-15.csv``,
``2024-01-01_to_2024-01-31.csv`` or ``2024-01_to_2024-03.csv`` is skipped when its dates
lie wholly outside the window.

Folder names are symbols (:func:`lakehouse_assets.core.symbols.is_symbol`), never paths: a
folder whose name is not a symbol is never read, and :func:`landing_problems` reports it,
with every other file of the landing directory that no run would read.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import gzip
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
from lakehouse_assets.core.symbols import SYMBOL_PATTERN, check_symbol, is_symbol


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
FOLDER = "1day"
CSV_SUFFIXES = (".csv", ".csv.gz")
RAW_SCHEMA = {
    **{c: pl.String for c in REQUIRED},
    "symbol": pl.String,
    "source": pl.String,
    "file": pl.String,
    "line": pl.Int64,
}


@dataclass(frozen=True)
class FileProblem:
    """A landed file or folder that could not be read, or that no run reads.

    ``file`` is the path relative to the landing directory; ``symbol`` is empty where the
    path names none. ``column`` is set for a missing column and ``header`` holds the file's
    header then; ``raw`` is what the quarantine shows as the raw value (default: ``header``),
    e.g. the first line that is not UTF-8, its bytes escaped.
    """

    symbol: str
    file: str
    reason: str
    column: str | None = None
    header: str = ""
    raw: str = ""

    @property
    def raw_value(self) -> str:
        return self.raw or self.header


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
    """Folders of a landing directory that are symbols and hold a ``1day`` folder, sorted.

    Other folders are never symbols of a run; :func:`landing_problems` reports them.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"OHLCV landing directory not found: {root}")
    return sorted(p.name for p in root.iterdir() if is_symbol(p.name) and (p / FOLDER).is_dir())


def is_csv_name(name: str) -> bool:
    """``*.csv`` or ``*.csv.gz``, extensions in any case (``.CSV``, ``.Csv.GZ``)."""
    return name.lower().endswith(CSV_SUFFIXES)


def landing_files(directory: str | Path, symbol: str, start: dt.date, end: dt.date) -> list[Path]:
    """The symbol's CSV files whose name does not rule out ``[start, end]``, in name order.

    Raises ValueError when ``symbol`` is not a symbol (e.g. ``../other/MSFT`` or an absolute
    path): a symbol names a folder inside the landing directory, never a path out of it.
    """
    check_symbol(symbol, "OHLCV landing symbol")
    folder = Path(directory) / symbol / FOLDER
    files = sorted(p for p in folder.glob("*") if p.is_file() and is_csv_name(p.name))
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
        # glob=False: a file name is not a pattern (``bars[1].csv`` was "not found", ``s*.csv`` read others)
        frame = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=False, glob=False)
    except Exception as exc:  # polars raises several error types for unreadable files
        bad = first_non_utf8_line(path)
        if bad is not None:
            number, line = bad
            return FileProblem(symbol, file, f"not UTF-8: line {number}", raw=line)
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


def landed_bars(
    directory: str | Path, symbols: Iterable[str], start: dt.date, end: dt.date
) -> tuple[pl.DataFrame, list[FileProblem]]:
    """The raw delivery of the symbols' files that may hold ``[start, end]`` (:func:`landing_files`,
    symbols in the given order), and the files that cannot be read (:func:`read_landing_files`)."""
    files = [(symbol, path) for symbol in symbols for path in landing_files(directory, symbol, start, end)]
    return read_landing_files(directory, files)


def read_landing_files(root: str | Path, files: Iterable[tuple[str, Path]]) -> tuple[pl.DataFrame, list[FileProblem]]:
    """Landed CSVs, ``(symbol, path)`` pairs in order, as one raw delivery, and the files that
    cannot be read: the rows and problems of :func:`read_landing_file` on each file, in order.

    Reading one small file costs about a millisecond of fixed overhead (a dozen polars
    calls), which a landing of thousands of files (one per symbol and year) turns into
    seconds. Files whose first line is the same header (and compression) are parsed instead
    by one polars scan, which checks that every file has that header; a group that fails to
    parse (a ragged line, bytes that are not UTF-8) is halved until the bad file is read
    alone and gets its own problem. A header holding a quote (which could span lines) is
    read alone.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "AAA/1day").mkdir(parents=True)
    >>> for name, text in (("a.csv", "date,o,h,l,c,v\\n2024-01-02,1,2,1,2,5\\n"), ("b.csv", "date,o,h,l\\n")):
    ...     _ = (root / "AAA/1day" / name).write_text(text)
    >>> raw, problems = read_landing_files(root, [("AAA", root / "AAA/1day/a.csv"), ("AAA", root / "AAA/1day/b.csv")])
    >>> raw.select("close", "file", "line").rows(), [(p.file, p.column) for p in problems]
    ([('2', 'AAA/1day/a.csv', 2)], [('AAA/1day/b.csv', 'close')])
    """
    files = list(files)
    groups: dict[tuple[bool, bytes], list[int]] = {}
    alone: list[int] = []
    seen: set[str] = set()
    for index, (_, path) in enumerate(files):
        header = _header_line(path) if str(path) not in seen else None  # a path given twice: read twice
        seen.add(str(path))
        if header is None:
            alone.append(index)
        else:
            groups.setdefault(header, []).append(index)
    frames: list[pl.DataFrame] = []
    problems: list[tuple[int, FileProblem]] = []
    pending = list(groups.values())
    while pending:
        members = pending.pop()
        read = _read_group(root, files, members) if len(members) > 1 else None
        if isinstance(read, pl.DataFrame):
            frames.append(read)
        elif read is not None:
            problems.extend(zip(members, read, strict=True))
        elif len(members) > 1:  # a file of the group cannot be read: halve the group until it is alone
            pending += [members[: len(members) // 2], members[len(members) // 2 :]]
        else:
            alone.extend(members)
    for index in alone:
        symbol, path = files[index]
        one = read_landing_file(root, path, symbol)
        if isinstance(one, FileProblem):
            problems.append((index, one))
        else:
            frames.append(one.with_columns(pl.lit(index, pl.Int64).alias(_ORDER)))
    if not frames:
        return empty_raw(), [problem for _, problem in sorted(problems, key=lambda p: p[0])]
    raw = pl.concat(frames)
    if len(frames) > 1:
        raw = raw.sort(_ORDER, maintain_order=True)  # stable: each file's rows stay in file order
    return raw.drop(_ORDER), [problem for _, problem in sorted(problems, key=lambda p: p[0])]


_PATH = "__landing_path__"  # the scan's path column: a name no delivery uses
_ORDER = "__landing_order__"


def _header_line(path: Path) -> tuple[bool, bytes] | None:
    """(gzipped, first line) of a file; None when it is not to be read with others."""
    try:
        with path.open("rb") as handle:
            gzipped = handle.read(2) == b"\x1f\x8b"
            handle.seek(0)
            with gzip.GzipFile(fileobj=handle) if gzipped else contextlib.nullcontext(handle) as text:
                line = text.readline(1 << 16)
    except (OSError, EOFError):
        return None
    if not line.endswith(b"\n") or b'"' in line:
        return None
    return gzipped, line


def _read_group(
    root: str | Path, files: list[tuple[str, Path]], members: list[int]
) -> pl.DataFrame | list[FileProblem] | None:
    """The ``members`` of ``files`` (one header) read by one scan, as :func:`read_landing_file`
    reads each, with the file's index as ``_ORDER``; the files' problem when the header lacks a
    column; None when the scan fails (some file of the group cannot be read)."""
    paths = [str(files[i][1]) for i in members]
    try:
        frame = pl.scan_csv(
            paths, infer_schema=False, truncate_ragged_lines=False, include_file_paths=_PATH, glob=False
        ).collect()
    except Exception:  # polars raises several error types for unreadable files
        return None
    columns = [c for c in frame.columns if c != _PATH]
    names = [files[i][1].relative_to(root).as_posix() for i in members]
    try:
        normalized = normalize_columns(frame.select(columns))
    except MissingColumnError as exc:
        header = ",".join(columns)
        return [
            FileProblem(files[i][0], name, str(exc), exc.column, header) for i, name in zip(members, names, strict=True)
        ]
    source: pl.Expr = pl.repeat(LANDING_SOURCE, pl.len(), dtype=pl.String)  # a column, not a literal
    column = source_column(columns)
    if column is not None:
        delivered = pl.col(column).str.strip_chars()
        source = pl.when(delivered.str.len_chars() > 0).then(delivered).otherwise(source)
    # the scan keeps each file's rows together and in file order: each run of one path is a file
    # (a path is in one group at most once), so the lineage comes from the runs' lengths, with no
    # window or join over the path text (those took 0.3 s of 700,000 rows)
    runs = frame.get_column(_PATH).rle().struct.unnest()
    lengths = runs.get_column("len").cast(pl.Int64).to_numpy()
    position = {path: k for k, path in enumerate(paths)}
    of_row = pl.Series(np.repeat(np.array([position[p] for p in runs.get_column("value")], np.int64), lengths))
    first_row = np.repeat(np.cumsum(lengths) - lengths, lengths)
    lineage = pl.DataFrame(
        {
            "symbol": pl.Series([files[i][0] for i in members], dtype=pl.String).gather(of_row),
            "file": pl.Series(names, dtype=pl.String).gather(of_row),
            "line": np.arange(frame.height, dtype=np.int64) - first_row + 2,  # line 1 is the header
            _ORDER: pl.Series(members, dtype=pl.Int64).gather(of_row),
        }
    )
    return pl.concat([normalized, frame.select(source.alias("source")), lineage], how="horizontal").select(
        *REQUIRED, *LINEAGE, _ORDER
    )


def first_non_utf8_line(path: Path) -> tuple[int, str] | None:
    """The first line of a (possibly gzipped) file that is not UTF-8, as ``(number, text)``
    with the undecodable bytes escaped (``caf\\xe9``); None when every line decodes.

    A CSV is rejected whole when a line is not UTF-8: replacing the bytes would change
    the values silently, and guessing another encoding could read a different number.
    """
    with path.open("rb") as head:
        gzipped = head.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rb") if gzipped else path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number, line.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
    return None


def folder_problems(root: Path, layout: str) -> list[tuple[FileProblem | None, Path]]:
    """The entries of a landing directory's top level, sorted, each with its problem: a
    file outside any symbol folder, or a folder whose name is not a symbol (never read as
    one); None for a symbol folder. ``layout`` is the expected layout, for the reason."""
    entries = []
    for entry in sorted(root.iterdir()):
        name, problem = entry.name, None
        if not entry.is_dir():
            problem = FileProblem("", name, f"not in a symbol folder: expected {layout}")
        elif not is_symbol(name):
            problem = FileProblem("", name + "/", f"not a symbol folder: {name!r} does not match {SYMBOL_PATTERN}")
        entries.append((problem, entry))
    return entries


def landing_problems(directory: str | Path, symbols: Iterable[str]) -> list[FileProblem]:
    """What the landing directory holds that no run will read, each with its reason.

    Reported: a folder whose name is not a symbol (never read as one, whatever it holds);
    a symbol folder without a ``1day`` folder; a file outside any symbol folder; and, in
    the ``1day`` folders of ``symbols``, anything that is not a ``*.csv`` or ``*.csv.gz``
    file (in any case). Sorted by path; reasons read ``rule: detail``.
    """
    root = Path(directory)
    problems: list[FileProblem] = []
    for problem, entry in folder_problems(root, f"{{SYMBOL}}/{FOLDER}/*.csv"):
        if problem is not None:
            problems.append(problem)
        elif not (entry / FOLDER).is_dir():
            name = entry.name
            problems.append(FileProblem(name, name + "/", f"no {FOLDER} folder: expected {name}/{FOLDER}/*.csv"))
    for symbol in symbols:
        folder = root / check_symbol(symbol, "OHLCV landing symbol") / FOLDER
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if not (entry.is_file() and is_csv_name(entry.name)):
                file = entry.relative_to(root).as_posix() + ("/" if entry.is_dir() else "")
                problems.append(FileProblem(symbol, file, "not a CSV delivery: expected *.csv or *.csv.gz"))
    return problems


def file_date_span(name: str) -> tuple[dt.date, dt.date] | None:
    """Dates a file covers judging by its name, or None when the name says nothing."""
    stem = re.sub(r"\.csv(\.gz)?$", "", name, flags=re.IGNORECASE)
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
