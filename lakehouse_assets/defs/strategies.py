"""Gold assets: the prediction ledger and the weights feedback loop.

One multi-asset, processed day by day, because each day needs the day before: a day's
entries are scored with the previous session's ``strategy_weights``, those weights come
from the variance of predictions completed by then, and a position entered on one day is
closed (its actuals filled) on a later one. ``strategy_weights`` therefore depends on its
own previous partition, which is how the loop shows in Dagster's lineage. A range is
written with one MERGE per table: entries of the range, and actuals of every position
that exits in it (including positions entered before the range); no other row changes.
"""

import datetime as dt
import json
import math

import dagster as dg
import numpy as np
import polars as pl

from lakehouse_assets.config import Config
from lakehouse_assets.core import backtest, checks, strategies, variance
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.core.regimes import REGIMES
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs.common import partitioned_multi_asset, plot_metadata, preview, table_spec, write_metadata
from lakehouse_assets.defs.features import features, market_regimes
from lakehouse_assets.defs.ingest import ohlcv_daily
from lakehouse_assets.defs.partitions import partition_dates
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake

PREVIOUS_SESSION = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
WEIGHT_REGIMES = [*REGIMES, strategies.UNKNOWN_REGIME]
ACTUALS = ("exit_date", "actual_pnl_pct", "actual_pnl", "exit_time", "exit_reason", "prediction_error")
ACTUALS += ("exit_price", "holding_days")


SPECS = [
    table_spec("strategy_predictions", "strategy", [ohlcv_daily, features, market_regimes, "forecasts"]),
    table_spec("variance_analysis", "strategy", ["strategy_predictions"]),
    table_spec(
        "strategy_weights",
        "strategy",
        ["variance_analysis", dg.AssetDep("strategy_weights", partition_mapping=PREVIOUS_SESSION)],
    ),
    table_spec("backtest_metrics", "strategy", ["strategy_predictions"]),
    table_spec("sector_performance", "strategy", ["strategy_predictions"]),
]


@partitioned_multi_asset(
    specs=SPECS, name="strategy_ledger", check_specs=asset_checks.specs(*(s.key.path[-1] for s in SPECS))
)
def strategy_ledger(context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource):  # type: ignore[no-untyped-def]
    """Enter, exit, analyse the variance and re-weight, day by day over the range."""
    start, end = partition_dates(context)
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    rules = config.strategies
    symbols = sources.universe(config)
    days = calendar.sessions(start, end)
    first_signal = calendar.previous_session(start) or start

    signals = _signals(lake, config, calendar, symbols, first_signal, end)
    bars = _bars(lake, symbols, start, end)
    ledger = lake.read("strategy_predictions", where=pl.col("symbol").is_in(symbols))
    before = ledger.filter(pl.col("date") < start)
    still_open = before.filter(pl.col("exit_date").is_null() | (pl.col("exit_date") >= start))
    completed = before.filter(pl.col("exit_date").is_not_null() & (pl.col("exit_date") < start))
    weights = lake.read("strategy_weights", first_signal, first_signal)
    if weights.is_empty():  # the lake's first day: base weights (with their regime adjustments)
        nothing = variance.analyze(before.clear(), first_signal, list(rules.enabled), config.variance)
        weights = variance.weights(nothing, first_signal, list(rules.enabled), WEIGHT_REGIMES, config.variance)

    book = Book(config, calendar, still_open)
    analyses, weight_frames, backtests, sectors = [], [], [], []
    for day in days:
        signal_day = calendar.previous_session(day)
        table = {(s, r): w for s, r, w in weights.select("strategy_type", "regime", "weight").iter_rows()}
        book.enter(day, signal_day, signals, bars, table)
        book.exit(day, bars)
        # one order however the days were split into runs: sums are then the same to the last bit
        done = pl.concat([completed, book.completed_frame()], how="vertical_relaxed").sort("prediction_id")
        analysis = variance.analyze(done, day, list(rules.enabled), config.variance)
        weights = variance.weights(analysis, day, list(rules.enabled), WEIGHT_REGIMES, config.variance)
        analyses.append(analysis)
        weight_frames.append(weights)
        backtests.append(_backtest(done, calendar, day, config))
        sectors.append(backtest.sector_performance(done, day, rules.min_trades))

    ledger_rows = book.frame(ledger, end)
    written = lake.merge("strategy_predictions", ledger_rows, delete_range=(start, end))
    frames = {
        "variance_analysis": pl.concat(analyses),
        "strategy_weights": pl.concat(weight_frames),
        "backtest_metrics": pl.concat(backtests),
        "sector_performance": pl.concat(sectors),
    }
    results = {name: lake.sync_range(name, frame, start, end) for name, frame in frames.items()}

    entered = ledger_rows.filter(pl.col("date").is_between(start, end))
    exited = ledger_rows.filter(pl.col("exit_date").is_between(start, end))
    context.log.info(
        f"strategy ledger {start}..{end}: {entered.height} entries, {exited.height} exits, "
        f"{book.open_count()} positions still open"
    )
    yield dg.MaterializeResult(
        asset_key="strategy_predictions",
        metadata={
            **write_metadata(written, entered, start, end),
            "entries": entered.height,
            "exits": exited.height,
            "open_positions": book.open_count(),
            "entries_by_strategy": dg.MetadataValue.json(dict(entered.group_by("strategy_type").len().iter_rows())),
            **preview(entered),
        },
    )
    yield from asset_checks.results(
        "strategy_predictions",
        {
            "unique_keys": checks.unique_keys(lake.read("strategy_predictions", start, end), ["prediction_id"]),
            "score_bounds": checks.within(
                entered, {"predicted_score": (0, 100), "confidence": (0, 1)}, ["prediction_id"]
            ),
        },
    )
    bounds = _bounds(config)
    plotted = {"strategy_weights": "strategy_weights", "backtest_metrics": "equity_curves"}  # table -> plot
    for name, frame in frames.items():
        metadata = {**write_metadata(results[name], frame, start, end), **preview(frame)}
        if name in plotted:
            metadata |= plot_metadata(context, lake, config, plotted[name], end)
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
        table, outcomes = asset_checks.table_outcomes(lake, name, start, end)
        extra = {check: checks.within(table, limits, list(TABLES[name].keys)) for check, limits in bounds[name].items()}
        yield from asset_checks.results(name, {**outcomes, **extra})


