"""A step's plan checked against what it owns (rollout/changes.py), over plans in the engine's own
format (the shape `pulumi preview --save-plan` writes, as the e2e tests show it does)."""

from __future__ import annotations

from typing import Any

import pytest

from rollout.changes import Ownership, PlanFormatError, ResourceChange, check_plan, planned_changes

STACK = "urn:pulumi:prod::flutter-app::"
PROVIDER = f"{STACK}flutter-app:platform:Cluster$pulumi:providers:kubernetes::cluster-k8s"
NAMESPACE = f"{STACK}flutter-app:platform:Environment$kubernetes:core/v1:Namespace::production-namespace"
BLUE = f"{STACK}flutter-app:release:BlueGreenRelease$kubernetes:apps/v1:Deployment::flutter-app-blue"
GREEN = f"{STACK}flutter-app:release:BlueGreenRelease$kubernetes:apps/v1:Deployment::flutter-app-green"
LIVE = f"{STACK}flutter-app:release:BlueGreenRelease$kubernetes:core/v1:Service::flutter-app-live"
CONFIG = f"{STACK}flutter-app:platform:Environment$kubernetes:core/v1:ConfigMap::production-config"
REPLACE = ["create-replacement", "replace", "delete-replaced"]
GUARDED = "(a provider or a Namespace: replaced or deleted only by a forced rollback)"


def plan(steps: dict[str, list[str]]) -> dict[str, Any]:
    return {"manifest": {}, "resourcePlans": {urn: {"goal": {}, "steps": ops} for urn, ops in steps.items()}}


def test_same_and_reads_are_no_change_and_names_and_types_come_from_the_urn() -> None:
    changes = planned_changes(plan({LIVE: ["update"], BLUE: ["same"], CONFIG: ["read"]}))
    assert changes == [ResourceChange(LIVE, ("update",))]
    (live,) = changes
    assert (live.name, live.type) == ("flutter-app-live", "kubernetes:core/v1:Service")
    assert planned_changes({"version": 1, "plan": plan({LIVE: ["update"]})}) == changes  # wrapped form


@pytest.mark.parametrize(
    "document", [[], {"resourcePlans": []}, {"resourcePlans": {LIVE: {"steps": "update"}}}]
)
def test_a_plan_that_is_not_the_engine_format_is_refused(document: Any) -> None:
    with pytest.raises(PlanFormatError):
        planned_changes(document)


def test_a_switch_may_update_services_but_never_touch_a_deployment() -> None:
    switch = Ownership.of(
        ["flutter-app-live", "flutter-app-preview"], keeps=["flutter-app-blue", "flutter-app-green"]
    )
    assert check_plan(planned_changes(plan({LIVE: ["update"]})), switch).allowed
    refused = check_plan(planned_changes(plan({LIVE: ["update"], BLUE: ["update"]})), switch).refused
    assert refused == (
        "kubernetes:apps/v1:Deployment flutter-app-blue: update (this step must leave it as it is)",
    )


def test_anything_not_owned_may_be_updated_but_not_replaced_or_deleted() -> None:
    idle = Ownership.of(["flutter-app-green"], keeps=["flutter-app-blue"])
    assert check_plan(planned_changes(plan({GREEN: REPLACE, CONFIG: ["update"]})), idle).allowed
    refused = check_plan(planned_changes(plan({CONFIG: ["delete"]})), idle).refused
    assert refused == ("kubernetes:core/v1:ConfigMap production-config: delete (not part of this step)",)


def test_the_provider_and_the_namespace_are_replaced_only_when_explicitly_allowed() -> None:
    moved = planned_changes(plan({PROVIDER: REPLACE, NAMESPACE: REPLACE, LIVE: ["update"]}))
    for ownership in (Ownership.of(["cluster-k8s", "production-namespace"]), Ownership(owns_everything=True)):
        assert check_plan(moved, ownership).refused == (
            f"pulumi:providers:kubernetes cluster-k8s: {'/'.join(REPLACE)} {GUARDED}",
            f"kubernetes:core/v1:Namespace production-namespace: {'/'.join(REPLACE)} {GUARDED}",
        )
    assert check_plan(moved, Ownership(owns_everything=True, allow_guarded=True)).allowed
    # A provider update (a new kubeconfig path for the same cluster) is not a replacement.
    assert check_plan(planned_changes(plan({PROVIDER: ["update"]})), Ownership()).allowed
