"""The one credential detector (credentials/), per format: each is found in a value whatever holds
it, redacted to a text that names what it was and no longer holds it, in time linear in the text;
and look-alikes that are not credentials are left alone. Example values are the vendors'
documented placeholders or made of repeated characters, assembled here so that no scanner takes
this file for a leak."""

from __future__ import annotations

import importlib
import time

import pytest

import credentials
from credentials import credential_in_value, looks_like_credential, mask, redact
from tests.policies.builders import PACK

AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documentation example
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"  # AWS's documentation example
FORMATS = [  # (what it is, a value holding it, the part that must not survive redaction)
    (
        "a private key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + "A" * 40 + "\n-----END RSA PRIVATE KEY-----",
        "MIIEow",
    ),
    (
        "a private key",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQ" + "B" * 40 + "\n-----END PGP PRIVATE KEY BLOCK-----",
        "BBBB",
    ),
    ("a private key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn", "b3Blbn"),
    (
        "user info in a URL (scheme://user:password@host)",
        "postgres://app:hunter2@db.example.com/app",
        "hunter2",
    ),
    (
        "user info in an image or host (user:password@host)",
        "deploy:hunter2@registry.example.com/app:1.0",
        "hunter2",
    ),
    ("a Slack webhook URL", "https://hooks.slack.com/services/T0000/B0000/" + "X" * 24, "X" * 24),
    ("a JSON Web Token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "c2lnbmF0dXJl"),
    ("an AWS access key id", AWS_ID, AWS_ID),
    ("an AWS secret access key", AWS_SECRET, AWS_SECRET[-12:]),
    ("a GitHub token", "ghp_" + "a" * 36, "a" * 36),
    ("a GitHub token", "github_pat_" + "b" * 30, "b" * 30),
    ("a GitLab token", "glpat-" + "c" * 20, "c" * 20),
    ("a Slack token", "xoxb-" + "1" * 12 + "-abc", "1" * 12),
    ("an OpenAI API key", "sk-proj-" + "d" * 40, "d" * 40),
    ("a Google API key", "AIza" + "e" * 35, "e" * 35),
    ("a Stripe key", "sk_live_" + "f" * 24, "f" * 24),
    (
        "an Azure storage key",
        "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + "g" * 40 + "==;",
        "g" * 40,
    ),
    ("a Bearer credential", "Bearer " + "h" * 32, "h" * 32),
    (
        "a credential parameter (access_token=...)",
        "https://app.example.com/cb#access_token=" + "i" * 20,
        "i" * 20,
    ),
    (
        "a credential parameter (refresh_token=...)",
        "https://app.example.com/cb?refresh_token=" + "j" * 20 + "&x=1",
        "j" * 20,
    ),
    ("a credential parameter (key=...)", "https://maps.example.com/api?v=3&key=abc123", "abc123"),
    ("a credential parameter (Password=...)", "Server=db;Password=hunter2;", "hunter2"),
]
NOT_CREDENTIALS = [
    "ops@example.com",
    "mailto:ops@example.com",
    "https://app.example.com/base?x=1",
    "ghcr.io/example/flutter-app:1.5.0",
    "ghcr.io/example/flutter-app@sha256:" + "0" * 64,
    "registry.example.com:5000/app@sha256:" + "1" * 64,
    "5dd1e8e43f1d38e7919dd3af79d5076d9a9126a7",  # a git commit: 40 characters, one case
    "keyboard=us",
    "skeleton-key-holder",
    "sk-short",
    "json",
    "",
]


@pytest.mark.parametrize(
    ("kind", "value", "secret"), FORMATS, ids=[f"{i}-{kind}" for i, (kind, _, _) in enumerate(FORMATS)]
)
def test_each_format_is_found_wherever_it_sits_and_redacted(kind: str, value: str, secret: str) -> None:
    for text in (value, f"prefix {value} suffix", f'{{"field": "{value}"}}'):
        assert credential_in_value(text) == kind, text
    hidden = redact(f"prefix {value} suffix")
    assert credential_in_value(hidden) is None, hidden
    assert "[redacted]" in hidden and hidden.startswith("prefix ")
    assert secret not in hidden


@pytest.mark.parametrize("value", NOT_CREDENTIALS)
def test_look_alikes_are_left_alone(value: str) -> None:
    assert credential_in_value(value) is None
    assert redact(value) == value


def test_redaction_keeps_what_names_the_credential() -> None:
    assert redact("postgres://app:hunter2@db/app") == "postgres://[redacted]@db/app"
    assert redact("https://x/?password=hunter2&a=1") == "https://x/?password=[redacted]&a=1"
    assert redact("Authorization: Bearer abcdefghijkl") == "Authorization: Bearer [redacted]"
    assert mask("token is s3cr3t-value", ["s3cr3t-value"]) == "token is [secret]"


@pytest.mark.parametrize("size", [100_000, 2_000_000])
@pytest.mark.parametrize(
    "filler", ["a", "a:", "A/+", "ab.", "-----BEGIN RSA PRIVATE KEY-----", "x://", "eyJ", "bearer ", "key="]
)
def test_every_check_is_linear_in_the_text(size: int, filler: str) -> None:
    text = (filler * (size // len(filler) + 1))[:size]
    started = time.perf_counter()
    credential_in_value(text)
    redact(text)
    # Linear: a few tens of milliseconds per megabyte here; quadratic took minutes per megabyte.
    assert time.perf_counter() - started < 5.0


NAMES = {
    True: ["DATABASE_PASSWORD", "dbPasswd", "apiKey", "FIREBASE_API_KEY", "client_secret", "GITHUB_TOKEN"],
    False: ["API_BASE_URL", "SECRET_NAME", "PASSWORD_FILE", "TOKEN_URL", "KEYBOARD_LAYOUT", "MONKEY", ""],
}


def test_names_that_hold_a_credential_and_names_that_refer_to_one() -> None:
    assert {name: looks_like_credential(name) for names in NAMES.values() for name in names} == {
        name: holds for holds, names in NAMES.items() for name in names
    }


def test_the_policy_pack_uses_this_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PACK))  # as the pack runs: its own directory on the path
    pack = importlib.import_module("flutter_app_policies.kubernetes")
    assert pack.credential_in_value is credentials.credential_in_value
    assert pack.looks_like_credential is credentials.looks_like_credential
