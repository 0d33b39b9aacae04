"""The table catalogue: every Delta table of the lake, its schema, keys and partitioning.

Time-series tables are partitioned by ``year`` (derived from ``date`` by the lake layer,
never by callers): one folder per day would make thousands of tiny files, while a year
folder holds a handful after compaction and ``date`` predicates prune files through
their min/max statistics. Small tables (quarantine) are not partitioned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from lakehouse_assets.core import backtest, book, drift, features, regimes, registry, scoring, sentiment, variance

PARTITION_COLUMN = "year"


@dataclass(frozen=True)
class TableSpec:
    """One Delta table.

    Attributes:
        name: folder under the lake root and the DuckDB view name.
        layer: bronze, silver, gold or ops.
        description: one line for ``lakehouse tables`` and the docs.
        schema: column -> polars dtype, in order (the partition column excluded).
        keys: columns that identify a row; MERGE matches on them.
        date_column: the trading-day column used for range writes and pruned reads.
        partitioned: partition by ``year`` of ``date_column``.
        volatile: columns whose change alone does not make a row different (lineage
            timestamps); a re-run that changes only these leaves the row as it was.
        notes: column -> what it means (units, conventions), shown in ``docs/tables.md``.
    """

    name: str
    layer: str
    description: str
    schema: dict[str, pl.DataType]
    keys: tuple[str, ...]
    date_column: str = "date"
    partitioned: bool = True
    volatile: tuple[str, ...] = ()
    notes: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def partition_by(self) -> list[str]:
        return [PARTITION_COLUMN] if self.partitioned else []

    @property
    def value_columns(self) -> list[str]:
        return [c for c in self.schema if c not in self.keys and c not in self.volatile]


UTC_TIMESTAMP = pl.Datetime("us", "UTC")

_BARS = {
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
}

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            name="ohlcv_bronze",
            layer="bronze",
            description="Daily bars as delivered (typed), with lineage: source, file, line, ingested_at.",
            schema={
                "symbol": pl.String(),
                "date": pl.Date(),
                "timestamp": pl.String(),
                **_BARS,
                "source": pl.String(),
                "file": pl.String(),
                "line": pl.Int64(),
                "ingested_at": UTC_TIMESTAMP,
            },
            keys=("symbol", "date", "source", "file", "line"),
            volatile=("ingested_at",),
        ),
        TableSpec(
            name="sentiment_bronze",
            layer="bronze",
            description="Sentiment rows as delivered: landed snapshots, VADER-scored headlines, or stub placeholders.",
            schema={
                "symbol": pl.String(),
                "date": pl.Date(),
                "provider": pl.String(),
                "score": pl.Float64(),
                "confidence": pl.Float64(),
                "headline": pl.String(),
                "timestamp": pl.String(),
                "source": pl.String(),
                "file": pl.String(),
                "line": pl.Int64(),
                "ingested_at": UTC_TIMESTAMP,
            },
            keys=("symbol", "date", "provider", "file", "line"),
            volatile=("ingested_at",),
        ),
        TableSpec(
            name="quarantine",
            layer="bronze",
            description="Every rejected input row or file: table, key, reason and the raw values.",
            schema={
                "quarantine_id": pl.String(),
                "table_name": pl.String(),
                "key": pl.String(),
                "date": pl.Date(),
                "symbol": pl.String(),
                "reason": pl.String(),
                "raw": pl.String(),
                "source": pl.String(),
                "file": pl.String(),
                "line": pl.Int64(),
                "quarantined_at": UTC_TIMESTAMP,
            },
            keys=("quarantine_id",),
            partitioned=False,
            volatile=("quarantined_at",),
        ),
        TableSpec(
            name="ohlcv_daily",
            layer="silver",
            description="Validated, de-duplicated daily bars, one per symbol and session, with log_return.",
            schema={
                "symbol": pl.String(),
                "date": pl.Date(),
                **_BARS,
                "log_return": pl.Float64(),
                "source": pl.String(),
            },
            keys=("symbol", "date"),
        ),
        TableSpec(
            name="sentiment_daily",
            layer="silver",
            description="Provider-weighted daily sentiment score in [-1, 1], confidence, count, providers; stub when nothing landed.",
            schema=dict(sentiment.DAILY_SCHEMA),
            keys=("symbol", "date"),
        ),
        TableSpec(
            name="features",
            layer="silver",
            description="Technical indicators and the day's sentiment per symbol and session; warm-up rows are null.",
            schema=features.SCHEMA,
            keys=("symbol", "date"),
        ),
        TableSpec(
            name="market_regimes",
            layer="silver",
            description="Regime (normal/high_volatility/crash/recovery) and trend (bull/bear/sideways) per symbol and "
            "session, with the index's market-wide labels.",
            schema=regimes.SCHEMA,
            keys=("symbol", "date"),
        ),
        TableSpec(
            name="forecasts",
            layer="gold",
            description="h-day log-return forecasts per symbol, origin date, model and horizon: point, 80/95% "
            "intervals, volatility, P(up), the champion flag and the fit used.",
            schema={
                "symbol": pl.String(),
                "date": pl.Date(),
                "model": pl.String(),
                "horizon": pl.Int64(),
                "target_date": pl.Date(),
                "point": pl.Float64(),
                "volatility": pl.Float64(),
                "lower_80": pl.Float64(),
                "upper_80": pl.Float64(),
                "lower_95": pl.Float64(),
                "upper_95": pl.Float64(),
                "prob_up": pl.Float64(),
                "is_champion": pl.Boolean(),
                "fit_date": pl.Date(),
                "params": pl.String(),
            },
            keys=("symbol", "date", "model", "horizon"),
        ),
        TableSpec(
            name="forecast_scores",
            layer="gold",
            description="Each forecast scored once its target date has a close (error, sMAPE of the implied price, "
            "CRPS, direction hit, coverage), with rolling metrics per model, symbol and horizon (RMSE, MAE, sMAPE, "
            "CRPS, MAE relative to naive, directional and balanced accuracy, 80%/95% coverage, tracking error, DM vs naive).",
            schema={
                "symbol": pl.String(),
                "date": pl.Date(),
                "model": pl.String(),
                "horizon": pl.Int64(),
                "target_date": pl.Date(),
                "regime": pl.String(),
                "point": pl.Float64(),
                "actual": pl.Float64(),
                "error": pl.Float64(),
                "abs_error": pl.Float64(),
                "squared_error": pl.Float64(),
                "smape": pl.Float64(),
                "crps": pl.Float64(),
                "hit": pl.Boolean(),
                "covered_80": pl.Boolean(),
                "covered_95": pl.Boolean(),
                **{c: pl.Int64() if c == "window_n" else pl.Float64() for c in scoring.ROLLING_COLUMNS},
            },
            keys=("symbol", "date", "model", "horizon"),
            date_column="target_date",
            notes=scoring.COLUMN_NOTES,
        ),
        TableSpec(
            name="model_registry",
            layer="gold",
            description="Promotion-gate decisions per day, symbol, horizon and model: approved, champion, checks "
            "passed and failed with their metrics, manual override.",
            schema=registry.SCHEMA,
            notes=registry.COLUMN_NOTES,
            keys=("as_of", "symbol", "horizon", "model"),
            date_column="as_of",
        ),
        TableSpec(
            name="model_fits",
            layer="gold",
            description="The model store: each fit (order, parameters, trained estimator) by symbol, model and "
            "refit date, reused by the days until the next refit.",
            schema={
                "symbol": pl.String(),
                "model": pl.String(),
                "fit_date": pl.Date(),
                "n_obs": pl.Int64(),
                "fit_seconds": pl.Float64(),
                "summary": pl.String(),
                "state": pl.Binary(),
                "fitted_at": UTC_TIMESTAMP,
            },
            keys=("symbol", "model", "fit_date"),
            date_column="fit_date",
            volatile=("fit_seconds", "fitted_at"),
        ),
        TableSpec(
            name="error_replay_buffer",
            layer="gold",
            description="The direction classifier's confident mistakes (error_score = confidence x wrong) once "
            "their target date has a close; its retrains weigh the worst of them 3x.",
            schema=scoring.REPLAY_SCHEMA,
            keys=("symbol", "date", "horizon"),
            date_column="target_date",
        ),
        TableSpec(
            name="drift_reports",
            layer="gold",
            description="Distribution shift per day: KS statistics of features, regime and prediction drift, "
            "and the symbols whose sustained drift asks for a model refit.",
            schema=drift.REPORT_SCHEMA,
            keys=("as_of", "kind", "name", "symbol"),
            date_column="as_of",
        ),
        TableSpec(
            name="strategy_predictions",
            layer="gold",
            description="The prediction ledger: each strategy entry (at the open after its signal day) with its "
            "predicted return (the expected realized return under its own exits, in the actual's units: return "
            "on max loss for spreads, on the notional for directional trades) and score; regime_at_entry is "
            "the symbol's regime on the signal day, market_regime_at_entry the index's; actuals filled by MERGE "
            "on the day it exits.",
            schema=book.PREDICTION_SCHEMA,
            keys=("prediction_id",),
            notes={
                "predicted_return_pct": "expected net return of the position under its own exits and holding "
                "period, on the capital at risk (spreads: max loss; directional: the notional), a fraction "
                "(docs/ledger.md)",
                "actual_pnl_pct": "realized net return, same units as predicted_return_pct",
                "prediction_error": "predicted_return_pct - actual_pnl_pct",
                "regime_at_entry": "the symbol's own regime on the signal day (market_regimes.regime); "
                "the weights are keyed by it",
                "market_regime_at_entry": "the index's regime on the signal day (market_regimes.market_regime)",
                "entry_price": "the underlying's open (directional) or the spread's credit",
            },
        ),
        TableSpec(
            name="variance_analysis",
            layer="gold",
            description="MAE/MSE of prediction_error over the lookback, per strategy (regime 'all') and per "
            "(strategy, the symbol's regime at entry), the relative MAE (MAE / mean |actual|: 1 = no better than "
            "predicting 0) and the weight adjustment it implies.",
            schema=variance.VARIANCE_SCHEMA,
            keys=("as_of", "strategy_type", "regime"),
            notes={
                "mae": "mean |prediction_error| over the lookback, in the strategy's own return units",
                "mean_abs_actual": "mean |actual_pnl_pct|: the MAE of predicting 0 on the same predictions",
                "relative_mae": "mae / mean_abs_actual: 0 exact, 1 no better than predicting 0, in any units",
                "weight_adjustment": "1 - min(relative_mae / relative_mae_scale, weight_adjustment_factor)",
            },
            date_column="as_of",
        ),
        TableSpec(
            name="strategy_weights",
            layer="gold",
            description="Scoring weight per strategy and regime (the symbol's, at entry): base x variance "
            "adjustment x regime adjustment; day D's weights score the entries of the next session.",
            schema=variance.WEIGHT_SCHEMA,
            keys=("as_of", "strategy_type", "regime"),
            date_column="as_of",
        ),
        TableSpec(
            name="backtest_metrics",
            layer="gold",
            description="Per strategy and overall ('all'), every position entered by as_of marked to market at "
            "each close (open ones included), net of costs: return, Sharpe and Sortino of excess returns over the "
            "risk-free rate, drawdown, open positions and their unrealized P&L; win rate, profit factor, hit rate, "
            "holding of the completed trades; evidence once >= 30 trades.",
            schema=backtest.BACKTEST_SCHEMA,
            keys=("as_of", "strategy_type"),
            notes={
                "total_return": "marked P&L (realized + unrealized) over capital",
                "sharpe": "annualized mean over sd of the daily excess returns (marked equity, over "
                "risk_free_rate / 252)",
                "sortino": "annualized mean daily excess return over its downside deviation",
                "max_drawdown": "largest fall of the marked-to-market equity from its running peak, a fraction",
                "total_pnl": "realized P&L of the completed trades (currency)",
                "open_positions": "positions still open after as_of's close",
                "unrealized_pnl": "their liquidation value's P&L at as_of's close (spreads by Black-Scholes)",
                "equity": "capital + total_pnl + unrealized_pnl",
            },
            date_column="as_of",
        ),
        TableSpec(
            name="sector_performance",
            layer="gold",
            description="Accuracy and P&L of completed predictions by sector, symbol and regime (the symbol's, "
            "at entry; '*': all), the weakest sectors ranked.",
            schema=backtest.SECTOR_SCHEMA,
            keys=("as_of", "sector", "symbol", "regime"),
            date_column="as_of",
        ),
        TableSpec(
            name="alerts",
            layer="ops",
            description="Every fired alert (failed asset checks, failed runs) with its acknowledgement state.",
            schema={
                "alert_id": pl.String(),
                "as_of": pl.Date(),
                "fired_at": UTC_TIMESTAMP,
                "severity": pl.String(),
                "rule": pl.String(),
                "asset": pl.String(),
                "partition": pl.String(),
                "message": pl.String(),
                "context": pl.String(),
                "acknowledged": pl.Boolean(),
                "acknowledged_by": pl.String(),
                "ack_reason": pl.String(),
                "ack_until": UTC_TIMESTAMP,
            },
            keys=("alert_id",),
            date_column="as_of",
            partitioned=False,
        ),
        TableSpec(
            name="materializations",
            layer="ops",
            description="Every partition range each asset materialized, whether or not it wrote a row: "
            "what `lakehouse sync-ui` teaches a Dagster instance.",
            schema={
                "asset": pl.String(),
                "range_start": pl.Date(),
                "range_end": pl.Date(),
                "run_id": pl.String(),
                "recorded_at": UTC_TIMESTAMP,
            },
            keys=("asset", "range_start", "range_end"),
            date_column="range_end",
            partitioned=False,
            volatile=("run_id", "recorded_at"),
            notes={
                "asset": "the Dagster asset key (`prediction_drift` writes rows of `drift_reports`)",
                "range_start": "the run's first partition (trading day) of the asset",
                "range_end": "its last partition: a backfill is one row, not one per day",
                "run_id": "the Dagster run that first materialized the range (a re-run adds no row)",
            },
        ),
    )
}


def table(name: str) -> TableSpec:
    """The spec of a catalogued table; KeyError names the unknown table."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLES)}") from None


