"""What the pipeline reads from drift reports: refit triggers and the gate's drift score."""

import datetime as dt

import polars as pl

from lakehouse_assets.core import drift
from lakehouse_assets.lake.catalog import table

D = dt.date


def reports(rows: list[tuple]) -> pl.DataFrame:
    columns = ["as_of", "kind", "name", "symbol", "statistic", "refit"]
    frame = pl.DataFrame(rows, schema=columns, orient="row")
    return frame.with_columns(
        [pl.lit(None, dtype).alias(c) for c, dtype in table("drift_reports").schema.items() if c not in columns]
    ).select(list(table("drift_reports").schema))


def test_refit_triggers_fall_on_the_next_session_and_market_wide_flags_reach_every_symbol() -> None:
    frame = reports(
        [
            (D(2024, 3, 28), "feature", "rsi_14", "AAPL", 0.3, True),  # Thursday before Good Friday
            (D(2024, 3, 28), "feature", "adx_14", "AAPL", 0.2, True),  # the same day twice: one trigger
            (D(2024, 4, 2), "regime", "regime", drift.ALL_SYMBOLS, None, True),
            (D(2024, 4, 3), "feature", "rsi_14", "MSFT", 0.5, False),  # drifted, not sustained: no refit
        ]
    )
    next_session = {D(2024, 3, 28): D(2024, 4, 1), D(2024, 4, 2): D(2024, 4, 3)}.__getitem__
    got = drift.refit_triggers(frame, ["AAPL", "MSFT"], next_session)
    assert got == {"AAPL": (D(2024, 4, 1), D(2024, 4, 3)), "MSFT": (D(2024, 4, 3),)}


def test_drift_score_is_the_largest_feature_statistic_of_the_symbol_or_the_market() -> None:
    frame = reports(
        [
            (D(2024, 4, 1), "feature", "rsi_14", "AAPL", 0.12, False),
            (D(2024, 4, 1), "feature", "adx_14", "AAPL", 0.31, True),
            (D(2024, 4, 1), "feature", "rsi_14", drift.ALL_SYMBOLS, 0.2, False),
            (D(2024, 4, 1), "regime", "regime", "AAPL", 0.9, False),  # not a feature statistic
        ]
    )
    assert drift.drift_scores(frame, ["AAPL", "MSFT"]) == {
        ("AAPL", D(2024, 4, 1)): 0.31,
        ("MSFT", D(2024, 4, 1)): 0.2,
    }
