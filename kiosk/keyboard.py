"""The kiosk's own on-screen keyboard, for touch screens without a physical one.

Qt Virtual Keyboard is GPL-3, so the kiosk brings its own: a plain widget of big keys that
types into whichever text field has focus by sending it ordinary key events. No screen knows
about it: ``dock_keyboard`` puts it at the bottom of the window, watches the application's
focus, opens it when an editable text field in the flow gets focus (or is tapped again after
"hide") and closes it when focus leaves text fields. The screen area above shrinks while it
is open, and the focused field is scrolled into the part that is left, so the keyboard never
covers what is being typed. Keys never take focus, so a physical keyboard keeps working.

The letters follow the kiosk's language (German adds ä ö ü ß) and change live on
``QEvent.LanguageChange``; the colours come from the theme's style sheet (``role="key"``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from kiosk.theme import BUTTON_HEIGHT_PX, MIN_TARGET_PX

# Keys as tall as a touch button at 1080p, never below the touch minimum on smaller screens.
KEY_HEIGHT_SHARE: Final = 0.066
KEY_SPACING_PX: Final = 8
KEYBOARD_MARGIN_PX: Final = 12
# Wider than this, keys get so far apart that the hands travel; the rest is empty frame.
MAX_KEYS_WIDTH_PX: Final = 1500
# Room kept between the focused field and the keyboard's edge.
FIELD_MARGIN_PX: Final = 24

class KeyKind(enum.Enum):
    CHAR = "char"
    SHIFT = "shift"
    BACKSPACE = "backspace"
    ENTER = "enter"
    SPACE = "space"
    LAYER = "layer"
    HIDE = "hide"


class Layer(enum.Enum):
    LETTERS = "letters"
    SYMBOLS = "symbols"


@dataclass(frozen=True)
class KeySpec:
    kind: KeyKind
    text: str = ""  # what a CHAR key types (lower case; shift types its upper case)
    stretch: int = 2  # width in half keys


def _chars(row: str) -> list[KeySpec]:
    return [KeySpec(KeyKind.CHAR, char) for char in row.split(" ")]


_BOTTOM_ROW: Final = [
    KeySpec(KeyKind.LAYER, stretch=3),
    KeySpec(KeyKind.CHAR, "@"),
    KeySpec(KeyKind.SPACE, stretch=10),
    KeySpec(KeyKind.CHAR, "."),
    KeySpec(KeyKind.CHAR, ".com", stretch=3),
    KeySpec(KeyKind.HIDE, stretch=3),
]

LETTER_ROWS: Final[dict[str, list[list[KeySpec]]]] = {
    "en": [
        [*_chars("q w e r t y u i o p"), KeySpec(KeyKind.BACKSPACE, stretch=3)],
        [*_chars("a s d f g h j k l"), KeySpec(KeyKind.ENTER, stretch=4)],
        [KeySpec(KeyKind.SHIFT, stretch=3), *_chars("z x c v b n m - _"), KeySpec(KeyKind.CHAR, ",")],
        _BOTTOM_ROW,
    ],
    "de": [
        [*_chars("q w e r t z u i o p ü"), KeySpec(KeyKind.BACKSPACE, stretch=3)],
        [*_chars("a s d f g h j k l ö ä"), KeySpec(KeyKind.ENTER, stretch=3)],
        [KeySpec(KeyKind.SHIFT, stretch=3), *_chars("y x c v b n m ß - _"), KeySpec(KeyKind.CHAR, ",")],
        _BOTTOM_ROW,
    ],
}

SYMBOL_ROWS: Final[list[list[KeySpec]]] = [
    [*_chars("1 2 3 4 5 6 7 8 9 0"), KeySpec(KeyKind.BACKSPACE, stretch=3)],
    [*_chars("+ = / \\ ( ) # & *"), KeySpec(KeyKind.ENTER, stretch=4)],
    [*_chars("! ? : ; ' \" % € $ ~ |")],
    _BOTTOM_ROW,
]

# Qt's key codes for the characters a QKeyEvent cannot take from their code point alone.
_SPECIAL_KEYS: Final = {"ß": Qt.Key.Key_ssharp, "€": Qt.Key.Key_unknown}


def key_code(char: str) -> Qt.Key:
    """The Qt key a physical keyboard would report for ``char`` (Qt's codes are the upper-case code points)."""
    if char in _SPECIAL_KEYS:
        return _SPECIAL_KEYS[char]
    upper = char.upper()
    if len(char) == 1 and len(upper) == 1 and ord(upper) < 0x100:
        return Qt.Key(ord(upper))
    return Qt.Key.Key_unknown


def is_text_field(widget: QObject | None) -> bool:
    """A field a person types into: a line edit or a text edit, enabled and not read-only."""
    if isinstance(widget, QLineEdit):
        return widget.isEnabled() and not widget.isReadOnly() and widget.echoMode() == QLineEdit.EchoMode.Normal
    if isinstance(widget, QPlainTextEdit | QTextEdit):
        return widget.isEnabled() and not widget.isReadOnly()
    return False


class OnScreenKeyboard(QFrame):
    """Rows of keys; ``hide_requested`` when the person taps the hide key."""

    hide_requested = Signal()

    def __init__(self, language: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("OnScreenKeyboard")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        # Tapping the keyboard must leave focus in the field being typed into.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._language_of = language
        self.language = ""
        self.layer = Layer.LETTERS
        self.shifted = False
        self.target: QWidget | None = None
        self.key_height = BUTTON_HEIGHT_PX
        self.keys: list[tuple[KeySpec, QPushButton]] = []
        outer = QHBoxLayout(self)
        outer.setContentsMargins(KEYBOARD_MARGIN_PX, KEYBOARD_MARGIN_PX, KEYBOARD_MARGIN_PX, KEYBOARD_MARGIN_PX)
        outer.addStretch(1)
        self._keys_widget = QWidget()
        self._keys_widget.setMaximumWidth(MAX_KEYS_WIDTH_PX)
        self._keys_widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._rows = QVBoxLayout(self._keys_widget)
        self._rows.setContentsMargins(0, 0, 0, 0)
        self._rows.setSpacing(KEY_SPACING_PX)
        outer.addWidget(self._keys_widget, 100)
        outer.addStretch(1)
        self.set_key_height(BUTTON_HEIGHT_PX)
        self.rebuild()

    # ------------------------------------------------------------ building
    def rows(self) -> list[list[KeySpec]]:
        if self.layer is Layer.SYMBOLS:
            return SYMBOL_ROWS
        return LETTER_ROWS.get(self.language, LETTER_ROWS["en"])

    def rebuild(self) -> None:
        """Keys for the current language and layer (a language change swaps the whole set)."""
        self.language = self._language_of()
        while (item := self._rows.takeAt(0)) is not None:
            row_layout = item.layout()
            if row_layout is not None:
                while (key_item := row_layout.takeAt(0)) is not None:
                    widget = key_item.widget()
                    if widget is not None:
                        widget.hide()
                        widget.deleteLater()
                row_layout.deleteLater()
        self.keys = []
        for row in self.rows():
            row_layout = QHBoxLayout()
            row_layout.setSpacing(KEY_SPACING_PX)
            for spec in row:
                button = self._make_key(spec)
                row_layout.addWidget(button, spec.stretch)
                button.show()  # now, not on the next turn of the event loop: the layer changes under a finger
                self.keys.append((spec, button))
            self._rows.addLayout(row_layout)
        self.retranslate()

    def _make_key(self, spec: KeySpec) -> QPushButton:
        button = QPushButton(self._keys_widget)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setAutoDefault(False)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        button.setMinimumWidth(MIN_TARGET_PX)
        # Holding backspace clears a word; letters do not repeat (a resting finger would fill the field).
        button.setAutoRepeat(spec.kind is KeyKind.BACKSPACE)
        button.setAutoRepeatDelay(500)
        role = "key" if spec.kind is KeyKind.CHAR else "key-action"
        if spec.kind is KeyKind.ENTER:
            role = "key-done"
        button.setProperty("role", role)
        button.setObjectName(f"key-{spec.kind.value}" if spec.kind is not KeyKind.CHAR else f"key-char-{spec.text}")
        if spec.kind is KeyKind.SHIFT:
            button.setCheckable(True)
        button.clicked.connect(lambda _checked=False, s=spec: self.press(s))
        return button

    def retranslate(self) -> None:
        """Labels (mostly symbols) and, for each key, the name a screen reader says."""
        multi_line = isinstance(self.target, QPlainTextEdit | QTextEdit)
        for spec, button in self.keys:
            label, name = self._label_and_name(spec, multi_line)
            button.setText(label)
            button.setAccessibleName(name)
            if spec.kind is KeyKind.SHIFT:
                button.setChecked(self.shifted)

    def _label_and_name(self, spec: KeySpec, multi_line: bool) -> tuple[str, str]:
        if spec.kind is KeyKind.CHAR:
            char = self.shown_char(spec.text)
            return char.replace("&", "&&"), char  # a lone & would be a mnemonic marker, not shown
        if spec.kind is KeyKind.SHIFT:
            return "⇧", QCoreApplication.translate("OnScreenKeyboard", "Shift")
        if spec.kind is KeyKind.BACKSPACE:
            return "⌫", QCoreApplication.translate("OnScreenKeyboard", "Backspace")
        if spec.kind is KeyKind.SPACE:
            return "␣", QCoreApplication.translate("OnScreenKeyboard", "Space")
        if spec.kind is KeyKind.ENTER:
            if multi_line:
                return "↵", QCoreApplication.translate("OnScreenKeyboard", "New line")
            return "✓", QCoreApplication.translate("OnScreenKeyboard", "Done")
        if spec.kind is KeyKind.LAYER:
            if self.layer is Layer.LETTERS:
                return "?123", QCoreApplication.translate("OnScreenKeyboard", "Numbers and symbols")
            return "ABC", QCoreApplication.translate("OnScreenKeyboard", "Letters")
        return "⌨ ▾", QCoreApplication.translate("OnScreenKeyboard", "Hide keyboard")

    def shown_char(self, text: str) -> str:
        if self.shifted and len(text) == 1 and text.upper() != text and len(text.upper()) == 1:
            return text.upper()
        return text

    def set_key_height(self, height: int) -> None:
        self.key_height = height
        rows = 4
        self.setFixedHeight(rows * height + (rows - 1) * KEY_SPACING_PX + 2 * KEYBOARD_MARGIN_PX)

    def set_target(self, widget: QWidget | None) -> None:
        self.target = widget
        self.retranslate()

    def key(self, kind: KeyKind, text: str = "") -> QPushButton:
        """The button of a key (the first of its kind): for tests and for people who point."""
        for spec, button in self.keys:
            if spec.kind is kind and (kind is not KeyKind.CHAR or spec.text == text):
                return button
        raise KeyError(f"no {kind.value} key {text!r} on the {self.layer.value} layer")

    # ------------------------------------------------------------ typing
    def press(self, spec: KeySpec) -> None:
        if spec.kind is KeyKind.SHIFT:
            self.shifted = not self.shifted
            self.retranslate()
        elif spec.kind is KeyKind.LAYER:
            self.layer = Layer.SYMBOLS if self.layer is Layer.LETTERS else Layer.LETTERS
            self.shifted = False
            self.rebuild()
        elif spec.kind is KeyKind.HIDE:
            self.hide_requested.emit()
        elif spec.kind is KeyKind.BACKSPACE:
            self._send(Qt.Key.Key_Backspace, "")
        elif spec.kind is KeyKind.SPACE:
            self._send(Qt.Key.Key_Space, " ")
        elif spec.kind is KeyKind.ENTER:
            self._send(Qt.Key.Key_Return, "\r")
        else:
            char = self.shown_char(spec.text)
            upper = char != spec.text
            self._send(key_code(spec.text), char, Qt.KeyboardModifier.ShiftModifier if upper else None)
            if self.shifted:
                # One capital, as on a phone: the next letter is small again.
                self.shifted = False
                self.retranslate()

    def _send(self, key: Qt.Key, text: str, modifiers: Qt.KeyboardModifier | None = None) -> None:
        """A key press and release to the focused field, as a physical keyboard would send them."""
        target = QApplication.focusWidget()
        if not is_text_field(target):
            return
        assert target is not None
        mods = modifiers if modifiers is not None else Qt.KeyboardModifier.NoModifier
        QApplication.sendEvent(target, QKeyEvent(QEvent.Type.KeyPress, key, mods, text))
        QApplication.sendEvent(target, QKeyEvent(QEvent.Type.KeyRelease, key, mods, text))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.LanguageChange:
            if self._language_of() != self.language:
                self.rebuild()
            else:
                self.retranslate()
        super().changeEvent(event)


class KeyboardRoom(QWidget):
    """Holds the screens; while the keyboard is open, shows the part of the current screen around the focused field.

    A screen keeps at least its own minimum height (nothing is squeezed); when that is taller
    than the room above the keyboard, the screen moves up just far enough to show the field.
    """

    def __init__(self, content: QStackedWidget, keyboard: OnScreenKeyboard) -> None:
        super().__init__()
        self.content = content
        self.keyboard = keyboard
        self.offset = 0
        content.setParent(self)
        content.currentChanged.connect(lambda _index: self.place())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # The window's size is the screen's; the screens take what is left.
        return QSize(0, 0)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self.content.sizeHint()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.place()

    def place(self) -> None:
        if self.keyboard.isHidden():
            self.offset = 0
            self.content.setGeometry(self.rect())
            return
        page = self.content.currentWidget()
        needed = self.height()
        if page is not None:
            needed = max(needed, page.minimumSizeHint().height())
            if page.hasHeightForWidth():
                needed = max(needed, page.heightForWidth(self.width()))
        self.content.setGeometry(0, -self.offset, self.width(), needed)
        field = self.keyboard.target
        if field is None or not self.content.isAncestorOf(field):
            self.offset = min(self.offset, needed - self.height())
        else:
            # A field inside a scrolling list: scroll the list first, then the screen.
            area = _scroll_area_of(field, self.content)
            if area is not None:
                area.ensureWidgetVisible(field, 0, FIELD_MARGIN_PX)
            top = field.mapTo(self.content, QPoint(0, 0)).y()
            bottom = top + field.height()
            offset = self.offset
            if bottom + FIELD_MARGIN_PX > offset + self.height():
                offset = bottom + FIELD_MARGIN_PX - self.height()
            if top - FIELD_MARGIN_PX < offset:
                offset = top - FIELD_MARGIN_PX
            self.offset = offset
        self.offset = max(0, min(self.offset, needed - self.height()))
        self.content.move(0, -self.offset)

    def visible_rect_of(self, widget: QWidget) -> QRect:
        """Where ``widget`` is, in this room's coordinates (for checks that nothing is hidden)."""
        return QRect(widget.mapTo(self, QPoint(0, 0)), widget.size())


def _scroll_area_of(widget: QWidget, stop: QWidget) -> QScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None and parent is not stop:
        inner = parent.widget() if isinstance(parent, QScrollArea) else None
        if isinstance(parent, QScrollArea) and inner is not None and inner.isAncestorOf(widget):
            return parent
        parent = parent.parentWidget()
    return None


class KeyboardDock(QObject):
    """The keyboard in a window: opens on focus of a text field in ``scope``, closes when focus leaves text fields."""

    def __init__(self, window: QWidget, layout: QBoxLayout, content: QStackedWidget) -> None:
        super().__init__(window)
        self.window = window
        self.keyboard = OnScreenKeyboard(lambda: str(getattr(window, "language", "en")))
        self.keyboard.hide()
        index = layout.indexOf(content)
        self.room = KeyboardRoom(content, self.keyboard)
        layout.insertWidget(max(index, 0), self.room, 1)
        layout.addWidget(self.keyboard)
        self.keyboard.hide_requested.connect(self.close)
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.focusChanged.connect(self._focus_changed)
        # Taps on a field that already has focus (after "hide") open the keyboard again.
        app.installEventFilter(self)
        window.installEventFilter(self)
        self._fit_to(window.height())

    @property
    def is_open(self) -> bool:
        return not self.keyboard.isHidden()

    def wants_keyboard(self, widget: QObject | None) -> bool:
        return is_text_field(widget) and isinstance(widget, QWidget) and self.room.content.isAncestorOf(widget)

    def open_for(self, field: QWidget) -> None:
        self.keyboard.set_target(field)
        self.keyboard.show()
        self._relayout()
        self.room.place()

    def close(self) -> None:
        if self.keyboard.isHidden():
            return
        self.keyboard.hide()
        self._relayout()
        self.room.place()

    def _relayout(self) -> None:
        # Now, not on the next event loop turn: the field must be placed before anyone looks.
        layout = self.window.layout()
        if layout is not None:
            layout.activate()

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if self.wants_keyboard(new):
            assert new is not None
            self.open_for(new)
        elif new is not None or not self.window.isVisible():
            # Focus moved to something that is not a text field (None: the window lost activation).
            self.keyboard.set_target(None)
            self.close()

    def _fit_to(self, window_height: int) -> None:
        height = max(MIN_TARGET_PX, min(BUTTON_HEIGHT_PX, round(window_height * KEY_HEIGHT_SHARE)))
        if height != self.keyboard.key_height:
            self.keyboard.set_key_height(height)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if watched is self.window and kind == QEvent.Type.Resize:
            self._fit_to(self.window.height())
        elif kind in (QEvent.Type.MouseButtonRelease, QEvent.Type.TouchEnd) and not self.is_open:
            # A text edit takes taps on its viewport, the field itself is the viewport's parent.
            field = watched if self.wants_keyboard(watched) else getattr(watched, "parent", lambda: None)()
            if isinstance(field, QWidget) and self.wants_keyboard(field) and field.hasFocus():
                self.open_for(field)
        return False


def dock_keyboard(window: QWidget, layout: QBoxLayout, content: QStackedWidget) -> KeyboardDock:
    """Put an on-screen keyboard under ``content`` (the screens) in ``window``'s ``layout``."""
    return KeyboardDock(window, layout, content)
