"""Which runs of a HealthGate continue the evidence of the previous one (components/health_gate.py):
the same canary image one step further, after a pass, not too long ago."""

from __future__ import annotations

from typing import Any

import pytest

from components.health_gate import MAX_CARRY_S, carried_steps

NOW = 1_000_000.0
BEFORE = {"verdict": "pass", "trigger": {"image": "app:2.0", "weight": 5}, "evidence": [NOW - 300]}


@pytest.mark.parametrize(
    ("olds", "trigger", "expected"),
    [
        (BEFORE, {"image": "app:2.0", "weight": 25}, (NOW - 300,)),
        (
            {**BEFORE, "evidence": [NOW - 300, NOW - 100]},
            {"image": "app:2.0", "weight": 50},
            (NOW - 300, NOW - 100),
        ),
        (BEFORE, {"image": "app:2.1", "weight": 25}, ()),  # another canary
        (BEFORE, {"image": "app:2.0", "weight": 5}, ()),  # not a step further
        (BEFORE, {"image": "app:2.0", "weight": 0}, ()),  # back (a rollback)
        ({**BEFORE, "verdict": None}, {"image": "app:2.0", "weight": 25}, ()),
        ({**BEFORE, "evidence": None}, {"image": "app:2.0", "weight": 25}, ()),  # an older state
        ({**BEFORE, "evidence": [NOW - MAX_CARRY_S - 1]}, {"image": "app:2.0", "weight": 25}, ()),
        ({**BEFORE, "trigger": "app:2.0"}, {"image": "app:2.0", "weight": 25}, ()),
        (BEFORE, {"image": "app:2.0"}, ()),  # a gate without weights (stable, live)
    ],
)
def test_evidence_is_carried_only_to_the_next_step_of_the_same_canary(
    olds: dict[str, Any], trigger: dict[str, Any], expected: tuple[float, ...]
) -> None:
    assert carried_steps(olds, {"trigger": trigger}, NOW) == expected