def markdown() -> str:
    """``docs/tables.md``: the catalogue as Markdown (``python -m lakehouse_assets.lake.catalog``)."""
    lines = [
        "# Tables",
        "",
        "Generated from `lakehouse_assets/lake/catalog.py` by",
        "`.venv/bin/python -m lakehouse_assets.lake.catalog > docs/tables.md`; a test fails when",
        "this file is stale. Every table is a Delta table under the lake root and a DuckDB view by",
        "its name (`lakehouse query`). Keys are what MERGE matches on; partitioned tables are split",
        f"by `{PARTITION_COLUMN}` of their date column (hidden in the DuckDB views). Volatile columns",
        "are lineage times: a re-run that changes only them leaves the row as it was.",
        "",
        "| table | layer | description | partitioned by |",
        "|---|---|---|---|",
    ]
    for spec in TABLES.values():
        by = f"`{PARTITION_COLUMN}` of `{spec.date_column}`" if spec.partitioned else "-"
        lines.append(f"| [`{spec.name}`](#{spec.name}) | {spec.layer} | {_cell(spec.description)} | {by} |")
    for spec in TABLES.values():
        lines += ["", f"## {spec.name}", "", f"{spec.description}", ""]
        lines.append(
            f"Layer `{spec.layer}`; key ({', '.join(f'`{k}`' for k in spec.keys)}); date column `{spec.date_column}`."
        )
        lines += ["", "| column | type | | meaning |", "|---|---|---|---|"]
        for column, dtype in spec.schema.items():
            role = "key" if column in spec.keys else "volatile" if column in spec.volatile else ""
            note = _cell(spec.notes.get(column, ""))
            lines.append(f"| `{column}` | {_type_name(dtype)} | {role} | {note} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _type_name(dtype: pl.DataType) -> str:
    if dtype == UTC_TIMESTAMP:
        return "timestamp (UTC, µs)"
    return {
        pl.String(): "string",
        pl.Date(): "date",
        pl.Float64(): "float64",
        pl.Int64(): "int64",
        pl.Int32(): "int32",
        pl.Boolean(): "boolean",
        pl.Binary(): "binary",
    }.get(dtype, str(dtype))


if __name__ == "__main__":
    print(markdown(), end="")
