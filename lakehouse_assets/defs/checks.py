"""Asset checks: declared with each asset (``check_specs``), evaluated by the asset after
its write, predicates in ``core/checks.py``.

Blocking checks (the data-quality checks of bronze and silver) fail with ERROR severity
and stop the assets downstream of the failing one in the same run; the others report
(ERROR for wrong gold data, WARN for conditions worth a look) and let the run go on. The
alerts sensor turns every failed evaluation into an alert.
"""

import datetime as dt
from dataclasses import dataclass

import dagster as dg
import polars as pl

from lakehouse_assets.core import checks
from lakehouse_assets.defs.resources import LakehouseResource
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    blocking: bool = False
    warn: bool = False  # WARN severity (never blocking); otherwise ERROR

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        return dg.AssetCheckSeverity.WARN if self.warn else dg.AssetCheckSeverity.ERROR


SCHEMA = "schema_and_nulls"
KEYS = "unique_keys"


def _table(blocking: bool) -> tuple[Check, ...]:
    return (
        Check(SCHEMA, "Every catalogued column with its type; no null keys.", blocking),
        Check(KEYS, "No duplicate keys in the partition range.", blocking),
    )


QUARANTINE = Check(
    "quarantine_growth",
    "Rows of this delivery rejected for any reason (untypable or non-finite, dated outside the calendar, breaking "
    "a rule, superseded duplicates) stay below checks.max_quarantine_share.",
    True,
)
FILES_READ = Check(
    "landed_files_read",
    "Every file and folder of the landing directory is read: none misnamed, none outside a symbol folder, none "
    "dated outside the calendar (those are quarantined with the reason).",
    warn=True,
)

CHECKS: dict[str, tuple[Check, ...]] = {
    "ohlcv_bronze": (*_table(True), QUARANTINE, FILES_READ),
    "ohlcv_daily": (
        *_table(True),
        Check("ohlc_bounds", "high >= max(open, close), low <= min(open, close), low > 0, volume >= 0.", True),
        Check("symbols_present", "Every symbol of the universe has a bar on every trading session.", warn=True),
    ),
    "sentiment_bronze": (*_table(True), QUARANTINE, FILES_READ),
    "sentiment_daily": (
        *_table(True),
        Check("score_bounds", "score in [-1, 1], confidence in [0, 1].", True),
    ),
    "features": (
        *_table(True),
        Check(
            "feature_bounds",
            "Features finite; RSI and ADX in [0, 100]; realized volatility >= 0; close finite; no close-based "
            "feature null after its warm-up.",
            True,
        ),
    ),
    "market_regimes": (*_table(True), Check("known_labels", "Regime and trend labels from the configured set.", True)),
    "forecasts": (*_table(False), Check("ordered_intervals", "Finite forecasts; 95% within 80% within point order.")),
    "forecast_scores": _table(False),
    "model_registry": (*_table(False), Check("one_champion", "Exactly one champion per symbol, horizon and day.")),
    "error_replay_buffer": _table(False),
    "strategy_predictions": (
        Check(KEYS, "Unique prediction ids."),
        Check("score_bounds", "predicted_score in [0, 100]; confidence in [0, 1]."),
    ),
    "variance_analysis": (*_table(False), Check("adjustment_bounds", "weight_adjustment in [0.5, 1].")),
    "strategy_weights": (*_table(False), Check("weight_bounds", "Weights within [0, the largest base weight].")),
    "backtest_metrics": _table(False),
    "sector_performance": (*_table(False), Check("accuracy_bounds", "Accuracy in [0, 1].")),
    "drift_reports": (
        Check(
            "feature_drift",
            "No feature drifted (calibrated KS) on sustained_days consecutive sessions up to the latest day.",
            warn=True,
        ),
        Check("regime_drift", "No regime-distribution drift sustained up to the latest day.", warn=True),
    ),
    "prediction_drift": (
        Check(
            "prediction_drift",
            "No sustained drift of a strategy's predicted returns or confidence up to the latest day.",
            warn=True,
        ),
    ),
}


def specs(*assets: str) -> list[dg.AssetCheckSpec]:
    """The check specs of these assets, for ``check_specs=``."""
    return [
        dg.AssetCheckSpec(c.name, asset=asset, description=c.description, blocking=c.blocking)
        for asset in assets
        for c in CHECKS[asset]
    ]


def results(asset: str, outcomes: dict[str, checks.Outcome]) -> list[dg.AssetCheckResult]:
    """One result per declared check of ``asset`` (every declared check must be evaluated)."""
    declared = {c.name: c for c in CHECKS[asset]}
    if set(outcomes) != set(declared):
        raise ValueError(f"{asset}: checks evaluated {sorted(outcomes)} but declared {sorted(declared)}")
    return [
        dg.AssetCheckResult(
            asset_key=asset,
            check_name=name,
            passed=outcome.passed,
            severity=declared[name].severity,
            description=outcome.description,
            metadata={k: v if isinstance(v, int | float | str) else str(v) for k, v in outcome.metadata.items()},
        )
        for name, outcome in outcomes.items()
    ]


def table_outcomes(
    lake: Lake, name: str, start: dt.date, end: dt.date, where: pl.Expr | None = None
) -> tuple[pl.DataFrame, dict[str, checks.Outcome]]:
    """The table's rows of the range as written, with the schema and key checks done."""
    spec = TABLES[name]
    frame = lake.read(name, start, end, where=where)
    return frame, {
        SCHEMA: checks.schema_and_nulls(frame, spec.schema, spec.keys),
        KEYS: checks.unique_keys(frame, spec.keys),
    }


def last_closed_session(calendar, now: dt.datetime) -> dt.date:  # type: ignore[no-untyped-def]
    """The latest session whose close is at or before ``now``."""
    day = now.date() if calendar.is_session(now.date()) else calendar.previous_session(now.date())
    while day is not None and calendar.close_time(day) > now:
        day = calendar.previous_session(day)
    assert day is not None, f"no session closed before {now}"
    return day


@dg.asset_check(
    asset="ohlcv_daily",
    name="fresh",
    description="The latest ohlcv_daily session is at most checks.freshness_sessions trading days behind the last "
    "closed session (run by freshness_schedule after the daily run; not part of daily_job, whose ranges may be "
    "historical).",
)
def fresh(lakehouse: LakehouseResource) -> dg.AssetCheckResult:
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    expected = last_closed_session(calendar, dt.datetime.now(dt.UTC))
    latest = lake.read("ohlcv_daily", columns=["date"])["date"].max() if lake.exists("ohlcv_daily") else None
    outcome = checks.fresh(
        latest,  # type: ignore[arg-type]
        expected,
        config.checks.freshness_sessions,
        lambda day: len(calendar.sessions(day, expected)) - 1,
    )
    return dg.AssetCheckResult(
        passed=outcome.passed,
        description=outcome.description,
        metadata=outcome.metadata,
        severity=dg.AssetCheckSeverity.WARN,
    )
