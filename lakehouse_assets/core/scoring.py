"""Forecast evaluation once the target date has data, and the rolling metrics.

Per forecast (symbol, origin ``date``, model, horizon): ``actual`` is the realized h-day
log return from the origin's close to the ``target_date``'s close; ``error = actual -
point`` (log-return units, fractions); ``smape = 2 |P - A| / (|P| + |A|)`` of the implied
*price* forecast ``P = close x exp(point)`` against the target's close ``A`` (on prices, not
returns: sMAPE of a return near zero is degenerate, naive's would be exactly 2; on prices it
equals ``2 tanh(|error| / 2)``, about the absolute log error); ``crps`` the continuous ranked
probability score of the forecast's normal distribution ``N(point, volatility^2)`` at the
actual (log-return units; lower is better; it rewards sharp intervals that still cover and
equals ``|error|`` for a zero-width forecast); a direction ``hit`` when ``prob_up`` and the
outcome agree (null when the model makes no call, ``prob_up = 0.5``, or the price did not
move); ``covered_80``/``covered_95``: the actual lies inside the interval.

Rolling, per (model, symbol, horizon), over the scored forecasts whose target dates fall
in the last ``window`` sessions: RMSE, MAE, mean sMAPE, mean CRPS, ``relative_mae`` (the
out-of-sample MAE over the naive model's MAE on the same targets: below 1 beats the random
walk; this is *not* Hyndman's MASE, whose scale is the in-sample naive error), directional
accuracy, ``balanced_accuracy`` (the mean of the hit rates on up and on down outcomes: a
model that always calls the same direction scores 0.5 whatever the share of up days, null
while only one outcome occurred), 80% and 95% coverage, tracking error (sample std of the
errors) and the Diebold-Mariano test of squared-error loss against naive, with
Harvey-Leybourne-Newbold's small-sample correction and a Newey-West variance over lags
< h (overlapping h-day targets). ``dm_stat < 0`` means the model's losses are lower;
``dm_pvalue`` is one-sided (H1: the model beats naive), from Student's t with n - 1 df.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence

import numpy as np
import polars as pl
from scipy import stats

BASELINE = "naive"
ROLLING_COLUMNS = (
    "window_n",
    "rmse",
    "mae",
    "smape_mean",
    "crps_mean",
    "relative_mae",
    "directional_accuracy",
    "balanced_accuracy",
    "coverage_80",
    "coverage_95",
    "tracking_error",
    "dm_stat",
    "dm_pvalue",
)
WINDOW_INPUTS = (
    "error",
    "abs_error",
    "squared_error",
    "smape",
    "crps",
    "hit",
    "up",
    "covered_80",
    "covered_95",
    "naive_abs",
    "naive_sq",
)
"""The scored columns (with the naive model's errors joined) that a window's metrics read."""
_SQRT_PI = math.sqrt(math.pi)
_EPOCH = dt.date(1970, 1, 1)  # day 0 of polars' Date

COLUMN_NOTES: dict[str, str] = {
    "date": "the forecast's origin session",
    "regime": "the market regime (the index's) of the origin session",
    "point": "forecast h-day log return (fraction)",
    "actual": "realized h-day log return, origin close to target close (fraction)",
    "error": "actual - point (log-return units)",
    "smape": "2 |P - A| / (P + A) of the implied price P = close x exp(point) and the target close A",
    "crps": "CRPS of the normal forecast N(point, volatility^2) at the actual (log-return units; lower is better)",
    "hit": "the direction call (prob_up vs 0.5) was right; null without a call or a move",
    "covered_80": "the actual lies in [lower_80, upper_80]",
    "covered_95": "the actual lies in [lower_95, upper_95]",
    "window_n": "scored forecasts of the model, symbol and horizon with target dates in the rolling window",
    "smape_mean": "rolling mean of smape",
    "crps_mean": "rolling mean of crps",
    "relative_mae": "rolling MAE over the naive model's MAE on the same targets (out of sample; < 1 beats the "
    "random walk; not Hyndman's in-sample-scaled MASE)",
    "directional_accuracy": "rolling share of right direction calls",
    "balanced_accuracy": "rolling mean of the hit rates on up and on down outcomes (0.5 for a constant call; "
    "null while one outcome only)",
    "coverage_80": "rolling share of actuals inside the 80% interval",
    "coverage_95": "rolling share of actuals inside the 95% interval",
    "tracking_error": "rolling sample standard deviation of the errors",
    "dm_stat": "Diebold-Mariano statistic of squared-error loss vs naive (HLN-corrected, HAC with h-1 lags); < 0: "
    "lower losses",
    "dm_pvalue": "its one-sided p-value (H1: the model beats naive), before the gate's multiple-comparison correction",
}


def normal_crps(actual: pl.Expr, mean: pl.Expr, sd: pl.Expr) -> pl.Expr:
    """CRPS of ``N(mean, sd^2)`` at ``actual`` (Gneiting and Raftery 2007, eq. 5):
    ``sd (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))`` with ``z = (actual - mean) / sd``;
    ``|actual - mean|`` when ``sd`` is 0 (a point forecast)."""
    z = (actual - mean) / sd
    pdf = (-0.5 * z**2).exp() / math.sqrt(2.0 * math.pi)
    cdf = 0.5 * (1.0 + (z / math.sqrt(2.0)).map_batches(_erf, return_dtype=pl.Float64))
    value = sd * (z * (2.0 * cdf - 1.0) + 2.0 * pdf - 1.0 / _SQRT_PI)
    return pl.when(sd > 0).then(value).otherwise((actual - mean).abs())


def _erf(values: pl.Series) -> pl.Series:
    from scipy import special

    return pl.Series(values.name, special.erf(values.fill_null(np.nan).to_numpy()), dtype=pl.Float64)


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
    # prices relative to the origin's close: 2 |e^p - e^a| / (e^p + e^a)
    forecast_price, actual_price = pl.col("point").exp(), pl.col("actual").exp()
    call = pl.when(pl.col("prob_up") != 0.5).then(pl.col("prob_up") > 0.5)
    return frame.with_columns(actual=actual).with_columns(
        error=error,
        abs_error=error.abs(),
        squared_error=error**2,
        smape=2.0 * (forecast_price - actual_price).abs() / (forecast_price + actual_price),
        crps=normal_crps(pl.col("actual"), pl.col("point"), pl.col("volatility")),
        hit=pl.when(pl.col("actual") != 0).then(call == (pl.col("actual") > 0)),
        covered_80=pl.col("actual").is_between(pl.col("lower_80"), pl.col("upper_80")),
        covered_95=pl.col("actual").is_between(pl.col("lower_95"), pl.col("upper_95")),
    )


def diebold_mariano(loss_model: np.ndarray, loss_base: np.ndarray, horizon: int) -> tuple[float, float]:
    """DM statistic (HLN-corrected) and one-sided p-value that the model's loss is lower."""
    statistic, df = _dm_statistic(loss_model, loss_base, horizon)
    if not math.isfinite(statistic):
        return math.nan, math.nan
    return statistic, float(stats.t.cdf(statistic, df=df))


