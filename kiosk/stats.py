"""Counts the kiosk keeps about itself, never about people: how often self-help ended a visit."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from agent.fsutil import atomic_write_bytes

log = logging.getLogger(__name__)


class KioskStats:
    """``self_help_resolved``: per category id, visits that ended at a self-help article."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, int]]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("kiosk statistics at %s are unreadable (%s); starting again", self.path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            str(k): {str(c): int(n) for c, n in v.items() if isinstance(n, int)}
            for k, v in data.items()
            if isinstance(v, dict)
        }

    def count_self_help(self, category_id: str) -> int:
        """Add one resolved visit for ``category_id``; returns the new count."""
        data = self.read()
        resolved = data.setdefault("self_help_resolved", {})
        resolved[category_id] = resolved.get(category_id, 0) + 1
        if self.path is not None:
            try:
                atomic_write_bytes(self.path, json.dumps(data, sort_keys=True, indent=1).encode("utf-8"), mode=0o644)
            except OSError as exc:
                log.warning("cannot write kiosk statistics to %s: %s", self.path, exc)
        return resolved[category_id]
