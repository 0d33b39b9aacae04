"""Alert delivery: the log always, webhooks (JSON or Slack, retried with backoff), e-mail.

Delivery never raises: a channel that fails is reported in the returned status (and the
log), the alert is still recorded, and the pipeline is never failed by its alerting.
"""

from __future__ import annotations

import json
import os
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage

from lakehouse_assets.core.alerts import AlertRules, Smtp, Webhook, payload


def deliver(alert: dict[str, object], rules: AlertRules, log: Callable[[str], None]) -> dict[str, str]:
    """Send one alert row to every configured channel; channel -> "ok" or the error."""
    log(
        f"ALERT [{alert['severity']}] {alert['rule']} on {alert['asset']} ({alert['partition']}): "
        f"{alert['message']} (alert {alert['alert_id']})"
    )
    status = {"log": "ok"}
    for hook in rules.webhooks:
        status[f"webhook {_redact(hook.url)}"] = _guarded(lambda h=hook: post(h, payload(alert, h.format), log), log)
    if rules.smtp is not None:
        smtp = rules.smtp
        status[f"smtp {smtp.host}"] = _guarded(lambda: mail(smtp, alert, log), log)
    return status


def _guarded(send: Callable[[], str], log: Callable[[str], None]) -> str:
    """A channel's status; any error of the channel (a bad URL, a garbled reply) is its status."""
    try:
        return send()
    except Exception as exc:
        log(f"alert delivery failed: {type(exc).__name__}: {exc}")
        return f"{type(exc).__name__}: {exc}"


def post(hook: Webhook, body: dict[str, object], log: Callable[[str], None]) -> str:
    """POST JSON; retry ``retries`` times on errors and 5xx/429, doubling the backoff each time."""
    data = json.dumps(body, default=str).encode()
    headers = {"Content-Type": "application/json", **hook.headers}
    error = "not sent"
    for attempt in range(hook.retries + 1):
        try:
            request = urllib.request.Request(hook.url, data=data, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=hook.timeout_seconds) as response:
                return "ok" if 200 <= response.status < 300 else f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:  # the receiver refuses the request: retrying won't help
                break
        except (urllib.error.URLError, OSError) as exc:
            error = str(getattr(exc, "reason", exc))
        if attempt < hook.retries:
            time.sleep(hook.backoff_seconds * 2**attempt)
    log(f"alert delivery to {_redact(hook.url)} failed after {attempt + 1} attempts: {error}")
    return error


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


def _redact(url: str) -> str:
    """Scheme, host and the first path segment: webhook URLs carry secrets in their path and query."""
    parts = urllib.parse.urlsplit(url)
    first = parts.path.strip("/").split("/")[0]
    hidden = parts.path.strip("/").count("/") or parts.query
    return f"{parts.scheme}://{parts.hostname or ''}/{first}" + ("/..." if hidden else "")
