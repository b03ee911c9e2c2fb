"""Encoding a report's clip off the GUI thread, its progress and result delivered as Qt signals.

The core's ``encode_clip_async`` runs the encode on its own worker thread (Pillow's WebP encoder
releases the GIL) and calls back on that thread; :class:`ClipEncoding` turns those calls into
signals of an object living in the GUI thread, so the window only ever hears of them queued, in
its own thread, and never waits. Starting again (new black boxes) cancels the encode under way:
only the newest one's result arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

from PySide6.QtCore import QObject, Signal

from agent.clips import ClipError, EncodeCancelledError, EncodedClip, EncodeJob, Recording, encode_clip_async
from agent.schema import MarkupItem


class ClipEncoding(QObject):
    """Encodes one clip at a time; ``finished(EncodedClip)`` or ``failed(str)`` for the newest start."""

    progress = Signal(int, int)  # frames done, frames in all
    finished = Signal(object)  # EncodedClip
    failed = Signal(str)
    _progressed = Signal(int, int, int)  # generation, done, total (from the worker thread)
    _ended = Signal(int, object)  # generation, Future (from the worker thread)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job: EncodeJob | None = None
        self._generation = 0
        self._progressed.connect(self._on_progress)
        self._ended.connect(self._on_ended)

    @property
    def busy(self) -> bool:
        return self._job is not None

    def start(self, recording: Recording, redactions: Sequence[MarkupItem] = ()) -> None:
        self.cancel()
        self._generation += 1
        generation = self._generation
        job = encode_clip_async(
            recording,
            redactions=list(redactions),
            progress=lambda done, total: self._progressed.emit(generation, done, total),
        )
        self._job = job
        job.future.add_done_callback(lambda future: self._ended.emit(generation, future))

    def cancel(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.cancel()

    def _on_progress(self, generation: int, done: int, total: int) -> None:
        if generation == self._generation and self._job is not None:
            self.progress.emit(done, total)

    def _on_ended(self, generation: int, future: Future[EncodedClip]) -> None:
        if generation != self._generation:
            return  # superseded: a newer encode's result is the one that counts
        self._job = None
        try:
            encoded = future.result()
        except EncodeCancelledError:
            return
        except ClipError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - the person hears of any failure, in words
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.finished.emit(encoded)
