"""The one credential detector (credentials/), per format: each is found in a value whatever holds
it, redacted to a text that names what it was and no longer holds it, in time linear in the text;
and look-alikes that are not credentials are left alone. Example values are the vendors'
documented placeholders or made of repeated characters, assembled here so that no scanner takes
this file for a leak."""

from __future__ import annotations

import importlib
import io
import time
from pathlib import Path

import pytest

import credentials
from credentials import credential_in_value, looks_like_credential, mask, parameter_holds_credential, redact
from rollout.cli import main
from tests.policies.builders import PACK
from tests.support.project import ROOT

AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documentation example
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"  # AWS's documentation example
GH = "ghp_" + "aB3" * 12
OPENAI = "sk-proj-" + "dE5" * 14
BASIC = "dXNlcjpwYXNz" + "d29yZDEyMw=="  # base64 of user:password123
BEARER = "c2VjcmV0dG9r" + "ZW4xMjM0NTY3OA=="  # base64 padding: "=" inside the credential
R = "[redacted]"
FORMATS = [  # (what it is, a value holding it, the value redacted: nothing of the credential left)
    (
        "a private key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + "A" * 40 + "==\n-----END RSA PRIVATE KEY-----",
        R,
    ),
    (
        "a private key",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQ"
        + "B" * 40
        + "\n=Xy1z\n-----END PGP PRIVATE KEY BLOCK-----",
        R,
    ),
    ("a private key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF=\n-----END ENCRYPTED PRIVATE KEY-----", R),
    (
        "user info in a URL (scheme://user:password@host)",
        "postgres://app:hunter2@db.example.com/app",
        f"postgres://{R}@db.example.com/app",
    ),
    (  # RFC 3986: the user info runs to the last '@' of the authority
        "user info in a URL (scheme://user:password@host)",
        "http://admin:p@ssW0rdXYZ@127.0.0.1:9/h",
        f"http://{R}@127.0.0.1:9/h",
    ),
    (
        "user info in a URL (scheme://user:password@host)",
        "https://ci:pa=ss@git.example.com?x=1",
        f"https://{R}@git.example.com?x=1",
    ),
    (
        "user info in an image or host (user:password@host)",
        "deploy:hunter2@registry.example.com/app:1.0",
        f"{R}@registry.example.com/app:1.0",
    ),
    (
        "user info in an image or host (user:password@host)",
        "IMAGE=deploy:p@ss=w0rd@registry.example.com/app:1.0",
        f"IMAGE={R}@registry.example.com/app:1.0",
    ),
    (
        "a Slack webhook URL",
        "https://hooks.slack.com/services/T0000/B0000/" + "X" * 24,
        f"https://hooks.slack.com/services/{R}",
    ),
    ("a JSON Web Token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", R),
    ("an AWS access key id", AWS_ID, R),
    ("an AWS access key id", "ghcr.io/example/flutter-app:" + AWS_ID, f"ghcr.io/example/flutter-app:{R}"),
    ("an AWS access key id", "prod_" + AWS_ID, f"prod_{R}"),
    ("an AWS secret access key", AWS_SECRET, R),
    ("an AWS secret access key", "AWS_SECRET_ACCESS_KEY=" + AWS_SECRET, f"AWS_SECRET_ACCESS_KEY={R}"),
    ("an AWS secret access key", "--secret-key=" + AWS_SECRET, f"--secret-key={R}"),
    ("a GitHub token", GH, R),
    ("a GitHub token", "prod_" + GH, f"prod_{R}"),
    ("a GitHub token", "github_pat_" + "b" * 30, R),
    ("a GitLab token", "glpat-" + "c" * 20, R),
    ("a GitLab token", "ci-glpat-" + "c" * 20, f"ci-{R}"),
    ("a Slack token", "xoxb-" + "1" * 12 + "-abc", R),
    ("an OpenAI API key", OPENAI, R),
    ("an OpenAI API key", "model-" + OPENAI, f"model-{R}"),
    ("an OpenAI API key", "sk-" + "d" * 48, R),
    ("a Google API key", "AIza" + "e" * 35, R),
    ("a Stripe key", "sk_live_" + "f" * 24, R),
    (
        "an Azure storage key",
        "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + "g" * 40 + "==;",
        f"DefaultEndpointsProtocol=https;AccountName=x;AccountKey={R};",
    ),
    ("a Bearer credential", "Bearer " + BEARER, f"Bearer {R}"),
    ("a Bearer credential", "Authorization: bearer " + "h" * 32, f"Authorization: bearer {R}"),
    ("a Basic credential", "Authorization: Basic " + BASIC, f"Authorization: Basic {R}"),
    (
        "a credential parameter (access_token=...)",
        "https://app.example.com/cb#access_token=" + "i" * 20,
        f"https://app.example.com/cb#access_token={R}",
    ),
    (
        "a credential parameter (refresh_token=...)",
        "https://app.example.com/cb?refresh_token=" + "j" * 20 + "&x=1",
        f"https://app.example.com/cb?refresh_token={R}&x=1",
    ),
    (  # the value ends at the message's ':'; the message stays
        "a credential parameter (access_token=...)",
        "GET https://api.example.com/?access_token=abc: connection refused",
        f"GET https://api.example.com/?access_token={R}: connection refused",
    ),
    (
        "a credential parameter (accessToken=...)",
        "https://x.example.com/?accessToken=k1",
        f"https://x.example.com/?accessToken={R}",
    ),
    (
        "a credential parameter (auth_token=...)",
        "https://x.example.com/?a=1&auth_token=k2",
        f"https://x.example.com/?a=1&auth_token={R}",
    ),
    (
        "a credential parameter (private_token=...)",
        "https://gl.example.com/api?private_token=k3",
        f"https://gl.example.com/api?private_token={R}",
    ),
    (
        "a credential parameter (X-Amz-Security-Token=...)",
        "https://b.s3.amazonaws.com/o?X-Amz-Date=1&X-Amz-Security-Token=FwoGZXIvYXdzE%2F&X-Amz-Signature=9f",
        f"https://b.s3.amazonaws.com/o?X-Amz-Date=1&X-Amz-Security-Token={R}&X-Amz-Signature={R}",
    ),
    (
        "a credential parameter (sig=...)",
        "https://a.blob.core.windows.net/c?sv=2022&sig=k4%3D",
        f"https://a.blob.core.windows.net/c?sv=2022&sig={R}",
    ),
    (
        "a credential parameter (key=...)",
        "https://maps.example.com/api?v=3&key=abc123",
        f"https://maps.example.com/api?v=3&key={R}",
    ),
    ("a credential parameter (Password=...)", "Server=db;Password=hunter2;", f"Server=db;Password={R};"),
    (
        "a credential parameter (--db-password=...)",
        "run --db-password=hunter2 now",
        f"run --db-password={R} now",
    ),
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
    "app-sk-production-deployment-blue",  # a bare "sk-" glued to a word is a word
    "sk-short",
    "Basic authentication is required",
    "a Bearer credential: bearer authentication",
    "https://api.example.com/items?page_token=CiAKGjBp&nextPageToken=Nz&max_tokens=100&token_type=bearer",
    "https://api.example.com/items?sort_key=name&publicKey=abc&secret_name=db&monkey=1&bypass=on",
    "json",
    "",
]


