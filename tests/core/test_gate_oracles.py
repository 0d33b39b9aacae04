"""The promotion gate on constructed series whose truth is known.

The real models (``core/forecasting``) forecast a synthetic symbol day by day, the scores
and rolling metrics come from ``core/scoring`` and the decisions from ``core/registry``, as
in the ``forecasting`` asset. On AR(1) returns (phi 0.5) there is real skill to find: the
ARIMA family must win h = 1 on most decision days, with a significant Diebold-Mariano test.
On i.i.d. returns there is none: a non-naive champion on at most 10% of decision days.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import polars as pl
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import features as F
from lakehouse_assets.core import forecasting as fc
from lakehouse_assets.core import registry, scoring
from lakehouse_assets.core.calendar import TradingCalendar
from tests.conftest import REPO

CONFIG = load_config(REPO / "config")
# monthly refits: the gate, not the refit cadence, is under test, and fits are most of the cost
SETTINGS = dataclasses.replace(
    CONFIG.forecasting,
    horizons=(1, 5),
    fit_window=500,
    min_observations=250,
    cadence="monthly",
    order_selection="monthly",
)
WINDOW = CONFIG.score_window
ORIGINS = 260  # forecast origins; the first WINDOW + 5 of them only build up the scores
ARIMA_FAMILY = {"auto_arima", "sarimax"}


def synthetic_bars(sessions: list[dt.date], returns: np.ndarray, symbol: str) -> pl.DataFrame:
    """Bars whose close-to-close log returns are ``returns`` (the first bar has none)."""
    close = 100.0 * np.exp(np.r_[0.0, np.cumsum(returns[1:])])
    opened = np.r_[close[0], close[:-1]]
    return pl.DataFrame(
        {
            "symbol": symbol,
            "date": sessions,
            "open": opened,
            "high": np.maximum(opened, close) * 1.002,
            "low": np.minimum(opened, close) * 0.998,
            "close": close,
            "volume": 1e6,
        }
    ).with_columns(log_return=(pl.col("close") / pl.col("close").shift(1)).log())


def champions_on(returns: np.ndarray, symbol: str) -> tuple[pl.DataFrame, list[dt.date]]:
    """Forecast, score and judge a synthetic symbol; the decision rows of the days after warm-up."""
    calendar = TradingCalendar("XNYS", dt.date(2009, 1, 2))
    sessions = calendar.sessions(dt.date(2010, 1, 4), dt.date(2016, 12, 30))[: len(returns)]
    bars = synthetic_bars(sessions, returns, symbol)
    feats = F.compute_features(bars)
    names = sorted(set(SETTINGS.classifier_features) | set(SETTINGS.sarimax_exog))
    origins = sessions[-ORIGINS - max(SETTINGS.horizons) : -max(SETTINGS.horizons)]
    task = fc.SymbolTask(
        symbol=symbol,
        dates=bars["date"].to_numpy().astype("datetime64[D]"),
        returns=bars["log_return"].fill_null(np.nan).to_numpy(),
        log_close=np.log(bars["close"].to_numpy()),
        features={n: feats[n].fill_null(np.nan).to_numpy() for n in names},
        origins=origins,
        sessions=sessions,
        states={},
        settings=SETTINGS,
    )
    result = fc.run_symbol(task)
    index = {d: i for i, d in enumerate(sessions)}
    forecasts = pl.DataFrame(result.rows).with_columns(
        target_date=pl.struct("date", "horizon").map_elements(
            lambda r: sessions[index[r["date"]] + r["horizon"]], return_dtype=pl.Date
        )
    )
    scored = scoring.realized(forecasts, bars.select("symbol", "date", "close")).with_columns(
        regime=pl.lit(None, pl.String)
    )
    rolled = scoring.rolling_metrics(scored, sessions, WINDOW).with_columns(sector=pl.lit("Unknown"))
    days = origins[WINDOW + max(SETTINGS.horizons) :]  # every model has a full window of scores
    decisions, _ = registry.decide_days(
        rolled, days, sessions, WINDOW, [symbol], SETTINGS.horizons, SETTINGS.models, {}, CONFIG.gate
    )
    return decisions, days


def champion_share(decisions: pl.DataFrame, horizon: int) -> Counter:
    chosen = decisions.filter(pl.col("champion") & (pl.col("horizon") == horizon))
    return Counter(chosen["model"].to_list())


def ar1_returns(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, 0.01, n + 200)
    returns = np.zeros_like(shocks)
    for t in range(1, len(shocks)):
        returns[t] = 0.5 * returns[t - 1] + shocks[t]
    return returns[-n:]


@pytest.fixture(scope="module")
def judged() -> dict[str, tuple[pl.DataFrame, list[dt.date]]]:
    """Both series at once, one process each (the suite otherwise runs on one core)."""
    n = SETTINGS.fit_window + ORIGINS + 70  # the first two monthly refits need full windows too
    series = {"AR1": ar1_returns(n, 11), "IID": np.random.default_rng(5).normal(0.0, 0.01, n)}
    spawn = multiprocessing.get_context("spawn")  # no fork: polars and DuckDB hold threads
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        futures = {name: pool.submit(champions_on, returns, name) for name, returns in series.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.slow
def test_arima_family_wins_on_an_ar1_series_with_a_significant_dm(judged: dict) -> None:
    decisions, days = judged["AR1"]
    wins = champion_share(decisions, 1)
    assert sum(wins[m] for m in ARIMA_FAMILY) >= 0.8 * len(days), wins
    arima = decisions.filter((pl.col("horizon") == 1) & pl.col("champion") & pl.col("model").is_in(list(ARIMA_FAMILY)))
    assert arima.height
    for row in arima.iter_rows(named=True):
        evidence = json.loads(row["metrics"])["evidence"]["beats_baseline"]
        assert evidence["dm_pvalue"] <= evidence["holm_threshold"] <= CONFIG.gate.dm_alpha


@pytest.mark.slow
def test_iid_returns_rarely_crown_a_model(judged: dict) -> None:
    decisions, days = judged["IID"]
    for horizon in SETTINGS.horizons:
        wins = champion_share(decisions, horizon)
        assert len(days) - wins["naive"] <= 0.10 * len(days), (horizon, wins)
