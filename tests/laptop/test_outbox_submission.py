"""The shared Qt layer's way out (``shared_qt``): the outbox bridge and the submission base the
laptop app and the kiosk both build on, on a real outbox, sender and server."""

from __future__ import annotations

import io
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from agent.bundle import ReportBundle, StepDraft, build_bundle
from agent.connectors.builtin import BuiltinConnector
from agent.outbox import Outbox, OutboxEntry, Receipt, Sender
from shared_qt.outbox_bridge import OutboxBridge
from shared_qt.submission import OutboxSubmission
from tests.fixtures.server import ServerProcess, free_port
from tests.outbox.helpers import make_bundle


class Recorder(OutboxSubmission):
    """Writes down every hook call, in order, as (hook, report id or detail)."""

    def __init__(self, outbox: Outbox, bridge: OutboxBridge) -> None:
        super().__init__(outbox, bridge)
        self.calls: list[tuple[str, str]] = []

    def on_queued(self, entry: OutboxEntry) -> None:
        self.calls.append(("queued", entry.id))

    def on_put_failed(self, exc: Exception) -> None:
        self.calls.append(("put failed", str(exc)))

    def on_sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        self.calls.append(("sending", entry.id))

    def on_delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        self.calls.append(("delivered", receipt.report_id))

    def on_not_yet(self, entry: OutboxEntry, reason: str) -> None:
        self.calls.append(("not yet", entry.id))

    def on_dead(self, entry: OutboxEntry, reason: str) -> None:
        self.calls.append(("dead", entry.id))

    def other_delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        self.calls.append(("other delivered", entry.id))

    def hooks(self) -> list[str]:
        return [hook for hook, _ in self.calls]


