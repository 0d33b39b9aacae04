"""Backtest metrics against hand-computed examples, the equity marked to market; accuracy by sector."""

import datetime as dt
import itertools
import math

import numpy as np
import polars as pl
import pytest

from lakehouse_assets.core import backtest, book

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


def test_sharpe_and_sortino_are_on_excess_returns_over_the_risk_free_rate() -> None:
    r = np.array([0.001, 0.002, -0.0015, 0.0005, 0.003, -0.002])
    rf = 0.02
    excess = r - rf / 252
    by_hand = excess.mean() / excess.std(ddof=1) * math.sqrt(252)
    assert backtest.sharpe(r, rf) == pytest.approx(by_hand, rel=1e-12)
    downside = math.sqrt(np.mean(np.minimum(excess, 0.0) ** 2))
    assert backtest.sortino(r, rf) == pytest.approx(excess.mean() / downside * math.sqrt(252), rel=1e-12)
    assert backtest.sharpe(r, rf) < backtest.sharpe(r)  # type: ignore[operator]


SESSIONS = [D(2024, 1, d) for d in (2, 3, 4, 5, 8, 9)]


def marks(rows: list[tuple]) -> pl.DataFrame:
    """(prediction_id, strategy, date, pnl, closed) rows."""
    return pl.DataFrame(rows, schema=book.MARK_SCHEMA, orient="row")


def completed_trades(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema=["date", "exit_date", "actual_pnl", "actual_pnl_pct", "predicted_return_pct", "holding_days"],
        orient="row",
    )


def test_equity_holds_one_capital_per_position_and_marks_open_ones_daily() -> None:
    frame = marks(
        [
            ("a", "x", D(2024, 1, 2), -20.0, False),
            ("a", "x", D(2024, 1, 3), 40.0, False),
            ("a", "x", D(2024, 1, 4), 100.0, True),  # exits on the 4th with 100
            ("b", "x", D(2024, 1, 3), -10.0, False),  # overlaps the first on the 3rd and 4th
            ("b", "x", D(2024, 1, 4), -30.0, False),
            ("b", "x", D(2024, 1, 5), -50.0, True),
            ("c", "x", D(2024, 1, 8), 30.0, False),  # still open at the end
            ("c", "x", D(2024, 1, 9), 25.0, False),
        ]
    )
    path = backtest.book_paths(frame, SESSIONS, ["x"])["x"]
    curve = backtest.equity_curve(path, D(2024, 1, 9), 10_000.0)
    # before the first entry, then each close: realised P&L from the exit on, marks before
    assert curve.tolist() == pytest.approx([20_000, 19_980, 20_030, 20_070, 20_050, 20_080, 20_075])  # type: ignore[union-attr]
    done = completed_trades(
        [(D(2024, 1, 2), D(2024, 1, 4), 100.0, 0.01, 0.02, 3), (D(2024, 1, 3), D(2024, 1, 5), -50.0, -0.005, 0.01, 3)]
    )
    row = backtest.metrics(done, path, D(2024, 1, 9), "x", 10_000.0, min_trades=30, risk_free_rate=0.0)
    assert row["capital"] == 20_000 and row["equity"] == 20_075 and row["total_return"] == pytest.approx(75 / 20_000)
    assert row["open_positions"] == 1 and row["unrealized_pnl"] == 25.0 and row["total_pnl"] == 50.0
    assert row["win_rate"] == 0.5 and row["hit_rate"] == 0.5 and row["evidence"] is False
    assert row["max_drawdown"] == pytest.approx(20 / 20_000)  # the first close, an open loss
    # a day computed alone: the same figures from the marks it knows by then
    earlier = marks([r for r in frame.rows() if r[2] <= D(2024, 1, 5)])
    alone = backtest.book_paths(earlier, SESSIONS[:4], ["x"])["x"]
    assert backtest.equity_curve(alone, D(2024, 1, 5), 10_000.0).tolist() == curve[:5].tolist()  # type: ignore[union-attr]


