"""The drift monitor on a simulated universe: false alarms on stationary series, and how fast it finds a
tripled volatility and a crash.

Method. ``simulate_universe`` (the model behind ``lakehouse simulate``: a GARCH(1,1) market factor
fitted to the bundled S&P 500, sector factors, idiosyncratic noise; stationary by construction)
draws ``--symbols`` symbols over ``--years`` years with ``--seed``. Bars go through the pipeline's
own ``compute_features`` and ``regimes.classify`` (``config/regimes.yaml``), and the monitor of
``lakehouse_assets/core/drift.py`` runs with the shipped ``DriftRules`` (``config/monitoring.yaml``).
Next to it, the test it replaced: KS of the latest 100 values against the 500 before, drifted when
D > 0.15 and the p-value with AR(1) effective sizes ``n (1 - r) / (1 + r)`` is below 0.05 ("old").

(a) False alarms: every session from the ``FIRST_SESSION``-th on (all windows full), every symbol:
the share of symbol-sessions on which each monitored feature is drifted (goal <= 10% per feature),
the worst symbol's share, and the old test's share. Regime drift and "any feature" for information.

(b) Tripled volatility: at ``INJECTIONS`` (symbol, session) pairs drawn at random (seed), the
symbol's log returns are multiplied by 3 from that session on; closes are rebuilt from the returns,
and open, high and low keep their log distance from the close, also tripled (so the OHLC bounds
hold and the range widens like the returns). Features and regimes are recomputed from the whole
history. The delay is the number of sessions from the injection (0 = the injection day) to the
first session on which a test raises a flag that the un-injected path does not raise on the same
session. Goals: a volatility-type feature (``VOLATILITY_FEATURES``) within 25 sessions (delay <= 24)
and the regime test within 10 (delay <= 9), in at least 90% of injections.

(c) Crash: at the same pairs, the session's log return is replaced by log(0.8) (a -20% day), later
prices shift by the same factor. Goal: any of the monitor's tests flags within 5 sessions
(delay <= 4) in at least 90% of injections.

(d) Cost: ``feature_drift`` and ``regime_drift`` for 100 symbols and one day (the daily run's
shape, with the sustained-day lookback), per symbol-day.

Run from the repository root (about two minutes on 2 cores); ``--rule NAME=VALUE`` (repeatable)
overrides a field of ``DriftRules`` to try another setting::

    .venv/bin/python bench/drift_eval.py
    .venv/bin/python bench/drift_eval.py --rule window=25 --rule reference=250
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import os
import platform
import statistics
import time

import numpy as np
import polars as pl

from lakehouse_assets.config import load_config
from lakehouse_assets.core import drift, regimes
from lakehouse_assets.core.features import compute_features
from lakehouse_assets.core.simulate import simulate_universe
from lakehouse_assets.sources.simulated import calibrated_market, simulation_sessions

START = dt.date(2008, 1, 2)
FIRST_SESSION = 800  # sessions before the first one evaluated: drawdown_252, the old 600-value windows, regimes
FALSE_ALARM_GOAL = 0.10
DETECTION_GOAL = 0.90
VOLATILITY_FEATURES = ("realized_vol_21", "volatility_ratio", "momentum_20")
VOLATILITY_HORIZON, REGIME_HORIZON, CRASH_HORIZON = 25, 10, 5
VOL_MULTIPLIER = 3.0
SHOCK = math.log(0.8)
INJECTIONS = 60
OLD_WINDOW, OLD_REFERENCE, OLD_THRESHOLD, OLD_ALPHA = 100, 500, 0.15, 0.05
COST_SYMBOLS = 100

Flags = dict[tuple[str, dt.date, str], set[str]]


# --- data ---------------------------------------------------------------------------------------


def universe_bars(n_symbols: int, sessions: list[dt.date], seed: int) -> pl.DataFrame:
    """``ohlcv_daily``-shaped rows of a simulated universe."""
    u = simulate_universe(calibrated_market(), n_symbols, len(sessions), seed)
    frames = [
        pl.DataFrame(
            {
                "symbol": symbol,
                "date": sessions,
                "open": u.open[:, i],
                "high": u.high[:, i],
                "low": u.low[:, i],
                "close": u.close[:, i],
                "volume": u.volume[:, i],
            }
        )
        for i, symbol in enumerate(u.symbols)
    ]
    return with_log_return(pl.concat(frames))


def with_log_return(bars: pl.DataFrame) -> pl.DataFrame:
    return bars.with_columns(log_return=(pl.col("close") / pl.col("close").shift(1)).log().over("symbol"))


def rebuild(bars: pl.DataFrame, returns: np.ndarray, at: int, spread: float) -> pl.DataFrame:
    """One symbol's ``bars`` with closes rebuilt from ``returns`` (log) from row ``at`` on, and open,
    high and low at ``spread`` times their log distance from the close (rows ``at`` on)."""
    close = bars.get_column("close").to_numpy()
    new_close = close.copy()
    new_close[at:] = close[at - 1] * np.exp(np.cumsum(returns[at:]))
    scale = np.where(np.arange(len(close)) >= at, spread, 1.0)

    def moved(column: str) -> pl.Series:
        price = bars.get_column(column).to_numpy()
        return pl.Series(new_close * np.exp(scale * np.log(price / close)))

    return with_log_return(
        bars.with_columns(open=moved("open"), high=moved("high"), low=moved("low"), close=pl.Series(new_close))
    )


def log_returns(bars: pl.DataFrame) -> np.ndarray:
    return np.r_[0.0, np.diff(np.log(bars.get_column("close").to_numpy()))]


def tripled_volatility(bars: pl.DataFrame, at: int) -> pl.DataFrame:
    returns = log_returns(bars)
    returns[at:] *= VOL_MULTIPLIER
    return rebuild(bars, returns, at, VOL_MULTIPLIER)


def crash(bars: pl.DataFrame, at: int) -> pl.DataFrame:
    returns = log_returns(bars)
    returns[at] = SHOCK
    return rebuild(bars, returns, at, 1.0)


# --- the old test (for comparison) --------------------------------------------------------------


def old_ks_drifted(current: np.ndarray, reference: np.ndarray) -> bool:
    """The replaced rule: D > 0.15 and the Kolmogorov p-value with AR(1) effective sizes < 0.05."""
    from scipy import special

    def effective(x: np.ndarray) -> float:
        c = x - x.mean()
        den = float(c @ c)
        r = min(max(float(c[:-1] @ c[1:]) / den if den else 0.0, 0.0), 0.99)
        return len(x) * (1 - r) / (1 + r)

    a, b = np.sort(current), np.sort(reference)
    pooled = np.concatenate([a, b])
    d = float(
        np.max(np.abs(np.searchsorted(a, pooled, "right") / len(a) - np.searchsorted(b, pooled, "right") / len(b)))
    )
    if d <= OLD_THRESHOLD:
        return False
    n1, n2 = effective(current), effective(reference)
    return float(special.kolmogorov(d * math.sqrt(n1 * n2 / (n1 + n2)))) < OLD_ALPHA


def old_flags(features: pl.DataFrame, days: list[dt.date], names: tuple[str, ...]) -> Flags:
    """(symbol, day, "feature") -> the features the old test flags."""
    out: Flags = {}
    wanted = np.array(days, dtype="datetime64[D]")
    for (symbol,), group in features.sort("symbol", "date").group_by("symbol", maintain_order=True):
        for name in names:
            present = group.filter(pl.col(name).is_not_null() & pl.col(name).is_not_nan())
            dates = present.get_column("date").to_numpy().astype("datetime64[D]")
            values = present.get_column(name).to_numpy()
            for day in wanted[np.isin(wanted, dates)]:
                k = int(np.searchsorted(dates, day, side="right"))
                if k < OLD_WINDOW + OLD_REFERENCE // 2:
                    continue
                ref_start = max(k - OLD_WINDOW - OLD_REFERENCE, 0)
                if old_ks_drifted(values[k - OLD_WINDOW : k], values[ref_start : k - OLD_WINDOW]):
                    out.setdefault((str(symbol), day.astype(dt.date), "feature"), set()).add(name)
    return out


# --- the monitor --------------------------------------------------------------------------------


def monitor(
    bars: pl.DataFrame, days: list[dt.date], rules: drift.DriftRules, regime_rules: regimes.RegimeRules
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Features and the feature and regime drift reports of ``days``, all computed from ``bars``."""
    features = compute_features(bars)
    labels = regimes.classify(features, regime_rules, str(bars["symbol"][0]))
    reports = pl.concat([drift.feature_drift(features, days, rules), drift.regime_drift(labels, days, rules)])
    return features, reports


