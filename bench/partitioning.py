"""How the Delta partitioning of a daily-written time-series table affects writes, files and reads.

The same synthetic daily bars (``--symbols`` symbols x ``--days`` XNYS sessions from 2024-01-02,
with the columns of the catalogue's ``ohlcv_daily`` table) are written to Delta tables that
differ only in their partitioning:

* ``per-day``: one partition folder per trading day (a string ``day`` column, e.g. ``2024-06-14``);
* ``year``: one folder per year, what the project uses (``PARTITION_COLUMN`` in ``lake/catalog.py``);
* ``none``: no partitioning at all.

Each table is written the way the daily schedule writes it: one MERGE transaction per trading
day on a freshly opened table, matching on the keys within the day's slice (the date range plus
the partition predicate where the layout has one). Two MERGEs are timed, each into its own set
of the three tables:

* ``sync``: ``Lake.sync_range``'s MERGE: update changed rows, insert new ones, and delete rows of
  the slice that the source no longer has (``when_not_matched_by_source_delete``);
* ``upsert``: the same without the delete clause (``when_matched_update_all`` +
  ``when_not_matched_insert_all`` only).

Days are interleaved across the tables (day 1 to every table, then day 2, ...) and their order
rotates, so drift in machine load does not favour one layout.

Measured per layout:

* per MERGE style: time to write all the days (total, mean per day, mean of the first and the
  last 20 days) and the target-scan time delta-rs reports for the last 20 merges;
* on the ``sync`` tables: live data files, partition folders, bytes (data and ``_delta_log``);
  ``pl.scan_delta(...).filter(...).collect()`` of a 5-day window in the middle of the range (date
  predicate plus the partition predicate where there is one) and of the whole range for all
  symbols, medians of ``--repeats`` interleaved runs each opening the table afresh;
  ``DeltaTable.optimize.compact()`` time, the files left after it, and the same reads again.

Results are printed as one row per metric and one column per layout, with ratios to ``year``.

Run from the repository root (defaults take about two minutes on 2 cores)::

    .venv/bin/python bench/partitioning.py
    .venv/bin/python bench/partitioning.py --symbols 200 --days 500 --repeats 5

Tables live in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import deltalake
import numpy as np
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.lake.catalog import PARTITION_COLUMN, TABLES
from lakehouse_assets.lake.delta import sql_literal

SPEC = TABLES["ohlcv_daily"]
FIRST_DAY = dt.date(2024, 1, 1)
WINDOW_DAYS = 5
EDGE_DAYS = 20  # "first/last N days" write means
STYLES = ("sync", "upsert")  # the two daily MERGEs, see merge_day
T = TypeVar("T")


@dataclass(frozen=True)
class Layout:
    """One partitioning scheme: its partition column, derived from the date, if any."""

    name: str
    column: str | None = None
    expr: Callable[[pl.Expr], pl.Expr] | None = None  # the partition column from the date column
    value: Callable[[dt.date], str | int] | None = None  # the partition value of one date

    def with_partition(self, frame: pl.DataFrame) -> pl.DataFrame:
        if self.column is None or self.expr is None:
            return frame
        return frame.with_columns(self.expr(pl.col(SPEC.date_column)).alias(self.column))

    def slice_sql(self, start: dt.date, end: dt.date) -> str:
        """The target slice of a write, as ``Lake.sync_range`` builds it."""
        parts = [f"t.{SPEC.date_column} BETWEEN {sql_literal(start)} AND {sql_literal(end)}"]
        if self.column is not None and self.value is not None:
            low, high = sql_literal(self.value(start)), sql_literal(self.value(end))
            parts.insert(0, f"t.{self.column} BETWEEN {low} AND {high}")
        return " AND ".join(parts)

    def read_filter(self, start: dt.date, end: dt.date) -> pl.Expr:
        """The predicate of a window read, as ``Lake.read`` builds it."""
        expr = pl.col(SPEC.date_column).is_between(start, end)
        if self.column is not None and self.value is not None:
            low, high = pl.lit(self.value(start)), pl.lit(self.value(end))
            expr = pl.col(self.column).is_between(low, high) & expr
        return expr


LAYOUTS = (
    Layout("per-day", "day", lambda d: d.dt.strftime("%Y-%m-%d"), dt.date.isoformat),
    Layout("year", PARTITION_COLUMN, lambda d: d.dt.year().cast(pl.Int32), lambda d: d.year),
    Layout("none"),
)
BASELINE = "year"


def trading_days(count: int) -> list[dt.date]:
    calendar = TradingCalendar("XNYS", first=FIRST_DAY)
    days = calendar.sessions(FIRST_DAY, calendar.last_session)[:count]
    if len(days) < count:
        raise SystemExit(f"--days {count}: the XNYS calendar only has {len(days)} sessions from {FIRST_DAY}")
    return days


def make_bars(symbols: int, days: list[dt.date], seed: int = 0) -> pl.DataFrame:
    """Random-walk daily bars with the schema of ``ohlcv_daily``, sorted by date then symbol."""
    rng = np.random.default_rng(seed)
    shape = (len(days), symbols)
    returns = rng.normal(0.0003, 0.02, shape)
    close = 100 * np.exp(np.cumsum(returns, axis=0))
    open_ = close * np.exp(-returns * rng.uniform(0, 1, shape))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, shape))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, shape))
    log_return = np.vstack([np.full((1, symbols), np.nan), np.diff(np.log(close), axis=0)])
    frame = pl.DataFrame(
        {
            "symbol": np.tile([f"SYM{i:04d}" for i in range(symbols)], len(days)),
            "date": np.repeat(np.array(days, dtype="datetime64[D]"), symbols),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "volume": rng.integers(100_000, 5_000_000, shape).ravel().astype(float),
            "log_return": log_return.ravel(),
            "source": "bench",
        }
    ).with_columns(pl.col("log_return").fill_nan(None))
    return frame.select([pl.col(c).cast(t) for c, t in SPEC.schema.items()])


def create_empty(uri: str, layout: Layout) -> None:
    empty = layout.with_partition(pl.DataFrame(schema=SPEC.schema))
    write_deltalake(uri, empty.to_arrow(), mode="append", partition_by=[layout.column] if layout.column else None)


def merge_day(uri: str, layout: Layout, source: pa.Table, day: dt.date, style: str) -> dict[str, int]:
    """One daily write: a MERGE of the day's rows into the day's slice of a freshly opened table.

    ``sync`` is ``Lake.sync_range``'s MERGE (changed rows updated, new rows inserted, rows of the
    slice missing from the source deleted); ``upsert`` is the same without the delete clause.
    """
    target_slice = layout.slice_sql(day, day)
    on = " AND ".join(f"t.{k} = s.{k}" for k in SPEC.keys) + f" AND {target_slice}"
    changed = " OR ".join(f"(t.{c} IS DISTINCT FROM s.{c})" for c in SPEC.value_columns)
    merger = (
        DeltaTable(uri)
        .merge(source, predicate=on, source_alias="s", target_alias="t")
        .when_matched_update_all(predicate=changed)
        .when_not_matched_insert_all()
    )
    if style == "sync":
        merger = merger.when_not_matched_by_source_delete(predicate=target_slice)
    return merger.execute()


def read_window(uri: str, layout: Layout, start: dt.date, end: dt.date) -> pl.DataFrame:
    return pl.scan_delta(uri).filter(layout.read_filter(start, end)).collect()


def rotated(items: Sequence[T], i: int) -> list[T]:
    """``items`` starting at position ``i`` (cyclically): no item always goes first."""
    k = i % len(items)
    return [*items[k:], *items[:k]]


def timed_reads(
    uris: dict[str, str], start: dt.date, end: dt.date, expected_rows: int, repeats: int
) -> dict[str, float]:
    """Median seconds of ``repeats`` window reads per layout (interleaved), checking the row count."""
    samples: dict[str, list[float]] = {layout.name: [] for layout in LAYOUTS}
    for i in range(repeats):
        for layout in rotated(LAYOUTS, i):
            t0 = time.perf_counter()
            frame = read_window(uris[layout.name], layout, start, end)
            samples[layout.name].append(time.perf_counter() - t0)
            if frame.height != expected_rows:
                raise AssertionError(f"{layout.name}: read {frame.height} rows, expected {expected_rows}")
    return {name: statistics.median(values) for name, values in samples.items()}


def storage(uri: str) -> dict[str, float]:
    """Live data files and bytes (from the log), partition folders and ``_delta_log`` bytes (on disk)."""
    actions = pl.DataFrame(DeltaTable(uri).get_add_actions(flatten=True))
    folders = log_bytes = 0
    for path, dirs, files in os.walk(uri):
        if Path(path).name == "_delta_log":
            log_bytes += sum(os.path.getsize(os.path.join(path, f)) for f in files)
            dirs.clear()
        elif path != uri:
            folders += 1
    return {
        "files": actions.height,
        "bytes": int(actions.get_column("size_bytes").sum()) if actions.height else 0,
        "folders": folders,
        "log_bytes": log_bytes,
    }


@dataclass
class Row:
    label: str
    values: dict[str, float]
    fmt: str  # format spec for the values, e.g. ",.0f"


def print_table(rows: list[Row]) -> None:
    others = [layout.name for layout in LAYOUTS if layout.name != BASELINE]
    header = ["metric", *(layout.name for layout in LAYOUTS), *(f"{name} / {BASELINE}" for name in others)]
    lines = []
    for row in rows:
        base = row.values[BASELINE]
        ratios = [f"{row.values[name] / base:.2f}x" if base else "-" for name in others]
        lines.append([row.label, *(format(row.values[layout.name], row.fmt) for layout in LAYOUTS), *ratios])
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(render(header))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(render(line))


def run(symbols: int, n_days: int, repeats: int, root: str) -> list[Row]:
    days = trading_days(n_days)
    bars = make_bars(symbols, days)
    tables = [(style, layout) for style in STYLES for layout in LAYOUTS]
    uris = {(style, layout.name): os.path.join(root, style, layout.name) for style, layout in tables}
    for style, layout in tables:
        create_empty(uris[style, layout.name], layout)
    sources = {  # prepared outside the timed region: the benchmark times Delta, not polars
        layout.name: [layout.with_partition(part).to_arrow() for part in bars.partition_by("date", maintain_order=True)]
        for layout in LAYOUTS
    }

    print(f"writing {n_days} days to {len(tables)} tables ({len(STYLES)} MERGE styles x {len(LAYOUTS)} layouts) ...")
    write_s: dict[tuple[str, str], list[float]] = {key: [] for key in uris}
    scan_ms: dict[tuple[str, str], list[float]] = {key: [] for key in uris}
    for i, day in enumerate(days):
        for style, layout in rotated(tables, i):
            key = (style, layout.name)
            t0 = time.perf_counter()
            metrics = merge_day(uris[key], layout, sources[layout.name][i], day, style)
            write_s[key].append(time.perf_counter() - t0)
            scan_ms[key].append(metrics.get("scan_time_ms", 0))
            if metrics.get("num_target_rows_inserted") != symbols:
                raise AssertionError(f"{key} {day}: unexpected merge metrics {metrics}")

    # Everything below looks at the tables the project's sync MERGE wrote.
    sync_uris = {layout.name: uris["sync", layout.name] for layout in LAYOUTS}
    before = {name: storage(uri) for name, uri in sync_uris.items()}
    middle = len(days) // 2
    window = (days[middle], days[min(middle + WINDOW_DAYS, len(days)) - 1])
    window_rows = symbols * len(days[middle : middle + WINDOW_DAYS])
    print(f"reading {window[0]}..{window[1]} and {days[0]}..{days[-1]}, {repeats} repeats each ...")
    read_window_s = timed_reads(sync_uris, *window, window_rows, repeats)
    read_all_s = timed_reads(sync_uris, days[0], days[-1], bars.height, repeats)

    print("compacting, reading again ...", flush=True)
    compact_s = {}
    for layout in LAYOUTS:
        t0 = time.perf_counter()
        DeltaTable(sync_uris[layout.name]).optimize.compact()
        compact_s[layout.name] = time.perf_counter() - t0
    after = {name: storage(uri) for name, uri in sync_uris.items()}
    read_window_c = timed_reads(sync_uris, *window, window_rows, repeats)
    read_all_c = timed_reads(sync_uris, days[0], days[-1], bars.height, repeats)

    edge = min(EDGE_DAYS, n_days)

    def per(fn: Callable[[str], float]) -> dict[str, float]:
        return {layout.name: fn(layout.name) for layout in LAYOUTS}

    def write_rows(style: str) -> list[Row]:
        w = {name: write_s[style, name] for name in sync_uris}
        scan = {name: scan_ms[style, name] for name in sync_uris}
        return [
            Row(f"{style}: write {n_days} days, total (s)", per(lambda n: sum(w[n])), ".2f"),
            Row(f"{style}: write, mean per day (ms)", per(lambda n: 1000 * statistics.mean(w[n])), ".1f"),
            Row(f"{style}: write, first {edge} days (ms)", per(lambda n: 1000 * statistics.mean(w[n][:edge])), ".1f"),
            Row(f"{style}: write, last {edge} days (ms)", per(lambda n: 1000 * statistics.mean(w[n][-edge:])), ".1f"),
            Row(f"{style}: target scan, last {edge} days (ms)", per(lambda n: statistics.mean(scan[n][-edge:])), ".1f"),
        ]

    return [
        *(row for style in STYLES for row in write_rows(style)),
        Row("live data files", per(lambda n: before[n]["files"]), ",.0f"),
        Row("partition folders", per(lambda n: before[n]["folders"]), ",.0f"),
        Row("live data (KiB)", per(lambda n: before[n]["bytes"] / 1024), ",.0f"),
        Row("_delta_log (KiB)", per(lambda n: before[n]["log_bytes"] / 1024), ",.0f"),
        Row(f"read {WINDOW_DAYS}-day window, median (ms)", per(lambda n: 1000 * read_window_s[n]), ".1f"),
        Row(f"read all {n_days} days, median (ms)", per(lambda n: 1000 * read_all_s[n]), ".1f"),
        Row("compaction (s)", per(lambda n: compact_s[n]), ".2f"),
        Row("live data files after compaction", per(lambda n: after[n]["files"]), ",.0f"),
        Row("live data after compaction (KiB)", per(lambda n: after[n]["bytes"] / 1024), ",.0f"),
        Row(f"read {WINDOW_DAYS}-day window after compaction (ms)", per(lambda n: 1000 * read_window_c[n]), ".1f"),
        Row(f"read all {n_days} days after compaction (ms)", per(lambda n: 1000 * read_all_c[n]), ".1f"),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=50, help="symbols per day (default 50)")
    parser.add_argument("--days", type=int, default=252, help="XNYS sessions from 2024-01-02 (default 252)")
    parser.add_argument("--repeats", type=int, default=7, help="runs per read measurement (default 7)")
    args = parser.parse_args(argv)
    if args.symbols < 1 or args.days < 1 or args.repeats < 1:
        parser.error("--symbols, --days and --repeats must be positive")

    print(
        f"Delta partitioning benchmark: {args.symbols} symbols x {args.days} days = {args.symbols * args.days:,} rows;"
        f" deltalake {deltalake.__version__}, polars {pl.__version__}, {os.cpu_count()} CPUs",
        flush=True,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-partitioning-") as root:
        rows = run(args.symbols, args.days, args.repeats, root)
    print()
    print_table(rows)
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
