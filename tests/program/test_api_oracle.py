"""The offline API-server rules the property test relies on (tests/support/apiserver.py) pass the
committed stacks and refuse each kind of object the API server would refuse."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from rollout.offline.render import manifests
from tests.support.apiserver import Refusals, quantity, semantic_refusals
from tests.support.project import ROOT, STACKS, run_stack

Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def production() -> list[Manifest]:
    return manifests(run_stack(ROOT, "production").resources)


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_stacks_pass(stack: str) -> None:
    assert Refusals()(manifests(run_stack(ROOT, stack).resources)) == []


def _first(objects: list[Manifest], kind: str) -> Manifest:
    return next(m for m in objects if m["kind"] == kind)


def _container(objects: list[Manifest]) -> dict[str, Any]:
    container: dict[str, Any] = _first(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return container


MUTATIONS: list[tuple[str, Callable[[list[Manifest]], None], str]] = [
    (
        "Service name starting with a digit",
        lambda o: _first(o, "Service")["metadata"].update(name="1web"),
        "not a DNS-1035 label",
    ),
    ("Service name of 64", lambda o: _first(o, "Service")["metadata"].update(name="s" * 64), "at most 63"),
    (
        "label value of 64",
        lambda o: _first(o, "ConfigMap")["metadata"]["labels"].update(x="v" * 64),
        "not a valid label value",
    ),
    (
        "label value ending in '-'",
        lambda o: _first(o, "ConfigMap")["metadata"]["labels"].update(x="v-"),
        "not a valid label value",
    ),
    (
        "namespace with capitals",
        lambda o: _first(o, "ConfigMap")["metadata"].update(namespace="Apps"),
        "DNS-1123",
    ),
    (
        "both zero",
        lambda o: _first(o, "Deployment")["spec"]["strategy"]["rollingUpdate"].update(
            maxSurge="00%", maxUnavailable=0
        ),
        "may not be 0 when maxSurge is 0",
    ),
    (
        "maxUnavailable 150%",
        lambda o: _first(o, "Deployment")["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable="150%"),
        "greater than 100%",
    ),
    (
        "memory in milli-bytes",
        lambda o: _container(o)["resources"]["limits"].update(memory="512m"),
        "not whole bytes",
    ),
    (
        "request above limit",
        lambda o: _container(o)["resources"]["requests"].update(cpu="2"),
        "less than or equal",
    ),
    (
        "limit above the LimitRange",
        lambda o: _container(o)["resources"]["limits"].update(cpu="3", memory="4Gi"),
        "LimitRange",
    ),
    (
        "bad quantity",
        lambda o: _container(o)["resources"]["limits"].update(cpu="1 CPU"),
        "not a valid quantity",
    ),
    ("env set twice", lambda o: _container(o)["env"].append({"name": "APP_NAME", "value": "x"}), "set twice"),
    (
        "selector not matching the template",
        lambda o: _first(o, "Deployment")["spec"]["selector"]["matchLabels"].update(app="other"),
        "selector does not match",
    ),
    (
        "fractional pods quota",
        lambda o: _first(o, "ResourceQuota")["spec"]["hard"].update(pods="1500m"),
        "integer",
    ),
    (
        "ConfigMap key with a space",
        lambda o: _first(o, "ConfigMap")["data"].update({"A B": "x"}),
        "key 'A B'",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_rule_refuses_what_the_api_server_refuses(
    production: list[Manifest], case: str, mutate: Callable[[list[Manifest]], None], expected: str
) -> None:
    objects = copy.deepcopy(production)
    mutate(objects)
    assert any(expected in problem for problem in semantic_refusals(objects)), (
        case,
        semantic_refusals(objects),
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", "0.25"),
        ("512Mi", str(512 * 2**20)),
        ("1e3", "1000"),
        ("100n", "1.00E-7"),
        ("1.5Gi", str(3 * 2**29)),
    ],
)
def test_quantities_parse_as_the_api_server_parses_them(text: str, value: str) -> None:
    from decimal import Decimal

    assert quantity(text) == Decimal(value)
    assert quantity("1 Gi") is None and quantity("Mi") is None
