"""Tools more than one graph uses: fetching the web (``web.py``, ``http.py``) and reading tables.

``rpi``'s implement step and ``chat``'s agents call ``http_get``
(``http.py``) over the same guarded fetcher the research graph's links
agent crawls with (``web.py``); the research data agent and ``chat``'s
data tools read tables the same way (``data.py``). Kept here so no graph
imports another graph's modules.
"""
