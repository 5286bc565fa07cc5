"""Webhook notifications: Slack-compatible (``{"text": ...}``) or a generic JSON event.

The URL is a secret (it usually embeds a token): it comes from the environment or secret stack
config, is never logged, never written to a report and never shown by ``repr``. An alert whose
cause (status and deciding probe/check) was already sent in this run is collapsed: counted, not
re-sent. Delivery problems are recorded and never change the gate's verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import requests

from gates.results import NotificationStats, Status

Post = Callable[..., Any]
_ICON = {Status.PASS: ":white_check_mark:", Status.FAIL: ":x:", Status.INCONCLUSIVE: ":warning:"}


@dataclass(frozen=True)
class Alert:
    gate: str
    status: Status
    cause: str
    """What the alert is about: the deciding probe/check label (the collapse key with status)."""
    text: str
    """One line, e.g. the evaluation's or the verdict's reason."""
    evaluation: int | None = None
    final: bool = False
    """The verdict: always sent, never collapsed."""


class Notifier:
    def __init__(
        self,
        url: str,
        kind: Literal["slack", "json"] = "json",
        *,
        timeout: float = 5.0,
        post: Post | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._url = url
        self.kind = kind
        self.timeout = timeout
        self._post: Post = post or requests.post
        self._log = log or (lambda _line: None)
        self._sent_causes: set[tuple[Status, str]] = set()
        self._collapsed_since_sent = 0
        self.stats = NotificationStats()

    def __repr__(self) -> str:
        return f"Notifier(kind={self.kind!r}, url=[secret])"

    def payload(self, alert: Alert, collapsed: int) -> dict[str, Any]:
        if self.kind == "slack":
            what = "verdict" if alert.final else f"evaluation {alert.evaluation}"
            text = f"{_ICON[alert.status]} health gate *{alert.gate}* {what}: *{alert.status.value}* — {alert.text}"
            if collapsed:
                text += f" ({collapsed} repeated alert{'s' if collapsed != 1 else ''} collapsed)"
            return {"text": text}
        return {
            "gate": alert.gate,
            "event": "verdict" if alert.final else "evaluation",
            "status": alert.status.value,
            "cause": alert.cause,
            "reason": alert.text,
            "evaluation": alert.evaluation,
            "collapsed": collapsed,
        }

    def send(self, alert: Alert) -> None:
        """Deliver ``alert`` unless it repeats a cause already sent; never raises."""
        key = (alert.status, alert.cause)
        if not alert.final and key in self._sent_causes:
            self.stats.collapsed += 1
            self._collapsed_since_sent += 1
            return
        self._sent_causes.add(key)
        body = self.payload(alert, self._collapsed_since_sent)
        self._collapsed_since_sent = 0
        try:
            response = self._post(self._url, json=body, timeout=self.timeout, allow_redirects=False)
            code = int(response.status_code)
            response.close()
        except requests.Timeout:
            self._failed("timed out")
            return
        except requests.ConnectionError:
            self._failed("connection failed")
            return
        except requests.RequestException as error:
            self._failed(type(error).__name__)
            return
        if code >= 300:
            self._failed(f"HTTP {code}")
        else:
            self.stats.sent += 1

    def _failed(self, cause: str) -> None:
        # The cause only: exception texts from requests repeat the URL.
        self.stats.failed += 1
        self.stats.errors.append(cause)
        self._log(f"webhook delivery failed ({cause}); the verdict is unaffected")