def _dm_statistic(loss_model: np.ndarray, loss_base: np.ndarray, horizon: int) -> tuple[float, int]:
    """The HLN-corrected DM statistic and its Student-t degrees of freedom (NaN if undefined)."""
    d = loss_model - loss_base
    n = len(d)
    if n < 3:
        return math.nan, 0
    mean = d.mean()
    centered = d - mean
    variance = centered @ centered / n
    for lag in range(1, min(horizon, n)):
        variance += 2.0 * (1.0 - lag / horizon) * (centered[lag:] @ centered[:-lag]) / n
    if variance <= 0:
        return math.nan, 0
    statistic = mean / math.sqrt(variance / n)
    correction = math.sqrt(max((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n, 0.0))
    return float(statistic * correction), n - 1


def rolling_metrics(
    scored: pl.DataFrame,
    sessions: Sequence[dt.date],
    window: int,
    since: dt.date | None = None,
    full_from: dt.date | None = None,
) -> pl.DataFrame:
    """Add the rolling columns to every scored row (see the module docstring).

    ``sessions`` are trading days covering the rows' target dates and ``window`` sessions
    before the earliest: the window of a row holds its group's rows whose target date is
    one of the last ``window`` sessions up to its own. ``since``: only rows with a target
    date on or after it are returned; earlier rows only fill their windows, so a row's
    figures do not depend on how far back ``scored`` happens to reach (give ``scored``
    the ``window - 1`` sessions of targets before ``since``). ``full_from``: of the rows
    with a target date before it, only each group's last gets figures (the others come
    back with null rolling columns): a decision on a day from ``full_from`` on reads the
    latest row of each group in its window, which is one of those or a later row, so a
    day's run computes its own targets' figures, not the window's (126 sessions of them).
    The last row before ``full_from`` is skipped when the group has a row on ``full_from``.

    The cost is the windows computed, not the groups: the columns go to numpy once and
    every boundary (a group's first returned row, its first row with figures, each
    window's start) is one ``searchsorted`` over all groups on the sorted key (group,
    target date). Converting each group's columns in a loop over the groups cost 1-6 ms a
    group: 1-5 s of an ordinary day at 100 symbols (600 groups) that computes one window
    per group. The windows' figures are ``_windows_metrics``: the definition of
    ``_window_metrics`` computed for all windows at once, with numpy's own reductions over
    windows of the same length, so the same bits (``tests/core/test_rolling_windows.py``
    checks them against the row-by-row definition).
    """
    base = scored.filter(pl.col("model") == BASELINE).select(
        "symbol", "horizon", "target_date", naive_abs=pl.col("abs_error"), naive_sq=pl.col("squared_error")
    )
    frame = scored.join(base, on=["symbol", "horizon", "target_date"], how="left").sort(
        "model", "symbol", "horizon", "target_date"
    )
    # the outcome's direction where a call was scored (hit not null), for the balanced accuracy
    frame = frame.with_columns(up=pl.when(pl.col("hit").is_not_null()).then(pl.col("actual") > 0))
    keys = frame.select(
        group=pl.struct("model", "symbol", "horizon").rle_id().cast(pl.Int64),
        day=pl.col("target_date").cast(pl.Int64),
        horizon=pl.col("horizon"),
    )
    group, day = keys.get_column("group").to_numpy(), keys.get_column("day").to_numpy()
    # (group, target day) as one ascending int64: days since 1970 fit 32 bits either side
    key = (group << 32) + day
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    ends = np.append(starts[1:], len(group))
    group_ids = group[starts]

    def first_at(date: dt.date | None) -> np.ndarray:
        """Each group's first row with a target date on or after ``date`` (its start if None)."""
        if date is None:
            return starts
        return np.searchsorted(key, (group_ids << 32) + (date - _EPOCH).days, side="left")

    skip, full = first_at(since), first_at(full_from)
    full = np.maximum(full, skip)
    if full_from is not None:
        on_full_from = (full < ends) & (day[np.minimum(full, len(day) - 1)] == (full_from - _EPOCH).days)
        # the last row before full_from may be the latest of a later day's window
        full = full - ((full > skip) & ~on_full_from)
    position, sizes = np.arange(len(frame)), ends - starts
    kept = position >= np.repeat(skip, sizes)
    rows = np.flatnonzero(position >= np.repeat(full, sizes))
    # each row's window starts at the session window - 1 before its target date (or the calendar's first)
    session_days = np.array([(s - _EPOCH).days for s in sessions], dtype=np.int64)
    first = session_days[np.maximum(np.searchsorted(session_days, day[rows], side="right") - window, 0)]
    lows = np.searchsorted(key, (group[rows] << 32) + first, side="left")
    arrays = {c: frame.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy() for c in WINDOW_INPUTS}
    horizons = keys.get_column("horizon").to_numpy()
    out = {c: np.full(len(frame), np.nan) for c in ROLLING_COLUMNS}
    dm_df = np.zeros(len(frame), dtype=np.int64)
    figures, dm_df[rows] = _windows_metrics(arrays, lows, rows + 1, horizons[rows])
    for name, values in figures.items():
        out[name][rows] = values
    # one vectorized Student-t CDF for every row's Diebold-Mariano p-value (a scalar call is ~70 us)
    statistic = out["dm_stat"]
    defined = np.isfinite(statistic) & (dm_df > 0)
    out["dm_pvalue"][defined] = stats.t.cdf(statistic[defined], df=dm_df[defined])
    return (
        frame.with_columns(
            pl.Series(name, values, nan_to_null=True).cast(pl.Int64 if name == "window_n" else pl.Float64)
            for name, values in out.items()
        )
        .filter(pl.Series(kept))
        .drop("naive_abs", "naive_sq", "up")
    )


def _window_metrics(part: dict[str, np.ndarray], horizon: int) -> tuple[dict[str, float | None], int]:
    """The rolling figures of one window, and the degrees of freedom of its DM statistic
    (``dm_pvalue`` is left for the caller to compute, vectorized)."""

    def nanmean(values: np.ndarray) -> float | None:
        values = values[~np.isnan(values)]
        return float(values.mean()) if len(values) else None

    n = len(part["error"])
    mae = float(part["abs_error"].mean())
    paired = ~np.isnan(part["naive_abs"])
    naive_mae = float(part["naive_abs"][paired].mean()) if paired.any() else math.nan
    dm_stat, dm_df = (
        _dm_statistic(part["squared_error"][paired], part["naive_sq"][paired], horizon)
        if paired.sum() >= 3
        else (math.nan, 0)
    )
    values: dict[str, float | None] = {
        "window_n": n,
        "rmse": float(math.sqrt(part["squared_error"].mean())),
        "mae": mae,
        "smape_mean": nanmean(part["smape"]),
        "crps_mean": nanmean(part["crps"]),
        "relative_mae": mae / naive_mae if naive_mae and naive_mae > 0 else None,
        "directional_accuracy": nanmean(part["hit"]),
        "balanced_accuracy": balanced_accuracy(part["hit"], part["up"]),
        "coverage_80": float(part["covered_80"].mean()),
        "coverage_95": float(part["covered_95"].mean()),
        "tracking_error": float(part["error"].std(ddof=1)) if n > 1 else None,
        "dm_stat": dm_stat,
        "dm_pvalue": None,
    }
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}, dm_df


