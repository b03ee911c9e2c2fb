"""`showdesk capture` capturing itself collects the system information in a forked child (Linux):
the same snapshot as the threaded path's, and the child never outlives the command."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from agent import capture, cli
from agent.config import load_config
from agent.sysinfo import forked
from tests.fixtures.xvfb import XvfbServer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child is forked on Linux only")

# Runs a command as its child with this process as the subreaper (prctl PR_SET_CHILD_SUBREAPER):
# a grandchild the command leaves behind, running or exited, is then this process's child, and
# is listed after the command has exited.
_SUBREAPER = """
import ctypes, json, os, subprocess, sys
assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
left = []
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
            left.append(int(entry))
print(json.dumps({"code": done.returncode, "stderr": done.stderr, "left": left}))
"""
# The threaded path, as any process that runs a thread before the capture takes it.
_WITH_A_THREAD = """
import sys, threading
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()
from showdesk.__main__ import main
sys.exit(main(sys.argv[1:]))
"""
_IN_THE_CHILD = "system information collected in child process"
_GAVE_NOTHING = "gave no snapshot, collecting here"

# Leaves that are sampled or read at the moment (they differ between two snapshots of one machine).
_SAMPLED = {
    "available",
    "boot_time",
    "collected_at",
    "cpu_percent",
    "elapsed_ms",
    "free",
    "frequency_mhz",
    "in_bytes_per_second",
    "load_average",
    "load_per_core",
    "local_time",
    "ms",
    "out_bytes_per_second",
    "percent",
    "percent_per_cpu",
    "pressure_some_avg10",
    "uptime_seconds",
    "used",
}


def _without_sampled(value: object) -> object:
    if isinstance(value, Mapping):
        return {
            key: _without_sampled(item)
            for key, item in value.items()
            if key not in _SAMPLED and not key.endswith("_ms")
        }
    if isinstance(value, list):
        return [_without_sampled(item) for item in value]
    return value


def _sysinfo(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as bundle:
        data = json.loads(bundle.read("sysinfo.json"))
    assert isinstance(data, dict)
    return data


@pytest.fixture
def settings(tmp_path: Path) -> Path:
    # A generous bound: neither path's collectors are raced against a loaded test machine.
    path = tmp_path / "config.toml"
    path.write_text("[sysinfo]\ntimeout = 5.0\n")
    return path


def _capture(screen: XvfbServer, settings: Path, target: Path, *extra: str, threaded: bool = False) -> dict[str, Any]:
    """Runs `showdesk capture` under the subreaper; its exit code, stderr and the leftovers."""
    command = ["-c", _WITH_A_THREAD] if threaded else ["-m", "showdesk"]
    args = ["--log-level", "debug", "capture", "--no-agent", "-o", str(target), *extra]
    env = {**os.environ, **screen.env, "SHOWDESK_CONFIG": str(settings)}
    done = subprocess.run(
        [sys.executable, "-c", _SUBREAPER, sys.executable, *command, *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
        env=env,
    )
    answer = json.loads(done.stdout)
    assert isinstance(answer, dict)
    return answer


@pytest.mark.xvfb
def test_the_forked_snapshot_is_the_threaded_one(xvfb_display: XvfbServer, settings: Path, tmp_path: Path) -> None:
    by_child, by_thread = tmp_path / "child.showdesk", tmp_path / "thread.showdesk"
    child = _capture(xvfb_display, settings, by_child)
    thread = _capture(xvfb_display, settings, by_thread, threaded=True)
    assert child["code"] == 0 and _IN_THE_CHILD in child["stderr"], child["stderr"]
    assert thread["code"] == 0 and "child process" not in thread["stderr"], thread["stderr"]
    assert child["left"] == [] and thread["left"] == []
    forked_info, threaded_info = _sysinfo(by_child), _sysinfo(by_thread)
    assert sorted(forked_info) == sorted(threaded_info)
    for group in threaded_info:
        if group == "processes":  # which processes run, their use and its measured window are of the moment
            assert sorted(forked_info[group]) == sorted(threaded_info[group])
            continue
        if group == "memory":  # the swap counters' window is measured, not set
            for info in (forked_info, threaded_info):
                info[group].get("swap", {}).pop("sample_seconds", None)
        assert _without_sampled(forked_info[group]) == _without_sampled(threaded_info[group]), group
    # Both were collected with the capture's own options.
    assert forked_info["showdesk"]["timeout_s"] == 5.0 and forked_info["cpu"]["sample_seconds"] == 0.05


@pytest.mark.xvfb
def test_a_child_that_fails_is_replaced_by_the_threaded_path_and_reaped(
    xvfb_display: XvfbServer, settings: Path, tmp_path: Path
) -> None:
    # An unknown group makes the child's options fail: the threaded path then tells the mistake.
    answer = _capture(xvfb_display, settings, tmp_path / "x.showdesk", "--exclude", "no-such-group")
    assert answer["code"] == cli.Exit.USAGE, answer["stderr"]
    assert _GAVE_NOTHING in answer["stderr"] and "no-such-group" in answer["stderr"]
    assert answer["left"] == []
    assert not (tmp_path / "x.showdesk").exists()


@contextlib.contextmanager
def _recorded_children(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[forked.ForkedSnapshot]]:
    """Forks for the capture in this (test) process, which runs threads of its own, and records
    each child."""
    children: list[forked.ForkedSnapshot] = []
    real_start = forked.start

    def start(starter: forked.SnapshotStarter, bound: float, *, check_threads: bool = True) -> Any:
        child = real_start(starter, bound, check_threads=False)
        assert child is not None
        children.append(child)
        return child

    monkeypatch.setattr(forked, "start", start)
    yield children


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


class _FailingCapturer:
    def __init__(self, error: BaseException) -> None:
        self._error = error

    def __enter__(self) -> _FailingCapturer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def monitors(self) -> list[capture.MonitorInfo]:
        raise self._error


@pytest.mark.parametrize(
    "error", [capture.CaptureError("no screen here"), KeyboardInterrupt()], ids=["capture-error", "interrupted"]
)
def test_the_child_is_killed_and_reaped_when_the_capture_fails(
    monkeypatch: pytest.MonkeyPatch, settings: Path, error: BaseException
) -> None:
    monkeypatch.setenv("SHOWDESK_CONFIG", str(settings))
    request = cli.CaptureRequest()
    with _recorded_children(monkeypatch) as children, pytest.raises((cli.CommandError, KeyboardInterrupt)):
        cli.capture_bundle(request, load_config(), lambda: _FailingCapturer(error))  # type: ignore[arg-type,return-value]
    [child] = children
    assert _reaped(child.pid)


def _answers(monitors: Sequence[Mapping[str, object]]) -> Mapping[str, object]:
    return {"monitors": list(monitors)}


def _hangs(monitors: Sequence[Mapping[str, object]]) -> Mapping[str, object]:
    time.sleep(600)
    return {}


def test_the_child_answers_with_what_it_collected() -> None:
    child = forked.start(lambda: _answers, 30.0, check_threads=False)
    assert child is not None
    child.send_monitors([{"index": 1, "name": "screen"}])
    assert child.result() == {"monitors": [{"index": 1, "name": "screen"}]}
    assert _reaped(child.pid)


def test_a_child_past_its_bound_is_killed_and_reaped() -> None:
    child = forked.start(lambda: _hangs, 0.5, check_threads=False)
    assert child is not None
    child.send_monitors([])
    assert child.result() is None
    assert _reaped(child.pid)


def test_a_child_that_raises_gives_nothing() -> None:
    def broken() -> Any:
        raise RuntimeError("the collectors could not start")

    child = forked.start(broken, 30.0, check_threads=False)
    assert child is not None
    child.send_monitors([])
    assert child.result() is None
    assert _reaped(child.pid)


def test_a_child_never_sent_its_monitors_is_killed_by_close() -> None:
    child = forked.start(lambda: _answers, 30.0, check_threads=False)
    assert child is not None
    child.close()
    assert _reaped(child.pid)
    child.close()  # idempotent


def test_no_child_while_a_thread_runs() -> None:
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert forked.start(lambda: _answers, 30.0) is None
    finally:
        stop.set()
        thread.join()