def test_a_losing_position_still_open_shows_in_the_drawdown_and_the_ratios() -> None:
    """No trade completed yet: the realised-only equity would be flat; marked daily, the open
    loss is a drawdown, a negative return and a negative Sharpe."""
    frame = marks(
        [("a", "x", d, pnl, False) for d, pnl in zip(SESSIONS, [-100, -400, -300, -900, -1500, -2000], strict=True)]
    )
    path = backtest.book_paths(frame, SESSIONS, [backtest.ALL, "x"])
    row = backtest.metrics(completed_trades([]), path["x"], SESSIONS[-1], "x", 10_000.0, 30, risk_free_rate=0.02)
    assert row["trades"] == 0 and row["open_positions"] == 1 and row["unrealized_pnl"] == -2000.0
    assert row["max_drawdown"] == pytest.approx(2000 / 10_000) and row["total_return"] == pytest.approx(-0.2)
    assert row["sharpe"] < 0 and row["sortino"] < 0  # type: ignore[operator]
    curve = np.array([10_000, 9_900, 9_600, 9_700, 9_100, 8_500, 8_000], dtype=float)
    assert row["sharpe"] == pytest.approx(backtest.sharpe(np.diff(curve) / curve[:-1], 0.02), rel=1e-12)
    assert path[backtest.ALL].pnl.tolist() == path["x"].pnl.tolist()


def test_marks_of_a_directional_trade_and_a_spread_are_their_liquidation_values() -> None:
    from lakehouse_assets.config import load_config
    from lakehouse_assets.core import options, strategies
    from tests.conftest import REPO

    rules = load_config(REPO / "config").strategies
    cost = rules.cost_per_side
    spread = options.credit_spread("bull_put_spread", 100.0, rules.dte / 365, rules.risk_free_rate, 0.2, 2.5, 0.16)
    params = strategies.Position(
        "s", "AAA", "bull_put_spread", D(2023, 12, 29), D(2024, 1, 2), "long", 0.6, spread.credit, 100.0, 0.0,
        rules.stop_loss, rules.profit_target, D(2024, 2, 16), spread.legs, 0.2, spread.max_loss,
    ).params()  # fmt: skip
    base = dict.fromkeys(book.PREDICTION_SCHEMA)
    positions = pl.DataFrame(
        [
            base
            | {
                "prediction_id": "d",
                "symbol": "AAA",
                "strategy_type": "swing_momentum",
                "date": D(2024, 1, 2),
                "direction": "short",
                "entry_price": 100.0,
                "underlying_price": 100.0,
                "params": "{}",
                "exit_date": D(2024, 1, 4),
                "actual_pnl": -321.0,
            },
            base
            | {
                "prediction_id": "s",
                "symbol": "AAA",
                "strategy_type": "bull_put_spread",
                "date": D(2024, 1, 2),
                "direction": "long",
                "entry_price": spread.credit,
                "underlying_price": 100.0,
                "dte": rules.dte,
                "params": params,
            },
        ],
        schema=book.PREDICTION_SCHEMA,
    )
    closes = pl.DataFrame({"symbol": "AAA", "date": SESSIONS[:3], "close": [101.0, 103.0, 99.0]})
    out = book.marks(positions, closes, SESSIONS[:4], rules)  # no close on the 5th: the last one holds
    d = out.filter(pl.col("prediction_id") == "d")
    assert d["pnl"].to_list()[:2] == pytest.approx(
        [(-(c - 100) / 100 - cost * (1 + c / 100)) * rules.capital for c in (101.0, 103.0)]
    )
    assert d.row(-1, named=True)["pnl"] == -321.0 and d["closed"].to_list() == [False, False, True]
    s = out.filter(pl.col("prediction_id") == "s")
    assert s["date"].to_list() == SESSIONS[:4] and not s["closed"].any()
    for day, close, pnl in zip(SESSIONS[:4], [101.0, 103.0, 99.0, 99.0], s["pnl"], strict=True):
        t = (D(2024, 2, 16) - day).days / 365
        value = options.spread_value(spread.legs, close, t, rules.risk_free_rate, 0.2)
        premium = sum(
            options.black_scholes(k, c, s_, t, rules.risk_free_rate, 0.2) for k, s_, _ in spread.legs for c in [close]
        )
        entry = sum(
            options.black_scholes(k, 100.0, s_, rules.dte / 365, rules.risk_free_rate, 0.2) for k, s_, _ in spread.legs
        )
        expected = (spread.credit - value - cost * (entry + premium)) / spread.max_loss * rules.capital
        assert pnl == pytest.approx(expected, rel=1e-9)


