"""The alerts sensor: failed asset checks and failed runs become rows of ``alerts`` and
messages on the configured channels.

A failed asset check does not fail its run (unless it is blocking), so a run-failure
sensor alone would never see it: this sensor reads the instance's event log for both
asset-check evaluations and run failures of every run finished since its cursor.
``lakehouse run`` calls :func:`alert_on` for its own run, so CLI users are alerted too.
"""

import datetime as dt
import json
from collections.abc import Callable

import dagster as dg
import polars as pl
from dagster import DagsterEventType

from lakehouse_assets import notify
from lakehouse_assets.core import alerts as rules_
from lakehouse_assets.defs.common import utc_now
from lakehouse_assets.defs.resources import LakehouseResource
from lakehouse_assets.lake.delta import Lake

BATCH = 500
CHECK_FAILED_RUN = "DagsterAssetCheckFailedError"  # a blocking check stopped the run: its check alert says it


def partition_of(instance: dg.DagsterInstance, run_id: str) -> str:
    """The run's partition, or its partition range ``start..end``."""
    run = instance.get_run_by_id(run_id)
    tags = run.tags if run else {}
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}..{end}"
    return "(none)"


def _plain(metadata: dict) -> dict[str, object]:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def finished_runs(instance: dg.DagsterInstance, cursor: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Runs that succeeded or failed after the cursor (one per status), oldest first; the new cursor."""
    runs: list[tuple[float, str]] = []
    cursor = dict(cursor)
    for kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
        while True:
            result = instance.fetch_run_status_changes(kind, limit=BATCH, cursor=cursor.get(kind.value), ascending=True)
            runs.extend((r.event_log_entry.timestamp, r.event_log_entry.run_id) for r in result.records)
            if result.cursor:
                cursor[kind.value] = result.cursor
            if not result.has_more:
                break
    return [run_id for _, run_id in sorted(runs)], cursor


def run_events(instance: dg.DagsterInstance, run_id: str) -> list[rules_.Event]:
    """The run's failed check evaluations and its failure, as alert events."""
    kinds = {DagsterEventType.ASSET_CHECK_EVALUATION, DagsterEventType.RUN_FAILURE}
    partition = partition_of(instance, run_id)
    events = [_event(entry, partition) for entry in instance.all_logs(run_id, of_type=kinds)]
    return [e for e in events if e is not None]


def _event(entry, partition: str) -> rules_.Event | None:  # type: ignore[no-untyped-def]
    data = entry.dagster_event.event_specific_data
    if entry.dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
        if data.passed:
            return None
        asset = data.asset_key.to_user_string()
        warn = data.severity == dg.AssetCheckSeverity.WARN
        return rules_.Event(
            rule=f"check:{data.check_name}",
            severity="warning" if warn else "error",
            asset=asset,
            partition=partition,
            message=f"{asset} check {data.check_name} failed: {data.description or 'no description'}",
            context={"check": data.check_name, "run_id": entry.run_id, "metadata": _plain(data.metadata)},
            source=f"{entry.run_id}:{asset}:{data.check_name}",
        )
    error = getattr(data, "error", None)
    if error is not None and error.cls_name == CHECK_FAILED_RUN:
        return None
    job = entry.job_name or entry.dagster_event.job_name or "(run)"
    first_line = (error.message.strip().splitlines() or [""])[0] if error is not None else ""
    return rules_.Event(
        rule=rules_.RUN_FAILURE,
        severity="critical",
        asset=job,
        partition=partition,
        message=f"run of {job} failed: {entry.dagster_event.message or ''} {first_line}".strip(),
        context={"run_id": entry.run_id, "error": first_line},
        source=entry.run_id,
    )


def alert_on(
    lake: Lake,
    rules: rules_.AlertRules,
    events: list[rules_.Event],
    log: Callable[[str], None],
    now: dt.datetime | None = None,
) -> list[rules_.Decision]:
    """Decide, deliver what fires, record it in ``alerts`` (insert-only MERGE, one commit)."""
    now = now or utc_now()
    if not events:
        return []
    table = lake.read("alerts") if lake.exists("alerts") else pl.DataFrame(schema=lake_schema())
    decisions = rules_.decide(events, table, rules, now)
    fired = rules_.rows([d.event for d in decisions if d.fire], now)
    for row in fired:
        status = notify.deliver(row, rules, log)
        row["context"] = json.dumps({**json.loads(str(row["context"])), "delivery": status}, sort_keys=True)
    for decision in decisions:
        if not decision.fire:
            log(f"alert not sent ({decision.reason}): {decision.event.rule} on {decision.event.asset}")
    lake.ensure("alerts")
    if fired:
        lake.merge("alerts", pl.DataFrame(fired, schema=lake_schema()), insert_only=True)
    return decisions


def lake_schema() -> dict[str, pl.DataType]:
    from lakehouse_assets.lake.catalog import TABLES

    return TABLES["alerts"].schema


@dg.sensor(
    name="alerts_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Failed asset checks and failed runs -> alerts table, log, webhook, e-mail "
    "(config/monitoring.yaml alerts; de-duplicated per rule and asset; acknowledgements suppress).",
)
def alerts_sensor(context: dg.SensorEvaluationContext, lakehouse: LakehouseResource) -> dg.SkipReason:
    runs, cursor = finished_runs(context.instance, json.loads(context.cursor) if context.cursor else {})
    events = [event for run_id in runs for event in run_events(context.instance, run_id)]
    decisions = alert_on(lakehouse.lake(), lakehouse.config().alerts, events, context.log.info)
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    fired = sum(d.fire for d in decisions)
    return dg.SkipReason(f"{len(runs)} finished runs, {len(events)} failed checks or runs, {fired} alerts fired")
