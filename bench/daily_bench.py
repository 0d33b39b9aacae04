"""One trading day through every asset: wall time, time per symbol and peak memory at N symbols.

Data: ``lakehouse simulate --symbols N --years Y`` (default 10 years to 2018-12-31, seed 7) under
``--work`` (default ``/tmp/bench_daily``), a copy of ``config/`` with the shipped values and the
simulated ``sectors.yaml`` (so the strategies know each symbol's sector), and a lake per N at
``{--lake}/n{N}`` (default ``/tmp/bench_daily/lake/n{N}``; ``--lake s3://bucket/prefix`` works too,
credentials and endpoint from the ``AWS_*`` variables; the prefix should be empty: local lakes are
deleted first, S3 prefixes are not).

History (not part of the day's cost). The groups ``bronze`` and ``silver`` (bars, sentiment stubs,
features, regimes) are backfilled over every session before ``--day0`` (default 2018-10-08, a
Monday: the first session of a week, so the models refit; the ARIMA order search of the month,
dated 2018-10-01, happens in the same run), as two single runs in this process: all but the last
252 sessions, then the last 252 sessions, which is timed as the one-year backfill of those
groups. Forecasting is expensive to start: the first day with forecasts fits every model of every
symbol (ARIMA order search included), which ``config/forecasting.yaml`` otherwise does on the
first session of each month (order search) and of each week (refit), over a ``fit_window`` of 750
sessions. A full history of forecasts (or even the 63 sessions of the rolling scores) would take
hours at N = 500 on this machine, so the history of the ``gold``, ``strategy`` and ``monitoring``
groups is as short as the configuration allows: ``--day0`` (the fit day: order search + refit of
every symbol) as one ``lakehouse run`` of every asset, the next ``--range-days`` (default 3)
ordinary sessions as one ``lakehouse run`` (a short backfill: its per-day cost is what a
backfill pays for an ordinary day), and then the measured day, the session after them, as one
``lakehouse run``. On it the forecasts filter the stored fits (no refit), the
scores of the 1-day horizon come due, the strategies exit and enter, and the drift tests and the
variance analysis run as on any day; what it does not have is 21-day scores and a populated
registry (too little scored history), which a lake with months of forecasts would add.

Measured, for each of the three runs: ``lakehouse run --start ... --end ... --ohlcv-dir ... --lake ... --quiet``
as a subprocess (so the wall time includes starting Python and importing Dagster; ``DAGSTER_HOME``
is a fresh directory per N), with the RSS of the whole process tree (the CLI and the forecasting
pool's workers) sampled with psutil every 0.2 s: the peak of the sum is reported, and the seconds
per asset from the run's summary table.

Goals:

* cost linear in N: the measured day's seconds per symbol at the largest N over the smallest N
  is at most 1.25 (a fixed cost makes it lower, which is fine);
* one day <= 1% of a one-year backfill of the same universe. A one-year backfill through
  forecasting (52 weekly refits, 12 order searches) is long at these N, so here it is derived,
  not run (``--gold-year`` runs it, below): the measured one-year single run of bronze + silver, plus the gold, strategy and
  monitoring steps' seconds of the fit day x 12 (the monthly order searches) and of an ordinary
  day inside the short backfill (its steps' seconds / ``--range-days``) x 240 (the other
  sessions; counting the weekly refits as ordinary days makes this a lower estimate of the year;
  an upper one counts 52 fit days and 200 ordinary days). The verdict uses the lower estimate;
* peak RSS of the measured day <= 1 GiB at N = 500 (the fit day's peak is shown too).

``--gold-year [SESSIONS]`` measures the one-year backfill instead, run and not derived (issue 17,
goal 3: at most 10 minutes at N = 100): bronze + silver over the history before the year
(untimed), then the last SESSIONS (default 252) sessions to 2018-12-31 as one ``lakehouse run`` of
every asset, timed and with the process tree's peak RSS, and the seconds of each step.

Run from the repository root. N = 100 took about 10 minutes on 2 shared cores (the fit day 213 s);
N = 500 needs the fit day of every model of 500 symbols, roughly 1,000 s of two idle cores (it
did not finish in 41 minutes at a load of 12-18)::

    .venv/bin/python bench/daily_bench.py
    .venv/bin/python bench/daily_bench.py --symbols 10 20 --years 4
    .venv/bin/python bench/daily_bench.py --symbols 100 --years 4 --gold-year
    AWS_ENDPOINT_URL=... .venv/bin/python bench/daily_bench.py --lake s3://bucket/bench-daily
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill_bench import LAKEHOUSE, REPO, Pipeline, load, machine, render, simulate, verdict

SILVER_GROUPS = ("bronze", "silver")
GOLD_STEPS = ("drift_reports", "forecasting", "strategy_ledger", "prediction_drift")
GIB = 2**30
LINEAR_GOAL = 1.25
SHARE_GOAL = 0.01
RSS_GOAL = GIB
SAMPLE_SECONDS = 0.2


@dataclass
class Day:
    day: dt.date
    end: dt.date
    sessions: int
    seconds: float
    peak_rss: int
    peak_rss_main: int
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def gold_seconds(self) -> float:
        return sum(self.steps.get(s, 0.0) for s in GOLD_STEPS)


def tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """RSS of ``proc`` and of ``proc`` plus all its descendants (bytes)."""
    try:
        main = proc.memory_info().rss
    except psutil.Error:
        return 0, 0
    total = main
    try:
        children = proc.children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return main, total


def run_days(days: list[dt.date], ohlcv_dir: Path, lake: str, config_dir: Path, home: Path) -> Day:
    """``lakehouse run`` of every asset for ``days`` (one run), with the process tree's RSS sampled."""
    day, end = days[0], days[-1]
    command = [LAKEHOUSE, "run", "--start", day.isoformat(), "--end", end.isoformat(), "--quiet"]
    command += ["--ohlcv-dir", str(ohlcv_dir), "--lake", lake, "--config", str(config_dir)]
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    began = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(child.pid)
    peak_main = peak_total = 0
    while child.poll() is None:
        main, total = tree_rss(proc)
        peak_main, peak_total = max(peak_main, main), max(peak_total, total)
        time.sleep(SAMPLE_SECONDS)
    stdout, stderr = child.communicate()
    seconds = time.perf_counter() - began
    if child.returncode != 0:
        raise RuntimeError(f"lakehouse run {day}..{end} exited {child.returncode}: {stderr.strip().splitlines()[-1:]}")
    steps = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in ("ok", "FAILED", "skipped"):
            with contextlib.suppress(ValueError):
                steps[parts[0]] = float(parts[-1])
    return Day(day, end, len(days), seconds, peak_total, peak_main, steps)


