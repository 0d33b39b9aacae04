"""The ledger's bookkeeping in core: signals joined from frames, the IV rank, the book's entries
and exits (both regimes recorded), and a ledger row back to its position."""

import dataclasses
import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse_assets.config import load_config
from lakehouse_assets.core import book, strategies, variance
from lakehouse_assets.core.calendar import TradingCalendar
from tests.conftest import REPO

D = dt.date
CONFIG = load_config(REPO / "config")
CALENDAR = TradingCalendar("XNYS", D(2017, 1, 1))


def test_iv_rank_is_the_share_of_the_window_below_the_last_value() -> None:
    values = [0.20, 0.10, 0.30, 0.25, 0.05]
    garch = pl.DataFrame(
        {
            "symbol": ["AAA"] * 5,
            "date": [D(2018, 1, d) for d in (2, 3, 4, 5, 8)],
            "volatility": [v / math.sqrt(252 / 10) for v in values],
        }
    )
    ranked = book.iv_ranks(garch, horizon=10, window=3, least=2)
    assert ranked["iv"].to_list() == pytest.approx(values)
    # windows of three: [.2] too short, [.2 .1] -> 0, [.2 .1 .3] -> 2/3, [.1 .3 .25] -> 1/3, [.3 .25 .05] -> 0
    assert ranked["iv_rank"].to_list() == [None, 0.0, pytest.approx(200 / 3), pytest.approx(100 / 3), 0.0]
    assert book.percentile_rank(np.array([1.0, np.nan, 3.0]), 2) == 50.0


def frames() -> dict[str, pl.DataFrame]:
    day = D(2018, 6, 1)
    features = pl.DataFrame(
        {
            "symbol": ["BBB", "AAA"],
            "date": [day, day],
            "close": [50.0, 100.0],
            "rsi_14": [25.0, 50.0],
            "momentum_20": [0.01, 0.02],
            "sma_20": [49.0, 99.0],
            "sma_50": [48.0, 98.0],
            "adx_14": [30.0, 10.0],
            "realized_vol_21": [0.2, 0.15],
            "sentiment_score": [None, 0.1],
        }
    )
    regimes = pl.DataFrame(
        {
            "symbol": ["AAA", "BBB"],
            "date": [day, day],
            "regime": ["high_volatility", "normal"],
            "trend": ["bull", "bear"],
            "market_regime": ["normal", "normal"],
        }
    )
    champion = pl.DataFrame({"symbol": ["AAA"], "date": [day], "point": [0.01], "volatility": [0.03], "prob_up": [0.6]})
    longest = pl.DataFrame({"symbol": ["AAA"], "date": [day], "point": [0.0084]})  # 21 sessions of 0.0004
    # AAA's annualized GARCH volatility: 11 of its last 20 sessions below the day's 0.2, 8 above; BBB: one day
    sessions = CALENDAR.sessions(CALENDAR.shift_sessions(day, -19), day)
    iv = [0.1 + 0.001 * i for i in range(11)] + [0.3 + 0.001 * i for i in range(8)] + [0.2, 0.3]
    garch = pl.DataFrame(
        {
            "symbol": ["AAA"] * 20 + ["BBB"],
            "date": [*sessions, day],
            "volatility": [v / math.sqrt(252 / 21) for v in iv],
        }
    )
    return {"features": features, "regimes": regimes, "champion": champion, "longest": longest, "garch": garch}


def signals() -> dict[dt.date, list[strategies.Signal]]:
    return book.signals(**frames(), horizon=21, rules=CONFIG.strategies)


def test_signals_join_every_frame_and_keep_both_regimes() -> None:
    assert (CONFIG.strategies.iv_rank_window, CONFIG.strategies.iv_rank_min) == (252, 20)
    out = signals()
    (day,) = out
    aaa, bbb = out[day]
    assert (aaa.symbol, bbb.symbol) == ("AAA", "BBB")  # in symbol order
    assert aaa.regime == "high_volatility" and aaa.market_regime == "normal"
    assert (aaa.point, aaa.volatility, aaa.drift, aaa.iv) == (0.01, 0.03, pytest.approx(0.0004), pytest.approx(0.2))
    assert aaa.iv_rank == pytest.approx(55.0)  # 11 of 20
    assert bbb.iv == pytest.approx(0.3) and bbb.iv_rank is None  # one session: too short a history for a rank
    assert bbb.point is None and bbb.drift is None  # no champion yet


