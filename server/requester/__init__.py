"""The requester's page: the person who reported follows, answers and rates their ticket.

No account and no password: the link is the capability (``server.store.requester`` derives
it, ``security`` guards the page, ``pages`` renders it, ``routes`` serves it all;
``server.api.photos`` checks the camera's photos). docs/requester.md describes what the person sees and
the security model.
"""

from __future__ import annotations

from server.requester.routes import install

__all__ = ["install"]
