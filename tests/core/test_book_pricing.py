"""A day's entries priced on threads, and the IV rank of the signal days only: the same ledger."""

import datetime as dt

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from lakehouse_assets.core import book, variance
from tests.core.test_book import CALENDAR, CONFIG, market

D = dt.date


def garch(data: dict[str, pl.DataFrame], seed: int = 8) -> pl.DataFrame:
    """GARCH volatility forecasts for every bar: IV ranks high enough for iron condors, so that
    all six strategies, spreads included, enter."""
    rng = np.random.default_rng(seed)
    keys = data["bars"].select("symbol", "date")
    return keys.with_columns(volatility=pl.Series(rng.uniform(0.02, 0.12, keys.height)))


def ledger(start: dt.date, end: dt.date, threads: int) -> book.Ledger:
    data = market(CALENDAR.shift_sessions(start, -40), end)
    first = book.signal_day(CALENDAR, start)
    signals = book.signals(
        data["features"].filter(pl.col("date").is_between(first, end)),
        data["regimes"],
        data["champion"],
        data["champion"].select("symbol", "date", "point"),
        garch(data),
        horizon=21,
        rules=CONFIG.strategies,
    )
    nothing = pl.DataFrame(schema=book.PREDICTION_SCHEMA)
    return book.run_ledger(
        CONFIG.strategies,
        CONFIG.variance,
        CALENDAR,
        CONFIG.sectors.sector,
        start,
        end,
        signals=signals,
        ohlcv=data["bars"].filter(pl.col("date").is_between(start, end)),
        ledger=nothing,
        weights=pl.DataFrame(schema=variance.WEIGHT_SCHEMA),
        closes=data["bars"].select("symbol", "date", "close"),
        threads=threads,
    )


def test_entries_priced_on_threads_are_the_entries_priced_in_order() -> None:
    start, end = D(2018, 3, 1), D(2018, 3, 20)
    alone = ledger(start, end, threads=1)
    assert set(alone.entered["strategy_type"]) >= {"iron_condor", "bull_put_spread", "mean_reversion"}
    for threads in (2, 5):
        threaded = ledger(start, end, threads=threads)
        assert_frame_equal(threaded.predictions, alone.predictions, check_exact=True)  # same rows, same order
        for name, frame in alone.tables.items():
            assert_frame_equal(threaded.tables[name], frame, check_exact=True)


def test_iv_ranks_since_a_day_are_the_full_ranks_of_those_days() -> None:
    rng = np.random.default_rng(2)
    days = CALENDAR.sessions(D(2018, 1, 2), D(2018, 6, 29))
    frame = pl.DataFrame(
        {
            "symbol": ["BBB"] * len(days) + ["AAA"] * len(days),
            "date": days * 2,
            "volatility": np.r_[rng.uniform(0.01, 0.1, len(days)), [np.nan], rng.uniform(0.01, 0.1, len(days) - 1)],
        }
    ).sample(fraction=1.0, shuffle=True, seed=1)
    since = D(2018, 5, 1)
    full = book.iv_ranks(frame, 21, 60, 20).filter(pl.col("date") >= since).sort("symbol", "date")
    part = book.iv_ranks(frame, 21, 60, 20, since=since)
    assert part.height == full.height > 0 and part["iv_rank"].null_count() < part.height
    assert_frame_equal(part, full, check_exact=True)
