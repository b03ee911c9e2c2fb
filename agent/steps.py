"""A step while a person edits it, the words saying what was done, and freezing it for a bundle. No Qt.

The laptop app and the kiosk both keep a step's image exactly as it was captured and its
mark-up as data while the person works on it: mark-up can be changed or removed until the
report is sent, and is always redrawn on the captured pixels, never on an earlier flattening.
:func:`freeze_step` (slow: run it on a worker thread) burns the mark-up in and gives the
``StepDraft`` that ``agent.bundle.build_bundle`` takes.

The step recorder says in words what each step was ("Left-click 'OK' button in 'Save As'",
"Typed 7 keys"): :func:`click_line`, :func:`typed_keys_line` and :func:`step_text` make those
lines. They go into the step's caption, which the person reads, edits or clears before sending.
Keys are only ever a count: the recorder never learns which keys they were.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final

from agent.bundle import StepDraft
from agent.markup import Encoder, FlattenResult, flatten, original_may_be_kept
from agent.pointer_target import PointerTarget
from agent.schema import MAX_CAPTION_CHARS, MAX_SHORT_TEXT_CHARS, MarkupItem, Monitor

if TYPE_CHECKING:
    from PIL import Image

_SHORT: Final = MAX_SHORT_TEXT_CHARS
BUTTON_WORDS: Final[dict[int, str]] = {1: "Left-click", 2: "Middle-click", 3: "Right-click"}
SCROLL_BUTTONS: Final = frozenset({4, 5, 6, 7})  # X11 wheel "buttons": scrolling is no step
MAX_NAME_CHARS: Final = 80  # of an element's name or a window title inside a step line
_ACTIONS_SEPARATOR: Final = ". "
_CAPTION_SEPARATOR: Final = " — "


def click_line(button: int, x: int, y: int, target: PointerTarget | None) -> str:
    """What a click did, in words: "Left-click 'OK' button in 'Save As'".

    The fallbacks say what is known: "Left-click a text field in 'Save As'" (no name),
    "Left-click in 'Save As'" (only the window), "Left-click at (x, y)" (nothing).
    """
    action = BUTTON_WORDS.get(button, f"Button {button} click")
    name = _quoted(target.name) if target is not None and target.name else ""
    role = target.role if target is not None else ""
    title = _quoted(target.window_title) if target is not None and target.window_title else ""
    if name:
        what = f"{name} {role}" if role else name
    elif role:
        what = f"{'an' if role[0] in 'aeiou' else 'a'} {role}"
    else:
        what = ""
    words = [action]
    if what:
        words.append(what)
    if title:
        words.append(f"in {title}")
    if not what and not title:
        words.append(f"at ({x}, {y})")
    return " ".join(words)


def typed_keys_line(count: int) -> str:
    """Keys pressed since the last step, as a count only: "Typed 7 keys"."""
    return f"Typed {count} key{'' if count == 1 else 's'}"


def step_text(lines: Sequence[str], caption: str = "") -> str:
    """A step's caption: what was done, then what the person wrote, within the caption limit.

    "Typed 7 keys. Left-click 'OK' button in 'Save As' — Saving the report fails here".
    The person's words are what gets shortened when the whole would be too long.
    """
    actions = _ACTIONS_SEPARATOR.join(line for line in lines if line)[:MAX_CAPTION_CHARS]
    caption = caption.strip()
    if not actions:
        return caption[:MAX_CAPTION_CHARS]
    if not caption:
        return actions
    room = MAX_CAPTION_CHARS - len(actions) - len(_CAPTION_SEPARATOR)
    return f"{actions}{_CAPTION_SEPARATOR}{caption[:room]}" if room > 0 else actions


def _quoted(text: str) -> str:
    one_line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(one_line) > MAX_NAME_CHARS:
        one_line = one_line[: MAX_NAME_CHARS - 1] + "…"
    return f"'{one_line}'"


@dataclass
class EditableStep:
    """A step while it is edited: the image as captured (never marked up) and its mark-up as data.

    ``flattened`` is the mark-up already burnt in, when an app made it to show it (the kiosk's
    review does); :func:`freeze_step` then takes it instead of flattening again. It belongs to
    the current ``image`` and ``markup``: change them through :meth:`set_markup`, or clear it.
    """

    image: bytes
    width: int
    height: int
    captured_at: datetime
    monitor: Monitor | None = None
    capture_method: str = "mss"
    capture_notes: str = ""
    caption: str = ""
    markup: list[MarkupItem] = field(default_factory=list)
    flattened: FlattenResult | None = field(default=None, repr=False)
    # Names the step while it is edited (thumbnails, the screen's buttons); never sent.
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def from_step_draft(cls, draft: StepDraft) -> EditableStep:
        """A captured step to edit; a marked-up one goes back to its original when it has one."""
        return cls(
            image=draft.original if draft.original is not None and draft.markup else draft.image,
            width=draft.width,
            height=draft.height,
            captured_at=draft.captured_at,
            monitor=draft.monitor,
            capture_method=draft.capture_method,
            capture_notes=draft.capture_notes,
            caption=draft.caption,
            markup=list(draft.markup),
        )

    def set_markup(self, items: list[MarkupItem], flattened: FlattenResult | None = None) -> None:
        """New mark-up, with its flattening when the caller already made it (else none is kept)."""
        self.markup = list(items)
        self.flattened = flattened if items else None


def freeze_step(step: EditableStep, *, keep_original: bool = True, encode_image: Encoder | None = None) -> StepDraft:
    """The step as it is sent: mark-up burnt in and kept as data, the original only when allowed.

    ``keep_original=False`` never sends the unmarked original (the kiosk: a walk-up person may
    have covered something without knowing a copy would travel). With ``True`` the original
    still travels only when no item destroys or cuts away pixels (``original_may_be_kept``): a
    redaction must leave no copy of what it covers anywhere in the report.
    ``encode_image`` turns the rendered Pillow image into file bytes (default: the capture
    format, lossless); a ``flattened`` result already at hand is taken as it is.
    """
    if step.markup:
        result = step.flattened or flatten(step.image, step.markup, encoder=encode_image or _encode_default)
        image, width, height = result.image_bytes, result.width, result.height
        original = step.image if keep_original and original_may_be_kept(step.markup) else None
    else:
        image, width, height, original = step.image, step.width, step.height, None
    return StepDraft(
        image=image,
        width=width,
        height=height,
        captured_at=step.captured_at,
        caption=step.caption.strip()[:MAX_CAPTION_CHARS],
        monitor=step.monitor,
        capture_method=step.capture_method,
        capture_notes=step.capture_notes[:_SHORT],
        markup=list(step.markup),
        original=original,
    )


def _encode_default(image: Image.Image) -> bytes:
    from agent.encoding import encode

    return encode(image).data
