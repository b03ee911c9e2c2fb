"""The mark-up editor shared by the laptop agent's report window and the kiosk's review screen.

A tool bar of large touch targets over a canvas that shows the shot scaled to fit. The items
live in an ``agent.markup.MarkupDocument``; this widget only drives it and draws what it holds,
and ``flattened()`` asks the core for the final pixels. Nothing here opens a dialog: text is
typed into an inline field, so a kiosk never shows a window the person could escape through.

Keys (while the editor has focus): S select, A arrow, R rectangle, H highlight, T text,
M numbered marker, C crop, X black-out; Delete or Backspace removes the selected item;
Ctrl+Z undo, Ctrl+Shift+Z or Ctrl+Y redo; Ctrl+= (or Ctrl++) zooms in, Ctrl+- out, Ctrl+0 fits the
whole picture, Ctrl+1 shows it at its actual size. Ctrl+wheel zooms about the pointer, two fingers
pinch to zoom and move the view; the wheel, the scroll bars, the middle button or a drag on empty
picture with the select tool move a zoomed view. On the canvas: Enter drops an item of the current
tool in the middle (or edits the selected text), the arrow keys move the selected item
(Shift: further, Ctrl: resize), Tab walks through the items, Escape cancels or deselects.

Every text a person sees or hears goes through Qt's translation (context ``MarkupEditor``),
and the editor sets them again on ``QEvent.LanguageChange``: an application that installs a
translator (the kiosk does) gets the editor in its language.
"""

from __future__ import annotations

import functools
import itertools
import math
import weakref
from collections.abc import Callable, Sequence
from typing import Final, Literal, get_args

from PIL import Image
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QFont,
    QFontDatabase,
    QIcon,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
    QShortcut,
    QTouchEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollBar,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from agent.markup import (
    DEFAULT_COLORS,
    HIGHLIGHT_OPACITY,
    REDACTION_FILL,
    TEXT_BACKGROUND_OPACITY,
    Encoder,
    FlattenResult,
    MarkupDocument,
    MarkupError,
    MarkupKind,
    arrow_geometry,
    check_image,
    check_items,
    crop_box,
    encode_png,
    flatten,
    font_path,
    hit_test,
    item_bounds,
    marker_pixel_size,
    marker_radius,
    new_item,
    normalized_rect,
    open_image,
    original_may_be_kept,
    paint_order,
    redaction_box,
    suggested_stroke_width,
    text_background,
    text_layout,
    translated,
)
from agent.schema import MAX_SHORT_TEXT_CHARS, MarkupItem

Tool = Literal["select", "arrow", "rectangle", "highlight", "text", "marker", "crop", "redaction"]
TOOLS: Final[tuple[Tool, ...]] = get_args(Tool)
# The translation context of every text in this module.
TRANSLATION_CONTEXT: Final = "MarkupEditor"


def QT_TRANSLATE_NOOP(context: str, source: str) -> str:  # noqa: N802 - the name lupdate looks for
    """Mark ``source`` for translation files; it is translated where it is shown."""
    del context
    return source


def _tr(source: str) -> str:
    """A text marked with QT_TRANSLATE_NOOP above, in the current language."""
    return QCoreApplication.translate(TRANSLATION_CONTEXT, source)


# (label under the icon, shortcut, what a screen reader says), in English: translated when shown.
_TOOL_FACTS: Final[dict[Tool, tuple[str, str, str]]] = {
    "select": (
        QT_TRANSLATE_NOOP("MarkupEditor", "Select"),
        "S",
        QT_TRANSLATE_NOOP("MarkupEditor", "Select and move items"),
    ),
    "arrow": (QT_TRANSLATE_NOOP("MarkupEditor", "Arrow"), "A", QT_TRANSLATE_NOOP("MarkupEditor", "Draw an arrow")),
    "rectangle": (QT_TRANSLATE_NOOP("MarkupEditor", "Box"), "R", QT_TRANSLATE_NOOP("MarkupEditor", "Draw a rectangle")),
    "highlight": (
        QT_TRANSLATE_NOOP("MarkupEditor", "Highlight"),
        "H",
        QT_TRANSLATE_NOOP("MarkupEditor", "Highlight an area"),
    ),
    "text": (QT_TRANSLATE_NOOP("MarkupEditor", "Text"), "T", QT_TRANSLATE_NOOP("MarkupEditor", "Add text")),
    "marker": (
        QT_TRANSLATE_NOOP("MarkupEditor", "Number"),
        "M",
        QT_TRANSLATE_NOOP("MarkupEditor", "Drop numbered markers 1, 2, 3"),
    ),
    "crop": (QT_TRANSLATE_NOOP("MarkupEditor", "Crop"), "C", QT_TRANSLATE_NOOP("MarkupEditor", "Crop the picture")),
    "redaction": (
        QT_TRANSLATE_NOOP("MarkupEditor", "Black out"),
        "X",
        QT_TRANSLATE_NOOP("MarkupEditor", "Black out private information; the pixels are destroyed"),
    ),
}
# Undo, redo and delete: (object name, label, shortcut, what a screen reader says).
_ACTION_FACTS: Final[tuple[tuple[str, str, str, str], ...]] = (
    (
        "markup-undo",
        QT_TRANSLATE_NOOP("MarkupEditor", "Undo"),
        "Ctrl+Z",
        QT_TRANSLATE_NOOP("MarkupEditor", "Undo the last change"),
    ),
    (
        "markup-redo",
        QT_TRANSLATE_NOOP("MarkupEditor", "Redo"),
        "Ctrl+Shift+Z",
        QT_TRANSLATE_NOOP("MarkupEditor", "Redo what was undone"),
    ),
    (
        "markup-delete",
        QT_TRANSLATE_NOOP("MarkupEditor", "Delete"),
        "Delete",
        QT_TRANSLATE_NOOP("MarkupEditor", "Delete the selected item"),
    ),
)
# The zoom bar under the picture, in the same form.
_ZOOM_FACTS: Final[tuple[tuple[str, str, str, str], ...]] = (
    (
        "markup-zoom-out",
        QT_TRANSLATE_NOOP("MarkupEditor", "Zoom out"),
        "Ctrl+-",
        QT_TRANSLATE_NOOP("MarkupEditor", "Show the picture smaller"),
    ),
    (
        "markup-zoom-in",
        QT_TRANSLATE_NOOP("MarkupEditor", "Zoom in"),
        "Ctrl+=",
        QT_TRANSLATE_NOOP("MarkupEditor", "Show the picture larger, to mark small things exactly"),
    ),
    (
        "markup-zoom-fit",
        QT_TRANSLATE_NOOP("MarkupEditor", "Fit"),
        "Ctrl+0",
        QT_TRANSLATE_NOOP("MarkupEditor", "Show the whole picture"),
    ),
    (
        "markup-zoom-actual",
        QT_TRANSLATE_NOOP("MarkupEditor", "Actual size"),
        "Ctrl+1",
        QT_TRANSLATE_NOOP("MarkupEditor", "One screen pixel for each pixel of the picture"),
    ),
)
# The tools that make an item of the same kind.
_TOOL_KINDS: Final[dict[Tool, MarkupKind]] = {
    "arrow": "arrow",
    "rectangle": "rectangle",
    "highlight": "highlight",
    "text": "text",
    "marker": "marker",
    "crop": "crop",
    "redaction": "redaction",
}
# A press that moves less than this many screen pixels is a tap, not a drag.
MIN_DRAG_PX: Final = 6.0
# Selection is this many screen pixels forgiving, whatever the zoom.
HIT_TOLERANCE_PX: Final = 10.0
# One arrow-key press moves a selected item this many screen pixels; Shift multiplies by ten.
KEY_STEP_PX: Final = 4.0
MIN_TOUCH_PX: Final = 56
# Zoom levels the buttons and keys step through (screen pixels per picture pixel); "fit" lies between.
ZOOM_STEPS: Final = (0.25, 1 / 3, 0.5, 2 / 3, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
MAX_ZOOM: Final = ZOOM_STEPS[-1]
# One notch of a mouse wheel (Qt's angle delta); touchpads send fractions of it.
WHEEL_NOTCH: Final = 120
# One wheel notch moves a zoomed view this many screen pixels.
WHEEL_SCROLL_PX: Final = 60
LABEL_POINT_SIZE: Final = 18
_SELECTION_COLOR: Final = QColor("#0a84ff")


def qimage_from_pillow(image: Image.Image) -> QImage:
    """A QImage with the pixels of a Pillow image (RGBA, so transparency survives)."""
    rgba = image.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    # copy(): the QImage must own its pixels, not borrow ``data`` past this function.
    return QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888).copy()


