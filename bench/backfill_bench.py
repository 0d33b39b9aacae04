"""Backfill as one run against one run per trading day, and against a pandas per-symbol loop.

Data. ``lakehouse simulate --symbols N --years Y --seed S`` writes a simulated universe of
landing CSVs (one file per symbol and year, sessions of the last Y calendar years up to
2018-12-31) under ``--work`` (default ``/tmp/bench_backfill``); it is reused when present.
No sentiment is landed, so ``sentiment_daily`` holds the stub rows, as in a bars-only deployment.

Work measured: the asset groups ``bronze`` and ``silver`` of ``daily_job``, i.e. ``ohlcv_bronze``,
``sentiment_bronze``, ``ohlcv_daily``, ``sentiment_daily``, ``features`` and ``market_regimes``
with their asset checks (forecasting, strategies and monitoring are left out). Every run is
``daily_job`` subset to those groups and executed in this process (``execute_in_process``) on a
fresh ephemeral Dagster instance, as ``tests/conftest.py::run_pipeline`` does, with
``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true`` as ``lakehouse run`` sets it; the times
are wall-clock seconds of ``execute_in_process``. Their "steps" part is the sum of Dagster's step
durations (the assets' own work: reads, computation, MERGEs, checks), the rest is Dagster's run
bookkeeping (planning and recording one event per asset, check and partition).

(a) single run: one run over every session of the simulated range, into an empty lake.

(b) one run per partition: the same work as one run per trading day. Running all ~2520 days
one by one would take hours at N = 500, so two contiguous samples of ``--sample`` (K) days are
timed and the total is extrapolated, which the output says:

* end sample: a second lake is backfilled (one run, untimed for the comparison) up to the
  session before the last K, then the last K sessions run one per run: each is a realistic
  daily increment on a lake that holds all prior history;
* start sample: the first K + 1 sessions run one per run into an empty lake; the first run
  (which creates the tables) is dropped.

The ``features`` and ``market_regimes`` assets read each symbol's whole history on every run
(the recursive indicators start at the first bar), so a day's cost grows with the history
before it. The estimate of (b) is the trapezoid ``P x (mean start + mean end) / 2`` over the
P sessions (a cost linear in the history), and ``P x mean end`` is shown as the upper bound.
After the end sample, the second lake's ``features`` and ``market_regimes`` rows of those K days
must equal the single run's (a day is the same alone or inside a backfill).

(c) pandas per-symbol loop: for each symbol, read its CSVs with pandas, validate like
bronze -> silver (parseable numbers, an XNYS session, prices > 0, high >= max(open, close),
low <= min(open, close), volume >= 0, the last duplicate of a date wins), add the log return
(previous close; the simulated series have no gaps), compute every feature column with the
pandas baseline of ``bench/features_bench.py`` (rolling/ewm/``rolling.apply`` per symbol, no
code shared with ``lakehouse_assets/core/features.py``), the regime and trend labels of
``lakehouse_assets/core/regimes.py`` (``rv_percentile`` as ``rolling(1260).apply``, the rules as
``np.select``; the simulated universe has no index symbol, so the market columns are null as
in the lake), and write one parquet file per symbol. No Delta, no MERGE, no checks, no
idempotence: it is the naive alternative, not a substitute. Before the timings are compared its
output is checked against the lake of (a): the largest relative difference of every feature
column is printed, ``sma_50``, ``rsi_14``, ``adx_14`` and ``realized_vol_21`` must agree to
``--tolerance`` (1e-9) with identical null positions, and the regime and trend labels must match.

Goal: (a) at least 20x faster than (b) (the estimate), at every N.

Run from the repository root. N = 100 with ``--sample 5 --end-sample rerun`` took 6.5 minutes on
2 shared cores (load 4-7); the defaults (N = 100 and 500 symbols x 10 years, K = 20, prefix) need
well over 45 minutes there, most of it N = 500 (its single run alone took 9.5 minutes at load 12)
and the pandas loop (about 2 minutes per 100 symbols). Develop or smoke-test small::

    .venv/bin/python bench/backfill_bench.py
    .venv/bin/python bench/backfill_bench.py --symbols 10 --years 2 --sample 5

The lakes are left under ``--work`` (``lake_n{N}_single`` is the 500-symbol lake that
``bench/query_bench.py`` reuses).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

# what `lakehouse run` and `make ui` set: plan a range run with one event per asset, not per partition
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")

import numpy as np
import pandas as pd
import polars as pl

if TYPE_CHECKING:
    import dagster as dg

    from lakehouse_assets.core.regimes import RegimeRules

REPO = Path(__file__).resolve().parents[1]
LAKEHOUSE = str(REPO / ".venv" / "bin" / "lakehouse")
GROUPS = ("bronze", "silver")
GOAL_RATIO = 20.0
EXACT_COLUMNS = ("sma_50", "rsi_14", "adx_14", "realized_vol_21")


# --- shared helpers (also imported by daily_bench, query_bench and small_files) ---------------------


def machine() -> str:
    """CPU model, cores, RAM, load, date and library versions: the header of every benchmark."""
    model = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import dagster
    import deltalake
    import duckdb

    return (
        f"machine: {model}, os.cpu_count()={os.cpu_count()}, {ram:.1f} GiB RAM, {platform.platform()}\n"
        f"date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; python {platform.python_version()}, "
        f"polars {pl.__version__}, pandas {pd.__version__}, deltalake {deltalake.__version__}, "
        f"duckdb {duckdb.__version__}, dagster {dagster.__version__}\n{load()}"
    )


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"os.getloadavg() = {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cpus"


def render(rows: Sequence[Sequence[str]], indent: str = "") -> None:
    """A plain text table, the first row a header, the first column left-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        cells = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        print(indent + "  ".join(cells))
        if k == 0:
            print(indent + "  ".join("-" * w for w in widths))


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def simulate(out: Path, symbols: int, years: int, seed: int) -> Path:
    """``lakehouse simulate`` into ``out`` unless the same universe is already there; the landing dir."""
    marker = out / "simulated.txt"
    wanted = f"symbols={symbols} years={years} seed={seed}\n"
    if marker.exists() and marker.read_text() == wanted:
        return out / "ohlcv"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    subprocess.run(
        [
            LAKEHOUSE,
            "simulate",
            "--symbols",
            str(symbols),
            "--years",
            str(years),
            "--out",
            str(out),
            "--seed",
            str(seed),
        ],
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker.write_text(wanted)
    print(f"  simulated {symbols} symbols x {years} years into {out} in {time.perf_counter() - started:.1f} s")
    return out / "ohlcv"


def simulated_sessions(years: int) -> list[dt.date]:
    """The sessions ``lakehouse simulate --years`` writes (the last ``years`` calendar years to 2018)."""
    from lakehouse_assets.sources.simulated import simulation_sessions

    return simulation_sessions(dt.date(2018 - years + 1, 1, 1), dt.date(2018, 12, 31))


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


@dataclass
class Run:
    """One Dagster run: wall seconds, summed step seconds per step, success."""

    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    success: bool = True
    error: str = ""

    @property
    def step_seconds(self) -> float:
        return sum(self.steps.values())


class Pipeline:
    """``daily_job`` (optionally subset to asset groups) over one lake and landing directory."""

    def __init__(
        self,
        lake: str,
        ohlcv_dir: Path,
        groups: Sequence[str] | None = None,
        config_dir: str | None = None,
        partitions_start: dt.date | None = None,
    ) -> None:
        """``partitions_start``: the first partition, where the landing's data starts (as a
        deployment sets ``exchange.partitions_start``); default: the configuration's."""
        import dataclasses

        import dagster as dg

        from lakehouse_assets.build import build_definitions
        from lakehouse_assets.config import load_config
        from lakehouse_assets.defs.resources import SourcesResource

        config = load_config(config_dir)
        if partitions_start is not None:
            exchange = dataclasses.replace(config.exchange, partitions_start=partitions_start)
            config = dataclasses.replace(config, exchange=exchange)
        defs = build_definitions(config, lake_uri=lake, sources=SourcesResource(ohlcv_dir=str(ohlcv_dir)))
        self.lake = lake
        job = defs.resolve_job_def("daily_job")
        if groups:
            keys = dg.AssetSelection.groups(*groups).resolve(defs.resolve_asset_graph())
            job = job.get_subset(asset_selection=keys)
        self.job = job

    def run(self, start: dt.date, end: dt.date, instance: dg.DagsterInstance | None = None) -> Run:
        """One run of the range, on ``instance`` (default: a new ephemeral one)."""
        import dagster as dg
        from dagster._core.execution.plan.objects import StepFailureData, StepSuccessData

        from lakehouse_assets.lake.delta import Lake
        from lakehouse_assets.lake.lock import LakeLock

        began = time.perf_counter()
        result = self.job.execute_in_process(
            instance=instance or dg.DagsterInstance.ephemeral(),
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
            },
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            raise_on_error=False,
        )
        seconds = time.perf_counter() - began
        # an in-process run keeps the lake's writer lock until another run of this process takes
        # it over; release it, so a `lakehouse run` in a subprocess can write the lake next
        LakeLock(Lake(self.lake).root, result.run_id, lambda run_id: True).release()
        run = Run(seconds, success=result.success)
        for event in result.all_events:
            step = event.step_key
            if step is None:  # the run's own events
                continue
            data = event.event_specific_data
            if isinstance(data, StepSuccessData):
                run.steps[step] = data.duration_ms / 1000
            elif isinstance(data, StepFailureData) and not run.error:
                assert data.error is not None  # a failed step records its error
                run.error = f"{step}: {(data.error.cause or data.error).message.strip().splitlines()[0]}"
        if not run.success:
            raise RuntimeError(f"run {start}..{end} failed: {run.error}")
        return run


