"""Run by test_markup_editor in a process started with QT_SCALE_FACTOR=2: drag a black-out, report.

Prints JSON: the device-pixel ratio, the canvas's logical size, the widget points pressed, the
item's points, the cached backdrop's physical size, and whether the grabbed widget is black
in the middle of the box.
"""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from shared_qt.markup_editor import MarkupEditor
from tests.markup.helpers import gradient, png_bytes


def main() -> None:
    app = QApplication(sys.argv)
    editor = MarkupEditor()
    editor.resize(900, 700)
    editor.load(png_bytes(gradient(1600, 1000)))
    editor.show()
    for _ in range(3):
        app.processEvents()
    editor.set_tool("redaction")
    canvas = editor.canvas()
    start, end = QPoint(200, 150), QPoint(500, 400)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(canvas, end)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    app.processEvents()
    grabbed = canvas.grab().toImage()
    ratio = grabbed.devicePixelRatio()
    centre = grabbed.pixelColor(round(350 * ratio), round(275 * ratio))
    pixmap = canvas._scaled_pixmap()  # the backdrop as painted
    print(
        json.dumps(
            {
                "ratio": canvas.devicePixelRatioF(),
                "canvas": [canvas.width(), canvas.height()],
                "pressed": [[start.x(), start.y()], [end.x(), end.y()]],
                "points": [list(p) for item in editor.items() for p in item.points],
                "pixmap": [pixmap.width(), pixmap.height()],
                "black_at_box_centre": centre.red() == centre.green() == centre.blue() == 0,
            }
        )
    )


if __name__ == "__main__":
    main()
