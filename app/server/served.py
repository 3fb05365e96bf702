"""The HTTP app a server serves (``http.app`` in ``langgraph.json`` and ``aegra.json``).

Built once per process over ``Deps.served()``, the connections the served
graphs (``app/graphs/served.py``) use too: a server holds one Postgres pool.
"""

from app.graphs.deps import Deps
from app.server.app import create_app

app = create_app(Deps.served())
