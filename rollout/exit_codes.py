"""Exit codes of `rollout`, as DESIGN.md's command-line contract enumerates them."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    """A gate failed, a release was rolled back, or the command could not complete."""
    BAD_INPUT = 2
    """Bad arguments, spec or stack config."""
    POLICY_VIOLATION = 3
    INTERRUPTED = 130


class CommandError(Exception):
    """An expected failure: ``message`` goes to stderr (no traceback) and ``code`` is the exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code
