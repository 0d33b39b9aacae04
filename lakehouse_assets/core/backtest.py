"""Backtest metrics of the ledger's positions, marked to market daily, and accuracy by sector.

Each prediction is a trade of ``capital_per_trade`` opened at entry and closed at exit, net
of costs, and trades overlap. A strategy's book holds one ``capital_per_trade`` per position
alive at its busiest session (entered on or before the session and exiting on or after it,
positions still open at ``as_of`` included): that is its capital. Its equity at each
session's close is the capital plus the P&L of every position entered by then, *marked to
market*: a closed position counts its realised P&L from its exit date on; an open one its
liquidation value at that close (a directional trade at the close, a spread by
Black–Scholes at the close, the position's volatility and the time left; costs both ways
included; :func:`lakehouse_assets.core.book.marks`). Open losses therefore show in the
drawdown, the volatility and the total return as they happen, not on the exit date.

Daily returns are the equity's session-to-session changes from the session before the
first entry to ``as_of``; Sharpe and Sortino are on *excess* returns over the risk-free rate
the spreads are priced with (``risk_free_rate``, daily ``rate / 252``), annualized with 252
sessions; the total return is the marked P&L over the capital. The curve up to a day
depends only on the positions entered by then and the closes, so a day computed alone
equals the same day inside a backfill. Trade statistics (win rate, profit factor, hit rate,
holding days, ``total_pnl``) are over the trades completed by ``as_of``; fewer than
``min_trades`` (the original's 30) of them: the metrics are computed but flagged as not yet
evidence.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from lakehouse_assets.core.exact import group_sums

ALL = "all"
ANNUAL = 252

BACKTEST_SCHEMA: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "strategy_type": pl.String(),
    "trades": pl.Int64(),  # completed by as_of
    "capital": pl.Float64(),
    "total_return": pl.Float64(),  # marked P&L (realised + unrealised) / capital
    "sharpe": pl.Float64(),  # of daily excess returns over risk_free_rate / 252, annualized
    "sortino": pl.Float64(),
    "max_drawdown": pl.Float64(),  # of the marked-to-market equity
    "win_rate": pl.Float64(),
    "profit_factor": pl.Float64(),
    "hit_rate": pl.Float64(),
    "avg_holding_days": pl.Float64(),
    "total_pnl": pl.Float64(),  # realised, of the completed trades
    "evidence": pl.Boolean(),
    "open_positions": pl.Int64(),  # still open after as_of's close
    "unrealized_pnl": pl.Float64(),  # their liquidation value's P&L at as_of's close
    "equity": pl.Float64(),  # capital + total_pnl + unrealized_pnl
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


def sharpe(returns: Sequence[float] | np.ndarray, risk_free_rate: float = 0.0) -> float | None:
    """Annualized mean over standard deviation (ddof 1) of the daily excess returns
    ``r - risk_free_rate / 252`` (``risk_free_rate`` annual, a fraction)."""
    r = np.asarray(returns, dtype=float) - risk_free_rate / ANNUAL
    if r.size < 2:
        return None
    sd = r.std(ddof=1)
    return float(r.mean() / sd * math.sqrt(ANNUAL)) if sd > 0 else None


def sortino(returns: Sequence[float] | np.ndarray, risk_free_rate: float = 0.0) -> float | None:
    """Annualized mean over the downside deviation ``sqrt(mean(min(x, 0)^2))`` of the daily
    excess returns ``x = r - risk_free_rate / 252`` (target: the risk-free rate)."""
    r = np.asarray(returns, dtype=float) - risk_free_rate / ANNUAL
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


@dataclass(frozen=True)
class BookPath:
    """One book (a strategy, or every strategy together) at each close of ``sessions``:
    ``pnl`` the cumulative marked P&L (currency), ``alive`` the positions alive that session
    (entered on or before it, exiting on or after it), ``open`` those still open after its
    close, ``unrealized`` their marked P&L."""

    sessions: tuple[dt.date, ...]
    pnl: np.ndarray
    alive: np.ndarray
    open: np.ndarray
    unrealized: np.ndarray


def book_paths(marks: pl.DataFrame, sessions: Sequence[dt.date], labels: Sequence[str]) -> dict[str, BookPath]:
    """The :class:`BookPath` of each label (a strategy, or :data:`ALL`) from the positions'
    daily marks (:data:`lakehouse_assets.core.book.MARK_SCHEMA`, every date one of
    ``sessions``). Sums run in ``prediction_id`` order, so a session's figures do not depend
    on which later positions the marks hold."""
    days = tuple(sessions)
    index = pl.DataFrame({"date": list(days)}, schema={"date": pl.Date}).with_row_index("i")
    rows = (
        marks.sort("prediction_id", "date")
        .with_columns(delta=pl.col("pnl") - pl.col("pnl").shift(1, fill_value=0.0).over("prediction_id"))
        .join(index, on="date", how="left", maintain_order="left")
    )
    out = {}
    for label in labels:
        own = rows if label == ALL else rows.filter(pl.col("strategy_type") == label)
        i = own["i"].to_numpy().astype(np.int64)
        still = ~own["closed"].to_numpy()
        pnl = own["pnl"].to_numpy()
        out[label] = BookPath(
            sessions=days,
            pnl=np.cumsum(np.bincount(i, weights=own["delta"].to_numpy(), minlength=len(days))),
            alive=np.bincount(i, minlength=len(days)).astype(float),
            open=np.bincount(i[still], minlength=len(days)).astype(float),
            unrealized=np.bincount(i[still], weights=pnl[still], minlength=len(days)),
        )
    return out


def equity_curve(path: BookPath, as_of: dt.date, capital: float) -> np.ndarray | None:
    """The book's equity before its first entry and at the close of each session to
    ``as_of``: ``capital`` x the most positions alive in one session, plus the marked P&L.
    None before the book's first entry."""
    last = bisect.bisect_right(path.sessions, as_of) - 1
    alive = np.flatnonzero(path.alive[: last + 1] > 0)
    if last < 0 or alive.size == 0:
        return None
    first = int(alive[0])
    busiest = float(path.alive[first : last + 1].max())
    return capital * busiest + np.concatenate([[0.0], path.pnl[first : last + 1]])


