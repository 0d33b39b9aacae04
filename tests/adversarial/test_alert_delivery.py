"""Alert delivery under a hostile or broken webhook (issue 16, case 4): real HTTP servers on
loopback, one port per origin, and the alerts recorded in a real Delta table.

A webhook answering 302 used to make the notifier send the ``Authorization`` header to
another origin, turn the POST into a GET and record "ok"; a redirect to ``ftp://`` was
followed; the URL's first path segment was stored in ``alerts.context``. Now no redirect is
followed (a 3xx is a failed delivery naming the status and the Location's origin), only a
2xx is "ok", only http(s) targets are contacted, and the lake keeps scheme, host and port.
"""

from __future__ import annotations

import datetime as dt
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from lakehouse_assets.core.alerts import AlertRules, Event, Webhook
from lakehouse_assets.defs.alerts import alert_on
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.notify import post

DAY = "2018-01-02"
TOKEN = "Bearer H6-header-secret-7f3a"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Origin:
    """An HTTP server on its own loopback port (its own origin) that records every request
    and answers each with ``reply(path) -> (status, headers)``."""

    reply: Callable[[str], tuple[int, dict[str, str]]] = lambda path: (200, {})
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                origin.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                status, headers = origin.reply(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Listener:
    """A bare TCP port on loopback that accepts nothing by itself: ``contacted`` says
    whether anyone connected (an FTP client following a redirect would)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]

    def contacted(self) -> bool:
        return bool(select.select([self.sock], [], [], 0.2)[0])

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def origins() -> Iterator[Callable[..., Origin]]:
    started: list[Origin] = []

    def start(reply: Callable[[str], tuple[int, dict[str, str]]] = lambda path: (200, {})) -> Origin:
        started.append(Origin(reply))
        return started[-1]

    yield start
    for origin in started:
        origin.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    sock = Listener()
    yield sock
    sock.close()


def hook(url: str, **kwargs: object) -> Webhook:
    settings: dict = {
        "retries": 2,
        "backoff_seconds": 0.01,
        "timeout_seconds": 2.0,
        "headers": {"Authorization": TOKEN},
    }
    return Webhook(url, **{**settings, **kwargs})


def fire(tmp_path: Path, *hooks: Webhook) -> tuple[dict[str, str], list[str], Lake]:
    """One alert through ``alert_on`` into a real ``alerts`` table: the delivery status read
    back from the lake, the log lines, and the lake."""
    lake = Lake(tmp_path / "lake")
    lines: list[str] = []
    event = Event("check:quarantine_growth", "error", "ohlcv_bronze", DAY, "1 of 2 rows quarantined", {"n": 1}, "r1")
    alert_on(lake, AlertRules(webhooks=hooks), [event], lines.append, now=dt.datetime(2018, 1, 2, 22, tzinfo=dt.UTC))
    stored = lake.read("alerts")
    assert stored.height == 1  # delivery never loses the alert, whatever the channel did
    return json.loads(stored.item(0, "context"))["delivery"], lines, lake


def webhook_status(delivery: dict[str, str]) -> tuple[str, str]:
    (key,) = [k for k in delivery if k.startswith("webhook")]
    return key, delivery[key]


def test_a_302_to_another_origin_is_a_failed_delivery_and_the_other_origin_receives_nothing(
    tmp_path: Path, origins: Callable[..., Origin]
) -> None:
    other = origins()
    webhook = origins(lambda path: (302, {"Location": f"{other.base}/collect/Z9-loc-secret?k=Z8-loc-query"}))
    delivery, lines, _ = fire(tmp_path, hook(f"{webhook.base}/hook"))
    assert other.seen == []  # no request at all, so no Authorization header, no payload
    assert [(s.method, s.path) for s in webhook.seen] == [("POST", "/hook")]  # a 3xx is not retried
    assert (
        webhook.seen[0].headers["Authorization"] == TOKEN
        and json.loads(webhook.seen[0].body)["asset"] == "ohlcv_bronze"
    )
    key, status = webhook_status(delivery)
    assert key == f"webhook[0] {webhook.base}/..."
    assert status == f"HTTP 302 redirect to {other.base} not followed"
    assert not any("Z9-loc-secret" in line or "Z8-loc-query" in line or "collect" in line for line in lines)
    assert any(line.startswith(f"alert delivery to {webhook.base}/... failed") for line in lines)


@pytest.mark.parametrize("code", [307, 308])
def test_a_same_origin_307_or_308_is_not_followed_either(
    tmp_path: Path, origins: Callable[..., Origin], code: int
) -> None:
    webhook = origins(lambda path: (code, {"Location": "/moved?sig=Z7-moved"}) if path == "/hook" else (200, {}))
    delivery, lines, _ = fire(tmp_path, hook(f"{webhook.base}/hook"))
    assert [(s.method, s.path) for s in webhook.seen] == [("POST", "/hook")]
    _, status = webhook_status(delivery)
    assert status == f"HTTP {code} redirect to {webhook.base} not followed"
    assert not any("Z7-moved" in line for line in lines)


def test_a_302_to_ftp_is_not_followed(tmp_path: Path, origins: Callable[..., Origin], listener: Listener) -> None:
    webhook = origins(lambda path: (302, {"Location": f"ftp://127.0.0.1:{listener.port}/pub/x"}))
    delivery, _, _ = fire(tmp_path, hook(f"{webhook.base}/hook", retries=0, timeout_seconds=1.0))
    assert not listener.contacted()
    assert webhook_status(delivery)[1] == f"HTTP 302 redirect to ftp://127.0.0.1:{listener.port} not followed"


NOT_HTTP = "not an http:// or https:// URL"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1:{port}/pub/x", NOT_HTTP),
        ("file:///etc/hostname", NOT_HTTP),
        ("127.0.0.1:{port}/hook", NOT_HTTP),  # no scheme
        ("http://[127.0.0.1:{port}/hook", "no host or an invalid port in the URL"),  # does not even split
    ],
)
def test_a_target_that_is_not_http_is_refused_at_delivery(
    tmp_path: Path, listener: Listener, url: str, reason: str
) -> None:
    # config.py refuses these too; the notifier does not rely on it (Webhook objects are public)
    delivery, lines, _ = fire(tmp_path, hook(url.format(port=listener.port)))
    assert not listener.contacted()
    key, status = webhook_status(delivery)
    assert key == "webhook[0] (not an http(s) URL)"
    assert status == f"refused: {reason}"
    assert any("refused" in line for line in lines) and not any("hostname" in line or "/hook" in line for line in lines)


def test_a_500_is_a_failed_delivery_retried_and_recorded_with_its_status(
    tmp_path: Path, origins: Callable[..., Origin]
) -> None:
    webhook = origins(lambda path: (500, {}))
    delivery, lines, _ = fire(tmp_path, hook(f"{webhook.base}/services/Z6-path-secret"))
    assert len(webhook.seen) == 3  # retries=2
    assert delivery == {"log": "ok", f"webhook[0] {webhook.base}/...": "HTTP 500"}
    assert f"alert delivery to {webhook.base}/... failed after 3 attempts: HTTP 500" in lines


def test_a_204_is_a_delivery(tmp_path: Path, origins: Callable[..., Origin]) -> None:
    webhook = origins(lambda path: (204, {}))
    delivery, lines, _ = fire(tmp_path, hook(f"{webhook.base}/services/Z5-path-secret"))
    assert delivery == {"log": "ok", f"webhook[0] {webhook.base}/...": "ok"}
    assert [(s.method, s.path) for s in webhook.seen] == [("POST", "/services/Z5-path-secret")]
    assert json.loads(webhook.seen[0].body)["rule"] == "check:quarantine_growth"
    assert not any("Z5-path-secret" in line for line in lines)


def test_secrets_in_the_url_never_reach_the_lake_or_the_log(tmp_path: Path, origins: Callable[..., Origin]) -> None:
    webhook = origins(lambda path: (200, {}))
    secrets = ["S1segment", "T2pathpart", "B3pathpart", "Q4queryval", "F5fragment", "U6username", "P7password"]
    in_path = f"{webhook.base}/S1segment/T2pathpart/B3pathpart?token=Q4queryval#F5fragment"
    with_userinfo = webhook.base.replace("//", "//U6username:P7password@") + "/hook"
    delivery, lines, lake = fire(tmp_path, hook(in_path), hook(with_userinfo))
    stored = lake.read("alerts")
    for column in stored.columns:
        text = "\n".join(str(v) for v in stored.get_column(column).cast(pl.String).to_list())
        assert not [s for s in secrets if s in text], column
    # the log JSON of the table (column statistics) and its data files, as bytes
    files = [p for p in Path(lake.root).rglob("*") if p.is_file()]
    assert files and not [(p.name, s) for p in files for s in secrets if s.encode() in p.read_bytes()]
    assert not [(line, s) for line in lines for s in secrets if s in line]
    assert not [line for line in lines if "H6-header-secret" in line]
    assert delivery[f"webhook[0] {webhook.base}/..."] == "ok"
    # credentials in the URL are refused, not sent in the clear or turned into a header
    assert delivery[f"webhook[1] {webhook.base}/..."].startswith("refused: credentials in the URL")
    assert [s.path for s in webhook.seen] == ["/S1segment/T2pathpart/B3pathpart?token=Q4queryval"]


def test_webhook_repr_shows_the_origin_only() -> None:
    text = repr(hook("https://u:Z4-pass@hooks.example.com:8443/services/Z3-seg?token=Z2-q"))
    assert "hooks.example.com:8443" in text
    assert not any(s in text for s in ("Z4-pass", "Z3-seg", "Z2-q", "H6-header-secret", "services"))


def test_a_server_that_answers_byte_by_byte_cannot_hold_the_delivery(tmp_path: Path) -> None:
    """A socket timeout bounds each read, not the reply: a server dripping its headers one
    byte every 0.2 s would hold a 1 s timeout for ever without a deadline on the attempt."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def drip() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.wait(0.2):
                    try:
                        conn.sendall(b"X")
                    except OSError:
                        break

    threading.Thread(target=drip, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    result: list[str] = []
    lines: list[str] = []
    began = time.monotonic()
    worker = threading.Thread(
        target=lambda: result.append(post(hook(url, retries=1, timeout_seconds=1.0), {"text": "x"}, lines.append)),
        daemon=True,
    )
    worker.start()
    worker.join(20)
    stop.set()
    server.close()
    assert result, "the delivery was still waiting after 20 s"
    assert time.monotonic() - began < 6  # two attempts of at most 1 s each, and a 0.01 s backoff
    assert result[0] == "timed out: no complete reply within 1 s"


def test_a_server_that_never_answers_times_out(listener: Listener) -> None:
    # the listener's backlog accepts the connection; nobody ever reads or answers
    began = time.monotonic()
    status = post(hook(f"http://127.0.0.1:{listener.port}/hook", retries=0, timeout_seconds=0.5), {"t": 1}, print)
    assert time.monotonic() - began < 5 and status == "timed out: no complete reply within 0.5 s"
