"""The credential formats this project recognises in a value, whatever key or field holds it: one
table, for the program's config checks, the gates, the command line's output and the policy pack.

Each format finds where its credentials are: the part ``redact`` hides, all of the credential
(padding, armour checksum and the rest of a user info included); what names it (``Bearer ``,
``key=``, a URL's scheme, a webhook's address) stays in view.

Every finder runs in time linear in the text: no nested or overlapping quantifiers, and each run of
a token's characters is entered only at its start (the look-behinds), so a 1 MB value is scanned
once, not once per position. Where a credential cannot be told by a regular expression alone (a
parameter by its name's words, user info up to the last ``@``) the finder resumes after each run it
read, never reading one twice. tests/unit/test_credentials.py times each against 2 MB inputs
built to defeat it.

Sources of the prefixes (facts, not code): AWS IAM identifiers (AKIA/ASIA... key ids, 40-character
secret access keys); GitHub's token prefixes (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_); GitLab's
tokens (glpat-, gldt-, ...); Slack's tokens (xox?-) and incoming-webhook URLs
(hooks.slack.com/services/...); OpenAI's API keys (sk-, sk-proj-, sk-svcacct-, sk-admin-); Google
API keys (AIza); Stripe keys (sk_live_, rk_live_); Azure Storage connection strings (AccountKey=,
SharedAccessSignature=); PEM and OpenPGP private key blocks; JSON Web Tokens; HTTP Bearer and Basic
credentials (RFC 6750, RFC 7617); user info in a URL (RFC 3986: up to the last ``@`` of the
authority); credentials passed as parameters.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from typing import Final

from credentials.names import PARAMETER_LAST_WORDS, parameter_holds_credential

Found = tuple[int, int, str]
"""Where a credential is in the text (start, end: what redact hides) and what it is."""
Finder = Callable[[str], Iterator[Found]]


def _tokens(prefixes: str, body: str, *, glued: bool = True) -> str:
    """A token: one of the space-separated ``prefixes``, then ``body``. The character before the
    prefix is no letter or digit, so a token is never found inside a word; a vendor's distinctive
    prefix may be glued to a name by '_' or '-' (prod_ghp_..., model-sk-proj-...), others not. The
    check follows the prefix, so that the prefix is searched for as a literal, not tried everywhere."""
    before = "[A-Za-z0-9]" if glued else "[A-Za-z0-9_-]"
    return "|".join(rf"{re.escape(p)}(?<!{before}[\s\S]{{{len(p)}}}){body}" for p in prefixes.split())


def _regex(
    kind: str, pattern: str, accept: Callable[[re.Match[str]], bool] | None = None
) -> tuple[str, Finder]:
    """A format found by ``pattern``; its group ``secret``, else the whole match, is the credential."""
    compiled = re.compile(pattern)
    group = "secret" if "secret" in compiled.groupindex else 0

    def find(text: str) -> Iterator[Found]:
        for match in compiled.finditer(text):
            if accept is None or accept(match):
                yield match.start(group), match.end(group), kind

    return kind, find


def _mixed(match: re.Match[str]) -> bool:
    # A git commit or a hex digest is 40 characters of one case: not an AWS secret access key.
    token = match.group()
    return (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    )


def _not_a_word(match: re.Match[str]) -> bool:
    # "Bearer credential", "bearer authentication": prose names the scheme; a token has digits or
    # signs, or is longer than a word.
    token = match["secret"]
    return len(token) >= 20 or not token.isalpha()


def _basic(match: re.Match[str]) -> bool:
    # "Basic authentication" is prose; Basic credentials decode to user:password (RFC 7617).
    token = match["secret"]
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    return ":" in decoded and decoded.isprintable()


# The authority ends at '/', '?', '#', whitespace or a quote; its user info runs to the last '@'
# in it (a password may hold a raw '@'), so the greedy run backtracks to that '@' only.
_URL_USER_INFO: Final = r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://(?P<secret>[^\s/?#\"'<>\\]+)@"

# user:password@host without a scheme (an image, a host): the run that holds it, up to its last
# '@' before a host name; the user starts the run or follows '=', ',', '(' or '['.
_HOST_RUN: Final = re.compile(r"(?<![^\s\"'/])[^\s\"'/]*@(?=[A-Za-z0-9-]+\.)")
# mailto:ops@example.com has the same shape and is an address, not a password.
_HOST_USER: Final = re.compile(r"(?<![^\s\"'/=,(\[])(?!(?:mailto|sips?|tel|xmpp|urn):)[A-Za-z0-9._~-]+:")


def _host_user_info(text: str) -> Iterator[Found]:
    for run in _HOST_RUN.finditer(text):
        at = run.end() - 1
        user = _HOST_USER.search(text, run.start(), at)
        if user is not None and user.end() < at:
            yield user.start(), at, "user info in an image or host (user:password@host)"


# A name is read whole (possessive: never re-read from a later start); only one ending in a word
# of PARAMETER_LAST_WORDS and followed by a value goes on to the word rule.
_PARAMETER_NAME: Final = re.compile(
    r"(?i)(?:(?<=[?&;#\s\"'])|^)(?P<name>[A-Za-z0-9_.-]++)(?==)(?:"
    + "|".join(f"(?<={word})" for word in PARAMETER_LAST_WORDS)
    + r")=(?=[^&;\s#\"'])"
)
# A value ends at '&', ';', '#', whitespace or a quote; a ':' or ',' ending it is the message's
# ("?access_token=...: connection refused"), not the value's.
_PARAMETER_VALUE: Final = re.compile(r"[^&;\s#\"']*")


def _parameters(text: str) -> Iterator[Found]:
    position = 0
    while (name := _PARAMETER_NAME.search(text, position)) is not None:
        position = name.end()
        if not parameter_holds_credential(name["name"]):
            continue
        value = _PARAMETER_VALUE.match(text, position)
        value_end = value.end() if value else position
        end = position + len(text[position:value_end].rstrip(":,"))
        if end > position:
            yield position, end, f"a credential parameter ({name['name']}=...)"
        position = value_end  # a name inside a hidden value is hidden with it, not read again


FORMATS: Final[tuple[tuple[str, Finder], ...]] = (
    _regex(
        "a private key",
        r"-----BEGIN (?:[A-Z0-9]+ )*(?:PRIVATE|SECRET) KEY(?: BLOCK)?-----(?:[^-]|-(?!----END))*"
        r"(?:-----END[^-\n]*-----)?",
    ),
    _regex("user info in a URL (scheme://user:password@host)", _URL_USER_INFO),
    ("user info in an image or host (user:password@host)", _host_user_info),
    _regex(
        "a Slack webhook URL",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9/_-]+)",
    ),
    _regex(
        "a JSON Web Token",
        _tokens("eyJ", r"[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", glued=False),
    ),
    # An access key id is upper case: it may follow a lowercase letter, never another capital.
    _regex(
        "an AWS access key id",
        r"A(?:KIA|SIA|IDA|ROA|BIA|CCA)(?<![A-Z0-9][\s\S]{4})[0-9A-Z]{16}(?![A-Z0-9])",
    ),
    _regex(
        "a GitHub token",
        _tokens("ghp_ gho_ ghu_ ghs_ ghr_", "[A-Za-z0-9]{36,}")
        + "|"
        + _tokens("github_pat_", "[A-Za-z0-9_]{22,}"),
    ),
    _regex("a GitLab token", _tokens("glpat- gldt- glrt- glcbt- glptt- glft-", "[A-Za-z0-9_-]{20,}")),
    _regex("a Slack token", _tokens("xoxa- xoxb- xoxp- xoxo- xoxs- xoxr-", "[A-Za-z0-9-]{10,}")),
    # A bare "sk-" also starts words (app-sk-...): glued to a name only with its longer prefixes.
    _regex(
        "an OpenAI API key",
        _tokens("sk-proj- sk-svcacct- sk-admin-", "[A-Za-z0-9_-]{20,}")
        + "|"
        + _tokens("sk-", "[A-Za-z0-9_-]{20,}", glued=False),
    ),
    _regex("a Google API key", _tokens("AIza", "[0-9A-Za-z_-]{35}")),
    _regex("a Stripe key", _tokens("sk_live_ rk_live_", "[0-9A-Za-z]{16,}")),
    _regex(
        "an Azure storage key",
        r"(?i)(?<![a-z])(?:AccountKey|SharedAccessKey|SharedAccessSignature)=(?P<secret>[^;\s\"']+)",
    ),
    _regex("a Bearer credential", r"(?i)(?<![a-z])bearer\s+(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)", _not_a_word),
    _regex(
        "a Basic credential",
        r"(?i)(?<![a-z])basic\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])",
        _basic,
    ),
    # 40 characters of the base64 alphabet mixing cases and digits; '=' may precede it
    # (AWS_SECRET_ACCESS_KEY=..., --secret-key=...), as it ends a name, not a base64 run.
    _regex("an AWS secret access key", r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", _mixed),
    ("a credential parameter", _parameters),
)
"""(what it is, where it is in a text), most specific first."""
