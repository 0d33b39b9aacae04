"""Cost and MASE of the pipeline's ARIMA forecasts, in the configurations it can run, against refitting every day.

The pipeline (``lakehouse_assets/core/forecasting.py``) does not refit its models every day: with
the settings used here (``BENCH_SETTINGS``: model ``auto_arima``, ``fit_window`` 750, horizons 1, 5
and 21, at most AR(2) x MA(2)) it searches the ARIMA order on the first session of each month, on
the first session of each week either re-estimates that order's parameters (``arima_refit:
cadence``) or keeps the search's estimates (``arima_refit: order_selection``), and on every
session only Kalman-filters the latest parameters over the data since its fit's window began. The
order search is either pmdarima's stepwise ``auto_arima`` (``order_search: stepwise``: exact
likelihood of every candidate it visits) or the whole grid ranked by the exact likelihood at each
candidate's Hannan-Rissanen estimates, the winner then estimated by maximum likelihood
(``order_search: approximate``; statsmodels). Each configuration is one ``ours`` row:

* ``fit ms``: one order search (what a symbol costs on a fit day, the first session of a month);
* ``daily ms``: one ordinary day run on its own (``run_symbol`` of that one origin with the
  fits stored: the filter, the forecasts and the output rows), the mean over a sample of
  hold-out days; ``backfill ms/day``: the same days inside one run over the whole hold-out
  (the days of one refit share one filter pass);
* ``amortized ms``: the daily cost of a steady year: ``daily + (12 searches + 52 weekly
  re-estimations) / 252`` (re-estimations timed as what the all-in run over the hold-out adds
  to the searches and the backfill filter).

The baselines refit from scratch every day, on the same trailing 750-session window, with the
same bounded grid (``d = 0`` on returns, ``p, q <= 2``, stepwise from (0, 0), AIC, no seasonal
part), so their fit, daily and amortized costs are all one refit:

* ``pmdarima``: ``pm.auto_arima(...)`` with the pipeline's own arguments (``maxiter`` included),
  then ``predict(n_periods=5)``;
* ``statsforecast``: ``AutoARIMA(d=0, max_p=2, max_q=2, start_p=0, start_q=0, seasonal=False,
  stepwise=True, ic="aic").forecast(y, h=5)``, its exact CSS-ML fit (no approximation).

Every method sees the same numbers: percent log returns of the window ending at the origin, the
window counted in XNYS sessions (``window_start``) as the pipeline counts it (the pipeline's
filter starts where its fit's window starts, up to four sessions earlier). The runs of ours also
check that the run with stored fits and every day run alone give the all-in run's rows bit for
bit, and that every order search gives the same state when run again.

Panel: the three bundled real series, ^GSPC and ^IXIC from ``arch.data`` (to 2018-12-31) and MSFT
from ``pmdarima.datasets`` (to 2017-11-10), each cut to its last bars, plus ``--synthetic``
symbols block-bootstrapped (``--block`` days, fixed ``--seed``) from the daily log returns of the
three whole histories, on the XNYS sessions ending 2018-12-31. Each symbol has ``--holdout``
origins D (default 60) after 750 training sessions (and 30 more before those, so that the first
monthly order search of the pipeline also has a full window); the hold-out targets are the log
returns of the 1 and 5 sessions after D. The pipeline's task holds no bar after the last origin.

Accuracy: MASE of the 1-day (and 5-day) log-return forecast on the hold-out, computed identically
for every method. The naive forecast of a return under a random walk in price is 0, so the scale
is the in-sample MAE of the zero forecast: per symbol, ``mean |r_t(h)|`` over the 750-session
training window ending at the first origin (``r_t(h)`` the h-day log return, overlapping for
h = 5); a symbol's MASE is ``mean |r_{D}(h) - forecast_D(h)|`` over its hold-out origins divided
by that scale, and the panel's MASE is the mean over symbols. A naive (zero) row is printed for
reference: its MASE is the hold-out MAE of the zero forecast relative to the training one.

pmdarima's daily refit is the slowest method; ``--pmdarima-every K`` runs it on every K-th
hold-out day only (its cost is per symbol-day it ran, its MASE over those days), and a second
table compares the MASE of all methods on exactly that subsample.

Timing: one process, one BLAS/OpenMP thread (``threadpool_limits(1)``, as ``run_symbol`` runs
each symbol), CPU time (``process_time``: on a shared machine wall time mostly measures the other
processes) per symbol and method, methods interleaved per symbol in a rotating order, after an
untimed warm-up of each (imports, lazy initialisation). Goals judged (issue 17): the amortized
daily cost at least 20x below statsforecast's daily refit, at a 1-day MASE at most 2% above
statsforecast's.

Run from the repository root (``pip install -e '.[bench]'`` for statsforecast). The defaults
(8 symbols x 60 days, pmdarima every 4th day) take about three minutes on 2 cores::

    .venv/bin/python bench/forecast_bench.py
    .venv/bin/python bench/forecast_bench.py --synthetic 20 --holdout 120 --pmdarima-every 6
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import os
import resource
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from lakehouse_assets.config import load_config
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.core.forecasting import (
    ORDER_SEARCH,
    Fit,
    ForecastSettings,
    SymbolTask,
    Window,
    run_symbol,
    window_start,
)
from lakehouse_assets.sources.ohlcv import bundled_bars

BENCH_SETTINGS = ForecastSettings(
    horizons=(1, 5, 21),
    models=("auto_arima",),
    fit_window=750,
    min_observations=250,
    cadence="weekly",
    order_selection="monthly",
    arima_max_p=2,
    arima_max_q=2,
    arima_maxiter=30,
    sarimax_exog=(),
    garch_kind="garch",
    garch_dist="normal",
    ssa_window=60,
    ssa_energy=0.9,
    classifier_features=(),
    classifier_validation_fraction=0.15,
    classifier_min_sharpe=0.3,
    classifier_min_win_rate=0.45,
)
HORIZONS = (1, 5)  # scored horizons; the pipeline also forecasts 21 days, as configured
PRE_SESSIONS = 30  # bars before the first training window: a full window for the first monthly order search
SYNTHETIC_END = dt.date(2018, 12, 31)
PMDARIMA, STATSFORECAST, NAIVE = (
    "pmdarima auto_arima daily refit",
    "statsforecast AutoARIMA daily refit",
    "naive (zero return)",
)
SHORT = {PMDARIMA: "pmdarima", STATSFORECAST: "statsforecast"}
# the pipeline's configurations: (order_search, arima_refit) -> row name
CONFIGURATIONS = {
    ("stepwise", "cadence"): "ours: stepwise search monthly, re-estimate weekly",
    ("stepwise", "order_selection"): "ours: stepwise search monthly, no weekly re-estimate",
    ("approximate", "cadence"): "ours: approximate search monthly, re-estimate weekly",
    ("approximate", "order_selection"): "ours: approximate search monthly, no weekly re-estimate",
}
OURS = {
    name: dataclasses.replace(BENCH_SETTINGS, order_search=search, arima_refit=refit)
    for (search, refit), name in CONFIGURATIONS.items()
}
SHORT.update({name: f"{search}/{refit}" for (search, refit), name in CONFIGURATIONS.items()})
SEARCHES_PER_YEAR, WEEKS_PER_YEAR, SESSIONS_PER_YEAR = 12, 52, 252
COST_GOAL, MASE_GOAL = 20.0, 0.02


# --- the panel ------------------------------------------------------------------------------------


@dataclass
class Series:
    """One symbol's bars: ``returns[i]`` is the log return into ``dates[i]`` (NaN first)."""

    symbol: str
    dates: np.ndarray  # datetime64[D]
    log_close: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        return np.r_[np.nan, np.diff(self.log_close)]

    def tail(self, n: int, skip: int = 0) -> Series:
        """The last ``n`` bars before the last ``skip``."""
        end = len(self.dates) - skip
        if end < n:
            raise ValueError(f"{self.symbol}: {end} bars, {n} needed")
        return Series(self.symbol, self.dates[end - n : end], self.log_close[end - n : end])


