"""One checked step of a release, a rollback or a recovery: write its config change, preview it
with the plan saved, refuse (the config put back) unless every planned change is the step's own,
then `pulumi up --plan` that exact plan, which the engine holds the update to.

Why both: the check stops what nobody meant (a provider replaced because the kubeconfig points
elsewhere, a Namespace deleted, the serving Deployment rolled) before anything changes; the plan
stops the update from doing anything the checked preview did not show.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from credentials import mask
from rollout.changes import Ownership, ResourceChange, check_plan
from rollout.configdiff import config_diff
from rollout.exit_codes import CommandError, ExitCode
from rollout.history import ConfigMap

if TYPE_CHECKING:
    from rollout.cli import Console
    from rollout.stacks import StackAccess

MAX_LISTED = 20
"""Refused changes listed by name; more are counted."""


class StepRefused(CommandError):
    """The step's preview plans changes the step does not own; nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.FAILED)


def revert_config(access: StackAccess, before: ConfigMap) -> None:
    """Put the stack's config back as ``before``, exactly (secrets as secrets)."""
    diff = config_diff(access.config(), before)
    access.restore(diff.writes, diff.removals)


def _provider_hint(changes: list[ResourceChange]) -> str:
    replaced = [c for c in changes if c.type.startswith("pulumi:providers:kubernetes") and c.destructive]
    if not replaced:
        return ""
    return (
        " The Kubernetes provider would be replaced: the kubeconfig points at a cluster other than the "
        "one the stack was deployed to, and replacing it would create every object there and delete "
        "them from the old one. Check KUBECONFIG and flutter-app:cluster.kubeContext; bind the stack to "
        "its cluster with flutter-app:cluster.apiServer."
    )


def run_checked(
    access: StackAccess,
    console: Console,
    *,
    label: str,
    message: str,
    write: Callable[[], None],
    before: ConfigMap,
    ownership: Ownership,
    secrets: list[str],
    approve: Callable[[], None] | None = None,
) -> None:
    """Write, preview, check, ``approve`` (it raises to decline: people approve the plan they were
    shown), then `up --plan` (see the module docstring). A refused, failed or declined preview puts
    the config back and raises (StepRefused / CommandError); a failed `up` raises UpFailedError
    with the config left as written, for the caller to undo or report."""
    write()
    with tempfile.TemporaryDirectory(prefix="rollout-plan-") as directory:
        plan = Path(directory) / "plan.json"
        try:
            changes = access.preview_plan(plan)
        except CommandError as error:
            revert_config(access, before)
            raise CommandError(
                f"{label}: its preview failed, nothing was changed (the config is back as it was): "
                f"{mask(str(error), secrets)}",
                ExitCode.FAILED,
            ) from None
        check = check_plan(changes, ownership)
        console.note(f"{label}: preview plans {len(changes)} change(s)")
        for change in changes:
            console.note(mask(f"    {change.describe()}", secrets))
        if not check.allowed:
            revert_config(access, before)
            listed = [f"  - {line}" for line in check.refused[:MAX_LISTED]]
            if len(check.refused) > MAX_LISTED:
                listed.append(f"  ... and {len(check.refused) - MAX_LISTED} more")
            raise StepRefused(
                "\n".join(
                    [
                        f"{label}: refused before anything changed, its preview plans changes it must not "
                        "make (the config is back as it was):",
                        *listed,
                    ]
                )
                + _provider_hint(changes)
            )
        if approve is not None:
            try:
                approve()
            except BaseException:
                revert_config(access, before)
                raise
        access.up(message, on_output=lambda line: console.note(mask(f"  | {line}", secrets)), plan=plan)
