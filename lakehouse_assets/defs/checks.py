"""Asset checks: one check spec per asset (``quality``), evaluated by the asset after its
write; its parts are the predicates of ``core/checks.py``.

Why one spec per asset and not one per predicate: in a range run Dagster stores one
planned row per partition and per check spec, each holding the serialized run subset
(about 12 KB with the holiday exclusions), so a 14-year backfill of bronze and silver
planned 74,000 rows (2.8 GB, two thirds of the run's wall time) with the 21 specs it had.
One spec per asset keeps every part's result on the check's page (the ``parts`` table
and ``<part>.<figure>`` entries) at a fifth of the rows.

A part is blocking (the data-quality checks of bronze and silver), an error (wrong gold
data) or a warning (conditions worth a look). The spec is blocking when any part is; its
result fails with ERROR severity when an error or blocking part fails, which stops the
assets downstream in the same run, and with WARN severity when only warnings fail, which
does not. The alerts sensor raises one alert per failed part (rule ``check:<part>``).

The specs are on their asset's partitions (:func:`on_partitions`), so a run of one
partition records its result on that partition; a range's one result is recorded without
a partition and names the range it judged (``checked_range``).
"""

import datetime as dt
import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
import polars as pl

from lakehouse_assets.core import checks
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.defs.common import markdown_table
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
    "model_fits": (
        *_table(False),
        Check(
            "fits_within_bounds",
            "Known models; n_obs in [1, fit_window]; ARIMA orders within the order search's bounds (p <= max_p, "
            "d = 0, q <= max_q); fitted parameters finite.",
        ),
    ),
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


QUALITY = "quality"
"""The name of every asset's check spec."""


def specs(*assets: str) -> list[dg.AssetCheckSpec]:
    """The check spec of each of these assets, for ``check_specs=``."""
    return [
        dg.AssetCheckSpec(
            QUALITY,
            asset=asset,
            description="\n".join(
                f"- {c.name} ({'blocking' if c.blocking else c.severity.value.lower()}): {c.description}"
                for c in CHECKS[asset]
            ),
            blocking=any(c.blocking for c in CHECKS[asset]),
        )
        for asset in assets
    ]


