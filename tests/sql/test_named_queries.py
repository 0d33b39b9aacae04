"""Named SQL files against small hand-made tables: exact expected rows."""

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from lakehouse_assets.core.quarantine import file_record, quarantine_records
from lakehouse_assets.lake import catalog
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.lake.duck import QueryUsageError, TableNotCreated, TableUnavailable, named_query, query

SQL = Path(__file__).resolve().parents[2] / "sql"
D = dt.date


def run(lake: Lake, name: str, **params: str) -> list[tuple[object, ...]]:
    return query(lake, (SQL / name).read_text(), params)[1]


def named(lake: Lake, name: str, **params: str) -> list[dict[str, object]]:
    columns, rows = query(lake, (SQL / name).read_text(), params)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_latest_bars(lake: Lake) -> None:
    rows = [
        ("AAA", D(2024, 1, 2), 10.0, 0.01),
        ("AAA", D(2024, 1, 3), 11.0, 0.02),
        ("AAA", D(2024, 1, 4), 12.0, 0.03),  # after as_of
        ("BBB", D(2024, 1, 2), 20.0, None),  # stale: no bar on 2024-01-03
    ]
    frame = pl.DataFrame(
        [(s, d, c, c + 1, c - 1, c, 1000.0, r, "test") for s, d, c, r in rows],
        schema=catalog.TABLES["ohlcv_daily"].schema,
        orient="row",
    )
    lake.sync_range("ohlcv_daily", frame, D(2024, 1, 1), D(2024, 1, 31))
    assert run(lake, "latest_bars.sql", as_of="2024-01-03") == [
        ("AAA", D(2024, 1, 3), 11.0, 12.0, 10.0, 11.0, 1000.0, 0.02, 0),
        ("BBB", D(2024, 1, 2), 20.0, 21.0, 19.0, 20.0, 1000.0, None, 1),
    ]
    assert run(lake, "latest_bars.sql", as_of="2023-12-31") == []


def test_quarantine_summary(lake: Lake) -> None:
    rejected = pl.DataFrame(
        {
            "symbol": ["AAA", "AAA", "BBB"],
            "date": [D(2024, 1, 3), D(2024, 1, 5), D(2024, 1, 4)],
            "reason": ["high < max(open, close): 9 < 10", "high < max(open, close): 8 < 9", "volume < 0: -1.0"],
            "file": ["a.csv", "a.csv", "b.csv"],
            "line": [3, 5, 2],
            "source": "csv_landing",
            "close": [10.0, 9.0, 5.0],
        }
    )
    records = pl.concat(
        [
            quarantine_records(rejected, "ohlcv_daily", ["close"]),
            file_record("ohlcv_bronze", "c.csv", "missing required column 'close'", "date,o", "csv_landing", "CCC"),
        ]
    )
    lake.merge("quarantine", records.with_columns(quarantined_at=pl.lit(dt.datetime(2024, 1, 6, tzinfo=dt.UTC))))
    assert run(lake, "quarantine_summary.sql") == [
        ("ohlcv_bronze", "missing required column 'close'", 1, 1, 1, None, None, "missing required column 'close'"),
        (
            "ohlcv_daily",
            "high < max(open, close)",
            2,
            1,
            1,
            D(2024, 1, 3),
            D(2024, 1, 5),
            "high < max(open, close): 8 < 9",
        ),
        ("ohlcv_daily", "volume < 0", 1, 1, 1, D(2024, 1, 4), D(2024, 1, 4), "volume < 0: -1.0"),
    ]


def test_feature_snapshot_and_regime_calendar_on_the_real_index(lake: Lake, sp500: pl.DataFrame) -> None:
    from lakehouse_assets.config import load_config
    from lakehouse_assets.core import features, regimes

    computed = features.compute_features(sp500)
    labels = regimes.classify(computed, load_config(SQL.parent / "config").regimes, "^GSPC")
    lake.sync_range("features", computed, D(1999, 1, 1), D(2018, 12, 31))
    lake.sync_range("market_regimes", labels, D(1999, 1, 1), D(2018, 12, 31))

    columns, rows = query(
        lake,
        (SQL / "feature_snapshot.sql").read_text(),
        {"symbol": "^GSPC", "start": "2008-10-01", "end": "2008-10-31"},
    )
    assert columns == [*features.SCHEMA, "regime", "trend", "market_regime", "market_trend"]
    expected = computed.filter(pl.col("date").is_between(D(2008, 10, 1), D(2008, 10, 31)))
    assert [r[: len(features.SCHEMA)] for r in rows] == expected.rows()
    assert {r[-4] for r in rows} <= {"crash", "high_volatility"}

    # the spells, against a plain loop over the labels
    spells: list[tuple[object, ...]] = []
    previous = None
    for date, regime in labels.select("date", "regime").iter_rows():
        if regime is not None and regime == previous:
            spells[-1] = (*spells[-1][:3], date, spells[-1][4] + 1)
        elif regime is not None:
            spells.append(("^GSPC", regime, date, date, 1))
        previous = regime
    got = run(lake, "regime_calendar.sql")
    assert [r[:5] for r in got] == [s[:5] for s in spells]
    assert all(r[5] == (r[3] - r[2]).days + 1 for r in got)
    assert sum(r[4] for r in got) == labels["regime"].drop_nulls().len()


