"""Release and rollback notifications through the gates' webhook notifier (gates/notify.py).

The URL is a secret and comes from the environment: ``ROLLOUT_WEBHOOK_URL``, else the gates'
default ``GATE_WEBHOOK_URL``; ``ROLLOUT_WEBHOOK_KIND`` is ``json`` (default) or ``slack``.
Delivery problems are reported on stderr and never change the exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from gates.notify import Alert, Notifier, Post
from gates.results import Status

URL_ENV = "ROLLOUT_WEBHOOK_URL"
FALLBACK_URL_ENV = "GATE_WEBHOOK_URL"
KIND_ENV = "ROLLOUT_WEBHOOK_KIND"
_ICON = {Status.PASS: ":white_check_mark:", Status.FAIL: ":x:", Status.INCONCLUSIVE: ":warning:"}


class RolloutNotifier(Notifier):
    """The gate notifier with a release/rollback payload: ``alert.gate`` is the operation."""

    def payload(self, alert: Alert, collapsed: int) -> dict[str, Any]:
        if self.kind == "slack":
            return {"text": f"{_ICON[alert.status]} *{alert.gate}*: *{alert.status.value}* — {alert.text}"}
        return {
            "event": alert.cause,
            "operation": alert.gate,
            "status": alert.status.value,
            "reason": alert.text,
        }


def notify(
    env: Mapping[str, str],
    *,
    event: str,
    operation: str,
    ok: bool,
    text: str,
    log: Callable[[str], None],
    post: Post | None = None,
) -> None:
    """Send one final alert if a webhook is configured; never raises."""
    url = env.get(URL_ENV) or env.get(FALLBACK_URL_ENV)
    if not url:
        return
    kind: Literal["slack", "json"] = "slack" if env.get(KIND_ENV, "json") == "slack" else "json"
    try:
        notifier = RolloutNotifier(url, kind, post=post, log=log)
        notifier.send(
            Alert(
                gate=operation, status=Status.PASS if ok else Status.FAIL, cause=event, text=text, final=True
            )
        )
    except Exception as error:  # a notification never decides the outcome
        log(f"notification failed ({type(error).__name__}); the result is unaffected")
