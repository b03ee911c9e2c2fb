"""The shared capture thread (``shared_qt.grab_thread``): one thread owns one capturer, opened at
the first job and closed at shutdown, with a real ``Capturer`` on the session's Xvfb."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from agent.capture import CaptureError, Capturer, Shot
from shared_qt.grab_thread import GrabThread
from tests.fixtures.xvfb import XvfbServer


class Log:
    """What reached the GUI thread, and on which thread it arrived."""

    def __init__(self) -> None:
        self.results: list[object] = []
        self.errors: list[Exception] = []
        self.threads: set[int] = set()

    def result(self, value: object) -> None:
        self.threads.add(threading.get_ident())
        self.results.append(value)

    def error(self, exc: Exception) -> None:
        self.threads.add(threading.get_ident())
        self.errors.append(exc)


@pytest.mark.xvfb
def test_one_capturer_is_opened_once_on_the_capture_thread_and_closed_at_shutdown(
    qtbot: QtBot, xvfb_display: XvfbServer
) -> None:
    opened: list[Capturer] = []
    closed: list[int] = []

    def open_capturer() -> Capturer:
        capturer = Capturer(xvfb_display.display)
        opened.append(capturer)
        return capturer

    def close(capturer: Capturer) -> None:
        closed.append(threading.get_ident())
        capturer.close()

    grabs = GrabThread(open_capturer, close_tool=close)
    log = Log()
    assert not grabs.busy and opened == []  # nothing opened before the first job

    def capture(capturer: Capturer) -> tuple[int, Shot]:
        # A Capturer refuses calls from any thread but the one that opened it.
        return threading.get_ident(), capturer.capture_monitor(1)

    for _ in range(3):
        grabs.run(capture, log.result, log.error)
    qtbot.waitUntil(lambda: len(log.results) == 3, timeout=20_000)

    assert log.errors == [] and len(opened) == 1
    capture_threads = {result[0] for result in log.results if isinstance(result, tuple)}
    assert len(capture_threads) == 1 and threading.get_ident() not in capture_threads
    assert log.threads == {threading.get_ident()}  # the answers arrive on the GUI thread
    assert not grabs.busy

    grabs.shutdown()
    assert closed == list(capture_threads)  # closed once, on the thread that opened it
    grabs.run(capture, log.result, log.error)  # after shutdown: dropped, no thread started again
    qtbot.wait(50)
    assert len(log.results) == 3 and log.errors == []


def test_a_failed_job_or_open_reaches_the_error_callback_and_the_thread_goes_on(qtbot: QtBot) -> None:
    attempts: list[int] = []

    def open_tool() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise CaptureError("no X display here")
        return "capturer"

    def broken(_tool: str) -> str:
        raise ValueError("the encoder gave up")

    grabs: GrabThread[str] = GrabThread(open_tool, thread_name="test-capture")
    log = Log()
    jobs: list[Callable[[str], object]] = [lambda tool: tool, broken, lambda tool: tool.upper()]
    for job in jobs:
        grabs.run(job, log.result, log.error)
    qtbot.waitUntil(lambda: len(log.results) + len(log.errors) == 3, timeout=10_000)

    assert [str(e) for e in log.errors] == ["no X display here", "the encoder gave up"]
    assert log.results == ["CAPTURER"] and len(attempts) == 2  # opened again after the failed open, once
    grabs.shutdown()