def real_series() -> list[Series]:
    """^GSPC, ^IXIC (arch.data) and MSFT (pmdarima.datasets), whole bundled history."""
    config = load_config()
    datasets = [(b.dataset, b.symbol) for b in config.universe.bundled]
    bars = bundled_bars(datasets, config.exchange.timezone)
    out = []
    for _dataset, symbol in datasets:  # the configured order: the bootstrap draws from it
        own = bars.filter(pl.col("symbol") == symbol)
        dates = own.get_column("date").to_numpy().astype("datetime64[D]")
        out.append(Series(symbol, dates, np.log(own.get_column("close").to_numpy())))
    return out


def synthetic_series(
    real: Sequence[Series], count: int, length: int, block: int, seed: int, sessions: Sequence[dt.date]
) -> list[Series]:
    """``count`` series of ``length`` bars on the last XNYS ``sessions``: blocks of real log returns."""
    pools = [s.returns[1:] for s in real]
    pooled = np.concatenate(pools)
    owner = np.concatenate([np.full(len(p), i) for i, p in enumerate(pools)])
    starts = np.flatnonzero(owner[: len(owner) - block + 1] == owner[block - 1 :])  # within one series
    dates = np.array(sessions[-length:], dtype="datetime64[D]")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        picked = rng.choice(starts, size=math.ceil((length - 1) / block))
        r = pooled[(picked[:, None] + np.arange(block)).ravel()[: length - 1]]
        first = math.log(rng.uniform(10.0, 500.0))
        out.append(Series(f"SYN{i:03d}", dates, first + np.r_[0.0, np.cumsum(r)]))
    return out