def flags(reports: pl.DataFrame) -> Flags:
    """(symbol, day, kind) -> the names drifted that day."""
    out: Flags = {}
    for row in reports.filter(pl.col("drifted")).select("symbol", "as_of", "kind", "name").iter_rows():
        out.setdefault((row[0], row[1], row[2]), set()).add(row[3])
    return out


def first_delay(injected: Flags, real: Flags, symbol: str, days: list[dt.date], kind: str, names: set[str]) -> float:
    """Sessions from ``days[0]`` to the first ``kind`` flag among ``names`` (all names when empty)
    that the real path does not raise that session; inf when none."""
    for delay, day in enumerate(days):
        new = injected.get((symbol, day, kind), set()) - real.get((symbol, day, kind), set())
        if new & names if names else new:
            return delay
    return math.inf


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def share(delays: list[float], horizon: int) -> float:
    return sum(d < horizon for d in delays) / len(delays)


def show(delays: list[float]) -> str:
    found = [d for d in delays if not math.isinf(d)]
    return f"{statistics.median(found):g}" if found else "-"


# --- the parts ----------------------------------------------------------------------------------


def false_alarms(reports: pl.DataFrame, old: Flags, rules: drift.DriftRules) -> list[tuple[str, float]]:
    """Print part (a); return (feature, false-alarm share) per monitored feature."""
    feature_rows = reports.filter(pl.col("kind") == "feature")
    assert feature_rows.get_column("statistic").null_count() == 0, "evaluation days should be past warm-up"
    sessions = feature_rows.select("symbol", "as_of").unique().height
    per_symbol = feature_rows.group_by("name", "symbol").agg(pl.col("drifted").mean())
    worst = dict(per_symbol.group_by("name").agg(pl.col("drifted").max()).iter_rows())
    rate = dict(feature_rows.group_by("name").agg(pl.col("drifted").mean()).iter_rows())
    old_count = {name: sum(name in v for v in old.values()) for name in rules.features}
    small = feature_rows.filter((pl.col("p_value") <= rules.alpha) & (pl.col("statistic") <= rules.threshold)).height
    print(f"\n(a) false alarms: share of symbol-sessions flagged ({sessions} symbol-sessions, stationary universe)")
    print(f"{'check':<30}{'block KS':>10}{'worst symbol':>14}{'old AR(1) KS':>14}")
    out = []
    for name in rules.features:
        out.append((name, rate[name]))
        print(f"{'feature ' + name:<30}{rate[name]:>10.1%}{worst[name]:>14.1%}{old_count[name] / sessions:>14.1%}")
    any_new = (
        feature_rows.group_by("symbol", "as_of").agg(pl.col("drifted").any()).select(pl.col("drifted").mean()).item()
    )
    print(f"{'any feature':<30}{any_new:>10.1%}{'':>14}{len(old) / sessions:>14.1%}")
    regime_rows = reports.filter(pl.col("kind") == "regime")
    print(f"{'regime chi-square (info)':<30}{regime_rows.select(pl.col('drifted').mean()).item():>10.1%}")
    refits = reports.filter(pl.col("refit")).height
    print(f"    refits asked: {refits} ({refits / sessions:.2%} of symbol-sessions)")
    print(f"    rows with p <= alpha but D <= {rules.threshold} (held back by the minimum effect): {small}")
    return out


