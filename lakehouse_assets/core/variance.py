"""Variance analysis of completed predictions, and the strategy weights it implies.

From the original trading system (``config/trading_config.yaml``, ``variance_analysis``):
over the predictions completed in the last ``lookback_days`` calendar days (exit date in
``(as_of - lookback_days, as_of]``), per strategy type and per (strategy type, the
symbol's regime at entry): MAE and MSE of ``prediction_error`` (predicted minus actual
return, fractions of the capital at risk) and a weight adjustment.

The original scaled the raw MAE by one constant (``max(0.5, 1 - min(MAE / 0.40, 0.5))``),
which measures units, not skill: a spread's returns on its max loss are ~20x a directional
trade's on its notional, so a spread sat at the floor and a directional trade near 1.0
whatever their skill. Here the MAE is relative to the MAE of predicting no edge (0) on the
same completed predictions:

    relative_mae = MAE / mean|actual_pnl_pct|
    weight_adjustment = 1 - min(relative_mae / relative_mae_scale, weight_adjustment_factor)

0 is exact, 1 no better than predicting 0, whatever the strategy's units. With the
defaults (scale 2.0, factor 0.5, the original's cap) exact predictions get 1.0, predictions
as good as zero the floor 0.5, and in between the line: relative MAE 0.5 -> 0.75.
Actuals all exactly 0: relative MAE 0 when the predictions are too, else the floor. A group
with fewer than ``min_predictions`` completed predictions has no adjustment of its own
(say so in ``reason``). ``docs/ledger.md`` gives the reasoning.

The weight of (strategy, regime) = base weight x adjustment x regime adjustment: the
(strategy, regime) group's adjustment when it has enough predictions, else the
strategy's, else 1.0 (base weights); the regime adjustment (high_volatility 0.8, crash
0.5 by default) always applies.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

ALL_REGIMES = "all"  # the per-strategy row of variance_analysis

VARIANCE_SCHEMA: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "strategy_type": pl.String(),
    "regime": pl.String(),
    "predictions": pl.Int64(),
    "mae": pl.Float64(),
    "mse": pl.Float64(),
    "mean_error": pl.Float64(),
    "weight_adjustment": pl.Float64(),
    "sufficient": pl.Boolean(),
    "reason": pl.String(),
    "window_start": pl.Date(),
    "mean_abs_actual": pl.Float64(),  # MAE of predicting 0 on the same predictions
    "relative_mae": pl.Float64(),  # mae / mean_abs_actual
}

WEIGHT_SCHEMA: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "strategy_type": pl.String(),
    "regime": pl.String(),
    "base_weight": pl.Float64(),
    "variance_adjustment": pl.Float64(),
    "regime_adjustment": pl.Float64(),
    "weight": pl.Float64(),
    "basis": pl.String(),  # strategy_regime | strategy | base
    "reason": pl.String(),
}


@dataclass(frozen=True)
class VarianceRules:
    enabled: bool
    lookback_days: int
    min_predictions: int
    weight_adjustment_factor: float
    relative_mae_scale: float
    strategy_weights: Mapping[str, float] = field(hash=False)
    regime_adjustments: Mapping[str, float] = field(hash=False)


def relative_mae(mae: float, mean_abs_actual: float) -> float:
    """``mae / mean_abs_actual``: 0 exact, 1 no better than predicting 0; actuals all 0:
    0 when the MAE is 0 too, else infinite.

    >>> relative_mae(0.15, 0.30)
    0.5
    """
    if mean_abs_actual > 0.0:
        return mae / mean_abs_actual
    return 0.0 if mae == 0.0 else math.inf


def weight_adjustment(relative: float, rules: VarianceRules) -> float:
    """``1 - min(relative_mae / relative_mae_scale, weight_adjustment_factor)``."""
    return 1.0 - min(abs(relative) / rules.relative_mae_scale, rules.weight_adjustment_factor)


def window_start(as_of: dt.date, rules: VarianceRules) -> dt.date:
    """The first exit date of ``as_of``'s window: ``lookback_days`` calendar days ending on it.

    >>> rules = VarianceRules(True, 30, 10, 0.5, 2.0, {}, {})
    >>> window_start(dt.date(2018, 7, 31), rules)
    datetime.date(2018, 7, 2)
    """
    return as_of - dt.timedelta(days=rules.lookback_days - 1)


def analyze(completed: pl.DataFrame, as_of: dt.date, strategies: list[str], rules: VarianceRules) -> pl.DataFrame:
    """Rows of ``variance_analysis`` for ``as_of``: one per strategy (regime ``all``) and one
    per (strategy, regime) seen in the window. ``completed``: strategy_predictions rows
    with ``exit_date``, ``prediction_error`` and ``actual_pnl_pct`` set; only those that exited
    in the window (:func:`window_start` to ``as_of``) count, so any superset of them gives the
    same rows (to the last bit when they come in the same order)."""
    start = window_start(as_of, rules)
    window = completed.filter(pl.col("exit_date").is_between(start, as_of))
    rows = []
    for strategy in strategies:
        own = window.filter(pl.col("strategy_type") == strategy)
        groups = [(ALL_REGIMES, own)]
        groups += [(r, own.filter(pl.col("regime_at_entry") == r)) for r in sorted(own["regime_at_entry"].unique())]
        for regime, group in groups:
            errors = group["prediction_error"]
            n = group.height
            mae = float(errors.abs().mean()) if n else None  # type: ignore[arg-type]
            scale = float(group["actual_pnl_pct"].abs().mean()) if n else None  # type: ignore[arg-type]
            relative = relative_mae(mae, scale) if mae is not None and scale is not None else None
            sufficient = n >= rules.min_predictions
            rows.append(
                {
                    "as_of": as_of,
                    "strategy_type": strategy,
                    "regime": regime,
                    "predictions": n,
                    "mae": mae,
                    "mse": float((errors**2).mean()) if n else None,  # type: ignore[arg-type]
                    "mean_error": float(errors.mean()) if n else None,  # type: ignore[arg-type]
                    "weight_adjustment": weight_adjustment(relative, rules)
                    if sufficient and relative is not None
                    else None,
                    "sufficient": sufficient,
                    "reason": None
                    if sufficient
                    else f"{n} completed in the last {rules.lookback_days} days < min_predictions {rules.min_predictions}",
                    "window_start": start,
                    "mean_abs_actual": scale,
                    "relative_mae": relative if relative is None or math.isfinite(relative) else None,
                }
            )
    return pl.DataFrame(rows, schema=VARIANCE_SCHEMA) if rows else pl.DataFrame(schema=VARIANCE_SCHEMA)


def weights(
    analysis: pl.DataFrame, as_of: dt.date, strategies: list[str], regimes: list[str], rules: VarianceRules
) -> pl.DataFrame:
    """Rows of ``strategy_weights`` for ``as_of``: every strategy x regime (scores look them up)."""
    adjustments = {
        (s, r): a
        for s, r, a, ok in analysis.select("strategy_type", "regime", "weight_adjustment", "sufficient").iter_rows()
        if ok
    }
    rows = []
    for strategy in strategies:
        base = float(rules.strategy_weights.get(strategy, 1.0))
        for regime in regimes:
            if not rules.enabled:
                adjustment, basis, reason = 1.0, "base", "variance analysis disabled"
            elif (strategy, regime) in adjustments:
                adjustment, basis, reason = adjustments[(strategy, regime)], "strategy_regime", None
            elif (strategy, ALL_REGIMES) in adjustments:
                adjustment, basis = adjustments[(strategy, ALL_REGIMES)], "strategy"
                reason = f"too few {regime} predictions: the strategy's adjustment"
            else:
                adjustment, basis = 1.0, "base"
                reason = (
                    f"fewer than {rules.min_predictions} completed predictions in the last "
                    f"{rules.lookback_days} days: base weight"
                )
            regime_adjustment = float(rules.regime_adjustments.get(regime, 1.0))
            rows.append(
                {
                    "as_of": as_of,
                    "strategy_type": strategy,
                    "regime": regime,
                    "base_weight": base,
                    "variance_adjustment": adjustment,
                    "regime_adjustment": regime_adjustment,
                    "weight": base * adjustment * regime_adjustment,
                    "basis": basis,
                    "reason": reason,
                }
            )
    return pl.DataFrame(rows, schema=WEIGHT_SCHEMA) if rows else pl.DataFrame(schema=WEIGHT_SCHEMA)