def _bounds(config: Config) -> dict[str, dict[str, dict[str, tuple[float | None, float | None]]]]:
    """Per table, check name -> column bounds."""
    rules = config.variance
    top = max(rules.strategy_weights.values(), default=1.0) * max(1.0, *rules.regime_adjustments.values())
    return {
        "variance_analysis": {"adjustment_bounds": {"weight_adjustment": (1 - rules.weight_adjustment_factor, 1.0)}},
        "strategy_weights": {"weight_bounds": {"weight": (0.0, top)}},
        "backtest_metrics": {},
        "sector_performance": {"accuracy_bounds": {"accuracy": (0.0, 1.0)}},
    }


def _signals(
    lake: Lake, config: Config, calendar: TradingCalendar, symbols: list[str], first: dt.date, end: dt.date
) -> dict[dt.date, list[strategies.Signal]]:
    """The symbols' signals by session in ``first..end``: features, regime, the
    champion forecast, and the GARCH volatility forecast with its rank (the IV proxy)."""
    rules = config.strategies
    in_universe = pl.col("symbol").is_in(symbols)
    columns = ["symbol", "date", "close", "rsi_14", "momentum_20", "sma_20", "sma_50", "adx_14", "realized_vol_21"]
    feats = lake.read("features", first, end, where=in_universe, columns=[*columns, "sentiment_score"])
    regimes = lake.read("market_regimes", first, end, where=in_universe, columns=["symbol", "date", "regime", "trend"])
    champion = lake.read(
        "forecasts",
        first,
        end,
        where=in_universe & pl.col("is_champion") & (pl.col("horizon") == rules.forecast_horizon),
        columns=["symbol", "date", "point", "volatility", "prob_up"],
    )
    horizon = max(config.forecasting.horizons)
    longest = lake.read(
        "forecasts",
        first,
        end,
        where=in_universe & pl.col("is_champion") & (pl.col("horizon") == horizon),
        columns=["symbol", "date", "point"],
    ).select("symbol", "date", drift=pl.col("point") / horizon)
    history = calendar.shift_sessions(first, -rules.iv_rank_window)
    garch = lake.read(
        "forecasts",
        history,
        end,
        where=in_universe & (pl.col("model") == "garch") & (pl.col("horizon") == horizon),
        columns=["symbol", "date", "volatility"],
    )
    iv = garch.sort("symbol", "date").with_columns(iv=pl.col("volatility") * math.sqrt(252 / horizon))
    ranked = []
    for _, group in iv.group_by("symbol"):
        values = group["iv"].to_numpy()
        ranks = [
            _percentile_rank(values[max(0, i - rules.iv_rank_window + 1) : i + 1], rules.iv_rank_min)
            for i in range(len(values))
        ]
        ranked.append(group.select("symbol", "date", "iv").with_columns(iv_rank=pl.Series(ranks, dtype=pl.Float64)))
    iv_frame = (
        pl.concat(ranked)
        if ranked
        else pl.DataFrame(schema={"symbol": pl.String, "date": pl.Date, "iv": pl.Float64, "iv_rank": pl.Float64})
    )
    joined = (
        feats.join(regimes, on=["symbol", "date"], how="left")
        .join(champion, on=["symbol", "date"], how="left")
        .join(longest, on=["symbol", "date"], how="left")
        .join(iv_frame, on=["symbol", "date"], how="left")
    )
    out: dict[dt.date, list[strategies.Signal]] = {}
    for row in joined.sort("date", "symbol").iter_rows(named=True):
        out.setdefault(row["date"], []).append(
            strategies.Signal(
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
            )
        )
    return out