@pytest.mark.parametrize(
    ("kind", "value", "redacted"), FORMATS, ids=[f"{i}-{kind}" for i, (kind, _, _) in enumerate(FORMATS)]
)
def test_each_format_is_found_wherever_it_sits_and_redacted_whole(
    kind: str, value: str, redacted: str
) -> None:
    for text in (value, f"prefix {value} suffix", f'{{"field": "{value}"}}'):
        assert credential_in_value(text) == kind, text
    assert redact(value) == redacted
    assert redact(f"prefix {value} suffix") == f"prefix {redacted} suffix"
    assert credential_in_value(redacted) is None, redacted
    assert redact(redacted) == redacted
    # What a message says was found stays readable (its example in parentheses may not).
    assert redact(kind).split(" (")[0] == kind.split(" (")[0]


@pytest.mark.parametrize("value", NOT_CREDENTIALS)
def test_look_alikes_are_left_alone(value: str) -> None:
    assert credential_in_value(value) is None
    assert redact(value) == value


def test_an_unterminated_key_block_is_hidden_to_the_end() -> None:
    assert redact("key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn=\nAAAA") == "key: [redacted]"


def test_redaction_keeps_what_names_the_credential() -> None:
    assert redact("postgres://app:hunter2@db/app") == "postgres://[redacted]@db/app"
    assert redact("https://x/?password=hunter2&a=1") == "https://x/?password=[redacted]&a=1"
    assert redact("Authorization: Bearer abcdef123456") == "Authorization: Bearer [redacted]"
    assert mask("token is s3cr3t-value", ["s3cr3t-value"]) == "token is [secret]"