@dataclass
class Case:
    """One symbol of the panel: its bars, origins, windows, targets and the forecasts of each method."""

    series: Series
    sessions: list[dt.date]
    origins: list[dt.date]
    first_origin: int  # index of origins[0] in series.dates
    windows: list[tuple[int, int]]  # bar slice of the window ending at each origin
    targets: dict[int, np.ndarray]  # horizon -> h-day log return after each origin
    scale: dict[int, float]  # horizon -> MAE of the zero forecast over the training window
    forecasts: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # CPU seconds: the all-in run, or the refits
    days_run: dict[str, int] = field(default_factory=dict)
    fits: dict[str, list[Fit]] = field(default_factory=dict)
    backfill_seconds: dict[str, float] = field(default_factory=dict)  # the hold-out again, fits stored
    single_seconds: dict[str, list[float]] = field(default_factory=dict)  # sampled days run alone
    search_seconds: dict[str, list[float]] = field(default_factory=dict)  # each order search, re-timed

    def window_returns_pct(self, j: int) -> np.ndarray:
        lo, hi = self.windows[j]
        y = self.series.returns[lo:hi]
        return y[~np.isnan(y)] * 100.0


def make_case(series: Series, calendar: TradingCalendar, holdout: int, fit_window: int) -> Case:
    first_origin = PRE_SESSIONS + fit_window
    dates = series.dates
    if len(dates) != first_origin + holdout + max(HORIZONS):
        raise ValueError(f"{series.symbol}: wrong length {len(dates)}")
    days: list[dt.date] = dates.astype(object).tolist()
    sessions = calendar.sessions(calendar.first_session, days[-1])
    strays = set(days) - set(sessions)
    if strays:
        raise ValueError(f"{series.symbol}: {len(strays)} bars on non-sessions, e.g. {min(strays)}")
    origins = days[first_origin : first_origin + holdout]
    windows = []
    for origin in origins:
        first = np.datetime64(window_start(sessions, origin, fit_window))
        lo = int(np.searchsorted(dates, first, side="left"))
        hi = int(np.searchsorted(dates, np.datetime64(origin), side="right"))
        windows.append((lo, hi))
    r = series.returns
    csum = np.r_[0.0, np.cumsum(np.nan_to_num(r))]  # csum[i] = r[0] + ... + r[i-1]
    k = np.arange(first_origin, first_origin + holdout)
    targets = {h: csum[k + 1 + h] - csum[k + 1] for h in HORIZONS}
    lo, hi = windows[0]
    train = r[lo:hi]
    assert not np.isnan(train).any() and len(train) >= fit_window - 5, series.symbol
    scale = {h: float(np.abs(np.convolve(train, np.ones(h), mode="valid")).mean()) for h in HORIZONS}
    return Case(series, sessions, origins, first_origin, windows, targets, scale)


