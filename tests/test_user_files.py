"""User-named files: regular files only, read once through one handle, bounded while reading.

The CLI-level cases (``/dev/zero``, FIFOs, nested JSON as a context spec or
a plan edit) are rows of ``tests/cli/hostile_cases.yaml``; here are the reader
itself and the races of ``spaces objects add``.
"""

from __future__ import annotations

import os
import threading

import pytest

from app.errors import InvalidInput
from app.files import parse_json, read_user_file
from app.spaces.stores import documents as documents_module
from app.spaces.stores.documents import DocumentStore


def test_the_cap_holds_while_reading_not_only_before(tmp_path) -> None:
    # /proc files are regular and report 0 bytes, yet have content: a size
    # check alone would let them through unbounded.
    assert os.stat("/proc/self/status").st_size == 0
    with pytest.raises(InvalidInput, match="too large: the limit is 10 bytes"):
        read_user_file("/proc/self/status", limit=10)
    assert len(read_user_file("/proc/self/status", limit=100_000).data) > 10


def test_only_regular_files_are_read(tmp_path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInput, match="FIFO"):
        read_user_file(fifo, limit=100)  # refused at once: nobody ever writes to it
    with pytest.raises(InvalidInput, match="is a device"):
        read_user_file("/dev/zero", limit=100)
    with pytest.raises(InvalidInput, match="is a directory"):
        read_user_file(tmp_path, limit=100)
    target = tmp_path / "real.md"
    target.write_text("real")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    assert read_user_file(link, limit=100).data == b"real"
    with pytest.raises(InvalidInput, match="symbolic link"):
        read_user_file(link, limit=100, follow_symlinks=False)
    dangling = tmp_path / "dangling.md"
    dangling.symlink_to(tmp_path / "gone.md")
    with pytest.raises(InvalidInput, match="symbolic link"):
        read_user_file(dangling, limit=100, follow_symlinks=False)
    with pytest.raises(InvalidInput, match="NUL"):
        read_user_file("a\x00b", limit=100)


def test_deep_json_is_refused_without_a_recursion_error() -> None:
    with pytest.raises(InvalidInput, match="nests deeper than 32 levels"):
        parse_json("[" * 40_000 + "]" * 40_000, what="plan")
    with pytest.raises(InvalidInput, match="nests deeper than 32 levels"):
        parse_json("[" * 33 + "]" * 33, what="plan")
    assert parse_json("[" * 32 + "]" * 32, what="plan") is not None


def _swapping(path, versions: list[bytes | None], stop: threading.Event) -> threading.Thread:
    """A thread that keeps replacing ``path`` with each of ``versions`` (``None``: no file)."""

    def swap() -> None:
        n = 0
        while not stop.is_set():
            content = versions[n % len(versions)]
            if content is None:
                path.unlink(missing_ok=True)
            else:
                tmp = path.with_name(f".swap-{n}")
                tmp.write_bytes(content)
                os.replace(tmp, path)
            n += 1

    return threading.Thread(target=swap, daemon=True)


def test_a_file_swapped_for_a_larger_one_is_never_stored_past_the_cap(
    manager, space, tmp_path, monkeypatch
) -> None:
    cap = 1_000
    monkeypatch.setattr(documents_module, "MAX_FILE_BYTES", cap)
    store = DocumentStore(manager)
    path = tmp_path / "swapped.md"
    path.write_bytes(b"small " * 10)
    store.create_object(space.space_id, path)
    stop = threading.Event()
    swapper = _swapping(path, [b"small " * 10, b"large " * 2_000], stop)
    swapper.start()
    outcomes = []
    try:
        for _ in range(30):
            try:
                outcomes.append(store.add_version(space.space_id, "swapped.md", path).status)
            except InvalidInput:  # too large when read: refused, nothing stored
                outcomes.append("refused")
    finally:
        stop.set()
        swapper.join()
    handle = manager.open_space(space.space_id)
    with handle.postgres.connection() as conn:
        longest = conn.execute("SELECT max(length(content)) FROM versions").fetchone()[0]
    assert longest <= cap
    assert "active" in outcomes


def test_a_file_that_vanishes_creates_no_object(manager, space, tmp_path) -> None:
    """Each try either creates an object with an active version or changes nothing."""
    store = DocumentStore(manager)
    stop = threading.Event()
    paths = [tmp_path / f"flicker{n}.md" for n in range(20)]
    for path in paths:
        swapper = _swapping(path, [b"Here and gone.", None], stop)
        swapper.start()
        try:
            try:
                store.create_object(space.space_id, path)
            except InvalidInput as exc:
                assert "no file" in str(exc)
        finally:
            stop.set()
            swapper.join()
            stop.clear()
    objects = store.list_objects(space.space_id)
    assert all(o.active_versions == o.versions == 1 for o in objects), objects
