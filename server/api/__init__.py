"""The HTTP API's parts; ``server.app.create_app`` assembles them.

One route module per resource — ``health``, ``reports``, ``tickets``, ``files``, ``changes``,
``queue`` (the walk-up queue), ``figures`` (dashboard figures, self-help), ``tokens`` — each
with its own ``router``. They sit above what they share and never import each other:
``views`` (store rows as API models), ``dependencies`` (the request context, auth, path and
query bounds, rate-limit permits, error documentation, the bounded JSON route), ``errors``
(exceptions as responses), ``middleware`` (body limit, request log), and ``context`` (the
per-app state and the change notifier). The server's layers contract in pyproject.toml checks it.
"""
