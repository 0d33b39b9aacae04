"""Market regimes: documented rules over a symbol's features, and the market-wide regime.

Per symbol and date, two labels:

``regime`` (first rule that holds wins):

1. ``crash``: ``drawdown_252 <= crash_drawdown`` and ``rv_percentile >= crash_vol_percentile``
   (deep below the year's high while volatility is extreme for the symbol);
2. ``high_volatility``: ``rv_percentile >= high_vol_percentile`` or
   ``volatility_ratio >= high_vol_ratio`` (volatility high by the symbol's own history,
   or the last two weeks much more volatile than the last quarter);
3. ``recovery``: ``drawdown_252 <= recovery_drawdown`` and ``momentum_20 > 0`` (still
   well below the high, but rising);
4. ``normal``: otherwise.

``trend``: ``bull`` when ``sma_20 > sma_50``, ``close > sma_50`` and ``adx_14 >=
trend_adx_min``; ``bear`` when both are below and ADX as well; else ``sideways`` (no
trend strong enough, or price and averages disagree).

``rv_percentile`` is the share of the last ``vol_percentile_window`` values of
``realized_vol_21`` (current one included) that are at most the current one, once at least
``vol_percentile_min`` of them exist. Rows whose inputs are still warming up get null
labels, never a guess. The thresholds live in ``config/regimes.yaml``.

The market-wide regime of a date (``market_regime``, ``market_trend``) is the regime (and
trend) of the configured index symbol on that date. The prediction ledger records both at
entry: the symbol's as ``regime_at_entry`` (what the weights are keyed by) and the market's
as ``market_regime_at_entry``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

REGIMES = ("normal", "high_volatility", "crash", "recovery")
TRENDS = ("bull", "bear", "sideways")
INPUT_COLUMNS: tuple[str, ...] = ("symbol", "date", "close", "sma_20", "sma_50", "adx_14", "momentum_20")
INPUT_COLUMNS += ("volatility_ratio", "realized_vol_21", "drawdown_252")
SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "date": pl.Date(),
    "regime": pl.String(),
    "trend": pl.String(),
    "market_regime": pl.String(),
    "market_trend": pl.String(),
    "rv_percentile": pl.Float64(),
}


@dataclass(frozen=True)
class RegimeRules:
    """Thresholds of the regime and trend rules (``config/regimes.yaml``)."""

    vol_percentile_window: int
    vol_percentile_min: int
    crash_drawdown: float
    crash_vol_percentile: float
    high_vol_percentile: float
    high_vol_ratio: float
    recovery_drawdown: float
    trend_adx_min: float


def lookback_rows(rules: RegimeRules) -> int:
    """Rows of a symbol before a day that its labels depend on: ``vol_percentile_window - 1``.

    Every other input of the rules is the day's own row (``features`` already carries
    its history), so the labels of a day computed from the symbol's last
    ``lookback_rows`` rows before it are the labels of the whole history, to the bit.
    """
    return rules.vol_percentile_window - 1


def rolling_percentile(values: np.ndarray, window: int, min_count: int, first: int = 0) -> np.ndarray:
    """Share of the last ``window`` values (current included) that are <= the current one.

    NaN marks a missing value: it is not counted, and a row whose own value is missing,
    or that has fewer than ``min_count`` values in its window, gets NaN. Rows before
    ``first`` only serve as history: they are not evaluated (NaN).
    """
    n = len(values)
    padded = np.concatenate([np.full(window - 1, np.nan), values])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    out = np.full(n, np.nan)
    for start in range(first, n, 4096):  # bounded memory: window x 4096 comparisons at a time
        block = windows[start : start + 4096]
        current = values[start : start + 4096, None]
        present = ~np.isnan(block)
        count = present.sum(axis=1)
        at_most = (block <= current).sum(axis=1)  # NaN compares False
        ok = (count >= min_count) & ~np.isnan(current[:, 0])
        out[start : start + 4096] = np.where(ok, at_most / np.maximum(count, 1), np.nan)
    return out


def regime_expr(rules: RegimeRules) -> pl.Expr:
    """The regime label from ``drawdown_252``, ``rv_percentile``, ``volatility_ratio``, ``momentum_20``."""
    drawdown, percentile = pl.col("drawdown_252"), pl.col("rv_percentile")
    ratio, momentum = pl.col("volatility_ratio"), pl.col("momentum_20")
    ready = pl.all_horizontal(c.is_not_null() for c in (drawdown, percentile, ratio, momentum))
    crash = (drawdown <= rules.crash_drawdown) & (percentile >= rules.crash_vol_percentile)
    high_vol = (percentile >= rules.high_vol_percentile) | (ratio >= rules.high_vol_ratio)
    recovery = (drawdown <= rules.recovery_drawdown) & (momentum > 0)
    label = (
        pl.when(crash)
        .then(pl.lit("crash"))
        .when(high_vol)
        .then(pl.lit("high_volatility"))
        .when(recovery)
        .then(pl.lit("recovery"))
        .otherwise(pl.lit("normal"))
    )
    return pl.when(ready).then(label)


def trend_expr(rules: RegimeRules) -> pl.Expr:
    """The trend label from ``close``, ``sma_20``, ``sma_50`` and ``adx_14``."""
    close, fast, slow, strength = pl.col("close"), pl.col("sma_20"), pl.col("sma_50"), pl.col("adx_14")
    ready = pl.all_horizontal(fast.is_not_null(), slow.is_not_null(), strength.is_not_null())
    strong = strength >= rules.trend_adx_min
    label = (
        pl.when(strong & (fast > slow) & (close > slow))
        .then(pl.lit("bull"))
        .when(strong & (fast < slow) & (close < slow))
        .then(pl.lit("bear"))
        .otherwise(pl.lit("sideways"))
    )
    return pl.when(ready).then(label)


def with_vol_percentile(features: pl.DataFrame, rules: RegimeRules, since: dt.date | None = None) -> pl.DataFrame:
    """``features`` sorted by symbol and date, with ``rv_percentile`` added.

    Rows before ``since`` (when given) are history only: their ``realized_vol_21`` feeds
    the percentile of the later rows, and they are left out of the result.
    """
    window, min_count = rules.vol_percentile_window, rules.vol_percentile_min
    evaluated = pl.lit(True) if since is None else pl.col("date") >= since
    # only the volatility of the history is needed: sort and scan that, not every column
    history = features.select("symbol", "date", "realized_vol_21").sort("symbol", "date", maintain_order=True)
    vol = history.get_column("realized_vol_21").cast(pl.Float64).fill_null(np.nan).to_numpy()
    spans = (
        history.with_row_index("row")
        .group_by("symbol", maintain_order=True)
        .agg(pl.col("row").first().alias("start"), pl.col("row").filter(evaluated).first().alias("first"))
    )
    ends = [*spans.get_column("start").to_list()[1:], len(vol)][: spans.height]
    out = np.full(len(vol), np.nan)
    for start, first, end in zip(spans.get_column("start"), spans.get_column("first"), ends, strict=True):
        if first is None:
            continue
        lo = max(start, first - window + 1)  # the earliest row a window of an evaluated row reaches
        out[first:end] = rolling_percentile(vol[lo:end], window, min_count, first - lo)[first - lo :]
    percentile = pl.Series("rv_percentile", out).fill_nan(None)
    if since is None:
        return features.sort("symbol", "date", maintain_order=True).with_columns(percentile)
    rows = features.filter(evaluated).sort("symbol", "date", maintain_order=True)
    return rows.with_columns(percentile.filter(history.get_column("date") >= since))


def classify(
    features: pl.DataFrame, rules: RegimeRules, index_symbol: str, *, since: dt.date | None = None
) -> pl.DataFrame:
    """Regime rows (:data:`SCHEMA`) for every feature row (from ``since`` on, if given).

    Args:
        features: ``features`` rows with :data:`INPUT_COLUMNS`, each symbol from its first
            row or at least its last :func:`lookback_rows` rows before ``since`` (the
            volatility percentile looks back up to ``vol_percentile_window`` rows).
        rules: the thresholds.
        index_symbol: whose labels are the market-wide regime of each date; dates where
            the index has no row get a null market regime.
        since: rows before this date are history only: they feed the percentile of later
            rows but are neither evaluated nor returned.
    """
    labelled = with_vol_percentile(features.select(INPUT_COLUMNS), rules, since).with_columns(
        regime=regime_expr(rules), trend=trend_expr(rules)
    )
    market = labelled.filter(pl.col("symbol") == index_symbol).select(
        "date", market_regime="regime", market_trend="trend"
    )
    return labelled.join(market, on="date", how="left").select(list(SCHEMA)).sort("symbol", "date")
