"""SQL over the lake: partition-pruned against full scans, DuckDB's delta_scan against an Arrow dataset and pandas.

Lake: ``--lake`` (default ``/tmp/bench_backfill/lake_n500_single``, the 500-symbol x 10-year lake
``bench/backfill_bench.py`` leaves: bronze and silver tables written by one single-run backfill,
so one file per year partition). When it is missing it is built the same way (simulate 500 x 10,
one run of the ``bronze`` and ``silver`` groups, several minutes). Point ``--lake`` at
``/tmp/bench_daily/lake/n500`` to include the gold and strategy tables (few days of them).

Queries, each run by three engines:

* ``native``: ``lakehouse_assets.lake.duck.connect`` - every table a DuckDB view over the Delta
  extension's ``delta_scan`` (the ``year`` partition column hidden), exactly what ``lakehouse query``
  runs;
* ``arrow``: the same views over ``deltalake.DeltaTable(...).to_pyarrow_dataset()`` registered in
  DuckDB (DuckDB pushes projections and filters into the dataset, whose fragments carry the
  partition values and file statistics; ``to_pyarrow_table`` is never called);
* ``pandas``: read every data file of the tables involved with ``pd.read_parquet`` (all columns),
  then filter, group and sort in pandas; only for the queries with a pandas version.

The queries: a one-month window aggregate over ``features`` (per symbol: count, mean RSI, mean
realized volatility) filtered on ``date`` only (what a user writes; the files are pruned by their
date statistics), the same with the partition predicate ``year = ...`` added (against the tables
directly, since the views hide ``year``), the same aggregate over the whole table (full scan), and
every ``sql/*.sql`` file whose input tables exist in the lake, with parameters bound as
``lakehouse query --param`` does (``lake/duck.py::query``): ``as_of`` = the last date of
``ohlcv_daily``, ``start``/``end`` = the last full month, ``symbol`` = the first symbol.

Reported per query and engine: the median of ``--repeats`` timed runs after one warm-up run (the
connection and views are created once per engine and not timed; their setup time is printed),
and the data files scanned: for ``native`` the ``Total Files Read`` of every ``DELTA_SCAN`` in
DuckDB's ``EXPLAIN ANALYZE`` profile (summed over the scans of the query), for ``arrow`` the
fragments of the dataset that survive the query's date/year filter (``get_fragments(filter=...)``,
all fragments for queries without one), for ``pandas`` every file read. The files the Delta log
says could match (add actions filtered by partition value and min/max ``date``) are shown for
the window queries. Results are checked to agree between engines (same rows after sorting,
numbers to 1e-9) before anything is printed.

Run from the repository root (a minute or two on the 500-symbol lake)::

    .venv/bin/python bench/query_bench.py
    .venv/bin/python bench/query_bench.py --lake /tmp/bench_daily/lake/n500 --repeats 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill_bench import GROUPS, Pipeline, load, machine, render, simulate, simulated_sessions

from lakehouse_assets.lake.catalog import PARTITION_COLUMN, table
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.lake.duck import PARAMETER, _strip_comments_and_strings, connect

SQL = Path(__file__).resolve().parents[1] / "sql"
ENGINES = ("native", "arrow", "pandas")
WINDOW_SQL = """
select symbol, count(*) as n, avg(rsi_14) as rsi, avg(realized_vol_21) as rv
from {source}
where {year}date between cast($start as date) and cast($end as date)
group by symbol order by symbol
"""
FULL_SQL = "select symbol, count(*) as n, avg(rsi_14) as rsi, avg(realized_vol_21) as rv from features group by symbol order by symbol"


# --- engines ------------------------------------------------------------------------------------------


def arrow_connect(lake: Lake) -> tuple[duckdb.DuckDBPyConnection, dict[str, object]]:
    """DuckDB with one view per table over its pyarrow dataset (the ``year`` column hidden)."""
    con = duckdb.connect()
    datasets = {}
    for name in lake.tables():
        ds = lake.open(name).to_pyarrow_dataset()
        datasets[name] = ds
        con.register(f"{name}__ds", ds)
        hidden = f" EXCLUDE ({PARTITION_COLUMN})" if table(name).partitioned else ""
        strings = [c for c, t in table(name).schema.items() if t == pl.String()]
        # DuckDB 1.5.5 pushes string comparisons into pyarrow as string_view scalars, which pyarrow 26
        # cannot compare with the dataset's string columns (NotImplemented: 'equal' has no kernel for
        # (string, string_view)): string columns go through a no-op expression so only the other
        # filters (dates, numbers, the partition column) are pushed into the dataset
        replaced = f" REPLACE ({', '.join(f'{c} || {chr(39) * 2} AS {c}' for c in strings)})" if strings else ""
        con.execute(f"CREATE VIEW {name} AS SELECT *{hidden}{replaced} FROM {name}__ds")
    return con, datasets


def bind(sql: str, params: dict[str, str]) -> dict[str, str] | None:
    wanted = dict.fromkeys(PARAMETER.findall(_strip_comments_and_strings(sql)))
    return {k: params[k] for k in wanted} or None


def files_read(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, str]) -> int:
    """Sum of ``Total Files Read`` over the DELTA_SCAN operators of the query's profile."""
    # EXPLAIN's own JSON format: the query surface's configuration is locked (no PRAGMA)
    profile = json.loads(con.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, bind(sql, params)).fetchall()[0][1])
    total = 0

    def walk(node: dict) -> None:
        nonlocal total
        if node.get("operator_name") == "DELTA_SCAN":
            total += int(node.get("extra_info", {}).get("Total Files Read", 0))
        for child in node.get("children", []):
            walk(child)

    walk(profile)
    return total


