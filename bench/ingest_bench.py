"""Ingest at the speed of a Delta write (issue 17, goals 5 and 6).

Data. ``lakehouse simulate --symbols N --years Y --seed S`` (default 200 x 14, seed 7) writes one
landing CSV per symbol and year (``timestamp,open,high,low,close,volume,source``) under ``--work``
(default ``/tmp/bench_ingest``), reused when present. No sentiment is landed.

Work measured, for the whole simulated range as one partition range (a single-run backfill),
each into a fresh lake, ``--repeats`` times (default 3) interleaved so that (a), (b) and (c)
see the same load; the median of each is reported:

(a) raw: one polars scan of every landed CSV with the simulator's schema given (``timestamp`` a
    date, the prices and volume floats: the fastest read; inferring types took 1.5x as long,
    ``try_parse_dates`` 4x), a ``year`` column, and one ``write_deltalake`` partitioned by ``year``:
    the floor of reading the files and writing them as a Delta table, with no validation,
    lineage, quarantine or idempotence.
(b) bronze pieces: the functions ``ohlcv_bronze`` calls, in its order, timed one by one:
    ``SourcesResource.ohlcv_deliveries``, ``ohlcv.screen_delivery``, ``Lake.read`` of the previous
    rows of the files read, ``ohlcv.keep_replaced``, ``Lake.sync_range``, ``landing_problems``,
    ``quarantine``, and the read-back of ``table_outcomes`` (its schema and key checks).
(c) bronze step: ``daily_job`` subset to ``ohlcv_bronze`` alone, executed in this process on an
    ephemeral Dagster instance (as ``bench/backfill_bench.py`` runs it); the time is Dagster's
    step duration of ``ohlcv_bronze``: the asset body with its checks, and Dagster's handling of
    one materialization (events, metadata) per partition of the range, which no ingest code pays
    for and which grows with the number of partitions, not of rows.

Goal 6: rows per second of (c) at least 50% of (a)'s, i.e. ``seconds(a) / seconds(c) >= 0.5``;
the verdict line also gives the ratio of (b), the asset body, with its own verdict.

Goal 5 (no work for data that is not there): after (c), ``ohlcv_daily`` is materialized once
(untimed) in the last lake, then ``sentiment_bronze`` and ``sentiment_daily`` (job subset to the
two) with nothing landed, ``--repeats`` times (the first into empty tables, the others re-runs
that change nothing), then their bodies' pieces as for (b), as many times. ``sentiment_daily``
still writes its contract, a stub row per bar (score 0, confidence 0, ``source = 'stub'``,
README), so "next to nothing" is read as: ``sentiment_bronze`` (no rows at all) at most 0.5 s,
and ``sentiment_daily`` (one narrow row per bar) at most the raw read + write (a) of the bars
themselves; medians, judged on the Dagster steps, with the bodies' verdict beside. The step of
``sentiment_bronze`` less its body is printed as an estimate of Dagster's per-partition cost.

Run from the repository root. The default took 5.5 minutes on 2 shared cores (load 2-4), almost
all of it in Dagster steps (about 20-30 s each at 3,523 partitions); the pieces alone take seconds::

    .venv/bin/python bench/ingest_bench.py
    .venv/bin/python bench/ingest_bench.py --symbols 20 --years 2 --repeats 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill_bench import Pipeline, fresh, load, machine, render, simulate, simulated_sessions, verdict

GOAL_RATIO = 0.5
SENTIMENT_BRONZE_MAX = 0.5  # seconds: an asset with no input has only its fixed cost
T = TypeVar("T")
RAW_SCHEMA = {  # the columns `lakehouse simulate` writes
    "timestamp": pl.Date,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
    "source": pl.String,
}


def landed_csvs(ohlcv_dir: Path) -> list[Path]:
    return sorted(ohlcv_dir.glob("*/1day/*.csv"))


def raw_write(files: list[Path], lake: Path) -> tuple[int, dict[str, float]]:
    """(a): one polars scan of the CSVs and one year-partitioned Delta write; rows and seconds."""
    from deltalake import write_deltalake

    began = time.perf_counter()
    frame = pl.scan_csv(files, schema=RAW_SCHEMA).with_columns(year=pl.col("timestamp").dt.year()).collect()
    read = time.perf_counter()
    write_deltalake(str(fresh(lake) / "bars"), frame.to_arrow(), partition_by=["year"])
    return frame.height, {"read CSVs": read - began, "Delta write": time.perf_counter() - read}


def stopwatch(seconds: dict[str, float]) -> Callable[[str, Callable[[], T]], T]:
    """``timed(name, call)``: ``call()``, its seconds recorded under ``name`` in ``seconds``."""

    def timed(name: str, call: Callable[[], T]) -> T:
        began = time.perf_counter()
        out = call()
        seconds[name] = time.perf_counter() - began
        return out

    return timed


def bronze_pieces(lake_root: Path, ohlcv_dir: Path, start: dt.date, end: dt.date) -> tuple[int, dict[str, float]]:
    """(b): what ``ohlcv_bronze`` calls, in its order, each timed; rows written and seconds."""
    from lakehouse_assets.core import ohlcv
    from lakehouse_assets.defs import checks as asset_checks
    from lakehouse_assets.defs.common import quarantine, utc_now
    from lakehouse_assets.defs.ingest import _file_records
    from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
    from lakehouse_assets.sources import ohlcv as ohlcv_source

    seconds: dict[str, float] = {}
    timed = stopwatch(seconds)

    lakehouse = LakehouseResource(lake_uri=str(fresh(lake_root)))
    sources = SourcesResource(ohlcv_dir=str(ohlcv_dir))
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    raw, files, problems = timed("ohlcv_deliveries", lambda: sources.ohlcv_deliveries(config, start, end))
    tz = config.exchange.timezone
    screened = timed("screen_delivery", lambda: ohlcv.screen_delivery(raw, tz, calendar, start, end))
    previous = timed("read previous", lambda: lake.read("ohlcv_bronze", start, end, where=pl.col("file").is_in(files)))
    stamped = screened.bars.with_columns(ingested_at=pl.lit(utc_now()))
    bars = timed("keep_replaced", lambda: ohlcv.keep_replaced(stamped, screened.quarantined, previous))
    timed("sync_range", lambda: lake.sync_range("ohlcv_bronze", bars, start, end, {"file": files}))
    universe = sources.universe(config)
    unread = timed("landing_problems", lambda: ohlcv_source.landing_problems(ohlcv_dir, universe))
    records = _file_records("ohlcv_bronze", problems + unread, ohlcv_source.LANDING_SOURCE)
    timed("quarantine", lambda: quarantine(lake, pl.concat([screened.quarantined, *records])))
    timed("table_outcomes", lambda: asset_checks.table_outcomes(lake, "ohlcv_bronze", start, end))
    return bars.height, seconds


def sentiment_pieces(lake_root: Path, ohlcv_dir: Path, start: dt.date, end: dt.date) -> dict[str, float]:
    """What ``sentiment_bronze`` and ``sentiment_daily`` call with nothing landed, in their order, each
    timed (the lake must hold ``ohlcv_daily``)."""
    from lakehouse_assets.core import sentiment
    from lakehouse_assets.defs import checks as asset_checks
    from lakehouse_assets.defs.common import quarantine, utc_now
    from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource

    seconds: dict[str, float] = {}
    timed = stopwatch(seconds)

    lakehouse, sources = LakehouseResource(lake_uri=str(lake_root)), SourcesResource(ohlcv_dir=str(ohlcv_dir))
    config, lake = lakehouse.config(), lakehouse.lake()
    lines, files = timed("bronze: sentiment_lines", lambda: sources.sentiment_lines(config, start, end))
    rows, rejected = timed("bronze: parse_snapshot_lines", lambda: sentiment.parse_snapshot_lines(lines))
    rows = rows.with_columns(ingested_at=pl.lit(utc_now()))
    timed("bronze: sync_range", lambda: lake.sync_range("sentiment_bronze", rows, start, end, {"file": files}))
    timed("bronze: quarantine", lambda: quarantine(lake, rejected))
    timed("bronze: table_outcomes", lambda: asset_checks.table_outcomes(lake, "sentiment_bronze", start, end))
    symbols = sources.universe(config)
    in_universe = pl.col("symbol").is_in(symbols)
    bronze = timed("daily: read bronze", lambda: lake.read("sentiment_bronze", start, end, where=in_universe))
    bars = timed(
        "daily: read bars",
        lambda: lake.read("ohlcv_daily", start, end, where=in_universe, columns=["symbol", "date"]),
    )
    weights = config.sources
    daily = timed(
        "daily: daily_sentiment",
        lambda: sentiment.daily_sentiment(bronze, bars, weights.provider_weights, weights.default_weight),
    )
    timed("daily: sync_range", lambda: lake.sync_range("sentiment_daily", daily, start, end, {"symbol": symbols}))
    timed(
        "daily: table_outcomes",
        lambda: asset_checks.table_outcomes(lake, "sentiment_daily", start, end, in_universe),
    )
    return seconds


def asset_run(lake_root: Path, ohlcv_dir: Path, assets: list[str], start: dt.date, end: dt.date) -> dict[str, float]:
    """Step seconds of ``daily_job`` subset to ``assets``, one run over ``start..end``."""
    import dagster as dg

    pipeline = Pipeline(str(lake_root), ohlcv_dir)
    pipeline.job = pipeline.job.get_subset(asset_selection={dg.AssetKey(name) for name in assets})
    return pipeline.run(start, end).steps


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "-"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=200, help="simulated symbols (default 200)")
    parser.add_argument("--years", type=int, default=14, help="simulated years (default 14)")
    parser.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_ingest"), help="data and lakes")
    args = parser.parse_args(argv)

    print(machine())
    ohlcv_dir = simulate(args.work / f"landing_n{args.symbols}_y{args.years}", args.symbols, args.years, args.seed)
    sessions = simulated_sessions(args.years)
    start, end = sessions[0], sessions[-1]
    files = landed_csvs(ohlcv_dir)
    print(f"landing: {ohlcv_dir}, {len(files)} CSV files, range {start}..{end} ({len(sessions)} sessions)\n")

    raw: list[dict[str, float]] = []
    pieces: list[dict[str, float]] = []
    steps: list[float] = []
    rows = bronze_rows = 0
    for repeat in range(args.repeats):
        rows, seconds = raw_write(files, args.work / "lake_raw")
        raw.append(seconds)
        bronze_rows, seconds = bronze_pieces(args.work / "lake_pieces", ohlcv_dir, start, end)
        pieces.append(seconds)
        step = asset_run(fresh(args.work / "lake_bronze"), ohlcv_dir, ["ohlcv_bronze"], start, end)
        steps.append(step["ohlcv_bronze"])
        print(
            f"  repeat {repeat + 1}: raw {sum(raw[-1].values()):.2f} s, pieces {sum(pieces[-1].values()):.2f} s, "
            f"step {steps[-1]:.2f} s; {load()}"
        )

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    raw_s = statistics.median(sum(run.values()) for run in raw)
    pieces_s = statistics.median(sum(run.values()) for run in pieces)
    step_s = statistics.median(steps)
    print(f"\nrows: landed {rows:,}, written to ohlcv_bronze {bronze_rows:,}; medians of {args.repeats} repeats\n")
    table = [["", "seconds", "rows/s", "vs (a)"]]
    table += [[f"(a) raw: {k}", f"{median(raw, k):.3f}", "", ""] for k in raw[0]]
    table.append(["(a) raw read + Delta write", f"{raw_s:.3f}", rate(rows, raw_s), "100%"])
    table += [[f"(b) {k}", f"{median(pieces, k):.3f}", "", ""] for k in pieces[0]]
    table.append(["(b) bronze pieces, total", f"{pieces_s:.3f}", rate(rows, pieces_s), f"{raw_s / pieces_s:.0%}"])
    table.append(["(c) ohlcv_bronze step (Dagster)", f"{step_s:.3f}", rate(rows, step_s), f"{raw_s / step_s:.0%}"])
    render(table, "  ")
    lake = args.work / "lake_bronze"
    asset_run(lake, ohlcv_dir, ["ohlcv_daily"], start, end)
    runs = [
        asset_run(lake, ohlcv_dir, ["sentiment_bronze", "sentiment_daily"], start, end) for _ in range(args.repeats)
    ]
    bodies = [sentiment_pieces(lake, ohlcv_dir, start, end) for _ in range(args.repeats)]
    from lakehouse_assets.lake.delta import Lake

    stubs = Lake(lake).read("sentiment_daily", start, end).height
    steps_of = {name: statistics.median(run[name] for run in runs) for name in ("sentiment_bronze", "sentiment_daily")}
    body_of = {
        name: statistics.median(sum(v for k, v in run.items() if k.startswith(prefix)) for run in bodies)
        for name, prefix in (("sentiment_bronze", "bronze:"), ("sentiment_daily", "daily:"))
    }
    bookkeeping = steps_of["sentiment_bronze"] - body_of["sentiment_bronze"]
    print(
        f"\nno sentiment landed ({stubs:,} stub rows in sentiment_daily), medians of {args.repeats} runs "
        "(the first into empty tables, then re-runs):"
    )
    table = [["", "seconds"]]
    table += [[k, f"{statistics.median(run[k] for run in bodies):.3f}"] for k in bodies[0]]
    for name in steps_of:
        table.append([f"{name}: asset body (the pieces)", f"{body_of[name]:.3f}"])
        table.append([f"{name}: Dagster step", f"{steps_of[name]:.3f}"])
    render(table, "  ")
    print(
        f"  a step with no rows at all (sentiment_bronze) spends {bookkeeping:.2f} s outside its body: Dagster's "
        f"per-partition events and metadata for {len(sessions)} partitions, paid by every asset of the run"
    )

    ratio, body_ratio = raw_s / step_s, raw_s / pieces_s
    print(
        f"\ngoal 6 (bronze >= 50% of raw): {verdict(ratio >= GOAL_RATIO)} (the Dagster step: {ratio:.0%} of raw "
        f"rows/s; its body, (b): {body_ratio:.0%}, {verdict(body_ratio >= GOAL_RATIO)})"
    )
    ok_steps = steps_of["sentiment_bronze"] <= SENTIMENT_BRONZE_MAX and steps_of["sentiment_daily"] <= raw_s
    ok_bodies = body_of["sentiment_bronze"] <= SENTIMENT_BRONZE_MAX and body_of["sentiment_daily"] <= raw_s
    print(
        f"goal 5 (no sentiment: sentiment_bronze <= {SENTIMENT_BRONZE_MAX} s, sentiment_daily <= raw (a) "
        f"{raw_s:.2f} s): {verdict(ok_steps)} (Dagster steps {steps_of['sentiment_bronze']:.2f} s and "
        f"{steps_of['sentiment_daily']:.2f} s; asset bodies {body_of['sentiment_bronze']:.2f} s and "
        f"{body_of['sentiment_daily']:.2f} s, {verdict(ok_bodies)})"
    )
    print(load())


if __name__ == "__main__":
    main()
