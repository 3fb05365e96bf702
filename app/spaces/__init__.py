"""Spaces: isolated project contexts and the space-scoped adapters to their stores.

Layers, lowest first; a module imports only from its own layer or lower ones
(``tests/spaces/test_layers.py`` checks it, and that there is no circle):

- ``model``: the space records (``SpaceConfig``, ``SpaceUsage``), no I/O;
- ``infra``: connections (``Backends``), schema migrations, embedders, the graph wire;
- ``stores``: one adapter per store of a space (memory, vault and its index,
  graph, documents, chat, agents, audit, budget, run records), the
  ``SpaceHandle`` that holds them, and recall over them;
- ``legacy``: moving memories of old qdrant-client local folders into pgvector;
- ``startup``: the connections of an entry point, start-up steps done;
- ``space_manager``: create, find, archive and open spaces;
- ``access``: who may do what (roles), members, budgets and model settings;
- ``portability``: export a space to a bundle and import it back.
"""
