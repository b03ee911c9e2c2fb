"""Plain coloured X windows a test can open, move and close on an Xvfb: a screen that changes.

Each window is an ``xmessage`` whose text, border and background share one colour, so every
pixel of it is that colour; ``xdotool`` finds and moves it. Without a window manager a window
appears exactly where it is asked to and moves at once.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from types import TracebackType

import pytest

from agent.capture import Rect

_TIMEOUT_S = 15.0


def require_tools() -> None:
    missing = [tool for tool in ("xmessage", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (Debian packages x11-utils, xdotool)")


class ColourWindow:
    """A ``width`` × ``height`` window of one colour at (``left``, ``top``) on ``env``'s display."""

    def __init__(self, env: dict[str, str], colour: str, rect: Rect) -> None:
        self.env = env
        self.rect = rect
        self.title = f"showdesk-test-{uuid.uuid4().hex[:8]}"
        geometry = f"{rect.width}x{rect.height}+{rect.left}+{rect.top}"
        self._process = subprocess.Popen(
            ["xmessage", "-geometry", geometry, "-bg", colour, "-fg", colour, "-bd", colour,
             "-xrm", "*borderWidth: 0", "-title", self.title, " "],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        found = subprocess.run(
            ["xdotool", "search", "--sync", "--name", f"^{self.title}$"],
            env=env, capture_output=True, text=True, timeout=_TIMEOUT_S, check=True,
        )
        self.window = found.stdout.split()[0]

    def move(self, left: int, top: int) -> None:
        subprocess.run(
            ["xdotool", "windowmove", "--sync", self.window, str(left), str(top)],
            env=self.env, capture_output=True, timeout=_TIMEOUT_S, check=True,
        )
        self.rect = Rect(left, top, self.rect.width, self.rect.height)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=_TIMEOUT_S)

    def __enter__(self) -> ColourWindow:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
