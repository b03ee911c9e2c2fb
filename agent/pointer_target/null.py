"""The null backend: names nothing, and says why (a platform or session without an accessibility tree)."""

from __future__ import annotations

from agent.pointer_target import LOOKUP_BUDGET_S, PointerTarget


class NullFinder:
    def __init__(self, problem: str = "naming what was clicked is not available here") -> None:
        self._problem = problem

    @property
    def problem(self) -> str | None:
        return self._problem

    def target_at(self, x: int, y: int, budget_s: float = LOOKUP_BUDGET_S) -> PointerTarget | None:
        return None

    def close(self) -> None:
        return None
