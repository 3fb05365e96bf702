"""Spaces: isolated project contexts and the space-scoped adapters to their stores.

Import from the submodules: ``space_model`` (the records), ``space_manager``
(lifecycle and usage), and one adapter module per store (``postgres``,
``memory``, ``vault``, ``graph``).
"""