# --- (c) the pandas per-symbol loop ------------------------------------------------------------------


def pandas_symbol(folder: Path, sessions: set[np.datetime64], rules: RegimeRules) -> pd.DataFrame:
    """One symbol: CSVs -> validated bars -> features -> regime labels, as a pandas frame."""
    from features_bench import pandas_symbol_features

    symbol = folder.name
    raw = pd.concat([pd.read_csv(f, dtype=str) for f in sorted((folder / "1day").glob("*.csv"))], ignore_index=True)
    bars = pd.DataFrame({"symbol": symbol, "date": pd.to_datetime(raw["timestamp"], errors="coerce")})
    for c in ("open", "high", "low", "close", "volume"):
        bars[c] = pd.to_numeric(raw[c], errors="coerce")
    ok = bars[["date", "open", "high", "low", "close", "volume"]].notna().all(axis=1)
    ok &= bars["date"].isin(sessions)
    ok &= (bars[["open", "high", "low", "close"]] > 0).all(axis=1)
    ok &= bars["high"] >= bars[["open", "close"]].max(axis=1)
    ok &= bars["low"] <= bars[["open", "close"]].min(axis=1)
    ok &= bars["volume"] >= 0
    bars = bars[ok].drop_duplicates("date", keep="last").sort_values("date", ignore_index=True)
    bars["log_return"] = np.log(bars["close"] / bars["close"].shift(1))
    f = pandas_symbol_features(bars)

    window, minimum = rules.vol_percentile_window, rules.vol_percentile_min

    def share_at_most(w: np.ndarray) -> float:
        current = w[-1]
        if np.isnan(current):
            return np.nan
        present = w[~np.isnan(w)]
        return (present <= current).sum() / len(present)

    f["rv_percentile"] = f["realized_vol_21"].rolling(window, min_periods=minimum).apply(share_at_most, raw=True)
    dd, pct, ratio, mom = f["drawdown_252"], f["rv_percentile"], f["volatility_ratio"], f["momentum_20"]
    ready = pd.concat([dd, pct, ratio, mom], axis=1).notna().all(axis=1)
    regime = np.select(
        [
            (dd <= rules.crash_drawdown) & (pct >= rules.crash_vol_percentile),
            (pct >= rules.high_vol_percentile) | (ratio >= rules.high_vol_ratio),
            (dd <= rules.recovery_drawdown) & (mom > 0),
        ],
        ["crash", "high_volatility", "recovery"],
        "normal",
    )
    f["regime"] = pd.Series(regime, index=f.index, dtype=object).where(ready)
    close, fast, slow, adx = f["close"], f["sma_20"], f["sma_50"], f["adx_14"]
    strong = adx >= rules.trend_adx_min
    trend = np.select(
        [strong & (fast > slow) & (close > slow), strong & (fast < slow) & (close < slow)], ["bull", "bear"], "sideways"
    )
    f["trend"] = pd.Series(trend, index=f.index, dtype=object).where(
        pd.concat([fast, slow, adx], axis=1).notna().all(1)
    )
    f["market_regime"] = None  # no index symbol in the simulated universe
    f["market_trend"] = None
    return f


