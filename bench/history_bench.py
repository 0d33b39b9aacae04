"""A daily run's cost against the years of history stored (issue 17, goals 2 and 7).

Goal 2: the ``features`` + ``market_regimes`` steps of a day after 14 years of history cost at
most 1.5x those of a day after 2 years, with the day's values identical (to 1e-9) to the same
day inside a backfill. Goal 7 (the part measured here): a backfill grows the Dagster instance
by at most 10 MB per 1,000 partitions.

Data. ``lakehouse simulate --symbols N --years L --seed S`` (via ``backfill_bench.simulate``;
default N = 200, L = ``--long-years`` 14) writes one landing CSV per symbol and calendar year,
sessions of the last L years up to 2018-12-31, under ``--work`` (default
``/tmp/bench_history``; reused when present). The day measured, D, is the last simulated
session (2018-12-31). The landing the lakes read is a copy of the simulation without D's line
(withheld); after the history is built, D's bars are appended to each symbol's 2018 file, as
a new day's bars arrive. No sentiment is landed (``sentiment_daily`` holds the stub rows).

Two lakes, the same N symbols and the same bars, ending on the same session (the one before D):

* short: the sessions of the last ``--short-years`` (2) calendar years before D, built by the
  project's single-run backfill: ``daily_job`` subset to the ``bronze`` and ``silver`` groups
  (``ohlcv_bronze``, ``sentiment_bronze``, ``ohlcv_daily``, ``sentiment_daily``, ``features``,
  ``market_regimes``, with their checks) executed in this process over the whole range
  (``backfill_bench.Pipeline``'s job, ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true``
  as ``lakehouse run`` sets it) on a real SQLite Dagster home, a fresh directory made by
  ``lakehouse_assets.defs.settings.instance_at``. The home's size (every file under it, in MB
  of 10^6 bytes) is taken after the instance is initialised and again after the run (instance
  disposed): the growth per 1,000 partitions is reported read two ways, per 1,000 sessions
  of the range and per 1,000 asset-partitions (sessions x the 6 assets), each with the goal 7
  verdict (<= 10 MB per 1,000 partitions of a backfill);
* long: every session of the ``--long-years`` before D, by the same single-run backfill on an
  ephemeral Dagster instance (the same job and code as the short lake, only longer).

The day. D's bars are landed, then on each lake ``ohlcv_bronze``, ``sentiment_bronze``,
``ohlcv_daily`` and ``sentiment_daily`` are materialized for D (one run, untimed). Then
``--repeats`` (5) times, alternating the lakes (short first on even repeats, long first on odd
ones): D's rows of ``features`` and ``market_regimes`` are removed (``Lake.sync_range`` with an
empty frame, untimed, as tests/integration/test_features_pipeline.py does), so every timed run
inserts a new session's rows, as a daily run does, rather than re-merging unchanged ones; then
``daily_job`` subset to ``features`` and ``market_regimes`` runs for the partition D in this
process on a fresh ephemeral instance. Timed: Dagster's step durations (``STEP_SUCCESS``) of
``features`` and ``market_regimes`` (reads, computation, Delta MERGE, checks, metadata and plot),
their sum (the goal's figure) and the run's wall time (with Dagster's bookkeeping). After each
run, the pure reads + computation of the two assets (the same calls as
``lakehouse_assets/defs/features.py``: the bounded ``ohlcv_daily`` window of ``LOOKBACK_BARS``
sessions with the per-symbol fallback, D's sentiment, ``compute_features(..., since=D)``, the
``features`` window of ``regimes.lookback_rows`` sessions, ``classify(..., since=D)``; no MERGE,
no checks, no metadata) are timed on the same lake, as a second row showing where any growth
left is. Reported: the median over the repeats of each figure, the ratio long/short of the
medians, every repeat's sum, the rows each lake reads, and the goal 2 verdict on the ratio of
the medians of the steps' sum (<= 1.5).

Cross-check (long lake), after the timing. The last backfilled session E (the one before D):
its ``features`` and ``market_regimes`` rows as the backfill stored them (every day computed
from each symbol's first bar, 14 years back) are read, then cleared, and E runs alone (the
same job as the timed day, partition E), reading the bounded windows. With ``--full-check``, D
too: its rows as the day alone wrote them are read, then ``features`` + ``market_regimes``
are re-run as one Dagster run over the whole long range (the first session to D), a full
backfill of those steps, and D's rows from it are compared (this adds about a third of the
long backfill's time, so it is off by default). Each comparison prints the largest relative
difference ``|a - b| / max(|a|, |b|)`` over the float cells where ``|a - b| > 1e-12`` (the
absolute floor) and the largest absolute one; null positions and the labels must agree, and
``polars.testing.assert_frame_equal(rel_tol=1e-9, abs_tol=1e-12)`` must pass (the comparison
of tests/integration/test_features_pipeline.py). Goal 2's verdict needs the ratio and these.

Run from the repository root. The default (N = 200, 2 and 14 years, 5 repeats) is the run of
the goal. Time on 2 shared cores: ``--symbols 10 --long-years 4 --repeats 2 --full-check`` took
3.7 minutes (load 2-3; the 2-year SQLite backfill alone 2.1 minutes: Dagster's per-partition
records, not the data); the default is estimated, from that and from backfill_bench's single
runs, at 6-9 minutes (the 2-year SQLite backfill about 2.5, the 14-year one about 5, the day
and the check under 1), plus about 2 with ``--full-check``. Develop small::

    .venv/bin/python bench/history_bench.py
    .venv/bin/python bench/history_bench.py --symbols 10 --short-years 2 --long-years 4 --repeats 2 --full-check

The lakes and the Dagster home are left under ``--work``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
# backfill_bench sets DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS before Dagster is imported
from backfill_bench import GROUPS, Pipeline, Run, fresh, load, machine, render, simulate, simulated_sessions, verdict

GOAL_RATIO = 1.5
GOAL_MB_PER_1000 = 10.0
REL_TOL, ABS_TOL = 1e-9, 1e-12
DAY_STEPS = ("features", "market_regimes")
UPSTREAM = ("ohlcv_bronze", "sentiment_bronze", "ohlcv_daily", "sentiment_daily")


class Job(Pipeline):
    """``daily_job`` subset to asset groups or to named assets."""

    def __init__(self, lake: str, ohlcv_dir: Path, groups: tuple[str, ...] = (), assets: tuple[str, ...] = ()) -> None:
        import dagster as dg

        super().__init__(lake, ohlcv_dir, groups or None)
        if assets:
            self.job = self.job.get_subset(asset_selection={dg.AssetKey(a) for a in assets})


# --- data ---------------------------------------------------------------------------------------------


def landing_without(sim_ohlcv: Path, landing: Path, day: dt.date) -> dict[Path, str]:
    """A copy of the simulated landing without ``day``'s bars; returns each file's withheld line."""
    shutil.copytree(sim_ohlcv, fresh(landing))
    held = {}
    for path in sorted(landing.glob(f"*/1day/{day.year}-01_to_{day.year}-12.csv")):
        lines = path.read_text().splitlines(keepends=True)
        if not lines[-1].startswith(day.isoformat()):
            raise AssertionError(f"{path}: the last line is not {day}")
        held[path] = lines[-1]
        path.write_text("".join(lines[:-1]))
    return held


def land(held: dict[Path, str]) -> None:
    """The new day's bars arrive: append each withheld line to its file."""
    for path, line in held.items():
        with path.open("a") as f:
            f.write(line)


