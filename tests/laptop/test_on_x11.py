"""Runs the agent's X11 cases in a pytest subprocess whose Qt draws on a real Xvfb (xcb).

Qt tests in this process draw offscreen; cases where the agent's own windows must really be on
the captured screen, or where a mixed-DPI monitor layout matters, run in a child pytest with
``QT_QPA_PLATFORM=xcb``, once per layout. Each case is reported here as its own test.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.fixtures.xvfb import set_monitors, start_xvfb
from tests.laptop import x11_cases, x11_mixed_dpi_cases

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xvfb

Results = dict[str, tuple[str, str]]


def _cases(module: ModuleType) -> list[str]:
    return sorted(name for name, value in vars(module).items() if name.startswith("test_") and callable(value))


def _run_child(module: ModuleType, env: dict[str, str], report: Path) -> Results:
    path = Path(module.__file__ or "")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", str(path), "-p", "no:cacheprovider", "-q", f"--junitxml={report}"],
        cwd=REPO,
        env={**env, "QT_QPA_PLATFORM": "xcb"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    results: Results = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 - our own child's report
            problem = case.find("failure")
            if problem is None:
                problem = case.find("error")
            skipped = case.find("skipped")
            if problem is not None:
                results[case.get("name", "")] = ("failed", (problem.get("message") or "") + "\n" + (problem.text or ""))
            elif skipped is not None:
                results[case.get("name", "")] = ("skipped", skipped.get("message") or "")
            else:
                results[case.get("name", "")] = ("passed", "")
    output = (completed.stdout + completed.stderr)[-4000:]
    for name in _cases(module):
        missing = f"the child run did not report it (exit {completed.returncode}):\n{output}"
        results.setdefault(name, ("missing", missing))
    return results


@pytest.fixture(scope="module")
def one_monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Results]:
    with start_xvfb(1920, 1080) as server:
        yield _run_child(x11_cases, server.env, tmp_path_factory.mktemp("x11") / "report.xml")


@pytest.fixture(scope="module")
def mixed_dpi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Results]:
    with start_xvfb(*x11_mixed_dpi_cases.SCREEN) as server:
        set_monitors(server.display, x11_mixed_dpi_cases.MONITORS)
        env = {**server.env, "QT_SCREEN_SCALE_FACTORS": x11_mixed_dpi_cases.SCALE_FACTORS}
        yield _run_child(x11_mixed_dpi_cases, env, tmp_path_factory.mktemp("x11-dpi") / "report.xml")


@pytest.mark.parametrize("case", _cases(x11_cases))
def test_on_one_x11_monitor(case: str, one_monitor: Results) -> None:
    outcome, detail = one_monitor[case]
    assert outcome == "passed", detail


@pytest.mark.parametrize("case", _cases(x11_mixed_dpi_cases))
def test_on_two_x11_monitors_of_mixed_dpi(case: str, mixed_dpi: Results) -> None:
    outcome, detail = mixed_dpi[case]
    assert outcome == "passed", detail
