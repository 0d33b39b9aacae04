"""``scoring.rolling_metrics`` against its definition written out row by row: the same bits.

The function finds every window's rows with ``searchsorted`` over all groups at once; the
oracle below filters each row's window out of its own group, one row at a time, as the
module docstring defines it, and computes the figures of those rows. Groups with gaps
(symbols whose bars stop, days without a baseline row), several models, symbols and
horizons, and every ``since``/``full_from`` combination a run uses.
"""

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from lakehouse_assets.core import scoring

WINDOW = 10
SESSIONS = [dt.date(2021, 3, 1) + dt.timedelta(days=i) for i in range(70)]
SCORE_COLUMNS = scoring.WINDOW_INPUTS


def scored_rows(seed: int) -> pl.DataFrame:
    """Scored forecasts of three models (naive among them), three symbols, horizons 1 and 5,
    with a fifth of the rows missing and one symbol's targets stopping early."""
    rng = np.random.default_rng(seed)
    rows = []
    for symbol, last in (("AAA", len(SESSIONS)), ("BBB", len(SESSIONS)), ("STOP", len(SESSIONS) - 12)):
        for horizon in (1, 5):
            for i in range(horizon, last):
                actual = float(rng.choice([0.0, *rng.normal(0.0, 0.02, size=9)]))
                for model in ("naive", "arima", "classifier"):
                    if rng.random() < 0.2:
                        continue
                    point = 0.0 if model == "naive" else float(rng.normal(0.0, 0.02))
                    error = actual - point
                    call = None if model == "naive" or rng.random() < 0.1 else bool(point > 0)
                    rows.append(
                        {
                            "symbol": symbol,
                            "date": SESSIONS[i - horizon],
                            "target_date": SESSIONS[i],
                            "model": model,
                            "horizon": horizon,
                            "actual": actual,
                            "error": error,
                            "abs_error": abs(error),
                            "squared_error": error**2,
                            "smape": None if rng.random() < 0.05 else 2.0 * math.tanh(abs(error) / 2.0),
                            "crps": abs(error) * float(rng.uniform(0.5, 1.0)),
                            "hit": None if call is None or actual == 0 else call == (actual > 0),
                            "covered_80": bool(abs(error) < 0.02),
                            "covered_95": bool(abs(error) < 0.04),
                        }
                    )
    return pl.DataFrame(rows).sample(fraction=1.0, shuffle=True, seed=seed)  # the function sorts


def oracle(scored: pl.DataFrame, since: dt.date | None, full_from: dt.date | None) -> pl.DataFrame:
    """Each returned row's window filtered out of its group, one row at a time."""
    naive = scored.filter(pl.col("model") == "naive").select(
        "symbol", "horizon", "target_date", naive_abs="abs_error", naive_sq="squared_error"
    )
    frame = scored.join(naive, on=["symbol", "horizon", "target_date"], how="left").with_columns(
        up=pl.when(pl.col("hit").is_not_null()).then(pl.col("actual") > 0)
    )
    out = []
    for (_model, _symbol, horizon), group in frame.sort("target_date").group_by(["model", "symbol", "horizon"]):
        targets = group.get_column("target_date").to_list()
        before = [t for t in targets if full_from is not None and t < full_from]
        # before full_from only the group's last row has figures, and only if none falls on full_from
        with_figures = set(targets) - set(before)
        if before and full_from not in targets:
            with_figures.add(before[-1])
        for row in group.iter_rows(named=True):
            target = row["target_date"]
            if since is not None and target < since:
                continue
            figures: dict[str, float | None] = dict.fromkeys(scoring.ROLLING_COLUMNS)
            if target in with_figures:
                own = SESSIONS.index(target)
                first = SESSIONS[max(own - (WINDOW - 1), 0)]
                rows = group.filter(pl.col("target_date").is_between(first, target))
                part = {c: rows.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy() for c in SCORE_COLUMNS}
                figures, df = scoring._window_metrics(part, int(horizon))
                if figures["dm_stat"] is not None and df > 0:
                    figures["dm_pvalue"] = float(stats.t.cdf(figures["dm_stat"], df=df))
            out.append({**{c: v for c, v in row.items() if c not in ("naive_abs", "naive_sq", "up")}, **figures})
    return pl.DataFrame(out, schema={**scored.schema, **dict.fromkeys(scoring.ROLLING_COLUMNS, pl.Float64)})


def float_bits(frame: pl.DataFrame) -> pl.DataFrame:
    """Float columns as their IEEE bits, nulls as 0 (``equals`` alone takes -0.0 for 0.0;
    it is asserted too, for the nulls)."""
    return frame.with_columns(
        pl.Series(c, frame.get_column(c).fill_null(0.0).to_numpy().view(np.int64))
        for c, dtype in frame.schema.items()
        if dtype == pl.Float64
    )


@pytest.mark.parametrize(
    ("since", "full_from"),
    [
        (None, None),
        (SESSIONS[30], None),
        (SESSIONS[30], SESSIONS[45]),  # a range's run: figures from its first origin
        (SESSIONS[40], SESSIONS[-1]),  # an ordinary day: its targets and each group's last before
        (SESSIONS[40], SESSIONS[-12]),  # STOP's last target is the session before: judged by that row
        (SESSIONS[0], SESSIONS[0]),
    ],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_rolling_metrics_equal_the_row_by_row_definition_bit_for_bit(
    since: dt.date | None, full_from: dt.date | None, seed: int
) -> None:
    scored = scored_rows(seed)
    got = scoring.rolling_metrics(scored, SESSIONS, WINDOW, since=since, full_from=full_from)
    expected = oracle(scored, since, full_from).with_columns(pl.col("window_n").cast(pl.Int64))
    keys = ["model", "symbol", "horizon", "target_date"]
    assert got.columns == expected.columns
    assert got.select(keys).equals(got.select(keys).sort(keys))  # sorted by group and target
    expected = expected.sort(keys)
    assert got.equals(expected)
    assert float_bits(got).equals(float_bits(expected))
    assert got["window_n"].is_not_null().sum() > 0  # windows were computed, not only nulls
    if since is not None:
        assert got["target_date"].min() == min(t for t in scored["target_date"] if t >= since)


def test_rolling_metrics_of_no_rows_are_no_rows_with_the_rolling_columns() -> None:
    empty = scored_rows(1).clear()
    got = scoring.rolling_metrics(empty, SESSIONS, WINDOW, since=SESSIONS[5], full_from=SESSIONS[9])
    assert got.height == 0 and got.columns == [*empty.columns, *scoring.ROLLING_COLUMNS]