@dataclass
class Result:
    symbols: int
    year_silver: float
    history_silver: float
    fit: Day
    backfill: Day
    measured: Day

    def year_estimate(self, fit_days: int, plain_days: int) -> float:
        plain = self.backfill.gold_seconds / self.backfill.sessions
        return self.year_silver + fit_days * self.fit.gold_seconds + plain_days * plain


def prepare_config(work: Path, sim: Path) -> Path:
    folder = work / "config"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(REPO / "config", folder)
    shutil.copy(sim / "sectors.yaml", folder / "sectors.yaml")
    return folder


def measure(symbols: int, years: int, seed: int, day0: dt.date, days: int, work: Path, lake_root: str) -> Result:
    """``days``: the ordinary sessions of the short backfill after the fit day."""
    from lakehouse_assets.core.calendar import TradingCalendar

    print(f"\nN = {symbols}  ({load()})", flush=True)
    sim = work / f"sim_n{symbols}_y{years}"
    ohlcv_dir = simulate(sim, symbols, years, seed)
    config_dir = prepare_config(work / f"n{symbols}", sim)
    calendar = TradingCalendar("XNYS", dt.date(2018 - years + 1, 1, 1))
    if not calendar.is_session(day0):
        raise SystemExit(f"--day0 {day0} is not a session")
    sessions = calendar.sessions(calendar.first_session, dt.date(2018, 12, 31))
    before = [d for d in sessions if d < day0]
    if len(before) < 252 + 300:
        raise SystemExit(f"--years {years}: too little history before {day0}")
    after = [d for d in sessions if d >= day0][: days + 2]
    lake = f"{lake_root.rstrip('/')}/n{symbols}"
    if "://" not in lake:
        shutil.rmtree(lake, ignore_errors=True)
    home = work / f"dagster_home_n{symbols}"
    shutil.rmtree(home, ignore_errors=True)

    pipeline = Pipeline(lake, ohlcv_dir, SILVER_GROUPS, str(config_dir))
    history = pipeline.run(before[0], before[-253])
    print(f"  history {before[0]}..{before[-253]} (bronze + silver, untimed): {history.seconds:.1f} s", flush=True)
    year = pipeline.run(before[-252], before[-1])
    print(f"  one-year backfill {before[-252]}..{before[-1]} (bronze + silver): {year.seconds:.1f} s  ({load()})")
    runs = []
    for part in ([after[0]], after[1:-1], [after[-1]]):
        done = run_days(part, ohlcv_dir, lake, config_dir, home)
        runs.append(done)
        print(
            f"  lakehouse run {done.day}..{done.end}: {done.seconds:.1f} s, peak RSS {done.peak_rss / 2**20:,.0f} MiB "
            f"(main process {done.peak_rss_main / 2**20:,.0f} MiB), forecasting {done.steps.get('forecasting', 0):.1f} s"
            f"  ({load()})",
            flush=True,
        )
    return Result(symbols, year.seconds, history.seconds, *runs)


