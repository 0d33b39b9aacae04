"""The drift monitor on the bundled S&P 500: false alarms on ordinary years, and how fast it sees a crash.

Method. The bundled ^GSPC history (1999-2018, ``arch``) goes through the pipeline's own
``compute_features`` and ``regimes.classify`` (thresholds from ``config/regimes.yaml``), and the
monitor of ``lakehouse_assets/core/drift.py`` runs with the shipped ``DriftRules``
(``config/monitoring.yaml``): KS of the latest 100 values of each of the 8 monitored features
against the 500 before, drifted when D > 0.15 and the autocorrelation-corrected p-value < 0.05;
regime chi-square of the last 20 sessions against the 250 before, at 0.1%.

(a) False alarms: on every session of 2012-01-01..2017-12-31, years without a crash, the share
of sessions on which at least one feature is drifted (goal < 10%), per feature, and the same
shares under the plain rule D > 0.15 alone (what the p-value buys). The regime-drift share is
shown for information.

(b) Detection delay: at 8 splice sessions evenly spaced over the same years, a synthetic crash
replaces the real path: the splice day's log return is log(0.8) (a -20% shock), the next 20
sessions' returns are real returns of the 252 sessions before the splice drawn at random
(seed 0) and tripled, later returns are the real ones; closes are rebuilt from the returns,
open/high/low scaled by the same factor as the close, and features and regimes recomputed from
the whole history. The delay is the number of sessions from the shock day (0 = flagged on the
shock day itself) to the first session on which the monitor raises a flag that the real path
does not raise on the same session (so a drift the real data already shows is not credited to
the crash), within 60 sessions; per feature drift, regime drift and either (goal <= 5).

Run from the repository root (under 10 seconds on 2 cores); ``--rule NAME=VALUE`` (repeatable)
overrides a field of ``DriftRules`` to try another setting::

    .venv/bin/python bench/drift_eval.py
    .venv/bin/python bench/drift_eval.py --rule regime_window=20 --rule regime_reference=250 --rule regime_alpha=0.001
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
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
from lakehouse_assets.sources.ohlcv import bundled_bars

SYMBOL = "^GSPC"
START, END = dt.date(2012, 1, 1), dt.date(2017, 12, 31)
FALSE_ALARM_GOAL = 0.10
DELAY_GOAL = 5
SPLICES = 8
SHOCK = math.log(0.8)
STRESSED_SESSIONS = 20
VOL_MULTIPLIER = 3.0
HORIZON = 60
SEED = 0


def with_log_return(bars: pl.DataFrame) -> pl.DataFrame:
    return bars.with_columns(log_return=(pl.col("close") / pl.col("close").shift(1)).log().over("symbol"))


def splice_crash(bars: pl.DataFrame, at: int, rng: np.random.Generator) -> pl.DataFrame:
    """``bars`` (one symbol, sorted) with a synthetic crash starting at row ``at``."""
    close = bars.get_column("close").to_numpy()
    returns = np.r_[0.0, np.diff(np.log(close))]
    stressed = returns.copy()
    stressed[at] = SHOCK
    stressed[at + 1 : at + 1 + STRESSED_SESSIONS] = VOL_MULTIPLIER * rng.choice(
        returns[at - 252 : at], STRESSED_SESSIONS
    )
    new_close = close.copy()
    new_close[at:] = close[at - 1] * np.exp(np.cumsum(stressed[at:]))
    factor = pl.Series(new_close / close)
    return with_log_return(
        bars.with_columns(
            close=pl.Series(new_close),
            open=pl.col("open") * factor,
            high=pl.col("high") * factor,
            low=pl.col("low") * factor,
        )
    )


def monitor(
    bars: pl.DataFrame, days: list[dt.date], rules: drift.DriftRules, regime_rules: regimes.RegimeRules
) -> pl.DataFrame:
    """Feature and regime drift reports of ``days``, features and regimes computed from ``bars``."""
    features = compute_features(bars)
    labels = regimes.classify(features, regime_rules, SYMBOL)
    return pl.concat([drift.feature_drift(features, days, rules), drift.regime_drift(labels, days, rules)])


Flags = dict[tuple[dt.date, str], set[str]]


def flags(reports: pl.DataFrame) -> Flags:
    """(day, kind) -> the names drifted that day."""
    out: Flags = {}
    for day, kind, name in reports.filter(pl.col("drifted")).select("as_of", "kind", "name").iter_rows():
        out.setdefault((day, kind), set()).add(name)
    return out


def new_flags(spliced: Flags, real: Flags, day: dt.date, kind: str) -> set[str]:
    """The ``kind`` names the spliced path flags on ``day`` and the real path does not."""
    return spliced.get((day, kind), set()) - real.get((day, kind), set())


def first_new_flag(spliced: Flags, real: Flags, days: list[dt.date], kind: str) -> tuple[int | None, str]:
    """Sessions from ``days[0]`` to the first new ``kind`` flag, and the names flagged then."""
    for delay, day in enumerate(days):
        new = new_flags(spliced, real, day, kind)
        if new:
            return delay, sorted(new)[0]
    return None, ""


def explain(spliced: pl.DataFrame, real: pl.DataFrame, day: dt.date, name: str) -> str:
    """A feature's D and current-window effective size on a day: spliced/real path."""

    def pick(frame: pl.DataFrame) -> tuple[float, float]:
        row = frame.filter((pl.col("as_of") == day) & (pl.col("name") == name)).row(0, named=True)
        return row["statistic"], json.loads(row["detail"])["n_current_effective"]

    (d_spliced, n_spliced), (d_real, n_real) = pick(spliced), pick(real)
    return f"{name}: D {d_spliced:.3f}/{d_real:.3f}, n1e {n_spliced:.1f}/{n_real:.1f}"


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def show(delay: float | None) -> str:
    return f">{HORIZON}" if delay is None or math.isinf(delay) else f"{delay:g}"