def data_files(lake: Lake, name: str) -> list[str]:
    return lake.open(name).file_uris()


def read_all(lake: Lake, name: str) -> pd.DataFrame:
    """Every row and column of a table, pandas reading the live data files (no pruning)."""
    # pyarrow reads the list of files as one dataset; pandas' stubs know only one path
    frame = pd.read_parquet(data_files(lake, name))  # type: ignore[arg-type]
    return frame.drop(columns=[PARTITION_COLUMN], errors="ignore")


# --- pandas versions of the queries ------------------------------------------------------------------


def pandas_window(lake: Lake, p: dict[str, str]) -> pd.DataFrame:
    f = read_all(lake, "features")
    f = f[(f["date"] >= pd.Timestamp(p["start"]).date()) & (f["date"] <= pd.Timestamp(p["end"]).date())]
    return pandas_aggregate(f)


def pandas_aggregate(f: pd.DataFrame) -> pd.DataFrame:
    out = f.groupby("symbol").agg(n=("rsi_14", "size"), rsi=("rsi_14", "mean"), rv=("realized_vol_21", "mean"))
    return out.reset_index().sort_values("symbol")


def pandas_full(lake: Lake, p: dict[str, str]) -> pd.DataFrame:
    return pandas_aggregate(read_all(lake, "features"))


def pandas_latest_bars(lake: Lake, p: dict[str, str]) -> pd.DataFrame:
    bars = read_all(lake, "ohlcv_daily")
    bars = bars[bars["date"] <= pd.Timestamp(p["as_of"]).date()]
    latest = bars.sort_values("date").groupby("symbol").tail(1)
    days = np.sort(bars["date"].unique())
    stale = len(days) - np.searchsorted(days, latest["date"].to_numpy(), side="right")
    latest = latest[["symbol", "date", "open", "high", "low", "close", "volume", "log_return"]].assign(
        sessions_stale=stale
    )
    return latest.sort_values("symbol")


def pandas_feature_snapshot(lake: Lake, p: dict[str, str]) -> pd.DataFrame:
    f = read_all(lake, "features")
    start, end = pd.Timestamp(p["start"]).date(), pd.Timestamp(p["end"]).date()
    f = f[(f["symbol"] == p["symbol"]) & (f["date"] >= start) & (f["date"] <= end)]
    r = read_all(lake, "market_regimes")[["symbol", "date", "regime", "trend", "market_regime", "market_trend"]]
    return f.merge(r, on=["symbol", "date"], how="left").sort_values("date")


def pandas_regime_calendar(lake: Lake, p: dict[str, str]) -> pd.DataFrame:
    r = read_all(lake, "market_regimes")[["symbol", "date", "regime"]].sort_values(["symbol", "date"])
    r = r[r["regime"].notna()]
    spell = (r["regime"] != r.groupby("symbol")["regime"].shift()).cumsum()
    out = r.groupby([r["symbol"], spell.rename("spell")]).agg(
        regime=("regime", "first"), start_date=("date", "min"), end_date=("date", "max"), sessions=("date", "size")
    )
    out["calendar_days"] = (pd.to_datetime(out["end_date"]) - pd.to_datetime(out["start_date"])).dt.days + 1
    return out.reset_index()[["symbol", "regime", "start_date", "end_date", "sessions", "calendar_days"]]


@dataclass
class Query:
    name: str
    sql: str
    tables: tuple[str, ...]
    pandas: Callable[[Lake, dict[str, str]], pd.DataFrame] | None = None
    arrow_sql: str | None = None  # when the arrow engine needs another text (the year predicate)
    window: bool = False  # a date-window query on features: show the files the log says could match
    year: bool = False