# --- the methods ----------------------------------------------------------------------------------


def pipeline_task(
    case: Case, settings: ForecastSettings, states: dict, origins: list[dt.date] | None = None
) -> SymbolTask:
    """``run_symbol``'s task over the hold-out (or ``origins``): bars up to the last hold-out origin, no later."""
    s, end = case.series, case.first_origin + len(case.origins)
    return SymbolTask(
        s.symbol,
        s.dates[:end],
        s.returns[:end],
        s.log_close[:end],
        {},
        case.origins if origins is None else origins,
        case.sessions,
        states,
        settings,
    )


def run_ours(case: Case, name: str, settings: ForecastSettings, sample: np.ndarray) -> None:
    """The pipeline over the whole hold-out (all-in), again with its fits stored (a backfill
    that fits nothing), and each ``sample`` day alone with the fits stored (an ordinary day);
    the order searches are re-run on their windows and timed alone. Checks on the way that
    the stored-fit runs and the days alone give the all-in run's rows, bit for bit."""
    began = time.process_time()
    result = run_symbol(pipeline_task(case, settings, {}))
    case.seconds[name] = time.process_time() - began
    case.days_run[name] = len(case.origins)
    case.fits[name] = result.fits
    states = {(f.model, f.fit_date): f.state for f in result.fits}
    began = time.process_time()
    again = run_symbol(pipeline_task(case, settings, states))
    case.backfill_seconds[name] = time.process_time() - began
    if again.fits or again.rows != result.rows:
        raise AssertionError(f"{case.series.symbol} {name}: the run with stored fits refitted or differs")
    case.single_seconds[name] = []
    for j in sample:
        day = case.origins[j]
        began = time.process_time()
        alone = run_symbol(pipeline_task(case, settings, states, [day]))
        case.single_seconds[name].append(time.process_time() - began)
        if alone.rows != [row for row in result.rows if row["date"] == day]:
            raise AssertionError(f"{case.series.symbol} {name}: {day} alone differs from the backfill")
    case.search_seconds[name] = []
    search = ORDER_SEARCH[settings.order_search]
    for f in result.fits:
        if f.state["order_selected_on"] == str(f.fit_date):
            dates = case.series.dates
            lo = np.searchsorted(dates, np.datetime64(window_start(case.sessions, f.fit_date, settings.fit_window)))
            hi = np.searchsorted(dates, np.datetime64(f.fit_date), side="right")
            bars = Window(dates[lo:hi], case.series.returns[lo:hi], case.series.log_close[lo:hi])
            began = time.process_time()
            state = search(bars, settings)
            case.search_seconds[name].append(time.process_time() - began)
            if state != f.state:
                raise AssertionError(f"{case.series.symbol} {name}: the search of {f.fit_date} is not reproducible")
    point = {(row["date"], row["horizon"]): row["point"] for row in result.rows if row["model"] == "auto_arima"}
    case.forecasts[name] = {h: np.array([point[(d, h)] for d in case.origins]) for h in HORIZONS}


def pmdarima_forecaster(settings: ForecastSettings) -> Callable[[np.ndarray, int], np.ndarray]:
    import pmdarima as pm

    def forecast(y: np.ndarray, h: int) -> np.ndarray:
        model = pm.auto_arima(
            y,
            start_p=0,
            start_q=0,
            max_p=settings.arima_max_p,
            max_q=settings.arima_max_q,
            d=0,
            seasonal=False,
            stepwise=True,
            information_criterion="aic",
            suppress_warnings=True,
            error_action="ignore",
            maxiter=settings.arima_maxiter,
        )
        return np.asarray(model.predict(n_periods=h))

    return forecast


