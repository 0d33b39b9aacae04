"""Vectorized polars features against a per-symbol pandas loop: time per symbol-year.

``compute_features`` (``lakehouse_assets/core/features.py``) evaluates every indicator for every
symbol at once, as polars expressions over ``over("symbol")``. The baseline here is what the same
features look like written the usual pandas way, one symbol at a time::

    for symbol, g in bars.groupby("symbol"):
        g = g.sort_values("date")
        ... rolling / ewm / shift on g's columns ...

with the obvious pandas spelling of each indicator and the definitions of ``features.py``: rolling
``mean``/``sum``/``std``/``max`` for SMA 20/50, VWAP 20, Bollinger position, volatility ratio,
realized volatility, drawdown and the volume ratio; ``ewm(span=50, adjust=False)`` for the EMA;
Wilder's smoothing for RSI 14 and ADX 14 as ``ewm(alpha=1/n, adjust=False)`` of a series seeded
with the mean of its first ``n`` values; and ``rolling(100).apply(fn, raw=True)`` with a NumPy
function for the two window statistics that have no rolling primitive: the Hurst exponent (the
``np.polyfit`` slope of ``log std(log p_t - log p_{t-lag})`` on ``log lag``, lags 2..20) and the
Lo-MacKinlay variance ratios VR(2), VR(5), VR(10) over 100 returns. No code is shared with
``features.py`` beyond its window constants.

Before timing, both outputs are compared row by row on every feature column: the null (NaN)
positions must be identical, and the largest relative difference ``|a - b| / max(|a|, |b|)``
over the other rows must be below ``--tolerance`` (default 1e-6); the table of those differences
is printed, so the comparison is between two implementations of the same numbers.

Universes:

* ``real``: the three bundled daily series, whole history: ^GSPC and ^IXIC from ``arch.data``
  (1999-2018) and MSFT from ``pmdarima.datasets`` (1986-2017);
* ``synthetic``: ``--symbols`` series of ``--years`` x 252 weekdays each, a block bootstrap
  (``--block`` days, fixed ``--seed``) of the real bars: each block is a run of consecutive days
  of one real series, carrying that day's log return, open gap, high and low extensions beyond
  the open/close and volume relative to the series' median, so the synthetic OHLC is consistent
  (high >= max(open, close), low <= min(open, close)) and volume is positive (the two zero-volume
  ^IXIC days become one share).

A symbol-year is 252 bars of one symbol. Each implementation is timed from a frame of bars
(polars for ``compute_features``, the same bars converted to pandas beforehand for the loop) to the
feature frame sorted by symbol and date, ``--repeats`` times, interleaved (the order alternates
between repeats), after one untimed run of each that serves as warm-up and as the check. Reported
per universe: median seconds, milliseconds per symbol-year, and the pandas/polars ratio. The peak
RSS of the whole process (both implementations and the data together) is printed at the end.

Run from the repository root. The defaults take about two minutes on 2 cores, nearly all of it in
the pandas loop (about 0.23 ms per bar, most of it in ``rolling.apply``: the Hurst window about
0.18 ms, the three variance ratios about 0.05 ms); polars needs about 1.2 ms per symbol-year, so
the run time grows by about 4 x 60 ms per extra synthetic symbol-year (``--symbols 50`` takes
about four and a half minutes)::

    .venv/bin/python bench/features_bench.py
    .venv/bin/python bench/features_bench.py --symbols 50 --years 20 --repeats 5
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from lakehouse_assets.config import load_config
from lakehouse_assets.core.features import (
    BAR_COLUMNS,
    FEATURE_COLUMNS,
    HURST_LAGS,
    HURST_WINDOW,
    TRADING_DAYS_PER_YEAR,
    VARIANCE_RATIO_PERIODS,
    VARIANCE_RATIO_WINDOW,
    compute_features,
)
from lakehouse_assets.sources.ohlcv import bundled_bars

IMPLEMENTATIONS = ("polars vectorized", "pandas per-symbol loop")
SYNTHETIC_START = "2000-01-03"


# --- universes -----------------------------------------------------------------------------------


def real_bars() -> pl.DataFrame:
    """^GSPC, ^IXIC and MSFT daily bars (``BAR_COLUMNS``), whole bundled history."""
    config = load_config()
    datasets = [(b.dataset, b.symbol) for b in config.universe.bundled]
    return with_log_return(bundled_bars(datasets, config.exchange.timezone))


def with_log_return(bars: pl.DataFrame) -> pl.DataFrame:
    """Bars sorted by symbol and date with ``log_return`` = log(close / previous close), null first."""
    bars = bars.sort("symbol", "date")
    log_return = (pl.col("close") / pl.col("close").shift(1)).log().over("symbol")
    return bars.with_columns(log_return=log_return).select(BAR_COLUMNS)


def synthetic_bars(real: pl.DataFrame, symbols: int, years: int, block: int, seed: int) -> pl.DataFrame:
    """``symbols`` series of ``years * 252`` weekdays, block-bootstrapped from the days of ``real``."""
    oc_max = pl.max_horizontal("open", "close")
    oc_min = pl.min_horizontal("open", "close")
    days = (
        real.with_columns(prev_close=pl.col("close").shift(1).over("symbol"))
        .select(
            "symbol",
            "log_return",
            gap=(pl.col("open") / pl.col("prev_close")).log(),
            up=(pl.col("high") / oc_max).log().clip(lower_bound=0.0),
            down=(oc_min / pl.col("low")).log().clip(lower_bound=0.0),
            rel_volume=pl.col("volume") / pl.col("volume").median().over("symbol"),
        )
        .drop_nulls()
    )
    series = days.get_column("symbol").to_numpy()
    r, gap, up, down, rel_volume = (
        days.get_column(c).to_numpy() for c in ("log_return", "gap", "up", "down", "rel_volume")
    )
    # a block must not straddle two real series
    starts = np.flatnonzero(series[: len(series) - block + 1] == series[block - 1 :])

    rng = np.random.default_rng(seed)
    n = years * TRADING_DAYS_PER_YEAR
    dates = np.busday_offset(SYNTHETIC_START, np.arange(n), roll="forward").astype("datetime64[D]")
    frames = []
    for i in range(symbols):
        picked = rng.choice(starts, size=math.ceil(n / block))
        idx = (picked[:, None] + np.arange(block)).ravel()[:n]
        first_close = math.exp(rng.uniform(math.log(10.0), math.log(500.0)))
        close = first_close * np.exp(np.cumsum(r[idx]))
        prev_close = np.concatenate([[first_close], close[:-1]])
        open_ = prev_close * np.exp(gap[idx])
        high = np.maximum(open_, close) * np.exp(up[idx])
        low = np.minimum(open_, close) * np.exp(-down[idx])
        volume_level = math.exp(rng.uniform(math.log(1e5), math.log(1e8)))
        volume = np.maximum(np.round(rel_volume[idx] * volume_level), 1.0)
        frames.append(
            pl.DataFrame(
                {
                    "symbol": f"SYN{i:04d}",
                    "date": dates,
                    "open": open_,
                    "high": high,
                    "low": low,
                    "close": close,
                    "volume": volume,
                }
            )
        )
    bars = with_log_return(pl.concat(frames))
    ok = (
        (pl.col("high") >= pl.max_horizontal("open", "close"))
        & (pl.col("low") <= pl.min_horizontal("open", "close"))
        & (pl.col("low") > 0)
        & (pl.col("volume") > 0)
    )
    assert bars.select(ok.all()).item(), "synthetic bars are not consistent"
    return bars


def symbol_years(bars: pl.DataFrame) -> float:
    return bars.height / TRADING_DAYS_PER_YEAR


# --- the pandas baseline -------------------------------------------------------------------------


def wilder(values: pd.Series, n: int, first: int) -> pd.Series:
    """Wilder's smoothing seeded at position ``first`` with the mean of the ``n`` values ending there."""
    seeded = values.copy()
    seeded.iloc[:first] = np.nan
    if len(values) > first:
        seeded.iloc[first] = values.iloc[first - n + 1 : first + 1].mean(skipna=False)
    return seeded.ewm(alpha=1.0 / n, adjust=False).mean()


