"""Entry point of the flutter-app policy pack, run by the Pulumi CLI (`--policy-pack policies`) or
in-process by `rollout render` (rollout/offline/policy.py). Everything is mandatory unless the
policy config (policies/config/ENV.json) says otherwise."""

from flutter_app_policies import POLICY_PACK_NAME, all_policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name=POLICY_PACK_NAME,
    policies=all_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
)
