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
        status[f"webhook {_redact(hook.url)}"] = post(hook, payload(alert, hook.format), log)
    if rules.smtp is not None:
        status[f"smtp {rules.smtp.host}"] = mail(rules.smtp, alert, log)
    return status


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
    """Scheme, host and the first path segment: webhook URLs carry secrets in their path."""
    parts = url.split("/")
    return "/".join(parts[:4]) + ("/..." if len(parts) > 4 else "")
