"""CONTRACT tests, against a stand-in `pulumi` CLI (tests/release/fakecli), of the two situations the
sandbox's real CLI cannot produce; everything else rollout does with the CLI is shown against the
real engine in tests/e2e.

* An approval answered at a terminal: the end-to-end tests run rollout without a terminal (and
  check that production then refuses without --yes); the prompt itself needs one.
* A history entry whose secret the CLI prints as ERROR_UNABLE_TO_DECRYPT: the passphrase provider
  here fails the whole `stack history --show-secrets` instead (seen in the sandbox, and covered
  there by the wrong-passphrase test); the per-entry marker comes from other secrets providers.
"""

from __future__ import annotations

from tests.release.conftest import FakeCli


def test_production_asks_after_the_preview_and_a_no_changes_nothing(fake: FakeCli) -> None:
    config = fake.stack("production")["config"]
    result = fake.run("rollback", "--stack", "production", "--previous", tty=True, answer="n\n")
    assert result.code == 2 and "[y/N]" in result.err and "not approved" in result.err
    # The question comes after the preview's changes, which it is about; a no puts the config back.
    assert result.err.index("preview plans") < result.err.index("[y/N]")
    assert fake.stack("production")["config"] == config and fake.up_messages() == []
    result = fake.run("rollback", "--stack", "production", "--previous", tty=True, answer="yes\n")
    assert result.code == 0 and fake.up_messages() == ["rollback to version 7 (from 8)"]


def test_undecryptable_secret_refuses_and_changes_nothing(fake: FakeCli) -> None:
    fake.edit(
        "production", lambda s: s["history"][2].__setitem__("undecryptable", ["flutter-app:firebaseApiKey"])
    )
    result = fake.run("rollback", "--stack", "production", "--previous", "--yes")
    assert result.code == 2
    assert "flutter-app:firebaseApiKey" in result.err and "PULUMI_CONFIG_PASSPHRASE" in result.err
    assert "nothing was changed" in result.err
    assert fake.writes() == []
