"""A range of the ledger costs what its days need: the shortcuts of a long range give the
rows of the direct computation, to the last bit (issue 17).

- :func:`backtest.sector_performances` (groups found once, a day's sums by masked
  ``bincount``) against :func:`backtest.sector_performance` of each day's own rows.
- :func:`variance.analyze` of the rows still in the window against all the rows.
- :meth:`book.Book.completed_since` hands each exit out once.
- :func:`book.marks` reads only the columns it needs.
"""

import datetime as dt

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from lakehouse_assets.config import load_config
from lakehouse_assets.core import backtest, book, variance
from lakehouse_assets.core.calendar import TradingCalendar
from tests.conftest import REPO

D = dt.date
CONFIG = load_config(REPO / "config")
CALENDAR = TradingCalendar("XNYS", D(2017, 1, 1))


def completed(n: int, seed: int) -> pl.DataFrame:
    """``n`` completed predictions with exits over two months, in no particular order; a few
    null actuals, and ids that do not sort in the order of the exits."""
    rng = np.random.default_rng(seed)
    symbol = rng.integers(0, 25, n)
    actual = rng.normal(0.0, 0.02, n)
    actual[rng.random(n) < 0.02] = np.nan
    exits = [D(2018, 6, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 60, n)]
    return pl.DataFrame(
        {
            "prediction_id": [f"{h:016x}" for h in rng.integers(0, 2**62, n)],
            "sector": [f"S{s % 4}" for s in symbol],
            "symbol": [f"X{s:02d}" for s in symbol],
            "strategy_type": rng.choice(["iron_condor", "swing_momentum"], n),
            "regime_at_entry": rng.choice(["bull", "bear", "crash", "normal"], n),
            "predicted_return_pct": rng.normal(0.0, 0.01, n),
            "actual_pnl_pct": actual,
            "exit_date": exits,
        }
    ).with_columns(
        actual_pnl_pct=pl.col("actual_pnl_pct").fill_nan(None),
        actual_pnl=pl.col("actual_pnl_pct").fill_nan(None) * 10_000.0 * pl.lit(rng.uniform(0.5, 2.0, n)),
        prediction_error=pl.col("predicted_return_pct") - pl.col("actual_pnl_pct").fill_nan(None),
    )


def test_sector_performances_of_a_range_are_each_days_own_to_the_last_bit() -> None:
    frame = completed(6_000, seed=17)
    days = [D(2018, 5, 31), *CALENDAR.sessions(D(2018, 6, 1), D(2018, 8, 3))]  # the first: nothing exited yet
    out = backtest.sector_performances(frame, days, min_predictions=30)
    assert len(out) == len(days) and out[0].is_empty()
    for day, got in zip(days, out, strict=True):
        own = frame.filter(pl.col("exit_date") <= day)
        want = backtest.sector_performance(own, day, min_predictions=30)
        assert_frame_equal(got, want, check_exact=True)
        for column in ("total_pnl", "mean_pnl_pct", "accuracy"):  # bit for bit, NaN and null alike
            assert got[column].to_numpy().tobytes() == want[column].to_numpy().tobytes(), (day, column)
    empty = backtest.sector_performances(frame.clear(), days[:2], 30)
    assert [f.schema for f in empty] == [pl.Schema(backtest.SECTOR_SCHEMA)] * 2 and all(f.is_empty() for f in empty)


def test_the_variance_of_the_rows_still_in_the_window_is_that_of_all_rows() -> None:
    frame = completed(4_000, seed=3).sort("prediction_id")
    rules = CONFIG.variance
    strategies = ["iron_condor", "swing_momentum"]
    for day in (D(2018, 7, 5), D(2018, 7, 16), D(2018, 7, 31)):
        done = frame.filter(pl.col("exit_date") <= day)
        recent = done.filter(pl.col("exit_date") >= variance.window_start(day, rules))
        assert recent.height < done.height
        assert_frame_equal(
            variance.analyze(recent, day, strategies, rules),
            variance.analyze(done, day, strategies, rules),
            check_exact=True,
        )


def test_completed_since_hands_out_each_exit_once() -> None:
    ledger = book.Book(
        CONFIG.strategies, CONFIG.variance, CALENDAR, CONFIG.sectors.sector, pl.DataFrame(schema=book.PREDICTION_SCHEMA)
    )
    assert ledger.completed_since().is_empty()
    row = {**dict.fromkeys(book.PREDICTION_SCHEMA), "prediction_id": "a", "exit_date": D(2018, 6, 4)}
    ledger._done.append(row)
    first = ledger.completed_since()
    assert first["prediction_id"].to_list() == ["a"] and first.schema == pl.Schema(book.PREDICTION_SCHEMA)
    assert ledger.completed_since().is_empty()
    ledger._done.append({**row, "prediction_id": "b"})
    assert ledger.completed_since()["prediction_id"].to_list() == ["b"]
    assert ledger.completed_frame()["prediction_id"].to_list() == ["a", "b"]
    done = ledger.completed_frame()
    assert book.completed_by(done, D(2018, 6, 1)).is_empty() and book.completed_by(done, D(2018, 6, 4)).height == 2


def test_marks_read_only_the_columns_they_need() -> None:
    entry = D(2018, 6, 4)
    row = {
        **dict.fromkeys(book.PREDICTION_SCHEMA),
        "prediction_id": "p1",
        "date": entry,
        "symbol": "AAA",
        "strategy_type": "swing_momentum",
        "direction": "long",
        "entry_price": 100.0,
        "underlying_price": 100.0,
        "params": "{}",
    }
    positions = pl.DataFrame([row], schema=book.PREDICTION_SCHEMA)
    sessions = CALENDAR.sessions(entry, D(2018, 6, 8))
    closes = pl.DataFrame({"symbol": ["AAA"] * 3, "date": sessions[:3], "close": [101.0, 99.0, 102.0]})
    rules = CONFIG.strategies
    marked = book.marks(positions, closes, sessions, rules)
    wider = positions.with_columns(extra=pl.lit("not read"))
    assert_frame_equal(book.marks(wider, closes, sessions, rules), marked, check_exact=True)
    assert marked["date"].to_list() == sessions and marked["closed"].sum() == 0
    cost = rules.cost_per_side
    want = [(c - 100.0) / 100.0 - cost * (1.0 + c / 100.0) for c in (101.0, 99.0, 102.0, 102.0, 102.0)]
    assert marked["pnl"].to_list() == [w * rules.capital for w in want]  # the last close carried forward