YEAR_GOAL = 600.0  # issue 17, goal 3: a one-year gold backfill at N = 100 in at most 10 minutes


def gold_year(symbols: int, years: int, seed: int, sessions: int, work: Path, lake_root: str) -> Day:
    """The one-year backfill of every asset, run (not derived): bronze + silver over the history
    before the year (untimed, in this process), then the year's last ``sessions`` sessions to
    2018-12-31 as one ``lakehouse run`` of every asset, as a user backfills a year: the monthly
    order searches, the weekly refits and every ordinary day between them, in one run."""
    from lakehouse_assets.core.calendar import TradingCalendar

    print(f"\none-year backfill of every asset, N = {symbols}  ({load()})", flush=True)
    sim = work / f"sim_n{symbols}_y{years}"
    ohlcv_dir = simulate(sim, symbols, years, seed)
    config_dir = prepare_config(work / f"n{symbols}", sim)
    calendar = TradingCalendar("XNYS", dt.date(2018 - years + 1, 1, 1))
    every = calendar.sessions(calendar.first_session, dt.date(2018, 12, 31))
    if len(every) < sessions + 300:
        raise SystemExit(f"--years {years}: too little history before the year")
    before, year = every[:-sessions], every[-sessions:]
    lake = f"{lake_root.rstrip('/')}/year_n{symbols}"
    if "://" not in lake:
        shutil.rmtree(lake, ignore_errors=True)
    home = work / f"dagster_home_year_n{symbols}"
    shutil.rmtree(home, ignore_errors=True)
    history = Pipeline(lake, ohlcv_dir, SILVER_GROUPS, str(config_dir)).run(before[0], before[-1])
    print(f"  history {before[0]}..{before[-1]} (bronze + silver, untimed): {history.seconds:.1f} s", flush=True)
    done = run_days(year, ohlcv_dir, lake, config_dir, home)
    print(
        f"  lakehouse run {done.day}..{done.end} ({done.sessions} sessions, every asset): {done.seconds:,.1f} s, "
        f"peak RSS {done.peak_rss / 2**20:,.0f} MiB  ({load()})",
        flush=True,
    )
    rows = [["step", "s", "share"]]
    rows += [[step, f"{s:,.1f}", f"{s / done.seconds:.0%}"] for step, s in done.steps.items()]
    rows.append(["wall (subprocess)", f"{done.seconds:,.1f}", "100%"])
    render(rows)
    ok = done.seconds <= YEAR_GOAL
    print(
        f"  N={symbols}: one-year backfill {done.seconds:,.0f} s = {done.seconds / 60:.1f} min, "
        f"goal <= {YEAR_GOAL / 60:.0f} min at N=100: {verdict(ok)}" + ("" if symbols == 100 else " (N != 100)")
    )
    return done


