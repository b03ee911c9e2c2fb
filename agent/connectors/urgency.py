"""How urgent a report looks to a ticket system that wants a priority or an urgency.

Reports carry no priority of their own yet; until they do, the most severe flag of the
report's system information (``agent.flags``: a full disk is critical, low memory a warning)
stands for it, and each connector maps that word through its backend's configured table
(``priorities = {critical = "High", warning = "Medium", default = "Low"}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from agent.bundle import ReportBundle
from agent.connectors.body import SystemFacts
from agent.flags import Severity

DEFAULT_KEY: Final = "default"


def report_severity(report: ReportBundle | SystemFacts) -> Severity | None:
    """The most severe flag of the report's system information; None without one (or without the file).

    ``report``: the bundle, or its system information as its ticket body read it (``TicketBody.system``).
    """
    return (report if isinstance(report, SystemFacts) else SystemFacts.of(report)).severity


def mapped(report: ReportBundle | SystemFacts, table: Mapping[str, str], fallback: str | None = None) -> str | None:
    """``table``'s value for the report's severity, else its ``default``, else ``fallback``."""
    if all(key == DEFAULT_KEY for key in table):
        return table.get(DEFAULT_KEY, fallback)  # no severity is mapped: the report's is not needed
    severity = report_severity(report)
    if severity is not None and severity in table:
        return table[severity]
    return table.get(DEFAULT_KEY, fallback)


__all__ = ["DEFAULT_KEY", "mapped", "report_severity"]