def test_forecast_accuracy_pairs_each_model_with_naive_on_the_same_forecasts(lake: Lake) -> None:
    schema = catalog.TABLES["forecast_scores"].schema
    rows = []
    for origin, target, regime, actual in (
        (D(2024, 1, 2), D(2024, 1, 3), "normal", 0.01),
        (D(2024, 1, 3), D(2024, 1, 4), "crash", -0.03),
    ):
        for model, point in (("naive", 0.0), ("arima", 0.005)):
            error = actual - point
            row = dict.fromkeys(schema)
            row.update(symbol="AAA", date=origin, model=model, horizon=1, target_date=target, regime=regime)
            row.update(point=point, actual=actual, error=error, abs_error=abs(error), squared_error=error**2)
            row.update(hit=None if model == "naive" else (actual > 0), covered_80=True, covered_95=True)
            rows.append(row)
    lake.sync_range("forecast_scores", pl.DataFrame(rows, schema=schema), D(2024, 1, 1), D(2024, 1, 31))
    overall = named(lake, "forecast_accuracy.sql", start="2024-01-01", end="2024-01-31")
    by_model = {r["model"]: r for r in overall}
    arima = by_model["arima"]
    assert arima["forecasts"] == 2 and arima["relative_mae"] == pytest.approx((0.005 + 0.035) / (0.01 + 0.03))
    assert by_model["naive"]["relative_mae"] == 1.0 and arima["directional_accuracy"] == 0.5  # one right of two
    assert arima["balanced_accuracy"] == 0.5  # right on the up day, wrong on the down day
    regimes = {
        (r["model"], r["regime"]): r
        for r in named(lake, "forecast_accuracy_by_regime.sql", start="2024-01-01", end="2024-01-31")
    }
    assert regimes[("arima", "crash")]["relative_mae"] == pytest.approx(0.035 / 0.03)
    assert regimes[("arima", "normal")]["relative_mae"] == pytest.approx(0.005 / 0.01)
    assert run(lake, "forecast_accuracy.sql", start="2024-02-01", end="2024-02-28") == []


def test_champion_models_shows_the_evidence_and_why_naive_won(lake: Lake) -> None:
    from lakehouse_assets.config import load_config
    from lakehouse_assets.core import registry

    rules = load_config(SQL.parent / "config").gate
    base = {"window_n": 126, "relative_mae": 0.9, "balanced_accuracy": 0.6, "coverage_80": 0.8, "coverage_95": 0.95}
    rows = []
    for symbol, p_arima in (("AAA", 0.001), ("BBB", 0.2)):
        candidates = {
            "naive": registry.Candidate({**base, "relative_mae": 1.0}),
            "auto_arima": registry.Candidate({**base, "dm_pvalue": p_arima, "relative_mae": 0.8}),
            "garch": registry.Candidate({**base, "dm_pvalue": 0.03}),
        }
        judged = registry.evaluate(candidates, 1, None, rules)
        rows += registry.decide(D(2024, 1, 2), symbol, 1, judged, rules)
    lake.sync_range("model_registry", pl.DataFrame(rows, schema=registry.SCHEMA), D(2024, 1, 1), D(2024, 1, 31))
    got = {r["symbol"]: r for r in named(lake, "champion_models.sql", as_of="2024-01-05")}
    assert got["AAA"]["model"] == "auto_arima" and got["AAA"]["dm_pvalue"] == 0.001
    assert got["AAA"]["holm_threshold"] == pytest.approx(0.025) and got["AAA"]["failed_most"] is None
    # Holm: with AAA, garch's 0.03 ranks second (threshold 0.05) after auto_arima's rejection and passes;
    # with BBB it ranks first (threshold 0.025) and fails, and nothing is approved
    assert got["AAA"]["candidates_approved"] == 2 and got["BBB"]["candidates_approved"] == 0
    assert got["BBB"]["model"] == "naive" and got["BBB"]["failed_most"] == "beats_baseline"
    assert got["BBB"]["relative_mae"] == 1.0
    rates = {r["model"]: r for r in named(lake, "gate_pass_rates.sql", start="2024-01-01", end="2024-01-31")}
    assert rates["auto_arima"]["decisions"] == 2 and rates["auto_arima"]["champion"] == 0.5
    assert rates["auto_arima"]["beats_baseline"] == 0.5 and rates["garch"]["beats_baseline"] == 0.5
    assert rates["auto_arima"]["coverage"] == 1.0 and rates["auto_arima"]["approved"] == 0.5
    assert rates["naive"]["champion"] == 0.5 and rates["naive"]["beats_baseline"] is None


