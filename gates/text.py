"""Characters that must never reach a terminal, a log or a report as they are: control characters
(C0, DEL and C1: an ESC or CSI sequence recolours or clears the screen), format characters (a
bidi override such as U+202E shows text in another order than it is) and lone surrogates (bytes of
a command line that are not UTF-8, which no terminal encoding can print).

Names (stacks, apps, gates, environment variables) with one are refused where they are read;
every line `rollout` prints is escaped with ``escape_hidden`` whatever slipped through. Pure.
"""

from __future__ import annotations

import unicodedata

_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def hidden_characters(text: str) -> list[str]:
    """The control and format characters in ``text``, escaped (``\\x1b``, ``\\u202e``), each once."""
    if text.isprintable():
        return []
    return list(dict.fromkeys(_escaped(char) for char in text if _hidden(char)))


def escape_hidden(text: str, keep: str = "") -> str:
    """``text`` with every control and format character but those in ``keep`` escaped."""
    lines = text.split("\n") if "\n" in keep else [text]
    return "\n".join(
        line
        if line.isprintable()
        else "".join(_escaped(c) if _hidden(c) and c not in keep else c for c in line)
        for line in lines
    )


def hidden_problem(text: str) -> str | None:
    """Why ``text`` cannot be a name that is shown (None when it can): names the characters."""
    found = hidden_characters(text)
    if not found:
        return None
    return (
        f"contains control or format characters ({', '.join(found[:5])}): an escape sequence or "
        "a bidi override would reach terminals and logs; expected printable characters"
    )
