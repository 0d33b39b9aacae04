"""The ledger's bookkeeping in core: signals joined from frames, the IV rank, the book's entries
and exits (both regimes recorded), and a ledger row back to its position."""

import dataclasses
import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import book, strategies
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
    longest = pl.DataFrame({"symbol": ["AAA"], "date": [day], "drift": [0.0004]})
    iv = pl.DataFrame({"symbol": ["AAA", "BBB"], "date": [day, day], "iv": [0.2, 0.3], "iv_rank": [55.0, None]})
    return {"features": features, "regimes": regimes, "champion": champion, "longest": longest, "iv": iv}


def test_signals_join_every_frame_and_keep_both_regimes() -> None:
    out = book.signals(**frames())
    (day,) = out
    aaa, bbb = out[day]
    assert (aaa.symbol, bbb.symbol) == ("AAA", "BBB")  # in symbol order
    assert aaa.regime == "high_volatility" and aaa.market_regime == "normal"
    assert (aaa.point, aaa.volatility, aaa.drift, aaa.iv, aaa.iv_rank) == (0.01, 0.03, 0.0004, 0.2, 55.0)
    assert bbb.point is None and bbb.drift is None and bbb.iv_rank is None  # no champion yet


def test_the_book_records_both_regimes_and_fills_actuals_on_exit() -> None:
    signals = book.signals(**frames())
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
    ledger.enter(entry, signal_day, signals, bars, {("mean_reversion", "normal"): 0.5})
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