def rsi(close: pd.Series, n: int) -> pd.Series:
    change = close.diff()
    gain = wilder(change.clip(lower=0.0), n, n)
    loss = wilder((-change).clip(lower=0.0), n, n)
    return 100.0 * gain / (gain + loss)


def adx(high: pd.Series, low: pd.Series, close: pd.Series, n: int) -> pd.Series:
    prev_close = close.shift(1)
    up, down = high.diff(), -low.diff()
    plus_dm = up.where((up > down) & (up > 0), 0.0)
    minus_dm = down.where((down > up) & (down > 0), 0.0)
    true_range = pd.concat([high - low, (high - prev_close).abs(), (low - prev_close).abs()], axis=1).max(axis=1)
    atr = wilder(true_range, n, n)
    plus_di = 100.0 * wilder(plus_dm, n, n) / atr
    minus_di = 100.0 * wilder(minus_dm, n, n) / atr
    dx = 100.0 * (plus_di - minus_di).abs() / (plus_di + minus_di)
    return wilder(dx, n, 2 * n - 1)


LOG_LAGS = np.log(np.array(HURST_LAGS, dtype=float))


def hurst_fn(log_close: np.ndarray) -> float:
    """Slope of log std of lagged differences on log lag, over one window of log closes."""
    sigma = np.array([np.std(log_close[lag:] - log_close[:-lag], ddof=1) for lag in HURST_LAGS])
    if (sigma <= 0).any():
        return np.nan
    return np.polyfit(LOG_LAGS, np.log(sigma), 1)[0]