def weights_frame(day: dt.date, weight: float) -> pl.DataFrame:
    from lakehouse_assets.core import variance

    return pl.DataFrame(
        [
            (day, "iron_condor", "normal", 1.0, weight, 1.0, weight, "strategy_regime", None),
            (day, "iron_condor", "crash", 1.0, weight, 0.5, weight * 0.5, "strategy", "too few crash predictions"),
        ],
        schema=variance.WEIGHT_SCHEMA,
        orient="row",
    )


def test_variance_and_weight_queries_with_time_travel(lake: Lake) -> None:
    from lakehouse_assets.core import variance

    analysis = pl.DataFrame(
        [
            (D(2024, 1, 3), "iron_condor", "all", 12, 0.2, 0.05, 0.1, 0.5, True, None, D(2023, 12, 5), 0.2, 1.0),
            (D(2024, 1, 3), "iron_condor", "normal", 12, 0.2, 0.05, 0.1, 0.5, True, None, D(2023, 12, 5), 0.2, 1.0),
            (D(2024, 1, 2), "iron_condor", "all", 3, 0.1, 0.01, 0.1, None, False, "3 < 10", D(2023, 12, 4), 0.4, 0.25),
        ],
        schema=variance.VARIANCE_SCHEMA,
        orient="row",
    )
    lake.sync_range("variance_analysis", analysis, D(2024, 1, 2), D(2024, 1, 3))
    lake.sync_range("strategy_weights", weights_frame(D(2024, 1, 2), 1.0), D(2024, 1, 2), D(2024, 1, 2))
    first = lake.stats("strategy_weights").version
    lake.sync_range("strategy_weights", weights_frame(D(2024, 1, 3), 0.5), D(2024, 1, 3), D(2024, 1, 3))

    assert run(lake, "variance_by_strategy_regime.sql") == [
        (D(2024, 1, 3), "iron_condor", "all", 12, 0.2, 0.05, 0.1, 0.2, 1.0, 0.5, True, None, None, None),
        (D(2024, 1, 3), "iron_condor", "normal", 12, 0.2, 0.05, 0.1, 0.2, 1.0, 0.5, True, 0.5, "strategy_regime", None),
    ]
    latest = run(lake, "strategy_weights_latest.sql")
    assert [(r[0], r[2], r[3]) for r in latest] == [(D(2024, 1, 3), "crash", 0.25), (D(2024, 1, 3), "normal", 0.5)]
    sql = (SQL / "strategy_weights_as_of.sql").read_text()
    assert [r[:4] for r in query(lake, sql, {}, {"strategy_weights": first})[1]] == [
        (D(2024, 1, 2), "iron_condor", "crash", 0.5),
        (D(2024, 1, 2), "iron_condor", "normal", 1.0),
    ]
    assert [r[6] for r in query(lake, sql, {}, {})[1]] == [2, 2]  # now: both days are in the table
    with pytest.raises(QueryUsageError, match="unknown table 'nonesuch'"):
        query(lake, sql, {}, {"nonesuch": 1})
    with pytest.raises(QueryUsageError, match="no table 'forecasts' in the lake"):
        query(lake, sql, {}, {"forecasts": 1})  # catalogued, not created here
    with pytest.raises(QueryUsageError, match=f"table strategy_weights has versions 0..{first + 1}"):
        query(lake, sql, {}, {"strategy_weights": first + 2})

    # cut at a day (what the report shows as of that day): the latest day on or before it
    frame = named_query(lake, "variance_by_strategy_regime", through=D(2024, 1, 2))
    assert frame.rows() == [
        (D(2024, 1, 2), "iron_condor", "all", 3, 0.1, 0.01, 0.1, 0.4, 0.25, None, False, None, None, "3 < 10"),
    ]
    assert frame.columns == query(lake, (SQL / "variance_by_strategy_regime.sql").read_text())[0]
    assert frame.schema["weight"] == pl.Float64 and frame.schema["as_of"] == pl.Date  # typed by DuckDB, not by the rows
    assert named_query(lake, "variance_by_strategy_regime").rows() == run(lake, "variance_by_strategy_regime.sql")
    weights = named_query(lake, "strategy_weights_latest", through=D(2024, 1, 2))
    assert weights.select("as_of", "regime", "weight").rows() == [
        (D(2024, 1, 2), "crash", 0.5),
        (D(2024, 1, 2), "normal", 1.0),
    ]
    assert named_query(lake, "strategy_weights_latest", through=D(2024, 1, 1)).is_empty()