def home_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.rglob("*") if p.is_file())


def sqlite_tables(home: Path) -> dict[str, int]:
    """Bytes per SQLite table (indexes included under their own names) over every ``*.db`` of a home."""
    import sqlite3

    sizes: dict[str, int] = {}
    for path in sorted(home.rglob("*.db")):
        with sqlite3.connect(path) as db:
            try:
                for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                    sizes[name] = sizes.get(name, 0) + int(size)
            except sqlite3.OperationalError:  # no dbstat in this SQLite build
                sizes[path.name] = sizes.get(path.name, 0) + path.stat().st_size
    return sizes


def sqlite_backfill(lake: Path, landing: Path, home: Path, start: dt.date, end: dt.date) -> tuple[Run, int, int]:
    """The bronze + silver backfill on a fresh SQLite Dagster home: the run, home bytes before and after."""
    from lakehouse_assets.defs.settings import instance_at

    previous = os.environ.get("DAGSTER_HOME")
    try:
        instance = instance_at(fresh(home))
        before = home_bytes(home)
        run = Job(str(lake), landing, GROUPS).run(start, end, instance)
        instance.dispose()
        after = home_bytes(home)
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous
    return run, before, after


# --- the day --------------------------------------------------------------------------------------------


def clear_day(lake_root: Path, day: dt.date) -> None:
    """Remove ``day``'s rows of features and market_regimes (a day never computed)."""
    from lakehouse_assets.lake.catalog import table
    from lakehouse_assets.lake.delta import Lake, empty_frame

    lake = Lake(lake_root)
    for name in DAY_STEPS:
        lake.sync_range(name, empty_frame(table(name)), day, day)
        if not lake.read(name, day, day).is_empty():
            raise AssertionError(f"{name}: {day} still has rows")


