"""Alerts end to end: a failed blocking check in a real materialization, the alerts sensor
over a real Dagster instance, a real webhook receiver on loopback, and the CLI's ack."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from lakehouse_assets.cli import main
from lakehouse_assets.defs.alerts import alerts_sensor
from lakehouse_assets.defs.checks import parts_of
from lakehouse_assets.defs.resources import LakehouseResource
from lakehouse_assets.lake.delta import Lake
from tests.conftest import REPO, edit, run_pipeline, step_errors

DAY = "2018-01-02"


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records JSON bodies; answers ``statuses`` in turn, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.bodies: list[dict] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.requests = 0
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def config_with_webhook(tmp_path: Path, url: str, dedupe_seconds: int) -> str:
    folder = Path(shutil.copytree(REPO / "config", tmp_path / "config"))
    edit(
        folder / "monitoring.yaml",
        ("dedupe_seconds: 3600", f"dedupe_seconds: {dedupe_seconds}"),
        ("webhooks: []", f"webhooks: [{{url: '{url}', retries: 2, backoff_seconds: 0.05}}]"),
        ("min_quarantined_rows: 10", "min_quarantined_rows: 1"),
    )
    return str(folder)


def bad_landing(tmp_path: Path) -> str:
    """AAA delivers a good bar; BBB's only bar has no usable close: half the delivery is quarantined."""
    for symbol, close in (("AAA", "10.5"), ("BBB", "n/a")):
        folder = tmp_path / "landing" / symbol / "1day"
        folder.mkdir(parents=True)
        (folder / "bars.csv").write_text(f"timestamp,open,high,low,close,volume\n{DAY},10,11,9,{close},1000\n")
    return str(tmp_path / "landing")


def test_a_failed_blocking_check_stops_downstream_assets_of_the_partition(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    folder = Path(shutil.copytree(REPO / "config", tmp_path / "config"))
    edit(folder / "monitoring.yaml", ("min_quarantined_rows: 10", "min_quarantined_rows: 1"))
    landing = bad_landing(tmp_path)
    assert run_pipeline(str(tmp_path / "default"), DAY, DAY, ohlcv_dir=landing).success  # 1 bad row: under the floor
    result = run_pipeline(lake.root, DAY, DAY, ohlcv_dir=landing, config_dir=str(folder))
    assert not result.success
    assert "blocking asset check failed" in step_errors(result)["ohlcv_bronze"]
    evaluations = {
        (part.asset, part.name): part.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        for part in parts_of(e.event_specific_data)
    }
    assert evaluations[("ohlcv_bronze", "quarantine_growth")] is False
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"ohlcv_bronze", "sentiment_bronze"}  # bronze is written; nothing reads it
    assert not lake.exists("ohlcv_daily") and not lake.exists("features")
    # nothing lost: the good bar is in bronze, the bad one in quarantine with its reason
    assert lake.read("ohlcv_bronze").get_column("symbol").to_list() == ["AAA"]
    assert lake.read("quarantine").filter(pl.col("symbol") == "BBB").height == 1


