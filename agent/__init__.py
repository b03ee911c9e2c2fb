"""ShowDesk core: capture, system info, report model, outbox, connectors. Imports no Qt."""

__version__ = "0.1.0"
