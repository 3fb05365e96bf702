"""A space's page: its objects grid, Create Object (upload) and "Versions – NAME".

The grid dims an inactive object and shows a count when several versions
are active. Uploads and version changes are the ``/my/`` routes' own
operations (``app/operations/objects.py``); the rename rule's message (a
new version must keep the file's name) is the store's own, shown in the
dialog.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.errors import InvalidInput
from app.operations import objects as ops
from app.operations.access import Action, allowed, check
from app.server.console.pages_spaces import Signed, Write, usage_of
from app.server.console.sessions import Session
from app.server.console.usage_chart import bars, tokens_per_day
from app.server.console.web import Form, manager, page

router = APIRouter(prefix="/ui/spaces/{space_id}")


def _upload(form: Form) -> tuple[str, bytes]:
    """The uploaded file's bare name and bytes, or ``InvalidInput``."""
    name, data = form.files.get("file", ("", b""))
    bare = Path(name.replace("\\", "/")).name
    if not bare or bare in (".", "..") or len(bare.encode()) > 255:
        raise InvalidInput("choose a file to upload")
    if not data:
        raise InvalidInput(f"{bare} is empty")
    return bare, data


@router.get("", response_class=HTMLResponse)
def space_page(space_id: str, request: Request, session: Signed) -> HTMLResponse:
    """The space: usage, objects grid, and links to its vault, recall and runs."""
    spaces = manager(request)
    access = check(spaces, space_id, session.user, Action.READ)
    objects = ops.list_objects(spaces, space_id, session.user)
    return page(
        request, "space.html", session, space=access.config, role=access.role.value,
        usage=usage_of(spaces, access.config), objects=objects,
        can_manage=allowed(access.role, Action.MANAGE_OBJECTS),
        chart=bars(tokens_per_day(spaces.backends.pool, space_id)),
    )  # fmt: skip


@router.post("/objects")
def create_object(space_id: str, request: Request, signed: Write) -> RedirectResponse:
    """A new object from an uploaded file (its first version)."""
    session, form = signed
    spaces = manager(request)
    name, data = _upload(form)
    ops.upload_object(spaces, space_id, session.user, name, data)
    return RedirectResponse(f"/ui/spaces/{space_id}", status_code=303)


def _versions_page(
    request: Request, session: Session, space_id: str, ref: str, status: int = 200, error: str = ""
) -> HTMLResponse:
    spaces = manager(request)
    access = check(spaces, space_id, session.user, Action.READ)
    listed = ops.list_objects(spaces, space_id, session.user)
    found = next((o for o in listed if str(o.id) == ref), None)
    if found is None:
        raise InvalidInput(f"no object {ref[:60]!r} in space {space_id!r}")
    return page(
        request, "versions.html", session, status=status, space=access.config, obj=found,
        versions=ops.list_versions(spaces, space_id, session.user, ref), error=error,
        can_manage=allowed(access.role, Action.MANAGE_OBJECTS),
    )  # fmt: skip


@router.get("/objects/{object_id}", response_class=HTMLResponse)
def versions(space_id: str, object_id: int, request: Request, session: Signed) -> HTMLResponse:
    """The "Versions – NAME" dialog: every version with its active checkbox."""
    return _versions_page(request, session, space_id, str(object_id))


@router.post("/objects/{object_id}/versions", response_class=HTMLResponse)
def add_version(space_id: str, object_id: int, request: Request, signed: Write):
    """A new version of the object; a file of another name gets the rename rule's message."""
    session, form = signed
    spaces = manager(request)
    ref = str(object_id)
    try:
        name, data = _upload(form)
        ops.upload_version(spaces, space_id, session.user, ref, name, data)
    except InvalidInput as exc:  # shown in the dialog, which stays open
        return _versions_page(request, session, space_id, ref, status=400, error=str(exc))
    return RedirectResponse(f"/ui/spaces/{space_id}/objects/{ref}", status_code=303)


@router.post("/objects/{object_id}/statuses")
def set_statuses(space_id: str, object_id: int, request: Request, signed: Write):
    """Save the active checkboxes: each changed version is one audited ``version.set_status``."""
    session, form = signed
    spaces = manager(request)
    ref = str(object_id)
    wanted = set(form.all("active"))
    for version in ops.list_versions(spaces, space_id, session.user, ref):
        if version.status == "error":
            continue
        status = "active" if str(version.id) in wanted else "inactive"
        if status == version.status:
            continue
        try:
            ops.set_version_status(spaces, space_id, session.user, str(version.id), status)
        except InvalidInput as exc:
            return _versions_page(request, session, space_id, ref, status=400, error=str(exc))
    return RedirectResponse(f"/ui/spaces/{space_id}/objects/{ref}", status_code=303)


@router.post("/objects/{object_id}/active")
def set_object_active(space_id: str, object_id: int, request: Request, signed: Write):
    """Turn the object on or off (dims it in the grid)."""
    session, form = signed
    spaces = manager(request)
    active = form.get("active") == "true"
    ops.set_object_active(spaces, space_id, session.user, str(object_id), active)
    return RedirectResponse(f"/ui/spaces/{space_id}", status_code=303)
