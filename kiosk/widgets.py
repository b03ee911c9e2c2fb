"""Building blocks every kiosk screen shares: buttons with a role, the QR code, the page frame."""

from __future__ import annotations

import io

import segno
from PySide6.QtCore import QCoreApplication, QEvent, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QScroller,
    QScrollerProperties,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.theme import BUTTON_HEIGHT_PX, SCROLL_BAR_PX


def set_role(widget: QWidget, role: str) -> None:
    """Style by role (primary, tile, title, hint …); re-polish so a changed role shows at once."""
    widget.setProperty("role", role)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def make_button(role: str = "", *, object_name: str = "") -> QPushButton:
    button = QPushButton()
    if role:
        set_role(button, role)
    if object_name:
        button.setObjectName(object_name)
    button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    button.setAutoDefault(False)
    button.setMinimumHeight(BUTTON_HEIGHT_PX)
    return button


def fill(template: str, *values: object) -> str:
    """Qt-style %1, %2 … placeholders filled in (translations may reorder them)."""
    for number, value in reversed(list(enumerate(values, start=1))):
        template = template.replace(f"%{number}", str(value))
    return template


def set_text(widget: QPushButton | QLabel, text: str, accessible: str | None = None) -> None:
    """Text and accessible name together, so a screen reader says what the eye reads."""
    widget.setText(text)
    widget.setAccessibleName(accessible if accessible is not None else text.replace("&", ""))


def make_label(role: str = "", *, wrap: bool = True) -> QLabel:
    label = QLabel()
    if role:
        set_role(label, role)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def bring_to_front(window: QWidget, *, activate: bool = True) -> None:
    """Raise (and activate) a top-level window; the offscreen test platform can do neither."""
    if QGuiApplication.platformName() != "offscreen":
        window.raise_()
        if activate:
            window.activateWindow()