def queries(lake: Lake, years: list[int]) -> list[Query]:
    year = years[-1]
    out = [
        Query(
            "features 1-month window (date filter)",
            WINDOW_SQL.format(source="features", year=""),
            ("features",),
            pandas_window,
            window=True,
        ),
        Query(
            "features 1-month window + year = ...",
            WINDOW_SQL.format(source=f"delta_scan('{lake.uri('features')}')", year=f"year = {year} and "),
            ("features",),
            pandas_window,
            arrow_sql=WINDOW_SQL.format(source="features__ds", year=f"year = {year} and "),
            window=True,
            year=True,
        ),
        Query("features full scan (same aggregate)", FULL_SQL, ("features",), pandas_full),
    ]
    pandas_named = {
        "latest_bars.sql": pandas_latest_bars,
        "feature_snapshot.sql": pandas_feature_snapshot,
        "regime_calendar.sql": pandas_regime_calendar,
    }
    existing = set(lake.tables())
    for path in sorted(SQL.glob("*.sql")):
        text = path.read_text()
        header = next((line for line in text.splitlines() if line.startswith("-- inputs:")), "")
        inputs = tuple(w.strip(",") for w in header.removeprefix("-- inputs:").split() if w.strip(",") in _all_tables())
        if not inputs or not set(inputs) <= existing:
            print(f"  skipped {path.name}: needs {', '.join(sorted(set(inputs) - existing)) or '?'} (not in this lake)")
            continue
        out.append(Query(path.name, text, inputs, pandas_named.get(path.name)))
    return out


def _all_tables() -> set[str]:
    from lakehouse_assets.lake.catalog import TABLES

    return set(TABLES)


# --- measuring --------------------------------------------------------------------------------------


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, str]) -> pd.DataFrame:
    return con.execute(sql, bind(sql, params)).df()


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up, and the result checked
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples), result


def normalized(frame: pd.DataFrame) -> list[tuple]:
    """Rows as tuples with floats rounded (1e-9 relative) and dates as ISO text, sorted."""

    def cell(v: object) -> object:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, float | np.floating):
            return float(f"{float(v):.9e}")
        if isinstance(v, pd.Timestamp | dt.datetime):
            return v.date().isoformat()
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, np.integer):
            return int(v)
        return v

    rows = [tuple(cell(v) for v in row) for row in frame.itertuples(index=False)]
    return sorted(rows, key=lambda r: tuple((x is None, str(x)) for x in r))


def log_files(lake: Lake, name: str, start: dt.date, end: dt.date, year: int | None) -> tuple[int, int]:
    """(files whose year and min/max date can match the window, all files) from the Delta log."""
    actions = pl.DataFrame(lake.open(name).get_add_actions(flatten=True))
    match = (pl.col("min.date") <= end) & (pl.col("max.date") >= start)
    if year is not None:
        match &= pl.col(f"partition.{PARTITION_COLUMN}") == year
    return actions.filter(match).height, actions.height


def arrow_fragments(datasets: dict[str, object], q: Query, params: dict[str, str], year: int) -> int:
    total = 0
    for name in q.tables:
        ds = datasets[name]
        expr = None
        if q.window:
            start, end = dt.date.fromisoformat(params["start"]), dt.date.fromisoformat(params["end"])
            expr = (pc.field("date") >= start) & (pc.field("date") <= end)
            if q.year:
                expr &= pc.field(PARTITION_COLUMN) == year
        elif q.name == "feature_snapshot.sql" and name == "features":
            start, end = dt.date.fromisoformat(params["start"]), dt.date.fromisoformat(params["end"])
            expr = (pc.field("date") >= start) & (pc.field("date") <= end)
        elif q.name == "latest_bars.sql":
            expr = pc.field("date") <= dt.date.fromisoformat(params["as_of"])
        total += len(list(ds.get_fragments(filter=expr) if expr is not None else ds.get_fragments()))  # type: ignore[attr-defined]
    return total


