"""Alert delivery: the log always, webhooks (JSON or Slack, retried with backoff), e-mail.

Delivery never raises: a channel that fails is reported in the returned status (and the
log), the alert is still recorded, and the pipeline is never failed by its alerting.

A webhook's URL and headers are secrets (the URL's path or query is often the credential):
they go to the webhook's own origin and nowhere else. Redirects are not followed: a 3xx is
a failed delivery naming the status and the Location's origin. Only a 2xx is "ok". Logs,
statuses and the ``alerts`` table name a target by scheme, host and port only
(:func:`~lakehouse_assets.core.alerts.redacted`).
"""

from __future__ import annotations

import http.client
import json
import os
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from email.message import EmailMessage
from functools import partial
from typing import Any

from lakehouse_assets.core.alerts import AlertRules, Smtp, Webhook, origin, payload, redacted, unsafe_target


def deliver(alert: dict[str, object], rules: AlertRules, log: Callable[[str], None]) -> dict[str, str]:
    """Send one alert row to every configured channel; channel -> "ok" or the error.

    A webhook's channel is ``webhook[<index>] <scheme://host:port>/...``: the index keeps
    two hooks on one host (two Slack channels) apart without showing their paths.
    """
    log(
        f"ALERT [{alert['severity']}] {alert['rule']} on {alert['asset']} ({alert['partition']}): "
        f"{alert['message']} (alert {alert['alert_id']})"
    )
    status = {"log": "ok"}
    for i, hook in enumerate(rules.webhooks):
        status[f"webhook[{i}] {redacted(hook.url)}"] = _guarded(
            partial(_post_alert, hook, alert, log), log, _scrubber(hook)
        )
    if rules.smtp is not None:
        smtp = rules.smtp
        status[f"smtp {smtp.host}"] = _guarded(lambda: mail(smtp, alert, log), log, str)
    return status


def _post_alert(hook: Webhook, alert: dict[str, object], log: Callable[[str], None]) -> str:
    """The alert in the hook's format, posted; called inside the channel's guard, so a body that
    cannot be built is that channel's status too."""
    return post(hook, payload(alert, hook.format), log)


def _guarded(send: Callable[[], str], log: Callable[[str], None], scrub: Callable[[str], str]) -> str:
    """A channel's status; any error of the channel (a bad header, a garbled reply) is its
    status, with the channel's secrets scrubbed from the message."""
    try:
        return send()
    except Exception as exc:
        error = scrub(f"{type(exc).__name__}: {exc}")
        log(f"alert delivery failed: {error}")
        return error


def post(hook: Webhook, body: dict[str, object], log: Callable[[str], None]) -> str:
    """POST JSON to the hook: "ok" for a 2xx reply, else the reason.

    Errors, timeouts and 5xx/429 are retried ``retries`` times, doubling the backoff each
    time; any other status (a 3xx redirect, a 4xx refusal) is final. No redirect is
    followed, so the headers and the body reach the hook's origin only; a target that is not
    an http(s) URL (or carries ``user:password@``) is refused without a connection.
    ``timeout_seconds`` bounds each attempt as a whole, not each read.
    """
    target, scrub = redacted(hook.url), _scrubber(hook)
    if (reason := unsafe_target(hook.url)) is not None:
        log(f"alert delivery to {target} refused: {reason}")
        return f"refused: {reason}"
    data = json.dumps(body, default=str).encode()
    headers = {"Content-Type": "application/json", **hook.headers}
    error = "not sent"
    for attempt in range(hook.retries + 1):
        try:
            _send(hook.url, data, headers, hook.timeout_seconds)
            return "ok"
        except urllib.error.HTTPError as exc:
            exc.close()
            error = _refused(exc, hook.url)
            if exc.code < 500 and exc.code != 429:  # the receiver refuses, or points elsewhere: retrying won't help
                break
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            error = scrub(str(getattr(exc, "reason", exc)) or type(exc).__name__)
        if attempt < hook.retries:
            time.sleep(hook.backoff_seconds * 2**attempt)
    log(f"alert delivery to {target} failed after {attempt + 1} attempts: {error}")
    return error


