"""The Qt mark-up editor, driven like a person would: presses, drags, keys, and the pixels it produces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QPoint, QPointF, Qt, QTranslator
from PySide6.QtWidgets import QLineEdit, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from agent.markup import MarkupError, new_item
from shared_qt.markup_editor import TOOLS, MarkupEditor
from tests.markup.helpers import box_pixels, changed_pixels, decoded, gradient, png_bytes, source_pixel

IMAGE_SIZE = (1600, 1000)
REPO = Path(__file__).resolve().parents[2]


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


def expected_mapping(canvas: QWidget) -> tuple[float, float, float]:
    """Scale and offset of an image scaled to fit the canvas and centred, from the canvas's size alone."""
    width, height = IMAGE_SIZE
    scale = min(canvas.width() / width, canvas.height() / height)
    return scale, (canvas.width() - width * scale) / 2, (canvas.height() - height * scale) / 2


def to_widget(canvas: QWidget, x: float, y: float) -> QPoint:
    scale, left, top = expected_mapping(canvas)
    return QPoint(round(left + x * scale), round(top + y * scale))


def to_image(canvas: QWidget, point: QPoint) -> tuple[float, float]:
    scale, left, top = expected_mapping(canvas)
    return (point.x() - left) / scale, (point.y() - top) / scale


def drag(qtbot: QtBot, editor: MarkupEditor, start: QPoint, end: QPoint) -> None:
    canvas = editor.canvas()
    with qtbot.waitSignal(editor.changed, timeout=2000):
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(canvas, (start + end) / 2)
        qtbot.mouseMove(canvas, end)
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end)


def click(qtbot: QtBot, editor: MarkupEditor, at: QPoint) -> None:
    with qtbot.waitSignal(editor.changed, timeout=2000):
        qtbot.mouseClick(editor.canvas(), Qt.MouseButton.LeftButton, pos=at)


def key(
    qtbot: QtBot, editor: MarkupEditor, key: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
) -> None:
    qtbot.keyClick(editor.canvas(), key, modifiers)


def assert_points_close(actual: list[tuple[float, float]], expected: list[tuple[float, float]]) -> None:
    assert len(actual) == len(expected)
    for (ax, ay), (ex, ey) in zip(actual, expected, strict=True):
        assert abs(ax - ex) < 0.05 and abs(ay - ey) < 0.05, (actual, expected)


# ---------------------------------------------------------------- drawing with the mouse
@pytest.mark.parametrize("size", [(900, 700), (700, 1000), (1400, 500)], ids=["wide", "tall", "letterboxed"])
def test_a_drag_makes_a_rectangle_in_image_pixels_under_any_scaling(
    qtbot: QtBot, editor: MarkupEditor, size: tuple[int, int]
) -> None:
    editor.resize(*size)
    qtbot.waitUntil(lambda: editor.width() == size[0])
    canvas = editor.canvas()
    key(qtbot, editor, Qt.Key.Key_R)
    assert editor.tool() == "rectangle"
    start, end = to_widget(canvas, 200, 150), to_widget(canvas, 900, 700)
    drag(qtbot, editor, end, start)  # dragged up-left: the corners still come out ordered
    [item] = editor.items()
    assert item.kind == "rectangle"
    assert_points_close(item.points, [to_image(canvas, start), to_image(canvas, end)])
    mapped = canvas.widget_to_image(QPointF(start))
    assert (mapped.x(), mapped.y()) == pytest.approx(to_image(canvas, start))
    back = canvas.image_to_widget(mapped)
    assert (back.x(), back.y()) == pytest.approx((start.x(), start.y()))


def test_a_redaction_drag_blacks_out_exactly_those_pixels_when_flattened(qtbot: QtBot, editor: MarkupEditor) -> None:
    canvas = editor.canvas()
    key(qtbot, editor, Qt.Key.Key_X)
    drag(qtbot, editor, to_widget(canvas, 400, 300), to_widget(canvas, 800, 500))
    [item] = editor.items()
    assert item.kind == "redaction"
    result = editor.flattened()
    assert result.has_redaction and not editor.original_may_be_kept()
    (x0, y0), (x1, y1) = item.points
    box = box_pixels(int(x0), int(y0), -int(-x1), -int(-y1))
    after = decoded(result).convert("RGB")
    assert changed_pixels(after, gradient(*IMAGE_SIZE)) == box
    assert {after.getpixel(p) for p in box} == {(0, 0, 0)}