def variance_ratio_fn(returns: np.ndarray, q: int) -> float:
    """Lo-MacKinlay VR(q) of one window of log returns (overlapping q-day sums, unbiased)."""
    t = len(returns)
    variance = returns.var(ddof=1)
    if variance == 0:
        return np.nan
    q_day = np.convolve(returns, np.ones(q), mode="valid")
    m = q * (t - q + 1) * (1.0 - q / t)
    return ((q_day - q * returns.mean()) ** 2).sum() / m / variance


def pandas_symbol_features(g: pd.DataFrame) -> pd.DataFrame:
    close, high, low, volume, r = g["close"], g["high"], g["low"], g["volume"], g["log_return"]
    f = pd.DataFrame({"symbol": g["symbol"], "date": g["date"], "close": close})
    f["sma_20"] = close.rolling(20).mean()
    f["sma_50"] = close.rolling(50).mean()
    f["ema_50"] = close.ewm(span=50, adjust=False, min_periods=50).mean()
    f["rsi_14"] = rsi(close, 14)
    typical = (high + low + close) / 3.0
    f["vwap_20"] = (typical * volume).rolling(20).sum() / volume.rolling(20).sum()
    f["bollinger_position"] = (close - close.rolling(20).mean()) / (2.0 * close.rolling(20).std())
    f["momentum_20"] = close / close.shift(20) - 1.0
    f["volatility_ratio"] = r.rolling(10).std() / r.rolling(63).std()
    f["adx_14"] = adx(high, low, close, 14)
    f["hurst_100"] = np.log(close).rolling(HURST_WINDOW).apply(hurst_fn, raw=True)
    for q in VARIANCE_RATIO_PERIODS:
        f[f"variance_ratio_{q}"] = r.rolling(VARIANCE_RATIO_WINDOW).apply(variance_ratio_fn, raw=True, args=(q,))
    f["volume_ma_ratio"] = volume / volume.rolling(20).mean()
    f["realized_vol_21"] = r.rolling(21).std() * math.sqrt(TRADING_DAYS_PER_YEAR)
    f["drawdown_252"] = close / close.rolling(252).max() - 1.0
    return f.replace([np.inf, -np.inf], np.nan)


def pandas_features(bars: pd.DataFrame) -> pd.DataFrame:
    """Every feature, one symbol at a time; rows sorted by symbol and date."""
    out = []
    for _symbol, g in bars.groupby("symbol", sort=True):
        out.append(pandas_symbol_features(g.sort_values("date")))
    return pd.concat(out, ignore_index=True)


# --- check, timing, report -----------------------------------------------------------------------


def max_relative_differences(expected: pl.DataFrame, actual: pd.DataFrame) -> dict[str, float]:
    """Per feature column, the largest ``|a - b| / max(|a|, |b|)``; raises if nulls or keys differ."""
    if expected.height != len(actual):
        raise AssertionError(f"row counts differ: polars {expected.height}, pandas {len(actual)}")
    if (expected.get_column("symbol").to_numpy() != actual["symbol"].to_numpy()).any():
        raise AssertionError("symbol order differs")
    if (expected.get_column("date").to_numpy() != actual["date"].to_numpy().astype("datetime64[D]")).any():
        raise AssertionError("date order differs")
    out = {}
    for name in FEATURE_COLUMNS:
        a = expected.get_column(name).to_numpy()  # nulls become NaN
        b = actual[name].to_numpy(dtype=float)
        null_a, null_b = np.isnan(a), np.isnan(b)
        if (null_a != null_b).any():
            rows = np.flatnonzero(null_a != null_b)
            raise AssertionError(f"{name}: null positions differ at {len(rows)} rows, first {rows[:5].tolist()}")
        a, b = a[~null_a], b[~null_b]
        scale = np.maximum(np.abs(a), np.abs(b))
        diff = np.abs(a - b)
        rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
        out[name] = float(rel.max()) if len(rel) else 0.0
    return out


