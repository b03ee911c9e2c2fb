"""A tiny Qt app for the step tests: a window titled "Save As" with a text field and an "OK" button.

Run as a child process with QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1 on the test's X display and
private session bus. It prints one line, ``ready X Y`` (the button's centre in screen pixels),
once it is on screen, and ``clicked`` whenever OK is pressed, so a test knows its click landed.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QPoint, QTimer
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QVBoxLayout, QWidget


def main() -> int:
    app = QApplication(sys.argv)
    window = QWidget()
    window.setWindowTitle("Save As")
    layout = QVBoxLayout(window)
    layout.addWidget(QLineEdit())
    button = QPushButton("OK")
    button.clicked.connect(lambda: print("clicked", flush=True))
    layout.addWidget(button)
    left, top = (int(arg) for arg in sys.argv[1:3]) if len(sys.argv) >= 3 else (200, 200)
    window.setGeometry(left, top, 320, 160)
    window.show()

    def announce() -> None:
        centre = button.mapToGlobal(QPoint(button.width() // 2, button.height() // 2))
        print(f"ready {centre.x()} {centre.y()}", flush=True)

    QTimer.singleShot(0, announce)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