class Desk:
    """A real outbox with its sender thread, delivering to ``url`` (nothing listens there until set)."""

    def __init__(self, tmp_path: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.token = ""
        self.outbox = Outbox(tmp_path / "outbox", connector_for=self._connector)
        self.sender = Sender(self.outbox, max_idle=0.5)

    def _connector(self, _name: str) -> BuiltinConnector:
        return BuiltinConnector(self.url, token=self.token, connect_timeout=2.0, read_timeout=20.0)

    def use(self, server: ServerProcess) -> None:
        self.url, self.token = server.url, server.token("submitter")


@pytest.fixture
def desk(qtbot: QtBot, tmp_path: Path) -> Iterator[Desk]:
    made = Desk(tmp_path)
    made.sender.start()
    yield made
    made.sender.stop()


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: its upload takes many chunks."""
    pixels = random.Random(side).randbytes(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_followed_report_is_queued_sent_and_delivered_and_an_earlier_one_is_told_apart(
    qtbot: QtBot, desk: Desk, server_process: ServerProcess
) -> None:
    desk.use(server_process)
    bridge = OutboxBridge(desk.outbox)
    submission = Recorder(desk.outbox, bridge)
    earlier = desk.outbox.put(make_bundle(1))
    qtbot.waitUntil(lambda: ("other delivered", earlier.id) in submission.calls, timeout=20_000)
    bundle = make_bundle(2)
    followed = str(bundle.report.id)

    submission.put(followed, lambda: bundle)

    qtbot.waitUntil(lambda: "delivered" in submission.hooks(), timeout=20_000)
    assert submission.calls[0] == ("other delivered", earlier.id)
    mine = submission.calls[1:]
    assert ("queued", followed) in mine and ("sending", followed) in mine
    assert mine[-1] == ("delivered", followed)
    assert "not yet" not in submission.hooks() and "put failed" not in submission.hooks()
    bridge.detach()


def test_a_report_nobody_can_take_now_is_not_yet_and_a_bundle_that_cannot_be_made_is_a_failed_put(
    qtbot: QtBot, desk: Desk
) -> None:
    bridge = OutboxBridge(desk.outbox)
    submission = Recorder(desk.outbox, bridge)
    bundle = make_bundle(3)

    submission.put(str(bundle.report.id), lambda: bundle)
    qtbot.waitUntil(lambda: "not yet" in submission.hooks(), timeout=20_000)
    # The sender may report its attempt before the runner reports the put: both are queued calls.
    qtbot.waitUntil(lambda: ("queued", str(bundle.report.id)) in submission.calls, timeout=10_000)
    assert "delivered" not in submission.hooks() and "put failed" not in submission.hooks()

    def broken() -> ReportBundle:
        raise ValueError("the step's image cannot be read")

    submission.calls.clear()
    submission.put(str(uuid.uuid4()), broken)
    qtbot.waitUntil(lambda: bool(submission.calls), timeout=10_000)
    assert submission.calls == [("put failed", "the step's image cannot be read")]
    assert [e.id for e in desk.outbox.list()] == [str(bundle.report.id)]
    bridge.detach()


def test_a_report_the_backend_refuses_for_good_is_dead_and_then_nothing_more_is_followed(
    qtbot: QtBot, desk: Desk, server_process: ServerProcess
) -> None:
    desk.use(server_process)
    report_id = uuid.uuid4()
    # The same idempotency key with another body: the server refuses it for good (422).
    BuiltinConnector(server_process.url, token=desk.token).submit(make_bundle(4, report_id=report_id))
    bridge = OutboxBridge(desk.outbox)
    deaths: list[str] = []
    bridge.dead_signal.connect(lambda entry, _reason: deaths.append(entry.id))
    submission = Recorder(desk.outbox, bridge)
    submission.put(str(report_id), lambda: make_bundle(5, report_id=report_id))

    qtbot.waitUntil(lambda: "dead" in submission.hooks(), timeout=20_000)
    qtbot.waitUntil(lambda: "queued" in submission.hooks(), timeout=10_000)
    assert "delivered" not in submission.hooks()

    submission.stop_following()
    desk.outbox.retry(str(report_id))
    qtbot.waitUntil(lambda: len(deaths) == 2, timeout=20_000)
    assert submission.hooks().count("dead") == 1
    bridge.detach()


def collect_progress(bridge: OutboxBridge) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    bridge.sending_signal.connect(lambda _entry, sent, total: seen.append((sent, total)))
    return seen


def test_the_bridge_passes_on_progress_only_when_a_bar_would_move(qtbot: QtBot, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: BuiltinConnector("http://127.0.0.1:9"))
    bridge = OutboxBridge(outbox)
    seen = collect_progress(bridge)
    entry = outbox.put(make_bundle(6))
    total = 1_000_000
    chunks = [(0, total), (0, total), *((sent, total) for sent in range(1000, total + 1, 1000)), (total, total)]

    def sender_thread(calls: list[tuple[int, int]], then: Callable[[], None] | None = None) -> None:
        for sent, size in calls:
            bridge.sending(entry, sent, size)
        if then is not None:
            then()

    worker = threading.Thread(target=sender_thread, args=(chunks, lambda: bridge.failed(entry, "cut off", 0.0)))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(seen) >= 101, timeout=10_000)
    qtbot.wait(0)  # anything queued behind would have arrived with the rest
    # One start, then one step per whole per cent (10 ‰ apart), each once: 0 %, 1 %, … 100 %.
    assert seen == [(sent, total) for sent in range(0, total + 1, 10_000)]

    # A failed attempt ends the count: the next attempt starts again from its first report.
    seen.clear()
    worker = threading.Thread(target=sender_thread, args=([(0, total), (5000, total)],))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(seen) >= 1, timeout=10_000)
    assert seen == [(0, total)]
    bridge.detach()


def test_a_big_upload_reaches_the_gui_in_at_most_a_hundred_and_one_steps(
    qtbot: QtBot, desk: Desk, server_process: ServerProcess
) -> None:
    desk.use(server_process)
    bridge = OutboxBridge(desk.outbox)
    seen = collect_progress(bridge)
    submission = Recorder(desk.outbox, bridge)
    image = noise_png(900)  # about 2.4 MB: many socket chunks
    base = make_bundle(7)
    step = StepDraft(image, 900, 900, base.report.created_at)
    bundle = build_bundle(base.report, [step])
    submission.put(str(bundle.report.id), lambda: bundle)

    qtbot.waitUntil(lambda: "delivered" in submission.hooks(), timeout=30_000)
    sizes = {total for _sent, total in seen if total > 0}
    assert sizes, "the connector reported no sizes"
    total = max(sizes)
    assert total > len(image)
    assert (total, total) in seen
    assert len(seen) <= 102  # (0, 0) while connecting, then 0 % … 100 %
    assert [sent for sent, size in seen if size == total] == sorted(sent for sent, size in seen if size == total)
    bridge.detach()


def test_a_report_that_needs_attention_reaches_the_followed_submission_as_held(
    qtbot: QtBot, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: BuiltinConnector("http://127.0.0.1:9"))
    bridge = OutboxBridge(outbox)
    held: list[tuple[str, str]] = []
    bridge.attention_signal.connect(lambda entry, reason: held.append((entry.id, reason)))
    submission = Recorder(outbox, bridge)
    report_id = uuid.uuid4()
    submission.put(str(report_id), lambda: make_bundle(7, report_id=report_id))
    qtbot.waitUntil(lambda: "queued" in submission.hooks(), timeout=10_000)
    (entry,) = outbox.list()

    # The outbox calls its observers on the sender's thread.
    worker = threading.Thread(target=bridge.needs_attention, args=(entry, "HTTP 500 for a day"))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(held), timeout=10_000)
    assert held == [(str(report_id), "HTTP 500 for a day")]
    assert submission.hooks()[-1] == "dead"
    bridge.detach()