def _refused(exc: urllib.error.HTTPError, url: str) -> str:
    """A non-2xx status; for a redirect, where it pointed (origin only: its path may be a secret)."""
    if not 300 <= exc.code < 400:
        return f"HTTP {exc.code}"
    location = exc.headers.get("Location") if exc.headers else None
    where = origin(urllib.parse.urljoin(url, location)) if location else None
    return f"HTTP {exc.code} redirect to {where or '(no location)'} not followed"


class _Deadline:
    """Shuts an attempt's socket down when its time is up: a socket timeout bounds each read,
    and a server dripping its reply a byte at a time would otherwise hold the run."""

    def __init__(self, seconds: float) -> None:
        self.at, self.expired = time.monotonic() + seconds, False
        self._timers: list[threading.Timer] = []

    def arm(self, sock: socket.socket) -> None:
        def expire() -> None:
            self.expired = True
            with suppress(OSError):  # the C-level shutdown, under any TLS wrapper: a blocked read returns
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

        timer = threading.Timer(max(0.0, self.at - time.monotonic()), expire)
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()


def _connection(base: type[http.client.HTTPConnection], deadline: _Deadline) -> Callable[..., Any]:
    class Connection(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            deadline.arm(self.sock)

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._class = _connection(http.client.HTTPConnection, deadline)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._class, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(context=self._tls)
        self._class = _connection(http.client.HTTPSConnection, deadline)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._class, req, context=self._tls)


def _send(url: str, data: bytes, headers: dict[str, str], timeout: float) -> int:
    """One POST; its 2xx status, or an HTTPError for any other (3xx included).

    The opener has the http(s) and proxy handlers and the error handlers, and no redirect,
    file, ftp or data handler: nothing it answers can send the request anywhere else.
    """
    deadline = _Deadline(timeout)
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),  # the environment's proxies, as urlopen uses them
        _HTTPHandler(deadline),
        _HTTPSHandler(deadline),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    late = TimeoutError(f"timed out: no complete reply within {timeout:g} s")
    try:
        with opener.open(request, timeout=timeout) as response:
            status = int(response.status)
    except Exception as exc:
        if deadline.expired or isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError):
            raise late from None
        raise
    finally:
        deadline.cancel()
    if deadline.expired:  # the reply was cut short: its headers may be partial
        raise late
    return status


def _scrubber(hook: Webhook) -> Callable[[str], str]:
    """Removes the hook's secrets (its URL, the URL's path, query, userinfo and fragment and
    their parts, its header values) from a message, e.g. an exception's that quotes the URL."""
    pieces = {hook.url, *hook.headers.values()}
    keep: set[str] = set()
    with suppress(ValueError):  # a URL that does not split is hidden whole
        parts = urllib.parse.urlsplit(hook.url)
        pieces |= {parts.path, parts.query, parts.fragment, *parts.path.split("/")}
        pieces |= {p for q in parts.query.split("&") for p in q.split("=")}
        pieces |= {parts.netloc, *parts.netloc.rpartition("@")[0].split(":")} if "@" in parts.netloc else set()
        keep = {parts.scheme, parts.hostname or ""}
    pieces |= {urllib.parse.unquote(p) for p in pieces}
    secrets = sorted((p for p in pieces if len(p) >= 4 and p not in keep), key=len, reverse=True)

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "...")
        return text

    return scrub


def mail(smtp: Smtp, alert: dict[str, object], log: Callable[[str], None]) -> str:
    message = EmailMessage()
    message["Subject"] = f"[lakehouse {str(alert['severity']).upper()}] {alert['rule']} on {alert['asset']}"
    message["From"] = smtp.sender
    message["To"] = ", ".join(smtp.to)
    message.set_content(json.dumps(payload(alert, "json"), indent=2, default=str))
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as server:
            if smtp.starttls:
                server.starttls()
            user = os.environ.get(smtp.user_env) if smtp.user_env else None
            if user:
                server.login(user, os.environ.get(smtp.password_env or "", ""))
            server.send_message(message)
        return "ok"
    except (OSError, smtplib.SMTPException) as exc:
        log(f"alert e-mail via {smtp.host}:{smtp.port} failed: {exc}")
        return str(exc)