def report(results: list[Result]) -> None:
    small, large = results[0], results[-1]
    print("\nthe measured day (the last ordinary session) and the fit day, every asset, one `lakehouse run` each")
    rows = [["", *(f"N={r.symbols}" for r in results)]]
    if len(results) > 1:
        rows[0].append(f"ratio N={large.symbols}/N={small.symbols}")

    def row(label: str, values: list[float], fmt: str) -> None:
        cells = [label, *(fmt.format(v) for v in values)]
        if len(results) > 1:
            cells.append(f"{values[-1] / values[0]:.2f}x" if values[0] else "")
        rows.append(cells)

    row("measured day", [0.0 for _ in results], "{:.0f}")
    rows[-1] = [f"measured day ({small.measured.day})", *[""] * (len(rows[0]) - 1)]
    row("  wall s (subprocess)", [r.measured.seconds for r in results], "{:.1f}")
    row("  ms per symbol", [1000 * r.measured.seconds / r.symbols for r in results], "{:.1f}")
    row("  peak RSS MiB, process tree", [r.measured.peak_rss / 2**20 for r in results], "{:,.0f}")
    row("  peak RSS MiB, main process", [r.measured.peak_rss_main / 2**20 for r in results], "{:,.0f}")
    for step in small.measured.steps:
        row(f"  {step} s", [r.measured.steps.get(step, 0.0) for r in results], "{:.1f}")
    rows.append([f"fit day ({small.fit.day}: order search + refit)", *[""] * (len(rows[0]) - 1)])
    row("  wall s (subprocess)", [r.fit.seconds for r in results], "{:.1f}")
    row("  ms per symbol", [1000 * r.fit.seconds / r.symbols for r in results], "{:.1f}")
    row("  peak RSS MiB, process tree", [r.fit.peak_rss / 2**20 for r in results], "{:,.0f}")
    row("  forecasting s", [r.fit.steps.get("forecasting", 0.0) for r in results], "{:.1f}")
    row("  drift/gold/strategy steps s", [r.fit.gold_seconds for r in results], "{:.1f}")
    b = small.backfill
    rows.append([f"short backfill ({b.day}..{b.end}, {b.sessions} sessions, one run)", *[""] * (len(rows[0]) - 1)])
    row("  wall s (subprocess)", [r.backfill.seconds for r in results], "{:.1f}")
    row("  peak RSS MiB, process tree", [r.backfill.peak_rss / 2**20 for r in results], "{:,.0f}")
    row(
        "  drift/gold/strategy steps s per session",
        [r.backfill.gold_seconds / r.backfill.sessions for r in results],
        "{:.1f}",
    )
    rows.append(["one-year backfill (derived)", *[""] * (len(rows[0]) - 1)])
    row("  bronze + silver, 252 sessions, one run s", [r.year_silver for r in results], "{:.1f}")
    row("  + gold/strategy/monitoring, lower estimate s", [r.year_estimate(12, 240) for r in results], "{:,.0f}")
    row("  + gold/strategy/monitoring, upper estimate s", [r.year_estimate(52, 200) for r in results], "{:,.0f}")
    row("  measured day / lower estimate", [r.measured.seconds / r.year_estimate(12, 240) for r in results], "{:.2%}")
    row("  measured day / bronze + silver year alone", [r.measured.seconds / r.year_silver for r in results], "{:.1%}")
    render(rows)
    print(
        "gold/strategy/monitoring of the year = step seconds of drift_reports, forecasting, strategy_ledger and "
        "prediction_drift: fit day x 12 + the short backfill's per session x 240 (lower), fit day x 52 + per session x 200 "
        "(upper)"
    )

    print("\ngoals")
    if len(results) > 1:
        ratio = (large.measured.seconds / large.symbols) / (small.measured.seconds / small.symbols)
        marginal = (large.measured.seconds - small.measured.seconds) / (large.symbols - small.symbols)
        print(
            f"  linear in N: seconds per symbol N={large.symbols} / N={small.symbols} = {ratio:.2f} (marginal "
            f"{1000 * marginal:.0f} ms per extra symbol), goal <= {LINEAR_GOAL}: {verdict(ratio <= LINEAR_GOAL)}"
        )
    for r in results:
        share = r.measured.seconds / r.year_estimate(12, 240)
        print(
            f"  N={r.symbols}: one day = {share:.2%} of a one-year backfill (derived lower estimate "
            f"{r.year_estimate(12, 240):,.0f} s), goal <= {SHARE_GOAL:.0%}: {verdict(share <= SHARE_GOAL)}"
        )
    for r in results:
        if r.symbols == 500 or r is large:
            peak = r.measured.peak_rss
            print(
                f"  N={r.symbols}: peak RSS of the day {peak / GIB:.2f} GiB (fit day {r.fit.peak_rss / GIB:.2f} GiB), "
                f"goal <= 1 GiB at N=500: {verdict(peak <= RSS_GOAL)}" + ("" if r.symbols == 500 else " (N != 500)")
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, nargs="+", default=[100, 500], help="universe sizes (default 100 500)")
    parser.add_argument("--years", type=int, default=10, help="simulated years of history (default 10)")
    parser.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    parser.add_argument("--day0", type=dt.date.fromisoformat, default=dt.date(2018, 10, 8), help="the fit day")
    parser.add_argument("--range-days", type=int, default=3, help="sessions of the short backfill (default 3)")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/bench_daily"), help="simulated data, config, DAGSTER_HOME"
    )
    parser.add_argument(
        "--lake", default="/tmp/bench_daily/lake", help="lake root (a lake per N under it), or s3://..."
    )
    parser.add_argument(
        "--gold-year",
        type=int,
        nargs="?",
        const=252,
        metavar="SESSIONS",
        help="instead: run the one-year backfill of every asset (default 252 sessions to 2018-12-31) at each N",
    )
    args = parser.parse_args(argv)
    if min(*args.symbols, args.years, args.range_days, args.gold_year or 1) < 1:
        parser.error("--symbols, --years and --range-days must be positive")
    print("daily benchmark: one trading day through every asset")
    print(machine(), flush=True)
    began = time.perf_counter()
    if args.gold_year:
        for n in sorted(args.symbols):
            gold_year(n, args.years, args.seed, args.gold_year, args.work, args.lake)
        print(f"\n{load()}; total {time.perf_counter() - began:.0f} s")
        return
    results = []
    for n in sorted(args.symbols):
        results.append(measure(n, args.years, args.seed, args.day0, args.range_days, args.work, args.lake))
        if len(args.symbols) > 1:  # each size's figures as soon as they exist
            report(results[-1:])
    if len(args.symbols) > 1:
        print("\n=== all sizes ===")
    report(results)
    print(f"\n{load()}; total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
