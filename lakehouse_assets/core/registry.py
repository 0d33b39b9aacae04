"""The promotion gate and champion selection, per symbol and horizon, from rolling scores.

Every candidate model gets a decision row each day, approved or not, with the checks
passed and failed and the metrics behind them (criteria in ``config/registry.yaml``):

* ``history``: at least ``min_scored`` scored forecasts in the rolling window;
* ``directional_accuracy``: at least ``min_directional_accuracy``;
* ``regime_floor``: in no market regime (of the origin date) with at least
  ``min_group_count`` scored forecasts in the window is the accuracy below ``group_floor``;
* ``sector_floor``: the same across the symbols of the symbol's sector;
* ``drift``: the drift score is at most ``max_drift`` (passes, noted, while no drift
  report exists);
* ``beats_baseline``: Diebold-Mariano one-sided p-value below ``dm_alpha`` or MASE < 1;
* ``coverage``: 95% interval coverage within ``coverage_tolerance`` of 0.95.

The champion is the approved model with the lowest MASE (then RMSE, then name); the
naive baseline when none is approved. A manual override (config) names the champion
whatever the gate says, and its row says so.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from lakehouse_assets.core.scoring import BASELINE

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


@dataclass(frozen=True)
class GateRules:
    """``config/registry.yaml``."""

    min_scored: int
    min_directional_accuracy: float
    group_floor: float
    min_group_count: int
    max_drift: float
    dm_alpha: float
    coverage_tolerance: float
    overrides: dict[tuple[str, int], str] = field(default_factory=dict, hash=False)


def group_accuracy(scored: pl.DataFrame, keys: list[str]) -> dict[tuple, tuple[float, int]]:
    """Directional accuracy and count of the direction calls per group of ``keys``."""
    counted = scored.filter(pl.col("hit").is_not_null())
    groups = counted.group_by(keys).agg(pl.col("hit").mean().alias("accuracy"), pl.len().alias("n"))
    return {tuple(row[:-2]): (row[-2], row[-1]) for row in groups.iter_rows()}


def evaluate(
    metrics: Mapping[str, float | None],
    regimes: Mapping[str, tuple[float, int]],
    sectors: Mapping[str, tuple[float, int]],
    drift: float | None,
    rules: GateRules,
) -> tuple[list[str], list[str], dict[str, object]]:
    """The checks one candidate passes and fails, with the figures they looked at.

    Args:
        metrics: the candidate's rolling metrics (``scoring.ROLLING_COLUMNS``) as of the day.
        regimes: its (accuracy, count) per market regime over the rolling window.
        sectors: the same model's (accuracy, count) per sector, over the symbols of the sector.
        drift: the latest drift score of the symbol, if any.
    """
    passed: list[str] = []
    failed: list[str] = []
    details: dict[str, object] = dict(metrics)

    def check(name: str, ok: bool) -> None:
        (passed if ok else failed).append(name)

    check("history", (metrics.get("window_n") or 0) >= rules.min_scored)
    accuracy = metrics.get("directional_accuracy")
    check("directional_accuracy", accuracy is not None and accuracy >= rules.min_directional_accuracy)
    for name, groups in (("regime", regimes), ("sector", sectors)):
        counted = {g: a for g, (a, n) in groups.items() if n >= rules.min_group_count}
        details[f"{name}_accuracy"] = {g: round(a, 4) for g, a in counted.items()}
        check(f"{name}_floor", all(a >= rules.group_floor for a in counted.values()))
    details["drift"] = drift
    check("drift" if drift is not None else "drift (no report yet)", drift is None or drift <= rules.max_drift)
    p_value, mase = metrics.get("dm_pvalue"), metrics.get("mase")
    check("beats_baseline", (p_value is not None and p_value < rules.dm_alpha) or (mase is not None and mase < 1.0))
    coverage = metrics.get("coverage_95")
    check("coverage", coverage is not None and abs(coverage - 0.95) <= rules.coverage_tolerance)
    return passed, failed, details


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
        mase, rmse = details.get("mase"), details.get("rmse")
        return (mase if mase is not None else float("inf"), rmse if rmse is not None else float("inf"), model)  # type: ignore[return-value]

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
                "checks_passed": json.dumps(passed),
                "checks_failed": json.dumps(failed),
                "metrics": json.dumps(details, sort_keys=True, default=str),
            }
        )
    return rows