def test_a_failed_check_alerts_once_then_dedupes_then_ack_silences_until_the_ttl(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the sensor's clock is set by the test, so the windows do not depend on how long a run takes
    clock = [dt.datetime.now(dt.UTC)]
    monkeypatch.setattr("lakehouse_assets.defs.alerts.utc_now", lambda: clock[0])
    config_dir = config_with_webhook(tmp_path, receiver.url, dedupe_seconds=60)
    lake = Lake(tmp_path / "lake")
    landing = bad_landing(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    resource = LakehouseResource(lake_uri=lake.root, config_dir=config_dir)
    # the resource may hold state for a run (a generator resource): the context opens and closes it
    with dg.build_sensor_context(instance=instance, resources={"lakehouse": resource}) as context:
        alerts_sensor(context)  # switched on: it watches runs that end from now on

        def fail_and_sense(at: dt.datetime) -> None:
            assert not run_pipeline(
                lake.root, DAY, DAY, ohlcv_dir=landing, config_dir=config_dir, instance=instance
            ).success
            clock[0] = at
            alerts_sensor(context)

        start = clock[0]
        fail_and_sense(start)
        assert len(receiver.bodies) == 1  # the check's alert; the run failure it caused is not a second one
        alert = receiver.bodies[0]
        where = (alert["asset"], alert["partition"], alert["context"]["check"])
        assert where == ("ohlcv_bronze", DAY, "quarantine_growth")
        assert alert["rule"] == "check:quarantine_growth" and alert["severity"] == "error"
        assert "1 of 2 rows quarantined" in alert["message"]
        stored = lake.read("alerts")
        assert stored.get_column("alert_id").to_list() == [alert["alert_id"]]

        fail_and_sense(start + dt.timedelta(seconds=30))  # inside the 60 s de-duplication window
        assert len(receiver.bodies) == 1
        assert lake.read("alerts").height == 1

        assert main(["alerts", "ack", alert["alert_id"][:8], "--lake", lake.root, "--by", "tester",
                     "--reason", "known bad vendor file", "--ttl-hours", "1"]) == 0  # fmt: skip
        acked = lake.read("alerts").row(0, named=True)
        assert acked["acknowledged"] and acked["acknowledged_by"] == "tester"
        fail_and_sense(start + dt.timedelta(seconds=120))  # the window has passed; the acknowledgement has not
        assert len(receiver.bodies) == 1

        fail_and_sense(acked["ack_until"] + dt.timedelta(seconds=1))  # the TTL has passed
        assert len(receiver.bodies) == 2
        assert receiver.bodies[1]["alert_id"] != alert["alert_id"]
        assert lake.read("alerts").height == 2


def test_webhook_delivery_retries_server_errors_with_backoff() -> None:
    from lakehouse_assets.core.alerts import Webhook
    from lakehouse_assets.notify import post

    flaky = Receiver(statuses=[500, 503])
    try:
        lines: list[str] = []
        began = time.monotonic()
        assert post(Webhook(flaky.url, retries=3, backoff_seconds=0.1), {"text": "hi"}, lines.append) == "ok"
        assert time.monotonic() - began >= 0.1 + 0.2  # two waits: 0.1 s, then 0.2 s
        assert flaky.bodies == [{"text": "hi"}] and not lines
        refused = Receiver(statuses=[404])
        try:
            assert post(Webhook(refused.url, retries=3, backoff_seconds=5), {"text": "x"}, lines.append) == "HTTP 404"
            assert "after 1 attempts" in lines[0]  # a 4xx is not retried
        finally:
            refused.close()
    finally:
        flaky.close()


def test_delivery_never_raises_and_records_each_channels_failure() -> None:
    from lakehouse_assets.core.alerts import AlertRules, Event, Webhook, rows
    from lakehouse_assets.notify import deliver

    row = rows([Event("check:x", "error", "a", DAY, "m", {}, "s")], dt.datetime.now(dt.UTC))[0]
    hooks = (Webhook("http://127.0.0.1:9/hook?token=secret", retries=1, backoff_seconds=0.01), Webhook("no-scheme/x"))
    lines: list[str] = []
    status = deliver(row, AlertRules(webhooks=hooks), lines.append)
    assert status["log"] == "ok" and len(status) == 3
    assert all(v != "ok" for k, v in status.items() if k.startswith("webhook"))
    assert not any("secret" in k for k in status) and not any("secret" in line for line in lines)


def test_config_refuses_a_webhook_that_is_not_http(tmp_path: Path) -> None:
    from lakehouse_assets.config import ConfigError, load_config

    folder = Path(shutil.copytree(REPO / "config", tmp_path / "config"))
    edit(folder / "monitoring.yaml", ("webhooks: []", "webhooks: [{url: 'hooks.slack.com/services/x'}]"))
    with pytest.raises(ConfigError, match=r"monitoring.yaml: alerts.webhooks\[0\].url: not an http:// or https:// URL"):
        load_config(folder)


def test_a_failed_checks_sample_is_a_table_in_dagster_records_in_the_alert_and_the_tick_names_it(
    tmp_path: Path,
) -> None:
    """AAA has no bar on 2018-01-03: ohlcv_daily's symbols_present (a warning) fails. The UI's
    sample is a markdown table of the failing keys, the alert stores them as records, and
    the sensor's tick (what the UI shows of it) names the alert sent and its channel."""
    for symbol, days in (("AAA", ("2018-01-02", "2018-01-04")), ("BBB", ("2018-01-02", "2018-01-03", "2018-01-04"))):
        folder = tmp_path / "landing" / symbol / "1day"
        folder.mkdir(parents=True)
        rows = "".join(f"{day},10,11,9,10.5,1000\n" for day in days)
        (folder / "bars.csv").write_text(f"timestamp,open,high,low,close,volume\n{rows}")
    lake, instance = Lake(tmp_path / "lake"), dg.DagsterInstance.ephemeral()
    resource = LakehouseResource(lake_uri=lake.root, config_dir=str(REPO / "config"))
    with dg.build_sensor_context(instance=instance, resources={"lakehouse": resource}) as context:
        first = alerts_sensor(context)
        assert first.skip_message == "0 finished runs, 0 failed checks or runs: no alert sent"
        result = run_pipeline(
            lake.root, "2018-01-02", "2018-01-04", ohlcv_dir=str(tmp_path / "landing"), instance=instance,
            groups=("bronze", "silver"),
        )  # fmt: skip
        assert result.success  # a warning does not stop the run
        (evaluation,) = [
            e.event_specific_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
            and e.event_specific_data.asset_key == dg.AssetKey("ohlcv_daily")
        ]
        sample = evaluation.metadata["symbols_present.sample"]
        assert isinstance(sample, dg.MarkdownMetadataValue)
        assert sample.value.splitlines() == ["| symbol | date |", "|---|---|", "| AAA | 2018-01-03 |"]
        tick = alerts_sensor(context)
    alert = lake.read("alerts").filter(pl.col("rule") == "check:symbols_present").row(0, named=True)
    assert json.loads(alert["context"])["metadata"]["sample"] == [{"symbol": "AAA", "date": "2018-01-03"}]
    assert tick.skip_message == (
        "1 finished runs, 1 failed checks or runs: 1 alert sent: check:symbols_present on ohlcv_daily (warning) -> log"
    )
