"""System information collected by a helper process beside a command-line capture.

`showdesk capture` is one short process, timed as a whole against scrot. Collecting the snapshot
on threads of that process costs it more than the collection itself: the collectors' imports
(psutil, the scrubber, the network and display modules: about 30 ms) and their Python work hold
the interpreter lock while the same process imports and opens the screen and grabs, so each
waits on the other (measured: the capture took 35-50 ms longer with system information than
without). A separate interpreter collects on the machine's other core instead, and the capture
never waits on its lock. A fork of the capturing process was tried and measured before: its
copy-on-write faults cost the parent about as much as the contention. This is a fresh
interpreter, started with ``posix_spawn`` (no copy of the parent's memory) without site
(``-I -S``; it is given the parent's import path), so it starts in about 15 ms on that core.

The protocol is two pipes:

* the parent starts the child with the options as JSON (:func:`options_spec`, the same fields
  ``SysinfoOptions.from_config`` reads), and the child starts collecting at once;
* once the screen is open, the parent writes one line: the monitors' facts as JSON (the
  ``displays`` group is built from them, as in-process);
* the child writes one JSON object, ``{"snapshot": {...}}`` (scrubbed, as ``PendingSnapshot.result``
  returns it) or ``{"error": "options", "message": ...}`` for options it refuses, and exits.

The parent waits a bounded time (the snapshot's own bound plus :data:`START_ALLOWANCE_SECONDS`
for the child's start on a loaded machine) and reads a bounded answer (:data:`MAX_ANSWER_BYTES`).
Anything else (no ``posix_spawn``, a frozen application, a child that dies, is late or answers
something else) is :class:`SysinfoProcessError`, and the caller collects in its own process
instead: the report still carries its system information, only later.

This module imports nothing of ``agent.sysinfo`` in the parent: that package's imports are what
the child is there to take off the capture's path.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from agent.config import Config

# The shortest honest CPU sampling window (agent.sysinfo.collect.MIN_SAMPLE_SECONDS; a test
# holds the two together): a command-line capture should not wait for a longer one.
CAPTURE_SAMPLE_SECONDS: Final = 0.05
# A fresh interpreter's start and the collectors' imports, on a machine busy with other work.
START_ALLOWANCE_SECONDS: Final = 3.0
# A snapshot is about 10 KB; the scrubbed groups are each bounded (processes, disks, interfaces).
MAX_ANSWER_BYTES: Final = 4 * 1024 * 1024
_READ_BYTES: Final = 64 * 1024
# The child's own code: the parent's import path first, then the collection (see child_main).
_BOOTSTRAP: Final = (
    "import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
    "from agent.sysinfo_process import child_main; child_main(sys.argv[2])"
)


class SysinfoProcessError(Exception):
    """The helper process could not give a snapshot; collect it in this process instead."""


class SysinfoOptionsError(ValueError):
    """The options name something the collectors refuse (an unknown group); the message says what."""


def options_spec(
    config: Config,
    *,
    backend: str | None = None,
    exclude: Collection[str] = (),
    sample_seconds: float | None = None,
) -> dict[str, Any]:
    """``SysinfoOptions``' fields from the layered configuration, as plain JSON-able values.

    ``exclude`` adds groups to the configured ``sysinfo.exclude`` (the person's switches);
    ``sample_seconds`` applies when the configured timeout leaves room for it.
    """
    chosen = config.backend(backend)
    timeout = float(config.get("sysinfo.timeout"))
    return {
        "timeout": timeout,
        "exclude": list(dict.fromkeys([*config.get("sysinfo.exclude"), *exclude])),
        "backend_url": chosen.url or None,
        "ca_bundle": chosen.ca_bundle,
        "backend_proxy": chosen.proxy or None,
        "sample_seconds": sample_seconds if sample_seconds is not None and sample_seconds < timeout else None,
    }


def can_spawn() -> bool:
    """Whether this process can start the helper: a POSIX system and a Python interpreter of its own.

    A frozen application's executable is the application, not an interpreter.
    """
    return hasattr(os, "posix_spawn") and not getattr(sys, "frozen", False) and bool(sys.executable)


def child_import_path() -> list[str]:
    """The directories the child imports from: where ``agent`` is, then this process's path.

    The child runs without site, so the virtual environment's site-packages and an editable
    install's location come from here. Entries that do not exist are left out (an import hook's
    marker, such as an editable install's, is not a path; the standard library's zip is kept
    where it exists).
    """
    # os.path, not pathlib: the launcher starts the helper before pathlib is otherwise needed.
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # noqa: PTH120
    return list(dict.fromkeys([here, *(entry for entry in sys.path if entry and os.path.exists(entry))]))  # noqa: PTH110


class SysinfoProcess:
    """One helper process collecting one snapshot (see the module's description)."""

    def __init__(self, pid: int, to_child: int, from_child: int) -> None:
        self._pid: int | None = pid
        self._to_child: int | None = to_child
        self._from_child: int | None = from_child
        self._started = time.monotonic()

    @classmethod
    def for_options(cls, spec: Mapping[str, Any], *, python: str | None = None) -> SysinfoProcess:
        """Start collecting with ``spec`` (:func:`options_spec`); raises SysinfoProcessError."""
        return cls._start({"options": dict(spec)}, python)

    @classmethod
    def for_configuration(cls, backend: str | None, exclude: Collection[str], *,
                          python: str | None = None) -> SysinfoProcess:
        """Start collecting with the options the child reads from the configuration itself (the same
        files and environment as this process: ``options_spec(load_config({}), backend=…, exclude=…,
        sample_seconds=CAPTURE_SAMPLE_SECONDS)``), so it can start before this process has read
        them; raises SysinfoProcessError."""
        return cls._start({"configuration": {"backend": backend, "exclude": list(exclude)}}, python)

    @classmethod
    def _start(cls, request: Mapping[str, Any], python: str | None) -> SysinfoProcess:
        if python is None and not can_spawn():
            raise SysinfoProcessError("this process cannot start a helper interpreter")
        executable = python or sys.executable
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        ends = (child_in, to_child, from_child, child_out)
        # The child's own errors go nowhere: a failed helper means the capture collects itself (and
        # logs why), not a traceback on the person's terminal.
        actions = [
            (os.POSIX_SPAWN_DUP2, child_in, 0),
            (os.POSIX_SPAWN_DUP2, child_out, 1),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ]
        argv = [executable, "-I", "-S", "-c", _BOOTSTRAP, json.dumps(child_import_path()), json.dumps(request)]
        try:
            pid = os.posix_spawn(executable, argv, os.environ, file_actions=actions)
        except OSError as exc:
            for end in ends:
                os.close(end)
            raise SysinfoProcessError(f"could not start the helper: {exc}") from exc
        os.close(child_in)
        os.close(child_out)
        return cls(pid, to_child, from_child)

    def send_monitors(self, monitors: Sequence[Mapping[str, object]] | None) -> None:
        """Hand the child the monitors' facts for the ``displays`` group (once; later calls do nothing)."""
        if self._to_child is None:
            return
        line = (json.dumps(None if monitors is None else [dict(m) for m in monitors]) + "\n").encode()
        try:
            os.write(self._to_child, line)  # a few hundred bytes: one write, far below the pipe's buffer
        except OSError:
            pass  # the child is gone: result() says so
        finally:
            os.close(self._to_child)
            self._to_child = None

    def result(self, monitors: Sequence[Mapping[str, object]] | None, *, bound_seconds: float) -> dict[str, object]:
        """The snapshot, once the child answers; raises SysinfoOptionsError or SysinfoProcessError.

        Waits at most ``bound_seconds`` (the snapshot's own bound, ``sysinfo.timeout``) plus
        :data:`START_ALLOWANCE_SECONDS` from the child's start.
        """
        self.send_monitors(monitors)  # if not sent yet
        try:
            answer = self._read_answer(self._started + bound_seconds + START_ALLOWANCE_SECONDS)
        finally:
            self.close()
        try:
            decoded = json.loads(answer)
        except ValueError as exc:
            raise SysinfoProcessError(f"the helper's answer is not JSON: {exc}") from exc
        if isinstance(decoded, dict) and isinstance(decoded.get("snapshot"), dict):
            snapshot: dict[str, object] = decoded["snapshot"]
            return snapshot
        if isinstance(decoded, dict) and decoded.get("error") == "options":
            raise SysinfoOptionsError(str(decoded.get("message") or "invalid system-information options"))
        if isinstance(decoded, dict) and decoded.get("error"):
            raise SysinfoProcessError(f"the helper failed: {str(decoded.get('message'))[:200]}")
        raise SysinfoProcessError("the helper's answer holds no snapshot")

    def _read_answer(self, deadline: float) -> bytes:
        assert self._from_child is not None, "result() is called once"
        chunks: list[bytes] = []
        size = 0
        waiting = select.poll()
        waiting.register(self._from_child, select.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SysinfoProcessError("the helper did not answer in time")
            if not waiting.poll(max(1, int(left * 1000))):
                continue
            chunk = os.read(self._from_child, _READ_BYTES)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise SysinfoProcessError(f"the helper's answer is larger than {MAX_ANSWER_BYTES} bytes")
            chunks.append(chunk)

    def close(self) -> None:
        """Stop waiting: close the pipes, end the child if it still runs, and reap it."""
        for name in ("_to_child", "_from_child"):
            end = getattr(self, name)
            if end is not None:
                os.close(end)
                setattr(self, name, None)
        pid, self._pid = self._pid, None
        if pid is None:
            return
        try:
            finished, _status = os.waitpid(pid, os.WNOHANG)
            if finished == 0:
                os.kill(pid, signal.SIGKILL)  # late or stuck: its answer is no longer wanted
                os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # reaped already (a SIGCHLD handler of the embedding program)

    def __del__(self) -> None:
        # A caller that raised between start and result must not leave the child or a zombie behind.
        if getattr(self, "_pid", None) is not None:
            self.close()


def child_main(request_text: str) -> None:
    """The helper's side: collect as ``request_text`` asks, then answer on stdout (see the module)."""
    from agent import sysinfo

    out = sys.stdout.buffer
    request = json.loads(request_text)
    try:
        if "configuration" in request:
            from agent.config import load_config

            asked = request["configuration"]
            options = sysinfo.SysinfoOptions.from_config(
                load_config({}),
                backend=asked.get("backend"),
                exclude=asked.get("exclude") or (),
                sample_seconds=CAPTURE_SAMPLE_SECONDS,
            )
        else:
            spec = request["options"]
            options = sysinfo.SysinfoOptions(**{**spec, "exclude": tuple(spec.get("exclude") or ())})
    except Exception as exc:  # noqa: BLE001 - told to the parent, which collects itself or reports it
        kind = "options" if type(exc) is ValueError else "failed"  # a ConfigError is the parent's to report
        _answer(out, {"error": kind, "message": str(exc)})
        return
    pending = sysinfo.start(options)
    line = sys.stdin.buffer.readline(MAX_ANSWER_BYTES)
    try:
        monitors = json.loads(line) if line.strip() else None
    except ValueError:
        monitors = None
    _answer(out, {"snapshot": pending.result(monitors if isinstance(monitors, list) else None)})


def _answer(out: Any, answer: Mapping[str, object]) -> None:
    try:
        out.write(json.dumps(answer).encode())
        out.flush()
    except BrokenPipeError:
        pass  # the capture stopped waiting


__all__ = [
    "CAPTURE_SAMPLE_SECONDS",
    "MAX_ANSWER_BYTES",
    "START_ALLOWANCE_SECONDS",
    "SysinfoOptionsError",
    "SysinfoProcess",
    "SysinfoProcessError",
    "can_spawn",
    "child_import_path",
    "child_main",
    "options_spec",
]
