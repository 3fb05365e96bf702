"""The Spaces web console at ``/ui/``: server-rendered pages for the people the seeds describe.

``build_console`` makes a FastAPI app of its own; ``ConsoleMount`` (added to
the project's ``http.app`` by ``app/server/app.py``) hands it every
``/ui`` request before the server's routing. The console authenticates by
its own session cookie (``sessions.py``), never by the API's bearer token,
and no other route reads that cookie. Every action calls the same operations
(``app/operations/``: role rule and audit) as the CLI and ``/my/``.
"""
