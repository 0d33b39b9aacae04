"""Alert rules: which events become alerts, de-duplication, acknowledgement, payloads.

An *event* is a failed asset-check evaluation or a failed run. Its *rule* is
``check:<check name>`` or ``run_failure``; alerts are de-duplicated per (rule, asset):
an event within ``dedupe_seconds`` of the last alert fired for the same rule and asset
fires nothing, and neither does one while an alert of that rule and asset is
acknowledged (``ack_until`` in the future; acknowledgements last ``ack_ttl_hours``,
default 24). Everything here is pure: the sensor reads events and the ``alerts`` table,
asks :func:`decide`, then delivers and records what fired.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import urllib.parse
from dataclasses import dataclass, field

import polars as pl

SEVERITIES = ("info", "warning", "error", "critical")
RUN_FAILURE = "run_failure"


WEBHOOK_SCHEMES = ("http", "https")


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute URL (lower case), or None without a scheme or host.

    Examples
    --------
    >>> origin("HTTPS://user:pw@Hooks.Example.com:8443/services/T0/B1?token=x#f")
    'https://hooks.example.com:8443'
    >>> (origin("ftp://[::1]:2121/pub"), origin("/relative/path"), origin("hooks.example.com/x"))
    ('ftp://[::1]:2121', None, None)
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port, host = parts.port, parts.hostname
    except ValueError:  # a bracketed host that is not IPv6, a port out of range
        return None
    if not parts.scheme or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


def redacted(url: str) -> str:
    """A webhook target as it may be logged, shown and stored: scheme, host and port only.

    Webhook URLs carry their secret in the path (Slack's ``/services/T…/B…/…``), the query
    (``?token=``), the userinfo or the fragment, so none of those is kept; an address that is
    not an http(s) URL is not echoed at all (a missing scheme may be a secret path's host).

    Examples
    --------
    >>> redacted("https://hooks.example.com/services/T0/B1/xyz?token=abc")
    'https://hooks.example.com/...'
    >>> redacted("hooks.example.com/services/T0/B1/xyz")
    '(not an http(s) URL)'
    """
    where = origin(url)
    if where is None or not where.startswith(("http://", "https://")):
        return "(not an http(s) URL)"
    return f"{where}/..."


def unsafe_target(url: str) -> str | None:
    """Why ``url`` may not be a webhook target, or None when it may: an http or https URL
    with a host, a valid port, no credentials (``user:password@``: send them as a header) and
    no whitespace or control characters. The reason never quotes the URL.

    Examples
    --------
    >>> unsafe_target("https://hooks.example.com/services/T0/B1/xyz") is None
    True
    >>> unsafe_target("ftp://files.example.com/x"), unsafe_target("https://u:pw@hooks.example.com/x")
    ('not an http:// or https:// URL', 'credentials in the URL (user:password@); send them in the headers')
    """
    if not url.lower().startswith(tuple(f"{scheme}://" for scheme in WEBHOOK_SCHEMES)):
        return "not an http:// or https:// URL"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "whitespace or control characters in the URL"
    if origin(url) is None:
        return "no host or an invalid port in the URL"
    if "@" in urllib.parse.urlsplit(url).netloc:
        return "credentials in the URL (user:password@); send them in the headers"
    return None


@dataclass(frozen=True)
class Webhook:
    """One webhook channel. Its ``url`` and ``headers`` are secrets: the repr shows the
    redacted target and the header names only."""

    url: str
    format: str = "json"  # json | slack
    headers: dict[str, str] = field(default_factory=dict, hash=False)
    retries: int = 3
    backoff_seconds: float = 0.5
    timeout_seconds: float = 5.0  # a whole attempt: connect, send and the reply's status and headers

    def __repr__(self) -> str:
        return (
            f"Webhook({redacted(self.url)!r}, format={self.format!r}, headers=<{', '.join(self.headers)}>, "
            f"retries={self.retries}, backoff_seconds={self.backoff_seconds}, timeout_seconds={self.timeout_seconds})"
        )


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 587
    sender: str = "lakehouse@localhost"
    to: tuple[str, ...] = ()
    starttls: bool = True
    user_env: str | None = None
    password_env: str | None = None


@dataclass(frozen=True)
class AlertRules:
    """``config/monitoring.yaml`` ``alerts``."""

    dedupe_seconds: float = 3600.0
    dedupe_overrides: dict[str, float] = field(default_factory=dict, hash=False)
    ack_ttl_hours: float = 24.0
    min_severity: str = "warning"
    webhooks: tuple[Webhook, ...] = ()
    smtp: Smtp | None = None

    def dedupe_for(self, rule: str) -> dt.timedelta:
        return dt.timedelta(seconds=self.dedupe_overrides.get(rule, self.dedupe_seconds))


@dataclass(frozen=True)
class Event:
    """Something that may deserve an alert."""

    rule: str
    severity: str
    asset: str
    partition: str
    message: str
    context: dict[str, object]
    source: str  # what makes the event unique (run id and storage id), for a stable alert id

    @property
    def alert_id(self) -> str:
        return hashlib.sha256(f"{self.rule}|{self.asset}|{self.partition}|{self.source}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Decision:
    event: Event
    fire: bool
    reason: str


def decide(events: list[Event], alerts: pl.DataFrame, rules: AlertRules, now: dt.datetime) -> list[Decision]:
    """For each event in order: fire, or say why not (below min severity, already fired,
    acknowledged, inside the de-duplication window). ``alerts`` is the ``alerts`` table."""
    last_fired: dict[tuple[str, str], dt.datetime] = {}
    acked_until: dict[tuple[str, str], dt.datetime] = {}
    for rule, asset, fired_at, until in alerts.select("rule", "asset", "fired_at", "ack_until").iter_rows():
        key = (rule, asset)
        last_fired[key] = max(last_fired.get(key, fired_at), fired_at)
        if until is not None:
            acked_until[key] = max(acked_until.get(key, until), until)
    known = set(alerts.get_column("alert_id").to_list())
    floor = SEVERITIES.index(rules.min_severity)
    out = []
    for event in events:
        key = (event.rule, event.asset)
        if event.alert_id in known:
            out.append(Decision(event, False, "already fired"))
        elif SEVERITIES.index(event.severity) < floor:
            out.append(Decision(event, False, f"severity {event.severity} below {rules.min_severity}"))
        elif key in acked_until and acked_until[key] > now:
            out.append(Decision(event, False, f"acknowledged until {acked_until[key]:%Y-%m-%d %H:%M:%S} UTC"))
        elif key in last_fired and now - last_fired[key] < rules.dedupe_for(event.rule):
            window = rules.dedupe_for(event.rule).total_seconds()
            out.append(Decision(event, False, f"duplicate: fired {last_fired[key]:%H:%M:%S} UTC, window {window:g}s"))
        else:
            out.append(Decision(event, True, "fired"))
            last_fired[key] = now
            known.add(event.alert_id)
    return out


def rows(events: list[Event], now: dt.datetime) -> list[dict[str, object]]:
    """``alerts`` table rows of fired events."""
    return [
        {
            "alert_id": e.alert_id,
            "as_of": now.date(),
            "fired_at": now,
            "severity": e.severity,
            "rule": e.rule,
            "asset": e.asset,
            "partition": e.partition,
            "message": e.message,
            "context": json.dumps(e.context, sort_keys=True, default=str),
            "acknowledged": False,
            "acknowledged_by": None,
            "ack_reason": None,
            "ack_until": None,
        }
        for e in events
    ]


def sent_summary(sent: list[dict[str, object]], limit: int = 5) -> str:
    """What a batch of deliveries sent, in one line (the alerts sensor's tick): each alert's
    rule, asset and severity, and its channels (a channel that failed with its status); the
    first ``limit`` alerts, then how many more. ``sent`` are ``alerts`` rows whose context
    holds the ``delivery`` status of each channel.

    Examples
    --------
    >>> row = {"rule": "check:symbols_present", "asset": "ohlcv_daily", "severity": "warning",
    ...        "context": '{"delivery": {"log": "ok", "webhook[0] https://h/...": "HTTP 404"}}'}
    >>> sent_summary([row])
    '1 alert sent: check:symbols_present on ohlcv_daily (warning) -> log, webhook[0] https://h/... (HTTP 404)'
    >>> sent_summary([row] * 3, limit=1)
    '3 alerts sent: check:symbols_present on ohlcv_daily (warning) -> log, webhook[0] https://h/... (HTTP 404); and 2 more'
    >>> sent_summary([])
    'no alert sent'
    """
    if not sent:
        return "no alert sent"

    def said(row: dict[str, object]) -> str:
        delivery: dict[str, str] = json.loads(str(row["context"])).get("delivery", {})
        channels = ", ".join(name if status == "ok" else f"{name} ({status})" for name, status in delivery.items())
        return f"{row['rule']} on {row['asset']} ({row['severity']}) -> {channels or 'no channel'}"

    more = f"; and {len(sent) - limit} more" if len(sent) > limit else ""
    return f"{len(sent)} alert{'s' if len(sent) > 1 else ''} sent: " + "; ".join(map(said, sent[:limit])) + more


def payload(alert: dict[str, object], fmt: str) -> dict[str, object]:
    """The webhook body: the alert as JSON, or a Slack message (``text`` plus blocks)."""
    if fmt != "slack":
        return {**alert, "context": json.loads(str(alert["context"]))}
    title = f"[{str(alert['severity']).upper()}] {alert['rule']} on {alert['asset']} ({alert['partition']})"
    return {
        "text": f"{title}: {alert['message']}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": str(alert["message"])[:3000]}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"alert `{alert['alert_id']}` fired {alert['fired_at']}"}],
            },
        ],
    }


def is_open(now: dt.datetime) -> pl.Expr:
    """Alerts not acknowledged, or whose acknowledgement has expired."""
    return ~pl.col("acknowledged") | pl.col("ack_until").is_null() | (pl.col("ack_until") <= now)