def reads_compute(lake_root: Path, day: dt.date, symbols: list[str]) -> tuple[dict[str, float], int, int]:
    """The two assets' reads and computation for ``day`` (as lakehouse_assets/defs/features.py
    does them, without MERGE, checks or metadata): seconds per part, bars read, feature rows read."""
    from lakehouse_assets.config import load_config
    from lakehouse_assets.core import features as F
    from lakehouse_assets.core import regimes as R
    from lakehouse_assets.defs.common import read_history
    from lakehouse_assets.defs.settings import calendar_of
    from lakehouse_assets.lake.delta import Lake

    config = load_config()
    calendar = calendar_of(config)
    lake = Lake(lake_root)
    seconds: dict[str, float] = {}
    began = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal began
        now = time.perf_counter()
        seconds[name] = now - began
        began = now

    in_universe = pl.col("symbol").is_in(symbols)
    bars = read_history(lake, calendar, "ohlcv_daily", day, day, F.LOOKBACK_BARS, in_universe, list(F.BAR_COLUMNS))
    sentiment = lake.read(
        "sentiment_daily", day, day, where=in_universe, columns=["symbol", "date", "score", "confidence", "source"]
    )
    lap("features: read bars + sentiment")
    bar = bars.select("symbol", "date").sort("symbol", "date").with_columns(F.bar_number())
    numbered = F.compute_features(bars, sentiment, since=day)
    numbered = numbered.join(bar, on=["symbol", "date"], how="left", maintain_order="left")
    frame = numbered.filter(pl.col("date") == day).drop("bar")
    lap("features: compute")
    if frame.height != len(symbols):
        raise AssertionError(f"features of {day}: {frame.height} rows for {len(symbols)} symbols")

    index = config.universe.index_symbol
    wanted = pl.col("symbol").is_in([*symbols, index])
    lookback = R.lookback_rows(config.regimes)
    history = read_history(lake, calendar, "features", day, day, lookback, wanted, list(R.INPUT_COLUMNS))
    lap("market_regimes: read features")
    labels = R.classify(history, config.regimes, index, since=day)
    labels = labels.filter((pl.col("date") == day) & pl.col("symbol").is_in(symbols))
    lap("market_regimes: classify")
    if labels.height != len(symbols):
        raise AssertionError(f"market_regimes of {day}: {labels.height} rows for {len(symbols)} symbols")
    return seconds, bars.height, history.height


# --- the cross-check ----------------------------------------------------------------------------------