def statsforecast_forecaster(settings: ForecastSettings) -> Callable[[np.ndarray, int], np.ndarray]:
    from statsforecast.models import AutoARIMA

    model = AutoARIMA(
        d=0,
        D=0,
        max_p=settings.arima_max_p,
        max_q=settings.arima_max_q,
        start_p=0,
        start_q=0,
        seasonal=False,
        season_length=1,
        stepwise=True,
        ic="aic",
    )

    def forecast(y: np.ndarray, h: int) -> np.ndarray:
        return np.asarray(model.forecast(y=y, h=h)["mean"])

    return forecast


def run_refit(case: Case, name: str, forecaster: Callable[[np.ndarray, int], np.ndarray], days: np.ndarray) -> None:
    """A from-scratch fit and forecast on each of ``days`` (hold-out indices); NaN on the others."""
    hmax = max(HORIZONS)
    means = np.full((len(case.origins), hmax), np.nan)
    began = time.process_time()
    for j in days:
        means[j] = forecaster(case.window_returns_pct(j), hmax)
    case.seconds[name] = time.process_time() - began
    case.days_run[name] = len(days)
    case.forecasts[name] = {h: means[:, :h].sum(axis=1) / 100.0 for h in HORIZONS}


# --- scoring and report ---------------------------------------------------------------------------


def mase(cases: Sequence[Case], name: str, h: int, days: np.ndarray) -> float:
    """Mean over symbols of the hold-out MAE on ``days`` over the training MAE of the zero forecast."""
    per_symbol = []
    for case in cases:
        forecast = np.zeros(len(case.origins)) if name == NAIVE else case.forecasts[name][h]
        errors = np.abs(case.targets[h][days] - forecast[days])
        if np.isnan(errors).any():
            raise AssertionError(f"{case.series.symbol}: {name} has no forecast on some of the scored days")
        per_symbol.append(errors.mean() / case.scale[h])
    return float(np.mean(per_symbol))


