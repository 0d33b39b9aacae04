"""The promotion gate and champion selection, per symbol and horizon, from rolling scores.

Every candidate model gets a decision row each day, approved or not, with the checks
passed and failed and, under ``metrics["evidence"]``, the figures each check looked at
(criteria in ``config/registry.yaml``):

* ``history``: at least ``min_scored`` scored forecasts in the rolling window;
* ``directional_skill``: balanced accuracy (the mean of the hit rates on up and on down
  outcomes) above ``min_balanced_accuracy``. Plain accuracy rewards the base rate: a model
  that always calls "up" scores the share of up days; its balanced accuracy is exactly 0.5;
* ``regime_floor``: in no market regime (of the origin date) with at least
  ``min_group_count`` scored forecasts in the window is the accuracy below ``group_floor``;
* ``sector_floor``: the same across the symbols of the symbol's sector;
* ``drift``: the share of the symbol's monitored features that the drift monitor found
  drifted that day (its calibrated verdicts, ``drift.drift_evidence``) is at most
  ``max_drifted_share`` (passes, noted, while no drift report exists);
* ``beats_baseline``: the one-sided Diebold-Mariano test (squared-error loss,
  Harvey-Leybourne-Newbold correction, HAC variance over h - 1 lags, ``scoring``) rejects
  "no better than naive" at ``dm_alpha`` *after Holm's step-down correction over the day's
  candidates of the symbol and horizon*, so the chance that any of them passes on noise is
  at most ``dm_alpha`` (family-wise); a candidate without a p-value counts as p = 1;
* ``coverage``: neither the 80% nor the 95% interval's coverage is rejected by a two-sided
  exact binomial test at ``coverage_alpha``: too wide fails as well as too narrow. h-day
  targets overlap, so the window of n scored forecasts holds about n / h independent
  outcomes: the test runs on ``n_e = max(n // h, 1)`` trials with ``round(coverage x n_e)``
  successes (at h = 21 and a 63-session window that is 3 trials, too few to reject: the
  evidence says so).

The champion is the approved model with the lowest ``relative_mae`` (then RMSE, then name);
the naive baseline when none is approved. A manual override (config) names the champion
whatever the gate says, and its row says so.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from lakehouse_assets.core import scoring
from lakehouse_assets.core.forecasting import ForecastSettings, history_window
from lakehouse_assets.core.scoring import BASELINE, REPLAY_SCHEMA, ROLLING_COLUMNS

SCHEMA: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "symbol": pl.String(),
    "horizon": pl.Int64(),
    "model": pl.String(),
    "approved": pl.Boolean(),
    "champion": pl.Boolean(),
    "manual_override": pl.Boolean(),
    "recommendation": pl.String(),
    "checks_passed": pl.String(),
    "checks_failed": pl.String(),
    "metrics": pl.String(),
}
COLUMN_NOTES: dict[str, str] = {
    "approved": "passed every check (always true for the naive baseline)",
    "champion": "the model whose forecasts are flagged is_champion on the next session",
    "recommendation": "PROMOTE, REJECT, or BASELINE for naive",
    "checks_passed": "JSON list of check names: history, directional_skill, regime_floor, sector_floor, drift, "
    "beats_baseline, coverage",
    "checks_failed": "JSON list of the checks that failed",
    "metrics": "JSON: the rolling metrics of forecast_scores as of the day, and 'evidence': per check the figures "
    "it compared (Holm threshold and rank for beats_baseline, binomial p-values of both bands for coverage, "
    "drifted features for drift, ...)",
}
CHECKS = ("history", "directional_skill", "regime_floor", "sector_floor", "drift", "beats_baseline", "coverage")
COVERAGE_BANDS = {"coverage_80": 0.80, "coverage_95": 0.95}
_EPOCH = dt.date(1970, 1, 1)  # day 0 of polars' Date


@dataclass(frozen=True)
class GateRules:
    """``config/registry.yaml``."""

    min_scored: int
    min_balanced_accuracy: float
    group_floor: float
    min_group_count: int
    max_drifted_share: float
    dm_alpha: float
    coverage_alpha: float
    overrides: dict[tuple[str, int], str] = field(default_factory=dict, hash=False)


def group_accuracy(scored: pl.DataFrame, keys: list[str]) -> dict[tuple[Any, ...], tuple[float, int]]:
    """Directional accuracy and count of the direction calls per group of ``keys``."""
    counted = scored.filter(pl.col("hit").is_not_null())
    groups = counted.group_by(keys).agg(pl.col("hit").mean().alias("accuracy"), pl.len().alias("n"))
    return {tuple(row[:-2]): (row[-2], row[-1]) for row in groups.iter_rows()}


def holm(p_values: Mapping[str, float | None], alpha: float) -> dict[str, dict[str, object]]:
    """Holm's step-down test of a family of one-sided hypotheses at family-wise level ``alpha``.

    Sorted by p-value (missing: 1, ties by name), the i-th smallest (i = 0, 1, ...) is compared
    with ``alpha / (m - i)``; hypotheses are rejected in order until the first that is not.
    Returns per name ``{"p": p, "rank": i + 1, "threshold": alpha / (m - i), "rejected": bool}``.

    >>> holm({"a": 0.001, "b": 0.02, "c": 0.04}, 0.05)["b"]["rejected"]
    True
    >>> holm({"a": 0.001, "b": 0.03, "c": 0.04}, 0.05)["b"]["rejected"]
    False
    """
    ordered = sorted(p_values, key=lambda name: (1.0 if p_values[name] is None else p_values[name], name))
    m = len(ordered)
    out: dict[str, dict[str, object]] = {}
    still = True
    for i, name in enumerate(ordered):
        p = p_values[name]
        threshold = alpha / (m - i)
        still = still and p is not None and p <= threshold
        out[name] = {"p": p, "rank": i + 1, "threshold": threshold, "rejected": still}
    return out


def coverage_test(coverage: float | None, n: int, horizon: int, nominal: float) -> dict[str, object]:
    """Two-sided exact binomial test of an interval's coverage against ``nominal``.

    ``n`` scored h-day forecasts overlap, so they count as ``n_e = max(n // horizon, 1)``
    independent trials with ``round(coverage x n_e)`` inside. Returns the coverage, ``n_e`` and
    the p-value (None without a coverage).

    >>> round(coverage_test(0.99, 63, 1, 0.80)["p_value"], 6) < 0.001   # twice too wide
    True
    """
    if coverage is None or n <= 0:
        return {"coverage": coverage, "n_effective": 0, "p_value": None}
    n_effective = max(n // horizon, 1)
    inside = round(coverage * n_effective)
    return {"coverage": coverage, "n_effective": n_effective, "p_value": _binomial_p(inside, n_effective, nominal)}


@functools.lru_cache(maxsize=65536)
def _binomial_p(inside: int, trials: int, nominal: float) -> float:
    """Two-sided exact binomial p-value; cached: a backfill asks the same few thousand
    (inside, trials) pairs for every symbol, horizon, model and day (scipy's is ~0.1 ms)."""
    return float(stats.binomtest(inside, trials, nominal).pvalue)


@dataclass(frozen=True)
class Candidate:
    """One model's figures on one day: its rolling metrics (``scoring.ROLLING_COLUMNS``), its
    (accuracy, count) per market regime and per sector over the rolling window."""

    metrics: Mapping[str, float | None]
    regimes: Mapping[str, tuple[float, int]] = field(default_factory=dict)
    sectors: Mapping[str, tuple[float, int]] = field(default_factory=dict)


def evaluate(
    candidates: Mapping[str, Candidate],
    horizon: int,
    drift: Mapping[str, object] | None,
    rules: GateRules,
) -> dict[str, tuple[list[str], list[str], dict[str, object]]]:
    """Per candidate model: the checks passed, the checks failed, and its metrics with the
    per-check evidence (``details["evidence"][check]``). The naive baseline is evaluated too
    (its row records its figures) but is not part of the Diebold-Mariano family.

    Args:
        candidates: model -> its figures of the day.
        horizon: the forecasts' horizon in sessions (the coverage test's overlap).
        drift: ``drift.drift_evidence`` of the symbol on the day, or None without a report.
    """
    family = {m: c.metrics.get("dm_pvalue") for m, c in candidates.items() if m != BASELINE}
    tested = holm(family, rules.dm_alpha)
    out: dict[str, tuple[list[str], list[str], dict[str, object]]] = {}
    for model, candidate in candidates.items():
        metrics = candidate.metrics
        evidence: dict[str, dict[str, object]] = {}
        results: dict[str, bool] = {}
        n = int(metrics.get("window_n") or 0)
        evidence["history"] = {"window_n": n, "min_scored": rules.min_scored}
        results["history"] = n >= rules.min_scored

        balanced = metrics.get("balanced_accuracy")
        evidence["directional_skill"] = {
            "balanced_accuracy": balanced,
            "directional_accuracy": metrics.get("directional_accuracy"),
            "min_balanced_accuracy": rules.min_balanced_accuracy,
        }
        results["directional_skill"] = balanced is not None and balanced > rules.min_balanced_accuracy

        for name, groups in (("regime", candidate.regimes), ("sector", candidate.sectors)):
            counted = {g: a for g, (a, k) in groups.items() if k >= rules.min_group_count}
            evidence[f"{name}_floor"] = {
                "accuracy": {g: round(a, 4) for g, a in counted.items()},
                "floor": rules.group_floor,
                "min_group_count": rules.min_group_count,
            }
            results[f"{name}_floor"] = all(a >= rules.group_floor for a in counted.values())

        if drift is None:
            evidence["drift"] = {"report": None, "max_drifted_share": rules.max_drifted_share}
        else:
            evidence["drift"] = {**drift, "max_drifted_share": rules.max_drifted_share}
        results["drift"] = drift is None or float(drift["share"]) <= rules.max_drifted_share  # type: ignore[arg-type]

        if model in tested:
            holm_row = tested[model]
            evidence["beats_baseline"] = {
                "dm_stat": metrics.get("dm_stat"),
                "dm_pvalue": holm_row["p"],
                "holm_rank": holm_row["rank"],
                "holm_threshold": holm_row["threshold"],
                "family": len(tested),
                "dm_alpha": rules.dm_alpha,
            }
            results["beats_baseline"] = bool(holm_row["rejected"])
        else:
            evidence["beats_baseline"] = {"baseline": True}
            results["beats_baseline"] = True

        bands = {
            band: coverage_test(metrics.get(band), n, horizon, nominal) for band, nominal in COVERAGE_BANDS.items()
        }
        evidence["coverage"] = {**bands, "coverage_alpha": rules.coverage_alpha}
        results["coverage"] = all(
            b["p_value"] is not None and b["p_value"] >= rules.coverage_alpha  # type: ignore[operator]
            for b in bands.values()
        )

        passed = [c for c in CHECKS if results[c]]
        failed = [c for c in CHECKS if not results[c]]
        if drift is None:  # say why drift passed
            passed = [("drift (no report yet)" if c == "drift" else c) for c in passed]
        out[model] = (passed, failed, {**metrics, "evidence": evidence})
    return out


def decide(
    as_of: dt.date,
    symbol: str,
    horizon: int,
    candidates: Mapping[str, tuple[list[str], list[str], dict[str, object]]],
    rules: GateRules,
) -> list[dict[str, object]]:
    """Decision rows of one symbol and horizon: every model, the champion marked."""
    approved = {m for m, (_p, failed, _d) in candidates.items() if m != BASELINE and not failed}

    def rank(model: str) -> tuple[float, float, str]:
        details = candidates[model][2]
        relative, rmse = details.get("relative_mae"), details.get("rmse")
        return (relative if relative is not None else float("inf"), rmse if rmse is not None else float("inf"), model)  # type: ignore[return-value]

    override = rules.overrides.get((symbol, horizon))
    champion = override or (min(approved, key=rank) if approved else BASELINE)
    rows = []
    for model, (passed, failed, details) in sorted(candidates.items()):
        baseline = model == BASELINE
        ok = baseline or not failed
        rows.append(
            {
                "as_of": as_of,
                "symbol": symbol,
                "horizon": horizon,
                "model": model,
                "approved": ok,
                "champion": model == champion,
                "manual_override": override is not None and model == champion,
                "recommendation": "BASELINE" if baseline else ("PROMOTE" if ok else "REJECT"),
                "checks_passed": _names_json(tuple(passed)),
                "checks_failed": _names_json(tuple(failed)),
                "metrics": sorted_json(details),
            }
        )
    return rows


@functools.lru_cache(maxsize=1024)
def _names_json(names: tuple[str, ...]) -> str:
    """``json.dumps`` of a list of check names; a range's rows hold a dozen distinct lists."""
    return json.dumps(list(names))


def _sorted_encoder() -> Callable[[object, int], Sequence[str]] | None:
    """The C encoder that ``json.dumps(..., sort_keys=True, default=str)`` builds on every
    call, built once, without the cycle check (decision rows are trees); None without the
    C accelerator."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        encoder: Callable[[object, int], Sequence[str]] = make(
            None, str, json.encoder.encode_basestring_ascii, None, ": ", ", ", True, False, True
        )
    except TypeError:  # another signature than CPython 3.11-3.13's
        return None
    return encoder


_SORTED_ENCODER = _sorted_encoder()


def sorted_json(value: object) -> str:
    """``json.dumps(value, sort_keys=True, default=str)``, the same string, in half the time:
    ``dumps`` builds its encoder on every call, which cost more than the encoding of a
    decision's metrics (36 vs 18 us; a range at 100 symbols writes 1,800 rows a day).

    >>> sorted_json({"b": [1.5, None], "a": {"d": float("nan"), "c": dt.date(2024, 1, 2)}})
    '{"a": {"c": "2024-01-02", "d": NaN}, "b": [1.5, null]}'
    """
    if _SORTED_ENCODER is None:
        return json.dumps(value, sort_keys=True, default=str)
    return "".join(_SORTED_ENCODER(value, 0))


def decide_days(
    rolled: pl.DataFrame,
    days: Sequence[dt.date],
    sessions: Sequence[dt.date],
    window: int,
    symbols: Sequence[str],
    horizons: Sequence[int],
    models: Sequence[str],
    drift: Mapping[tuple[str, dt.date], Mapping[str, object]],
    rules: GateRules,
) -> tuple[pl.DataFrame, dict[dt.date, dict[tuple[str, int], str]]]:
    """The gate's decisions of each day, and the champion chosen on each day.

    Args:
        rolled: scored forecasts with their rolling metrics (``scoring.rolling_metrics``),
            the origin's market ``regime`` and the symbol's ``sector``, covering the target
            dates of every day's window.
        days: the decision days, ascending.
        sessions: trading days covering ``window`` sessions before the first day up to the last.
        window: the rolling window in sessions: day D judges the targets of the last
            ``window`` sessions up to D (each model's latest rolling row there).
        drift: ``drift.drift_evidence``: (symbol, day) -> the day's drift verdicts.

    Returns:
        ``(decisions, champions)``: the decision rows (``SCHEMA``) and, per day, (symbol,
        horizon) -> the champion model chosen that day (in force on the next session).

    A day's figures are looked up, not recomputed from its window's rows: each model's
    latest row is one ``searchsorted`` per group on the sorted key (group, target day), and
    the accuracies per regime and per sector are differences of cumulative counts of the
    direction calls (``_WindowCounts``), the same integers as counting the window's rows
    and the same quotient. Filtering and grouping each day's window in polars cost ~55 ms
    a day at 100 symbols (7 s of a 126-day range), and the range's decision rows as Python
    dicts held some 500 MB; the rows become a frame day by day.
    """
    sectors = dict(rolled.select("symbol", "sector").unique().iter_rows())
    # only the keys are sorted, with each row's position: the rows come with some 40 columns,
    # and even an ordinary day's reach back two windows (its own and that of its oldest row)
    ordered = rolled.select("model", "symbol", "horizon", "target_date", position=pl.int_range(pl.len()))
    ordered = ordered.sort("model", "symbol", "horizon", "target_date")
    groups = ordered.select(
        group=pl.struct("model", "symbol", "horizon").rle_id().cast(pl.Int64),
        day=pl.col("target_date").cast(pl.Int64),
    )
    group, target = groups.get_column("group").to_numpy(), groups.get_column("day").to_numpy()
    key = (group << 32) + target
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    group_keys = list(ordered.select("model", "symbol", "horizon")[starts.tolist()].iter_rows())
    position = ordered.get_column("position").to_numpy()
    figures_of = rolled.select(ROLLING_COLUMNS)
    del ordered, groups
    calls = rolled.select("model", "symbol", "horizon", "regime", "sector", "target_date", "hit")
    calls = calls.filter(pl.col("hit").is_not_null())
    by_regime = _WindowCounts(
        calls.filter(pl.col("regime").cast(pl.String) != ""), ["model", "symbol", "horizon", "regime"]
    )
    by_sector = _WindowCounts(calls, ["model", "horizon", "sector"])
    frames: list[pl.DataFrame] = []
    champions: dict[dt.date, dict[tuple[str, int], str]] = {}
    for day in days:
        i = bisect.bisect_right(sessions, day) - 1
        first = sessions[max(i - (window - 1), 0)]
        # each group's latest row with a target date in first..day
        latest = np.searchsorted(key, (group[starts] << 32) + _days(day), side="right") - 1
        found = (latest >= starts) & (target[np.maximum(latest, 0)] >= _days(first))
        rows = figures_of[position[latest[found]].tolist()].rows()
        metrics = dict(zip([k for k, f in zip(group_keys, found.tolist(), strict=True) if f], rows, strict=True))
        regimes: dict[tuple[str, str, int], dict[str, tuple[float, int]]] = {}
        for (model, symbol, horizon, regime), value in by_regime.at(first, day).items():
            regimes.setdefault((model, symbol, horizon), {})[str(regime)] = value
        sector_accuracy = by_sector.at(first, day)
        today: dict[tuple[str, int], str] = {}
        decisions: list[dict[str, object]] = []
        for symbol in symbols:
            sector = sectors.get(symbol, "Unknown")
            for horizon in horizons:
                candidates = {}
                for model in models:
                    row = metrics.get((model, symbol, horizon))
                    figures = dict(zip(ROLLING_COLUMNS, row, strict=True)) if row else dict.fromkeys(ROLLING_COLUMNS)
                    figures["window_n"] = figures["window_n"] or 0
                    own_sector = sector_accuracy.get((model, horizon, sector))
                    candidates[model] = Candidate(
                        figures, regimes.get((model, symbol, horizon), {}), {sector: own_sector} if own_sector else {}
                    )
                judged = evaluate(candidates, horizon, drift.get((symbol, day)), rules)
                rows_of_day = decide(day, symbol, horizon, judged, rules)
                decisions.extend(rows_of_day)
                today[(symbol, horizon)] = next(str(r["model"]) for r in rows_of_day if r["champion"])
        champions[day] = today
        frames.append(pl.DataFrame(decisions, schema=SCHEMA))
    # not rechunked: one contiguous copy of the range's rows would double their peak (~300 MB of JSON at 126 days)
    frame = pl.concat(frames, rechunk=False) if frames else pl.DataFrame(schema=SCHEMA)
    return frame, champions


def _days(day: dt.date) -> int:
    """Days since 1970-01-01, polars' Date as an integer."""
    return (day - _EPOCH).days


class _WindowCounts:
    """Directional accuracy and count of the direction calls per group of ``keys`` over any
    window of target dates: ``group_accuracy`` of the rows whose target date is in the window.

    The calls are sorted by (group, target date) once; a window's count and hits per group
    are differences of cumulative sums at two ``searchsorted`` positions, and the accuracy
    is hits / count, the quotient polars' mean of a boolean column computes (one rounding of
    two exact integers: ``tests/core/test_registry_range.py`` checks the bits)."""

    def __init__(self, calls: pl.DataFrame, keys: list[str]) -> None:
        ordered = calls.select(*keys, "target_date", "hit").sort([*keys, "target_date"])
        ids = ordered.select(pl.struct(keys).rle_id().cast(pl.Int64)).to_series().to_numpy()
        self._key = (ids << 32) + ordered.get_column("target_date").cast(pl.Int64).to_numpy()
        self._hits = np.concatenate(([0], np.cumsum(ordered.get_column("hit").cast(pl.Int64).to_numpy())))
        starts = np.flatnonzero(np.diff(ids, prepend=-1))
        self._ids = ids[starts]
        self._names = list(ordered.select(keys)[starts.tolist()].iter_rows())

    def at(self, first: dt.date, last: dt.date) -> dict[tuple[Any, ...], tuple[float, int]]:
        """Per group with a call with a target date in ``first..last``: (accuracy, count)."""
        lo = np.searchsorted(self._key, (self._ids << 32) + _days(first), side="left")
        hi = np.searchsorted(self._key, (self._ids << 32) + _days(last), side="right")
        counts = hi - lo
        present = np.flatnonzero(counts > 0)
        accuracy = (self._hits[hi[present]] - self._hits[lo[present]]) / counts[present]
        names = [self._names[g] for g in present.tolist()]
        return dict(zip(names, zip(accuracy.tolist(), counts[present].tolist(), strict=True), strict=True))


@dataclass(frozen=True)
class Judgement:
    """What the registry's day loop makes of a range of origins.

    Attributes:
        forecasts: the range's forecasts with ``is_champion``: the model is the champion
            decided on the session before the origin (null where none was decided).
        scores: the forecasts with a target date in the range, scored, with their rolling
            metrics (``scoring.rolling_metrics``) and the origin's market ``regime``.
        decisions: the gate's rows of every origin (``SCHEMA``).
        replay: the direction classifier's confident mistakes among ``scores`` (the error
            replay buffer's rows, ``scoring.REPLAY_SCHEMA``) with the classifier's features
            of the origin as JSON.
    """

    forecasts: pl.DataFrame
    scores: pl.DataFrame
    decisions: pl.DataFrame
    replay: pl.DataFrame


def judge_range(
    new: pl.DataFrame,
    earlier: pl.DataFrame,
    closes: pl.DataFrame,
    regimes: pl.DataFrame,
    features: pl.DataFrame,
    previous_decisions: pl.DataFrame,
    *,
    sessions: Sequence[dt.date],
    origins: Sequence[dt.date],
    symbols: Sequence[str],
    sectors: Mapping[str, str],
    drift: Mapping[tuple[str, dt.date], Mapping[str, object]],
    settings: ForecastSettings,
    score_window: int,
    rules: GateRules,
) -> Judgement:
    """Score what has come due, decide each origin's champions, flag the range's forecasts.

    Day D judges the targets of its last ``score_window`` sessions, each model by its latest
    row there, whose figures are over that row's own window: a symbol without recent scores
    (bars that stopped) is judged by an older row, so scores reach ``score_window - 1``
    sessions further back, or that row's figures would depend on where the run started.
    What a range needs is ``forecasting.history_window``'s: given that much, each day comes
    out as it does inside any longer range.

    Args:
        new: the range's forecasts (``forecasts`` rows without ``is_champion``).
        earlier: stored forecasts of the origins from ``history_window(...).forecasts_from``
            to the session before the first origin.
        closes: ``ohlcv_daily`` symbol, date, close over the origins and targets.
        regimes: ``market_regimes`` symbol, date, market_regime over the origins.
        features: ``features`` symbol, date and the classifier's columns over the origins.
        previous_decisions: the registry's rows on the session before the first origin: its
            champions are in force on the first origin (unread at the calendar's first).
        sessions: the trading days from the calendar's first up to the last origin.
        origins: the range's sessions: consecutive, ascending.
        sectors: symbol -> sector (``Unknown`` where missing).
        drift: ``drift.drift_evidence``: (symbol, day) -> the day's drift verdicts.
    """
    span = history_window(sessions, origins, settings, score_window)
    start, end = origins[0], origins[-1]
    candidates = pl.concat([earlier.select(new.columns), new], how="vertical_relaxed")
    read = closes.filter(pl.col("date") >= span.forecasts_from).select("symbol", "date", "close")
    scored = scoring.realized(candidates, read).filter(pl.col("target_date").is_between(span.scored_from, end))
    scored = scored.join(regimes.rename({"market_regime": "regime"}), on=["symbol", "date"], how="left")
    # figures for the range's targets and each group's last before them (what the days read)
    rolled = scoring.rolling_metrics(scored, sessions, score_window, since=span.judged_from, full_from=start)
    in_range = pl.col("target_date").is_between(start, end)
    replay = scoring.replay_candidates(scored.filter(in_range), "direction_classifier", settings.replay_min_confidence)
    # only the replay rows' features are encoded: the span's features are the fits' window
    # (some 800 sessions of every symbol), and encoding all of them cost a tenth of a day's registry
    origins_of_replay = replay.select("symbol", "date").unique()
    described = features.join(origins_of_replay, on=["symbol", "date"], how="semi").select(
        "symbol", "date", features=pl.struct(list(settings.classifier_features)).struct.json_encode()
    )
    replay = replay.drop("features").join(described, on=["symbol", "date"], how="left").select(list(REPLAY_SCHEMA))
    decisions, champions = decide_days(
        rolled.with_columns(sector=pl.col("symbol").replace_strict(sectors, default="Unknown")),
        origins,
        sessions,
        score_window,
        symbols,
        settings.horizons,
        settings.models,
        drift,
        rules,
    )
    if span.previous is not None:
        stored = previous_decisions.filter(pl.col("champion")).select("symbol", "horizon", "model")
        champions[span.previous] = {(s, h): m for s, h, m in stored.iter_rows()}
    in_force = pl.DataFrame(
        [
            (day, s, h, m)
            for day, before in zip(origins, [span.previous, *origins[:-1]], strict=True)
            for (s, h), m in champions.get(before, {}).items()  # type: ignore[arg-type]
        ],
        schema={"date": pl.Date, "symbol": pl.String, "horizon": pl.Int64, "champion_model": pl.String},
        orient="row",
    )
    forecasts = (
        new.join(in_force, on=["date", "symbol", "horizon"], how="left")
        .with_columns(is_champion=pl.col("model") == pl.col("champion_model"))
        .drop("champion_model")
    )
    return Judgement(forecasts, rolled.filter(in_range), decisions, replay)
