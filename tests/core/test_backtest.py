"""Backtest metrics against hand-computed examples; accuracy by sector."""

import datetime as dt
import math

import polars as pl
import pytest

from lakehouse_assets.core import backtest

D = dt.date


def test_sharpe_sortino_by_hand() -> None:
    r = [0.01, 0.02, -0.01]
    mean, sd = 0.02 / 3, math.sqrt(((0.01 - 0.02 / 3) ** 2 + (0.02 - 0.02 / 3) ** 2 + (-0.01 - 0.02 / 3) ** 2) / 2)
    assert backtest.sharpe(r) == pytest.approx(mean / sd * math.sqrt(252), rel=1e-12)
    assert backtest.sharpe(r) == pytest.approx(6.9282, abs=1e-4)
    downside = math.sqrt((0 + 0 + 0.0001) / 3)
    assert backtest.sortino(r) == pytest.approx(mean / downside * math.sqrt(252), rel=1e-12)
    assert backtest.sortino(r) == pytest.approx(18.3303, abs=1e-4)
    assert backtest.sharpe([0.01]) is None and backtest.sortino([0.01, 0.02]) is None  # no downside


def test_max_drawdown_and_profit_factor_by_hand() -> None:
    assert backtest.max_drawdown([100, 120, 90, 130, 65]) == pytest.approx(0.5)  # 130 -> 65
    assert backtest.max_drawdown([100, 110, 120]) == 0.0
    assert backtest.profit_factor([10, -5, 20, -10]) == pytest.approx(2.0)
    assert backtest.profit_factor([10, 20]) is None


def trades(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema=["date", "exit_date", "actual_pnl", "actual_pnl_pct", "predicted_return_pct", "holding_days"],
        orient="row",
    )


def test_equity_holds_one_capital_per_position_at_the_busiest_session() -> None:
    sessions = [D(2024, 1, d) for d in (2, 3, 4, 5, 8)]
    frame = trades(
        [
            (D(2024, 1, 2), D(2024, 1, 4), 100.0, 0.01, 0.02, 3),
            (D(2024, 1, 3), D(2024, 1, 5), -50.0, -0.005, 0.01, 3),  # overlaps the first on the 3rd and 4th
            (D(2024, 1, 8), D(2024, 1, 8), 30.0, 0.003, -0.01, 1),
        ]
    )
    curve = backtest.equity_curve(frame, sessions, D(2024, 1, 8), 10_000.0)
    assert curve.tolist() == [20_000, 20_000, 20_000, 20_100, 20_050, 20_080]
    row = backtest.metrics(frame, sessions, D(2024, 1, 8), "x", 10_000.0, min_trades=30)
    assert row["capital"] == 20_000 and row["total_return"] == pytest.approx(80 / 20_000)
    assert row["win_rate"] == pytest.approx(2 / 3) and row["hit_rate"] == pytest.approx(1 / 3)
    assert row["profit_factor"] == pytest.approx(130 / 50) and row["evidence"] is False
    assert row["max_drawdown"] == pytest.approx(50 / 20_100)


def test_sector_performance_levels_and_weakest_rank() -> None:
    frame = pl.DataFrame(
        {
            "sector": ["Index", "Index", "Energy", "Energy", "Energy"],
            "symbol": ["^GSPC", "^GSPC", "XOM", "XOM", "CVX"],
            "regime_at_entry": ["normal", "crash", "normal", "normal", "normal"],
            "predicted_return_pct": [0.01, 0.01, -0.01, 0.02, 0.01],
            "actual_pnl_pct": [0.02, -0.03, 0.01, 0.01, 0.02],
            "actual_pnl": [200.0, -300.0, 100.0, 100.0, 200.0],
        }
    )
    out = backtest.sector_performance(frame, D(2024, 1, 5), min_predictions=2)
    sectors = {r["sector"]: r for r in out.filter((pl.col("symbol") == "*") & (pl.col("regime") == "*")).to_dicts()}
    assert sectors["Index"]["accuracy"] == 0.5 and sectors["Index"]["weakest_rank"] == 1
    assert sectors["Energy"]["accuracy"] == pytest.approx(2 / 3) and sectors["Energy"]["weakest_rank"] == 2
    xom = out.filter((pl.col("symbol") == "XOM") & (pl.col("regime") == "normal")).row(0, named=True)
    assert xom["predictions"] == 2 and xom["correct"] == 1 and xom["total_pnl"] == 200.0
