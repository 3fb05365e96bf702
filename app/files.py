"""Reading files a user names: regular files only, opened once, read with a bound.

A size check before reading proves nothing: ``/dev/zero`` and a FIFO report
0 bytes, and a file can be swapped for a larger one between a check and a
read. So every user-named file (a context spec, an edited plan, a document
to ingest) is opened once, checked with ``fstat`` on that handle, and read
until the cap plus one byte at most: a file that grows past the cap is
refused while it is read, not before.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import InvalidInput

PATH_MAX = 4_096
JSON_DEPTH_MAX = 32
_CHUNK = 1 << 20


@dataclass(frozen=True)
class UserFile:
    """What was read: the bytes and the path as given (for messages and names)."""

    path: Path
    data: bytes


def _kind(mode: int) -> str | None:
    """Why a file of this mode cannot be read, or ``None`` for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def read_user_file(
    file_path: object, *, limit: int, what: str = "file", follow_symlinks: bool = True
) -> UserFile:
    """The bytes of a regular file, at most ``limit`` of them, or ``InvalidInput``.

    Anything but a regular file (directory, FIFO, device, socket, and a
    symbolic link when ``follow_symlinks`` is false) is refused without
    being read. The FIFO case is opened non-blocking, so it cannot hang.
    """
    if not isinstance(file_path, str | Path) or not 0 < len(str(file_path)) <= PATH_MAX:
        raise InvalidInput(f"{what} path must be 1 to {PATH_MAX} characters")
    shown = repr(str(file_path)) if len(str(file_path)) <= 80 else repr(str(file_path)[:77] + "...")
    if "\x00" in str(file_path):
        raise InvalidInput(f"{what} path {shown} contains a NUL character")
    path = Path(file_path).expanduser()
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        # Refuse what is plainly not a regular file before opening it (opening a
        # device can have effects); the fstat below is what counts.
        before = os.stat(path, follow_symlinks=follow_symlinks)
        if not follow_symlinks and stat.S_ISLNK(before.st_mode):
            raise InvalidInput(f"{what} {shown} is a symbolic link: give the file itself")
        if reason := _kind(before.st_mode):
            raise InvalidInput(f"{what} {shown} {reason}")
        fd = os.open(path, flags | (0 if follow_symlinks else os.O_NOFOLLOW))
    except FileNotFoundError:
        raise InvalidInput(f"no {what} {shown}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {shown}: {exc.strerror}") from None
    try:
        opened = os.fstat(fd)
        if reason := _kind(opened.st_mode):
            raise InvalidInput(f"{what} {shown} {reason}")
        too_large = f"{what} {shown} is too large: the limit is {limit:,} bytes"
        if opened.st_size > limit:
            raise InvalidInput(too_large)
        os.set_blocking(fd, True)
        parts: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew after the fstat: refused all the same
            raise InvalidInput(too_large)
        return UserFile(path, b"".join(parts))
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {shown}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _depth_within(value: Any, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` containers deep (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def parse_json(data: bytes | str, *, what: str, depth_max: int = JSON_DEPTH_MAX) -> Any:
    """Decode JSON a user gave, refusing invalid, non-UTF-8 or deeply nested documents."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text)
    except RecursionError:
        raise InvalidInput(f"{what} nests deeper than {depth_max} levels") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} is not UTF-8 text") from None
    except ValueError as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None
    if not _depth_within(value, depth_max):
        raise InvalidInput(f"{what} nests deeper than {depth_max} levels")
    return value


def read_json_file(file_path: object, *, limit: int, what: str) -> Any:
    """A user's JSON file, read bounded (``read_user_file``) and parsed (``parse_json``)."""
    found = read_user_file(file_path, limit=limit, what=what)
    return parse_json(found.data, what=f"{what} {str(file_path)[:80]!r}")