@pytest.mark.parametrize("size", [100_000, 2_000_000])
@pytest.mark.parametrize(
    "filler",
    [
        *("a", "a:", "A/+", "ab.", "-----BEGIN RSA PRIVATE KEY-----", "x://", "eyJ", "bearer ", "key="),
        # the user info of a URL or an image, up to its last '@'
        *("=a:", ",a:", "a:b@c.d ", "x://a@", "x://@", "@a.", "a:@"),
        # parameters: names read once, values skipped once read
        *("&a=", "&key=", "&key=a", "?page_token=", "&password", "X-Amz-Security-Token", "token=:"),
        # tokens glued to a name, Basic credentials
        *(
            "_ghp_",
            "-sk-proj-",
            "-glpat-",
            "_github_pat_",
            "basic ",
            "Basic " + BASIC + " ",
            "=" + AWS_SECRET,
        ),
    ],
)
def test_every_check_is_linear_in_the_text(size: int, filler: str) -> None:
    text = (filler * (size // len(filler) + 1))[:size]
    started = time.perf_counter()
    credential_in_value(text)
    redact(text)
    # Linear: about a second per 2 MB here, under load; quadratic took minutes per megabyte.
    assert time.perf_counter() - started < 5.0


PARAMETERS = {
    True: [
        *("access_token", "accessToken", "auth_token", "private_token", "X-Amz-Security-Token", "id_token"),
        *("X-Amz-Signature", "X-Amz-Credential", "sig", "key", "apiKey", "client_secret", "--secret-key"),
        *("AWS_SECRET_ACCESS_KEY", "Password", "pwd", "passphrase", "auth", "csrf_token"),
    ],
    False: [
        *("page_token", "pageToken", "nextPageToken", "continuation_token", "token_type", "max_tokens"),
        *("sort_key", "publicKey", "secret_name", "keyboard", "monkey", "bypass", "signed", ""),
    ],
}


def test_parameter_names_that_hold_a_credential() -> None:
    assert {name: parameter_holds_credential(name) for names in PARAMETERS.values() for name in names} == {
        name: holds for holds, names in PARAMETERS.items() for name in names
    }


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


IMAGE = "ghcr.io/example/flutter-app"
# `rollout release`'s free-text values become config (apps.<app>.image) and fill its messages: each
# gets the checks of that config. (case, arguments, what the message says, what it may not repeat)
RELEASE_ARGUMENTS = [
    (
        "an AWS key id as the tag",
        ["--image", f"{IMAGE}:{AWS_ID}"],
        "--image: holds an AWS access key id",
        AWS_ID,
    ),
    (
        "a GitHub token as the tag",
        ["--image", f"{IMAGE}:{GH[:40]}"],
        "--image: holds a GitHub token",
        GH[4:40],
    ),
    (
        "user info in the image",
        ["--image", "deploy:hunter2@registry.example.com/app:1.0"],
        "--image: holds user info in an image or host",
        "hunter2",
    ),
    (
        "a 100 KB image",
        ["--image", f"{IMAGE}:" + "x" * 100_000],
        "--image: is 100028 characters long",
        "x" * 200,
    ),
    (
        "a long invalid image",
        ["--image", f"{IMAGE}:" + "y" * 300],
        "(the first 100 of 328 characters): expected an image reference REPOSITORY:TAG",
        "y" * 101,
    ),
    (
        "an AWS key id as the app",
        ["--image", f"{IMAGE}:1.5.0", "--app", AWS_ID],
        "--app: holds an AWS access key id",
        AWS_ID,
    ),
    (
        "a 100 KB app",
        ["--image", f"{IMAGE}:1.5.0", "--app", "z" * 100_000],
        "--app: is 100000 characters long",
        "z" * 200,
    ),
    (
        "an app that is no name",
        ["--image", f"{IMAGE}:1.5.0", "--app", "Flutter_App"],
        '--app "Flutter_App": expected a lowercase RFC 1035 label',
        None,
    ),
]


@pytest.mark.parametrize(
    ("case", "arguments", "message", "hidden"), RELEASE_ARGUMENTS, ids=[r[0] for r in RELEASE_ARGUMENTS]
)
def test_release_arguments_get_the_checks_of_the_config_they_become(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    arguments: list[str],
    message: str,
    hidden: str | None,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `pulumi`: a dry run plans from the stack file
    out, err = io.StringIO(), io.StringIO()
    code = main(["--cwd", str(ROOT), "release", "--stack", "dev", "--dry-run", *arguments], out=out, err=err)
    assert code == 2, f"{case}: {err.getvalue()[:500]}"
    assert out.getvalue() == ""
    assert message in err.getvalue()
    assert len(err.getvalue()) < 1000, "a long value is shown truncated"
    if hidden is not None:
        assert hidden not in err.getvalue()
