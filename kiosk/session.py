"""One walk-up person's session: who, what, the steps they showed, the system information they send.

Plain Python with callbacks, no widgets, so every rule is testable on its own. The
session owns a private temporary directory; ``wipe`` clears memory and removes that
directory, so the next person finds nothing of the previous one.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agent.bundle import ClipDraft, StepDraft
from agent.markup import FlattenResult
from agent.schema import (
    MAX_CAPTION_CHARS,
    MAX_CLIPS,
    MAX_SHORT_TEXT_CHARS,
    MAX_STEPS,
    MarkupItem,
    Reporter,
    Ticket,
)
from agent.steps import EditableStep

# The schema's own e-mail rule, checked here first so the person sees it before sending.
EMAIL_RE: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_CHARS: Final = 254


class SessionError(ValueError):
    """Input the session refuses; ``field`` names what to fix (the screen highlights it)."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(message)


@dataclass(frozen=True)
class Outcome:
    """How the submission ended for the person: a ticket, or a local receipt while the outbox retries."""

    report_id: uuid.UUID
    ticket: Ticket | None = None
    queue_position: int | None = None
    estimated_wait_seconds: float | None = None

    @property
    def delivered(self) -> bool:
        return self.ticket is not None

    @property
    def receipt_code(self) -> str:
        """A short code the person can quote at the desk while the report waits in the outbox."""
        return self.report_id.hex[:8].upper()


Listener = Callable[[], None]