def test_sector_performance_levels_and_weakest_rank() -> None:
    frame = pl.DataFrame(
        {
            "prediction_id": ["a", "b", "c", "d", "e"],
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


def test_sector_performance_is_exact_in_any_row_order_and_on_every_call() -> None:
    """Issue 16 case 8: sums run in ``prediction_id`` order, one addition after the other (a
    Python loop is the oracle, to the last bit), never in the order of polars' parallel
    group_by, which varies from call to call and would make a re-run commit a change."""
    rng = np.random.default_rng(16)
    n = 20_000
    symbol = rng.integers(0, 40, n)
    frame = pl.DataFrame(
        {
            "prediction_id": [f"p{i:06d}" for i in range(n)],
            "sector": [f"S{s % 3}" for s in symbol],
            "symbol": [f"X{s:02d}" for s in symbol],
            "regime_at_entry": rng.choice(["bull", "bear", "crash", "normal"], n),
            "predicted_return_pct": rng.normal(0.0, 0.01, n),
            "actual_pnl_pct": rng.normal(0.0, 0.02, n),
        }
    ).with_columns(actual_pnl=pl.col("actual_pnl_pct") * 10_000.0 * pl.lit(rng.uniform(0.5, 2.0, n)))
    first = backtest.sector_performance(frame, D(2024, 1, 5), min_predictions=30)
    for seed in range(10):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        assert backtest.sector_performance(shuffled, D(2024, 1, 5), min_predictions=30).equals(first), seed
    totals: dict[tuple[str, str], float] = {}
    pct: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    for sector, sym, pnl, p in frame.select("sector", "symbol", "actual_pnl", "actual_pnl_pct").iter_rows():
        totals[(sector, sym)] = totals.get((sector, sym), 0.0) + pnl
        pct[(sector, sym)] = pct.get((sector, sym), 0.0) + p
        counts[(sector, sym)] = counts.get((sector, sym), 0) + 1
    by_symbol = first.filter((pl.col("symbol") != "*") & (pl.col("regime") == "*"))
    assert by_symbol.height == len(totals)
    for row in by_symbol.iter_rows(named=True):
        key = (row["sector"], row["symbol"])
        assert row["total_pnl"] == totals[key]  # exactly: the same additions in the same order
        assert row["mean_pnl_pct"] == pct[key] / counts[key]
        assert row["predictions"] == counts[key]


def test_the_all_books_marks_add_up_in_prediction_id_order_whatever_the_rows_order() -> None:
    """Issue 16 case 8's `all` rows: every strategy's marks summed per session one after the
    other in ``prediction_id`` order (the oracle: a Python loop), so neither the order the
    ledger is read in nor positions entered later change a session's last bit."""
    rng = np.random.default_rng(8)
    sessions = [D(2024, 1, 1) + dt.timedelta(days=i) for i in range(40)]
    rows = []
    for k in range(300):
        entry = int(rng.integers(0, 35))
        life = sessions[entry : entry + int(rng.integers(1, 8))]
        pnl = np.cumsum(rng.normal(0.0, 37.0, len(life)))
        strategy = ["iron_condor", "swing_momentum", "mean_reversion"][k % 3]
        rows += [
            (f"p{k:04d}", strategy, d, float(v), i == len(life) - 1)
            for i, (d, v) in enumerate(zip(life, pnl, strict=True))
        ]
    frame = marks(rows)
    path = backtest.book_paths(frame, sessions, [backtest.ALL])[backtest.ALL]
    daily = dict.fromkeys(sessions, 0.0)
    last: dict[str, float] = {}
    for pid, _, day, pnl, _ in sorted(rows, key=lambda r: (r[0], r[2])):
        daily[day] += pnl - last.get(pid, 0.0)
        last[pid] = pnl
    assert path.pnl.tolist() == list(itertools.accumulate(daily.values()))  # exactly
    for seed in range(5):
        shuffled = backtest.book_paths(frame.sample(fraction=1.0, shuffle=True, seed=seed), sessions, [backtest.ALL])
        assert shuffled[backtest.ALL].pnl.tolist() == path.pnl.tolist()
    cut = sessions[20]
    entered = frame.filter(pl.col("date") <= cut)["prediction_id"].unique().to_list()
    known = frame.filter(pl.col("prediction_id").is_in(entered))
    alone = backtest.book_paths(known.filter(pl.col("date") <= cut), sessions[:21], [backtest.ALL])[backtest.ALL]
    assert alone.pnl.tolist() == path.pnl[:21].tolist()
