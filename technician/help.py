"""Every technician command with its keys, in one table; the window makes its actions from it and
the help overlay lists it, so the two cannot disagree."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QMouseEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QFrame,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from technician.settings import TechSettings


@dataclass(frozen=True)
class Command:
    name: str  # the action's object name: tech-<name>
    label: str
    keys: tuple[str, ...]  # QKeySequence strings, the first one shown first
    group: str
    short: str = ""  # a button's text, where the label is too long for a tool bar


COMMANDS: Final[tuple[Command, ...]] = (
    # queue
    Command("search", "Search the queue", ("Ctrl+F", "/"), "Queue"),
    Command("next-ticket", "Next ticket", ("J",), "Queue"),
    Command("previous-ticket", "Previous ticket", ("K",), "Queue"),
    Command("reload", "Reload the queue", ("F5",), "Queue"),
    Command("show-queue", "Show the queue", ("Ctrl+1",), "Queue"),
    Command("show-dashboard", "Show the figures", ("Ctrl+2",), "Queue"),
    # viewer
    Command("next-step", "Next step", ("Right",), "Viewer"),
    Command("previous-step", "Previous step", ("Left",), "Viewer"),
    Command("zoom-in", "Zoom in", ("+", "="), "Viewer"),
    Command("zoom-out", "Zoom out", ("-",), "Viewer"),
    Command("zoom-fit", "Fit to the window", ("F",), "Viewer"),
    Command("zoom-actual", "Actual size (1:1)", ("1",), "Viewer"),
    Command("show-steps", "Steps", ("P",), "Viewer"),
    Command("show-system", "System information", ("I",), "Viewer"),
    Command("show-history", "History of this person and machine", ("H",), "Viewer"),
    Command("show-timeline", "Timeline and notes", ("T",), "Viewer"),
    # work
    Command("claim", "Claim (assign to me)", ("C",), "Work", "Claim"),
    Command("assign", "Assign to…", ("A",), "Work", "Assign…"),
    Command("status-open", "Mark open", ("Alt+O",), "Work"),
    Command("status-waiting", "Mark waiting for the reporter", ("Alt+W",), "Work"),
    Command("status-resolved", "Mark resolved", ("Alt+R",), "Work"),
    Command("status-closed", "Mark closed", ("Alt+C",), "Work"),
    Command("note", "Internal note", ("N",), "Work", "Note"),
    Command("reply", "Reply to the reporter", ("R",), "Work", "Reply"),
    Command("call-next", "Call the next walk-up person", ("Q",), "Work", "Call next"),
    Command("export", "Export the report bundle", ("E",), "Work", "Export"),
    Command("copy-link", "Copy the ticket link", ("L", "Ctrl+Shift+C"), "Work", "Copy link"),
    Command("revoke-link", "Revoke the person's link", (), "Work", "Revoke link…"),
    # general
    Command("help", "Keyboard shortcuts", ("F1", "?"), "General", "Keys"),
)
BY_NAME: Final = {command.name: command for command in COMMANDS}


def shortcut_text(command: Command, keys: Sequence[str] | None = None) -> str:
    shown = command.keys if keys is None else keys
    return " or ".join(QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText) for key in shown)


# Modifiers that still leave a key a plain character (a capital, a digit on the keypad).
_CHARACTER_MODIFIERS: Final = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier


def is_character_key(key: str) -> bool:
    """A letter, digit, sign or space without Ctrl, Alt or Meta: what typing and speech input produce.

    WCAG 2.1.4 asks that such shortcuts can be turned off or remapped and act only where no text is typed.
    """
    sequence = QKeySequence(key)
    if sequence.count() != 1:
        return False
    combination = sequence[0]  # type: ignore[index]  # PySide indexes it; its stubs do not say so
    if combination.keyboardModifiers() & ~_CHARACTER_MODIFIERS:
        return False
    code = int(combination.key().value)
    return 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF


def command_keys(settings: TechSettings) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """Every command's keys under ``settings`` (remapped, single keys dropped when off), and the
    names in ``[tech.keys]`` that are no command."""
    own = dict(settings.keys)
    unknown = sorted(name for name in own if name not in BY_NAME)
    keys: dict[str, tuple[str, ...]] = {}
    for command in COMMANDS:
        chosen = own.get(command.name, command.keys)
        if not settings.single_key_shortcuts:
            chosen = tuple(k for k in chosen if not is_character_key(k))
        keys[command.name] = tuple(chosen)
    return keys, unknown


def is_text_input(widget: QWidget | None) -> bool:
    """A widget that takes typed text now: there, a character is text, never a command."""
    if isinstance(widget, QLineEdit):
        return not widget.isReadOnly()
    if isinstance(widget, QTextEdit | QPlainTextEdit):
        return not widget.isReadOnly()
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, QAbstractSpinBox)


LEFT_GROUPS: Final = ("Queue", "Viewer")
CARD_WIDTH: Final = 1040


def _group_html(commands: Sequence[Command], group: str, keys_of: Mapping[str, tuple[str, ...]]) -> str:
    rows = []
    for command in commands:
        if command.group != group:
            continue
        own = keys_of.get(command.name, command.keys)
        keys = " ".join(f"<b><code>{html.escape(QKeySequence(k).toString())}</code></b>" for k in own) or "—"
        rows.append(f"<tr><td width='150'>{keys}</td><td>{html.escape(command.label)}</td></tr>")
    if not rows:
        return ""
    return f"<h3>{html.escape(group)}</h3><table cellspacing='4'>{''.join(rows)}</table>"


def help_html(
    commands: Sequence[Command],
    available: set[str] | None = None,
    keys_of: Mapping[str, tuple[str, ...]] | None = None,
) -> str:
    """The shortcut table as HTML in two columns, grouped; commands the backend cannot do are left
    out; ``keys_of`` gives the keys in force (a site's own, single keys off)."""
    keys_of = keys_of or {}
    shown = [c for c in commands if available is None or c.name in available]
    groups = list(dict.fromkeys(c.group for c in shown))
    left = "".join(_group_html(shown, g, keys_of) for g in groups if g in LEFT_GROUPS)
    right = "".join(_group_html(shown, g, keys_of) for g in groups if g not in LEFT_GROUPS)
    return (
        "<h2>Keyboard shortcuts</h2>"
        f"<table width='100%'><tr><td valign='top' width='50%'>{left}</td>"
        f"<td valign='top' width='50%'>{right}</td></tr></table>"
        "<p>Keys without Ctrl or Alt never act while the cursor is in a text field; [tech] "
        "single_key_shortcuts = false turns them off, [tech.keys] gives a command other keys. "
        "Esc or a click closes this.</p>"
    )


class HelpOverlay(QFrame):
    """A dimmed layer over the window listing the shortcuts; Esc, F1 or a click closes it."""

    closed = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("HelpOverlay")
        self.setStyleSheet(
            "#HelpOverlay { background: rgba(20, 24, 32, 200); }"
            "#HelpCard { background: white; border-radius: 10px; }"
            "#HelpCard QLabel { color: #1b1f24; font-size: 11pt; background: white; }"
            "#HelpCard QScrollArea, #HelpCard QScrollArea > QWidget > QWidget { background: white; }"
        )
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._outer = outer = QVBoxLayout(self)
        card = QFrame(self)
        card.setObjectName("HelpCard")
        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(28, 18, 28, 18)
        scroll = QScrollArea(card)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll.setWidget(self.text)
        card_layout.addWidget(scroll)
        outer.addWidget(card)
        self.hide()
        parent.installEventFilter(self)

    def show_for(self, available: set[str], keys_of: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.text.setText(help_html(COMMANDS, available, keys_of))
        self._fit()
        self.show()
        self.raise_()
        self.setFocus()

    def dismiss(self) -> None:
        if self.isVisible():
            self.hide()
            self.closed.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self._fit()
        return False

    def _fit(self) -> None:
        """Cover the parent; the card keeps a readable width in the middle."""
        parent = self.parentWidget()
        if parent is None:
            return
        self.setGeometry(parent.rect())
        side = max(40, (parent.width() - CARD_WIDTH) // 2)
        self._outer.setContentsMargins(side, 30, side, 30)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_F1, Qt.Key.Key_Question):
            self.dismiss()
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.dismiss()
        event.accept()
