"""The graphs a server serves (``langgraph.json``, ``aegra.json``), built once per process.

All three share ``Deps.served()``, the same connections the server's REST
routes use, so a server process holds one Postgres pool. The graph packages
themselves export only their ``build_*`` factories: importing them opens
nothing, and tests compile them with their own checkpointer and ``Deps``.
"""

from app.graphs.chat import build_chat
from app.graphs.deps import Deps
from app.graphs.research import build_research
from app.graphs.rpi import build_rpi

# raise_failures: a failed run ends with the run status "error" (the SDK raises), as stock
# UIs expect, after its state says why (docs/stock-uis.md).
rpi = build_rpi(Deps.served(), raise_failures=True).compile(name="rpi")
research = build_research(Deps.served(), raise_failures=True).compile(name="research")
chat = build_chat(Deps.served(), raise_failures=True).compile(name="chat")