def test_each_tool_draws_what_its_name_says(qtbot: QtBot, editor: MarkupEditor) -> None:
    canvas = editor.canvas()
    for letter, kind in [(Qt.Key.Key_A, "arrow"), (Qt.Key.Key_H, "highlight"), (Qt.Key.Key_C, "crop")]:
        key(qtbot, editor, letter)
        drag(qtbot, editor, to_widget(canvas, 100, 100), to_widget(canvas, 1400, 900))
        assert editor.items()[-1].kind == kind
    arrow, _highlight, crop = editor.items()
    assert_points_close(
        arrow.points, [to_image(canvas, to_widget(canvas, 100, 100)), to_image(canvas, to_widget(canvas, 1400, 900))]
    )
    result = editor.flattened()
    (left, top), (right, bottom) = crop.points
    assert (result.width, result.height) == (round(right) - round(left), round(bottom) - round(top))
    assert decoded(result).convert("RGB").getpixel((0, 0)) != source_pixel(round(left), round(top))  # highlighted


def test_a_tap_is_not_a_drag(qtbot: QtBot, editor: MarkupEditor) -> None:
    key(qtbot, editor, Qt.Key.Key_R)
    at = to_widget(editor.canvas(), 500, 500)
    qtbot.mousePress(editor.canvas(), Qt.MouseButton.LeftButton, pos=at)
    qtbot.mouseRelease(editor.canvas(), Qt.MouseButton.LeftButton, pos=at + QPoint(2, 2))
    assert editor.items() == []


def test_drags_starting_outside_the_image_are_clamped_to_it(qtbot: QtBot, editor: MarkupEditor) -> None:
    editor.resize(1400, 500)  # room to the left and right of the image
    qtbot.waitUntil(lambda: editor.width() == 1400)
    canvas = editor.canvas()
    assert to_widget(canvas, 0, 0).x() > 20
    key(qtbot, editor, Qt.Key.Key_X)
    press = QPoint(2, 30)  # left of the image, at its height
    drag(qtbot, editor, press, to_widget(canvas, 300, 200))
    assert editor.items()[0].points[0] == pytest.approx((0, to_image(canvas, press)[1]), abs=0.01)


def test_marker_clicks_drop_numbers_one_two_three(qtbot: QtBot, editor: MarkupEditor) -> None:
    canvas = editor.canvas()
    key(qtbot, editor, Qt.Key.Key_M)
    spots = [(200, 200), (600, 300), (1000, 800)]
    for x, y in spots:
        click(qtbot, editor, to_widget(canvas, x, y))
    assert [item.text for item in editor.items()] == ["1", "2", "3"]
    for item, (x, y) in zip(editor.items(), spots, strict=True):
        expected = to_image(canvas, to_widget(canvas, x, y))
        assert_points_close(item.points, [expected])


# ---------------------------------------------------------------- text
def test_text_is_typed_inline_without_the_letters_switching_tools(qtbot: QtBot, editor: MarkupEditor) -> None:
    canvas = editor.canvas()
    key(qtbot, editor, Qt.Key.Key_T)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=to_widget(canvas, 300, 400))
    entry = canvas.text_entry()
    assert entry.isVisible() and entry.window() is editor.window()  # inline, not a dialog
    qtbot.waitUntil(entry.hasFocus)
    qtbot.keyClicks(entry, "Crash at M")  # C, r, a, s, h, t, M are all tool letters
    assert editor.tool() == "text"
    with qtbot.waitSignal(editor.changed, timeout=2000):
        qtbot.keyClick(entry, Qt.Key.Key_Return)
    [item] = editor.items()
    assert item.kind == "text" and item.text == "Crash at M"
    assert_points_close(item.points, [to_image(canvas, to_widget(canvas, 300, 400))])
    assert not entry.isVisible()


def test_escape_drops_the_text_and_f2_edits_it(qtbot: QtBot, editor: MarkupEditor) -> None:
    editor.load(editor.image_bytes() or b"", [new_item("text", [(300, 300)], text="old")])
    canvas, entry = editor.canvas(), editor.canvas().text_entry()
    key(qtbot, editor, Qt.Key.Key_T)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=to_widget(canvas, 800, 800))
    qtbot.keyClicks(entry, "never mind")
    qtbot.keyClick(entry, Qt.Key.Key_Escape)
    assert [item.text for item in editor.items()] == ["old"]
    key(qtbot, editor, Qt.Key.Key_S)
    key(qtbot, editor, Qt.Key.Key_Tab)
    assert canvas.selected() == 0
    key(qtbot, editor, Qt.Key.Key_F2)
    assert entry.isVisible() and entry.text() == "old"
    entry.selectAll()
    qtbot.keyClicks(entry, "new")
    with qtbot.waitSignal(editor.changed, timeout=2000):
        qtbot.keyClick(entry, Qt.Key.Key_Enter)
    assert [item.text for item in editor.items()] == ["new"]


