"""A report being written in the agent: its steps with mark-up, the form, and freezing it into a bundle.

No Qt here. The report window holds a :class:`ReportDraft` and edits it; :func:`freeze` (run on a
worker thread: it flattens mark-up and encodes images) turns it into the ``ReportBundle`` the
outbox takes.
"""

from __future__ import annotations

import getpass
import socket
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from pydantic import ValidationError

from agent import __version__
from agent.bundle import BundleError, ReportBundle, build_bundle
from agent.schema import (
    MAX_CLIPS,
    MAX_DESCRIPTION_CHARS,
    MAX_SHORT_TEXT_CHARS,
    MAX_STEPS,
    MarkupItem,
    Report,
    Reporter,
    Source,
    describe_validation_error,
)
from agent.steps import EditableStep, freeze_step
from agent.sysinfo import without_groups

if TYPE_CHECKING:
    from agent.clips import EncodedClip, Recording

_SHORT: Final = MAX_SHORT_TEXT_CHARS
MAX_EMAIL_CHARS: Final = 254  # RFC 5321's limit on a whole address


class DraftError(ValueError):
    """The report cannot be sent as it is; the message says what to change."""


@dataclass(frozen=True)
class ReportForm:
    """What the person typed."""

    description: str = ""
    category: str = ""
    name: str = ""
    email: str = ""

    def problems(self) -> list[str]:
        found = []
        if len(self.description) > MAX_DESCRIPTION_CHARS:
            found.append(f"the description is longer than {MAX_DESCRIPTION_CHARS} characters")
        for label, value in (("category", self.category), ("name", self.name)):
            if len(value) > _SHORT:
                found.append(f"the {label} is longer than {_SHORT} characters")
        if self.email.strip():
            try:
                Reporter(email=self.email.strip())
            except ValidationError:
                found.append(f"{self.email.strip()!r} is not an e-mail address (like name@example.org)")
        return found


@dataclass(eq=False)
class DraftClip:
    """A clip of the report: the trimmed recording (in memory), its black boxes, and its encoding.

    ``encoded`` is the recording encoded with every box in ``redactions`` burnt into every frame
    (what is sent and what the person's preview plays); it is None while an encode runs. New boxes
    mean a new encode from ``recording``, so the file sent never holds what is under a box.
    """

    recording: Recording
    redactions: list[MarkupItem] = field(default_factory=list)
    encoded: EncodedClip | None = None
    caption: str = ""


@dataclass
class ReportDraft:
    """Everything a report will carry, until it is frozen."""

    id: uuid.UUID = field(default_factory=uuid.uuid4)
    steps: list[EditableStep] = field(default_factory=list)
    form: ReportForm = field(default_factory=ReportForm)
    sysinfo: dict[str, object] | None = None
    excluded_groups: set[str] = field(default_factory=set)
    clips: list[DraftClip] = field(default_factory=list)

    def add_clip(self, clip: DraftClip) -> int:
        """Append a clip (up to the schema's limit); returns its index."""
        if len(self.clips) >= MAX_CLIPS:
            raise DraftError(f"a report holds at most {MAX_CLIPS} clips; remove one to add another")
        self.clips.append(clip)
        return len(self.clips) - 1

    def add_steps(self, steps: Sequence[EditableStep]) -> list[int]:
        """Append steps (up to the schema's limit); returns the indexes they got."""
        room = MAX_STEPS - len(self.steps)
        if room <= 0:
            raise DraftError(f"a report holds at most {MAX_STEPS} captures; remove one to add another")
        added = list(steps)[:room]
        first = len(self.steps)
        self.steps.extend(added)
        return list(range(first, first + len(added)))

    def submitted_sysinfo(self) -> dict[str, object] | None:
        """The system information exactly as it will be sent: the switched-off groups removed."""
        if self.sysinfo is None:
            return None
        return without_groups(self.sysinfo, [g for g in self.excluded_groups if g in self.sysinfo])


def agent_source() -> Source:
    return Source(kind="agent", id=(socket.gethostname() or "unknown")[:_SHORT], app_version=__version__)


def freeze(draft: ReportDraft, source: Source | None = None) -> ReportBundle:
    """The draft as a validated bundle, ready for the outbox. Slow: run it on a worker thread."""
    problems = draft.form.problems()
    if problems:
        raise DraftError("; ".join(problems))
    form = draft.form
    try:
        base = Report(
            id=draft.id,
            reporter=Reporter(name=form.name.strip() or None, email=form.email.strip() or None),
            category=form.category.strip(),
            description=form.description.strip(),
            source=source or agent_source(),
        )
    except ValidationError as exc:
        raise DraftError(describe_validation_error(exc)) from exc
    steps = [freeze_step(step) for step in draft.steps]
    if any(clip.encoded is None for clip in draft.clips):
        raise DraftError("a clip is still being prepared; send once it shows in the report")
    clips = [clip.encoded.draft(clip.caption) for clip in draft.clips if clip.encoded is not None]
    try:
        return build_bundle(base, steps, sysinfo=draft.submitted_sysinfo(), clips=clips)
    except BundleError as exc:
        raise DraftError(str(exc)) from exc


# ---------------------------------------------------------------- who is reporting
def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def os_user_full_name() -> str:
    """The person's full name as the operating system knows it, or "" when it knows none.

    The login name is no name to greet anyone with ("root", "jdoe"): an account whose full-name
    field is empty or just repeats the login gives an empty field the person fills in once.
    """
    login = _login_name()
    if not login or sys.platform == "win32":
        return ""
    try:
        import pwd

        gecos = pwd.getpwnam(login).pw_gecos
    except (KeyError, ImportError):
        return ""
    full = gecos.split(",", 1)[0].strip()
    if not full or full.casefold() == login.casefold():
        return ""
    return full[:_SHORT]


def default_contact(email_domain: str = "", remembered: tuple[str, str] | None = None) -> tuple[str, str]:
    """(name, e-mail) to prefill: what the person sent last time when known, else from the OS user.

    ``remembered`` wins as a whole, empty fields included: a person who cleared the e-mail on
    purpose does not want it filled in again. The e-mail from the OS only with a configured domain.
    """
    if remembered is not None:
        name, email = remembered
        return name[:_SHORT], email[:MAX_EMAIL_CHARS]
    login = _login_name()
    email = f"{login}@{email_domain}" if email_domain and login else ""
    return os_user_full_name(), email
