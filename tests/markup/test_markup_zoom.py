"""Zoom and pan in the mark-up editor: keys, buttons, Ctrl+wheel, pinch, the hand, and pixel-exact
tools in a zoomed and scrolled view."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QPointingDevice, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QScrollBar
from pytestqt.qtbot import QtBot

from shared_qt.markup_editor import ZOOM_STEPS, MarkupCanvas, MarkupEditor
from tests.markup.helpers import box_pixels, changed_pixels, decoded, gradient, png_bytes

IMAGE_SIZE = (1600, 1000)


@pytest.fixture
def editor(qtbot: QtBot) -> MarkupEditor:
    widget = MarkupEditor()
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.load(png_bytes(gradient(*IMAGE_SIZE)))
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow)
    widget.canvas().setFocus()
    return widget


def fit(canvas: MarkupCanvas) -> float:
    return min(canvas.width() / IMAGE_SIZE[0], canvas.height() / IMAGE_SIZE[1])


def zoom_label(editor: MarkupEditor) -> str:
    found = editor.findChild(QLabel, "markup-zoom-level")
    assert found is not None
    return found.text()


def press_keys(qtbot: QtBot, editor: MarkupEditor, key: Qt.Key, times: int = 1) -> None:
    for _ in range(times):
        qtbot.keyClick(editor.canvas(), key, Qt.KeyboardModifier.ControlModifier)


def wheel(canvas: MarkupCanvas, at: QPointF, angle_y: int, modifiers: Qt.KeyboardModifier) -> None:
    event = QWheelEvent(
        at,
        canvas.mapToGlobal(at),
        QPoint(0, 0),
        QPoint(0, angle_y),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas, event)


def drag(qtbot: QtBot, canvas: MarkupCanvas, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas, (start + end) / 2)
    qtbot.mouseMove(canvas, end)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end)


# ---------------------------------------------------------------- pixel-exact in a zoomed, scrolled view
@pytest.mark.parametrize(("zoom", "scroll"), [(4.0, (3900, 2300)), (8.0, (7950, 4770)), (2.0, (1500, 900))])
def test_a_black_out_drawn_zoomed_and_scrolled_covers_exactly_the_chosen_pixels(
    qtbot: QtBot, editor: MarkupEditor, zoom: float, scroll: tuple[int, int]
) -> None:
    canvas = editor.canvas()
    canvas.zoom_to(zoom)
    # Scrolled the way a person does it: with the scroll bars.
    horizontal = editor.findChild(QScrollBar, "markup-scroll-horizontal")
    vertical = editor.findChild(QScrollBar, "markup-scroll-vertical")
    qtbot.waitUntil(lambda: horizontal.isVisible() and vertical.isVisible())
    horizontal.setValue(scroll[0])
    vertical.setValue(scroll[1])
    assert canvas.scroll_position() == scroll

    # Picture pixel (x, y) shows at screen (x * zoom - scroll_x, y * zoom - scroll_y): the chosen box's
    # corners are the top-left of pixel (1000, 600) and of pixel (1010, 606).
    def on_screen(x: int, y: int) -> QPoint:
        return QPoint(round(x * zoom) - scroll[0], round(y * zoom) - scroll[1])

    assert canvas.rect().contains(on_screen(1000, 600)) and canvas.rect().contains(on_screen(1010, 606))
    qtbot.keyClick(canvas, Qt.Key.Key_X)
    with qtbot.waitSignal(editor.changed, timeout=2000):
        drag(qtbot, canvas, on_screen(1000, 600), on_screen(1010, 606))
    [item] = editor.items()
    assert item.kind == "redaction"
    assert item.points == [(1000.0, 600.0), (1010.0, 606.0)]

    after = decoded(editor.flattened()).convert("RGB")  # what freezing the report burns in
    chosen = box_pixels(1000, 600, 1010, 606)
    assert changed_pixels(after, gradient(*IMAGE_SIZE)) == chosen  # the neighbours are untouched
    assert {after.getpixel(p) for p in chosen} == {(0, 0, 0)}


def test_an_arrow_and_a_marker_drawn_zoomed_land_on_the_picture_points_under_the_pointer(
    qtbot: QtBot, editor: MarkupEditor
) -> None:
    canvas = editor.canvas()
    canvas.zoom_to(3.0)
    canvas.set_scroll(1200, 900)
    left, top = canvas.scroll_position()
    qtbot.keyClick(canvas, Qt.Key.Key_A)
    with qtbot.waitSignal(editor.changed, timeout=2000):
        drag(qtbot, canvas, QPoint(30, 60), QPoint(330, 210))
    qtbot.keyClick(canvas, Qt.Key.Key_M)
    with qtbot.waitSignal(editor.changed, timeout=2000):
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(99, 120))
    arrow, marker = editor.items()
    assert arrow.points == [
        pytest.approx(((30 + left) / 3, (60 + top) / 3)),
        pytest.approx(((330 + left) / 3, (210 + top) / 3)),
    ]
    assert marker.points == [pytest.approx(((99 + left) / 3, (120 + top) / 3))]


# ---------------------------------------------------------------- how a person zooms
def test_keys_step_through_the_zoom_levels_fit_and_actual_size(qtbot: QtBot, editor: MarkupEditor) -> None:
    canvas = editor.canvas()
    assert canvas.is_fitted() and canvas.scale() == pytest.approx(fit(canvas))
    assert not editor.zoom_button("fit").isEnabled()
    press_keys(qtbot, editor, Qt.Key.Key_Equal)
    first_above_fit = next(step for step in ZOOM_STEPS if step > fit(canvas))
    assert canvas.scale() == pytest.approx(first_above_fit)
    assert zoom_label(editor) == f"{round(first_above_fit * 100)} %"
    assert editor.zoom_button("fit").isEnabled()
    press_keys(qtbot, editor, Qt.Key.Key_Plus)
    assert canvas.scale() > first_above_fit
    press_keys(qtbot, editor, Qt.Key.Key_Minus, times=2)
    assert canvas.is_fitted(), "stepping out stops at the whole picture"
    press_keys(qtbot, editor, Qt.Key.Key_1)
    assert canvas.scale() == 1.0 and zoom_label(editor) == "100 %"
    press_keys(qtbot, editor, Qt.Key.Key_Equal, times=len(ZOOM_STEPS) + 2)
    assert canvas.scale() == ZOOM_STEPS[-1] and not editor.zoom_button("in").isEnabled()
    press_keys(qtbot, editor, Qt.Key.Key_0)
    assert canvas.is_fitted() and canvas.scroll_position() == (0, 0)
    assert not editor.findChild(QScrollBar, "markup-scroll-horizontal").isVisible()


def test_the_zoom_buttons_zoom_and_give_the_keys_back_to_the_picture(qtbot: QtBot, editor: MarkupEditor) -> None:
    canvas = editor.canvas()
    qtbot.mouseClick(editor.zoom_button("actual"), Qt.MouseButton.LeftButton)
    assert canvas.scale() == 1.0
    qtbot.mouseClick(editor.zoom_button("in"), Qt.MouseButton.LeftButton)
    assert canvas.scale() == 1.5
    assert canvas.hasFocus()
    qtbot.mouseClick(editor.zoom_button("out"), Qt.MouseButton.LeftButton)
    assert canvas.scale() == 1.0
    qtbot.mouseClick(editor.zoom_button("fit"), Qt.MouseButton.LeftButton)
    assert canvas.is_fitted()
    for name in ("in", "out", "fit", "actual"):
        button = editor.zoom_button(name)  # type: ignore[arg-type]
        assert button.width() >= 48 and button.height() >= 48 and button.accessibleName() and button.toolTip()


def test_ctrl_wheel_zooms_about_the_pointer_and_the_wheel_then_scrolls(qtbot: QtBot, editor: MarkupEditor) -> None:
    canvas = editor.canvas()
    pointer = QPointF(200, 150)
    under_pointer = canvas.widget_to_image(pointer)
    for _ in range(4):
        wheel(canvas, pointer, 120, Qt.KeyboardModifier.ControlModifier)
    assert canvas.scale() > fit(canvas) * 2
    still = canvas.widget_to_image(pointer)
    # Whole-pixel scrolling: the point under the pointer stays within one screen pixel.
    assert abs(still.x() - under_pointer.x()) * canvas.scale() <= 1
    assert abs(still.y() - under_pointer.y()) * canvas.scale() <= 1
    before = canvas.scroll_position()
    wheel(canvas, pointer, -120, Qt.KeyboardModifier.NoModifier)  # a notch down: the view moves down
    assert canvas.scroll_position() == (before[0], before[1] + 60)
    wheel(canvas, pointer, -120, Qt.KeyboardModifier.ShiftModifier)  # Shift: sideways
    assert canvas.scroll_position() == (before[0] + 60, before[1] + 60)
    # Half notches from a touchpad add up.
    scale = canvas.scale()
    wheel(canvas, pointer, -60, Qt.KeyboardModifier.ControlModifier)
    assert canvas.scale() == scale
    wheel(canvas, pointer, -60, Qt.KeyboardModifier.ControlModifier)
    assert canvas.scale() < scale


def test_the_select_tool_drags_a_zoomed_view_on_empty_picture_and_moves_items_on_them(
    qtbot: QtBot, editor: MarkupEditor
) -> None:
    canvas = editor.canvas()
    canvas.zoom_to(2.0)
    canvas.set_scroll(800, 500)
    qtbot.keyClick(canvas, Qt.Key.Key_S)
    drag(qtbot, canvas, QPoint(400, 300), QPoint(300, 240))
    assert canvas.scroll_position() == (900, 560)
    assert editor.items() == []
    # The middle button moves the view whatever the tool.
    qtbot.keyClick(canvas, Qt.Key.Key_R)
    qtbot.mousePress(canvas, Qt.MouseButton.MiddleButton, pos=QPoint(300, 300))
    qtbot.mouseMove(canvas, QPoint(350, 320))
    qtbot.mouseRelease(canvas, Qt.MouseButton.MiddleButton, pos=QPoint(350, 320))
    assert canvas.scroll_position() == (850, 540)
    assert editor.items() == []


# ---------------------------------------------------------------- touch
@pytest.fixture
def touch_screen() -> QPointingDevice:
    return QTest.createTouchDevice()


def test_two_fingers_pinch_to_zoom_and_move_and_draw_nothing(
    qtbot: QtBot, editor: MarkupEditor, touch_screen: QPointingDevice
) -> None:
    canvas = editor.canvas()
    qtbot.keyClick(canvas, Qt.Key.Key_X)  # the black-out tool: a stray finger would draw a box
    start_scale = canvas.scale()
    first, second = QPoint(300, 200), QPoint(400, 200)
    centre_before = canvas.widget_to_image(QPointF(350, 200))
    QTest.touchEvent(canvas, touch_screen).press(0, first, canvas).commit()
    QTest.touchEvent(canvas, touch_screen).stationary(0).press(1, second, canvas).commit()
    # The fingers spread to three times their distance, and their middle moves 40 px right.
    QTest.touchEvent(canvas, touch_screen).move(0, QPoint(240, 200), canvas).move(1, QPoint(540, 200), canvas).commit()
    QTest.touchEvent(canvas, touch_screen).release(0, QPoint(240, 200), canvas).release(
        1, QPoint(540, 200), canvas
    ).commit()
    assert canvas.scale() == pytest.approx(start_scale * 3, rel=1e-6)
    after = canvas.widget_to_image(QPointF(390, 200))
    assert abs(after.x() - centre_before.x()) * canvas.scale() <= 1
    assert abs(after.y() - centre_before.y()) * canvas.scale() <= 1
    assert editor.items() == []


def test_one_finger_draws_like_the_mouse(qtbot: QtBot, editor: MarkupEditor, touch_screen: QPointingDevice) -> None:
    canvas = editor.canvas()
    canvas.zoom_to(4.0)
    canvas.set_scroll(2000, 1000)
    qtbot.keyClick(canvas, Qt.Key.Key_X)
    with qtbot.waitSignal(editor.changed, timeout=2000):
        QTest.touchEvent(canvas, touch_screen).press(0, QPoint(40, 40), canvas).commit()
        QTest.touchEvent(canvas, touch_screen).move(0, QPoint(60, 50), canvas).commit()
        QTest.touchEvent(canvas, touch_screen).move(0, QPoint(80, 60), canvas).commit()
        QTest.touchEvent(canvas, touch_screen).release(0, QPoint(80, 60), canvas).commit()
    [item] = editor.items()
    assert item.kind == "redaction"
    assert item.points == [(510.0, 260.0), (520.0, 265.0)]
