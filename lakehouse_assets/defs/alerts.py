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
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs.common import utc_now
from lakehouse_assets.defs.resources import LakehouseResource
from lakehouse_assets.lake.delta import Lake

RUNS_PER_TICK = 25  # bounded work per sensor tick (deliveries retry with backoff)
ENDED = (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED)
CHECK_FAILED_RUN = "DagsterAssetCheckFailedError"  # a blocking check stopped the step
CLI_TAG = "lakehouse/cli"  # runs of `lakehouse run`, which raises its own alerts


def _tags(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    run = instance.get_run_by_id(run_id)
    return dict(run.tags) if run else {}


def partition_of(instance: dg.DagsterInstance, run_id: str) -> str:
    """The run's partition, or its partition range ``start..end``."""
    tags = _tags(instance, run_id)
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}..{end}"
    return "(none)"


def _plain(metadata: dict) -> dict[str, object]:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def finished_runs(instance: dg.DagsterInstance, cursor: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Runs that ended (succeeded, failed or were cancelled) after the cursor, oldest first, at
    most ``RUNS_PER_TICK`` per status; the new cursor. A status without a cursor starts at
    its newest run: a sensor switched on watches from then, it does not replay history."""
    runs: list[tuple[float, str]] = []
    cursor = dict(cursor)
    for kind in ENDED:
        if kind.value not in cursor:
            newest = instance.fetch_run_status_changes(kind, limit=1, ascending=False)
            cursor[kind.value] = newest.cursor if newest.records else ""
            continue
        result = instance.fetch_run_status_changes(
            kind, limit=RUNS_PER_TICK, cursor=cursor[kind.value] or None, ascending=True
        )
        runs.extend((r.event_log_entry.timestamp, r.event_log_entry.run_id) for r in result.records)
        if result.records:
            cursor[kind.value] = result.cursor
    return [run_id for _, run_id in sorted(runs)], cursor


def run_events(instance: dg.DagsterInstance, run_id: str) -> list[rules_.Event]:
    """The run's failed check evaluations and its failure, as alert events. A run failure
    whose every failed step is a blocking check is no second alert: the check's says it."""
    kinds = {DagsterEventType.ASSET_CHECK_EVALUATION, DagsterEventType.RUN_FAILURE, DagsterEventType.STEP_FAILURE}
    entries = [(e, e.dagster_event) for e in instance.all_logs(run_id, of_type=kinds) if e.dagster_event is not None]
    failed_steps = [
        event.step_failure_data.error for _, event in entries if event.event_type == DagsterEventType.STEP_FAILURE
    ]
    only_checks = bool(failed_steps) and all(
        err is not None and err.cls_name == CHECK_FAILED_RUN for err in failed_steps
    )
    partition = partition_of(instance, run_id)
    return [
        alert
        for entry, event in entries
        if event.event_type != DagsterEventType.STEP_FAILURE
        and not (event.event_type == DagsterEventType.RUN_FAILURE and only_checks)
        for alert in _events(entry, partition)
    ]


def _events(entry, partition: str) -> list[rules_.Event]:
    """One event per failed part of a check evaluation (rule ``check:<part>``), or the run's failure."""
    data = entry.dagster_event.event_specific_data
    if entry.dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
        return [
            rules_.Event(
                rule=f"check:{part.name}",
                severity="warning" if part.warn else "error",
                asset=part.asset,
                partition=partition,
                message=f"{part.asset} check {part.name} failed: {part.description or 'no description'}",
                context={"check": part.name, "run_id": entry.run_id, "metadata": _plain(part.metadata)},
                source=f"{entry.run_id}:{part.asset}:{part.name}",
            )
            for part in asset_checks.parts_of(data)
            if not part.passed
        ]
    error = getattr(data, "error", None)
    job = entry.job_name or entry.dagster_event.job_name or "(run)"
    first_line = (error.message.strip().splitlines() or [""])[0] if error is not None else ""
    return [
        rules_.Event(
            rule=rules_.RUN_FAILURE,
            severity="critical",
            asset=job,
            partition=partition,
            message=f"run of {job} failed: {entry.dagster_event.message or ''} {first_line}".strip(),
            context={"run_id": entry.run_id, "error": first_line},
            source=entry.run_id,
        )
    ]


def alert_on(
    lake: Lake,
    rules: rules_.AlertRules,
    events: list[rules_.Event],
    log: Callable[[str], None],
    now: dt.datetime | None = None,
) -> list[dict[str, object]]:
    """Decide, deliver what fires, and record each fired alert in ``alerts`` as soon as it is
    delivered (insert-only MERGE), so a later failure never delivers it twice. Returns the
    rows recorded (their context holds each channel's delivery status)."""
    now = now or utc_now()
    if not events:
        return []
    table = lake.read("alerts") if lake.exists("alerts") else pl.DataFrame(schema=lake_schema())
    decisions = rules_.decide(events, table, rules, now)
    lake.ensure("alerts")
    sent = rules_.rows([d.event for d in decisions if d.fire], now)
    for row in sent:
        status = notify.deliver(row, rules, log)
        row["context"] = json.dumps({**json.loads(str(row["context"])), "delivery": status}, sort_keys=True)
        lake.merge("alerts", pl.DataFrame([row], schema=lake_schema()), insert_only=True)
    for decision in decisions:
        if not decision.fire:
            log(f"alert not sent ({decision.reason}): {decision.event.rule} on {decision.event.asset}")
    return sent


def lake_schema() -> dict[str, pl.DataType]:
    from lakehouse_assets.lake.catalog import TABLES

    return TABLES["alerts"].schema


@dg.sensor(
    name="alerts_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Failed asset checks and failed runs -> alerts table, log, webhook, e-mail "
    "(config/monitoring.yaml alerts; de-duplicated per rule and asset; acknowledgements suppress).",
)
def alerts_sensor(context: dg.SensorEvaluationContext, lakehouse: LakehouseResource) -> dg.SkipReason:
    runs, cursor = finished_runs(context.instance, json.loads(context.cursor) if context.cursor else {})
    runs = [r for r in runs if CLI_TAG not in _tags(context.instance, r)]
    events = [event for run_id in runs for event in run_events(context.instance, run_id)]
    sent = alert_on(lakehouse.lake(), lakehouse.config().alerts, events, context.log.info)
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    # the tick's skip reason is what the UI shows of a tick: it names what was sent
    held = f", {len(events) - len(sent)} not sent (see the tick's logs)" if len(events) > len(sent) else ""
    return dg.SkipReason(
        f"{len(runs)} finished runs, {len(events)} failed checks or runs: {rules_.sent_summary(sent)}{held}"
    )