def compare(alone: pl.DataFrame, backfill: pl.DataFrame) -> tuple[float, float, int, int, bool]:
    """Largest relative difference (cells differing by more than ABS_TOL), largest absolute one,
    null positions differing, text cells differing, and whether assert_frame_equal passes."""
    from polars.testing import assert_frame_equal

    a, b = alone.sort("symbol", "date"), backfill.sort("symbol", "date")
    if not a.select("symbol", "date").equals(b.select("symbol", "date")):
        raise AssertionError(f"keys differ: {a.height} rows alone, {b.height} in the backfill")
    worst_rel = worst_abs = 0.0
    nulls = texts = 0
    for name, dtype in a.schema.items():
        if name in ("symbol", "date"):
            continue
        if dtype.is_float():
            x = a.get_column(name).fill_nan(None).fill_null(np.nan).to_numpy()
            y = b.get_column(name).fill_nan(None).fill_null(np.nan).to_numpy()
            nulls += int((np.isnan(x) != np.isnan(y)).sum())
            both = ~np.isnan(x) & ~np.isnan(y)
            diff = np.abs(x[both] - y[both])
            if len(diff):
                worst_abs = max(worst_abs, float(diff.max()))
                scale = np.maximum(np.abs(x[both]), np.abs(y[both]))
                counted = diff > ABS_TOL
                if counted.any():
                    worst_rel = max(worst_rel, float((diff[counted] / scale[counted]).max()))
        else:
            texts += int(
                (
                    a.get_column(name).cast(pl.String).fill_null("-")
                    != b.get_column(name).cast(pl.String).fill_null("-")
                ).sum()
            )
    try:
        assert_frame_equal(a, b, check_exact=False, rel_tol=REL_TOL, abs_tol=ABS_TOL)
        equal = True
    except AssertionError:
        equal = False
    return worst_rel, worst_abs, nulls, texts, equal


# --- the benchmark ------------------------------------------------------------------------------------


