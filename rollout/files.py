"""Paths a user names: what one is when it is not the file expected, and whether a command may
write where its options point, checked before the command probes, queries or renders anything.

A FIFO in a report's place blocks the write for ever, after the work is done; /dev/full, a
symbolic link loop, a directory where a file goes or a file where a directory goes fail it, after
the work and perhaps after other files were written. Refused up front instead: exit 2 naming the
option, nothing written. Missing directories are fine (the commands create them) as long as the
nearest one that exists is a writable directory.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from rollout.exit_codes import CommandError


def what_it_is(mode: int) -> str:
    """What a file of this ``st_mode`` is, for a message about a file that was expected to be
    something else."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a directory"
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    kind = next((name for test, name in kinds if test(mode)), "special")
    return f"{kind} (not a regular file)"


def absent(path: Path) -> bool:
    """Nothing at all at ``path``: not even a symbolic link (a loop or a dangling link is there,
    and says so when it is read, rather than being reported as missing)."""
    return not path.exists() and not path.is_symlink()


def _stat(path: Path) -> tuple[os.stat_result | None, str | None]:
    """(its stat, None), (None, None) when nothing is there, or (None, why it cannot be used)."""
    try:
        return path.stat(), None
    except (FileNotFoundError, NotADirectoryError):
        # NotADirectoryError: a file where one of its directories goes; the ancestor check names it.
        if path.is_symlink():
            return None, f"is a symbolic link to {os.readlink(path)}, which does not exist"
        return None, None
    except OSError as error:
        if error.errno == errno.ELOOP:
            # Not a link itself: the loop is in a directory above, which is checked too.
            return (None, "is a loop of symbolic links") if path.is_symlink() else (None, None)
        return None, f"cannot be used ({error.strerror or error})"


def _problem(path: Path, directory: bool) -> str | None:
    """Why ``path`` cannot be written as a file (or replaced as a directory); None when it can,
    or when nothing is there."""
    info, problem = _stat(path)
    if problem or info is None:
        return problem
    if not (stat.S_ISDIR if directory else stat.S_ISREG)(info.st_mode):
        return f"is {what_it_is(info.st_mode)}"
    if not os.access(path, os.W_OK | (os.X_OK if directory else 0)):
        return "is not writable"
    return None


def _refuse(option: str, named: Path, path: Path, problem: str, expected: str) -> CommandError:
    where = "" if path == named else f" {path}"
    return CommandError(f"{option} {named}:{where} {problem}; expected {expected}")


def _check_parent(option: str, named: Path, directory: Path) -> None:
    for candidate in (directory, *directory.parents):
        info, problem = _stat(candidate)
        if problem:
            raise _refuse(option, named, candidate, problem, "a writable directory")
        if info is None:
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise _refuse(option, named, candidate, f"is {what_it_is(info.st_mode)}", "a directory")
        if not os.access(candidate, os.W_OK | os.X_OK):
            raise _refuse(option, named, candidate, "is not writable", "a writable directory")
        return


def check_output_files(
    option: str, path: Path, next_to_it: Callable[[Path], Iterable[Path]] = lambda _path: ()
) -> None:
    """Refuse (CommandError, exit 2) unless ``path``, which ``option`` names, and the files the
    command writes ``next_to_it`` are each a regular file that may be written or nothing, in a
    directory that is, or can be created in, a writable one."""
    for candidate in (path, *next_to_it(path)):
        if problem := _problem(candidate, directory=False):
            raise _refuse(option, path, candidate, problem, "a regular file or a path where nothing is yet")
        _check_parent(option, path, candidate.parent)


def check_output_directory(option: str, directory: Path, entries: Iterable[str] = ()) -> None:
    """Refuse (CommandError, exit 2) unless ``directory`` is a writable directory or can be created
    in one, and each of its ``entries`` (which the command replaces) is a directory or absent."""
    _check_parent(option, directory, directory)
    for entry in (directory / name for name in entries):
        if problem := _problem(entry, directory=True):
            raise _refuse(option, directory, entry, problem, "a directory (it is replaced) or nothing")
