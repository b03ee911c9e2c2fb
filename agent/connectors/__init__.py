"""Connectors: one module per ticket system behind one small interface (``base.Connector``).

``make_connector`` picks the module by the backend's ``type`` and imports it only then,
so a machine that never talks to Request Tracker never loads its client. Each module
offers ``create(backend: BackendConfig, *, role: str) -> Connector``; adding a ticket
system is one line in ``CONNECTOR_MODULES``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final, Protocol, cast

from agent.config import ConfigError
from agent.connectors.base import (
    AuthError,
    Capability,
    Change,
    ChangePage,
    Connector,
    ConnectorError,
    PermanentError,
    ProgressCallback,
    QueuePlace,
    TicketDetail,
    TicketFilter,
    TicketPage,
    TooLargeError,
    TransientError,
    UnsupportedError,
)

if TYPE_CHECKING:
    from agent.config import BackendConfig

__all__ = [
    "CONNECTOR_MODULES",
    "AuthError",
    "Capability",
    "Change",
    "ChangePage",
    "Connector",
    "ConnectorError",
    "PermanentError",
    "ProgressCallback",
    "QueuePlace",
    "TicketDetail",
    "TicketFilter",
    "TicketPage",
    "TooLargeError",
    "TransientError",
    "UnsupportedError",
    "make_connector",
]

CONNECTOR_MODULES: Final[dict[str, str]] = {
    "builtin": "agent.connectors.builtin",
    "rt": "agent.connectors.rt",
    "smtp": "agent.connectors.smtp",
    "zammad": "agent.connectors.zammad",
    "glpi": "agent.connectors.glpi",
    "folder": "agent.connectors.folder",
    "jira": "agent.connectors.jira",
    "redmine": "agent.connectors.redmine",
    "servicenow": "agent.connectors.servicenow",
    "zendesk": "agent.connectors.zendesk",
    "gitlab": "agent.connectors.gitlab",
    "freshservice": "agent.connectors.freshservice",
}


class _ConnectorModule(Protocol):
    def create(self, backend: BackendConfig, *, role: str = "submitter") -> Connector: ...


def make_connector(backend: BackendConfig, *, role: str = "submitter") -> Connector:
    """A connector for ``backend``; ``role`` picks which stored token it uses (submitter, technician)."""
    module_name = CONNECTOR_MODULES.get(backend.type)
    if module_name is None:
        available = ", ".join(sorted(CONNECTOR_MODULES))
        raise ConfigError(
            f"backend {backend.name!r} has type {backend.type!r}, which this ShowDesk has no connector for "
            f"(available: {available})"
        )
    module = cast(_ConnectorModule, importlib.import_module(module_name))
    return module.create(backend, role=role)