def _qcolor(hex_color: str, alpha: float = 1.0) -> QColor:
    color = QColor(hex_color)
    color.setAlphaF(alpha)
    return color


def _rgb_qcolor(rgb: tuple[int, int, int], alpha: float = 1.0) -> QColor:
    color = QColor(*rgb)
    color.setAlphaF(alpha)
    return color


@functools.cache
def _markup_font_family() -> str | None:
    """The family of the core's TrueType file, loaded into Qt once, so the preview matches."""
    path = font_path()
    if path is None:
        return None
    font_id = QFontDatabase.addApplicationFont(path)
    families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
    return families[0] if families else None


def _markup_font(pixel_size: int) -> QFont:
    family = _markup_font_family()
    font = QFont(family) if family else QFont()
    font.setPixelSize(max(1, pixel_size))
    font.setBold(True)
    return font


def _weak_listener(method: Callable[[], None]) -> Callable[[], None]:
    """A document listener that does not keep its widget alive.

    The widget owns the document, so a bound method in the document's listeners is a reference
    cycle: after Qt deletes the widget, its Python side (with the picture and its scaled copy,
    16 MB at 1080p) would wait for the cyclic collector, which counts objects, not bytes, and may
    not run for many visits.
    """
    ref = weakref.WeakMethod(method)

    def call() -> None:
        target = ref()
        if target is not None:
            target()

    return call


