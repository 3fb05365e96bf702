"""Objects (documents with versions): any member reads them; operators and admins change them.

Each change is one audit entry: ``object.add`` (target: the file name),
``version.add`` and ``object.activate``/``object.deactivate`` (the
object), ``version.set_status`` (the version).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.errors import InvalidInput
from app.spaces.access.members import audited
from app.spaces.access.roles import Action, require
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.documents import DocumentStore, ObjectInfo, VersionInfo

MANAGE = Action.MANAGE_OBJECTS
NAME_MAX_BYTES = 255


@contextmanager
def _uploaded(filename: str, data: bytes) -> Iterator[Path]:
    """The upload as a temporary file of the caller's own name (the store keeps the name).

    The name must be a bare file name: a path would write outside the
    temporary folder, and the store's rename rule compares bare names.
    """
    name = Path(filename).name
    if name != filename or name in ("", ".", "..") or len(name.encode()) > NAME_MAX_BYTES:
        raise InvalidInput(f"filename must be a bare file name of at most {NAME_MAX_BYTES} bytes")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        yield path


def list_objects(manager: SpaceManager, space_id: str, actor: str) -> list[ObjectInfo]:
    """The space's objects."""
    require(manager, space_id, actor, Action.READ)
    return DocumentStore(manager).list_objects(space_id)


def list_versions(
    manager: SpaceManager, space_id: str, actor: str, object_ref: str
) -> list[VersionInfo]:
    """Every version of one object, oldest first."""
    require(manager, space_id, actor, Action.READ)
    return DocumentStore(manager).list_versions(space_id, object_ref)


def create_object(
    manager: SpaceManager, space_id: str, actor: str, path: str | Path
) -> tuple[ObjectInfo, VersionInfo]:
    """A new object from the file at ``path`` (its first version); the audit names the path."""
    with audited(manager, space_id, actor, MANAGE, "object.add", target=str(path)):
        return DocumentStore(manager).create_object(space_id, path)


def add_version(
    manager: SpaceManager, space_id: str, actor: str, object_ref: str, path: str | Path
) -> VersionInfo:
    """A new version of an object from a file of the same name."""
    with audited(manager, space_id, actor, MANAGE, "version.add", target=object_ref):
        return DocumentStore(manager).add_version(space_id, object_ref, path)


def set_object_active(
    manager: SpaceManager, space_id: str, actor: str, object_ref: str, active: bool
) -> ObjectInfo:
    """Let the object contribute to prompts, or keep it out."""
    event = "object.activate" if active else "object.deactivate"
    with audited(manager, space_id, actor, MANAGE, event, target=object_ref):
        return DocumentStore(manager).set_object_active(space_id, object_ref, active)


def set_version_status(
    manager: SpaceManager, space_id: str, actor: str, version_id: int | str, status: str
) -> VersionInfo:
    """Mark a version active or inactive."""
    target = str(version_id)
    with audited(manager, space_id, actor, MANAGE, "version.set_status", target=target):
        return DocumentStore(manager).set_version_status(space_id, version_id, status)


def upload_object(
    manager: SpaceManager, space_id: str, actor: str, filename: str, data: bytes
) -> tuple[ObjectInfo, VersionInfo]:
    """A new object from uploaded bytes named ``filename`` (REST and the console)."""
    with (
        audited(manager, space_id, actor, MANAGE, "object.add", target=filename),
        _uploaded(filename, data) as path,
    ):
        return DocumentStore(manager).create_object(space_id, path)


def upload_version(
    manager: SpaceManager, space_id: str, actor: str, object_ref: str, filename: str, data: bytes
) -> VersionInfo:
    """A new version of an object from uploaded bytes named ``filename``."""
    with (
        audited(manager, space_id, actor, MANAGE, "version.add", target=object_ref),
        _uploaded(filename, data) as path,
    ):
        return DocumentStore(manager).add_version(space_id, object_ref, path)
