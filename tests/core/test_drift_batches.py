"""Drift reports computed in batches (all series of a day at once) equal them computed one by one.

``feature_drift`` and ``regime_drift`` test every symbol's series in a few numpy calls
(:func:`drift._block_ks_rows` over rows of pools, :func:`drift._sustained` in rounds); these
tests hold that a symbol's rows do not depend on the other symbols in the frame, on the row
order of the frame or on the batch sizes, and that a batch row equals the explicit oracle.
"""

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats

from lakehouse_assets.core import drift

START = dt.date(2015, 1, 1)
SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE")
RULES = drift.DriftRules(features=("x", "y"), window=5, reference=120, gap=20, blocks=39, regime_reference=120)


def dates(n: int) -> list[dt.date]:
    return [START + dt.timedelta(days=i) for i in range(n)]


def universe(n: int = 400) -> pl.DataFrame:
    """Five symbols unlike each other: i.i.d., persistent with a late shift (drift runs and
    refits), heavily tied (a drawdown-like series, zero half the time), with NaNs and nulls,
    and one whose history starts late (warming up), rows shuffled."""
    rng = np.random.default_rng(21)
    frames = []
    for k, symbol in enumerate(["EEE", "AAA", "DDD", "BBB", "CCC"]):
        length = n if symbol != "CCC" else 110
        x = rng.normal(size=length)
        y = np.cumsum(rng.normal(size=length)) * 0.1
        if symbol == "AAA":
            x[-40:] += 4.0
            y[-25:] += 3.0
        if symbol == "BBB":
            x = np.minimum(np.round(x, 1), 0.0)  # ties: zero at every new high
        if symbol == "DDD":
            x[rng.choice(length, 40, replace=False)] = np.nan
        frame = pl.DataFrame({"symbol": symbol, "date": dates(n)[n - length :], "x": x, "y": y})
        if symbol == "DDD":
            frame = frame.with_columns(y=pl.when(pl.col("date").dt.day() == 3).then(None).otherwise(pl.col("y")))
        frames.append(
            frame.with_columns(
                regime=pl.Series(rng.choice(["normal", "crash"], length, p=[0.9 - k / 20, 0.1 + k / 20]))
            )
        )
    return pl.concat(frames).sample(fraction=1.0, shuffle=True, seed=3)


def test_a_symbols_rows_do_not_depend_on_the_other_symbols_of_the_frame() -> None:
    frame = universe()
    days = dates(400)[-60:]
    for report, columns in ((drift.feature_drift, ["x", "y"]), (drift.regime_drift, ["regime"])):
        whole = report(frame.select("symbol", "date", *columns), days, RULES)
        assert whole["symbol"].n_unique() == 5
        alone = pl.concat(
            [
                report(frame.filter(pl.col("symbol") == s).select("symbol", "date", *columns), days, RULES)
                for s in SYMBOLS
            ]
        )
        assert_frame_equal(whole, alone.sort("as_of", "kind", "name", "symbol"))
    features = drift.feature_drift(frame, days, RULES)
    assert features["refit"].any() and features["statistic"].is_null().any()  # drift runs and warm-up both covered


def test_batch_sizes_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = universe()
    days = dates(400)[-60:]
    expected = drift.feature_drift(frame, days, RULES), drift.regime_drift(frame, days, RULES)
    for rows, requests in ((1, 1), (3, 7), (1000, 100000)):
        monkeypatch.setattr(drift, "_ROWS_AT_ONCE", rows)
        monkeypatch.setattr(drift, "_REQUESTS_AT_ONCE", requests)
        assert_frame_equal(drift.feature_drift(frame, days, RULES), expected[0])
        assert_frame_equal(drift.regime_drift(frame, days, RULES), expected[1])


def test_each_row_of_a_batch_equals_the_explicit_oracle() -> None:
    """Oracle per row: the KS distance of each block from the values before it (scipy), the
    p-value as the share of null blocks at least as far, the critical value and the median."""
    rng = np.random.default_rng(5)
    window, gap, blocks, alpha = 5, 12, 19, 0.1
    pools = np.stack([np.round(rng.normal(i % 3, 1 + i % 2, 80), i % 3) for i in range(9)])  # ties in some rows
    got = drift._block_ks_tests(pools, window, gap, blocks, alpha)
    starts = drift.block_starts(80, window, blocks)
    for pool, result in zip(pools, got, strict=True):
        d = []
        for start in starts:
            block = pool[(start + np.arange(window)) % 80]
            before = pool[(start - 1 - np.arange(80 - window - gap)) % 80]
            d.append(stats.ks_2samp(block, before, method="asymp").statistic)
        null = np.sort(d[1:])[::-1]
        assert result.statistic == pytest.approx(d[0], abs=1e-12)
        assert result.p_value == pytest.approx((1 + np.sum(null >= result.statistic - 1e-12)) / (blocks + 1))
        assert result.critical == pytest.approx(null[int(alpha * (blocks + 1)) - 1], abs=1e-12)
        assert result.null_median == pytest.approx(np.median(null), abs=1e-12)
        assert result == drift.block_ks_test(
            pool[-window:], pool[gap:-window], older=pool[:gap], blocks=blocks, alpha=alpha
        )
