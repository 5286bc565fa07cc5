"""Send the report's alerts through the gate notifier (``gates.notify.Notifier``): same webhook
kinds (Slack-compatible or generic JSON), same secrecy of the URL, same collapsing of repeats.

One alert per app and rule is sent; the same rule firing again for the app (another pod over its
CPU limit, say) is collapsed: counted, and the count is carried by the next message sent and by the
closing summary, which is always sent when anything fired.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from components.report_thresholds import Severity
from gates.notify import Alert as GateAlert
from gates.notify import Notifier, Post
from gates.results import NotificationStats, Status
from rollout.monitoring.alerts import Alert

WEBHOOK_URL_ENV: Final = "ROLLOUT_REPORT_WEBHOOK_URL"
WEBHOOK_KIND_ENV: Final = "ROLLOUT_REPORT_WEBHOOK_KIND"
KINDS: Final = ("json", "slack")
_STATUS = {Severity.CRITICAL: Status.FAIL, Severity.WARNING: Status.INCONCLUSIVE}
_ICON = {"critical": ":red_circle:", "warning": ":warning:", "": ":information_source:"}


@dataclass(frozen=True)
class ReportAlert(GateAlert):
    severity: str = ""
    """critical or warning; "" for the closing summary."""


class ReportNotifier(Notifier):
    """A Notifier whose messages speak of a report's alerts rather than a gate's evaluations."""

    def payload(self, alert: GateAlert, collapsed: int) -> dict[str, Any]:
        severity = alert.severity if isinstance(alert, ReportAlert) else ""
        if self.kind == "slack":
            what = "summary" if alert.final else f"*{severity}*"
            text = f"{_ICON.get(severity, '')} deployment report *{alert.gate}* {what}: {alert.text}"
            if collapsed:
                text += f" ({collapsed} repeated alert{'s' if collapsed != 1 else ''} collapsed)"
            return {"text": text}
        return {
            "report": alert.gate,
            "event": "summary" if alert.final else "alert",
            "severity": severity or None,
            "cause": alert.cause,
            "message": alert.text,
            "collapsed": collapsed,
        }


def notify(
    alerts: Sequence[Alert],
    *,
    stack: str,
    url: str,
    kind: str = "json",
    timeout: float = 5.0,
    post: Post | None = None,
    log: Callable[[str], None] | None = None,
) -> NotificationStats:
    """Send ``alerts`` (most severe first) and a closing summary; never raises."""
    if not alerts:
        return NotificationStats()
    notifier = ReportNotifier(
        url, "slack" if kind == "slack" else "json", timeout=timeout, post=post, log=log
    )
    name = f"stack {stack}"
    for alert in alerts:
        notifier.send(
            ReportAlert(
                gate=name,
                status=_STATUS[alert.severity],
                cause=f"{alert.app} {alert.rule}",
                text=alert.message,
                severity=alert.severity.value,
            )
        )
    counts = {s: sum(1 for a in alerts if a.severity == s) for s in Severity}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    worst = alerts[0].severity
    notifier.send(
        ReportAlert(gate=name, status=_STATUS[worst], cause="summary", text=f"{summary} alert(s)", final=True)
    )
    return notifier.stats
