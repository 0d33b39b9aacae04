"""Backtest metrics of completed predictions, and accuracy by sector, symbol and regime.

Each prediction is a trade of ``capital_per_trade`` opened at entry and closed at exit, net
of costs, and trades overlap. A strategy's book holds one ``capital_per_trade`` per trade
open at its busiest session (trades entered on or before the session and exiting on or
after it): that is its capital, and its equity is the capital plus the realised P&L, each
trade's booked on its exit date. Daily returns are the equity's session-to-session changes
from the first entry to ``as_of``; ratios annualize with 252 sessions; the total return is
the P&L over the capital. Fewer than ``min_trades`` (the original's 30) realised trades: the
metrics are computed but flagged as not yet evidence.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import polars as pl

ALL = "all"
ANNUAL = 252

BACKTEST_SCHEMA: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "strategy_type": pl.String(),
    "trades": pl.Int64(),
    "capital": pl.Float64(),
    "total_return": pl.Float64(),
    "sharpe": pl.Float64(),
    "sortino": pl.Float64(),
    "max_drawdown": pl.Float64(),
    "win_rate": pl.Float64(),
    "profit_factor": pl.Float64(),
    "hit_rate": pl.Float64(),
    "avg_holding_days": pl.Float64(),
    "total_pnl": pl.Float64(),
    "evidence": pl.Boolean(),
}

SECTOR_SCHEMA: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "sector": pl.String(),
    "symbol": pl.String(),
    "regime": pl.String(),
    "predictions": pl.Int64(),
    "correct": pl.Int64(),
    "accuracy": pl.Float64(),
    "total_pnl": pl.Float64(),
    "mean_pnl_pct": pl.Float64(),
    "weakest_rank": pl.Int64(),
}


def sharpe(returns: Sequence[float] | np.ndarray) -> float | None:
    """Annualized mean over standard deviation (ddof 1) of daily returns."""
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return None
    sd = r.std(ddof=1)
    return float(r.mean() / sd * math.sqrt(ANNUAL)) if sd > 0 else None


def sortino(returns: Sequence[float] | np.ndarray) -> float | None:
    """Annualized mean over the downside deviation sqrt(mean(min(r, 0)^2)), target 0."""
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    return float(r.mean() / downside * math.sqrt(ANNUAL)) if downside > 0 else None


def max_drawdown(equity: Sequence[float] | np.ndarray) -> float:
    """The largest fall from a running peak, as a positive fraction of that peak."""
    e = np.asarray(equity, dtype=float)
    if e.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(e)
    return float(np.max(1.0 - e / peaks))


def profit_factor(pnls: Sequence[float] | np.ndarray) -> float | None:
    """Gross profit over gross loss; None without a losing trade (undefined)."""
    p = np.asarray(pnls, dtype=float)
    loss = -p[p < 0].sum()
    return float(p[p > 0].sum() / loss) if loss > 0 else None


def equity_curve(trades: pl.DataFrame, sessions: Sequence[dt.date], as_of: dt.date, capital: float) -> np.ndarray:
    """The book's equity before the first entry and at the close of each session to ``as_of``."""
    first = trades["date"].min()
    days = np.array([d for d in sessions if first <= d <= as_of], dtype="datetime64[D]")  # type: ignore[operator]
    entries = np.sort(trades["date"].to_numpy().astype("datetime64[D]"))
    exits = np.sort(trades["exit_date"].to_numpy().astype("datetime64[D]"))
    # open on d: entered on or before d, less those that exited before d
    busiest = int((np.searchsorted(entries, days, side="right") - np.searchsorted(exits, days, side="left")).max())
    realised = dict(trades.group_by("exit_date").agg(pl.col("actual_pnl").sum()).iter_rows())
    pnl = np.array([realised.get(d, 0.0) for d in days.astype(dt.date)])
    return capital * max(busiest, 1) + np.concatenate([[0.0], np.cumsum(pnl)])


def metrics(
    trades: pl.DataFrame,
    sessions: Sequence[dt.date],
    as_of: dt.date,
    label: str,
    capital: float,
    min_trades: int,
) -> dict[str, object]:
    """One ``backtest_metrics`` row. ``trades``: completed predictions (entry ``date``,
    ``exit_date``, ``actual_pnl``, ``actual_pnl_pct``, ``predicted_return_pct``,
    ``holding_days``) up to ``as_of``; ``sessions``: the exchange's sessions to ``as_of``."""
    n = trades.height
    row: dict[str, object] = {"as_of": as_of, "strategy_type": label, "trades": n, "evidence": n >= min_trades}
    if n == 0:
        return row | {k: None for k in BACKTEST_SCHEMA if k not in row}
    curve = equity_curve(trades, sessions, as_of, capital)
    daily = np.diff(curve) / curve[:-1]
    pnl = trades["actual_pnl"].to_numpy()
    predicted, actual = trades["predicted_return_pct"].to_numpy(), trades["actual_pnl_pct"].to_numpy()
    return row | {
        "capital": float(curve[0]),
        "total_return": float(curve[-1] / curve[0] - 1.0),
        "sharpe": sharpe(daily),
        "sortino": sortino(daily),
        "max_drawdown": max_drawdown(curve),
        "win_rate": float(np.mean(pnl > 0)),
        "profit_factor": profit_factor(pnl),
        "hit_rate": float(np.mean(np.sign(predicted) == np.sign(actual))),
        "avg_holding_days": float(trades["holding_days"].mean()),  # type: ignore[arg-type]
        "total_pnl": float(pnl.sum()),
    }


def sector_performance(completed: pl.DataFrame, as_of: dt.date, min_predictions: int) -> pl.DataFrame:
    """Accuracy (the sign of the predicted return was the sign of the actual) and P&L of the
    completed predictions by sector, by sector and symbol, by sector and regime, and by all
    three (``*`` marks a level summed over); sectors with at least ``min_predictions``
    are ranked from the weakest (``weakest_rank`` 1)."""
    if completed.is_empty():
        return pl.DataFrame(schema=SECTOR_SCHEMA)
    frame = completed.with_columns(
        correct=(pl.col("predicted_return_pct").sign() == pl.col("actual_pnl_pct").sign()).cast(pl.Int64),
        regime=pl.col("regime_at_entry"),
    )
    levels = []
    for keys in (["sector"], ["sector", "symbol"], ["sector", "regime"], ["sector", "symbol", "regime"]):
        grouped = frame.group_by(keys).agg(
            predictions=pl.len().cast(pl.Int64),
            correct=pl.col("correct").sum(),
            total_pnl=pl.col("actual_pnl").sum(),
            mean_pnl_pct=pl.col("actual_pnl_pct").mean(),
        )
        missing = [c for c in ("symbol", "regime") if c not in keys]
        levels.append(grouped.with_columns([pl.lit("*").alias(c) for c in missing]))
    out = pl.concat(
        [f.select("sector", "symbol", "regime", "predictions", "correct", "total_pnl", "mean_pnl_pct") for f in levels]
    )
    out = out.with_columns(as_of=pl.lit(as_of), accuracy=pl.col("correct") / pl.col("predictions"))
    sector_level = (pl.col("symbol") == "*") & (pl.col("regime") == "*") & (pl.col("predictions") >= min_predictions)
    ranked = out.filter(sector_level).sort("accuracy", "sector").with_row_index("rank", offset=1)
    out = out.join(
        ranked.select("sector", "symbol", "regime", pl.col("rank").cast(pl.Int64).alias("weakest_rank")),
        on=["sector", "symbol", "regime"],
        how="left",
    )
    return out.select(list(SECTOR_SCHEMA)).sort("sector", "symbol", "regime")