def false_alarms(features: pl.DataFrame, labels: pl.DataFrame, days: list[dt.date], rules: drift.DriftRules) -> float:
    """Print part (a); return the share of sessions with any feature drifted."""
    clock = time.perf_counter()
    feature_reports = drift.feature_drift(features, days, rules)
    seconds = time.perf_counter() - clock
    regime_reports = drift.regime_drift(labels, days, rules)
    assert feature_reports.get_column("statistic").null_count() == 0, "evaluation days should be past warm-up"
    plain = pl.col("statistic") > rules.threshold
    per_feature = (
        feature_reports.group_by("name")
        .agg(corrected=pl.col("drifted").mean(), plain=plain.mean(), refits=pl.col("refit").sum())
        .sort("name")
    )
    any_day = feature_reports.group_by("as_of").agg(corrected=pl.col("drifted").any(), plain=plain.any())
    any_corrected = float(any_day["corrected"].mean())  # type: ignore[arg-type]
    print(f"\n(a) share of sessions flagged, {days[0]}..{days[-1]}, {len(days)} sessions")
    print(f"    (feature_drift: {feature_reports.height} KS tests in {seconds:.2f} s)")
    print(f"{'check':<28}{'effective-n rule':>17}{'plain D > 0.15':>16}{'refits':>8}")
    for name, corrected, plain_rate, refits in per_feature.iter_rows():
        print(f"{'feature ' + name:<28}{corrected:>17.1%}{plain_rate:>16.1%}{refits:>8}")
    print(f"{'any feature':<28}{any_corrected:>17.1%}{any_day['plain'].mean():>16.1%}{per_feature['refits'].sum():>8}")
    print(
        f"{'regime (informational)':<28}{regime_reports['drifted'].mean():>17.1%}{'':>16}{regime_reports['refit'].sum():>8}"
    )
    return any_corrected


