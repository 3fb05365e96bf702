"""The bundle file: a tar archive compressed with Zstandard, read as if it were hostile.

``write_bundle`` packs a folder of parts with a ``manifest.json`` first,
which lists every other member with its size and SHA-256. ``read_bundle``
unpacks into a fresh folder and refuses, with one line, anything that is
not exactly that: a member outside the manifest or missing from it, a path
that is absolute or climbs out (``..``), anything but a regular file
(symlinks, hard links, devices, folders), a duplicate name, a wrong size or
checksum, a truncated or damaged stream, and more bytes than ``max_bytes``
once decompressed (a decompression bomb stops at the cap, never fills the
disk). Nothing is ever extracted by ``tarfile`` itself: each member's bytes
are copied by this module into a path it has checked.

The archive and compression formats are the standard library's ``tarfile``
and the ``zstandard`` package; nothing here is a hand-rolled format.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import zstandard

from app.errors import InvalidInput

FORMAT = "spaces-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_MAX = 64 * 1024 * 1024
DEFAULT_MAX_BYTES = 8 * 1024**3
CHUNK = 1024 * 1024


class BadBundle(InvalidInput):
    """The bundle is damaged, truncated or hostile; nothing was changed."""


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def write_bundle(parts: Path, manifest: dict[str, Any], out: Path) -> dict[str, Any]:
    """Pack every file under ``parts`` into ``out`` (written aside, then renamed into place).

    Returns the manifest as written, with ``files`` filled in.
    """
    files = sorted(p for p in parts.rglob("*") if p.is_file() and not p.is_symlink())
    listed = {
        p.relative_to(parts).as_posix(): {"size": p.stat().st_size, "sha256": _digest(p)}
        for p in files
    }
    manifest = {**manifest, "format": FORMAT, "format_version": FORMAT_VERSION, "files": listed}
    head = json.dumps(manifest, indent=1, sort_keys=True).encode()
    partial = out.with_name(out.name + ".partial")
    try:
        with (
            partial.open("wb") as raw,
            zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False) as packed,
            tarfile.open(fileobj=packed, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(head), 0o644
            tar.addfile(info, io.BytesIO(head))
            for path in files:
                info = tarfile.TarInfo(path.relative_to(parts).as_posix())
                info.size, info.mode = path.stat().st_size, 0o644
                with path.open("rb") as f:
                    tar.addfile(info, f)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest


class _Capped(io.RawIOBase):
    """A stream that refuses to yield more than ``cap`` bytes (the bomb guard)."""

    def __init__(self, inner: BinaryIO, cap: int):
        self.inner, self.left = inner, cap

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(min(len(buffer), CHUNK))
        self.left -= len(data)
        if self.left < 0:
            raise BadBundle("bundle refused: it decompresses to more than the allowed size")
        buffer[: len(data)] = data
        return len(data)


def _member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if (
        not name
        or path.is_absolute()
        or ".." in path.parts
        or "\\" in name
        or "\x00" in name
        or path.as_posix() != name
    ):
        raise BadBundle(f"bundle refused: unsafe member path {name[:80]!r}")
    return path


def _copy(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> str:
    source = tar.extractfile(member)
    if source is None:
        raise BadBundle(f"bundle refused: {member.name[:80]!r} has no content")
    h = hashlib.sha256()
    written = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("xb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            h.update(chunk)
            out.write(chunk)
    if written != member.size:
        raise BadBundle(f"bundle refused: {member.name[:80]!r} is truncated")
    return h.hexdigest()


def read_bundle(bundle: Path, into: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Unpack ``bundle`` into the empty folder ``into``, verifying it; return its manifest."""
    try:
        with (
            bundle.open("rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as unpacked,
            io.BufferedReader(_Capped(unpacked, max_bytes), CHUNK) as capped,
            tarfile.open(fileobj=capped, mode="r|") as tar,
        ):
            return _unpack(tar, into)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
            raise InvalidInput(
                f"cannot read bundle {str(bundle)[:200]!r}: {exc.strerror}"
            ) from None
        raise BadBundle(f"bundle refused: damaged or truncated ({exc})") from None
    except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
        raise BadBundle(f"bundle refused: damaged or truncated ({exc})") from None


def _unpack(tar: tarfile.TarFile, into: Path) -> dict[str, Any]:
    manifest: dict[str, Any] | None = None
    seen: set[str] = set()
    for member in tar:
        _member_path(member.name)
        if not member.isreg():
            raise BadBundle(f"bundle refused: {member.name[:80]!r} is not a regular file")
        if member.name in seen:
            raise BadBundle(f"bundle refused: {member.name[:80]!r} appears twice")
        seen.add(member.name)
        if manifest is None:
            manifest = _manifest(tar, member)
            continue
        expected = manifest["files"].get(member.name)
        if expected is None:
            raise BadBundle(f"bundle refused: {member.name[:80]!r} is not in its manifest")
        if member.size != expected.get("size"):
            raise BadBundle(f"bundle refused: {member.name[:80]!r} has the wrong size")
        if _copy(tar, member, into / member.name) != expected.get("sha256"):
            raise BadBundle(f"bundle refused: {member.name[:80]!r} has a wrong checksum")
    if manifest is None:
        raise BadBundle("bundle refused: it is empty")
    missing = set(manifest["files"]) - seen
    if missing:
        raise BadBundle(f"bundle refused: {sorted(missing)[0][:80]!r} is missing (truncated?)")
    return manifest


def _manifest(tar: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, Any]:
    if member.name != MANIFEST or member.size > MANIFEST_MAX:
        raise BadBundle("bundle refused: it does not start with its manifest")
    source = tar.extractfile(member)
    try:
        manifest = json.loads(source.read() if source else b"")
    except (ValueError, UnicodeDecodeError):
        raise BadBundle("bundle refused: its manifest is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadBundle("bundle refused: not a spaces bundle")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BadBundle(
            f"bundle refused: format version {manifest.get('format_version')!r}, "
            f"this installation reads {FORMAT_VERSION}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise BadBundle("bundle refused: its manifest lists no files")
    for name in files:
        _member_path(name)
    return manifest