def mb(n: float) -> str:
    return f"{n / 1e6:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=200, help="simulated symbols N (default 200)")
    parser.add_argument("--short-years", type=int, default=2, help="years of history of the short lake (default 2)")
    parser.add_argument("--long-years", type=int, default=14, help="years of history of the long lake (default 14)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of the day per lake (default 5)")
    parser.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    parser.add_argument(
        "--full-check",
        action="store_true",
        help="also re-run features + market_regimes over the whole long range and compare the day D (adds "
        "about a third of the long backfill's time)",
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_history"), help="data, lakes, Dagster home")
    args = parser.parse_args(argv)
    if min(args.symbols, args.short_years, args.repeats) < 1 or args.long_years <= args.short_years:
        parser.error("--symbols, --short-years and --repeats must be positive and --long-years > --short-years")
    from lakehouse_assets.config import load_config
    from lakehouse_assets.core import features as F
    from lakehouse_assets.core import regimes as R
    from lakehouse_assets.lake.delta import Lake

    print("history benchmark: a day's features + market_regimes after short vs long history; instance growth")
    print(machine(), flush=True)
    started = time.perf_counter()
    work: Path = args.work
    sim = simulate(work / f"sim_n{args.symbols}_y{args.long_years}", args.symbols, args.long_years, args.seed)
    sessions = simulated_sessions(args.long_years)
    day = sessions[-1]
    long_history = sessions[:-1]
    short_history = [s for s in long_history if s.year > day.year - args.short_years]
    landing = work / "landing" / "ohlcv"
    held = landing_without(sim, landing, day)
    symbols = sorted(p.name for p in landing.iterdir() if p.is_dir())
    print(
        f"\nday D = {day}; short history {short_history[0]}..{short_history[-1]} ({len(short_history)} sessions), "
        f"long history {long_history[0]}..{long_history[-1]} ({len(long_history)} sessions); {len(symbols)} symbols; "
        f"LOOKBACK_BARS = {F.LOOKBACK_BARS}, regimes lookback_rows = {R.lookback_rows(load_config().regimes)}"
    )

    # 1. the histories
    lakes = {"short": work / "lake_short", "long": work / "lake_long"}
    home = work / "dagster_home_short"
    print(f"\n1. backfills (bronze + silver, one run each)  ({load()})", flush=True)
    fresh(lakes["short"])
    short_run, before, after = sqlite_backfill(lakes["short"], landing, home, short_history[0], short_history[-1])
    print(
        f"  short: {short_history[0]}..{short_history[-1]} on SQLite home {home}: {short_run.seconds:.1f} s  ({load()})"
    )
    long_run = Job(str(fresh(lakes["long"])), landing, GROUPS).run(long_history[0], long_history[-1])
    print(
        f"  long: {long_history[0]}..{long_history[-1]} on an ephemeral instance: {long_run.seconds:.1f} s  ({load()})"
    )
    assets = 6
    growth = after - before
    tables = sorted(sqlite_tables(home).items(), key=lambda item: -item[1])
    per_session = growth / len(short_history) * 1000
    per_asset_partition = growth / (len(short_history) * assets) * 1000
    print(f"\n  goal 7: Dagster home of the short backfill ({len(short_history)} sessions x {assets} assets)")
    render(
        [
            ["", "MB (10^6 bytes)"],
            ["home after instance_at (initialised)", mb(before)],
            ["home after the backfill run", mb(after)],
            ["growth", mb(growth)],
            [f"growth per 1,000 partitions = sessions ({len(short_history)})", mb(per_session)],
            [f"growth per 1,000 asset-partitions ({len(short_history) * assets})", mb(per_asset_partition)],
        ],
        "  ",
    )
    print(
        "  largest SQLite tables of the home after the run (MB): "
        + ", ".join(f"{name} {mb(size)}" for name, size in tables[:5])
    )

    # 2. the day
    print(f"\n2. the day {day}: bars landed, upstream materialized (untimed)  ({load()})", flush=True)
    land(held)
    jobs = {}
    for name, root in lakes.items():
        upstream = Job(str(root), landing, assets=UPSTREAM).run(day, day)
        rows = Lake(root).read("ohlcv_daily", day, day).height
        if rows != len(symbols):
            raise AssertionError(f"{name}: ohlcv_daily has {rows} rows on {day}")
        print(f"  {name}: upstream of {day} in {upstream.seconds:.1f} s")
        jobs[name] = Job(str(root), landing, assets=DAY_STEPS)
    runs: dict[str, list[Run]] = {name: [] for name in lakes}
    pure: dict[str, list[dict[str, float]]] = {name: [] for name in lakes}
    read_rows: dict[str, tuple[int, int]] = {}
    for rep in range(args.repeats):
        order = list(lakes) if rep % 2 == 0 else list(reversed(lakes))
        for name in order:
            clear_day(lakes[name], day)
            runs[name].append(jobs[name].run(day, day))
            seconds, bars_read, features_read = reads_compute(lakes[name], day, symbols)
            pure[name].append(seconds)
            read_rows[name] = (bars_read, features_read)
        print(
            f"  repeat {rep + 1}/{args.repeats}: steps "
            + ", ".join(f"{n} {runs[n][-1].step_seconds:.3f} s" for n in lakes)
            + f"  ({load()})",
            flush=True,
        )

    def med(name: str, value: Callable[[Run], float]) -> float:
        return statistics.median(value(x) for x in (runs[name]))

    def med_step(name: str, step: str) -> float:
        return med(name, lambda r: r.steps[step])

    def medp(name: str, part: str | None) -> float:
        return statistics.median(sum(p.values()) if part is None else p[part] for p in pure[name])

    table = [["median of the repeats, seconds", "short", "long", "long/short"]]

    def row(label: str, values: Mapping[str, float], fmt: str = "{:.3f}") -> None:
        short, long = values["short"], values["long"]
        table.append([label, fmt.format(short), fmt.format(long), f"{long / short:.2f}x" if short else "-"])

    for step in DAY_STEPS:
        row(f"Dagster step {step}", {n: med_step(n, step) for n in lakes})
    sums = {n: med(n, lambda r: sum(r.steps[s] for s in DAY_STEPS)) for n in lakes}
    row("Dagster steps features + market_regimes", sums)
    row("  run wall (with Dagster's bookkeeping)", {n: med(n, lambda r: r.seconds) for n in lakes})
    for part in pure["short"][0]:
        row(f"reads+compute: {part}", {n: medp(n, part) for n in lakes})
    row("reads+compute: total", {n: medp(n, None) for n in lakes})
    for step in DAY_STEPS:
        row(
            f"  {step}: step - reads+compute (MERGE, checks, metadata)",
            {
                n: med_step(n, step)
                - statistics.median(sum(v for k, v in p.items() if k.startswith(step + ":")) for p in pure[n])
                for n in lakes
            },
        )
    row("ohlcv_daily rows read (features)", {n: read_rows[n][0] for n in lakes}, "{:,}")
    row("features rows read (market_regimes)", {n: read_rows[n][1] for n in lakes}, "{:,}")
    print(f"\n  {args.symbols} symbols, {args.repeats} repeats")
    render(table, "  ")
    for name in lakes:
        print(f"  {name}: steps' sum per repeat: " + ", ".join(f"{r.step_seconds:.3f}" for r in runs[name]))

    # 3. the cross-check
    print(f"\n3. cross-check on the long lake: a day alone vs the day inside a full backfill  ({load()})", flush=True)
    long_lake = Lake(lakes["long"])
    earlier = long_history[-1]
    cases = []  # (label, the day alone, the day in the backfill)
    backfilled = {name: long_lake.read(name, earlier, earlier) for name in DAY_STEPS}
    clear_day(lakes["long"], earlier)
    again = Job(str(lakes["long"]), landing, assets=DAY_STEPS).run(earlier, earlier)
    print(f"  {earlier} (the last backfilled session) cleared and run alone: {again.seconds:.1f} s")
    cases.append(
        (
            f"{earlier} alone vs the stored backfill",
            {n: long_lake.read(n, earlier, earlier) for n in DAY_STEPS},
            backfilled,
        )
    )
    if args.full_check:
        alone = {name: long_lake.read(name, day, day) for name in DAY_STEPS}
        rerun = Job(str(lakes["long"]), landing, assets=DAY_STEPS).run(long_history[0], day)
        print(
            f"  features + market_regimes re-run over {long_history[0]}..{day} (one run, a full backfill): "
            f"{rerun.seconds:.1f} s  ({load()})"
        )
        cases.append(
            (
                f"{day} alone vs a re-run {long_history[0]}..{day}",
                alone,
                {n: long_lake.read(n, day, day) for n in DAY_STEPS},
            )
        )
    checks = [
        [
            "comparison",
            "table",
            "max rel diff",
            "max abs diff",
            "null mismatches",
            "label mismatches",
            f"equal (rel {REL_TOL:g}, abs {ABS_TOL:g})",
        ]
    ]
    agree = True
    for label, alone, backfill in cases:
        for name in DAY_STEPS:
            rel, absolute, nulls, texts, equal = compare(alone[name], backfill[name])
            agree &= equal and nulls == 0 and texts == 0 and rel <= REL_TOL
            checks.append([label, name, f"{rel:.1e}", f"{absolute:.1e}", str(nulls), str(texts), str(equal)])
    render(checks, "  ")
    print(
        f"  (max rel diff: |a - b| / max(|a|, |b|) over the float cells with |a - b| > {ABS_TOL:g}; "
        f"{len(symbols)} rows per table and day)"
    )

    ratio = sums["long"] / sums["short"]
    print("\ngoals")
    print(
        f"  goal 2 (features + regimes after {args.long_years}y <= {GOAL_RATIO}x after {args.short_years}y): "
        f"{verdict(ratio <= GOAL_RATIO and agree)}  (median steps' sum {sums['long']:.3f} s / {sums['short']:.3f} s "
        f"= {ratio:.2f}x; a day alone equals the day in the backfill to {REL_TOL:g}: {agree})"
    )
    print(
        f"  goal 7 (<= {GOAL_MB_PER_1000:.0f} MB per 1,000 partitions of a backfill), partitions = sessions: "
        f"{verdict(per_session <= GOAL_MB_PER_1000)} ({mb(per_session)} MB per 1,000 sessions)"
    )
    print(
        f"  goal 7 (<= {GOAL_MB_PER_1000:.0f} MB per 1,000 partitions of a backfill), partitions = asset-partitions: "
        f"{verdict(per_asset_partition <= GOAL_MB_PER_1000)} ({mb(per_asset_partition)} MB per 1,000 "
        f"sessions x assets)"
    )
    print(f"\n{load()}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
