"""Alert rules: de-duplication per rule and asset, acknowledgement TTL, severities, payloads."""

import datetime as dt
import json

import polars as pl

from lakehouse_assets.core import alerts
from lakehouse_assets.lake.catalog import TABLES

T0 = dt.datetime(2024, 1, 2, 22, 0, tzinfo=dt.UTC)
RULES = alerts.AlertRules(dedupe_seconds=600, dedupe_overrides={"run_failure": 60}, ack_ttl_hours=24)


def event(rule: str = "check:ohlc_bounds", asset: str = "ohlcv_daily", source: str = "r1", severity: str = "error"):
    return alerts.Event(rule, severity, asset, "2024-01-02", "bad bars", {"n": 1}, source)


def table(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=TABLES["alerts"].schema)


def test_first_event_fires_and_a_second_within_the_window_does_not() -> None:
    first = alerts.decide([event(source="r1"), event(source="r2")], table([]), RULES, T0)
    assert [d.fire for d in first] == [True, False] and "duplicate" in first[1].reason
    fired = table(alerts.rows([first[0].event], T0))
    assert not alerts.decide([event(source="r3")], fired, RULES, T0 + dt.timedelta(seconds=599))[0].fire
    assert alerts.decide([event(source="r3")], fired, RULES, T0 + dt.timedelta(seconds=600))[0].fire
    # other asset or other rule: its own window; per-rule override
    assert alerts.decide([event(asset="features", source="r3")], fired, RULES, T0)[0].fire
    runs = table(alerts.rows([event("run_failure", "daily_job")], T0))
    assert alerts.decide([event("run_failure", "daily_job", "r9")], runs, RULES, T0 + dt.timedelta(seconds=61))[0].fire


def test_acknowledgement_suppresses_until_it_expires_and_ids_are_never_refired() -> None:
    row = alerts.rows([event()], T0)[0]
    row.update(acknowledged=True, acknowledged_by="me", ack_until=T0 + dt.timedelta(hours=24))
    acked = table([row])
    later = T0 + dt.timedelta(hours=2)
    decision = alerts.decide([event(source="r2")], acked, RULES, later)[0]
    assert not decision.fire and decision.reason.startswith("acknowledged until")
    assert alerts.decide([event(source="r2")], acked, RULES, T0 + dt.timedelta(hours=24, seconds=1))[0].fire
    assert alerts.decide([event()], acked, RULES, T0 + dt.timedelta(days=9))[0].reason == "already fired"
    assert acked.filter(alerts.is_open(later)).is_empty()
    assert acked.filter(alerts.is_open(T0 + dt.timedelta(days=2))).height == 1


def test_min_severity_and_payload_formats() -> None:
    decision = alerts.decide([event(severity="info")], table([]), RULES, T0)[0]
    assert not decision.fire and "below warning" in decision.reason
    row = alerts.rows([event()], T0)[0]
    plain = alerts.payload(row, "json")
    assert plain["asset"] == "ohlcv_daily" and plain["context"] == {"n": 1}
    slack = alerts.payload(row, "slack")
    assert slack["text"].startswith("[ERROR] check:ohlc_bounds on ohlcv_daily (2024-01-02)")
    assert json.dumps(slack) and slack["blocks"][0]["type"] == "header"


def test_a_webhook_target_is_redacted_to_scheme_host_and_port() -> None:
    cases = {
        "https://hooks.slack.com/services/T0/B1/xyz": "https://hooks.slack.com/...",
        "https://U:P@Hooks.Example.com:8443/a?token=t#f": "https://hooks.example.com:8443/...",
        "http://[::1]:8080/hook": "http://[::1]:8080/...",
        "hooks.slack.com/services/T0/B1/xyz": "(not an http(s) URL)",  # no scheme: the host may be the path's
        "ftp://files.example.com/pub": "(not an http(s) URL)",
        "https://hooks.example.com:99999/x": "(not an http(s) URL)",  # an invalid port
        "https://[hooks.example.com/x": "(not an http(s) URL)",  # urlsplit raises on it
    }
    assert {url: alerts.redacted(url) for url in cases} == cases


def test_only_plain_http_targets_are_safe_and_the_reason_never_quotes_the_url() -> None:
    assert alerts.unsafe_target("https://hooks.example.com/services/T0?token=t") is None
    assert alerts.unsafe_target("http://127.0.0.1:8080/") is None
    refused = {
        "ftp://files.example.com/pub": "not an http",
        "file:///etc/passwd": "not an http",
        "javascript:alert(1)": "not an http",
        "hooks.example.com/secret-path": "not an http",
        " https://hooks.example.com/secret-path": "not an http",
        "https:///secret-path": "no host",
        "https://hooks.example.com:99999/secret-path": "invalid port",
        "https://[not-ipv6]/secret-path": "no host",
        "https://user:secret-pw@hooks.example.com/x": "credentials",
        "https://hooks.example.com/secret path": "whitespace",
        "https://hooks.example.com/secret\npath": "control",
    }
    for url, why in refused.items():
        reason = alerts.unsafe_target(url)
        assert reason is not None and why in reason, url
        assert "secret" not in reason and "passwd" not in reason
    assert alerts.origin("https://hooks.example.com/x") == "https://hooks.example.com"
    assert alerts.origin("/relative?x=1") is None