@dataclass
class Universe:
    name: str
    bars: pl.DataFrame

    @property
    def symbols(self) -> int:
        return self.bars.get_column("symbol").n_unique()


def measure(universe: Universe, repeats: int, tolerance: float) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds per implementation and the max relative difference per column."""
    bars_pl = universe.bars
    bars_pd = bars_pl.to_pandas()
    runs: dict[str, Callable[[], object]] = {
        IMPLEMENTATIONS[0]: lambda: compute_features(bars_pl),
        IMPLEMENTATIONS[1]: lambda: pandas_features(bars_pd),
    }
    expected = compute_features(bars_pl)
    differences = max_relative_differences(expected, pandas_features(bars_pd))
    worst = max(differences, key=differences.__getitem__)
    if differences[worst] >= tolerance:
        raise AssertionError(f"{universe.name}: {worst} differs by {differences[worst]:.2e} >= {tolerance:g}")

    samples: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
    for i in range(repeats):
        for name in IMPLEMENTATIONS if i % 2 == 0 else IMPLEMENTATIONS[::-1]:
            t0 = time.perf_counter()
            runs[name]()
            samples[name].append(time.perf_counter() - t0)
            print(f"  {universe.name} repeat {i + 1}/{repeats}: {name} {samples[name][-1]:.2f} s", flush=True)
    return {name: statistics.median(values) for name, values in samples.items()}, differences


def render(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def print_timings(universe: Universe, seconds: dict[str, float], repeats: int) -> None:
    years = symbol_years(universe.bars)
    print(
        f"\n{universe.name}: {universe.symbols} symbols, {universe.bars.height:,} bars = {years:.1f} symbol-years"
        f" (median of {repeats})"
    )
    base = seconds[IMPLEMENTATIONS[0]]
    rows = [["implementation", "total (s)", "ms / symbol-year", "pandas / polars"]]
    for name in IMPLEMENTATIONS:
        rows.append(
            [name, f"{seconds[name]:.3f}", f"{1000 * seconds[name] / years:.2f}", f"{seconds[name] / base:.1f}x"]
        )
    render(rows)


def print_differences(differences: dict[str, dict[str, float]]) -> None:
    print("\nmax relative difference pandas vs polars (same null positions required)")
    names = list(differences)
    rows = [["feature", *names]]
    for column in FEATURE_COLUMNS:
        rows.append([column, *(f"{differences[name][column]:.1e}" for name in names)])
    render(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=20, help="synthetic symbols (default 20)")
    parser.add_argument("--years", type=int, default=20, help="years of 252 bars per synthetic symbol (default 20)")
    parser.add_argument("--block", type=int, default=20, help="bootstrap block length in days (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per implementation (default 3)")
    parser.add_argument("--tolerance", type=float, default=1e-6, help="max relative difference (default 1e-6)")
    args = parser.parse_args(argv)
    if min(args.symbols, args.years, args.block, args.repeats) < 1:
        parser.error("--symbols, --years, --block and --repeats must be positive")

    print(
        f"features benchmark: polars {pl.__version__} ({pl.thread_pool_size()} threads), pandas {pd.__version__},"
        f" numpy {np.__version__}, {os.cpu_count()} CPUs",
        flush=True,
    )
    started = time.perf_counter()
    real = real_bars()
    universes = [
        Universe("real", real),
        Universe("synthetic", synthetic_bars(real, args.symbols, args.years, args.block, args.seed)),
    ]
    results = {}
    for universe in universes:
        print(f"{universe.name}: checking and timing ...", flush=True)
        results[universe.name] = measure(universe, args.repeats, args.tolerance)
    for universe in universes:
        print_timings(universe, results[universe.name][0], args.repeats)
    print_differences({name: result[1] for name, result in results.items()})
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS {peak_mib:,.0f} MiB; total run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