def _percentile_rank(window: np.ndarray, least: int) -> float | None:
    """Percent of the window's values below its last one; None with too short a history."""
    if len(window) < least or not np.isfinite(window[-1]):
        return None
    past = window[np.isfinite(window)]
    return float(100.0 * np.mean(past < window[-1]))


def _bars(lake: Lake, symbols: list[str], start: dt.date, end: dt.date) -> dict[tuple[str, dt.date], strategies.Bar]:
    frame = lake.read(
        "ohlcv_daily",
        start,
        end,
        where=pl.col("symbol").is_in(symbols),
        columns=["symbol", "date", "open", "high", "low", "close"],
    )
    return {(s, d): strategies.Bar(d, o, h, lo, c) for s, d, o, h, lo, c in frame.iter_rows()}


class Book:
    """The open positions and the ledger rows of a run, day by day."""

    def __init__(self, config: Config, calendar: TradingCalendar, still_open: pl.DataFrame) -> None:
        self.config, self.calendar, self.rules = config, calendar, config.strategies
        self.rows: dict[str, dict] = {}  # prediction_id -> ledger row (entries and exits of the run)
        self.open: dict[str, strategies.Position] = {}  # prediction_id -> position
        for row in still_open.iter_rows(named=True):
            self.open[row["prediction_id"]] = _position(row)
            self.rows[row["prediction_id"]] = {**row, **dict.fromkeys(ACTUALS)}
        self._done: list[dict] = []

    def open_count(self) -> int:
        return len(self.open)

    def enter(
        self,
        day: dt.date,
        signal_day: dt.date | None,
        signals: dict[dt.date, list[strategies.Signal]],
        bars: dict[tuple[str, dt.date], strategies.Bar],
        weights: dict[tuple[str, str], float],
    ) -> None:
        if signal_day is None:
            return
        for signal in signals.get(signal_day, []):
            symbol = signal.symbol
            bar = bars.get((symbol, day))
            if bar is None:
                continue
            for strategy in self.rules.enabled:
                decision = strategies.decide(strategy, signal, self.rules)
                if decision is None:
                    continue
                position = strategies.open_position(strategy, signal, decision, day, bar.open, self.rules)
                if position is None:
                    continue
                regime = signal.regime or strategies.UNKNOWN_REGIME
                rules = self.config.variance  # a strategy enabled since yesterday has no weight yet
                fallback = rules.strategy_weights.get(strategy, 1.0) * rules.regime_adjustments.get(regime, 1.0)
                weight = weights.get((strategy, regime), fallback)
                self.open[position.prediction_id] = position
                self.rows[position.prediction_id] = self._entry_row(position, signal, regime, weight)

    def _entry_row(self, p: strategies.Position, s: strategies.Signal, regime: str, weight: float) -> dict:
        spread = p.strategy in strategies.SPREADS
        return {
            "prediction_id": p.prediction_id,
            "timestamp": self.calendar.open_time(p.entry_date),
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
            "sector": self.config.sectors.sector(p.symbol),
            "direction": p.direction,
            "confidence": p.confidence,
            "weight": weight,
            "underlying_price": p.underlying_entry,
            "params": p.params(),
        }

    def exit(self, day: dt.date, bars: dict[tuple[str, dt.date], strategies.Bar]) -> None:
        for key, position in list(self.open.items()):
            bar = bars.get((position.symbol, day))
            if bar is None:
                continue
            held = len(self.calendar.sessions(position.entry_date, day))
            last = position.expiry is not None and self.calendar.shift_sessions(day, 1) > position.expiry
            done = strategies.check_exit(position, bar, held, last, self.rules)
            if done is None:
                continue
            row = self.rows[position.prediction_id]
            row |= {
                "exit_date": done.date,
                "actual_pnl_pct": done.pnl_pct,
                "actual_pnl": done.pnl_pct * self.rules.capital,
                "exit_time": self.calendar.close_time(done.date),
                "exit_reason": done.reason,
                "prediction_error": row["predicted_return_pct"] - done.pnl_pct,
                "exit_price": done.price,
                "holding_days": done.holding_days,
            }
            self._done.append(row)
            del self.open[key]

    def completed_frame(self) -> pl.DataFrame:
        schema = TABLES["strategy_predictions"].schema
        return pl.DataFrame(self._done, schema=schema) if self._done else pl.DataFrame(schema=schema)

    def frame(self, ledger: pl.DataFrame, end: dt.date) -> pl.DataFrame:
        """The run's rows, where a position the run left open keeps an exit that a later run
        (after ``end``) already recorded: re-running a past range never erases actuals."""
        schema = TABLES["strategy_predictions"].schema
        rows = pl.DataFrame(list(self.rows.values()), schema=schema) if self.rows else pl.DataFrame(schema=schema)
        later = ledger.filter(pl.col("exit_date") > end).select(
            "prediction_id", *[pl.col(c).alias(f"_{c}") for c in ACTUALS]
        )
        rows = rows.join(later, on="prediction_id", how="left")
        keep = pl.col("exit_date").is_null() & pl.col("_exit_date").is_not_null()
        return rows.with_columns(
            [pl.when(keep).then(pl.col(f"_{c}")).otherwise(pl.col(c)).alias(c) for c in ACTUALS]
        ).select(list(schema))


