"""What a step's preview plans to do, and whether the step may do it. Pure: no I/O.

Every release, rollback and recovery step previews its change first (``pulumi preview
--save-plan``), reads the plan's operations per resource, and runs only when each operation is one
the step owns; then ``pulumi up --plan`` runs exactly that plan (the engine refuses anything that
was not previewed). The plan file is the engine's ``DeploymentPlanV1`` (sdk/go/common/apitype/
plan.go): ``resourcePlans`` maps each URN to its goal and its ``steps`` (the engine's OpType
names), possibly wrapped as ``{"version": 1, "plan": ...}``.

A step *owns* resources by logical name (what it may create, update, replace or delete) and
*keeps* others (what it must not touch at all, e.g. the Deployment serving users). Anything else
may be updated or created but not replaced or deleted; a provider or a Namespace is never
replaced or deleted unless the caller says so explicitly (a forced rollback).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

NO_CHANGE: Final = frozenset({"same", "read", "refresh"})
DESTRUCTIVE: Final = frozenset(
    {
        "delete",
        "replace",
        "create-replacement",
        "delete-replaced",
        "discard",
        "discard-replaced",
        "read-replacement",
        "import-replacement",
        "remove-pending-replace",
    }
)
GUARDED_TYPES: Final = ("pulumi:providers:", "kubernetes:core/v1:Namespace")
"""Never replaced or deleted by a step, whatever it owns: replacing the Kubernetes provider
recreates every object on the cluster it now points at and deletes them from the old one; a
Namespace takes everything in it."""


class PlanFormatError(ValueError):
    """The plan file is not the engine's plan format."""


@dataclass(frozen=True)
class ResourceChange:
    """One resource the plan changes, and how (the engine's operation names)."""

    urn: str
    ops: tuple[str, ...]

    @property
    def name(self) -> str:
        """The logical name (the URN's last part)."""
        return self.urn.rsplit("::", 1)[-1]

    @property
    def type(self) -> str:
        """The type token (the last of the URN's parent$type chain)."""
        parts = self.urn.split("::")
        return parts[-2].rsplit("$", 1)[-1] if len(parts) >= 2 else ""

    @property
    def destructive(self) -> bool:
        return any(op in DESTRUCTIVE for op in self.ops)

    def describe(self) -> str:
        return f"{self.type} {self.name}: {'/'.join(self.ops)}"


def planned_changes(document: Any) -> list[ResourceChange]:
    """The resources a saved plan changes (every operation but same/read/refresh), by URN."""
    if isinstance(document, Mapping) and "plan" in document and "resourcePlans" not in document:
        document = document["plan"]
    if not isinstance(document, Mapping):
        raise PlanFormatError("expected a JSON object")
    plans = document.get("resourcePlans")
    plans = {} if plans is None else plans  # a plan that changes nothing may leave it out
    if not isinstance(plans, Mapping):
        raise PlanFormatError("resourcePlans is not an object")
    changes = []
    for urn, plan in sorted(plans.items()):
        steps = plan.get("steps") if isinstance(plan, Mapping) else None
        if steps is not None and not (isinstance(steps, list) and all(isinstance(s, str) for s in steps)):
            raise PlanFormatError(f"{urn}: steps is not a list of operation names")
        ops = tuple(step for step in steps or () if step not in NO_CHANGE)
        if ops:
            changes.append(ResourceChange(str(urn), ops))
    return changes


@dataclass(frozen=True)
class Ownership:
    """What one step may change (see the module docstring)."""

    owns: frozenset[str] = frozenset()
    """Logical names the step may change in any way but the guarded ones."""
    keeps: frozenset[str] = frozenset()
    """Logical names the step must not change at all."""
    owns_everything: bool = False
    """A rollback or a recovery: it restores a whole config, so any update or replacement of an
    ordinary resource is its business; the guarded types still need ``allow_guarded``."""
    allow_guarded: bool = False
    """Allow replacing or deleting a provider or a Namespace (a forced rollback)."""

    @classmethod
    def of(cls, owns: Iterable[str] = (), keeps: Iterable[str] = ()) -> Ownership:
        return cls(frozenset(owns), frozenset(keeps))


@dataclass(frozen=True)
class PlanCheck:
    """The verdict on a step's plan: what it changes, and what of that the step may not."""

    changes: tuple[ResourceChange, ...]
    refused: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return not self.refused


def check_plan(changes: Collection[ResourceChange], ownership: Ownership) -> PlanCheck:
    """Each change the step may not make, as a line naming the resource, the operation and why."""
    refused = []
    for change in changes:
        guarded = change.type.startswith(GUARDED_TYPES)
        if change.name in ownership.keeps:
            refused.append(f"{change.describe()} (this step must leave it as it is)")
        elif change.destructive and guarded and not ownership.allow_guarded:
            refused.append(
                f"{change.describe()} (a provider or a Namespace: replaced or deleted only by a forced rollback)"
            )
        elif (
            change.destructive
            and not guarded
            and not (ownership.owns_everything or change.name in ownership.owns)
        ):
            refused.append(f"{change.describe()} (not part of this step)")
    return PlanCheck(tuple(changes), tuple(refused))
