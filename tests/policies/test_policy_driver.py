"""The offline driver itself (rollout.offline.policy): the pack's real __main__.py loaded with its
gRPC plumbing replaced, the policy config reconciled as the CLI does it, engine-encoded inputs
(secrets, unknowns, internal keys), clear errors for broken packs, and no damage to Pulumi's
global runtime state."""

from __future__ import annotations

import contextvars
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import config as runtime_config
from pulumi.runtime import rpc, settings

from rollout.offline.engine import ProgramRun
from rollout.offline.policy import (
    PolicyConfigEntry,
    PolicyPackError,
    Violation,
    analyze,
    check_policies,
    load_policy_config,
    to_wire,
)
from tests.policies.builders import (
    NAMESPACE,
    PACK,
    check,
    container,
    deployment,
    messages,
    pack_copy,
    pdb,
    pod,
    service,
)
from tests.support.project import ROOT, STACKS, run_stack

POLICY_NAMES = [
    "container-resources",
    "container-probes",
    "image-pinned",
    "pod-run-as-non-root",
    "no-privileged-containers",
    "no-host-namespaces",
    "no-host-path-volumes",
    "load-balancer-services",
    "no-plaintext-credentials",
    "istio-route-weights",
    "gateway-route-weights",
    "eks-control-plane-logging",
    "eks-private-endpoint",
    "eks-node-group-sizing",
    "production-min-replicas",
    "production-pod-disruption-budget",
    "gateway-route-parent",
    "gateway-route-backends",
    "istio-subsets-defined",
]


# --- config files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", STACKS)
def test_each_environment_config_sets_every_policy(environment: str) -> None:
    document = json.loads((PACK / "config" / f"{environment}.json").read_text())
    assert document["all"] == ("advisory" if environment in ("dev", "test") else "mandatory")
    assert sorted(k for k in document if k != "all") == sorted(POLICY_NAMES)
    assert {entry["environment"] for k, entry in document.items() if k != "all"} == {environment}
    assert document["load-balancer-services"]["allowLoadBalancer"] is (environment in ("dev", "test"))
    assert document["production-min-replicas"]["minProductionReplicas"] == 2


def test_levels_come_from_the_config(tmp_path: Path) -> None:
    latest = [deployment(pod_spec=pod([container(image="web:latest")])), service(), pdb()]
    assert [v.level for v in check(latest, "dev")] == ["advisory"]
    assert [v.level for v in check(latest, "staging")] == ["mandatory"]
    # A per-policy level wins over "all"; "disabled" turns a policy off.
    config = load_policy_config(PACK / "config" / "production.json")
    config["image-pinned"] = PolicyConfigEntry("advisory", config["image-pinned"].properties)
    assert [v.level for v in analyze(latest, PACK, config)] == ["advisory"]
    config["image-pinned"] = PolicyConfigEntry("disabled", {})
    assert analyze(latest, PACK, config) == []


def test_without_config_the_pack_is_mandatory_and_as_strict_as_production() -> None:
    def without_stack_config() -> list[Violation]:
        runtime_config.CONFIG.set({})  # in this copied context only: no stack config to fall back on
        return analyze([deployment(replicas=1), service()], PACK, None)

    violations = contextvars.copy_context().run(without_stack_config)
    assert {(v.policy, v.level) for v in violations} == {
        ("production-min-replicas", "mandatory"),
        ("production-pod-disruption-budget", "mandatory"),
    }


def test_without_an_environment_property_the_stack_config_decides() -> None:
    # The CLI passes the stack's config to the pack; the program's run leaves it in place here.
    run = run_stack(ROOT, "dev")
    one_replica = [deployment(replicas=1), service()]
    assert analyze([*run.resources, *one_replica], PACK, {"all": PolicyConfigEntry("mandatory")}) == []