def pandas_loop(ohlcv_dir: Path, out: Path, calendar_sessions: list[dt.date]) -> float:
    """Every symbol through :func:`pandas_symbol`, one parquet file each; wall seconds."""
    from lakehouse_assets.config import load_config

    rules = load_config().regimes
    sessions = set(np.array(calendar_sessions, dtype="datetime64[ns]"))
    fresh(out).mkdir(parents=True)
    began = time.perf_counter()
    for folder in sorted(p for p in ohlcv_dir.iterdir() if p.is_dir()):
        pandas_symbol(folder, sessions, rules).to_parquet(out / f"{folder.name}.parquet", index=False)
    return time.perf_counter() - began


def compare_with_lake(lake_root: Path, out: Path, tolerance: float) -> tuple[dict[str, float], dict[str, int], bool]:
    """Max relative difference per feature column (lake vs pandas), label mismatches, and whether it passes."""
    from lakehouse_assets.core.features import FEATURE_COLUMNS
    from lakehouse_assets.lake.delta import Lake

    lake = Lake(lake_root)
    expected = lake.read("features").join(lake.read("market_regimes"), on=["symbol", "date"], how="left")
    expected = expected.sort("symbol", "date")
    actual = pl.from_pandas(pd.concat([pd.read_parquet(p) for p in sorted(out.glob("*.parquet"))], ignore_index=True))
    actual = actual.with_columns(pl.col("date").cast(pl.Date)).sort("symbol", "date")
    if expected.select("symbol", "date").equals(actual.select("symbol", "date")) is False:
        raise AssertionError(f"keys differ: lake {expected.height} rows, pandas {actual.height} rows")
    differences: dict[str, float] = {}
    null_mismatch: dict[str, int] = {}
    for name in FEATURE_COLUMNS:
        a = expected.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy()
        b = actual.get_column(name).cast(pl.Float64).fill_nan(None).fill_null(np.nan).to_numpy()
        null_a, null_b = np.isnan(a), np.isnan(b)
        null_mismatch[name] = int((null_a != null_b).sum())
        both = ~null_a & ~null_b
        scale = np.maximum(np.abs(a[both]), np.abs(b[both]))
        diff = np.abs(a[both] - b[both])
        rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
        differences[name] = float(rel.max()) if len(rel) else 0.0
    labels = {}
    for name in ("regime", "trend"):
        labels[name] = int((expected.get_column(name).fill_null("-") != actual.get_column(name).fill_null("-")).sum())
    ok = all(differences[c] <= tolerance and null_mismatch[c] == 0 for c in EXACT_COLUMNS) and not any(labels.values())
    for name, count in null_mismatch.items():
        if count:
            labels[f"{name} nulls"] = count
    return differences, labels, ok


