"""The prediction ledger's bookkeeping: signals from the day's frames, the book of open
positions day by day, and each position's mark at every close of its life.

Pure functions and one class over frames and :mod:`lakehouse_assets.core.strategies`; the
``strategy_ledger`` asset reads the lake, calls these, and writes what they return.

- :func:`signals`: features, regimes (the symbol's and the market's), the champion
  forecasts and the GARCH volatility forecast joined into one :class:`~strategies.Signal`
  per symbol and session, with the volatility's percentile rank (the IV rank).
- :class:`Book`: the open positions of a run; a session enters the positions its signal day
  asks for and exits those whose rules say so, and keeps the ledger rows it wrote.
- :func:`run_days`: a run of sessions in order: enter, exit, the variance analysis and
  the weights that score the next session.
- :func:`run_ledger`: a range from what the lake stores, to the rows of every table the
  asset writes (:class:`Ledger`); :func:`signal_day` and :func:`first_mark` say which
  stored rows it needs, :func:`ledger_bounds` what its checks bound.
- :func:`marks`: each position's P&L (currency, net of costs both ways) if it were closed at
  each close of its life (its liquidation value: a directional trade at the close, a spread
  by Black–Scholes at the close and the position's volatility), and its realised P&L on its
  exit date. The backtest's equity is built from these (:func:`backtests`,
  :mod:`lakehouse_assets.core.backtest`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from lakehouse_assets.core import backtest, options, strategies, variance
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.core.regimes import REGIMES
from lakehouse_assets.core.strategies import Bar, Position, Signal, StrategyRules
from lakehouse_assets.core.variance import VarianceRules

UTC_TIMESTAMP = pl.Datetime("us", "UTC")
WEIGHT_REGIMES = (*REGIMES, strategies.UNKNOWN_REGIME)  # every regime a weight is kept for

PREDICTION_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "timestamp": UTC_TIMESTAMP,
    "date": pl.Date(),
    "symbol": pl.String(),
    "strategy_type": pl.String(),
    "predicted_score": pl.Float64(),
    "predicted_return_pct": pl.Float64(),
    "regime_at_entry": pl.String(),
    "iv_rank_at_entry": pl.Float64(),
    "dte": pl.Int64(),
    "strike_width": pl.Float64(),
    "entry_price": pl.Float64(),
    "exit_date": pl.Date(),
    "actual_pnl_pct": pl.Float64(),
    "actual_pnl": pl.Float64(),
    "exit_time": UTC_TIMESTAMP,
    "exit_reason": pl.String(),
    "prediction_error": pl.Float64(),
    "signal_date": pl.Date(),
    "sector": pl.String(),
    "direction": pl.String(),
    "confidence": pl.Float64(),
    "weight": pl.Float64(),
    "underlying_price": pl.Float64(),
    "exit_price": pl.Float64(),
    "holding_days": pl.Int64(),
    "params": pl.String(),
    "market_regime_at_entry": pl.String(),
}

ACTUALS: tuple[str, ...] = ("exit_date", "actual_pnl_pct", "actual_pnl", "exit_time", "exit_reason", "prediction_error")
ACTUALS += ("exit_price", "holding_days")

MARK_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "strategy_type": pl.String(),
    "date": pl.Date(),
    "pnl": pl.Float64(),  # currency: the liquidation value's P&L at that close, the realised P&L on the exit date
    "closed": pl.Boolean(),  # the exit date's row
}


# --- signals ---------------------------------------------------------------------------------


def percentile_rank(window: np.ndarray, least: int) -> float | None:
    """Percent of the window's values below its last one; None with too short a history.

    >>> percentile_rank(np.array([1.0, 3.0, 2.0]), 2)
    33.33333333333333
    """
    if len(window) < least or not np.isfinite(window[-1]):
        return None
    past = window[np.isfinite(window)]
    return float(100.0 * np.mean(past < window[-1]))


def iv_ranks(
    garch: pl.DataFrame, horizon: int, window: int, least: int, *, since: dt.date | None = None
) -> pl.DataFrame:
    """``symbol, date, iv, iv_rank``: the GARCH ``horizon``-day volatility forecast annualized
    (``volatility x sqrt(252 / horizon)``, the implied-volatility proxy) and its percentile
    rank over the last ``window`` sessions of the symbol (at least ``least``, else null).

    ``since``: only the rows dated from it on (their windows still reach back before it), so that
    a day's signals rank that day, not the ``window`` sessions of history read for its window.
    Rows sorted by symbol and date."""
    iv = garch.sort("symbol", "date").with_columns(iv=pl.col("volatility") * math.sqrt(252 / horizon))
    values = iv.get_column("iv").to_numpy()  # null: NaN, which percentile_rank skips
    dates = iv.get_column("date").to_list()
    ranks: list[float | None] = []
    first = 0
    for length in iv.group_by("symbol", maintain_order=True).len().get_column("len").to_list():
        for i in range(first, first + length):
            if since is None or dates[i] >= since:
                ranks.append(percentile_rank(values[max(first, i - window + 1) : i + 1], least))
        first += length
    rows = iv.select("symbol", "date", "iv")
    if since is not None:
        rows = rows.filter(pl.col("date") >= since)  # the rows ranked above, in the same order
    return rows.with_columns(iv_rank=pl.Series(ranks, dtype=pl.Float64))


def signals(
    features: pl.DataFrame,
    regimes: pl.DataFrame,
    champion: pl.DataFrame,
    longest: pl.DataFrame,
    garch: pl.DataFrame,
    *,
    horizon: int,
    rules: StrategyRules,
) -> dict[dt.date, list[Signal]]:
    """The signals by session, symbols in order.

    ``features``: ``symbol, date, close, rsi_14, momentum_20, sma_20, sma_50, adx_14,
    realized_vol_21, sentiment_score``; ``regimes``: ``symbol, date, regime, trend,
    market_regime`` (the symbol's regime, and the index's that day); ``champion``: the
    champion forecast at the strategies' horizon, ``symbol, date, point, volatility,
    prob_up``; ``longest``: the champion forecast at the longest horizon ``horizon``,
    ``symbol, date, point`` (a log return over ``horizon`` sessions; the signal's ``drift`` is
    its daily mean, ``point / horizon``); ``garch``: the GARCH forecasts at ``horizon``,
    ``symbol, date, volatility``, from ``rules.iv_rank_window`` sessions before the first
    signal day on (their IV rank: :func:`iv_ranks`). A feature row without the others gets nulls.
    """
    drift = longest.select("symbol", "date", drift=pl.col("point") / horizon)
    since: dt.date | None = features.get_column("date").min()  # type: ignore[assignment]
    iv = iv_ranks(garch, horizon, rules.iv_rank_window, rules.iv_rank_min, since=since)
    joined = (
        features.join(regimes, on=["symbol", "date"], how="left")
        .join(champion, on=["symbol", "date"], how="left")
        .join(drift, on=["symbol", "date"], how="left")
        .join(iv, on=["symbol", "date"], how="left")
    )
    out: dict[dt.date, list[Signal]] = {}
    for row in joined.sort("date", "symbol").iter_rows(named=True):
        out.setdefault(row["date"], []).append(
            Signal(
                symbol=row["symbol"],
                date=row["date"],
                close=row["close"],
                rsi_14=row["rsi_14"],
                momentum_20=row["momentum_20"],
                sma_20=row["sma_20"],
                sma_50=row["sma_50"],
                adx_14=row["adx_14"],
                realized_vol_21=row["realized_vol_21"],
                regime=row["regime"],
                trend=row["trend"],
                sentiment=row["sentiment_score"],
                point=row["point"],
                volatility=row["volatility"],
                prob_up=row["prob_up"],
                drift=row["drift"],
                iv=row["iv"],
                iv_rank=row["iv_rank"],
                market_regime=row["market_regime"],
            )
        )
    return out


def bars(frame: pl.DataFrame) -> dict[tuple[str, dt.date], Bar]:
    """``ohlcv_daily`` rows (``symbol, date, open, high, low, close``) by (symbol, date)."""
    rows = frame.select("symbol", "date", "open", "high", "low", "close").iter_rows()
    return {(s, d): Bar(d, o, h, lo, c) for s, d, o, h, lo, c in rows}


# --- the book --------------------------------------------------------------------------------


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform says, else the count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class _Opening:
    """A position a signal asks for, before it is priced (:func:`strategies.open_position`)."""

    strategy: str
    signal: Signal
    decision: strategies.Decision
    day: dt.date
    price: float  # the entry session's open
    life: list[dt.date] | None  # a spread's sessions to its expiry


class Book:
    """The open positions and the ledger rows of a run, day by day.

    ``still_open``: ledger rows of positions entered before the run and not exited before
    its first day (their actuals are cleared: the run decides them again). ``sector``: a
    symbol's sector. Weights are looked up by (strategy, the symbol's regime at entry).
    ``threads``: that price a day's entries (None: one per CPU available to the process).
    """

    def __init__(
        self,
        rules: StrategyRules,
        variance_rules: VarianceRules,
        calendar: TradingCalendar,
        sector: Callable[[str], str],
        still_open: pl.DataFrame,
        threads: int | None = None,
    ) -> None:
        self.rules, self.variance_rules, self.calendar, self.sector = rules, variance_rules, calendar, sector
        self.threads = available_cpus() if threads is None else threads  # that price the entries
        self.rows: dict[str, dict[str, Any]] = {}  # prediction_id -> ledger row (entries and exits of the run)
        self.open: dict[str, Position] = {}  # prediction_id -> position
        for row in still_open.iter_rows(named=True):
            self.open[row["prediction_id"]] = position_from_row(row)
            self.rows[row["prediction_id"]] = {**row, **dict.fromkeys(ACTUALS)}
        self._done: list[dict[str, Any]] = []
        self._reported = 0  # how many of self._done :meth:`completed_since` has handed out
        self._lives: dict[dt.date, list[dt.date]] = {}
        self._times: dict[tuple[str, dt.date], dt.datetime] = {}  # exchange_calendars takes ~0.7 ms a lookup

    def open_time(self, day: dt.date) -> dt.datetime:
        """The session's opening time (UTC), looked up once per session of the run."""
        if ("open", day) not in self._times:
            self._times[("open", day)] = self.calendar.open_time(day)
        return self._times[("open", day)]

    def close_time(self, day: dt.date) -> dt.datetime:
        """The session's closing time (UTC), looked up once per session of the run."""
        if ("close", day) not in self._times:
            self._times[("close", day)] = self.calendar.close_time(day)
        return self._times[("close", day)]

    def open_count(self) -> int:
        return len(self.open)

    def life(self, entry: dt.date) -> list[dt.date]:
        """The sessions from ``entry`` to a spread's expiry (``dte`` calendar days later);
        weekdays beyond the calendar's horizon."""
        if entry not in self._lives:
            expiry = entry + dt.timedelta(days=self.rules.dte)
            days = self.calendar.sessions(entry, expiry)
            after = max(days[-1] if days else entry, self.calendar.last_session)
            extra = (after + dt.timedelta(days=i) for i in range(1, (expiry - after).days + 1))
            self._lives[entry] = days + [d for d in extra if d.weekday() < 5]
        return self._lives[entry]

    def enter(
        self,
        day: dt.date,
        signal_day: dt.date | None,
        signals: Mapping[dt.date, list[Signal]],
        bars: Mapping[tuple[str, dt.date], Bar],
        weights: Mapping[tuple[str, str], float],
    ) -> None:
        """Open, at ``day``'s open, every position that ``signal_day``'s signals ask for,
        scored with ``weights`` ((strategy, regime) -> weight: the previous session's)."""
        if signal_day is None:
            return
        wanted: list[_Opening] = []  # in the order the ledger records them
        for signal in signals.get(signal_day, []):
            bar = bars.get((signal.symbol, day))
            if bar is None:
                continue
            for strategy in self.rules.enabled:
                decision = strategies.decide(strategy, signal, self.rules)
                if decision is None:
                    continue
                life = self.life(day) if strategy in strategies.SPREADS else None
                wanted.append(_Opening(strategy, signal, decision, day, bar.open, life))
        for opening, position in zip(wanted, self._open_positions(wanted), strict=True):
            if position is None:
                continue
            strategy, signal = opening.strategy, opening.signal
            regime = signal.regime or strategies.UNKNOWN_REGIME
            rules = self.variance_rules  # a strategy enabled since yesterday has no weight yet
            fallback = rules.strategy_weights.get(strategy, 1.0) * rules.regime_adjustments.get(regime, 1.0)
            weight = weights.get((strategy, regime), fallback)
            self.open[position.prediction_id] = position
            self.rows[position.prediction_id] = self._entry_row(position, signal, regime, weight)

    def _open_positions(self, wanted: Sequence[_Opening]) -> list[Position | None]:
        """:func:`strategies.open_position` of each opening, in order, on ``self.threads`` threads.

        Pricing the entries is most of a day's ledger (a spread's expected return is a backward
        induction on a grid of ~500 prices over its ~30 sessions, ~2 ms), and numpy and scipy
        release the GIL in those array operations, so two threads on two cores take about half
        the time. Each entry is priced on its own inputs alone, so the results do not depend
        on the threads (the ``strategies`` functions keep no state but the read-only draws)."""

        def price(o: _Opening) -> Position | None:
            return strategies.open_position(o.strategy, o.signal, o.decision, o.day, o.price, self.rules, o.life)

        if self.threads <= 1 or len(wanted) < 2:
            return [price(o) for o in wanted]
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="ledger-pricing") as pool:
            return list(pool.map(price, wanted))

    def _entry_row(self, p: Position, s: Signal, regime: str, weight: float) -> dict[str, Any]:
        spread = p.strategy in strategies.SPREADS
        return {
            "prediction_id": p.prediction_id,
            "timestamp": self.open_time(p.entry_date),
            "date": p.entry_date,
            "symbol": p.symbol,
            "strategy_type": p.strategy,
            "predicted_score": min(100.0, 100.0 * p.confidence * weight),
            "predicted_return_pct": p.predicted_return_pct,
            "regime_at_entry": regime,
            "iv_rank_at_entry": s.iv_rank if s.iv_rank is not None else 50.0,
            "dte": self.rules.dte if spread else None,
            "strike_width": self.rules.width(p.underlying_entry) if spread else None,
            "entry_price": p.entry_price,
            **dict.fromkeys(ACTUALS),
            "signal_date": p.signal_date,
            "sector": self.sector(p.symbol),
            "direction": p.direction,
            "confidence": p.confidence,
            "weight": weight,
            "underlying_price": p.underlying_entry,
            "params": p.params(),
            "market_regime_at_entry": s.market_regime or strategies.UNKNOWN_REGIME,
        }

    def exit(self, day: dt.date, bars: Mapping[tuple[str, dt.date], Bar]) -> None:
        """Close the positions whose exit rules fire on ``day``'s bar; fill their actuals.

        The sessions held depend only on the entry date, and the next session only on the
        day, so they are looked up once per entry date and once per day, not per position."""
        following = self.calendar.shift_sessions(day, 1)
        sessions_held: dict[dt.date, int] = {}
        for key, position in list(self.open.items()):
            bar = bars.get((position.symbol, day))
            if bar is None:
                continue
            entry = position.entry_date
            if entry not in sessions_held:
                sessions_held[entry] = len(self.calendar.sessions(entry, day))
            held = sessions_held[entry]
            last = position.expiry is not None and following > position.expiry
            done = strategies.check_exit(position, bar, held, last, self.rules)
            if done is None:
                continue
            row = self.rows[position.prediction_id]
            row |= {
                "exit_date": done.date,
                "actual_pnl_pct": done.pnl_pct,
                "actual_pnl": done.pnl_pct * self.rules.capital,
                "exit_time": self.close_time(done.date),
                "exit_reason": done.reason,
                "prediction_error": row["predicted_return_pct"] - done.pnl_pct,
                "exit_price": done.price,
                "holding_days": done.holding_days,
            }
            self._done.append(row)
            del self.open[key]

    def completed_frame(self) -> pl.DataFrame:
        """The rows of the positions this run closed so far."""
        return _prediction_frame(self._done)

    def completed_since(self) -> pl.DataFrame:
        """The rows of the positions closed since the previous call (since the run's start on
        the first): a day's new completions, built from that day's rows alone."""
        rows = self._done[self._reported :]
        self._reported = len(self._done)
        return _prediction_frame(rows)

    def frame(self, ledger: pl.DataFrame, end: dt.date) -> pl.DataFrame:
        """The run's rows, where a position the run left open keeps an exit that a later run
        (after ``end``) already recorded: re-running a past range never erases actuals."""
        schema = PREDICTION_SCHEMA
        rows = pl.DataFrame(list(self.rows.values()), schema=schema) if self.rows else pl.DataFrame(schema=schema)
        later = ledger.filter(pl.col("exit_date") > end).select(
            "prediction_id", *[pl.col(c).alias(f"_{c}") for c in ACTUALS]
        )
        rows = rows.join(later, on="prediction_id", how="left")
        keep = pl.col("exit_date").is_null() & pl.col("_exit_date").is_not_null()
        return rows.with_columns(
            [pl.when(keep).then(pl.col(f"_{c}")).otherwise(pl.col(c)).alias(c) for c in ACTUALS]
        ).select(list(schema))