def test_config_errors_name_the_policy_and_property(tmp_path: Path) -> None:
    with pytest.raises(PolicyPackError, match="does not have: image-pined"):
        analyze([], PACK, {"image-pined": PolicyConfigEntry(None, {"environment": "dev"})})
    with pytest.raises(PolicyPackError) as error:
        analyze(
            [],
            PACK,
            {
                "image-pinned": PolicyConfigEntry(None, {"environment": "prod"}),
                "production-min-replicas": PolicyConfigEntry(None, {"minProductionReplicas": 0}),
                "load-balancer-services": PolicyConfigEntry(None, {"allowLoadBalancer": "no"}),
            },
        )
    assert str(error.value).splitlines() == [
        "invalid policy config:",
        '  - image-pinned: environment: "prod" is not one of dev, test, staging, production',
        '  - load-balancer-services: allowLoadBalancer: expected boolean, got "no"',
        "  - production-min-replicas: minProductionReplicas: 0 is below the minimum 1",
    ]
    bad = tmp_path / "bad.json"
    bad.write_text('{"all": "strict"}')
    with pytest.raises(PolicyPackError, match="'strict' is not a valid enforcement level"):
        load_policy_config(bad)
    with pytest.raises(
        PolicyPackError, match=r"no policy config for environment 'qa'.*dev, production, staging, test"
    ):
        check_policies(ProgramRun(), "qa", PACK)


# --- what the pack is given -----------------------------------------------------------------------


def test_the_wire_encoding_keeps_secrets_marks_unknowns_and_drops_internal_keys() -> None:
    secret = {rpc._special_sig_key: rpc._special_secret_sig, "value": {"x": 1}}
    assert to_wire({"__provider": "p", "a": [Unknown(), secret], "b": {"__x": 1, "c": 2.0}}) == {
        "a": [rpc.UNKNOWN, secret],
        "b": {"c": 2.0},
    }


def test_secret_inputs_are_analysed_in_plaintext() -> None:
    # A secret env value makes the whole Deployment spec secret on the wire.
    plain = deployment(pod_spec=pod([container(image="web:latest")]))
    inputs = dict(plain.inputs)
    inputs["spec"] = {rpc._special_sig_key: rpc._special_secret_sig, "value": inputs["spec"]}
    secret = dataclasses.replace(plain, inputs=inputs)
    assert messages(check([secret, service(), pdb()]), "image-pinned") == [
        f"Deployment {NAMESPACE}/web: containers[0] (web) image web:latest uses the tag 'latest'; "
        "pin a version tag or a digest"
    ]


def test_values_unknown_during_preview_are_skipped_not_fatal() -> None:
    unknown_image = deployment(pod_spec=pod([container(image=Unknown()), container("b", image="b:latest")]))
    unknown_namespace = deployment("api", namespace=Unknown())  # type: ignore[arg-type]
    unknown_spec = dataclasses.replace(
        unknown_image, name="x", urn="urn:x", inputs={**unknown_image.inputs, "spec": Unknown()}
    )
    violations = check([unknown_image, unknown_namespace, unknown_spec, service(), pdb()])
    # The known container is still judged; nothing crashes; nothing unknown is called a violation.
    assert [(v.policy, v.message) for v in violations] == [
        (
            "image-pinned",
            f"Deployment {NAMESPACE}/web: containers[1] (b) image b:latest uses the tag 'latest'; "
            "pin a version tag or a digest",
        )
    ]


def test_the_pack_reports_its_policies_to_the_engine() -> None:
    # GetAnalyzerInfo through the same loader: the names the README and the configs use.
    from rollout.offline import policy

    session = policy._Session(PACK.resolve(), [], {})
    info = policy._run_isolated(lambda: session._load().GetAnalyzerInfo(None, None), 30, session)
    assert info.name == "flutter-app-policies"
    assert [p.name for p in info.policies] == POLICY_NAMES
    assert {p.name for p in info.policies if p.policy_type == 2} == {
        "production-min-replicas",
        "production-pod-disruption-budget",
        "istio-subsets-defined",
        "gateway-route-parent",
        "gateway-route-backends",
    }


# --- broken packs ---------------------------------------------------------------------------------

