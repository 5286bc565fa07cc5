"""The credential formats this project recognises in a value, whatever key or field holds it: one
table, for the program's config checks, the gates, the command line's output and the policy pack.

Each pattern's match is what ``redact`` hides. Every pattern runs in time linear in the text: no
nested or overlapping quantifiers, and each run of a token's characters is entered only at its
start (the look-behinds), so a 1 MB value is scanned once, not once per position.

Sources of the prefixes (facts, not code): AWS IAM identifiers (AKIA/ASIA... key ids, 40-character
secret access keys); GitHub's token prefixes (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_); GitLab's
personal access tokens (glpat-); Slack's tokens (xox?-) and incoming-webhook URLs
(hooks.slack.com/services/...); OpenAI's API keys (sk-, sk-proj-, sk-svcacct-); Google API keys
(AIza); Stripe keys (sk_live_, rk_live_); Azure Storage connection strings (AccountKey=,
SharedAccessSignature=); PEM and OpenPGP private key blocks; JSON Web Tokens; HTTP Bearer
credentials; user info in a URL; OAuth tokens in a URL's query or fragment.
"""

from __future__ import annotations

import re
from typing import Final

_TOKEN_START: Final = r"(?<![A-Za-z0-9_-])"
_BASE64_START: Final = r"(?<![A-Za-z0-9/+=])"

FORMATS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    (
        "a private key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[^-]|-(?!----END))*(?:-----END[^-\n]*-----)?"
        ),
    ),
    (
        "user info in a URL (scheme://user:password@host)",
        re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@]+@"),
    ),
    (
        "user info in an image or host (user:password@host)",
        # mailto:ops@example.com has the same shape and is an address, not a password.
        re.compile(
            r"(?<![^\s\"'=,(\[])(?!(?:mailto|sips?|tel|xmpp|urn):)[A-Za-z0-9._~-]+:[^\s/@\"']+@(?=[A-Za-z0-9-]+\.)"
        ),
    ),
    (
        "a Slack webhook URL",
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
    ),
    (
        "a JSON Web Token",
        re.compile(_TOKEN_START + r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    ),
    (
        "an AWS access key id",
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AIDA|AROA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Z0-9])"),
    ),
    (
        "a GitHub token",
        re.compile(_TOKEN_START + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    ),
    ("a GitLab token", re.compile(_TOKEN_START + r"gl(?:pat|dt|rt|cbt|ptt|ft)-[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(_TOKEN_START + r"xox[abposr]-[A-Za-z0-9-]{10,}")),
    ("an OpenAI API key", re.compile(_TOKEN_START + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    ("a Google API key", re.compile(_TOKEN_START + r"AIza[0-9A-Za-z_-]{35}")),
    ("a Stripe key", re.compile(_TOKEN_START + r"[sr]k_live_[0-9A-Za-z]{16,}")),
    (
        "an Azure storage key",
        re.compile(r"(?i)(?<![a-z])(?:AccountKey|SharedAccessKey|SharedAccessSignature)=[^;\s\"']+"),
    ),
    ("a Bearer credential", re.compile(r"(?i)(?<![a-z])bearer\s+[A-Za-z0-9._~+/-]{8,}=*")),
    (
        "a credential parameter",
        re.compile(
            r"(?i)(?:(?<=[?&;#\s])|^)(?:password|passwd|pwd|pass|secret|token|access_token|refresh_token|id_token|"
            r"client_secret|api_?key|key|sig|signature|x-amz-signature|x-amz-credential|auth)=[^&;\s#\"']+"
        ),
    ),
)
"""(what it is, the pattern that finds it), most specific first."""

AWS_SECRET_KEY: Final = re.compile(_BASE64_START + r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
"""40 characters of the base64 alphabet: an AWS secret access key when it mixes cases and digits
(a git commit or a hex digest is one case; see ``aws_secret_key``)."""


def aws_secret_key(text: str) -> re.Match[str] | None:
    for match in AWS_SECRET_KEY.finditer(text):
        token = match.group()
        if (
            any(c.isupper() for c in token)
            and any(c.islower() for c in token)
            and any(c.isdigit() for c in token)
        ):
            return match
    return None