def render(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def rotated(items: Sequence[str], i: int) -> list[str]:
    i %= len(items)
    return [*items[i:], *items[:i]]


@dataclass
class Costs:
    """Per symbol, CPU milliseconds: one fit day's search, one ordinary day alone, one day
    inside a backfill, a re-estimation, and the steady year's amortized daily cost."""

    fit: float
    daily: float
    backfill: float
    estimate: float
    searches: int
    estimates: int
    refits_daily: bool = False  # a baseline: every day is a fit day, nothing to amortize

    @property
    def amortized(self) -> float:
        if self.refits_daily:
            return self.daily
        refits = SEARCHES_PER_YEAR * self.fit + WEEKS_PER_YEAR * self.estimate
        return self.daily + refits / SESSIONS_PER_YEAR


def ours_costs(cases: Sequence[Case], name: str) -> Costs:
    searches = [t for c in cases for t in c.search_seconds[name]]
    singles = [t for c in cases for t in c.single_seconds[name]]
    days = sum(c.days_run[name] for c in cases)
    fits = sum(len(c.fits[name]) for c in cases)
    # the all-in run = backfill filtering + searches + re-estimations (copies when not re-estimating)
    refit_s = sum(c.seconds[name] - c.backfill_seconds[name] for c in cases) - sum(searches)
    estimates = fits - len(searches)
    return Costs(
        fit=1000 * float(np.mean(searches)),
        daily=1000 * float(np.mean(singles)),
        backfill=1000 * sum(c.backfill_seconds[name] for c in cases) / days,
        estimate=1000 * max(refit_s, 0.0) / max(estimates, 1),
        searches=len(searches),
        estimates=estimates,
    )


def refit_costs(cases: Sequence[Case], name: str) -> Costs:
    ms = 1000 * sum(c.seconds[name] for c in cases) / sum(c.days_run[name] for c in cases)
    return Costs(fit=ms, daily=ms, backfill=ms, estimate=0.0, searches=0, estimates=0, refits_daily=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=int, default=5, help="bootstrap symbols besides the 3 real (default 5)")
    parser.add_argument("--holdout", type=int, default=60, help="hold-out origins per symbol (default 60)")
    parser.add_argument("--pmdarima-every", type=int, default=4, help="run pmdarima on every K-th day (default 4)")
    parser.add_argument(
        "--daily-every", type=int, default=6, help="run every K-th day alone for the daily cost (default 6)"
    )
    parser.add_argument("--block", type=int, default=20, help="bootstrap block length in days (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    args = parser.parse_args(argv)
    if args.synthetic < 0 or min(args.holdout, args.pmdarima_every, args.daily_every, args.block) < 1:
        parser.error(
            "--holdout, --pmdarima-every, --daily-every and --block must be positive, --synthetic not negative"
        )

    warnings.simplefilter("ignore")  # estimator chatter (convergence, frequency, deprecations)
    np.seterr(all="ignore")
    import pmdarima
    import statsforecast
    import statsmodels
    from threadpoolctl import threadpool_limits

    settings = BENCH_SETTINGS
    print(
        f"forecast benchmark: statsforecast {statsforecast.__version__}, pmdarima {pmdarima.__version__},"
        f" statsmodels {statsmodels.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    started = time.perf_counter()
    calendar = TradingCalendar("XNYS", dt.date(1986, 1, 1))
    length = PRE_SESSIONS + settings.fit_window + args.holdout + max(HORIZONS)
    real = real_series()
    sessions = calendar.sessions(calendar.first_session, SYNTHETIC_END)
    panel = [s.tail(length) for s in real]
    panel += synthetic_series(real, args.synthetic, length, args.block, args.seed, sessions)
    cases = [make_case(s, calendar, args.holdout, settings.fit_window) for s in panel]
    every_day = np.arange(args.holdout)
    pmdarima_days = every_day[:: args.pmdarima_every]
    sample = every_day[args.daily_every // 2 :: args.daily_every]

    forecasters = {PMDARIMA: pmdarima_forecaster(settings), STATSFORECAST: statsforecast_forecaster(settings)}

    def ours(name: str) -> Callable[[Case, np.ndarray], None]:
        return lambda case, days: run_ours(case, name, OURS[name], sample)

    runs: dict[str, Callable[[Case, np.ndarray], None]] = {
        **{name: ours(name) for name in OURS},
        PMDARIMA: lambda case, days: run_refit(case, PMDARIMA, forecasters[PMDARIMA], days[:: args.pmdarima_every]),
        STATSFORECAST: lambda case, days: run_refit(case, STATSFORECAST, forecasters[STATSFORECAST], days),
    }
    with threadpool_limits(1):
        # untimed warm-up, one day long and before the hold-out: imports and lazy initialisation
        warm = make_case(real[0].tail(length - args.holdout + 1, skip=length), calendar, 1, settings.fit_window)
        for name, run in runs.items():
            if name in OURS:
                run_ours(warm, name, OURS[name], np.arange(1))
            else:
                run(warm, np.arange(1))
        print(
            f"panel: {len(cases)} symbols ({', '.join(c.series.symbol for c in cases)}) x"
            f" ({PRE_SESSIONS} + {settings.fit_window} training + {args.holdout} hold-out) sessions;"
            f" pmdarima on {len(pmdarima_days)} of {args.holdout} days; {len(sample)} days run alone per symbol",
            flush=True,
        )
        for i, case in enumerate(cases):
            for name in rotated(list(runs), i):
                runs[name](case, every_day)
            timings = ", ".join(f"{SHORT[n]} {case.seconds[n]:.2f} s" for n in runs)
            print(f"  [{i + 1}/{len(cases)}] {case.series.symbol} (to {case.origins[-1]}): {timings}", flush=True)

    costs = {name: ours_costs(cases, name) for name in OURS}
    costs.update({name: refit_costs(cases, name) for name in (STATSFORECAST, PMDARIMA)})
    for name in OURS:
        orders: dict[str, int] = {}
        for c in cases:
            for f in c.fits[name]:
                if f.state["order_selected_on"] == str(f.fit_date):
                    key = "({},{},{}){}".format(*f.state["order"], "+c" if f.state["trend"] == "c" else "")
                    orders[key] = orders.get(key, 0) + 1
        k = costs[name]
        print(
            f"\n{name}: {k.searches} order searches, {k.estimates} weekly fits over"
            f" {sum(c.days_run[name] for c in cases)} symbol-days; orders chosen"
            f" {', '.join(f'{o} x{n}' for o, n in sorted(orders.items()))}"
        )
    print(
        "\ncosts: CPU ms per symbol (one thread). fit = one order search (a fit day); daily = one ordinary day run"
        " alone; backfill = a day inside a run over the hold-out; amortized = daily + (12 searches + 52 weekly fits)"
        " / 252 (baselines: one refit per day for each)."
        f"\nMASE: hold-out MAE / training MAE of the zero-return forecast, mean over {len(cases)} symbols\n"
    )
    sf = costs[STATSFORECAST].amortized
    mase_sf = {h: mase(cases, STATSFORECAST, h, every_day) for h in HORIZONS}
    header = ["method", "fit ms", "daily ms", "backfill ms/day", "amortized ms", "x below statsforecast"]
    for h in HORIZONS:
        header += [f"MASE {h}d", f"{h}d vs statsforecast"]
    rows = [header]
    for m in (*OURS, STATSFORECAST, PMDARIMA, NAIVE):
        days = pmdarima_days if m == PMDARIMA else every_day
        if m == NAIVE:
            row = [m, "-", "-", "-", "-", "-"]
        else:
            k = costs[m]
            row = [
                m,
                f"{k.fit:.1f}",
                f"{k.daily:.2f}",
                f"{k.backfill:.2f}",
                f"{k.amortized:.2f}",
                f"{sf / k.amortized:.1f}x",
            ]
        for h in HORIZONS:
            value = mase(cases, m, h, days)
            row += [f"{value:.4f}", "(subsample)" if len(days) < len(every_day) else f"{value / mase_sf[h]:.4f}"]
        rows.append(row)
    render(rows)

    if args.pmdarima_every > 1:
        print(f"\nsame subsample: the {len(pmdarima_days)} days pmdarima ran on (every {args.pmdarima_every}-th)")
        rows = [["method", *(f"MASE {h}d" for h in HORIZONS)]]
        for m in (*OURS, STATSFORECAST, PMDARIMA, NAIVE):
            rows.append([m, *(f"{mase(cases, m, h, pmdarima_days):.4f}" for h in HORIZONS)])
        render(rows)

    print(
        "\ngoals (issue 17): amortized daily cost >= 20x below statsforecast's daily refit, 1-day MASE <= 2% above it"
    )
    passing = []
    for name in OURS:
        ratio = sf / costs[name].amortized
        gap = mase(cases, name, 1, every_day) / mase_sf[1] - 1.0
        ok = ratio >= COST_GOAL and gap <= MASE_GOAL
        if gap <= MASE_GOAL:
            passing.append(name)
        print(
            f"  {name}: cost {ratio:.1f}x below ({'met' if ratio >= COST_GOAL else 'NOT met'}),"
            f" MASE {abs(gap):.2%} {'above' if gap > 0 else 'below'} ({'met' if gap <= MASE_GOAL else 'NOT met'})"
            f"{': both met' if ok else ''}"
        )
    if passing:
        best = min(passing, key=lambda n: costs[n].amortized)
        print(f"  cheapest configuration within the MASE goal: {best} ({sf / costs[best].amortized:.1f}x below)")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS {peak_mib:,.0f} MiB; total run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
