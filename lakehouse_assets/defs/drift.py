"""Drift assets: feature and regime drift before the forecasts, prediction drift after.

Both write ``drift_reports`` (each its own ``kind`` rows). ``drift_reports`` comes before
``forecasting``, which reads its ``refit`` flags (sustained drift refits a symbol's models
on the next session) and its verdicts (the promotion gate's drift evidence).
``prediction_drift`` watches what each strategy predicts; it is informational (it never
asks for a refit), so nothing upstream depends on it and lineage has no cycle.
"""

import dagster as dg
import polars as pl

from lakehouse_assets.core import checks
from lakehouse_assets.core import drift as drift_math
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs.common import finish, partitioned_asset
from lakehouse_assets.defs.partitions import partition_dates
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.lake.catalog import TABLES

SYMBOL_KINDS = ["feature", "regime"]


@partitioned_asset(
    group_name="drift",
    deps=["features", "market_regimes"],
    description=TABLES["drift_reports"].description,
    check_specs=asset_checks.specs("drift_reports"),
)
def drift_reports(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource
) -> dg.MaterializeResult:
    """Block-permutation KS tests of each monitored feature and a chi-square test of the regime
    mix, per symbol and day, each against the window before it; sustained drift flags a refit."""
    start, end = partition_dates(context)
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    rules = config.drift
    symbols = sources.universe(config)
    days = calendar.sessions(start, end)
    first = calendar.shift_sessions(start, -drift_math.lookback_sessions(rules))
    in_universe = pl.col("symbol").is_in(symbols)
    feature_rows = lake.read("features", first, end, where=in_universe, columns=["symbol", "date", *rules.features])
    regimes = lake.read("market_regimes", first, end, where=in_universe, columns=["symbol", "date", "regime"])
    frame = pl.concat(
        [drift_math.feature_drift(feature_rows, days, rules), drift_math.regime_drift(regimes, days, rules)]
    )
    result = lake.sync_range("drift_reports", frame, start, end, {"kind": SYMBOL_KINDS, "symbol": symbols})
    drifted = frame.filter(pl.col("drifted"))
    refits = frame.filter(pl.col("refit"))
    context.log.info(
        f"drift {start}..{end}: {frame.height} tests, {drifted.height} drifted, {refits.height} refits asked"
    )
    return finish(
        context,
        lake,
        result,
        frame,
        parts=lambda reports: {
            f"{kind}_drift": checks.no_drift(reports, kind, rules.sustained_days) for kind in SYMBOL_KINDS
        },
        metadata={
            "drifted_by_kind": dg.MetadataValue.json(dict(drifted.group_by("kind").len().iter_rows())),
            "refits_asked": refits.height,
        },
        plot=(config, "feature_drift"),
    )


@partitioned_asset(
    group_name="strategy",
    deps=["strategy_predictions"],
    table="drift_reports",
    description="Prediction drift rows of drift_reports: per strategy type, block-permutation KS of its predicted "
    "returns and confidence, latest window against the one before (informational: never asks for a refit).",
    check_specs=asset_checks.specs("prediction_drift"),
)
def prediction_drift(context: dg.AssetExecutionContext, lakehouse: LakehouseResource) -> dg.MaterializeResult:
    start, end = partition_dates(context)
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    rules = config.drift
    days = calendar.sessions(start, end)
    columns = ["date", "symbol", "strategy_type", "predicted_return_pct", "confidence"]
    ledger = lake.read("strategy_predictions", None, end, columns=columns)
    frame = drift_math.prediction_drift(ledger, days, rules)
    result = lake.sync_range("drift_reports", frame, start, end, {"kind": ["prediction"]})
    return finish(
        context,
        lake,
        result,  # drift_reports' rows of kind "prediction"
        frame,
        asset="prediction_drift",
        parts=lambda reports: {"prediction_drift": checks.no_drift(reports, "prediction", rules.sustained_days)},
        metadata={"drifted": frame.filter(pl.col("drifted")).height},
        plot=(config, "prediction_drift"),
    )
