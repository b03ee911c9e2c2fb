"""The trim dialog: the scrubber's keys and handles choose frames, the preview shows the frame chosen,
and the part kept is exactly the frames between the handles (the core's trim)."""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from shared_qt.clip_trim import ClipTrimDialog
from tests.clips.synthetic import marked_recording, square_at


def shown_square(dialog: ClipTrimDialog) -> int | None:
    """Which frame the preview's pixels show (the red square's place), read back from the label."""
    pixmap = dialog.preview.pixmap()
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGB888)
    picture = Image.frombuffer(
        "RGB", (image.width(), image.height()), bytes(image.constBits()), "raw", "RGB", image.bytesPerLine(), 1
    ).resize((160, 120), Image.Resampling.NEAREST)
    return square_at(picture)


def test_keys_step_frames_and_set_the_handles(qtbot: QtBot) -> None:
    dialog = ClipTrimDialog(marked_recording(10, 0.2))
    qtbot.addWidget(dialog)
    dialog.resize(640, 480)
    dialog.show()
    scrubber = dialog.scrubber
    assert (scrubber.start, scrubber.end, scrubber.position) == (0, 9, 0)
    QTest.keyClick(scrubber, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: dialog.shown_frame() == 9)
    QTest.keyClick(scrubber, Qt.Key.Key_Home)
    for _ in range(3):
        QTest.keyClick(scrubber, Qt.Key.Key_Right)
    QTest.keyClick(scrubber, Qt.Key.Key_BracketLeft)
    qtbot.waitUntil(lambda: dialog.shown_frame() == 3)
    assert shown_square(dialog) == 3
    for _ in range(4):
        QTest.keyClick(scrubber, Qt.Key.Key_Right)
    QTest.keyClick(scrubber, Qt.Key.Key_Left)
    QTest.keyClick(scrubber, Qt.Key.Key_BracketRight)
    assert (scrubber.start, scrubber.end, scrubber.position) == (3, 6, 6)
    assert "0.8 s (4 frames)" in dialog.kept_label.text()
    with qtbot.waitSignal(dialog.accepted):
        QTest.keyClick(scrubber, Qt.Key.Key_Return)
    kept = dialog.trimmed()
    assert [square_at(image) for image in kept.images()] == [3, 4, 5, 6]
    assert abs(kept.duration - 0.8) < 1e-9


def test_handles_are_dragged_and_an_end_cannot_pass_the_start(qtbot: QtBot) -> None:
    dialog = ClipTrimDialog(marked_recording(10, 0.2))
    qtbot.addWidget(dialog)
    dialog.resize(800, 500)
    dialog.show()
    scrubber = dialog.scrubber
    y = scrubber.height() // 2

    def drag(from_x: float, to_x: float) -> None:
        qtbot.mousePress(scrubber, Qt.MouseButton.LeftButton, pos=QPoint(round(from_x), y))  # type: ignore[no-untyped-call]
        qtbot.mouseMove(scrubber, QPoint(round(to_x), y))  # type: ignore[no-untyped-call]
        qtbot.mouseRelease(scrubber, Qt.MouseButton.LeftButton, pos=QPoint(round(to_x), y))  # type: ignore[no-untyped-call]

    step = scrubber.x_of(1) - scrubber.x_of(0)
    start_edge = scrubber.x_of(0) - step / 2
    end_edge = scrubber.x_of(9) + step / 2
    drag(start_edge, scrubber.x_of(2))
    assert scrubber.start == 2 and scrubber.position == 2
    drag(end_edge, scrubber.x_of(7))
    assert scrubber.end == 7 and scrubber.position == 7
    drag(scrubber.x_of(7) + step / 2, scrubber.x_of(0))  # the end handle dragged past the start
    assert scrubber.end == 2 == scrubber.start
    qtbot.waitUntil(lambda: dialog.shown_frame() == 2)
    assert shown_square(dialog) == 2
    assert [square_at(image) for image in dialog.trimmed().images()] == [2]


def test_discarding_keeps_nothing(qtbot: QtBot) -> None:
    dialog = ClipTrimDialog(marked_recording(4, 0.2))
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.rejected):
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.result() == ClipTrimDialog.DialogCode.Rejected