def injections(
    bars: pl.DataFrame,
    sessions: list[dt.date],
    sites: list[tuple[str, int]],
    inject: object,
    rules: drift.DriftRules,
    regime_rules: regimes.RegimeRules,
    real: Flags,
    real_old: Flags,
) -> dict[str, list[float]]:
    """Delays per test for each injection site."""
    delays: dict[str, list[float]] = {}
    by_symbol = {s: g for (s,), g in bars.group_by("symbol")}
    for symbol, at in sites:
        one = by_symbol[symbol].sort("date")
        days = sessions[at : at + VOLATILITY_HORIZON]
        features, reports = monitor(inject(one, at), days, rules, regime_rules)  # type: ignore[operator]
        got, got_old = flags(reports), old_flags(features, days, rules.features)
        row = {name: first_delay(got, real, symbol, days, "feature", {name}) for name in rules.features}
        row["volatility features"] = first_delay(got, real, symbol, days, "feature", set(VOLATILITY_FEATURES))
        row["any feature"] = first_delay(got, real, symbol, days, "feature", set())
        row["regime"] = first_delay(got, real, symbol, days, "regime", set())
        row["any test"] = min(row["any feature"], row["regime"])
        row["old volatility features"] = first_delay(
            got_old, real_old, symbol, days, "feature", set(VOLATILITY_FEATURES)
        )
        row["old any feature"] = first_delay(got_old, real_old, symbol, days, "feature", set())
        for key, value in row.items():
            delays.setdefault(key, []).append(value)
    return delays


def print_delays(title: str, delays: dict[str, list[float]], horizons: dict[str, int]) -> None:
    print(f"\n{title}")
    print(f"{'test':<34}{'found within':>13}{'share':>8}{'median delay':>14}")
    for key, values in delays.items():
        horizon = horizons.get(key, VOLATILITY_HORIZON)
        print(f"{key:<34}{horizon:>13}{share(values, horizon):>8.0%}{show(values):>14}")


