"""The bronze + silver backfill against Qlib's expression engine and polars, on the same landing.

Question: how far is the project's single-run backfill (CSV -> bronze -> daily -> features ->
regimes, with Delta writes and asset checks) from a research engine that only reads prices and
computes features? Goal 1: the backfill within 10x of Qlib ``D.features``; stretch: 5x; and the
Dagster bookkeeping (run wall minus the steps' own durations) at most 25% of the run's wall.

Data. ``lakehouse simulate --symbols N --years Y --seed S`` (via ``backfill_bench.simulate``)
writes the landing CSVs under ``--work`` (default ``/tmp/bench_qlib``): one file per symbol and
calendar year, every XNYS session of the last Y calendar years up to 2018-12-31 (by default
200 symbols x 3,523 sessions of 2005-2018 = 704,600 bars). It is reused when present. Everything the
benchmark generates stays under ``--work``.

The three engines, each timed in a fresh process of its own (a subprocess started by this
script, one after the other, never two at once). The "wall s" of the table is the engine's work
only, measured inside that process: it **excludes** interpreter start, imports and set-up
(``qlib.init``; building the Dagster definitions), which are printed separately as
"start + imports + init" (from the worker's first line to the timed call) and in each process's
wall as seen by this script. The work **includes** reading the inputs from disk (the OS page cache
is warm for all three: the files were just written or read).

1. Qlib 0.9.7 ``D.features(D.instruments("all"), <14 expressions>, first session, last session)``
   over Qlib's own binary layout, written by this script from the CSVs before the timing (the
   conversion, like Qlib's ``dump_bin.py``, is a one-off and is printed as information only):
   ``calendars/day.txt`` (the union of the bars' dates), ``instruments/all.txt``
   (``SYMBOL<TAB>first<TAB>last``), and ``features/<symbol>/<field>.day.bin`` for open, high, low,
   close and volume: little-endian float32, the first value the index of the symbol's first date
   in the calendar, then one value per calendar date to its last (NaN where no bar; the simulated
   symbols have none missing). ``qlib.init(provider_uri=..., region="us", kernels=1,
   expression_cache=None, dataset_cache=None)``: one process, no disk caches (no Redis). Qlib's
   in-process memory cache of sub-expression results (``H["f"]``, an LRU of 500 series, its
   default) stays on: it is how Qlib shares ``Ref($close,1)`` between expressions of an
   instrument, part of the engine. Qlib stores and returns float32 (``D.features`` casts every
   column to float32); polars and the project compute in float64.

2. polars ``over("symbol")``: ``scan_csv`` of every landing CSV (float64), sorted by symbol and
   date, the same 14 expressions with Qlib's semantics, ``collect()``; polars' thread pool is the
   default (one thread per core). No validation.

3. this project: ``daily_job`` subset to the ``bronze`` and ``silver`` groups (``ohlcv_bronze``,
   ``sentiment_bronze``, ``ohlcv_daily``, ``sentiment_daily``, ``features``, ``market_regimes``
   with their asset checks) in one run over every session, into an empty lake, on a fresh
   ephemeral Dagster instance with ``execute_in_process``: exactly ``bench/backfill_bench.py``
   (a), through its ``Pipeline``. Its wall is ``execute_in_process``; the per-step times are the
   STEP_SUCCESS durations of the run's events; "Dagster bookkeeping" = wall minus the sum of the
   steps (planning, the run's events, the planned events). The time of
   ``DagsterInstance.handle_new_event`` (storing each event in the instance's event log and
   updating the run) is measured too, per event type, by wrapping that method in the worker. An
   event handled between its step's STEP_START and STEP_SUCCESS (materializations, one per asset
   and partition, check evaluations, outputs) is stored while the step's timer runs (Dagster
   creates and stores a step's events inside it), so it is inside the step durations; the others
   (run events, and the planned materialization and check events written when the run is
   created) are inside the bookkeeping. "The steps' own work" = steps minus the events stored
   during them; "Dagster in all" = wall minus that. This project does much more than the other two (validation, quarantine, MERGEs
   into Delta tables, 17 features plus the regime labels, checks, lineage); the ratio says what
   that costs, not that the work is the same.

The 14 expressions are the project's features (``lakehouse_assets/core/features.py``) that
Qlib's operators express, written once for Qlib and once for polars with *Qlib's* semantics,
which differ from the project's in three ways: every Qlib rolling operator uses
``min_periods=1`` (partial windows from the first bar; the project's warm-up rows are null), its
``EMA(x, N)`` is pandas ``ewm(span=N, min_periods=1, adjust=True)`` for N >= 1 and
``ewm(alpha=N, ...)`` for 0 < N < 1 (the project's EMA is ``adjust=False`` with an n-bar
warm-up, its RSI and ADX are Wilder's averages seeded with a simple mean), and ``Greater`` and
arithmetic propagate NaN. R below is ``Log($close/Ref($close,1))`` (the project's ``log_return``
on gap-free bars).

* sma_20, sma_50: ``Mean($close,N)``; ema_50: ``EMA($close,50)``
* rsi_14: ``100*G/(G+L)``, G = ``EMA(Greater($close-Ref($close,1),0),1/14)``, L likewise for the
  losses (Wilder's alpha, pandas' adjusted start)
* vwap_20: ``Sum(($high+$low+$close)/3*$volume,20)/Sum($volume,20)``
* bollinger_position: ``($close-Mean($close,20))/(2*Std($close,20))``
* momentum_20: ``$close/Ref($close,20)-1``; volatility_ratio: ``Std(R,10)/Std(R,63)``
* adx_14: true range ``Greater(Greater($high-$low,Abs($high-Ref($close,1))),Abs($low-Ref($close,1)))``,
  +DM/-DM with ``If``, DI = ``100*EMA(DM,1/14)/EMA(TR,1/14)``, DX, ADX = ``EMA(DX,1/14)``
* hurst_100: ``sum_lag w_lag*Log(Std(Log($close/Ref($close,lag)),100-lag))`` over lags 2..20 with
  the project's OLS weights (19 terms)
* variance_ratio_5: the project's Lo-MacKinlay formula with ``Mean``, ``Sum``, ``Var``, ``Power``
  (variance_ratio_2 and _10 are the same formula with another q, and are left out)
* volume_ma_ratio: ``$volume/Mean($volume,20)``; realized_vol_21: ``Std(R,21)*sqrt(252)``;
  drawdown_252: ``$close/Max($close,252)-1``

Cross-check, after the Qlib and polars runs and before the project's: Qlib's output is joined on
(symbol, date) with two polars outputs (the keys must be the same): (i) the timed polars run's,
and (ii) a reference, the same polars expressions evaluated in the parent on Qlib's precision:
the landing's prices and volumes rounded to float32 (Qlib's storage) and the log ratios
``Log(a/b)`` computed in float32 as Qlib's elementwise operators do on its float32 columns
(every other operation is float64 on both sides: pandas' rolling and ewm, as numpy promotes
float32 with a float64 rolling result). A value is missing when null, NaN or infinite; the
missing positions must be the same against both. The error of a value is
``|qlib - polars| / max(1, |polars|)`` (relative above 1, absolute below: relative differences
of values near 0, such as a momentum of 1e-4, say nothing); against (ii) it must be at most
``--tolerance`` (1e-5) for every expression, which checks that the two engines compute the same
expressions (1e-7 to 1e-6 in the small runs, Qlib's float32 output). Against (i) it is printed
with the largest absolute and relative differences but not checked: there Qlib's float32
storage shows (returns computed from float32 prices are good to ~1e-7 absolute, so statistics
of returns differ by up to ~1e-5 relative, and by more where a partial window's variance is
tiny, e.g. the variance ratio's first rows). A failed check stops the benchmark with an error,
before the project run.

Installing Qlib. ``pyqlib==0.9.7`` cannot live in the project's virtualenv: it requires
``mlflow`` (imported by ``qlib.init``), every recent mlflow caps ``pyarrow < 26`` (the project
pins 26.0.1), and with the project's pins pip backtracks to mlflow 1.27.0, which fails to import
with protobuf 6 (``cannot import name 'service' from 'google.protobuf'``). So the benchmark runs
Qlib in a virtualenv of its own, ``<work>/venv`` (``/tmp/bench_qlib/venv``), created on first use
from the same Python 3.11 with ``pip install pyqlib==0.9.7 numpy==<the project's> pandas==<the
project's>`` (2-4 minutes, untimed; it brings mlflow 3.x and pyarrow 25 there, which touch
nothing of the project). ``--qlib-python`` uses another interpreter that has pyqlib 0.9.7. The
Qlib worker is this file run by that interpreter: its top level imports only the standard
library.

Run from the repository root. The default (200 symbols x 14 years) is for a quiet machine;
smoke-test small::

    .venv/bin/python bench/qlib_bench.py
    .venv/bin/python bench/qlib_bench.py --symbols 10 --years 2
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()  # a worker's "start + imports + init" counts from here
REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
QLIB_VERSION = "0.9.7"
FIELDS = ("open", "high", "low", "close", "volume")
STEPS = ("ohlcv_bronze", "sentiment_bronze", "ohlcv_daily", "sentiment_daily", "features", "market_regimes")
GOAL, STRETCH, BOOKKEEPING_SHARE = 10.0, 5.0, 0.25
VR_Q = 5


# --- the 14 expressions --------------------------------------------------------------------------


def qlib_expressions() -> dict[str, str]:
    """name -> Qlib expression string (Qlib's operator language)."""
    from lakehouse_assets.core.features import (
        HURST_LAGS,
        HURST_WINDOW,
        TRADING_DAYS_PER_YEAR,
        VARIANCE_RATIO_WINDOW,
        hurst_weights,
    )

    r = "Log($close/Ref($close,1))"
    change = "($close-Ref($close,1))"
    wilder = "1/14"  # a float in (0, 1): Qlib's EMA takes it as alpha
    gain = f"EMA(Greater({change},0),{wilder})"
    loss = f"EMA(Greater(Ref($close,1)-$close,0),{wilder})"
    true_range = "Greater(Greater($high-$low,Abs($high-Ref($close,1))),Abs($low-Ref($close,1)))"
    up, down = "($high-Ref($high,1))", "(Ref($low,1)-$low)"
    plus_dm = f"If(({up}>{down})&({up}>0),{up},0)"
    minus_dm = f"If(({down}>{up})&({down}>0),{down},0)"
    atr = f"EMA({true_range},{wilder})"
    plus_di = f"(100*EMA({plus_dm},{wilder})/{atr})"
    minus_di = f"(100*EMA({minus_dm},{wilder})/{atr})"
    dx = f"(100*Abs({plus_di}-{minus_di})/({plus_di}+{minus_di}))"
    hurst = "+".join(
        f"{w!r}*Log(Std(Log($close/Ref($close,{lag})),{HURST_WINDOW - lag}))"
        for lag, w in zip(HURST_LAGS, hurst_weights(HURST_LAGS), strict=True)
    )
    t, q = VARIANCE_RATIO_WINDOW, VR_Q
    count = t - q + 1
    q_day = f"Sum({r},{q})"
    squares = f"({count - 1}*Var({q_day},{count})+{count}*Power(Mean({q_day},{count})-{q}*Mean({r},{t}),2))"
    m = q * count * (1.0 - q / t)
    return {
        "sma_20": "Mean($close,20)",
        "sma_50": "Mean($close,50)",
        "ema_50": "EMA($close,50)",
        "rsi_14": f"100*{gain}/({gain}+{loss})",
        "vwap_20": "Sum(($high+$low+$close)/3*$volume,20)/Sum($volume,20)",
        "bollinger_position": "($close-Mean($close,20))/(2*Std($close,20))",
        "momentum_20": "$close/Ref($close,20)-1",
        "volatility_ratio": f"Std({r},10)/Std({r},63)",
        "adx_14": f"EMA({dx},{wilder})",
        "hurst_100": hurst,
        f"variance_ratio_{q}": f"{squares}/{m!r}/Var({r},{t})",
        "volume_ma_ratio": "$volume/Mean($volume,20)",
        "realized_vol_21": f"Std({r},21)*{math.sqrt(TRADING_DAYS_PER_YEAR)!r}",
        "drawdown_252": "$close/Max($close,252)-1",
    }


def log_ratio(a, b, float32: bool):
    """``log(a / b)``; with ``float32`` the division and the log in float32, as Qlib computes
    ``Log($close/Ref($close,1))`` on its float32 columns."""
    import polars as pl

    if float32:
        return (a.cast(pl.Float32) / b.cast(pl.Float32)).log().cast(pl.Float64)
    return (a / b).log()


def polars_expressions(float32: bool = False) -> dict:
    """name -> polars expression over one symbol's bars (column ``r`` = log return), Qlib's semantics.

    ``float32``: the log ratios in float32 (see :func:`polars_features`).
    """
    import polars as pl

    from lakehouse_assets.core.features import (
        HURST_LAGS,
        HURST_WINDOW,
        TRADING_DAYS_PER_YEAR,
        VARIANCE_RATIO_WINDOW,
        hurst_weights,
    )

    close, high, low, volume, r = (pl.col(c) for c in ("close", "high", "low", "volume", "r"))

    def mean(x: pl.Expr, n: int) -> pl.Expr:
        return x.rolling_mean(n, min_samples=1)

    def total(x: pl.Expr, n: int) -> pl.Expr:
        return x.rolling_sum(n, min_samples=1)

    def std(x: pl.Expr, n: int) -> pl.Expr:
        return x.rolling_std(n, min_samples=1)

    def var(x: pl.Expr, n: int) -> pl.Expr:
        return x.rolling_var(n, min_samples=1)

    def ema(x: pl.Expr, *, span: float | None = None, alpha: float | None = None) -> pl.Expr:
        # pandas ewm(..., min_periods=1, adjust=True): a missing input repeats the previous mean
        return x.ewm_mean(span=span, alpha=alpha, adjust=True, min_samples=1).forward_fill()

    def greater(a: pl.Expr, b: pl.Expr | float) -> pl.Expr:
        b = pl.lit(b) if not isinstance(b, pl.Expr) else b
        return pl.when(a.is_null() | b.is_null()).then(None).otherwise(pl.max_horizontal(a, b))

    def div(a: pl.Expr, b: pl.Expr) -> pl.Expr:  # numpy's x/0 is inf or NaN: missing either way
        return pl.when(b != 0).then(a / b)

    alpha = 1.0 / 14
    change = close - close.shift(1)
    gain = ema(greater(change, 0.0), alpha=alpha)
    loss = ema(greater(close.shift(1) - close, 0.0), alpha=alpha)
    true_range = greater(greater(high - low, (high - close.shift(1)).abs()), (low - close.shift(1)).abs())
    up, down = high - high.shift(1), low.shift(1) - low
    plus_dm = pl.when((up > down) & (up > 0)).then(up).otherwise(0.0)
    minus_dm = pl.when((down > up) & (down > 0)).then(down).otherwise(0.0)
    atr = ema(true_range, alpha=alpha)
    plus_di = div(100.0 * ema(plus_dm, alpha=alpha), atr)
    minus_di = div(100.0 * ema(minus_dm, alpha=alpha), atr)
    dx = div(100.0 * (plus_di - minus_di).abs(), plus_di + minus_di)
    hurst = None
    for lag, w in zip(HURST_LAGS, hurst_weights(HURST_LAGS), strict=True):
        term = w * std(log_ratio(close, close.shift(lag), float32), HURST_WINDOW - lag).log()
        hurst = term if hurst is None else hurst + term
    t, q = VARIANCE_RATIO_WINDOW, VR_Q
    count = t - q + 1
    q_day = total(r, q)
    squares = (count - 1) * var(q_day, count) + count * (mean(q_day, count) - q * mean(r, t)) ** 2
    return {
        "sma_20": mean(close, 20),
        "sma_50": mean(close, 50),
        "ema_50": ema(close, span=50),
        "rsi_14": div(100.0 * gain, gain + loss),
        "vwap_20": div(total((high + low + close) / 3.0 * volume, 20), total(volume, 20)),
        "bollinger_position": div(close - mean(close, 20), 2.0 * std(close, 20)),
        "momentum_20": close / close.shift(20) - 1.0,
        "volatility_ratio": div(std(r, 10), std(r, 63)),
        "adx_14": ema(dx, alpha=alpha),
        "hurst_100": hurst,
        f"variance_ratio_{q}": div(squares / (q * count * (1.0 - q / t)), var(r, t)),
        "volume_ma_ratio": div(volume, mean(volume, 20)),
        "realized_vol_21": std(r, 21) * math.sqrt(TRADING_DAYS_PER_YEAR),
        "drawdown_252": close / close.rolling_max(252, min_samples=1) - 1.0,
    }


def polars_features(bars, float32: bool = False):
    """The 14 expressions over a lazy frame of bars (symbol, date, open..volume), sorted by symbol and date.

    ``float32=False`` is the timed polars engine. ``float32=True`` is the cross-check's reference
    in Qlib's precision: the caller rounds the inputs to float32 (Qlib's storage), and the log
    ratios are computed in float32 like Qlib's elementwise operators on float32 columns; every
    other operation stays float64 (pandas' rolling and ewm work in float64, as in Qlib).
    """
    import polars as pl

    expressions = polars_expressions(float32)
    return (
        bars.sort("symbol", "date")
        .with_columns(log_ratio(pl.col("close"), pl.col("close").shift(1), float32).over("symbol").alias("r"))
        .select("symbol", "date", *(e.over("symbol").alias(n) for n, e in expressions.items()))
    )


def scan_landing(ohlcv_dir: Path):
    """Every landing CSV as one lazy frame: symbol, date, open, high, low, close, volume (float64)."""
    import polars as pl

    schema = {"timestamp": pl.Date, **{f: pl.Float64 for f in FIELDS}, "source": pl.String}
    return pl.scan_csv(str(ohlcv_dir / "*" / "1day" / "*.csv"), schema=schema, include_file_paths="path").select(
        pl.col("path").str.extract(r"([^/]+)/1day/[^/]+$").alias("symbol"),
        pl.col("timestamp").alias("date"),
        *FIELDS,
    )


# --- workers: each runs in a fresh process and writes a JSON result -------------------------------


def qlib_worker(spec: dict) -> dict:
    """Run by the Qlib interpreter: only the standard library, numpy, pandas and qlib."""
    import importlib.metadata as md
    import platform

    import numpy as np
    import qlib
    from qlib.constant import REG_US
    from qlib.data import D

    qlib.init(
        provider_uri=spec["data"],
        region=REG_US,
        kernels=1,
        expression_cache=None,
        dataset_cache=None,
        logging_level="WARNING",
    )
    ready = time.perf_counter()
    frame = D.features(D.instruments("all"), spec["expressions"], start_time=spec["start"], end_time=spec["end"])
    seconds = time.perf_counter() - ready
    symbols = frame.index.get_level_values("instrument").astype(str).to_numpy()
    days = frame.index.get_level_values("datetime").to_numpy().astype("datetime64[D]").astype(np.int64)
    np.savez(spec["out"], symbol=symbols.astype("U"), day=days, values=frame.to_numpy(dtype=np.float64))
    versions = {p: md.version(p) for p in ("pyqlib", "numpy", "pandas", "mlflow")}
    return {"seconds": seconds, "ready": ready, "rows": len(frame), "python": platform.python_version(), **versions}


def polars_worker(spec: dict) -> dict:
    import polars as pl

    query = polars_features(scan_landing(Path(spec["ohlcv"])))
    ready = time.perf_counter()
    frame = query.collect()
    seconds = time.perf_counter() - ready
    frame.write_parquet(spec["out"])
    return {"seconds": seconds, "ready": ready, "rows": frame.height, "threads": pl.thread_pool_size()}


def project_worker(spec: dict) -> dict:
    import datetime as dt
    from collections import defaultdict

    sys.path.insert(0, str(BENCH))
    from backfill_bench import GROUPS, Pipeline  # sets DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS first
    from dagster._core.instance import DagsterInstance

    events: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])  # "TYPE|step or run" -> [count, seconds]
    original = DagsterInstance.handle_new_event
    depth = [0]
    running: set[str] = set()  # steps between their STEP_START and STEP_SUCCESS/FAILURE events

    def timed(self, event, *args, **kwargs):
        kind = event.dagster_event.event_type_value if event.dagster_event else "LOG_MESSAGE"
        if kind == "STEP_START":
            running.add(event.step_key)
        inside = event.step_key in running
        if kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            running.discard(event.step_key)
        depth[0] += 1
        began = time.perf_counter()
        try:
            return original(self, event, *args, **kwargs)
        finally:
            depth[0] -= 1
            if depth[0] == 0:  # count nested calls once, in the outer one
                entry = events[f"{kind}|{'step' if inside else 'run'}"]
                entry[0] += 1
                entry[1] += time.perf_counter() - began

    DagsterInstance.handle_new_event = timed  # type: ignore[method-assign]
    # the partitions start where the landing's data starts, as a deployment configures them
    pipeline = Pipeline(
        spec["lake"], Path(spec["ohlcv"]), GROUPS, partitions_start=dt.date.fromisoformat(spec["start"])
    )
    ready = time.perf_counter()
    run = pipeline.run(dt.date.fromisoformat(spec["start"]), dt.date.fromisoformat(spec["end"]))
    return {"seconds": run.seconds, "ready": ready, "steps": run.steps, "events": dict(events)}


