"""The one state machine that drives the kiosk's screens.

Plain Python with callbacks: the window observes it and shows the page of the current
stage; tests drive it without a widget. ``advance`` refuses to leave a stage whose
requirement (an identity, a category, a report that reached the outbox) is not met,
so a screen cannot skip a step by accident.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Final

from kiosk.session import KioskSession


class Stage(enum.Enum):
    WELCOME = "welcome"
    WHO = "who"
    WHAT = "what"
    SHOW = "show"
    REVIEW = "review"
    SEND = "send"
    DONE = "done"


ORDER: Final = (Stage.WELCOME, Stage.WHO, Stage.WHAT, Stage.SHOW, Stage.REVIEW, Stage.SEND, Stage.DONE)
# Where "back" leads. From Done there is no undoing a sent report: back starts over.
_BACK: Final = {
    Stage.WHO: Stage.WELCOME,
    Stage.WHAT: Stage.WHO,
    Stage.SHOW: Stage.WHAT,
    Stage.REVIEW: Stage.SHOW,
    Stage.SEND: Stage.REVIEW,
    Stage.DONE: Stage.WELCOME,
}

StageListener = Callable[[Stage, Stage], None]
ResetListener = Callable[[str], None]


class FlowError(RuntimeError):
    """A transition the flow does not allow; the message says which requirement is missing."""


class KioskFlow:
    """Welcome → Who → What → Show → Review → Send → Done, and back; a reset from anywhere."""

    def __init__(self, session: KioskSession) -> None:
        self.session = session
        self.stage = Stage.WELCOME
        self._stage_listeners: list[StageListener] = []
        self._reset_listeners: list[ResetListener] = []

    def on_stage(self, listener: StageListener) -> None:
        """``listener(old, new)`` after every change of stage."""
        self._stage_listeners.append(listener)

    def on_reset(self, listener: ResetListener) -> None:
        """``listener(reason)`` after the session was wiped ("idle", "done", "cancel", "self-help")."""
        self._reset_listeners.append(listener)

    def missing_requirement(self, stage: Stage | None = None) -> str | None:
        """Why the flow cannot go on from ``stage`` (default: the current one), or None."""
        stage = stage or self.stage
        if stage is Stage.WHO and not self.session.identified:
            return "who: a name and e-mail, a badge, or guest is needed"
        if stage is Stage.WHAT and not self.session.category_id:
            return "what: a category is needed"
        if stage is Stage.SEND and self.session.outcome is None:
            return "send: the report has not reached the outbox yet"
        if stage is Stage.DONE:
            return "done: the last stage"
        return None

    def can_advance(self) -> bool:
        return self.missing_requirement() is None

    def advance(self) -> Stage:
        missing = self.missing_requirement()
        if missing:
            raise FlowError(missing)
        self._move(ORDER[ORDER.index(self.stage) + 1])
        return self.stage

    def back(self) -> Stage:
        if self.stage is Stage.WELCOME:
            return self.stage
        if self.stage is Stage.SEND and self.session.outcome is not None:
            # The report is in the outbox; going back would invite sending it twice.
            raise FlowError("send: the report is already on its way")
        target = _BACK[self.stage]
        if target is Stage.WELCOME:
            self.reset("cancel")
        else:
            self._move(target)
        return self.stage

    def reset(self, reason: str) -> None:
        """Wipe the session and return to Welcome (idle timeout, finished, cancelled)."""
        self.session.wipe()
        self._move(Stage.WELCOME)
        for listener in list(self._reset_listeners):
            listener(reason)

    def _move(self, new: Stage) -> None:
        old, self.stage = self.stage, new
        if old is not new:
            for listener in list(self._stage_listeners):
                listener(old, new)