def metrics(
    trades: pl.DataFrame,
    path: BookPath,
    as_of: dt.date,
    label: str,
    capital: float,
    min_trades: int,
    risk_free_rate: float,
) -> dict[str, object]:
    """One ``backtest_metrics`` row. ``trades``: the book's trades completed by ``as_of``
    (entry ``date``, ``exit_date``, ``actual_pnl``, ``actual_pnl_pct``,
    ``predicted_return_pct``, ``holding_days``); ``path``: the book marked daily
    (:func:`book_paths`); ``risk_free_rate``: annual, for the excess returns."""
    n = trades.height
    row: dict[str, object] = {"as_of": as_of, "strategy_type": label, "trades": n, "evidence": n >= min_trades}
    row |= {k: None for k in BACKTEST_SCHEMA if k not in row}
    curve = equity_curve(path, as_of, capital)
    if curve is not None:
        last = bisect.bisect_right(path.sessions, as_of) - 1
        daily = np.diff(curve) / curve[:-1]
        row |= {
            "capital": float(curve[0]),
            "equity": float(curve[-1]),
            "total_return": float(curve[-1] / curve[0] - 1.0),
            "sharpe": sharpe(daily, risk_free_rate),
            "sortino": sortino(daily, risk_free_rate),
            "max_drawdown": max_drawdown(curve),
            "open_positions": int(path.open[last]),
            "unrealized_pnl": float(path.unrealized[last]),
            "total_pnl": 0.0,
        }
    if n:
        pnl = trades["actual_pnl"].to_numpy()
        predicted, actual = trades["predicted_return_pct"].to_numpy(), trades["actual_pnl_pct"].to_numpy()
        row |= {
            "win_rate": float(np.mean(pnl > 0)),
            "profit_factor": profit_factor(pnl),
            "hit_rate": float(np.mean(np.sign(predicted) == np.sign(actual))),
            "avg_holding_days": float(trades["holding_days"].mean()),  # type: ignore[arg-type]
            "total_pnl": float(pnl.sum()),
        }
    return row


def metrics_frame(
    completed: pl.DataFrame,
    paths: Mapping[str, BookPath],
    as_of: dt.date,
    strategies: Sequence[str],
    capital: float,
    min_trades: int,
    risk_free_rate: float,
) -> pl.DataFrame:
    """``backtest_metrics`` of ``as_of``: every strategy together (:data:`ALL`), then each."""
    rows = [metrics(completed, paths[ALL], as_of, ALL, capital, min_trades, risk_free_rate)]
    for strategy in strategies:
        own = completed.filter(pl.col("strategy_type") == strategy)
        rows.append(metrics(own, paths[strategy], as_of, strategy, capital, min_trades, risk_free_rate))
    return pl.DataFrame(rows, schema=BACKTEST_SCHEMA)


_SECTOR_LEVELS = (["sector"], ["sector", "symbol"], ["sector", "regime"], ["sector", "symbol", "regime"])
_SECTOR_SUMS = ("correct", "actual_pnl", "actual_pnl_pct")