# ---------------------------------------------------------------- select, move, delete, undo
def test_select_drag_moves_an_item_and_delete_removes_it(qtbot: QtBot, editor: MarkupEditor) -> None:
    canvas = editor.canvas()
    editor.load(editor.image_bytes() or b"", [new_item("marker", [(400, 400)], text="1", stroke_width=8)])
    key(qtbot, editor, Qt.Key.Key_S)
    start, end = to_widget(canvas, 400, 400), to_widget(canvas, 700, 500)
    drag(qtbot, editor, start, end)
    assert canvas.selected() == 0
    scale = expected_mapping(canvas)[0]
    moved = editor.items()[0].points[0]
    assert moved == pytest.approx((400 + (end.x() - start.x()) / scale, 400 + (end.y() - start.y()) / scale))
    with qtbot.waitSignal(editor.changed, timeout=2000):
        key(qtbot, editor, Qt.Key.Key_Delete)
    assert editor.items() == []
    assert canvas.selected() is None


def test_clicking_empty_space_deselects(qtbot: QtBot, editor: MarkupEditor) -> None:
    canvas = editor.canvas()
    editor.load(editor.image_bytes() or b"", [new_item("highlight", [(100, 100), (300, 300)])])
    key(qtbot, editor, Qt.Key.Key_S)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=to_widget(canvas, 200, 200))
    assert canvas.selected() == 0
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=to_widget(canvas, 1000, 800))
    assert canvas.selected() is None
    key(qtbot, editor, Qt.Key.Key_Delete)
    assert len(editor.items()) == 1


