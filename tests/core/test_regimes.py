"""Regime rules on hand-made rows, and the labels they give the real S&P 500 history."""

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import features as F
from lakehouse_assets.core import regimes as R
from tests.conftest import REPO, bundled_bars

RULES = load_config(REPO / "config").regimes


@pytest.fixture(scope="module")
def labels(sp500: pl.DataFrame) -> pl.DataFrame:
    nasdaq = bundled_bars("arch.nasdaq", "^IXIC")
    return R.classify(F.compute_features(pl.concat([sp500, nasdaq])), RULES, "^GSPC")


def between(frame: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    return frame.filter(pl.col("date").is_between(start, end))


def test_october_2008_is_a_crash_or_high_volatility_and_mid_2017_is_normal(labels: pl.DataFrame) -> None:
    spx = labels.filter(pl.col("symbol") == "^GSPC")
    october_2008 = between(spx, dt.date(2008, 10, 1), dt.date(2008, 10, 31))
    assert october_2008.height == 23
    assert set(october_2008["regime"]) <= {"crash", "high_volatility"}
    assert "crash" in set(october_2008["regime"])
    mid_2017 = between(spx, dt.date(2017, 6, 1), dt.date(2017, 7, 31))
    assert set(mid_2017["regime"]) == {"normal"}
    assert set(between(spx, dt.date(2009, 4, 1), dt.date(2009, 9, 30))["regime"]) & {"recovery"}
    assert set(spx["regime"].drop_nulls()) == set(R.REGIMES) and set(spx["trend"].drop_nulls()) == set(R.TRENDS)


def test_market_regime_is_the_index_label_of_the_same_day(labels: pl.DataFrame) -> None:
    spx = labels.filter(pl.col("symbol") == "^GSPC").select("date", "regime", "trend")
    ixic = labels.filter(pl.col("symbol") == "^IXIC").join(spx, on="date", suffix="_index")
    assert ixic["market_regime"].equals(ixic["regime_index"], check_names=False)
    assert ixic["market_trend"].equals(ixic["trend_index"], check_names=False)


def test_warm_up_rows_have_no_label_not_a_guess(labels: pl.DataFrame) -> None:
    spx = labels.filter(pl.col("symbol") == "^GSPC")
    # the first realized_vol_21 is at row 21 (row 0 has no return); the percentile needs 252 of them
    first = spx.filter(pl.col("regime").is_not_null())["date"].min()
    assert first == spx["date"][21 + 251]
    assert spx.filter(pl.col("date") < first)["rv_percentile"].null_count() == 272


def test_rolling_percentile_against_a_loop() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=5000)
    values[[10, 400, 4000]] = np.nan
    got = R.rolling_percentile(values, 300, 50)
    for i in range(len(values)):
        window = values[max(0, i - 299) : i + 1]
        present = window[~np.isnan(window)]
        if np.isnan(values[i]) or len(present) < 50:
            assert np.isnan(got[i]), i
        else:
            assert got[i] == (present <= values[i]).sum() / len(present), i


def row(**values: float | None) -> dict[str, float | None]:
    base = {"drawdown_252": -0.02, "rv_percentile": 0.5, "volatility_ratio": 1.0, "momentum_20": 0.01}
    base.update(sma_20=101.0, sma_50=100.0, close=102.0, adx_14=25.0)
    return {**base, **values}


@pytest.mark.parametrize(
    ("values", "regime"),
    [
        ({}, "normal"),
        ({"drawdown_252": -0.25, "rv_percentile": 0.97}, "crash"),
        ({"drawdown_252": -0.25, "rv_percentile": 0.85}, "high_volatility"),  # deep, but not extreme vol
        ({"rv_percentile": 0.80}, "high_volatility"),
        ({"volatility_ratio": 1.8}, "high_volatility"),
        ({"drawdown_252": -0.15, "momentum_20": 0.03}, "recovery"),
        ({"drawdown_252": -0.15, "momentum_20": -0.03}, "normal"),  # still falling: not recovering
        ({"rv_percentile": None}, None),
        ({"momentum_20": None}, None),
    ],
)
def test_regime_rules(values: dict, regime: str | None) -> None:
    frame = pl.DataFrame([row(**values)], schema_overrides={k: pl.Float64 for k in row()})
    assert frame.select(R.regime_expr(RULES)).item() == regime


@pytest.mark.parametrize(
    ("values", "trend"),
    [
        ({}, "bull"),
        ({"sma_20": 99.0, "close": 98.0}, "bear"),
        ({"adx_14": 15.0}, "sideways"),  # no trend strength
        ({"close": 99.0}, "sideways"),  # averages rising, price below the slow one
        ({"adx_14": None}, None),
    ],
)
def test_trend_rules(values: dict, trend: str | None) -> None:
    frame = pl.DataFrame([row(**values)], schema_overrides={k: pl.Float64 for k in row()})
    assert frame.select(R.trend_expr(RULES)).item() == trend


def test_thresholds_come_from_the_config(labels: pl.DataFrame, sp500: pl.DataFrame) -> None:
    stricter = dataclasses.replace(RULES, crash_drawdown=-0.60)  # deeper than 2008's -52%
    relabelled = R.classify(F.compute_features(sp500), stricter, "^GSPC")
    assert "crash" not in set(relabelled["regime"])
    assert "crash" in set(labels["regime"])


def test_rolling_percentile_from_a_first_row_evaluates_only_the_rows_from_there() -> None:
    values = np.random.default_rng(2).normal(size=3000)
    full = R.rolling_percentile(values, 300, 50)
    got = R.rolling_percentile(values, 300, 50, first=2500)
    assert np.isnan(got[:2500]).all()
    assert np.array_equal(got[2500:], full[2500:])


def test_the_labels_of_a_day_need_its_lookback_rows_and_no_more(labels: pl.DataFrame, sp500: pl.DataFrame) -> None:
    """A week of mid-2017, ~4,600 rows into the history, classified from the last
    ``lookback_rows`` rows before it, is labelled exactly as inside the whole history."""
    nasdaq = bundled_bars("arch.nasdaq", "^IXIC")
    features = F.compute_features(pl.concat([sp500, nasdaq])).with_columns(F.bar_number())
    since, until = dt.date(2017, 6, 12), dt.date(2017, 6, 16)
    expected = between(labels, since, until)
    lookback = R.lookback_rows(RULES)
    assert lookback == RULES.vol_percentile_window - 1 == 1259
    first_bar = features.filter(pl.col("date") == since)["bar"].min() - lookback
    assert first_bar > 3000  # far more history than the window

    def from_rows(rows: int) -> pl.DataFrame:
        index = features.filter(pl.col("date") == since).select("symbol", since_bar="bar")
        window = features.join(index, on="symbol").filter(pl.col("bar") >= pl.col("since_bar") - rows)
        return R.classify(window.filter(pl.col("date") <= until), RULES, "^GSPC", since=since)

    assert from_rows(lookback).equals(expected)
    # one row fewer and the percentile counts a window one short: it shows
    assert not from_rows(lookback - 1)["rv_percentile"].equals(expected["rv_percentile"])
