"""The simulated universe: determinism, OHLC bounds, calibration, correlation structure, and a pipeline run."""

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from lakehouse_assets.core.simulate import (
    SECTORS,
    TRADING_DAYS,
    MarketModel,
    simulate_garch,
    simulate_universe,
    standardize,
    weekly_sentiment,
)
from lakehouse_assets.sources.simulated import (
    calibrated_market,
    simulation_sessions,
    sp500_log_returns,
    write_simulation,
)
from tests.conftest import run_pipeline


@pytest.fixture(scope="module")
def market() -> MarketModel:
    return calibrated_market()


@pytest.fixture(scope="module")
def universe(market: MarketModel):
    return simulate_universe(market, 44, 2520, seed=3)


def test_garch_matches_an_explicit_recursion() -> None:
    model = MarketModel(mu=0.05, omega=0.02, alpha=0.1, beta=0.85, residuals=standardize(np.array([-1.5, 0.2, 1.3])))
    returns, vol = simulate_garch(model, 50, np.random.default_rng(1))
    z = np.random.default_rng(1).choice(model.residuals, size=50, replace=True)
    variance, expected_r, expected_v = model.omega / (1 - model.alpha - model.beta), [], []
    for t in range(50):
        expected_v.append(np.sqrt(variance) / 100)
        expected_r.append((model.mu + np.sqrt(variance) * z[t]) / 100)
        variance = model.omega + model.alpha * variance * z[t] ** 2 + model.beta * variance
    assert_allclose(returns, expected_r, rtol=1e-12)
    assert_allclose(vol, expected_v, rtol=1e-12)


def test_non_stationary_garch_is_refused() -> None:
    with pytest.raises(ValueError, match="stationary"):
        MarketModel(mu=0.0, omega=0.01, alpha=0.2, beta=0.8, residuals=np.array([-1.0, 1.0]))


def test_same_seed_same_arrays_other_seed_differs(market: MarketModel) -> None:
    a, b = simulate_universe(market, 12, 300, seed=7), simulate_universe(market, 12, 300, seed=7)
    for name in ("open", "high", "low", "close", "volume", "market_return", "sector_return"):
        assert_array_equal(getattr(a, name), getattr(b, name))
    c = simulate_universe(market, 12, 300, seed=8)
    assert not np.array_equal(a.close, c.close)
    assert a.symbols == c.symbols == [f"SIM{i:04d}" for i in range(1, 13)]


def test_ohlc_bounds_hold_and_volume_is_positive(universe) -> None:
    u = universe
    assert (u.high >= np.maximum(u.open, u.close)).all()
    assert (u.low <= np.minimum(u.open, u.close)).all()
    assert (u.low > 0).all() and (u.volume > 0).all()
    assert (u.high > u.low).mean() > 0.99  # the range is a real positive draw, not zero
    assert np.isfinite(u.close).all()


def test_market_volatility_is_near_the_sp500(universe) -> None:
    real = sp500_log_returns().std() * np.sqrt(TRADING_DAYS)
    simulated = universe.market_return.std() * np.sqrt(TRADING_DAYS)
    assert 0.5 * real < simulated < 2.0 * real


def test_volatility_clusters_like_garch(universe) -> None:
    squared = universe.market_return**2
    assert np.corrcoef(squared[:-1], squared[1:])[0, 1] > 0.05


def test_correlation_is_positive_and_higher_within_sectors(universe) -> None:
    corr = np.corrcoef(universe.log_return.T)
    sector = np.array(universe.sectors)
    same = sector[:, None] == sector[None, :]
    off_diagonal = ~np.eye(len(sector), dtype=bool)
    within, across = corr[same & off_diagonal].mean(), corr[~same].mean()
    assert across > 0.1
    assert within > across + 0.05
    assert set(universe.sectors) == set(SECTORS)


def test_volume_is_higher_on_volatile_days(universe) -> None:
    abs_move = np.abs(universe.market_return)
    loud = abs_move > np.quantile(abs_move, 0.9)
    quiet = abs_move < np.quantile(abs_move, 0.5)
    assert np.median(universe.volume[loud]) > np.median(universe.volume[quiet])


