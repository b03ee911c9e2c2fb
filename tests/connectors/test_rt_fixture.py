"""The RT fixture on a developer machine without Request Tracker: it never asks for a password.

A stand-in ``sudo`` first on PATH records every call; called without ``-n`` it does what a real
one does at a terminal — prints a prompt and blocks reading a password — so a single prompting
call would hang the script (held open stdin) until the subprocess timeout fails the test.
These tests run without RT and without root rights (they carry no ``rt`` marker).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import rt

PROMPTED = "PROMPTED"

FAKE_SUDO = f"""#!/bin/sh
echo "$*" >> "$FAKE_SUDO_LOG"
if [ "$1" = "-n" ]; then
    shift
    if [ "${{FAKE_SUDO_GRANTS:-0}}" = 1 ]; then exec "$@"; fi
    echo "sudo: a password is required" >&2
    exit 1
fi
echo {PROMPTED} >> "$FAKE_SUDO_LOG"
printf '[sudo] password for developer: ' >&2
read -r password
exit 1
"""
RECORDER = """#!/bin/sh
echo "$(basename "$0") $*" >> "$FAKE_SUDO_LOG"
"""


def write_tool(directory: Path, name: str, text: str) -> None:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A bin directory of stand-ins (sudo, apt-get, debconf-set-selections, a non-root ``id``, a
    dpkg-query that knows no package) and the log they append to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    log.touch()
    write_tool(bin_dir, "sudo", FAKE_SUDO)
    write_tool(bin_dir, "apt-get", RECORDER)
    write_tool(bin_dir, "debconf-set-selections", RECORDER + "cat > /dev/null\n")  # reads its piped answers
    write_tool(bin_dir, "id", '#!/bin/sh\nif [ "$1" = -u ]; then echo 1000; else exec /usr/bin/id "$@"; fi\n')
    write_tool(bin_dir, "dpkg-query", "#!/bin/sh\nexit 1\n")
    yield bin_dir, log


def run_start_rt(bin_dir: Path, log: Path, directory: Path, *, sudo_grants: bool) -> subprocess.CompletedProcess[str]:
    """The real start-rt.sh, its install path forced by the stand-ins; stdin held open like a terminal."""
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_SUDO_LOG": str(log),
        "FAKE_SUDO_GRANTS": "1" if sudo_grants else "0",
    }
    env.pop("RT_SKIP_INSTALL", None)
    read_end, write_end = os.pipe()
    try:
        return subprocess.run(
            [str(rt.SCRIPT), str(directory)],
            stdin=read_end,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(read_end)
        os.close(write_end)


def sudo_calls(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines()


def test_the_script_stops_with_one_line_when_sudo_wants_a_password(
    stand_ins: tuple[Path, Path], tmp_path: Path
) -> None:
    bin_dir, log = stand_ins
    result = run_start_rt(bin_dir, log, tmp_path / "rt", sudo_grants=False)
    assert result.returncode != 0
    assert "sudo needs a password (never asked here)" in result.stderr
    assert "install" in result.stderr.splitlines()[-1]
    calls = sudo_calls(log)
    assert calls == ["-n true"], calls  # asked once, without a prompt; nothing installed
    assert PROMPTED not in calls


def test_every_root_call_of_the_install_path_uses_sudo_n(stand_ins: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, log = stand_ins
    result = run_start_rt(bin_dir, log, tmp_path / "rt", sudo_grants=True)
    # The stand-in apt-get installs nothing, so the script ends at its own check afterwards.
    assert result.returncode != 0
    assert "packages still missing" in result.stderr
    calls = sudo_calls(log)
    assert PROMPTED not in calls
    sudo_lines = [line for line in calls if not line.startswith(("apt-get", "debconf-set-selections"))]
    assert sudo_lines, calls
    assert all(line.startswith("-n ") for line in sudo_lines), calls
    assert any(line.startswith("apt-get install") for line in calls), calls


def test_the_fixture_skips_with_the_reason_instead_of_prompting(
    stand_ins: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, log = stand_ins
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SUDO_LOG", str(log))
    monkeypatch.delenv("RT_SKIP_INSTALL", raising=False)
    monkeypatch.setattr(rt, "RT_LIBEXEC", tmp_path / "no-rt-here")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # the fixture reads os.geteuid

    reason = rt.rt_available()
    assert reason is not None
    assert 'leave the RT tests out with -m "not rt"' in reason
    assert f"sudo {rt.SCRIPT} install" in reason
    assert sudo_calls(log) == ["-n true"]

    monkeypatch.setenv("FAKE_SUDO_GRANTS", "1")
    assert rt.rt_available() is None  # sudo without a password: the fixture may install RT itself

    monkeypatch.setenv("RT_SKIP_INSTALL", "1")
    skip_reason = rt.rt_available()
    assert skip_reason is not None
    assert "RT_SKIP_INSTALL=1" in skip_reason
    assert PROMPTED not in sudo_calls(log)
