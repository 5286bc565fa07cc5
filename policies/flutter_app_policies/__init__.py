"""The flutter-app CrossGuard policies, one named validator per rule (see policies/README.md)."""

from flutter_app_policies.pack import POLICY_PACK_NAME, all_policies

__all__ = ["POLICY_PACK_NAME", "all_policies"]
