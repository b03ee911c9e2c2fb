"""System information collected by a helper process (agent.sysinfo_process): the same snapshot as
in-process, its refusals told, and every failure of the helper bounded and given way to."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from agent import sysinfo, sysinfo_process
from agent.config import load_config
from agent.sysinfo_process import SysinfoOptionsError, SysinfoProcess, SysinfoProcessError, options_spec

MONITORS = [
    {"index": 1, "name": "left", "geometry": {"left": 0, "top": 0, "width": 1280, "height": 1024}, "scale": 1.0},
    {"index": 2, "name": "right", "geometry": {"left": 1280, "top": 0, "width": 1920, "height": 1080}, "scale": 2.0},
]
# A generous bound: the collectors are not raced against a loaded test machine.
SPEC: dict[str, Any] = {"timeout": 5.0, "exclude": ["connectivity"], "backend_url": None, "ca_bundle": None,
        "backend_proxy": None, "sample_seconds": 0.05}


def _script(tmp_path: Path, body: str) -> str:
    """An executable standing in for the interpreter: what a broken or hostile helper does."""
    path = tmp_path / "helper.sh"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """This process's configuration (and so the helper's: it inherits the environment) is ``text``."""
    settings = tmp_path / "showdesk.toml"
    settings.write_text(text)
    monkeypatch.setenv("SHOWDESK_CONFIG", str(settings))


def _running(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # reaped: neither running nor a zombie
    return True


def test_the_helpers_snapshot_is_the_one_collected_here() -> None:
    here = sysinfo.collect(sysinfo.SysinfoOptions(**{**SPEC, "exclude": ("connectivity",)}, monitors=MONITORS))
    helper = SysinfoProcess.for_options(SPEC)
    there = helper.result(MONITORS, bound_seconds=SPEC["timeout"])
    assert there.keys() == here.keys()
    assert "connectivity" not in there
    # Group by group the same facts (their values move: CPU use, free memory, the time taken).
    for group, facts in here.items():
        theirs = there[group]
        assert type(theirs) is type(facts), group
        if isinstance(facts, dict) and isinstance(theirs, dict):
            assert theirs.keys() == facts.keys(), group
    assert there["displays"] == here["displays"]
    assert there["displays"]["count"] == 2  # type: ignore[index]
    assert there["cpu"]["sample_seconds"] == 0.05  # type: ignore[index]
    showdesk = there["showdesk"]
    assert isinstance(showdesk, dict) and showdesk["timeout_s"] == 5.0 and showdesk["excluded"] == ["connectivity"]


def test_the_monitors_may_come_before_the_result_is_asked_for() -> None:
    helper = SysinfoProcess.for_options(SPEC)
    helper.send_monitors(MONITORS[:1])
    snapshot = helper.result(None, bound_seconds=SPEC["timeout"])  # sent already: not sent again
    assert snapshot["displays"]["count"] == 1  # type: ignore[index]


def test_options_the_collectors_refuse_are_told_with_their_reason() -> None:
    helper = SysinfoProcess.for_options({**SPEC, "exclude": ["printers"]})
    with pytest.raises(SysinfoOptionsError, match="unknown system-information group 'printers'"):
        helper.result(MONITORS, bound_seconds=SPEC["timeout"])


def test_the_helper_reads_the_configuration_this_process_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(tmp_path, monkeypatch, '[sysinfo]\ntimeout = 4.0\nexclude = ["processes", "connectivity"]\n')
    spec = options_spec(load_config({}), exclude=["battery"], sample_seconds=sysinfo_process.CAPTURE_SAMPLE_SECONDS)
    assert spec["timeout"] == 4.0 and spec["exclude"] == ["processes", "connectivity", "battery"]
    helper = SysinfoProcess.for_configuration(None, ["battery"])
    snapshot = helper.result(MONITORS, bound_seconds=4.0)
    assert not {"processes", "connectivity", "battery"} & snapshot.keys()
    showdesk = snapshot["showdesk"]
    assert isinstance(showdesk, dict) and showdesk["timeout_s"] == 4.0
    assert showdesk["excluded"] == ["battery", "connectivity", "processes"]
    assert snapshot["cpu"]["sample_seconds"] == sysinfo_process.CAPTURE_SAMPLE_SECONDS  # type: ignore[index]


def test_the_capture_sampling_window_is_the_collectors_shortest() -> None:
    assert sysinfo_process.CAPTURE_SAMPLE_SECONDS == sysinfo.MIN_SAMPLE_SECONDS


def test_options_from_the_configuration_are_the_same_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(tmp_path, monkeypatch, '[backend]\nurl = "https://help.example.org"\n[sysinfo]\nexclude = ["disks"]\n')
    config = load_config({})
    options = sysinfo.SysinfoOptions.from_config(config, exclude=["battery"], sample_seconds=0.05)
    spec = options_spec(config, exclude=["battery"], sample_seconds=0.05)
    assert sysinfo.SysinfoOptions(**{**spec, "exclude": tuple(spec["exclude"])}) == options
    assert spec["backend_url"] == "https://help.example.org"


def test_a_helper_that_cannot_start_says_so() -> None:
    with pytest.raises(SysinfoProcessError, match="could not start"):
        SysinfoProcess.for_options(SPEC, python="/nonexistent/python3")


def test_a_helper_that_ends_without_an_answer_is_a_failure(tmp_path: Path) -> None:
    helper = SysinfoProcess.for_options(SPEC, python=_script(tmp_path, "exit 0"))
    with pytest.raises(SysinfoProcessError, match="not JSON"):
        helper.result(MONITORS, bound_seconds=0.1)


def test_a_helper_that_answers_something_else_is_a_failure(tmp_path: Path) -> None:
    helper = SysinfoProcess.for_options(SPEC, python=_script(tmp_path, 'printf \'{"snapshot": [1]}\''))
    with pytest.raises(SysinfoProcessError, match="holds no snapshot"):
        helper.result(MONITORS, bound_seconds=0.1)


def test_a_late_helper_is_stopped_and_reaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sysinfo_process, "START_ALLOWANCE_SECONDS", 0.2)
    helper = SysinfoProcess.for_options(SPEC, python=_script(tmp_path, "exec sleep 60"))
    pid = helper._pid
    assert pid is not None and _running(pid)
    with pytest.raises(SysinfoProcessError, match="did not answer in time"):
        helper.result(MONITORS, bound_seconds=0.1)
    assert not _running(pid)


def test_an_oversized_answer_is_refused_without_reading_it_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sysinfo_process, "MAX_ANSWER_BYTES", 100_000)
    # Endless output: only a bounded read can end this.
    helper = SysinfoProcess.for_options(SPEC, python=_script(tmp_path, "exec yes '{\"snapshot\": {}}'"))
    pid = helper._pid
    with pytest.raises(SysinfoProcessError, match="larger than 100000 bytes"):
        helper.result(MONITORS, bound_seconds=5.0)
    assert pid is not None and not _running(pid)


def test_a_helper_no_longer_wanted_is_ended(tmp_path: Path) -> None:
    helper = SysinfoProcess.for_options(SPEC, python=_script(tmp_path, "exec sleep 60"))
    pid = helper._pid
    helper.close()
    assert pid is not None and not _running(pid)
    helper.close()  # twice is harmless


def test_the_child_imports_from_where_this_process_does() -> None:
    path = sysinfo_process.child_import_path()
    assert path[0] == str(Path(sysinfo_process.__file__).resolve().parent.parent)
    assert all(Path(entry).exists() for entry in path)
    assert {entry for entry in sys.path if entry and Path(entry).exists()} <= set(path)


def test_a_capture_whose_helper_fails_collects_here_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent import cli
    from agent.capture import MonitorInfo, Rect

    _configure(tmp_path, monkeypatch, '[sysinfo]\ntimeout = 5.0\nexclude = ["connectivity"]\n')
    config = load_config({})
    broken = SysinfoProcess.for_options(SPEC, python=_script(tmp_path, "exit 3"))
    starter = cli._SysinfoBeside.start(config, None, ["battery"], broken)
    assert isinstance(starter, cli._SysinfoBeside)
    monitor = MonitorInfo(index=1, rect=Rect(0, 0, 1280, 1024), name="left")
    snapshot = starter.result([monitor])
    assert "os" in snapshot and not {"battery", "connectivity"} & snapshot.keys()
    assert snapshot["displays"]["count"] == 1  # type: ignore[index]