def detection(
    bars: pl.DataFrame, days: list[dt.date], rules: drift.DriftRules, regime_rules: regimes.RegimeRules
) -> float:
    """Print part (b); return the worst combined delay (inf: not detected within the horizon)."""
    sessions = bars.get_column("date").to_list()
    rng = np.random.default_rng(SEED)
    positions = np.linspace(sessions.index(days[0]), sessions.index(days[-1]), SPLICES).round().astype(int)
    windows = {int(at): sessions[at : at + HORIZON + 1] for at in positions}
    real_reports = monitor(bars, sorted({d for w in windows.values() for d in w}), rules, regime_rules)
    real = flags(real_reports)
    print(f"\n(b) detection delay in sessions from the shock day (0 = the shock day itself), horizon {HORIZON}")
    print("    a flag counts when the real path does not raise it on the same session; spliced/real values shown")
    print(
        f"{'shock day':<12}{'feature':>8}{'regime':>7}{'either':>7}{'flagged':>8}  {'real flags day 0':<17}"
        "first feature flag; regime shift on day 0"
    )
    delays: dict[str, list[float]] = {"feature": [], "regime": [], "either": []}
    for at, window in windows.items():
        reports = monitor(splice_crash(bars, at, rng), window, rules, regime_rules)
        spliced = flags(reports)
        feature_delay, feature_name = first_new_flag(spliced, real, window, "feature")
        regime_delay, _ = first_new_flag(spliced, real, window, "regime")
        found = [d for d in (feature_delay, regime_delay) if d is not None]
        row = {"feature": feature_delay, "regime": regime_delay, "either": min(found) if found else None}
        for key, value in row.items():
            delays[key].append(math.inf if value is None else value)
        flagged = sum(
            bool(new_flags(spliced, real, d, "feature") | new_flags(spliced, real, d, "regime")) for d in window
        )
        already = ",".join(k for k in ("feature", "regime") if real.get((window[0], k))) or "-"
        why = explain(reports, real_reports, window[feature_delay], feature_name) if feature_delay is not None else "-"
        shock = reports.filter((pl.col("kind") == "regime") & (pl.col("as_of") == window[0]))
        shift = json.loads(shock["detail"][0]).get("shift")
        print(
            f"{window[0]!s:<12}{show(row['feature']):>8}{show(row['regime']):>7}{show(row['either']):>7}"
            f"{flagged:>8}  {already:<17}{why}; {shift}"
        )
    for label, reduce in (("median", statistics.median), ("max", max)):
        cells = [show(reduce(delays[k])) for k in ("feature", "regime", "either")]
        print(f"{label:<12}{cells[0]:>8}{cells[1]:>7}{cells[2]:>7}")
    print("    flagged: sessions of the horizon (61) with a new flag; real flags day 0: checks already drifted then")
    return max(delays["either"])


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
    rules = parse_rules(parser, parser.parse_args().rule)
    started = time.perf_counter()
    print(f"machine: {platform.platform()}, python {platform.python_version()}, {os.cpu_count()} cpus")
    regime_rules = load_config().regimes
    bars = with_log_return(bundled_bars([("arch.sp500", SYMBOL)], "America/New_York"))
    sessions = bars.get_column("date").to_list()
    days = [d for d in sessions if START <= d <= END]
    print(f"data: {SYMBOL} {sessions[0]}..{sessions[-1]}, {len(sessions)} sessions")
    print(f"rules: {rules}")
    features = compute_features(bars)
    labels = regimes.classify(features, regime_rules, SYMBOL)
    any_feature = false_alarms(features, labels, days, rules)
    worst = detection(bars, days, rules, regime_rules)
    print("\ngoals")
    print(
        f"  false alarms (sessions with any feature drifted): {any_feature:.1%}, goal < {FALSE_ALARM_GOAL:.0%}: "
        f"{verdict(any_feature < FALSE_ALARM_GOAL)}"
    )
    print(
        f"  detection delay (either check, worst of {SPLICES} splices): {show(worst)}, goal <= {DELAY_GOAL}: "
        f"{verdict(worst <= DELAY_GOAL)}"
    )
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