def _prediction_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Ledger rows as a frame of :data:`PREDICTION_SCHEMA` (empty when there are none)."""
    return pl.DataFrame(rows, schema=PREDICTION_SCHEMA) if rows else pl.DataFrame(schema=PREDICTION_SCHEMA)


def position_from_row(row: Mapping[str, object]) -> Position:
    """A ledger row back to the open position it records."""
    params = json.loads(row["params"])  # type: ignore[arg-type]
    legs = tuple((kind, float(k), int(q)) for kind, k, q in params.get("legs", []))
    entry: dt.date = row["date"]  # type: ignore[assignment]
    expiry = entry + dt.timedelta(days=row["dte"]) if row["dte"] is not None else None  # type: ignore[arg-type]
    return Position(
        prediction_id=row["prediction_id"],  # type: ignore[arg-type]
        symbol=row["symbol"],  # type: ignore[arg-type]
        strategy=row["strategy_type"],  # type: ignore[arg-type]
        signal_date=row["signal_date"],  # type: ignore[arg-type]
        entry_date=entry,
        direction=row["direction"],  # type: ignore[arg-type]
        confidence=row["confidence"],  # type: ignore[arg-type]
        entry_price=row["entry_price"],  # type: ignore[arg-type]
        underlying_entry=row["underlying_price"],  # type: ignore[arg-type]
        predicted_return_pct=row["predicted_return_pct"],  # type: ignore[arg-type]
        stop=params["stop"],
        target=params["target"],
        expiry=expiry,
        legs=legs,
        iv=params.get("iv"),
        max_loss=params.get("max_loss"),
    )


# --- marks -----------------------------------------------------------------------------------

_MAX_LEGS = 4
_MARKED: tuple[str, ...] = ("prediction_id", "strategy_type", "symbol", "date", "exit_date", "direction")
_MARKED += ("entry_price", "underlying_price", "params", "dte", "actual_pnl")  # the ledger columns marks read


def marks(
    positions: pl.DataFrame, closes: pl.DataFrame, sessions: Sequence[dt.date], rules: StrategyRules
) -> pl.DataFrame:
    """Each position's P&L at the close of every session of its life up to the last of
    ``sessions`` (:data:`MARK_SCHEMA`), ordered by ``prediction_id`` and ``date``.

    ``positions``: ledger rows entered on one of ``sessions``; a position is alive from its
    entry date to its exit date, or to the last session when its exit is later or not yet
    known. ``closes``: ``symbol, date, close``; a session without a close keeps the last one
    (the entry price before the first). Before the exit, the P&L is the liquidation value's,
    in currency (``capital_per_trade`` x the return if closed at that close, costs both ways
    included): directional ``sign (close - entry) / entry - cost (1 + close / entry)``,
    spreads ``(credit - value - cost (premium at entry + premium now)) / max loss`` with
    Black–Scholes at the close, the position's volatility and the time left (intrinsic at
    expiry). On the exit date it is the realised ``actual_pnl``.
    """
    if positions.is_empty() or not sessions:
        return pl.DataFrame(schema=MARK_SCHEMA)
    end = sessions[-1]
    grid = pl.DataFrame({"date": list(sessions)}, schema={"date": pl.Date}).with_row_index("i")
    # only the columns a mark reads: every row is repeated for each session of its life
    alive = positions.filter(pl.col("date") <= end).select(*_MARKED)
    alive = alive.with_columns(closed=pl.col("exit_date").is_not_null() & (pl.col("exit_date") <= end))
    alive = alive.with_columns(last=pl.when(pl.col("closed")).then(pl.col("exit_date")).otherwise(pl.lit(end)))
    alive = alive.join(grid.rename({"date": "date", "i": "i0"}), on="date", how="inner")
    alive = alive.join(grid.rename({"date": "last", "i": "i1"}), on="last", how="inner")
    rows = (
        alive.with_columns(i=pl.int_ranges("i0", pl.col("i1") + 1, dtype=pl.UInt32))
        .explode("i")
        .rename({"date": "entry_date"})
        .join(grid, on="i", how="left")
        .join(closes.select("symbol", "date", "close"), on=["symbol", "date"], how="left")
        .sort("prediction_id", "date")
        .with_columns(close=pl.col("close").forward_fill().over("prediction_id"))
        .with_columns(close=pl.coalesce("close", "underlying_price"))
    )
    if rows.is_empty():
        return pl.DataFrame(schema=MARK_SCHEMA)
    returns = np.full(rows.height, np.nan)
    spread = rows["strategy_type"].is_in(list(strategies.SPREADS)).to_numpy()
    close = rows["close"].to_numpy()
    entry = rows["entry_price"].to_numpy()
    sign = np.where(rows["direction"].to_numpy() == "short", -1.0, 1.0)
    cost = rules.cost_per_side
    returns[~spread] = (sign * (close - entry) / entry - cost * (1.0 + close / entry))[~spread]
    if spread.any():
        returns[spread] = _spread_marks(rows.filter(pl.Series(spread)), rules)
    pnl = returns * rules.capital
    on_exit = (rows["closed"] & (rows["date"] == rows["exit_date"])).to_numpy()
    pnl = np.where(on_exit, rows["actual_pnl"].fill_null(np.nan).to_numpy(), pnl)
    return pl.DataFrame(
        {
            "prediction_id": rows["prediction_id"],
            "strategy_type": rows["strategy_type"],
            "date": rows["date"],
            "pnl": pnl,
            "closed": on_exit,
        },
        schema=MARK_SCHEMA,
    )


def _spread_marks(rows: pl.DataFrame, rules: StrategyRules) -> np.ndarray:
    """The liquidation return at each row's close of the spreads in ``rows`` (vectorized)."""
    n, r = rows.height, rules.risk_free_rate
    call = np.ones((n, _MAX_LEGS), dtype=bool)
    strike = np.ones((n, _MAX_LEGS))
    qty = np.zeros((n, _MAX_LEGS))
    iv, max_loss = np.empty(n), np.empty(n)
    parsed: dict[str, tuple[list[Any], float, float]] = {}
    for i, (pid, text) in enumerate(rows.select("prediction_id", "params").iter_rows()):
        if pid not in parsed:
            p = json.loads(text)
            parsed[pid] = (p["legs"], float(p["iv"]), float(p["max_loss"]))
        legs, iv[i], max_loss[i] = parsed[pid]
        for j, (kind, k, q) in enumerate(legs):
            call[i, j], strike[i, j], qty[i, j] = kind == "call", k, q
    close = rows["close"].to_numpy()[:, None]
    spot = rows["underlying_price"].to_numpy()[:, None]
    credit = rows["entry_price"].to_numpy()
    expiry = pl.col("entry_date") + pl.duration(days=pl.col("dte"))
    days_left = rows.select((expiry - pl.col("date")).dt.total_days())[:, 0].to_numpy()
    t = (days_left / 365.0)[:, None]
    used = qty != 0.0
    sigma = iv[:, None]
    entry_prices = options.black_scholes_array(call, spot, strike, rules.dte / 365.0, r, sigma)
    live = options.black_scholes_array(call, close, strike, np.maximum(t, 1e-12), r, sigma)
    intrinsic = np.where(call, np.maximum(close - strike, 0.0), np.maximum(strike - close, 0.0))
    prices = np.where(t > 0.0, live, intrinsic)
    value = -(qty * prices).sum(axis=1)
    entry_premium = np.where(used, entry_prices, 0.0).sum(axis=1)
    premium = np.where(used, prices, 0.0).sum(axis=1)
    returns: np.ndarray = (credit - value - rules.cost_per_side * (entry_premium + premium)) / max_loss
    return returns