def on_partitions(specs: Sequence[dg.AssetCheckSpec], partitions: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    """``specs`` (of one asset) on ``partitions``, their asset's: Dagster refuses any other.

    Why: Dagster records a result on the run's partition only when its spec is partitioned.
    Unpartitioned, every result showed "-" as its partition in the UI, beside the row
    Dagster had planned for the run's partition and never evaluated (shown as skipped).
    Partitioned, a run of one partition (the schedule's, the UI's Materialize of a day)
    records one row, its result on its partition, and the check's partition status follows.
    A range run (a backfill in one run) stores the same rows either way: a planned row per
    partition (skipped once the run ends) and the range's one result, without a partition,
    so the result names its range (``checked_range`` of :func:`results`). Dagster 1.13 flags
    partitioned check specs as a preview; that one warning is silenced here, on purpose, so
    loading the code location stays warning-free.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec", category=dg.PreviewWarning)
        return [
            dg.AssetCheckSpec(
                spec.name,
                asset=spec.asset_key,
                description=spec.description,
                additional_deps=spec.additional_deps,
                blocking=spec.blocking,
                metadata=spec.metadata,
                automation_condition=spec.automation_condition,
                partitions_def=partitions,
            )
            for spec in specs
        ]


def results(
    asset: str, outcomes: dict[str, checks.Outcome], *, checked: tuple[dt.date, dt.date]
) -> list[dg.AssetCheckResult]:
    """The asset's one result: every declared part evaluated, their figures under
    ``<part>.<figure>`` (a part's sample rows as a markdown table), the verdicts in ``parts``
    (a table to read, JSON for the sensor, which also holds each sample's rows as records
    for the alert's context), and ``checked_range`` (``start..end``), the run's partitions
    ``checked`` judged: Dagster records a range run's result without a partition, so the
    UI's check history says what was checked through it."""
    declared = {c.name: c for c in CHECKS[asset]}
    if set(outcomes) != set(declared):
        raise ValueError(f"{asset}: checks evaluated {sorted(outcomes)} but declared {sorted(declared)}")
    failed = [name for name in declared if not outcomes[name].passed]
    error = any(not declared[name].warn for name in failed)
    parts = {
        name: {
            "passed": outcomes[name].passed,
            "severity": declared[name].severity.value,
            "description": outcomes[name].description,
            **_records(outcomes[name].metadata),
        }
        for name in declared
    }
    figures = {
        f"{name}.{key}": value for name in declared for key, value in _metadata_values(outcomes[name].metadata).items()
    }
    return [
        dg.AssetCheckResult(
            asset_key=asset,
            check_name=QUALITY,
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR if error else dg.AssetCheckSeverity.WARN,
            description="; ".join(f"{name}: {outcomes[name].description}" for name in failed)
            if failed
            else f"{len(declared)} of {len(declared)} passed: {', '.join(declared)}",
            metadata={
                "checked_range": f"{checked[0]}..{checked[1]}",
                "parts": dg.MetadataValue.json(parts),
                "summary": dg.MetadataValue.md(_parts_table(parts)),
                **figures,
            },
        )
    ]


def _metadata_values(figures: Mapping[str, object]) -> dict[str, int | float | str | dg.MetadataValue]:
    """Figures as Dagster metadata values: numbers and text as they are, a frame (a sample of
    offending rows) as a markdown table, anything else as its text."""
    return {key: _metadata_value(value) for key, value in figures.items()}


def _metadata_value(value: object) -> int | float | str | dg.MetadataValue:
    if isinstance(value, pl.DataFrame):
        return dg.MetadataValue.md(markdown_table(value))
    return value if isinstance(value, int | float | str) else str(value)


def _records(figures: Mapping[str, object]) -> dict[str, list[dict[str, object]]]:
    """``{"sample": rows}``, the sample's rows as JSON records (dates and times as ISO text),
    or nothing without a sample."""
    sample = figures.get("sample")
    return {"sample": json.loads(sample.write_json())} if isinstance(sample, pl.DataFrame) else {}


def _parts_table(parts: Mapping[str, Mapping[str, object]]) -> str:
    rows = [
        f"| {name} | {'passed' if p['passed'] else 'FAILED'} | {p['severity']} | {p['description']} |"
        for name, p in parts.items()
    ]
    return "\n".join(
        ["| check | result | severity | detail |", "|---|---|---|---|", *(r.replace("\n", " ") for r in rows)]
    )


@dataclass(frozen=True)
class Part:
    """One part of an asset's check evaluation (what ``results`` recorded)."""

    asset: str
    name: str
    passed: bool
    warn: bool
    description: str
    metadata: dict[str, object]


def parts_of(evaluation: dg.AssetCheckEvaluation) -> list[Part]:
    """The parts of an evaluation: those of a ``quality`` result, or the evaluation itself
    for a check of its own (``fresh``)."""
    asset = evaluation.asset_key.to_user_string()
    metadata = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
    recorded = metadata.get("parts")
    if not isinstance(recorded, dict):
        warn = evaluation.severity == dg.AssetCheckSeverity.WARN
        return [Part(asset, evaluation.check_name, evaluation.passed, warn, evaluation.description or "", metadata)]
    return [
        Part(
            asset,
            name,
            bool(p["passed"]),
            p["severity"] == dg.AssetCheckSeverity.WARN.value,
            str(p["description"]),
            # the sample as records (from ``parts``) rather than its markdown table
            {k.removeprefix(f"{name}."): v for k, v in metadata.items() if k.startswith(f"{name}.")}
            | ({"sample": p["sample"]} if "sample" in p else {}),
        )
        for name, p in recorded.items()
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


def last_closed_session(calendar: TradingCalendar, now: dt.datetime) -> dt.date:
    """The latest session whose close is at or before ``now``."""
    day = now.date() if calendar.is_session(now.date()) else calendar.previous_session(now.date())
    while day is not None and calendar.close_time(day) > now:
        day = calendar.previous_session(day)
    assert day is not None, f"no session closed before {now}"
    return day


FRESH = dg.AssetCheckSpec(
    "fresh",
    asset="ohlcv_daily",
    description="The latest ohlcv_daily session is at most checks.freshness_sessions trading days behind the last "
    "closed session. Judged only in a run that materializes nothing (freshness_job, run by freshness_schedule, or "
    "the check executed on its own); in a run that materializes assets it is skipped.",
)


@dg.multi_asset_check(specs=[FRESH], can_subset=True, name="fresh")
def fresh(context: dg.AssetCheckExecutionContext, lakehouse: LakehouseResource) -> Iterator[dg.AssetCheckResult]:
    """Is the lake up to the last close? A question about now, not about a range: the UI's
    Materialize dialog and its backfills run every check of the selected assets, and there a
    historical range would fail it (the lake is years behind today by design) and raise a
    false alert. So a run that materializes any asset yields no result, which Dagster shows
    as a skipped check and the alerts sensor never sees."""
    materializing = context.op_execution_context.job_def.asset_layer.selected_asset_keys
    if materializing:
        context.log.info(f"fresh not judged: this run materializes {len(materializing)} assets (see freshness_job)")
        return
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    expected = last_closed_session(calendar, dt.datetime.now(dt.UTC))
    latest = lake.read("ohlcv_daily", columns=["date"])["date"].max() if lake.exists("ohlcv_daily") else None
    outcome = checks.fresh(
        latest,  # type: ignore[arg-type]
        expected,
        config.checks.freshness_sessions,
        lambda day: len(calendar.sessions(day, expected)) - 1,
    )
    yield dg.AssetCheckResult(
        asset_key=FRESH.asset_key,
        check_name=FRESH.name,
        passed=outcome.passed,
        description=outcome.description,
        metadata=_metadata_values(outcome.metadata),
        severity=dg.AssetCheckSeverity.WARN,
    )