class KioskSession:
    """The state of one walk-up, from Who to Done."""

    def __init__(self, temp_root: Path | None = None, language: str = "") -> None:
        self._temp_root = temp_root
        self._temp_dir: Path | None = None
        self._listeners: list[Listener] = []
        # The language the screens speak: the kiosk's, and the person's once they choose one.
        # Kept across a wipe: the window sets the site's language again for the next person.
        self.language = language
        self._clear()

    def _clear(self) -> None:
        self.report_id = uuid.uuid4()
        self.name = ""
        self.email = ""
        self.badge_id = ""
        self.guest = False
        self.category_id = ""
        self.description = ""
        self.articles_shown: list[str] = []
        self.steps: list[EditableStep] = []
        # Encoded clips the person kept (animated WebP in memory); a wipe lets go of their bytes.
        self.clips: list[ClipDraft] = []
        self.sysinfo: dict[str, Any] | None = None
        self.excluded_groups: set[str] = set()
        self.outcome: Outcome | None = None

    # ------------------------------------------------------------ observers
    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # ------------------------------------------------------------ who
    @property
    def identified(self) -> bool:
        return self.guest or bool(self.badge_id) or bool(self.name and self.email)

    def identify(self, name: str, email: str) -> None:
        """Check in with a name and e-mail; raises ``SessionError`` naming the field to fix."""
        name, email = name.strip(), email.strip()
        if not name:
            raise SessionError("name", "name is empty")
        if len(name) > MAX_SHORT_TEXT_CHARS:
            raise SessionError("name", f"name is longer than {MAX_SHORT_TEXT_CHARS} characters")
        if len(email) > MAX_EMAIL_CHARS or not EMAIL_RE.match(email):
            raise SessionError("email", "e-mail address is not valid")
        self.name, self.email, self.badge_id, self.guest = name, email, "", False
        self._changed()

    def identify_badge(self, badge_id: str) -> None:
        badge_id = badge_id.strip()
        if not badge_id or len(badge_id) > MAX_SHORT_TEXT_CHARS or not badge_id.isprintable():
            raise SessionError("badge", "badge number is not readable")
        self.name, self.email, self.badge_id, self.guest = "", "", badge_id, False
        self._changed()

    def identify_guest(self) -> None:
        self.name, self.email, self.badge_id, self.guest = "", "", "", True
        self._changed()

    def choose_language(self, language: str) -> None:
        """The language the person reads; it travels with the report, so their ticket page speaks it."""
        self.language = language

    def reporter(self) -> Reporter:
        return Reporter(
            name=self.name or None,
            email=self.email or None,
            badge_id=self.badge_id or None,
            language=self.language or None,
        )

    # ------------------------------------------------------------ what
    def choose_category(self, category_id: str, articles: Iterable[str] = ()) -> None:
        self.category_id = category_id
        for article in articles:
            if article not in self.articles_shown:
                self.articles_shown.append(article)
        self._changed()

    def describe(self, text: str, limit: int) -> None:
        if len(text) > limit:
            raise SessionError("description", f"description is longer than {limit} characters")
        self.description = text
        self._changed()

    # ------------------------------------------------------------ steps
    def add_step(self, draft: StepDraft) -> EditableStep:
        if len(self.steps) >= MAX_STEPS:
            raise SessionError("steps", f"a report holds at most {MAX_STEPS} steps")
        step = EditableStep.from_step_draft(draft)
        self.steps.append(step)
        self._changed()
        return step

    def step(self, step_id: str) -> EditableStep:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def remove_step(self, step_id: str) -> tuple[int, EditableStep] | None:
        """Remove a step; returns where it was and the step itself, for an undo."""
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                del self.steps[index]
                self._changed()
                return index, step
        return None

    def restore_step(self, index: int, step: EditableStep) -> None:
        """Put a removed step back where it was (Undo)."""
        if any(s.id == step.id for s in self.steps):
            return
        if len(self.steps) >= MAX_STEPS:
            raise SessionError("steps", f"a report holds at most {MAX_STEPS} steps")
        self.steps.insert(min(index, len(self.steps)), step)
        self._changed()

    def set_caption(self, step_id: str, caption: str) -> None:
        if len(caption) > MAX_CAPTION_CHARS:
            raise SessionError("caption", f"caption is longer than {MAX_CAPTION_CHARS} characters")
        self.step(step_id).caption = caption
        self._changed()

    def apply_markup(self, step_id: str, items: list[MarkupItem], flattened: FlattenResult) -> None:
        """Keep the step's new mark-up with its flattening (made to show it; it is also what is sent).

        The captured pixels stay in memory for the next edit, never beside the flattening in the
        report: the submission freezes kiosk steps without their original (``keep_original=False``).
        """
        self.step(step_id).set_markup(items, flattened)
        self._changed()

    # ------------------------------------------------------------ clips
    def add_clip(self, clip: ClipDraft) -> None:
        if len(self.clips) >= MAX_CLIPS:
            raise SessionError("clips", f"a report holds at most {MAX_CLIPS} clips")
        self.clips.append(clip)
        self._changed()

    def remove_clip(self, index: int) -> None:
        if 0 <= index < len(self.clips):
            del self.clips[index]
            self._changed()

    def restore_clip(self, index: int, clip: ClipDraft) -> None:
        """Put a removed clip back where it was (Undo), so the clips keep the order they were kept in."""
        # The same object, not an equal one: two clips may hold the same bytes and still be two clips.
        if any(kept is clip for kept in self.clips):
            return
        if len(self.clips) >= MAX_CLIPS:
            raise SessionError("clips", f"a report holds at most {MAX_CLIPS} clips")
        self.clips.insert(min(max(index, 0), len(self.clips)), clip)
        self._changed()

    @property
    def clip_room(self) -> bool:
        """Whether one more clip fits in the report."""
        return len(self.clips) < MAX_CLIPS

    # ------------------------------------------------------------ system information
    def set_sysinfo(self, snapshot: dict[str, Any]) -> None:
        self.sysinfo = snapshot
        self._changed()

    def set_group_included(self, group: str, included: bool) -> None:
        if included:
            self.excluded_groups.discard(group)
        else:
            self.excluded_groups.add(group)
        self._changed()

    # ------------------------------------------------------------ outcome
    def finish(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self._changed()

    # ------------------------------------------------------------ files and wiping
    @property
    def temp_dir(self) -> Path:
        """This session's private directory (created on first use, removed by ``wipe``)."""
        if self._temp_dir is None or not self._temp_dir.exists():
            if self._temp_root is not None:
                self._temp_root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._temp_dir = Path(tempfile.mkdtemp(prefix="session-", dir=self._temp_root))
        return self._temp_dir

    def wipe(self) -> None:
        """Forget everything of this person: memory, thumbnails, temporary files."""
        if self._temp_dir is not None:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(self._temp_dir)
            self._temp_dir = None
        self._clear()
        self._changed()