# --- a run of days -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerDays:
    """What a run of days produced: the variance analysis and the weights of each day, and
    every prediction completed by the last day (before the run or in it), sorted by
    ``prediction_id``. The predictions completed by one of the days are those of
    ``completed`` that exited on or before it (:func:`completed_by`): an exit is recorded on
    the day whose bar closes it."""

    variance: list[pl.DataFrame]
    weights: list[pl.DataFrame]
    completed: pl.DataFrame


def completed_by(completed: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """The rows of ``completed`` that exited on or before ``day``, in ``completed``'s order."""
    return completed.filter(pl.col("exit_date") <= day)


def run_days(
    book: Book,
    days: Sequence[dt.date],
    signals: Mapping[dt.date, list[Signal]],
    bars: Mapping[tuple[str, dt.date], Bar],
    completed: pl.DataFrame,
    weights: pl.DataFrame,
    regimes: Sequence[str],
) -> LedgerDays:
    """Each session of ``days`` in order: enter at its open what the previous session's
    signals ask for, scored with the previous session's ``weights`` (``strategy_weights``
    rows), exit what its bar closes, then analyse the variance of everything completed
    (``completed``: before the run) and derive the weights that score the next session.

    A day's analysis sees only the predictions that exited in its lookback window
    (:func:`variance.analyze`), so the loop carries just those forward: each day drops the
    rows that left the window and adds the day's exits, and the cost of a day does not grow
    with the history before it or with the days of the run before it. The rows are sorted
    by ``prediction_id`` each day, the order a day alone would see them in, so the sums are
    the same to the last bit however the days were split into runs. The predictions completed
    by each day are one frame at the end, not one frame per day: a year's range kept ~250
    growing copies of the history in memory."""
    enabled = list(book.rules.enabled)
    rules = book.variance_rules
    analyses: list[pl.DataFrame] = []
    weighted: list[pl.DataFrame] = []
    recent = completed
    for day in days:
        table = {(s, r): w for s, r, w in weights.select("strategy_type", "regime", "weight").iter_rows()}
        book.enter(day, book.calendar.previous_session(day), signals, bars, table)
        book.exit(day, bars)
        window = pl.col("exit_date") >= variance.window_start(day, rules)
        recent = pl.concat([recent.filter(window), book.completed_since()], how="vertical_relaxed")
        recent = recent.sort("prediction_id")
        analysis = variance.analyze(recent, day, enabled, rules)
        weights = variance.weights(analysis, day, enabled, list(regimes), rules)
        analyses.append(analysis)
        weighted.append(weights)
    done = pl.concat([completed, book.completed_frame()], how="vertical_relaxed").sort("prediction_id")
    return LedgerDays(analyses, weighted, done)


def backtests(
    positions: pl.DataFrame,
    closes: pl.DataFrame,
    sessions: Sequence[dt.date],
    days: Sequence[dt.date],
    completed: pl.DataFrame,
    rules: StrategyRules,
) -> list[pl.DataFrame]:
    """``backtest_metrics`` of each of ``days`` (``completed``: every prediction completed by
    the last day; a day's trades are those exited by it, :func:`completed_by`), from every
    position's daily marks (:func:`marks`) over ``sessions`` (from the first position's
    entry to the last day)."""
    marked = marks(positions, closes, sessions, rules)
    paths = backtest.book_paths(marked, sessions, [backtest.ALL, *rules.enabled])
    capital, least, rate = rules.capital, rules.min_trades, rules.risk_free_rate
    return [
        backtest.metrics_frame(completed_by(completed, day), paths, day, rules.enabled, capital, least, rate)
        for day in days
    ]


# --- a range of the ledger ---------------------------------------------------------------------


def signal_day(calendar: TradingCalendar, start: dt.date) -> dt.date:
    """The signal day of a range's first entries: the session before ``start`` (``start``
    itself on the calendar's first session). Its ``strategy_weights`` score those entries.

    >>> signal_day(TradingCalendar("XNYS", dt.date(2018, 1, 1)), dt.date(2018, 7, 5))
    datetime.date(2018, 7, 3)
    """
    return calendar.previous_session(start) or start


def first_mark(ledger: pl.DataFrame, start: dt.date) -> dt.date:
    """The first day whose close the marks of a range from ``start`` need: the entry of the
    first position stored before it (every one is marked from its entry, for the backtest's
    equity), else ``start``. ``ledger``: stored ``strategy_predictions`` rows.

    >>> first_mark(pl.DataFrame({"date": [dt.date(2018, 3, 1), dt.date(2018, 5, 2)]}), dt.date(2018, 4, 2))
    datetime.date(2018, 3, 1)
    """
    earlier: dt.date | None = ledger.filter(pl.col("date") < start)["date"].min()  # type: ignore[assignment]
    return earlier or start


Bounds = dict[str, tuple[float | None, float | None]]


def ledger_bounds(rules: VarianceRules) -> dict[str, dict[str, Bounds]]:
    """The column bounds the ledger's checks assert: table -> check -> column -> (low, high).

    A weight is its base weight times its regime's adjustment times the variance's adjustment,
    which lies in ``[1 - weight_adjustment_factor, 1]`` (:func:`variance.weight_adjustment`):
    at most the largest base weight times the largest regime adjustment (1 when none is larger).
    """
    top = max(rules.strategy_weights.values(), default=1.0) * max(1.0, *rules.regime_adjustments.values())
    return {
        "strategy_predictions": {"score_bounds": {"predicted_score": (0, 100), "confidence": (0, 1)}},
        "variance_analysis": {"adjustment_bounds": {"weight_adjustment": (1 - rules.weight_adjustment_factor, 1.0)}},
        "strategy_weights": {"weight_bounds": {"weight": (0.0, top)}},
        "backtest_metrics": {},
        "sector_performance": {"accuracy_bounds": {"accuracy": (0.0, 1.0)}},
    }


@dataclass(frozen=True)
class Ledger:
    """What the ledger writes for a range.

    ``predictions``: the ``strategy_predictions`` rows of the range's MERGE (its entries, and
    the positions open at its start, with the actuals of those that exit in it); ``entered``:
    the range's entries; ``exits``: how many positions exited in the range; ``open_positions``:
    how many are open after it; ``tables``: ``variance_analysis``, ``strategy_weights``,
    ``backtest_metrics`` and ``sector_performance``, the rows of every day of the range.
    """

    predictions: pl.DataFrame
    entered: pl.DataFrame
    exits: int
    open_positions: int
    tables: dict[str, pl.DataFrame]


def run_ledger(
    rules: StrategyRules,
    variance_rules: VarianceRules,
    calendar: TradingCalendar,
    sector: Callable[[str], str],
    start: dt.date,
    end: dt.date,
    *,
    signals: Mapping[dt.date, list[Signal]],
    ohlcv: pl.DataFrame,
    ledger: pl.DataFrame,
    weights: pl.DataFrame,
    closes: pl.DataFrame,
    threads: int | None = None,
) -> Ledger:
    """The ledger of the sessions ``start..end`` (:func:`run_days`), from what the lake stores.

    ``signals``: :func:`signals` from :func:`signal_day` to ``end``; ``ohlcv``: the range's
    ``ohlcv_daily`` rows (``symbol, date, open, high, low, close``); ``ledger``: the stored
    ``strategy_predictions`` rows of the universe, every date: positions entered before the
    range and open at its start are decided again, those completed before it feed the
    variance analysis, and an exit recorded by a run after ``end`` is kept
    (:meth:`Book.frame`); ``weights``: the stored ``strategy_weights`` of the signal day, or
    none on the lake's first day (then the base weights with their regime adjustments);
    ``closes``: ``symbol, date, close`` from :func:`first_mark` to ``end`` (more rows are
    harmless), to mark every position for the backtest; ``threads``: that price the entries
    (:class:`Book`; the rows do not depend on it).
    """
    days = calendar.sessions(start, end)
    enabled = list(rules.enabled)
    before = ledger.filter(pl.col("date") < start)
    still_open = before.filter(pl.col("exit_date").is_null() | (pl.col("exit_date") >= start))
    completed = before.filter(pl.col("exit_date").is_not_null() & (pl.col("exit_date") < start))
    if weights.is_empty():
        first = signal_day(calendar, start)
        nothing = variance.analyze(before.clear(), first, enabled, variance_rules)
        weights = variance.weights(nothing, first, enabled, list(WEIGHT_REGIMES), variance_rules)

    book = Book(rules, variance_rules, calendar, sector, still_open, threads)
    run = run_days(book, days, signals, bars(ohlcv), completed, weights, WEIGHT_REGIMES)
    rows = book.frame(ledger, end)
    # every position to the range's end, marked at each close: the backtest's equity
    positions = pl.concat([completed, rows], how="vertical_relaxed")
    sessions = calendar.sessions(positions["date"].min(), end) if positions.height else days  # type: ignore[arg-type]
    sectors = backtest.sector_performances(run.completed, days, rules.min_trades)
    return Ledger(
        predictions=rows,
        entered=rows.filter(pl.col("date").is_between(start, end)),
        exits=rows.filter(pl.col("exit_date").is_between(start, end)).height,
        open_positions=book.open_count(),
        tables={
            "variance_analysis": pl.concat(run.variance),
            "strategy_weights": pl.concat(run.weights),
            "backtest_metrics": pl.concat(backtests(positions, closes, sessions, days, run.completed, rules)),
            "sector_performance": pl.concat(sectors),
        },
    )