def qr_pixmap(data: str, *, size: int = 240, dark: str = "#000000", light: str = "#ffffff") -> QPixmap:
    """A QR code for ``data`` at about ``size`` pixels, sharp (whole-pixel modules)."""
    code = segno.make(data, error="m")
    modules = code.symbol_size(scale=1, border=2)[0]
    scale = max(2, size // modules)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=2, dark=dark, light=light)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


class QrLabel(QLabel):
    """A QR code with an accessible description (what it opens), never just a picture."""

    def __init__(self, size: int = 240) -> None:
        super().__init__()
        self._size = size
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFixedSize(size + 16, size + 16)
        self.data = ""

    def set_data(self, data: str, description: str) -> None:
        self.data = data
        self.setPixmap(qr_pixmap(data, size=self._size) if data else QPixmap())
        self.setAccessibleName(description)
        self.setAccessibleDescription(data)


class TouchScrollArea(QScrollArea):
    """A scroll area a finger can drag (kinetic scrolling), with a touch-sized bar, that says when more is below.

    ``more_hint`` is a label for the screen to place under the area: visible while content
    is hidden below, so a cut-off card reads as "there is more" rather than as a glitch.
    ``on_surface`` is for an area inside a card: its background is the card's.
    """

    def __init__(self, *, on_surface: bool = False) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        # Not a tab stop of its own: Tab goes to what is inside, and the area scrolls it into view.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        if on_surface:
            self.setProperty("surface", "true")
        QScroller.grabGesture(self.viewport(), QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        scroller = QScroller.scroller(self.viewport())
        properties = scroller.scrollerProperties()
        # A list that bounces past its ends looks broken on a kiosk; stop at the edges.
        for axis in (
            QScrollerProperties.ScrollMetric.HorizontalOvershootPolicy,
            QScrollerProperties.ScrollMetric.VerticalOvershootPolicy,
        ):
            properties.setScrollMetric(axis, QScrollerProperties.OvershootPolicy.OvershootAlwaysOff)
        scroller.setScrollerProperties(properties)
        # Wrapped: in a narrow card (or a longer language) the hint stays whole on two lines.
        self.more_hint = make_label("more", wrap=True)
        self.more_hint.setObjectName("more-below")
        self.more_hint.hide()
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(lambda _low, _high: self.update_hint())
        bar.valueChanged.connect(lambda _value: self.update_hint())
        self.update_hint()

    def set_content(self, widget: QWidget) -> None:
        """Put ``widget`` in the area, with room on the right so the bar never covers it."""
        self.setWidget(widget)
        layout = widget.layout()
        if layout is not None:
            margins = layout.contentsMargins()
            layout.setContentsMargins(margins.left(), margins.top(), SCROLL_BAR_PX // 2, margins.bottom())

    def has_more_below(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.maximum() > 0 and bar.value() < bar.maximum()

    def update_hint(self) -> None:
        self.more_hint.setText(QCoreApplication.translate("TouchScrollArea", "▼ More below: drag to scroll"))
        self.more_hint.setVisible(self.isVisibleTo(self.window()) and self.has_more_below())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.LanguageChange:
            self.update_hint()
        super().changeEvent(event)


class KioskScreen(QWidget):
    """One page of the flow: a bar with Back and the stage title, the content, a footer with the primary action.

    Subclasses fill ``content`` and ``footer_layout``, set texts in ``retranslate`` (called
    again on every language change) and clear the person's input in ``reset``.
    """

    back_requested = Signal()

    def __init__(self, *, with_back: bool = True) -> None:
        super().__init__()
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setProperty("role", "screen")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)

        self.bar = QFrame()
        set_role(self.bar, "bar")
        bar_layout = QHBoxLayout(self.bar)
        bar_layout.setContentsMargins(32, 16, 32, 16)
        bar_layout.setSpacing(24)
        self.back_button = make_button(object_name="back")
        self.back_button.clicked.connect(self.go_back)
        if not with_back:
            self.back_button.hide()
        bar_layout.addWidget(self.back_button)
        self.title_label = make_label("title", wrap=False)
        self.title_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar_layout.addWidget(self.title_label, 1)
        self.stage_label = make_label("stage", wrap=False)
        bar_layout.addWidget(self.stage_label)
        outer.addWidget(self.bar)

        self.content = QWidget()
        self.content_layout = QVBoxLayout(self.content)
        self.content_layout.setContentsMargins(64, 40, 64, 32)
        self.content_layout.setSpacing(24)
        outer.addWidget(self.content, 1)

        self.footer = QFrame()
        set_role(self.footer, "footer")
        self.footer_layout = QHBoxLayout(self.footer)
        self.footer_layout.setContentsMargins(32, 16, 32, 16)
        self.footer_layout.setSpacing(24)
        outer.addWidget(self.footer)

    def set_stage_number(self, number: int, total: int) -> None:
        self._stage = (number, total)
        self._retranslate_frame()

    def _retranslate_frame(self) -> None:
        set_text(
            self.back_button,
            QCoreApplication.translate("KioskScreen", "‹ Back"),
            QCoreApplication.translate("KioskScreen", "Back"),
        )
        stage = getattr(self, "_stage", None)
        if stage is not None:
            text = QCoreApplication.translate("KioskScreen", "Step %1 of %2")
            self.stage_label.setText(text.replace("%1", str(stage[0])).replace("%2", str(stage[1])))

    def retranslate(self) -> None:
        """Set every visible text; subclasses call this base first."""
        self._retranslate_frame()

    def reset(self) -> None:
        """Forget the previous person's input."""

    def go_back(self) -> None:
        """Back: a screen with a panel open closes the panel first."""
        self.back_requested.emit()

    def entered(self) -> None:
        """The flow has just shown this screen."""
        self.retranslate()

    def press_focused_button(self, event: QKeyEvent) -> bool:
        """Enter on a focused button presses it, as Space does: keyboard users expect both."""
        if event.key() not in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return False
        focused = QApplication.focusWidget()
        if isinstance(focused, QAbstractButton) and focused.isEnabled() and self.isAncestorOf(focused):
            focused.click()
            event.accept()
            return True
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape and self.back_button.isVisible() and self.back_button.isEnabled():
            self.go_back()
            event.accept()
            return
        if not self.press_focused_button(event):
            super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