# ---------------------------------------------------------------- drawing items with QPainter
def paint_item(painter: QPainter, item: MarkupItem, image_size: tuple[int, int]) -> None:
    """Draw one item in image coordinates, the way ``agent.markup.render`` flattens it."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    kind = item.kind
    if kind == "arrow":
        shaft, head = arrow_geometry(item)
        pen = QPen(
            _qcolor(item.color), item.width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap, Qt.PenJoinStyle.RoundJoin
        )
        painter.setPen(pen)
        path = QPainterPath(QPointF(*shaft[0]))
        for point in shaft[1:]:
            path.lineTo(QPointF(*point))
        painter.drawPath(path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_qcolor(item.color))
        painter.drawPolygon(QPolygonF([QPointF(*p) for p in head]))
    elif kind == "rectangle":
        left, top, right, bottom = normalized_rect(item)
        inset = item.width / 2
        pen = QPen(_qcolor(item.color), item.width)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(left + inset, top + inset, right - left - item.width, bottom - top - item.width))
    elif kind == "highlight":
        left, top, right, bottom = normalized_rect(item)
        painter.fillRect(QRectF(left, top, right - left, bottom - top), _qcolor(item.color, HIGHLIGHT_OPACITY))
    elif kind == "text":
        layout = text_layout(item)
        left, top, right, bottom = layout.box
        painter.fillRect(
            QRectF(left, top, right - left, bottom - top),
            _rgb_qcolor(text_background(item.color), TEXT_BACKGROUND_OPACITY),
        )
        painter.setFont(_markup_font(layout.font_size))
        painter.setPen(_qcolor(item.color))
        x, y = layout.origin
        painter.drawText(
            QRectF(x, y, right - x, bottom - y), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, item.text
        )
    elif kind == "marker":
        (x, y), radius = item.points[0], marker_radius(item)
        ring = max(1.0, radius * 0.12)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("white"))
        painter.drawEllipse(QPointF(x, y), radius, radius)
        painter.setBrush(_qcolor(item.color))
        painter.drawEllipse(QPointF(x, y), radius - ring, radius - ring)
        painter.setFont(_markup_font(marker_pixel_size(item)))
        painter.setPen(_rgb_qcolor(text_background(item.color)))
        painter.drawText(
            QRectF(x - radius, y - radius, 2 * radius, 2 * radius), Qt.AlignmentFlag.AlignCenter, item.text
        )
    elif kind == "redaction":
        # Solid and opaque, exactly the pixels the core will destroy.
        left, top, right, bottom = redaction_box(item, *image_size)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.fillRect(QRectF(left, top, right - left, bottom - top), _rgb_qcolor(REDACTION_FILL))
    painter.restore()


def paint_crop_shade(painter: QPainter, box: tuple[int, int, int, int], image_size: tuple[int, int]) -> None:
    """Dim what a crop will cut away, and outline what it keeps."""
    width, height = image_size
    left, top, right, bottom = box
    outside = QPainterPath()
    outside.addRect(QRectF(0, 0, width, height))
    kept = QPainterPath()
    kept.addRect(QRectF(left, top, right - left, bottom - top))
    painter.save()
    painter.fillPath(outside.subtracted(kept), QColor(0, 0, 0, 150))
    pen = QPen(QColor("white"), 2)
    pen.setCosmetic(True)
    pen.setStyle(Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(QRectF(left, top, right - left, bottom - top))
    painter.restore()


# ---------------------------------------------------------------- icons
def _tool_icon(name: str, ink: QColor) -> QIcon:
    """A simple line icon painted at run time: no files to ship or find."""
    size = 96
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(ink, 8, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    red = QColor(DEFAULT_COLORS["arrow"])
    if name == "select":
        painter.setBrush(ink)
        painter.drawPolygon(
            QPolygonF(
                [
                    QPointF(28, 14),
                    QPointF(28, 74),
                    QPointF(44, 60),
                    QPointF(56, 84),
                    QPointF(66, 79),
                    QPointF(54, 55),
                    QPointF(74, 53),
                ]
            )
        )
    elif name == "arrow":
        painter.setPen(QPen(red, 9, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(18, 78), QPointF(64, 32))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(red)
        painter.drawPolygon(QPolygonF([QPointF(80, 16), QPointF(50, 26), QPointF(70, 46)]))
    elif name == "rectangle":
        painter.setPen(QPen(red, 8))
        painter.drawRect(QRectF(14, 24, 68, 48))
    elif name == "highlight":
        painter.fillRect(QRectF(10, 34, 76, 28), QColor(DEFAULT_COLORS["highlight"]))
        painter.drawLine(QPointF(14, 48), QPointF(82, 48))
    elif name == "text":
        font = QFont()
        font.setPixelSize(72)
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, "T")
    elif name == "marker":
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(red)
        painter.drawEllipse(QPointF(48, 48), 36, 36)
        font = QFont()
        font.setPixelSize(48)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, "1")
    elif name == "crop":
        painter.drawPolyline(QPolygonF([QPointF(28, 8), QPointF(28, 68), QPointF(88, 68)]))
        painter.drawPolyline(QPolygonF([QPointF(8, 28), QPointF(68, 28), QPointF(68, 88)]))
    elif name == "redaction":
        painter.setPen(QPen(ink, 4))
        painter.setBrush(QColor("black"))
        painter.drawRect(QRectF(10, 28, 76, 40))
    elif name in ("undo", "redo"):
        if name == "redo":
            painter.translate(size, 0)
            painter.scale(-1, 1)
        path = QPainterPath(QPointF(80, 76))
        path.cubicTo(QPointF(80, 30), QPointF(50, 30), QPointF(24, 40))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(ink)
        painter.drawPolygon(QPolygonF([QPointF(10, 44), QPointF(34, 22), QPointF(38, 58)]))
    elif name == "delete":
        painter.drawLine(QPointF(24, 24), QPointF(72, 72))
        painter.drawLine(QPointF(72, 24), QPointF(24, 72))
    elif name in ("markup-zoom-in", "markup-zoom-out"):
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(QPointF(40, 40), 26, 26)
        painter.drawLine(QPointF(60, 60), QPointF(86, 86))
        painter.drawLine(QPointF(27, 40), QPointF(53, 40))
        if name == "markup-zoom-in":
            painter.drawLine(QPointF(40, 27), QPointF(40, 53))
    elif name == "markup-zoom-fit":
        for sx, sy in ((1, 1), (-1, 1), (1, -1), (-1, -1)):
            corner_x, corner_y = 48 - sx * 36, 48 - sy * 36
            painter.drawPolyline(
                QPolygonF(
                    [
                        QPointF(corner_x, corner_y + sy * 22),
                        QPointF(corner_x, corner_y),
                        QPointF(corner_x + sx * 22, corner_y),
                    ]
                )
            )
    elif name == "markup-zoom-actual":
        font = QFont()
        font.setPixelSize(44)
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, "1:1")
    painter.end()
    return QIcon(pixmap)


# ---------------------------------------------------------------- inline text entry
_MOVED_ON: Final = frozenset(
    {
        Qt.FocusReason.MouseFocusReason,
        Qt.FocusReason.TabFocusReason,
        Qt.FocusReason.BacktabFocusReason,
        Qt.FocusReason.ShortcutFocusReason,
    }
)


class _TextEntry(QLineEdit):
    """A one-line field over the canvas: Enter or leaving it keeps the text, Escape drops it."""

    accepted = Signal()
    cancelled = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setMaxLength(MAX_SHORT_TEXT_CHARS)
        self.retranslate()
        font = self.font()
        font.setPointSize(LABEL_POINT_SIZE)
        self.setFont(font)
        self.setMinimumHeight(MIN_TOUCH_PX)
        self.hide()

    def retranslate(self) -> None:
        self.setPlaceholderText(QCoreApplication.translate("MarkupEditor", "Type, then press Enter"))
        self.setAccessibleName(QCoreApplication.translate("MarkupEditor", "Text to add to the picture"))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accepted.emit()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt's name
        super().focusOutEvent(event)
        # The person moved on (clicked elsewhere, tabbed away): keep the text. A pop-up, another
        # window or the widget going away is not a decision, so the text waits.
        if self.isVisible() and event.reason() in _MOVED_ON:
            self.accepted.emit()


# ---------------------------------------------------------------- the canvas
class MarkupCanvas(QWidget):
    """Shows the shot (scaled to fit, or zoomed and scrolled) and turns presses, drags, touches and
    keys into document changes.

    About 600 lines on purpose: every tool's press, drag and release, the keyboard, zooming and
    the painting share one coordinate mapping and one in-progress item; split apart, each piece
    would need all of that state back.
    """

    selection_changed = Signal()
    view_changed = Signal()  # the zoom or the scroll position changed

    def __init__(self, document: MarkupDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._image = QImage()
        self._scaled: QPixmap | None = None
        self._scaled_key: tuple[int, int, float] | None = None
        self._tool: Tool = "arrow"
        self._stroke_width = 4.0
        self._selected: int | None = None
        # A press in progress: where it started (image pixels) and where it is now.
        self._press_start: QPointF | None = None
        self._press_now: QPointF | None = None
        self._press_widget_start: QPointF | None = None
        self._dragging_item: int | None = None
        self._entry = _TextEntry(self)
        self._entry_anchor: QPointF | None = None
        self._entry_index: int | None = None
        self._entry.accepted.connect(self._accept_text)
        self._entry.cancelled.connect(self._cancel_text)
        # The view: None fits the whole picture (and follows resizes); a number is a chosen zoom.
        self._zoom: float | None = None
        # How far a zoomed picture is scrolled, in whole screen pixels (whole: a picture pixel
        # boundary then lands on the same screen pixel in the view and in the mapping).
        self._scroll_x = 0
        self._scroll_y = 0
        self._pan_last: QPointF | None = None  # a drag that moves the view, where it is now
        self._wheel_rest = 0  # Ctrl+wheel angle not yet a whole notch (touchpads)
        # Touch: None, "draw" (one finger acts as the mouse) or "pinch" (two fingers zoom and move).
        self._touch_mode: Literal["draw", "pinch"] | None = None
        self._pinch_start: tuple[float, float, QPointF] | None = None  # scale, finger distance, picture point
        self._finger_positions: dict[int, QPointF] = {}  # where each finger down was last seen
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 160)
        self.setCursor(Qt.CursorShape.CrossCursor)
        document.subscribe(_weak_listener(self._document_changed))
        self.retranslate()

    # -- state
    def set_image(self, image: QImage) -> None:
        self._cancel_text()
        self._image = image
        self._scaled = None
        self._selected = None
        self._zoom = None
        self._scroll_x = self._scroll_y = 0
        self._pan_last = None
        self.view_changed.emit()
        self._stroke_width = suggested_stroke_width(image.width(), image.height())
        self._describe()
        self.update()

    def release(self) -> None:
        """Let go of the picture and its scaled copy now (the editor is closing)."""
        self._cancel_text()
        self._cancel_press()
        self._finger_positions.clear()
        self._touch_mode, self._pinch_start = None, None
        self._image = QImage()
        self._scaled = None
        self._scaled_key = None
        self._selected = None
        self.update()

    def image_size(self) -> tuple[int, int]:
        return self._image.width(), self._image.height()

    def tool(self) -> Tool:
        return self._tool

    def set_tool(self, tool: Tool) -> None:
        self._accept_text()
        self._press_start = self._press_now = None
        self._tool = tool
        self.setCursor(Qt.CursorShape.ArrowCursor if tool == "select" else Qt.CursorShape.CrossCursor)
        self.update()

    def stroke_width(self) -> float:
        return self._stroke_width

    def selected(self) -> int | None:
        return self._selected

    def select(self, index: int | None) -> None:
        if index is not None and not 0 <= index < len(self._document):
            index = None
        if index != self._selected:
            self._selected = index
            self._describe()
            self.selection_changed.emit()
            self.update()

    def delete_selected(self) -> bool:
        if self._selected is None:
            return False
        index = self._selected
        self.select(None)
        self._document.remove(index)
        return True

    def text_entry(self) -> QLineEdit:
        """The inline field text is typed into (visible only while typing)."""
        return self._entry

    # -- mapping between the widget and the image
    def fit_scale(self) -> float:
        """The scale at which the whole picture fits the canvas."""
        if self._image.isNull():
            return 1.0
        return min(self.width() / self._image.width(), self.height() / self._image.height())

    def scale(self) -> float:
        """Screen (logical) pixels per image pixel."""
        return self.fit_scale() if self._zoom is None else self._zoom

    def is_fitted(self) -> bool:
        return self._zoom is None

    def image_rect(self) -> QRectF:
        """Where the image sits in the widget, in logical pixels: centred along each axis it fits
        in, scrolled along each axis it overflows."""
        if self._image.isNull():
            return QRectF()
        scale = self.scale()
        width, height = self._image.width() * scale, self._image.height() * scale
        left = (self.width() - width) / 2 if width <= self.width() else -float(self._scroll_x)
        top = (self.height() - height) / 2 if height <= self.height() else -float(self._scroll_y)
        return QRectF(left, top, width, height)

    # -- zoom and scrolling
    def scroll_range(self) -> tuple[int, int]:
        """The largest scroll position along x and y (0 along an axis the picture fits in)."""
        if self._image.isNull():
            return 0, 0
        scale = self.scale()
        return (
            max(0, math.ceil(self._image.width() * scale - self.width())),
            max(0, math.ceil(self._image.height() * scale - self.height())),
        )

    def scroll_position(self) -> tuple[int, int]:
        return self._scroll_x, self._scroll_y

    def set_scroll(self, x: float, y: float) -> None:
        """Scroll a zoomed picture so screen pixel (x, y) of it is at the canvas's top-left (clamped)."""
        most_x, most_y = self.scroll_range()
        new = (min(max(round(x), 0), most_x), min(max(round(y), 0), most_y))
        if new != (self._scroll_x, self._scroll_y):
            self._scroll_x, self._scroll_y = new
            self._place_text_entry()
            self.update()
            self.view_changed.emit()

    def zoom_to(self, scale: float | None, anchor: QPointF | None = None) -> None:
        """Show the picture at ``scale`` (None: fit), keeping the picture point under ``anchor``
        (a canvas position; default its centre) where it is."""
        if self._image.isNull():
            return
        at = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        self._zoom_keeping(self.widget_to_image(at), at, scale)

    def _zoom_keeping(self, image_point: QPointF, widget_point: QPointF, scale: float | None) -> None:
        """Zoom to ``scale`` and scroll so ``image_point`` shows at ``widget_point``."""
        fit = self.fit_scale()
        if scale is not None:
            scale = min(max(scale, min(fit, ZOOM_STEPS[0])), max(MAX_ZOOM, fit))
            if math.isclose(scale, fit, rel_tol=1e-6):
                scale = None
        changed = scale != self._zoom
        self._zoom = scale
        shown = self.scale()
        before = self.scroll_position()
        self.set_scroll(image_point.x() * shown - widget_point.x(), image_point.y() * shown - widget_point.y())
        if changed:
            self._place_text_entry()
            self.update()
            if self.scroll_position() == before:  # set_scroll did not say so already
                self.view_changed.emit()

    def zoom_in(self, anchor: QPointF | None = None) -> None:
        current = self.scale()
        bigger = [step for step in ZOOM_STEPS if step > current * (1 + 1e-6)]
        if bigger:
            self.zoom_to(bigger[0], anchor)

    def zoom_out(self, anchor: QPointF | None = None) -> None:
        current, fit = self.scale(), self.fit_scale()
        smaller = [step for step in ZOOM_STEPS if step < current * (1 - 1e-6)]
        # Stepping out past the fit stops at the fit: the whole picture is what a person wants back.
        if current > fit * (1 + 1e-6) and (not smaller or smaller[-1] <= fit):
            self.zoom_to(None, anchor)
        elif smaller:
            self.zoom_to(smaller[-1], anchor)

    def zoom_to_fit(self) -> None:
        self.zoom_to(None)

    def zoom_to_actual_size(self) -> None:
        """One screen (logical) pixel per picture pixel."""
        self.zoom_to(1.0)

    def widget_to_image(self, point: QPointF) -> QPointF:
        rect, scale = self.image_rect(), self.scale()
        return QPointF((point.x() - rect.x()) / scale, (point.y() - rect.y()) / scale)

    def image_to_widget(self, point: QPointF) -> QPointF:
        rect, scale = self.image_rect(), self.scale()
        return QPointF(rect.x() + point.x() * scale, rect.y() + point.y() * scale)

    def _clamped(self, point: QPointF) -> QPointF:
        return QPointF(
            min(max(point.x(), 0.0), float(self._image.width())),
            min(max(point.y(), 0.0), float(self._image.height())),
        )

    # -- painting
    def _scaled_pixmap(self) -> QPixmap:
        # Scaled once per size and device-pixel ratio, at device resolution, so it stays sharp.
        rect, ratio = self.image_rect(), self.devicePixelRatioF()
        key = (round(rect.width() * ratio), round(rect.height() * ratio), ratio)
        if self._scaled is None or self._scaled_key != key:
            scaled = self._image.scaled(
                QSize(max(1, key[0]), max(1, key[1])),
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self._scaled = QPixmap.fromImage(scaled)
            self._scaled.setDevicePixelRatio(ratio)
            self._scaled_key = key
        return self._scaled

    def _items_as_shown(self) -> list[MarkupItem]:
        """The document's items, plus what a press in progress would make of them."""
        items = list(self._document.items)
        if self._dragging_item is not None and self._press_start and self._press_now:
            delta = self._press_now - self._press_start
            items[self._dragging_item] = translated(
                items[self._dragging_item], *self._clamped_delta(items[self._dragging_item], delta.x(), delta.y())
            )
        pending = self._pending_item()
        if pending is not None:
            items = [item for item in items if not (pending.kind == "crop" and item.kind == "crop")]
            items.append(pending)
        return items

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        # A backdrop darker than the window, so the letterbox reads as canvas, not as a gap.
        painter.fillRect(self.rect(), self.palette().mid())
        if self._image.isNull():
            painter.end()
            return
        rect = self.image_rect()
        if self._zoom is not None and self._zoom * self.devicePixelRatioF() >= 1:
            self._paint_zoomed_pixels(painter, rect)
        else:
            painter.drawPixmap(rect, self._scaled_pixmap(), QRectF(self._scaled_pixmap().rect()))
        painter.setClipRect(rect.intersected(QRectF(self.rect())))
        painter.translate(rect.topLeft())
        painter.scale(self.scale(), self.scale())
        items = self._items_as_shown()
        size = self.image_size()
        for index in paint_order(items):
            paint_item(painter, items[index], size)
        try:
            box = crop_box(items, *size)
        except MarkupError:
            box = None
        if box is not None:
            paint_crop_shade(painter, box, size)
        if self._selected is not None and self._selected < len(items):
            self._paint_selection(painter, items[self._selected])
        painter.end()

    def _paint_zoomed_pixels(self, painter: QPainter, rect: QRectF) -> None:
        """Only the picture pixels in view, each a sharp square (no smoothing: the person is
        choosing pixels, and a blurred edge would hide where one ends)."""
        scale = self.scale()
        visible = rect.intersected(QRectF(self.rect()))
        if visible.isEmpty():
            return
        left = max(0, math.floor((visible.left() - rect.left()) / scale))
        top = max(0, math.floor((visible.top() - rect.top()) / scale))
        right = min(self._image.width(), math.ceil((visible.right() - rect.left()) / scale))
        bottom = min(self._image.height(), math.ceil((visible.bottom() - rect.top()) / scale))
        source = QRect(left, top, right - left, bottom - top)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.translate(rect.topLeft())
        painter.scale(scale, scale)
        painter.drawImage(QRectF(source), self._image, QRectF(source))
        painter.restore()

    def _paint_selection(self, painter: QPainter, item: MarkupItem) -> None:
        left, top, right, bottom = item_bounds(item)
        margin = 4 / self.scale()
        pen = QPen(_SELECTION_COLOR, 3)
        pen.setCosmetic(True)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(left - margin, top - margin, right - left + 2 * margin, bottom - top + 2 * margin))

    # -- mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._image.isNull():
            super().mousePressEvent(event)
            return
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_last = event.position()
            event.accept()
            return
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self._press(event.position())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._pan_last is None and self._press_start is None:
            super().mouseMoveEvent(event)
            return
        self._move(event.position())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.MiddleButton and self._pan_last is not None:
            self._pan_last = None
            event.accept()
            return
        if event.button() != Qt.MouseButton.LeftButton or (self._press_start is None and self._pan_last is None):
            super().mouseReleaseEvent(event)
            return
        self._release(event.position())
        event.accept()

    # -- a press, a drag and a release, from the mouse or from one finger
    def _press(self, position: QPointF) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        point = self.widget_to_image(position)
        if self._tool == "select":
            index = hit_test(self._document.items, point.x(), point.y(), HIT_TOLERANCE_PX / self.scale())
            self.select(index)
            if index is None and self.scroll_range() != (0, 0):
                # Empty picture under the select tool: the drag moves a zoomed view (the hand).
                self._pan_last = position
                return
            self._dragging_item = index
            self._press_widget_start = position
            self._press_start = self._press_now = point
        else:
            self._press_widget_start = position
            self._press_start = self._press_now = self._clamped(point)

    def _move(self, position: QPointF) -> None:
        if self._pan_last is not None:
            delta = position - self._pan_last
            self._pan_last = position
            self.set_scroll(self._scroll_x - delta.x(), self._scroll_y - delta.y())
            return
        if self._press_start is None:
            return
        point = self.widget_to_image(position)
        self._press_now = point if self._tool == "select" else self._clamped(point)
        self.update()

    def _release(self, position: QPointF) -> None:
        if self._pan_last is not None:
            self._pan_last = None
            return
        if self._press_start is None:
            return
        point = self.widget_to_image(position)
        self._press_now = point if self._tool == "select" else self._clamped(point)
        start, now = self._press_start, self._press_now
        moved = self._press_widget_start is not None and (
            math.dist(self._press_widget_start.toTuple(), position.toTuple()) >= MIN_DRAG_PX
        )
        dragging, pending = self._dragging_item, self._pending_item()
        self._press_start = self._press_now = self._press_widget_start = None
        self._dragging_item = None
        if self._tool == "select":
            if dragging is not None and moved:
                delta = now - start
                item = self._document[dragging]
                self._document.move(dragging, *self._clamped_delta(item, delta.x(), delta.y()))
        elif self._tool == "marker":
            self._add(
                new_item(
                    "marker", [now.toTuple()], text=self._document.next_marker_label(), stroke_width=self._stroke_width
                )
            )
        elif self._tool == "text":
            self._open_text_entry(now, None)
        elif pending is not None and moved and self._big_enough(pending):
            self._add(pending)
        self.update()

    def _cancel_press(self) -> None:
        """Drop a press in progress without making anything of it (a second finger came down)."""
        self._press_start = self._press_now = self._press_widget_start = None
        self._dragging_item = None
        self._pan_last = None
        self.update()

    # -- touch: one finger draws like the mouse, two pinch to zoom and move the view
    def event(self, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.TouchEnd, QEvent.Type.TouchCancel):
            assert isinstance(event, QTouchEvent)
            self._touch(event)
            return True
        return super().event(event)

    def _touch(self, event: QTouchEvent) -> None:
        event.accept()
        if self._image.isNull():
            return
        kind = event.type()
        for point in event.points():
            if point.state() == point.State.Released:
                self._finger_positions.pop(point.id(), None)
            elif point.state() != point.State.Stationary:
                # A finger that did not move keeps where it was last seen (not every source
                # repeats the position of a stationary point).
                self._finger_positions[point.id()] = point.position()
        down = list(self._finger_positions.values())
        if kind == QEvent.Type.TouchCancel:
            self._cancel_press()
            self._touch_mode, self._pinch_start = None, None
            self._finger_positions.clear()
            return
        if len(down) >= 2 and self._touch_mode != "pinch":
            self._cancel_press()
            self._touch_mode = "pinch"
            self._pinch_start = None
        if self._touch_mode == "pinch":
            if len(down) >= 2:
                self._pinch(down[0], down[1])
            else:
                self._pinch_start = None  # a finger lifted: the rest of this touch does nothing
        elif event.points():
            position = event.points()[0].position()
            if kind == QEvent.Type.TouchBegin:
                self._touch_mode = "draw"
                self._press(position)
            elif kind == QEvent.Type.TouchUpdate:
                self._move(position)
            else:
                self._release(position)
        if kind == QEvent.Type.TouchEnd:
            self._touch_mode, self._pinch_start = None, None
            self._finger_positions.clear()

    def _pinch(self, first: QPointF, second: QPointF) -> None:
        centre = (first + second) / 2
        distance = max(1.0, math.dist(first.toTuple(), second.toTuple()))
        if self._pinch_start is None:
            self._pinch_start = (self.scale(), distance, self.widget_to_image(centre))
            return
        scale, start_distance, image_point = self._pinch_start
        # The picture point first between the fingers stays between them: zoom and move in one.
        self._zoom_keeping(image_point, centre, scale * distance / start_distance)

    # -- the wheel: Ctrl zooms about the pointer, otherwise it moves a zoomed view
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        if self._image.isNull():
            super().wheelEvent(event)
            return
        delta = event.angleDelta()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._wheel_rest += delta.y() or delta.x()
            while abs(self._wheel_rest) >= WHEEL_NOTCH:
                if self._wheel_rest > 0:
                    self._wheel_rest -= WHEEL_NOTCH
                    self.zoom_in(event.position())
                else:
                    self._wheel_rest += WHEEL_NOTCH
                    self.zoom_out(event.position())
            event.accept()
            return
        if self.scroll_range() == (0, 0):
            super().wheelEvent(event)  # nothing to scroll here: an embedding scroll area may want it
            return
        dx, dy = delta.x(), delta.y()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            dx, dy = dy, dx
        step = WHEEL_SCROLL_PX / WHEEL_NOTCH
        self.set_scroll(self._scroll_x - dx * step, self._scroll_y - dy * step)
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._tool == "select" and self._selected is not None and self._document[self._selected].kind == "text":
            self._edit_selected_text()
            event.accept()
            return
        # Any other double click is two clicks (a marker tool drops two markers).
        self.mousePressEvent(event)

    def _pending_item(self) -> MarkupItem | None:
        """The item the press in progress would create, if the tool creates one by dragging or tapping."""
        if self._press_start is None or self._press_now is None or self._tool in ("select", "text"):
            return None
        start, now = self._press_start.toTuple(), self._press_now.toTuple()
        try:
            if self._tool == "marker":
                return new_item(
                    "marker", [now], text=self._document.next_marker_label(), stroke_width=self._stroke_width
                )
            return new_item(_TOOL_KINDS[self._tool], [start, now], stroke_width=self._stroke_width)
        except MarkupError:
            return None

    def _big_enough(self, item: MarkupItem) -> bool:
        left, top, right, bottom = normalized_rect(item)
        if item.kind == "arrow":
            return math.dist(item.points[0], item.points[-1]) >= 1
        # Crops and black-outs must keep whole pixels; the others only need to be visible.
        return right - left >= 1 and bottom - top >= 1

    def _clamped_delta(self, item: MarkupItem, dx: float, dy: float) -> tuple[float, float]:
        """Limit a move so the item's points stay on the image (a crop or black-out never slides off)."""
        xs = [p[0] for p in item.points]
        ys = [p[1] for p in item.points]
        width, height = self.image_size()
        dx = min(max(dx, -min(xs)), width - max(xs)) if min(xs) >= 0 and max(xs) <= width else dx
        dy = min(max(dy, -min(ys)), height - max(ys)) if min(ys) >= 0 and max(ys) <= height else dy
        return dx, dy

    def _add(self, item: MarkupItem) -> None:
        try:
            index = self._document.add(item)
        except MarkupError:
            # The schema's item limit: the tool simply stops adding, as a full page would.
            QApplication.beep()
            return
        self.select(index)

    # -- keyboard
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        key, modifiers = event.key(), event.modifiers()
        arrows = {
            Qt.Key.Key_Left: (-1.0, 0.0),
            Qt.Key.Key_Right: (1.0, 0.0),
            Qt.Key.Key_Up: (0.0, -1.0),
            Qt.Key.Key_Down: (0.0, 1.0),
        }
        if key in arrows and self._selected is not None:
            step = KEY_STEP_PX / self.scale() * (10 if modifiers & Qt.KeyboardModifier.ShiftModifier else 1)
            dx, dy = arrows[Qt.Key(key)]
            if modifiers & Qt.KeyboardModifier.ControlModifier:
                self._resize_selected(dx * step, dy * step)
            else:
                item = self._document[self._selected]
                self._document.move(self._selected, *self._clamped_delta(item, dx * step, dy * step), coalesce=True)
            event.accept()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not self._image.isNull() and self._keyboard_create():
            event.accept()
            return
        if key == Qt.Key.Key_F2 and self._selected is not None:
            self._edit_selected_text()
            event.accept()
            return
        if key == Qt.Key.Key_Escape and (self._press_start is not None or self._selected is not None):
            if self._press_start is not None:
                self._press_start = self._press_now = None
                self._dragging_item = None
                self.update()
            else:
                self.select(None)
            event.accept()
            return
        # Anything else goes up to the embedding screen (its Enter, its Escape).
        super().keyPressEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802 - Qt's name
        # Tab walks through the items before it leaves the canvas, so everything is reachable by key.
        if self.hasFocus() and len(self._document):
            count = len(self._document)
            if self._selected is None:
                self.select(0 if next else count - 1)
                return True
            following = self._selected + (1 if next else -1)
            if 0 <= following < count:
                self.select(following)
                return True
            self.select(None)
        return super().focusNextPrevChild(next)

    def _keyboard_create(self) -> bool:
        """Enter: edit the selected text, or drop an item of the current tool in the middle."""
        if self._selected is not None and self._document[self._selected].kind == "text":
            self._edit_selected_text()
            return True
        if self._tool == "select":
            return False
        width, height = self.image_size()
        cx, cy = width / 2, height / 2
        if self._tool == "text":
            self._open_text_entry(QPointF(cx, cy), None)
        elif self._tool == "marker":
            self._add(
                new_item("marker", [(cx, cy)], text=self._document.next_marker_label(), stroke_width=self._stroke_width)
            )
        elif self._tool == "arrow":
            self._add(new_item("arrow", [(cx - width / 8, cy + height / 8), (cx, cy)], stroke_width=self._stroke_width))
        else:
            self._add(
                new_item(
                    _TOOL_KINDS[self._tool],
                    [(cx - width / 8, cy - height / 8), (cx + width / 8, cy + height / 8)],
                    stroke_width=self._stroke_width,
                )
            )
        return True

    def _resize_selected(self, dx: float, dy: float) -> None:
        assert self._selected is not None
        item = self._document[self._selected]
        if len(item.points) < 2:
            return
        *rest, (x, y) = item.points
        width, height = self.image_size()
        last = (min(max(x + dx, 0.0), float(width)), min(max(y + dy, 0.0), float(height)))
        self._document.replace(self._selected, item.model_copy(update={"points": [*rest, last]}), coalesce=True)

    # -- inline text
    def _edit_selected_text(self) -> None:
        if self._selected is None:
            return
        item = self._document[self._selected]
        if item.kind != "text":
            return
        self._open_text_entry(QPointF(*item.points[0]), self._selected)

    def _open_text_entry(self, anchor: QPointF, index: int | None) -> None:
        self._entry_anchor = anchor
        self._entry_index = index
        self._entry.setText(self._document[index].text if index is not None else "")
        self._place_text_entry()
        self._entry.show()
        self._entry.setFocus(Qt.FocusReason.OtherFocusReason)
        self._entry.selectAll()

    def _place_text_entry(self) -> None:
        if self._entry_anchor is None:
            return
        width = min(self.width(), max(320, self.width() // 3))
        self._entry.resize(width, self._entry.sizeHint().height())
        at = self.image_to_widget(self._entry_anchor)
        x = min(max(0, round(at.x())), self.width() - width)
        y = min(max(0, round(at.y())), self.height() - self._entry.height())
        self._entry.move(x, y)

    def commit_text(self) -> None:
        """Keep what is typed in the inline field, if it is open."""
        self._accept_text()

    def _accept_text(self) -> None:
        if self._entry_anchor is None:
            return
        anchor, index = self._entry_anchor, self._entry_index
        text = self._entry.text().strip()
        self._close_text_entry()
        if index is not None and index < len(self._document):
            if not text:
                self._document.remove(index)
                self.select(None)
            elif text != self._document[index].text:
                self._document.replace(index, self._document[index].model_copy(update={"text": text}))
        elif text:
            self._add(new_item("text", [anchor.toTuple()], text=text, stroke_width=self._stroke_width))

    def _cancel_text(self) -> None:
        if self._entry_anchor is not None:
            self._close_text_entry()

    def _close_text_entry(self) -> None:
        self._entry_anchor = None
        self._entry_index = None
        had_focus = self._entry.hasFocus()
        self._entry.hide()
        if had_focus:
            self.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- reacting
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.set_scroll(self._scroll_x, self._scroll_y)  # clamped to the new size
        self._place_text_entry()
        self.view_changed.emit()  # the fit scale, and so the ranges, follow the size

    def _document_changed(self) -> None:
        if self._selected is not None and self._selected >= len(self._document):
            self.select(None)
        self._describe()
        self.update()

    def retranslate(self) -> None:
        self.setAccessibleName(QCoreApplication.translate("MarkupEditor", "Picture to mark up"))
        self._entry.retranslate()
        self._describe()

    def _describe(self) -> None:
        count = len(self._document)
        # Without %n: the lupdate parser misses plurals of QCoreApplication.translate with a variable count.
        text = QCoreApplication.translate("MarkupEditor", "Mark-up items: %1").replace("%1", str(count))
        if self._selected is not None and self._selected < count:
            item = self._document[self._selected]
            selected = f"{_tr(_TOOL_FACTS[item.kind][0])} {item.text}".rstrip()
            template = QCoreApplication.translate("MarkupEditor", "%1; selected: %2")
            text = template.replace("%2", selected).replace("%1", text)
        self.setAccessibleDescription(text)


# ---------------------------------------------------------------- the editor
class MarkupEditor(QWidget):
    """Tool bar plus canvas. Embed it, ``load()`` a shot, read ``items()`` or ``flattened()``.

    ``changed`` fires after every change of the items (adding, moving, editing, deleting,
    undo, redo, and ``load``).
    """

    changed = Signal()
    tool_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, show_labels: bool = True) -> None:
        """``show_labels=False`` keeps the tool bar to icons; labels also hide when they do not fit."""
        super().__init__(parent)
        self._show_labels = show_labels
        self._document = MarkupDocument()
        self._image_bytes: bytes | None = None
        self._canvas = MarkupCanvas(self._document, self)
        self._canvas.setObjectName("markup-canvas")
        self._tool_buttons: dict[Tool, QToolButton] = {}
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        bar = QHBoxLayout()
        bar.setSpacing(6)
        ink = self.palette().buttonText().color()
        for tool in TOOLS:
            button = self._button(_tool_icon(tool, ink))
            button.setCheckable(True)
            button.setObjectName(f"markup-tool-{tool}")
            self._group.addButton(button)
            button.clicked.connect(functools.partial(self._tool_clicked, tool))
            self._tool_buttons[tool] = button
            bar.addWidget(button)
        bar.addStretch(1)
        self._undo_button = self._button(_tool_icon("undo", ink))
        self._redo_button = self._button(_tool_icon("redo", ink))
        self._delete_button = self._button(_tool_icon("delete", ink))
        self._undo_button.clicked.connect(self.undo)
        self._redo_button.clicked.connect(self.redo)
        self._delete_button.clicked.connect(self.delete_selected)
        self._action_buttons = (self._undo_button, self._redo_button, self._delete_button)
        for button, (object_name, *_texts) in zip(self._action_buttons, _ACTION_FACTS, strict=True):
            button.setObjectName(object_name)
            bar.addWidget(button)
        self._bar = bar
        self._buttons = [*self._tool_buttons.values(), *self._action_buttons]
        self._labelled_width = 0

        # -- the zoom bar and the scroll bars of a zoomed picture
        zoom_bar = QHBoxLayout()
        zoom_bar.setSpacing(6)
        self._zoom_buttons: dict[str, QToolButton] = {}
        for object_name, *_texts in _ZOOM_FACTS:
            button = self._button(_tool_icon(object_name, ink))
            button.setObjectName(object_name)
            button.setToolButtonStyle(
                Qt.ToolButtonStyle.ToolButtonTextBesideIcon if show_labels else Qt.ToolButtonStyle.ToolButtonIconOnly
            )
            self._zoom_buttons[object_name] = button
        self._zoom_label = QLabel()
        self._zoom_label.setObjectName("markup-zoom-level")
        self._zoom_label.setMinimumWidth(MIN_TOUCH_PX + 16)
        self._zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label_font = self._zoom_label.font()
        label_font.setPointSize(LABEL_POINT_SIZE)  # as large as the buttons' labels (kiosk text rules)
        self._zoom_label.setFont(label_font)
        zoom_buttons_in_order = [
            self._zoom_buttons[name]
            for name in ("markup-zoom-out", "markup-zoom-in", "markup-zoom-fit", "markup-zoom-actual")
        ]
        zoom_bar.addWidget(zoom_buttons_in_order[0])
        zoom_bar.addWidget(self._zoom_label)
        for button in zoom_buttons_in_order[1:]:
            zoom_bar.addWidget(button)
        zoom_bar.addStretch(1)
        self._zoom_buttons["markup-zoom-out"].clicked.connect(lambda: self._zoom_by_button(self._canvas.zoom_out))
        self._zoom_buttons["markup-zoom-in"].clicked.connect(lambda: self._zoom_by_button(self._canvas.zoom_in))
        self._zoom_buttons["markup-zoom-fit"].clicked.connect(lambda: self._zoom_by_button(self._canvas.zoom_to_fit))
        self._zoom_buttons["markup-zoom-actual"].clicked.connect(
            lambda: self._zoom_by_button(self._canvas.zoom_to_actual_size)
        )
        self._horizontal_bar = QScrollBar(Qt.Orientation.Horizontal, self)
        self._horizontal_bar.setObjectName("markup-scroll-horizontal")
        self._vertical_bar = QScrollBar(Qt.Orientation.Vertical, self)
        self._vertical_bar.setObjectName("markup-scroll-vertical")
        for scroll_bar in (self._horizontal_bar, self._vertical_bar):
            scroll_bar.hide()
            scroll_bar.valueChanged.connect(self._scroll_bar_moved)
        self.retranslate()
        picture = QGridLayout()
        picture.setContentsMargins(0, 0, 0, 0)
        picture.setSpacing(0)
        picture.addWidget(self._canvas, 0, 0)
        picture.addWidget(self._vertical_bar, 0, 1)
        picture.addWidget(self._horizontal_bar, 1, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addLayout(picture, 1)
        layout.addLayout(zoom_bar)
        self._shortcuts: list[QShortcut] = []
        for tool in TOOLS:
            self._shortcut([_TOOL_FACTS[tool][1]], functools.partial(self.set_tool, tool))
        self._shortcut(["Ctrl+Z"], self.undo)
        self._shortcut(["Ctrl+Shift+Z", "Ctrl+Y"], self.redo)
        self._shortcut(["Delete", "Backspace"], self.delete_selected)
        self._shortcut(["Ctrl+=", "Ctrl++"], self._canvas.zoom_in)
        self._shortcut(["Ctrl+-"], self._canvas.zoom_out)
        self._shortcut(["Ctrl+0"], self._canvas.zoom_to_fit)
        self._shortcut(["Ctrl+1"], self._canvas.zoom_to_actual_size)
        # Tab follows the screen: the tool bar, the picture, the zoom bar under it.
        chain: list[QWidget] = [*self._buttons, self._canvas, *zoom_buttons_in_order]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)
        self._document.subscribe(_weak_listener(self._document_changed))
        self._canvas.selection_changed.connect(self._update_buttons)
        self._canvas.view_changed.connect(self._view_changed)
        self.set_tool("arrow")
        self._update_buttons()

    # -- public API
    def load(self, image_png: bytes, items: Sequence[MarkupItem] = ()) -> None:
        """Show ``image_png`` (PNG, JPEG or WebP bytes) with ``items``; the history starts afresh.

        Raises ``agent.markup.MarkupError`` naming the cause if the image or the items are bad;
        the editor then keeps what it had.
        """
        # The core's checks from the header alone (readable, within the pixel bound): a Pillow
        # decode only to check, before Qt decodes its own, was the editor's highest memory.
        check_image(image_png)
        check_items(items)
        image = QImage.fromData(image_png)
        if image.isNull():
            # Qt's WebP reader refuses some files libwebp writes (a one-colour lossless image, say);
            # a damaged file is refused here, by the core, with its cause.
            image = qimage_from_pillow(open_image(image_png))
        self._image_bytes = image_png
        self._canvas.set_image(image)
        self._document.reset(items)

    def release(self) -> None:
        """Drop the picture, its pixels on screen, the items and their history, at once.

        For an editor that is closing (a kiosk visit ends): what it held goes back to the
        allocator now, not whenever the widget's Python side is collected. ``load`` works again after.
        """
        self._canvas.release()
        self._image_bytes = None
        self._document.reset(notify=False)
        self._update_buttons()

    def items(self) -> list[MarkupItem]:
        """The items, including text still being typed (a Send button may take no focus)."""
        self._canvas.commit_text()
        return list(self._document.items)

    def image_bytes(self) -> bytes | None:
        """The shot as loaded, without mark-up (None before ``load``)."""
        return self._image_bytes

    def flattened(self, encoder: Encoder = encode_png) -> FlattenResult:
        """The shot with its mark-up burnt in, from the core. For big shots, call
        ``agent.markup.flatten(editor.image_bytes(), editor.items())`` on a worker thread instead."""
        if self._image_bytes is None:
            raise MarkupError("no picture is loaded in the mark-up editor")
        return flatten(self._image_bytes, self.items(), encoder=encoder)

    def original_may_be_kept(self) -> bool:
        return original_may_be_kept(self.items())

    def document(self) -> MarkupDocument:
        return self._document

    def canvas(self) -> MarkupCanvas:
        return self._canvas

    def tool(self) -> Tool:
        return self._canvas.tool()

    def set_tool(self, tool: Tool) -> None:
        self._canvas.set_tool(tool)
        self._tool_buttons[tool].setChecked(True)
        self.tool_changed.emit(tool)

    def undo(self) -> bool:
        self._canvas.select(None)
        return self._document.undo()

    def redo(self) -> bool:
        self._canvas.select(None)
        return self._document.redo()

    def delete_selected(self) -> bool:
        return self._canvas.delete_selected()

    def tool_button(self, tool: Tool) -> QToolButton:
        return self._tool_buttons[tool]

    # -- building
    def retranslate(self) -> None:
        """Every text again, in the language of the translators installed now."""
        facts = [(self._tool_buttons[tool], *_TOOL_FACTS[tool]) for tool in TOOLS]
        facts += [
            (button, label, key, description)
            for button, (_name, label, key, description) in zip(self._action_buttons, _ACTION_FACTS, strict=True)
        ]
        facts += [(self._zoom_buttons[name], label, key, description) for name, label, key, description in _ZOOM_FACTS]
        for button, label, key, description in facts:
            label, description = _tr(label), _tr(description)
            keys = QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)
            button.setText(label)
            button.setToolTip(f"{description} ({keys})")
            button.setAccessibleName(label)
            button.setAccessibleDescription(description)
        self._zoom_label.setAccessibleName(_tr(QT_TRANSLATE_NOOP("MarkupEditor", "Zoom level")))
        self._horizontal_bar.setAccessibleName(_tr(QT_TRANSLATE_NOOP("MarkupEditor", "Move the view sideways")))
        self._vertical_bar.setAccessibleName(_tr(QT_TRANSLATE_NOOP("MarkupEditor", "Move the view up or down")))
        self._canvas.retranslate()
        # Labels in another language have another width: measure them labelled again.
        style = self._buttons[0].toolButtonStyle()
        for button in self._buttons:
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        spacing = self._bar.spacing() * len(self._buttons)
        self._labelled_width = sum(b.sizeHint().width() for b in self._buttons) + spacing
        for button in self._buttons:
            button.setToolButtonStyle(style)
        self._fit_labels()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def _button(self, icon: QIcon) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icon)
        button.setIconSize(QSize(36, 36))
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        font = button.font()
        font.setPointSize(LABEL_POINT_SIZE)
        button.setFont(font)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        button.setMinimumSize(MIN_TOUCH_PX, MIN_TOUCH_PX)
        button.setAutoRaise(False)
        return button

    def _tool_clicked(self, tool: Tool, *_checked: object) -> None:
        self.set_tool(tool)
        self._canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def _shortcut(self, keys: list[str], slot: Callable[[], object]) -> None:
        shortcut = QShortcut(self)
        shortcut.setKeys([QKeySequence(key) for key in keys])
        # Only while focus is inside the editor: an embedding screen keeps its own letters.
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(slot)
        self._shortcuts.append(shortcut)

    # -- reacting
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_labels()

    def _fit_labels(self) -> None:
        """Labels under the icons when they fit; icons alone (still 56 px targets) when they do not."""
        labelled = self._show_labels and self.width() >= self._labelled_width
        style = Qt.ToolButtonStyle.ToolButtonTextUnderIcon if labelled else Qt.ToolButtonStyle.ToolButtonIconOnly
        for button in self._buttons:
            if button.toolButtonStyle() != style:
                button.setToolButtonStyle(style)

    def labels_shown(self) -> bool:
        return self._buttons[0].toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextUnderIcon

    def _document_changed(self) -> None:
        self._update_buttons()
        self.changed.emit()

    def _zoom_by_button(self, zoom: Callable[[], None]) -> None:
        zoom()
        # Back to the picture: the keys (and a next Ctrl+=) act there, not on the button.
        self._canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def _scroll_bar_moved(self, _value: int) -> None:
        self._canvas.set_scroll(self._horizontal_bar.value(), self._vertical_bar.value())

    def _view_changed(self) -> None:
        """Scroll bars, the zoom level and the zoom buttons follow the canvas's view."""
        canvas = self._canvas
        most_x, most_y = canvas.scroll_range()
        x, y = canvas.scroll_position()
        for scroll_bar, most, value, page in (
            (self._horizontal_bar, most_x, x, canvas.width()),
            (self._vertical_bar, most_y, y, canvas.height()),
        ):
            scroll_bar.blockSignals(True)
            scroll_bar.setRange(0, most)
            scroll_bar.setPageStep(max(1, page))
            scroll_bar.setSingleStep(WHEEL_SCROLL_PX)
            scroll_bar.setValue(value)
            scroll_bar.blockSignals(False)
            scroll_bar.setVisible(most > 0)
        scale = canvas.scale()
        self._zoom_label.setText(f"{round(scale * 100)} %")
        self._zoom_buttons["markup-zoom-in"].setEnabled(scale < MAX_ZOOM * (1 - 1e-6))
        self._zoom_buttons["markup-zoom-out"].setEnabled(scale > min(canvas.fit_scale(), ZOOM_STEPS[0]) * (1 + 1e-6))
        self._zoom_buttons["markup-zoom-fit"].setEnabled(not canvas.is_fitted())
        self._zoom_buttons["markup-zoom-actual"].setEnabled(not math.isclose(scale, 1.0, rel_tol=1e-6))

    def zoom_button(self, name: Literal["in", "out", "fit", "actual"]) -> QToolButton:
        return self._zoom_buttons[f"markup-zoom-{name}"]

    def _update_buttons(self) -> None:
        self._undo_button.setEnabled(self._document.can_undo)
        self._redo_button.setEnabled(self._document.can_redo)
        self._delete_button.setEnabled(self._canvas.selected() is not None)


__all__ = ["TOOLS", "MarkupCanvas", "MarkupEditor", "Tool", "paint_item"]
