"""Forecast evaluation once the target date has data, and the rolling metrics.

Per forecast (symbol, origin ``date``, model, horizon): ``actual`` is the realized h-day
log return from the origin's close to the ``target_date``'s close; ``error = actual -
point``; ``smape = 2 |error| / (|actual| + |point|)`` (null when both are 0); a direction
``hit`` when ``prob_up`` and the outcome agree (null when the model makes no call,
``prob_up = 0.5``, or the price did not move); ``covered_80``/``covered_95``: the actual
lies inside the interval.

Rolling, per (model, symbol, horizon), over the scored forecasts whose target dates fall
in the last ``window`` sessions: RMSE, MAE, mean sMAPE, MASE (MAE over the naive model's
MAE on the same targets), directional accuracy, 95% coverage, tracking error (sample std
of the errors) and the Diebold-Mariano test of squared-error loss against naive, with
Harvey-Leybourne-Newbold's small-sample correction and a Newey-West variance over lags
< h (overlapping h-day targets). ``dm_stat < 0`` means the model's losses are lower;
``dm_pvalue`` is one-sided (H1: the model beats naive), from Student's t with n - 1 df.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

BASELINE = "naive"
ROLLING_COLUMNS = (
    "window_n",
    "rmse",
    "mae",
    "smape_mean",
    "mase",
    "directional_accuracy",
    "coverage_95",
    "tracking_error",
    "dm_stat",
    "dm_pvalue",
)


def realized(forecasts: pl.DataFrame, closes: pl.DataFrame) -> pl.DataFrame:
    """Per-forecast scores for the forecasts whose target date has a close.

    Args:
        forecasts: rows with symbol, date, target_date, model, horizon, point, prob_up and
            the interval bounds.
        closes: ``ohlcv_daily`` symbol, date, close covering origins and targets.
    """
    log_close = closes.select("symbol", "date", pl.col("close").log().alias("log_close"))
    frame = forecasts.join(log_close, on=["symbol", "date"], how="inner").join(
        log_close.rename({"date": "target_date", "log_close": "target_log_close"}),
        on=["symbol", "target_date"],
        how="inner",
    )
    actual = pl.col("target_log_close") - pl.col("log_close")
    error = pl.col("actual") - pl.col("point")
    scale = pl.col("actual").abs() + pl.col("point").abs()
    call = pl.when(pl.col("prob_up") != 0.5).then(pl.col("prob_up") > 0.5)
    return frame.with_columns(actual=actual).with_columns(
        error=error,
        abs_error=error.abs(),
        squared_error=error**2,
        smape=pl.when(scale > 0).then(2.0 * error.abs() / scale),
        hit=pl.when(pl.col("actual") != 0).then(call == (pl.col("actual") > 0)),
        covered_80=pl.col("actual").is_between(pl.col("lower_80"), pl.col("upper_80")),
        covered_95=pl.col("actual").is_between(pl.col("lower_95"), pl.col("upper_95")),
    )


def diebold_mariano(loss_model: np.ndarray, loss_base: np.ndarray, horizon: int) -> tuple[float, float]:
    """DM statistic (HLN-corrected) and one-sided p-value that the model's loss is lower."""
    d = loss_model - loss_base
    n = len(d)
    if n < 3:
        return math.nan, math.nan
    mean = d.mean()
    centered = d - mean
    variance = centered @ centered / n
    for lag in range(1, min(horizon, n)):
        variance += 2.0 * (1.0 - lag / horizon) * (centered[lag:] @ centered[:-lag]) / n
    if variance <= 0:
        return math.nan, math.nan
    statistic = mean / math.sqrt(variance / n)
    correction = math.sqrt(max((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n, 0.0))
    statistic *= correction
    return float(statistic), float(stats.t.cdf(statistic, df=n - 1))


def rolling_metrics(scored: pl.DataFrame, sessions: Sequence[dt.date], window: int) -> pl.DataFrame:
    """Add the rolling columns to every scored row (see the module docstring).

    ``sessions`` are trading days covering the rows' target dates and ``window`` sessions
    before the earliest: the window of a row holds its group's rows whose target date is
    one of the last ``window`` sessions up to its own.
    """
    base = scored.filter(pl.col("model") == BASELINE).select(
        "symbol", "horizon", "target_date", naive_abs=pl.col("abs_error"), naive_sq=pl.col("squared_error")
    )
    frame = scored.join(base, on=["symbol", "horizon", "target_date"], how="left").sort(
        "model", "symbol", "horizon", "target_date"
    )
    out: dict[str, list[float | None]] = {c: [] for c in ROLLING_COLUMNS}
    for (_model, _symbol, horizon), group in frame.group_by(["model", "symbol", "horizon"], maintain_order=True):
        targets = group.get_column("target_date").to_list()
        arrays = {
            c: group.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy()
            for c in ("error", "abs_error", "squared_error", "smape", "hit", "covered_95", "naive_abs", "naive_sq")
        }
        for i, target in enumerate(targets):
            first = sessions[max(bisect.bisect_right(sessions, target) - window, 0)]
            lo = bisect.bisect_left(targets, first)
            part = {c: v[lo : i + 1] for c, v in arrays.items()}
            for name, value in _window_metrics(part, int(horizon)).items():
                out[name].append(value)
    return frame.drop("naive_abs", "naive_sq").with_columns(
        pl.Series(name, values, dtype=pl.Int64 if name == "window_n" else pl.Float64) for name, values in out.items()
    )


def _window_metrics(part: dict[str, np.ndarray], horizon: int) -> dict[str, float | None]:
    def nanmean(values: np.ndarray) -> float | None:
        values = values[~np.isnan(values)]
        return float(values.mean()) if len(values) else None

    n = len(part["error"])
    mae = float(part["abs_error"].mean())
    paired = ~np.isnan(part["naive_abs"])
    naive_mae = float(part["naive_abs"][paired].mean()) if paired.any() else math.nan
    dm_stat, dm_p = (
        diebold_mariano(part["squared_error"][paired], part["naive_sq"][paired], horizon)
        if paired.sum() >= 3
        else (math.nan, math.nan)
    )
    values: dict[str, float | None] = {
        "window_n": n,
        "rmse": float(math.sqrt(part["squared_error"].mean())),
        "mae": mae,
        "smape_mean": nanmean(part["smape"]),
        "mase": mae / naive_mae if naive_mae and naive_mae > 0 else None,
        "directional_accuracy": nanmean(part["hit"]),
        "coverage_95": float(part["covered_95"].mean()),
        "tracking_error": float(part["error"].std(ddof=1)) if n > 1 else None,
        "dm_stat": dm_stat,
        "dm_pvalue": dm_p,
    }
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


REPLAY_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "date": pl.Date(),
    "horizon": pl.Int64(),
    "target_date": pl.Date(),
    "regime": pl.String(),
    "prob_up": pl.Float64(),
    "predicted_label": pl.String(),
    "true_label": pl.String(),
    "actual": pl.Float64(),
    "confidence": pl.Float64(),
    "error_score": pl.Float64(),
    "features": pl.String(),
}


def replay_candidates(scored: pl.DataFrame, model: str, min_confidence: float) -> pl.DataFrame:
    """The error replay buffer's rows among scored forecasts: ``model``'s wrong direction
    calls (``hit`` false) made with ``confidence = max(p, 1 - p)`` of at least
    ``min_confidence``; ``error_score = confidence x wrong`` (the retrain replays the
    worst, see ``forecasting.replay_weights``). ``features`` is left null for the caller."""
    confidence = pl.max_horizontal(pl.col("prob_up"), 1.0 - pl.col("prob_up"))
    label = {True: "up", False: "down"}
    wrong = scored.filter((pl.col("model") == model) & (pl.col("hit") == False) & (confidence >= min_confidence))  # noqa: E712
    return wrong.select(
        "symbol",
        "date",
        "horizon",
        "target_date",
        "regime",
        "prob_up",
        predicted_label=(pl.col("prob_up") > 0.5).replace_strict(label),
        true_label=(pl.col("actual") > 0).replace_strict(label),
        actual="actual",
        confidence=confidence,
        error_score=confidence,  # x wrong, which is 1 for every row here
        features=pl.lit(None, pl.String),
    )
