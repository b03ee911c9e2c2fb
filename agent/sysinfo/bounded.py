"""Running with a bound: tasks on daemon threads that are never waited for beyond a deadline.

A collector or a platform tool that hangs (a stale network mount, a DNS server without an
answer) becomes ``{"error": ...}`` when the deadline passes; its thread is left behind as a
daemon, so it holds up neither the snapshot nor the interpreter's exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

Collector = Callable[[], object]
_T = TypeVar("_T")


def run_bounded(tasks: Mapping[str, Collector], deadline: float, timeout_message: str) -> dict[str, object]:
    """Run every task on its own daemon thread; wait until all are done or ``deadline``.

    A task that raises gives ``{"error": "<its exception>"}``, one still running at the
    deadline gives ``{"error": timeout_message}``; its thread is left behind and cannot
    hold up the interpreter's exit.
    """
    return BoundedRun(tasks, deadline, timeout_message).wait()


class WithPartial:
    """A task that can leave a partial answer behind (``self.latest``) while it works.

    When the deadline comes first, that answer is used, with ``partial`` set, instead of a
    bare timeout: a busy machine still tells what was read (the processes by memory, say).
    """

    def __init__(self, task: Callable[[WithPartial], object]) -> None:
        self._task = task
        self.latest: dict[str, object] | None = None

    def __call__(self) -> object:
        return self._task(self)


class BoundedRun:
    """Tasks started on daemon threads at once; :meth:`wait` collects them up to the deadline."""

    def __init__(self, tasks: Mapping[str, Collector], deadline: float, timeout_message: str) -> None:
        self._tasks = dict(tasks)
        self._names = list(tasks)
        self._deadline = deadline
        self._timeout_message = timeout_message
        self._results: dict[str, object] = {}
        self._finished = threading.Condition()
        for name, task in tasks.items():
            threading.Thread(target=self._run, args=(name, task), name=f"sysinfo-{name}", daemon=True).start()

    def _run(self, name: str, task: Collector) -> None:
        try:
            value: object = task()
        except Exception as exc:  # noqa: BLE001 - any failure becomes data, never an exception
            value = {"error": describe_error(exc)}
        with self._finished:
            self._results.setdefault(name, value)
            self._finished.notify_all()

    def wait(self) -> dict[str, object]:
        with self._finished:
            self._finished.wait_for(
                lambda: len(self._results) >= len(self._names), timeout=max(0.0, self._deadline - time.monotonic())
            )
            for name in self._names:
                task = self._tasks[name]
                latest = task.latest if isinstance(task, WithPartial) else None
                if latest is not None and name not in self._results:
                    self._results[name] = {**latest, "partial": True, "note": f"{self._timeout_message}: in part"}
                self._results.setdefault(name, {"error": self._timeout_message})
            return {name: self._results[name] for name in self._names}


def call_before(deadline: float, function: Callable[[], _T]) -> _T:
    """``function()`` on a daemon thread; TimeoutError if it has not returned by ``deadline``."""
    values: list[_T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            values.append(function())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=run, name="sysinfo-call", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    if not values:
        raise TimeoutError
    return values[0]


def describe_error(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def remaining(deadline: float) -> float:
    return max(0.001, deadline - time.monotonic())


def run_command(argv: list[str], deadline: float) -> str:
    """A platform tool's output, bounded in time; empty when it fails or is missing."""
    import subprocess

    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=remaining(deadline), check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""
