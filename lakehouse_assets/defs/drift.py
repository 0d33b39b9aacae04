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
from lakehouse_assets.defs.common import materialized, partitioned_asset, plot_metadata, preview, write_metadata
from lakehouse_assets.defs.features import features, market_regimes
from lakehouse_assets.defs.partitions import partition_dates
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.lake.catalog import TABLES

SYMBOL_KINDS = ["feature", "regime"]


@partitioned_asset(
    group_name="monitoring",
    deps=[features, market_regimes],
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
    # enough sessions for the windows of the first day and its run of sustained days, with a margin
    span = max(rules.window + rules.reference + rules.gap, rules.regime_window + rules.regime_reference)
    first = calendar.shift_sessions(start, -2 * (span + rules.sustained_days + 1))
    in_universe = pl.col("symbol").is_in(symbols)
    feature_rows = lake.read("features", first, end, where=in_universe, columns=["symbol", "date", *rules.features])
    regimes = lake.read("market_regimes", first, end, where=in_universe, columns=["symbol", "date", "regime"])
    frame = pl.concat(
        [
            drift_math.feature_drift(feature_rows, days, rules),
            drift_math.regime_drift(regimes, days, rules),
        ]
    )
    result = lake.sync_range("drift_reports", frame, start, end, {"kind": SYMBOL_KINDS, "symbol": symbols})
    drifted = frame.filter(pl.col("drifted"))
    refits = frame.filter(pl.col("refit"))
    context.log.info(
        f"drift {start}..{end}: {frame.height} tests, {drifted.height} drifted, {refits.height} refits asked"
    )
    outcomes = {
        kind: checks.no_drift(frame, kind.removesuffix("_drift"), rules.sustained_days)
        for kind in ("feature_drift", "regime_drift")
    }
    return materialized(
        context,
        "drift_reports",
        frame,
        metadata={
            **write_metadata(result, frame, start, end),
            "drifted_by_kind": dg.MetadataValue.json(dict(drifted.group_by("kind").len().iter_rows())),
            "refits_asked": refits.height,
            **preview(frame),
            **plot_metadata(context, lake, config, "feature_drift", end),
        },
        check_results=asset_checks.results("drift_reports", outcomes),
    )


@partitioned_asset(
    group_name="monitoring",
    deps=["strategy_predictions"],
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
    return materialized(
        context,
        "drift_reports",  # its rows of kind "prediction"
        frame,
        metadata={
            **write_metadata(result, frame, start, end),
            "drifted": frame.filter(pl.col("drifted")).height,
            **preview(frame),
            **plot_metadata(context, lake, config, "prediction_drift", end),
        },
        check_results=asset_checks.results(
            "prediction_drift", {"prediction_drift": checks.no_drift(frame, "prediction", rules.sustained_days)}
        ),
    )