def test_the_book_records_both_regimes_and_fills_actuals_on_exit() -> None:
    signal_day, entry = D(2018, 6, 1), D(2018, 6, 4)
    bars = book.bars(
        pl.DataFrame(
            {
                "symbol": ["BBB"] * 3,
                "date": [entry, D(2018, 6, 5), D(2018, 6, 6)],
                "open": [50.0, 50.0, 40.0],
                "high": [50.5, 51.0, 40.0],
                "low": [49.5, 49.8, 39.0],
                "close": [50.0, 50.5, 39.5],
            }
        )
    )
    rules = dataclasses.replace(CONFIG.strategies, enabled=("mean_reversion",))
    ledger = book.Book(
        rules, CONFIG.variance, CALENDAR, CONFIG.sectors.sector, pl.DataFrame(schema=book.PREDICTION_SCHEMA)
    )
    ledger.enter(entry, signal_day, signals(), bars, {("mean_reversion", "normal"): 0.5})
    assert ledger.open_count() == 1  # BBB oversold (RSI 25); AAA has no bar
    (row,) = ledger.rows.values()
    assert row["regime_at_entry"] == "normal" and row["market_regime_at_entry"] == "normal"
    assert row["weight"] == 0.5 and row["predicted_score"] == pytest.approx(100 * row["confidence"] * 0.5)
    position = book.position_from_row(row)
    assert position == ledger.open[row["prediction_id"]]  # the row gives back the position
    for day in (entry, D(2018, 6, 5), D(2018, 6, 6)):
        ledger.exit(day, bars)
    assert ledger.open_count() == 0
    done = ledger.completed_frame().row(0, named=True)
    assert done["exit_reason"] == "stop" and done["exit_date"] == D(2018, 6, 6) and done["exit_price"] == 40.0  # a gap
    assert done["prediction_error"] == pytest.approx(done["predicted_return_pct"] - done["actual_pnl_pct"])
    assert book.run_days  # the day loop lives here too (exercised by the ledger's integration tests)


def test_a_spreads_life_runs_to_its_expiry_past_the_calendars_horizon() -> None:
    ledger = book.Book(
        CONFIG.strategies, CONFIG.variance, CALENDAR, CONFIG.sectors.sector, pl.DataFrame(schema=book.PREDICTION_SCHEMA)
    )
    life = ledger.life(D(2018, 7, 2))
    assert life[0] == D(2018, 7, 2) and D(2018, 7, 4) not in life  # Independence Day
    assert life[-1] == D(2018, 8, 16) == D(2018, 7, 2) + dt.timedelta(days=CONFIG.strategies.dte)
    assert len(life) == 21 + 12  # July's sessions from the 2nd, August's to the 16th
    late = ledger.life(CALENDAR.last_session)
    assert late[-1] > CALENDAR.last_session and all(d.weekday() < 5 for d in late)
    assert strategies.SPREADS  # the lives are the spreads'


def test_a_ranges_signal_day_is_the_session_before_it() -> None:
    assert book.signal_day(CALENDAR, D(2018, 7, 5)) == D(2018, 7, 3)  # Independence Day between
    assert book.signal_day(CALENDAR, D(2018, 7, 9)) == D(2018, 7, 6)  # a Monday: the Friday
    assert book.signal_day(CALENDAR, CALENDAR.first_session) == CALENDAR.first_session  # nothing before


def test_marks_start_at_the_first_entry_stored_before_the_range() -> None:
    stored = pl.DataFrame({"date": [D(2018, 5, 2), D(2018, 3, 1), D(2018, 6, 4)]})
    assert book.first_mark(stored, D(2018, 4, 2)) == D(2018, 3, 1)
    assert book.first_mark(stored, D(2018, 3, 1)) == D(2018, 3, 1)  # nothing before: the range's start
    assert book.first_mark(stored.clear(), D(2018, 4, 2)) == D(2018, 4, 2)


def test_the_weight_bound_is_the_largest_weight_the_variance_can_give() -> None:
    rules = dataclasses.replace(
        CONFIG.variance,
        strategy_weights={"mean_reversion": 2.0, "iron_condor": 0.5},
        regime_adjustments={"crash": 0.5, "recovery": 1.5},
    )
    bounds = book.ledger_bounds(rules)
    low, high = bounds["strategy_weights"]["weight_bounds"]["weight"]
    assert (low, high) == (0.0, 3.0)
    strategies_ = ["mean_reversion", "iron_condor", "forecast_follow"]
    nothing = variance.analyze(pl.DataFrame(schema=book.PREDICTION_SCHEMA), D(2018, 6, 1), strategies_, rules)
    base = variance.weights(nothing, D(2018, 6, 1), strategies_, list(book.WEIGHT_REGIMES), rules)
    assert base["weight"].max() == high  # no evidence: no reduction, the largest base x regime weight
    assert bounds["variance_analysis"]["adjustment_bounds"]["weight_adjustment"] == (
        variance.weight_adjustment(math.inf, rules),  # the most a bad record reduces a weight
        variance.weight_adjustment(0.0, rules),
    )
    assert set(bounds) == {"strategy_predictions", "variance_analysis", "strategy_weights", "backtest_metrics"} | {
        "sector_performance"
    }