# a block of gathered windows holds at most this many values (2 MB of float64, and as much
# of indices and temporaries), so the kernel's memory does not grow with the range's length
_BLOCK_VALUES = 1 << 18


def _windows_metrics(
    arrays: dict[str, np.ndarray], lows: np.ndarray, highs: np.ndarray, horizons: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``_window_metrics`` of every window ``[lows[k], highs[k])`` of the columns ``arrays``
    at once: per rolling column an array over the windows (NaN where the definition gives
    None; ``dm_pvalue`` all NaN, for the caller), and the DM statistic's degrees of freedom.

    The figures are the definition's arithmetic on the same values, in the same order, so
    they are the same bits. A mean of a slice is numpy's pairwise sum over its values
    divided by their count; the same reduction over the rows of a C-contiguous block of
    windows of one length gives the same sum per row (``_segment_means``). A mean over a
    window's non-NaN values (``nanmean``, the naive pairs, the up and down outcomes) is a
    mean of a contiguous segment of the column with its masked-out values removed: removing
    them keeps the order, so the definition's compacted array is that segment. The DM
    statistic's dot products are numpy's ``matmul`` over a stack of windows, which calls the
    same BLAS dot on each window as ``@`` on one (``_windows_dm``). Computing the windows
    one at a time cost ~160 us each, 226,760 windows (40 s) for a 126-session range at 100
    symbols; all at once costs some hundred numpy calls per distinct window length.
    """
    n = highs - lows

    def nan_free(column: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The means over each window of ``column``'s values where ``keep``, and their counts."""
        before = np.concatenate(([0], np.cumsum(keep)))
        starts, ends = before[lows], before[highs]
        return _segment_means(column[keep], starts, ends), ends - starts

    def nanmean(column: np.ndarray) -> np.ndarray:
        return nan_free(column, ~np.isnan(column))[0]

    with np.errstate(divide="ignore", invalid="ignore"):
        mae = _segment_means(arrays["abs_error"], lows, highs)
        paired = ~np.isnan(arrays["naive_abs"])
        naive_mae = nan_free(arrays["naive_abs"], paired)[0]
        hit, up = arrays["hit"], arrays["up"]
        called = ~np.isnan(hit)
        up_rate, n_up = nan_free(hit, called & (up == 1.0))
        down_rate, n_down = nan_free(hit, called & ~(up == 1.0))
        diffs = (arrays["squared_error"] - arrays["naive_sq"])[paired]
        before = np.concatenate(([0], np.cumsum(paired)))
        dm_stat, dm_df = _windows_dm(diffs, before[lows], before[highs], horizons)
        figures = {
            "window_n": n.astype(np.float64),
            "rmse": np.sqrt(_segment_means(arrays["squared_error"], lows, highs)),
            "mae": mae,
            "smape_mean": nanmean(arrays["smape"]),
            "crps_mean": nanmean(arrays["crps"]),
            "relative_mae": np.where(naive_mae > 0, mae / naive_mae, np.nan),
            "directional_accuracy": nanmean(hit),
            "balanced_accuracy": np.where((n_up > 0) & (n_down > 0), 0.5 * (up_rate + down_rate), np.nan),
            "coverage_80": _segment_means(arrays["covered_80"], lows, highs),
            "coverage_95": _segment_means(arrays["covered_95"], lows, highs),
            "tracking_error": _segment_stds(arrays["error"], lows, highs),
            "dm_stat": dm_stat,
            "dm_pvalue": np.full(len(n), np.nan),
        }
    for values in figures.values():
        values[~np.isfinite(values)] = np.nan
    return figures, dm_df


def _blocks(starts: np.ndarray, ends: np.ndarray, *by: np.ndarray) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
    """The segments ``[starts, ends)`` grouped by length (and by each of ``by``, non-negative
    integers): per group its (length, *by values) and the positions of its segments, in
    chunks of at most ``_BLOCK_VALUES`` values. Empty segments are left out."""
    columns = [ends - starts, *by]
    positions = np.flatnonzero(columns[0] > 0)
    if not len(positions):
        return
    # the group's key as one integer, mixed radix: a sort of int64 (a sort of the stacked
    # columns by np.unique(axis=1) cost 60 ms a call)
    combined = np.zeros(len(positions), dtype=np.int64)
    for column in columns:
        combined = combined * (int(column[positions].max()) + 1) + column[positions]
    order = np.argsort(combined, kind="stable")
    positions, combined = positions[order], combined[order]
    bounds = np.flatnonzero(np.diff(combined, prepend=-1, append=-1))
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        first = positions[lo]
        key = tuple(int(column[first]) for column in columns)
        step = max(_BLOCK_VALUES // key[0], 1)
        for at in range(lo, hi, step):
            yield key, positions[at : min(at + step, hi)]


def _gather(values: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """The segments of one length as the rows of a C-contiguous block."""
    return values[starts[:, None] + np.arange(length)]


def _segment_means(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``values[s:e].mean()`` of every segment (NaN for an empty one), bit for bit: numpy
    reduces each row of a C-contiguous block with the same pairwise sum as a 1-D slice."""
    out = np.full(len(starts), np.nan)
    for (length,), which in _blocks(starts, ends):
        out[which] = _gather(values, starts[which], length).mean(axis=1)
    return out


def _segment_stds(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``values[s:e].std(ddof=1)`` of every segment of at least two values (NaN otherwise)."""
    out = np.full(len(starts), np.nan)
    for (length,), which in _blocks(starts, ends):
        if length > 1:
            out[which] = _gather(values, starts[which], length).std(axis=1, ddof=1)
    return out


def _windows_dm(
    diffs: np.ndarray, starts: np.ndarray, ends: np.ndarray, horizons: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``_dm_statistic`` of the loss differences ``diffs[s:e]`` of every segment with at least
    three of them (NaN and 0 degrees of freedom otherwise), with its arithmetic per group of
    segments of one length and horizon: the lag weights and the HLN correction are the same
    Python floats, the means numpy's row reductions and the dot products ``matmul`` over the
    stack of rows (a BLAS dot per row, as ``@`` of two 1-D arrays)."""
    statistic, df = np.full(len(starts), np.nan), np.zeros(len(starts), dtype=np.int64)
    for (n, horizon), which in _blocks(starts, ends, horizons):
        if n < 3:
            continue
        d = _gather(diffs, starts[which], n)
        mean = d.mean(axis=1)
        centered = d - mean[:, None]
        variance = _row_dots(centered, centered) / n
        for lag in range(1, min(horizon, n)):
            variance += 2.0 * (1.0 - lag / horizon) * _row_dots(centered[:, lag:], centered[:, :-lag]) / n
        correction = math.sqrt(max((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n, 0.0))
        positive = ~(variance <= 0)
        statistic[which] = np.where(positive, mean / np.sqrt(variance / n) * correction, np.nan)
        df[which] = np.where(positive, n - 1, 0)
    return statistic, df


def _row_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a[k] @ b[k]`` of every row."""
    return np.asarray(np.matmul(a[:, None, :], b[:, :, None])[:, 0, 0])


def balanced_accuracy(hit: np.ndarray, up: np.ndarray) -> float | None:
    """Mean of the hit rates on up outcomes and on down outcomes (NaN rows: no call scored);
    None unless both outcomes occurred. A constant call scores exactly 0.5.

    >>> balanced_accuracy(np.array([1.0, 1.0, 1.0, 0.0]), np.array([1.0, 1.0, 1.0, 0.0]))
    0.5
    """
    scored = ~np.isnan(hit)
    hit, up = hit[scored], up[scored] == 1.0
    if up.all() or not up.any():
        return None
    return float(0.5 * (hit[up].mean() + hit[~up].mean()))


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
