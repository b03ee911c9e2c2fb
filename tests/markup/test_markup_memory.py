"""A closed mark-up editor lets go of its picture at once: no reference cycle keeps it for the collector.

A kiosk opens a new editor for every visit that marks up a picture. When an editor's Python
side sat in a reference cycle (the document's listeners held the canvas and the editor), each
closed editor kept its 1080p picture and its scaled copy (16 MB) until Python's cyclic
collector happened to run, which counts objects, not bytes: the kiosk grew by megabytes with
every marked-up visit. These tests draw with real mouse events on the real widget, close the
editor as the kiosk does, and look with the collector switched off.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from shared_qt.markup_editor import MarkupCanvas, MarkupEditor
from tests.markup.helpers import gradient, png_bytes

DRAGS = 8
VISITS = 3


@pytest.fixture
def no_cyclic_collector() -> Iterator[None]:
    """Only reference counting frees objects while the test runs (what a busy process sees between collections)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def live_canvases() -> int:
    return sum(1 for obj in gc.get_objects() if isinstance(obj, MarkupCanvas))


def draw_and_close(qtbot: QtBot, host: QWidget, picture: bytes) -> weakref.ref[MarkupEditor]:
    """One visit's mark-up: open an editor in ``host``, drag ``DRAGS`` arrows with the mouse, close it."""
    editor = MarkupEditor()
    host_layout = host.layout()
    assert host_layout is not None
    host_layout.addWidget(editor)
    editor.load(picture)
    editor.show()
    qtbot.waitExposed(editor)
    canvas = editor.canvas()
    for number in range(DRAGS):
        start = QPoint(60 + number * 30, 60)
        end = QPoint(160 + number * 30, 200)
        with qtbot.waitSignal(editor.changed, timeout=2000):
            qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
            for step in range(1, 6):
                qtbot.mouseMove(canvas, start + (end - start) * step / 5)
            qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end)
    assert len(editor.items()) == DRAGS
    gone = weakref.ref(editor)
    # As the kiosk's Review does at the end of a visit.
    editor.release()
    host_layout.removeWidget(editor)
    editor.deleteLater()
    del editor, canvas
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    return gone


def test_closed_editors_are_freed_by_reference_counting_alone(qtbot: QtBot, no_cyclic_collector: None) -> None:
    host = QWidget()
    QVBoxLayout(host)
    qtbot.addWidget(host)
    host.resize(1000, 700)
    host.show()
    picture = png_bytes(gradient(1920, 1080), compress_level=1)
    before = live_canvases()
    for _visit in range(VISITS):
        gone = draw_and_close(qtbot, host, picture)
        assert gone() is None, "the closed editor (and its picture) is still held by a reference cycle"
    # Fewer is fine: editors of earlier tests may have gone meanwhile.
    assert live_canvases() <= before, "canvases pile up visit after visit"


def test_release_drops_the_picture_and_the_history_and_load_works_again(qtbot: QtBot) -> None:
    editor = MarkupEditor()
    qtbot.addWidget(editor)
    editor.resize(900, 700)
    editor.show()
    picture = png_bytes(gradient(640, 400))
    editor.load(picture)
    with qtbot.waitSignal(editor.changed, timeout=2000):
        qtbot.mousePress(editor.canvas(), Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
        qtbot.mouseMove(editor.canvas(), QPoint(200, 200))
        qtbot.mouseRelease(editor.canvas(), Qt.MouseButton.LeftButton, pos=QPoint(300, 250))
    assert editor.items() and editor.document().can_undo

    editor.release()
    assert editor.canvas().image_size() == (0, 0)
    assert editor.image_bytes() is None and editor.items() == [] and not editor.document().can_undo
    editor.load(picture)
    assert editor.canvas().image_size() == (640, 400)