def test_weekly_sentiment_is_bounded_and_leans_with_returns(universe) -> None:
    rows = np.arange(5, 2520, 5)
    score, confidence = weekly_sentiment(universe.log_return, rows, seed=3)
    assert score.shape == confidence.shape == (rows.size, 44)
    assert (np.abs(score) <= 1).all() and ((confidence >= 0) & (confidence <= 1)).all()
    cumulative = np.cumsum(universe.log_return, axis=0)
    trailing = cumulative[rows] - cumulative[rows - 5]
    assert np.corrcoef(trailing.ravel(), score.ravel())[0, 1] > 0.3


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.*")}


def test_files_are_byte_identical_for_a_seed(tmp_path: Path) -> None:
    sessions = simulation_sessions(dt.date(2017, 6, 1), dt.date(2018, 2, 28))
    one = write_simulation(tmp_path / "a", 4, sessions, seed=5, sentiment=True)
    write_simulation(tmp_path / "b", 4, sessions, seed=5, sentiment=True)
    write_simulation(tmp_path / "c", 4, sessions, seed=6, sentiment=True)
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert a == b
    assert a["ohlcv/SIM0001/1day/2017-01_to_2017-12.csv"] != c["ohlcv/SIM0001/1day/2017-01_to_2017-12.csv"]
    assert {
        "ohlcv/SIM0004/1day/2017-01_to_2017-12.csv",
        "ohlcv/SIM0004/1day/2018-01_to_2018-12.csv",
        "sectors.yaml",
    } <= set(a)
    assert one.files == len(a) and one.sessions == len(sessions)
    bars = pl.read_csv(tmp_path / "a/ohlcv/SIM0002/1day/2018-01_to_2018-12.csv")
    assert bars.columns == ["timestamp", "open", "high", "low", "close", "volume", "source"]
    assert bars["source"].unique().to_list() == ["simulated"]
    assert bars["timestamp"].to_list() == [d.isoformat() for d in sessions if d.year == 2018]


def test_sectors_yaml_loads_as_a_sector_map(tmp_path: Path) -> None:
    from lakehouse_assets.config import _sectors

    write_simulation(tmp_path, 13, simulation_sessions(dt.date(2018, 1, 2), dt.date(2018, 1, 31)), seed=1)
    sectors = _sectors(tmp_path)
    assert sectors.sector("SIM0001") == sectors.sector("SIM0012") == "Energy"
    assert sectors.sector("SIM0013") == "Materials"


def test_pipeline_ingests_a_simulated_universe(tmp_path: Path) -> None:
    from lakehouse_assets.lake.delta import Lake

    sessions = simulation_sessions(dt.date(2018, 1, 1), dt.date(2018, 12, 31))
    write_simulation(tmp_path / "sim", 5, sessions, seed=11, sentiment=True)
    lake = Lake(str(tmp_path / "lake"))
    result = run_pipeline(
        lake.root, "2018-03-01", "2018-03-29", ohlcv_dir=str(tmp_path / "sim/ohlcv"), groups=("bronze", "silver")
    )
    assert result.success
    bronze = lake.read("ohlcv_bronze")
    month = [d for d in sessions if dt.date(2018, 3, 1) <= d <= dt.date(2018, 3, 29)]
    assert bronze.height == 5 * len(month)
    assert bronze["source"].unique().to_list() == ["simulated"]
    assert lake.read("ohlcv_daily").height == 5 * len(month)
    assert not lake.exists("quarantine") or lake.read("quarantine").is_empty()


def test_landing_source_column_is_the_row_source_and_blank_falls_back(tmp_path: Path) -> None:
    from lakehouse_assets.sources.ohlcv import LANDING_SOURCE, read_landing_file

    folder = tmp_path / "AAA/1day"
    folder.mkdir(parents=True)
    with_source = folder / "a.csv"
    with_source.write_text("Date,O,H,L,C,V, Source \n2024-01-02,1,2,0.5,1.5,10,simulated\n2024-01-03,1,2,0.5,1.5,10,\n")
    without = folder / "b.csv"
    without.write_text("date,o,h,l,c,v\n2024-01-02,1,2,0.5,1.5,10\n")
    raw = read_landing_file(tmp_path, with_source, "AAA")
    assert raw["source"].to_list() == ["simulated", LANDING_SOURCE]
    assert raw.columns == ["timestamp", "open", "high", "low", "close", "volume", "symbol", "source", "file", "line"]
    assert read_landing_file(tmp_path, without, "AAA")["source"].to_list() == [LANDING_SOURCE]