def sector_performance(completed: pl.DataFrame, as_of: dt.date, min_predictions: int) -> pl.DataFrame:
    """Accuracy (the sign of the predicted return was the sign of the actual) and P&L of the
    completed predictions by sector, by sector and symbol, by sector and regime, and by all
    three (``*`` marks a level summed over); sectors with at least ``min_predictions``
    are ranked from the weakest (``weakest_rank`` 1)."""
    if completed.is_empty():
        return pl.DataFrame(schema=SECTOR_SCHEMA)
    frame = _sector_rows(completed)
    return _sector_frame([_group_sums(frame, keys) for keys in _SECTOR_LEVELS], as_of, min_predictions)


def sector_performances(completed: pl.DataFrame, days: Sequence[dt.date], min_predictions: int) -> list[pl.DataFrame]:
    """:func:`sector_performance` of each of ``days``, over the rows of ``completed`` that
    exited on or before it (``exit_date``), equal to it to the last bit.

    A day's sums run over every prediction completed by then in ``prediction_id`` order, so
    they cannot be carried from one day to the next (a new exit sorts in between the old
    ones). What a range repeats is found once instead: the rows sorted, the groups of each
    level and each row's group. A day then adds its rows' values with ``np.bincount`` over
    all rows in that order, a row that exits later adding an exact 0.0, which leaves every
    partial sum as it is; the groups without a row of the day are left out."""
    if completed.is_empty():
        return [pl.DataFrame(schema=SECTOR_SCHEMA) for _ in days]
    frame = _sector_rows(completed)
    exits = frame["exit_date"]
    values = {c: frame[c].cast(pl.Float64) for c in _SECTOR_SUMS}
    filled = {c: v.fill_null(0.0).to_numpy() for c, v in values.items()}
    present = {c: v.is_not_null().to_numpy() for c, v in values.items()}
    coded = []
    for keys in _SECTOR_LEVELS:
        groups = frame.select(keys).unique().sort(keys, nulls_last=True).with_row_index("_group")
        code = frame.join(groups, on=keys, how="left", nulls_equal=True, maintain_order="left")["_group"].to_numpy()
        coded.append((groups.drop("_group"), code))
    out = []
    for day in days:
        mask = (exits <= day).fill_null(False).to_numpy()
        if not mask.any():
            out.append(pl.DataFrame(schema=SECTOR_SCHEMA))
            continue
        levels = []
        for groups, code in coded:
            size = groups.height
            sums = [pl.Series("rows", np.bincount(code[mask], minlength=size), dtype=pl.Int64)]
            for c in _SECTOR_SUMS:
                total = np.bincount(code, weights=np.where(mask, filled[c], 0.0), minlength=size)
                count = np.bincount(code[mask & present[c]], minlength=size)
                sums += [pl.Series(c, total, dtype=pl.Float64), pl.Series(f"{c}_n", count, dtype=pl.Int64)]
            level = groups.with_columns(sums).filter(pl.col("rows") > 0)
            levels.append(_level_sums(level, list(groups.columns)))
        out.append(_sector_frame(levels, day, min_predictions))
    return out


def _sector_rows(completed: pl.DataFrame) -> pl.DataFrame:
    """The completed predictions in ``prediction_id`` order, with ``correct`` and ``regime``."""
    return completed.sort("prediction_id").with_columns(
        correct=(pl.col("predicted_return_pct").sign() == pl.col("actual_pnl_pct").sign()).cast(pl.Int64),
        regime=pl.col("regime_at_entry"),
    )


def _sector_frame(levels: Sequence[pl.DataFrame], as_of: dt.date, min_predictions: int) -> pl.DataFrame:
    """The ``sector_performance`` rows of ``as_of`` from the sums of each level (:func:`_group_sums`)."""
    marked = []
    for grouped in levels:
        missing = [c for c in ("symbol", "regime") if c not in grouped.columns]
        marked.append(grouped.with_columns([pl.lit("*").alias(c) for c in missing]))
    out = pl.concat(
        [f.select("sector", "symbol", "regime", "predictions", "correct", "total_pnl", "mean_pnl_pct") for f in marked]
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


def _group_sums(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per group of ``keys``: predictions, correct, ``total_pnl`` and ``mean_pnl_pct``, summed
    in ``frame``'s row order (core/exact.py: a re-run gives the same last bits)."""
    return _level_sums(group_sums(frame, keys, list(_SECTOR_SUMS)), keys)


def _level_sums(sums: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """A level's columns from :func:`~lakehouse_assets.core.exact.group_sums`' sums and counts."""
    return sums.select(
        *keys,
        pl.col("rows").alias("predictions"),
        pl.col("correct").cast(pl.Int64),
        pl.col("actual_pnl").alias("total_pnl"),
        pl.when(pl.col("actual_pnl_pct_n") > 0)
        .then(pl.col("actual_pnl_pct") / pl.col("actual_pnl_pct_n"))
        .otherwise(None)
        .alias("mean_pnl_pct"),
    )