def test_ledger_backtest_and_sector_queries(lake: Lake) -> None:
    from lakehouse_assets.core import backtest

    spec = catalog.TABLES["strategy_predictions"]
    base = dict.fromkeys(spec.schema)
    rows = [
        base | {"prediction_id": "a", "date": D(2024, 1, 2), "symbol": "AAA", "strategy_type": "iron_condor",
                "predicted_score": 61.23, "exit_date": D(2024, 1, 5), "actual_pnl": 10.0,
                "regime_at_entry": "high_volatility", "market_regime_at_entry": "normal"},
        base | {"prediction_id": "b", "date": D(2024, 1, 3), "symbol": "AAA", "strategy_type": "forecast_follow"},
        base | {"prediction_id": "c", "date": D(2024, 1, 9), "symbol": "AAA", "strategy_type": "forecast_follow"},
    ]  # fmt: skip
    lake.merge("strategy_predictions", pl.DataFrame(rows, schema=spec.schema))
    ledger = run(lake, "prediction_ledger.sql", start="2024-01-01", end="2024-01-05")
    assert [(r[0], r[2], r[4], r[5], r[6], r[15], r[16]) for r in ledger] == [
        (D(2024, 1, 2), "iron_condor", "high_volatility", "normal", 61.2, "closed", "a"),
        (D(2024, 1, 3), "forecast_follow", None, None, None, "open", "b"),
    ]

    metrics = pl.DataFrame(
        [
            {
                "as_of": D(2024, 1, 5),
                "strategy_type": s,
                "trades": n,
                "sharpe": sharpe,
                "evidence": n >= 30,
                "open_positions": 3,
                "unrealized_pnl": -12.5,
                "equity": 29_987.5,
            }
            for s, n, sharpe in (("all", 50, 0.5), ("iron_condor", 40, 1.0), ("forecast_follow", 10, None))
        ]
        + [{"as_of": D(2024, 1, 4), "strategy_type": "all", "trades": 1, "sharpe": 9.0, "evidence": False}],
        schema=backtest.BACKTEST_SCHEMA,
    )
    lake.sync_range("backtest_metrics", metrics, D(2024, 1, 4), D(2024, 1, 5))
    summary = run(lake, "backtest_summary.sql")
    assert [(r[1], r[2], r[3]) for r in summary] == [
        ("all", 50, True),
        ("iron_condor", 40, True),
        ("forecast_follow", 10, False),
    ]
    assert summary[0][5] == 29_987.5 and (summary[0][10], summary[0][11]) == (3, -12.5)
    earlier = named_query(lake, "backtest_summary", through=D(2024, 1, 4))
    assert earlier.select("as_of", "strategy_type", "trades", "sharpe").rows() == [(D(2024, 1, 4), "all", 1, 9.0)]

    completed = pl.DataFrame(
        {
            "prediction_id": ["p1", "p2", "p3"],
            "sector": ["Index", "Energy", "Energy"],
            "symbol": ["^GSPC", "XOM", "XOM"],
            "regime_at_entry": ["normal", "normal", "crash"],
            "predicted_return_pct": [0.01, 0.01, 0.01],
            "actual_pnl_pct": [0.02, -0.01, 0.01],
            "actual_pnl": [200.0, -100.0, 100.0],
        }
    )
    sectors = backtest.sector_performance(completed, D(2024, 1, 5), min_predictions=1)
    lake.sync_range("sector_performance", sectors, D(2024, 1, 5), D(2024, 1, 5))
    assert [(r[1], r[2], r[3], r[5], r[8]) for r in run(lake, "sector_accuracy.sql")] == [
        ("Energy", "*", 2, 0.5, 1),
        ("Energy", "crash", 1, 1.0, None),
        ("Energy", "normal", 1, 0.0, None),
        ("Index", "*", 1, 1.0, 2),
        ("Index", "normal", 1, 1.0, None),
    ]


def test_a_named_query_over_a_table_not_written_yet_says_so(lake: Lake) -> None:
    with pytest.raises(TableNotCreated, match="table backtest_metrics does not exist in the lake"):
        named_query(lake, "backtest_summary")
    lake.ensure("backtest_metrics")
    (Path(lake.uri("backtest_metrics")) / "_delta_log" / f"{1:020d}.json").write_text("garbage\n")
    with pytest.raises(TableUnavailable) as info:  # there, but unreadable: not "not created"
        named_query(lake, "backtest_summary")
    assert not isinstance(info.value, TableNotCreated) and "backtest_metrics" in str(info.value)