def cost(rules: drift.DriftRules, regime_rules: regimes.RegimeRules, seed: int) -> float:
    """Seconds per symbol-day of the daily run's drift step (100 symbols, one day)."""
    sessions = simulation_sessions(START, START + dt.timedelta(days=3 * 365))
    bars = universe_bars(COST_SYMBOLS, sessions, seed)
    features = compute_features(bars)
    labels = regimes.classify(features, regime_rules, str(bars["symbol"][0]))
    day = [sessions[-1]]
    clock = time.perf_counter()
    drift.feature_drift(features, day, rules)
    drift.regime_drift(labels, day, rules)
    return (time.perf_counter() - clock) / COST_SYMBOLS


def parse_rules(parser: argparse.ArgumentParser, overrides: list[str]) -> drift.DriftRules:
    """The shipped ``DriftRules`` (config/monitoring.yaml) with ``NAME=VALUE`` overrides (the value parsed
    as the field's type)."""
    rules = load_config().drift
    changes: dict[str, object] = {}
    for item in overrides:
        name, _, value = item.partition("=")
        if name not in {f.name for f in dataclasses.fields(rules)} or name == "features":
            parser.error(f"--rule {item}: not a numeric field of DriftRules")
        try:
            changes[name] = type(getattr(rules, name))(value)
        except ValueError:
            parser.error(f"--rule {item}: not a {type(getattr(rules, name)).__name__}")
    return dataclasses.replace(rules, **changes)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", action="append", default=[], metavar="NAME=VALUE", help="override a DriftRules field")
    parser.add_argument("--symbols", type=int, default=16, help="symbols of the simulated universe (default 16)")
    parser.add_argument("--years", type=int, default=10, help="years of sessions (default 10)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the universe and the injection sites")
    args = parser.parse_args()
    rules = parse_rules(parser, args.rule)
    started = time.perf_counter()
    print(f"machine: {platform.platform()}, python {platform.python_version()}, {os.cpu_count()} cpus")
    regime_rules = load_config().regimes
    sessions = simulation_sessions(START, dt.date(START.year + args.years, 1, 1) - dt.timedelta(days=1))
    bars = universe_bars(args.symbols, sessions, args.seed)
    days = sessions[FIRST_SESSION:]
    print(f"data: simulate_universe, {args.symbols} symbols x {len(sessions)} sessions, seed {args.seed}")
    print(f"rules: {rules}")
    clock = time.perf_counter()
    features, reports = monitor(bars, days, rules, regime_rules)
    print(f"    monitor over {len(days)} sessions x {args.symbols} symbols: {time.perf_counter() - clock:.1f} s")
    old = old_flags(features, days, rules.features)
    rates = false_alarms(reports, old, rules)

    rng = np.random.default_rng(args.seed)
    symbols = sorted(bars["symbol"].unique().to_list())
    positions = rng.integers(FIRST_SESSION, len(sessions) - VOLATILITY_HORIZON, INJECTIONS)
    sites = [(symbols[i % len(symbols)], int(at)) for i, at in enumerate(positions)]
    real = flags(reports)
    vol = injections(bars, sessions, sites, tripled_volatility, rules, regime_rules, real, old)
    print_delays(
        f"(b) tripled volatility, {len(sites)} injections: share found within the horizon, median delay in sessions",
        vol,
        {"regime": REGIME_HORIZON},
    )
    shock = injections(bars, sessions, sites, crash, rules, regime_rules, real, old)
    horizons = dict.fromkeys(shock, CRASH_HORIZON)
    print_delays(f"(c) -20% crash, {len(sites)} injections", shock, horizons)
    per_symbol_day = cost(rules, regime_rules, args.seed)
    print(
        f"\n(d) cost of feature + regime drift, {COST_SYMBOLS} symbols x 1 day: {per_symbol_day * 1e3:.1f} ms per symbol-day"
    )

    print("\ngoals")
    for name, rate in rates:
        print(f"  false alarms {name}: {rate:.1%}, goal <= {FALSE_ALARM_GOAL:.0%}: {verdict(rate <= FALSE_ALARM_GOAL)}")
    found = share(vol["volatility features"], VOLATILITY_HORIZON)
    print(
        f"  tripled volatility found by {', '.join(VOLATILITY_FEATURES)} within {VOLATILITY_HORIZON} sessions: "
        f"{found:.0%}, goal >= {DETECTION_GOAL:.0%}: {verdict(found >= DETECTION_GOAL)}"
    )
    found = share(vol["regime"], REGIME_HORIZON)
    print(
        f"  tripled volatility found by the regime test within {REGIME_HORIZON} sessions: {found:.0%}, "
        f"goal >= {DETECTION_GOAL:.0%}: {verdict(found >= DETECTION_GOAL)}"
    )
    found = share(shock["any test"], CRASH_HORIZON)
    print(
        f"  -20% crash found by any test within {CRASH_HORIZON} sessions: {found:.0%}, "
        f"goal >= {DETECTION_GOAL:.0%}: {verdict(found >= DETECTION_GOAL)}"
    )
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
