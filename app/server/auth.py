"""The auth handler of both servers (``auth.path`` in ``langgraph.json`` and ``aegra.json``).

Every request needs a valid bearer token; the user it names owns what it
creates (``metadata.owner``), and every read, update, delete, search and run
of threads, runs and crons is filtered to that owner, so another user's
thread answers 404. The graphs' own assistants are shared; each space has
its own (``assistants.py``), seen by its members only; none can be changed.
The store is keyed by user. The graphs then check the space itself: a run
on a space the user does not own ends as "no space" (see admission.py).
Thread ids are never chosen by clients (a copy, ``POST /threads/{id}/copy``,
gets the server's id and its source's owner), and a run is admitted only on the
caller's own idle thread (app/server/serialise.py), so no answer tells one
user that another's thread exists, and no thread runs twice at once.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Mapping
from typing import Any

from langgraph_sdk import Auth
from langgraph_sdk.auth import is_studio_user

from app.errors import SpacesError
from app.server.assistants import may_create, visible_to
from app.server.serialise import ThreadRefused, check_thread_dev, claim_run
from app.server.tokens import TokenError, principal_from_authorization
from app.settings import Settings

auth = Auth()
# The served process's settings, read once when the server loads this handler
# (as the served graphs and routes read theirs).
SETTINGS = Settings.served()
# `langgraph dev` names a new thread with a fresh uuid7 before the hook sees
# it; an id older than this was chosen by the client (see no_chosen_thread_ids).
SERVER_ID_MAX_AGE_S = 2


def _authorization(headers: Mapping[Any, Any] | None) -> str | None:
    """The bearer credential: ``Authorization``, else the same JWT sent as ``X-Api-Key``.

    Stock UIs (agent-chat-ui, the SDKs' ``apiKey``) can only send a key, as
    ``X-Api-Key``; the JWT pasted there is checked exactly like a bearer
    token. ``langgraph dev`` passes bytes keys and values, Aegra str ones.
    """
    found: dict[str, str] = {}
    for key, value in (headers or {}).items():
        name = (key.decode("latin-1") if isinstance(key, bytes) else str(key)).lower()
        if name in ("authorization", "x-api-key"):
            found[name] = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    if "authorization" in found:
        return found["authorization"]
    return f"Bearer {found['x-api-key']}" if "x-api-key" in found else None


@auth.authenticate
async def authenticate(headers: Mapping[Any, Any] | None) -> Auth.types.MinimalUserDict:
    """Who is calling, from ``Authorization: Bearer <jwt>``; 401 otherwise.

    It takes the whole ``headers`` mapping, because Aegra passes it
    positionally: a handler taking ``authorization`` by name refuses everyone
    there. A token the server minted for an operator's answer also carries
    the ``actor`` (tokens.py), which the graphs then act as.
    """
    try:
        principal = principal_from_authorization(_authorization(headers))
    except TokenError as exc:
        raise Auth.exceptions.HTTPException(status_code=401, detail=str(exc)) from None
    user: Auth.types.MinimalUserDict = {"identity": principal.user, "is_authenticated": True}
    if principal.actor is not None:  # see tokens.py: the run acts as this user
        user["actor"] = principal.actor  # type: ignore[typeddict-unknown-key]
    return user


def _refuse_studio_user(ctx: Auth.types.AuthContext) -> None:
    # `langgraph dev` lets a request with `x-auth-scheme: langsmith` in as a
    # Studio user without a token; langgraph.json disables that, and this
    # refuses it again should the setting ever be lost.
    if is_studio_user(ctx.user):
        raise Auth.exceptions.HTTPException(status_code=401, detail="a bearer token is required")


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    """Stamp new resources with their owner and filter everything else by it."""
    _refuse_studio_user(ctx)
    owner = {"owner": ctx.user.identity}
    if isinstance(value, dict):
        metadata = value.get("metadata")
        if isinstance(metadata, dict):
            metadata.update(owner)
        elif "metadata" in value or ctx.action == "create":
            value["metadata"] = dict(owner)
    return owner


def _server_named(thread_id: object) -> bool:
    # A uuid7 minted in the last few seconds, as `langgraph dev` makes them.
    try:
        parsed = uuid.UUID(str(thread_id))
    except ValueError:
        return False
    if parsed.version != 7:
        return False
    return abs(time.time() - (parsed.int >> 80) / 1000) <= SERVER_ID_MAX_AGE_S


def is_copy(value: Mapping[str, Any]) -> bool:
    """Whether a ``threads.create`` hook call is ``langgraph dev``'s copy of a thread.

    ``POST /threads/{id}/copy`` checks the source with the ``read`` hook (so
    only its owner gets a copy; anyone else gets the answer of a missing
    thread) and then calls this hook with the copy's fresh server-minted id
    alone, while every client create also carries ``metadata`` and
    ``if_exists`` (``Threads.put`` in langgraph-runtime-inmem). The copy
    keeps its source's metadata, so it belongs to the source's owner, who is
    the caller.
    """
    return set(value) == {"thread_id"}


@auth.on.threads.create
async def no_chosen_thread_ids(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    """Threads get their ids from the server, never from the client.

    Thread ids are global, so a client-chosen id that is taken answers 409 on
    both servers (or returns the thread with ``if_exists``), which would tell
    a guesser that someone else's thread exists. Refusing every chosen id
    answers alike whether it exists or not. ``langgraph dev`` shows the hook
    the id it has just minted (a uuid7) when the client sent none, so there a
    uuid7 minted in the last ``SERVER_ID_MAX_AGE_S`` seconds is let through:
    only a thread created in those seconds, whose 74 random bits a guesser
    would also need, could still answer 409. A copy (:func:`is_copy`) is
    let through: its id is the server's too.
    """
    thread_id = value.get("thread_id") if isinstance(value, dict) else None
    if thread_id is not None and (
        "aegra_api" in sys.modules  # Aegra shows the hook the client's id only
        or not (_server_named(thread_id) or is_copy(value))
    ):
        raise Auth.exceptions.HTTPException(
            status_code=403, detail="thread ids are chosen by the server: omit thread_id"
        )
    return await owner_only(ctx, value)


def is_resume(value: Mapping[str, Any]) -> bool:
    """Whether a ``threads.create_run`` request answers an interrupt (``command.resume``).

    Aegra shows the hook the request's fields at the top level, ``langgraph
    dev`` under ``kwargs``.
    """
    command = value.get("command") or (value.get("kwargs") or {}).get("command")
    return isinstance(command, Mapping) and "resume" in command


@auth.on.threads.create_run
async def one_run_per_thread(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    """A new run (or resume) only on the caller's existing, idle thread.

    404 for a missing thread and for another user's alike, 409 while the
    thread is busy, and 409 for a resume of a thread that no longer waits
    for an answer, on both servers (see app/server/serialise.py).
    """
    filters = await owner_only(ctx, value)
    if value.get("if_not_exists") not in (None, "reject"):
        raise Auth.exceptions.HTTPException(
            status_code=400, detail="create the thread first: if_not_exists: reject"
        )
    thread_id = value.get("thread_id")
    if thread_id is None:
        return filters  # a stateless run: its thread is new and the caller's
    resume = is_resume(value)
    try:
        if "aegra_api" in sys.modules:
            await claim_run(
                SETTINGS.database_url or "", str(thread_id), ctx.user.identity, resume=resume
            )
        else:
            await check_thread_dev(str(thread_id), ctx.user.identity, resume=resume)
    except ThreadRefused as exc:
        raise Auth.exceptions.HTTPException(status_code=exc.status, detail=exc.detail) from None
    return filters


@auth.on.assistants.read
async def assistants_of_my_spaces(ctx: Auth.types.AuthContext, value: Any) -> dict[str, Any]:
    """The graphs' own assistants, and those of the caller's spaces (``assistants.py``)."""
    _refuse_studio_user(ctx)
    return await visible_to(ctx.user.identity)


@auth.on.assistants.search
async def assistants_listed(ctx: Auth.types.AuthContext, value: Any) -> dict[str, Any]:
    """The same filter for listing: nobody sees the assistants of a space they are not in."""
    _refuse_studio_user(ctx)
    return await visible_to(ctx.user.identity)


@auth.on.assistants.create
async def assistants_for_my_spaces(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    """Only a space's assistants, by someone who may manage its agents; stamped with the owner."""
    _refuse_studio_user(ctx)
    try:
        why = await may_create(ctx.user.identity, value if isinstance(value, dict) else {})
    except SpacesError as exc:
        why = str(exc)
    if why is not None:
        raise Auth.exceptions.HTTPException(status_code=403, detail=why)
    return await owner_only(ctx, value)


@auth.on.assistants
async def assistants_are_read_only(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Nobody may change or delete assistants through the API."""
    raise Auth.exceptions.HTTPException(status_code=403, detail="assistants are read-only")


@auth.on.store
async def own_namespace(ctx: Auth.types.AuthContext, value: Any) -> None:
    """The store is per user: the first part of every namespace is the caller."""
    _refuse_studio_user(ctx)
    namespace = tuple(value.get("namespace") or ())
    if not namespace or namespace[0] != ctx.user.identity:
        raise Auth.exceptions.HTTPException(status_code=403, detail="not your namespace")