@pytest.mark.parametrize(
    "redo_keys",
    [
        (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier),
        (Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier),
    ],
    ids=["ctrl-shift-z", "ctrl-y"],
)
def test_undo_and_redo_shortcuts(
    qtbot: QtBot, editor: MarkupEditor, redo_keys: tuple[Qt.Key, Qt.KeyboardModifier]
) -> None:
    canvas = editor.canvas()
    key(qtbot, editor, Qt.Key.Key_M)
    for x in (100, 500, 900):
        click(qtbot, editor, to_widget(canvas, x, 500))
    with qtbot.waitSignal(editor.changed, timeout=2000):
        key(qtbot, editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(editor.changed, timeout=2000):
        key(qtbot, editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [item.text for item in editor.items()] == ["1"]
    assert editor.findChild(QWidget, "markup-redo").isEnabled()
    with qtbot.waitSignal(editor.changed, timeout=2000):
        key(qtbot, editor, *redo_keys)
    assert [item.text for item in editor.items()] == ["1", "2"]
    click(qtbot, editor, to_widget(canvas, 1200, 500))
    assert [item.text for item in editor.items()] == ["1", "2", "3"]
    assert not editor.document().can_redo


# ---------------------------------------------------------------- the keyboard alone
def test_keyboard_alone_creates_moves_resizes_and_walks_items(qtbot: QtBot, editor: MarkupEditor) -> None:
    canvas = editor.canvas()
    key(qtbot, editor, Qt.Key.Key_R)
    with qtbot.waitSignal(editor.changed, timeout=2000):
        key(qtbot, editor, Qt.Key.Key_Return)
    [item] = editor.items()
    assert item.points == [(600, 375), (1000, 625)]  # a quarter of the image, centred
    step = 4 / expected_mapping(canvas)[0]
    key(qtbot, editor, Qt.Key.Key_Right)
    key(qtbot, editor, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert editor.items()[0].points[0] == pytest.approx((600 + step, 375 + 10 * step))
    key(qtbot, editor, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    assert editor.items()[0].points[1] == pytest.approx((1000, 625 + 10 * step))
    assert editor.items()[0].points[1][0] < 1000 + step  # Ctrl+Left shrank it
    editor.undo()  # the run of nudges was one step
    assert editor.items()[0].points == [(600, 375), (1000, 625)]
    key(qtbot, editor, Qt.Key.Key_M)
    key(qtbot, editor, Qt.Key.Key_Return)
    assert canvas.selected() == 1
    key(qtbot, editor, Qt.Key.Key_Escape)
    assert canvas.selected() is None
    key(qtbot, editor, Qt.Key.Key_Tab)
    assert canvas.selected() == 0
    key(qtbot, editor, Qt.Key.Key_Tab)
    assert canvas.selected() == 1
    key(qtbot, editor, Qt.Key.Key_Tab)  # past the last item, focus leaves the canvas
    assert canvas.selected() is None and not canvas.hasFocus()


def test_moves_keep_the_item_on_the_image(qtbot: QtBot, editor: MarkupEditor) -> None:
    editor.load(editor.image_bytes() or b"", [new_item("redaction", [(10, 10), (110, 60)])])
    key(qtbot, editor, Qt.Key.Key_S)
    key(qtbot, editor, Qt.Key.Key_Tab)
    for _ in range(5):
        key(qtbot, editor, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert editor.items()[0].points == [(0, 10), (100, 60)]


# ---------------------------------------------------------------- the public face
def test_tool_buttons_are_large_named_and_tell_their_shortcut(editor: MarkupEditor) -> None:
    letters = {
        "select": "S",
        "arrow": "A",
        "rectangle": "R",
        "highlight": "H",
        "text": "T",
        "marker": "M",
        "crop": "C",
        "redaction": "X",
    }
    for tool in TOOLS:
        button = editor.tool_button(tool)
        assert button.width() >= 48 and button.height() >= 48
        assert button.accessibleName()
        assert button.toolTip().endswith(f"({letters[tool]})")
        assert button.font().pointSizeF() >= 18
    for name in ("markup-undo", "markup-redo", "markup-delete"):
        button = editor.findChild(QWidget, name)
        assert button.width() >= 48 and button.height() >= 48 and button.accessibleName() and button.toolTip()


def test_an_installed_translator_turns_every_text_into_its_language(qtbot: QtBot, editor: MarkupEditor) -> None:
    """The editor follows a language switch made while it is open (the kiosk's catalogue carries its texts)."""
    undo = editor.findChild(QToolButton, "markup-undo")
    assert undo.text() == "Undo" and undo.toolTip().startswith("Undo the last change")
    translator = QTranslator()
    assert translator.load(str(REPO / "resources" / "i18n" / "showdesk_de.qm"))
    app = QCoreApplication.instance()
    assert app is not None
    app.installTranslator(translator)
    try:
        qtbot.waitUntil(lambda: undo.text() == "Rückgängig")
        assert undo.accessibleName() == "Rückgängig" and undo.toolTip().startswith("Die letzte Änderung")
        assert editor.tool_button("redaction").text() == "Schwärzen"
        assert editor.canvas().accessibleName() == "Bild zum Markieren"
        assert editor.canvas().accessibleDescription() == "Markierungen: 0"
        entry = editor.canvas().findChild(QLineEdit)
        assert entry.placeholderText() == "Tippen, dann Eingabe drücken"
    finally:
        app.removeTranslator(translator)
    qtbot.waitUntil(lambda: undo.text() == "Undo")


def test_labels_give_way_to_icons_when_the_editor_is_narrow(qtbot: QtBot, editor: MarkupEditor) -> None:
    editor.resize(1600, 700)
    qtbot.waitUntil(editor.labels_shown)
    editor.resize(700, 700)
    qtbot.waitUntil(lambda: not editor.labels_shown())
    assert all(editor.tool_button(tool).width() >= 48 for tool in TOOLS)


def test_clicking_a_tool_button_picks_the_tool(qtbot: QtBot, editor: MarkupEditor) -> None:
    with qtbot.waitSignal(editor.tool_changed, timeout=2000) as signal:
        qtbot.mouseClick(editor.tool_button("highlight"), Qt.MouseButton.LeftButton)
    assert signal.args == ["highlight"] and editor.tool() == "highlight"
    assert editor.canvas().hasFocus()  # ready for the keyboard


def test_load_shows_items_and_a_bad_image_keeps_what_was_there(qtbot: QtBot, editor: MarkupEditor) -> None:
    items = [new_item("arrow", [(1, 1), (50, 50)]), new_item("crop", [(0, 0), (800, 500)])]
    with qtbot.waitSignal(editor.changed, timeout=2000):
        editor.load(png_bytes(gradient(*IMAGE_SIZE)), items)
    assert editor.items() == items and not editor.document().can_undo
    with pytest.raises(MarkupError, match="cannot be read"):
        editor.load(b"definitely not a picture")
    assert editor.items() == items
    assert editor.flattened().width == 800


def test_shortcuts_stay_inside_the_editor(qtbot: QtBot) -> None:
    # An embedding screen with its own text field: typing there must not switch tools.
    from PySide6.QtWidgets import QLineEdit, QVBoxLayout

    screen = QWidget()
    qtbot.addWidget(screen)
    layout = QVBoxLayout(screen)
    caption = QLineEdit()
    editor = MarkupEditor()
    layout.addWidget(caption)
    layout.addWidget(editor)
    editor.load(png_bytes(gradient(200, 100)))
    screen.show()
    qtbot.waitExposed(screen)
    screen.activateWindow()
    qtbot.waitUntil(screen.isActiveWindow)
    caption.setFocus()
    qtbot.keyClicks(caption, "Xerox")
    assert caption.text() == "Xerox" and editor.tool() == "arrow"


def test_mapping_holds_at_device_pixel_ratio_two(tmp_path: Path) -> None:
    # The device-pixel ratio is fixed when Qt starts, so this runs in its own process.
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("dpr_probe.py"))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["ratio"] == 2
    scale = min(probe["canvas"][0] / 1600, probe["canvas"][1] / 1000)
    left = (probe["canvas"][0] - 1600 * scale) / 2
    top = (probe["canvas"][1] - 1000 * scale) / 2
    expected = [((x - left) / scale, (y - top) / scale) for x, y in probe["pressed"]]
    assert_points_close([tuple(p) for p in probe["points"]], expected)
    # The backdrop is scaled at device resolution, not blown up from logical pixels.
    assert probe["pixmap"] == [round(1600 * scale * 2), round(1000 * scale * 2)]
    assert probe["black_at_box_centre"]


def test_keys_the_canvas_has_no_use_for_reach_the_embedding_screen(qtbot: QtBot) -> None:
    from PySide6.QtGui import QKeyEvent

    class Screen(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.keys: list[int] = []

        def keyPressEvent(self, event: QKeyEvent) -> None:
            self.keys.append(event.key())

    screen = Screen()
    qtbot.addWidget(screen)
    editor = MarkupEditor(screen)
    editor.load(png_bytes(gradient(200, 100)), [new_item("marker", [(50, 50)], text="1")])
    editor.set_tool("select")
    canvas = editor.canvas()
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    assert screen.keys == [Qt.Key.Key_Escape, Qt.Key.Key_Return]
    canvas.select(0)
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)  # used: it deselects
    assert canvas.selected() is None and len(screen.keys) == 2


def test_a_long_session_does_not_eat_the_interpreters_shared_objects(editor: MarkupEditor) -> None:
    # PySide6 6.12.0 on Python 3.11 drops a reference to None on every void call and to True on
    # every emit(); after some thousands of paints the interpreter aborts (a kiosk in minutes).
    editor.load(
        editor.image_bytes() or b"", [new_item("marker", [(100, 100)], text="1"), new_item("arrow", [(0, 0), (50, 50)])]
    )
    canvas = editor.canvas()
    canvas.repaint()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(20):  # few: on a broken binding, many would abort the whole test run
        canvas.repaint()
        editor.set_tool("marker")
    lost_none, lost_true = none_before - sys.getrefcount(None), true_before - sys.getrefcount(True)
    assert lost_none < 10 and lost_true < 10, (
        f"the Qt binding lost {lost_none} references to None and {lost_true} to True in 20 repaints; "
        "this interpreter and PySide6 combination will abort a long-running window"
    )


def test_load_shows_a_webp_qt_cannot_read_by_decoding_it_with_pillow(qtbot: QtBot) -> None:
    from PIL import Image
    from PySide6.QtGui import QImage

    from agent.encoding import encode

    colour = (40, 90, 200)
    # What the capture encoder writes for a one-colour screen (a blank monitor): lossless WebP.
    webp = encode(Image.new("RGB", (320, 200), colour)).data
    assert webp[8:12] == b"WEBP"
    assert QImage.fromData(webp).isNull(), "Qt reads this file now: pick one it cannot, or drop the fallback"

    widget = MarkupEditor()
    qtbot.addWidget(widget)
    widget.resize(640, 480)
    widget.load(webp, [new_item("redaction", [(10, 10), (100, 80)])])
    widget.show()
    qtbot.waitExposed(widget)
    canvas = widget.canvas()
    shown = canvas.grab().toImage()
    centre = shown.pixelColor(canvas.width() // 2, canvas.height() // 2)
    assert (centre.red(), centre.green(), centre.blue()) == colour
    assert widget.image_bytes() == webp
    flat = decoded(widget.flattened()).convert("RGB")
    assert flat.getpixel((160, 100)) == colour and flat.getpixel((50, 40)) != colour