WORKERS = {"qlib": qlib_worker, "polars": polars_worker, "project": project_worker}


def worker_main(kind: str, spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    result = WORKERS[kind](spec)
    result["ready"] -= STARTED  # start + imports + init, seconds since this process's first line ran
    Path(spec["result"]).write_text(json.dumps(result))


# --- the parent: data, Qlib's layout, the runs, the cross-check, the report ----------------------


def ensure_qlib_python(work: Path) -> str:
    """``<work>/venv/bin/python`` with pyqlib 0.9.7 and the project's numpy and pandas (created once)."""
    import importlib.metadata as md

    venv = work / "venv"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import qlib; print(qlib.__version__)"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == QLIB_VERSION:
        return str(python)
    pins = [f"pyqlib=={QLIB_VERSION}", f"numpy=={md.version('numpy')}", f"pandas=={md.version('pandas')}"]
    print(f"  creating {venv} with {' '.join(pins)} (once, untimed)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    log = work / "venv_install.log"
    with log.open("w") as out:
        done = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", *pins], stdout=out, stderr=out
        )
    if done.returncode or subprocess.run(probe, capture_output=True, text=True).stdout.strip() != QLIB_VERSION:
        raise SystemExit(f"installing pyqlib into {venv} failed, see {log}")
    return str(python)


def write_qlib_layout(ohlcv_dir: Path, root: Path) -> tuple[int, int, float]:
    """Qlib's binary layout of the landing under ``root``: (symbols, calendar days, seconds)."""
    import shutil

    import numpy as np

    began = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    bars = scan_landing(ohlcv_dir).collect().sort("symbol", "date")
    if bars.select("symbol", "date").is_duplicated().any():
        raise SystemExit("the landing has duplicate (symbol, date) bars")
    calendar = bars.get_column("date").unique().sort()
    (root / "calendars").mkdir(parents=True)
    (root / "instruments").mkdir()
    (root / "calendars" / "day.txt").write_text("".join(f"{d}\n" for d in calendar.to_list()))
    position = {d: i for i, d in enumerate(calendar.to_list())}
    spans = []
    for (symbol,), part in bars.partition_by("symbol", as_dict=True, maintain_order=True).items():
        index = np.array([position[d] for d in part.get_column("date").to_list()])
        first, last = int(index[0]), int(index[-1])
        spans.append(f"{symbol}\t{calendar[first]}\t{calendar[last]}\n")
        folder = root / "features" / str(symbol).lower()
        folder.mkdir(parents=True)
        for field in FIELDS:
            values = np.full(last - first + 1, np.nan)
            values[index - first] = part.get_column(field).to_numpy()
            np.hstack([[first], values]).astype("<f4").tofile(folder / f"{field}.day.bin")
    (root / "instruments" / "all.txt").write_text("".join(spans))
    return len(spans), calendar.len(), time.perf_counter() - began


def run_worker(kind: str, python: str, spec: dict, work: Path, cwd: Path) -> dict:
    """This file as a worker in a fresh process; its result plus the process wall seconds."""
    spec_path = work / f"{kind}_spec.json"
    spec["result"] = str(work / f"{kind}_result.json")
    Path(spec["result"]).unlink(missing_ok=True)
    spec_path.write_text(json.dumps(spec))
    log = work / f"{kind}_worker.log"
    began = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(
            [python, str(Path(__file__).resolve()), "--worker", kind, str(spec_path)], cwd=cwd, stdout=out, stderr=out
        )
    process = time.perf_counter() - began
    if done.returncode:
        tail = "\n".join(log.read_text().splitlines()[-25:])
        raise SystemExit(f"{kind} worker failed (exit {done.returncode}), {log}:\n{tail}")
    result = json.loads(Path(spec["result"]).read_text())
    result["process"] = process
    return result


def differences(a, b) -> dict[str, float]:
    """Missing (null, NaN, inf) on one side only, and the largest differences where both have a value."""
    import numpy as np

    missing_a, missing_b = ~np.isfinite(a), ~np.isfinite(b)
    both = ~missing_a & ~missing_b
    diff = np.abs(a[both] - b[both])
    scale = np.maximum(np.abs(a[both]), np.abs(b[both]))
    rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
    error = diff / np.maximum(1.0, np.abs(b[both]))
    top = lambda x: float(x.max()) if len(x) else 0.0  # noqa: E731
    return {
        "compared": int(both.sum()),
        "missing": int((missing_a & missing_b).sum()),
        "one_side": int((missing_a != missing_b).sum()),
        "abs": top(diff),
        "rel": top(rel),
        "error": top(error),
    }


def cross_check(
    qlib_out: Path, polars_out: Path, ohlcv_dir: Path, names: list[str], tolerance: float
) -> tuple[list[list[str]], bool]:
    """Qlib's output against the timed polars run's, and against the float32 reference (the check)."""
    import numpy as np
    import polars as pl

    saved = np.load(qlib_out)
    qlib = pl.DataFrame(
        {
            "symbol": saved["symbol"].astype(str),
            "date": saved["day"].astype("datetime64[D]"),
            **{n: saved["values"][:, i] for i, n in enumerate(names)},
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    qlib = qlib.sort("symbol", "date")
    ours = pl.read_parquet(polars_out).sort("symbol", "date")
    rounded = scan_landing(ohlcv_dir).with_columns(pl.col(f).cast(pl.Float32).cast(pl.Float64) for f in FIELDS)
    reference = polars_features(rounded, float32=True).collect().sort("symbol", "date")
    for other, label in ((ours, "the polars run"), (reference, "the float32 reference")):
        if not qlib.select("symbol", "date").equals(other.select("symbol", "date")):
            raise SystemExit(f"cross-check: the keys differ (Qlib {qlib.height} rows, {label} {other.height} rows)")
    rows = [
        [
            "expression",
            "compared",
            "missing both",
            "missing one side",
            "polars run: max abs diff",
            "max rel diff",
            "max error",
            "float32 reference: max abs diff",
            "max error (checked)",
        ]
    ]
    ok = True

    def values(frame: pl.DataFrame, name: str):
        return frame.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy()

    for name in names:
        a = values(qlib, name)
        run, ref = differences(a, values(ours, name)), differences(a, values(reference, name))
        ok &= run["one_side"] == 0 and ref["one_side"] == 0 and ref["error"] <= tolerance
        rows.append(
            [
                name,
                f"{run['compared']:,}",
                f"{run['missing']:,}",
                f"{max(run['one_side'], ref['one_side'])}",
                f"{run['abs']:.1e}",
                f"{run['rel']:.1e}",
                f"{run['error']:.1e}",
                f"{ref['abs']:.1e}",
                f"{ref['error']:.1e}",
            ]
        )
    return rows, ok


def median_run(results: list[dict]) -> dict:
    return sorted(results, key=lambda r: r["seconds"])[(len(results) - 1) // 2]  # the lower median


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=200, help="simulated symbols (default 200)")
    parser.add_argument("--years", type=int, default=14, help="simulated calendar years up to 2018 (default 14)")
    parser.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_qlib"), help="data, layouts, lakes, Qlib venv")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="cross-check, |q - p| / max(1, |p|) (1e-5)")
    parser.add_argument("--repeats", type=int, default=1, help="fresh processes for Qlib and polars each; median")
    parser.add_argument("--qlib-python", help="an interpreter with pyqlib 0.9.7 (default: <work>/venv, created)")
    parser.add_argument("--skip-project", action="store_true", help="Qlib, polars and the cross-check only")
    args = parser.parse_args(argv)
    if min(args.symbols, args.years, args.repeats) < 1:
        parser.error("--symbols, --years and --repeats must be positive")

    sys.path.insert(0, str(BENCH))
    from backfill_bench import load, machine, render, simulate, simulated_sessions, verdict

    n, years = args.symbols, args.years
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    print("Qlib benchmark: Qlib D.features vs polars over() vs the bronze + silver single-run backfill")
    print(machine(), flush=True)
    began = time.perf_counter()

    ohlcv_dir = simulate(work / f"sim_n{n}_y{years}", n, years, args.seed)
    sessions = simulated_sessions(years)
    start, end = sessions[0].isoformat(), sessions[-1].isoformat()
    symbol_years = n * years
    qlib_python = args.qlib_python or ensure_qlib_python(work)

    data = work / f"qlib_data_n{n}_y{years}"
    symbols, days, dump_seconds = write_qlib_layout(ohlcv_dir, data)
    bars = symbols * days
    print(
        f"  landing: {symbols} symbols x {days} sessions ({start}..{end}) = {bars:,} bars; Qlib layout written to "
        f"{data} in {dump_seconds:.1f} s (not timed below)  ({load()})",
        flush=True,
    )

    expressions = qlib_expressions()
    names = list(expressions)
    qlib_runs, polars_runs = [], []
    for k in range(args.repeats):
        spec = {"data": str(data), "expressions": list(expressions.values()), "start": start, "end": end}
        spec["out"] = str(work / "qlib_features.npz")
        qlib_runs.append(run_worker("qlib", qlib_python, spec, work, work))
        print(f"  Qlib D.features run {k + 1}: {qlib_runs[-1]['seconds']:.2f} s  ({load()})", flush=True)
        spec = {"ohlcv": str(ohlcv_dir), "out": str(work / "polars_features.parquet")}
        polars_runs.append(run_worker("polars", sys.executable, spec, work, REPO))
        print(f"  polars over() run {k + 1}: {polars_runs[-1]['seconds']:.2f} s  ({load()})", flush=True)
    qlib_run, polars_run = median_run(qlib_runs), median_run(polars_runs)

    print(
        "\ncross-check on every (symbol, date), error = |qlib - polars| / max(1, |polars|): Qlib against the timed "
        "polars run (float64 CSVs: differs by Qlib's float32 storage), and against the same polars expressions on "
        f"Qlib's float32 inputs with float32 log ratios, which must be <= {args.tolerance:g}; missing (null/NaN/inf) "
        "positions must agree with both"
    )
    rows, agree = cross_check(
        work / "qlib_features.npz", work / "polars_features.parquet", ohlcv_dir, names, args.tolerance
    )
    render(rows)
    if not agree:
        raise SystemExit(f"CROSS-CHECK FAILED: Qlib and polars disagree beyond {args.tolerance:g} (table above)")
    print(f"cross-check passed ({len(names)} expressions, {qlib_run['rows']:,} rows each)")

    project = None
    if not args.skip_project:
        lake = work / f"lake_n{n}_y{years}"
        import shutil

        shutil.rmtree(lake, ignore_errors=True)
        spec = {"lake": str(lake), "ohlcv": str(ohlcv_dir), "start": start, "end": end}
        print(f"\n  project backfill {start}..{end} into {lake}  ({load()})", flush=True)
        project = run_worker("project", sys.executable, spec, work, REPO)
        print(f"  project backfill: {project['seconds']:.1f} s  ({load()})", flush=True)

    def per_symbol_year(seconds: float) -> str:
        return f"{1000 * seconds / symbol_years:.1f}"

    q = qlib_run["seconds"]
    print(
        f"\n{n} symbols x {years} years = {bars:,} bars ({symbol_years} symbol-years); wall s = the engine's work "
        f"in a fresh process (imports and set-up excluded, shown below){'; median of ' + str(args.repeats) if args.repeats > 1 else ''}"
    )
    table = [["engine", "work", "wall s", "ms per symbol-year", "x Qlib"]]
    table.append(
        [
            f"Qlib {QLIB_VERSION} D.features ({len(names)} expressions, kernels 1, caches off)",
            "read .bin + compute",
            f"{q:.2f}",
            per_symbol_year(q),
            "1.0x",
        ]
    )
    p = polars_run["seconds"]
    table.append(
        [
            f"polars over() on the CSVs (the same {len(names)} expressions)",
            "read CSV + compute",
            f"{p:.2f}",
            per_symbol_year(p),
            f"{p / q:.2f}x",
        ]
    )
    if project:
        w = project["seconds"]
        table.append(
            [
                "this project, bronze + silver single-run backfill (ephemeral instance, as backfill_bench (a))",
                "CSV -> bronze -> daily -> features -> regimes, Delta writes, checks",
                f"{w:.1f}",
                per_symbol_year(w),
                f"{w / q:.1f}x",
            ]
        )
    render(table)
    print(
        f"start + imports + init (excluded): Qlib {qlib_run['ready']:.2f} s (qlib.init), polars "
        f"{polars_run['ready']:.2f} s"
        + (f", project {project['ready']:.2f} s (Dagster definitions)" if project else "")
        + f"; process walls: Qlib {qlib_run['process']:.1f}, polars {polars_run['process']:.1f}"
        + (f", project {project['process']:.1f} s" if project else " s")
    )
    if args.repeats > 1:
        print(
            "all runs s: Qlib "
            + ", ".join(f"{r['seconds']:.2f}" for r in qlib_runs)
            + "; polars "
            + ", ".join(f"{r['seconds']:.2f}" for r in polars_runs)
        )
    print(
        f"Qlib side: python {qlib_run['python']}, pyqlib {qlib_run['pyqlib']}, numpy {qlib_run['numpy']}, "
        f"pandas {qlib_run['pandas']}, mlflow {qlib_run['mlflow']} ({qlib_python}); polars threads "
        f"{polars_run['threads']}"
    )

    if project:
        w = project["seconds"]
        steps = project["steps"]
        step_total = sum(steps.values())
        print("\nthe project's run: steps (STEP_SUCCESS durations) and Dagster bookkeeping")
        rows = [["", "s", "share of wall"]]
        for step in [*STEPS, *sorted(set(steps) - set(STEPS))]:
            rows.append([step, f"{steps.get(step, 0.0):.1f}", f"{steps.get(step, 0.0) / w:.0%}"])
        rows.append(["steps total", f"{step_total:.1f}", f"{step_total / w:.0%}"])
        rows.append(["Dagster bookkeeping = wall - steps", f"{w - step_total:.1f}", f"{(w - step_total) / w:.0%}"])
        rows.append(["wall (execute_in_process)", f"{w:.1f}", "100%"])
        render(rows)

        events = project["events"]
        print("\nDagsterInstance.handle_new_event (the instance storing each event), by event type")
        rows = [["event type", "where", "events", "s", "share of wall"]]
        for key, (count, seconds) in sorted(events.items(), key=lambda kv: -kv[1][1]):
            kind, where = key.split("|")
            rows.append(
                [kind, "in steps" if where == "step" else "run", f"{count:,}", f"{seconds:.2f}", f"{seconds / w:.1%}"]
            )
        in_steps = sum(s for k, (_, s) in events.items() if k.endswith("|step"))
        outside = sum(s for k, (_, s) in events.items() if k.endswith("|run"))
        rows.append(
            ["total, stored during steps (inside the step times)", "", "", f"{in_steps:.2f}", f"{in_steps / w:.1%}"]
        )
        rows.append(
            ["total, stored outside steps (inside the bookkeeping)", "", "", f"{outside:.2f}", f"{outside / w:.1%}"]
        )
        render(rows)

        def seconds_of(kind: str) -> float:
            return sum(s for k, (_, s) in events.items() if k.split("|")[0] == kind)

        print(
            f"materialization events: stored {seconds_of('ASSET_MATERIALIZATION'):.2f} s, planned "
            f"{seconds_of('ASSET_MATERIALIZATION_PLANNED'):.2f} s; asset check events: evaluations "
            f"{seconds_of('ASSET_CHECK_EVALUATION'):.2f} s, planned {seconds_of('ASSET_CHECK_EVALUATION_PLANNED'):.2f} s"
        )
        work_proper = step_total - in_steps
        overhead = w - work_proper
        print(
            f"the steps' own work without the instance's event storage: {work_proper:.1f} s ({work_proper / w:.0%} "
            f"of wall); Dagster in all (bookkeeping + events stored during steps): {overhead:.1f} s "
            f"({overhead / w:.0%}); bookkeeping not spent storing events: {w - step_total - outside:.1f} s "
            "(planning, execution machinery, logging)"
        )

    print("\ngoals")
    if project:
        ratio = project["seconds"] / q
        share = (project["seconds"] - sum(project["steps"].values())) / project["seconds"]
        print(f"  ratio project / Qlib D.features = {ratio:.1f}x  (polars / Qlib = {p / q:.2f}x)")
        print(f"  goal 1 (backfill within {GOAL:.0f}x of Qlib D.features): {verdict(ratio <= GOAL)} ({ratio:.1f}x)")
        print(f"  stretch ({STRETCH:.0f}x): {verdict(ratio <= STRETCH)} ({ratio:.1f}x)")
        print(f"  bookkeeping <= {BOOKKEEPING_SHARE:.0%} of wall: {verdict(share <= BOOKKEEPING_SHARE)} ({share:.0%})")
    else:
        print("  project run skipped (--skip-project): no verdict")
    print(f"\n{load()}; total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3])
    else:
        main()