def ensure_lake(path: Path) -> None:
    if Lake(path).exists("features"):
        return
    print(f"  no lake at {path}: building 500 symbols x 10 years (bronze + silver, one run)", flush=True)
    ohlcv_dir = simulate(Path("/tmp/bench_backfill/sim_n500_y10"), 500, 10, 7)
    sessions = simulated_sessions(10)
    run = Pipeline(str(path), ohlcv_dir, GROUPS).run(sessions[0], sessions[-1])
    print(f"  built in {run.seconds:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lake", type=Path, default=Path("/tmp/bench_backfill/lake_n500_single"), help="lake root")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per query and engine (default 5)")
    args = parser.parse_args(argv)
    print("query benchmark: named SQL and window queries, delta_scan vs Arrow dataset vs pandas")
    print(machine(), flush=True)
    began = time.perf_counter()
    ensure_lake(args.lake)
    lake = Lake(args.lake)
    bars = lake.read("ohlcv_daily", columns=["symbol", "date"])
    last = bars.get_column("date").max()
    assert isinstance(last, dt.date)  # max() is typed as any literal
    symbols = bars.get_column("symbol").unique().sort()
    month_end = last.replace(day=1) - dt.timedelta(days=1)
    params = {
        "as_of": last.isoformat(),
        "start": month_end.replace(day=1).isoformat(),
        "end": month_end.isoformat(),
        "symbol": symbols[0],
    }
    years = sorted({d.year for d in bars.get_column("date").unique().to_list()})
    print(f"lake {args.lake}: {symbols.len()} symbols, {bars.height:,} bars {bars['date'].min()!s}..{last}")
    print(f"parameters: {params}")
    for name in lake.tables():
        stats = lake.stats(name)
        print(f"  {name}: {stats.rows:,} rows in {stats.files} files, {stats.bytes / 2**20:,.1f} MiB")
    del bars

    t0 = time.perf_counter()
    native = connect(lake)
    native_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    arrow, datasets = arrow_connect(lake)
    arrow_setup = time.perf_counter() - t0
    print(f"connection + views: native {native_setup:.2f} s, arrow {arrow_setup:.2f} s  ({load()})", flush=True)

    results = []
    for q in queries(lake, years):
        row: dict[str, object] = {"query": q.name}
        sql_native = q.sql
        sql_arrow = q.arrow_sql or q.sql
        row["native"], out_native = timed(partial(query_frame, native, sql_native, params), args.repeats)
        row["native_files"] = files_read(native, sql_native, params)
        row["arrow"], out_arrow = timed(partial(query_frame, arrow, sql_arrow, params), args.repeats)
        row["arrow_files"] = arrow_fragments(datasets, q, params, years[-1])
        a, b = normalized(out_native), normalized(out_arrow)  # type: ignore[arg-type]
        if a != b:
            raise AssertionError(f"{q.name}: native and arrow results differ ({len(a)} vs {len(b)} rows)")
        if q.pandas is not None:
            row["pandas"], out_pandas = timed(partial(q.pandas, lake, params), args.repeats)
            row["pandas_files"] = sum(len(data_files(lake, t)) for t in q.tables)
            c = normalized(out_pandas)  # type: ignore[arg-type]
            if c != a:
                raise AssertionError(f"{q.name}: pandas and native results differ ({len(c)} vs {len(a)} rows)")
        if q.window:
            start, end = dt.date.fromisoformat(params["start"]), dt.date.fromisoformat(params["end"])
            row["log_files"] = log_files(lake, "features", start, end, years[-1] if q.year else None)
        row["rows"] = len(a)
        results.append(row)
        print(
            f"  {q.name}: native {row['native']:.3f} s, arrow {row['arrow']:.3f} s"
            + (f", pandas {row['pandas']:.3f} s" if "pandas" in row else ""),
            flush=True,
        )

    print(f"\nmedian seconds of {args.repeats} runs (after a warm-up); files = data files scanned; ratios to native")
    rows = [
        [
            "query",
            "rows",
            "native s",
            "arrow s",
            "pandas s",
            "arrow/native",
            "pandas/native",
            "files native",
            "files arrow",
            "files pandas",
            "log: could match/all",
        ]
    ]
    for r in results:
        rows.append(
            [
                str(r["query"]),
                str(r["rows"]),
                f"{r['native']:.3f}",
                f"{r['arrow']:.3f}",
                f"{r['pandas']:.3f}" if "pandas" in r else "-",
                f"{r['arrow'] / r['native']:.1f}x",  # type: ignore[operator]
                f"{r['pandas'] / r['native']:.1f}x" if "pandas" in r else "-",  # type: ignore[operator]
                str(r["native_files"]),
                str(r["arrow_files"]),
                str(r.get("pandas_files", "-")),
                "{}/{}".format(*r["log_files"]) if "log_files" in r else "",  # type: ignore[misc]
            ]
        )
    render(rows)
    window, full = results[0], results[2]
    print(
        f"\npruned (1-month window) vs full scan of features, native: {window['native']:.3f} s vs {full['native']:.3f} s "
        f"({full['native'] / window['native']:.1f}x), files {window['native_files']} vs {full['native_files']}"  # type: ignore[operator]
    )
    print("(no goal was set for this benchmark: the figures are information)")
    print(f"\n{load()}; total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