# --- the benchmark ----------------------------------------------------------------------------------


@dataclass
class Result:
    symbols: int
    sessions: int
    single: Run
    prefix: Run
    start_runs: list[Run]
    end_runs: list[Run]
    pandas_seconds: float
    differences: dict[str, float]
    labels: dict[str, int]
    agree: bool
    same_as_single: bool

    @property
    def start_mean(self) -> float:
        return statistics.mean(r.seconds for r in self.start_runs)

    @property
    def end_mean(self) -> float:
        return statistics.mean(r.seconds for r in self.end_runs)

    @property
    def per_partition_estimate(self) -> float:
        return self.sessions * (self.start_mean + self.end_mean) / 2

    @property
    def per_partition_upper(self) -> float:
        return self.sessions * self.end_mean


def last_days_equal(single: Path, other: Path, start: dt.date, end: dt.date) -> bool:
    from lakehouse_assets.lake.delta import Lake

    for name in ("features", "market_regimes", "ohlcv_daily"):
        a, b = (Lake(root).read(name, start, end).sort("symbol", "date") for root in (single, other))
        if not a.equals(b):
            return False
    return True


def measure(
    symbols: int, years: int, sample: int, seed: int, work: Path, tolerance: float, rerun: bool, pandas: bool
) -> Result:
    from lakehouse_assets.config import load_config
    from lakehouse_assets.defs.settings import calendar_of

    print(f"\nN = {symbols} symbols x {years} years  ({load()})", flush=True)
    ohlcv_dir = simulate(work / f"sim_n{symbols}_y{years}", symbols, years, seed)
    sessions = simulated_sessions(years)
    if len(sessions) < 2 * sample + 2:
        raise SystemExit(f"--sample {sample}: too large for {len(sessions)} sessions")
    calendar = calendar_of(load_config())

    lake_a = fresh(work / f"lake_n{symbols}_single")
    single = Pipeline(str(lake_a), ohlcv_dir, GROUPS, partitions_start=sessions[0]).run(sessions[0], sessions[-1])
    print(f"  (a) single run {sessions[0]}..{sessions[-1]}: {single.seconds:.1f} s  ({load()})", flush=True)

    tail = sessions[-sample:]
    if rerun:  # --end-sample rerun: the last K days again on the complete lake of (a)
        lake_b, prefix = lake_a, Run(0.0)
    else:
        lake_b = fresh(work / f"lake_n{symbols}_daily")
        prefix = Pipeline(str(lake_b), ohlcv_dir, GROUPS, partitions_start=sessions[0]).run(
            sessions[0], sessions[-sample - 1]
        )
        print(f"  (b) prefix backfill ..{sessions[-sample - 1]} (not part of the comparison): {prefix.seconds:.1f} s")
    daily = Pipeline(str(lake_b), ohlcv_dir, GROUPS, partitions_start=sessions[0])
    end_runs = []
    for day in tail:
        end_runs.append(daily.run(day, day))
    print(f"  (b) end sample {tail[0]}..{tail[-1]}: mean {statistics.mean(r.seconds for r in end_runs):.2f} s/run")
    same = last_days_equal(lake_a, lake_b, tail[0], tail[-1]) if not rerun else True

    lake_c = fresh(work / f"lake_n{symbols}_start")
    first = Pipeline(str(lake_c), ohlcv_dir, GROUPS, partitions_start=sessions[0])
    start_runs = [first.run(day, day) for day in sessions[: sample + 1]][1:]
    print(
        f"  (b) start sample {sessions[1]}..{sessions[sample]}: mean "
        f"{statistics.mean(r.seconds for r in start_runs):.2f} s/run  ({load()})",
        flush=True,
    )
    shutil.rmtree(lake_c, ignore_errors=True)

    out = work / f"pandas_n{symbols}"
    if pandas:
        pandas_seconds = pandas_loop(ohlcv_dir, out, calendar.sessions(sessions[0], sessions[-1]))
        print(f"  (c) pandas loop: {pandas_seconds:.1f} s  ({load()})", flush=True)
        differences, labels, agree = compare_with_lake(lake_a, out, tolerance)
    else:
        pandas_seconds, differences, labels, agree = math.nan, {}, {}, False
    return Result(
        symbols,
        len(sessions),
        single,
        prefix,
        start_runs,
        end_runs,
        pandas_seconds,
        differences,
        labels,
        agree,
        same,
    )


