"""HealthGate: a Pulumi dynamic resource that runs a health gate (gates/) during `pulumi up`.

Inputs are the gate spec (the same schema as `rollout gate --spec`, as a plain dict) and a
``trigger``: the release fingerprint (images, weights, colours). The gate runs on create and on
update, and ``diff`` reports an update exactly when the spec or the trigger changed. It never runs
during `pulumi preview`: the dynamic provider does not declare preview support, so the engine
answers Create/Update in preview without calling the provider (only the pure Check and Diff run).

A failed gate raises ``GateFailedError``; the first line of its message names the deciding check,
its value and its limit, so `pulumi up` fails with that message. Outputs are the verdict and a
one-line summary, never a secret, and ``evidence``: the edges of the strata its sequential tests
counted (the first step's gate start, the end of each step's gate, this one's last). An update that
judges the same canary image one step further (a larger weight, after a pass) continues from
there: evidence carried across a release's steps, kept in the stack state.
A new image, a smaller weight (a rollback) or a gate created afresh (a re-release after the
undo, which deletes the canary's gate) starts from zero.

Credentials are read in ``configure()`` in the provider process, from stack config
(``flutter-app:prometheusToken``, ``flutter-app:gateWebhookUrl``; set them with
``pulumi config set --secret``) or else from the environment variables the spec names. They
are never pickled into state: the provider is pickled by reference (this module is importable),
and ``__getstate__`` drops anything ``configure()`` stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi.dynamic

from components.settings import GATE_SECRET_KEYS
from credentials import mask
from gates.progress import toward
from gates.results import Evaluation
from gates.runner import Secrets, build_runtime, run_gate, secrets_from_env
from gates.spec import GateSpec, SpecError, parse_spec, spec_to_data

PROMETHEUS_TOKEN_KEY = GATE_SECRET_KEYS[0]
"""Stack config key (in the project's namespace) of the Prometheus bearer token (secret)."""
WEBHOOK_URL_KEY = GATE_SECRET_KEYS[1]
"""Stack config key (in the project's namespace) of the notification webhook URL (secret)."""

_log = logging.getLogger(__name__)


class GateFailedError(Exception):
    """The gate did not pass. First line: the deciding check, its value and its limit."""


class InvalidGateSpecError(pulumi.RunError):
    """A HealthGate declared with an invalid spec (message names every bad field)."""


def _plain(value: Any) -> Any:
    # Struct numbers come back as floats: 10 and 10.0 must compare (and hash) the same.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


MAX_CARRY_S = 2 * 3600
"""Evidence older than this is not carried: the gate would re-read that much raw history."""


def carried_steps(olds: Mapping[str, Any], news: Mapping[str, Any], now: float) -> tuple[float, ...]:
    """The edges of the earlier steps' evidence this run continues (empty: none; see
    GateRuntime.carried): the previous run passed, and the trigger names the same canary image at
    a larger weight."""
    before, after = _plain(olds.get("trigger")), _plain(news.get("trigger"))
    starts = olds.get("evidence")
    if (
        olds.get("verdict") != "pass"
        or not isinstance(starts, list | tuple)
        or not starts
        or not all(isinstance(t, int | float) for t in starts)
        or now - starts[0] > MAX_CARRY_S
    ):
        return ()
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return ()
    old_weight, new_weight = before.get("weight"), after.get("weight")
    if not isinstance(old_weight, int | float) or not isinstance(new_weight, int | float):
        return ()
    same_canary = after.get("image") is not None and before.get("image") == after.get("image")
    return tuple(float(t) for t in starts) if same_canary and new_weight > old_weight else ()


def fingerprint(trigger: Any) -> str:
    """A short stable digest of a trigger (used as the resource id)."""
    text = json.dumps(_plain(trigger), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _normal_spec(data: Any) -> Any:
    """The spec with defaults dropped, so equal specs compare equal however they were written."""
    try:
        return spec_to_data(parse_spec(_plain(data)))
    except SpecError:
        return _plain(data)


class HealthGateProvider(pulumi.dynamic.ResourceProvider):
    """Runs the gate in the dynamic-provider process."""

    # Nothing secret is captured at pickling time, so `__provider` need not be a secret.
    serialize_as_secret_always = False

    def __init__(self) -> None:
        super().__init__()
        self._config_token: str | None = None
        self._config_webhook: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Never pickle credentials, even if configure() ran in this process.
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._config_token = None
        self._config_webhook = None

    def configure(self, req: pulumi.dynamic.ConfigureRequest) -> None:
        token = req.config.get(PROMETHEUS_TOKEN_KEY)
        webhook = req.config.get(WEBHOOK_URL_KEY)
        self._config_token = str(token) if token else None
        self._config_webhook = str(webhook) if webhook else None

    def _secrets(self, spec: GateSpec) -> Secrets:
        from_env = secrets_from_env(spec)
        return Secrets(
            prometheus_token=self._config_token or from_env.prometheus_token,
            webhook_url=self._config_webhook or from_env.webhook_url,
        )

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures: list[pulumi.dynamic.CheckFailure] = []
        try:
            parse_spec(_plain(news.get("spec")))
        except SpecError as error:
            failures += [pulumi.dynamic.CheckFailure("spec", f"spec.{p}") for p in error.problems]
        trigger = news.get("trigger")
        if not isinstance(trigger, str | Mapping):
            failures.append(pulumi.dynamic.CheckFailure("trigger", "expected a string or a mapping"))
        return pulumi.dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        # `olds` are the previous outputs, which carry the spec and trigger the gate last ran with.
        changed = _normal_spec(olds.get("spec")) != _normal_spec(news.get("spec")) or _plain(
            olds.get("trigger")
        ) != _plain(news.get("trigger"))
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def _run(self, props: dict[str, Any], carried: tuple[float, ...] = ()) -> dict[str, Any]:
        spec = parse_spec(_plain(props["spec"]))
        secrets = self._secrets(spec)

        told: list[str] = []

        def progress(evaluation: Evaluation, _streaks: Any) -> None:
            print(f"[gate {spec.name}] {evaluation.index}: {evaluation.status.value}", file=sys.stderr)
            if carried and not told and evaluation.sequential:
                # What the earlier steps brought, as the first evaluation with counts sees it.
                told.append(spec.name)
                for test in evaluation.sequential:
                    print(
                        f"[gate {spec.name}] carried into {test.check}: {test.canary_requests:.0f} canary "
                        f"requests, {100 * toward(test.log_lr_closest, test.accept_at):.0f} % of the way "
                        "to passing",
                        file=sys.stderr,
                    )

        runtime = build_runtime(spec, secrets, log=_log.info)
        runtime.on_evaluation = progress
        runtime.carried = carried
        started = time.time()
        if carried:
            print(
                f"[gate {spec.name}] evidence carried from the previous step: counting since "
                f"{datetime.fromtimestamp(carried[0], UTC):%H:%M:%S} UTC ({started - carried[0]:.0f} s "
                f"before this gate, {len(carried) - 1} earlier step{'s' if len(carried) > 2 else ''})",
                file=sys.stderr,
            )
        report = run_gate(spec, runtime)
        summary = mask(report.verdict.reason, secrets.values())
        if not report.passed:
            details = [
                f"  evaluation {e.index} (+{e.offset:.1f} s): {e.status.value}: {e.reason}"
                for e in report.evaluations
            ]
            message = "\n".join(
                [
                    f"health gate '{spec.name}' {report.verdict.status.value}: {summary}",
                    f"  {len(report.evaluations)} evaluations from {report.started_at} to {report.ended_at}:",
                    *details,
                ]
            )
            message = mask(message, secrets.values())
            # The SDK's dynamic-provider wrapper reports whatever is raised with
            # traceback.format_exc(), which honours sys.tracebacklimit: at 0 the user sees the
            # verdict, the failing check and the evaluations, not twelve lines of frames. Set here,
            # in the provider's own process, and only for this expected failure.
            sys.tracebacklimit = 0
            raise GateFailedError(message)
        return {
            "spec": spec_to_data(spec),
            "trigger": _plain(props["trigger"]),
            "verdict": report.verdict.status.value,
            "summary": summary,
            "evaluations": len(report.evaluations),
            "startedAt": report.started_at,
            "endedAt": report.ended_at,
            "evidence": [*(carried or [started]), time.time()],
        }

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        outs = self._run(props)
        return pulumi.dynamic.CreateResult(f"gate-{fingerprint(outs['trigger'])}", outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(self._run(news, carried_steps(olds, news, time.time())))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to tear down: a gate is a record of a decision."""


@dataclass(frozen=True)
class HealthGateArgs:
    """Inputs of a HealthGate."""

    spec: Mapping[str, Any]
    """The gate spec, as plain data (the `rollout gate` YAML schema); validated at declaration."""
    trigger: pulumi.Input[str] | pulumi.Input[Mapping[str, Any]]
    """The release fingerprint (images, weights, colours): the gate runs again when it changes."""


class HealthGate(pulumi.dynamic.Resource, module="gates", name="HealthGate"):
    """A gate that must pass for `pulumi up` to succeed."""

    verdict: pulumi.Output[str]
    """pass (a failed gate fails the update instead of producing an output)."""
    summary: pulumi.Output[str]
    """One line: why the gate passed."""

    def __init__(self, name: str, args: HealthGateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        try:
            spec = parse_spec(args.spec)
        except SpecError as error:
            raise InvalidGateSpecError(f"HealthGate '{name}': {error}") from None
        super().__init__(
            HealthGateProvider(),
            name,
            {
                "spec": spec_to_data(spec),
                "trigger": args.trigger,
                "verdict": None,
                "summary": None,
                "evaluations": None,
                "startedAt": None,
                "endedAt": None,
                "evidence": None,
            },
            opts,
        )


def gate_after(
    name: str,
    args: HealthGateArgs,
    *,
    depends_on: list[pulumi.Resource],
    parent: pulumi.Resource | None = None,
) -> HealthGate:
    """Declare a gate that runs after ``depends_on`` (e.g. the Deployment, a weight change).

    ``parent`` should be a component (never a custom resource), as the style guide says.
    """
    return HealthGate(name, args, pulumi.ResourceOptions(parent=parent, depends_on=depends_on))


__all__ = [
    "PROMETHEUS_TOKEN_KEY",
    "WEBHOOK_URL_KEY",
    "GateFailedError",
    "HealthGate",
    "HealthGateArgs",
    "HealthGateProvider",
    "InvalidGateSpecError",
    "gate_after",
]
