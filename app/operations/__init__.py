"""What a person may do to a space, once: check the role, audit a write, act.

The CLI (``app/cli/``), the REST routes (``app/server/``) and the console
call these functions and do nothing else with the stores: they parse their
input, call one operation, and render its result. So a rule about who may
archive a space, or which audit entry an object upload writes, lives in one
place, and the three entry points cannot drift apart (round 2 found the
memory CLI skipping the role check that REST made).

Every operation takes the ``SpaceManager`` to act through and the acting
user, already authenticated by the entry point (a bearer token, a console
cookie, or the local CLI's ``--user``). Reads ask ``roles.require``; writes
run inside ``members.audited``, which checks the role, refuses an archived
space where the store does, and records one entry with the outcome.

Layer: above ``app.spaces`` and ``app.graphs``, below ``app.cli`` and
``app.server`` (``tests/spaces/test_layers.py`` checks it).
"""