def report(results: list[Result], sample: int, tolerance: float, rerun: bool) -> None:
    from lakehouse_assets.core.features import FEATURE_COLUMNS

    print("\nwall seconds of the bronze + silver groups over the whole simulated range (ratio: x the single run)")
    header = ["", *(f"N={r.symbols}" for r in results), *(f"ratio N={r.symbols}" for r in results)]
    rows = [header]

    def row(label: str, values: list[float], fmt: str = "{:.1f}") -> None:
        rows.append(
            [
                label,
                *(fmt.format(v) if not math.isnan(v) else "-" for v in values),
                *(
                    f"{v / r.single.seconds:.1f}x" if not math.isnan(v) else "-"
                    for v, r in zip(values, results, strict=True)
                ),
            ]
        )

    row("(a) single run", [r.single.seconds for r in results])
    rows.append(["    of which steps", *(f"{r.single.step_seconds:.1f}" for r in results), *[""] * len(results)])
    rows.append(
        [
            "    of which Dagster bookkeeping",
            *(f"{r.single.seconds - r.single.step_seconds:.1f}" for r in results),
            *[""] * len(results),
        ]
    )
    row("(b) run per day, estimate", [r.per_partition_estimate for r in results])
    row("(b) run per day, upper bound", [r.per_partition_upper for r in results])
    row("(c) pandas per-symbol loop", [r.pandas_seconds for r in results])
    render(rows)
    print(
        f"(b) is EXTRAPOLATED, not run: P sessions x (mean of {sample} runs at the start + mean of {sample} runs at "
        "the end) / 2; upper bound P x mean of the end runs"
    )

    print("\nper-run detail")
    rows = [["", *(f"N={r.symbols}" for r in results)]]
    rows.append(["sessions P", *(str(r.sessions) for r in results)])
    rows.append(["symbol-days", *(f"{r.sessions * r.symbols:,}" for r in results)])
    rows.append(
        ["(a) ms per symbol-day", *(f"{1000 * r.single.seconds / (r.sessions * r.symbols):.3f}" for r in results)]
    )
    rows.append(["(b) start runs: mean s/run", *(f"{r.start_mean:.2f}" for r in results)])
    rows.append(
        [
            "(b) start runs: mean steps s/run",
            *(f"{statistics.mean(x.step_seconds for x in r.start_runs):.2f}" for r in results),
        ]
    )
    rows.append(["(b) end runs: mean s/run", *(f"{r.end_mean:.2f}" for r in results)])
    rows.append(
        [
            "(b) end runs: mean steps s/run",
            *(f"{statistics.mean(x.step_seconds for x in r.end_runs):.2f}" for r in results),
        ]
    )
    for step in ("ohlcv_bronze", "ohlcv_daily", "features", "market_regimes"):
        rows.append(
            [
                f"(b) end runs: {step} s/run",
                *(f"{statistics.mean(x.steps.get(step, 0.0) for x in r.end_runs):.2f}" for r in results),
            ]
        )
    rows.append(["(b) prefix backfill s (untimed part)", *(f"{r.prefix.seconds:.1f}" for r in results)])
    rows.append(["end-sample days equal single run", *(str(r.same_as_single) for r in results)])
    if rerun:
        rows.append(["(b) end sample", *("re-run on (a)'s lake" for _ in results)])
    for step in sorted(results[0].single.steps):
        rows.append([f"(a) step {step} s", *(f"{r.single.steps.get(step, 0.0):.1f}" for r in results)])
    render(rows)

    print(
        f"\n(c) pandas vs the lake of (a): max relative difference (must be <= {tolerance:g}: {', '.join(EXACT_COLUMNS)})"
    )
    rows = [["feature", *(f"N={r.symbols}" for r in results)]]
    for name in FEATURE_COLUMNS:
        rows.append([name, *(f"{r.differences[name]:.1e}" if r.differences else "not run" for r in results)])
    for name in ("regime", "trend"):
        rows.append([f"{name} labels differing", *(str(r.labels.get(name, 0)) for r in results)])
    extra = sorted({k for r in results for k in r.labels if k not in ("regime", "trend")})
    for name in extra:
        rows.append([f"{name} differing", *(str(r.labels.get(name, 0)) for r in results)])
    rows.append(
        ["agreement check", *(("passed" if r.agree else "FAILED") if r.differences else "not run" for r in results)]
    )
    render(rows)

    print("\ngoals")
    for r in results:
        ratio = r.per_partition_estimate / r.single.seconds
        upper = r.per_partition_upper / r.single.seconds
        print(
            f"  N={r.symbols}: (a) single run {ratio:.1f}x faster than (b) one run per day (estimate; {upper:.1f}x "
            f"against the upper bound), goal >= {GOAL_RATIO:.0f}x: {verdict(ratio >= GOAL_RATIO)}"
        )
    for r in (r for r in results if r.differences):
        print(
            f"  N={r.symbols}: (a) vs (c) pandas loop: {r.pandas_seconds / r.single.seconds:.2f}x "
            f"(pandas / single run; information, no goal); pandas agrees with the lake: {r.agree}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, nargs="+", default=[100, 500], help="universe sizes (default 100 500)")
    parser.add_argument("--years", type=int, default=10, help="simulated years (default 10)")
    parser.add_argument("--sample", type=int, default=20, help="K: per-day runs timed at each end (default 20)")
    parser.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_backfill"), help="data and lakes")
    parser.add_argument("--tolerance", type=float, default=1e-9, help="max relative difference (default 1e-9)")
    parser.add_argument(
        "--end-sample",
        choices=("prefix", "rerun"),
        default="prefix",
        help="prefix (default): a second lake backfilled up to the last K days, which then run one by one; "
        "rerun: re-run the last K days on the lake of (a) (no prefix backfill; the MERGEs find nothing to change, "
        "so no file is written: a slight underestimate of a daily increment)",
    )
    parser.add_argument("--pandas-max", type=int, default=10**9, help="run the pandas loop only for N up to this")
    args = parser.parse_args(argv)
    if min(*args.symbols, args.years, args.sample) < 1:
        parser.error("--symbols, --years and --sample must be positive")
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # features_bench
    print("backfill benchmark: bronze + silver groups, single run vs one run per day vs pandas loop")
    print(machine(), flush=True)
    began = time.perf_counter()
    rerun = args.end_sample == "rerun"
    results = []
    for n in args.symbols:
        results.append(
            measure(n, args.years, args.sample, args.seed, args.work, args.tolerance, rerun, n <= args.pandas_max)
        )
        if len(args.symbols) > 1:  # each size's figures as soon as they exist
            report(results[-1:], args.sample, args.tolerance, rerun)
    if len(args.symbols) > 1:
        print("\n=== all sizes ===")
    report(results, args.sample, args.tolerance, rerun)
    print(f"\n{load()}; total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