def market(start: dt.date, end: dt.date, seed: int = 3) -> dict[str, pl.DataFrame]:
    """Bars, features, regimes and champion forecasts of two symbols, the features' RSI swinging
    through both of mean reversion's thresholds so that positions open and close all the time."""
    rng = np.random.default_rng(seed)
    days = CALENDAR.sessions(start, end)
    frames: dict[str, list[pl.DataFrame]] = {"bars": [], "features": [], "regimes": [], "champion": []}
    for symbol, price in (("AAA", 100.0), ("BBB", 40.0)):
        close = price * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
        open_ = close * np.exp(rng.normal(0, 0.01, len(days)))
        key = {"symbol": [symbol] * len(days), "date": days}
        frames["bars"].append(
            pl.DataFrame(
                {
                    **key,
                    "open": open_,
                    "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, len(days))),
                    "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, len(days))),
                    "close": close,
                }
            )
        )
        frames["features"].append(
            pl.DataFrame(
                {
                    **key,
                    "close": close,
                    "rsi_14": rng.uniform(10, 90, len(days)),
                    "momentum_20": rng.normal(0, 0.05, len(days)),
                    "sma_20": close * 0.99,
                    "sma_50": close * 0.98,
                    "adx_14": rng.uniform(10, 40, len(days)),
                    "realized_vol_21": rng.uniform(0.15, 0.35, len(days)),
                    "sentiment_score": [None] * len(days),
                },
                schema_overrides={"sentiment_score": pl.Float64},
            )
        )
        frames["regimes"].append(
            pl.DataFrame(
                {
                    **key,
                    "regime": rng.choice(["normal", "high_volatility"], len(days)),
                    "trend": ["bull"] * len(days),
                    "market_regime": ["normal"] * len(days),
                }
            )
        )
        frames["champion"].append(
            pl.DataFrame(
                {
                    **key,
                    "point": rng.normal(0, 0.02, len(days)),
                    "volatility": [0.04] * len(days),
                    "prob_up": rng.uniform(0.3, 0.7, len(days)),
                }
            )
        )
    return {name: pl.concat(parts) for name, parts in frames.items()}


def run(
    data: dict[str, pl.DataFrame],
    rules: strategies.StrategyRules,
    start: dt.date,
    end: dt.date,
    stored: pl.DataFrame,
    weights: pl.DataFrame,
) -> book.Ledger:
    """A range of the ledger as the asset runs it: what the lake stores, read as the asset reads it."""
    first = book.signal_day(CALENDAR, start)
    signals = book.signals(
        data["features"].filter(pl.col("date").is_between(first, end)),
        data["regimes"],
        data["champion"],
        pl.DataFrame(schema={"symbol": pl.String, "date": pl.Date, "point": pl.Float64}),
        pl.DataFrame(schema={"symbol": pl.String, "date": pl.Date, "volatility": pl.Float64}),
        horizon=21,
        rules=rules,
    )
    closes = data["bars"].filter(pl.col("date").is_between(book.first_mark(stored, start), end))
    return book.run_ledger(
        rules,
        CONFIG.variance,
        CALENDAR,
        CONFIG.sectors.sector,
        start,
        end,
        signals=signals,
        ohlcv=data["bars"].filter(pl.col("date").is_between(start, end)),
        ledger=stored,
        weights=weights.filter(pl.col("as_of") == first),
        closes=closes.select("symbol", "date", "close"),
    )


def test_a_range_run_in_two_pieces_writes_what_it_writes_run_whole() -> None:
    rules = dataclasses.replace(CONFIG.strategies, enabled=("mean_reversion", "forecast_follow"), min_trades=5)
    start, middle, end = D(2018, 3, 1), D(2018, 4, 13), D(2018, 5, 31)
    data = market(CALENDAR.shift_sessions(start, -1), end)
    nothing = pl.DataFrame(schema=book.PREDICTION_SCHEMA)
    no_weights = pl.DataFrame(schema=variance.WEIGHT_SCHEMA)

    whole = run(data, rules, start, end, nothing, no_weights)
    first = run(data, rules, start, middle, nothing, no_weights)
    after = CALENDAR.shift_sessions(middle, 1)
    second = run(data, rules, after, end, first.predictions, first.tables["strategy_weights"])

    # the second piece decides again the positions the first left open, and enters its own
    carried = first.predictions.filter(pl.col("exit_date").is_null())["prediction_id"]
    assert carried.len() > 0 and carried.is_in(second.predictions["prediction_id"].to_list()).all()
    assert second.predictions.filter(pl.col("exit_date") > middle).height > carried.len() > 0
    stored = pl.concat(
        [
            first.predictions.filter(~pl.col("prediction_id").is_in(second.predictions["prediction_id"].to_list())),
            second.predictions,
        ]
    )
    assert_frame_equal(stored.sort("prediction_id"), whole.predictions.sort("prediction_id"))
    for name, frame in whole.tables.items():
        assert_frame_equal(pl.concat([first.tables[name], second.tables[name]]), frame, check_exact=True)
    assert whole.tables["backtest_metrics"]["trades"].max() >= rules.min_trades  # type: ignore[operator]

    # what the asset reports: the range's entries, its exits and what stays open
    assert_frame_equal(whole.entered, whole.predictions.filter(pl.col("date").is_between(start, end)))
    assert first.exits + second.exits == whole.exits == whole.predictions["exit_date"].is_not_null().sum()
    assert second.open_positions == whole.open_positions == whole.predictions["exit_date"].is_null().sum()
    # the first day's entries are scored with the base weights: no weights were stored before it
    opening = whole.entered.filter(pl.col("date") == start)
    assert opening.height > 0 and set(opening["weight"]) <= {1.0, 0.8}  # base x regime adjustment