PACK_HEADER = """
import time
from pulumi_policy import PolicyPack, ResourceValidationPolicy, StackValidationPolicy
"""


def test_a_policy_that_raises_is_a_clear_error(tmp_path: Path) -> None:
    pack = pack_copy(
        tmp_path,
        PACK_HEADER
        + """
def explode(args, report_violation):
    raise KeyError("template")

PolicyPack("crashy", [ResourceValidationPolicy("explodes", "Explodes.", explode)])
""",
    )
    with pytest.raises(PolicyPackError) as error:
        analyze([deployment()], pack)
    assert str(error.value) == (
        f"a policy of the pack in {pack} raised while analysing kubernetes:apps/v1:Deployment web-deployment: "
        "KeyError: 'template' (at pack/__main__.py:6 in explode)"
    )


def test_a_policy_that_never_returns_times_out(tmp_path: Path) -> None:
    pack = pack_copy(
        tmp_path,
        PACK_HEADER
        + """
def stuck(args, report_violation):
    time.sleep(5)

PolicyPack("stuck", [StackValidationPolicy("waits", "Waits.", stuck)])
""",
    )
    started = time.monotonic()
    with pytest.raises(PolicyPackError, match=r"did not finish within 0.3 s \(still analysing the stack\)"):
        analyze([deployment()], pack, timeout=0.3)
    assert time.monotonic() - started < 2


def test_a_pack_that_fails_to_load_or_builds_no_pack_is_a_clear_error(tmp_path: Path) -> None:
    pack = pack_copy(tmp_path, "import no_such_module_here\n")
    with pytest.raises(PolicyPackError, match="failed to load: ModuleNotFoundError: No module named"):
        analyze([], pack)
    (pack / "__main__.py").write_text("x = 1\n")
    with pytest.raises(PolicyPackError, match="did not create a PolicyPack"):
        analyze([], pack)
    with pytest.raises(PolicyPackError, match="no policy pack in"):
        analyze([], tmp_path)


def test_a_copy_of_the_pack_in_another_directory_runs_its_own_code(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "policies"
    shutil.copytree(PACK, copy, ignore=shutil.ignore_patterns("__pycache__"))
    rules = copy / "flutter_app_policies" / "kubernetes.py"
    rules.write_text(rules.read_text().replace("uses the tag 'latest'", "is LATEST"))
    latest = [deployment(pod_spec=pod([container(image="web:latest")])), service(), pdb()]
    assert messages(analyze(latest, copy, None))[0].endswith(
        "image web:latest is LATEST; pin a version tag or a digest"
    )
    assert messages(check(latest))[0].endswith("uses the tag 'latest'; pin a version tag or a digest")


# --- global state ---------------------------------------------------------------------------------


def runtime_state() -> dict[str, Any]:
    return {
        "monitor": settings.SETTINGS.monitor,
        "engine": settings.SETTINGS.engine,
        "project": pulumi.get_project(),
        "stack": pulumi.get_stack(),
        "dry_run": settings.SETTINGS.dry_run,
        "outputs": settings.SETTINGS.outputs,
        "config": runtime_config.CONFIG.get(),
        "config_items": dict(runtime_config.CONFIG.get()),
        "secret_keys": set(runtime_config._SECRET_KEYS.get()),
    }


def test_runtime_settings_and_config_are_left_as_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_stack(ROOT, "staging")
    # With these set, the servicer reconfigures Pulumi's runtime on every call (as in the engine).
    monkeypatch.setenv("PULUMI_PROJECT", "other")
    monkeypatch.setenv("PULUMI_STACK", "elsewhere")
    monkeypatch.setenv("PULUMI_DRY_RUN", "false")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"other:key": "value"}))
    before = runtime_state()
    assert check_policies(run, "staging", PACK) == []
    after = runtime_state()
    assert after == before
    assert after["config"] is before["config"]
    # The program still runs afterwards, in the same process.
    monkeypatch.delenv("PULUMI_CONFIG")
    assert len(run_stack(ROOT, "production").resources) > 0