def _position(row: dict) -> strategies.Position:
    """A ledger row back to the open position it records."""
    params = json.loads(row["params"])
    legs = tuple((kind, float(k), int(q)) for kind, k, q in params.get("legs", []))
    expiry = row["date"] + dt.timedelta(days=row["dte"]) if row["dte"] is not None else None
    return strategies.Position(
        prediction_id=row["prediction_id"],
        symbol=row["symbol"],
        strategy=row["strategy_type"],
        signal_date=row["signal_date"],
        entry_date=row["date"],
        direction=row["direction"],
        confidence=row["confidence"],
        entry_price=row["entry_price"],
        underlying_entry=row["underlying_price"],
        predicted_return_pct=row["predicted_return_pct"],
        stop=params["stop"],
        target=params["target"],
        expiry=expiry,
        legs=legs,
        iv=params.get("iv"),
        max_loss=params.get("max_loss"),
    )


def _backtest(done: pl.DataFrame, calendar: TradingCalendar, day: dt.date, config: Config) -> pl.DataFrame:
    rules = config.strategies
    if done.is_empty():
        sessions: list[dt.date] = []
    else:
        sessions = calendar.sessions(done["date"].min(), day)  # type: ignore[arg-type]
    rows = [backtest.metrics(done, sessions, day, backtest.ALL, rules.capital, rules.min_trades)]
    for strategy in rules.enabled:
        own = done.filter(pl.col("strategy_type") == strategy)
        rows.append(backtest.metrics(own, sessions, day, strategy, rules.capital, rules.min_trades))
    return pl.DataFrame(rows, schema=backtest.BACKTEST_SCHEMA)
